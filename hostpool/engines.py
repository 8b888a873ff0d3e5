"""Parent side: pools other than the local ``multiprocessing.Pool`` (selected by ``--engine``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hostpool.errors import UsageError
from hostpool.models import SSHOptions

ENGINES = ("local",)


def make_pool(
    engine: str,
    *,
    processes: int,
    initializer: Callable[..., None],
    options: SSHOptions,
    maxtasksperchild: int | None,
    engine_options: dict[str, Any],
) -> tuple[Any, Any]:
    """Return ``(pool, events)`` with the same interface the runner uses for the local pool."""
    raise UsageError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
