"""Parent side: the library entry points scripts use (and the CLI is a thin layer over).

``select`` turns an ``-i`` value into targets the way the CLI does: an existing file is
an inventory, a value with a comma is an ad-hoc host list (Ansible's convention).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostpool.inventory import HostDefaults, Inventory, load_inventory, parse_host_list
from hostpool.models import Target
from hostpool.runner import Runner, run

__all__ = ["Runner", "describe", "load", "load_inventory", "run", "select"]


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
) -> list[dict[str, Any]]:
    return load(source).describe(pattern, limit, defaults=_defaults(user, key_file, ssh_config))
