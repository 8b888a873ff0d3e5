"""Test helpers about processes: local targets, tagged process lookup, bounded waiting."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hostpool.models import Connection, Target


def local(name: str) -> Target:
    """A ``connection=local`` host: the pool worker itself starts its commands.

    Tests find "who started the command" (the worker for local hosts, sshd's session
    process for ssh ones) as ``$PPID`` of the command's shell: the lifeline wrapper
    (``worker.command``) execs that shell when there is no stdin data."""
    return Target(name=name, address="localhost", connection=Connection.LOCAL)


# The process that started a command: see ``local``.
STARTER = "$PPID"


def marked_pids(mark: str) -> list[int]:
    """PIDs whose environment holds ``mark`` (every descendant of a run inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
    return found


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def group_reaped(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """A CLI started in its own process group: whatever the test asserts, the group is
    SIGKILLed and reaped if it is still there at the end."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def foreground_signals() -> None:
    """``preexec_fn`` for a child that stands for a terminal's foreground job: a shell
    started in the background (CI under ``nohup ... &``) hands its children SIGINT
    ignored, and Python then never raises KeyboardInterrupt, so Ctrl-C tests would hang."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def sleeping(tag: str) -> list[int]:
    """``sleep <tag>`` processes (argv words, so the wrapper's own argv does not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[:1] == [b"sleep"] and tag.encode() in argv:
                found.append(int(entry.name))
    return found


def started(args: list[str], tmp_path: Path, mark: str) -> subprocess.Popen[bytes]:
    """The hostpool command in its own process group, as a terminal's foreground job,
    its descendants marked with ``mark``."""
    return subprocess.Popen(
        [sys.executable, "-m", "hostpool", *args],
        env=dict(os.environ, HOSTPOOL_TEST_MARK=mark, HOSTPOOL_STATE_DIR=str(tmp_path)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=foreground_signals,
    )
