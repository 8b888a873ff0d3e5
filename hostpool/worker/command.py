"""Child side: composing the remote shell command line (pure).

Everything that comes from the user or the inventory and ends up inside a shell string is
quoted here, in one place, so no other module builds command lines by concatenation.
"""

from __future__ import annotations

import secrets
import shlex

from hostpool.models import check_env

SUDO_PROMPT_PREFIX = "[hostpool-sudo-"
SUDO_READY_PREFIX = "HOSTPOOL-SUDO-READY-"


def with_env(command: str, env: tuple[tuple[str, str], ...]) -> str:
    """Prefix ``export`` lines rather than rely on the SSH env request, which sshd drops
    unless AcceptEnv allows it."""
    if not env:
        return command
    check_env(env)
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in env)
    return f"export {exports}; {command}"


class SudoWrap:
    """A ``sudo`` wrapping with a random prompt and readiness marker.

    With a password, sudo reads it from stdin (``-S``) only after printing the prompt, and
    the marker on stdout says the command itself has started, so stdin can be closed then.
    The random token keeps remote output from faking either.
    """

    def __init__(self, with_password: bool, user: str | None = None) -> None:
        token = secrets.token_hex(6)
        self.with_password = with_password
        self.user = ["-u", shlex.quote(user)] if user else []  # validated upstream, quoted
        self.prompt = f"{SUDO_PROMPT_PREFIX}{token}]"
        self.ready = f"{SUDO_READY_PREFIX}{token}"

    def wrap(self, command: str) -> str:
        user = " ".join(self.user)
        target = f" {user}" if user else ""
        if not self.with_password:
            return f"sudo -n{target} -- sh -c {shlex.quote(command)}"
        inner = f"echo {self.ready}; {command}"
        return f"sudo -S -p {shlex.quote(self.prompt)}{target} -- sh -c {shlex.quote(inner)}"


def compose(command: str, env: tuple[tuple[str, str], ...], sudo: SudoWrap | None) -> str:
    line = with_env(command, env)
    return sudo.wrap(line) if sudo else line
