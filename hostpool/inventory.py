"""Ansible-compatible INI inventories, parent side: parse, validate, select, resolve.

Inventories are untrusted input: every host name, user, port and key path that could end
up on a command line (ours or a user's ``ssh``) is validated here, before a pool exists, so
that a bad file costs an exit status 3 and never a connection.  Errors carry ``file:line``
because the person fixing them is looking at the file.

Semantics follow Ansible where it defines them (section kinds, implicit ``all`` and
``ungrouped``, ranges, variable precedence, pattern algebra) so that existing inventories
keep meaning the same thing.
"""

from __future__ import annotations

import fnmatch
import getpass
import ipaddress
import os
import re
import shlex
import socket
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hostpool.errors import ConfigError, InventoryError, PatternError
from hostpool.models import Connection, Target
from hostpool.sshconfig import SSHConfig, SSHHostOptions, expand_tokens, strip_comment

__all__ = [
    "MAX_RANGE_HOSTS",
    "Group",
    "Host",
    "HostDefaults",
    "Inventory",
    "is_valid_host_name",
    "is_valid_user",
    "load_inventory",
    "parse_host_list",
    "parse_inventory",
    "parse_port",
]

MAX_RANGE_HOSTS = 10_000

# --------------------------------------------------------------------------- validation

# Hostnames, IPv4 and docker container names all fit this; a leading '-' never does, so
# no value can be read as an ssh option.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
_USER_RE = re.compile(r"[a-z_][a-z0-9_.-]*\$?", re.IGNORECASE)
_GROUP_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNQUOTED_RE = re.compile(r"[^'\"\\]*")  # nothing shlex would treat as quoting
_SHLEX_SPACE_RE = re.compile(r"[ \t\r\n]+")  # shlex's whitespace, not str.split's
_MAX_USER = 32

_CONNECTIONS = {
    "ssh": Connection.SSH,
    "smart": Connection.SSH,
    "paramiko": Connection.SSH,
    "paramiko_ssh": Connection.SSH,
    "ansible.builtin.ssh": Connection.SSH,
    "ansible.builtin.paramiko_ssh": Connection.SSH,
    "local": Connection.LOCAL,
    "ansible.builtin.local": Connection.LOCAL,
    "docker": Connection.DOCKER,
    "community.docker.docker": Connection.DOCKER,
}

# Inventory variables hostpool interprets, mapped to the setting they control.
_SETTING_ALIASES = {
    "ansible_host": "host",
    "ansible_ssh_host": "host",
    "host": "host",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "user": "user",
    "ansible_connection": "connection",
    "connection": "connection",
    "ansible_ssh_private_key_file": "key",
    "ansible_private_key_file": "key",
    "key": "key",
    "proxy_jump": "proxy_jump",  # hostpool extension; Ansible has no dedicated variable
}


def is_valid_host_name(name: str) -> bool:
    """Conservative: hostname / IPv4 / container name, or a scope-less IPv6 address."""
    if _NAME_RE.fullmatch(name):
        return True
    return _is_ipv6(name)


def _is_ipv6(text: str) -> bool:
    if "%" in text:  # scope ids accept arbitrary characters
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_valid_user(user: str) -> bool:
    return len(user) <= _MAX_USER and _USER_RE.fullmatch(user) is not None


def parse_port(text: str | int) -> int | None:
    """The port as an int, or None when it is not an integer 1..65535."""
    if isinstance(text, int):
        port = text
    elif re.fullmatch(r"[0-9]{1,5}", text.strip()):
        port = int(text)
    else:
        return None
    return port if 1 <= port <= 65535 else None


def _unbracket(address: str) -> str:
    if address.startswith("[") and address.endswith("]") and _is_ipv6(address[1:-1]):
        return address[1:-1]
    return address


def _key_path_problem(path: str) -> str | None:
    if not path:
        return "key file path is empty"
    if path.startswith("-"):
        return f"key file {path!r} must not start with '-'"
    if any(ch in path for ch in "\0\n\r"):
        return f"key file {path!r} contains control characters"
    return None


def _proxy_jump_problem(value: str) -> str | None:
    """Each hop is ``[user@]host[:port]``, validated like an inventory host."""
    if value.lower() == "none":
        return None
    for hop in value.split(","):
        user, _, hostport = hop.rpartition("@")
        if user and not is_valid_user(user):
            return f"proxy jump {value!r}: invalid user {user!r}"
        try:
            name, port = _split_port(hostport)
        except ValueError as exc:
            return f"proxy jump {value!r}: {exc}"
        if not is_valid_host_name(name):
            return f"proxy jump {value!r}: invalid host name {name!r}"
        if port is not None and parse_port(port) is None:
            return f"proxy jump {value!r}: port {port!r} is not an integer 1..65535"
    return None


def _normalize_setting(setting: str, value: str) -> tuple[str | None, str]:
    """(normalized value, '') or (None, problem) for one interpreted variable."""
    if setting == "host":
        address = _unbracket(value)
        if is_valid_host_name(address):
            return address, ""
        return None, f"invalid host address {value!r}"
    if setting == "port":
        port = parse_port(value)
        return (str(port), "") if port else (None, f"port {value!r} is not an integer 1..65535")
    if setting == "user":
        return (value, "") if is_valid_user(value) else (None, f"invalid user name {value!r}")
    if setting == "connection":
        conn = _CONNECTIONS.get(value.lower())
        if conn is None:
            return None, f"unknown connection {value!r} (expected ssh, local or docker)"
        return conn.value, ""
    if setting == "key":
        problem = _key_path_problem(value)
        return (None, problem) if problem else (os.path.expanduser(value), "")
    problem = _proxy_jump_problem(value)
    return (None, problem) if problem else (value, "")


# --------------------------------------------------------------------------- host tokens


def _split_port(token: str) -> tuple[str, str | None]:
    """``name[:port]``; IPv6 only bare (no port) or as ``[addr]`` / ``[addr]:port``."""
    bracket = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", token)
    if bracket and _is_ipv6(bracket.group(1)):
        return bracket.group(1), bracket.group(2)
    if _is_ipv6(token):
        return token, None
    colons = [i for i, depth in _depth_scan(token) if token[i] == ":" and depth == 0]
    if not colons:
        return token, None
    if len(colons) > 1:
        raise ValueError(f"invalid host {token!r} (IPv6 with a port needs [addr]:port)")
    return token[: colons[0]], token[colons[0] + 1 :]


def _depth_scan(text: str) -> Iterator[tuple[int, int]]:
    """(index, bracket depth) for each character, so ':' inside ``[1:3]`` is not a port."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        yield i, depth


_RANGE_RE = re.compile(r"\[([^\[\]]*)\]")


def expand_ranges(name: str) -> list[str]:
    """``web[01:03]`` -> web01, web02, web03; several ranges multiply.  ValueError on misuse."""
    parts: list[list[str]] = []
    pos = 0
    total = 1
    for match in _RANGE_RE.finditer(name):
        parts.append([name[pos : match.start()]])
        values = _range_values(match.group(1))
        total *= len(values)
        if total > MAX_RANGE_HOSTS:
            raise ValueError(f"huge range in {name!r}: more than {MAX_RANGE_HOSTS} hosts")
        parts.append(values)
        pos = match.end()
    parts.append([name[pos:]])
    names = [""]
    for choices in parts:
        names = [prefix + choice for prefix in names for choice in choices]
    return names


def _range_values(spec: str) -> list[str]:
    fields = spec.split(":")
    if len(fields) not in (2, 3):
        raise ValueError(f"invalid range [{spec}] (expected [start:end] or [start:end:stride])")
    start, end = fields[0] or "0", fields[1]
    stride_text = fields[2] if len(fields) == 3 else "1"
    if not re.fullmatch(r"-?[0-9]+", stride_text):
        raise ValueError(f"invalid range stride {stride_text!r} in [{spec}]")
    stride = int(stride_text)
    if stride <= 0:
        raise ValueError(f"range stride must be positive in [{spec}]")
    if start.isdigit() and end.isdigit():
        return _numeric_range(spec, start, end, stride)
    letters = string.ascii_letters
    if len(start) == 1 and len(end) == 1 and start in letters and end in letters:
        first, last = letters.index(start), letters.index(end)
        if first > last:
            raise ValueError(f"reversed range [{spec}]")
        return list(letters[first : last + 1 : stride])
    if (start.isdigit() and end.isalpha()) or (start.isalpha() and end.isdigit()):
        raise ValueError(f"mixed alphabetic and numeric range [{spec}]")
    raise ValueError(f"invalid range [{spec}] (bounds must be integers or single letters)")


def _numeric_range(spec: str, start: str, end: str, stride: int) -> list[str]:
    first, last = int(start), int(end)
    if first > last:
        raise ValueError(f"reversed range [{spec}]")
    values = range(first, last + 1, stride)
    if len(values) > MAX_RANGE_HOSTS:  # checked before materialising anything
        raise ValueError(f"huge range [{spec}]: {len(values)} hosts (max {MAX_RANGE_HOSTS})")
    width = len(start) if start.startswith("0") and len(start) > 1 else 0
    return [str(v).zfill(width) for v in values]


# --------------------------------------------------------------------------- model


@dataclass(slots=True)
class _Scope:
    """Variables set at one level (a group or a host), raw and interpreted."""

    vars: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Group:
    """A group as written: direct members and edges; membership is resolved separately."""

    name: str
    lineno: int = 0
    defined: bool = True
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    depth: int = 0
    scope: _Scope = field(default_factory=_Scope)

    @property
    def vars(self) -> dict[str, str]:
        return self.scope.vars


@dataclass(slots=True)
class Host:
    """A host as written (repeats merged); ``groups`` is only known once the file ends."""

    name: str
    lineno: int
    direct_groups: list[str] = field(default_factory=list)
    groups: tuple[str, ...] = ()  # every group including ancestors, without 'all'
    scope: _Scope = field(default_factory=_Scope)

    @property
    def vars(self) -> dict[str, str]:
        return self.scope.vars


@dataclass(frozen=True)
class HostDefaults:
    """Run-wide fallbacks (CLI -u/-k/--port); inventory variables override them."""

    user: str | None = None
    key_file: str | None = None
    port: int | None = None
    ssh_config: str | None = "~/.ssh/config"  # None disables; a missing file is fine


# --------------------------------------------------------------------------- parsing

_HEADER_RE = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?")
_SECTION_KINDS = {"": "hosts", "hosts": "hosts", "children": "children", "vars": "vars"}
_IMPLICIT = ("all", "ungrouped")


@dataclass(slots=True)
class _Section:
    kind: str
    group: str


class _Parser:
    """One pass over the lines, then whole-file checks that need every section seen."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.hosts: dict[str, Host] = {}
        self.groups: dict[str, Group] = {name: Group(name) for name in _IMPLICIT}
        self.edges: list[tuple[str, str, int]] = []  # (parent, child, lineno)
        self.section = _Section("hosts", "ungrouped")

    def error(self, lineno: int, message: str) -> InventoryError:
        return InventoryError(self.path, lineno, message)

    def parse(self, text: str) -> Inventory:
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and not _starts_with_bracketed_ipv6(line):
                self.section = self.header(line, lineno)
            elif self.section.kind == "hosts":
                self.host_line(line, lineno)
            elif self.section.kind == "children":
                self.child_line(line, lineno)
            else:
                self.vars_line(line, lineno)
        self.check_references()
        self.link_groups()
        return Inventory(self.path, self.hosts, self.groups)

    def header(self, line: str, lineno: int) -> _Section:
        match = _HEADER_RE.fullmatch(line)
        if match is None:
            if "]" not in line:
                raise self.error(lineno, f"unterminated section header {line!r}")
            raise self.error(lineno, f"invalid section header {line!r}")
        name, suffix = match.group(1), match.group(2) or ""
        kind = _SECTION_KINDS.get(suffix.lower())
        if kind is None:
            raise self.error(lineno, f"unknown section suffix ':{suffix}' in {line!r}")
        self.check_group_name(name, lineno)
        if kind == "children" and name == "ungrouped":
            raise self.error(lineno, "group 'ungrouped' cannot have children")
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = Group(name, lineno, defined=kind != "vars")
        elif kind != "vars" and not group.defined:
            group.defined, group.lineno = True, lineno
        return _Section(kind, name)

    def check_group_name(self, name: str, lineno: int) -> None:
        if not _GROUP_RE.fullmatch(name):
            raise self.error(lineno, f"invalid group name {name!r}")

    def host_line(self, line: str, lineno: int) -> None:
        tokens = self.split(line, lineno)
        hosts = self.host_names(tokens[0], lineno)  # the name is the first thing to report
        assignments = [self.assignment(token, lineno) for token in tokens[1:]]
        for name, port in hosts:
            host = self.hosts.get(name)
            if host is None:
                host = self.hosts[name] = Host(name, lineno)
            if port is not None:
                self.assign(host.scope, "ansible_port", port, lineno)
            for key, value in assignments:
                self.assign(host.scope, key, value, lineno)
            group = self.section.group
            if group not in _IMPLICIT and group not in host.direct_groups:
                host.direct_groups.append(group)
                self.groups[group].hosts.append(name)

    def host_names(self, token: str, lineno: int) -> list[tuple[str, str | None]]:
        try:
            pattern, port = _split_port(token)
            names = expand_ranges(pattern) if "[" in pattern else [pattern]
        except ValueError as exc:
            raise self.error(lineno, str(exc)) from exc
        if port is not None and parse_port(port) is None:
            raise self.error(lineno, f"port {port!r} is not an integer 1..65535")
        for name in names:
            if not is_valid_host_name(name):
                raise self.error(lineno, f"invalid host name {name!r}")
        return [(name, port) for name in names]

    def child_line(self, line: str, lineno: int) -> None:
        tokens = self.split(line, lineno)
        if len(tokens) != 1:
            raise self.error(lineno, f"expected one group name per line, got {line!r}")
        child = tokens[0]
        self.check_group_name(child, lineno)
        if child in _IMPLICIT:
            raise self.error(lineno, f"group {child!r} is implicit and cannot be a child")
        self.edges.append((self.section.group, child, lineno))

    def vars_line(self, line: str, lineno: int) -> None:
        key, sep, value = strip_comment(line).partition("=")
        if not sep:
            raise self.error(lineno, f"expected key=value in [{self.section.group}:vars]")
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise self.error(lineno, f"bad quoting: {exc}") from exc
        self.check_var_name(key.strip(), lineno)
        self.assign(self.groups[self.section.group].scope, key.strip(), " ".join(words), lineno)

    def split(self, line: str, lineno: int) -> list[str]:
        text = strip_comment(line)
        if _UNQUOTED_RE.fullmatch(text):
            # What shlex.split returns for text without quotes or escapes, at a tenth of
            # the cost (shlex was half of the parse time of a 500-host inventory).
            return [word for word in _SHLEX_SPACE_RE.split(text) if word]
        try:
            return shlex.split(text)
        except ValueError as exc:
            raise self.error(lineno, f"bad quoting: {exc}") from exc

    def assignment(self, token: str, lineno: int) -> tuple[str, str]:
        key, sep, value = token.partition("=")
        if not sep:
            raise self.error(lineno, f"expected key=value after the host name, got {token!r}")
        self.check_var_name(key, lineno)
        return key, value

    def check_var_name(self, key: str, lineno: int) -> None:
        if not _VAR_RE.fullmatch(key):
            raise self.error(lineno, f"invalid variable name {key!r}")

    def assign(self, scope: _Scope, key: str, value: str, lineno: int) -> None:
        scope.vars[key] = value
        setting = _SETTING_ALIASES.get(key)
        if setting is None:
            return
        normalized, problem = _normalize_setting(setting, value)
        if normalized is None:
            raise self.error(lineno, f"{key}: {problem}")
        scope.settings[setting] = normalized

    def check_references(self) -> None:
        """Undefined groups are only known at EOF; report the earliest reference."""
        problems = [
            (lineno, f"[{parent}:children] lists undefined group {child!r}")
            for parent, child, lineno in self.edges
            if child not in self.groups or not self.groups[child].defined
        ]
        problems += [
            (group.lineno, f"[{group.name}:vars] refers to undefined group {group.name!r}")
            for group in self.groups.values()
            if not group.defined
        ]
        if problems:
            lineno, message = min(problems)
            raise self.error(lineno, message)

    def link_groups(self) -> None:
        for parent, child, lineno in self.edges:
            if parent == "all" or child in self.groups[parent].children:
                continue  # every group is already under 'all'; repeats are harmless
            if child == parent or parent in _descendants(self.groups, child):
                raise self.error(lineno, f"group {child!r} would be its own ancestor (cycle)")
            self.groups[parent].children.append(child)
            self.groups[child].parents.append(parent)


def _starts_with_bracketed_ipv6(line: str) -> bool:
    token = line.split()[0]
    match = re.fullmatch(r"\[([^\]]*)\](?::.*)?", token)
    return match is not None and _is_ipv6(match.group(1))


def _descendants(groups: dict[str, Group], name: str) -> set[str]:
    """Iterative so a deep (hostile) hierarchy cannot exhaust the recursion limit."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        for child in groups[stack.pop()].children:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


# --------------------------------------------------------------------------- inventory


class Inventory:
    """Hosts in file order plus their groups; immutable once built."""

    def __init__(self, source: str, hosts: dict[str, Host], groups: dict[str, Group]) -> None:
        self.source = source
        self.hosts = hosts
        self.groups = groups
        self._finish()

    @property
    def host_names(self) -> list[str]:
        return list(self.hosts)

    def _finish(self) -> None:
        """Fill the implicit groups, depths and each host's full group list."""
        all_group, ungrouped = self.groups["all"], self.groups["ungrouped"]
        top = [g for g in self.groups.values() if g.name != "all" and not g.parents]
        all_group.children = [g.name for g in top]
        all_group.hosts = list(self.hosts)
        ungrouped.hosts = [h.name for h in self.hosts.values() if not h.direct_groups]
        for group in top:
            group.parents = ["all"]
        _assign_depths(self.groups)
        ancestors = _ancestors(self.groups)
        self._members: dict[str, list[str]] = {name: [] for name in self.groups}
        self._members["all"] = list(self.hosts)
        for host in self.hosts.values():
            direct = host.direct_groups or ["ungrouped"]
            names = set(direct).union(*(ancestors[g] for g in direct))
            host.groups = tuple(sorted(names - {"all"}))
            for name in host.groups:
                self._members[name].append(host.name)

    def group_hosts(self, name: str) -> list[str]:
        """Every host in group ``name`` or its descendants, in file order."""
        return list(self._members.get(name, ()))

    # ----------------------------------------------------------------- selection

    def select(
        self,
        pattern: str = "all",
        limit: str | None = None,
        defaults: HostDefaults = HostDefaults(),
    ) -> list[Target]:
        names = self._select_names(pattern, limit)
        resolver = _Resolver(self, defaults)
        return [resolver.target(self.hosts[name]) for name in names]

    def describe(
        self,
        pattern: str = "all",
        limit: str | None = None,
        defaults: HostDefaults = HostDefaults(),
    ) -> list[dict[str, Any]]:
        return [_describe(t) for t in self.select(pattern, limit, defaults)]

    def _select_names(self, pattern: str, limit: str | None) -> list[str]:
        chosen = self._evaluate(pattern)
        if not chosen:
            raise PatternError(pattern, "matches no hosts")
        if limit is not None:
            chosen &= self._evaluate(limit)
            if not chosen:
                raise PatternError(limit, f"limit leaves none of the hosts matched by {pattern!r}")
        return [name for name in self.hosts if name in chosen]

    def _evaluate(self, pattern: str) -> set[str]:
        """Ansible order: plain terms union, then ``&`` terms intersect, then ``!`` subtract."""
        terms = _split_pattern(pattern)
        plain = [t for t in terms if t[0] not in "&!"] or ["all"]
        result: set[str] = set()
        for term in plain:
            result |= self._match_term(pattern, term)
        for term in (t for t in terms if t[0] == "&"):
            result &= self._match_term(pattern, term[1:])
        for term in (t for t in terms if t[0] == "!"):
            result -= self._match_term(pattern, term[1:])
        return result

    def _match_term(self, pattern: str, term: str) -> set[str]:
        """Hosts named by one term.  A term naming nothing is an error: a typo in
        ``all:!prod`` must not silently widen the run to prod."""
        if term in ("all", "*"):
            return set(self.hosts)
        matcher = _term_matcher(pattern, term)
        groups = [g for g in self.groups if matcher(g)]
        hosts = {h for h in self.hosts if matcher(h)}
        if not groups and not hosts:
            raise PatternError(pattern, f"{term!r} matches no host or group")
        for group in groups:
            hosts.update(self.group_hosts(group))
        return hosts


def _split_pattern(pattern: str) -> list[str]:
    """Commas always split; otherwise ':' splits outside ``[...]`` unless it is one IPv6."""
    text = pattern.strip()
    if "," in text:
        raw = text.split(",")
    elif _is_ipv6(text):
        raw = [text]
    else:
        cuts = [i for i, depth in _depth_scan(text) if text[i] == ":" and depth == 0]
        bounds = zip([-1, *cuts], [*cuts, len(text)], strict=True)
        raw = [text[a + 1 : b] for a, b in bounds]
    terms = [t.strip() for t in raw]
    if not text or any(not t or t in "&!" for t in terms):
        raise PatternError(pattern, "empty term")
    return terms


def _term_matcher(pattern: str, term: str) -> Callable[[str], bool]:
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise PatternError(pattern, f"invalid regex {term[1:]!r}: {exc}") from exc
        return lambda name: regex.search(name) is not None
    literal = _unbracket(term)
    if literal != term or not any(ch in term for ch in "*?["):
        return lambda name: name == literal
    return lambda name: fnmatch.fnmatchcase(name, term)


def _assign_depths(groups: dict[str, Group]) -> None:
    """Ansible's depth: longest path from 'all'; precedence sorts by it."""
    order = _topological(groups)
    for name in order:
        for child in groups[name].children:
            groups[child].depth = max(groups[child].depth, groups[name].depth + 1)


def _topological(groups: dict[str, Group]) -> list[str]:
    pending = {name: len(g.parents) for name, g in groups.items()}
    ready = [name for name, count in pending.items() if count == 0]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for child in groups[name].children:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return order


def _ancestors(groups: dict[str, Group]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for name in _topological(groups):
        parents = groups[name].parents
        result[name] = set(parents).union(*(result[p] for p in parents))
    return result


# --------------------------------------------------------------------------- resolution


class _Resolver:
    """Applies variable precedence, CLI defaults and ssh_config to hosts of one selection."""

    def __init__(self, inventory: Inventory, defaults: HostDefaults) -> None:
        self.inventory = inventory
        self.defaults = _checked_defaults(defaults)
        self.ssh_config = _load_ssh_config(defaults.ssh_config)
        self.local_user = _local_user()
        self.home = os.path.expanduser("~")
        self.local_host = socket.gethostname().split(".")[0]

    def merged(self, host: Host) -> _Scope:
        groups = [self.inventory.groups[g] for g in ("all", *host.groups)]
        merged = _Scope()
        for group in sorted(groups, key=lambda g: (g.depth, g.name)):
            merged.vars.update(group.scope.vars)
            merged.settings.update(group.scope.settings)
        merged.vars.update(host.scope.vars)
        merged.settings.update(host.scope.settings)
        return merged

    def target(self, host: Host) -> Target:
        scope = self.merged(host)
        settings = scope.settings
        connection = Connection(settings.get("connection", Connection.SSH.value))
        lookup_name = settings.get("host", host.name)
        ssh = self.ssh_config.lookup(lookup_name) if connection is Connection.SSH else None
        address = settings.get("host") or _ssh_hostname(ssh, lookup_name, host.name)
        port = _first_int(settings.get("port"), self.defaults.port) or _ssh_port(ssh, host.name)
        user = settings.get("user") or self.defaults.user or _ssh_user(ssh, host.name)
        keys = [k for k in (settings.get("key"), self.defaults.key_file) if k]
        tokens = {
            "h": address,
            "n": lookup_name,
            "p": str(port),
            "r": user or self.local_user,
            "u": self.local_user,
            "d": self.home,
            "l": self.local_host,
        }
        keys += _ssh_identity_files(ssh, tokens, host.name)
        return Target(
            name=host.name,
            address=address,
            port=port,
            user=user,
            connection=connection,
            key_files=tuple(dict.fromkeys(keys)),
            proxy_jump=_proxy_jump(settings.get("proxy_jump"), ssh, host.name),
            groups=host.groups,
            vars=tuple(sorted(scope.vars.items())),
        )


def _first_int(*values: str | int | None) -> int | None:
    for value in values:
        if value is not None:
            return int(value)
    return None


def _checked_defaults(defaults: HostDefaults) -> HostDefaults:
    if defaults.user is not None and not is_valid_user(defaults.user):
        raise ConfigError(f"default user {defaults.user!r} is not a valid user name")
    if defaults.port is not None and parse_port(defaults.port) is None:
        raise ConfigError(f"default port {defaults.port!r} is not an integer 1..65535")
    if defaults.key_file is not None:
        problem = _key_path_problem(defaults.key_file)
        if problem:
            raise ConfigError(f"default {problem}")
        return replace(defaults, key_file=os.path.expanduser(defaults.key_file))
    return defaults


def _load_ssh_config(path: str | None) -> SSHConfig:
    return SSHConfig.empty() if path is None else SSHConfig.load(path)


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (containers)
        return ""


def _ssh_hostname(ssh: SSHHostOptions | None, lookup_name: str, host: str) -> str:
    option = ssh.first("hostname") if ssh else None
    if option is None:
        return lookup_name
    address = _unbracket(expand_tokens(option.value, {"h": lookup_name}, option.origin))
    if not is_valid_host_name(address):
        raise ConfigError(
            f"{option.origin}: ssh_config HostName {address!r} for host {host!r}"
            " is not a valid host name"
        )
    return address


def _ssh_port(ssh: SSHHostOptions | None, host: str) -> int:
    option = ssh.first("port") if ssh else None
    if option is None:
        return 22
    port = parse_port(option.value)
    if port is None:
        raise ConfigError(
            f"{option.origin}: ssh_config Port {option.value!r} for host {host!r}"
            " is not an integer 1..65535"
        )
    return port


def _ssh_user(ssh: SSHHostOptions | None, host: str) -> str | None:
    option = ssh.first("user") if ssh else None
    if option is None:
        return None
    if not is_valid_user(option.value):
        raise ConfigError(
            f"{option.origin}: ssh_config User {option.value!r} for host {host!r}"
            " is not a valid user name"
        )
    return option.value


def _ssh_identity_files(ssh: SSHHostOptions | None, tokens: dict[str, str], host: str) -> list[str]:
    """All IdentityFile lines apply (OpenSSH accumulates them), after inventory/CLI keys."""
    paths: list[str] = []
    for option in ssh.all("identityfile") if ssh else ():
        if option.value.lower() == "none":
            continue
        path = os.path.expanduser(expand_tokens(option.value, tokens, option.origin))
        problem = _key_path_problem(path)
        if problem:
            raise ConfigError(f"{option.origin}: ssh_config IdentityFile for {host!r}: {problem}")
        paths.append(path)
    return paths


def _proxy_jump(inventory_value: str | None, ssh: SSHHostOptions | None, host: str) -> str | None:
    if inventory_value is not None:
        return None if inventory_value.lower() == "none" else inventory_value
    option = ssh.first("proxyjump") if ssh else None
    if option is None or option.value.lower() == "none":
        return None
    problem = _proxy_jump_problem(option.value)
    if problem:
        raise ConfigError(f"{option.origin}: ssh_config ProxyJump for {host!r}: {problem}")
    return option.value


def _describe(target: Target) -> dict[str, Any]:
    return {
        "name": target.name,
        "address": target.address,
        "port": target.port,
        "user": target.user,
        "connection": target.connection.value,
        "key_files": list(target.key_files),
        "proxy_jump": target.proxy_jump,
        "groups": list(target.groups),
        "vars": dict(target.vars),
    }


# --------------------------------------------------------------------------- entry points


def parse_inventory(text: str, source: str = "<string>") -> Inventory:
    """Parse INI text; ``source`` names it in ``file:line`` errors."""
    return _Parser(source).parse(text)


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    source = os.fspath(path)
    if Path(source).suffix.lower() in (".yml", ".yaml", ".json"):
        raise ConfigError(f"{source}: only INI inventories are supported")
    try:
        text = Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: inventory is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read inventory: {exc.strerror or exc}") from exc
    return parse_inventory(text, source)


def parse_host_list(text: str, source: str = "<host list>") -> Inventory:
    """Ansible's ``-i 'web1,web2:2222,'`` form: ungrouped hosts, no ranges, no variables."""
    parser = _Parser(source)
    for item in _nonempty(text.split(",")):
        for name, port in _host_list_item(parser, item):
            host = parser.hosts.setdefault(name, Host(name, 1))
            if port is not None:
                parser.assign(host.scope, "ansible_port", port, 1)
    return Inventory(source, parser.hosts, parser.groups)


def _host_list_item(parser: _Parser, item: str) -> list[tuple[str, str | None]]:
    try:
        name, _ = _split_port(item)
    except ValueError as exc:
        raise parser.error(1, str(exc)) from exc
    if "[" in name:  # host lists do not expand ranges (Ansible's host_list plugin neither)
        raise parser.error(1, f"invalid host name {name!r}")
    return parser.host_names(item, 1)


def _nonempty(items: Iterable[str]) -> Iterator[str]:
    return (s.strip() for s in items if s.strip())
