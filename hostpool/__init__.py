"""hostpool: run shell commands on many hosts at once over SSH, on a process pool.

``hostpool.run(hostpool.load_inventory("hosts.ini").select("web"), "uptime")`` returns a
``Report`` with one ``HostResult`` per host; nothing per-host is raised unless asked for.
"""

from __future__ import annotations

import sys

_argv: list[str] = getattr(sys, "orig_argv", [])
if _argv[1:3] == ["-m", "hostpool"] or (len(_argv) > 1 and _argv[1].endswith("/hostpool")):
    # The hostpool command itself, before the rest of it is imported (cli.early).
    try:
        from hostpool.cli import early

        early.start()
    except KeyboardInterrupt:
        sys.stderr.write("hostpool: interrupted\n")
        raise SystemExit(130) from None

import importlib  # noqa: E402  (after the command's first moments)
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
    "PersistentPool": "persist",
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
    from hostpool.persist import PersistentPool
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
    "PersistentPool",
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
