"""Parent side: a Pool-shaped adapter over Ray actors (the actors are in ``ray_actors``).

The runner drives any pool through ``apply_async(func, args, kwds, callback,
error_callback)`` and ``close/join/terminate``.  This module gives Ray that shape so the
SAME initializer (``init_worker``), task function (``run_task``) and runner callbacks run
on a Ray cluster.  Only the ``ray_*`` modules import ray.

Why not ``ray.util.multiprocessing.Pool``: it hands tasks out round-robin, so one hung
host delays every task queued behind it on that actor.  Here one dispatcher thread keeps
a set of *idle* actors and submits a task only to an idle one (``ray.wait`` on the
outstanding refs tells it which became idle).  That same thread runs the callbacks, one
at a time, like ``multiprocessing.Pool``'s result handler, so callbacks must only enqueue.

A dead actor (worker SIGKILLed, node lost) surfaces as ``RayActorError`` on its task: the
task's ``error_callback`` gets a plain ``WorkerDied`` and a replacement actor starts.  An
actor that dies before its initializer finished never ran the task, so the task is
queued again; after ``INIT_FAILURE_LIMIT`` such deaths in a row the pool gives up and
fails what is left instead of respawning forever.

Clusters: every node needs hostpool installed (the same version) in the Python that
runs Ray workers; no ``runtime_env`` is shipped.  Each actor is one Ray worker process,
so ``forks`` actors cost ``forks`` processes spread over the cluster.  Actors ask for no
CPU (they wait on the network); ``--ray-resource seg_b=1`` makes each one ask for a
custom resource so the hosts of a network segment are reached from nodes inside it.  A
cluster using Ray's token auth needs ``RAY_AUTH_MODE=token`` (and its token) in the
environment of the hostpool process, as for any Ray driver.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorUnschedulableError, RayActorError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from hostpool.pool.processes import pid_alive
from hostpool.pool.ray_actors import Worker, signal_pid, summary

WAIT_SLICE = 0.05  # longest the dispatcher sleeps before looking at new work
INIT_FAILURE_LIMIT = 3  # consecutive actors dying before their initializer finished
TERMINATE_GRACE = 2.0  # SIGTERM'd busy actors get this long to kill their commands

_RUN, _CLOSE, _TERMINATE = "run", "close", "terminate"


class WorkerDied(RuntimeError):
    """Handed to a task's error_callback when its Ray actor died; parent side only."""


class RayAsyncResult:
    """The part of ``multiprocessing.pool.AsyncResult`` worth having."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._ok = False
        self._value: Any = None

    def _set(self, ok: bool, value: Any) -> None:
        self._ok, self._value = ok, value
        self._done.set()

    def ready(self) -> bool:
        return self._done.is_set()

    def successful(self) -> bool:
        if not self.ready():
            raise ValueError("result is not ready")
        return self._ok

    def wait(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def get(self, timeout: float | None = None) -> Any:
        if not self._done.wait(timeout):
            raise TimeoutError("result is not ready")
        if self._ok:
            return self._value
        raise self._value


@dataclass
class _Job:
    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwds: dict[str, Any]
    callback: Callable[[Any], None] | None
    error_callback: Callable[[BaseException], None] | None
    result: RayAsyncResult = field(default_factory=RayAsyncResult)


@dataclass(eq=False)
class _Actor:
    handle: Any
    probe: Any  # ref of the where() call queued right behind __init__
    pid: int = 0
    node_id: str = ""
    tasks_done: int = 0
    init_failed: bool = False


class RayPool:
    """``multiprocessing.Pool``'s interface over Ray actors, dispatching to idle ones only."""

    def __init__(
        self,
        processes: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        maxtasksperchild: int | None = None,
        *,
        resources: dict[str, float] | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self._processes = processes
        self._initializer = initializer
        self._initargs = initargs
        self._maxtasks = maxtasksperchild
        # num_cpus=0: SSH workers wait on the network, so CPU slots should not cap forks;
        # custom resources (network segment pinning) still decide placement.
        self._actor_cls = ray.remote(Worker).options(
            num_cpus=0, resources=dict(resources or {}), max_restarts=0, max_task_retries=0
        )
        self._cond = threading.Condition()
        self._pending: collections.deque[_Job] = collections.deque()  # guarded by _cond
        self._state = _RUN  # guarded by _cond
        # Below: touched by the dispatcher thread only (and by __init__ before it starts).
        self._actors: list[_Actor] = []
        self._free: collections.deque[_Actor] = collections.deque()
        self._busy: dict[Any, tuple[_Actor, _Job]] = {}
        self._probes: dict[Any, _Actor] = {}
        self._init_failures = 0
        self._broken = ""
        for _ in range(processes):
            self._free.append(self._spawn())
        self._thread = threading.Thread(
            target=self._loop, name="hostpool-ray-dispatcher", daemon=True
        )
        self._thread.start()

    # -- Pool interface ---------------------------------------------------------------------
    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwds: dict[str, Any] | None = None,
        callback: Callable[[Any], None] | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> RayAsyncResult:
        job = _Job(func, tuple(args), dict(kwds or {}), callback, error_callback)
        with self._cond:
            if self._state != _RUN:
                raise ValueError("Pool not running")
            self._pending.append(job)
            self._cond.notify()
        return job.result

    def close(self) -> None:
        """No new tasks; queued ones still run, then the actors exit."""
        with self._cond:
            if self._state == _RUN:
                self._state = _CLOSE
            self._cond.notify()

    def terminate(self) -> None:
        """Drop queued tasks, stop busy actors (their local commands too), kill the rest."""
        with self._cond:
            self._state = _TERMINATE
            self._cond.notify()
        if threading.current_thread() is not self._thread:  # a callback may call this
            self._thread.join()

    def join(self) -> None:
        with self._cond:
            if self._state == _RUN:
                raise ValueError("Pool is still running")
        self._thread.join()

    # -- dispatcher thread ------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._state == _TERMINATE:
                        return
                    if self._state == _CLOSE and not self._pending and not self._busy:
                        return
                    if self._broken and not self._actors:
                        doomed = list(self._pending)
                        self._pending.clear()
                    else:
                        doomed = []
                    pairs = []
                    while self._pending and self._free:
                        pairs.append((self._free.popleft(), self._pending.popleft()))
                    if not pairs and not doomed and not self._busy and not self._probes:
                        self._cond.wait(WAIT_SLICE)
                        continue
                for job in doomed:
                    self._finish(job, False, WorkerDied(self._broken))
                for actor, job in pairs:
                    ref = actor.handle.run.remote(job.func, job.args, job.kwds)
                    self._busy[ref] = (actor, job)
                self._reap()
        except BaseException as exc:  # e.g. the cluster went away
            # Nobody else would ever answer for these tasks: fail them, then stop.
            traceback.print_exc(file=sys.stderr)
            with self._cond:
                self._broken = f"ray dispatcher failed: {summary(exc)}"
                self._state = _TERMINATE
                orphans = [job for _, job in self._busy.values()] + list(self._pending)
                self._pending.clear()
            for job in orphans:
                self._finish(job, False, WorkerDied(self._broken))
        finally:
            self._teardown()

    def _reap(self) -> None:
        refs = [*self._probes, *self._busy]
        if not refs:
            return
        ready, _ = ray.wait(refs, num_returns=1, timeout=WAIT_SLICE)
        if not ready:
            return
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        # Probes first: a task's failure is judged by whether its actor ever started.
        for ref in sorted(ready, key=lambda r: r not in self._probes):
            if ref in self._probes:
                self._on_probe(self._probes.pop(ref), ref)
            elif ref in self._busy:
                actor, job = self._busy.pop(ref)
                self._on_done(actor, job, ref)

    def _on_probe(self, actor: _Actor, ref: Any) -> None:
        try:
            actor.pid, actor.node_id = ray.get(ref)
            self._init_failures = 0
        except (RayActorError, ActorUnschedulableError) as exc:
            actor.init_failed = True
            self._init_failures += 1
            if self._init_failures >= INIT_FAILURE_LIMIT:
                self._broken = f"cannot start a ray worker: {summary(exc)}"
            if actor in self._free:  # idle when it died: nothing to report, just replace it
                self._free.remove(actor)
                self._replace(actor)

    def _on_done(self, actor: _Actor, job: _Job, ref: Any) -> None:
        try:
            ok, value = ray.get(ref)
        except (RayActorError, ActorUnschedulableError) as exc:
            self._lost(actor, job, exc)
            return
        except RayError as exc:  # the task failed in Ray's machinery, not in func
            ok, value = False, RuntimeError(summary(exc))
        actor.tasks_done += 1
        self._finish(job, ok, value)
        if self._maxtasks is not None and actor.tasks_done >= self._maxtasks:
            self._replace(actor, graceful=True)  # idle now: it exits right away
        else:
            self._free.append(actor)

    def _lost(self, actor: _Actor, job: _Job, exc: BaseException) -> None:
        probe = actor.probe
        if probe in self._probes:  # its death not yet seen through the probe: look now
            ready, _ = ray.wait([probe], timeout=5.0)
            self._probes.pop(probe)
            if ready:
                self._on_probe(actor, probe)
        if actor.init_failed:
            with self._cond:  # it never ran: give the task to another worker
                self._pending.appendleft(job)
        else:
            where = f"pid {actor.pid}" if actor.pid else "starting"
            self._finish(job, False, WorkerDied(f"ray worker ({where}) died: {summary(exc)}"))
        self._replace(actor)

    def _replace(self, actor: _Actor, *, graceful: bool = False) -> None:
        """Retire ``actor``; start a successor while there is (or may be) work for it."""
        with contextlib.suppress(ValueError):
            self._actors.remove(actor)
        with contextlib.suppress(Exception):
            if graceful:
                actor.handle.__ray_terminate__.remote()
            else:
                ray.kill(actor.handle, no_restart=True)
        with self._cond:
            wanted = self._state == _RUN or bool(self._pending)
        if wanted and not self._broken:
            self._free.append(self._spawn())

    def _spawn(self) -> _Actor:
        handle: Any = self._actor_cls.remote(self._initializer, self._initargs)
        actor = _Actor(handle=handle, probe=handle.where.remote())
        self._probes[actor.probe] = actor
        self._actors.append(actor)
        return actor

    def _finish(self, job: _Job, ok: bool, value: Any) -> None:
        job.result._set(ok, value)
        handler = job.callback if ok else job.error_callback
        if handler is None:
            return
        try:
            handler(value)
        except Exception:  # like Pool's result thread surviving is what matters
            traceback.print_exc(file=sys.stderr)

    def _teardown(self) -> None:
        with self._cond:
            terminating = self._state == _TERMINATE
        if terminating:
            busy = [actor for actor, _ in self._busy.values()]
            _stop_busy(busy)
            for actor in self._actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor.handle, no_restart=True)
        else:
            for actor in self._actors:
                with contextlib.suppress(Exception):
                    actor.handle.__ray_terminate__.remote()
        self._actors.clear()
        self._free.clear()
        self._busy.clear()
        self._probes.clear()


def _stop_busy(actors: Iterable[_Actor]) -> None:
    """SIGTERM (+SIGCONT, for a stopped one) busy actors so init_worker's handler kills
    their local command groups; ``ray.kill`` alone would leave those running."""
    here = ray.get_runtime_context().get_node_id()
    local: list[int] = []
    remote = []
    signals = (int(signal.SIGTERM), int(signal.SIGCONT))
    for actor in actors:
        if not actor.pid:
            continue
        if actor.node_id == here:
            signal_pid(actor.pid, signals)
            local.append(actor.pid)
        else:
            strategy = NodeAffinitySchedulingStrategy(actor.node_id, soft=False)
            task = ray.remote(signal_pid).options(num_cpus=0, scheduling_strategy=strategy)
            remote.append(task.remote(actor.pid, signals))
    deadline = time.monotonic() + TERMINATE_GRACE
    if remote:
        with contextlib.suppress(Exception):
            ray.wait(remote, num_returns=len(remote), timeout=TERMINATE_GRACE)
    while local and time.monotonic() < deadline:
        local = [pid for pid in local if pid_alive(pid)]
        time.sleep(0.05)
