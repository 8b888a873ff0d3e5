"""Parent side: one host's connection settings from variables, CLI defaults and ssh_config.

Precedence: Ansible's connection variables (after Ansible's variable precedence, see
``graph.host_vars``) > CLI default (``-u/-k``) > ssh_config > built-in default.  Only
those variables change a connection; ``host=``/``port=``/``user=`` are ordinary ones.
Values read from ssh_config are validated here like inventory values, naming the
``file:line`` they came from.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hostpool.errors import ConfigError
from hostpool.inventory import sshsettings, values
from hostpool.inventory.sshconfig import SSHConfig, SSHHostOptions, expand_tokens
from hostpool.inventory.validate import (
    SETTING_VARS,
    is_valid_host_name,
    is_valid_user,
    key_path_problem,
    normalize_setting,
    parse_port,
    proxy_jump_problem,
    unbracket,
)
from hostpool.models import Become, Connection, Target, VarValue

if TYPE_CHECKING:
    from hostpool.inventory.graph import Inventory


# Ansible's names; where several are set the last one wins, as in Ansible.
PASSWORD_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
BECOME_PASSWORD_VARS = ("ansible_become_pass", "ansible_become_password")
SECRET_VARS = frozenset((*PASSWORD_VARS, *BECOME_PASSWORD_VARS, "ansible_sudo_pass"))


@dataclass(frozen=True)
class HostDefaults:
    """Run-wide fallbacks (CLI -u/-k/--port); inventory variables override them."""

    user: str | None = None
    key_file: str | None = None
    port: int | None = None
    ssh_config: str | None = "~/.ssh/config"  # None disables; a missing file is fine
    ssh_config_exec: bool = False  # evaluate `Match exec` (runs a local command per host)


class Resolver:
    """Connection settings for hosts of one selection: Ansible's connection variables,
    then the CLI defaults, then ssh_config.  A host whose settings cannot be used is not
    guessed at: selecting it is a ConfigError naming it, before anything is contacted."""

    def __init__(self, inventory: Inventory, defaults: HostDefaults) -> None:
        self.inventory = inventory
        self.defaults = _checked_defaults(defaults)
        self.ssh_config = _load_ssh_config(defaults.ssh_config, defaults.ssh_config_exec)
        self.local_user = _local_user()
        self.home = os.path.expanduser("~")
        self.local_host = socket.gethostname().split(".")[0]
        self.warnings: list[str] = []  # ssh_config keywords read but not honoured
        self._lookups: dict[str, SSHHostOptions] = {}
        self._warned_plaintext = False

    def targets(self, names: list[str]) -> list[Target]:
        resolved = [self._resolve(name) for name in names]
        problems = [
            f"{self.inventory.hosts[name].source}: {name}: {why}"
            for name, why in resolved
            if isinstance(why, str)
        ]
        if problems:
            shown = "; ".join(problems[:10]) + (
                f"; +{len(problems) - 10} more" if len(problems) > 10 else ""
            )
            raise ConfigError(
                f"hostpool cannot serve {len(problems)} selected host(s), nothing was contacted: "
                f"{shown} (leave them out with -l '!NAME')"
            )
        return [t for _, t in resolved if isinstance(t, Target)]

    def describe(self, names: list[str]) -> list[dict[str, object]]:
        described = []
        for name in names:
            _, resolved = self._resolve(name)
            if isinstance(resolved, Target):
                entry = describe_target(resolved)
                lookup = self._lookups.get(name)
                entry["ssh_config"] = {
                    key: [{"value": o.value, "origin": o.origin} for o in options]
                    for key, options in (lookup.options.items() if lookup else ())
                }
            else:
                entry = {"name": name, "unservable": resolved, "groups": self._groups(name)}
                entry["vars"] = {
                    k: ("********" if k in SECRET_VARS else v)
                    for k, v in self.inventory.host_vars(name).items()
                }
            entry["source"] = self.inventory.hosts[name].source
            described.append(entry)
        return described

    def _groups(self, name: str) -> list[str]:
        return [g for g in self.inventory.host_groups(name) if g != "all"]

    def _resolve(self, name: str) -> tuple[str, Target | str]:
        variables = self.inventory.host_vars(name)
        context = {**variables, "inventory_hostname": name}
        settings: dict[str, str] = {}
        for setting, keys in SETTING_VARS.items():
            present = [k for k in keys if k in variables]
            if not present:
                continue
            raw = variables[present[-1]]
            value = values.resolve(raw, context)
            if value is None:
                return name, f"{present[-1]}={raw!r} is a template hostpool cannot evaluate"
            normalized, problem = normalize_setting(setting, values.text(value))
            if normalized is None:
                return name, f"{present[-1]}: {problem}"
            settings[setting] = normalized
        try:
            target = self._target(name, settings, variables)
            password, become = self._secrets(name, variables, context)
            return name, replace(target, password=password, become=become)
        except ConfigError as exc:
            return name, str(exc)

    def _secrets(
        self, name: str, variables: dict[str, VarValue], context: dict[str, VarValue]
    ) -> tuple[str | None, Become | None]:
        """ansible_password and ansible_become*: per host, through the pool's pipe only."""

        def last(*keys: str) -> str | None:
            present = [k for k in keys if k in variables]
            if not present:
                return None
            value = values.resolve(variables[present[-1]], context)
            if value is None:
                raise ConfigError(f"{present[-1]} is a template hostpool cannot evaluate")
            return values.text(value)

        password = last(*PASSWORD_VARS)
        if password is not None and not self._warned_plaintext:
            self._warned_plaintext = True
            self.warnings.append(
                f"{self.inventory.hosts[name].source}: a login password is stored in the "
                "inventory in plain text (prefer keys, or --ask-pass)"
            )
        enabled = last("ansible_become")
        if enabled is None or enabled.lower() not in ("true", "yes", "1", "on"):
            return password, None
        method = last("ansible_become_method") or "sudo"
        if method != "sudo":
            raise ConfigError(f"ansible_become_method={method!r}: hostpool becomes with sudo only")
        user = last("ansible_become_user")
        if user is not None and not is_valid_user(user):
            raise ConfigError(f"ansible_become_user: invalid user name {user!r}")
        return password, Become(user=user, password=last(*BECOME_PASSWORD_VARS))

    def _target(
        self, name: str, settings: dict[str, str], variables: dict[str, VarValue]
    ) -> Target:
        connection = Connection(settings.get("connection", Connection.SSH.value))
        lookup_name = settings.get("host", name)
        login = settings.get("user") or self.defaults.user  # what `ssh -l` would pass
        ssh = None
        if connection is Connection.SSH:
            ssh = self.ssh_config.lookup(lookup_name, user=login, local_user=self.local_user)
            self._lookups[name] = ssh
            warnings, problem = sshsettings.unsupported(ssh)
            self.warnings += warnings
            if problem:
                raise ConfigError(problem)
        address = settings.get("host") or _ssh_hostname(ssh, lookup_name, name)
        if "host" not in settings and not is_valid_host_name(unbracket(address)):
            raise ConfigError(f"{address!r} is not a host name or address hostpool connects to")
        port = _first_int(settings.get("port"), self.defaults.port) or _ssh_port(ssh, name)
        user = settings.get("user") or self.defaults.user or _ssh_user(ssh, name)
        keys = [k for k in (settings.get("key"), self.defaults.key_file) if k]
        tokens = {
            "h": address,
            "n": lookup_name,
            "p": str(port),
            "r": user or self.local_user,
            "u": self.local_user,
            "d": self.home,
            "l": self.local_host,
        }
        keys += _ssh_identity_files(ssh, tokens, name)
        return Target(
            ssh=sshsettings.settings(ssh, {**tokens, "h": unbracket(address)}),
            name=name,
            address=unbracket(address),
            port=port,
            user=user,
            connection=connection,
            key_files=tuple(dict.fromkeys(keys)),
            proxy_jump=_proxy_jump(settings.get("proxy_jump"), ssh, name),
            groups=tuple(self._groups(name)),
            vars=tuple(sorted(variables.items())),
        )


def _first_int(*values: str | int | None) -> int | None:
    for value in values:
        if value is not None:
            return int(value)
    return None


def _checked_defaults(defaults: HostDefaults) -> HostDefaults:
    if defaults.user is not None and not is_valid_user(defaults.user):
        raise ConfigError(f"default user {defaults.user!r} is not a valid user name")
    if defaults.port is not None and parse_port(defaults.port) is None:
        raise ConfigError(f"default port {defaults.port!r} is not an integer 1..65535")
    if defaults.key_file is not None:
        problem = key_path_problem(defaults.key_file)
        if problem:
            raise ConfigError(f"default {problem}")
        return replace(defaults, key_file=os.path.expanduser(defaults.key_file))
    return defaults


def _load_ssh_config(path: str | None, allow_exec: bool) -> SSHConfig:
    return SSHConfig.empty() if path is None else SSHConfig.load(path, allow_exec=allow_exec)


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (containers)
        return ""


def _ssh_hostname(ssh: SSHHostOptions | None, lookup_name: str, host: str) -> str:
    option = ssh.first("hostname") if ssh else None
    if option is None:
        return lookup_name
    address = unbracket(option.value)  # %h and %% were expanded as the config was read
    if not is_valid_host_name(address):
        raise ConfigError(
            f"{option.origin}: ssh_config HostName {address!r} for host {host!r}"
            " is not a valid host name"
        )
    return address


def _ssh_port(ssh: SSHHostOptions | None, host: str) -> int:
    option = ssh.first("port") if ssh else None
    if option is None:
        return 22
    port = parse_port(option.value)
    if port is None:
        raise ConfigError(
            f"{option.origin}: ssh_config Port {option.value!r} for host {host!r}"
            " is not an integer 1..65535"
        )
    return port


def _ssh_user(ssh: SSHHostOptions | None, host: str) -> str | None:
    option = ssh.first("user") if ssh else None
    if option is None:
        return None
    if not is_valid_user(option.value):
        raise ConfigError(
            f"{option.origin}: ssh_config User {option.value!r} for host {host!r}"
            " is not a valid user name"
        )
    return option.value


def _ssh_identity_files(ssh: SSHHostOptions | None, tokens: dict[str, str], host: str) -> list[str]:
    """All IdentityFile lines apply (OpenSSH accumulates them), after inventory/CLI keys."""
    paths: list[str] = []
    for option in ssh.all("identityfile") if ssh else ():
        if option.value.lower() == "none":
            continue
        path = os.path.expanduser(expand_tokens(option.value, tokens, option.origin))
        problem = key_path_problem(path)
        if problem:
            raise ConfigError(f"{option.origin}: ssh_config IdentityFile for {host!r}: {problem}")
        paths.append(path)
    return paths


def _proxy_jump(inventory_value: str | None, ssh: SSHHostOptions | None, host: str) -> str | None:
    if inventory_value is not None:
        return None if inventory_value.lower() == "none" else inventory_value
    option = ssh.first("proxyjump") if ssh else None
    if option is None or option.value.lower() == "none":
        return None
    problem = proxy_jump_problem(option.value)
    if problem:
        raise ConfigError(f"{option.origin}: ssh_config ProxyJump for {host!r}: {problem}")
    return option.value


def describe_target(target: Target) -> dict[str, object]:
    return {
        "name": target.name,
        "address": target.address,
        "port": target.port,
        "user": target.user,
        "connection": target.connection.value,
        "key_files": list(target.key_files),
        "proxy_jump": target.proxy_jump,
        "groups": list(target.groups),
        "vars": {k: ("********" if k in SECRET_VARS else v) for k, v in target.vars},
        "ssh": {field: getattr(target.ssh, field) for field in target.ssh.__dataclass_fields__},
    }
