"""hostpool: run shell commands on many hosts at once over SSH, on a process pool.

``hostpool.run(hostpool.load_inventory("hosts.ini").select("web"), "uptime")`` returns a
``Report`` with one ``HostResult`` per host; nothing per-host is raised unless asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Where each public name lives.  Resolved on first use (PEP 562): a pool worker imports
# ``hostpool.worker``, and importing the package must not drag the parent's half
# (inventory, runner, report, tabulate: ~70 ms of CPU) into the forkserver and workers.
_EXPORTS = {
    "describe": "api",
    "load": "api",
    "select": "api",
    "ConfigError": "errors",
    "HostFailures": "errors",
    "HostpoolError": "errors",
    "InventoryError": "errors",
    "PatternError": "errors",
    "UsageError": "errors",
    "HostDefaults": "inventory",
    "Inventory": "inventory",
    "load_inventory": "inventory",
    "Connection": "models",
    "HostKeyPolicy": "models",
    "HostResult": "models",
    "SSHOptions": "models",
    "Status": "models",
    "Target": "models",
    "Task": "models",
    "ExitCode": "report",
    "Report": "report",
    "Runner": "runner",
    "run": "runner",
}

if TYPE_CHECKING:
    from hostpool.api import describe, load, select
    from hostpool.errors import (
        ConfigError,
        HostFailures,
        HostpoolError,
        InventoryError,
        PatternError,
        UsageError,
    )
    from hostpool.inventory import HostDefaults, Inventory, load_inventory
    from hostpool.models import (
        Connection,
        HostKeyPolicy,
        HostResult,
        SSHOptions,
        Status,
        Target,
        Task,
    )
    from hostpool.report import ExitCode, Report
    from hostpool.runner import Runner, run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hostpool' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hostpool.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "ConfigError",
    "Connection",
    "ExitCode",
    "HostDefaults",
    "HostFailures",
    "HostKeyPolicy",
    "HostResult",
    "HostpoolError",
    "Inventory",
    "InventoryError",
    "PatternError",
    "Report",
    "Runner",
    "SSHOptions",
    "Status",
    "Target",
    "Task",
    "UsageError",
    "describe",
    "load",
    "load_inventory",
    "run",
    "select",
]
__version__ = "0.1.0"
