"""The ``hostpool exec`` command line against the docker lab, end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hostpool.inventory import HostDefaults, load_inventory
from hostpool.models import Connection

if TYPE_CHECKING:
    from conftest import Lab

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
NODES = ("node1", "node2", "node3", "node4")


def hostpool_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("hostpool")
    cmd = [exe] if exe else [sys.executable, "-c", "from hostpool.cli.app import main; main()"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )


def write_inventory(lab: Lab, path: Path) -> Path:
    lines = ["[lab]"]
    lines += [f"{n} ansible_port={lab.port(n)}" for n in NODES]
    lines += [
        "",
        "[lab:vars]",
        "ansible_host=127.0.0.1",
        "ansible_user=root",
        f"ansible_ssh_private_key_file={lab.key}",
        "",
        "[containers]",
        f"{lab.container('box')} ansible_connection=docker",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def test_cli_exec_uptime(lab: Lab, tmp_path: Path) -> None:
    inventory = write_inventory(lab, tmp_path / "lab.ini")
    proc = hostpool_cli(
        "exec",
        "-i",
        str(inventory),
        "--known-hosts",
        str(lab.known_hosts),
        "--ssh-config",
        "none",
        "-f",
        "4",
        "--connect-timeout",
        "5",
        "-t",
        "20",
        "uptime",
    )
    detail = f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, detail
    for host in (*NODES, lab.container("box")):
        assert host in proc.stdout, detail
    assert "load average" in proc.stdout, detail


def test_cli_accept_new_then_strict(lab: Lab, tmp_path: Path) -> None:
    """First run learns the keys into a fresh file, the second run checks against it."""
    inventory = write_inventory(lab, tmp_path / "lab.ini")
    known = tmp_path / "known_hosts"
    common = ("exec", "-i", str(inventory), "-l", "lab", "--known-hosts", str(known))
    common += ("--ssh-config", "none", "-o", "json")

    strict = hostpool_cli(*common, "true")
    assert strict.returncode == 4, strict.stdout + strict.stderr  # unknown hosts refused

    learn = hostpool_cli(*common, "--accept-new", "true")
    assert learn.returncode == 0, learn.stdout + learn.stderr
    text = known.read_text()
    for n in NODES:
        assert f"[127.0.0.1]:{lab.port(n)} " in text

    again = hostpool_cli(*common, "hostname")
    assert again.returncode == 0, again.stdout + again.stderr
    payload = json.loads(again.stdout)
    assert again.stdout and payload  # shape is the report's business; it parses


def test_inventory_file_matches_compose_defaults() -> None:
    """inventories/docker.ini must describe the lab exactly as compose.yml starts it."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose not found on PATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTPOOL_LAB_")}
    config = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker" / "compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    targets = load_inventory(str(REPO / "inventories" / "docker.ini")).select(
        "all", defaults=HostDefaults(ssh_config=None)
    )
    ssh = [t for t in targets if t.connection is Connection.SSH]
    docker_hosts = [t for t in targets if t.connection is Connection.DOCKER]
    assert [t.name for t in ssh] == [*NODES, "victim"]
    for t in ssh:
        assert t.address == "127.0.0.1"
        assert f"127.0.0.1:{t.port}:22/tcp" in config, (t.name, t.port)
        assert t.key_files == ("docker/.cache/id_ed25519",)
    assert [t.name for t in docker_hosts] == ["hostpool-lab-box", "hostpool-lab-box2"]
    for t in docker_hosts:
        assert f"container_name: {t.name}" in config
