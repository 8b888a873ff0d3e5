"""Ctrl-C through the real CLI (killed and wedged workers: test_engines.py, on every engine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from tests.procs import foreground_signals, group_reaped, marked_pids, wait_for
from tests.sshd import SSHLab


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
        preexec_fn=foreground_signals,
    )
    with group_reaped(proc):
        assert wait_for(lambda: len(list(tmp_path.glob("started.*"))) >= 5), (
            "commands never started"
        )
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    data = json.loads(out)
    assert data["interrupted"] is True
    assert len(data["results"]) == 5
    assert {r["status"] for r in data["results"]} == {"interrupted"}
    # No worker, forkserver or local command of that run survives it.
    assert wait_for(lambda: not marked_pids(mark), timeout=10), marked_pids(mark)


def test_a_sigkilled_cli_leaves_no_worker_and_no_command(tmp_path: Path) -> None:
    """SIGKILL gives the CLI no chance to clean up: the workers notice their owner is gone
    (their parent is the forkserver), stop their commands and exit."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[all]\n" + "".join(f"l{i} ansible_connection=local\n" for i in range(3)))
    mark = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "hostpool", "exec", "-i", str(inventory), "-f", "3",
         f"touch {tmp_path}/started.$$; sleep 60"],
        env=dict(os.environ, HOSTPOOL_TEST_MARK=mark, HOSTPOOL_STATE_DIR=str(tmp_path)),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(lambda: len(list(tmp_path.glob("started.*"))) >= 3), "never started"
        proc.kill()
        proc.wait()
        assert wait_for(lambda: not marked_pids(mark), timeout=10), marked_pids(mark)
    finally:
        for pid in marked_pids(mark):
            os.kill(pid, signal.SIGKILL)
