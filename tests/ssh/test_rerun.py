"""Last-run state and --limit @failed, retries, fail-fast/max-fail against the real sshd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cliutil import first_address_case, hostpool, lab_args
from tests.sshd import SSHLab


@pytest.fixture
def mixed(ssh_lab: SSHLab, tmp_path: Path, refused_port: int) -> tuple[str, ...]:
    """h0..h2 on sshd plus d0, a host whose port refuses connections."""
    extra = f"d0 ansible_host=127.0.0.1 ansible_port={refused_port}\n"
    inv = ssh_lab.inventory(tmp_path / "lab.ini", n=3, extra=extra)
    # The extra line is appended to [lab]'s section, so d0 is in the same group.
    return lab_args(ssh_lab, inv)


def hosts_of(done: object) -> dict[str, str]:
    data = json.loads(done.stdout)  # type: ignore[attr-defined]
    return {r["host"]: r["status"] for r in data["results"]}


def test_last_run_records_failures_and_limit_failed_reruns_them(
    mixed: tuple[str, ...], tmp_path: Path
) -> None:
    first = hostpool("exec", *mixed, f"{first_address_case('exit 2')}; true", cwd=tmp_path)
    assert first.returncode == 4
    state = json.loads((tmp_path / "state" / "last-run.json").read_text())
    assert sorted(state["failed"]) == ["d0", "h0"]
    assert state["hosts"]["h0"]["status"] == "failed"
    assert state["hosts"]["d0"]["status"] == "unreachable"
    assert state["hosts"]["h1"]["status"] == "ok"
    assert state["inventory"] == mixed[1] and state["pattern"] == "all"
    assert "exit 2" in state["command"] and state["kind"] == "exec" and state["time"]

    again = hostpool("exec", *mixed, "-l", "@failed", "-o", "json", "echo again", cwd=tmp_path)
    assert hosts_of(again) == {"h0": "ok", "d0": "unreachable"}
    rerun = hostpool("exec", *mixed, "--rerun-failed", "-o", "json", "true", cwd=tmp_path)
    assert set(hosts_of(rerun)) == {"d0"}  # h0 succeeded in between
    # Intersected with the selection: d0 is the only failed host, and it is excluded here.
    excluded = hostpool("exec", *mixed, "--rerun-failed", "-l", "h*", "true", cwd=tmp_path)
    assert excluded.returncode == 3 and "none of the hosts" in excluded.stderr


def test_rerun_without_failures_or_state_is_config_error(ssh_lab: SSHLab, tmp_path: Path) -> None:
    args = lab_args(ssh_lab, ssh_lab.inventory(tmp_path / "lab.ini", n=2))
    nothing = hostpool("exec", *args, "-l", "@failed", "true", cwd=tmp_path)
    assert nothing.returncode == 3 and "no previous run" in nothing.stderr
    assert hostpool("exec", *args, "true", cwd=tmp_path).returncode == 0
    clean = hostpool("exec", *args, "--rerun-failed", "true", cwd=tmp_path)
    assert clean.returncode == 3 and "no failed hosts" in clean.stderr


def test_state_dir_defaults_to_dot_hostpool_in_cwd(ssh_lab: SSHLab, tmp_path: Path) -> None:
    args = lab_args(ssh_lab, ssh_lab.inventory(tmp_path / "lab.ini", n=1))
    done = hostpool("exec", *args, "exit 1", cwd=tmp_path, env={"HOSTPOOL_STATE_DIR": ""})
    assert done.returncode == 1
    state = json.loads((tmp_path / ".hostpool" / "last-run.json").read_text())
    assert state["failed"] == ["h0"]


def test_copy_and_fetch_runs_are_recorded(ssh_lab: SSHLab, tmp_path: Path) -> None:
    args = lab_args(ssh_lab, ssh_lab.inventory(tmp_path / "lab.ini", n=2))
    fetch = hostpool("fetch", *args, str(tmp_path / "missing"), str(tmp_path / "o"), cwd=tmp_path)
    assert fetch.returncode == 1
    state = json.loads((tmp_path / "state" / "last-run.json").read_text())
    assert state["kind"] == "fetch" and sorted(state["failed"]) == ["h0", "h1"]


def test_retries_repeat_connection_failures_only(mixed: tuple[str, ...], tmp_path: Path) -> None:
    done = hostpool(
        "exec",
        *mixed,
        "-o",
        "json",
        "--retries",
        "2",
        "--retry-delay",
        "0.05",
        f"{first_address_case('exit 3')}; true",
        cwd=tmp_path,
    )
    results = {r["host"]: r for r in json.loads(done.stdout)["results"]}
    assert results["d0"]["attempts"] == 3 and results["d0"]["status"] == "unreachable"
    assert results["h0"]["attempts"] == 1 and results["h0"]["status"] == "failed"
    assert results["h1"]["attempts"] == 1


def test_fail_fast_stops_the_run(ssh_lab: SSHLab, tmp_path: Path) -> None:
    args = lab_args(ssh_lab, ssh_lab.inventory(tmp_path / "lab.ini"))
    cmd = f"{first_address_case('exit 9')}; sleep 1"
    done = hostpool("exec", *args, "-f", "1", "--fail-fast", "-o", "json", cmd, cwd=tmp_path)
    data = json.loads(done.stdout)
    statuses = {r["host"]: r["status"] for r in data["results"]}
    assert statuses["h0"] == "failed"
    # forks=1 dispatches two at a time: h1 may have run, h2 and h3 never did.
    assert statuses["h2"] == statuses["h3"] == "interrupted"
    assert data["stopped_early"] is True
    assert done.returncode == 1
    state = json.loads((tmp_path / "state" / "last-run.json").read_text())
    assert {"h0", "h2", "h3"} <= set(state["failed"])


def test_max_fail_counts_failures(ssh_lab: SSHLab, tmp_path: Path) -> None:
    args = lab_args(ssh_lab, ssh_lab.inventory(tmp_path / "lab.ini"))
    everyone_fails = hostpool(
        "exec", *args, "-f", "1", "--max-fail", "2", "-o", "json", "exit 1", cwd=tmp_path
    )
    statuses = [r["status"] for r in json.loads(everyone_fails.stdout)["results"]]
    assert statuses[:2] == ["failed", "failed"]
    assert "interrupted" in statuses
    below = hostpool(
        "exec",
        *args,
        "--max-fail",
        "2",
        "-o",
        "json",
        f"{first_address_case('exit 1')}; true",
        cwd=tmp_path,
    )
    assert sorted(hosts_of(below).values()) == ["failed", "ok", "ok", "ok"]
