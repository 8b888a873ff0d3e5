"""Parent side: remembering which hosts did not succeed, for ``--limit @failed``.

The record lives in ``.hostpool/last-run.json`` under the current directory (or in
``$HOSTPOOL_STATE_DIR``), is replaced atomically after every run, and holds only names,
statuses and the command line: never output and never credentials.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from hostpool.errors import ConfigError
from hostpool.models import Target
from hostpool.output.files import write_atomic
from hostpool.report import Report

FAILED_ALIAS = "@failed"
FILE_NAME = "last-run.json"


def state_path() -> Path:
    base = os.environ.get("HOSTPOOL_STATE_DIR")
    directory = Path(base) if base else Path.cwd() / ".hostpool"
    return directory / FILE_NAME


def record(
    report: Report,
    *,
    inventory: str,
    pattern: str,
    limit: str | None,
    kind: str = "exec",
    path: Path | None = None,
) -> Path:
    """Write the run's outcome; returns where it went."""
    path = path or state_path()
    inv = Path(inventory)
    data = {
        "version": 1,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(report.started_at)),
        "inventory": str(inv.resolve()) if inv.exists() else inventory,
        "pattern": pattern,
        "limit": limit,
        "kind": kind,
        "command": report.command,
        "exit_code": report.exit_code(),
        "hosts": {
            r.host: {"status": r.status.value, "exit_code": r.exit_code, "attempts": r.attempts}
            for r in report.results
        },
        "failed": [r.host for r in report.failed],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())
    return path


def failed_hosts(path: Path | None = None) -> list[str]:
    """Hosts the last run did not finish successfully; a config error when there are none."""
    path = path or state_path()
    try:
        data = json.loads(path.read_text())
        failed = data["failed"]
    except FileNotFoundError:
        raise ConfigError(f"no previous run recorded at {path}; nothing to rerun") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the last run from {path}: {exc}") from None
    if not isinstance(failed, list) or not all(isinstance(h, str) for h in failed):
        raise ConfigError(f"{path}: 'failed' is not a list of host names")
    if not failed:
        raise ConfigError(f"the last run ({path}) had no failed hosts; nothing to rerun")
    return failed


def only_failed(targets: Sequence[Target], path: Path | None = None) -> list[Target]:
    """The selected targets that failed last time (selection order kept)."""
    failed = set(failed_hosts(path))
    chosen = [t for t in targets if t.name in failed]
    if not chosen:
        raise ConfigError("none of the hosts that failed in the last run are selected")
    return chosen
