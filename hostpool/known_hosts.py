"""known_hosts, both sides: workers read a lazy index, only the parent writes.

Child side: paramiko's ``HostKeys.load`` builds a key object for every line; with a
500-host file and 32 workers that is 16,000 key decodes per run, more CPU than the
connections themselves.  Here a file is split into text once per worker and a server key
is compared as ``(type, base64)`` strings, the way OpenSSH compares blobs.

Parent side (``learn``, for ``--accept-new``): workers only report keys they saw;
appending here, under an exclusive lock, keeps concurrent hostpool runs from
interleaving lines and keeps workers free of file writes.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hostpool.errors import HostKeyStoreError
from hostpool.models import HostKey

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_FILES = (DEFAULT_KNOWN_HOSTS,)


@dataclass(frozen=True, slots=True)
class Entry:
    patterns: tuple[str, ...]
    keytype: str
    key: str
    marker: str = ""  # "" or "@revoked" / "@cert-authority"


@dataclass
class KnownHosts:
    """Plain names indexed in a dict; hashed and wildcard lines checked per lookup."""

    by_name: dict[str, list[Entry]] = field(default_factory=dict)
    scanned: list[Entry] = field(default_factory=list)  # hashed, wildcard or negated lines

    @classmethod
    def load(cls, files: tuple[str, ...]) -> KnownHosts:
        index = cls()
        for name in files or DEFAULT_FILES:
            path = Path(name).expanduser()
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                index.add_line(line)
        return index

    def add_line(self, line: str) -> None:
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            return
        marker = ""
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
        if len(fields) < 3:
            return
        entry = Entry(tuple(fields[0].split(",")), fields[1], fields[2], marker)
        if marker == "@cert-authority":
            return  # host certificates are not supported; never treat a CA key as the host key
        if all(_is_plain(p) for p in entry.patterns):
            for pattern in entry.patterns:
                self.by_name.setdefault(pattern, []).append(entry)
        else:
            self.scanned.append(entry)

    def lookup(self, name: str) -> list[Entry]:
        """All entries naming ``name`` (plain, hashed or by wildcard, minus negations)."""
        found = list(self.by_name.get(name, ()))
        found += [e for e in self.scanned if _matches(e.patterns, name)]
        return found

    def known_types(self, name: str) -> list[str]:
        return [e.keytype for e in self.lookup(name) if not e.marker]


def _is_plain(pattern: str) -> bool:
    return not (pattern.startswith(("|", "!")) or any(c in pattern for c in "*?"))


def _matches(patterns: tuple[str, ...], name: str) -> bool:
    hit = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        if body.startswith("|1|"):
            matched = _hashed_match(body, name)
        else:
            matched = wildcard(name.lower(), body.lower())  # OpenSSH: no case, here
        if matched and negated:
            return False
        hit = hit or matched
    return hit


def wildcard(subject: str, pattern: str) -> bool:
    """OpenSSH's match_pattern: ``*`` and ``?`` only.  ``[`` is literal (fnmatch would
    start a character class, and ``[host]:port`` patterns would never match)."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, subject, re.DOTALL) is not None


def _hashed_match(entry: str, name: str) -> bool:
    try:
        _, _, salt, digest = entry.split("|", 3)
        mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(mac, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def host_names(address: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts."""
    return address if port == 22 else f"[{address}]:{port}"


# -- parent side: the only writer ---------------------------------------------------------
def known_hosts_path(files: tuple[str, ...]) -> Path:
    """The file accept-new writes to: the first configured one, as OpenSSH does."""
    return Path(files[0] if files else DEFAULT_KNOWN_HOSTS).expanduser()


def learn(path: Path, keys: Iterable[HostKey]) -> int:
    """Append ``name keytype base64`` lines not already present; returns how many were added."""
    wanted = list(dict.fromkeys((k.name, k.keytype, k.key) for k in keys))
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
