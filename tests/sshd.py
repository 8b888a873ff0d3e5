"""A real OpenSSH server on free loopback ports, for tests and examples.

One ``sshd -D`` listens on the same free port on several 127.0.0.x addresses, so each
address is a distinct host (its own known_hosts entry) served by one process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from hostpool.models import Connection, HostKeyPolicy, SSHOptions, Target

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def wait_banner(address: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1) as s:
                if s.recv(4) == b"SSH-":
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"sshd on {address}:{port} gave no banner within {timeout}s")


def keygen(path: Path, comment: str = "hostpool-test") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path


@dataclass
class SSHLab:
    root: Path
    port: int
    addresses: tuple[str, ...]
    client_key: Path
    host_key: Path
    known_hosts: Path
    user: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def host_key_line(self, address: str) -> str:
        pub = (self.host_key.with_suffix(".pub")).read_text().split()
        return f"[{address}]:{self.port} {pub[0]} {pub[1]}\n"

    def target(self, index: int = 0, **kw: object) -> Target:
        address = self.addresses[index]
        base = Target(
            name=f"h{index}",
            address=address,
            port=self.port,
            user=self.user,
            key_files=(str(self.client_key),),
            connection=Connection.SSH,
        )
        return replace(base, **kw)  # type: ignore[arg-type]

    def targets(self, n: int | None = None) -> list[Target]:
        return [self.target(i) for i in range(n or len(self.addresses))]

    def options(self, **kw: object) -> SSHOptions:
        base = SSHOptions(
            connect_timeout=5.0,
            command_timeout=30.0,
            host_key_policy=HostKeyPolicy.STRICT,
            known_hosts=(str(self.known_hosts),),
            look_for_keys=False,
            allow_agent=False,
        )
        return replace(base, **kw)  # type: ignore[arg-type]

    def inventory(self, path: Path, n: int | None = None, extra: str = "") -> Path:
        lines = ["[lab]"]
        for i, address in enumerate(self.addresses[: n or len(self.addresses)]):
            lines.append(
                f"h{i} ansible_host={address} ansible_port={self.port} "
                f"ansible_user={self.user} ansible_ssh_private_key_file={self.client_key}"
            )
        path.write_text("\n".join(lines) + "\n" + extra)
        return path

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def start_lab(root: Path, n_addresses: int = 4, overrides: str = "") -> SSHLab:
    """Keys, config, known_hosts, then sshd; returns once every address shows a banner.

    ``overrides`` go first in sshd_config (sshd keeps the first value it reads)."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    host_key = keygen(root / "ssh_host_ed25519_key", "hostpool-test-host")
    client_key = keygen(root / "id_ed25519")
    authorized = root / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    addresses = tuple(f"127.0.0.{i}" for i in range(1, n_addresses + 1))
    port = free_port()
    user = os.environ.get("USER") or __import__("getpass").getuser()
    config = root / "sshd_config"
    listen = "\n".join(f"ListenAddress {a}:{port}" for a in addresses)
    config.write_text(
        f"""{overrides}
{listen}
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
MaxStartups 200:30:400
MaxSessions 50
LogLevel ERROR
Subsystem sftp internal-sftp
AcceptEnv HOSTPOOL_*
"""
    )
    known = root / "known_hosts"
    lab = SSHLab(root, port, addresses, client_key, host_key, known, user)
    known.write_text("".join(lab.host_key_line(a) for a in addresses))
    if os.geteuid() == 0:
        # sshd running as root insists on its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = open(root / "sshd.log", "wb")  # noqa: SIM115 - lives as long as sshd
    lab.proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        for address in addresses:
            wait_banner(address, port)
    except RuntimeError:
        lab.stop()
        raise RuntimeError((root / "sshd.log").read_text()) from None
    return lab
