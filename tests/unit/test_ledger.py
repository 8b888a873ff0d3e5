"""The ledger and dispatcher against a fake pool: the corner cases a real pool makes rare.

Nothing here starts a process.  The fake pool decides per host what its "worker" does
(answer, announce and then die, hang, never start, fail in the pool's machinery), and a
fake PID table says which workers are alive, so each guarantee is checked on its own:
every host is answered exactly once, in target order, whatever the pool does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from hostpool.models import (
    Completion,
    Event,
    Exec,
    HostResult,
    SSHOptions,
    Started,
    Status,
    Target,
    Task,
)
from hostpool.pool.callbacks import CallbackThread
from hostpool.pool.dispatch import Dispatcher
from hostpool.pool.ledger import Ledger, RunPolicy, Timing
from hostpool.pool.results import Call

FAST = Timing(
    poll_interval=0.01,
    lost_worker_grace=0.05,
    orphan_grace=0.1,
    recover_grace=0.02,
    deadline_grace=0,
)
DEAD, LIVE = 4001, 4002


@dataclass
class FakeEvents:
    queue: list[Event] = field(default_factory=list)

    def empty(self) -> bool:
        return not self.queue

    def get(self) -> Event:
        return self.queue.pop(0)


class _Handle:
    def ready(self) -> bool:
        return False


Behaviour = Callable[[Task], str]  # "ok", "unreachable", "die", "hang", "lost", "error"


class FakePool:
    """Calls back at once, like a worker that finished instantly, unless told otherwise."""

    def __init__(self, events: FakeEvents, behaviour: Behaviour) -> None:
        self.events = events
        self.behaviour = behaviour
        self.held: list[tuple[Task, Callable[[Completion], None]]] = []
        self.stops: list[tuple[str, set[int]]] = []
        self.submitted: list[Task] = []

    def apply_async(
        self,
        func: Callable[[Task], Completion],
        args: tuple[Task],
        *,
        callback: Callable[[Completion], None],
        error_callback: Callable[[BaseException], None],
    ) -> _Handle:
        (task,) = args
        self.submitted.append(task)
        what = self.behaviour(task)
        if what == "lost":  # taken by a worker that died before announcing it
            return _Handle()
        if what == "error":
            error_callback(RuntimeError("cannot pickle the task"))
            return _Handle()
        pid = DEAD if what == "die" else LIVE
        self.events.queue.append(Started(task.seq, task.attempt, pid))
        if what in ("die", "hang"):
            self.held.append((task, callback))
            return _Handle()
        status = Status.UNREACHABLE if what == "unreachable" else Status.OK
        result = HostResult(host=task.target.name, status=status, attempts=task.attempt)
        callback(Completion(task.seq, task.attempt, result, worker_pid=pid))
        return _Handle()

    def close(self) -> None: ...
    def terminate(self) -> None: ...
    def join(self) -> None: ...


def targets(n: int) -> list[Target]:
    return [Target(name=f"h{i}", address=f"10.0.0.{i}") for i in range(n)]


@dataclass
class FakeWorkers:
    pool: FakePool
    events: FakeEvents
    trouble: str = ""

    def troubled(self) -> str:
        return self.trouble

    def close(self, wedged: bool, suspects: set[int]) -> None:
        self.pool.stops.append(("terminate", suspects) if wedged or suspects else ("close", set()))

    def terminate(self, suspects: set[int]) -> None:
        self.pool.stops.append(("terminate", suspects))


class NoInterrupt:
    def interrupt(self) -> None:
        raise AssertionError("not expected")


def drive(
    behaviour: Behaviour,
    n: int = 4,
    *,
    deadline: float | None = None,
    policy: RunPolicy = RunPolicy(),
    window: int = 8,
    trouble: str = "",
) -> tuple[Ledger, FakePool, list[HostResult], bool]:
    """One call through a real Dispatcher (its own threads) over the fake pool."""
    events = FakeEvents()
    pool = FakePool(events, behaviour)
    workers = FakeWorkers(pool, events, trouble)
    options = SSHOptions(connect_timeout=0, command_timeout=deadline)
    ledger = Ledger(
        targets(n),
        Exec("true"),
        policy=policy,
        options=options,
        timing=FAST,
        alive=lambda pid: pid != DEAD,
    )
    seen: list[HostResult] = []
    callbacks = CallbackThread()
    dispatcher = Dispatcher(
        lambda: workers,
        window=window,
        poll_interval=FAST.poll_interval,
        callbacks=callbacks,
        learn=lambda keys: None,
    )
    call = Call(ledger, "true", on_result=seen.append)
    dispatcher.submit(call)
    assert call.wait(NoInterrupt(), timeout=10)
    dispatcher.stop(terminate=False)
    dispatcher.join(10)
    callbacks.stop()
    return ledger, pool, seen, call.stopped_early


def by_host(ledger: Ledger) -> dict[str, HostResult]:
    return {r.host: r for r in ledger.results()}


def test_every_host_once_in_target_order() -> None:
    ledger, pool, seen, stopped = drive(lambda task: "ok", n=20, window=3)
    assert [r.host for r in ledger.results()] == [f"h{i}" for i in range(20)]
    assert sorted(r.host for r in seen) == sorted(f"h{i}" for i in range(20))
    assert not stopped and pool.stops == [("close", set())]


def test_several_calls_share_one_dispatcher_and_window() -> None:
    events = FakeEvents()
    pool = FakePool(events, lambda task: "ok")
    callbacks = CallbackThread()
    dispatcher = Dispatcher(
        lambda: FakeWorkers(pool, events),
        window=2,
        poll_interval=0.01,
        callbacks=callbacks,
        learn=lambda keys: None,
    )
    calls = [
        Call(Ledger(targets(3), Exec(f"c{i}"), first_seq=3 * i, timing=FAST), f"c{i}")
        for i in range(5)
    ]
    for call in calls:
        dispatcher.submit(call)
    for call in calls:
        assert call.wait(NoInterrupt(), timeout=10)
        assert call.require().exit_code() == 0 and len(call.require()) == 3
    assert len(pool.submitted) == 15
    dispatcher.stop(terminate=False)
    dispatcher.join(10)
    callbacks.stop()


def test_a_worker_that_dies_mid_task_is_reported_after_the_grace() -> None:
    ledger, pool, seen, _ = drive(lambda task: "die" if task.seq == 1 else "ok")
    lost = by_host(ledger)["h1"]
    assert lost.status is Status.ERROR
    assert f"worker process {DEAD} died" in lost.error
    assert pool.stops == [("terminate", {DEAD})]  # closing must terminate, not join
    assert [r.host for r in seen].count("h1") == 1


def test_a_wedged_worker_is_settled_by_the_parents_deadline() -> None:
    start = time.monotonic()
    ledger, pool, _, _ = drive(lambda task: "hang" if task.seq == 0 else "ok", deadline=0.1)
    wedged = by_host(ledger)["h0"]
    assert wedged.status is Status.TIMEOUT
    assert "no answer from worker" in wedged.error
    assert pool.stops == [("terminate", {LIVE})]
    assert time.monotonic() - start < 5


def test_a_late_answer_after_settling_is_ignored() -> None:
    ledger, pool, seen, _ = drive(lambda task: "hang" if task.seq == 0 else "ok", deadline=0.05)
    task, _ = pool.held[0]
    late = HostResult(host="h0", status=Status.OK)
    assert ledger.completed(Completion(task.seq, task.attempt, late)) is None
    assert by_host(ledger)["h0"].status is Status.TIMEOUT
    assert [r.host for r in seen].count("h0") == 1


def test_a_troubled_pool_that_lost_its_queue_is_replaced_and_the_tasks_sent_again() -> None:
    """A worker died abnormally and the tasks handed over were never announced: fresh
    workers (a terminate, then a new engine) take them as second attempts."""
    ledger, pool, _, _ = drive(
        lambda task: "lost" if task.seq in (1, 2) and task.attempt == 1 else "ok",
        trouble="worker 99 died (exit status -9)",
    )
    got = by_host(ledger)
    assert {r.status for r in got.values()} == {Status.OK}
    assert (got["h1"].attempts, got["h2"].attempts, got["h0"].attempts) == (2, 2, 1)
    assert ("terminate", set()) in pool.stops
    assert sorted((t.seq, t.attempt) for t in pool.submitted).count((1, 2)) == 1


def test_tasks_no_worker_ever_announced_are_lost_after_the_orphan_grace() -> None:
    ledger, _, _, _ = drive(lambda task: "lost" if task.seq in (1, 2) else "ok")
    got = by_host(ledger)
    assert {got["h1"].status, got["h2"].status} == {Status.ERROR}
    assert "task lost" in got["h1"].error
    assert got["h0"].status is Status.OK


def test_a_pool_error_callback_is_an_error_for_that_host_only() -> None:
    ledger, _, _, _ = drive(lambda task: "error" if task.seq == 3 else "ok")
    got = by_host(ledger)
    assert got["h3"].status is Status.ERROR and "worker failed" in got["h3"].error
    assert all(got[f"h{i}"].ok for i in range(3))


def test_unstarted_connection_failures_are_retried_then_succeed() -> None:
    def flaky(task: Task) -> str:
        return "unreachable" if task.attempt == 1 else "ok"

    policy = RunPolicy(retries=2, retry_delay=0.01)
    ledger, pool, seen, _ = drive(flaky, n=3, policy=policy)
    assert all(r.ok and r.attempts == 2 for r in ledger.results())
    assert len(pool.submitted) == 6
    assert len(seen) == 3  # observers hear the final answer only


def test_retries_run_out() -> None:
    ledger, pool, _, _ = drive(lambda task: "unreachable", n=1, policy=RunPolicy(retries=1))
    (only,) = ledger.results()
    assert only.status is Status.UNREACHABLE and only.attempts == 2
    assert len(pool.submitted) == 2


def test_max_fail_stops_the_call_and_accounts_for_the_rest() -> None:
    ledger, _, _, stopped = drive(
        lambda task: "unreachable" if task.seq == 0 else "hang",
        n=5,
        window=2,
        policy=RunPolicy(max_fail=1),
    )
    assert stopped
    got = by_host(ledger)
    assert got["h0"].status is Status.UNREACHABLE
    assert {got[f"h{i}"].status for i in range(1, 5)} == {Status.INTERRUPTED}


@pytest.mark.parametrize("n", [1, 7])
def test_per_host_actions_are_resolved_per_target(n: int) -> None:
    ledger = Ledger(targets(n), lambda t: Exec(f"echo {t.name}"), first_seq=10, timing=FAST)
    assert list(ledger.entries) == list(range(10, 10 + n))
    commands = [e.task.action for e in ledger.entries.values()]
    assert commands == [Exec(f"echo h{i}") for i in range(n)]


def test_the_run_limit_answers_for_every_host_left() -> None:
    ledger, pool, _, _ = drive(
        lambda task: "hang", n=6, window=2, policy=RunPolicy(run_timeout=0.05)
    )
    got = by_host(ledger)
    assert {r.status for r in got.values()} == {Status.TIMEOUT}
    assert sum(r.started for r in got.values()) == 2  # the two in flight had started
    assert sum(r.error.startswith("not run:") for r in got.values()) == 4
    assert len(pool.submitted) == 2  # nothing more went out after the limit


def test_the_events_waker_sleeps_when_there_is_nothing_to_watch() -> None:
    """It once waited on 'drained', which stays set after a drain: an idle pool spun."""
    from hostpool.pool.events import Waker

    asked: list[int] = []

    def nothing() -> int | None:
        asked.append(1)
        return None

    waker = Waker(nothing, lambda: None)
    waker.drained.set()
    time.sleep(0.6)
    waker.stopped.set()
    assert len(asked) <= 10, f"{len(asked)} polls in 0.6 s"
