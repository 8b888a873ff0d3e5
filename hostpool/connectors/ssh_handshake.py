"""Child side: opening one SSH connection, every step bounded by connect_timeout.

TCP (or a direct-tcpip channel through ProxyJump hops), the banner, key exchange with
cheap algorithms first, the host key against known_hosts under the run's policy, then
public-key auth: explicit keys, the agent, default identities (OpenSSH's order).  Each
failure is raised as a classified ``ConnectFailure``; nothing here writes known_hosts.
"""

from __future__ import annotations

import contextlib
import getpass
import hmac
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import paramiko

from hostpool.connectors.base import ConnectFailure
from hostpool.connectors.ssh_auth import authenticate
from hostpool.known_hosts import DEFAULT_FILES, KnownHosts, host_names
from hostpool.models import HostKey, HostKeyPolicy, SSHOptions, Status, Target

# What a transport runs over: a TCP socket, or a direct-tcpip channel through a jump host.
Channelish = socket.socket | paramiko.Channel | paramiko.ProxyCommand

BANNER_GRACE = 1.0

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

# paramiko compares MACs with a byte-by-byte Python loop; the stdlib's C comparison is
# equally constant-time and costs nothing next to it.
paramiko.util.constant_time_bytes_eq = hmac.compare_digest  # type: ignore[assignment]


@dataclass
class SSHContext:
    """Per-process SSH state the pool initializer builds once and every task reuses."""

    options: SSHOptions
    pkeys: dict[str, paramiko.PKey | str] = field(default_factory=dict)
    agent_keys: dict[str, tuple[paramiko.AgentKey, ...]] = field(default_factory=dict)

    files: dict[tuple[str, ...], KnownHosts] = field(default_factory=dict)
    stamps: dict[tuple[str, ...], tuple[object, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, options: SSHOptions) -> SSHContext:
        ctx = cls(options=options)
        ctx._current(options.known_hosts)  # read once now, reread only when changed
        return ctx

    def _current(self, files: tuple[str, ...]) -> KnownHosts:
        """The files as they are now: a long-lived worker (a warm pool) rereads them when
        one changed, so a key learnt by an earlier call or removed by the user counts for
        the next new connection, as it would for a fresh run."""
        stamp = _stamp(files or DEFAULT_FILES)
        if self.stamps.get(files) != stamp:
            self.files[files] = KnownHosts.load(files)
            self.stamps[files] = stamp
        return self.files[files]

    def known_for(self, target: Target) -> tuple[KnownHosts, str]:
        """The known_hosts a target is checked against, and the file learning writes to:
        the run's (``--known-hosts``) when given, else the host's ssh_config files."""
        settings = target.ssh
        if self.options.known_hosts or (
            settings.known_hosts is None and not settings.global_known_hosts
        ):
            return self._current(self.options.known_hosts), ""
        user_files = (
            settings.known_hosts if settings.known_hosts is not None else ("~/.ssh/known_hosts",)
        )
        files = (*user_files, *settings.global_known_hosts)
        known = self._current(files) if files else KnownHosts()
        return known, user_files[0] if user_files else ""

    def timeout(self, target: Target) -> float:
        return target.ssh.connect_timeout or self.options.connect_timeout


def _stamp(files: Sequence[str]) -> tuple[object, ...]:
    stamps: list[object] = []
    for name in files:
        try:
            st = os.stat(os.path.expanduser(name))
        except OSError:
            stamps.append(None)
            continue
        stamps.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(stamps)


@dataclass
class Hops:
    """The transports of one connection: ProxyJump hops (outermost first), then the host."""

    transports: list[paramiko.Transport] = field(default_factory=list)
    proxies: list[ProxySocket] = field(default_factory=list)

    def close(self) -> None:
        for transport in reversed(self.transports):
            transport.close()
        for proxy in self.proxies:
            proxy.close()


def open_transport(
    ctx: SSHContext, target: Target
) -> tuple[paramiko.Transport, Hops, HostKey | None]:
    """A connected, authenticated transport to ``target`` plus the key to learn, if any."""
    hops = Hops()
    try:
        sock = _open_path(ctx, target, hops)
        transport, learnt = connect(ctx, target, sock)
    except BaseException:
        hops.close()
        raise
    return transport, hops, learnt


def _open_path(ctx: SSHContext, target: Target, hops: Hops) -> Channelish:
    """A TCP socket to the target, or a direct-tcpip channel through its ProxyJump hops.

    Each hop is a full SSH connection with the same keys and the same host key policy,
    except that accept-new does not learn jump hosts (only one key per result reaches the
    parent): a jump host must already be in known_hosts unless checking is off.
    """
    timeout = ctx.timeout(target)
    if target.ssh.proxy_command:
        return ProxySocket(target.ssh.proxy_command, hops)
    if not target.proxy_jump:
        return _open_socket(target, timeout)
    jumps = [_parse_hop(h, target) for h in target.proxy_jump.split(",")]
    sock: Channelish = _open_socket(jumps[0], timeout)
    for i, hop in enumerate(jumps):
        transport, learnt = connect(ctx, hop, sock)
        hops.transports.append(transport)
        if learnt is not None:
            message = f"unknown host key for jump host {learnt.name}; add it to known_hosts"
            raise ConnectFailure(Status.HOSTKEY, message)
        nxt = jumps[i + 1] if i + 1 < len(jumps) else target
        try:
            sock = transport.open_channel(
                "direct-tcpip", (nxt.address, nxt.port), ("127.0.0.1", 0), timeout=timeout
            )
        except paramiko.ChannelException as exc:
            raise ConnectFailure(
                Status.UNREACHABLE,
                f"jump host {hop.address} cannot reach {nxt.address}:{nxt.port}: {exc.text}",
            ) from exc
    return sock


class ProxySocket(paramiko.ProxyCommand):
    """ssh_config ProxyCommand: run without a shell (its tokens were expanded from
    validated values in the parent), its child reaped when the connection closes."""

    def __init__(self, command: str, hops: Hops) -> None:
        super().__init__(command)
        hops.proxies.append(self)

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def close(self) -> None:
        super().close()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)


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


def connect(
    ctx: SSHContext, target: Target, sock: Channelish
) -> tuple[paramiko.Transport, HostKey | None]:
    """Banner, key exchange, host key check, auth on ``sock``: each bounded by connect_timeout."""
    timeout = ctx.timeout(target)
    try:
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
        _prefer_algorithms(transport, ctx.known_for(target)[0], target)
        event = threading.Event()
        transport.start_client(event=event, timeout=timeout)
        # A little past paramiko's own banner timeout, so a silent port says so.
        if not event.wait(timeout + BANNER_GRACE):
            raise ConnectFailure(Status.TIMEOUT, f"key exchange did not finish within {timeout:g}s")
        if not transport.is_active():
            exc = transport.get_exception()
            raise _before_banner(exc, timeout) or exc or paramiko.SSHException("kex failed")
        new_key = _check_host_key(ctx, target, transport.get_remote_server_key())
        authenticate(ctx, target, transport)
        if target.ssh.server_alive_interval:
            transport.set_keepalive(max(1, int(target.ssh.server_alive_interval)))
    except BaseException:
        transport.close()
        raise
    return transport, new_key


def _open_socket(target: Target, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
    except TimeoutError as exc:
        raise ConnectFailure(
            Status.TIMEOUT, f"TCP connect to {target.address}:{target.port} timed out"
        ) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _before_banner(exc: Exception | None, timeout: float) -> ConnectFailure | None:
    """paramiko's "Error reading SSH protocol banner", told apart by its cause: a port
    open but silent (a frozen sshd, a backlog nobody accepts) or closed at once.

    The client banner goes out with the TCP handshake's last packet, as OpenSSH's does;
    peeking for the server's first bytes before starting paramiko, as hostpool did, cost
    half a round trip per host (500 hosts, 32 in flight, 100 ms RTT: 12.4 -> 11.4 s)."""
    if not isinstance(exc, paramiko.SSHException) or "protocol banner" not in str(exc):
        return None
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, TimeoutError | socket.timeout):
        return ConnectFailure(
            Status.TIMEOUT, f"no SSH banner within {timeout:g}s (port open but silent)"
        )
    if isinstance(cause, EOFError | OSError):
        return ConnectFailure(Status.UNREACHABLE, "connection closed before the SSH banner")
    return None


def known_name(target: Target) -> str:
    """How the host is named in known_hosts: HostKeyAlias when ssh_config sets one."""
    return host_names(target.ssh.host_key_alias or target.address, target.port)


def _prefer_algorithms(transport: paramiko.Transport, known: KnownHosts, target: Target) -> None:
    """Ask for the host key type we already know (as OpenSSH does), and cheap algorithms."""
    opts = transport.get_security_options()
    opts.kex = _first(PREFERRED_KEX, opts.kex)
    opts.ciphers = _first(PREFERRED_CIPHERS, opts.ciphers)
    opts.digests = _first(PREFERRED_MACS, opts.digests)
    types = known.known_types(known_name(target))
    if "ssh-rsa" in types:
        types += ["rsa-sha2-512", "rsa-sha2-256"]
    if types:
        opts.key_types = _first(tuple(types), opts.key_types)


def _first(wanted: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    """``available`` reordered so the ``wanted`` ones it supports come first."""
    head = tuple(a for a in wanted if a in available)
    return head + tuple(a for a in available if a not in head)


def _check_host_key(ctx: SSHContext, target: Target, key: paramiko.PKey) -> HostKey | None:
    """Apply the host key policy; returns the key to learn (accept-new) for the parent to write."""
    policy = ctx.options.host_key_policy or target.ssh.host_key_policy or HostKeyPolicy.STRICT
    if policy is HostKeyPolicy.IGNORE:
        return None
    name = known_name(target)
    keytype, blob = key.get_name(), key.get_base64()
    known, learn_to = ctx.known_for(target)
    entries = known.lookup(name)
    if any(e.marker == "@revoked" and e.key == blob for e in entries):
        raise ConnectFailure(Status.HOSTKEY, f"host key for {name} is marked @revoked")
    trusted = [e for e in entries if not e.marker]
    if any(e.keytype == keytype and e.key == blob for e in trusted):
        return None
    if trusted:
        raise ConnectFailure(
            Status.HOSTKEY,
            f"host key for {name} does not match known_hosts "
            f"(server offered {keytype} {key.fingerprint}); possible man-in-the-middle",
        )
    if policy is HostKeyPolicy.ACCEPT_NEW:
        return HostKey(name, keytype, blob, learn_to)
    raise ConnectFailure(
        Status.HOSTKEY,
        f"unknown host key for {name} ({keytype} {key.fingerprint}); "
        "add it to known_hosts or run with --accept-new",
    )


def _local_user() -> str:
    return getpass.getuser()
