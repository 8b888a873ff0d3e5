"""Parent side: when the stdlib pool can no longer hand out tasks, start over.

``multiprocessing.Pool`` workers read the task pipe under one shared lock, held by the
idle worker blocked in ``recv``.  SIGKILL that worker (or SIGSTOP it) and the lock is
never released: every queued task waits forever, though the pool replaces the dead
worker (seen: two idle workers killed, 8 hosts, no report after 90 s).  The parent cannot
look inside the lock, so it reads the signs: a worker that died abnormally or is stopped,
tasks handed over that no worker announced, nothing running.  After a short grace
(``Timing.recover_grace``: a task in transit is announced well within it) those
tasks are requeued on fresh workers.  They never reached a host (a worker announces a
host before touching it), so running them again is safe, and they show ``attempts`` 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from hostpool.pool.ledger import EntryState
from hostpool.pool.results import Call


class Troubled(Protocol):
    def troubled(self) -> str:
        """Why the pool may have lost its task queue ('' when nothing suggests it)."""


class Recovery:
    def __init__(self) -> None:
        self._since = 0.0

    def check(
        self,
        engine: Troubled | None,
        calls: Sequence[Call],
        now: float,
        restart: Callable[[], None],
    ) -> list[tuple[Call, int]]:
        """The (call, seq) pairs to send again, after ``restart`` retired the workers."""
        states = [c.ledger.entries[s].state for c in calls for s in c.in_flight]
        if (
            engine is None
            or EntryState.RUNNING in states
            or EntryState.DISPATCHED not in states
            or not engine.troubled()
        ):
            self._since = 0.0
            return []
        if not self._since:
            self._since = now
            return []
        if now - self._since < calls[0].ledger.timing.recover_grace:
            return []
        self._since = 0.0
        restart()
        again = []
        for call in calls:
            for seq in sorted(call.in_flight):
                if call.ledger.requeue(seq):
                    again.append((call, seq))
        return again
