"""Both sides: the parent's "stop these hosts now" board, read by every worker of a pool.

One call of a long-lived pool (a persistent pool serving many clients) must be stoppable
without stopping the pool: terminating workers would drop every kept connection of every
other caller.  The parent writes the cancelled call's seq range here; a worker checks it
before a task starts and between reads of a running command, which the lifeline then
stops on the host.  Shared memory without a lock: a range is written before the count
that publishes it, and a torn read only delays the stop to the next check.
"""

from __future__ import annotations

import multiprocessing.sharedctypes
import time
from collections.abc import Callable
from typing import Any

SLOTS = 256  # ranges remembered; the oldest are overwritten (tasks check within 0.2 s)
CHECK_EVERY = 0.2


class CancelBoard:
    def __init__(self) -> None:
        # [count, lo0, hi0, lo1, hi1, ...]; RawArray pickles only while a process starts,
        # which is how initargs reach every worker (and each replacement worker).
        self._cells: Any = multiprocessing.sharedctypes.RawArray("q", 1 + 2 * SLOTS)

    def add(self, lo: int, hi: int) -> None:
        """Parent side: seqs ``lo <= seq < hi`` are cancelled."""
        cells = self._cells
        count = cells[0]
        slot = 1 + 2 * (count % SLOTS)
        cells[slot], cells[slot + 1] = lo, hi
        cells[0] = count + 1

    def covers(self, seq: int) -> bool:
        cells = self._cells
        count = min(cells[0], SLOTS)
        return any(cells[1 + 2 * i] <= seq < cells[2 + 2 * i] for i in range(count))

    def watcher(self, seq: int) -> Callable[[], bool]:
        """A cheap check for a pump loop: the board itself is read at most every 0.2 s."""
        next_check = 0.0

        def cancelled() -> bool:
            nonlocal next_check
            now = time.monotonic()
            if now < next_check:
                return False
            next_check = now + CHECK_EVERY
            return self.covers(seq)

        return cancelled
