"""Parent side: the inventory as a graph of groups and hosts, and its selection entry.

Semantics follow Ansible where it defines them (implicit ``all`` and ``ungrouped``, group
depth for variable precedence, membership through children) so that existing inventories
keep meaning the same thing.  Parsers (``ini``) build the model; ``patterns`` and
``resolve`` turn it into targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hostpool.inventory import patterns
from hostpool.inventory.resolve import HostDefaults, Resolver, describe_target
from hostpool.models import Target

IMPLICIT = ("all", "ungrouped")


@dataclass(slots=True)
class Scope:
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
    scope: Scope = field(default_factory=Scope)

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
    scope: Scope = field(default_factory=Scope)

    @property
    def vars(self) -> dict[str, str]:
        return self.scope.vars


def descendants(groups: dict[str, Group], name: str) -> set[str]:
    """Iterative so a deep (hostile) hierarchy cannot exhaust the recursion limit."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        for child in groups[stack.pop()].children:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def assign_depths(groups: dict[str, Group]) -> None:
    """Ansible's depth: longest path from 'all'; precedence sorts by it."""
    order = topological(groups)
    for name in order:
        for child in groups[name].children:
            groups[child].depth = max(groups[child].depth, groups[name].depth + 1)


def topological(groups: dict[str, Group]) -> list[str]:
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


def ancestors(groups: dict[str, Group]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for name in topological(groups):
        parents = groups[name].parents
        result[name] = set(parents).union(*(result[p] for p in parents))
    return result


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
        assign_depths(self.groups)
        lineage = ancestors(self.groups)
        self._members: dict[str, list[str]] = {name: [] for name in self.groups}
        self._members["all"] = list(self.hosts)
        for host in self.hosts.values():
            direct = host.direct_groups or ["ungrouped"]
            names = set(direct).union(*(lineage[g] for g in direct))
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
        names = patterns.select_names(self, pattern, limit)
        resolver = Resolver(self, defaults)
        return [resolver.target(self.hosts[name]) for name in names]

    def describe(
        self,
        pattern: str = "all",
        limit: str | None = None,
        defaults: HostDefaults = HostDefaults(),
    ) -> list[dict[str, object]]:
        return [describe_target(t) for t in self.select(pattern, limit, defaults)]
