"""Both sides: the worker -> parent event channel of the local engine.

Workers ``put`` small frozen records (``models.Started``, ``models.Lines``); the
parent's main loop checks for them on every wake-up, once per finished host at least.
The stdlib ``SimpleQueue.empty()`` answers that through ``multiprocessing.connection.wait``,
which builds and tears down a selector per call: about half of the parent main loop's
CPU at 500 hosts (cProfile).  Here the parent keeps one ``poll`` object for the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing.queues
import select
import threading
from collections.abc import Callable
from typing import Any


class EventQueue(multiprocessing.queues.SimpleQueue):  # type: ignore[type-arg]
    """A ``SimpleQueue`` whose ``empty()`` is one ``poll(2)`` call."""

    def __init__(self, *, ctx: Any) -> None:
        super().__init__(ctx=ctx)
        self._poller: Any = None
        # A streaming worker blocks on a full pipe until the parent reads: 1 MiB (the
        # unprivileged maximum) instead of 64 KiB lets it run ahead of a busy parent.
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._writer.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[attr-defined]

    def __setstate__(self, state: Any) -> None:  # the copy a worker unpickles
        super().__setstate__(state)
        self._poller = None

    def fileno(self) -> int:
        return int(self._reader.fileno())  # type: ignore[attr-defined]

    def empty(self) -> bool:
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self._reader.fileno(), select.POLLIN)  # type: ignore[attr-defined]
        return not self._poller.poll(0)


class Waker:
    """Wakes the dispatcher when worker events are waiting, without reading them.

    The dispatcher stays their only reader (so output lines are handled before the answer
    that follows them); this thread only polls the pipe and posts a wake-up, then waits
    for the dispatcher to drain it.  Without it, events waited for the dispatcher's next
    poll tick: a worker streaming output blocked on the full pipe for a tick per 64 KB
    (20 MB took 11 s)."""

    def __init__(self, current_fd: Callable[[], int | None], wake: Callable[[], None]) -> None:
        self._current_fd = current_fd
        self._wake = wake
        self.drained = threading.Event()
        self.stopped = threading.Event()  # set when the dispatcher ends
        self._thread = threading.Thread(target=self._run, name="hostpool-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller, watched = select.poll(), None
        while not self.stopped.is_set():
            fd = self._current_fd()
            if fd != watched:  # the engine was rebuilt
                if watched is not None:
                    poller.unregister(watched)
                if fd is not None:
                    poller.register(fd, select.POLLIN)
                watched = fd
            if watched is None:  # nothing to watch now (``drained`` may be set: not that)
                self.stopped.wait(0.25)
                continue
            try:
                ready = poller.poll(500)
            except (OSError, ValueError):
                ready = []
            if ready and not self.stopped.is_set():
                self.drained.clear()
                self._wake()
                self.drained.wait(0.5)
