"""The hostpool command's first moments, run from the package's first lines.

Two things cannot wait for the CLI's imports (typer, click, the library: a few hundred
milliseconds).  A Ctrl-C in that window used to print a traceback from whatever import
was running: it now ends with one line and 130 (``cli.app.main`` puts Python's handler
back once it can handle KeyboardInterrupt).  And a run's forkserver, whose own imports
(paramiko) take about 0.3 s, starts now on the other core instead of after them.  Only
the hostpool command gets this; a program that imports the library keeps its SIGINT.
"""

from __future__ import annotations

import os
import signal
import sys

RUNS = {"exec", "script", "copy", "fetch"}
NOT_KEPT = ("", "0", "off", "no", "false")  # --persist values that keep no pool


def interrupted(signum: int = 0, frame: object = None) -> None:
    sys.stderr.write("hostpool: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


def start() -> None:
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, interrupted)
        _warm_workers()
    except KeyboardInterrupt:
        interrupted()
    except (OSError, ValueError):  # no forkserver now: the Pool starts one (or says why)
        pass


def _warm_workers() -> None:
    """Unless the command line picks another start method or engine."""
    argv = sys.orig_argv
    args = argv[3:] if argv[1:3] == ["-m", "hostpool"] else argv[2:]
    words = [a for a in args if not a.startswith("-")]
    if not words or words[0] not in RUNS:
        return
    if any(a.split("=")[0] in ("--start-method", "--engine") for a in args):
        return
    if _persisting(args):  # a warm pool runs it: no local workers
        return
    from hostpool.pool.spawning import warm_forkserver

    warm_forkserver()


def _persisting(args: list[str]) -> bool:
    value = os.environ.get("HOSTPOOL_PERSIST", "")
    for i, arg in enumerate(args):
        if arg == "--persist" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--persist="):
            value = arg.partition("=")[2]
    return value.strip().lower() not in NOT_KEPT
