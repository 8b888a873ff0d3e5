"""Child side: one ordered mapping from any failure to a status and a readable message.

Every worker-side exception ends here, so a host's status never depends on which module
raised; the unit tier keeps a table test of it (paramiko and socket exceptions in, status
out).
"""

from __future__ import annotations

import errno
import socket
import traceback
from pathlib import Path

import paramiko

from hostpool.connectors.base import ConnectFailure
from hostpool.models import Status


def classify(exc: BaseException) -> tuple[Status, str]:
    """One ordered mapping from any transport failure to a status and a readable message."""
    if isinstance(exc, ConnectFailure):
        return exc.status, exc.message
    if isinstance(exc, paramiko.BadHostKeyException):
        return Status.HOSTKEY, f"host key mismatch: {exc}"
    if isinstance(exc, paramiko.AuthenticationException):
        return Status.AUTH, f"authentication failed: {exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return Status.TIMEOUT, f"timed out: {exc or type(exc).__name__}"
    if isinstance(exc, socket.gaierror):
        return Status.UNREACHABLE, f"cannot resolve host name: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return Status.UNREACHABLE, "connection refused"
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return Status.UNREACHABLE, str(exc)
    if isinstance(exc, OSError) and exc.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
    ):
        return Status.UNREACHABLE, f"connection failed: {exc.strerror or exc}"
    if isinstance(exc, EOFError):
        return Status.UNREACHABLE, "connection closed by the server"
    if isinstance(exc, paramiko.SSHException):
        text = _one_line(str(exc))
        if "No existing session" in text:
            return Status.AUTH, (
                "the server closed the connection during authentication "
                "(too many keys offered for its MaxAuthTries? name the key with -k)"
            )
        if any(w in text for w in ("Incompatible", "protocol", "Bad packet", "Invalid packet")):
            return Status.UNREACHABLE, f"not an SSH server (protocol error): {text}"
        if "banner" in text.lower() and "timed out" in text.lower():
            return Status.TIMEOUT, text
        if "Timeout opening channel" in text:  # connected, then silent: a frozen host
            return Status.UNREACHABLE, f"host stopped answering: {text}"
        if "Error reading SSH protocol banner" in text or "closed" in text.lower():
            return Status.UNREACHABLE, text
        return Status.ERROR, f"ssh: {text}"
    if isinstance(exc, OSError):
        return Status.UNREACHABLE, f"connection failed: {exc.strerror or exc}"
    if isinstance(exc, KeyboardInterrupt):
        return Status.INTERRUPTED, "interrupted"
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" (at {Path(where[0].filename).name}:{where[0].lineno})" if where else ""
    return Status.ERROR, f"{type(exc).__name__}: {exc}{at}"


def _one_line(text: str) -> str:
    """A server-supplied string as one short printable line (it may be hostile)."""
    first = text.splitlines()[0] if text else ""
    return "".join(ch if ch.isprintable() else "?" for ch in first)[:200]
