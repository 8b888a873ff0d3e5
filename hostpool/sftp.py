"""Child side: file transfer over the worker's SSH connection (copy / fetch)."""

from __future__ import annotations

from typing import Any

from hostpool.models import HostResult, Status, Task


def run_transfer(transport: Any, task: Task, new_key: tuple[str, str, str] | None) -> HostResult:
    return HostResult(
        host=task.target.name,
        status=Status.ERROR,
        error=f"transfer kind {task.kind!r} is not supported",
        new_host_key=new_key,
    )
