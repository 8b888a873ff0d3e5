"""The options the ``hosts`` command shares with the run commands (``cli.flags``)."""

from __future__ import annotations

from typing import Annotated

import typer

InventoryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-i",
        "--inventory",
        envvar="HOSTPOOL_INVENTORY",
        help="Inventory: an INI or YAML file, a directory, or a host list ('web1,web2:2222,'); "
        "repeat to merge several, in order.",
        rich_help_panel="Selection",
    ),
]
HostsOpt = Annotated[
    str,
    typer.Option(
        "-H",
        "--hosts",
        help="Host pattern: groups, hosts, globs, ~regex, a:&b, a:!b.",
        rich_help_panel="Selection",
    ),
]
LimitOpt = Annotated[
    str | None,
    typer.Option(
        "-l",
        "--limit",
        help="Further limit the selected hosts by pattern.",
        rich_help_panel="Selection",
    ),
]
UserOpt = Annotated[
    str | None,
    typer.Option(
        "-u",
        "--user",
        help="Login user where the inventory sets none.",
        rich_help_panel="Connection",
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "-k",
        "--key",
        help="Private key file where the inventory sets none.",
        rich_help_panel="Connection",
    ),
]
SSHConfigExecOpt = Annotated[
    bool,
    typer.Option(
        "--ssh-config-exec",
        help="Evaluate ssh_config 'Match exec' (runs its command once per host).",
        rich_help_panel="Connection",
    ),
]
SSHConfigOpt = Annotated[
    str,
    typer.Option(
        "--ssh-config",
        help="OpenSSH client config to honour ('none' to ignore it).",
        rich_help_panel="Connection",
    ),
]
