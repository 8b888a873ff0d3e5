"""Parent side: the engine registry behind ``--engine`` (pools other than the local one).

``local`` is ``multiprocessing.Pool``, built by the runner itself.  ``ray`` lives in
``hostpool.ray_pool``, imported only when chosen so that ray stays an optional extra
(``pip install 'hostpool[ray]'``).  Every engine returns ``(pool, events)`` with the
interface the runner uses for the local pool: ``apply_async/close/join/terminate`` and an
events channel with ``put`` for workers, ``empty``/``get`` for the parent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from hostpool.errors import UsageError
from hostpool.models import SSHOptions

ENGINES = ("local", "ray")


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
    engine: str, *, address: str | None = None, resources: Sequence[str] = ()
) -> dict[str, Any]:
    """The CLI's engine flags as ``Runner(engine_options=...)``; rejects flags the engine
    would silently ignore."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine != "ray":
        if address or resources:
            raise UsageError("--ray-address and --ray-resource need --engine ray")
        return {}
    options: dict[str, Any] = {"resources": parse_resources(resources)}
    if address:
        options["address"] = address
    return options


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
    if engine == "ray":
        if _loopback(engine_options.get("address")):
            # Read by ray at import: without it ray swaps "127.0.0.1" for the machine's
            # outward IP, so a local instance listens on every interface and a driver
            # cannot reach a head started with --node-ip-address=127.0.0.1.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            from hostpool import ray_pool
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "ray":
                raise
            raise UsageError(
                "--engine ray needs the ray extra: pip install 'hostpool[ray]'"
            ) from exc
        return ray_pool.make_pool(
            processes=processes,
            initializer=initializer,
            options=options,
            maxtasksperchild=maxtasksperchild,
            engine_options=engine_options,
        )
    if engine == "local":
        raise UsageError("the local engine is the runner's own multiprocessing.Pool")
    raise UsageError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")


def _loopback(address: str | None) -> bool:
    """No address (a local instance) or one on this machine's loopback interface."""
    if not address:
        return True
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host == "localhost" or host == "::1" or host.startswith("127.")
