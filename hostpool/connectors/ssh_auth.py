"""Child side: SSH user authentication, in OpenSSH's order and with its refusals.

Public keys first: the explicit key files (each with its certificate when one sits beside
it as ``-cert.pub`` or is named by CertificateFile), the agent, the default identities;
then the password, by ``password`` or ``keyboard-interactive``, once: a refused password
is never retried (lockout policies count attempts).  A passphrase-protected key is used
through the agent when the agent holds its public half, else decrypted with the run's
passphrase, else reported as ``auth`` with what to do.  Like OpenSSH, a private key that
its group or others may read is refused.  Secrets arrive through the pool's pipe only.
"""

from __future__ import annotations

import getpass
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from hostpool.connectors.base import ConnectFailure
from hostpool.models import Status, Target

if TYPE_CHECKING:
    from hostpool.connectors.ssh_handshake import SSHContext

DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")
ENCRYPTED = "is encrypted: load it into ssh-agent or pass --ask-key-pass / --key-pass-file"


def authenticate(ctx: SSHContext, target: Target, transport: paramiko.Transport) -> None:
    user = target.user or _local_user()
    tried: list[str] = []
    errors: list[str] = []
    allowed: list[str] | None = None
    for label, pkey in candidate_keys(ctx, target):
        if isinstance(pkey, str):
            errors.append(f"{label}: {pkey}")
            continue
        tried.append(label)
        try:
            transport.auth_publickey(user, pkey)
        except paramiko.BadAuthenticationType as exc:
            allowed = list(exc.allowed_types)
            break
        except paramiko.AuthenticationException as exc:
            allowed = _allowed(exc) or allowed
            continue
        if transport.is_authenticated():
            return
    password = target.password or ctx.options.password
    if password is not None:
        _password(transport, user, password, allowed)
        return
    detail = f"tried {', '.join(tried)}" if tried else "no usable key"
    if errors:
        detail += "; " + "; ".join(errors)
    if allowed is not None and "publickey" not in allowed:
        detail += f"; the server allows only {','.join(allowed)} (pass --ask-pass)"
    raise ConnectFailure(Status.AUTH, f"authentication failed for {user}: {detail}")


def _allowed(exc: paramiko.AuthenticationException) -> list[str] | None:
    types = getattr(exc, "allowed_types", None)
    return list(types) if types else None


def _password(
    transport: paramiko.Transport, user: str, password: str, allowed: list[str] | None
) -> None:
    """One attempt, by the method the server offers; a refusal is ``auth``, not retried."""
    methods = allowed or ["password", "keyboard-interactive"]
    try:
        if "password" in methods:
            transport.auth_password(user, password, fallback=False)
        elif "keyboard-interactive" in methods:
            transport.auth_interactive(
                user, lambda title, instructions, prompts: [password for _ in prompts]
            )
        else:
            raise ConnectFailure(
                Status.AUTH, f"the server takes no password for {user} (allows: {methods})"
            )
    except paramiko.AuthenticationException as exc:
        raise ConnectFailure(
            Status.AUTH, f"password refused for {user} (not retried): {exc}"
        ) from None
    if not transport.is_authenticated():
        raise ConnectFailure(Status.AUTH, f"authentication incomplete for {user}")


def candidate_keys(ctx: SSHContext, target: Target) -> list[tuple[str, paramiko.PKey | str]]:
    """Explicit keys first, then the agent, then default identities (OpenSSH's order)."""
    opts = ctx.options
    agent = _agent_keys(ctx, target) if opts.allow_agent else ()
    held = {k.get_base64() for k in agent}
    found: list[tuple[str, paramiko.PKey | str]] = []
    only = target.ssh.identities_only  # IdentitiesOnly: the named files and nothing else
    for path in target.key_files:
        loaded = load_key(ctx, path)
        if isinstance(loaded, str) and ENCRYPTED in loaded and _public_blob(path) in held:
            continue  # the agent holds it: used through the agent below, never decrypted
        found.append((path, _certified(loaded, path, target)))
    if agent:
        wanted = {_public_blob(p) for p in target.key_files} if only else None
        found += [
            (f"agent:{k.get_name()}", k)
            for k in agent
            if wanted is None or k.get_base64() in wanted
        ]
    if opts.look_for_keys and not target.key_files and not only:
        home = Path("~/.ssh").expanduser()
        for name in DEFAULT_IDENTITIES:
            identity = home / name
            if identity.is_file():
                loaded = load_key(ctx, str(identity))
                if not isinstance(loaded, str):
                    found.append((str(identity), _certified(loaded, str(identity), target)))
    return found


def _agent_keys(ctx: SSHContext, target: Target) -> tuple[paramiko.AgentKey, ...]:
    """The keys of the host's agent (IdentityAgent, else SSH_AUTH_SOCK), once per socket."""
    path = target.ssh.identity_agent
    if path is None:
        path = os.environ.get("SSH_AUTH_SOCK", "")
    if not path:
        return ()
    if path not in ctx.agent_keys:
        ctx.agent_keys[path] = ()
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(ctx.options.connect_timeout)
            sock.connect(path)
            agent = paramiko.Agent.__new__(paramiko.Agent)
            paramiko.agent.AgentSSH.__init__(agent)
            agent._connect(sock)  # type: ignore[attr-defined]
            ctx.agent_keys[path] = tuple(agent.get_keys())
        except (paramiko.SSHException, OSError):
            pass  # no agent there: nothing to offer from it
    return ctx.agent_keys[path]


def _public_blob(path: str) -> str:
    try:
        return Path(f"{path}.pub").expanduser().read_text().split()[1]
    except (OSError, IndexError):
        return ""


def _certified(key: paramiko.PKey | str, path: str, target: Target) -> paramiko.PKey | str:
    """The key with its OpenSSH certificate loaded, if one belongs to it."""
    if isinstance(key, str):
        return key
    for cert in (f"{path}-cert.pub", *target.ssh.certificate_files):
        cert_path = Path(cert).expanduser()
        if not cert_path.is_file():
            continue
        try:
            key.load_certificate(str(cert_path))
            return key
        except (ValueError, paramiko.SSHException, OSError):
            continue  # a certificate of another key
    return key


def load_key(ctx: SSHContext, path: str) -> paramiko.PKey | str:
    """Parse each key file once per worker; a problem is remembered as its message."""
    cached = ctx.pkeys.get(path)
    if cached is not None:
        return cached
    full = Path(path).expanduser()
    loaded: paramiko.PKey | str
    try:
        mode = stat.S_IMODE(full.stat().st_mode)
        if mode & 0o077 and os.geteuid() == full.stat().st_uid:
            loaded = f"key {path} is readable by others (mode {mode:04o}): chmod 600 it"
        else:
            phrase = ctx.options.key_passphrase
            # paramiko 5.1 wants bytes here (its annotation says str).
            secret = phrase.encode() if phrase is not None else None
            loaded = paramiko.PKey.from_path(full, password=secret)  # type: ignore[arg-type]
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko 5.1 raises TypeError for an encrypted key without a passphrase.
        loaded = f"key {path} {ENCRYPTED}"
    except FileNotFoundError:
        loaded = "key file not found"
    except paramiko.SSHException as exc:
        text = str(exc)
        wrong = ctx.options.key_passphrase is not None and "passphrase" in text.lower()
        loaded = f"key {path}: wrong passphrase" if wrong else f"cannot load key: {text}"
    except (OSError, ValueError) as exc:
        wrong = ctx.options.key_passphrase is not None
        loaded = f"key {path}: wrong passphrase" if wrong else f"cannot load key: {exc}"
    ctx.pkeys[path] = loaded
    return loaded


def _local_user() -> str:
    return getpass.getuser()
