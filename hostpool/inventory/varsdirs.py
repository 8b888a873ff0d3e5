"""Parent side: ``group_vars/`` and ``host_vars/`` beside each inventory source.

As Ansible's host_group_vars plugin: for a group or host NAME, the first of ``NAME``,
``NAME.yml``, ``NAME.yaml``, ``NAME.json`` that exists is used; a directory ``NAME/``
contributes every file in it (sorted, recursively, hidden and ``~`` backups skipped,
files with no extension or a YAML/JSON one).  Later files and later sources win.
"""

from __future__ import annotations

import os
from pathlib import Path

from hostpool.errors import ConfigError
from hostpool.inventory.graph import Inventory
from hostpool.inventory.yamlfile import EXTENSIONS, vars_file
from hostpool.models import VarValue

CANDIDATES = ("", *EXTENSIONS)


def _dir_files(path: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(os.listdir(path)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        full = path / entry
        ext = os.path.splitext(entry)[1]
        if full.is_dir() and not ext:
            found += _dir_files(full)
        elif full.is_file() and (not ext or ext in EXTENSIONS):
            found.append(full)
    return found


def find_vars_files(directory: Path, name: str) -> list[Path]:
    if not name or "/" in name or name in (".", ".."):
        return []
    for ext in CANDIDATES:
        candidate = directory / f"{name}{ext}"
        if candidate.exists():
            return _dir_files(candidate) if candidate.is_dir() else [candidate]
    return []


def _load(files: list[Path]) -> dict[str, VarValue]:
    merged: dict[str, VarValue] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read vars file: {exc}") from exc
        merged.update(vars_file(text, str(path)))
    return merged


def apply_vars_dirs(inventory: Inventory, basedir: Path) -> list[Path]:
    """Merge ``basedir``'s group_vars/ and host_vars/ into the inventory; returns the
    files read (``hosts --json`` names them)."""
    read: list[Path] = []
    group_dir, host_dir = basedir / "group_vars", basedir / "host_vars"
    if group_dir.is_dir():
        for name, group in inventory.groups.items():
            files = find_vars_files(group_dir, name)
            group.file_vars.update(_load(files))
            read += files
    if host_dir.is_dir():
        for name, host in inventory.hosts.items():
            files = find_vars_files(host_dir, name)
            host.file_vars.update(_load(files))
            read += files
    return read
