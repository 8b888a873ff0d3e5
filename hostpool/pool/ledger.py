"""Parent side: the per-host ledger, the only source of a run's results.

The pool alone cannot promise that every host gets a result: a SIGKILLed worker leaves
its AsyncResult pending forever and a wedged one never answers.  So the parent keeps one
entry per host, learns which worker runs it from a ``Started`` event, watches that PID
and its own deadline, and fills in what the pool never will.  Pure bookkeeping: no
processes, no threads, a clock passed in, so the unit tier drives it with a fake pool.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hostpool.models import (
    Action,
    Completion,
    Exec,
    HostKey,
    HostResult,
    Script,
    SSHOptions,
    Started,
    Status,
    Target,
    Task,
)
from hostpool.pool.processes import stopped, working

RETRYABLE = (Status.UNREACHABLE, Status.TIMEOUT)


class EntryState(enum.StrEnum):
    QUEUED = "queued"
    DISPATCHED = "dispatched"  # handed to the pool, no worker has announced it yet
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Timing:
    poll_interval: float = 0.25  # how often deadlines and PIDs are checked
    lost_worker_grace: float = 2.0  # a dead worker's last result may still be in flight
    orphan_grace: float = 30.0  # every worker idle yet tasks unclaimed: the pool lost them
    recover_grace: float = 1.0  # the same after a worker died or stopped: fresh workers
    deadline_grace: float = 10.0  # past every worker-side bound, before the parent gives up


@dataclass(frozen=True, slots=True)
class RunPolicy:
    """How one call treats failures: retries of unstarted connects, and a stop threshold."""

    retries: int = 0
    retry_delay: float = 1.0
    max_fail: int | None = None
    run_timeout: float | None = None  # the whole call; hosts still out then: timeout


@dataclass
class Entry:
    """Ledger line for one host: where it is and what the parent knows about it."""

    task: Task
    deadline: float | None = None  # the parent's own bound, from start to answer
    state: EntryState = EntryState.QUEUED
    pid: int = 0
    started_at: float = 0.0
    not_before: float = 0.0
    pid_gone_at: float = 0.0
    result: HostResult | None = None
    learnt: HostKey | None = None

    @property
    def seq(self) -> int:
        return self.task.seq

    @property
    def target(self) -> Target:
        return self.task.target


def _deadline(action: Action, options: SSHOptions, timing: Timing) -> float | None:
    """Every worker-side wait of one task (connect steps, the command) plus a grace."""
    run = action.run if isinstance(action, Script) else action
    timeout = run.timeout if isinstance(run, Exec) else None
    timeout = options.command_timeout if timeout is None else timeout
    if timeout is None:
        return None
    return options.connect_timeout * 4 + timeout + timing.deadline_grace


class Ledger:
    """Entries in target order plus the parent's own view of who runs what."""

    def __init__(
        self,
        targets: Sequence[Target],
        action: Action | Callable[[Target], Action],
        *,
        first_seq: int = 0,
        policy: RunPolicy = RunPolicy(),
        options: SSHOptions = SSHOptions(),
        timing: Timing = Timing(),
        watch_pids: bool = True,
        alive: Callable[[int], bool] = working,
        stream: bool = False,
    ) -> None:
        self.entries: dict[int, Entry] = {}
        for i, target in enumerate(targets, first_seq):
            chosen = action(target) if callable(action) else action
            task = Task(target, chosen, seq=i, stream=stream)
            self.entries[i] = Entry(task, deadline=_deadline(chosen, options, timing))
        self.policy = policy
        self.timing = timing
        limit = policy.run_timeout
        self.run_deadline = time.monotonic() + limit if limit else None
        self.watch_pids = watch_pids  # PIDs of other engines' workers may be on other hosts
        self._alive = alive
        self.suspects: set[int] = set()  # PIDs of workers the parent gave up on
        self.wedged = False  # an answer will never come: the pool must be terminated
        self._idle_since = 0.0

    # -- answers ----------------------------------------------------------------------------
    def started(self, event: Started, now: float) -> None:
        entry = self.entries.get(event.seq)
        if entry is None or entry.state is not EntryState.DISPATCHED:
            return
        if entry.task.attempt == event.attempt:
            entry.state, entry.pid, entry.started_at = EntryState.RUNNING, event.pid, now

    def completed(self, completion: Completion) -> int | None:
        """The worker's answer; None when it is late (the parent already settled it)."""
        entry = self._current(completion.seq, completion.attempt)
        if entry is None:
            return None
        entry.result, entry.learnt = completion.result, completion.learnt
        entry.state = EntryState.DONE
        return entry.seq

    def failed(self, seq: int, attempt: int, message: str) -> int | None:
        """The pool's error_callback: the task function itself never raises, so this is
        the pool's machinery failing (an unpicklable task, a dead Ray actor)."""
        entry = self._current(seq, attempt)
        if entry is None:
            return None
        entry.result = self._record(entry, Status.ERROR, f"worker failed: {message}")
        entry.state = EntryState.DONE
        return entry.seq

    def _current(self, seq: int, attempt: int) -> Entry | None:
        entry = self.entries.get(seq)
        if entry is None or entry.state is EntryState.DONE or entry.task.attempt != attempt:
            return None
        return entry

    # -- the parent's own checks --------------------------------------------------------
    def police(self, in_flight: set[int], now: float) -> list[int]:
        """Settle hosts the pool will never answer for; returns their seqs."""
        if self.run_deadline is not None and now > self.run_deadline:
            return self._expire(in_flight, now)
        alive: dict[int, bool] = {}  # lanes share a PID: look each up once a pass
        settled = [seq for seq in in_flight if self._police(self.entries[seq], now, alive)]
        return settled + self._orphans(in_flight, now)

    def _expire(self, in_flight: set[int], now: float) -> list[int]:
        """The run limit passed: every host not done is ``timeout``; those out with the
        pool are answered for (their workers are then terminated, which stops their
        commands through the lifeline)."""
        limit = f"run limit of {self.policy.run_timeout:g}s reached"
        for entry in self.entries.values():
            if entry.state is EntryState.QUEUED:
                entry.result = self._record(entry, Status.TIMEOUT, f"not run: {limit}", now)
                entry.state = EntryState.DONE
            elif entry.state is EntryState.DISPATCHED:  # with the pool, never started
                self.settle(entry, Status.TIMEOUT, f"not run: {limit}", now)
            elif entry.state is EntryState.RUNNING:
                self.settle(entry, Status.TIMEOUT, limit, now)
                assert entry.result is not None
                entry.result = replace(entry.result, started=True)
        return list(in_flight)

    def _police(self, entry: Entry, now: float, alive: dict[int, bool]) -> bool:
        if entry.state is not EntryState.RUNNING:
            return False
        if entry.deadline is not None and now - entry.started_at > entry.deadline:
            message = f"no answer from worker {entry.pid} within {entry.deadline:g}s"
            self.settle(entry, Status.TIMEOUT, message, now)
            return True
        if not entry.pid or not self.watch_pids:
            return False
        if entry.pid not in alive:
            alive[entry.pid] = self._alive(entry.pid)
        if alive[entry.pid]:
            return False
        if not entry.pid_gone_at:
            entry.pid_gone_at = now
        elif now - entry.pid_gone_at > self.timing.lost_worker_grace:
            gone = "was stopped" if stopped(entry.pid) else "died"
            message = f"worker process {entry.pid} {gone} while running this host"
            self.settle(entry, Status.ERROR, message, now)
            return True
        return False

    def _orphans(self, in_flight: set[int], now: float) -> list[int]:
        """Hosts handed to the pool that no worker picked up while every worker sat idle.

        That only happens when a worker died between taking a task and announcing it; the
        pool will never run or answer for such a task.
        """
        states = {self.entries[s].state for s in in_flight}
        if not self.watch_pids or EntryState.RUNNING in states:
            self._idle_since = 0.0
            return []
        if EntryState.DISPATCHED not in states:
            self._idle_since = 0.0
            return []
        if not self._idle_since:
            self._idle_since = now
            return []
        if now - self._idle_since < self.timing.orphan_grace:
            return []
        self._idle_since = 0.0
        lost = [s for s in in_flight if self.entries[s].state is EntryState.DISPATCHED]
        for seq in lost:
            self.settle(self.entries[seq], Status.ERROR, "task lost: its worker died first", now)
        return lost

    def settle(self, entry: Entry, status: Status, message: str, now: float) -> None:
        """Answer for the pool: its AsyncResult stays pending, so it must be terminated."""
        self.wedged = True
        if entry.pid and self.watch_pids:
            self.suspects.add(entry.pid)
        entry.result = self._record(entry, status, message, now)
        entry.state = EntryState.DONE

    def _record(
        self, entry: Entry, status: Status, message: str, now: float | None = None
    ) -> HostResult:
        took = (now or time.monotonic()) - entry.started_at if entry.started_at else 0.0
        return HostResult(
            host=entry.target.name,
            status=status,
            error=message,
            address=entry.target.address,
            attempts=entry.task.attempt,
            duration=took,
        )

    def cancel(self, message: str) -> None:
        """Every host not done is ``interrupted``; unlike ``settle`` the workers stay
        trusted: the cancel board stops their commands and their answers come in late."""
        now = time.monotonic()
        for entry in self.entries.values():
            if entry.state is not EntryState.DONE:
                result = self._record(entry, Status.INTERRUPTED, message, now)
                started = entry.state is EntryState.RUNNING
                entry.result = replace(result, started=started) if started else result
                entry.state = EntryState.DONE

    @property
    def seq_range(self) -> tuple[int, int]:
        return min(self.entries, default=0), max(self.entries, default=-1) + 1

    def fill(self, status: Status, message: str) -> None:
        now = time.monotonic()
        for entry in self.entries.values():
            if entry.state is not EntryState.DONE:
                self.settle(entry, status, message, now)

    # -- retries --------------------------------------------------------------------------
    def retry(self, seq: int, now: float) -> bool:
        """Requeue a host whose connection failed before its command started, with
        exponential back-off and jitter so a flapping network is not hammered in lockstep."""
        entry = self.entries[seq]
        result = entry.result
        if result is None or entry.task.attempt > self.policy.retries:
            return False
        if self.run_deadline is not None and now > self.run_deadline:
            return False
        if result.status not in RETRYABLE or result.started:
            return False
        delay = self.policy.retry_delay * (2 ** (entry.task.attempt - 1))
        entry.not_before = now + delay * random.uniform(0.5, 1.5)
        entry.task = replace(entry.task, attempt=entry.task.attempt + 1)
        entry.state, entry.result, entry.learnt = EntryState.QUEUED, None, None
        entry.pid, entry.pid_gone_at, entry.started_at = 0, 0.0, 0.0
        return True

    def requeue(self, seq: int) -> bool:
        """A host handed to a pool that lost it unannounced: queued again at once."""
        entry = self.entries[seq]
        if entry.state is not EntryState.DISPATCHED:
            return False
        entry.task = replace(entry.task, attempt=entry.task.attempt + 1)
        entry.state, entry.not_before = EntryState.QUEUED, 0.0
        return True

    # -- the end --------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return all(e.state is EntryState.DONE for e in self.entries.values())

    def results(self) -> tuple[HostResult, ...]:
        results = tuple(e.result for e in self.entries.values() if e.result is not None)
        assert len(results) == len(self.entries), "ledger lost a host"
        return results

    def learnt(self) -> list[HostKey]:
        return [e.learnt for e in self.entries.values() if e.learnt is not None]
