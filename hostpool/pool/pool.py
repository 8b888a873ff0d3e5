"""Parent side: the public Pool of SSH workers, in ``multiprocessing.Pool``'s vocabulary.

Shape: ``multiprocessing.Pool(processes, initializer=init_worker, initargs=(options,
events), maxtasksperchild, context=explicit start method)`` (a ``LanePool``: the same
Pool, whose worker processes may each drive ``per_worker`` hosts at once); each host goes
in with ``apply_async(run_task, callback=..., error_callback=...)`` (``dispatch``), and
the per-host ledger (``ledger``) decides every result.
"""

from __future__ import annotations

import contextlib
import enum
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar, cast

from hostpool import known_hosts, transfer
from hostpool.errors import PoolError, UsageError
from hostpool.models import Action, Copy, Exec, Fetch, SSHOptions, Status, Target
from hostpool.pool import processes
from hostpool.pool.dispatch import (
    Dispatcher,
    EventSource,
    LineHandler,
    Observers,
    PoolLike,
    ResultHandler,
)
from hostpool.pool.engines import Engine, EngineOptions, make_pool
from hostpool.pool.events import EventQueue
from hostpool.pool.lanes import LanePool
from hostpool.pool.ledger import Ledger, RunPolicy, Timing
from hostpool.report import Report
from hostpool.worker.entry import init_worker


class StartMethod(enum.StrEnum):
    FORKSERVER = "forkserver"
    SPAWN = "spawn"
    FORK = "fork"


# Modules the forkserver imports once, so each forked worker starts with paramiko loaded.
FORKSERVER_PRELOAD = ["hostpool.worker.task", "hostpool.worker.lanes"]

ActionLike = Action | str | Callable[[Target], Action | str]


def as_action(action: Action | str) -> Action:
    """A command string is an ``Exec``; a copy is hashed here, once, in the parent."""
    if isinstance(action, str):
        return Exec(action)
    if isinstance(action, Copy) and action.digest is None:
        return transfer.prepare(action)
    if isinstance(action, Fetch):
        return transfer.check_fetch(action)
    return action


class Pool:
    """A reusable pool of SSH workers; use as a context manager to keep connections warm.

    ``with Pool(options, forks=32) as pool: pool.map("uptime", targets)`` reuses each
    worker's connection across calls.  Leaving the block closes and joins the pool on
    success and terminates it on an exception (the stdlib ``with Pool()`` always
    terminates, which would cut off work still in flight).
    """

    def __init__(
        self,
        options: SSHOptions | None = None,
        *,
        forks: int = 32,
        per_worker: int = 1,
        maxtasksperchild: int | None = None,
        context: StartMethod = StartMethod.FORKSERVER,
        engine: Engine = Engine.LOCAL,
        engine_options: EngineOptions = EngineOptions(),
        timing: Timing = Timing(),
    ) -> None:
        if forks < 1:
            raise UsageError("forks must be at least 1")
        if per_worker < 1:
            raise UsageError("per-worker must be at least 1")
        if per_worker > 1 and engine is not Engine.LOCAL:
            raise UsageError("per-worker above 1 needs the local engine")
        if maxtasksperchild is not None and maxtasksperchild < 1:
            raise UsageError("max tasks per worker must be at least 1")
        self.options = options or SSHOptions()
        self.forks = forks
        self.per_worker = per_worker
        self.maxtasksperchild = maxtasksperchild
        self.context = _choice(StartMethod, context, "start method")
        self.engine = _choice(Engine, engine, "engine")
        self.engine_options = engine_options
        self.timing = timing
        self._pool: PoolLike | None = None
        self._events: EventSource | None = None
        self._wedged = False  # a worker holds a host past its deadline: join would hang
        self._suspects: set[int] = set()  # PIDs of workers the parent gave up on
        self._processes = 0
        self._lanes = 1

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Pool:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()

    def _ensure_pool(self, size_hint: int, streaming: bool) -> PoolLike:
        if streaming and not self.options.stream:
            if self._pool is not None:  # workers got their options at start: restart them
                self.close()
            self.options = replace(self.options, stream=True)
        if self._pool is not None:
            return self._pool
        # Spread over processes first: lanes only where hosts outnumber the processes.
        lanes = max(1, min(self.per_worker, -(-size_hint // self.forks)))
        count = max(1, min(self.forks, -(-size_hint // lanes)))
        self._processes, self._lanes = count, lanes
        if self.engine is not Engine.LOCAL:
            self._pool, self._events = make_pool(
                self.engine,
                processes=count,
                initializer=init_worker,
                options=self.options,
                maxtasksperchild=self.maxtasksperchild,
                engine_options=self.engine_options,
            )
            return self._pool
        ctx = multiprocessing.get_context(self.context.value)
        if self.context is StartMethod.FORKSERVER:
            ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        # SimpleQueue writes synchronously: a 'started' event must be in the pipe before
        # the task can kill its worker, or the parent never learns whom to watch.
        events = EventQueue(ctx=ctx)
        try:
            pool = LanePool(
                processes=count,
                initializer=init_worker,
                initargs=(self.options, events),
                maxtasksperchild=self.maxtasksperchild,
                context=ctx,
                per_worker=lanes,
            )
        except OSError as exc:
            raise PoolError(f"cannot start the worker pool: {exc}") from exc
        self._pool, self._events = cast(PoolLike, pool), events
        return self._pool

    def close(self) -> None:
        """Orderly shutdown: let workers finish, then reap them (terminate if one is wedged)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._wedged:
            self._terminate_bounded(pool)
        else:
            pool.close()
            pool.join()
        self._close_events()

    def terminate(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        self._terminate_bounded(pool)
        self._close_events()

    def join(self) -> None:
        """Workers are reaped by ``close``/``terminate`` already; kept for the vocabulary."""

    def _terminate_bounded(self, pool: PoolLike) -> None:
        suspects, self._suspects = self._suspects, set()
        processes.release(suspects)
        self._wedged = False

        def stop() -> None:
            pool.terminate()
            pool.join()

        if self.engine is not Engine.LOCAL:
            stop()
            return
        workers = cast(LanePool, pool)._pool  # type: ignore[attr-defined]
        processes.bounded_stop(stop, lambda: [p.pid for p in workers if p.pid])

    def _close_events(self) -> None:
        events, self._events = self._events, None
        close = getattr(events, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # a closing channel has nothing left to say
                close()

    # -- calls ----------------------------------------------------------------------------
    def map(
        self,
        action: ActionLike,
        targets: Sequence[Target],
        *,
        policy: RunPolicy = RunPolicy(),
        on_result: ResultHandler | None = None,
        on_line: LineHandler | None = None,
    ) -> Report:
        """Run ``action`` on every target; one result per target, in target order."""
        started = time.time()
        t0 = time.monotonic()
        label = _label(action)
        if not targets:
            return Report(results=(), command=label, duration=0.0, started_at=started)
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise UsageError("targets must have distinct names")
        resolve = _resolver(action)
        ledger = Ledger(
            targets,
            resolve,
            policy=policy,
            deadline=self._deadline(),
            timing=self.timing,
            watch_pids=self.engine is Engine.LOCAL,
        )
        interrupted = stopped_early = False
        try:
            pool = self._ensure_pool(len(targets), streaming=on_line is not None)
            dispatcher = Dispatcher(
                pool,
                self._events,
                ledger,
                window=2 * self._processes * self._lanes,
                observers=Observers(on_result, on_line),
            )
            stopped_early = dispatcher.drive()
            if stopped_early:
                self._after_settle(ledger)
                self.terminate()
                failures = sum(1 for e in ledger.entries.values() if e.result and not e.result.ok)
                ledger.fill(Status.INTERRUPTED, f"not run: stopped after {failures} failures")
        except KeyboardInterrupt:
            interrupted = True
            self._after_settle(ledger)
            self.terminate()
            ledger.fill(Status.INTERRUPTED, "interrupted before this host finished")
        except BaseException:
            self.terminate()
            raise
        self._after_settle(ledger)
        learnt = ledger.learnt()
        if learnt:
            known_hosts.learn(known_hosts.known_hosts_path(self.options.known_hosts), learnt)
        return Report(
            results=ledger.results(),
            command=label,
            duration=time.monotonic() - t0,
            started_at=started,
            interrupted=interrupted,
            stopped_early=stopped_early,
        )

    def run(self, targets: Sequence[Target], command: ActionLike) -> Report:
        """The earlier ``Runner.run(targets, command)`` argument order."""
        return self.map(command, targets)

    def _after_settle(self, ledger: Ledger) -> None:
        """Hosts the parent answered for leave their workers suspect: terminate, not join."""
        self._wedged = self._wedged or ledger.wedged
        self._suspects |= ledger.suspects
        ledger.suspects = set()

    def _deadline(self) -> float | None:
        """Parent-side bound on one host: every worker-side wait plus a grace period."""
        command = self.options.command_timeout
        if command is None:
            return None
        return self.options.connect_timeout * 4 + command + self.timing.deadline_grace


def _label(action: ActionLike) -> str:
    if isinstance(action, str):
        return action
    if callable(action):
        return getattr(action, "__name__", "per-host command")
    return action.label


def _resolver(action: ActionLike) -> Action | Callable[[Target], Action]:
    if callable(action):
        per_host = action
        return lambda target: as_action(per_host(target))
    return as_action(action)


Runner = Pool  # the earlier name
_E = TypeVar("_E", bound=enum.StrEnum)


def _choice(kind: type[_E], value: str, what: str) -> _E:
    """A StrEnum member from a member or its value; anything else is a usage error."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise UsageError(f"unknown {what} {value!r}; choose from {choices}") from None


def run(
    targets: Sequence[Target],
    command: ActionLike,
    *,
    forks: int = 32,
    options: SSHOptions | None = None,
    per_worker: int = 1,
    context: StartMethod = StartMethod.FORKSERVER,
    maxtasksperchild: int | None = None,
    engine: Engine = Engine.LOCAL,
    engine_options: EngineOptions = EngineOptions(),
    timing: Timing = Timing(),
    policy: RunPolicy = RunPolicy(),
) -> Report:
    """One-shot convenience: a Pool for a single call, closed afterwards."""
    with Pool(
        options,
        forks=forks,
        per_worker=per_worker,
        context=context,
        maxtasksperchild=maxtasksperchild,
        engine=engine,
        engine_options=engine_options,
        timing=timing,
    ) as pool:
        return pool.map(command, targets, policy=policy)
