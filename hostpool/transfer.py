"""Both sides: what a copy/fetch task carries and how its outcome reads.

The parent validates and hashes the source once (``copy_task``) so every host compares
against the same digest; the workers (``sftp.py`` over SSH, ``localcopy.py`` for local
and docker hosts) share the path rules and result records defined here.
"""

from __future__ import annotations

import hashlib
import posixpath
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from hostpool.errors import UsageError
from hostpool.models import HostResult, Status, Task

CHUNK = 1024 * 1024


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


@dataclass(frozen=True, slots=True)
class CopySpec:
    """A copy task's arguments, parsed back from the task's plain string tuple."""

    src: str
    dest: str
    mode: int | None
    sha256: str
    size: int
    src_mode: int

    def as_args(self) -> tuple[str, ...]:
        mode = "" if self.mode is None else oct(self.mode)
        return (self.src, self.dest, mode, self.sha256, str(self.size), oct(self.src_mode))

    @classmethod
    def from_args(cls, args: tuple[str, ...]) -> CopySpec:
        src, dest, mode, sha, size, src_mode = args
        return cls(src, dest, parse_mode(mode), sha, int(size), int(src_mode, 8))

    def final_mode(self, existing: int | None) -> int:
        """--mode, else the mode the file already has, else the source's permissions."""
        if self.mode is not None:
            return self.mode
        return existing if existing is not None else self.src_mode


def copy_task(src: str, dest: str, mode: str | None = None) -> tuple[str, tuple[str, ...]]:
    """Validate and hash the local source once; returns (command label, task args)."""
    path = Path(src)
    try:
        st = path.stat()
    except OSError as exc:
        raise UsageError(f"cannot read {src}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{src} is not a regular file")
    if not dest:
        raise UsageError("destination path is empty")
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise UsageError(f"cannot read {src}: {exc.strerror or exc}") from None
    spec = CopySpec(
        str(path.resolve()), dest, parse_mode(mode), digest, st.st_size, stat.S_IMODE(st.st_mode)
    )
    return f"copy {src} {dest}", spec.as_args()


def fetch_task(remote: str, localdir: str) -> tuple[str, tuple[str, ...]]:
    remote_basename(remote)
    if not localdir:
        raise UsageError("local directory is empty")
    return f"fetch {remote} {localdir}", (remote, str(Path(localdir).resolve()))


def remote_basename(remote: str) -> str:
    name = posixpath.basename(remote)
    if not remote or name in ("", ".", ".."):
        raise UsageError(f"fetch needs a file path, got {remote!r}")
    return name


def fetch_destination(localdir: str, host: str, remote: str) -> Path:
    """``LOCALDIR/<host>/<basename>``; neither part may climb out of LOCALDIR."""
    from hostpool.export import safe_component

    return Path(localdir) / safe_component(host) / safe_component(remote_basename(remote))


def temp_sibling(path: str) -> str:
    """A hidden name next to ``path``: the final rename stays on one filesystem."""
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}.hostpool-{secrets.token_hex(4)}.tmp")


def into_dir(dest: str, src: str) -> str:
    return posixpath.join(dest, posixpath.basename(src))


def done(task: Task, message: str) -> HostResult:
    return HostResult(
        host=task.target.name,
        status=Status.OK,
        exit_code=0,
        stdout=(message + "\n").encode(),
        started=True,
    )


def failed(task: Task, message: str) -> HostResult:
    return HostResult(host=task.target.name, status=Status.FAILED, error=message, started=True)


def os_error(action: str, path: str, exc: OSError) -> str:
    return f"{action} {path}: {exc.strerror or exc}"


def unknown_kind(task: Task) -> HostResult:
    return HostResult(
        host=task.target.name, status=Status.ERROR, error=f"unknown task kind {task.kind!r}"
    )
