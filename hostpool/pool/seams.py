"""Parent side: what the dispatcher drives (the worker pool) and what its inbox carries.

The protocols are the seam between the one dispatch algorithm and every pool behind it:
``multiprocessing.Pool``'s ``LanePool``, a warm pool's ``AffinityPool`` and ``RayPool``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from hostpool.models import Completion, Event, Task

if TYPE_CHECKING:
    from hostpool.pool.results import Call


class AsyncResultLike(Protocol):
    def ready(self) -> bool: ...


class PoolLike(Protocol):
    """What the dispatcher needs: ``multiprocessing.Pool``, ``LanePool`` and ``RayPool``."""

    def apply_async(
        self,
        func: Callable[[Task], Completion],
        args: tuple[Task],
        *,
        callback: Callable[[Completion], None],
        error_callback: Callable[[BaseException], None],
    ) -> AsyncResultLike: ...

    def close(self) -> None: ...
    def terminate(self) -> None: ...
    def join(self) -> None: ...


class EventSource(Protocol):
    """The parent end of the worker -> parent events channel."""

    def empty(self) -> bool: ...
    def get(self) -> Event: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    seq: int
    attempt: int
    payload: Completion | str  # the completion, or the pool's error text


@dataclasses.dataclass(frozen=True, slots=True)
class Stop:
    """Close (finish the calls, then stop) or terminate (stop now, fill the rest)."""

    terminate: bool
    message: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Cancel:
    """One call ends now (its commands are stopped); the pool and other calls go on."""

    call: Call
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class Wake:
    """Worker events are waiting (``events.Waker``)."""


WAKE = Wake()


class Engine(Protocol):
    """The worker pool the dispatcher drives, built (and rebuilt) by the Pool."""

    pool: PoolLike
    events: EventSource | None

    def close(self, wedged: bool, suspects: set[int]) -> None: ...
    def terminate(self, suspects: set[int]) -> None: ...
    def troubled(self) -> str: ...
    def pids(self) -> list[int]:
        """The worker processes running now (none known for Ray actors)."""

    def cancel(self, lo: int, hi: int) -> None:
        """Stop seqs ``lo <= seq < hi`` in the workers, where the engine can."""
