"""The console entry point's treatment of ``__main__`` (no processes started)."""

from __future__ import annotations

import sys

import pytest


def test_console_script_is_not_rerun_in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # What spawn/forkserver workers are told to rebuild as __mp_main__: for the console
    # script (a module whose `main` is the CLI's), nothing.
    import multiprocessing.spawn
    import types

    from hostpool.cli import app as cli

    script = types.ModuleType("__main__")
    script.__file__ = "/usr/bin/hostpool"
    script.main = cli.main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert "init_main_from_path" in multiprocessing.spawn.get_preparation_data("w")
    cli._spare_workers_the_main_script()
    prep = multiprocessing.spawn.get_preparation_data("w")
    assert "init_main_from_path" not in prep
    assert prep["init_main_from_name"] == "hostpool.__main__"


def test_other_main_scripts_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from hostpool.cli import app as cli

    script = types.ModuleType("__main__")
    script.__file__ = "/home/me/deploy.py"
    monkeypatch.setitem(sys.modules, "__main__", script)
    cli._spare_workers_the_main_script()
    assert script.__spec__ is None
