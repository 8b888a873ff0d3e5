"""Parent side: the engine registry behind ``--engine`` (pools other than the local one).

``local`` is ``multiprocessing.Pool``, built by ``hostpool.pool.Pool`` itself.  ``ray`` lives in
``hostpool.pool.ray_*``, imported only when chosen so that ray stays an optional extra
(``pip install 'hostpool[ray]'``).  Every engine returns ``(pool, events)`` with the
interface the runner uses for the local pool: ``apply_async/close/join/terminate`` and an
events channel with ``put`` for workers, ``empty``/``get`` for the parent.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hostpool.errors import UsageError
from hostpool.models import SSHOptions

if TYPE_CHECKING:
    from hostpool.pool.seams import EventSource, PoolLike
    from hostpool.worker.output import EventSink


class Engine(enum.StrEnum):
    LOCAL = "local"
    RAY = "ray"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Settings of engines other than the local Pool (Ray: cluster address, placement)."""

    address: str | None = None
    resources: tuple[tuple[str, float], ...] = ()  # each worker asks for these
    num_cpus: int | None = None  # a local Ray instance's size
    object_store_memory: int | None = None


def parse_resources(pairs: Sequence[str]) -> dict[str, float]:
    """``["seg_b=1", "gpu=0.5"]`` -> ``{"seg_b": 1.0, "gpu": 0.5}`` (Ray custom resources)."""
    resources: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        try:
            amount = float(value) if sep else 1.0
        except ValueError:
            amount = -1.0
        if not name or amount <= 0:
            raise UsageError(f"resource must be NAME=AMOUNT with AMOUNT > 0, not {pair!r}")
        resources[name] = amount
    return resources


def engine_options(
    engine: Engine, *, address: str | None = None, resources: Sequence[str] = ()
) -> EngineOptions:
    """The CLI's engine flags; rejects flags the engine would silently ignore."""
    if engine is not Engine.RAY:
        if address or resources:
            raise UsageError("--ray-address and --ray-resource need --engine ray")
        return EngineOptions()
    return EngineOptions(address=address, resources=tuple(parse_resources(resources).items()))


def make_pool(
    engine: Engine,
    *,
    processes: int,
    initializer: Callable[[SSHOptions, EventSink | None], None],
    options: SSHOptions,
    maxtasksperchild: int | None,
    engine_options: EngineOptions,
) -> tuple[PoolLike, EventSource]:
    """Return ``(pool, events)`` with the interface the dispatcher uses for the local pool."""
    if engine is Engine.RAY:
        if _loopback(engine_options.address):
            # Read by ray at import: without it ray swaps "127.0.0.1" for the machine's
            # outward IP, so a local instance listens on every interface and a driver
            # cannot reach a head started with --node-ip-address=127.0.0.1.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            from hostpool.pool import ray_cluster
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "ray":
                raise
            raise UsageError(
                "--engine ray needs the ray extra: pip install 'hostpool[ray]'"
            ) from exc
        return ray_cluster.make_pool(
            processes=processes,
            initializer=initializer,
            options=options,
            maxtasksperchild=maxtasksperchild,
            engine_options=engine_options,
        )
    raise UsageError("the local engine is hostpool.pool.Pool's own multiprocessing.Pool")


def _loopback(address: str | None) -> bool:
    """No address (a local instance) or one on this machine's loopback interface."""
    if not address:
        return True
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host == "localhost" or host == "::1" or host.startswith("127.")
