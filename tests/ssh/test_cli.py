"""The ``hostpool`` command end to end: exit codes, rendering, inventory errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sshd import SSHLab

REPO = Path(__file__).resolve().parents[2]


def hostpool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostpool", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_embedded_default_inventory_runs_locally() -> None:
    done = hostpool("exec", "-i", "inventories/local.ini", "echo hello-from-local")
    assert done.returncode == 0, done.stderr
    assert "localhost" in done.stdout and "hello-from-local" in done.stdout
    assert "1 host: 1 ok" in done.stdout


def test_exit_codes_and_maxrc() -> None:
    assert hostpool("exec", "-i", "inventories/local.ini", "exit 3").returncode == 1
    assert hostpool("exec", "-i", "inventories/local.ini", "--maxrc", "exit 3").returncode == 3
    assert hostpool("exec", "--no-such-flag", "x").returncode == 2


def test_json_output_has_exact_bytes(tmp_path: Path) -> None:
    done = hostpool(
        "exec", "-i", "inventories/local.ini", "-o", "json", r"printf 'a\377b'; echo e >&2"
    )
    data = json.loads(done.stdout)
    (result,) = data["results"]
    assert result["status"] == "ok"
    assert result["stdout_encoding"] == "base64"
    import base64

    assert base64.b64decode(result["stdout"]) == b"a\xffb"
    assert result["stderr"] == "e\n"


def test_table_strips_terminal_escapes() -> None:
    done = hostpool(
        "exec", "-i", "inventories/local.ini", r"printf '\033]0;pwned\007\033[2Jsafe\n'"
    )
    assert done.returncode == 0
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "safe" in done.stdout


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[web\nhost1\n", 1, "invalid"),
        ("[web:children]\nnope\n", 2, "nope"),
        ("[web]\nh1 ansible_port=99999\n", 2, "port"),
        ("[web]\nweb[9:1]\n", 2, "range"),
        ("[web]\n-oProxyCommand=touch\n", 2, "host"),
        ("[web]\nh1 ansible_user=-lroot\n", 2, "user"),
    ],
)
def test_inventory_errors_exit_3_with_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    inv = tmp_path / "bad.ini"
    inv.write_text(text)
    marker = tmp_path / "touched"
    done = hostpool("exec", "-i", str(inv), f"touch {marker}")
    assert done.returncode == 3, done.stderr
    assert f"{inv}:{line}:" in done.stderr
    assert words in done.stderr.lower()
    assert not marker.exists()


def test_pattern_matching_nothing_is_config_error() -> None:
    done = hostpool("exec", "-i", "inventories/local.ini", "-H", "nosuchgroup", "true")
    assert done.returncode == 3
    assert "nosuchgroup" in done.stderr


def test_hosts_lists_resolved_vars(ssh_lab: SSHLab, tmp_path: Path) -> None:
    inv = ssh_lab.inventory(tmp_path / "lab.ini")
    done = hostpool("hosts", "-i", str(inv), "--json", "-l", "lab[0:1]", "--ssh-config", "none")
    assert done.returncode == 0, done.stderr
    hosts = json.loads(done.stdout)
    assert [h["name"] for h in hosts] == ["h0", "h1"]
    assert hosts[0]["port"] == ssh_lab.port
    assert hosts[0]["groups"] == ["lab"] and hosts[0]["vars"]["ansible_port"] == ssh_lab.port
    assert hosts[0]["source"] == f"{inv}:2"
    table = hostpool("hosts", "-i", str(inv), "--ssh-config", "none")
    assert "h3" in table.stdout and "4 hosts" in table.stdout


@pytest.mark.parametrize(
    "pool",
    [("-f", "2", "--processes", "2"), ("-f", "4", "--processes", "1")],
    ids=["processes", "lanes"],
)
def test_exec_over_ssh_with_known_hosts(
    ssh_lab: SSHLab, tmp_path: Path, pool: tuple[str, ...]
) -> None:
    inv = ssh_lab.inventory(tmp_path / "lab.ini")
    done = hostpool(
        "exec",
        "-i",
        str(inv),
        "--known-hosts",
        str(ssh_lab.known_hosts),
        *pool,
        "--ssh-config",
        "none",
        "echo $((6*7))",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" 42") == 4


def test_accept_new_then_strict(ssh_lab: SSHLab, tmp_path: Path) -> None:
    inv = ssh_lab.inventory(tmp_path / "lab.ini", n=2)
    known = tmp_path / "kh"
    base = ("exec", "-i", str(inv), "--known-hosts", str(known), "--ssh-config", "none", "true")
    assert hostpool(*base).returncode == 4
    assert hostpool(*base[:-1], "--accept-new", "true").returncode == 0
    assert hostpool(*base).returncode == 0


def test_the_parent_stays_lean() -> None:
    # Start-up is paid on every invocation: the parent must not load the SSH stack (workers
    # only), pydantic (typer 0.29+ coerces every option through it, ~70 ms) or rich.
    code = (
        "import sys; from hostpool.cli.app import main; sys.argv = ['hostpool', 'exec', '-i', "
        "'inventories/local.ini', '-o', 'json', 'true']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = {'paramiko', 'cryptography', 'pydantic', 'rich', 'tabulate'}\n"
        "print('LOADED', sorted(heavy & {m.split('.')[0] for m in sys.modules}), code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert "LOADED [] 0" in done.stdout, (done.stdout[-500:], done.stderr[-500:])
