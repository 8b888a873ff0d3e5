"""Both sides: the functions the pool pickles by reference, without importing paramiko.

The parent only needs importable names for ``initializer`` and ``apply_async``; pointing
them here keeps paramiko (and its ~100 ms import) out of the parent process, while the
forkserver preloads ``hostpool.worker`` so children pay the import once, not per worker.
"""

from __future__ import annotations

from typing import Any

from hostpool.models import HostResult, SSHOptions, Task


def init_worker(options: SSHOptions, events: Any = None) -> None:
    from hostpool import worker

    worker.init_worker(options, events)


def run_task(task: Task) -> HostResult:
    from hostpool import worker

    return worker.run_task(task)
