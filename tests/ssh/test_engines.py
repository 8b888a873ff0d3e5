"""The same runner scenarios on every engine: local multiprocessing.Pool and Ray actors.

``lanes`` is the local Pool with the same number of hosts in flight driven by one worker
process (``processes=1``): a worker's death or stop then hits every host it was running.

Ray starts once per session on loopback (``ray_session``); its tests skip when ray is not
installed, unless ``HOSTPOOL_REQUIRE_RAY=1`` (CI) turns that into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import hostpool
from hostpool.models import Exec, Status, Target
from hostpool.pool.engines import Engine
from hostpool.pool.ledger import RunPolicy, Timing
from hostpool.pool.pool import ActionLike, Pool
from tests.procs import STARTER, local, marked_pids, wait_for
from tests.sshd import SSHLab, keygen


@pytest.fixture(params=["local", "lanes", pytest.param("ray", marks=pytest.mark.ray)])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_session")
    return str(request.param)


def pool_kwargs(engine: str, forks: int = 4) -> dict[str, Any]:
    """Pool arguments for ``forks`` hosts in flight on ``engine``."""
    if engine == "lanes":
        return {"engine": Engine.LOCAL, "forks": forks, "processes": 1}
    return {"engine": Engine(engine), "forks": forks, "processes": forks}


def run(
    targets: list[Target], command: ActionLike, engine: str, forks: int = 4, **kw: Any
) -> hostpool.Report:
    return hostpool.run(targets, command, **pool_kwargs(engine, forks), **kw)


def worker_pids(report: hostpool.Report) -> set[bytes]:
    """For local hosts the shell's parent is the worker (pool process or Ray actor)."""
    return {r.stdout for r in report.results}


# -- the same scenarios on both engines ---------------------------------------------------------
def test_many_hosts_ok_each_once(ssh_lab: SSHLab, engine: str) -> None:
    targets = ssh_lab.targets()
    report = run(targets, "echo hello; echo oops >&2", engine, forks=3, options=ssh_lab.options())
    assert [r.host for r in report.results] == [t.name for t in targets]
    for r in report.results:
        assert r.status is Status.OK, r
        assert (r.exit_code, r.stdout, r.stderr) == (0, b"hello\n", b"oops\n")
    assert report.exit_code() == 0


def test_nonzero_exit_is_failed(ssh_lab: SSHLab, engine: str) -> None:
    report = run(ssh_lab.targets(2), "echo out; exit 7", engine, options=ssh_lab.options())
    assert {r.status for r in report.results} == {Status.FAILED}
    assert {r.exit_code for r in report.results} == {7}
    assert report.exit_code(maxrc=True) == 7


def test_command_timeout_keeps_partial_output(ssh_lab: SSHLab, engine: str) -> None:
    options = ssh_lab.options(command_timeout=1.0)
    r = run([ssh_lab.target(0)], "echo before; sleep 20", engine, options=options).results[0]
    assert r.status is Status.TIMEOUT
    assert r.exit_code is None
    assert r.stdout == b"before\n"


def test_refused_port_is_unreachable(ssh_lab: SSHLab, refused_port: int, engine: str) -> None:
    target = ssh_lab.target(0, port=refused_port)
    r = run([target], "true", engine, options=ssh_lab.options()).results[0]
    assert r.status is Status.UNREACHABLE
    assert "refused" in r.error


def test_wrong_key_is_auth(ssh_lab: SSHLab, tmp_path: Path, engine: str) -> None:
    other = keygen(tmp_path / "other_key")
    target = ssh_lab.target(0, key_files=(str(other),))
    r = run([target], "true", engine, options=ssh_lab.options()).results[0]
    assert r.status is Status.AUTH


def test_unknown_host_key_is_hostkey(ssh_lab: SSHLab, tmp_path: Path, engine: str) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    options = ssh_lab.options(known_hosts=(str(empty),))
    r = run([ssh_lab.target(0)], "true", engine, options=options).results[0]
    assert r.status is Status.HOSTKEY
    assert "unknown host key" in r.error


def test_max_tasks_per_child_recycles_workers(engine: str) -> None:
    targets = [local(f"l{i}") for i in range(4)]
    report = run(
        targets,
        "echo $PPID",
        engine,
        forks=2,
        maxtasksperchild=1,
    )
    assert report.exit_code() == 0
    assert len(worker_pids(report)) == len(targets)


def test_killed_worker_is_reported(ssh_lab: SSHLab, engine: str) -> None:
    # For a local host the shell's parent is the worker (pool process or Ray actor).
    report = run(
        [local("victim")],
        "kill -9 $PPID; sleep 5",
        engine,
        options=ssh_lab.options(),
    )
    r = report.results[0]
    assert r.status is Status.ERROR
    assert "died" in r.error
    assert report.exit_code() == 5


def test_killed_worker_among_healthy_hosts(ssh_lab: SSHLab, tmp_path: Path, engine: str) -> None:
    flag = tmp_path / "killed-once"
    command = f"if mkdir {flag} 2>/dev/null; then kill -9 {STARTER}; sleep 5; fi; echo fine"
    targets = [local(f"l{i}") for i in range(4)] + ssh_lab.targets(2)
    report = run(targets, command, engine, forks=3, options=ssh_lab.options())
    statuses = [r.status for r in report.results]
    assert len(report.results) == 6
    errors = [r for r in report.results if r.status is Status.ERROR]
    # One process per host: only the victim.  Lanes: whatever else that process was running.
    assert 1 <= len(errors) <= (3 if engine == "lanes" else 1), report.results
    assert all("died" in r.error for r in errors)
    assert statuses.count(Status.OK) == 6 - len(errors)


def test_hung_host_does_not_hold_up_the_others(tmp_path: Path, engine: str) -> None:
    # The first command to start claims 'slow' and waits for a flag that only the last of
    # the other three creates.  A pool that queued one of them behind the slow one
    # (round-robin) would leave it waiting until its command timeout.
    flag = tmp_path / "all-others-done"
    command = (
        f"if mkdir {tmp_path}/slow 2>/dev/null; then "
        f"while [ ! -e {flag} ]; do sleep 0.05; done; "
        f"else touch {tmp_path}/done.$$; "
        f'[ "$(ls {tmp_path} | grep -c ^done)" -ge 3 ] && touch {flag}; fi; true'
    )
    targets = [local(f"l{i}") for i in range(4)]
    options = hostpool.SSHOptions(command_timeout=30.0)
    report = run(targets, command, engine, forks=2, options=options)
    assert [r.status for r in report.results] == [Status.OK] * 4, report.results


def test_deadline_settles_a_wedged_worker(ssh_lab: SSHLab, engine: str) -> None:
    # SIGSTOP the worker: only the parent can end that host, and closing the runner must
    # still get rid of the stopped worker.
    options = ssh_lab.options(connect_timeout=10.0)
    report = run(
        [local("wedged"), ssh_lab.target(0)],
        # The shell lingers after stopping its worker: SIGSTOP lands asynchronously, and
        # a shell that exited at once could let the worker answer before it stopped.
        # The healthy host gets room: under load a 1 s bound can catch even `true`.
        lambda t: Exec(
            f'[ -z "$SSH_CONNECTION" ] && {{ kill -STOP {STARTER}; sleep 3; }}; true',
            timeout=1.0 if t.name == "wedged" else 30.0,
        ),
        engine,
        forks=2,
        options=options,
        timing=Timing(deadline_grace=1.0),
    )
    got = {r.host: r for r in report.results}
    # Whichever comes first: the parent's deadline, or its check that the worker is
    # stopped (a stopped process runs nothing: settled after lost_worker_grace).
    wedged = got["wedged"]
    assert (wedged.status, "no answer from worker" in wedged.error) == (Status.TIMEOUT, True) or (
        wedged.status is Status.ERROR and "was stopped" in wedged.error
    ), wedged
    # With lanes h0 shares the stopped process: it either finished first or timed out too.
    shared = (Status.OK, Status.TIMEOUT, Status.ERROR)  # as "wedged", or finished first
    assert got["h0"].status in (shared if engine == "lanes" else (Status.OK,))


def test_stopping_early_kills_running_commands(tmp_path: Path, engine: str) -> None:
    # One host sleeps; the other fails once the sleeper has started, so --max-fail 1
    # terminates the pool mid-command.  The sleeper (a grandchild of the worker, in its own
    # session) must not outlive the run.
    mark = uuid.uuid4().hex
    command = (
        f"if mkdir {tmp_path}/claim 2>/dev/null; then touch {tmp_path}/started; sleep 60; "
        f"else while [ ! -e {tmp_path}/started ]; do sleep 0.05; done; exit 3; fi"
    )
    options = hostpool.SSHOptions(command_timeout=120.0, env=(("HOSTPOOL_TEST_MARK", mark),))
    policy = RunPolicy(max_fail=1)
    report = run([local("a"), local("b")], command, engine, forks=2, options=options, policy=policy)
    assert sorted(r.status for r in report.results) == sorted([Status.FAILED, Status.INTERRUPTED])
    assert wait_for(lambda: not marked_pids(mark)), marked_pids(mark)


def test_stream_lines_reach_the_parent(ssh_lab: SSHLab, engine: str) -> None:
    lines: list[tuple[str, int, bytes]] = []
    with Pool(ssh_lab.options(), **pool_kwargs(engine, 2)) as pool:
        report = pool.map(
            "echo one; echo two >&2; printf three",
            ssh_lab.targets(2),
            on_line=lambda host, stream, line: lines.append((host, stream, line)),
        )
    assert report.exit_code() == 0
    for host in ("h0", "h1"):
        got = {(stream, line) for h, stream, line in lines if h == host}
        assert got == {(1, b"one"), (2, b"two"), (1, b"three")}


def test_pool_reuses_its_workers(engine: str) -> None:
    # Whichever worker takes which host, no call starts new worker processes.
    targets = [local("a"), local("b")]
    with Pool(**pool_kwargs(engine, 2)) as pool:
        reports = [pool.map("echo $PPID", targets) for _ in range(3)]
        shape = pool.shape
    assert all(r.exit_code() == 0 for r in reports)
    assert len(set().union(*(worker_pids(r) for r in reports))) <= shape.processes


# -- ray specifics -------------------------------------------------------------------------------


# -- engine options (no ray needed) --------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stopped"])
def test_idle_workers_lost_do_not_hang_the_run(tmp_path: Path, how: int) -> None:
    """Issue 17: 2 slow + 6 fast hosts on 4 workers; the idle workers are SIGKILLed (or
    SIGSTOPped) while the slow ones run.  One of them held the pool's task-queue lock:
    the stdlib pool then never hands out another task.  The run must still finish, every
    host once, the fast ones ok."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[all]\n" + "".join(f"h{i} ansible_connection=local\n" for i in range(8)))
    lock = tmp_path / "slow"
    command = (
        f"if mkdir {lock}.a 2>/dev/null || mkdir {lock}.b 2>/dev/null; "
        f"then echo {STARTER} >> {tmp_path}/busy; sleep 4; else sleep 0.2; fi"
    )
    mark = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "hostpool", "exec", "-i", str(inventory), "-f", "4",
         "--processes", "4", "-o", "json", command],
        env=dict(os.environ, HOSTPOOL_TEST_MARK=mark, HOSTPOOL_STATE_DIR=str(tmp_path)),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        busy_file = tmp_path / "busy"
        assert wait_for(lambda: busy_file.exists() and len(busy_file.read_text().split()) == 2)
        busy = {int(pid) for pid in busy_file.read_text().split()}
        server = [p for p in marked_pids(mark) if b"forkserver" in _cmdline(p)]
        idle = [p for p in marked_pids(mark) if server and _ppid(p) == server[0] and p not in busy]
        assert idle, "no idle worker to lose"
        for pid in idle:
            os.kill(pid, how)
        out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in marked_pids(mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    results = {r["host"]: r["status"] for r in json.loads(out)["results"]}
    assert sorted(results) == [f"h{i}" for i in range(8)], err
    assert list(results.values()).count("ok") >= 6, results


def _cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def _ppid(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return 0
