"""A small OpenSSH client-config reader, parent side.

Targets are resolved in the parent before any worker starts, so the addresses, ports and
users the workers see already reflect ``~/.ssh/config`` the way ``ssh`` itself would read
it.  Only the keys hostpool uses are interpreted (HostName, Port, User, IdentityFile,
ProxyJump); every value keeps the ``file:line`` it came from so that the caller, which owns
validation, can point at the offending line.  Blocks whose conditions cannot be evaluated
here (``Match`` other than ``Match all``) are treated as not matching: guessing could route
a connection somewhere the user never asked for.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hostpool.errors import ConfigError

__all__ = ["Option", "SSHConfig", "SSHHostOptions", "expand_tokens", "strip_comment"]

# OpenSSH refuses deeper Include nesting too; it is also what stops include loops.
MAX_INCLUDE_DEPTH = 16

_KEYWORD_RE = re.compile(r"(\S+?)(?:\s*=\s*|\s+)(.*)$")


@dataclass(frozen=True, slots=True)
class Option:
    """One value with the ``file:line`` it came from, for error messages."""

    value: str
    origin: str


@dataclass(frozen=True, slots=True)
class _Condition:
    """When a block applies: every pattern list in ``scopes`` must match, unless ``never``.

    More than one list happens when a Host block sits in a file included from a block.
    """

    scopes: tuple[tuple[str, ...], ...] = ()
    never: bool = False

    def matches(self, host: str) -> bool:
        return not self.never and all(_match_host_patterns(host, s) for s in self.scopes)

    def narrowed(self, patterns: Iterable[str]) -> _Condition:
        return _Condition((*self.scopes, tuple(patterns)), self.never)


_ALWAYS = _Condition()
_NEVER = _Condition(never=True)


@dataclass(frozen=True, slots=True)
class _Entry:
    condition: _Condition
    key: str  # lower-cased keyword
    option: Option


@dataclass(slots=True)
class SSHHostOptions:
    """Options that apply to one host, in file order (first one wins, as in OpenSSH)."""

    options: dict[str, list[Option]] = field(default_factory=dict)

    def first(self, key: str) -> Option | None:
        values = self.options.get(key.lower())
        return values[0] if values else None

    def all(self, key: str) -> list[Option]:
        return list(self.options.get(key.lower(), ()))


class SSHConfig:
    """A parsed config: a flat list of (condition, keyword, value) in file order."""

    def __init__(self, path: str, entries: Iterable[_Entry] = ()) -> None:
        self.path = path
        self._entries = tuple(entries)

    @classmethod
    def empty(cls) -> SSHConfig:
        return cls("<none>")

    @classmethod
    def load(cls, path: str | os.PathLike[str], include_dir: str | None = None) -> SSHConfig:
        """Read ``path``; a missing file is an empty config, as it is for ``ssh``."""
        full = Path(os.path.expanduser(os.fspath(path)))
        base = include_dir if include_dir is not None else os.path.expanduser("~/.ssh")
        if not full.exists():
            return cls(str(full))
        entries = _Reader(base).read_file(str(full), _ALWAYS, depth=0)
        return cls(str(full), entries)

    @classmethod
    def parse(cls, text: str, path: str = "<string>", include_dir: str | None = None) -> SSHConfig:
        base = include_dir if include_dir is not None else os.path.expanduser("~/.ssh")
        return cls(path, _Reader(base).read_text(text, path, _ALWAYS, depth=0))

    def lookup(self, host: str) -> SSHHostOptions:
        result = SSHHostOptions()
        for entry in self._entries:
            if entry.condition.matches(host):
                result.options.setdefault(entry.key, []).append(entry.option)
        return result


class _Reader:
    """Turns files into entries; Include is expanded in place, scoped to the included file."""

    def __init__(self, include_dir: str) -> None:
        self.include_dir = include_dir

    def read_file(self, path: str, outer: _Condition, depth: int) -> list[_Entry]:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read ssh config: {exc}") from exc
        return self.read_text(text, path, outer, depth)

    def read_text(self, text: str, path: str, outer: _Condition, depth: int) -> list[_Entry]:
        entries: list[_Entry] = []
        condition = outer
        for lineno, raw in enumerate(text.splitlines(), 1):
            origin = f"{path}:{lineno}"
            parsed = _split_line(raw, origin)
            if parsed is None:
                continue
            key, args = parsed
            if key == "host":
                condition = outer.narrowed(args)
            elif key == "match":
                condition = outer if _is_match_all(args) else _NEVER
            elif key == "include":
                entries.extend(self._include(args, condition, depth, origin))
            else:
                entries.append(_Entry(condition, key, Option(" ".join(args), origin)))
        return entries

    def _include(
        self, args: list[str], condition: _Condition, depth: int, origin: str
    ) -> list[_Entry]:
        if depth + 1 > MAX_INCLUDE_DEPTH:
            raise ConfigError(f"{origin}: Include nested more than {MAX_INCLUDE_DEPTH} deep")
        entries: list[_Entry] = []
        for arg in args:
            pattern = os.path.expanduser(arg)
            if not os.path.isabs(pattern):
                pattern = os.path.join(self.include_dir, pattern)
            for path in sorted(glob.glob(pattern)):
                if os.path.isfile(path):
                    entries.extend(self.read_file(path, condition, depth + 1))
        return entries


def _is_match_all(args: list[str]) -> bool:
    """Only ``Match all`` is understood; anything else never applies (see module doc)."""
    return [a.lower() for a in args] == ["all"]


def _split_line(raw: str, origin: str) -> tuple[str, list[str]] | None:
    line = strip_comment(raw).strip()
    if not line:
        return None
    match = _KEYWORD_RE.match(line)
    if match is None:
        raise ConfigError(f"{origin}: keyword {line!r} has no value")
    try:
        args = shlex.split(match.group(2))
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from exc
    if not any(args):
        raise ConfigError(f"{origin}: keyword {match.group(1)!r} has no value")
    return match.group(1).lower(), args


def strip_comment(line: str) -> str:
    """Cut a ``#`` comment that starts a word outside quotes.

    ``shlex(comments=True)`` would also cut ``a#b`` mid-word, which breaks URLs and paths.
    """
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _match_host_patterns(host: str, patterns: Iterable[str]) -> bool:
    """OpenSSH semantics: any positive match, and no negated pattern matches."""
    host = host.lower()
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _wildcard_match(host, pattern[1:] if negated else pattern):
            if negated:
                return False
            matched = True
    return matched


def _wildcard_match(host: str, pattern: str) -> bool:
    """``*`` and ``?`` only; ``[`` is literal in ssh_config patterns, unlike fnmatch."""
    regex = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern.lower()
    )
    return re.fullmatch(regex, host, re.DOTALL) is not None


def expand_tokens(value: str, tokens: Mapping[str, str], origin: str) -> str:
    """Expand ``%x`` tokens; an unknown token is an error, as it is for ``ssh``."""
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        token = value[i + 1 : i + 2]
        if token == "%":
            out.append("%")
        elif token in tokens:
            out.append(tokens[token])
        else:
            raise ConfigError(f"{origin}: unsupported token %{token} in {value!r}")
        i += 2
    return "".join(out)
