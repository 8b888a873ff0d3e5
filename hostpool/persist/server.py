"""Server side of a persistent pool: one warm ``hostpool.Pool`` that outlives the runs using it.

The first ``--persist`` run starts it detached (``python -m hostpool.persist.server
PATH``, its ``Spec`` on stdin) and every compatible run then sends its hosts here: the
same workers, their lanes and their open connections.  Each client connection is one
run, served by its own thread through ``Pool.map_async``; the pool's callbacks only
enqueue, this thread writes.  A client that cancels or goes away has its call cancelled
(its commands stopped on the hosts); the pool goes on.  It exits on ``stop``, SIGTERM,
or when no run came for its idle limit, closing and joining its workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing.forkserver
import os
import pickle
import queue
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from hostpool.errors import HostpoolError
from hostpool.models import Action, Connection, HostResult, Status, Stream, Target
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
)
from hostpool.pool.pool import Pool
from hostpool.pool.results import MapResult

KEPT = (Status.OK, Status.FAILED)  # the command ran and ended: the connection stays open


class _PerHost:
    """The run's per-target actions, resolved by the client, under the run's label."""

    def __init__(self, actions: dict[str, Action], label: str) -> None:
        self.actions = actions
        self.__name__ = label

    def __call__(self, target: Target) -> Action:
        return self.actions[target.name]


class _Lines:
    def __init__(self, out: queue.SimpleQueue[object]) -> None:
        self.out = out

    def __call__(self, host: str, stream: Stream, line: bytes) -> None:
        self.out.put(LinesMsg(host, stream, (line,)))

    def lines(self, host: str, stream: Stream, lines: tuple[bytes, ...]) -> None:
        self.out.put(LinesMsg(host, stream, lines))


class Server:
    def __init__(self, spec: Spec, path: Path) -> None:
        self.spec = spec
        self.path = path
        self.pool = Pool(
            spec.options,
            forks=spec.forks,
            processes=spec.processes,
            maxtasksperchild=spec.maxtasksperchild,
            context=spec.context,
            warm=True,
        )
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._clients = 0
        self._runs = 0
        self._idle_limit = DEFAULT_IDLE
        self._last = time.monotonic()
        self._connected: dict[object, bool] = {}
        self.listener, self._inode = _bind(path)

    # -- the accept loop (main thread) ---------------------------------------------------
    def serve(self) -> None:
        self.listener.settimeout(1.0)
        while not self.stopping.is_set() and not self._expired():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()
        self._shutdown()

    def _expired(self) -> bool:
        with self._lock:
            return not self._clients and time.monotonic() - self._last > self._idle_limit

    def _shutdown(self) -> None:
        """No process is left: the socket goes first (new runs start their own pool),
        then the workers are joined, or terminated when a run is still in flight."""
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        self.listener.close()
        with self._lock:
            busy = self._clients > 0
        if busy:
            self.pool.terminate()
        else:
            self.pool.close()
        self.pool.join()

    # -- one client (its own thread) -----------------------------------------------------
    def _client(self, conn: socket.socket) -> None:
        with conn:
            try:
                if not runtime.trusted(conn):
                    return
                request = runtime.receive(conn)
                if isinstance(request, RunRequest):
                    self._serve_run(conn, request)
                elif isinstance(request, StatusRequest):
                    runtime.send(conn, self.status())
                elif isinstance(request, StopRequest):
                    runtime.send(conn, self.status())
                    self.stopping.set()
            except (OSError, EOFError, pickle.UnpicklingError):
                return  # the client went away; a run it started was cancelled

    def _serve_run(self, conn: socket.socket, request: RunRequest) -> None:
        with self._lock:
            self._clients += 1
            self._runs += 1
            self._idle_limit = request.idle
        try:
            self._run(conn, request)
        finally:
            with self._lock:
                self._clients -= 1
                self._last = time.monotonic()

    def _run(self, conn: socket.socket, request: RunRequest) -> None:
        out: queue.SimpleQueue[object] = queue.SimpleQueue()
        if len(request.actions) == 1:
            action: Action | _PerHost = request.actions[0]
        else:
            names = [t.name for t in request.targets]
            action = _PerHost(dict(zip(names, request.actions, strict=True)), request.label)
        result = self.pool.map_async(
            action,
            request.targets,
            policy=request.policy,
            on_result=out.put,
            on_line=_Lines(out) if request.stream else None,
        )
        targets = {t.name: t for t in request.targets}
        threading.Thread(
            target=self._watch, args=(conn, result), name="hostpool-client", daemon=True
        ).start()
        gone = False
        while True:
            try:
                message = out.get(timeout=0.2)
            except queue.Empty:
                if result.ready() and out.empty():
                    break
                continue
            if isinstance(message, HostResult):
                self._note(targets.get(message.host), message)
                message = ResultMsg(message)
            if not gone:
                try:
                    runtime.send(conn, message)
                except OSError:
                    gone = True
                    self.pool.cancel(result, "interrupted: the client went away")
        call = result.call
        assert call.report is not None
        if not gone:
            error = str(call.error) if call.error is not None else ""
            runtime.send(conn, DoneMsg(call.report, error))

    def _watch(self, conn: socket.socket, result: MapResult) -> None:
        """The client's only message during a run is a cancel; its going away is one."""
        try:
            message = runtime.receive(conn)
        except (OSError, EOFError, pickle.UnpicklingError):
            message = CancelRequest()
        if isinstance(message, CancelRequest) and not result.ready():
            self.pool.cancel(result, "interrupted: the client stopped")

    def _note(self, target: Target | None, result: HostResult) -> None:
        if target is not None and target.connection is Connection.SSH:
            self._connected[target.connection_key] = result.status in KEPT

    def status(self) -> PoolStatus:
        with self._lock:
            clients, runs, idle = self._clients, self._runs, time.monotonic() - self._last
            limit = self._idle_limit
        return PoolStatus(
            name=self.path.stem,
            pid=os.getpid(),
            forks=self.spec.forks,
            processes=self.pool.processes,
            hosts_connected=sum(self._connected.values()),
            clients=clients,
            idle_for=0.0 if clients else idle,
            idle_limit=limit,
            memory_kb=_tree_pss([os.getpid(), _forkserver_pid(), *self.pool.worker_pids()]),
            runs=runs,
        )


def _bind(path: Path) -> tuple[socket.socket, int]:
    """The caller holds the pool's start lock: a socket left there is a dead pool's.
    Returns the socket and its file's inode (removed at exit only if still ours)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen(64)
    return sock, os.stat(path).st_ino


def _forkserver_pid() -> int:
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    return int(getattr(server, "_forkserver_pid", None) or 0)


def _tree_pss(pids: list[int]) -> int:
    total = 0
    for pid in {p for p in pids if p}:
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
    return total


def main() -> int:
    """Detach (the starting client reaps the first child at once), read the spec, start
    the pool, bind, say ``ready`` on stdout, then serve."""
    if os.fork() > 0:
        os._exit(0)
    os.umask(0o077)
    os.chdir("/")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    path = Path(sys.argv[1])
    spec = pickle.load(sys.stdin.buffer)
    if not isinstance(spec, Spec):
        return 2
    try:
        server = Server(spec, path)
    except (HostpoolError, OSError) as exc:
        print(f"error: {exc}", flush=True)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
