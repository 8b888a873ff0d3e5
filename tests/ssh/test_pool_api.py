"""The Pool in multiprocessing's vocabulary, on local and ssh hosts, against a real sshd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import hostpool
from hostpool import Copy, Exec, Fetch, Pool, Status, Target
from tests.procs import foreground_signals, local, marked_pids, wait_for
from tests.sshd import SSHLab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "ssh"])
def hosts(request: pytest.FixtureRequest) -> list[Target]:
    if request.param == "local":
        return [local(f"l{i}") for i in range(4)]
    lab: SSHLab = request.getfixturevalue("ssh_lab")
    return lab.targets(4)


@pytest.fixture
def options(ssh_lab: SSHLab) -> hostpool.SSHOptions:
    return ssh_lab.options()


def test_every_method(hosts: list[Target], options: hostpool.SSHOptions) -> None:
    names = [t.name for t in hosts]
    seen: list[str] = []
    with Pool(options, forks=4) as pool:
        assert pool.apply(hosts[0], "echo one").stdout == b"one\n"
        handle = pool.apply_async(hosts[1], "exit 3", callback=lambda r: seen.append(r.host))
        result = handle.get(timeout=60)
        assert result.status is Status.FAILED and result.exit_code == 3
        assert handle.ready() and not handle.successful()
        report = pool.map(lambda t: f"echo {t.name}", hosts)
        assert [r.stdout.decode().strip() for r in report] == names
        mapped = pool.map_async("true", hosts)
        assert mapped.get(timeout=60).exit_code() == 0 and mapped.successful()
        assert [r.host for r in pool.imap("sleep 0.$((RANDOM % 3))", hosts)] == names
        assert sorted(r.host for r in pool.imap_unordered("true", hosts)) == sorted(names)
    assert seen == [hosts[1].name]  # no error_callback: the failure reached callback


def test_error_callback_gets_failures_as_host_failed(hosts: list[Target]) -> None:
    ok: list[hostpool.HostResult] = []
    bad: list[BaseException] = []
    with Pool(forks=2) as pool:
        pool.apply_async(local("good"), "true", callback=ok.append, error_callback=bad.append)
        pool.apply_async(local("bad"), "exit 4", callback=ok.append, error_callback=bad.append)
    assert [r.host for r in ok] == ["good"]
    (failure,) = bad
    assert isinstance(failure, hostpool.HostFailed) and failure.result.exit_code == 4


def test_sized_at_construction_not_by_the_first_call(tmp_path: Path) -> None:
    # Every host waits until all eight are running: only possible if eight run at once,
    # after the pool already served a one-host call.
    hosts = [local(f"b{i}") for i in range(8)]
    barrier = (
        f"touch {tmp_path}/$0; n=0; while [ $(ls {tmp_path} | wc -l) -lt 8 ]; do "
        "n=$((n+1)); [ $n -gt 600 ] && exit 9; sleep 0.05; done"
    )
    with Pool(forks=8) as pool:
        assert pool.apply(hosts[0], "true").ok
        report = pool.map(lambda t: Exec(barrier.replace("$0", t.name)), hosts)
    assert report.exit_code() == 0, report.results


def test_four_threads_submit_fifty_each() -> None:
    hosts = [local(f"t{i}") for i in range(5)]
    got: list[tuple[int, str]] = []
    lock = threading.Lock()
    with Pool(forks=8) as pool:

        def submit(thread: int) -> None:
            handles = [pool.apply_async(hosts[i % 5], f"echo {thread}-{i}") for i in range(50)]
            for handle in handles:
                r = handle.get(timeout=120)
                with lock:
                    got.append((thread, r.stdout.decode().strip()))

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
    assert len(got) == 200
    assert {line for _, line in got} == {f"{t}-{i}" for t in range(4) for i in range(50)}


def test_a_raising_callback_is_reported_and_the_run_goes_on(
    capfd: pytest.CaptureFixture[str],
) -> None:
    calls: list[str] = []

    def flaky(result: hostpool.HostResult) -> None:
        calls.append(result.host)
        if result.host == "c0":
            raise RuntimeError("callback bug")

    with Pool(forks=2) as pool:
        report = pool.map("true", [local(f"c{i}") for i in range(4)], on_result=flaky)
        assert pool.apply(local("after"), "echo still").stdout == b"still\n"
    assert report.exit_code() == 0 and sorted(calls) == ["c0", "c1", "c2", "c3"]
    err = capfd.readouterr().err
    assert "a callback raised" in err and "callback bug" in err


def test_per_call_sudo_env_timeout_keep_the_workers(tmp_path: Path) -> None:
    here = local("here")
    with Pool(forks=1) as pool:
        first = pool.apply(here, "echo $PPID")
        env = pool.apply(here, Exec('echo "$A:$PPID"', env=(("A", "x"),)))
        slow = pool.apply(here, Exec("sleep 5", timeout=0.3))
        again = pool.apply(here, "echo $PPID")
    assert env.stdout.decode().strip() == f"x:{first.stdout.decode().strip()}"
    assert slow.status is Status.TIMEOUT
    assert again.stdout == first.stdout  # the same worker process throughout


def test_copy_and_fetch_actions(tmp_path: Path) -> None:
    src = tmp_path / "motd"
    src.write_text("hi\n")
    with Pool(forks=2) as pool:
        copied = pool.apply(local("h"), Copy(str(src), str(tmp_path / "dest"), mode=0o600))
        fetched = pool.apply(local("h"), Fetch(str(tmp_path / "dest"), str(tmp_path / "out")))
    assert copied.ok and fetched.ok
    assert (tmp_path / "out" / "h" / "dest").read_text() == "hi\n"


def test_connections_are_reused_across_calls(ssh_lab: SSHLab) -> None:
    # The sshd session process (the remote shell's parent) names the connection.
    hosts = ssh_lab.targets(4)
    sessions: set[bytes] = set()
    with Pool(ssh_lab.options(), forks=4, processes=2) as pool:
        for _ in range(20):
            report = pool.map("echo $PPID", hosts)
            assert report.exit_code() == 0
            sessions |= {r.stdout for r in report}
    # At most one connection per host per worker process, for 80 commands.
    assert len(sessions) <= 2 * len(hosts), len(sessions)


def test_work_submitted_after_close_is_refused() -> None:
    pool = Pool(forks=1)
    pool.close()
    with pytest.raises(ValueError, match="not running"):
        pool.apply_async(local("x"), "true")
    pool.join()


SCRIPT = """
import sys
import hostpool
targets = [hostpool.Target(name=f"s{{i}}", address="localhost",
           connection=hostpool.Connection.LOCAL) for i in range(3)]
opts = hostpool.SSHOptions(env=(("HOSTPOOL_TEST_MARK", "{mark}"),))
try:
    report = hostpool.run(targets, "{command}", options=opts, context="{method}")
except hostpool.Interrupted as stop:
    print("INTERRUPTED", stop.report.summary(), flush=True)
    print(sorted(r.status.value for r in stop.report), flush=True)
    raise
print("DONE", report.summary(), flush=True)
"""


@pytest.mark.parametrize("method", ["forkserver", "spawn", "fork"])
def test_a_script_without_main_guard_runs_once(tmp_path: Path, method: str) -> None:
    script = tmp_path / "deploy.py"
    script.write_text(SCRIPT.format(mark="none", command="echo ok", method=method))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DONE 3 hosts: 3 ok" in done.stdout
    assert done.stderr == ""


def test_ctrl_c_raises_interrupted_after_accounting_for_every_host(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    script = tmp_path / "stop_start.py"
    script.write_text(SCRIPT.format(mark=mark, command="sleep 60", method="forkserver"))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
        preexec_fn=foreground_signals,
    )
    try:
        assert wait_for(lambda: len(marked_pids(mark)) >= 3, timeout=60)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0  # the script stopped: it did not carry on
    assert "INTERRUPTED 3 hosts: 3 interrupted" in out, (out, err[-2000:])
    assert "KeyboardInterrupt" in err or "Interrupted" in err
    assert wait_for(lambda: not marked_pids(mark), timeout=30), marked_pids(mark)


def test_terminate_from_another_thread_answers_every_waiting_call() -> None:
    pool = Pool(forks=2)
    handle = pool.map_async("sleep 30", [local("a"), local("b")])
    assert wait_for(lambda: not handle.ready(), timeout=5)
    time.sleep(0.5)
    pool.terminate()
    with pytest.raises(hostpool.Interrupted) as stop:
        handle.get(timeout=60)
    assert {r.status for r in stop.value.report} == {Status.INTERRUPTED}
