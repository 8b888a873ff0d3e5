"""Both sides of a persistent pool: the records a client and the pool server exchange.

One connection is one request.  A run streams ``ResultMsg``/``LinesMsg`` back and ends
with ``DoneMsg``; the client cancels by sending ``CancelRequest`` or by going away (its
hosts' commands are stopped, the pool and its connections stay).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, replace

from hostpool.models import Action, HostResult, SSHOptions, Stream, Target
from hostpool.pool.ledger import RunPolicy
from hostpool.pool.pool import StartMethod
from hostpool.report import Report

DEFAULT_IDLE = 600.0


@dataclass(frozen=True, slots=True)
class Spec:
    """What makes two runs able to share a pool: its settings and shape.  Per-host
    settings (user, key, ssh_config) are the targets' own: a host with other settings
    gets a connection of its own in the same pool."""

    options: SSHOptions
    forks: int
    processes: int | None = None
    maxtasksperchild: int | None = None
    context: StartMethod = StartMethod.FORKSERVER

    def settings(self) -> bytes:
        return pickle.dumps(self, protocol=5)


def shareable(options: SSHOptions) -> SSHOptions:
    """Per-run defaults (the command timeout, exported variables) leave the pool's
    settings: they travel with each run's actions (``per_run``), so ``-t 5`` and
    ``-t 60`` runs share one pool."""
    return replace(options, command_timeout=None, env=())


@dataclass(frozen=True, slots=True)
class RunRequest:
    targets: tuple[Target, ...]
    actions: tuple[Action, ...]  # one per target, or one for all
    policy: RunPolicy
    label: str
    stream: bool
    idle: float  # the pool's idle limit from now on


@dataclass(frozen=True, slots=True)
class StatusRequest:
    pass


@dataclass(frozen=True, slots=True)
class StopRequest:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequest:
    pass


@dataclass(frozen=True, slots=True)
class ResultMsg:
    result: HostResult


@dataclass(frozen=True, slots=True)
class LinesMsg:
    host: str
    stream: Stream
    lines: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class DoneMsg:
    report: Report
    error: str = ""  # the run's own error (writing learnt host keys), raised by the client


@dataclass(frozen=True, slots=True)
class PoolStatus:
    name: str
    pid: int
    forks: int
    processes: int
    hosts_connected: int
    clients: int
    idle_for: float
    idle_limit: float
    memory_kb: int  # proportional set size of the server, its forkserver and workers
    runs: int


Request = RunRequest | StatusRequest | StopRequest | CancelRequest
Reply = ResultMsg | LinesMsg | DoneMsg | PoolStatus
