"""The benchmark lab: a private network namespace, one sshd, keys and inventories.

Why a namespace: sshd accepts at most 16 ``ListenAddress`` entries, but inside a fresh
network namespace the only interface is ``lo``, so an sshd bound to ``0.0.0.0:22``
answers on the whole of 127.0.0.0/8.  Every 127.x address is then a distinct "host"
for the clients (own known_hosts line, own TCP connection) while costing one daemon.
All traffic stays inside the namespace, which disappears when its last process exits.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

NS_ENV = "HPBENCH_IN_NS"
RELAY_SSHD_PORT, RELAY_ECHO_PORT, ECHO_PORT = 2200, 2207, 2208
SSHD = "/usr/sbin/sshd"
PR_SET_CHILD_SUBREAPER = 36


def host_address(index: int) -> str:
    """Address of host number ``index`` (0-based): 127.0.1.1 .. 127.0.1.250, 127.0.2.1 ..

    127.0.0.1 is left out so that no host is "localhost" by accident.
    """
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def in_namespace() -> bool:
    return os.environ.get(NS_ENV) == "1"


def mask_shell_rc(user: str, empty: Path) -> str | None:
    """Hide the login user's ~/.bashrc behind an empty file, in our mount namespace only.

    sshd runs every command as ``$SHELL -c CMD`` and Debian's bash then sources
    ~/.bashrc; on this machine root's runs ``pyenv init`` (~100 forks, ~100 ms of server
    CPU per command), which would drown the client-side differences being measured.  The
    bind mount is private to the namespace (``unshare --mount`` makes propagation
    private), so the real file is untouched and the mask vanishes with the namespace.
    Returns the masked path, or None when there was nothing to mask.
    """
    rc = Path(pwd.getpwnam(user).pw_dir) / ".bashrc"
    if not rc.exists():
        return None
    empty.write_text("")
    subprocess.run(["mount", "--bind", str(empty), str(rc)], check=True, timeout=10)
    return str(rc)


def reexec_in_namespace(python: str, argv: list[str], extra_env: dict[str, str]) -> None:
    """Replace this process by ``python argv`` inside new, private network and mount
    namespaces (the latter only for ``mask_shell_rc``).

    ``unshare --net`` execs (no fork), so signals and the exit status pass straight
    through, and the namespace is gone as soon as the last process in it exits: there
    is nothing named to clean up.
    """
    if os.geteuid() != 0:
        sys.exit("bench/run.py needs root (network namespace, sshd on port 22): use sudo")
    if shutil.which("unshare") is None:
        sys.exit("bench/run.py needs unshare(1) from util-linux")
    env = {**os.environ, **extra_env, NS_ENV: "1"}
    os.execvpe("unshare", ["unshare", "--net", "--mount", "--", python, *argv], env)


def namespace_setup() -> None:
    """Bring ``lo`` up (a new namespace starts with it down) and become a subreaper.

    As child subreaper, processes that a tool orphans (daemonised ssh masters, pool
    workers nobody joined) are re-parented to us rather than to init, so the harness can
    still kill them and count their CPU.
    """
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        timeout=30,
    )
    return Path(f"{path}.pub").read_text().split()[1]


def proc_cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` plus its reaped children (cutime+cstime), in seconds.

    For sshd this is the whole server side: every per-connection sshd is a reaped child.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Lab:
    """Keys, sshd, known_hosts and inventories in one temporary directory."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hpbench-")))
    sshd_port: int = 22
    user: str = "root"
    sshd_proc: subprocess.Popen[bytes] | None = None
    host_key_b64: str = ""

    @property
    def client_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    def prepare(self, max_hosts: int) -> None:
        """Generate both keys and a known_hosts with one plain line per host address."""
        self.host_key_b64 = _keygen(self.root / "ssh_host_ed25519_key", "hpbench-host")
        client_pub = _keygen(self.client_key, "hpbench-client")
        (self.root / "authorized_keys").write_text(f"ssh-ed25519 {client_pub} hpbench\n")
        lines = [f"{host_address(i)} ssh-ed25519 {self.host_key_b64}\n" for i in range(max_hosts)]
        self.known_hosts.write_text("".join(lines))
        (self.root / "ssh_config").write_text("")  # an empty config for OpenSSH clients

    def hosts(self, n: int) -> list[str]:
        return [host_address(i) for i in range(n)]

    def hosts_file(self, n: int) -> Path:
        """One address per line: the format pdsh (-w ^f), pssh (-h f) and clush take."""
        path = self.root / f"hosts-{n}.txt"
        if not path.exists():
            path.write_text("".join(h + "\n" for h in self.hosts(n)))
        return path

    def inventory(self, n: int, port: int) -> Path:
        """An Ansible-style INI inventory, read by both hostpool and ansible."""
        path = self.root / f"inventory-{n}-{port}.ini"
        if not path.exists():
            lines = [
                f"{h} ansible_user={self.user} ansible_port={port} "
                f"ansible_ssh_private_key_file={self.client_key}\n"
                for h in self.hosts(n)
            ]
            path.write_text("[bench]\n" + "".join(lines))
        return path

    def _sshd_config(self, extra: list[str]) -> Path:
        conf = self.root / "sshd_config"
        lines = [
            f"Port {self.sshd_port}",
            "ListenAddress 0.0.0.0",
            f"HostKey {self.root / 'ssh_host_ed25519_key'}",
            f"PidFile {self.root / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            # hundreds of clients connect at once: the default 10:30:100 would drop most
            "MaxStartups 1000:30:2000",
            "MaxSessions 1000",
            "LoginGraceTime 120",
            "PrintMotd no",
            "PrintLastLog no",
            "LogLevel " + os.environ.get("HPBENCH_SSHD_LOG", "ERROR"),
            "AcceptEnv PSSH_*",
            *extra,
        ]
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start_sshd(self, port: int = 22) -> None:
        """Start sshd -D on 0.0.0.0:port and wait (bounded) until it accepts connections."""
        self.sshd_port = port
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation dir
        conf = self._sshd_config(["PerSourcePenalties no"])
        probe = subprocess.run([SSHD, "-t", "-f", str(conf)], capture_output=True, timeout=30)
        if probe.returncode:
            conf = self._sshd_config([])  # OpenSSH < 9.8 has no PerSourcePenalties
            subprocess.run([SSHD, "-t", "-f", str(conf)], check=True, timeout=30)
        log = open(self.root / "sshd.log", "ab")  # noqa: SIM115 - lives as long as sshd
        self.sshd_proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(conf), "-E", str(self.root / "sshd.log")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        wait_for_port("127.0.0.1", port, self.sshd_proc)

    def start_relay(self, rtt_ms: float) -> subprocess.Popen[bytes]:
        """RTT mode: sshd moves to RELAY_SSHD_PORT, the delay relay (``relay.py``) takes
        :22 and adds ``rtt_ms / 2`` each way; it also relays an echo port for ping-pong."""
        assert self.sshd_proc is not None
        stop_process(self.sshd_proc)
        self.start_sshd(RELAY_SSHD_PORT)
        relay = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("relay.py")),
                "--map",
                f"22:{RELAY_SSHD_PORT}",
                "--map",
                f"{RELAY_ECHO_PORT}:{ECHO_PORT}",
                "--delay-ms",
                str(rtt_ms / 2),
                "--echo-port",
                str(ECHO_PORT),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "relay.log", "wb"),  # noqa: SIM115
        )
        wait_for_port("127.0.0.1", 22, relay)
        wait_for_port("127.0.0.1", RELAY_ECHO_PORT, relay)
        return relay

    def sshd_cpu(self) -> float:
        return proc_cpu_seconds(self.sshd_proc.pid) if self.sshd_proc else 0.0

    def stop(self, keep_dir: bool = False) -> None:
        """Kill sshd by PID and remove the temp dir (unless asked to keep it for debugging)."""
        if self.sshd_proc is not None:
            stop_process(self.sshd_proc)
            self.sshd_proc = None
        if not keep_dir:
            shutil.rmtree(self.root, ignore_errors=True)


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], limit_s: float = 15) -> None:
    """Poll until something accepts on host:port; fail if ``proc`` died or time ran out."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pid {proc.pid} exited with {proc.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {limit_s}s")


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 5) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; always reaped, by this PID only."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace_s)
