"""Plain records that cross the process boundary (parent <-> pool workers).

Only builtins live here: a worker result must pickle and unpickle anywhere, including
on a Ray node, and must never carry a live connection or a library exception.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

DEFAULT_OUTPUT_LIMIT = 32 * 1024 * 1024  # bytes kept per stream per host


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
    vars: tuple[tuple[str, str], ...] = ()

    def var(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.vars:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class SSHOptions:
    """Run-wide settings, handed to every worker once through the pool initializer."""

    connect_timeout: float = 10.0
    command_timeout: float | None = None
    host_key_policy: HostKeyPolicy = HostKeyPolicy.STRICT
    known_hosts: tuple[str, ...] = ()  # empty = ~/.ssh/known_hosts
    look_for_keys: bool = True
    allow_agent: bool = True
    sudo: bool = False
    sudo_password: str | None = field(default=None, repr=False)
    env: tuple[tuple[str, str], ...] = ()
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    stream: bool = False  # push output lines to the parent as they arrive
    reuse_connections: bool = True


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of pool work: run ``command`` on ``target``."""

    target: Target
    command: str
    seq: int = 0  # the parent's ledger key; echoed in worker events
    attempt: int = 1
    kind: str = "exec"  # exec | copy | fetch
    args: tuple[str, ...] = ()  # kind-specific plain arguments


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
    # (known_hosts name, key type, base64 key) learnt under accept-new; written by the parent.
    new_host_key: tuple[str, str, str] | None = None
    worker_pid: int = 0

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")
