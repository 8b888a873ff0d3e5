"""Parent side: owns the process pool, the per-host ledger and the deadlines.

Shape: ``multiprocessing.Pool(processes=forks, initializer=init_worker, initargs=(options,
events), maxtasksperchild=..., context=explicit start method)`` (a ``LanePool``: the same
Pool, whose workers may each run ``per_worker`` hosts at once); each host goes in with
``apply_async(run_task, callback=..., error_callback=...)``.  Callbacks run on the pool's
result thread, so they only enqueue: a callback that raised would kill that thread and
every later result would be lost.

The pool alone cannot promise that every host gets a result: a SIGKILLed worker leaves
its AsyncResult pending forever and a wedged one never answers.  So the parent keeps a
ledger (one entry per host), learns which worker runs which host from a ``start`` event,
watches those PIDs and its own deadlines, and fills in what the pool never will.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.pool
import os
import queue
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hostpool import hostkeys
from hostpool.errors import RunnerError, UsageError
from hostpool.eventq import EventQueue
from hostpool.lanes import LanePool
from hostpool.models import HostResult, SSHOptions, Status, Target, Task
from hostpool.pids import pid_alive
from hostpool.pooltask import init_worker, run_task
from hostpool.report import Report

START_METHODS = ("forkserver", "spawn", "fork")
DEFAULT_START_METHOD = "forkserver"
# Modules the forkserver imports once, so each forked worker starts with paramiko loaded.
FORKSERVER_PRELOAD = ["hostpool.worker", "hostpool.localexec", "hostpool.lanes"]


POLL_INTERVAL = 0.25
LOST_WORKER_GRACE = 2.0  # a dead worker's last result may still be in flight
ORPHAN_GRACE = 30.0  # all workers idle yet tasks unclaimed: the pool lost them
TERMINATE_GRACE = 10.0  # then workers still standing after terminate() are SIGKILLed
RETRYABLE = (Status.UNREACHABLE, Status.TIMEOUT)

LineHandler = Callable[[str, int, bytes], None]
ResultHandler = Callable[[HostResult], None]


class PoolLike(Protocol):
    """What the runner needs from a pool; multiprocessing.Pool and the Ray adapter fit."""

    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...] = ...,
        kwds: dict[str, Any] = ...,
        callback: Callable[[Any], None] | None = ...,
        error_callback: Callable[[BaseException], None] | None = ...,
    ) -> Any: ...

    def close(self) -> None: ...
    def terminate(self) -> None: ...
    def join(self) -> None: ...


@dataclass
class _Entry:
    """Ledger line for one host: where it is and what the parent knows about it."""

    seq: int
    target: Target
    attempt: int = 1
    state: str = "queued"  # queued -> dispatched -> running -> done
    pid: int = 0
    started_at: float = 0.0
    not_before: float = 0.0
    pid_gone_at: float = 0.0
    result: HostResult | None = None


class Runner:
    """A reusable pool of SSH workers; use as a context manager to keep connections warm.

    ``with Runner(options, forks=32) as r: r.run(targets, "uptime"); r.run(targets, "df")``
    reuses each worker's connection slot across runs.  Leaving the block closes and joins
    the pool on success and terminates it on an exception (the stdlib ``with Pool()``
    always terminates, which would cut off work still in flight).
    """

    def __init__(
        self,
        options: SSHOptions | None = None,
        *,
        forks: int = 32,
        per_worker: int = 1,
        start_method: str | None = None,
        max_tasks_per_child: int | None = None,
        engine: str = "local",
        engine_options: dict[str, Any] | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        max_fail: int | None = None,
        on_result: ResultHandler | None = None,
        on_line: LineHandler | None = None,
        deadline_grace: float = 10.0,
    ) -> None:
        if forks < 1:
            raise UsageError("forks must be at least 1")
        if per_worker < 1:
            raise UsageError("per-worker must be at least 1")
        if per_worker > 1 and engine != "local":
            raise UsageError("per-worker above 1 needs the local engine")
        if max_tasks_per_child is not None and max_tasks_per_child < 1:
            raise UsageError("max tasks per worker must be at least 1")
        method = start_method or DEFAULT_START_METHOD
        if method not in START_METHODS:
            raise UsageError(f"start method must be one of {', '.join(START_METHODS)}")
        if retries < 0:
            raise UsageError("retries cannot be negative")
        if max_fail is not None and max_fail < 1:
            raise UsageError("max-fail must be at least 1")
        self.options = options or SSHOptions()
        if on_line is not None and not self.options.stream:
            self.options = replace(self.options, stream=True)
        self.forks = forks
        self.per_worker = per_worker
        self.start_method = method
        self.max_tasks_per_child = max_tasks_per_child
        self.engine = engine
        self.engine_options = engine_options or {}
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_fail = max_fail
        self.on_result = on_result
        self.on_line = on_line
        self.deadline_grace = deadline_grace
        self._pool: PoolLike | None = None
        self._events: Any = None
        self._inbox: queue.SimpleQueue[tuple[str, tuple[int, int], Any]] = queue.SimpleQueue()
        self._wedged = False  # a worker holds a host past its deadline: join would hang
        self._suspects: set[int] = set()  # PIDs of workers the parent gave up on
        self._processes = 0
        self._lanes = 1
        self._stopped_early = False  # the last run hit max_fail
        self._idle_since = 0.0  # when every in-flight task became unclaimed (orphan check)

    # -- pool lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Runner:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()

    def _ensure_pool(self, size_hint: int) -> PoolLike:
        if self._pool is not None:
            return self._pool
        # Spread over processes first: lanes only where hosts outnumber the processes.
        lanes = max(1, min(self.per_worker, -(-size_hint // self.forks)))
        processes = max(1, min(self.forks, -(-size_hint // lanes)))
        self._processes = processes
        self._lanes = lanes
        if self.engine == "local":
            ctx = multiprocessing.get_context(self.start_method)
            if self.start_method == "forkserver":
                ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
            # SimpleQueue writes synchronously: a 'start' event must be in the pipe before
            # the task can kill its worker, or the parent never learns whom to watch.
            self._events = EventQueue(ctx=ctx)
            try:
                self._pool = LanePool(
                    processes=processes,
                    initializer=init_worker,
                    initargs=(self.options, self._events),
                    maxtasksperchild=self.max_tasks_per_child,
                    context=ctx,
                    per_worker=lanes,
                )
            except OSError as exc:
                raise RunnerError(f"cannot start the worker pool: {exc}") from exc
        else:
            from hostpool import engines

            self._pool, self._events = engines.make_pool(
                self.engine,
                processes=processes,
                initializer=init_worker,
                options=self.options,
                maxtasksperchild=self.max_tasks_per_child,
                engine_options=self.engine_options,
            )
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

    def _terminate_bounded(self, pool: PoolLike) -> None:
        """Pool.terminate() joins every worker without a timeout; a worker that does not
        take its SIGTERM (seen once with a replacement worker started during shutdown)
        would hang the parent, so after a grace period the survivors get SIGKILL."""
        self._release_suspects()
        done = threading.Event()

        def stop() -> None:
            pool.terminate()
            pool.join()
            done.set()

        threading.Thread(target=stop, name="hostpool-terminate", daemon=True).start()
        if done.wait(TERMINATE_GRACE) or self.engine != "local":
            return
        for proc in list(getattr(pool, "_pool", ())):
            pid = getattr(proc, "pid", None)
            if pid and pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        done.wait(TERMINATE_GRACE)

    def _release_suspects(self) -> None:
        """Make given-up workers take SIGTERM even if stopped (a stopped process would
        otherwise hold Pool.terminate's join forever), then SIGKILL what still stands."""
        suspects, self._suspects = self._suspects, set()
        for pid in suspects:
            for sig in (signal.SIGTERM, signal.SIGCONT):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
        deadline = time.monotonic() + 2.0
        while suspects and time.monotonic() < deadline:
            suspects = {pid for pid in suspects if pid_alive(pid)}
            time.sleep(0.05)
        for pid in suspects:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def _close_events(self) -> None:
        events, self._events = self._events, None
        if events is not None and hasattr(events, "close"):
            with contextlib.suppress(Exception):
                events.close()

    # -- one run --------------------------------------------------------------------------
    def run(
        self,
        targets: Sequence[Target],
        command: str,
        *,
        kind: str = "exec",
        args: tuple[str, ...] = (),
    ) -> Report:
        """Run ``command`` on every target; returns one result per target, in target order."""
        started = time.time()
        t0 = time.monotonic()
        if not targets:
            return Report(results=(), command=command, duration=0.0, started_at=started)
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise UsageError("targets must have distinct names")
        ledger = {i: _Entry(seq=i, target=t) for i, t in enumerate(targets)}
        tasks = {
            i: Task(target=e.target, command=command, seq=i, kind=kind, args=args)
            for i, e in ledger.items()
        }
        interrupted = False
        try:
            pool = self._ensure_pool(len(targets))
            self._drive(pool, ledger, tasks)
        except KeyboardInterrupt:
            interrupted = True
            self.terminate()
            self._fill(ledger, Status.INTERRUPTED, "interrupted before this host finished")
        except BaseException:
            self.terminate()
            raise
        learnt = [
            e.result.new_host_key for e in ledger.values() if e.result and e.result.new_host_key
        ]
        if learnt:
            hostkeys.learn(hostkeys.known_hosts_path(self.options.known_hosts), learnt)
        results = tuple(e.result for e in ledger.values() if e.result is not None)
        assert len(results) == len(targets), "ledger lost a host"
        return Report(
            results=results,
            command=command,
            duration=time.monotonic() - t0,
            started_at=started,
            interrupted=interrupted,
            stopped_early=self._stopped_early,
        )

    def _drive(self, pool: PoolLike, ledger: dict[int, _Entry], tasks: dict[int, Task]) -> None:
        """The parent's event loop: dispatch within a window, collect, police deadlines."""
        self._stopped_early = False
        window = max(1, self._processes * self._lanes) * 2
        failures = 0
        waiting = list(ledger)  # seqs not yet dispatched, in dispatch order
        in_flight: set[int] = set()
        last_check = time.monotonic()
        while waiting or in_flight:
            now = time.monotonic()
            while waiting and len(in_flight) < window and ledger[waiting[0]].not_before <= now:
                entry = ledger[waiting.pop(0)]
                self._dispatch(pool, entry, tasks[entry.seq])
                in_flight.add(entry.seq)
            finished = self._collect(ledger)
            self._drain_events(ledger)
            if time.monotonic() - last_check >= POLL_INTERVAL:
                last_check = time.monotonic()
                alive: dict[int, bool] = {}  # lanes share a PID: look each up once a pass
                finished += [seq for seq in in_flight if self._police(ledger[seq], alive)]
                finished += self._orphans(ledger, in_flight)
            for seq in finished:
                if seq not in in_flight:
                    continue
                in_flight.discard(seq)
                entry = ledger[seq]
                if self._should_retry(entry):
                    self._requeue(entry, tasks)
                    waiting.append(seq)
                    waiting.sort(key=lambda s: ledger[s].not_before)
                    continue
                assert entry.result is not None
                if entry.result.status is not Status.OK:
                    failures += 1
                if self.on_result is not None:
                    self.on_result(entry.result)
            if self.max_fail is not None and failures >= self.max_fail and (waiting or in_flight):
                self._stopped_early = True
                self.terminate()
                self._fill(
                    ledger, Status.INTERRUPTED, f"not run: stopped after {failures} failures"
                )
                return

    def _collect(self, ledger: dict[int, _Entry]) -> list[int]:
        """Wait briefly for callbacks' messages; returns the seqs that got their answer."""
        finished: list[int] = []
        timeout: float | None = POLL_INTERVAL
        while True:
            try:
                if timeout is None:
                    kind, key, payload = self._inbox.get_nowait()
                else:
                    kind, key, payload = self._inbox.get(timeout=timeout)
            except queue.Empty:
                return finished
            timeout = None
            seq = self._handle(ledger, kind, key, payload)
            if seq is not None:
                finished.append(seq)

    def _dispatch(self, pool: PoolLike, entry: _Entry, task: Task) -> None:
        inbox = self._inbox
        key = (entry.seq, entry.attempt)
        entry.state = "dispatched"

        def on_done(result: HostResult) -> None:
            inbox.put(("result", key, result))

        def on_error(exc: BaseException) -> None:
            inbox.put(("error", key, f"{type(exc).__name__}: {exc}"))

        pool.apply_async(run_task, (task,), callback=on_done, error_callback=on_error)

    def _handle(
        self, ledger: dict[int, _Entry], kind: str, key: tuple[int, int], payload: Any
    ) -> int | None:
        seq, attempt = key
        entry = ledger.get(seq)
        if entry is None or entry.state == "done" or entry.attempt != attempt:
            return None  # late answer for a host the parent already settled
        if kind == "result":
            result = payload
        else:
            result = HostResult(
                host=entry.target.name,
                status=Status.ERROR,
                error=f"worker failed: {payload}",
                address=entry.target.address,
                attempts=entry.attempt,
            )
        entry.result = result
        entry.state = "done"
        return seq

    def _drain_events(self, ledger: dict[int, _Entry]) -> None:
        """Worker -> parent events: which PID runs which host, and live output lines."""
        events = self._events
        if events is None:
            return
        for _ in range(10000):
            try:
                if events.empty():
                    return
                event = events.get()
            except (OSError, EOFError, ValueError):
                return
            kind = event[0]
            if kind == "start":
                _, seq, attempt, pid = event
                entry = ledger.get(seq)
                if entry is not None and entry.state == "dispatched" and entry.attempt == attempt:
                    entry.state = "running"
                    entry.pid = pid
                    entry.started_at = time.monotonic()
            elif kind == "lines" and self.on_line is not None:
                _, _seq, host, stream, lines = event
                for line in lines:
                    self.on_line(host, stream, line)

    def _deadline(self) -> float | None:
        """Parent-side bound on one host: every worker-side wait plus a grace period."""
        if self.options.command_timeout is None:
            return None
        return self.options.connect_timeout * 4 + self.options.command_timeout + self.deadline_grace

    def _police(self, entry: _Entry, alive: dict[int, bool]) -> bool:
        """Settle a host the pool will never answer for; True when it did."""
        if entry.state != "running":
            return False
        now = time.monotonic()
        limit = self._deadline()
        if limit is not None and now - entry.started_at > limit:
            self._settle(
                entry, Status.TIMEOUT, f"no answer from worker {entry.pid} within {limit:g}s"
            )
            return True
        if entry.pid and self.engine == "local" and not self._alive(entry.pid, alive):
            if not entry.pid_gone_at:
                entry.pid_gone_at = now
            elif now - entry.pid_gone_at > LOST_WORKER_GRACE:
                self._settle(
                    entry, Status.ERROR, f"worker process {entry.pid} died while running this host"
                )
                return True
        return False

    @staticmethod
    def _alive(pid: int, seen: dict[int, bool]) -> bool:
        if pid not in seen:
            seen[pid] = pid_alive(pid)
        return seen[pid]

    def _orphans(self, ledger: dict[int, _Entry], in_flight: set[int]) -> list[int]:
        """Hosts handed to the pool that no worker ever picked up while every worker sat idle.

        That only happens when a worker died between taking a task and announcing it; the
        pool will never run or answer for such a task.
        """
        states = {ledger[s].state for s in in_flight}
        if self.engine != "local" or "running" in states or "dispatched" not in states:
            self._idle_since = 0.0
            return []
        now = time.monotonic()
        if not self._idle_since:
            self._idle_since = now
            return []
        if now - self._idle_since < ORPHAN_GRACE:
            return []
        self._idle_since = 0.0
        lost = [s for s in in_flight if ledger[s].state == "dispatched"]
        for seq in lost:
            self._settle(ledger[seq], Status.ERROR, "task lost: its worker died before starting it")
        return lost

    def _settle(self, entry: _Entry, status: Status, message: str) -> None:
        """Answer for the pool: its AsyncResult stays pending, so close() must terminate."""
        self._wedged = True
        if entry.pid and self.engine == "local":  # other engines' PIDs may be on other hosts
            self._suspects.add(entry.pid)
        entry.state = "done"
        entry.result = HostResult(
            host=entry.target.name,
            status=status,
            error=message,
            address=entry.target.address,
            attempts=entry.attempt,
            duration=time.monotonic() - entry.started_at if entry.started_at else 0.0,
            worker_pid=entry.pid,
        )

    def _fill(self, ledger: dict[int, _Entry], status: Status, message: str) -> None:
        for entry in ledger.values():
            if entry.state != "done":
                self._settle(entry, status, message)

    def _should_retry(self, entry: _Entry) -> bool:
        result = entry.result
        return (
            result is not None
            and entry.attempt <= self.retries
            and result.status in RETRYABLE
            and not result.started
        )

    def _requeue(self, entry: _Entry, tasks: dict[int, Task]) -> None:
        """Back off with jitter so a flapping network is not hammered in lockstep."""
        delay = self.retry_delay * (2 ** (entry.attempt - 1))
        entry.not_before = time.monotonic() + delay * random.uniform(0.5, 1.5)
        entry.attempt += 1
        entry.state = "queued"
        entry.result = None
        entry.pid = 0
        entry.pid_gone_at = 0.0
        tasks[entry.seq] = replace(tasks[entry.seq], attempt=entry.attempt)


def run(
    targets: Sequence[Target],
    command: str,
    *,
    forks: int = 32,
    options: SSHOptions | None = None,
    **runner_kwargs: Any,
) -> Report:
    """One-shot convenience: a Runner for a single command, closed afterwards."""
    with Runner(options, forks=forks, **runner_kwargs) as runner:
        return runner.run(targets, command)
