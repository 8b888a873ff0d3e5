"""LanePool: several tasks at once per worker process, with the stdlib Pool's contract intact.

Concurrency is shown without timing: tasks wait (bounded) for each other to arrive, so they
only all succeed if the pool really ran them at the same time.
"""

from __future__ import annotations

import multiprocessing
import os
import shlex
import sys
import threading
import time
from pathlib import Path

import pytest

import hostpool
from hostpool.models import Status
from hostpool.pool.lanes import LanePool
from tests.procs import local

JOIN_LIMIT = 30.0  # a broken sentinel protocol shows as a join that never returns


def rendezvous(room: str, expected: int, name: int) -> tuple[int, bool]:
    """Enter ``room`` and wait until ``expected`` tasks are in it; (pid, everyone came)."""
    Path(room, f"{name}").touch()
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        if len(os.listdir(room)) >= expected:
            return os.getpid(), True
        time.sleep(0.02)
    return os.getpid(), False


def fail(message: str) -> None:
    raise ValueError(message)


def whoami(_: int) -> int:
    return os.getpid()


def new_pool(processes: int, per_worker: int, maxtasks: int | None = None) -> LanePool:
    ctx = multiprocessing.get_context("forkserver")
    return LanePool(processes, maxtasksperchild=maxtasks, context=ctx, per_worker=per_worker)


def close_and_join(pool: LanePool) -> None:
    pool.close()
    joiner = threading.Thread(target=pool.join, daemon=True)
    joiner.start()
    joiner.join(JOIN_LIMIT)
    if joiner.is_alive():
        pool.terminate()
        pytest.fail("Pool.join() did not return: a worker never got its sentinel")


def test_each_worker_runs_per_worker_tasks_at_once(tmp_path: Path) -> None:
    pool = new_pool(2, per_worker=3)
    pending = [pool.apply_async(rendezvous, (str(tmp_path), 6, i)) for i in range(6)]
    results = [p.get(timeout=30) for p in pending]
    close_and_join(pool)
    assert all(arrived for _, arrived in results), "six tasks were not all running together"
    per_pid = {pid: sum(1 for p, _ in results if p == pid) for pid, _ in results}
    assert sorted(per_pid.values()) == [3, 3]  # a busy worker left tasks to the other


def test_close_and_join_with_more_lanes_than_sentinels() -> None:
    pool = new_pool(3, per_worker=4)
    assert [pool.apply_async(whoami, (i,)).get(timeout=30) > 0 for i in range(10)]
    close_and_join(pool)


def test_maxtasksperchild_replaces_workers() -> None:
    pool = new_pool(2, per_worker=2, maxtasks=2)
    pids = [pool.apply_async(whoami, (i,)).get(timeout=30) for i in range(8)]
    close_and_join(pool)
    assert len(set(pids)) >= 4


def test_task_exception_reaches_error_callback() -> None:
    errors: list[BaseException] = []
    pool = new_pool(1, per_worker=2)
    pending = pool.apply_async(fail, ("boom",), error_callback=errors.append)
    with pytest.raises(ValueError, match="boom"):
        pending.get(timeout=30)
    close_and_join(pool)
    assert [type(e) for e in errors] == [ValueError]


def test_per_worker_one_is_the_stdlib_worker() -> None:
    pool = new_pool(1, per_worker=1)
    assert pool.apply_async(whoami, (0,)).get(timeout=30) > 0
    close_and_join(pool)


def test_per_worker_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_worker"):
        LanePool(1, per_worker=0)


def scheduling(_: int) -> tuple[int, int]:
    return os.sched_getscheduler(0), len(os.sched_getaffinity(0))


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies only")
def test_lane_threads_run_batch_scheduled_on_one_cpu() -> None:
    # Lanes share one GIL: batch scheduling and one CPU keep their hand-offs cheap.  Each
    # task runs on a lane thread, so this is what the threads inherited.
    pool = new_pool(1, per_worker=2)
    policy, cpus = pool.apply_async(scheduling, (0,)).get(timeout=30)
    close_and_join(pool)
    assert policy == os.SCHED_BATCH
    if len(os.sched_getaffinity(0)) > 1:
        assert cpus == 1


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies only")
def test_commands_started_from_lanes_get_the_original_cpus_and_policy() -> None:
    # One CPU and batch scheduling are for the lanes' own threads: a local command
    # (think `make -j8` on a connection=local host) gets what the worker started with.
    probe = "import os; print(os.sched_getscheduler(0), sorted(os.sched_getaffinity(0)))"
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(probe)}"
    report = hostpool.run([local("here"), local("there")], command, forks=2, processes=1)
    mine = f"{os.sched_getscheduler(0)} {sorted(os.sched_getaffinity(0))}\n"
    assert [(r.status, r.stdout.decode()) for r in report.results] == [(Status.OK, mine)] * 2
