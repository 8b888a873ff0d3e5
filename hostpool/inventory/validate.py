"""Parent side: the checks that stand between an untrusted inventory and a command line.

Every host name, user, port, key path and jump host that could end up on a command line
(ours or a user's ``ssh``) is validated here, before a pool exists, so that a bad file
costs exit status 3 and never a connection.  No accepted name can start with '-' (so
nothing is read as an ssh option) or hold a shell metacharacter.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections.abc import Iterator

from hostpool.models import Connection

# Hostnames, IPv4 and docker container names all fit this; a leading '-' never does, so
# no value can be read as an ssh option.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
_USER_RE = re.compile(r"[a-z_][a-z0-9_.-]*\$?", re.IGNORECASE)
GROUP_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_USER = 32

CONNECTIONS = {
    "ssh": Connection.SSH,
    "smart": Connection.SSH,
    "paramiko": Connection.SSH,
    "paramiko_ssh": Connection.SSH,
    "ansible.builtin.ssh": Connection.SSH,
    "ansible.builtin.paramiko_ssh": Connection.SSH,
    "local": Connection.LOCAL,
    "ansible.builtin.local": Connection.LOCAL,
    "docker": Connection.DOCKER,
    "community.docker.docker": Connection.DOCKER,
}

# Inventory variables hostpool interprets, mapped to the setting they control.
# The variables that decide a connection, each with Ansible's own list of names: where
# several are set the LAST one wins (the legacy ansible_ssh_* beat the modern names, as
# in Ansible's ssh connection plugin).  proxy_jump is hostpool's own.
SETTING_VARS = {
    "host": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "connection": ("ansible_connection",),
    "key": ("ansible_private_key_file", "ansible_ssh_private_key_file"),
    "proxy_jump": ("proxy_jump",),
}


def is_valid_host_name(name: str) -> bool:
    """Conservative: hostname / IPv4 / container name, or a scope-less IPv6 address."""
    if _NAME_RE.fullmatch(name):
        return True
    return is_ipv6(name)


def is_ipv6(text: str) -> bool:
    if "%" in text:  # scope ids accept arbitrary characters
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_valid_user(user: str) -> bool:
    return len(user) <= _MAX_USER and _USER_RE.fullmatch(user) is not None


def parse_port(text: str | int) -> int | None:
    """The port as an int, or None when it is not an integer 1..65535."""
    if isinstance(text, int):
        port = text
    elif re.fullmatch(r"[0-9]{1,5}", text.strip()):
        port = int(text)
    else:
        return None
    return port if 1 <= port <= 65535 else None


def unbracket(address: str) -> str:
    if address.startswith("[") and address.endswith("]") and is_ipv6(address[1:-1]):
        return address[1:-1]
    return address


def key_path_problem(path: str) -> str | None:
    if not path:
        return "key file path is empty"
    if path.startswith("-"):
        return f"key file {path!r} must not start with '-'"
    if any(ch in path for ch in "\0\n\r"):
        return f"key file {path!r} contains control characters"
    return None


def proxy_jump_problem(value: str) -> str | None:
    """Each hop is ``[user@]host[:port]``, validated like an inventory host."""
    if value.lower() == "none":
        return None
    for hop in value.split(","):
        user, _, hostport = hop.rpartition("@")
        if user and not is_valid_user(user):
            return f"proxy jump {value!r}: invalid user {user!r}"
        try:
            name, port = split_port(hostport)
        except ValueError as exc:
            return f"proxy jump {value!r}: {exc}"
        if not is_valid_host_name(name):
            return f"proxy jump {value!r}: invalid host name {name!r}"
        if port is not None and parse_port(port) is None:
            return f"proxy jump {value!r}: port {port!r} is not an integer 1..65535"
    return None


def normalize_setting(setting: str, value: str) -> tuple[str | None, str]:
    """(normalized value, '') or (None, problem) for one interpreted variable."""
    if setting == "host":
        address = unbracket(value)
        if is_valid_host_name(address):
            return address, ""
        return None, f"invalid host address {value!r}"
    if setting == "port":
        port = parse_port(value)
        return (str(port), "") if port else (None, f"port {value!r} is not an integer 1..65535")
    if setting == "user":
        return (value, "") if is_valid_user(value) else (None, f"invalid user name {value!r}")
    if setting == "connection":
        conn = CONNECTIONS.get(value.lower())
        if conn is None:
            return None, f"unknown connection {value!r} (expected ssh, local or docker)"
        return conn.value, ""
    if setting == "key":
        problem = key_path_problem(value)
        return (None, problem) if problem else (os.path.expanduser(value), "")
    problem = proxy_jump_problem(value)
    return (None, problem) if problem else (value, "")


def split_port(token: str) -> tuple[str, str | None]:
    """``name[:port]``; IPv6 only bare (no port) or as ``[addr]`` / ``[addr]:port``."""
    bracket = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", token)
    if bracket and is_ipv6(bracket.group(1)):
        return bracket.group(1), bracket.group(2)
    if is_ipv6(token):
        return token, None
    colons = [i for i, depth in depth_scan(token) if token[i] == ":" and depth == 0]
    if not colons:
        return token, None
    if len(colons) > 1:
        raise ValueError(f"invalid host {token!r} (IPv6 with a port needs [addr]:port)")
    return token[: colons[0]], token[colons[0] + 1 :]


def depth_scan(text: str) -> Iterator[tuple[int, int]]:
    """(index, bracket depth) for each character, so ':' inside ``[1:3]`` is not a port."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        yield i, depth


def exposure(path: str | os.PathLike[str], *, owner: bool = False) -> str:
    """Why a file others may change is a risk ('' when it is not): whoever can write an
    inventory or an ssh_config decides where, as whom and through what commands run.
    OpenSSH refuses such an ssh_config ("Bad owner or permissions"); ``owner`` adds its
    rule that the file belongs to the user or to root."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        who = "others" if mode & 0o002 else "its group"
        return f"{os.fspath(path)} is writable by {who} (mode {mode:04o}): fix with chmod go-w"
    if owner and st.st_uid not in (os.geteuid(), 0):
        return f"{os.fspath(path)} belongs to uid {st.st_uid}, not to you or root"
    return ""
