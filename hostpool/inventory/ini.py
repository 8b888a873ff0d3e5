"""Parent side: Ansible's INI inventory format and the ad-hoc ``-i 'a,b:2222,'`` list.

Errors carry ``file:line`` because the person fixing them is looking at the file.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hostpool.errors import ConfigError, InventoryError
from hostpool.inventory.graph import IMPLICIT, Group, Host, Inventory, Scope, descendants
from hostpool.inventory.ranges import expand_ranges
from hostpool.inventory.sshconfig import strip_comment
from hostpool.inventory.validate import (
    GROUP_RE,
    SETTING_ALIASES,
    VAR_RE,
    is_ipv6,
    is_valid_host_name,
    normalize_setting,
    parse_port,
    split_port,
)

_UNQUOTED_RE = re.compile(r"[^'\"\\]*")  # nothing shlex would treat as quoting
_SHLEX_SPACE_RE = re.compile(r"[ \t\r\n]+")  # shlex's whitespace, not str.split's

_HEADER_RE = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?")
_SECTION_KINDS = {"": "hosts", "hosts": "hosts", "children": "children", "vars": "vars"}


@dataclass(slots=True)
class _Section:
    kind: str
    group: str


class _Parser:
    """One pass over the lines, then whole-file checks that need every section seen."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.hosts: dict[str, Host] = {}
        self.groups: dict[str, Group] = {name: Group(name) for name in IMPLICIT}
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
        if not GROUP_RE.fullmatch(name):
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
            if group not in IMPLICIT and group not in host.direct_groups:
                host.direct_groups.append(group)
                self.groups[group].hosts.append(name)

    def host_names(self, token: str, lineno: int) -> list[tuple[str, str | None]]:
        try:
            pattern, port = split_port(token)
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
        if child in IMPLICIT:
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
        if not VAR_RE.fullmatch(key):
            raise self.error(lineno, f"invalid variable name {key!r}")

    def assign(self, scope: Scope, key: str, value: str, lineno: int) -> None:
        scope.vars[key] = value
        setting = SETTING_ALIASES.get(key)
        if setting is None:
            return
        normalized, problem = normalize_setting(setting, value)
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
            if child == parent or parent in descendants(self.groups, child):
                raise self.error(lineno, f"group {child!r} would be its own ancestor (cycle)")
            self.groups[parent].children.append(child)
            self.groups[child].parents.append(parent)


def _starts_with_bracketed_ipv6(line: str) -> bool:
    token = line.split()[0]
    match = re.fullmatch(r"\[([^\]]*)\](?::.*)?", token)
    return match is not None and is_ipv6(match.group(1))


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
        name, _ = split_port(item)
    except ValueError as exc:
        raise parser.error(1, str(exc)) from exc
    if "[" in name:  # host lists do not expand ranges (Ansible's host_list plugin neither)
        raise parser.error(1, f"invalid host name {name!r}")
    return parser.host_names(item, 1)


def _nonempty(items: Iterable[str]) -> Iterator[str]:
    return (s.strip() for s in items if s.strip())
