"""Parent side: the inventory as Ansible models it: groups, hosts, membership, precedence.

It mirrors Ansible's ``InventoryData`` so that existing inventories keep their meaning:
groups and hosts in order of first appearance, ``all`` and ``ungrouped`` implicit, a
group's depth (longest path from ``all``) and ``ansible_group_priority`` ordering its
variables, a host in every ancestor of its groups.  Parsers (``ini``, ``yamlfile``) and
the vars directories (``varsdirs``) fill it; ``patterns`` and ``resolve`` read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hostpool.errors import ConfigError
from hostpool.inventory import patterns
from hostpool.inventory.resolve import HostDefaults, Resolver
from hostpool.models import Target, VarValue

IMPLICIT = ("all", "ungrouped")


@dataclass
class Group:
    name: str
    vars: dict[str, VarValue] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)  # direct members, in order added
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    depth: int = 0
    priority: int = 1
    file_vars: dict[str, VarValue] = field(default_factory=dict)  # group_vars/ files


@dataclass
class Host:
    name: str
    source: str  # file:line of its first definition, for messages
    vars: dict[str, VarValue] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # direct memberships
    file_vars: dict[str, VarValue] = field(default_factory=dict)  # host_vars/ files


class Inventory:
    """Hosts and groups of every source, merged in the order the sources were given."""

    def __init__(self, source: str = "<inventory>") -> None:
        self.source = source
        self.groups: dict[str, Group] = {}
        self.hosts: dict[str, Host] = {}
        self.warnings: list[str] = []
        for name in IMPLICIT:
            self.add_group(name)
        self.add_child("all", "ungrouped")

    # -- building ---------------------------------------------------------------------
    def add_group(self, name: str) -> Group:
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = Group(name)
        return group

    def add_host(self, name: str, group: str | None, source: str) -> Host:
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = Host(name, source)
        if group is not None and group != "all":
            self.add_group(group)
            if name not in self.groups[group].hosts:
                self.groups[group].hosts.append(name)
            if group not in host.groups:
                host.groups.append(group)
        return host

    def add_child(self, parent: str, child: str) -> None:
        """Ansible's add_child_group: refuses cycles, keeps the child's depth the longest
        path from ``all``."""
        up, down = self.add_group(parent), self.add_group(child)
        if child in up.children:
            return
        if child == parent or child in self.ancestors(parent):
            raise ConfigError(
                f"adding group {child!r} as child to {parent!r} creates a recursive loop"
            )
        up.children.append(child)
        if parent not in down.parents:
            down.parents.append(parent)
        self._deepen(down, up.depth + 1)

    def _deepen(self, group: Group, depth: int) -> None:
        stack = [(group, depth)]
        while stack:
            current, wanted = stack.pop()
            if wanted <= current.depth:
                continue
            current.depth = wanted
            stack.extend((self.groups[c], wanted + 1) for c in current.children)

    def set_group_var(self, group: str, key: str, value: VarValue) -> None:
        """As Ansible: ``ansible_group_priority`` orders the group, it is not a variable."""
        target = self.add_group(group)
        if key != "ansible_group_priority":
            target.vars[key] = value
            return
        try:
            target.priority = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            message = f"ansible_group_priority of {group!r} is not an integer"
            raise ConfigError(message) from None

    def reconcile(self) -> None:
        """Ansible's reconcile_inventory: top-level groups under ``all``; hosts with no
        group but ``all`` in ``ungrouped``, and out of it once they have one."""
        for name, group in list(self.groups.items()):
            if name != "all" and not group.parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            others = [g for g in host.groups if g not in IMPLICIT]
            if others and "ungrouped" in host.groups:
                host.groups.remove("ungrouped")
                ungrouped.hosts.remove(host.name)
            elif not others and "ungrouped" not in host.groups:
                self.add_host(host.name, "ungrouped", host.source)

    # -- reading ----------------------------------------------------------------------
    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.groups[name].parents) if name in self.groups else []
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen.add(parent)
                stack.extend(self.groups[parent].parents)
        return seen

    def host_groups(self, host: str) -> list[str]:
        """Every group of ``host``, ancestors included (``all`` too), Ansible's order."""
        found: list[str] = []
        for group in self.hosts[host].groups:
            for name in [*sorted(self.ancestors(group)), group]:
                if name not in found:
                    found.append(name)
        if "all" not in found:
            found.insert(0, "all")
        return found

    def group_hosts(self, name: str) -> list[str]:
        """Hosts of a group and its descendants: its own first, then level by level."""
        order = [name]
        level = [name]
        while level:
            nxt: list[str] = []
            for group in level:
                for child in self.groups[group].children:
                    if child not in order:
                        order.append(child)
                        nxt.append(child)
            level = nxt
        hosts: dict[str, None] = {}
        for group in order:
            hosts.update(dict.fromkeys(self.groups[group].hosts))
        return list(hosts)

    def sorted_groups(self, host: str) -> list[Group]:
        """A host's groups but ``all`` in variable order: depth, priority, name."""
        groups = [self.groups[g] for g in self.host_groups(host) if g != "all"]
        return sorted(groups, key=lambda g: (g.depth, g.priority, g.name))

    def host_vars(self, host: str) -> dict[str, VarValue]:
        """Ansible's precedence: all's inventory vars < the host's groups' inventory vars
        < group_vars/all < group_vars/<group> < inventory host vars < host_vars/<host>."""
        groups = self.sorted_groups(host)
        merged: dict[str, VarValue] = dict(self.groups["all"].vars)
        for group in groups:
            merged.update(group.vars)
        merged.update(self.groups["all"].file_vars)
        for group in groups:
            merged.update(group.file_vars)
        merged.update(self.hosts[host].vars)
        merged.update(self.hosts[host].file_vars)
        return merged

    @property
    def host_names(self) -> list[str]:
        return list(self.hosts)

    def ordered_hosts(self) -> list[str]:
        """``all``: Ansible's order (ungrouped first, then each top-level group)."""
        return self.group_hosts("all")

    # -- selection --------------------------------------------------------------------
    def select(
        self,
        pattern: str = "all",
        limit: str | None = None,
        defaults: HostDefaults = HostDefaults(),
    ) -> list[Target]:
        names = patterns.select_names(self, pattern, limit)
        resolver = Resolver(self, defaults)
        try:
            return resolver.targets(names)
        finally:
            self.warnings += resolver.warnings

    def describe(
        self,
        pattern: str = "all",
        limit: str | None = None,
        defaults: HostDefaults = HostDefaults(),
    ) -> list[dict[str, object]]:
        names = patterns.select_names(self, pattern, limit)
        resolver = Resolver(self, defaults)
        try:
            return resolver.describe(names)
        finally:
            self.warnings += resolver.warnings
