"""Child side: collecting one command's stdout/stderr, whatever transport produced them.

One class serves the SSH channel and the local/docker pipes so the output cap, the live
line events and the sudo password handshake behave the same on every connection type.
"""

from __future__ import annotations

from typing import Any, Protocol

from hostpool.models import HostResult, Status
from hostpool.shell import SudoWrap

STDOUT = 1
STDERR = 2


class EventSink(Protocol):
    def put(self, obj: Any, block: bool = ..., timeout: float | None = ...) -> None: ...


class Output:
    """Bounded byte buffers for both streams, plus the reactions the transport must take.

    ``feed`` returns bytes to write to the command's stdin (the sudo password, once) and
    ``close_stdin`` tells the loop when stdin can be shut: immediately without sudo
    password, after sudo's readiness marker otherwise, so sudo can never wait on us.
    """

    def __init__(
        self,
        limit: int,
        *,
        sudo: SudoWrap | None = None,
        password: str | None = None,
        events: EventSink | None = None,
        seq: int = 0,
        host: str = "",
    ) -> None:
        self.limit = limit
        self.truncated = False
        self._buf = {STDOUT: bytearray(), STDERR: bytearray()}
        self._partial = {STDOUT: bytearray(), STDERR: bytearray()}
        self._events = events
        self._seq = seq
        self._host = host
        self._sudo = sudo if sudo and sudo.with_password else None
        self._password = password
        self._password_sent = False
        self._sudo_started = self._sudo is None
        self.close_stdin = self._sudo is None
        self.sudo_error = ""
        self._head = {STDOUT: bytearray(), STDERR: bytearray()}
        self._final: tuple[bytes, bytes] | None = None

    # -- feeding -------------------------------------------------------------------------
    def feed(self, stream: int, data: bytes) -> bytes | None:
        if not data:
            return None
        if not self._sudo_started:
            return self._feed_before_sudo(stream, data)
        self._keep(stream, data)
        return None

    def _feed_before_sudo(self, stream: int, data: bytes) -> bytes | None:
        assert self._sudo is not None
        head = self._head[stream]
        head += data
        reply: bytes | None = None
        if stream == STDERR:
            prompt = self._sudo.prompt.encode()
            while prompt in head:
                head[:] = head.replace(prompt, b"", 1)
                if self._password_sent or self._password is None:
                    # A second prompt means the password was wrong: stop feeding sudo.
                    self.sudo_error = "sudo: incorrect or missing password"
                    self.close_stdin = True
                else:
                    self._password_sent = True
                    reply = self._password.encode() + b"\n"
        else:
            ready = self._sudo.ready.encode() + b"\n"
            idx = head.find(ready)
            if idx >= 0:
                self._sudo_started = True
                self.close_stdin = True
                before, after = bytes(head[:idx]), bytes(head[idx + len(ready) :])
                head.clear()
                pending_err = bytes(self._head[STDERR])
                self._head[STDERR].clear()
                self._keep(STDERR, pending_err)
                self._keep(STDOUT, before + after)
        return reply

    def _keep(self, stream: int, data: bytes) -> None:
        if not data:
            return
        buf = self._buf[stream]
        room = self.limit - len(buf)
        if room >= len(data):
            buf += data
        else:
            if room > 0:
                buf += data[:room]
            self.truncated = True
        if self._events is not None:
            self._emit_lines(stream, data)

    def _emit_lines(self, stream: int, data: bytes) -> None:
        assert self._events is not None
        partial = self._partial[stream]
        partial += data
        if b"\n" not in data:
            return
        *lines, rest = bytes(partial).split(b"\n")
        partial[:] = rest
        self._events.put(("lines", self._seq, self._host, stream, lines))

    # -- results -------------------------------------------------------------------------
    def finish(self) -> tuple[bytes, bytes]:
        """Flush what sudo held back and the last unterminated lines (idempotent)."""
        if self._final is not None:
            return self._final
        if not self._sudo_started:
            for stream in (STDERR, STDOUT):
                held = bytes(self._head[stream])
                self._head[stream].clear()
                self._sudo_started = True
                self._keep(stream, held)
        if self._events is not None:
            for stream, partial in self._partial.items():
                if partial:
                    self._events.put(("lines", self._seq, self._host, stream, [bytes(partial)]))
                    partial.clear()
        self._final = bytes(self._buf[STDOUT]), bytes(self._buf[STDERR])
        return self._final

    def result(self, host: str, status: Status, **fields: Any) -> HostResult:
        """The record for a command that started, carrying whatever output it produced."""
        stdout, stderr = self.finish()
        return HostResult(
            host=host,
            status=status,
            stdout=stdout,
            stderr=stderr,
            truncated=self.truncated,
            started=True,
            **fields,
        )

    def exit_result(self, host: str, rc: int, error: str = "", **fields: Any) -> HostResult:
        """ok for exit status 0, else failed with ``error`` (or sudo's complaint)."""
        if rc == 0:
            return self.result(host, Status.OK, exit_code=0, **fields)
        return self.result(
            host, Status.FAILED, exit_code=rc, error=error or self.sudo_error, **fields
        )
