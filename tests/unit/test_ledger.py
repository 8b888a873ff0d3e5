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

from hostpool.models import Completion, Event, Exec, HostResult, Started, Status, Target, Task
from hostpool.pool.dispatch import Dispatcher, Observers
from hostpool.pool.ledger import Ledger, RunPolicy, Timing

FAST = Timing(poll_interval=0.01, lost_worker_grace=0.05, orphan_grace=0.1, deadline_grace=0)
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


def drive(
    behaviour: Behaviour,
    n: int = 4,
    *,
    deadline: float | None = None,
    policy: RunPolicy = RunPolicy(),
    window: int = 8,
) -> tuple[Ledger, FakePool, list[HostResult], bool]:
    events = FakeEvents()
    pool = FakePool(events, behaviour)
    ledger = Ledger(
        targets(n),
        Exec("true"),
        policy=policy,
        deadline=deadline,
        timing=FAST,
        alive=lambda pid: pid != DEAD,
    )
    seen: list[HostResult] = []
    dispatcher = Dispatcher(pool, events, ledger, window=window, observers=Observers(seen.append))
    stopped = dispatcher.drive()
    return ledger, pool, seen, stopped


def by_host(ledger: Ledger) -> dict[str, HostResult]:
    return {r.host: r for r in ledger.results()}


def test_every_host_once_in_target_order() -> None:
    ledger, _, seen, stopped = drive(lambda task: "ok", n=20, window=3)
    assert [r.host for r in ledger.results()] == [f"h{i}" for i in range(20)]
    assert sorted(r.host for r in seen) == sorted(f"h{i}" for i in range(20))
    assert not stopped and not ledger.wedged


def test_a_worker_that_dies_mid_task_is_reported_after_the_grace() -> None:
    ledger, _, seen, _ = drive(lambda task: "die" if task.seq == 1 else "ok")
    lost = by_host(ledger)["h1"]
    assert lost.status is Status.ERROR
    assert f"worker process {DEAD} died" in lost.error
    assert ledger.wedged and DEAD in ledger.suspects  # close() must terminate, not join
    assert [r.host for r in seen].count("h1") == 1


def test_a_wedged_worker_is_settled_by_the_parents_deadline() -> None:
    start = time.monotonic()
    ledger, _, _, _ = drive(lambda task: "hang" if task.seq == 0 else "ok", deadline=0.1)
    wedged = by_host(ledger)["h0"]
    assert wedged.status is Status.TIMEOUT
    assert "no answer from worker" in wedged.error
    assert LIVE in ledger.suspects
    assert time.monotonic() - start < 5


def test_a_late_answer_after_settling_is_ignored() -> None:
    ledger, pool, seen, _ = drive(lambda task: "hang" if task.seq == 0 else "ok", deadline=0.05)
    task, _ = pool.held[0]
    late = HostResult(host="h0", status=Status.OK)
    assert ledger.completed(Completion(task.seq, task.attempt, late)) is None
    assert by_host(ledger)["h0"].status is Status.TIMEOUT
    assert [r.host for r in seen].count("h0") == 1


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


def test_max_fail_stops_the_call_and_fill_accounts_for_the_rest() -> None:
    ledger, _, _, stopped = drive(
        lambda task: "unreachable" if task.seq == 0 else "hang",
        n=5,
        window=2,
        policy=RunPolicy(max_fail=1),
    )
    assert stopped
    ledger.fill(Status.INTERRUPTED, "not run")
    got = by_host(ledger)
    assert got["h0"].status is Status.UNREACHABLE
    assert {got[f"h{i}"].status for i in range(1, 5)} == {Status.INTERRUPTED}


@pytest.mark.parametrize("n", [1, 7])
def test_per_host_actions_are_resolved_per_target(n: int) -> None:
    ledger = Ledger(targets(n), lambda t: Exec(f"echo {t.name}"), timing=FAST)
    commands = [e.task.action for e in ledger.entries.values()]
    assert commands == [Exec(f"echo h{i}") for i in range(n)]
