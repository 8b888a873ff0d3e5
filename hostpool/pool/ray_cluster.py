"""Parent side of the Ray engine: joining or starting a cluster, and building the pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray

from hostpool.errors import PoolError, UsageError
from hostpool.models import SSHOptions
from hostpool.pool.engines import EngineOptions
from hostpool.pool.ray_actors import EventBox, RayEvents
from hostpool.pool.ray_pool import RayPool
from hostpool.worker.output import EventSink

DEFAULT_LOCAL_CPUS = 2
DEFAULT_OBJECT_STORE = 200 * 1024 * 1024


def connect(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
) -> None:
    """Join ``address``, or start a small loopback-only local instance; no-op if connected.

    A Ray instance this starts lives until the process exits (Ray's atexit hook), so
    several runs in one process share it.  The local instance binds 127.0.0.1 only when
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` was set before ray was imported, which
    ``hostpool.engines`` does for no address or a loopback one.
    """
    if ray.is_initialized():
        return
    # log_to_driver off: worker output would land on our stdout (and break -o json).
    common: dict[str, Any] = {"log_to_driver": False, "logging_level": "warning"}
    try:
        if address:
            ray.init(address=address, **common)
        else:
            ray.init(
                address="local",
                include_dashboard=False,
                num_cpus=num_cpus or DEFAULT_LOCAL_CPUS,
                object_store_memory=object_store_memory or DEFAULT_OBJECT_STORE,
                _node_ip_address="127.0.0.1",
                **common,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise PoolError(f"cannot start or reach ray ({address or 'local'}): {exc}") from exc


def check_resources(resources: dict[str, float]) -> None:
    """Fail fast: an actor asking for a resource no node has would wait forever."""
    if not resources:
        return
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    for name, amount in resources.items():
        if not any(node.get(name, 0) >= amount for node in nodes):
            raise UsageError(f"no live ray node offers resource {name}={amount:g}")


def make_pool(
    *,
    processes: int,
    initializer: Callable[[SSHOptions, EventSink | None], None],
    options: SSHOptions,
    maxtasksperchild: int | None,
    engine_options: EngineOptions,
) -> tuple[RayPool, RayEvents]:
    """``(pool, events)`` for the dispatcher; ``initializer(options, events)`` runs per actor."""
    connect(
        engine_options.address,
        num_cpus=engine_options.num_cpus,
        object_store_memory=engine_options.object_store_memory,
    )
    resources = dict(engine_options.resources)
    check_resources(resources)
    box = ray.remote(EventBox).options(num_cpus=0).remote()
    events = RayEvents(box)
    pool = RayPool(
        processes,
        initializer=initializer,
        initargs=(options, events),
        maxtasksperchild=maxtasksperchild,
        resources=resources,
    )
    return pool, events
