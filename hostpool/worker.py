"""Child side: the pool initializer, each worker's SSH state, and the task function.

This is the only module (with sftp.py) that imports paramiko.  Nothing here ever raises
across the process boundary: ``run_task`` turns every outcome into a ``HostResult`` of
builtins, because a paramiko exception may not pickle (``BadHostKeyException``) or may
not rebuild, and either leaves ``multiprocessing.Pool`` waiting forever.
"""

from __future__ import annotations

import errno
import gc
import hmac
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

# paramiko.config imports invoke when it is installed (Fabric brings it), only to run
# ssh_config 'Match exec'; workers never read ssh_config (the parent does), and the
# import costs ~38 ms of CPU in the forkserver.  Mark it absent unless already loaded.
sys.modules.setdefault("invoke", None)  # type: ignore[arg-type]

import paramiko

from hostpool import localexec
from hostpool.knownhosts import KnownHosts, host_names
from hostpool.models import Connection, HostKeyPolicy, HostResult, SSHOptions, Status, Target, Task
from hostpool.output import STDERR, STDOUT, EventSink, Output
from hostpool.shell import SudoWrap, compose

# Cheapest first: curve25519 kex and ed25519 keys dominate the per-host CPU cost.
PREFERRED_KEX = (
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group-exchange-sha256",
)
# AES-GCM authenticates inside the cipher: no per-packet HMAC computed and compared in Python.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
PREFERRED_MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512")
DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")
T = TypeVar("T")

# paramiko compares MACs with a byte-by-byte Python loop; the stdlib's C comparison is
# equally constant-time and costs nothing next to it.
paramiko.util.constant_time_bytes_eq = hmac.compare_digest  # type: ignore[assignment]


class HandshakeFailure(Exception):
    """Internal to this module: a classified failure raised inside the handshake steps."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


@dataclass
class _Connection:
    key: tuple[str, int, str, tuple[str, ...], str]
    transport: paramiko.Transport
    jumps: list[paramiko.Transport] = field(default_factory=list)  # ProxyJump hops, outermost first

    def close(self) -> None:
        self.transport.close()
        for hop in reversed(self.jumps):
            hop.close()


@dataclass
class WorkerState:
    """Per-process SSH state built once by the initializer and reused by every task."""

    options: SSHOptions
    events: EventSink | None
    known: KnownHosts
    pkeys: dict[str, paramiko.PKey | str] = field(default_factory=dict)
    agent_keys: tuple[paramiko.AgentKey, ...] | None = None
    lanes: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def slot(self) -> _Connection | None:
        """The connection kept for the next task: one per worker, or per lane when a worker
        runs several tasks at once (lanes.py), so each lane reuses its own like a process."""
        return getattr(self.lanes, "slot", None)

    @slot.setter
    def slot(self, conn: _Connection | None) -> None:
        self.lanes.slot = conn


_state: WorkerState | None = None


def init_worker(options: SSHOptions, events: EventSink | None = None) -> None:
    """Pool initializer: signal policy plus the SSH state every task of this worker shares.

    SIGINT is ignored because the parent owns Ctrl-C; SIGTERM (pool.terminate) kills any
    local command group first so terminate leaves nothing running behind.
    """
    global _state
    # Everything inherited from the forkserver stays out of garbage collection: a full
    # collection would write to every inherited object and copy-on-write the whole heap.
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _state = WorkerState(options=options, events=events, known=KnownHosts.load(options.known_hosts))


def _on_sigterm(signum: int, frame: Any) -> None:
    localexec.kill_current()
    os._exit(128 + signum)


def run_task(task: Task) -> HostResult:
    """The pool's task function.  Returns a record for every outcome, never raises."""
    state = _state
    start = time.monotonic()
    target = task.target
    try:
        if state is None:
            raise RuntimeError("worker used without init_worker")
        if state.events is not None:
            state.events.put(("start", task.seq, task.attempt, os.getpid()))
        result = _dispatch(state, task)
    except BaseException as exc:
        status, message = classify(exc)
        result = HostResult(host=target.name, status=status, error=message, address=target.address)
    return _finalise(result, task, start)


def _finalise(result: HostResult, task: Task, start: float) -> HostResult:
    return replace(
        result,
        duration=time.monotonic() - start,
        attempts=task.attempt,
        worker_pid=os.getpid(),
        address=task.target.address,
    )


def _dispatch(state: WorkerState, task: Task) -> HostResult:
    target = task.target
    opts = state.options
    sudo = SudoWrap(with_password=opts.sudo_password is not None) if opts.sudo else None
    out = Output(
        opts.output_limit,
        sudo=sudo,
        password=opts.sudo_password,
        events=state.events if opts.stream else None,
        seq=task.seq,
        host=target.name,
    )
    command = compose(task.command, opts.env, sudo)
    if task.kind != "exec" and target.connection in (Connection.LOCAL, Connection.DOCKER):
        from hostpool import localcopy

        return localcopy.run_transfer(task, connect_timeout=opts.connect_timeout)
    if target.connection in (Connection.LOCAL, Connection.DOCKER):
        return localexec.run_local(
            target,
            command,
            out,
            connect_timeout=opts.connect_timeout,
            command_timeout=opts.command_timeout,
        )
    if task.kind != "exec":
        from hostpool import sftp

        transport, new_key, client = _open(state, target, sftp.open_client)
        return sftp.run_transfer(transport, client, task, new_key)
    return _run_ssh(state, target, command, out)


def _open(
    state: WorkerState, target: Target, opener: Callable[[paramiko.Transport], T]
) -> tuple[paramiko.Transport, Any, T]:
    """Open a channel (session, SFTP) on the worker's connection to ``target``.

    A kept connection can go stale between tasks (the server timed it out): the first
    channel then fails, and one fresh connection is tried before giving up.
    """
    reused = state.slot is not None
    transport, new_key = _connected(state, target)
    try:
        return transport, new_key, opener(transport)
    except (paramiko.SSHException, EOFError, OSError):
        if not reused:
            raise
        _drop_slot(state)
        transport, new_key = _connected(state, target)
        return transport, new_key, opener(transport)


# -- connection ---------------------------------------------------------------------------
def _connected(state: WorkerState, target: Target) -> tuple[paramiko.Transport, Any]:
    """The worker's single connection slot: reuse it for the same host, else replace it."""
    key = (
        target.address,
        target.port,
        target.user or "",
        target.key_files,
        target.proxy_jump or "",
    )
    slot = state.slot
    if slot is not None:
        if slot.key == key and slot.transport.is_active() and state.options.reuse_connections:
            return slot.transport, None
        slot.close()
        state.slot = None
    jumps: list[paramiko.Transport] = []
    try:
        sock = _open_path(state, target, jumps)
        transport, new_key = connect(state, target, sock)
    except BaseException:
        for hop in reversed(jumps):
            hop.close()
        raise
    state.slot = _Connection(key=key, transport=transport, jumps=jumps)
    return transport, new_key


def _drop_slot(state: WorkerState) -> None:
    if state.slot is not None:
        state.slot.close()
        state.slot = None


def _open_path(state: WorkerState, target: Target, jumps: list[paramiko.Transport]) -> Any:
    """A TCP socket to the target, or a direct-tcpip channel through its ProxyJump hops.

    Each hop is a full SSH connection with the same keys and the same host key policy,
    except that accept-new does not learn jump hosts (only one key per result reaches the
    parent): a jump host must already be in known_hosts unless checking is off.
    """
    timeout = state.options.connect_timeout
    if not target.proxy_jump:
        return _open_socket(target, timeout)
    hops = [_parse_hop(h, target) for h in target.proxy_jump.split(",")]
    sock: Any = _open_socket(hops[0], timeout)
    for i, hop in enumerate(hops):
        transport, learnt = connect(state, hop, sock)
        jumps.append(transport)
        if learnt is not None:
            raise HandshakeFailure(
                Status.HOSTKEY, f"unknown host key for jump host {learnt[0]}; add it to known_hosts"
            )
        nxt = hops[i + 1] if i + 1 < len(hops) else target
        try:
            sock = transport.open_channel(
                "direct-tcpip", (nxt.address, nxt.port), ("127.0.0.1", 0), timeout=timeout
            )
        except paramiko.ChannelException as exc:
            raise HandshakeFailure(
                Status.UNREACHABLE,
                f"jump host {hop.address} cannot reach {nxt.address}:{nxt.port}: {exc.text}",
            ) from exc
    return sock


def _parse_hop(spec: str, target: Target) -> Target:
    """``[user@]host[:port]`` (IPv6 in brackets), validated earlier by the inventory."""
    user, _, hostport = spec.rpartition("@")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest.lstrip(":") or "22"
    else:
        host, _, port = hostport.partition(":")
    return Target(
        name=f"jump:{host}",
        address=host,
        port=int(port or 22),
        user=user or target.user,
        key_files=target.key_files,
    )


def connect(state: WorkerState, target: Target, sock: Any) -> tuple[paramiko.Transport, Any]:
    """Banner, key exchange, host key check, auth on ``sock``: each bounded by connect_timeout."""
    timeout = state.options.connect_timeout
    try:
        if isinstance(sock, socket.socket):
            _await_banner(sock, timeout)
        transport = paramiko.Transport(sock)
        # paramiko polls its socket every 0.1 s; with dozens of idle transports per core
        # those wake-ups add up, and close() does not wait for them anyway.
        sock.settimeout(1.0)
    except BaseException:
        sock.close()
        raise
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        _prefer_algorithms(transport, state.known, target)
        event = threading.Event()
        transport.start_client(event=event, timeout=timeout)
        if not event.wait(timeout):
            raise HandshakeFailure(
                Status.TIMEOUT, f"key exchange did not finish within {timeout:g}s"
            )
        if not transport.is_active():
            exc = transport.get_exception()
            raise exc if exc is not None else paramiko.SSHException("key exchange failed")
        new_key = _check_host_key(state, target, transport.get_remote_server_key())
        _authenticate(state, target, transport)
    except BaseException:
        transport.close()
        raise
    return transport, new_key


def _open_socket(target: Target, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
    except TimeoutError as exc:
        raise HandshakeFailure(
            Status.TIMEOUT, f"TCP connect to {target.address}:{target.port} timed out"
        ) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _await_banner(sock: socket.socket, timeout: float) -> None:
    """Peek for the server's first bytes so a silent port says 'no banner', not 'EOF'."""
    sock.settimeout(timeout)
    try:
        first = sock.recv(4, socket.MSG_PEEK)
    except TimeoutError as exc:
        raise HandshakeFailure(
            Status.TIMEOUT, f"no SSH banner within {timeout:g}s (port open but silent)"
        ) from exc
    if not first:
        raise HandshakeFailure(Status.UNREACHABLE, "connection closed before the SSH banner")


def _prefer_algorithms(transport: paramiko.Transport, known: KnownHosts, target: Target) -> None:
    """Ask for the host key type we already know (as OpenSSH does), and cheap algorithms."""
    opts = transport.get_security_options()
    opts.kex = _first(PREFERRED_KEX, opts.kex)
    opts.ciphers = _first(PREFERRED_CIPHERS, opts.ciphers)
    opts.digests = _first(PREFERRED_MACS, opts.digests)
    types = known.known_types(host_names(target.address, target.port))
    if "ssh-rsa" in types:
        types += ["rsa-sha2-512", "rsa-sha2-256"]
    if types:
        opts.key_types = _first(tuple(types), opts.key_types)


def _first(wanted: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    """``available`` reordered so the ``wanted`` ones it supports come first."""
    head = tuple(a for a in wanted if a in available)
    return head + tuple(a for a in available if a not in head)


def _check_host_key(
    state: WorkerState, target: Target, key: paramiko.PKey
) -> tuple[str, str, str] | None:
    """Apply the host key policy; returns the key to learn (accept-new) for the parent to write."""
    policy = state.options.host_key_policy
    if policy is HostKeyPolicy.IGNORE:
        return None
    name = host_names(target.address, target.port)
    keytype, blob = key.get_name(), key.get_base64()
    entries = state.known.lookup(name)
    if any(e.marker == "@revoked" and e.key == blob for e in entries):
        raise HandshakeFailure(Status.HOSTKEY, f"host key for {name} is marked @revoked")
    trusted = [e for e in entries if not e.marker]
    if any(e.keytype == keytype and e.key == blob for e in trusted):
        return None
    if trusted:
        raise HandshakeFailure(
            Status.HOSTKEY,
            f"host key for {name} does not match known_hosts "
            f"(server offered {keytype} {key.fingerprint}); possible man-in-the-middle",
        )
    if policy is HostKeyPolicy.ACCEPT_NEW:
        return (name, keytype, blob)
    raise HandshakeFailure(
        Status.HOSTKEY,
        f"unknown host key for {name} ({keytype} {key.fingerprint}); "
        "add it to known_hosts or run with --accept-new",
    )


def _authenticate(state: WorkerState, target: Target, transport: paramiko.Transport) -> None:
    user = target.user or _local_user()
    tried: list[str] = []
    errors: list[str] = []
    for label, pkey in _candidate_keys(state, target):
        if isinstance(pkey, str):
            errors.append(f"{label}: {pkey}")
            continue
        tried.append(label)
        try:
            transport.auth_publickey(user, pkey)
        except paramiko.AuthenticationException as exc:
            if isinstance(exc, paramiko.BadAuthenticationType):
                allowed = ",".join(exc.allowed_types)
                raise HandshakeFailure(
                    Status.AUTH,
                    f"server does not accept public keys for {user} (allows: {allowed})",
                ) from exc
            continue
        if transport.is_authenticated():
            return
    detail = f"tried {', '.join(tried)}" if tried else "no usable key"
    if errors:
        detail += "; " + "; ".join(errors)
    raise HandshakeFailure(Status.AUTH, f"authentication failed for {user}: {detail}")


def _candidate_keys(state: WorkerState, target: Target) -> list[tuple[str, paramiko.PKey | str]]:
    """Explicit keys first, then the agent, then default identities (OpenSSH's order)."""
    opts = state.options
    found: list[tuple[str, paramiko.PKey | str]] = []
    for path in target.key_files:
        found.append((path, _load_key(state, path)))
    if opts.allow_agent and os.environ.get("SSH_AUTH_SOCK"):
        if state.agent_keys is None:
            try:
                state.agent_keys = tuple(paramiko.Agent().get_keys())
            except (paramiko.SSHException, OSError):
                state.agent_keys = ()
        found.extend((f"agent:{k.get_name()}", k) for k in state.agent_keys)
    if opts.look_for_keys and not target.key_files:
        home = Path("~/.ssh").expanduser()
        for name in DEFAULT_IDENTITIES:
            identity = home / name
            if identity.is_file():
                loaded = _load_key(state, str(identity))
                if not isinstance(loaded, str):
                    found.append((str(identity), loaded))
    return found


def _load_key(state: WorkerState, path: str) -> paramiko.PKey | str:
    """Parse each key file once per worker; a parse error is remembered as its message."""
    cached = state.pkeys.get(path)
    if cached is not None:
        return cached
    loaded: paramiko.PKey | str
    try:
        loaded = paramiko.PKey.from_path(Path(path).expanduser())
    except paramiko.PasswordRequiredException:
        loaded = "key is encrypted; load it into ssh-agent"
    except FileNotFoundError:
        loaded = "key file not found"
    except (paramiko.SSHException, OSError, ValueError) as exc:
        loaded = f"cannot load key: {exc}"
    state.pkeys[path] = loaded
    return loaded


def _local_user() -> str:
    import getpass

    return getpass.getuser()


# -- command ------------------------------------------------------------------------------
def _run_ssh(state: WorkerState, target: Target, command: str, out: Output) -> HostResult:
    opts = state.options
    transport, new_key, channel = _open(
        state, target, lambda t: t.open_session(timeout=opts.connect_timeout)
    )
    start = time.monotonic()
    try:
        _exec_no_reply(channel, command)
        timed_out = _pump_channel(channel, out, opts.command_timeout, start)
        transport_alive = transport.is_active()
        if timed_out:
            _drop_slot(state)  # the remote command may still be running on it
            error = f"command did not finish within {opts.command_timeout:g}s"
            return out.result(target.name, Status.TIMEOUT, error=error, new_host_key=new_key)
        if transport_alive and not channel.exit_status_ready():
            error = "server closed the session without an exit status (exec refused?)"
            return out.result(target.name, Status.ERROR, error=error, new_host_key=new_key)
        if not channel.exit_status_ready() or (channel.exit_status == -1 and not transport_alive):
            # paramiko reports a dropped connection as exit status -1 on a dead transport.
            _drop_slot(state)
            error = "connection lost before the command finished"
            return out.result(target.name, Status.UNREACHABLE, error=error, new_host_key=new_key)
        rc = channel.recv_exit_status()
    finally:
        channel.close()
    if rc == -1:
        error = "remote command was killed by a signal"
        return out.result(target.name, Status.FAILED, error=error, new_host_key=new_key)
    return out.exit_result(target.name, rc, new_host_key=new_key)


def _exec_no_reply(channel: paramiko.Channel, command: str) -> None:
    """Send the exec request without asking for a reply.

    paramiko's ``exec_command`` waits, without a timeout, for the server to confirm the
    request: one extra round trip per host (a tenth of a second per wave at 100 ms RTT)
    and an unbounded wait.  A refused exec still shows: the server closes the channel
    without an exit status, which the caller reports.
    """
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    message.add_int(channel.remote_chanid)
    message.add_string("exec")
    message.add_boolean(False)
    message.add_string(command)
    transport = channel.get_transport()
    assert transport is not None
    transport._send_user_message(message)  # type: ignore[attr-defined]


def _pump_channel(
    channel: paramiko.Channel, out: Output, command_timeout: float | None, start: float
) -> bool:
    """Drain stdout and stderr together until EOF on both; True when the deadline passed.

    Reading one stream to EOF before the other deadlocks once the other fills the window.
    """
    deadline = start + command_timeout if command_timeout else None
    stdin_open = True
    fd = channel.fileno()
    while True:
        if stdin_open and out.close_stdin:
            channel.shutdown_write()
            stdin_open = False
        drained = False
        while channel.recv_ready():
            drained = True
            reply = out.feed(STDOUT, channel.recv(65536))
            if reply and stdin_open:
                channel.sendall(reply)
        while channel.recv_stderr_ready():
            drained = True
            reply = out.feed(STDERR, channel.recv_stderr(65536))
            if reply and stdin_open:
                channel.sendall(reply)
        if drained:
            continue
        if channel.eof_received and not channel.recv_ready() and not channel.recv_stderr_ready():
            break
        if channel.closed or not channel.get_transport().is_active():
            break
        wait = _slice(deadline)
        if wait is None:
            return True
        select.select([fd], [], [], wait)
    # Both streams ended; the exit status follows within the same transport turn.
    while not channel.exit_status_ready():
        if not channel.get_transport().is_active():
            break
        wait = _slice(deadline)
        if wait is None:
            return True
        channel.status_event.wait(wait)
    return False


def _slice(deadline: float | None) -> float | None:
    """How long one wait may last: a second at most, None once the deadline has passed."""
    if deadline is None:
        return 1.0
    left = deadline - time.monotonic()
    return None if left <= 0 else min(left, 1.0)


# -- classification -----------------------------------------------------------------------
def classify(exc: BaseException) -> tuple[Status, str]:
    """One ordered mapping from any transport failure to a status and a readable message."""
    if isinstance(exc, HandshakeFailure):
        return exc.status, exc.message
    if isinstance(exc, paramiko.BadHostKeyException):
        return Status.HOSTKEY, f"host key mismatch: {exc}"
    if isinstance(exc, paramiko.AuthenticationException):
        return Status.AUTH, f"authentication failed: {exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return Status.TIMEOUT, f"timed out: {exc or type(exc).__name__}"
    if isinstance(exc, socket.gaierror):
        return Status.UNREACHABLE, f"cannot resolve host name: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return Status.UNREACHABLE, "connection refused"
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return Status.UNREACHABLE, str(exc)
    if isinstance(exc, OSError) and exc.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
    ):
        return Status.UNREACHABLE, f"connection failed: {exc.strerror or exc}"
    if isinstance(exc, EOFError):
        return Status.UNREACHABLE, "connection closed by the server"
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        if "banner" in text.lower() and "timed out" in text.lower():
            return Status.TIMEOUT, text
        if "Error reading SSH protocol banner" in text or "closed" in text.lower():
            return Status.UNREACHABLE, text
        return Status.ERROR, f"ssh: {text}"
    if isinstance(exc, OSError):
        return Status.UNREACHABLE, f"connection failed: {exc.strerror or exc}"
    if isinstance(exc, KeyboardInterrupt):
        return Status.INTERRUPTED, "interrupted"
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" (at {Path(where[0].filename).name}:{where[0].lineno})" if where else ""
    return Status.ERROR, f"{type(exc).__name__}: {exc}{at}"


__all__ = ["classify", "init_worker", "run_task"]
if sys.platform == "win32":  # pragma: no cover
    raise ImportError("hostpool workers need a POSIX platform")
