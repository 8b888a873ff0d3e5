"""Child side: how lane workers are scheduled, and how the commands they start are not.

A lane worker's threads share one GIL, so the worker pins itself to one CPU and runs
under ``SCHED_BATCH`` (see ``lanes``).  Both are inherited by whatever a thread starts,
so a local command (``connection=local`` or ``docker``) started from a lane gets the
worker's original CPUs and policy back: ``make -j8`` must not run on one core.
Linux only; elsewhere, or if refused, nothing changes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# (CPUs, policy, priority) this process had before confine(); None while unchanged.
_Setting = tuple[set[int], int, int]
_original: _Setting | None = None


def confine(cpu_index: int | None) -> None:
    """Pin this worker to one of its allowed CPUs (``cpu_index``, wrapped) and
    batch-schedule it; ``None`` batch-schedules only.

    Pinned: its threads never run in parallel anyway, and spread over CPUs every GIL
    hand-off and every paramiko event between a lane and its transport thread is a
    cross-CPU wake-up (4 workers x 8 lanes on 2 cores: 13-20% less CPU per connection).
    Batch: under the normal policy each such wake-up preempts the running thread, which
    soon blocks on the GIL again; a batch thread waits for the CPU instead (2 workers x
    16 lanes: 36% fewer context switches, 5-7% less CPU per connection; with it one
    worker of 32 lanes beat two of 16 by 10% CPU and 5% wall at 500 hosts).
    Call before starting threads: they inherit both.
    """
    global _original
    getaffinity = getattr(os, "sched_getaffinity", None)
    batch = getattr(os, "SCHED_BATCH", None)
    if getaffinity is None or batch is None:
        return
    try:
        _original = _current()
    except OSError:
        return
    allowed = sorted(_original[0])
    with contextlib.suppress(OSError):
        if cpu_index is not None and len(allowed) > 1:
            os.sched_setaffinity(0, {allowed[cpu_index % len(allowed)]})
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, batch, os.sched_param(0))


@contextlib.contextmanager
def unconfined() -> Iterator[None]:
    """Around starting a process from a lane: the child inherits the original CPUs and
    policy.  Affinity and policy are per thread on Linux, so other lanes are untouched."""
    original = _original
    if original is None:
        yield
        return
    mine = _current()
    _apply(original)
    try:
        yield
    finally:
        _apply(mine)


def _current() -> _Setting:
    return (
        set(os.sched_getaffinity(0)),
        os.sched_getscheduler(0),
        os.sched_getparam(0).sched_priority,
    )


def _apply(setting: _Setting) -> None:
    cpus, policy, priority = setting
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, cpus)
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, policy, os.sched_param(priority))
