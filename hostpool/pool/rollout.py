"""Parent side: rolling execution, Ansible's ``serial``: one batch after another.

A batch is N hosts or a percentage of them; after each batch, more than
``max_fail_percent`` of its hosts failing stops the rollout, and the hosts of the batches
never started are accounted for as ``interrupted`` ("not run").  Every batch runs on the
same warm Pool, so connections made for one serve the next.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hostpool.errors import Interrupted, UsageError
from hostpool.models import HostResult, Status, Target
from hostpool.pool.ledger import RunPolicy
from hostpool.pool.pool import ActionLike, LineHandler, ResultHandler, label_of
from hostpool.report import Report


class Mapper(Protocol):
    """What a rollout runs its batches on: a ``Pool`` or a ``PersistentPool``."""

    def map(
        self,
        action: ActionLike,
        targets: Sequence[Target],
        *,
        policy: RunPolicy = ...,
        on_result: ResultHandler | None = None,
        on_line: LineHandler | None = None,
    ) -> Report: ...


@dataclass(frozen=True, slots=True)
class Batch:
    """``--batch 5`` or ``--batch 20%``."""

    size: int = 0
    percent: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Batch:
        try:
            if text.endswith("%"):
                percent = float(text[:-1])
                if 0 < percent <= 100:
                    return cls(percent=percent)
            elif int(text) > 0:
                return cls(size=int(text))
        except ValueError:
            pass
        raise UsageError(f"--batch expects a number of hosts or a percentage, not {text!r}")

    def split(self, targets: Sequence[Target]) -> list[list[Target]]:
        size = self.size or max(1, math.ceil(len(targets) * self.percent / 100))
        return [list(targets[i : i + size]) for i in range(0, len(targets), size)]


def rollout(
    pool: Mapper,
    action: ActionLike,
    targets: Sequence[Target],
    batch: Batch,
    *,
    max_fail_percent: float | None = None,
    policy: RunPolicy = RunPolicy(),
    on_result: ResultHandler | None = None,
    on_line: LineHandler | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> Report:
    """Run ``action`` batch by batch; one Report over every target, in target order."""
    started, t0 = time.time(), time.monotonic()
    batches = batch.split(targets)
    results: dict[str, HostResult] = {}
    stopped = interrupted = False
    reason = ""
    for index, hosts in enumerate(batches, 1):
        if on_batch is not None:
            on_batch(index, len(batches))
        try:
            report = pool.map(action, hosts, policy=policy, on_result=on_result, on_line=on_line)
        except Interrupted as stop:
            report, interrupted = stop.report, True
        results.update((r.host, r) for r in report)
        failed = len(report.failed)
        if interrupted or report.stopped_early:
            stopped = report.stopped_early
            reason = "the rollout was interrupted" if interrupted else "stopped early"
            break
        if max_fail_percent is not None and failed * 100 > max_fail_percent * len(hosts):
            stopped = True
            reason = (
                f"rollout stopped after batch {index}/{len(batches)}: {failed} of {len(hosts)} "
                f"failed, more than {max_fail_percent:g}%"
            )
            break
    for target in targets:
        if target.name not in results:
            results[target.name] = HostResult(
                host=target.name, status=Status.INTERRUPTED, error=f"not run: {reason}"
            )
    merged = Report(
        results=tuple(results[t.name] for t in targets),
        command=label_of(action),
        duration=time.monotonic() - t0,
        started_at=started,
        interrupted=interrupted,
        stopped_early=stopped,
    )
    if interrupted:
        raise Interrupted(merged)
    return merged
