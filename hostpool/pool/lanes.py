"""Parent side: a ``multiprocessing.Pool`` whose worker processes each run several tasks at once.

Why: an SSH task is mostly waiting (TCP, key exchange, the remote command), and on a
small machine the per-process price is high.  Measured here at 32 hosts in flight on 2
cores: 32 processes cost 3.4-3.7 ms of client CPU per connection (context switches and
cache misses between 32 interpreters, plus ~7 ms to start and stop each), while 4
processes driving 8 connections each cost 2.5 ms, and 1.4 GB of summed RSS becomes 0.2.

The shape stays the stdlib's: the parent still calls ``Pool(processes, initializer,
initargs, maxtasksperchild, context)`` and one ``apply_async`` per host with callbacks.
Only the function each worker process runs changes, through ``Pool.Process`` (the
extension point ``ThreadPool`` uses): instead of the stdlib loop "take a task, run it,
send the result", a *lane worker* runs the initializer once, then a reader thread takes
a task from the pool's queue only when one of its ``per_worker`` lanes (threads) is
free, so work still spreads across processes the way it did.  Each process still takes
exactly one sentinel from ``close()`` and still exits after ``maxtasksperchild`` tasks,
which is all the pool's bookkeeping relies on.
"""

from __future__ import annotations

import multiprocessing.pool
from typing import Any

from hostpool.pool.spawning import process_class
from hostpool.worker.lanes import STDLIB_WORKER, lane_worker


class LanePool(multiprocessing.pool.Pool):
    """``multiprocessing.Pool`` with ``per_worker`` concurrent tasks in each process."""

    def __new__(cls, *args: Any, per_worker: int = 1, **kwds: Any) -> LanePool:
        # Checked before any state exists: Pool.__del__ trips over a half-built pool.
        if per_worker < 1:
            raise ValueError("per_worker must be at least 1")
        return super().__new__(cls)

    def __init__(
        self,
        processes: int,
        initializer: Any = None,
        initargs: tuple[Any, ...] = (),
        maxtasksperchild: int | None = None,
        context: Any = None,
        *,
        per_worker: int = 1,
    ) -> None:
        self.per_worker = per_worker  # read by Process(), which __init__ already calls
        super().__init__(processes, initializer, initargs, maxtasksperchild, context)

    def _get_sentinels(self) -> list[Any]:
        """What wakes the pool's worker-handler thread, besides a worker exiting.

        The stdlib also wakes it whenever a result is readable, and it then polls every
        worker and spins until the result thread has read that result: several wake-ups
        and a poll per worker for every host (measured: a quarter of the parent's CPU at
        500 hosts).  A worker's exit already wakes it through the worker's sentinel, and
        an emptied task cache through the change notifier, which is all it acts on.
        """
        return [self._change_notifier._reader]  # type: ignore[attr-defined]

    def Process(self, ctx: Any, *args: Any, **kwds: Any) -> Any:  # type: ignore[override]
        if self.per_worker > 1 and kwds.get("target") is STDLIB_WORKER:
            kwds["target"] = lane_worker
            kwds["args"] = (self.per_worker, *kwds["args"])
        # Children never re-import the user's main script (see spawning.py).
        return process_class(ctx)(*args, **kwds)
