"""Authentication and privilege against real sshd instances: encrypted keys (agent,
passphrase file, a prompt answered through a pty), password login with a throwaway user,
a certificate signed by a test CA, become to another user; and a canary: a unique secret
never shows in any process's argv or environment, nor in any output or file."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import hostpool
from hostpool.models import Status
from tests.cliutil import hostpool as run_cli
from tests.sshd import SSHLab, start_lab

PASSPHRASE = "hp-pass-" + uuid.uuid4().hex[:12]


def encrypted_key(tmp: Path, kind: str, lab: SSHLab, passphrase: str = PASSPHRASE) -> Path:
    key = tmp / f"id_{kind}_enc"
    bits = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *bits, "-N", passphrase, "-f", str(key)], check=True
    )
    authorized = lab.root / "authorized_keys"
    with authorized.open("a") as fh:
        fh.write(Path(f"{key}.pub").read_text())
    return key


def inventory(lab: SSHLab, path: Path, key: Path | None, extra: str = "") -> Path:
    key_var = f" ansible_ssh_private_key_file={key}" if key else ""
    path.write_text(
        "[lab]\n"
        f"h0 ansible_host={lab.addresses[0]} ansible_port={lab.port} "
        f"ansible_user={lab.user}{key_var}{extra}\n"
    )
    return path


def base_args(lab: SSHLab, inv: Path) -> tuple[str, ...]:
    return ("-i", str(inv), "--known-hosts", str(lab.known_hosts), "--ssh-config", "none")


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_encrypted_key_without_passphrase_is_auth_with_the_fix(
    ssh_lab: SSHLab, tmp_path: Path, kind: str
) -> None:
    key = encrypted_key(tmp_path, kind, ssh_lab)
    options = ssh_lab.options(allow_agent=False)
    r = hostpool.run([ssh_lab.target(0, key_files=(str(key),))], "true", options=options).results[0]
    assert r.status is Status.AUTH, r
    assert "is encrypted: load it into ssh-agent or pass --ask-key-pass" in r.error


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_encrypted_key_with_a_passphrase_file(ssh_lab: SSHLab, tmp_path: Path, kind: str) -> None:
    key = encrypted_key(tmp_path, kind, ssh_lab)
    secret = tmp_path / "phrase"
    secret.write_text(PASSPHRASE + "\n")
    inv = inventory(ssh_lab, tmp_path / "inv.ini", key)
    done = run_cli("exec", *base_args(ssh_lab, inv), "--key-pass-file", str(secret), "-o", "json",
                   "echo in", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    bad = run_cli("exec", *base_args(ssh_lab, inv), "--key-pass-file", str(wrong), "-o", "json",
                  "true", cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 4 and "wrong passphrase" in bad.stdout


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[dict[str, str]]:
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        yield {"SSH_AUTH_SOCK": str(sock)}
    finally:
        proc.terminate()
        proc.wait(10)


def test_encrypted_key_held_by_the_agent_is_used_through_it(
    ssh_lab: SSHLab, tmp_path: Path, agent: dict[str, str]
) -> None:
    key = encrypted_key(tmp_path, "ed25519", ssh_lab)
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho {PASSPHRASE}\n")
    askpass.chmod(0o700)
    env = {**os.environ, **agent, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    subprocess.run(["ssh-add", str(key)], env=env, check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)  # fmt: skip
    inv = inventory(ssh_lab, tmp_path / "inv.ini", key)
    done = run_cli("exec", *base_args(ssh_lab, inv), "-o", "json", "echo via-agent",
                   cwd=tmp_path, env=agent)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["results"][0]["stdout"] == "via-agent\n"


def test_passphrase_prompt_answered_through_a_pty(ssh_lab: SSHLab, tmp_path: Path) -> None:
    key = encrypted_key(tmp_path, "ed25519", ssh_lab)
    inv = inventory(ssh_lab, tmp_path / "inv.ini", key)
    argv = [sys.executable, "-m", "hostpool", "exec", *base_args(ssh_lab, inv), "--ask-key-pass",
            "-o", "json", "--no-progress", "echo prompted"]  # fmt: skip
    env = {**os.environ, "HOSTPOOL_STATE_DIR": str(tmp_path / "state")}
    env.pop("SSH_AUTH_SOCK", None)
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes hostpool
        os.chdir(tmp_path)
        os.execve(sys.executable, argv, env)
    seen = b""
    deadline = time.monotonic() + 60
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"key passphrase:" in seen:
            os.write(fd, PASSPHRASE.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    assert answered, seen[-500:]
    assert os.waitstatus_to_exitcode(status) == 0, seen[-1000:]
    assert b"prompted" in seen and PASSPHRASE.encode() not in seen


@pytest.fixture(scope="module")
def password_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SSHLab, str, str]]:
    """A throwaway local user with a password, and an sshd that takes passwords."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("password tests need root (CI runs as root)")
        pytest.skip("password login tests create a throwaway user: run as root")
    user = "hp" + uuid.uuid4().hex[:8]
    password = "hp-pw-" + uuid.uuid4().hex[:12]
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", user], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
        lab = start_lab(
            tmp_path_factory.mktemp("pwsshd"),
            n_addresses=1,
            overrides="PasswordAuthentication yes\nKbdInteractiveAuthentication no\n",
        )
        try:
            yield lab, user, password
        finally:
            lab.stop()
    finally:
        subprocess.run(["userdel", "-r", user], capture_output=True)


def test_password_login_and_refusal(password_lab: tuple[SSHLab, str, str], tmp_path: Path) -> None:
    lab, user, password = password_lab
    target = lab.target(0, user=user, key_files=())
    options = lab.options(password=password)
    ok = hostpool.run([target], "id -un", options=options).results[0]
    assert ok.status is Status.OK and ok.stdout_text.strip() == user, ok
    bad = hostpool.run([target], "true", options=lab.options(password="wrong")).results[0]
    assert (
        bad.status is Status.AUTH and "password refused" in bad.error and "not retried" in bad.error
    )


def test_password_from_the_inventory_warns(
    password_lab: tuple[SSHLab, str, str], tmp_path: Path
) -> None:
    lab, user, password = password_lab
    inv = tmp_path / "inv.ini"
    inv.write_text(
        f"h ansible_host={lab.addresses[0]} ansible_port={lab.port} ansible_user={user} "
        f"ansible_password={password}\n"
    )
    done = run_cli("exec", *base_args(lab, inv), "-o", "json", "id -un", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "plain text" in done.stderr
    shown = run_cli("hosts", "-i", str(inv), "--json", "--ssh-config", "none", cwd=tmp_path)
    assert password not in shown.stdout and "********" in shown.stdout


def test_certificate_signed_by_a_test_ca(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("casshd")
    ca = root / "ca"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ca)], check=True)
    lab = start_lab(
        root / "sshd",
        n_addresses=1,
        overrides=f"TrustedUserCAKeys {ca}.pub\nAuthorizedKeysFile none\n",
    )
    try:
        user_key = root / "user_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(user_key)],
                       check=True)  # fmt: skip
        target = lab.target(0, key_files=(str(user_key),))
        plain = hostpool.run([target], "true", options=lab.options()).results[0]
        assert plain.status is Status.AUTH  # the bare key is not authorized
        subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "test", "-n", lab.user,
                        f"{user_key}.pub"], check=True)  # fmt: skip
        certified = hostpool.run([target], "echo cert", options=lab.options()).results[0]
        assert certified.status is Status.OK, certified
    finally:
        lab.stop()


@pytest.mark.skipif(shutil.which("sudo") is None, reason="needs sudo")
def test_become_another_user(ssh_lab: SSHLab, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("becoming another user without a password needs root")
    inv = inventory(ssh_lab, tmp_path / "inv.ini", ssh_lab.client_key,
                    " ansible_become=true ansible_become_user=nobody")  # fmt: skip
    done = run_cli("exec", *base_args(ssh_lab, inv), "-o", "json", "id -un", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["results"][0]["stdout"] == "nobody\n"
    plain = inventory(ssh_lab, tmp_path / "plain.ini", ssh_lab.client_key)
    cli = run_cli("exec", *base_args(ssh_lab, plain), "--become-user", "nobody", "-o", "json",
                  "id -un", cwd=tmp_path)  # fmt: skip
    assert json.loads(cli.stdout)["results"][0]["stdout"] == "nobody\n"


def test_secrets_never_leak(ssh_lab: SSHLab, tmp_path: Path) -> None:
    """The passphrase and a become password: not in any argv or environment while the run
    goes on, and not in stdout, stderr, JSON, JUnit, --out-dir or the last-run record."""
    key = encrypted_key(tmp_path, "ed25519", ssh_lab)
    phrase = tmp_path / "phrase"
    phrase.write_text(PASSPHRASE + "\n")
    canary = "hp-become-" + uuid.uuid4().hex[:12]
    inv = inventory(ssh_lab, tmp_path / "inv.ini", key, f" ansible_become_pass={canary}")
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hostpool", "exec", *base_args(ssh_lab, inv), "--key-pass-file",
         str(phrase), "-o", "json", "--junit-file", str(tmp_path / "j.xml"), "--out-dir",
         str(tmp_path / "out"), "sleep 2; echo done"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HOSTPOOL_STATE_DIR": str(state)},
    )  # fmt: skip
    leaks: list[str] = []
    while proc.poll() is None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            for part in ("cmdline", "environ"):
                try:
                    data = (entry / part).read_bytes()
                except OSError:
                    continue
                if PASSPHRASE.encode() in data or canary.encode() in data:
                    leaks.append(f"{entry.name}/{part}")
        time.sleep(0.2)
    out, err = proc.communicate()
    assert proc.returncode == 0, out + err
    assert not leaks, leaks
    files = [tmp_path / "j.xml", *sorted((tmp_path / "out").iterdir()), *state.rglob("*.json")]
    for text in (out, err, *(p.read_text() for p in files)):
        assert PASSPHRASE not in text and canary not in text


def test_identity_agent_from_ssh_config(
    ssh_lab: SSHLab, tmp_path: Path, agent: dict[str, str]
) -> None:
    key = tmp_path / "agent_only"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with (ssh_lab.root / "authorized_keys").open("a") as fh:
        fh.write(Path(f"{key}.pub").read_text())
    env = {**os.environ, **agent}
    subprocess.run(["ssh-add", str(key)], env=env, check=True, capture_output=True)
    config = tmp_path / "ssh_config"
    config.write_text(f"Host {ssh_lab.addresses[0]}\n  IdentityAgent {agent['SSH_AUTH_SOCK']}\n")
    inv = inventory(ssh_lab, tmp_path / "inv.ini", None)
    args = ("-i", str(inv), "--known-hosts", str(ssh_lab.known_hosts), "--ssh-config", str(config))
    no_agent_env = {"SSH_AUTH_SOCK": ""}
    done = run_cli("exec", *args, "-o", "json", "echo agent", cwd=tmp_path, env=no_agent_env)
    assert done.returncode == 0, done.stdout + done.stderr
    config.write_text(f"Host {ssh_lab.addresses[0]}\n  IdentityAgent none\n")
    refused = run_cli("exec", *args, "-o", "json", "true", cwd=tmp_path, env=agent)
    assert refused.returncode == 4  # IdentityAgent none: the agent is not asked
