"""Parent side: starting and stopping the worker processes one Pool drives.

The shape is the stdlib's: ``LanePool(processes, initializer=init_worker,
initargs=(options, events), maxtasksperchild, context)``, whose processes each drive
``lanes`` hosts at once; Ray actors stand in for processes with ``--engine ray``.
Stopping is always bounded (``processes``): a wedged or stopped worker never hangs close.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from hostpool.cancels import CancelBoard
from hostpool.errors import PoolError
from hostpool.models import SSHOptions
from hostpool.pool import processes
from hostpool.pool.affinity import AffinityPool
from hostpool.pool.engines import Engine, EngineOptions, make_pool
from hostpool.pool.events import EventQueue
from hostpool.pool.lanes import LanePool
from hostpool.pool.seams import EventSource, PoolLike
from hostpool.pool.spawning import FORKSERVER_PRELOAD
from hostpool.worker.entry import init_worker


@dataclass(frozen=True, slots=True)
class Shape:
    """How the hosts in flight are spread: ``processes`` x ``lanes`` >= forks."""

    processes: int
    lanes: int

    @classmethod
    def of(cls, forks: int, processes: int, engine: Engine) -> Shape:
        if engine is not Engine.LOCAL:  # an actor is one worker, one host at a time
            return cls(forks, 1)
        count = max(1, min(processes, forks))
        return cls(count, -(-forks // count))

    @property
    def in_flight(self) -> int:
        return self.processes * self.lanes


@dataclass
class Workers:
    pool: PoolLike
    events: EventSource | None
    local: bool
    cancels: CancelBoard | None = None
    _seen: dict[int, Any] = field(default_factory=dict)
    _trouble: str = ""

    def cancel(self, lo: int, hi: int) -> None:
        if self.cancels is not None:
            self.cancels.add(lo, hi)

    def _standing(self) -> list[Any]:
        """The pool's worker processes now (the pool replaces dead ones): local only."""
        if not self.local:
            return []
        return list(cast(LanePool, self.pool)._pool)  # type: ignore[attr-defined]

    def pids(self) -> list[int]:
        return [proc.pid for proc in self._standing() if proc.pid]

    def troubled(self) -> str:
        """A worker died abnormally (the pool's handler thread removes and replaces it
        within 0.1 s, so every process seen is remembered) or is stopped (SIGSTOP)."""
        if not self.local or self._trouble:
            return self._trouble
        for proc in self._standing():
            if proc.pid:
                self._seen[proc.pid] = proc
        for pid, proc in list(self._seen.items()):
            code = proc.exitcode
            if code is None and processes.stopped(pid):
                return f"worker {pid} is stopped"
            if code not in (None, 0):
                self._trouble = f"worker {pid} died (exit status {code})"
            if code is not None:
                del self._seen[pid]
        return self._trouble

    def close(self, wedged: bool, suspects: set[int]) -> None:
        """Let workers finish, then reap them (terminate if one is wedged)."""
        if wedged or suspects:
            self.terminate(suspects)
            return
        self.pool.close()
        self.pool.join()
        self._close_events()

    def terminate(self, suspects: set[int]) -> None:
        processes.release(suspects)

        def stop() -> None:
            self.pool.terminate()
            self.pool.join()

        if self.local:
            processes.bounded_stop(stop, self.pids)
        else:
            stop()
        self._close_events()

    def _close_events(self) -> None:
        close = getattr(self.events, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # a closing channel has nothing left to say
                close()


def start(
    options: SSHOptions,
    shape: Shape,
    *,
    maxtasksperchild: int | None,
    context: str,
    engine: Engine,
    engine_options: EngineOptions,
    affinity: bool = False,
) -> Workers:
    """``affinity``: a warm pool, each host always on the same process (``affinity``)."""
    if engine is not Engine.LOCAL:
        pool, events = make_pool(
            engine,
            processes=shape.processes,
            initializer=init_worker,
            options=options,
            maxtasksperchild=maxtasksperchild,
            engine_options=engine_options,
        )
        return Workers(pool, events, local=False)
    ctx = multiprocessing.get_context(context)
    if context == "forkserver":
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
    # SimpleQueue writes synchronously: a 'started' event must be in the pipe before the
    # task can kill its worker, or the parent never learns whom to watch.
    events = EventQueue(ctx=ctx)
    cancels = CancelBoard()
    pools: list[LanePool] = []
    with _ctrl_c_after_start() as interrupted:
        try:
            for processes_each in [1] * shape.processes if affinity else [shape.processes]:
                pools.append(
                    LanePool(
                        processes=processes_each,
                        initializer=init_worker,
                        initargs=(options, events, os.getpid(), cancels),
                        maxtasksperchild=maxtasksperchild,
                        context=ctx,
                        per_worker=shape.lanes,
                    )
                )
        except OSError as exc:
            _stop(pools)
            raise PoolError(f"cannot start the worker pool: {exc}") from exc
    if interrupted:
        _stop(pools)
        interrupted.replay()
    pool = AffinityPool(pools) if affinity else pools[0]
    return Workers(cast(PoolLike, pool), events, local=True, cancels=cancels)


def _stop(pools: list[LanePool]) -> None:
    for pool in pools:
        pool.terminate()
        pool.join()


class _Deferred:
    """A Ctrl-C that came while workers were being started, to deliver afterwards."""

    def __init__(self) -> None:
        self.previous: object = None
        self.came = False

    def __bool__(self) -> bool:
        return self.came

    def replay(self) -> None:
        handler = self.previous
        if callable(handler):
            handler(signal.SIGINT, None)
        elif handler is not signal.SIG_IGN:
            raise KeyboardInterrupt


@contextlib.contextmanager
def _ctrl_c_after_start() -> Iterator[_Deferred]:
    """Ctrl-C mid start-up left workers half-born: the parent exited and a worker still
    unpickling its start-up data printed a traceback (its semaphore already gone).  The
    interrupt now waits until the pool exists, which is then terminated and joined."""
    deferred = _Deferred()
    if threading.current_thread() is not threading.main_thread():
        yield deferred
        return

    def note(signum: int, frame: object) -> None:
        deferred.came = True

    deferred.previous = signal.signal(signal.SIGINT, note)
    try:
        yield deferred
    finally:
        signal.signal(signal.SIGINT, deferred.previous)
