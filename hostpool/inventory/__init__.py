"""Parent side: inventories in, validated ``Target`` records out.

``select`` turns an ``-i`` value into targets the way the CLI does: an existing file is
an inventory, a value with a comma is an ad-hoc host list (Ansible's convention).
Modules: ``sources`` (files, directories, host lists, several ``-i``), ``ini`` and
``yamlfile`` (the formats), ``varsdirs`` (group_vars/, host_vars/), ``values`` (typed
values, plain ``{{ var }}``), ``graph`` (groups, hosts, membership, precedence),
``patterns``, ``resolve`` (connection settings), ``validate`` (what may reach a command
line), ``ranges``, ``sshconfig``, ``lastrun`` (``@failed``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from hostpool.inventory.graph import Group, Host, Inventory
from hostpool.inventory.ini import parse_ini
from hostpool.inventory.ranges import MAX_RANGE_HOSTS
from hostpool.inventory.resolve import HostDefaults
from hostpool.inventory.sources import load_sources, parse_host_list_into
from hostpool.inventory.validate import is_valid_host_name, is_valid_user, parse_port
from hostpool.models import Target

__all__ = [
    "MAX_RANGE_HOSTS",
    "Group",
    "Host",
    "HostDefaults",
    "Inventory",
    "describe",
    "is_valid_host_name",
    "is_valid_user",
    "load",
    "load_inventory",
    "parse_host_list",
    "parse_inventory",
    "parse_port",
    "select",
]

Source = str | os.PathLike[str]


def load(source: Source | Sequence[Source]) -> Inventory:
    """One inventory from a file, a directory, a ``a,b:2222,`` list, or several of them."""
    if isinstance(source, str | os.PathLike):
        return load_sources([source])
    return load_sources(list(source))


def load_inventory(path: Source) -> Inventory:
    return load_sources([path])


def parse_inventory(text: str, source: str = "<string>") -> Inventory:
    """INI text (``source`` names it in ``file:line`` errors); no vars directories."""
    inventory = Inventory(source)
    parse_ini(inventory, text, source)
    inventory.reconcile()
    return inventory


def parse_host_list(text: str, source: str = "<host list>") -> Inventory:
    inventory = Inventory(source)
    parse_host_list_into(inventory, text, source)
    inventory.reconcile()
    return inventory


def _defaults(user: str | None, key_file: str | None, ssh_config: str | None) -> HostDefaults:
    return HostDefaults(user=user, key_file=key_file, ssh_config=ssh_config)


def select(
    source: Source | Sequence[Source],
    pattern: str = "all",
    limit: str | None = None,
    *,
    user: str | None = None,
    key_file: str | None = None,
    ssh_config: str | None = "~/.ssh/config",
) -> list[Target]:
    return load(source).select(pattern, limit, defaults=_defaults(user, key_file, ssh_config))


def describe(
    source: Source | Sequence[Source],
    pattern: str = "all",
    limit: str | None = None,
    *,
    user: str | None = None,
    key_file: str | None = None,
    ssh_config: str | None = "~/.ssh/config",
) -> list[dict[str, object]]:
    return load(source).describe(pattern, limit, defaults=_defaults(user, key_file, ssh_config))
