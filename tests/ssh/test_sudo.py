"""--sudo with a password end to end, through a stand-in ``sudo`` that really prompts.

The stand-in behaves like sudo -S -p: prompt on stderr, read a line from stdin, compare,
re-prompt on a mismatch.  It is found first on PATH (local hosts inherit the worker's
environment; an ssh host gets it from a second sshd whose SetEnv puts it first), so the
real handshake code in output.py/worker.py/localexec.py is what is being exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cliutil import hostpool
from tests.sshd import SSHD, SSHLab, free_port, wait_banner

PASSWORD = "pw-Zq8!x y"  # spaces and punctuation on purpose

FAKE_SUDO = """#!/bin/sh
prompt=""; with_stdin=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) shift ;;
    -S) with_stdin=1; shift ;;
    -p) prompt="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if [ "$with_stdin" = 1 ]; then
  tries=0
  while :; do
    printf '%s' "$prompt" >&2
    IFS= read -r given || { echo "sudo: no password was provided" >&2; exit 1; }
    [ "$given" = "$(cat {expected})" ] && break
    tries=$((tries + 1))
    echo "Sorry, try again." >&2
    [ $tries -ge 3 ] && { echo "sudo: 3 incorrect password attempts" >&2; exit 1; }
  done
fi
FAKE_SUDO_AS=root exec "$@"
"""

# Looks for the password in every process's argv and environment while the run is live.
SCAN = """import pathlib, sys
secret = pathlib.Path(sys.argv[1]).read_bytes().strip()
leaks = []
for proc in pathlib.Path("/proc").iterdir():
    if proc.name.isdigit():
        for name in ("cmdline", "environ"):
            try:
                if secret in (proc / name).read_bytes():
                    leaks.append(f"{proc.name}/{name}")
            except OSError:
                pass
print("LEAKS " + " ".join(leaks) if leaks else "clean")
"""


@pytest.fixture
def fake_sudo(tmp_path: Path) -> Path:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    expected = tmp_path / "expected"
    expected.write_text(PASSWORD + "\n")
    sudo = bindir / "sudo"
    sudo.write_text(FAKE_SUDO.replace("{expected}", str(expected)))
    sudo.chmod(0o755)
    (tmp_path / "scan.py").write_text(SCAN)
    return bindir


def local_inventory(tmp_path: Path) -> Path:
    inv = tmp_path / "local.ini"
    inv.write_text("[l]\nl1 ansible_connection=local\nl2 ansible_connection=local\n")
    return inv


def exec_with_pass_file(
    tmp_path: Path,
    inventory: Path,
    password: str,
    command: str,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``hostpool exec -o json`` with the sudo password in a file (the CI way)."""
    pwfile = tmp_path / "pw"
    pwfile.write_text(password + "\n")
    return hostpool(
        "exec",
        "-i",
        str(inventory),
        *extra,
        "--sudo-pass-file",
        str(pwfile),
        "-o",
        "json",
        command,
        cwd=tmp_path,
        env=env,
    )


def scanner(tmp_path: Path) -> str:
    """A command that reports any process exposing the password in argv or environment."""
    return f"{sys.executable} {tmp_path / 'scan.py'} {tmp_path / 'pw'}"


def test_sudo_password_from_file_reaches_sudo_only(tmp_path: Path, fake_sudo: Path) -> None:
    env = {"PATH": f"{fake_sudo}:{os.environ['PATH']}"}
    command = f"echo as=$FAKE_SUDO_AS; {scanner(tmp_path)}"
    done = exec_with_pass_file(tmp_path, local_inventory(tmp_path), PASSWORD, command, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for r in json.loads(done.stdout)["results"]:
        assert r["stdout"] == "as=root\nclean\n", r
        assert r["stderr"] == ""  # neither the prompt nor the readiness marker leak
    state = (tmp_path / "state" / "last-run.json").read_text()
    for text in (done.stdout, done.stderr, state):
        assert PASSWORD not in text


def test_ask_sudo_pass_prompts_once(tmp_path: Path, fake_sudo: Path) -> None:
    env = {"PATH": f"{fake_sudo}:{os.environ['PATH']}"}
    # Without a terminal getpass reads the one line from stdin, as a prompt would.
    done = hostpool(
        "exec",
        "-i",
        str(local_inventory(tmp_path)),
        "--ask-sudo-pass",
        "-o",
        "stream",
        "echo as=$FAKE_SUDO_AS",
        cwd=tmp_path,
        env=env,
        input=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count("sudo password:") == 1
    assert "l1 | as=root" in done.stdout and "l2 | as=root" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr


def test_wrong_sudo_password_fails_without_hanging(tmp_path: Path, fake_sudo: Path) -> None:
    env = {"PATH": f"{fake_sudo}:{os.environ['PATH']}"}
    done = exec_with_pass_file(tmp_path, local_inventory(tmp_path), "wrong", "echo never", env=env)
    assert done.returncode == 1
    for r in json.loads(done.stdout)["results"]:
        assert r["status"] == "failed" and "incorrect" in r["error"]
        assert "never" not in r["stdout"]


def test_sudo_options_exclude_each_other(tmp_path: Path) -> None:
    pwfile = tmp_path / "pw"
    pwfile.write_text("x\n")
    done = hostpool(
        "exec",
        "-i",
        str(local_inventory(tmp_path)),
        "--ask-sudo-pass",
        "--sudo-pass-file",
        str(pwfile),
        "true",
        cwd=tmp_path,
    )
    assert done.returncode == 2


@pytest.fixture
def sudo_sshd(ssh_lab: SSHLab, tmp_path: Path, fake_sudo: Path) -> Iterator[tuple[Path, Path]]:
    """A second sshd like the lab's, whose sessions find the stand-in sudo first on PATH."""
    port = free_port()
    config = (ssh_lab.root / "sshd_config").read_text().replace(f":{ssh_lab.port}", f":{port}")
    config = "\n".join(
        line
        for line in config.splitlines()
        if "127.0.0.1" in line or not line.startswith("ListenAddress")
    )
    config += f"\nSetEnv PATH={fake_sudo}:/usr/local/bin:/usr/bin:/bin\n"
    path = tmp_path / "sshd_config"
    path.write_text(config)
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_banner("127.0.0.1", port)
        pub = ssh_lab.host_key.with_suffix(".pub").read_text().split()
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
        inv = tmp_path / "ssh.ini"
        inv.write_text(
            f"[s]\ns0 ansible_host=127.0.0.1 ansible_port={port} ansible_user={ssh_lab.user} "
            f"ansible_ssh_private_key_file={ssh_lab.client_key}\n"
        )
        yield inv, known
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sudo_password_over_ssh(tmp_path: Path, sudo_sshd: tuple[Path, Path]) -> None:
    inv, known = sudo_sshd
    command = f"echo as=$FAKE_SUDO_AS; {scanner(tmp_path)}"
    done = exec_with_pass_file(
        tmp_path, inv, PASSWORD, command, "--known-hosts", str(known), "--ssh-config", "none"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (r,) = json.loads(done.stdout)["results"]
    assert r["stdout"] == "as=root\nclean\n" and r["stderr"] == ""
    assert PASSWORD not in done.stdout + done.stderr
