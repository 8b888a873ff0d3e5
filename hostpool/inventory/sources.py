"""Parent side: ``-i`` values as Ansible reads them: files, directories, host lists, several.

A file is YAML when its extension says so, or when it has none and parses as a YAML
inventory; otherwise INI.  A directory is every entry in it, sorted, recursively, minus
Ansible's ignore rules (hidden files, ``group_vars``/``host_vars``, backup and document
extensions).  Several sources merge into one inventory in the order given; each file or
directory given contributes the ``group_vars/`` and ``host_vars/`` beside it (for a
directory, inside it).  Executable inventory scripts are never run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from hostpool.errors import ConfigError
from hostpool.inventory.graph import Inventory
from hostpool.inventory.ini import IniParser, parse_ini
from hostpool.inventory.validate import exposure
from hostpool.inventory.varsdirs import apply_vars_dirs
from hostpool.inventory.yamlfile import EXTENSIONS, NotYaml, parse_yaml

REJECT_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst")
IGNORE_EXTS = (*REJECT_EXTS, ".orig", ".cfg", ".retry")
IGNORED = re.compile(
    "|".join([r"^\.", "^host_vars$", "^group_vars$", "^vars_plugins$"])
    + "|"
    + "|".join(f"{re.escape(ext)}$" for ext in IGNORE_EXTS)
)


def is_host_list(source: str) -> bool:
    return "," in source and not os.path.exists(source)


def load_sources(sources: Sequence[str | os.PathLike[str]]) -> Inventory:
    """One inventory from every source, in order; group_vars/host_vars applied last."""
    names = [os.fspath(s) for s in sources] or [""]
    inventory = Inventory(",".join(names))
    basedirs: list[Path] = []
    for source in names:
        if is_host_list(source):
            parse_host_list_into(inventory, source)
            continue
        path = Path(source)
        if path.is_dir():
            _parse_dir(inventory, path)
            basedirs.append(path)
        else:
            _parse_file(inventory, path)
            basedirs.append(path.parent)
    inventory.reconcile()
    for basedir in dict.fromkeys(basedirs):
        apply_vars_dirs(inventory, basedir)
    return inventory


def _parse_dir(inventory: Inventory, path: Path) -> None:
    for entry in sorted(os.listdir(path)):
        if IGNORED.search(entry):
            continue
        full = path / entry
        if full.is_dir():
            _parse_dir(inventory, full)
        elif full.is_file():
            _parse_file(inventory, full)


def _parse_file(inventory: Inventory, path: Path) -> None:
    source = str(path)
    if not path.exists() and "/" not in source:
        raise ConfigError(f"{source}: no such inventory file (for one host, write '{source},')")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read inventory: {exc.strerror or exc}") from exc
    exposed = exposure(path)
    if exposed:
        inventory.warnings.append(exposed)
    if data.startswith(b"#!") and os.access(path, os.X_OK):
        raise ConfigError(
            f"{source}: executable inventory scripts are not run by hostpool "
            "(save its output with `ansible-inventory --list -y > inventory.yml`)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: inventory is not UTF-8 text ({exc.reason})") from exc
    ext = path.suffix.lower()
    if ext in EXTENSIONS:
        try:
            parse_yaml(inventory, text, source)
        except NotYaml as exc:
            raise ConfigError(str(exc)) from None
        return
    if not ext:
        try:
            parse_yaml(inventory, text, source)
            return
        except NotYaml:
            pass  # Ansible tries its YAML plugin first, then INI
    parse_ini(inventory, text, source)


def parse_host_list_into(inventory: Inventory, text: str, source: str = "<host list>") -> None:
    """``-i 'web1,deploy@web2:2222,db[01:03],'``: ungrouped hosts, as Ansible's host list
    plus two of its advanced_host_list conveniences, ``user@`` and ranges."""
    expander = IniParser(inventory, source)
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        user, _, hostport = item.rpartition("@")
        names, port = expander._expand(hostport)
        for name in names:
            host = inventory.add_host(name, "ungrouped", source)
            if port is not None:
                host.vars["ansible_port"] = port
            if user:
                host.vars["ansible_user"] = user
