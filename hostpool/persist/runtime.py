"""Both sides of a persistent pool: where its socket lives, who may talk to it, and framing.

Nothing listens on the network: a pool is a Unix socket in a directory only its user can
enter (0700, owned by them, not a link), and both ends check the other's uid with
SO_PEERCRED, so what crosses it (pickled records, as through the Pool's own pipes) only
ever comes from the same user.  A pool's name is an HMAC of its settings under a random
per-user salt: secrets in the settings (a sudo password) make it distinct without
leaving a guessable hash on disk.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import socket
import stat
import struct
import tempfile
from pathlib import Path

from hostpool.errors import ConfigError, PoolError

FRAME = struct.Struct("!I")
MAX_FRAME = 1 << 30
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def runtime_dir() -> Path:
    """``$HOSTPOOL_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/hostpool``, else
    ``/tmp/hostpool-<uid>``; created 0700 and refused unless private to this user."""
    given = os.environ.get("HOSTPOOL_RUNTIME_DIR")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if given:
        path = Path(given)
    elif xdg and Path(xdg).is_dir():
        path = Path(xdg) / "hostpool"
    else:
        path = Path(tempfile.gettempdir()) / f"hostpool-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
    except OSError as exc:
        raise ConfigError(f"persistent pools: cannot use {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ConfigError(
            f"persistent pools: {path} must be a directory owned by you with mode 0700 "
            "(someone else could impersonate or read a pool)"
        )
    return path


def pool_name(settings: bytes, where: Path) -> str:
    return hmac.new(_salt(where), settings, hashlib.sha256).hexdigest()[:20]


def _salt(where: Path) -> bytes:
    path = where / "salt"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) == 32:
            return data
        path.unlink()  # a torn write by a racing first run: start over
        return _salt(where)
    data = os.urandom(32)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return data


def peer_uid(sock: socket.socket) -> int:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    return int(_CRED.unpack(raw)[1])


def trusted(sock: socket.socket) -> bool:
    return peer_uid(sock) == os.getuid()


def connect(path: Path, timeout: float | None = 5.0) -> socket.socket | None:
    """A connection to the pool at ``path``; None when no pool answers there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError, TimeoutError):
        sock.close()
        return None
    except OSError as exc:
        sock.close()
        raise PoolError(f"persistent pool {path}: {exc.strerror or exc}") from None
    if not trusted(sock):
        sock.close()
        raise PoolError(f"persistent pool {path} is run by another user; not used")
    sock.settimeout(None)
    return sock


def send(sock: socket.socket, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(FRAME.pack(len(data)) + data)


def receive(sock: socket.socket) -> object:
    """The next message; EOFError when the other end closed."""
    (size,) = FRAME.unpack(_exactly(sock, FRAME.size))
    if size > MAX_FRAME:
        raise EOFError("oversized frame")
    return pickle.loads(_exactly(sock, size))


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
