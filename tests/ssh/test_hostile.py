"""Peers that are not what they claim, signals to the CLI, and paths checked up front."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import hostpool as hostpool_api
from hostpool.models import Status
from tests.cliutil import hostpool
from tests.procs import local, marked_pids, wait_for
from tests.sshd import SSHLab


@pytest.fixture
def fault_server() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback port that answers every connection with the bytes queued for it."""
    replies: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                for chunk in replies or [b""]:
                    conn.sendall(chunk)
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], replies
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-x\x1b]0;PWNED\x07 evil\r\n" + b"\x00garbage" * 50,
        b"SSH-1.5-\x1b[2Jold\r\n",
        b"HTTP/1.1 400 Bad Request\r\nServer: \x1b]0;PWNED\x07\r\n\r\n",
    ],
    ids=["hostile-version", "ssh1", "http"],
)
def test_protocol_garbage_is_unreachable_in_one_clean_line(
    fault_server: tuple[int, list[bytes]], tmp_path: Path, reply: bytes
) -> None:
    port, replies = fault_server
    replies.append(reply)
    done = hostpool("exec", "-i", f"127.0.0.1:{port},", "--ssh-config", "none",
                    "--connect-timeout", "3", "true", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr
    assert "unreachable" in done.stdout
    for text in (done.stdout, done.stderr):
        assert "\x1b" not in text and "\x07" not in text  # nothing retitles the terminal
        assert "Traceback" not in text
    assert len(done.stderr.splitlines()) <= 2, done.stderr  # no paramiko log flood


def test_sigterm_ends_the_run_like_ctrl_c(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    inv = tmp_path / "inv.ini"
    inv.write_text("a ansible_connection=local\nb ansible_connection=local\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hostpool", "exec", "-i", str(inv), "-o", "json", "--",
         f"HOSTPOOL_TEST_MARK={mark} sleep 60"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HOSTPOOL_STATE_DIR": str(tmp_path / "state")},
    )  # fmt: skip
    try:
        assert wait_for(lambda: len(marked_pids(mark)) >= 2, timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    report = json.loads(out)
    assert report["interrupted"] and {r["status"] for r in report["results"]} == {"interrupted"}
    assert wait_for(lambda: not marked_pids(mark), timeout=30), marked_pids(mark)


def test_output_paths_are_checked_before_any_host_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    blocker = tmp_path / "file"
    blocker.write_text("")
    bad_dir = hostpool("exec", "--out-dir", str(blocker / "sub"), "--", f"touch {marker}",
                       cwd=tmp_path)  # fmt: skip
    assert bad_dir.returncode == 2 and "--out-dir" in bad_dir.stderr
    bad_junit = hostpool("exec", "--junit-file", str(tmp_path / "missing" / "j.xml"), "--",
                         f"touch {marker}", cwd=tmp_path)  # fmt: skip
    assert bad_junit.returncode == 2 and "--junit-file" in bad_junit.stderr
    assert not marker.exists()


def test_insecure_ignore_host_keys_warns(tmp_path: Path) -> None:
    done = hostpool("exec", "--insecure-ignore-host-keys", "true", cwd=tmp_path)
    assert done.returncode == 0
    assert "host keys are not checked" in done.stderr


def test_a_background_child_holding_stdout_does_not_hang_the_run(
    ssh_lab: SSHLab, tmp_path: Path
) -> None:
    mark = uuid.uuid4().hex
    command = f"echo before; HOSTPOOL_TEST_MARK={mark} sleep 30 & echo after"
    targets = [ssh_lab.target(0), local("here")]
    try:
        report = hostpool_api.run(targets, command, options=ssh_lab.options(command_timeout=None))
        assert [r.status for r in report.results] == [Status.OK, Status.OK], report.results
        assert all(r.stdout == b"before\nafter\n" for r in report.results)
    finally:
        for pid in marked_pids(mark):  # the ssh side's leftover (started by this test)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_host_that_stops_answering_mid_command_is_unreachable_without_a_timeout(
    ssh_lab: SSHLab, tmp_path: Path
) -> None:
    # The remote shell's parent is the sshd process serving this session: stopping it
    # freezes the peer exactly as a hung host would.  Only keepalives can notice.
    pidfile = tmp_path / "session.pid"
    command = f"echo $PPID > {pidfile}; sleep 60"
    options = ssh_lab.options(command_timeout=None, keepalive=0.5)
    box: dict[str, object] = {}
    worker = threading.Thread(
        target=lambda: box.update(report=hostpool_api.run([ssh_lab.target(0)], command,
                                                          options=options)),
        daemon=True,
    )  # fmt: skip
    worker.start()
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "", timeout=30)
    session = int(pidfile.read_text())
    os.kill(session, signal.SIGSTOP)
    try:
        worker.join(60)
        assert not worker.is_alive(), "the run hung on a stopped peer"
    finally:
        os.kill(session, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.kill(session, signal.SIGTERM)
    (result,) = box["report"].results  # type: ignore[attr-defined]
    assert result.status is Status.UNREACHABLE, result
    assert "keepalives" in result.error
