"""Ray specifics: a loopback-only node, resource pinning, the RayPool adapter itself.

The scenarios every engine shares run in ``tests/ssh/test_engines.py`` (their Ray cases
carry the ``ray`` marker too).
"""

from __future__ import annotations

import operator

import pytest

from hostpool.errors import UsageError
from hostpool.pool.engines import EngineOptions
from tests.conftest import SEGMENT
from tests.ssh.test_engines import run
from tests.sshd import SSHLab


@pytest.mark.ray
def test_ray_node_is_loopback_only(ray_session: None) -> None:
    import ray

    assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {"127.0.0.1"}


@pytest.mark.ray
def test_ray_resource_pins_workers(ssh_lab: SSHLab, ray_session: None) -> None:
    report = run(
        ssh_lab.targets(2),
        "true",
        "ray",
        options=ssh_lab.options(),
        engine_options=EngineOptions(resources=((SEGMENT, 1.0),)),
    )
    assert report.exit_code() == 0


@pytest.mark.ray
def test_ray_resource_nobody_offers_fails_fast(ssh_lab: SSHLab, ray_session: None) -> None:
    with pytest.raises(UsageError, match="no live ray node offers resource seg_nowhere=1"):
        run(
            ssh_lab.targets(1),
            "true",
            "ray",
            options=ssh_lab.options(),
            engine_options=EngineOptions(resources=(("seg_nowhere", 1.0),)),
        )


@pytest.mark.ray
def test_ray_pool_reports_task_exceptions(ray_session: None) -> None:
    from hostpool.pool.ray_pool import RayPool

    errors: list[BaseException] = []
    pool = RayPool(1)
    try:
        ok = pool.apply_async(operator.add, (1, 2))
        bad = pool.apply_async(operator.truediv, (1, 0), error_callback=errors.append)
        assert ok.get(timeout=60) == 3
        with pytest.raises(ZeroDivisionError):
            bad.get(timeout=60)
    finally:
        pool.close()
        pool.join()
    assert [type(e) for e in errors] == [ZeroDivisionError]


@pytest.mark.ray
def test_ray_pool_gives_up_when_the_initializer_fails(ray_session: None) -> None:
    from hostpool.pool.ray_pool import RayPool, WorkerDied

    pool = RayPool(1, initializer=operator.truediv, initargs=(1, 0))
    try:
        result = pool.apply_async(operator.add, (1, 2))
        with pytest.raises(WorkerDied, match="cannot start a ray worker"):
            result.get(timeout=120)
    finally:
        pool.terminate()
        pool.join()
