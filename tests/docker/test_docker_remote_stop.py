"""Inside real containers (issue 16): remote commands do not outlive the run, over ssh to
a node and over ``connection=docker`` to the box, after a timeout, a fail-fast abort and
a killed worker (``docker top`` lists a container's processes from the host's side); and
directories are copied and fetched over ``docker exec``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import hostpool
from hostpool.models import Copy, Exec, Fetch, Status, Target
from tests.procs import group_reaped, marked_pids, wait_for

if TYPE_CHECKING:
    from conftest import Lab

pytestmark = pytest.mark.docker

STOP_BOUND = 8.0


def sleeping(lab: Lab, container: str, tag: str) -> list[str]:
    out = lab.docker("top", container, "-eo", "pid,args", check=False)
    return [line for line in out.splitlines() if f"sleep {tag}" in line and "sh -c" not in line]


@pytest.fixture
def tag() -> str:
    return f"{700 + uuid.uuid4().int % 99}.{uuid.uuid4().int % 10**6:06d}"


def where(lab: Lab, kind: str) -> tuple[Target, str]:
    if kind == "ssh":
        return lab.target("node1"), lab.container("node1")
    box = lab.box()
    return box, box.address


@pytest.mark.parametrize("kind", ["ssh", "docker"])
def test_timeout_leaves_nothing_in_the_container(lab: Lab, kind: str, tag: str) -> None:
    target, container = where(lab, kind)
    action = Exec(f"sleep {tag} & sleep {tag}", timeout=1.5)
    report = hostpool.run([target], action, options=lab.options())
    assert report.results[0].status is Status.TIMEOUT, report.results[0]
    assert wait_for(lambda: not sleeping(lab, container, tag), timeout=STOP_BOUND)


@pytest.mark.parametrize("kind", ["ssh", "docker"])
def test_fail_fast_leaves_nothing_in_the_container(lab: Lab, kind: str, tag: str) -> None:
    target, container = where(lab, kind)
    failing = lab.target("node2", name="fails-first")
    report = hostpool.run(
        [failing, target],
        lambda t: Exec("exit 3" if t.name == "fails-first" else f"sleep {tag}"),
        options=lab.options(),
        policy=hostpool.RunPolicy(max_fail=1),
    )
    assert {r.status for r in report.results} != {Status.OK}
    assert wait_for(lambda: not sleeping(lab, container, tag), timeout=STOP_BOUND)


def test_a_killed_worker_leaves_nothing_in_the_container(
    lab: Lab, tag: str, tmp_path: Path
) -> None:
    """The docker exec client's stdin closes with its worker: the lifeline sees it."""
    mark = uuid.uuid4().hex
    script = tmp_path / "run.py"
    box = lab.box().address
    script.write_text(
        "import hostpool\n"
        "from hostpool.models import Connection, Target\n"
        f"t = Target(name={box!r}, address={box!r}, connection=Connection.DOCKER)\n"
        f"print(hostpool.run([t], 'sleep {tag}').results[0].status)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=dict(os.environ, HOSTPOOL_TEST_MARK=mark),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    with group_reaped(proc):
        assert wait_for(lambda: bool(sleeping(lab, box, tag)), timeout=60), "never started"
        for pid in marked_pids(mark):
            # Workers and the forkserver, not the script nor the docker exec client
            # (it outlives its worker, as a client on another machine would).
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
            if pid != proc.pid and not argv.startswith(b"docker"):
                os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not sleeping(lab, box, tag), timeout=STOP_BOUND)
        proc.communicate(timeout=60)


def test_directory_copy_and_fetch_over_docker_exec(lab: Lab, tmp_path: Path) -> None:
    """connection=docker lists and makes directories with sh in the container."""
    src = tmp_path / "conf"
    (src / "sub dir").mkdir(parents=True)
    (src / "a.ini").write_text("a=1\n")
    (src / "sub dir" / "b.ini").write_text("b=2\n")
    box = lab.box()
    dest = f"/tmp/hostpool-tree-{uuid.uuid4().hex[:8]}"
    copied = hostpool.run([box], Copy(str(src), dest), options=lab.options()).results[0]
    assert copied.status is Status.OK, copied.error
    assert b"copied 2 files" in copied.stdout
    fetched = hostpool.run(
        [box], Fetch(f"{dest}/conf", str(tmp_path / "out")), options=lab.options()
    ).results[0]
    assert fetched.status is Status.OK, fetched.error
    assert (tmp_path / "out" / box.name / "conf" / "sub dir" / "b.ini").read_text() == "b=2\n"
