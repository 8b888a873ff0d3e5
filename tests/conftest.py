"""Shared fixtures and the test tiers.

Tiers by directory, each also a marker: ``unit`` (no processes, no network: the quick
loop, ``python -m pytest tests/unit``), ``ssh`` (a real sshd on free 127.0.0.x ports,
plus pool processes), ``docker`` (the compose lab), ``ray`` (a loopback-only Ray
instance).  Fixtures start what they need lazily, once per session.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshd import SSHD, SSHLab, free_port, start_lab

TIERS = ("unit", "ssh", "docker", "ray")
SEGMENT = "seg_lab"  # custom resource the session's Ray node offers, for pinning tests


def pytest_configure(config: pytest.Config) -> None:
    # Tests never write into the checkout: the last-run record of every CLI run a test
    # starts (in this process or a child) lands in a per-session directory instead.
    if "HOSTPOOL_STATE_DIR" not in os.environ:
        os.environ["HOSTPOOL_STATE_DIR"] = tempfile.mkdtemp(prefix="hostpool-test-state-")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        tier = Path(str(item.path)).relative_to(root).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def ssh_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHLab]:
    if not os.path.exists(SSHD):
        if os.environ.get("CI") or os.environ.get("HOSTPOOL_REQUIRE_SSHD"):
            pytest.fail(f"sshd not found at {SSHD}; install openssh-server")
        pytest.skip(f"sshd not found at {SSHD}; install openssh-server to run SSH tests")
    lab = start_lab(tmp_path_factory.mktemp("sshd"))
    yield lab
    lab.stop()


@pytest.fixture
def refused_port() -> int:
    """A port nothing listens on (bound then released)."""
    return free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP (kernel backlog) but never sends an SSH banner."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


@pytest.fixture
def known_hosts_copy(ssh_lab: SSHLab, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(ssh_lab.known_hosts.read_text())
    return path


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One loopback-only Ray instance for the whole session (starting one takes seconds)."""
    if importlib.util.find_spec("ray") is None:
        reason = "ray is not installed (pip install 'hostpool[ray]')"
        if os.environ.get("HOSTPOOL_REQUIRE_RAY") == "1":
            pytest.fail(f"{reason} but HOSTPOOL_REQUIRE_RAY=1")
        pytest.skip(reason)
    # Read by ray at import: without it the "127.0.0.1" node address is swapped for the
    # machine's outward IP and Ray's servers listen on every interface.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local",
            include_dashboard=False,
            num_cpus=2,
            object_store_memory=200 * 1024 * 1024,
            resources={SEGMENT: 100},
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            logging_level="warning",
        )
    yield
    if started:
        ray.shutdown()
