"""Child side: the pool initializer, each worker's SSH state, and the task function.

Nothing here ever raises across the process boundary: ``run_task`` turns every outcome
into a ``Completion`` of builtins, because a paramiko exception may not pickle
(``BadHostKeyException``) or may not rebuild, and either leaves ``multiprocessing.Pool``
waiting forever.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import secrets
import shlex
import signal
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from types import FrameType

# paramiko.config imports invoke when it is installed (Fabric brings it), only to run
# ssh_config 'Match exec'; workers never read ssh_config (the parent does), and the
# import costs ~38 ms of CPU in the forkserver.  Marked absent unless already loaded;
# child side only, so a parent script that uses invoke is unaffected.
sys.modules.setdefault("invoke", None)  # type: ignore[arg-type]

from hostpool import transfer
from hostpool.cancels import CancelBoard
from hostpool.connectors.base import Connector, StaleConnection
from hostpool.connectors.docker import DockerConnector
from hostpool.connectors.local import LocalConnector, kill_current
from hostpool.connectors.ssh import SSHConnector
from hostpool.connectors.ssh_handshake import SSHContext
from hostpool.models import (
    Completion,
    Connection,
    Copy,
    Exec,
    Fetch,
    HostKey,
    HostResult,
    Script,
    SSHOptions,
    Started,
    Status,
    Target,
    Task,
)
from hostpool.worker.classify import classify
from hostpool.worker.command import SudoWrap, compose, posix_login_shell
from hostpool.worker.output import EventSink, Output
from hostpool.worker.pump import pump

_Key = tuple[object, ...]


class IdleConnections:
    """SSH connections this worker process keeps for later tasks to the same host.

    One cache per process, shared by its lanes: whichever lane picks a host up reuses
    the connection any lane left, and at most ``limit`` idle ones stay open (the least
    recently used is closed first).  A warm pool keeps one per host it has served.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._idle: OrderedDict[_Key, list[SSHConnector]] = OrderedDict()
        self._count = 0

    def take(self, key: _Key) -> SSHConnector | None:
        with self._lock:
            kept = self._idle.get(key)
            if not kept:
                return None
            conn = kept.pop()
            if not kept:
                del self._idle[key]
            self._count -= 1
        if conn.alive:
            return conn
        conn.close()
        return None

    def give(self, key: _Key, conn: SSHConnector) -> None:
        if not conn.alive or self.limit < 1:
            conn.close()
            return
        surplus: list[SSHConnector] = []
        with self._lock:
            self._idle.setdefault(key, []).append(conn)
            self._idle.move_to_end(key)
            self._count += 1
            while self._count > self.limit:
                oldest = next(iter(self._idle))
                kept = self._idle[oldest]
                surplus.append(kept.pop(0))
                if not kept:
                    del self._idle[oldest]
                self._count -= 1
        for old in surplus:
            old.close()


@dataclass
class WorkerState:
    """Per-process state built once by the initializer and reused by every task."""

    options: SSHOptions
    events: EventSink | None
    ssh: SSHContext
    idle: IdleConnections
    cancels: CancelBoard | None = None


_state: WorkerState | None = None


def init_worker(
    options: SSHOptions,
    events: EventSink | None = None,
    owner: int | None = None,
    cancels: CancelBoard | None = None,
) -> None:
    """Pool initializer: signal policy plus the SSH state every task of this worker shares.

    SIGINT is ignored because the parent owns Ctrl-C; SIGTERM (pool.terminate) kills any
    local command group first so terminate leaves nothing running behind.  ``owner`` is
    the PID of the process that made the Pool: a worker outliving it (the owner was
    SIGKILLed, or OOM-killed) stops too, its commands with it.
    """
    global _state
    # Everything inherited from the forkserver stays out of garbage collection: a full
    # collection would write to every inherited object and copy-on-write the whole heap.
    gc.freeze()
    # Workers may hold passwords and decrypted keys: never in a core dump.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # paramiko logs through the logging module; with no handler Python's last resort
    # prints its warnings, tracebacks and server-supplied strings raw on our stderr.
    logger = logging.getLogger("paramiko")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    limit = options.idle_connections if options.reuse_connections else 0
    _state = WorkerState(options, events, SSHContext.load(options), IdleConnections(limit), cancels)
    if owner is not None:
        threading.Thread(
            target=_outlive_not, args=(owner,), name="hostpool-owner", daemon=True
        ).start()


def _outlive_not(owner: int) -> None:
    """The forkserver, not the owner, is a worker's parent, so no parent-death signal
    reaches it: without this a SIGKILLed CLI left its workers (and their connections)
    behind for good.  Checked once a second; the start time guards against the PID being
    reused by another process."""
    started = _start_time(owner)
    while True:
        time.sleep(1.0)
        if _start_time(owner) != started:
            kill_current()
            os._exit(0)


def _start_time(pid: int) -> str:
    """'' once ``pid`` is gone or a zombie (dead, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return ""
    return "" if len(fields) < 20 or fields[0] == b"Z" else fields[19].decode()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    kill_current()
    os._exit(128 + signum)


def run_task(task: Task) -> Completion:
    """The pool's task function.  Returns a record for every outcome, never raises."""
    state = _state
    start = time.monotonic()
    target = task.target
    learnt: HostKey | None = None
    try:
        if state is None:
            raise RuntimeError("worker used without init_worker")
        if state.events is not None:
            state.events.put(Started(task.seq, task.attempt, os.getpid()))
        if state.cancels is not None and state.cancels.covers(task.seq):
            result = HostResult(target.name, Status.INTERRUPTED, error="not run: cancelled")
        else:
            result, learnt = _perform(state, task)
    except BaseException as exc:
        status, message = classify(exc)
        result = HostResult(host=target.name, status=status, error=message)
    result = replace(
        result,
        duration=time.monotonic() - start,
        attempts=task.attempt,
        address=target.address,
    )
    return Completion(task.seq, task.attempt, result, os.getpid(), learnt)


def _perform(state: WorkerState, task: Task) -> tuple[HostResult, HostKey | None]:
    """The action on a connector; a kept connection found dead is redone once (the
    result's ``connections`` then counts the new one)."""
    opened = [0]
    try:
        result, learnt = _perform_once(state, task, opened)
    except StaleConnection:
        result, learnt = _perform_once(state, task, opened)
    return replace(result, connections=opened[0]), learnt


def _perform_once(
    state: WorkerState, task: Task, opened: list[int]
) -> tuple[HostResult, HostKey | None]:
    conn = _connector(state, task.target, opened)
    kept = False
    try:
        result = _act(state, conn, task)
        learnt = conn.take_learnt()
        conn.end_task()
        if isinstance(conn, SSHConnector):
            if state.options.warm:
                conn.open_spare()  # the next command's channel, answered while idle
            state.idle.give(task.target.connection_key, conn)
            kept = True
        return result, learnt
    finally:
        if not kept:
            conn.close()


def _connector(state: WorkerState, target: Target, opened: list[int]) -> Connector:
    """The one place a connection type picks its connector; SSH connections are kept."""
    if target.connection is Connection.LOCAL:
        return LocalConnector(target)
    if target.connection is Connection.DOCKER:
        options = state.options
        return DockerConnector(target, options.connect_timeout, options.keepalive)
    conn = state.idle.take(target.connection_key)
    if conn is not None:
        conn.reused = True
        return conn
    opened[0] += 1  # counted before connecting: a failed connect was an attempt too
    return SSHConnector(state.ssh, target)


def _act(state: WorkerState, conn: Connector, task: Task) -> HostResult:
    host = task.target.name
    action = task.action
    if isinstance(action, Copy):
        return transfer.copy(conn, host, action)
    if isinstance(action, Fetch):
        return transfer.fetch(conn, host, action)
    if isinstance(action, Script):
        return _script(state, conn, task, action)
    assert isinstance(action, Exec)
    return _exec(state, conn, task, action)


def _script(state: WorkerState, conn: Connector, task: Task, action: Script) -> HostResult:
    """Upload to a private temporary name, run, remove (the removal is part of the same
    command, so even a failing script leaves nothing behind)."""
    path = f"/tmp/.hostpool-script-{secrets.token_hex(8)}"
    try:
        conn.put(action.src, path)
        conn.install(path, path, 0o700)
    except OSError as exc:
        with contextlib.suppress(OSError):
            conn.remove(path)
        message = f"script {action.src}: upload failed: {exc.strerror or exc}"
        return HostResult(host=task.target.name, status=Status.FAILED, error=message)
    words = " ".join(shlex.quote(w) for w in (path, *action.args))
    command = f"{words}; rc=$?; rm -f {shlex.quote(path)}; exit $rc"
    return _exec(state, conn, task, replace(action.run, command=command))


def _exec(state: WorkerState, conn: Connector, task: Task, action: Exec) -> HostResult:
    opts = state.options
    become = task.target.become
    use_sudo = (opts.sudo or become is not None) if action.sudo is None else action.sudo
    password = (become.password if become else None) or opts.sudo_password
    user = (become.user if become else None) or opts.become_user
    sudo = SudoWrap(with_password=password is not None, user=user) if use_sudo else None
    out = Output(
        opts.output_limit,
        sudo=sudo,
        password=password,
        events=state.events if task.stream else None,
        seq=task.seq,
        host=task.target.name,
        stdin=action.stdin,
    )
    env = (*opts.env, *action.env)
    ssh = conn if isinstance(conn, SSHConnector) else None
    if ssh is not None:
        ssh.settle_probe(wait=0.5)  # sent alongside this connection's first command
    direct = ssh is not None and posix_login_shell(ssh.login_shell or "")
    # On a terminal the hang-up stops the command; its data is typed, not counted.
    guard = not action.pty
    command = compose(
        action.command, env, sudo, stdin_size=len(action.stdin), guard=guard, direct=direct
    )
    timeout = opts.command_timeout if action.timeout is None else action.timeout
    cancelled = state.cancels.watcher(task.seq) if state.cancels is not None else None
    proc = conn.start(command, pty=action.pty)
    if ssh is not None and opts.warm:
        ssh.probe_login_shell()  # alongside the first command, read at the next one
    return pump(proc, out, task.target.name, timeout, cancelled)


if sys.platform == "win32":  # pragma: no cover
    raise ImportError("hostpool workers need a POSIX platform")
