"""Parent side: the public Pool of SSH workers, in ``multiprocessing.Pool``'s vocabulary.

``Pool(options, forks=64)`` starts at construction: ``processes`` worker processes
(default ``os.cpu_count()``, never more than ``forks``), each driving up to
ceil(forks / processes) hosts at once (lanes); ``forks`` is the number of hosts in
flight, as for every peer tool.  ``apply``/``apply_async``/``map``/``map_async``/
``imap``/``imap_unordered`` submit from any thread; ``close``/``join``/``terminate`` end
it.  Per-host outcomes are data: nothing per host is raised.
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from hostpool import known_hosts, transfer
from hostpool.errors import UsageError
from hostpool.models import (
    Action,
    Copy,
    Exec,
    Fetch,
    HostKey,
    HostResult,
    Script,
    SSHOptions,
    Stream,
    Target,
)
from hostpool.pool import workers
from hostpool.pool.callbacks import CallbackThread
from hostpool.pool.dispatch import Dispatcher
from hostpool.pool.engines import Engine, EngineOptions
from hostpool.pool.ledger import Ledger, RunPolicy, Timing
from hostpool.pool.results import AsyncResult, Call, MapResult, ordered, split_callbacks, unordered
from hostpool.report import Report

ActionLike = Action | str | Callable[[Target], Action | str]
WARM = 1 << 20  # kept connections per worker process of a warm pool: one per host
ResultHandler = Callable[[HostResult], None]
LineHandler = Callable[[str, Stream, bytes], None]
_E = TypeVar("_E", bound=enum.StrEnum)


class StartMethod(enum.StrEnum):
    FORKSERVER = "forkserver"
    SPAWN = "spawn"
    FORK = "fork"


class _State(enum.StrEnum):
    RUN = "run"
    CLOSE = "close"
    TERMINATE = "terminate"


def as_action(action: Action | str) -> Action:
    """A command string is an ``Exec``; a copy is hashed here, once, in the parent."""
    if isinstance(action, str):
        return Exec(action)
    if isinstance(action, Copy) and action.digest is None:
        return transfer.prepare(action)
    if isinstance(action, Fetch):
        return transfer.check_fetch(action)
    if isinstance(action, Script) and action.digest is None:
        prepared = transfer.prepare(Copy(action.src, "/"))  # readable, regular, absolute
        return replace(action, src=prepared.src, digest=prepared.digest)
    return action


class Pool:
    """A pool of SSH workers; a context manager that keeps connections warm across calls.

    Leaving the ``with`` block closes and joins the pool on success and terminates it on
    an exception (the stdlib ``with Pool()`` always terminates, which would cut off work
    still in flight).

    ``warm=True`` keeps a connection open for every host served (not 16 per process) and
    sends each host back to the process that holds its connection, so a second call on
    the same fleet opens none: what a long-lived pool (``hostpool.persist``) is made of.
    """

    def __init__(
        self,
        options: SSHOptions | None = None,
        *,
        forks: int = 32,
        processes: int | None = None,
        maxtasksperchild: int | None = None,
        context: StartMethod = StartMethod.FORKSERVER,
        engine: Engine = Engine.LOCAL,
        engine_options: EngineOptions = EngineOptions(),
        timing: Timing = Timing(),
        warm: bool = False,
    ) -> None:
        if forks < 1:
            raise UsageError("forks must be at least 1")
        if processes is not None and processes < 1:
            raise UsageError("processes must be at least 1")
        if maxtasksperchild is not None and maxtasksperchild < 1:
            raise UsageError("max tasks per worker must be at least 1")
        self.options = options or SSHOptions()
        self.warm = warm
        if warm:  # a connection kept for every host served, on the process that made it
            self.options = replace(
                self.options, reuse_connections=True, idle_connections=WARM, warm=True
            )
        self.context = _choice(StartMethod, context, "start method")
        self.engine = _choice(Engine, engine, "engine")
        self.shape = workers.Shape.of(forks, processes or os.cpu_count() or 1, self.engine)
        self.forks = forks
        self.maxtasksperchild = maxtasksperchild
        self.engine_options = engine_options
        self.timing = timing
        self._state = _State.RUN
        self._lock = threading.Lock()
        self._next_seq = 0
        self._callbacks = CallbackThread()
        try:
            self._dispatcher = Dispatcher(
                self._start_workers,
                window=2 * self.shape.in_flight,
                poll_interval=timing.poll_interval,
                callbacks=self._callbacks,
                learn=self._learn,
            )
        except BaseException:
            self._callbacks.stop()
            raise

    @property
    def processes(self) -> int:
        return self.shape.processes

    def _start_workers(self) -> workers.Workers:
        return workers.start(
            self.options,
            self.shape,
            maxtasksperchild=self.maxtasksperchild,
            context=self.context.value,
            engine=self.engine,
            engine_options=self.engine_options,
            affinity=self.warm and self.engine is Engine.LOCAL,
        )

    def _learn(self, keys: list[HostKey]) -> None:
        """accept-new: each key to its host's known_hosts file (the run's by default)."""
        default = known_hosts.known_hosts_path(self.options.known_hosts)
        by_file: dict[Path, list[HostKey]] = {}
        for key in keys:
            path = Path(key.file).expanduser() if key.file else default
            by_file.setdefault(path, []).append(key)
        for path, batch in by_file.items():
            known_hosts.learn(path, batch)

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Pool:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
            self.join()
        else:
            self.terminate()

    def close(self) -> None:
        """No new submissions; what was submitted still runs, then the workers exit."""
        with self._lock:
            if self._state is _State.RUN:
                self._state = _State.CLOSE
                self._dispatcher.stop(terminate=False)

    def terminate(self) -> None:
        """Stop now: running commands are killed with their workers, unfinished hosts are
        ``interrupted``, and every waiting call returns."""
        self._terminate("interrupted: the pool was terminated")

    def interrupt(self) -> None:
        """What Ctrl-C in a waiting caller does (then ``Interrupted`` is raised there)."""
        self._terminate("interrupted before this host finished")

    def _terminate(self, message: str) -> None:
        with self._lock:
            self._state = _State.TERMINATE
            self._dispatcher.stop(terminate=True, message=message)
        self._dispatcher.join()
        self._callbacks.stop()

    def worker_pids(self) -> list[int]:
        """The worker processes running now (local engine; empty for Ray)."""
        return self._dispatcher.worker_pids()

    def cancel(self, result: MapResult | AsyncResult, message: str = "") -> None:
        """End one submission now: its unfinished hosts become ``interrupted`` and their
        running commands are stopped on the hosts; the workers, their kept connections
        and every other submission go on (with ``--engine ray`` commands run to their
        end).  ``get()`` then raises ``Interrupted`` with the report."""
        self._dispatcher.cancel(result.call, message or "interrupted: the caller cancelled")

    def join(self) -> None:
        """Wait for the workers to exit; after ``close`` or ``terminate``, as in the stdlib."""
        if self._state is _State.RUN:
            raise ValueError("Pool is still running")
        self._dispatcher.join()
        self._callbacks.stop()

    # -- submissions ----------------------------------------------------------------------
    def _submit(
        self,
        action: ActionLike,
        targets: Sequence[Target],
        policy: RunPolicy,
        *,
        on_result: ResultHandler | None = None,
        on_line: LineHandler | None = None,
        on_done: Callable[[Report], None] | None = None,
    ) -> Call:
        if self._callbacks.current:
            raise RuntimeError("a pool callback cannot wait for results of the same pool")
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise UsageError("targets must have distinct names")
        resolve = _resolver(action)  # per-host commands are resolved here, in the caller
        with self._lock:
            if self._state is not _State.RUN:
                raise ValueError("Pool not running")
            first, self._next_seq = self._next_seq, self._next_seq + len(targets)
            ledger = Ledger(
                targets,
                resolve,
                first_seq=first,
                policy=policy,
                options=self.options,
                timing=self.timing,
                watch_pids=self.engine is Engine.LOCAL,
                stream=on_line is not None,
            )
            call = Call(
                ledger, label_of(action), on_result=on_result, on_line=on_line, on_done=on_done
            )
            if targets:
                self._dispatcher.submit(call)
        if not targets:
            call.complete(call.build_report())
        return call

    def apply(self, target: Target, action: ActionLike) -> HostResult:
        """Run ``action`` on one host and wait: its HostResult, whatever the status."""
        return self.apply_async(target, action).get()

    def apply_async(
        self,
        target: Target,
        action: ActionLike,
        callback: ResultHandler | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> AsyncResult:
        """``callback`` gets an ok result; a failed one goes to ``error_callback`` as
        ``HostFailed`` (or to ``callback`` when there is no ``error_callback``)."""
        route = split_callbacks(callback, error_callback)
        return AsyncResult(self, self._submit(action, [target], RunPolicy(), on_result=route))

    def map(
        self,
        action: ActionLike,
        targets: Sequence[Target],
        *,
        policy: RunPolicy = RunPolicy(),
        on_result: ResultHandler | None = None,
        on_line: LineHandler | None = None,
    ) -> Report:
        """Run ``action`` on every target and wait; the Report is in target order."""
        return self.map_async(
            action, targets, policy=policy, on_result=on_result, on_line=on_line
        ).get()

    def map_async(
        self,
        action: ActionLike,
        targets: Sequence[Target],
        *,
        policy: RunPolicy = RunPolicy(),
        callback: Callable[[Report], None] | None = None,
        on_result: ResultHandler | None = None,
        on_line: LineHandler | None = None,
    ) -> MapResult:
        call = self._submit(
            action, targets, policy, on_result=on_result, on_line=on_line, on_done=callback
        )
        return MapResult(self, call)

    def imap(self, action: ActionLike, targets: Sequence[Target]) -> Iterator[HostResult]:
        """Each host's result in target order, as soon as it and those before it are in."""
        return ordered(self, self._submit(action, targets, RunPolicy()))

    def imap_unordered(self, action: ActionLike, targets: Sequence[Target]) -> Iterator[HostResult]:
        """Each host's result as soon as it finishes."""
        return unordered(self, self._submit(action, targets, RunPolicy()))

    def run(self, targets: Sequence[Target], command: ActionLike) -> Report:
        """The earlier ``Runner.run(targets, command)`` argument order."""
        return self.map(command, targets)


def label_of(action: ActionLike) -> str:
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


def _choice(kind: type[_E], value: str, what: str) -> _E:
    """A StrEnum member from a member or its value; anything else is a usage error."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise UsageError(f"unknown {what} {value!r}; choose from {choices}") from None


Runner = Pool  # the earlier name


def run(
    targets: Sequence[Target],
    command: ActionLike,
    *,
    forks: int = 32,
    processes: int | None = None,
    options: SSHOptions | None = None,
    context: StartMethod = StartMethod.FORKSERVER,
    maxtasksperchild: int | None = None,
    engine: Engine = Engine.LOCAL,
    engine_options: EngineOptions = EngineOptions(),
    timing: Timing = Timing(),
    policy: RunPolicy = RunPolicy(),
) -> Report:
    """One-shot: a Pool sized for these targets (never more hosts in flight than there
    are hosts) for one call, closed afterwards."""
    with Pool(
        options,
        forks=max(1, min(forks, len(targets))),
        processes=processes,
        context=context,
        maxtasksperchild=maxtasksperchild,
        engine=engine,
        engine_options=engine_options,
        timing=timing,
    ) as pool:
        return pool.map(command, targets, policy=policy)
