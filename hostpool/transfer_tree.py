"""Directory copy and fetch, over the same per-file rules as ``transfer`` (both sides).

Each file keeps its guarantees (atomic rename, unchanged files not resent, fetched files
without set-id bits and never through a link); a tree as a whole is not atomic, as with
rsync or Ansible's copy.  The parent walks the local tree once, so every host is compared
against the same manifest.  Remote names are untrusted: each one must be a plain file
name before it becomes part of a local path.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import replace
from pathlib import Path

from hostpool import transfer
from hostpool.connectors.base import Connector, FileKind
from hostpool.errors import UsageError
from hostpool.models import Copy, Fetch, FileDigest, HostResult, TreeEntry

MAX_DEPTH = 64


# -- parent side ------------------------------------------------------------------------------
def prepare_tree(action: Copy, root: Path) -> Copy:
    """The manifest of ``root``; a link to a directory or a special file is refused, a
    link to a file is sent as the file (Ansible's local_follow)."""
    entries: list[TreeEntry] = [TreeEntry("", stat.S_IMODE(root.stat().st_mode))]
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        rel = here.relative_to(root).as_posix()
        rel = "" if rel == "." else rel
        dirnames.sort()
        for name in list(dirnames):
            path = here / name
            if path.is_symlink():
                raise UsageError(f"{path} is a link to a directory: not copied (give it itself)")
            entries.append(TreeEntry(posixpath.join(rel, name), stat.S_IMODE(path.stat().st_mode)))
        for name in sorted(filenames):
            path = here / name
            st = path.stat()  # follows a link to a file
            if not stat.S_ISREG(st.st_mode):
                raise UsageError(f"{path} is not a regular file or directory")
            digest = FileDigest(transfer.file_sha256(path), st.st_size, stat.S_IMODE(st.st_mode))
            entries.append(TreeEntry(posixpath.join(rel, name), digest.mode, digest))
    dest = action.dest
    if not action.src.endswith("/"):
        dest = posixpath.join(dest, root.name)
    return replace(action, src=str(root), dest=dest, tree=tuple(entries))


# -- child side -------------------------------------------------------------------------------
def copy_tree(conn: Connector, host: str, action: Copy) -> HostResult:
    sent = unchanged = size = 0
    where = action.dest
    try:
        for entry in action.tree:
            where = posixpath.join(action.dest, entry.path) if entry.path else action.dest
            if entry.digest is None:
                _make_dir(conn, where, entry.mode, parents=not entry.path)
                continue
            local = os.path.join(action.src, *entry.path.split("/"))
            mode = action.mode if action.mode is not None else entry.mode
            outcome, _ = transfer.put_file(conn, local, where, entry.digest, mode)
            if outcome == transfer.COPIED:
                sent, size = sent + 1, size + entry.digest.size
            else:
                unchanged += 1
    except OSError as exc:
        return transfer.failed(host, f"copy to {where}: {exc.strerror or exc}")
    summary = f"copied {sent} files ({size} bytes), {unchanged} unchanged, into {action.dest}"
    return transfer.done(host, summary)


def _make_dir(conn: Connector, path: str, mode: int, parents: bool = False) -> None:
    """``parents``: the root, whose missing ancestors are made too (Ansible's copy
    creates ``dest``); they get the directory's own mode."""
    info = conn.stat(path)
    if info is None:
        parent = posixpath.dirname(path.rstrip("/"))
        if parents and parent not in ("", "/", path):
            _make_dir(conn, parent, mode, parents=True)
        conn.mkdir(path, mode)
    elif info.kind is not FileKind.DIRECTORY:
        raise OSError(f"{path} exists and is not a directory")


def fetch_tree(conn: Connector, host: str, action: Fetch, dest: Path) -> HostResult:
    """``dest`` is ``LOCALDIR/<host>/<name>``; it and everything under it are created
    here, never through a link."""
    files = size = 0
    skipped: list[str] = []
    pending: list[tuple[str, Path, int]] = [(action.remote, dest, 0)]
    try:
        while pending:
            remote, local, depth = pending.pop()
            if depth > MAX_DEPTH:
                raise OSError(f"{remote}: deeper than {MAX_DEPTH} levels")
            transfer.safe_dir(local)
            for name, info in sorted(conn.listdir(remote)):
                transfer.safe_component(name)
                path = posixpath.join(remote, name)
                if info.kind is FileKind.DIRECTORY:
                    pending.append((path, local / name, depth + 1))
                elif info.kind is FileKind.FILE:
                    transfer.get_file(conn, path, local / name, info.mode)
                    files, size = files + 1, size + info.size
                else:
                    skipped.append(path)
    except (OSError, UsageError) as exc:
        return transfer.failed(
            host, f"fetch {action.remote}: {getattr(exc, 'strerror', None) or exc}"
        )
    note = f", skipped {len(skipped)} links or special files" if skipped else ""
    return transfer.done(host, f"fetched {files} files ({size} bytes) from {action.remote}{note}")
