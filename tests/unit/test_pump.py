"""The output pump over a fake SSH channel: what a closed channel still holds is read.

Seen in the bench with 32 single-lane workers on 2 cores: the server's data, EOF, exit
status and close all arrived between two reads, the channel counted as closed, and the
host came back ok with its output cut.
"""

from __future__ import annotations

import threading

from hostpool.connectors.ssh_channel import ChannelProcess
from hostpool.models import Status
from hostpool.worker.output import Output
from hostpool.worker.pump import pump


class FakeTransport:
    def is_active(self) -> bool:
        return True


class FakeChannel:
    """Already closed by the server, with stdout and stderr still buffered."""

    def __init__(self, out: list[bytes], err: list[bytes], status: int) -> None:
        self.out, self.err = list(out), list(err)
        self.closed = True
        self.eof_received = True
        self.exit_status = status
        self.status_event = threading.Event()
        self.status_event.set()

    def fileno(self) -> int:
        return -1

    def get_transport(self) -> FakeTransport:
        return FakeTransport()

    def recv_ready(self) -> bool:
        return bool(self.out)

    def recv_stderr_ready(self) -> bool:
        return bool(self.err)

    def recv(self, n: int) -> bytes:
        return self.out.pop(0)

    def recv_stderr(self, n: int) -> bytes:
        return self.err.pop(0)

    def exit_status_ready(self) -> bool:
        return True

    exited = property(exit_status_ready)

    def shutdown_write(self) -> None: ...

    def close(self) -> None: ...


class NoConnector:
    def close(self) -> None:
        raise AssertionError("a clean exit must keep the connection")


def test_a_closed_channel_is_drained_before_it_counts_as_ended() -> None:
    channel = FakeChannel([b"MARK\n", b"more\n"], [b"warn\n"], status=0)
    proc = ChannelProcess(channel, NoConnector())  # type: ignore[arg-type]
    assert not proc.at_eof
    result = pump(proc, Output(1 << 20), "h", timeout=5)
    assert result.status is Status.OK and result.exit_code == 0
    assert (result.stdout, result.stderr) == (b"MARK\nmore\n", b"warn\n")
    assert proc.at_eof


def test_exit_status_after_the_output() -> None:
    channel = FakeChannel([b"x"], [], status=3)
    result = pump(ChannelProcess(channel, NoConnector()), Output(1 << 20), "h", None)  # type: ignore[arg-type]
    assert (result.status, result.exit_code, result.stdout) == (Status.FAILED, 3, b"x")
