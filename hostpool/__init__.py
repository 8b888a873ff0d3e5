"""hostpool: run shell commands on many hosts at once over SSH, on a process pool.

``hostpool.run(hostpool.load_inventory("hosts.ini").select("web"), "uptime")`` returns a
``Report`` with one ``HostResult`` per host; nothing per-host is raised unless asked for.
"""

from __future__ import annotations

import sys


def _is_cli() -> bool:
    argv = getattr(sys, "orig_argv", [])
    return argv[1:3] == ["-m", "hostpool"] or (len(argv) > 1 and argv[1].endswith("/hostpool"))


def _interrupted(signum: int = 0, frame: object = None) -> None:
    sys.stderr.write("hostpool: interrupted\n")
    sys.stderr.flush()
    import os

    os._exit(130)


def _quiet_start_up() -> None:
    """Ctrl-C while the CLI is still importing (typer, click, the library: a few hundred
    milliseconds) ends with one line and 130, not a traceback from whatever import ran.
    Only for the hostpool command itself (``python -m hostpool`` or the console script):
    a program that imports the library keeps its own SIGINT handling.  ``cli.app.main``
    puts Python's handler back once it can handle KeyboardInterrupt."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)


_RUNS = {"exec", "script", "copy", "fetch"}


def _warm_workers() -> None:
    """A run's forkserver starts while the CLI still imports (see ``warm_forkserver``),
    unless the command line picks another start method or engine."""
    args = sys.orig_argv[3:] if sys.orig_argv[1:3] == ["-m", "hostpool"] else sys.orig_argv[2:]
    words = [a for a in args if not a.startswith("-")]
    if not words or words[0] not in _RUNS:
        return
    if any(a.split("=")[0] in ("--start-method", "--engine") for a in args):
        return
    from hostpool.pool.spawning import warm_forkserver

    warm_forkserver()


if _is_cli():
    try:
        _quiet_start_up()
        _warm_workers()
    except KeyboardInterrupt:
        _interrupted()
    except (OSError, ValueError):  # no forkserver now: the Pool starts one (or says why)
        pass

import importlib  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

# Where each public name lives.  Resolved on first use (PEP 562): a pool worker imports
# ``hostpool.worker``, and importing the package must not drag the parent's half
# (inventory, pool, report, tabulate: ~70 ms of CPU) into the forkserver and workers.
_EXPORTS = {
    "describe": "inventory",
    "load": "inventory",
    "select": "inventory",
    "load_inventory": "inventory",
    "HostDefaults": "inventory",
    "Inventory": "inventory",
    "ConfigError": "errors",
    "ExitCode": "errors",
    "HostFailed": "errors",
    "HostFailures": "errors",
    "Interrupted": "errors",
    "HostpoolError": "errors",
    "InventoryError": "errors",
    "PatternError": "errors",
    "PoolError": "errors",
    "UsageError": "errors",
    "Connection": "models",
    "Copy": "models",
    "Exec": "models",
    "Fetch": "models",
    "HostKeyPolicy": "models",
    "HostResult": "models",
    "SSHOptions": "models",
    "Status": "models",
    "Target": "models",
    "Task": "models",
    "Report": "report",
    "Engine": "pool.engines",
    "EngineOptions": "pool.engines",
    "RunPolicy": "pool.ledger",
    "AsyncResult": "pool.results",
    "MapResult": "pool.results",
    "Timing": "pool.ledger",
    "Pool": "pool.pool",
    "Runner": "pool.pool",
    "Batch": "pool.rollout",
    "rollout": "pool.rollout",
    "StartMethod": "pool.pool",
    "run": "pool.pool",
}

if TYPE_CHECKING:
    from hostpool.errors import (
        ConfigError,
        ExitCode,
        HostFailed,
        HostFailures,
        HostpoolError,
        Interrupted,
        InventoryError,
        PatternError,
        PoolError,
        UsageError,
    )
    from hostpool.inventory import HostDefaults, Inventory, describe, load, load_inventory, select
    from hostpool.models import (
        Connection,
        Copy,
        Exec,
        Fetch,
        HostKeyPolicy,
        HostResult,
        SSHOptions,
        Status,
        Target,
        Task,
    )
    from hostpool.pool.engines import Engine, EngineOptions
    from hostpool.pool.ledger import RunPolicy, Timing
    from hostpool.pool.pool import Pool, Runner, StartMethod, run
    from hostpool.pool.results import AsyncResult, MapResult
    from hostpool.pool.rollout import Batch, rollout
    from hostpool.report import Report


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hostpool' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hostpool.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "AsyncResult",
    "Batch",
    "ConfigError",
    "Connection",
    "Copy",
    "Engine",
    "EngineOptions",
    "Exec",
    "ExitCode",
    "Fetch",
    "HostDefaults",
    "HostFailed",
    "HostFailures",
    "HostKeyPolicy",
    "HostResult",
    "HostpoolError",
    "Interrupted",
    "Inventory",
    "InventoryError",
    "MapResult",
    "PatternError",
    "Pool",
    "PoolError",
    "Report",
    "RunPolicy",
    "Runner",
    "SSHOptions",
    "StartMethod",
    "Status",
    "Target",
    "Task",
    "Timing",
    "UsageError",
    "describe",
    "load",
    "load_inventory",
    "rollout",
    "run",
    "select",
]
__version__ = "0.1.0"
