"""Parent side: the only writer of known_hosts (for ``--accept-new``).

Workers only report keys they saw; appending here, under an exclusive lock, keeps
concurrent hostpool runs from interleaving lines and keeps workers free of file writes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable
from pathlib import Path

from hostpool.errors import HostKeyStoreError

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def known_hosts_path(files: tuple[str, ...]) -> Path:
    """The file accept-new writes to: the first configured one, as OpenSSH does."""
    return Path(files[0] if files else DEFAULT_KNOWN_HOSTS).expanduser()


def learn(path: Path, entries: Iterable[tuple[str, str, str]]) -> int:
    """Append ``name keytype base64`` lines not already present; returns how many were added."""
    wanted = [e for e in dict.fromkeys(entries)]
    if not wanted:
        return 0
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise HostKeyStoreError(f"cannot open {path} to learn host keys: {exc}") from exc
    with os.fdopen(fd, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            present = {tuple(line.split()[:3]) for line in fh if line.strip()}
            lines = [f"{n} {t} {k}\n" for n, t, k in wanted if (n, t, k) not in present]
            if lines:
                fh.seek(0, os.SEEK_END)
                fh.writelines(lines)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return len(lines)
