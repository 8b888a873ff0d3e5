"""Failure modes the pool alone cannot report: killed workers, Ctrl-C, wedged hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import hostpool
from hostpool.models import Status
from tests.procs import local, marked_pids, wait_for
from tests.sshd import SSHLab


def test_sigkilled_worker_is_reported(ssh_lab: SSHLab) -> None:
    # For a local host the shell's parent is the pool worker itself.
    report = hostpool.run([local("victim")], "kill -9 $PPID; sleep 5", options=ssh_lab.options())
    r = report.results[0]
    assert r.status is Status.ERROR
    assert "died" in r.error
    assert report.exit_code() == 5


def test_killed_worker_among_healthy_hosts(ssh_lab: SSHLab, tmp_path: Path) -> None:
    flag = tmp_path / "killed-once"
    # Exactly one local host kills its worker; every host must still be reported once.
    command = f"if mkdir {flag} 2>/dev/null; then kill -9 $PPID; sleep 5; fi; echo fine"
    targets = [local(f"l{i}") for i in range(4)] + ssh_lab.targets(2)
    report = hostpool.run(targets, command, forks=3, options=ssh_lab.options())
    statuses = [r.status for r in report.results]
    assert len(report.results) == 6
    assert statuses.count(Status.ERROR) == 1
    assert statuses.count(Status.OK) == 5


def test_ctrl_c_interrupts_terminates_and_leaves_nothing(ssh_lab: SSHLab, tmp_path: Path) -> None:
    inventory = ssh_lab.inventory(
        tmp_path / "hosts.ini", n=2, extra="[locals]\nlocal[1:3] ansible_connection=local\n"
    )
    mark = f"HOSTPOOL_TEST_MARK={uuid.uuid4().hex}"
    env = dict(os.environ, **dict([mark.split("=", 1)]))
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hostpool",
            "exec",
            "-i",
            str(inventory),
            "--known-hosts",
            str(ssh_lab.known_hosts),
            "-o",
            "json",
            "-f",
            "5",
            f"touch {started}.$$; sleep 60",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, like a foreground job
    )
    try:
        assert wait_for(lambda: len(list(tmp_path.glob("started.*"))) >= 5), (
            "commands never started"
        )
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err.decode()
    data = json.loads(out)
    assert data["interrupted"] is True
    assert len(data["results"]) == 5
    assert {r["status"] for r in data["results"]} == {"interrupted"}
    # No worker, forkserver or local command of that run survives it.
    assert wait_for(lambda: not marked_pids(mark), timeout=10), marked_pids(mark)


def test_parent_deadline_settles_a_wedged_worker(ssh_lab: SSHLab) -> None:
    # SIGSTOP the worker: it can no longer answer, so only the parent's deadline can end it.
    options = ssh_lab.options(command_timeout=1.0, connect_timeout=1.0)
    report = hostpool.run(
        [local("wedged"), ssh_lab.target(0)],
        '[ -z "$SSH_CONNECTION" ] && kill -STOP $PPID; true',
        forks=2,
        options=options,
        deadline_grace=1.0,
    )
    got = {r.host: r for r in report.results}
    assert got["wedged"].status is Status.TIMEOUT
    assert "no answer from worker" in got["wedged"].error
    assert got["h0"].status is Status.OK
