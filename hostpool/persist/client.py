"""Client side of a persistent pool: ``PersistentPool.map`` as a run of the warm pool.

It finds the pool whose settings match (or starts one, under a lock so racing runs start
one), sends the hosts and their actions, and hands each result and output line to the
caller's observers as ``Pool.map`` would.  Every host gets exactly one result: a pool
that dies mid-run leaves an ``error`` for each host it did not answer, and Ctrl-C
cancels this run only (its commands are stopped; the pool keeps its connections).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from hostpool.errors import ConfigError, Interrupted, PoolError, UsageError
from hostpool.models import Action, Exec, HostResult, Script, SSHOptions, Status, Target
from hostpool.persist import runtime
from hostpool.persist.protocol import (
    DEFAULT_IDLE,
    CancelRequest,
    DoneMsg,
    LinesMsg,
    PoolStatus,
    ResultMsg,
    RunRequest,
    Spec,
    StatusRequest,
    StopRequest,
    shareable,
)
from hostpool.pool import processes
from hostpool.pool.ledger import RunPolicy
from hostpool.pool.pool import (
    ActionLike,
    LineHandler,
    ResultHandler,
    StartMethod,
    as_action,
    label_of,
)
from hostpool.pool.results import batched
from hostpool.report import Report

START_TIMEOUT = 60.0  # the server's workers are up (forkserver, preloads) within this
CANCEL_TIMEOUT = 15.0  # after Ctrl-C, the pool's interrupted report comes within this


class PersistentPool:
    """A pool that outlives this process: the same ``map`` as ``Pool``, run by the
    persistent pool whose settings match (started, detached, if none runs).

    ``idle`` is how long the pool then waits for another run before it exits.
    """

    def __init__(
        self,
        options: SSHOptions | None = None,
        *,
        forks: int = 32,
        processes: int | None = None,
        maxtasksperchild: int | None = None,
        context: StartMethod = StartMethod.FORKSERVER,
        idle: float = DEFAULT_IDLE,
    ) -> None:
        if idle <= 0:
            raise UsageError("the idle limit of a persistent pool must be positive")
        self.options = options or SSHOptions()
        known = tuple(_absolute(p) for p in self.options.known_hosts)
        shared = replace(shareable(self.options), known_hosts=known)
        self.spec = Spec(shared, forks, processes, maxtasksperchild, context)
        self.idle = idle
        self.where = runtime.runtime_dir()
        self.name = runtime.pool_name(self.spec.settings(), self.where)
        self.path = self.where / f"{self.name}.sock"

    def __enter__(self) -> PersistentPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None  # the pool stays for the next run: that is the point

    def close(self) -> None:
        return None

    def join(self) -> None:
        return None

    def map(
        self,
        action: ActionLike,
        targets: Sequence[Target],
        *,
        policy: RunPolicy = RunPolicy(),
        on_result: ResultHandler | None = None,
        on_line: LineHandler | None = None,
    ) -> Report:
        """As ``Pool.map``: the Report in target order; ``Interrupted`` on Ctrl-C."""
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise UsageError("targets must have distinct names")
        if not targets:
            return Report(results=(), command=label_of(action))
        request = RunRequest(
            tuple(_anchored(t) for t in targets),
            self._actions(action, targets),
            policy,
            label_of(action),
            stream=on_line is not None,
            idle=self.idle,
        )
        sock = self._open()
        try:
            runtime.send(sock, request)
            report = _Receiver(targets, on_result, on_line).run(sock)
        finally:
            sock.close()
        if report.interrupted:
            raise Interrupted(report)
        return report

    def _actions(self, action: ActionLike, targets: Sequence[Target]) -> tuple[Action, ...]:
        """Resolved here, in the caller: a per-host function does not cross a socket, and
        paths are this process's (the pool's working directory is /)."""
        if callable(action):
            return tuple(self._own(as_action(action(t))) for t in targets)
        return (self._own(as_action(action)),)

    def _own(self, action: Action) -> Action:
        opts = self.options
        if isinstance(action, Exec):
            timeout = action.timeout if action.timeout is not None else opts.command_timeout
            return replace(action, timeout=timeout, env=(*opts.env, *action.env))
        if isinstance(action, Script):
            return replace(action, run=self._own(action.run))  # type: ignore[arg-type]
        return action  # copy and fetch paths are absolute already (as_action)

    def _open(self) -> socket.socket:
        sock = runtime.connect(self.path)
        if sock is not None:
            return sock
        with _locked(self.where / f"{self.name}.lock"):
            sock = runtime.connect(self.path)
            if sock is None:
                _start(self.spec, self.path, self.where / f"{self.name}.log")
                sock = runtime.connect(self.path)
        if sock is None:
            raise PoolError(f"the persistent pool at {self.path} does not answer")
        return sock


class _Receiver:
    def __init__(
        self,
        targets: Sequence[Target],
        on_result: ResultHandler | None,
        on_line: LineHandler | None,
    ) -> None:
        self.targets = targets
        self.on_result = on_result
        self.on_lines = batched(on_line) if on_line is not None else None
        self.seen: dict[str, HostResult] = {}
        self.t0 = time.monotonic()
        self.started_at = time.time()

    def run(self, sock: socket.socket) -> Report:
        try:
            return self._until_done(sock)
        except KeyboardInterrupt:
            return self._cancel(sock)
        except (OSError, EOFError, pickle.UnpicklingError):
            gone = "the persistent pool went away before this host finished"
            return self._lost(Status.ERROR, gone)

    def _until_done(self, sock: socket.socket) -> Report:
        while True:
            message = runtime.receive(sock)
            if isinstance(message, ResultMsg):
                self.seen[message.result.host] = message.result
                if self.on_result is not None:
                    self.on_result(message.result)
            elif isinstance(message, LinesMsg):
                if self.on_lines is not None:
                    self.on_lines(message.host, message.stream, message.lines)
            elif isinstance(message, DoneMsg):
                if message.error:
                    raise ConfigError(message.error)
                return message.report

    def _cancel(self, sock: socket.socket) -> Report:
        """Ctrl-C: the pool stops this run's commands and answers with its report."""
        try:
            runtime.send(sock, CancelRequest())
            sock.settimeout(CANCEL_TIMEOUT)
            report = self._until_done(sock)
            return replace(report, interrupted=True)
        except (KeyboardInterrupt, OSError, EOFError, pickle.UnpicklingError):
            return self._lost(Status.INTERRUPTED, "interrupted before this host finished")

    def _lost(self, status: Status, message: str) -> Report:
        """Every host the pool did not answer for gets ``status``: none is missing."""
        results = tuple(
            self.seen.get(t.name) or HostResult(t.name, status, error=message) for t in self.targets
        )
        return Report(
            results=results,
            duration=time.monotonic() - self.t0,
            started_at=self.started_at,
            interrupted=status is Status.INTERRUPTED,
        )


def _absolute(path: str) -> str:
    """This process's relative paths, for a pool whose working directory is /."""
    return path if path.startswith("~") or os.path.isabs(path) else os.path.abspath(path)


def _anchored(target: Target) -> Target:
    keys = tuple(_absolute(k) for k in target.key_files)
    certs = tuple(_absolute(c) for c in target.ssh.certificate_files)
    known = target.ssh.known_hosts
    ssh = replace(
        target.ssh,
        certificate_files=certs,
        known_hosts=None if known is None else tuple(_absolute(k) for k in known),
        global_known_hosts=tuple(_absolute(k) for k in target.ssh.global_known_hosts),
    )
    return replace(target, key_files=keys, ssh=ssh)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _start(spec: Spec, path: Path, log: Path) -> None:
    """The server, detached (its own session, reparented at once); back when it is ready."""
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hostpool.persist.server", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
    finally:
        os.close(log_fd)
    assert proc.stdin is not None and proc.stdout is not None
    with proc.stdin:
        proc.stdin.write(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
    proc.wait()  # the first child exits once the server has forked away from it
    with proc.stdout:
        line = _line(proc.stdout.fileno(), START_TIMEOUT)
    if line != b"ready":
        detail = line.decode(errors="replace").removeprefix("error: ") or f"see {log}"
        raise PoolError(f"the persistent pool did not start: {detail}")


def _line(fd: int, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.partition(b"\n")[0].strip()


def pools() -> list[PoolStatus]:
    """The persistent pools running for this user (dead ones' sockets are removed)."""
    found: list[PoolStatus] = []
    where = runtime.runtime_dir()
    for path in sorted(where.glob("*.sock")):
        status = _ask(path, StatusRequest())
        if status is not None:
            found.append(status)
    return found


def _ask(path: Path, request: object) -> PoolStatus | None:
    try:
        sock = runtime.connect(path, timeout=5.0)
    except PoolError:
        return None
    if sock is None:
        with contextlib.suppress(OSError):
            path.unlink()  # no server behind it: a pool that was killed
        return None
    with sock:
        try:
            sock.settimeout(10.0)
            runtime.send(sock, request)
            answer = runtime.receive(sock)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None
    return answer if isinstance(answer, PoolStatus) else None


def stop(name: str | None = None, wait: float = 20.0) -> list[PoolStatus]:
    """Stop one pool (by name) or all; back once their processes are gone."""
    where = runtime.runtime_dir()
    paths = [where / f"{name}.sock"] if name else sorted(where.glob("*.sock"))
    stopped = [s for s in (_ask(p, StopRequest()) for p in paths) if s is not None]
    deadline = time.monotonic() + wait
    for status in stopped:
        while processes.pid_alive(status.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    return stopped
