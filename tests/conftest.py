"""Shared fixtures: a real sshd on loopback (session-wide), ports that refuse or stay silent."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshd import SSHD, SSHLab, free_port, start_lab


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
