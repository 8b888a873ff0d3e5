"""Copy and fetch, written once over the connector protocol (both sides).

Parent side, ``prepare``: the source is validated and hashed once, so every host compares
against the same digest.  Child side, ``copy``/``fetch``: a copy never leaves a
half-written file behind the destination name (it uploads to a hidden sibling, sets the
mode, renames over the target) and sends nothing when the file already has the same size
and SHA-256; a fetch lands in ``LOCALDIR/<host>/<name>`` the same way, without set-id bits
and never through a link.  File-level problems are the host's ``failed``; connection
problems propagate to the worker's classifier.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import secrets
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

from hostpool.connectors.base import Connector, FileKind
from hostpool.errors import UsageError
from hostpool.models import Copy, Fetch, FileDigest, HostResult, Status

CHUNK = 1024 * 1024


# -- parent side ------------------------------------------------------------------------------
def parse_mode(text: str | None) -> int | None:
    """``0644``/``644``/``0o644`` -> 0o644; only permission bits are accepted."""
    if text is None or text == "":
        return None
    digits = text[2:] if text.lower().startswith("0o") else text
    try:
        mode = int(digits, 8)
    except ValueError:
        raise UsageError(f"--mode expects octal permissions like 0644, got {text!r}") from None
    if not 0 <= mode <= 0o7777:
        raise UsageError(f"--mode {text!r} is out of range")
    return mode


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(action: Copy) -> Copy:
    """The copy with an absolute source and its digest (or a directory's manifest),
    checked before any host is contacted."""
    path = Path(action.src)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            from hostpool.transfer_tree import prepare_tree

            return prepare_tree(action, path.resolve())
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{action.src} is not a regular file")
        digest = FileDigest(file_sha256(path), st.st_size, stat.S_IMODE(st.st_mode))
    except OSError as exc:
        raise UsageError(f"cannot read {action.src}: {exc.strerror or exc}") from None
    return replace(action, src=str(path.resolve()), digest=digest)


def check_fetch(action: Fetch) -> Fetch:
    remote_basename(action.remote)
    return replace(action, localdir=str(Path(action.localdir).resolve()))


def remote_basename(remote: str) -> str:
    name = posixpath.basename(remote.rstrip("/") or remote)
    if not remote or name in ("", ".", ".."):
        raise UsageError(f"fetch needs a file path, got {remote!r}")
    return name


def safe_component(name: str) -> str:
    """A host name used as a file name: never a path, never a dot entry."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise UsageError(f"host name {name!r} cannot be used as a file name")
    return name


def fetch_destination(localdir: str, host: str, remote: str) -> Path:
    """``LOCALDIR/<host>/<basename>``; neither part may climb out of LOCALDIR."""
    return Path(localdir) / safe_component(host) / safe_component(remote_basename(remote))


# -- child side -------------------------------------------------------------------------------
def done(host: str, message: str) -> HostResult:
    return HostResult(
        host=host, status=Status.OK, exit_code=0, stdout=(message + "\n").encode(), started=True
    )


def failed(host: str, message: str) -> HostResult:
    return HostResult(host=host, status=Status.FAILED, error=message, started=True)


def _temp_sibling(path: str) -> str:
    """A hidden name next to ``path``: the final rename stays on one filesystem."""
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}.hostpool-{secrets.token_hex(4)}.tmp")


COPIED, UNCHANGED, MODE_SET = "copied", "unchanged", "mode set"


def put_file(
    conn: Connector, src: str, dest: str, digest: FileDigest, mode: int | None
) -> tuple[str, int]:
    """One file to ``dest``: nothing sent when size and SHA-256 match, else a hidden
    sibling renamed over it.  ``mode`` None keeps an existing file's mode.  Returns what
    was done and the mode the file has now."""
    info = conn.stat(dest)
    existing = info.mode if info is not None and info.kind is FileKind.FILE else None
    mode = mode if mode is not None else existing
    mode = digest.mode if mode is None else mode
    if info is not None and info.size == digest.size and conn.sha256(dest) == digest.sha256:
        if existing == mode:
            return UNCHANGED, mode
        conn.chmod(dest, mode)
        return MODE_SET, mode
    tmp = _temp_sibling(dest)
    try:
        conn.put(src, tmp)
        conn.install(tmp, dest, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            conn.remove(tmp)
        raise
    return COPIED, mode


def copy(conn: Connector, host: str, action: Copy) -> HostResult:
    spec = action if action.digest is not None or action.tree else prepare(action)
    if spec.tree:
        from hostpool.transfer_tree import copy_tree

        return copy_tree(conn, host, spec)
    digest = spec.digest
    assert digest is not None
    dest = spec.dest
    try:
        info = conn.stat(dest)
        if dest.endswith("/") or (info is not None and info.kind is FileKind.DIRECTORY):
            dest = posixpath.join(dest, posixpath.basename(spec.src))
        outcome, mode = put_file(conn, spec.src, dest, digest, spec.mode)
    except OSError as exc:
        return failed(host, f"copy to {dest}: {exc.strerror or exc}")
    if outcome == MODE_SET:
        return done(host, f"unchanged {dest} (mode set to {mode:04o})")
    if outcome == UNCHANGED:
        return done(host, f"unchanged {dest}")
    return done(host, f"copied {dest} ({digest.size} bytes)")


def _local_mode(remote_mode: int) -> int:
    """No set-id or sticky bits, and the umask applies, as for a file we create ourselves."""
    mask = os.umask(0)
    os.umask(mask)
    return remote_mode & 0o777 & ~mask


def safe_dir(path: Path) -> None:
    """Create the directory ``path``; refuse a link where a directory should be."""
    if path.is_symlink():
        raise OSError(f"{path} is a symbolic link")
    path.mkdir(parents=True, exist_ok=True)


def get_file(conn: Connector, remote: str, dest: Path, remote_mode: int) -> None:
    """Into a temporary sibling, then renamed over ``dest`` (never written through)."""
    safe_dir(dest.parent)
    if dest.is_symlink():
        raise OSError(f"{dest} is a symbolic link")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        conn.get(remote, tmp)
        os.chmod(tmp, _local_mode(remote_mode))
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fetch(conn: Connector, host: str, action: Fetch) -> HostResult:
    remote = action.remote
    dest = fetch_destination(action.localdir, host, remote)
    try:
        info = conn.stat(remote)
        if info is None:
            return failed(host, f"fetch {remote}: No such file")
        if info.kind is FileKind.DIRECTORY:
            from hostpool.transfer_tree import fetch_tree

            return fetch_tree(conn, host, action, dest)
        if info.kind is not FileKind.FILE:
            return failed(host, f"fetch {remote}: not a regular file")
        get_file(conn, remote, dest, info.mode)
    except OSError as exc:
        return failed(host, f"fetch {remote}: {exc.strerror or exc}")
    return done(host, f"fetched {remote} ({info.size} bytes)")
