"""Child side: ``connection=ssh`` over paramiko, commands on exec channels, files on SFTP.

A worker keeps one connector per lane for the next task (``worker.task``); a kept
connection can go stale between tasks (the server timed it out), which the first channel
open shows: that is raised as ``StaleConnection`` so the worker redoes the connection
once, before anything reached the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import threading
import time
from collections.abc import Callable
from typing import Any

import paramiko

from hostpool.connectors.base import FileInfo, StaleConnection
from hostpool.connectors.ssh_channel import ChannelProcess, Liveness
from hostpool.connectors.ssh_handshake import SSHContext, open_transport
from hostpool.models import HostKey, Target
from hostpool.transfer import CHUNK

HASH_TIMEOUT = 300.0


class SSHConnector:
    """A connected, authenticated transport (plus its jump hops) to one target."""

    def __init__(self, ctx: SSHContext, target: Target) -> None:
        self.ctx = ctx
        self.target = target
        self.transport, self._hops, self.learnt = open_transport(ctx, target)
        self.reused = False  # set by the worker when it hands out a kept connection
        self._sftp: paramiko.SFTPClient | None = None
        self.login_shell: str | None = None  # $SHELL, once a probe learnt it ("": unknown)
        self._probe: paramiko.Channel | None = None
        self._spare: tuple[paramiko.Channel, threading.Event] | None = None  # open_spare

    def probe_login_shell(self) -> None:
        """Ask for ``$SHELL`` on a channel of its own, while the first command runs: a
        warm connection then sends its later commands in the direct form alone
        (``worker.command.LIFELINE_DIRECT``), without ``any_shell``'s test and ``eval``,
        and zsh, which that test sends to the wrapped form, gets one shell start instead
        of three.  ``echo "$SHELL"`` reads the same in csh and fish as in sh."""
        if self.login_shell is not None or self._probe is not None:
            return
        try:
            channel = self.transport.open_session(timeout=self.ctx.options.connect_timeout)
            _request(channel, "exec", lambda m: m.add_string('echo "$SHELL"'))
        except (paramiko.SSHException, EOFError, OSError):
            self.login_shell = ""
            return
        self._probe = channel

    def settle_probe(self, wait: float = 0.0) -> None:
        """Take the probe's answer if it is in (waiting at most ``wait``); a probe still
        out stays pending for the next task, so no command ever waits for it long."""
        channel = self._probe
        if channel is None:
            return
        deadline = time.monotonic() + wait
        try:
            while not channel.exit_status_ready() and not channel.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                channel.status_event.wait(min(left, 0.05))
            data = channel.recv(4096) if channel.recv_ready() else b""
        except (paramiko.SSHException, EOFError, OSError):
            data = b""
        self._probe = None
        channel.close()
        lines = data.decode("utf-8", "replace").splitlines()
        self.login_shell = lines[0].strip() if len(lines) == 1 else ""

    @property
    def alive(self) -> bool:
        return self.transport.is_active()

    def _stale_guard(self, exc: BaseException) -> None:
        if self.reused:
            self.close()
            raise StaleConnection(str(exc)) from exc

    def open_spare(self) -> None:
        """Ask now for the session channel the next command on this kept connection will
        use, without waiting for the answer: a warm command then costs one round trip
        (exec to output), not two.  paramiko only opens channels blocking, so this is its
        ``open_channel`` up to the send (internals present from 3.x to 5.x; anything
        missing and the next command simply opens its own)."""
        if self._spare is not None or not self.transport.is_active():
            return
        t: Any = self.transport
        try:
            with t.lock:
                window = t._sanitize_window_size(None)
                packet = t._sanitize_packet_size(None)
                chanid = t._next_channel()
                message = paramiko.Message()
                message.add_byte(paramiko.common.cMSG_CHANNEL_OPEN)
                message.add_string("session")
                message.add_int(chanid)
                message.add_int(window)
                message.add_int(packet)
                channel = paramiko.Channel(chanid)
                t._channels.put(chanid, channel)
                t.channel_events[chanid] = event = threading.Event()
                t.channels_seen[chanid] = True
                spare: Any = channel
                spare._set_transport(t)
                spare._set_window(window, packet)
            t._send_user_message(message)
        except (AttributeError, TypeError, paramiko.SSHException, EOFError, OSError):
            return
        self._spare = (channel, event)  # held here: paramiko maps channels weakly

    def _take_spare(self) -> paramiko.Channel | None:
        """The channel ``open_spare`` asked for; None when there is none or the server
        refused it.  No answer within the connect timeout is a dead connection."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        channel, event = spare
        if not event.wait(self.ctx.options.connect_timeout):
            raise paramiko.SSHException("Timeout opening channel.")
        opened = self.transport._channels.get(channel.chanid)  # type: ignore[attr-defined]
        return channel if opened is channel and not channel.closed else None

    def _session(self) -> paramiko.Channel:
        try:
            channel = self._take_spare() if self.transport.is_active() else None
            if channel is None:
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
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._spare is not None:
            self._spare[0].close()
            self._spare = None
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
