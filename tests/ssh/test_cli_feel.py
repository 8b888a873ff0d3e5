"""The CLI as the ops tools feel: trailing words, --version, completion, the built-in
default from any directory, ad-hoc lists, and output that never rewrites what hosts sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cliutil import hostpool, lab_args
from tests.procs import foreground_signals
from tests.sshd import SSHLab


def test_version(tmp_path: Path) -> None:
    done = hostpool("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("hostpool ")


def test_completion_script_is_generated(tmp_path: Path) -> None:
    done = hostpool("--show-completion", "bash", cwd=tmp_path, env={"SHELL": "/bin/bash"})
    assert done.returncode == 0, done.stderr
    assert "complete" in done.stdout and "hostpool" in done.stdout.lower()


def test_built_in_default_from_any_directory_and_trailing_words(tmp_path: Path) -> None:
    done = hostpool("exec", "-o", "json", "echo", "hello", "world", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert (result["host"], result["stdout"]) == ("localhost", "hello world\n")
    dashed = hostpool("exec", "-o", "json", "--", "ls", "-d", "/tmp", cwd=tmp_path)
    assert json.loads(dashed.stdout)["results"][0]["stdout"] == "/tmp\n"


def test_options_end_at_the_command(tmp_path: Path) -> None:
    # `echo -n` is the command's option, not hostpool's.
    done = hostpool("exec", "-o", "json", "echo", "-n", "x", cwd=tmp_path)
    assert json.loads(done.stdout)["results"][0]["stdout"] == "x"


def test_ad_hoc_lists_take_users_ports_and_ranges(tmp_path: Path) -> None:
    done = hostpool("hosts", "-i", "deploy@web[01:03]:2222,db1,", "--json", cwd=tmp_path)
    hosts = json.loads(done.stdout)
    assert [(h["name"], h["user"], h["port"]) for h in hosts] == [
        ("web01", "deploy", 2222),
        ("web02", "deploy", 2222),
        ("web03", "deploy", 2222),
        ("db1", None, 22),
    ]


def test_a_single_name_that_is_not_a_file_gets_a_hint(tmp_path: Path) -> None:
    done = hostpool("hosts", "-i", "web1", cwd=tmp_path)
    assert done.returncode == 3 and "for one host, write 'web1,'" in done.stderr


def test_table_keeps_what_hosts_printed(tmp_path: Path) -> None:
    done = hostpool("exec", "--", "printf '12.10\\n007\\n1e3\\n'", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "12.10 (+2 lines)" in done.stdout
    listed = hostpool("hosts", "-i", "007,1e3:2222,", cwd=tmp_path)
    assert " 007 " in listed.stdout and "1e3" in listed.stdout and "2222" in listed.stdout


def test_rollout_api_stops_after_a_failing_batch() -> None:
    import hostpool
    from hostpool.pool.rollout import Batch, rollout
    from tests.procs import local

    hosts = [local(f"h{i}") for i in range(6)]
    with hostpool.Pool(forks=2) as pool:
        report = rollout(
            pool,
            lambda t: "exit 3" if t.name == "h1" else "echo ran",
            hosts,
            Batch.parse("33%"),
            max_fail_percent=40,
        )
    statuses = [r.status.value for r in report]
    assert statuses == ["ok", "failed", "interrupted", "interrupted", "interrupted", "interrupted"]
    assert report.stopped_early and "rollout stopped after batch 1/3" in report.results[2].error
    assert report.exit_code() == 1


def test_rolling_batches_stop_on_the_failure_threshold(tmp_path: Path) -> None:
    inv = tmp_path / "inv.ini"
    inv.write_text("".join(f"h{i} ansible_connection=local\n" for i in range(6)))
    first_fails = f"if mkdir {tmp_path}/lock 2>/dev/null; then exit 3; fi; echo ran"
    done = hostpool("exec", "-i", str(inv), "--batch", "2", "--max-fail-percent", "40",
                    "-o", "json", "--", first_fails, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)["results"]
    assert sorted(r["status"] for r in results[:2]) == ["failed", "ok"]  # batch 1 ran
    assert [r["status"] for r in results[2:]] == ["interrupted"] * 4  # the rest did not
    assert "rollout stopped after batch 1/3" in results[2]["error"]
    everything = hostpool("exec", "-i", str(inv), "--batch", "50%", "-o", "json", "true",
                          cwd=tmp_path)  # fmt: skip
    assert [r["status"] for r in json.loads(everything.stdout)["results"]] == ["ok"] * 6


def test_script_is_sent_run_with_its_args_and_removed(ssh_lab: SSHLab, tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text('#!/bin/sh\nprintf "%s|" "$@"; echo; test -x "$0" && echo exec-ok\nexit 4\n')
    inv = ssh_lab.inventory(tmp_path / "lab.ini", n=2, extra="here ansible_connection=local\n")
    before = set(Path("/tmp").glob(".hostpool-script-*"))
    done = hostpool("script", *lab_args(ssh_lab, inv), "-o", "json", str(script), "a", "b c",
                    cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)["results"]
    assert [r["host"] for r in results] == ["h0", "h1", "here"]
    for r in results:
        assert (r["status"], r["exit_code"]) == ("failed", 4)
        assert r["stdout"] == "a|b c|\nexec-ok\n"
    assert set(Path("/tmp").glob(".hostpool-script-*")) == before  # removed on every host


def _only_runpy(err: str) -> bool:
    """A KeyboardInterrupt raised while the interpreter was still finding the package
    (runpy, the editable install's finder): no frame is hostpool's own code."""
    frames = [line for line in err.splitlines() if line.strip().startswith("File ")]
    return bool(frames) and not any("/hostpool/" in line for line in frames)


@pytest.mark.parametrize("delay", [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4])
def test_ctrl_c_during_start_up_ends_quietly(tmp_path: Path, delay: float) -> None:
    """Whatever import of ours is running when Ctrl-C lands: one line and 130, no
    traceback.  Before hostpool's first line runs, the interpreter's own start-up owns
    the signal (site and the editable-install finder: a "Fatal Python error" of its own,
    or the plain signal death); that window is outside any program's reach."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hostpool", "exec", "sleep 5"],
        cwd=tmp_path,
        env=dict(os.environ, HOSTPOOL_STATE_DIR=str(tmp_path)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=foreground_signals,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if err.startswith("Fatal Python error: init_import_site") or _only_runpy(err):
        return
    assert "Traceback" not in err, err
    assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
