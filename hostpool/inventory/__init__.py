"""Parent side: inventories in, validated ``Target`` records out.

``select`` turns an ``-i`` value into targets the way the CLI does: an existing file is
an inventory, a value with a comma is an ad-hoc host list (Ansible's convention).
Modules: ``validate`` (what may reach a command line), ``ranges``, ``ini`` (the file
format), ``graph`` (groups, hosts, membership), ``patterns``, ``resolve`` (precedence and
ssh_config), ``sshconfig``, ``lastrun`` (``@failed``).
"""

from __future__ import annotations

from pathlib import Path

from hostpool.inventory.graph import Group, Host, Inventory
from hostpool.inventory.ini import load_inventory, parse_host_list, parse_inventory
from hostpool.inventory.ranges import MAX_RANGE_HOSTS
from hostpool.inventory.resolve import HostDefaults
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


def load(source: str | Path) -> Inventory:
    text = str(source)
    if "," in text and not Path(text).exists():
        return parse_host_list(text)
    return load_inventory(source)


def _defaults(user: str | None, key_file: str | None, ssh_config: str | None) -> HostDefaults:
    return HostDefaults(user=user, key_file=key_file, ssh_config=ssh_config)


def select(
    source: str | Path,
    pattern: str = "all",
    limit: str | None = None,
    *,
    user: str | None = None,
    key_file: str | None = None,
    ssh_config: str | None = "~/.ssh/config",
) -> list[Target]:
    return load(source).select(pattern, limit, defaults=_defaults(user, key_file, ssh_config))


def describe(
    source: str | Path,
    pattern: str = "all",
    limit: str | None = None,
    *,
    user: str | None = None,
    key_file: str | None = None,
    ssh_config: str | None = "~/.ssh/config",
) -> list[dict[str, object]]:
    return load(source).describe(pattern, limit, defaults=_defaults(user, key_file, ssh_config))
