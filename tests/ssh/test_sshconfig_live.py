"""ssh_config keywords the workers honour, against the real sshd on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import hostpool
from hostpool.inventory import HostDefaults, parse_inventory
from hostpool.models import HostKeyPolicy, SSHOptions, Status
from tests.procs import marked_pids, wait_for
from tests.sshd import SSHLab

RELAY = """
import os, socket, sys, threading
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def up():
    while data := os.read(0, 65536):
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := sock.recv(65536):
    os.write(1, data)
"""


def targets(lab: SSHLab, tmp_path: Path, config: str, hosts: str) -> list[hostpool.Target]:
    path = tmp_path / "ssh_config"
    path.write_text(config)
    inventory = parse_inventory(hosts)
    return inventory.select("all", defaults=HostDefaults(ssh_config=str(path)))


def options(lab: SSHLab, **kw: object) -> SSHOptions:
    base = dict(connect_timeout=5.0, command_timeout=30.0, look_for_keys=False, allow_agent=False)
    return SSHOptions(**{**base, **kw})  # type: ignore[arg-type]


def lab_block(lab: SSHLab, pattern: str, address: str) -> str:
    return (
        f"Host {pattern}\n  HostName {address}\n  Port {lab.port}\n  User {lab.user}\n"
        f"  IdentityFile {lab.client_key}\n  UserKnownHostsFile {lab.known_hosts}\n"
    )


def test_proxycommand_connects_through_its_command_and_is_reaped(
    ssh_lab: SSHLab, tmp_path: Path
) -> None:
    relay = tmp_path / "relay.py"
    relay.write_text(RELAY)
    mark = f"hostpool-relay-{tmp_path.name}"
    config = lab_block(ssh_lab, "viaproxy", ssh_lab.addresses[1]) + (
        f"  ProxyCommand env HOSTPOOL_TEST_MARK={mark} {sys.executable} {relay} %h %p\n"
    )
    chosen = targets(ssh_lab, tmp_path, config, "viaproxy\n")
    assert chosen[0].ssh.proxy_command and "%h" not in chosen[0].ssh.proxy_command
    report = hostpool.run(chosen, "echo $SSH_CONNECTION", options=options(ssh_lab))
    r = report.results[0]
    assert r.status is Status.OK, r.error
    assert f" {ssh_lab.addresses[1]} " in r.stdout_text  # the relay reached the real host
    assert wait_for(lambda: not marked_pids(mark), timeout=15)  # the child did not outlive it


def test_user_known_hosts_file_and_strict_checking_from_the_config(
    ssh_lab: SSHLab, tmp_path: Path
) -> None:
    empty = tmp_path / "empty_known"
    empty.write_text("")
    config = lab_block(ssh_lab, "known", ssh_lab.addresses[0]) + (
        lab_block(ssh_lab, "unknown", ssh_lab.addresses[2]).replace(
            str(ssh_lab.known_hosts), str(empty)
        )
        + "  StrictHostKeyChecking accept-new\n"
    )
    chosen = targets(ssh_lab, tmp_path, config, "known\nunknown\n")
    assert chosen[1].ssh.host_key_policy is HostKeyPolicy.ACCEPT_NEW
    report = hostpool.run(chosen, "true", options=options(ssh_lab))
    assert [r.status for r in report.results] == [Status.OK, Status.OK], report.results
    assert f"[{ssh_lab.addresses[2]}]:{ssh_lab.port}" in empty.read_text()  # learnt there
    strict = hostpool.run(
        chosen, "true", options=options(ssh_lab, host_key_policy=HostKeyPolicy.STRICT)
    )
    assert strict.exit_code() == 0  # now known, and the CLI's policy wins


def test_connect_timeout_and_identities_only(ssh_lab: SSHLab, tmp_path: Path) -> None:
    config = (
        lab_block(ssh_lab, "quick", ssh_lab.addresses[0])
        + "  ConnectTimeout 2\n  IdentitiesOnly yes\n  ServerAliveInterval 1\n"
    )
    (target,) = targets(ssh_lab, tmp_path, config, "quick\n")
    assert (target.ssh.connect_timeout, target.ssh.identities_only) == (2.0, True)
    report = hostpool.run([target], "true", options=options(ssh_lab, look_for_keys=True))
    assert report.exit_code() == 0, report.results


def test_unsupported_routing_keyword_refuses_the_host(ssh_lab: SSHLab, tmp_path: Path) -> None:
    config = lab_block(ssh_lab, "odd", ssh_lab.addresses[0]) + "  ProxyUseFdpass yes\n"
    inventory = parse_inventory("odd\nfine\n")
    path = tmp_path / "ssh_config"
    path.write_text(config)
    defaults = HostDefaults(ssh_config=str(path))
    assert [t.name for t in inventory.select("fine", defaults=defaults)] == ["fine"]
    try:
        inventory.select("odd", defaults=defaults)
    except hostpool.ConfigError as exc:
        assert "proxyusefdpass" in str(exc) and f"{path}:" in str(exc)
    else:
        raise AssertionError("an unsupported ProxyUseFdpass must not connect directly")


def test_ignored_keywords_are_warned_once_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ssh_config"
    path.write_text("Host *\n  ForwardAgent yes\n  SendEnv LANG\n")
    inventory = parse_inventory("a\nb\n")
    inventory.select("all", defaults=HostDefaults(ssh_config=str(path)))
    assert f"{path}:2: ssh_config forwardagent is not supported by hostpool; ignored" in (
        inventory.warnings
    )
