"""Parent side: Ansible's YAML inventory format (also JSON), and YAML vars files.

Top-level keys are groups; each has optional ``hosts`` (host pattern -> vars), ``vars``
and ``children`` (nested groups, the same shape).  Loaded with the safe loader only:
inventory files are untrusted input.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from hostpool.errors import ConfigError
from hostpool.inventory.graph import Inventory
from hostpool.inventory.ini import IniParser
from hostpool.models import VarValue

EXTENSIONS = (".yml", ".yaml", ".json")


class NotYaml(ValueError):
    """The text is not a YAML inventory (so another format may be tried)."""


def load_yaml(text: str, path: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise NotYaml(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def parse_yaml(inventory: Inventory, text: str, path: str) -> None:
    data = load_yaml(text, path)
    if data is None:
        return  # an empty file is an empty inventory, as for Ansible
    if not data:
        raise NotYaml(f"{path}: empty YAML file")
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise NotYaml(f"{path}: a YAML inventory is a mapping of groups, got {kind}")
    if data.get("plugin"):
        raise ConfigError(
            f"{path}: inventory plugin {data['plugin']!r} configuration: hostpool reads static "
            "INI and YAML inventories only (export it with `ansible-inventory --list -y`)"
        )
    reader = _Reader(inventory, path)
    for group, body in data.items():
        reader.group(str(group), body)


class _Reader:
    def __init__(self, inventory: Inventory, path: str) -> None:
        self.inventory = inventory
        self.path = path
        self.expander = IniParser(inventory, path)

    def group(self, name: str, body: object) -> str:
        if not isinstance(body, Mapping | None):
            self.inventory.warnings.append(f"{self.path}: skipping {name!r}: not a group mapping")
            return name
        self.inventory.add_group(name)
        for section, value in (body or {}).items():
            if isinstance(value, str) and section in ("vars", "children", "hosts"):
                value = {value: None}
            if value is None:
                continue
            if not isinstance(value, Mapping):
                if section in ("vars", "children", "hosts"):
                    raise ConfigError(
                        f"{self.path}: {section!r} of group {name!r} must be a mapping"
                    )
                continue
            if section == "vars":
                for key, val in value.items():
                    self.inventory.set_group_var(name, str(key), _plain(val))
            elif section == "children":
                for child, child_body in value.items():
                    self.group(str(child), child_body)
                    self.inventory.add_child(name, str(child))
            elif section == "hosts":
                for pattern, host_vars in value.items():
                    self.hosts(name, str(pattern), host_vars)
            else:
                self.inventory.warnings.append(
                    f"{self.path}: skipping {section!r} in group {name!r}: only vars, children "
                    "and hosts are valid"
                )
        return name

    def hosts(self, group: str, pattern: str, host_vars: object) -> None:
        if host_vars is not None and not isinstance(host_vars, Mapping):
            raise ConfigError(f"{self.path}: vars of host {pattern!r} must be a mapping")
        names, port = self.expander._expand(pattern)
        for name in names:
            host = self.inventory.add_host(name, group, f"{self.path}")
            if port is not None:
                host.vars["ansible_port"] = port
            for key, val in (host_vars or {}).items():
                host.vars[str(key)] = _plain(val)


def _plain(value: object) -> VarValue:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return str(value)


def vars_file(text: str, path: str) -> dict[str, VarValue]:
    """One group_vars/ or host_vars/ file: a mapping (empty files are nothing)."""
    try:
        data = load_yaml(text, path)
    except NotYaml as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a vars file is a mapping, got {type(data).__name__}")
    return {str(k): _plain(v) for k, v in data.items()}
