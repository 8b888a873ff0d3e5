"""Workers are never told to import the parent's main script (no processes started here).

The script without a ``__main__`` guard, run for real under every start method, is in
``tests/ssh/test_pool_api.py``.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import sys
import types

import pytest

from hostpool.pool.spawning import SparedSpawnProcess, process_class, sparing_main


def test_preparation_data_leaves_main_out_only_while_hostpool_starts_a_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = types.ModuleType("__main__")
    script.__file__ = "/home/me/deploy.py"
    monkeypatch.setitem(sys.modules, "__main__", script)
    with sparing_main():
        spared = multiprocessing.spawn.get_preparation_data("w")
    assert "init_main_from_path" not in spared and "init_main_from_name" not in spared
    assert "sys_path" in spared
    assert "init_main_from_path" in multiprocessing.spawn.get_preparation_data("w")


def test_spawn_and_forkserver_children_get_the_sparing_process_class() -> None:
    assert process_class(multiprocessing.get_context("spawn")) is SparedSpawnProcess
    fork = multiprocessing.get_context("fork")
    assert process_class(fork) is fork.Process
