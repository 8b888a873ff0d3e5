"""copy and fetch end to end: SFTP against the real sshd, plain files for local hosts."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cliutil import hostpool, lab_args
from tests.sshd import SSHLab


@pytest.fixture
def lab_inv(ssh_lab: SSHLab, tmp_path: Path) -> tuple[str, ...]:
    return lab_args(ssh_lab, ssh_lab.inventory(tmp_path / "lab.ini"))


def results(done: object) -> dict[str, dict[str, object]]:
    data = json.loads(done.stdout)  # type: ignore[attr-defined]
    return {r["host"]: r for r in data["results"]}


def test_copy_is_atomic_and_skips_unchanged(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    src = tmp_path / "app.conf"
    src.write_bytes(b"key=1\n\x00\xff binary tail")
    dest_dir = tmp_path / "remote"
    dest_dir.mkdir()
    dest = dest_dir / "app.conf"
    args = ("copy", *lab_inv, "-l", "h0", "-o", "json", str(src), str(dest), "--mode", "0640")

    first = hostpool(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert results(first)["h0"]["stdout"] == f"copied {dest} ({src.stat().st_size} bytes)\n"
    assert dest.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640

    again = hostpool(*args, cwd=tmp_path)
    assert again.returncode == 0
    assert results(again)["h0"]["stdout"] == f"unchanged {dest}\n"

    dest.chmod(0o600)
    mode_only = hostpool(*args, cwd=tmp_path)
    assert "unchanged" in str(results(mode_only)["h0"]["stdout"])
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640

    src.write_bytes(b"key=2\n")
    changed = hostpool(*args, cwd=tmp_path)
    assert str(results(changed)["h0"]["stdout"]).startswith("copied")
    assert dest.read_bytes() == b"key=2\n"
    assert sorted(p.name for p in dest_dir.iterdir()) == ["app.conf"]  # no temp files left


def test_copy_into_directory_on_every_host(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    src = tmp_path / "motd"
    src.write_text("hello\n")
    src.chmod(0o604)
    dests = tmp_path / "dests"
    dests.mkdir()
    # Every lab host is this machine: give each its own directory through the shell-free
    # path rule (trailing slash = directory), one host at a time.
    for host in ("h1", "h2"):
        (dests / host).mkdir()
        done = hostpool("copy", *lab_inv, "-l", host, str(src), f"{dests / host}/", cwd=tmp_path)
        assert done.returncode == 0, done.stdout
        copied = dests / host / "motd"
        assert copied.read_text() == "hello\n"
        assert stat.S_IMODE(copied.stat().st_mode) == 0o604  # source mode without --mode
    everywhere = hostpool("copy", *lab_inv, "-o", "json", str(src), str(dests / "h1"), cwd=tmp_path)
    assert everywhere.returncode == 0
    assert {r["status"] for r in results(everywhere).values()} == {"ok"}


def test_copy_failures_are_per_host(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_text("x")
    missing = tmp_path / "no" / "such" / "dir" / "f"
    done = hostpool(
        "copy", *lab_inv, "-l", "h0", "-o", "json", str(src), str(missing), cwd=tmp_path
    )
    assert done.returncode == 1
    r = results(done)["h0"]
    assert r["status"] == "failed" and "copy to" in str(r["error"])
    absent = hostpool("copy", *lab_inv, str(tmp_path / "absent"), "/tmp/x", cwd=tmp_path)
    assert absent.returncode == 2 and "absent" in absent.stderr
    bad_mode = hostpool("copy", *lab_inv, str(src), "/tmp/x", "--mode", "9z", cwd=tmp_path)
    assert bad_mode.returncode == 2


def test_fetch_into_per_host_directories(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    remote = tmp_path / "data.bin"
    remote.write_bytes(bytes(range(256)) * 1000)
    remote.chmod(0o640)
    local = tmp_path / "fetched"
    done = hostpool("fetch", *lab_inv, "-o", "json", str(remote), str(local), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for host in ("h0", "h1", "h2", "h3"):
        got = local / host / "data.bin"
        assert got.read_bytes() == remote.read_bytes()
        assert stat.S_IMODE(got.stat().st_mode) == 0o640
        assert results(done)[host]["stdout"] == f"fetched {remote} (256000 bytes)\n"
    assert sorted(os.listdir(local / "h0")) == ["data.bin"]


def test_fetch_missing_file_fails_that_host(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    done = hostpool(
        "fetch",
        *lab_inv,
        "-l",
        "h0",
        "-o",
        "json",
        str(tmp_path / "nope"),
        str(tmp_path / "l"),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "fetch" in str(results(done)["h0"]["error"])
    assert hostpool("fetch", *lab_inv, "/etc/..", str(tmp_path), cwd=tmp_path).returncode == 2


def test_local_connection_copy_and_fetch(tmp_path: Path) -> None:
    inv = tmp_path / "local.ini"
    inv.write_text("[l]\nl1 ansible_connection=local\n")
    src = tmp_path / "src.txt"
    src.write_text("local\n")
    dest = tmp_path / "dest.txt"
    first = hostpool("copy", "-i", str(inv), "-o", "json", str(src), str(dest), cwd=tmp_path)
    assert first.returncode == 0 and dest.read_text() == "local\n"
    assert str(results(first)["l1"]["stdout"]).startswith("copied")
    again = hostpool("copy", "-i", str(inv), "-o", "json", str(src), str(dest), cwd=tmp_path)
    assert str(results(again)["l1"]["stdout"]).startswith("unchanged")
    fetched = hostpool("fetch", "-i", str(inv), str(dest), str(tmp_path / "back"), cwd=tmp_path)
    assert fetched.returncode == 0
    assert (tmp_path / "back" / "l1" / "dest.txt").read_text() == "local\n"


def test_docker_connection_copy_and_fetch_with_a_fake_cli(tmp_path: Path) -> None:
    """The docker path's argv and scripts, run by a stand-in CLI whose "container" sees
    this machine's filesystem (the real engine is covered by the docker lab)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    fake = bindir / "docker"
    fake.write_text(
        f"""#!/bin/sh
echo "$*" >> {calls}
case "$1" in
  inspect) echo '{{"Running": true}}' ;;
  exec) shift; while [ "$1" != "--" ]; do shift; done; shift 2; exec "$@" ;;
  cp) exec cp "${{2#c1:}}" "${{3#c1:}}" ;;
esac
"""
    )
    fake.chmod(0o755)
    inv = tmp_path / "d.ini"
    inv.write_text("[d]\nc1 ansible_connection=docker\n")
    env = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    src = tmp_path / "conf"
    src.write_text("in container\n")
    inside = tmp_path / "etc"
    inside.mkdir()
    copy = ("copy", "-i", str(inv), "-o", "json", str(src), f"{inside}/", "--mode", "600")
    done = hostpool(*copy, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (inside / "conf").read_text() == "in container\n"
    assert stat.S_IMODE((inside / "conf").stat().st_mode) == 0o600
    assert sorted(os.listdir(inside)) == ["conf"]
    assert f"cp {src} c1:{inside}/.conf.hostpool-" in calls.read_text()
    again = hostpool(*copy, cwd=tmp_path, env=env)
    assert str(results(again)["c1"]["stdout"]).startswith("unchanged"), again.stdout
    back = tmp_path / "back"
    fetched = hostpool(
        "fetch", "-i", str(inv), str(inside / "conf"), str(back), cwd=tmp_path, env=env
    )
    assert fetched.returncode == 0, fetched.stdout
    assert (back / "c1" / "conf").read_text() == "in container\n"
    assert f"cp c1:{inside}/conf " in calls.read_text()


def test_directory_copy_and_fetch_over_sftp(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    src = tmp_path / "site"
    (src / "css").mkdir(parents=True)
    (src / "index.html").write_text("<h1>hi</h1>\n")
    (src / "css" / "main.css").write_text("body{}\n")
    os.chmod(src / "css", 0o750)
    dest = tmp_path / "remote" / "www"
    copy = ("copy", *lab_inv, "-l", "h0", "-o", "json", str(src), str(dest))
    first = hostpool(*copy, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "copied 2 files" in str(results(first)["h0"]["stdout"])
    assert (dest / "site" / "css" / "main.css").read_text() == "body{}\n"
    assert stat.S_IMODE((dest / "site" / "css").stat().st_mode) == 0o750
    again = hostpool(*copy, cwd=tmp_path)
    assert "copied 0 files" in str(results(again)["h0"]["stdout"])

    fetch = ("fetch", *lab_inv, "-l", "h0,h1", "-o", "json", str(dest / "site"), "out")
    got = hostpool(*fetch, cwd=tmp_path)
    assert got.returncode == 0, got.stdout + got.stderr
    for host in ("h0", "h1"):
        assert (tmp_path / "out" / host / "site" / "css" / "main.css").read_text() == "body{}\n"
