"""Both sides: the worker -> parent event channel of the local engine.

Workers ``put`` small frozen records (``models.Started``, ``models.Lines``); the
parent's main loop checks for them on every wake-up, once per finished host at least.
The stdlib ``SimpleQueue.empty()`` answers that through ``multiprocessing.connection.wait``,
which builds and tears down a selector per call: about half of the parent main loop's
CPU at 500 hosts (cProfile).  Here the parent keeps one ``poll`` object for the run.
"""

from __future__ import annotations

import multiprocessing.queues
import select
from typing import Any


class EventQueue(multiprocessing.queues.SimpleQueue):  # type: ignore[type-arg]
    """A ``SimpleQueue`` whose ``empty()`` is one ``poll(2)`` call."""

    def __init__(self, *, ctx: Any) -> None:
        super().__init__(ctx=ctx)
        self._poller: Any = None

    def __setstate__(self, state: Any) -> None:  # the copy a worker unpickles
        super().__setstate__(state)
        self._poller = None

    def empty(self) -> bool:
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self._reader.fileno(), select.POLLIN)  # type: ignore[attr-defined]
        return not self._poller.poll(0)
