"""Warm fleet (issue 18): ``--persist`` leaves a pool whose connections later runs reuse.

Real sshd on 127.0.0.x; each test has its own runtime directory, and every process the
test's runs started (the pool server, its forkserver and workers inherit the test's
mark) must be gone at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import hostpool
from hostpool.persist import PersistentPool, pools, stop
from tests.cliutil import hostpool as cli_run
from tests.procs import STARTER, group_reaped, marked_pids, sleeping, started, wait_for
from tests.sshd import SSHLab


@pytest.fixture
def mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    mark = uuid.uuid4().hex
    monkeypatch.setenv("HOSTPOOL_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("HOSTPOOL_TEST_MARK", mark)
    try:
        yield mark
    finally:
        stop()
        left = wait_for(lambda: not _theirs(mark), timeout=20)
        for pid in _theirs(mark):
            os.kill(pid, signal.SIGKILL)
        assert left, "a persistent pool left processes behind"


def _theirs(mark: str) -> list[int]:
    return [p for p in marked_pids(mark) if p != os.getpid()]


def _args(ssh_lab: SSHLab, tmp_path: Path, *extra: str, n: int = 3) -> list[str]:
    inv = ssh_lab.inventory(tmp_path / "hosts.ini", n=n)
    known = str(ssh_lab.known_hosts)
    return ["exec", "-i", str(inv), "--known-hosts", known, "--ssh-config", "none", *extra]


def _results(done: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert done.stdout, done.stderr
    results: list[dict[str, object]] = json.loads(done.stdout)["results"]
    return results


@contextlib.contextmanager
def _sleeping_on_a_warm_pool(
    ssh_lab: SSHLab, tmp_path: Path, mark: str, n: int = 3
) -> Iterator[tuple[list[str], subprocess.Popen[bytes], str]]:
    """A warm pool of ``n`` hosts and a run of ``sleep <tag>`` on it, running on every
    host: ``(flags, the run's process, tag)``."""
    tag = f"{700 + uuid.uuid4().int % 99}.{uuid.uuid4().int % 10**6:06d}"
    base = _args(ssh_lab, tmp_path, "--persist", "1m", "-o", "json", n=n)
    assert cli_run(*base, "true", cwd=tmp_path).returncode == 0  # connections are warm
    proc = started([*base, f"sleep {tag}"], tmp_path / "state", mark)
    with group_reaped(proc):
        assert wait_for(lambda: len(sleeping(tag)) == n, timeout=30), "never started"
        yield base, proc, tag


def test_a_second_run_reuses_every_connection(ssh_lab: SSHLab, tmp_path: Path, mark: str) -> None:
    args = _args(ssh_lab, tmp_path, "--persist", "1m", "-o", "json", f"echo {STARTER}")
    first = _results(cli_run(*args, cwd=tmp_path))
    second = _results(cli_run(*args, cwd=tmp_path))
    assert [r["status"] for r in first + second] == ["ok"] * 6
    assert [r["connections"] for r in first] == [1, 1, 1]
    assert [r["connections"] for r in second] == [0, 0, 0]
    # The same sshd session process served both: the same connection, not a new one.
    assert [r["stdout"] for r in first] == [r["stdout"] for r in second]
    (status,) = pools()
    assert status.hosts_connected == 3 and status.runs == 2


def test_run_options_travel_with_the_run_not_the_pool(
    ssh_lab: SSHLab, tmp_path: Path, mark: str
) -> None:
    """-t and --env are per run: runs that differ only there share one pool."""
    base = _args(ssh_lab, tmp_path, "--persist", "1m", "-o", "json")
    slow = _results(cli_run(*base, "-t", "1", "sleep 5", cwd=tmp_path))
    assert {r["status"] for r in slow} == {"timeout"}
    env = _results(cli_run(*base, "--env", "HP_X=1 2", 'echo "$HP_X"', cwd=tmp_path))
    assert [r["stdout"] for r in env] == ["1 2\n"] * 3
    assert len(pools()) == 1


def test_other_settings_start_their_own_pool(ssh_lab: SSHLab, tmp_path: Path, mark: str) -> None:
    base = _args(ssh_lab, tmp_path, "--persist", "1m", "-o", "json")
    assert cli_run(*base, "true", cwd=tmp_path).returncode == 0
    assert cli_run(*base, "--connect-timeout", "7", "true", cwd=tmp_path).returncode == 0
    assert len(pools()) == 2


def test_status_and_stop_leave_nothing_behind(ssh_lab: SSHLab, tmp_path: Path, mark: str) -> None:
    args = _args(ssh_lab, tmp_path, "--persist", "10m", "true")
    assert cli_run(*args, cwd=tmp_path).returncode == 0
    shown = cli_run("pool", "status", cwd=tmp_path)
    assert shown.returncode == 0 and "hosts connected" in shown.stdout, shown.stderr
    assert _theirs(mark), "no pool process found"
    done = cli_run("pool", "stop", cwd=tmp_path)
    assert done.returncode == 0 and "stopped 1 pool" in done.stdout, done.stderr
    assert wait_for(lambda: not _theirs(mark), timeout=15), _theirs(mark)
    assert not list(Path(os.environ["HOSTPOOL_RUNTIME_DIR"]).glob("*.sock"))
    assert cli_run("pool", "status", cwd=tmp_path).stdout.strip() == "no persistent pools"


def test_the_idle_limit_ends_the_pool(ssh_lab: SSHLab, tmp_path: Path, mark: str) -> None:
    assert (
        cli_run(*_args(ssh_lab, tmp_path, "--persist", "2s", "true"), cwd=tmp_path).returncode == 0
    )
    assert _theirs(mark)
    assert wait_for(lambda: not _theirs(mark), timeout=15), _theirs(mark)
    assert not pools()


def test_ctrl_c_stops_this_runs_commands_not_the_pool(
    ssh_lab: SSHLab, tmp_path: Path, mark: str
) -> None:
    with _sleeping_on_a_warm_pool(ssh_lab, tmp_path, mark) as (base, proc, tag):
        (before,) = pools()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert {r["status"] for r in json.loads(out)["results"]} == {"interrupted"}
    assert wait_for(lambda: not sleeping(tag), timeout=8), sleeping(tag)
    (after,) = pools()
    assert after.pid == before.pid  # the same pool serves on
    again = _results(cli_run(*base, "echo ok", cwd=tmp_path))
    assert [(r["status"], r["connections"]) for r in again] == [("ok", 0)] * 3  # kept


def test_a_dropped_connection_is_redone(ssh_lab: SSHLab, tmp_path: Path, mark: str) -> None:
    args = _args(ssh_lab, tmp_path, "--persist", "1m", "-o", "json", f"echo {STARTER}")
    first = _results(cli_run(*args, cwd=tmp_path))
    os.kill(int(str(first[0]["stdout"])), signal.SIGKILL)  # h0's sshd session: dropped
    second = _results(cli_run(*args, cwd=tmp_path))
    assert [r["status"] for r in second] == ["ok"] * 3
    assert [r["connections"] for r in second] == [1, 0, 0]
    assert second[0]["stdout"] != first[0]["stdout"]


def test_python_scripts_attach_too(ssh_lab: SSHLab, tmp_path: Path, mark: str) -> None:
    targets = ssh_lab.targets(3)
    first = PersistentPool(ssh_lab.options(), forks=4, idle=60).map("echo ok", targets)
    second = PersistentPool(ssh_lab.options(), forks=4, idle=60).map("echo ok", targets)
    assert [r.stdout for r in first] == [b"ok\n"] * 3
    assert [r.connections for r in second] == [0, 0, 0]
    per_host = PersistentPool(ssh_lab.options(), forks=4, idle=60).map(
        lambda t: hostpool.Exec(f"echo {t.name}"), targets
    )
    assert [r.stdout for r in per_host] == [b"h0\n", b"h1\n", b"h2\n"]


def test_cancel_stops_one_call_and_keeps_the_pool(ssh_lab: SSHLab, tmp_path: Path) -> None:
    """``Pool.cancel``: the machinery behind a client's Ctrl-C, on an in-process pool."""
    tag = f"{600 + uuid.uuid4().int % 99}.{uuid.uuid4().int % 10**6:06d}"
    targets = ssh_lab.targets(3)
    with hostpool.Pool(ssh_lab.options(), forks=6, warm=True) as pool:
        pool.map("true", targets)
        slow = pool.map_async(f"sleep {tag}", targets)
        assert wait_for(lambda: len(sleeping(tag)) >= 3, timeout=30), "never started"
        pool.cancel(slow)
        with pytest.raises(hostpool.Interrupted) as stopped:
            slow.get(timeout=10)
        assert {r.status for r in stopped.value.report} == {hostpool.Status.INTERRUPTED}
        assert wait_for(lambda: not sleeping(tag), timeout=8), sleeping(tag)
        after = pool.map("echo ok", targets)
    assert [r.stdout for r in after] == [b"ok\n"] * 3


def test_warm_connections_learn_the_login_shell_and_start_one_shell(
    ssh_lab: SSHLab, tmp_path: Path
) -> None:
    """The first command's line lets the login shell pick its form (``any_shell``): a
    POSIX one runs the lifeline itself; once the probe said so, the line is that form
    alone.  Either way the command's shell is the session's first process."""
    targets = ssh_lab.targets(2)
    show = "tr '\\0' ' ' < /proc/$$/cmdline"
    with hostpool.Pool(ssh_lab.options(), forks=2, warm=True) as pool:
        first, second, third = (pool.map(show, targets) for _ in range(3))
    assert all(r.ok for r in (*first, *second, *third))
    assert all(b'test -n "$status"' in r.stdout for r in first), first.results
    assert all(b"exec 3<&0" in r.stdout for r in (*first, *second, *third))
    assert not any(b"$status" in r.stdout for r in (*second, *third)), second.results


def _session_of(tag: str) -> int:
    """The sshd process serving the connection that runs ``sleep <tag>``: the first
    ancestor of the command that is an sshd."""
    (pid,) = sleeping(tag)
    while pid > 1:
        with open(f"/proc/{pid}/stat") as fh:
            pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        if b"sshd" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError("no sshd above the command")


def test_a_connection_lost_mid_command_is_unreachable(
    ssh_lab: SSHLab, tmp_path: Path, mark: str
) -> None:
    with _sleeping_on_a_warm_pool(ssh_lab, tmp_path, mark, n=1) as (base, proc, tag):
        os.kill(_session_of(tag), signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    (result,) = json.loads(out)["results"]
    assert result["status"] == "unreachable", (result, err)
    again = _results(cli_run(*base, "echo ok", cwd=tmp_path))
    assert [(r["status"], r["connections"]) for r in again] == [("ok", 1)]


def test_a_killed_pool_answers_for_every_host_and_leaves_nothing(
    ssh_lab: SSHLab, tmp_path: Path, mark: str
) -> None:
    with _sleeping_on_a_warm_pool(ssh_lab, tmp_path, mark) as (base, proc, tag):
        (status,) = pools()
        os.kill(status.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    results = json.loads(out)["results"]
    assert [r["status"] for r in results] == ["error"] * 3, err
    assert wait_for(lambda: not sleeping(tag), timeout=10), sleeping(tag)  # workers saw it
    assert wait_for(lambda: not _theirs(mark), timeout=15), _theirs(mark)
    again = _results(cli_run(*base, "echo ok", cwd=tmp_path))  # a new pool, from scratch
    assert [r["status"] for r in again] == ["ok"] * 3
