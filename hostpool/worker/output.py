"""Child side: collecting one command's stdout/stderr, whatever transport produced them.

One class serves every connector so the output cap, the live line events and the sudo
password handshake behave the same on every connection type.
"""

from __future__ import annotations

from typing import Protocol

from hostpool.models import Event, HostResult, Lines, Status, Stream
from hostpool.worker.command import SudoWrap

STDOUT = Stream.STDOUT
STDERR = Stream.STDERR


class EventSink(Protocol):
    """The worker end of the events channel (a queue in the parent, an actor on Ray)."""

    def put(self, obj: Event) -> None: ...


class Output:
    """Bounded byte buffers for both streams, plus the reactions the transport must take.

    ``feed`` returns bytes to write to the command's stdin (the sudo password, once);
    ``take_input`` hands over the command's stdin data once the command itself reads
    stdin (at once, or after sudo's readiness marker, so sudo never takes it for the
    password); ``close_stdin`` says sudo asked twice and must not be fed again.  Stdin
    otherwise stays open until the command ends: it is the lifeline (``command``).
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
        stdin: bytes = b"",
    ) -> None:
        self.limit = limit
        self.truncated = False
        self._buf: dict[Stream, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}
        self._partial: dict[Stream, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}
        self._events = events
        self._seq = seq
        self._host = host
        self._sudo = sudo if sudo and sudo.with_password else None
        self._password = password
        self._password_sent = False
        self._sudo_started = self._sudo is None
        self.close_stdin = False
        self._stdin: bytes | None = stdin
        self.sudo_error = ""
        self._head: dict[Stream, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}
        self._final: tuple[bytes, bytes] | None = None

    # -- feeding -------------------------------------------------------------------------
    def take_input(self) -> bytes:
        """The stdin data, once, as soon as the command (not sudo) reads stdin."""
        if self._stdin is None or not self._sudo_started:
            return b""
        data, self._stdin = self._stdin, None
        return data

    def feed(self, stream: Stream, data: bytes) -> bytes | None:
        if not data:
            return None
        if not self._sudo_started:
            return self._feed_before_sudo(stream, data)
        self._keep(stream, data)
        return None

    def _feed_before_sudo(self, stream: Stream, data: bytes) -> bytes | None:
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
                before, after = bytes(head[:idx]), bytes(head[idx + len(ready) :])
                head.clear()
                pending_err = bytes(self._head[STDERR])
                self._head[STDERR].clear()
                self._keep(STDERR, pending_err)
                self._keep(STDOUT, before + after)
        return reply

    def _keep(self, stream: Stream, data: bytes) -> None:
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
            self._partial[stream] += data

    def flush_lines(self) -> None:
        """Complete lines of what ``feed`` got since the last call, one event per stream:
        the pump calls it once per read, so a burst of chunks costs one pickle."""
        if self._events is None:
            return
        for stream, partial in self._partial.items():
            end = partial.rfind(b"\n")
            if end < 0:
                continue
            lines = bytes(partial[:end]).split(b"\n")
            del partial[: end + 1]
            self._events.put(Lines(self._seq, self._host, stream, tuple(lines)))

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
            self.flush_lines()
            for stream, partial in self._partial.items():
                if partial:
                    self._events.put(Lines(self._seq, self._host, stream, (bytes(partial),)))
                    partial.clear()
        self._final = bytes(self._buf[STDOUT]), bytes(self._buf[STDERR])
        return self._final

    def result(
        self, host: str, status: Status, *, exit_code: int | None = None, error: str = ""
    ) -> HostResult:
        """The record for a command that started, carrying whatever output it produced."""
        stdout, stderr = self.finish()
        return HostResult(
            host=host,
            status=status,
            exit_code=exit_code,
            stdout=stdout,
            stderr=stderr,
            error=error,
            truncated=self.truncated,
            started=True,
        )

    def exit_result(self, host: str, rc: int, error: str = "") -> HostResult:
        """ok for exit status 0, else failed with ``error`` (or sudo's complaint)."""
        if rc == 0:
            return self.result(host, Status.OK, exit_code=0)
        return self.result(host, Status.FAILED, exit_code=rc, error=error or self.sudo_error)
