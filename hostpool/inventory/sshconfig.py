"""Parent side: OpenSSH client config, resolved for one host the way ``ssh -G`` resolves it.

As readconf.c: the first value obtained for a keyword wins (IdentityFile and
CertificateFile accumulate); ``Host`` patterns match the name as typed, ``Match host`` the
HostName once one is set; ``Match originalhost``, ``user`` (the login user: ``-l``/the
inventory's, else the config's, else the local one), ``localuser``, ``all``, negation with
``!``; ``Match final`` asks for a second pass in which ``Host`` matches the HostName and
``final`` is true; ``Include`` (globs, relative to ~/.ssh, conditional inside a block);
``Keyword=value``, quoting, ``#`` comments.  ``Match exec`` runs a local command per host,
so it is evaluated only when the caller allows it (``--ssh-config-exec``); otherwise that
block is not applied and a warning says so.  Every value keeps its ``file:line``.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hostpool.errors import ConfigError
from hostpool.inventory.validate import exposure
from hostpool.known_hosts import wildcard

__all__ = ["Option", "SSHConfig", "SSHHostOptions", "expand_tokens", "strip_comment"]

MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH; it is also what stops include loops
ACCUMULATE = ("identityfile", "certificatefile")
_KEYWORD_RE = re.compile(r"(\S+?)(?:\s*=\s*|\s+)(.*)$")
_CRITERIA = ("all", "canonical", "final", "exec", "host", "originalhost", "user", "localuser")


@dataclass(frozen=True, slots=True)
class Option:
    """One value as ``ssh -G`` prints it (arguments joined by spaces), with its origin."""

    value: str
    origin: str

    @property
    def args(self) -> list[str]:
        return self.value.split(" ")


@dataclass(frozen=True, slots=True)
class _Line:
    kind: str  # "host", "match", "option"
    args: tuple[str, ...]
    origin: str
    keyword: str = ""
    depth: int = 0  # include depth, for the block scoping of included files
    block: int = -1  # index of the Host/Match line that owns this one (-1: none)


@dataclass(slots=True)
class SSHHostOptions:
    """Options that apply to one host, first obtained first (as OpenSSH keeps them)."""

    options: dict[str, list[Option]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def first(self, key: str) -> Option | None:
        values = self.options.get(key.lower())
        return values[0] if values else None

    def all(self, key: str) -> list[Option]:
        return list(self.options.get(key.lower(), ()))


class SSHConfig:
    """A config file flattened into lines, Includes expanded where they stand."""

    def __init__(self, path: str, lines: Iterable[_Line] = (), *, allow_exec: bool = False):
        self.path = path
        self._lines = tuple(lines)
        self.allow_exec = allow_exec
        self.exposure = exposure(path, owner=True) if self._lines else ""

    @classmethod
    def empty(cls) -> SSHConfig:
        return cls("<none>")

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        include_dir: str | None = None,
        *,
        allow_exec: bool = False,
    ) -> SSHConfig:
        """Read ``path``; a missing file is an empty config, as it is for ``ssh``."""
        full = Path(os.path.expanduser(os.fspath(path)))
        base = include_dir if include_dir is not None else os.path.expanduser("~/.ssh")
        if not full.exists():
            return cls(str(full), allow_exec=allow_exec)
        return cls(str(full), _Reader(base).read_file(str(full), 0), allow_exec=allow_exec)

    @classmethod
    def parse(cls, text: str, path: str = "<string>", include_dir: str | None = None) -> SSHConfig:
        base = include_dir if include_dir is not None else os.path.expanduser("~/.ssh")
        return cls(path, _Reader(base).read_text(text, path, 0))

    def lookup(
        self, host: str, *, user: str | None = None, local_user: str | None = None
    ) -> SSHHostOptions:
        """``ssh -G host`` (with ``-l user`` when given), for the keywords in the file."""
        local = local_user or _local_user()
        result = SSHHostOptions()
        if self.exposure:
            result.warnings.append(f"ssh_config {self.exposure} (ssh itself refuses it)")
        original = host.lower()
        wants_final = self._pass(result, original, original, user, local, final=False)
        if wants_final:
            hostname = result.first("hostname")
            current = hostname.value.lower() if hostname else original
            self._pass(result, current, original, user, local, final=True)
        return result

    def _pass(
        self,
        result: SSHHostOptions,
        host: str,
        original: str,
        user: str | None,
        local: str,
        *,
        final: bool,
    ) -> bool:
        wants_final = False
        active: dict[int, bool] = {}
        for index, line in enumerate(self._lines):
            if line.kind in ("host", "match"):
                outer = active.get(line.block, True) if line.block >= 0 else True
                if line.kind == "host":
                    matched = _match_patterns(host, line.args)
                else:
                    if any(a.lower() == "final" for a in line.args):
                        wants_final = True
                    matched = self._match(line, result, host, original, user, local, final)
                active[index] = outer and matched
                continue
            if line.block >= 0 and not active.get(line.block, False):
                continue
            self._set(result, line, original)
        return wants_final

    def _set(self, result: SSHHostOptions, line: _Line, original: str) -> None:
        key = line.keyword
        value = " ".join(line.args)
        if key == "hostname":
            value = expand_tokens(value, {"h": original}, line.origin)
        values = result.options.setdefault(key, [])
        if key in ACCUMULATE:
            if all(v.value != value for v in values):
                values.append(Option(value, line.origin))
        elif not values:
            if key in ("proxyjump", "proxycommand") and (
                result.options.get("proxycommand") or result.options.get("proxyjump")
            ):
                del result.options[key]  # the first of the two excludes the other
                return
            values.append(Option(value, line.origin))

    def _match(
        self,
        line: _Line,
        result: SSHHostOptions,
        host: str,
        original: str,
        user: str | None,
        local: str,
        final: bool,
    ) -> bool:
        hostname = result.first("hostname")
        match_host = hostname.value.lower() if hostname else host
        config_user = result.first("user")
        login = user or (config_user.value if config_user else local)
        args = list(line.args)
        matched = True
        while args:
            word = args.pop(0)
            negate = word.startswith("!")
            criterion = word[1:].lower() if negate else word.lower()
            if criterion not in _CRITERIA:
                raise ConfigError(f"{line.origin}: unsupported Match criterion {word!r}")
            if criterion in ("all", "canonical", "final"):
                hit = {"all": True, "canonical": False, "final": final}[criterion]
            else:
                if not args:
                    raise ConfigError(f"{line.origin}: Match {criterion} needs an argument")
                arg = args.pop(0)
                if criterion == "exec":
                    hit = self._exec(arg, line, result, match_host, original, login, local)
                else:
                    subject = {
                        "host": match_host,
                        "originalhost": original,
                        "user": login,
                        "localuser": local,
                    }[criterion]
                    hit = _match_patterns(subject, arg.split(","))
            matched = matched and (hit != negate)
        return matched

    def _exec(
        self,
        command: str,
        line: _Line,
        result: SSHHostOptions,
        host: str,
        original: str,
        user: str,
        local: str,
    ) -> bool:
        if not self.allow_exec:
            result.warnings.append(
                f"{line.origin}: Match exec not evaluated (it runs a command per host); "
                "its block is not applied (allow it with --ssh-config-exec)"
            )
            return False
        port = result.first("port")
        tokens = {
            "h": host,
            "n": original,
            "r": user,
            "u": local,
            "p": port.value if port else "22",
        }
        argv = shlex.split(expand_tokens(command, tokens, line.origin))
        try:
            return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


class _Reader:
    """Turns files into lines; Include is expanded in place, scoped to its block."""

    def __init__(self, include_dir: str) -> None:
        self.include_dir = include_dir

    def read_file(self, path: str, depth: int, block: int = -1, base: int = 0) -> list[_Line]:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read ssh config: {exc}") from exc
        return self.read_text(text, path, depth, block, base)

    def read_text(
        self, text: str, path: str, depth: int, block: int = -1, base: int = 0
    ) -> list[_Line]:
        lines: list[_Line] = []
        current = block  # an included file's lines belong to the including block
        for lineno, raw in enumerate(text.splitlines(), 1):
            origin = f"{path}:{lineno}"
            parsed = _split_line(raw, origin)
            if parsed is None:
                continue
            key, args = parsed
            if key in ("host", "match"):
                lines.append(_Line(key, tuple(args), origin, depth=depth, block=block))
                current = base + len(lines) - 1
            elif key == "include":
                lines += self._include(args, depth, current, base + len(lines), origin)
            else:
                lines.append(_Line("option", tuple(args), origin, key, depth, current))
        return lines

    def _include(
        self, args: list[str], depth: int, block: int, base: int, origin: str
    ) -> list[_Line]:
        if depth + 1 > MAX_INCLUDE_DEPTH:
            raise ConfigError(f"{origin}: Include nested more than {MAX_INCLUDE_DEPTH} deep")
        lines: list[_Line] = []
        for arg in args:
            pattern = os.path.expanduser(arg)
            if not os.path.isabs(pattern):
                pattern = os.path.join(self.include_dir, pattern)
            for path in sorted(glob.glob(pattern)):
                if os.path.isfile(path):
                    lines += self.read_file(path, depth + 1, block, base + len(lines))
        return lines


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
    """Cut a ``#`` comment that starts a word outside quotes (``a#b`` stays whole)."""
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


def _match_patterns(subject: str, patterns: Iterable[str]) -> bool:
    """OpenSSH's match_pattern_list: any positive match and no negated one.  The host is
    lowercased, the pattern is not: ``Host WEB*`` matches nothing, as in OpenSSH."""
    subject = subject.lower()
    matched = False
    for pattern in patterns:
        for part in pattern.split(","):
            negated = part.startswith("!")
            body = part[1:] if negated else part
            if wildcard(subject, body):
                if negated:
                    return False
                matched = True
    return matched


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


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""
