"""Parent side: the ssh_config keywords beyond address, port, user, keys and ProxyJump.

Each keyword hostpool honours becomes a field of ``models.SSHSettings`` for the worker;
a keyword that would change where traffic goes and cannot be honoured makes the host
unservable (never a direct connection instead); the rest are reported once per run with
``file:line`` and otherwise ignored.
"""

from __future__ import annotations

import os
import shlex

from hostpool.errors import ConfigError
from hostpool.inventory.sshconfig import SSHHostOptions, expand_tokens
from hostpool.models import HostKeyPolicy, SSHSettings

HONOURED = {
    "hostname", "port", "user", "identityfile", "proxyjump",  # read by resolve itself
    "certificatefile", "identityagent",
    "identitiesonly", "proxycommand", "connecttimeout", "serveraliveinterval",
    "serveralivecountmax", "userknownhostsfile", "globalknownhostsfile",
    "stricthostkeychecking", "hostkeyalias",
    "checkhostip", "addkeystoagent", "batchmode",  # no-ops for hostpool: nothing to ask
    "hashknownhosts", "loglevel", "compression",
}  # fmt: skip
# Would change the path or the peer: refused rather than connecting some other way.
ROUTING = {
    "proxyusefdpass", "canonicalizehostname", "bindaddress", "bindinterface",
    "localcommand", "tunnel", "controlpath", "controlmaster",
}  # fmt: skip
ROUTING_OFF = {"no", "none", "false", "auto"}
POLICIES = {
    "yes": HostKeyPolicy.STRICT,
    "ask": HostKeyPolicy.STRICT,  # BatchMode is implied: nobody is asked
    "accept-new": HostKeyPolicy.ACCEPT_NEW,
    "no": HostKeyPolicy.IGNORE,
    "off": HostKeyPolicy.IGNORE,
}


def unsupported(ssh: SSHHostOptions) -> tuple[list[str], str | None]:
    """(warnings for ignored keywords, the reason the host cannot be served or None)."""
    warnings = list(ssh.warnings)
    for key, options in ssh.options.items():
        if key in HONOURED:
            continue
        first = options[0]
        if key in ROUTING and first.value.lower() not in ROUTING_OFF:
            return warnings, f"{first.origin}: ssh_config {key} {first.value!r} is not supported"
        warnings.append(f"{first.origin}: ssh_config {key} is not supported by hostpool; ignored")
    return warnings, None


def _seconds(ssh: SSHHostOptions, key: str) -> float | None:
    option = ssh.first(key)
    if option is None or option.value.lower() == "none":
        return None
    try:
        value = float(option.value)
    except ValueError:
        message = f"{option.origin}: ssh_config {key} {option.value!r} is not a number"
        raise ConfigError(message) from None
    if value < 0:
        raise ConfigError(f"{option.origin}: ssh_config {key} must not be negative")
    return value


def _files(ssh: SSHHostOptions, key: str, tokens: dict[str, str]) -> tuple[str, ...] | None:
    option = ssh.first(key)
    if option is None:
        return None
    if option.value.lower() == "none":
        return ()
    return tuple(
        os.path.expanduser(expand_tokens(arg, tokens, option.origin)) for arg in option.args
    )


def settings(ssh: SSHHostOptions | None, tokens: dict[str, str]) -> SSHSettings:
    """``tokens``: %h %p %r %n %u %d %l %% for this host, from validated values."""
    if ssh is None:
        return SSHSettings()
    policy = None
    option = ssh.first("stricthostkeychecking")
    if option is not None:
        policy = POLICIES.get(option.value.lower())
        if policy is None:
            raise ConfigError(f"{option.origin}: StrictHostKeyChecking {option.value!r}?")
    proxy = ssh.first("proxycommand")
    command = None
    if proxy is not None and proxy.value.lower() != "none":
        command = expand_tokens(proxy.value, tokens, proxy.origin)
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ConfigError(f"{proxy.origin}: ProxyCommand: {exc}") from None
        if not argv or argv[0].startswith("-"):
            raise ConfigError(f"{proxy.origin}: ProxyCommand {command!r} is not a command")
    agent = ssh.first("identityagent")
    agent_socket = None
    if agent is not None:
        value = agent.value
        if value.lower() == "none":
            agent_socket = ""
        elif value == "SSH_AUTH_SOCK" or value.startswith("$"):
            agent_socket = os.environ.get(value.lstrip("$"), "")
        else:
            agent_socket = os.path.expanduser(expand_tokens(value, tokens, agent.origin))
    identities_only = ssh.first("identitiesonly")
    count = ssh.first("serveralivecountmax")
    alias = ssh.first("hostkeyalias")
    return SSHSettings(
        connect_timeout=_seconds(ssh, "connecttimeout"),
        identities_only=identities_only is not None and identities_only.value.lower() == "yes",
        proxy_command=command,
        server_alive_interval=_seconds(ssh, "serveraliveinterval") or 0.0,
        server_alive_count=int(count.value) if count and count.value.isdigit() else 3,
        known_hosts=_files(ssh, "userknownhostsfile", tokens),
        global_known_hosts=_files(ssh, "globalknownhostsfile", tokens) or (),
        host_key_policy=policy,
        host_key_alias=alias.value if alias else None,
        identity_agent=agent_socket,
        certificate_files=tuple(
            os.path.expanduser(expand_tokens(o.value, tokens, o.origin))
            for o in ssh.all("certificatefile")
            if o.value.lower() != "none"
        ),
    )
