"""Parent side: a warm pool's routing, each host to the worker process that holds its connection.

A kept SSH connection lives in one process (its crypto state cannot move), and the
stdlib pool hands a task to whichever worker reads the shared queue first: with two
processes half the hosts of a second run would connect afresh.  So a warm pool is
several one-process ``LanePool``s, still ``Pool(processes=1, initializer, initargs,
maxtasksperchild, context)`` each with ``apply_async`` per host, and a host goes to the
one it went to before; a new host goes to the one with the fewest hosts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from hostpool.models import Completion, Task
from hostpool.pool.lanes import LanePool
from hostpool.pool.seams import AsyncResultLike


class AffinityPool:
    """``PoolLike`` over one-process pools, with the stdlib pool's ``_pool`` list."""

    def __init__(self, shards: Sequence[LanePool]) -> None:
        self.shards = list(shards)
        self._home: dict[object, int] = {}
        self._homed = [0] * len(self.shards)
        self._lock = threading.Lock()

    @property
    def _pool(self) -> list[Any]:  # the worker processes, for Workers.troubled
        return [proc for shard in self.shards for proc in shard._pool]  # type: ignore[attr-defined]

    def home(self, task: Task) -> int:
        key = task.target.connection_key
        with self._lock:
            index = self._home.get(key)
            if index is None:
                index = min(range(len(self.shards)), key=self._homed.__getitem__)
                self._home[key] = index
                self._homed[index] += 1
        return index

    def apply_async(
        self,
        func: Callable[[Task], Completion],
        args: tuple[Task],
        *,
        callback: Callable[[Completion], None],
        error_callback: Callable[[BaseException], None],
    ) -> AsyncResultLike:
        shard = self.shards[self.home(args[0])]
        return shard.apply_async(func, args, callback=callback, error_callback=error_callback)

    def close(self) -> None:
        for shard in self.shards:
            shard.close()

    def terminate(self) -> None:
        for shard in self.shards:
            shard.terminate()

    def join(self) -> None:
        for shard in self.shards:
            shard.join()
