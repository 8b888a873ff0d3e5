"""Fixtures for the docker lab (docker/compose.yml) on top of pytest-docker.

One place decides whether docker tests can run: the session fixture ``docker_engine``.
Without a usable engine (``docker info`` fails, or docker-compose is missing, or the lab
images cannot be built) every test that needs the lab is skipped, or fails when
``HOSTPOOL_REQUIRE_DOCKER=1`` (CI sets it, so a broken engine can never pass as a skip).

Each session gets its own compose project: container names ``<project>-<service>`` and
random 127.0.0.1 ports, so a run never collides with a lab started by hand (which uses
the fixed ports of inventories/docker.ini) or with another session's run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hostpool.models import Connection, HostKeyPolicy, SSHOptions, Target
from hostpool.pool.processes import pid_alive

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yml"
BUILD_SCRIPT = DOCKER_DIR / "build-base-image.sh"
CLIENT_KEY = DOCKER_DIR / ".cache" / "id_ed25519"

NODES = ("node1", "node2", "node3", "node4")
SSH_SERVICES = (*NODES, "victim", "badauth", "badkey")
BOX_SERVICES = ("box", "box2")

_STARTUP_TIMEOUT = 60.0


def _required() -> bool:
    return os.environ.get("HOSTPOOL_REQUIRE_DOCKER", "") == "1"


def _unavailable(reason: str) -> None:
    """Skip, or fail under HOSTPOOL_REQUIRE_DOCKER=1.  Never returns."""
    message = f"docker engine not available: {reason}"
    if _required():
        pytest.fail(f"{message} (HOSTPOOL_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(message)


def _engine_problem() -> str | None:
    for tool in ("docker", "docker-compose", "ssh-keyscan"):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30s"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        return f"`docker info` failed: {lines[-1] if lines else 'rc=' + str(info.returncode)}"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """The single availability check every docker test depends on."""
    problem = _engine_problem()
    if problem:
        _unavailable(problem)


# --------------------------------------------------------------------------- pytest-docker


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"hostpool-test-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_compose_command(docker_compose_project_name: str) -> str:
    # pytest-docker runs "<command> -f FILE -p PROJECT <subcommand>" through a shell; the
    # variables make container names per-project and every published port random.
    env = [f"HOSTPOOL_LAB_PREFIX={docker_compose_project_name}"]
    env += [f"HOSTPOOL_LAB_PORT_{svc.upper()}=" for svc in SSH_SERVICES]
    return "env " + " ".join(env) + " docker-compose"


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


def _remove_stale_projects() -> None:
    """Labs of test sessions that were killed before their teardown (same machine only)."""
    out = docker(
        "ps", "-a", "--filter", "label=com.docker.compose.project", "--format",
        '{{.ID}} {{.Label "com.docker.compose.project"}}',
        check=False,
    )  # fmt: skip
    stale: dict[str, list[str]] = {}
    for line in out.splitlines():
        cid, _, project = line.partition(" ")
        match = re.fullmatch(r"hostpool-test-(\d+)", project)
        if match and not pid_alive(int(match.group(1))):
            stale.setdefault(project, []).append(cid)
    for project, ids in stale.items():
        docker("rm", "-f", "-v", *ids, check=False)
        docker("network", "rm", f"{project}_default", check=False)


@pytest.fixture(scope="session")
def docker_setup(docker_engine: None) -> list[str]:
    """Build images (idempotent: key pair, mmdebstrap base once, cached lab images)."""
    _remove_stale_projects()
    try:
        build = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired:
        _unavailable("docker/build-base-image.sh took longer than 900s")
    if build.returncode != 0:
        tail = "\n".join((build.stderr + build.stdout).strip().splitlines()[-15:])
        _unavailable(f"docker/build-base-image.sh failed (rc={build.returncode}):\n{tail}")
    return ["up -d --no-build --force-recreate"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down -v -t 1"]


# --------------------------------------------------------------------------- helpers


def docker(*args: str, check: bool = True, timeout: float = 60) -> str:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def ssh_banner(port: int, timeout: float = 2.0) -> bool:
    """True once something on 127.0.0.1:port speaks SSH."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = b""
            while len(data) < 4:
                chunk = sock.recv(64)
                if not chunk:
                    return False
                data += chunk
            return data.startswith(b"SSH-")
    except OSError:
        return False


def keyscan(port: int) -> list[str]:
    """known_hosts lines for [127.0.0.1]:port (every key type the server offers)."""
    for _ in range(5):
        proc = subprocess.run(
            ["ssh-keyscan", "-T", "5", "-p", str(port), "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith("#")]
        if lines:
            return lines
        time.sleep(0.5)
    raise RuntimeError(f"ssh-keyscan found no host key on 127.0.0.1:{port}")


def _rehost(lines: list[str], port: int) -> list[str]:
    """The same keys, claimed for another [127.0.0.1]:port."""
    return [f"[127.0.0.1]:{port} {line.split(None, 1)[1]}" for line in lines]


@dataclass
class Lab:
    """The running compose project, and how to reach and restore its containers."""

    project: str
    compose: Any  # pytest_docker Services
    key: Path
    known_hosts: Path
    ports: dict[str, int] = field(default_factory=dict)

    nodes: ClassVar[tuple[str, ...]] = NODES
    docker = staticmethod(docker)

    # ---- names and ports

    def container(self, service: str) -> str:
        return f"{self.project}-{service}"

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def current_port(self, service: str) -> int:
        """Asks docker (pytest-docker's port_for caches; ports move on restart)."""
        out = docker("port", self.container(service), "22/tcp").strip().splitlines()
        if not out:
            raise RuntimeError(f"{self.container(service)} publishes no port")
        return int(out[-1].rsplit(":", 1)[1])

    def port(self, service: str) -> int:
        return self.ports[service]

    # ---- hostpool objects

    def target(self, service: str, *, name: str | None = None) -> Target:
        return Target(
            name=name or service,
            address="127.0.0.1",
            port=self.port(service),
            user="root",
            key_files=(str(self.key),),
            connection=Connection.SSH,
        )

    def docker_target(self, container: str) -> Target:
        return Target(name=container, address=container, connection=Connection.DOCKER)

    def box(self, service: str = "box") -> Target:
        return self.docker_target(self.container(service))

    def options(self, **overrides: Any) -> SSHOptions:
        base = SSHOptions(
            connect_timeout=5,
            command_timeout=20,
            host_key_policy=HostKeyPolicy.STRICT,
            known_hosts=(str(self.known_hosts),),
            look_for_keys=False,
            allow_agent=False,
        )
        return replace(base, **overrides)

    # ---- state

    def wait_ssh(self, services: tuple[str, ...], timeout: float = _STARTUP_TIMEOUT) -> None:
        self.compose.wait_until_responsive(
            check=lambda: all(ssh_banner(self.port(s)) for s in services),
            timeout=timeout,
            pause=0.3,
        )

    def processes(self, container: str) -> str:
        """``docker top`` of a container (PID and full command line); '' when it fails."""
        proc = subprocess.run(
            ["docker", "top", container, "-eo", "pid,args"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return proc.stdout if proc.returncode == 0 else ""

    def state(self, service: str) -> str:
        return docker("inspect", "-f", "{{.State.Status}}", self.container(service)).strip()

    def networks(self, service: str) -> str:
        fmt = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"
        return docker("inspect", "-f", fmt, self.container(service))

    def restore(self, service: str) -> None:
        """Back to running, attached and answering; refresh its port and known_hosts."""
        name = self.container(service)
        status = self.state(service)
        if status == "paused":
            docker("unpause", name)
        elif status != "running":
            docker("start", name)
        if self.network not in self.networks(service).split():
            docker("network", "connect", self.network, name)
        if service in SSH_SERVICES:
            self.ports[service] = self.current_port(service)
            self.wait_ssh((service,), timeout=30)
            if service not in ("badkey",):
                self.append_known_hosts(keyscan(self.ports[service]))

    def append_known_hosts(self, lines: list[str]) -> None:
        with self.known_hosts.open("a") as fh:
            fh.writelines(line + "\n" for line in lines)


@pytest.fixture(scope="session")
def lab(
    docker_engine: None,
    docker_services: Any,
    docker_compose_project_name: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lab]:
    known_hosts = tmp_path_factory.mktemp("lab") / "known_hosts"
    known_hosts.touch()
    lab = Lab(
        project=docker_compose_project_name,
        compose=docker_services,
        key=CLIENT_KEY,
        known_hosts=known_hosts,
    )
    for service in SSH_SERVICES:
        lab.ports[service] = docker_services.port_for(service, 22)
    lab.wait_ssh(SSH_SERVICES)
    for service in (*NODES, "victim", "badauth"):
        lab.append_known_hosts(keyscan(lab.port(service)))
    # badkey: known_hosts claims the nodes' keys (every type) for its port, while the
    # container generated fresh keys at start: a changed host key, whatever type is used.
    lab.append_known_hosts(_rehost(keyscan(lab.port("node1")), lab.port("badkey")))
    yield lab


@pytest.fixture
def victim(lab: Lab) -> Iterator[str]:
    """The victim service, restored (unpaused, started, reattached) after the test."""
    lab.restore("victim")
    try:
        yield "victim"
    finally:
        lab.restore("victim")
