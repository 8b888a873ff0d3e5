"""hostpool: run shell commands on many hosts at once over SSH, on a process pool.

``hostpool.run(hostpool.load_inventory("hosts.ini").select("web"), "uptime")`` returns a
``Report`` with one ``HostResult`` per host; nothing per-host is raised unless asked for.
"""

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
from hostpool.models import Connection, HostKeyPolicy, HostResult, SSHOptions, Status, Target, Task
from hostpool.report import ExitCode, Report
from hostpool.runner import Runner, run

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
