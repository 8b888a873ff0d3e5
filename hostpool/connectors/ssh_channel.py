"""Child side: one exec channel of an SSH connection, drained on both streams at once.

``ChannelProcess`` is the ``RemoteProcess`` the pump drives; ``Liveness`` finds a peer
that stopped answering, whatever the command timeout.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from typing import TYPE_CHECKING

import paramiko

from hostpool.connectors.base import STOP, Exit
from hostpool.models import Status, Stream

if TYPE_CHECKING:
    from hostpool.connectors.ssh import SSHConnector


class Liveness:
    """Keepalives with reply tracking: a peer that stopped answering (a stopped sshd, a
    frozen host) is found after ``interval`` x ``count`` seconds of silence, whatever the
    command timeout.  paramiko's own keepalive asks for no reply, so it proves nothing."""

    def __init__(self, transport: paramiko.Transport, interval: float, count: int) -> None:
        self.transport = transport
        self.interval = interval
        self.count = max(1, count)
        self.heard = time.monotonic()
        self._probe: threading.Event | None = None
        self._sent = 0.0
        self.misses = 0
        self.dead = ""

    def heard_now(self) -> None:
        self.heard, self.misses, self._probe = time.monotonic(), 0, None

    def check(self) -> None:
        if not self.interval or self.dead:
            return
        now = time.monotonic()
        if self._probe is not None and self._probe.is_set():
            self.heard_now()
            return
        if self._probe is None:
            if now - self.heard >= self.interval:
                self._send(now)
            return
        if now - self._sent >= self.interval:
            self.misses += 1
            if self.misses >= self.count:
                silent = now - self.heard
                self.dead = f"no answer to {self.count} keepalives ({silent:.0f}s of silence)"
                return
            self._send(now)

    def _send(self, now: float) -> None:
        event = threading.Event()
        self.transport.completion_event = event  # set by paramiko on the reply
        message = paramiko.Message()
        message.add_byte(paramiko.common.cMSG_GLOBAL_REQUEST)
        message.add_string("keepalive@openssh.com")
        message.add_boolean(True)
        try:
            self.transport._send_user_message(message)  # type: ignore[attr-defined]
        except (paramiko.SSHException, OSError, EOFError):
            self.dead = "connection lost"
        self._probe, self._sent = event, now


class ChannelProcess:
    """One exec channel, read on both streams at once."""

    def __init__(
        self, channel: paramiko.Channel, on_kill: SSHConnector, liveness: Liveness | None = None
    ) -> None:
        self.channel = channel
        self._connector = on_kill
        self._fd = channel.fileno()
        self.liveness = liveness

    def wait(self, timeout: float) -> None:
        select.select([self._fd], [], [], timeout)
        if self.liveness is not None:
            self.liveness.check()

    def read(self) -> list[tuple[Stream, bytes]]:
        chunks: list[tuple[Stream, bytes]] = []
        while self.channel.recv_ready():
            chunks.append((Stream.STDOUT, self.channel.recv(65536)))
        while self.channel.recv_stderr_ready():
            chunks.append((Stream.STDERR, self.channel.recv_stderr(65536)))
        if chunks and self.liveness is not None:
            self.liveness.heard_now()
        return chunks

    @property
    def _dead(self) -> str:
        return self.liveness.dead if self.liveness is not None else ""

    @property
    def at_eof(self) -> bool:
        """Both streams ended and nothing is left unread.  A closed channel (or a dead
        transport) may still hold bytes the server sent before closing: those are read
        first, or a host would come back ok with its output cut."""
        ch = self.channel
        if ch.recv_ready() or ch.recv_stderr_ready():
            return False
        return bool(ch.eof_received) or ch.closed or not self._alive() or bool(self._dead)

    def _alive(self) -> bool:
        transport = self.channel.get_transport()
        return transport is not None and transport.is_active()

    def send(self, data: bytes) -> int:
        ch = self.channel
        if ch.closed or ch.eof_sent:
            return len(data)
        if not ch.send_ready():
            return 0
        try:
            return int(ch.send(data))
        except OSError:
            return len(data)

    def close_stdin(self) -> None:
        """End of stdin; once the exit status is in, the channel's close says it instead.

        An end-of-file sent then races the server's close: paramiko's reader thread
        answers that close with ours at once, which can overtake this thread's
        end-of-file, and sshd drops the whole connection for an EOF on a channel it
        has freed ("ieof packet referred to nonexistent channel"): a warm pool lost a
        kept connection in about one run of 500."""
        ch = self.channel
        if ch.exit_status_ready():
            return
        if not ch.closed and not ch.eof_sent:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                ch.shutdown_write()

    @property
    def exited(self) -> bool:
        return self.channel.exit_status_ready()

    def exit(self, timeout: float) -> Exit | None:
        ch = self.channel
        if self._dead:
            self._connector.close()
            return Exit(None, Status.UNREACHABLE, f"host stopped answering: {self._dead}")
        if not ch.exit_status_ready() and self._alive():
            ch.status_event.wait(timeout)
            liveness = self.liveness
            if liveness is not None:
                liveness.check()
                if liveness.dead:
                    return self.exit(0)
            if not ch.exit_status_ready() and self._alive():
                return None
        alive, ready, code = self._alive(), ch.exit_status_ready(), ch.exit_status
        ch.close()
        if alive and not ready:
            error = "server closed the session without an exit status (exec refused?)"
            return Exit(None, Status.ERROR, error)
        if not ready or (code == -1 and not alive):
            # paramiko reports a dropped connection as exit status -1 on a dead transport.
            self._connector.close()
            return Exit(None, Status.UNREACHABLE, "connection lost before the command finished")
        if code == -1:
            return Exit(None, Status.FAILED, "remote command was killed by a signal")
        return Exit(code)

    def stop(self) -> None:
        """A cancelled call: the stop byte, then the channel's close, which reaches the
        lifeline too; the connection itself stays for the host's next command."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            if not self.channel.closed and self.channel.send_ready():
                self.channel.send(STOP)
        self.channel.close()

    def kill(self) -> None:
        """As ``stop``, then drop the connection; losing the connection alone reaches the
        lifeline too (sshd closes the command's stdin)."""
        self.stop()
        self._connector.close()
