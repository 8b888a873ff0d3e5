"""Child side: ``connection=ssh`` over paramiko, commands on exec channels, files on SFTP.

A worker keeps one connector per lane for the next task (``worker.task``); a kept
connection can go stale between tasks (the server timed it out), which the first channel
open shows: that is raised as ``StaleConnection`` so the worker redoes the connection
once, before anything reached the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import select
import shlex
import threading
import time
from collections.abc import Callable

import paramiko

from hostpool.connectors.base import STOP, Exit, FileInfo, StaleConnection
from hostpool.connectors.ssh_handshake import SSHContext, open_transport
from hostpool.models import HostKey, Status, Stream, Target
from hostpool.transfer import CHUNK

HASH_TIMEOUT = 300.0


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
        ch = self.channel
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

    def kill(self) -> None:
        """Tell the lifeline to stop the command, then drop the connection; losing the
        connection alone reaches the lifeline too (sshd closes the command's stdin)."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            if not self.channel.closed and self.channel.send_ready():
                self.channel.send(STOP)
        self.channel.close()
        self._connector.close()


class SSHConnector:
    """A connected, authenticated transport (plus its jump hops) to one target."""

    def __init__(self, ctx: SSHContext, target: Target) -> None:
        self.ctx = ctx
        self.target = target
        self.transport, self._hops, self.learnt = open_transport(ctx, target)
        self.reused = False  # set by the worker when it hands out a kept connection
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def alive(self) -> bool:
        return self.transport.is_active()

    def _stale_guard(self, exc: BaseException) -> None:
        if self.reused:
            self.close()
            raise StaleConnection(str(exc)) from exc

    def _session(self) -> paramiko.Channel:
        try:
            channel = self.transport.open_session(timeout=self.ctx.options.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self._stale_guard(exc)
            raise
        self.reused = False  # the connection answered: failures from here on are real
        return channel

    def start(self, command: str, pty: bool = False) -> ChannelProcess:
        channel = self._session()
        if pty:
            _request(channel, "pty-req", _pty_request)
        _request(channel, "exec", lambda m: m.add_string(command))
        interval = self.target.ssh.server_alive_interval or self.ctx.options.keepalive
        count = self.target.ssh.server_alive_count
        liveness = Liveness(self.transport, interval, count) if interval else None
        return ChannelProcess(channel, self, liveness)

    # -- files --------------------------------------------------------------------------
    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                client = paramiko.SFTPClient.from_transport(self.transport)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                self._stale_guard(exc)
                raise
            if client is None:
                raise paramiko.SSHException("could not open an SFTP session")
            self.reused = False
            self._sftp = client
        return self._sftp

    def stat(self, path: str) -> FileInfo | None:
        try:
            st = self.sftp.stat(path)
        except FileNotFoundError:
            return None
        return FileInfo.of(st.st_mode or 0, st.st_size or 0)

    def sha256(self, path: str) -> str:
        """``sha256sum`` on the host when it has one, else hash the file read over SFTP."""
        channel = self._session()
        try:
            channel.settimeout(HASH_TIMEOUT)
            channel.exec_command(f"sha256sum -- {shlex.quote(path)} 2>/dev/null")
            out = b""
            while chunk := channel.recv(4096):
                out += chunk
            rc = channel.recv_exit_status()
        finally:
            channel.close()
        digest = out.split(b" ", 1)[0].decode("ascii", "replace")
        if rc == 0 and len(digest) == 64:
            return digest
        sha = hashlib.sha256()
        with self.sftp.open(path, "rb") as fh:
            fh.prefetch()
            while chunk := fh.read(CHUNK):
                sha.update(chunk)
        return sha.hexdigest()

    def put(self, local: str, remote: str) -> None:
        self.sftp.put(local, remote, confirm=True)

    def install(self, tmp: str, dest: str, mode: int) -> None:
        self.sftp.chmod(tmp, mode)
        self.sftp.posix_rename(tmp, dest)

    def chmod(self, path: str, mode: int) -> None:
        self.sftp.chmod(path, mode)

    def remove(self, path: str) -> None:
        with contextlib.suppress(paramiko.SSHException):
            self.sftp.remove(path)

    def get(self, remote: str, local: str) -> None:
        self.sftp.get(remote, local)

    def mkdir(self, path: str, mode: int) -> None:
        self.sftp.mkdir(path, mode)
        self.sftp.chmod(path, mode)  # the server's umask applied to mkdir's mode

    def listdir(self, path: str) -> list[tuple[str, FileInfo]]:
        return [
            (a.filename, FileInfo.of(a.st_mode or 0, a.st_size or 0))
            for a in self.sftp.listdir_attr(path)
        ]

    def end_task(self) -> None:
        """Between tasks only the transport is kept: an SFTP session per task is cheap."""
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()
            self._sftp = None

    def close(self) -> None:
        self.end_task()
        self.transport.close()
        self._hops.close()

    def take_learnt(self) -> HostKey | None:
        learnt, self.learnt = self.learnt, None
        return learnt


# Terminal modes (RFC 4254 8): bytes pass through as the command wrote them.
_ECHO, _ONLCR, _TTY_OP_END = 53, 72, 0
_PTY_MODES = bytes([_ECHO, 0, 0, 0, 0, _ONLCR, 0, 0, 0, 0, _TTY_OP_END])


def _pty_request(message: paramiko.Message) -> None:
    message.add_string("xterm")
    for size in (200, 50, 0, 0):  # columns, rows, pixel width, pixel height
        message.add_int(size)
    message.add_string(_PTY_MODES)


def _request(
    channel: paramiko.Channel, kind: str, body: Callable[[paramiko.Message], object]
) -> None:
    """Send a channel request without asking for a reply.

    paramiko's ``exec_command`` waits, without a timeout, for the server to confirm the
    request: one extra round trip per host (a tenth of a second per wave at 100 ms RTT)
    and an unbounded wait.  A refused exec still shows: the server closes the channel
    without an exit status, which ``ChannelProcess.exit`` reports.  A refused pty-req
    leaves the command without a terminal (and without its hang-up).
    """
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    message.add_int(channel.remote_chanid)
    message.add_string(kind)
    message.add_boolean(False)
    body(message)
    transport = channel.get_transport()
    assert transport is not None
    transport._send_user_message(message)  # type: ignore[attr-defined]
