"""Both sides: the functions the pool pickles by reference, without importing paramiko.

The parent only needs importable names for ``initializer`` and ``apply_async``; pointing
them here keeps paramiko (and its ~100 ms import) out of the parent process, while the
forkserver preloads ``hostpool.worker.task`` so children pay the import once, not per
worker.
"""

from __future__ import annotations

from hostpool.cancels import CancelBoard
from hostpool.models import Completion, SSHOptions, Task
from hostpool.worker.output import EventSink


def init_worker(
    options: SSHOptions,
    events: EventSink | None = None,
    owner: int | None = None,
    cancels: CancelBoard | None = None,
) -> None:
    from hostpool.worker import task

    task.init_worker(options, events, owner, cancels)


def run_task(task: Task) -> Completion:
    from hostpool.worker import task as worker

    return worker.run_task(task)
