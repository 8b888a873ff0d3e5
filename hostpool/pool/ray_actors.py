"""Child side of the Ray engine: the actor that is one pool worker, and the events box.

The actor runs the same ``init_worker`` and ``run_task`` as a local pool worker; the box
holds worker events until the parent drains them in one round trip.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import RayError

from hostpool.errors import PoolError


class Worker:
    """One Ray actor = one pool worker process: the initializer runs once, in ``__init__``."""

    def __init__(self, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
        if initializer is not None:
            initializer(*initargs)

    def where(self) -> tuple[int, str]:
        """PID and node, so terminate can signal a busy actor the way Pool would."""
        return os.getpid(), ray.get_runtime_context().get_node_id()

    def run(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwds: dict[str, Any]
    ) -> tuple[bool, Any]:
        """Never raises: an exception travels back as data for the error_callback."""
        try:
            return True, func(*args, **kwds)
        except Exception as exc:
            return False, _portable(exc)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError naming it."""
    try:
        if type(pickle.loads(pickle.dumps(exc))) is type(exc):
            return exc
    except Exception:
        pass
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def signal_pid(pid: int, signals: tuple[int, ...]) -> None:
    for sig in signals:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class EventBox:
    """Actor holding worker events until the parent drains them in one batch."""

    def __init__(self) -> None:
        self._items: list[Any] = []

    def put(self, obj: Any) -> None:
        self._items.append(obj)

    def drain(self) -> list[Any]:
        items, self._items = self._items, []
        return items


class RayEvents:
    """Worker -> parent channel with the two faces the runner and workers expect.

    Workers call ``put`` (synchronous, so a ``start`` event has landed before the task
    can kill its own worker); the parent calls ``empty``/``get``, which drain the box in
    one round trip and then serve from a local buffer.
    """

    def __init__(self, box: Any) -> None:
        self._box = box
        self._buffer: collections.deque[Any] = collections.deque()

    def __getstate__(self) -> dict[str, Any]:
        return {"box": self._box}  # the parent's buffer stays with the parent

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._box = state["box"]
        self._buffer = collections.deque()

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        ray.get(self._box.put.remote(obj), timeout=timeout)

    def empty(self) -> bool:
        if not self._buffer:
            try:
                self._buffer.extend(ray.get(self._box.drain.remote()))
            except RayError as exc:
                raise PoolError(f"ray events channel lost: {summary(exc)}") from exc
        return not self._buffer

    def get(self) -> Any:
        if self.empty():
            raise EOFError("no event waiting")
        return self._buffer.popleft()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            ray.kill(self._box)


def summary(exc: BaseException) -> str:
    """Ray's messages run to many lines; the first non-empty one says what happened."""
    for line in str(exc).splitlines():
        if line.strip():
            return f"{type(exc).__name__}: {line.strip()}"
    return type(exc).__name__
