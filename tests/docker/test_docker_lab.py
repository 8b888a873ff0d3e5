"""hostpool against real sshd containers (docker/compose.yml).

No timing assertions: each failure mode is asserted on the documented status only.
Destructive tests act on the ``victim`` service and restore it in the ``victim`` fixture.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from threading import Thread
from typing import TYPE_CHECKING

import pytest

import hostpool
from hostpool.models import Connection, HostResult, Status, Target

if TYPE_CHECKING:
    from conftest import Lab

NODES = ("node1", "node2", "node3", "node4")  # == conftest.NODES (compose services)

pytestmark = pytest.mark.docker


# The same hosts in flight as one process each, or as lanes of a single worker process:
# a frozen or dropped connection in one lane must not hold up the other lanes.
POOLS = pytest.mark.parametrize(
    "pool", [{"forks": 3, "processes": 3}, {"forks": 3, "processes": 1}], ids=["processes", "lanes"]
)


def by_host(results: tuple[HostResult, ...]) -> dict[str, HostResult]:
    return {r.host: r for r in results}


def explain(report: hostpool.Report) -> str:
    return "\n".join(
        f"{r.host}: {r.status} rc={r.exit_code} error={r.error!r} "
        f"stdout={r.stdout[-200:]!r} stderr={r.stderr[-200:]!r}"
        for r in report.results
    )


# --------------------------------------------------------------------------- ssh


def test_multi_host_all_ok(lab: Lab) -> None:
    targets = [lab.target(n) for n in NODES]
    report = hostpool.run(targets, "hostname", forks=4, options=lab.options())

    assert [r.host for r in report.results] == list(NODES), explain(report)
    assert all(r.status is Status.OK for r in report.results), explain(report)
    assert all(r.exit_code == 0 for r in report.results)
    names = [r.stdout.decode().strip() for r in report.results]
    assert names == list(NODES)  # compose sets hostname: nodeN
    assert len(set(names)) == len(NODES)
    assert report.exit_code() == 0
    assert report.result("node3").stdout == b"node3\n"


def test_failed_command_and_stderr(lab: Lab) -> None:
    report = hostpool.run(
        [lab.target("node1"), lab.target("node2")],
        "echo out; echo err >&2; exit 7",
        forks=2,
        options=lab.options(),
    )
    for r in report.results:
        assert r.status is Status.FAILED, explain(report)
        assert r.exit_code == 7
        assert r.stdout == b"out\n"
        assert r.stderr == b"err\n"
    assert report.exit_code() == 1


def test_stopped_before_run_is_unreachable(lab: Lab, victim: str) -> None:
    lab.docker("stop", "-t", "1", lab.container(victim))
    targets = [lab.target("node1"), lab.target(victim), lab.target("node2")]
    report = hostpool.run(targets, "true", forks=3, options=lab.options(connect_timeout=3))

    res = by_host(report.results)
    assert res["node1"].status is Status.OK, explain(report)
    assert res["node2"].status is Status.OK, explain(report)
    assert res[victim].status is Status.UNREACHABLE, explain(report)
    assert res[victim].exit_code is None
    assert res[victim].error
    assert report.exit_code() == 4


def _when_running(lab: Lab, service: str, marker: str, action: str, outcome: list[str]) -> None:
    """Background: once ``marker`` runs in the container, ``docker ACTION`` it.

    Only a process whose command line *is* the marker counts: the lifeline wrapper of
    an earlier test's command carries the same text in its argv while it winds down."""
    name = lab.container(service)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            lines = lab.processes(name).splitlines()
            if any(line.split(None, 1)[1:] == [marker] for line in lines):
                args = ("stop", "-t", "1", name) if action == "stop" else (action, name)
                lab.docker(*args)
                outcome.append(action)
                return
            time.sleep(0.1)
        outcome.append("command never appeared")
    except Exception as exc:  # reported by the test
        outcome.append(f"docker {action} failed: {exc}")


def in_background(lab: Lab, service: str, marker: str, action: str) -> tuple[Thread, list[str]]:
    outcome: list[str] = []
    thread = Thread(target=_when_running, args=(lab, service, marker, action, outcome))
    thread.daemon = True
    thread.start()
    return thread, outcome


@POOLS
def test_stopped_mid_command_is_unreachable(lab: Lab, victim: str, pool: dict[str, int]) -> None:
    # A distinctive sleep so the stopper only fires once the command really runs.
    command = "sleep 5.37; echo done"
    stopper, outcome = in_background(lab, victim, "sleep 5.37", "stop")
    targets = [lab.target("node1"), lab.target(victim), lab.target("node2")]
    report = hostpool.run(targets, command, **pool, options=lab.options(command_timeout=30))
    stopper.join(timeout=40)

    assert outcome == ["stop"], outcome
    res = by_host(report.results)
    for node in ("node1", "node2"):
        assert res[node].status is Status.OK, explain(report)
        assert res[node].stdout == b"done\n"
    # Documented: a connection dropped mid-command is "unreachable", with no exit code.
    assert res[victim].status is Status.UNREACHABLE, explain(report)
    assert res[victim].exit_code is None
    assert res[victim].error


@POOLS
def test_paused_is_timeout(lab: Lab, victim: str, pool: dict[str, int]) -> None:
    lab.docker("pause", lab.container(victim))
    targets = [lab.target("node1"), lab.target(victim), lab.target("node2")]
    report = hostpool.run(
        targets, "echo hi", **pool, options=lab.options(connect_timeout=2, command_timeout=5)
    )

    res = by_host(report.results)
    assert res["node1"].status is Status.OK, explain(report)
    assert res["node2"].status is Status.OK, explain(report)
    assert res["node1"].stdout == b"hi\n"
    # The published port still accepts TCP (docker-proxy), but the frozen sshd never
    # sends its banner.
    assert res[victim].status is Status.TIMEOUT, explain(report)
    assert res[victim].exit_code is None


@POOLS
def test_paused_mid_command_is_timeout(lab: Lab, victim: str, pool: dict[str, int]) -> None:
    pauser, outcome = in_background(lab, victim, "sleep 3.41", "pause")
    report = hostpool.run(
        [lab.target("node1"), lab.target(victim)],
        "sleep 3.41; echo done",
        **pool,
        options=lab.options(command_timeout=8),
    )
    pauser.join(timeout=40)

    assert outcome == ["pause"], outcome
    res = by_host(report.results)
    assert res["node1"].status is Status.OK, explain(report)
    assert res[victim].status is Status.TIMEOUT, explain(report)
    assert res[victim].exit_code is None


def test_network_disconnected_is_unreachable(lab: Lab, victim: str) -> None:
    lab.docker("network", "disconnect", lab.network, lab.container(victim))
    targets = [lab.target("node1"), lab.target(victim)]
    report = hostpool.run(
        targets, "true", forks=2, options=lab.options(connect_timeout=3, command_timeout=5)
    )

    res = by_host(report.results)
    assert res["node1"].status is Status.OK, explain(report)
    # Docker drops the published port with the endpoint: 127.0.0.1:PORT refuses (seen
    # with docker 20.10 + docker-proxy). Without the userland proxy it could time out.
    assert res[victim].status in (Status.UNREACHABLE, Status.TIMEOUT), explain(report)
    assert res[victim].exit_code is None


def test_wrong_host_key_and_password_only(lab: Lab) -> None:
    targets = [lab.target("node1"), lab.target("badkey"), lab.target("badauth")]
    report = hostpool.run(targets, "true", forks=3, options=lab.options())

    res = by_host(report.results)
    assert res["node1"].status is Status.OK, explain(report)
    assert res["badkey"].status is Status.HOSTKEY, explain(report)
    assert res["badauth"].status is Status.AUTH, explain(report)
    assert res["badkey"].error and res["badauth"].error
    assert report.exit_code() == 4


def test_unknown_host_is_hostkey_under_strict(lab: Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.touch()
    report = hostpool.run(
        [lab.target("node1")], "true", forks=1, options=lab.options(known_hosts=(str(empty),))
    )
    assert report.result("node1").status is Status.HOSTKEY, explain(report)


# --------------------------------------------------------------------------- docker exec


def test_docker_connection_ok_and_missing(lab: Lab) -> None:
    box = lab.box("box")
    missing = lab.docker_target(f"{lab.project}-does-not-exist")
    report = hostpool.run([box, missing], "echo hi; hostname", forks=2, options=lab.options())

    assert [r.host for r in report.results] == [box.name, missing.name]
    res = by_host(report.results)
    assert res[box.name].status is Status.OK, explain(report)
    assert res[box.name].exit_code == 0
    assert res[box.name].stdout == b"hi\nbox\n"
    assert res[missing.name].status is Status.UNREACHABLE, explain(report)
    assert res[missing.name].exit_code is None
    assert res[missing.name].error
    assert report.exit_code() == 4


def test_docker_connection_failed_exit_code(lab: Lab) -> None:
    box = lab.box("box")
    report = hostpool.run([box], "echo oops >&2; exit 3", forks=1, options=lab.options())
    r = report.result(box.name)
    assert r.status is Status.FAILED, explain(report)
    assert r.exit_code == 3
    assert r.stderr == b"oops\n"
    assert report.exit_code() == 1


def test_docker_connection_stopped_container(lab: Lab) -> None:
    box2 = lab.box("box2")
    lab.docker("stop", "-t", "1", box2.name)
    try:
        report = hostpool.run([lab.box("box"), box2], "true", forks=2, options=lab.options())
        res = by_host(report.results)
        assert res[lab.container("box")].status is Status.OK, explain(report)
        assert res[box2.name].status is Status.UNREACHABLE, explain(report)
        assert res[box2.name].exit_code is None
    finally:
        lab.restore("box2")


def test_docker_connection_timeout(lab: Lab) -> None:
    box = lab.box("box")
    report = hostpool.run(
        [box], "sleep 60", forks=1, options=lab.options(command_timeout=2, connect_timeout=2)
    )
    r = report.result(box.name)
    assert r.status is Status.TIMEOUT, explain(report)
    assert r.exit_code is None
    assert r.error
    # Killing the local `docker exec` client alone would leave "sleep 60" running inside.
    left = subprocess.run(
        ["docker", "exec", box.address, "sh", "-c", "ps -eo args | grep -c '^sleep 60' || true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert left.stdout.strip() == "0", left.stdout + left.stderr


def test_mixed_ssh_and_docker_same_report_shape(lab: Lab) -> None:
    targets = [lab.target("node1"), lab.box("box")]
    report = hostpool.run(targets, "echo same; exit 0", forks=2, options=lab.options())
    ssh_r, docker_r = report.results
    assert (ssh_r.host, docker_r.host) == ("node1", lab.container("box"))
    for r in (ssh_r, docker_r):
        assert isinstance(r, HostResult)
        assert r.status is Status.OK, explain(report)
        assert r.exit_code == 0
        assert r.stdout == b"same\n"
        assert r.stderr == b""
        assert r.error == ""
        assert r.attempts >= 1
    assert report.exit_code() == 0


@POOLS
def test_paused_mid_command_without_a_timeout_is_unreachable(
    lab: Lab, victim: str, pool: dict[str, int]
) -> None:
    # No -t: only keepalives with reply tracking can end this host (issue: it hung).
    pauser, outcome = in_background(lab, victim, "sleep 3.42", "pause")
    report = hostpool.run(
        [lab.target("node1"), lab.target(victim)],
        "sleep 3.42; echo done",
        **pool,
        options=lab.options(command_timeout=None, keepalive=1.0),
    )
    pauser.join(timeout=40)

    assert outcome == ["pause"], outcome
    res = by_host(report.results)
    assert res["node1"].status is Status.OK, explain(report)
    assert res[victim].status is Status.UNREACHABLE, explain(report)
    assert "keepalives" in res[victim].error


def test_docker_connection_paused_mid_command_is_unreachable(lab: Lab, victim: str) -> None:
    # connection=docker: the `docker exec` client itself hangs on a paused container.
    pauser, outcome = in_background(lab, victim, "sleep 3.43", "pause")
    target = Target(name="c", address=lab.container(victim), connection=Connection.DOCKER)
    report = hostpool.run(
        [target], "sleep 3.43; echo done", options=lab.options(command_timeout=None, keepalive=1)
    )
    pauser.join(timeout=40)
    assert outcome == ["pause"], outcome
    (result,) = report.results
    assert result.status is Status.UNREACHABLE, explain(report)
    assert "paused" in result.error
