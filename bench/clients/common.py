"""Shared command line and output format of the library-based peer clients.

Each client prints one JSON object per host on stdout
(``{"host": ..., "exit": int|null, "stdout": str, "error": str|null}``); the harness's
validity check then needs one parser for all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--hosts-file", type=Path, required=True)
    ap.add_argument("--forks", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--user", default="root")
    ap.add_argument("--port", type=int, default=22)
    ap.add_argument("--timeout", type=float, default=120, help="per-host connect timeout")
    ap.add_argument("command")
    return ap.parse_args()


def read_hosts(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def emit(host: str, exit_code: int | None, stdout: str, error: str | None = None) -> None:
    rec = {"host": host, "exit": exit_code, "stdout": stdout, "error": error}
    sys.stdout.write(json.dumps(rec) + "\n")
