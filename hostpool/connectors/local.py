"""Child side: ``connection=local``, the command as a process on this machine.

The command runs in its own session so a terminal Ctrl-C never reaches it directly (the
parent decides what an interrupt means) and so the worker can kill the whole process
group on a deadline or when the pool terminates it.  ``PipeProcess`` also serves the
docker connector, whose command is a local ``docker exec`` client.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Callable

from hostpool.connectors.base import Exit, FileInfo, Stateless
from hostpool.models import Status, Stream, Target
from hostpool.transfer import file_sha256
from hostpool.worker import sched

# What each lane thread is running, so the worker's SIGTERM handler can stop it.
_running: dict[int, PipeProcess] = {}


def kill_current() -> None:
    """Called from the worker's SIGTERM handler: no orphaned commands after terminate()."""
    for proc in list(_running.values()):
        proc.kill()


class PipeProcess:
    """A local child process behind pipes (or a terminal, ``pty``); ``on_kill`` runs
    after its group is killed."""

    def __init__(
        self,
        argv: list[str],
        on_kill: Callable[[], None] | None = None,
        health: Callable[[], str | None] | None = None,
        interval: float = 0.0,
        count: int = 3,
        pty: bool = False,
    ) -> None:
        """``health`` (docker: the container's state) is asked every ``interval`` seconds
        of silence; ``count`` problems in a row end the command as unreachable."""
        master = slave = -1
        if pty:
            master, slave = os.openpty()
            _raw_output(slave)
        ends = (slave, slave, slave) if pty else (subprocess.PIPE,) * 3
        with sched.unconfined():  # a lane's one CPU and batch policy are not the command's
            self.proc = subprocess.Popen(
                argv, stdin=ends[0], stdout=ends[1], stderr=ends[2], start_new_session=True
            )
        self._sel = selectors.DefaultSelector()
        if pty:
            os.close(slave)
            self._in: int | None = master
            self._sel.register(master, selectors.EVENT_READ, Stream.STDOUT)
        else:
            assert self.proc.stdout and self.proc.stderr and self.proc.stdin
            self._in = self.proc.stdin.fileno()
            self._sel.register(self.proc.stdout.fileno(), selectors.EVENT_READ, Stream.STDOUT)
            self._sel.register(self.proc.stderr.fileno(), selectors.EVENT_READ, Stream.STDERR)
        self._pty = master if pty else None
        os.set_blocking(self._in, False)
        self._on_kill = on_kill
        self._lane = threading.get_ident()
        _running[self._lane] = self
        self._health, self._interval, self._count = health, interval, count
        self._heard = time.monotonic()
        self._problems = 0
        self.dead = ""

    def wait(self, timeout: float) -> None:
        if self._sel.get_map():
            self._sel.select(timeout)
        if self._health is None or not self._interval or self.dead:
            return
        if time.monotonic() - self._heard < self._interval:
            return
        problem = self._health()
        self._heard = time.monotonic()
        self._problems = self._problems + 1 if problem else 0
        if problem and self._problems >= self._count:
            self.dead = problem

    def read(self) -> list[tuple[Stream, bytes]]:
        chunks: list[tuple[Stream, bytes]] = []
        if not self._sel.get_map():
            return chunks
        for key, _ in self._sel.select(0):
            try:
                data = os.read(key.fd, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                data = b""
            if data:
                chunks.append((key.data, data))
                self._heard, self._problems = time.monotonic(), 0
            else:
                self._sel.unregister(key.fileobj)
        return chunks

    @property
    def at_eof(self) -> bool:
        return not self._sel.get_map() or bool(self.dead)

    def send(self, data: bytes) -> int:
        if self._in is None:
            return len(data)
        try:
            return os.write(self._in, data)
        except BlockingIOError:
            return 0
        except OSError:  # gone: nobody reads it
            return len(data)

    def close_stdin(self) -> None:
        if self._pty is not None:  # a terminal's end of input is a character, not a close
            self.send(b"\x04")
        elif self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self._in = None

    @property
    def exited(self) -> bool:
        return self.proc.poll() is not None

    def exit(self, timeout: float) -> Exit | None:
        if self.dead:
            self.kill()
            return Exit(None, Status.UNREACHABLE, f"host stopped answering: {self.dead}")
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._done()
        if rc < 0:
            return Exit(128 - rc, error=f"killed by signal {-rc}")
        return Exit(rc)

    def kill(self) -> None:
        # The whole group, even when the shell itself already exited: what it left
        # running (``sleep 1000 &``) is still in its session.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5.0)
        if self._on_kill is not None:
            self._on_kill()
        self._done()

    def stop(self) -> None:
        self.kill()

    def _done(self) -> None:
        if _running.get(self._lane) is self:
            del _running[self._lane]
        self._sel.close()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        if self._pty is not None:
            with contextlib.suppress(OSError):
                os.close(self._pty)
            self._pty = self._in = None


def _of(st: os.stat_result) -> FileInfo:
    return FileInfo.of(st.st_mode, st.st_size)


def _raw_output(fd: int) -> None:
    """A terminal that passes bytes through: no echo of what is sent, no CR before LF."""
    attrs = termios.tcgetattr(fd)
    attrs[1] &= ~termios.ONLCR  # oflag
    attrs[3] &= ~(termios.ECHO | termios.ECHONL)  # lflag
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class LocalConnector(Stateless):
    """This machine: no connection to make, files through the OS."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def start(self, command: str, pty: bool = False) -> PipeProcess:
        return PipeProcess(["/bin/sh", "-c", command], pty=pty)

    def stat(self, path: str) -> FileInfo | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return _of(st)

    def sha256(self, path: str) -> str:
        return file_sha256(path)

    def put(self, local: str, remote: str) -> None:
        shutil.copyfile(local, remote)

    def install(self, tmp: str, dest: str, mode: int) -> None:
        os.chmod(tmp, mode)
        os.replace(tmp, dest)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def remove(self, path: str) -> None:
        os.unlink(path)

    def get(self, remote: str, local: str) -> None:
        shutil.copyfile(remote, local)

    def mkdir(self, path: str, mode: int) -> None:
        os.mkdir(path, mode)
        os.chmod(path, mode)

    def listdir(self, path: str) -> list[tuple[str, FileInfo]]:
        with os.scandir(path) as entries:
            return [(e.name, _of(e.stat(follow_symlinks=False))) for e in entries]
