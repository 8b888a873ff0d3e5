"""Table test: every failure a worker can meet -> one status and a readable message."""

from __future__ import annotations

import errno
import socket

import paramiko
import pytest

from hostpool.connectors.base import ConnectFailure
from hostpool.models import Status
from hostpool.worker.classify import classify


class _Key:
    """Just enough of a PKey for BadHostKeyException's message."""

    def get_name(self) -> str:
        return "ssh-ed25519"

    def get_base64(self) -> str:
        return "AAAA"


def _bad_host_key() -> BaseException:
    return paramiko.BadHostKeyException("h", _Key(), _Key())  # type: ignore[arg-type]


def _no_valid_connections() -> BaseException:
    return paramiko.ssh_exception.NoValidConnectionsError(
        {("127.0.0.1", 22): ConnectionRefusedError(errno.ECONNREFUSED, "refused")}
    )


CASES: list[tuple[BaseException, Status, str]] = [
    (ConnectFailure(Status.AUTH, "no key accepted"), Status.AUTH, "no key accepted"),
    (_bad_host_key(), Status.HOSTKEY, "host key mismatch"),
    (paramiko.AuthenticationException("denied"), Status.AUTH, "authentication failed"),
    (paramiko.BadAuthenticationType("no", ["password"]), Status.AUTH, "authentication failed"),
    (TimeoutError("slow"), Status.TIMEOUT, "timed out: slow"),
    (TimeoutError(), Status.TIMEOUT, "timed out"),
    (socket.gaierror(-2, "Name or service not known"), Status.UNREACHABLE, "cannot resolve"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "x"), Status.UNREACHABLE, "connection refused"),
    (_no_valid_connections(), Status.UNREACHABLE, "Unable to connect"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), Status.UNREACHABLE, "No route to host"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), Status.UNREACHABLE, "unreachable"),
    (ConnectionResetError(errno.ECONNRESET, "reset"), Status.UNREACHABLE, "connection failed"),
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), Status.UNREACHABLE, "Broken pipe"),
    (EOFError(), Status.UNREACHABLE, "connection closed by the server"),
    (
        paramiko.SSHException("Error reading SSH protocol banner"),
        Status.UNREACHABLE,
        "protocol banner",
    ),
    (paramiko.SSHException("banner exchange timed out"), Status.TIMEOUT, "timed out"),
    (paramiko.SSHException("Timeout opening channel."), Status.UNREACHABLE, "stopped answering"),
    (paramiko.SSHException("Incompatible ssh peer"), Status.UNREACHABLE, "not an SSH server"),
    (
        paramiko.SSHException("Incompatible version (1.5 instead of 2.0)\x1b]0;PWNED\x07"),
        Status.UNREACHABLE,
        "Incompatible version (1.5 instead of 2.0)?]0;PWNED?",
    ),
    (paramiko.SSHException("No existing session"), Status.AUTH, "MaxAuthTries"),
    (paramiko.SSHException("something else"), Status.ERROR, "ssh: something else"),
    (OSError(errno.EACCES, "Permission denied"), Status.UNREACHABLE, "Permission denied"),
    (KeyboardInterrupt(), Status.INTERRUPTED, "interrupted"),
    (ValueError("boom"), Status.ERROR, "ValueError: boom"),
]


@pytest.mark.parametrize(("exc", "status", "fragment"), CASES, ids=lambda v: type(v).__name__)
def test_classify(exc: BaseException, status: Status, fragment: str) -> None:
    got, message = classify(exc)
    assert got is status
    assert fragment in message


def test_unexpected_errors_say_where_they_came_from() -> None:
    try:
        raise RuntimeError("deep")
    except RuntimeError as exc:
        status, message = classify(exc)
    assert status is Status.ERROR
    assert "(at test_classify.py:" in message
