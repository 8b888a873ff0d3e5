"""Parent side: what spawn and forkserver children are told to import, namely nothing of
``__main__``.

Under spawn and forkserver, multiprocessing makes every child (and the forkserver) import
the parent's main script again as ``__mp_main__``.  A user script without an
``if __name__ == "__main__":`` guard then runs again in every worker, starts a Pool
there, and floods the terminal with bootstrapping errors while every host comes back
"task lost".  hostpool's workers never need the main module (the initializer and the
task function are hostpool's own, per-host commands are resolved in the parent), so while
hostpool itself starts a process, the preparation data simply leaves the main module out.
Other processes the script starts are untouched.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import multiprocessing.spawn as spawn
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.context import BaseContext, ForkServerProcess, SpawnProcess
from multiprocessing.process import BaseProcess

_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")
# Modules the forkserver imports once, so each forked worker starts with paramiko loaded.
FORKSERVER_PRELOAD = ["hostpool.worker.task", "hostpool.worker.lanes"]
_local = threading.local()
_installed: list[Callable[[str], dict[str, object]]] = []


def _install() -> None:
    if _installed:
        return
    original = spawn.get_preparation_data
    _installed.append(original)

    def preparation_data(name: str) -> dict[str, object]:
        data: dict[str, object] = original(name)
        if getattr(_local, "sparing", False):
            for key in _MAIN_KEYS:
                data.pop(key, None)
        return data

    spawn.get_preparation_data = preparation_data


@contextmanager
def sparing_main() -> Iterator[None]:
    """Around ``Process.start`` (and the forkserver's start) on this thread."""
    _install()
    before = getattr(_local, "sparing", False)
    _local.sparing = True
    try:
        yield
    finally:
        _local.sparing = before


class SparedSpawnProcess(SpawnProcess):
    def start(self) -> None:
        with sparing_main():
            super().start()


class SparedForkServerProcess(ForkServerProcess):
    def start(self) -> None:
        with sparing_main():
            super().start()


def process_class(ctx: BaseContext) -> type[BaseProcess]:
    """The context's Process class, sparing ``__main__`` where children would import it.
    Module-level classes: spawn pickles the process object, class by reference."""
    method = ctx.get_start_method()
    if method == "spawn":
        return SparedSpawnProcess
    if method == "forkserver":
        return SparedForkServerProcess
    return ctx.Process  # type: ignore[attr-defined,no-any-return]


def warm_forkserver() -> None:
    """Start the forkserver now: its imports (paramiko, about 0.3 s here) then overlap
    the CLI's own (typer, the library), on another core.  The Pool later finds it
    running; a run that ends before needing it just leaves it to exit with us."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
    with sparing_main():
        multiprocessing.forkserver.ensure_running()
