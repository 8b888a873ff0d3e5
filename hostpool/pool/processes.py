"""Parent side: liveness and stopping of worker processes this run started.

``multiprocessing.Pool.terminate`` joins every worker without a timeout, and a stopped
(SIGSTOP) worker never takes its SIGTERM: both would hang the parent, so every stop here
is bounded and ends in SIGKILL, and only PIDs of our own workers are ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable

TERMINATE_GRACE = 10.0  # workers still standing after terminate() are SIGKILLed then
SUSPECT_GRACE = 2.0  # given-up workers get this long to take SIGTERM


def _state(pid: int) -> bytes:
    """The state letter of /proc/PID/stat (b"" when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b") ", 1)[1][:1]
    except (OSError, IndexError):
        return b""


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process we started is still running (zombies count as gone)."""
    return _exists(pid) and _state(pid) != b"Z"


def stopped(pid: int) -> bool:
    """SIGSTOPped (state T) or stopped by a tracer (t)."""
    return _state(pid) in (b"T", b"t")


def working(pid: int) -> bool:
    """Alive and not stopped: a SIGSTOPped worker runs nothing, however long we wait."""
    return _exists(pid) and _state(pid) not in (b"Z", b"T", b"t")


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def release(pids: Iterable[int]) -> None:
    """Make given-up workers take SIGTERM even if stopped (SIGCONT after it), then
    SIGKILL what still stands after a grace period."""
    left = set(pids)
    for pid in left:
        _signal(pid, signal.SIGTERM)
        _signal(pid, signal.SIGCONT)
    deadline = time.monotonic() + SUSPECT_GRACE
    while left and time.monotonic() < deadline:
        left = {pid for pid in left if pid_alive(pid)}
        time.sleep(0.05)
    for pid in left:
        _signal(pid, signal.SIGKILL)


def bounded_stop(stop: Callable[[], None], workers: Callable[[], Iterable[int]]) -> None:
    """Run ``stop`` (terminate + join) on a thread; SIGKILL ``workers()`` if it lingers."""
    done = threading.Event()

    def run() -> None:
        stop()
        done.set()

    threading.Thread(target=run, name="hostpool-terminate", daemon=True).start()
    if done.wait(TERMINATE_GRACE):
        return
    for pid in workers():
        if pid_alive(pid):
            _signal(pid, signal.SIGKILL)
    done.wait(TERMINATE_GRACE)
