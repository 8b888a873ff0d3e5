"""Copy and fetch are written once over the connector protocol; here on the local one.

The local connector does plain file operations, so these run without a process; the same
functions serve ssh (SFTP) and docker (``docker cp``) in the ssh and docker tiers.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hostpool import transfer
from hostpool.connectors.local import LocalConnector
from hostpool.errors import UsageError
from hostpool.models import Copy, Fetch, Status, Target

HOST = Target(name="here", address="localhost")


def conn() -> LocalConnector:
    return LocalConnector(HOST)


def test_copy_then_skip_unchanged_then_only_fix_the_mode(tmp_path: Path) -> None:
    src = tmp_path / "motd"
    src.write_text("hello\n")
    dest = tmp_path / "etc" / "motd"
    dest.parent.mkdir()
    action = transfer.prepare(Copy(str(src), str(dest), mode=0o640))
    first = transfer.copy(conn(), "here", action)
    assert first.ok and first.stdout.startswith(b"copied")
    assert dest.read_text() == "hello\n" and stat.S_IMODE(dest.stat().st_mode) == 0o640
    again = transfer.copy(conn(), "here", action)
    assert again.stdout == f"unchanged {dest}\n".encode()
    os.chmod(dest, 0o600)
    fixed = transfer.copy(conn(), "here", action)
    assert b"mode set to 0640" in fixed.stdout
    assert [p.name for p in dest.parent.iterdir()] == ["motd"]  # no temporary left


def test_copy_into_a_directory_keeps_the_source_name(tmp_path: Path) -> None:
    src = tmp_path / "app.conf"
    src.write_text("x")
    (tmp_path / "d").mkdir()
    result = transfer.copy(conn(), "here", transfer.prepare(Copy(str(src), f"{tmp_path}/d/")))
    assert result.ok and (tmp_path / "d" / "app.conf").read_text() == "x"


def test_copy_to_a_missing_directory_fails_that_host(tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_text("x")
    result = transfer.copy(conn(), "here", Copy(str(src), str(tmp_path / "no" / "f")))
    assert result.status is Status.FAILED and result.started
    assert "No such file" in result.error


def test_prepare_refuses_what_it_cannot_send(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        transfer.prepare(Copy(str(tmp_path / "missing"), "/tmp/x"))
    with pytest.raises(UsageError, match="not a regular file"):
        transfer.prepare(Copy(str(tmp_path), "/tmp/x"))


def test_fetch_drops_set_id_bits_and_applies_the_umask(tmp_path: Path) -> None:
    remote = tmp_path / "tool"
    remote.write_text("#!/bin/sh\n")
    os.chmod(remote, 0o4777)
    old = os.umask(0o022)
    try:
        result = transfer.fetch(conn(), "here", Fetch(str(remote), str(tmp_path / "got")))
    finally:
        os.umask(old)
    assert result.ok, result.error
    landed = tmp_path / "got" / "here" / "tool"
    assert stat.S_IMODE(landed.stat().st_mode) == 0o755


def test_fetch_refuses_a_planted_link_for_the_host_directory(tmp_path: Path) -> None:
    remote = tmp_path / "secret"
    remote.write_text("x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "got").mkdir()
    (tmp_path / "got" / "here").symlink_to(elsewhere)
    result = transfer.fetch(conn(), "here", Fetch(str(remote), str(tmp_path / "got")))
    assert result.status is Status.FAILED and "symbolic link" in result.error
    assert list(elsewhere.iterdir()) == []


def test_fetch_of_a_directory_or_nothing_fails_that_host(tmp_path: Path) -> None:
    assert "not a regular file" in transfer.fetch(conn(), "h", Fetch(str(tmp_path), "out")).error
    missing = transfer.fetch(conn(), "h", Fetch(str(tmp_path / "nope"), str(tmp_path)))
    assert missing.status is Status.FAILED and "No such file" in missing.error
