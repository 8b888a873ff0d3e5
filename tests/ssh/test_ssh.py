"""Runner + worker against a real sshd on loopback: every status, big output, host keys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import hostpool
from hostpool.models import HostKeyPolicy, Status
from hostpool.pool.pool import Runner, StartMethod
from tests.procs import local
from tests.sshd import SSHLab, keygen


def test_many_hosts_ok_each_once(ssh_lab: SSHLab) -> None:
    targets = ssh_lab.targets()
    report = hostpool.run(targets, "echo hello; echo oops >&2", forks=3, options=ssh_lab.options())
    assert [r.host for r in report.results] == [t.name for t in targets]
    for r in report.results:
        assert r.status is Status.OK, r
        assert r.exit_code == 0
        assert r.stdout == b"hello\n"
        assert r.stderr == b"oops\n"
        assert r.started
    assert report.exit_code() == 0


def test_nonzero_exit_is_failed(ssh_lab: SSHLab) -> None:
    report = hostpool.run(ssh_lab.targets(2), "echo out; exit 7", options=ssh_lab.options())
    assert {r.status for r in report.results} == {Status.FAILED}
    assert {r.exit_code for r in report.results} == {7}
    assert report.exit_code() == 1
    assert report.exit_code(maxrc=True) == 7
    with pytest.raises(hostpool.HostFailures) as info:
        report.raise_for_failures()
    assert info.value.hosts == ("h0", "h1")


def test_command_timeout_keeps_partial_output(ssh_lab: SSHLab) -> None:
    options = ssh_lab.options(command_timeout=1.0)
    report = hostpool.run([ssh_lab.target(0)], "echo before; sleep 20; echo after", options=options)
    r = report.results[0]
    assert r.status is Status.TIMEOUT
    assert r.exit_code is None
    assert r.stdout == b"before\n"
    assert r.started
    assert report.exit_code() == 1


def test_refused_port_is_unreachable(ssh_lab: SSHLab, refused_port: int) -> None:
    report = hostpool.run([ssh_lab.target(0, port=refused_port)], "true", options=ssh_lab.options())
    r = report.results[0]
    assert r.status is Status.UNREACHABLE
    assert "refused" in r.error
    assert report.exit_code() == 4


def test_silent_port_times_out_waiting_for_banner(ssh_lab: SSHLab, silent_port: int) -> None:
    options = ssh_lab.options(connect_timeout=1.0)
    report = hostpool.run([ssh_lab.target(0, port=silent_port)], "true", options=options)
    r = report.results[0]
    assert r.status is Status.TIMEOUT
    assert "banner" in r.error
    assert not r.started
    assert report.exit_code() == 4


def test_wrong_key_is_auth(ssh_lab: SSHLab, tmp_path: Path) -> None:
    other = keygen(tmp_path / "other_key")
    report = hostpool.run(
        [ssh_lab.target(0, key_files=(str(other),))], "true", options=ssh_lab.options()
    )
    r = report.results[0]
    assert r.status is Status.AUTH
    assert "authentication failed" in r.error
    assert report.exit_code() == 4


def test_missing_key_file_is_auth_with_reason(ssh_lab: SSHLab, tmp_path: Path) -> None:
    target = ssh_lab.target(0, key_files=(str(tmp_path / "nope"),))
    r = hostpool.run([target], "true", options=ssh_lab.options()).results[0]
    assert r.status is Status.AUTH
    assert "not found" in r.error


def test_unknown_host_key_is_refused_by_default(ssh_lab: SSHLab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    options = ssh_lab.options(known_hosts=(str(empty),))
    r = hostpool.run([ssh_lab.target(0)], "true", options=options).results[0]
    assert r.status is Status.HOSTKEY
    assert "unknown host key" in r.error
    assert empty.read_text() == ""


def test_accept_new_learns_then_strict_passes(ssh_lab: SSHLab, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    accept = ssh_lab.options(known_hosts=(str(known),), host_key_policy=HostKeyPolicy.ACCEPT_NEW)
    report = hostpool.run(ssh_lab.targets(2), "true", options=accept)
    assert {r.status for r in report.results} == {Status.OK}
    lines = known.read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(
        f"[{a}]:{ssh_lab.port}" for a in ssh_lab.addresses[:2]
    )
    strict = replace(accept, host_key_policy=HostKeyPolicy.STRICT)
    again = hostpool.run(ssh_lab.targets(2), "true", options=strict)
    assert {r.status for r in again.results} == {Status.OK}
    assert len(known.read_text().splitlines()) == 2  # nothing learnt twice


def test_changed_host_key_is_refused_even_with_accept_new(ssh_lab: SSHLab, tmp_path: Path) -> None:
    impostor = keygen(tmp_path / "impostor")
    kind, blob = impostor.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{ssh_lab.addresses[0]}]:{ssh_lab.port} {kind} {blob}\n")
    for policy in (HostKeyPolicy.STRICT, HostKeyPolicy.ACCEPT_NEW):
        options = ssh_lab.options(known_hosts=(str(known),), host_key_policy=policy)
        r = hostpool.run([ssh_lab.target(0)], "true", options=options).results[0]
        assert r.status is Status.HOSTKEY
        assert "does not match" in r.error
    assert len(known.read_text().splitlines()) == 1


def test_ignore_host_keys_is_explicit(ssh_lab: SSHLab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    options = ssh_lab.options(known_hosts=(str(empty),), host_key_policy=HostKeyPolicy.IGNORE)
    r = hostpool.run([ssh_lab.target(0)], "true", options=options).results[0]
    assert r.status is Status.OK


def test_ten_megabytes_on_both_streams(ssh_lab: SSHLab) -> None:
    size = 10 * 1000 * 1000
    command = (
        f"head -c {size} /dev/zero | tr '\\0' o & head -c {size} /dev/zero | tr '\\0' e >&2; wait"
    )
    report = hostpool.run(ssh_lab.targets(2), command, options=ssh_lab.options())
    for r in report.results:
        assert r.status is Status.OK, r.error
        assert len(r.stdout) == size and set(r.stdout) == {ord("o")}
        assert len(r.stderr) == size and set(r.stderr) == {ord("e")}
        assert not r.truncated


def test_output_cap_truncates_but_drains(ssh_lab: SSHLab) -> None:
    options = ssh_lab.options(output_limit=1000)
    r = hostpool.run([ssh_lab.target(0)], "seq 1 100000; echo done >&2", options=options).results[0]
    assert r.status is Status.OK
    assert len(r.stdout) == 1000
    assert r.truncated
    assert r.stderr == b"done\n"


def test_non_utf8_output_is_kept_exactly(ssh_lab: SSHLab) -> None:
    r = hostpool.run(
        [ssh_lab.target(0)], r"printf '\377\376caf\303\251\n'", options=ssh_lab.options()
    )
    assert r.results[0].stdout == b"\xff\xfecaf\xc3\xa9\n"


def test_env_and_stdin_closed(ssh_lab: SSHLab) -> None:
    options = ssh_lab.options(env=(("GREETING", "it's $HOME; `x`"),))
    # cat would hang forever if stdin were left open.
    r = hostpool.run([ssh_lab.target(0)], 'cat; printf %s "$GREETING"', options=options).results[0]
    assert r.status is Status.OK
    assert r.stdout == b"it's $HOME; `x`"


def test_runner_reuses_connections_across_runs(ssh_lab: SSHLab) -> None:
    targets = ssh_lab.targets(1)
    with Runner(ssh_lab.options(), forks=1) as runner:
        first = runner.run(targets, "echo $PPID")
        second = runner.run(targets, "echo $PPID")
    assert first.exit_code() == 0 and second.exit_code() == 0
    # The same sshd session process (parent of the shell) served both commands.
    assert first.results[0].stdout == second.results[0].stdout


@pytest.mark.parametrize("method", [StartMethod.SPAWN, StartMethod.FORKSERVER])
def test_start_methods_and_max_tasks_per_child(ssh_lab: SSHLab, method: StartMethod) -> None:
    targets = [*ssh_lab.targets(2), local("l0"), local("l1")]
    report = hostpool.run(
        targets,
        "echo $PPID",
        forks=2,
        options=ssh_lab.options(),
        context=method,
        maxtasksperchild=1,
    )
    assert report.exit_code() == 0
    # A local host's shell is the worker's child: one worker per task.
    assert report.results[2].stdout != report.results[3].stdout


def test_mixed_statuses_each_host_once(ssh_lab: SSHLab, refused_port: int, tmp_path: Path) -> None:
    other = keygen(tmp_path / "other")
    targets = [
        ssh_lab.target(0),
        ssh_lab.target(1, name="bad-auth", key_files=(str(other),)),
        ssh_lab.target(2, name="refused", port=refused_port),
        ssh_lab.target(3, name="fails"),
    ]
    command = 'test "$(hostname)" && [ "$SSH_CONNECTION" ] && exit 0'
    report = hostpool.run(targets, command, forks=4, options=ssh_lab.options())
    got = {r.host: r.status for r in report.results}
    assert got == {
        "h0": Status.OK,
        "bad-auth": Status.AUTH,
        "refused": Status.UNREACHABLE,
        "fails": Status.OK,
    }
    assert report.exit_code() == 4


def test_proxy_jump_one_and_two_hops(ssh_lab: SSHLab) -> None:
    hop1 = f"{ssh_lab.user}@{ssh_lab.addresses[0]}:{ssh_lab.port}"
    hop2 = f"{ssh_lab.addresses[1]}:{ssh_lab.port}"
    targets = [
        ssh_lab.target(2, name="one-hop", proxy_jump=hop1),
        ssh_lab.target(3, name="two-hops", proxy_jump=f"{hop1},{hop2}"),
    ]
    report = hostpool.run(targets, "echo $SSH_CONNECTION", options=ssh_lab.options())
    for r in report.results:
        assert r.status is Status.OK, r.error
    assert report.result("two-hops").stdout.split()[2] == ssh_lab.addresses[3].encode()


def test_proxy_jump_hops_are_taken_in_order(ssh_lab: SSHLab, refused_port: int) -> None:
    hop1 = f"{ssh_lab.addresses[0]}:{ssh_lab.port}"
    hop2 = f"{ssh_lab.addresses[1]}:{refused_port}"
    r = hostpool.run(
        [ssh_lab.target(3, proxy_jump=f"{hop1},{hop2}")], "true", options=ssh_lab.options()
    ).results[0]
    assert r.status is Status.UNREACHABLE
    assert f"jump host {ssh_lab.addresses[0]} cannot reach {ssh_lab.addresses[1]}" in r.error


def test_proxy_jump_failures_are_classified(
    ssh_lab: SSHLab, refused_port: int, tmp_path: Path
) -> None:
    only_target = tmp_path / "known_hosts"
    only_target.write_text(ssh_lab.host_key_line(ssh_lab.addresses[1]))
    jump = f"{ssh_lab.addresses[0]}:{ssh_lab.port}"
    unknown_jump = hostpool.run(
        [ssh_lab.target(1, proxy_jump=jump)],
        "true",
        options=ssh_lab.options(known_hosts=(str(only_target),)),
    ).results[0]
    assert unknown_jump.status is Status.HOSTKEY
    dead_end = hostpool.run(
        [ssh_lab.target(1, port=refused_port, proxy_jump=jump)], "true", options=ssh_lab.options()
    ).results[0]
    assert dead_end.status is Status.UNREACHABLE
    assert "cannot reach" in dead_end.error


def test_runner_recovers_when_its_kept_connection_dies(ssh_lab: SSHLab) -> None:
    target = [ssh_lab.target(0)]
    with Runner(ssh_lab.options(), forks=1) as runner:
        assert runner.run(target, "true").exit_code() == 0
        # The shell's parent is the sshd process serving the worker's kept connection.
        cut = runner.run(target, "kill -9 $PPID; sleep 5").results[0]
        assert cut.status is Status.UNREACHABLE, cut
        again = runner.run(target, "echo back").results[0]
    assert again.status is Status.OK, again.error
    assert again.stdout == b"back\n"
