"""Composition of the remote shell command line (pure; used by both process sides).

Everything that comes from the user or the inventory and ends up inside a shell string is
quoted here, in one place, so no other module builds command lines by concatenation.
"""

from __future__ import annotations

import re
import secrets
import shlex

from hostpool.errors import UsageError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

SUDO_PROMPT_PREFIX = "[hostpool-sudo-"
SUDO_READY_PREFIX = "HOSTPOOL-SUDO-READY-"


def parse_env(pairs: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Split ``K=V`` strings; names are validated because they are spliced into ``export``."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _ENV_NAME.match(name):
            raise UsageError(f"--env expects NAME=VALUE with a shell variable name, got {pair!r}")
        out.append((name, value))
    return tuple(out)


def with_env(command: str, env: tuple[tuple[str, str], ...]) -> str:
    """Prefix ``export`` lines rather than rely on the SSH env request, which sshd drops
    unless AcceptEnv allows it."""
    if not env:
        return command
    for name, _ in env:
        if not _ENV_NAME.match(name):
            raise UsageError(f"invalid environment variable name {name!r}")
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in env)
    return f"export {exports}; {command}"


class SudoWrap:
    """A ``sudo`` wrapping with a random prompt and readiness marker.

    With a password, sudo reads it from stdin (``-S``) only after printing the prompt, and
    the marker on stdout says the command itself has started, so stdin can be closed then.
    The random token keeps remote output from faking either.
    """

    def __init__(self, with_password: bool) -> None:
        token = secrets.token_hex(6)
        self.with_password = with_password
        self.prompt = f"{SUDO_PROMPT_PREFIX}{token}]"
        self.ready = f"{SUDO_READY_PREFIX}{token}"

    def wrap(self, command: str) -> str:
        if not self.with_password:
            return f"sudo -n -- sh -c {shlex.quote(command)}"
        inner = f"echo {self.ready}; {command}"
        return f"sudo -S -p {shlex.quote(self.prompt)} -- sh -c {shlex.quote(inner)}"


def compose(command: str, env: tuple[tuple[str, str], ...], sudo: SudoWrap | None) -> str:
    line = with_env(command, env)
    return sudo.wrap(line) if sudo else line
