"""Engine and Pool arguments are checked before any process starts."""

from __future__ import annotations

import pytest

import hostpool
from hostpool.errors import UsageError
from hostpool.pool import engines
from hostpool.pool.engines import Engine, EngineOptions
from hostpool.pool.pool import Pool
from hostpool.pool.workers import Shape
from tests.procs import local


def test_parse_resources() -> None:
    assert engines.parse_resources(["seg_b=1", "gpu=0.5", "x"]) == {
        "seg_b": 1.0,
        "gpu": 0.5,
        "x": 1.0,
    }
    for bad in ("=1", "seg=0", "seg=-1", "seg=many"):
        with pytest.raises(UsageError):
            engines.parse_resources([bad])


def test_engine_options_reject_ray_flags_without_ray() -> None:
    assert engines.engine_options(Engine.LOCAL) == EngineOptions()
    got = engines.engine_options(Engine.RAY, address="10.0.0.1:6379", resources=["s=1"])
    assert got == EngineOptions(address="10.0.0.1:6379", resources=(("s", 1.0),))
    with pytest.raises(UsageError, match="need --engine ray"):
        engines.engine_options(Engine.LOCAL, resources=["s=1"])


def test_unknown_engine_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown engine"):
        hostpool.run([local("x")], "true", engine="dask")  # type: ignore[arg-type]


def test_pool_sizes_are_validated_before_anything_starts() -> None:
    with pytest.raises(UsageError, match="forks"):
        Pool(forks=0)
    with pytest.raises(UsageError, match="processes"):
        Pool(processes=0)
    with pytest.raises(UsageError, match="unknown start method"):
        Pool(context="threads")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("forks", "processes", "engine", "shape"),
    [
        (32, 2, Engine.LOCAL, (2, 16)),
        (128, 2, Engine.LOCAL, (2, 64)),
        (1, 2, Engine.LOCAL, (1, 1)),
        (5, 2, Engine.LOCAL, (2, 3)),
        (32, 32, Engine.LOCAL, (32, 1)),
        (8, 2, Engine.RAY, (8, 1)),
    ],
)
def test_forks_are_hosts_in_flight_spread_over_processes(
    forks: int, processes: int, engine: Engine, shape: tuple[int, int]
) -> None:
    got = Shape.of(forks, processes, engine)
    assert (got.processes, got.lanes) == shape
    assert got.in_flight >= forks
