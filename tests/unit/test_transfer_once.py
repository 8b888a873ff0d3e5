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
    fifo = tmp_path / "tree" / "fifo"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        transfer.prepare(Copy(str(fifo.parent), "/tmp/x"))
    fifo.unlink()
    (fifo.parent / "loop").symlink_to(fifo.parent)
    with pytest.raises(UsageError, match="link to a directory"):
        transfer.prepare(Copy(str(fifo.parent), "/tmp/x"))


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


def test_fetch_of_a_special_file_or_nothing_fails_that_host(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    special = transfer.fetch(conn(), "h", Fetch(str(tmp_path / "fifo"), str(tmp_path / "o")))
    assert "not a regular file" in special.error
    missing = transfer.fetch(conn(), "h", Fetch(str(tmp_path / "nope"), str(tmp_path)))
    assert missing.status is Status.FAILED and "No such file" in missing.error


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    found = {}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        body = "<dir>" if path.is_dir() else path.read_text()
        found[path.relative_to(root).as_posix()] = (body, mode)
    return found


def test_directory_copy_like_ansible_then_nothing_resent(tmp_path: Path) -> None:
    src = tmp_path / "app"
    (src / "conf" / "empty").mkdir(parents=True)
    (src / "bin").mkdir()
    (src / "conf" / "a.ini").write_text("a=1\n")
    (src / "bin" / "run").write_text("#!/bin/sh\n")
    os.chmod(src / "bin" / "run", 0o755)
    (src / "link").symlink_to(src / "conf" / "a.ini")  # a link to a file: its content
    dest = tmp_path / "remote"
    first = transfer.copy(conn(), "h", transfer.prepare(Copy(str(src), str(dest))))
    assert first.status is Status.OK, first.error
    assert b"copied 3 files" in first.stdout
    copied = _tree(dest / "app")  # "src" without a slash: the directory itself
    assert copied["bin/run"] == ("#!/bin/sh\n", 0o755)
    assert copied["link"][0] == "a=1\n" and copied["conf/empty"][0] == "<dir>"
    again = transfer.copy(conn(), "h", transfer.prepare(Copy(str(src), str(dest))))
    assert b"copied 0 files" in again.stdout and b"3 unchanged" in again.stdout
    contents = transfer.prepare(Copy(f"{src}/", str(tmp_path / "flat")))  # "src/": contents
    assert transfer.copy(conn(), "h", contents).status is Status.OK
    assert _tree(tmp_path / "flat") == copied


def test_directory_copy_onto_a_file_fails_that_host(tmp_path: Path) -> None:
    src = tmp_path / "app"
    (src / "conf").mkdir(parents=True)
    dest = tmp_path / "remote"
    (dest / "app").mkdir(parents=True)
    (dest / "app" / "conf").write_text("in the way")
    result = transfer.copy(conn(), "h", transfer.prepare(Copy(str(src), str(dest))))
    assert result.status is Status.FAILED and "not a directory" in result.error


def test_directory_fetch_lands_per_host_and_skips_links(tmp_path: Path) -> None:
    remote = tmp_path / "logs"
    (remote / "old").mkdir(parents=True)
    (remote / "app.log").write_text("line\n")
    (remote / "old" / "app.log.1").write_text("older\n")
    os.chmod(remote / "old" / "app.log.1", 0o4755)
    (remote / "passwd").symlink_to("/etc/passwd")
    out = tmp_path / "out"
    result = transfer.fetch(conn(), "web01", transfer.check_fetch(Fetch(f"{remote}/", str(out))))
    assert result.status is Status.OK, result.error
    assert b"fetched 2 files" in result.stdout and b"skipped 1" in result.stdout
    got = _tree(out / "web01" / "logs")
    assert got["app.log"][0] == "line\n" and got["old/app.log.1"][0] == "older\n"
    assert not got["old/app.log.1"][1] & 0o7000  # no set-id bits
    assert "passwd" not in got


def test_directory_fetch_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    remote = tmp_path / "logs"
    (remote / "sub").mkdir(parents=True)
    (remote / "sub" / "f").write_text("x")
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "web01" / "logs").mkdir(parents=True)
    (out / "web01" / "logs" / "sub").symlink_to(elsewhere)
    result = transfer.fetch(conn(), "web01", Fetch(str(remote), str(out)))
    assert result.status is Status.FAILED and "symbolic link" in result.error
    assert not list(elsewhere.iterdir())
