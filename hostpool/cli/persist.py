"""``--persist DURATION`` on every run command, and ``hostpool pool status|stop``.

A thin layer over ``hostpool.persist``: a run with ``--persist`` goes to the warm pool
whose settings match (started detached when none runs), which stays for DURATION after
the last run that used it.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from hostpool.cli.early import NOT_KEPT
from hostpool.errors import UsageError
from hostpool.output.table import plain_table
from hostpool.persist import PoolStatus, pools, stop

PersistOpt = Annotated[
    str | None,
    typer.Option(
        "--persist",
        envvar="HOSTPOOL_PERSIST",
        metavar="DURATION",
        help="Keep the pool and its connections for DURATION after the run (90s, 10m, 1h); "
        "later runs with the same settings reuse them.  0: not kept.",
        rich_help_panel="Advanced pool",
    ),
]

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | None) -> float | None:
    """Seconds, or None for no persistent pool ('0', 'off', '' or no flag)."""
    if text is None or text.strip().lower() in NOT_KEPT:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None or float(match[1]) <= 0:
        raise UsageError(f"--persist: {text!r} is not a duration like 90s, 10m or 1h")
    return float(match[1]) * _UNITS[match[2]]


pool_app = typer.Typer(
    help="Persistent pools left by --persist: list them, stop them.", no_args_is_help=True
)


def _table(found: list[PoolStatus]) -> str:
    rows = [
        [
            s.name,
            str(s.pid),
            str(s.hosts_connected),
            f"{s.processes}x{-(-s.forks // s.processes)}",
            "running" if s.clients else f"idle {_human(s.idle_for)}",
            _human(s.idle_limit),
            f"{s.memory_kb / 1024:.0f} MiB",
            str(s.runs),
        ]
        for s in found
    ]
    head = ["pool", "pid", "hosts connected", "workers", "state", "idle limit", "memory", "runs"]
    return plain_table(rows, head)


def _human(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.1f}m"
    return f"{seconds:.0f}s"


@pool_app.command("status")
def status_() -> None:
    """List this user's persistent pools: hosts connected, idle time, memory (whole tree)."""
    found = pools()
    if not found:
        typer.echo("no persistent pools")
        return
    typer.echo(_table(found))


@pool_app.command("stop")
def stop_(
    name: Annotated[str | None, typer.Argument(help="The pool to stop (default: all).")] = None,
) -> None:
    """Stop persistent pools now (runs still in flight on them are interrupted)."""
    if name is not None and not re.fullmatch(r"[0-9a-f]{20}", name):
        raise UsageError(f"no persistent pool is named {name!r}")
    stopped = stop(name)
    typer.echo(f"stopped {len(stopped)} pool{'s' if len(stopped) != 1 else ''}")
