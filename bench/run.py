"""Benchmark hostpool against its peers, side by side, in one run.

    sudo python bench/run.py [--quick] [--tools a,b] [--sizes 10,100,500] [--forks 32,128]
                             [--repeats 3] [--rtt-ms 100] [--rtt-tools hostpool,asyncssh]

The process re-executes itself (with bench/.venv's interpreter, which has psutil and the
peers) inside a private network namespace; see lab.py for why.  hostpool itself runs with
the interpreter that started this script (or $HPBENCH_HOSTPOOL_PYTHON), i.e. the project's.
Everything is bounded: each run has a timeout, the whole matrix has a time budget, and
sshd and the relay are killed by PID at the end; the namespace vanishes with us.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENV_PYTHON = BENCH_DIR / ".venv" / "bin" / "python"
HOSTPOOL_PY_ENV = "HPBENCH_HOSTPOOL_PYTHON"
LOCK_PATH = "/tmp/hpbench.lock"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="N=10,100, F=32, 1 repeat, no RTT mode (unless --rtt-ms is given)",
    )
    ap.add_argument("--tools", help="comma-separated subset (default: all available)")
    ap.add_argument("--sizes", type=_ints, help="host counts (default 10,100,500)")
    ap.add_argument("--forks", type=_ints, help="forks / concurrency (default 32,128)")
    ap.add_argument("--repeats", type=int, help="runs per cell (default 3)")
    ap.add_argument("--rtt-ms", type=float, help="RTT mode round trip, 0 = off (default 100)")
    ap.add_argument("--rtt-tools", default="hostpool,asyncssh", help="tools in RTT mode")
    ap.add_argument("--rtt-sizes", type=_ints, default=[500])
    ap.add_argument("--rtt-forks", type=_ints, default=[32, 128])
    ap.add_argument("--timeout", type=float, default=180, help="seconds per single run")
    ap.add_argument(
        "--budget-min",
        type=float,
        default=40,
        help="stop starting new cells after this many minutes",
    )
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    ap.add_argument("--keep", action="store_true", help="keep the lab temp dir (debugging)")
    ap.add_argument(
        "--keep-shell-rc",
        action="store_true",
        help="do not mask the login user's ~/.bashrc (see lab.mask_shell_rc)",
    )
    args = ap.parse_args(argv)
    args.sizes = args.sizes or ([10, 100] if args.quick else [10, 100, 500])
    args.forks = args.forks or ([32] if args.quick else [32, 128])
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.rtt_ms is None:
        args.rtt_ms = 0.0 if args.quick else 100.0
    return args


def main() -> None:
    # Runs twice: outside the namespace (re-exec) and inside it (the benchmark).
    sys.path.insert(0, str(BENCH_DIR))
    import lab

    if not lab.in_namespace():
        parse_args(sys.argv[1:])  # fail on bad flags before anything else
        if not VENV_PYTHON.exists():
            sys.exit("bench/.venv is missing: run `bash bench/setup.sh` first")
        hp_python = os.environ.get(HOSTPOOL_PY_ENV, sys.executable)
        lab.reexec_in_namespace(
            str(VENV_PYTHON), [__file__, *sys.argv[1:]], {HOSTPOOL_PY_ENV: hp_python}
        )
    from matrix import run_benchmark  # needs psutil: only inside bench/.venv

    # One benchmark at a time on this machine: two would share the cores and skew both.
    lock = open(LOCK_PATH, "w")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"another bench/run.py holds {LOCK_PATH}; wait for it to finish")

    sys.exit(run_benchmark(parse_args(sys.argv[1:]), str(VENV_PYTHON), os.environ[HOSTPOOL_PY_ENV]))


if __name__ == "__main__":
    main()
