"""Parent side: Ansible's INI inventory format, read the way Ansible's INI plugin reads it.

Host lines are split like a shell (``shlex``, ``#`` comments cut) and each ``key=value``
goes through literal evaluation; ``[group:vars]`` lines are split at the first ``=``
only, the value kept as written (quotes, backslashes, spaces and ``#`` included) before
the same evaluation.  ``[g:children]`` and ``[g:vars]`` may name a group defined later in
the file.  Names are taken as written: whether a host can be reached is decided per host
when it is resolved (``resolve``), so one odd host never rejects a whole file.  Errors
say ``file:line``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from hostpool.errors import InventoryError
from hostpool.inventory.graph import Inventory
from hostpool.inventory.ranges import expand_ranges
from hostpool.inventory.validate import split_port
from hostpool.inventory.values import ini_value
from hostpool.models import VarValue

SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")
# Variables earlier hostpool versions read as connection settings; now ordinary ones.
SHORT_FORMS = ("host", "port", "user", "key", "connection")


@dataclass
class _Pending:
    lineno: int
    state: str
    parents: list[str] = field(default_factory=list)


class IniParser:
    def __init__(self, inventory: Inventory, path: str) -> None:
        self.inventory = inventory
        self.path = path
        self.lineno = 0
        self.short_forms: set[str] = set()

    def error(self, message: str, lineno: int | None = None) -> InventoryError:
        return InventoryError(self.path, self.lineno if lineno is None else lineno, message)

    def parse(self, lines: list[str]) -> None:
        pending: dict[str, _Pending] = {}
        group, state = "ungrouped", "hosts"
        for self.lineno, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            section = SECTION.match(line)
            if section is not None:
                group, state = section.group(1), section.group(2) or "hosts"
                if state not in ("hosts", "children", "vars"):
                    title = ":".join(g for g in section.groups() if g)
                    raise self.error(f"section [{title}] has unknown type: {state}")
                if group not in self.inventory.groups and state == "vars":
                    pending.setdefault(group, _Pending(self.lineno, "vars"))
                self.inventory.add_group(group)
                if group in pending and state != "vars":
                    self._declared(group, pending)
                continue
            if line.startswith("[") and line.endswith("]"):
                raise self.error(
                    f"invalid section entry {line!r}: no spaces or other invalid characters"
                )
            if state == "hosts":
                self._host_line(line, group)
            elif state == "vars":
                key, sep, value = line.partition("=")
                if not sep:
                    raise self.error(f"expected key=value, got: {line}")
                self.inventory.set_group_var(group, key.strip(), ini_value(value.strip()))
            else:
                match = GROUP_NAME.match(line)
                if match is None:
                    raise self.error(f"expected group name, got: {line}")
                child = match.group(1)
                if child in self.inventory.groups:
                    self._add_child(group, child)
                else:
                    pending.setdefault(child, _Pending(self.lineno, "children")).parents.append(
                        group
                    )
        for name, decl in pending.items():
            if decl.state == "vars":
                message = f"section [{name}:vars] not valid for undefined group: {name}"
            else:
                message = f"section [{decl.parents[-1]}:children] includes undefined group: {name}"
            raise self.error(message, decl.lineno)
        if self.short_forms:
            used = ", ".join(f"{k}=" for k in sorted(self.short_forms))
            self.inventory.warnings.append(
                f"{self.path}: {used} are ordinary variables, as in Ansible (earlier hostpool "
                "versions read them as connection settings): use ansible_host=, ansible_port=, "
                "ansible_user=, ansible_ssh_private_key_file=, ansible_connection="
            )

    def _declared(self, group: str, pending: dict[str, _Pending]) -> None:
        decl = pending.pop(group)
        for parent in decl.parents:
            self._add_child(parent, group)
            if parent in pending and pending[parent].state == "children":
                self._declared(parent, pending)

    def _add_child(self, parent: str, child: str) -> None:
        try:
            self.inventory.add_child(parent, child)
        except Exception as exc:
            raise self.error(str(exc)) from None

    def _host_line(self, line: str, group: str) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise self.error(f"error parsing host definition {line!r}: {exc}") from None
        if not tokens:
            return
        names, port = self._expand(tokens[0])
        variables: dict[str, VarValue] = {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep:
                raise self.error(f"expected key=value host variable assignment, got: {token}")
            variables[key] = ini_value(value)
            if key in SHORT_FORMS:
                self.short_forms.add(key)
        source = f"{self.path}:{self.lineno}"
        for name in names:
            host = self.inventory.add_host(name, group, source)
            if port is not None:
                host.vars["ansible_port"] = port
            host.vars.update(variables)

    def _expand(self, pattern: str) -> tuple[list[str], int | None]:
        """Ansible's _expand_hostpattern: ``name[:port]`` then ``[x:y]`` ranges."""
        try:
            name, port_text = split_port(pattern)
        except ValueError:
            name, port_text = pattern, None
        port = None
        if port_text is not None:
            if not port_text.isdigit():
                name, port_text = pattern, None
            else:
                port = int(port_text)
        if pattern.strip().endswith(":") and port is None:
            raise self.error(f"invalid host pattern {pattern!r}: a trailing ':' is for a port")
        try:
            names = expand_ranges(name) if "[" in name else [name]
        except ValueError as exc:
            raise self.error(str(exc)) from None
        if any("[" in n or "]" in n for n in names):  # Ansible cannot expand it either
            raise self.error(f"invalid host range in {pattern!r}: expected [start:end]")
        if any(n.strip() == "---" for n in names):
            raise self.error(f"invalid host pattern {pattern!r}: '---' means a YAML file")
        return names, port


def parse_ini(inventory: Inventory, text: str, path: str) -> None:
    IniParser(inventory, path).parse(text.splitlines())
