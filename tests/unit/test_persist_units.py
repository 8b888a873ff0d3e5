"""Pure parts of the warm fleet: durations, the cancel board, routing, the runtime dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hostpool.cancels import SLOTS, CancelBoard
from hostpool.cli.persist import parse_duration
from hostpool.errors import ConfigError, UsageError
from hostpool.models import SSHOptions, Target, Task
from hostpool.persist import runtime
from hostpool.persist.protocol import Spec, shareable
from hostpool.pool.affinity import AffinityPool


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0), ("1d", 86400.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [None, "", "0", "off"])
def test_no_persistence(text: str | None) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize("text", ["10x", "-5", "m", "1e3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_cancel_board_ranges_and_their_reuse() -> None:
    board = CancelBoard()
    assert not board.covers(5)
    board.add(3, 7)
    assert board.covers(3) and board.covers(6) and not board.covers(7)
    for i in range(SLOTS):  # the oldest range is overwritten, the newest remain
        board.add(1000 + 10 * i, 1005 + 10 * i)
    assert not board.covers(4)
    assert board.covers(1000 + 10 * (SLOTS - 1))


class _Shard:
    def __init__(self) -> None:
        self.hosts: list[str] = []
        self._pool: list[Any] = []

    def apply_async(self, func: Any, args: tuple[Task], **kw: Any) -> None:
        self.hosts.append(args[0].target.name)


def test_affinity_keeps_each_host_on_one_process_and_spreads_new_ones() -> None:
    shards = [_Shard(), _Shard()]
    pool = AffinityPool(shards)  # type: ignore[arg-type]
    targets = [Target(f"h{i}", f"10.0.0.{i}") for i in range(6)]
    for _ in range(3):
        for target in targets:
            pool.apply_async(
                print,
                (Task(target, "x"),),
                callback=print,
                error_callback=print,  # type: ignore[arg-type]
            )
    first, second = (set(s.hosts) for s in shards)
    assert len(first) == len(second) == 3 and not first & second
    assert all(s.hosts.count(h) == 3 for s in shards for h in set(s.hosts))


def test_per_run_options_are_not_part_of_a_pools_settings() -> None:
    a = Spec(shareable(SSHOptions(command_timeout=5, env=(("A", "1"),))), forks=8)
    b = Spec(shareable(SSHOptions(command_timeout=60)), forks=8)
    c = Spec(shareable(SSHOptions(connect_timeout=3)), forks=8)
    assert a.settings() == b.settings() != c.settings()


def test_pool_names_are_keyed_by_a_private_salt(tmp_path: Path) -> None:
    where = tmp_path / "rt"
    where.mkdir(mode=0o700)
    name = runtime.pool_name(b"settings", where)
    assert name == runtime.pool_name(b"settings", where) != runtime.pool_name(b"other", where)
    assert (where / "salt").stat().st_mode & 0o777 == 0o600
    other = tmp_path / "rt2"
    other.mkdir(mode=0o700)
    assert runtime.pool_name(b"settings", other) != name


def test_a_shared_runtime_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = tmp_path / "rt"
    where.mkdir()
    os.chmod(where, 0o755)
    monkeypatch.setenv("HOSTPOOL_RUNTIME_DIR", str(where))
    with pytest.raises(ConfigError, match="0700"):
        runtime.runtime_dir()
    os.chmod(where, 0o700)
    assert runtime.runtime_dir() == where
