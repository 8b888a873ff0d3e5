"""Remote commands do not outlive the run (issue 16): after a timeout, Ctrl-C, fail-fast,
a lost worker, and with ``--pty``, nothing the command started is left on the host.

The hosts are a real sshd on 127.0.0.x, so "on the host" is this machine's /proc; each
test's command sleeps a unique duration to be found by.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.cliutil import hostpool
from tests.procs import group_reaped, marked_pids, sleeping, started, wait_for
from tests.sshd import SSHLab

STOP_BOUND = 6.0  # TERM, two seconds' grace, KILL, plus scheduling slack


@pytest.fixture
def tag() -> str:
    return f"{800 + uuid.uuid4().int % 99}.{uuid.uuid4().int % 10**6:06d}"


def inventory(ssh_lab: SSHLab, tmp_path: Path, n: int = 3) -> Path:
    return ssh_lab.inventory(tmp_path / "hosts.ini", n=n)


def cli(ssh_lab: SSHLab, tmp_path: Path, *args: str) -> list[str]:
    inv = inventory(ssh_lab, tmp_path)
    return ["exec", "-i", str(inv), "--known-hosts", str(ssh_lab.known_hosts), *args]


def test_timeout_stops_the_command_and_its_background_children(
    ssh_lab: SSHLab, tmp_path: Path, tag: str
) -> None:
    args = cli(ssh_lab, tmp_path, "-o", "json", "-t", "1", f"sleep {tag} & sleep {tag}")
    done = hostpool(*args, cwd=tmp_path)
    results = json.loads(done.stdout)["results"]
    assert {r["status"] for r in results} == {"timeout"}, done.stderr
    assert wait_for(lambda: not sleeping(tag), timeout=STOP_BOUND), sleeping(tag)


def test_pty_timeout_hangs_the_command_up(ssh_lab: SSHLab, tmp_path: Path, tag: str) -> None:
    args = cli(ssh_lab, tmp_path, "-o", "json", "--pty", "-t", "1", f"tty; sleep {tag}")
    done = hostpool(*args, cwd=tmp_path)
    results = json.loads(done.stdout)["results"]
    assert {r["status"] for r in results} == {"timeout"}, done.stderr
    assert all(r["stdout"].startswith("/dev/pts/") for r in results), results
    assert wait_for(lambda: not sleeping(tag), timeout=STOP_BOUND), sleeping(tag)


def test_pty_output_is_the_bytes_the_command_wrote(ssh_lab: SSHLab, tmp_path: Path) -> None:
    args = cli(ssh_lab, tmp_path, "-o", "json", "--pty", "printf 'a\\nb\\n'; echo err >&2")
    done = hostpool(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for result in json.loads(done.stdout)["results"]:
        assert result["stdout"] == "a\nb\nerr\n"  # no CR added; stderr merged, as on a tty


def test_fail_fast_stops_the_hosts_still_running(ssh_lab: SSHLab, tmp_path: Path, tag: str) -> None:
    # 127.0.0.1 fails at once; the others are still sleeping when the run aborts.
    command = f'case "$SSH_CONNECTION" in *" 127.0.0.1 "*) exit 3;; esac; sleep {tag}'
    done = hostpool(*cli(ssh_lab, tmp_path, "-o", "json", "--fail-fast", command), cwd=tmp_path)
    statuses = sorted(r["status"] for r in json.loads(done.stdout)["results"])
    assert "failed" in statuses and len(statuses) == 3, done.stderr
    assert wait_for(lambda: not sleeping(tag), timeout=STOP_BOUND), sleeping(tag)


def test_ctrl_c_stops_the_remote_commands(ssh_lab: SSHLab, tmp_path: Path, tag: str) -> None:
    mark = uuid.uuid4().hex
    proc = started(cli(ssh_lab, tmp_path, "-o", "json", f"sleep {tag}"), tmp_path, mark)
    with group_reaped(proc):
        assert wait_for(lambda: len(sleeping(tag)) >= 3, timeout=30), "never started"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert {r["status"] for r in json.loads(out)["results"]} == {"interrupted"}
    assert wait_for(lambda: not sleeping(tag), timeout=STOP_BOUND), sleeping(tag)


def test_a_killed_worker_leaves_nothing_running(ssh_lab: SSHLab, tmp_path: Path, tag: str) -> None:
    """SIGKILL gives the worker no chance to say anything: the lifeline is all there is."""
    mark = uuid.uuid4().hex
    args = cli(ssh_lab, tmp_path, "-o", "json", "-t", "60", f"sleep {tag}")
    proc = started(args, tmp_path, mark)
    with group_reaped(proc):
        assert wait_for(lambda: len(sleeping(tag)) >= 3, timeout=30), "never started"
        for pid in marked_pids(mark):
            if pid != proc.pid:  # the workers and their forkserver, not the CLI
                os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not sleeping(tag), timeout=STOP_BOUND), sleeping(tag)
        out, err = proc.communicate(timeout=60)
    results = json.loads(out)["results"]
    assert len(results) == 3 and "ok" not in {r["status"] for r in results}, err.decode()


def test_stdin_is_sent_to_every_host_unless_no_stdin(ssh_lab: SSHLab, tmp_path: Path) -> None:
    import hashlib

    data = bytes(range(256)) * 4000 + b"\nlast line without newline"  # ~1 MB, binary
    inv = ssh_lab.inventory(
        tmp_path / "hosts.ini", n=3, extra="[here]\nme ansible_connection=local\n"
    )
    base = ["exec", "-i", str(inv), "--known-hosts", str(ssh_lab.known_hosts), "-o", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "hostpool", *base, "sha256sum"],
        input=data,
        capture_output=True,
        env=dict(os.environ, HOSTPOOL_STATE_DIR=str(tmp_path)),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert len(results) == 4
    digest = hashlib.sha256(data).hexdigest()
    assert {r["stdout"].split()[0] for r in results} == {digest}
    quiet = subprocess.run(
        [sys.executable, "-m", "hostpool", *base, "-n", "wc -c"],
        input=data,
        capture_output=True,
        env=dict(os.environ, HOSTPOOL_STATE_DIR=str(tmp_path)),
        timeout=120,
    )
    assert {r["stdout"].strip() for r in json.loads(quiet.stdout)["results"]} == {"0"}


def test_the_run_limit_times_out_what_is_left_and_stops_it(
    ssh_lab: SSHLab, tmp_path: Path, tag: str
) -> None:
    """--run-timeout (default 3600 s, shown in --help): one host running, two queued."""
    args = cli(ssh_lab, tmp_path, "-o", "json", "-f", "1", "--run-timeout", "2", f"sleep {tag}")
    done = hostpool(*args, cwd=tmp_path)
    results = json.loads(done.stdout)["results"]
    assert {r["status"] for r in results} == {"timeout"}, done.stderr
    errors = sorted(r["error"] for r in results)
    assert errors == ["not run: run limit of 2s reached"] * 2 + ["run limit of 2s reached"]
    assert wait_for(lambda: not sleeping(tag), timeout=STOP_BOUND), sleeping(tag)
    help_text = hostpool("exec", "--help", cwd=tmp_path, env={"COLUMNS": "200"}).stdout
    assert "--run-timeout" in help_text and "3600" in help_text


def test_a_command_that_closes_its_output_before_it_ends_is_not_stopped(
    ssh_lab: SSHLab, tmp_path: Path
) -> None:
    """procps' uptime (and coreutils) close stdout at exit and run on for a moment: the
    streams end before the exit status.  Closing the lifeline then stopped them ("killed
    by a signal", seen on the docker lab); it now waits for the exit status."""
    command = "echo out; exec >&- 2>&-; sleep 0.5; exit 3"
    done = hostpool(*cli(ssh_lab, tmp_path, "-o", "json", command), cwd=tmp_path)
    for result in json.loads(done.stdout)["results"]:
        assert (result["status"], result["exit_code"], result["stdout"]) == ("failed", 3, "out\n")
