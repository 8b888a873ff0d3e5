"""Records that cross the process boundary (parent <-> pool workers), both sides.

Only builtins live here: a task, a result or an event must pickle and unpickle anywhere,
including on a Ray node, and must never carry a live connection or a library exception
(a paramiko exception may not pickle, and one that cannot be rebuilt hangs a Pool).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from hostpool.errors import UsageError

DEFAULT_OUTPUT_LIMIT = 32 * 1024 * 1024  # bytes kept per stream per host
# An inventory variable's value, as YAML, JSON or Ansible's INI literal evaluation give it.
VarValue = str | int | float | bool | None | list["VarValue"] | dict[str, "VarValue"]
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Status(enum.StrEnum):
    """Outcome of one host, ordered from best to worst for exit-code decisions."""

    OK = "ok"
    FAILED = "failed"  # command ran, non-zero exit
    TIMEOUT = "timeout"  # connect/banner/command deadline passed
    UNREACHABLE = "unreachable"  # refused, no route, DNS, connection dropped
    AUTH = "auth"  # no accepted credentials
    HOSTKEY = "hostkey"  # unknown or changed host key under the chosen policy
    ERROR = "error"  # anything else, including a lost worker
    INTERRUPTED = "interrupted"  # never ran or cut short by Ctrl-C / fail-fast


class Connection(enum.StrEnum):
    SSH = "ssh"
    LOCAL = "local"
    DOCKER = "docker"


class HostKeyPolicy(enum.StrEnum):
    STRICT = "strict"  # host must be in known_hosts with the same key
    ACCEPT_NEW = "accept-new"  # unknown hosts are learnt (by the parent), changed keys refused
    IGNORE = "ignore"  # no checking at all; explicit opt-in only


class Stream(enum.IntEnum):
    STDOUT = 1
    STDERR = 2


@dataclass(frozen=True, slots=True)
class SSHSettings:
    """What a host's ssh_config says beyond address, port, user, keys and jump hosts,
    resolved in the parent (tokens expanded, values validated) for the worker to apply."""

    connect_timeout: float | None = None
    identities_only: bool = False
    proxy_command: str | None = None  # run without a shell, its tokens already expanded
    server_alive_interval: float = 0.0
    server_alive_count: int = 3
    known_hosts: tuple[str, ...] | None = None  # UserKnownHostsFile; None: the run's
    global_known_hosts: tuple[str, ...] = ()
    host_key_policy: HostKeyPolicy | None = None  # StrictHostKeyChecking, if set
    host_key_alias: str | None = None
    certificate_files: tuple[str, ...] = ()  # CertificateFile, tokens expanded
    identity_agent: str | None = None  # IdentityAgent socket; "" is none; None: SSH_AUTH_SOCK


class BecomeMethod(enum.StrEnum):
    SUDO = "sudo"


@dataclass(frozen=True, slots=True)
class Become:
    """Privilege escalation for a host (Ansible's ansible_become*): sudo to ``user``."""

    user: str | None = None  # None: root
    method: BecomeMethod = BecomeMethod.SUDO
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Target:
    """One resolved host: inventory vars, ssh_config and CLI defaults already applied."""

    name: str
    address: str
    port: int = 22
    user: str | None = None
    connection: Connection = Connection.SSH
    key_files: tuple[str, ...] = ()
    proxy_jump: str | None = None
    groups: tuple[str, ...] = ()
    vars: tuple[tuple[str, VarValue], ...] = field(default=(), repr=False)
    ssh: SSHSettings = SSHSettings()
    password: str | None = field(default=None, repr=False)  # ansible_password
    become: Become | None = None  # ansible_become

    def var(self, key: str, default: VarValue = None) -> VarValue:
        for k, v in self.vars:
            if k == key:
                return v
        return default

    @property
    def connection_key(self) -> tuple[str, int, str, tuple[str, ...], str, SSHSettings]:
        """Which kept connection may serve this target: everything the connection was
        made with (an edited ssh_config makes a new one)."""
        return (
            self.address,
            self.port,
            self.user or "",
            self.key_files,
            self.proxy_jump or "",
            self.ssh,
        )


@dataclass(frozen=True, slots=True)
class SSHOptions:
    """Run-wide settings, handed to every worker once through the pool initializer.

    Secrets (the sudo password) travel here, through the initializer's pipe, and never
    in argv or the environment.
    """

    connect_timeout: float = 10.0
    command_timeout: float | None = None  # default for Exec actions that set none
    # None: each host's ssh_config StrictHostKeyChecking, else strict.  Set, it wins.
    host_key_policy: HostKeyPolicy | None = None
    known_hosts: tuple[str, ...] = ()  # empty = ~/.ssh/known_hosts
    look_for_keys: bool = True
    allow_agent: bool = True
    sudo: bool = False  # default for Exec actions (--sudo / --become)
    sudo_password: str | None = field(default=None, repr=False)  # the become password
    become_user: str | None = None  # sudo -u USER; None: root (or the host's)
    password: str | None = field(default=None, repr=False)  # login password (--ask-pass)
    key_passphrase: str | None = field(default=None, repr=False)  # --ask-key-pass
    env: tuple[tuple[str, str], ...] = ()  # exported before every Exec command
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    keepalive: float = 15.0  # seconds of silence before a probe; 3 unanswered: unreachable
    reuse_connections: bool = True
    idle_connections: int = 16  # kept open per worker process for later tasks to reuse
    # A warm pool (``Pool(warm=True)``): each connection also learns its login shell
    # once, so its later commands start one shell, not three (``worker.command``).
    warm: bool = False


def check_env(env: tuple[tuple[str, str], ...]) -> None:
    """Names are spliced into an ``export`` line, so only shell variable names pass."""
    for name, _ in env:
        if not _ENV_NAME.match(name):
            raise UsageError(f"invalid environment variable name {name!r}")


# -- actions: what a task does on its host -------------------------------------------------
@dataclass(frozen=True, slots=True)
class Exec:
    """Run a shell command.  ``None`` fields take the pool's ``SSHOptions`` default.

    ``stdin`` is sent to the command on every host (clush's broadcast); ``pty`` runs it on
    a terminal (stderr then arrives merged into stdout, as on any terminal)."""

    command: str
    sudo: bool | None = None
    env: tuple[tuple[str, str], ...] = ()
    timeout: float | None = None
    stdin: bytes = field(default=b"", repr=False)
    pty: bool = False

    def __post_init__(self) -> None:
        check_env(self.env)
        if self.timeout is not None and self.timeout <= 0:
            raise UsageError("timeout must be positive")

    @property
    def label(self) -> str:
        return self.command


@dataclass(frozen=True, slots=True)
class FileDigest:
    """What the parent learnt of a copy's source once, so every host compares the same."""

    sha256: str
    size: int
    mode: int


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One entry of a directory copy, relative to the copied root; directories (no
    digest) come before what they hold."""

    path: str
    mode: int
    digest: FileDigest | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    """Send a local file; ``dest`` ending in '/' (or an existing directory) gets its name.

    A directory is sent whole, as Ansible's copy does: ``src/`` puts its contents in
    ``dest``, ``src`` puts ``dest/<name of src>``.  ``digest`` (a file) or ``tree`` (a
    directory, with ``dest`` then the remote root) is filled by ``transfer.prepare`` in
    the parent before dispatch."""

    src: str
    dest: str
    mode: int | None = None
    digest: FileDigest | None = None
    tree: tuple[TreeEntry, ...] = ()

    def __post_init__(self) -> None:
        if not self.dest:
            raise UsageError("destination path is empty")
        if self.mode is not None and not 0 <= self.mode <= 0o7777:
            raise UsageError(f"mode {self.mode:o} is out of range")

    @property
    def label(self) -> str:
        return f"copy {self.src} {self.dest}"


@dataclass(frozen=True, slots=True)
class Fetch:
    """Bring a remote file, or a directory whole, to ``localdir/<host>/<basename>``."""

    remote: str
    localdir: str

    def __post_init__(self) -> None:
        if not self.localdir:
            raise UsageError("local directory is empty")

    @property
    def label(self) -> str:
        return f"fetch {self.remote} {self.localdir}"


@dataclass(frozen=True, slots=True)
class Script:
    """Ansible's ``script``: send a local script, run it with ``args``, remove it.

    ``run`` carries the sudo/env/timeout of the run like any command."""

    src: str
    args: tuple[str, ...] = ()
    run: Exec = Exec("")
    digest: FileDigest | None = None

    @property
    def label(self) -> str:
        return " ".join(("script", self.src, *self.args))


Action = Exec | Copy | Fetch | Script


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of pool work: ``action`` on ``target``; ``seq`` is the ledger's key."""

    target: Target
    action: Action
    seq: int = 0
    attempt: int = 1
    stream: bool = False  # push output lines to the parent as they arrive


@dataclass(frozen=True, slots=True)
class HostResult:
    """A subprocess-like record; ``exit_code`` is None when the command never finished."""

    host: str
    status: Status
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    error: str = ""
    duration: float = 0.0
    attempts: int = 1
    truncated: bool = False
    started: bool = False  # the command reached the host (retries only repeat unstarted ones)
    address: str = ""
    connections: int = 0  # SSH connections this task opened: 0 when a kept one served it

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


# -- worker -> parent: the task's return value and the events channel --------------------
@dataclass(frozen=True, slots=True)
class HostKey:
    """A host key seen under accept-new; only the parent writes known_hosts."""

    name: str
    keytype: str
    key: str
    file: str = ""  # the known_hosts file to write it to; "" is the run's first


@dataclass(frozen=True, slots=True)
class Completion:
    """What the task function returns: the public result plus the parent's bookkeeping."""

    seq: int
    attempt: int
    result: HostResult
    worker_pid: int = 0
    learnt: HostKey | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """Sent before a task touches the network: the parent then watches ``pid``."""

    seq: int
    attempt: int
    pid: int


@dataclass(frozen=True, slots=True)
class Lines:
    """Complete output lines of one host, for live (stream) output."""

    seq: int
    host: str
    stream: Stream
    lines: tuple[bytes, ...]


Event = Started | Lines
