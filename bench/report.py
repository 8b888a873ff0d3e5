"""Turn per-run records into per-cell figures, ratios, a markdown report and JSON.

A cell is (mode, N, F, tool).  Its figures are medians over its valid repeats, and a
cell with *any* invalid or timed-out repeat shows that status instead of numbers: a
figure only counts if every host ran the command in every repeat.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

HOSTPOOL, BASELINE = "hostpool", "asyncssh"


CORES = os.cpu_count() or 1


@dataclass
class RunRecord:
    mode: str  # "lan" or "rtt100" ...
    n: int
    forks: int
    tool: str
    rep: int
    valid: bool
    timed_out: bool
    hosts_ok: int
    detail: str
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kb: int
    peak_tree_rss_kb: int
    peak_tree_pss_kb: int
    cgroup_cpu_s: float | None
    cgroup_peak_kb: int | None
    server_cpu_s: float
    relay_cpu_s: float
    orphans: int
    orphans_killed: int


@dataclass
class Cell:
    mode: str
    n: int
    forks: int
    tool: str
    status: str  # "ok", "INVALID: ...", "TIMEOUT", "skipped: ..."
    runs: int = 0
    wall_s: float | None = None
    wall_min_s: float | None = None
    wall_max_s: float | None = None
    cpu_ms_per_host: float | None = None
    server_cpu_ms_per_host: float | None = None
    relay_cpu_ms_per_host: float | None = None
    peak_tree_rss_mb: float | None = None
    peak_tree_pss_mb: float | None = None
    cgroup_cpu_ms_per_host: float | None = None  # the cross-check of cpu_ms_per_host
    cgroup_peak_mb: float | None = None
    maxrss_mb: float | None = None
    wall_x_best_peer: float | None = None
    cpu_x_best_peer: float | None = None
    notes: list[str] = field(default_factory=list)


def aggregate(
    records: list[RunRecord], skipped: dict[tuple[str, int, int, str], str], tool_order: list[str]
) -> list[Cell]:
    keys: dict[tuple[str, int, int, str], list[RunRecord]] = {}
    for r in records:
        keys.setdefault((r.mode, r.n, r.forks, r.tool), []).append(r)
    cells = [Cell(*k, status=f"skipped: {why}") for k, why in skipped.items() if k not in keys]
    for (mode, n, forks, tool), runs in keys.items():
        cell = Cell(mode, n, forks, tool, status="ok", runs=len(runs))
        if any(r.timed_out for r in runs):
            cell.status = "TIMEOUT"
        elif not all(r.valid for r in runs):
            bad = next(r for r in runs if not r.valid)
            cell.status = f"INVALID ({bad.hosts_ok}/{n} ok): {bad.detail}"[:160]
        else:
            walls = [r.wall_s for r in runs]
            cell.wall_s = statistics.median(walls)
            cell.wall_min_s, cell.wall_max_s = min(walls), max(walls)
            cell.cpu_ms_per_host = statistics.median((r.user_s + r.sys_s) * 1000 / n for r in runs)
            cell.server_cpu_ms_per_host = statistics.median(r.server_cpu_s * 1000 / n for r in runs)
            cell.relay_cpu_ms_per_host = statistics.median(r.relay_cpu_s * 1000 / n for r in runs)
            cell.peak_tree_rss_mb = max(r.peak_tree_rss_kb for r in runs) / 1024
            cell.peak_tree_pss_mb = max(r.peak_tree_pss_kb for r in runs) / 1024
            if all(r.cgroup_cpu_s is not None for r in runs):
                cell.cgroup_cpu_ms_per_host = statistics.median(
                    (r.cgroup_cpu_s or 0.0) * 1000 / n for r in runs
                )
                cell.cgroup_peak_mb = max(r.cgroup_peak_kb or 0 for r in runs) / 1024
            cell.maxrss_mb = max(r.maxrss_kb for r in runs) / 1024
            if any(r.orphans_killed for r in runs):
                cell.notes.append(
                    f"left {max(r.orphans_killed for r in runs)} processes running, killed"
                )
        cells.append(cell)
    _ratios(cells)
    rank = {t: i for i, t in enumerate(tool_order)}
    return sorted(
        cells,
        key=lambda c: (c.mode != "lan", c.mode, c.n, c.forks, rank.get(c.tool, len(rank)), c.tool),
    )


def _ratios(cells: list[Cell]) -> None:
    """wall and CPU of every cell over the best *peer* (non-hostpool) cell of its row."""
    rows: dict[tuple[str, int, int], list[Cell]] = {}
    for c in cells:
        rows.setdefault((c.mode, c.n, c.forks), []).append(c)
    for row in rows.values():
        peers = [c for c in row if not c.tool.startswith(HOSTPOOL) and c.wall_s is not None]
        if not peers:
            continue
        best_wall = min(c.wall_s for c in peers if c.wall_s is not None)
        best_cpu = min(c.cpu_ms_per_host for c in peers if c.cpu_ms_per_host is not None)
        for c in row:
            if c.wall_s is not None and c.cpu_ms_per_host is not None:
                c.wall_x_best_peer = c.wall_s / best_wall
                c.cpu_x_best_peer = c.cpu_ms_per_host / best_cpu if best_cpu else None


def head_to_head(cells: list[Cell], a: str = HOSTPOOL, b: str = BASELINE) -> list[dict[str, Any]]:
    """a/b ratios of wall and CPU per row where both cells are valid."""
    by = {(c.mode, c.n, c.forks, c.tool): c for c in cells}
    out = []
    for (mode, n, forks, tool), ca in sorted(by.items()):
        cb = by.get((mode, n, forks, b))
        if tool != a or cb is None or ca.wall_s is None or cb.wall_s is None:
            continue
        assert ca.cpu_ms_per_host is not None and cb.cpu_ms_per_host is not None
        out.append(
            {
                "mode": mode,
                "n": n,
                "forks": forks,
                "wall_ratio": ca.wall_s / cb.wall_s,
                "cpu_ratio": ca.cpu_ms_per_host / cb.cpu_ms_per_host,
                f"{a}_wall_s": ca.wall_s,
                f"{b}_wall_s": cb.wall_s,
                f"{a}_cpu_ms_per_host": ca.cpu_ms_per_host,
                f"{b}_cpu_ms_per_host": cb.cpu_ms_per_host,
                "rss_ratio": _ratio(ca.peak_tree_rss_mb, cb.peak_tree_rss_mb),
                "pss_ratio": _ratio(ca.peak_tree_pss_mb, cb.peak_tree_pss_mb),
                # The server alone needs this long: N connections' sshd CPU over the cores.
                "server_floor_s": n * (cb.server_cpu_ms_per_host or 0.0) / 1000 / CORES,
            }
        )
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _f(v: float | None, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    """A markdown table; ``align`` has one char per column, 'l' or 'r'."""
    sep = ["---" if a == "l" else "---:" for a in align]
    return ["| " + " | ".join(r) + " |" for r in (header, sep, *rows)]


def _cell_row(c: Cell, relay: bool) -> list[str]:
    status = c.status + (f" ({'; '.join(c.notes)})" if c.notes else "")
    rng = f"{c.wall_min_s:.2f}-{c.wall_max_s:.2f}" if c.wall_min_s is not None else ""
    row = [
        str(c.n),
        str(c.forks),
        c.tool,
        status,
        _f(c.wall_s, ".2f"),
        rng,
        _f(c.wall_x_best_peer, ".2f"),
        _f(c.cpu_ms_per_host, ".2f"),
        _f(c.cgroup_cpu_ms_per_host, ".2f"),
        _f(c.cpu_x_best_peer, ".2f"),
        _f(c.server_cpu_ms_per_host, ".2f"),
    ]
    if relay:
        row.append(_f(c.relay_cpu_ms_per_host, ".2f"))
    memory = [_f(c.peak_tree_rss_mb, ".0f"), _f(c.peak_tree_pss_mb, ".0f")]
    return [*row, *memory, _f(c.cgroup_peak_mb, ".0f"), _f(c.maxrss_mb, ".0f"), str(c.runs)]


def markdown(meta: dict[str, Any], cells: list[Cell]) -> str:
    lines = ["# hostpool benchmark", ""]
    lines += [f"- **{k}**: {v}" for k, v in meta.items() if k != "tools"]
    lines += ["", "## Tool versions", ""]
    lines += _table(
        ["tool", "version", "how it runs"],
        [[t, d["version"], d["note"]] for t, d in meta["tools"].items()],
        "lll",
    )
    for mode in sorted({c.mode for c in cells}, key=lambda m: (m != "lan", m)):
        relay = mode != "lan"
        header = [
            "N",
            "F",
            "tool",
            "status",
            "wall s (median)",
            "wall min-max",
            "wall x best peer",
            "client CPU ms/host",
            "cgroup CPU ms/host",
            "CPU x best peer",
            "sshd CPU ms/host",
            *(["relay CPU ms/host"] if relay else []),
            "peak tree RSS MB",
            "peak tree PSS MB",
            "cgroup peak MB",
            "max single RSS MB",
            "runs",
        ]
        rows = [_cell_row(c, relay) for c in cells if c.mode == mode]
        lines += ["", f"## Mode `{mode}`", ""]
        lines += _table(header, rows, "rrll" + "r" * (len(header) - 4))
    h2h = head_to_head(cells)
    if h2h:
        header = [
            "mode",
            "N",
            "F",
            "wall ratio",
            "CPU/host ratio",
            "hostpool wall s",
            "asyncssh wall s",
            "hostpool CPU ms/host",
            "asyncssh CPU ms/host",
            "RSS ratio",
            "PSS ratio",
            "server floor s",
            "hostpool wall / floor",
        ]
        rows = [
            [
                h["mode"],
                str(h["n"]),
                str(h["forks"]),
                f"{h['wall_ratio']:.2f}",
                f"{h['cpu_ratio']:.2f}",
                f"{h['hostpool_wall_s']:.2f}",
                f"{h['asyncssh_wall_s']:.2f}",
                f"{h['hostpool_cpu_ms_per_host']:.2f}",
                f"{h['asyncssh_cpu_ms_per_host']:.2f}",
                _f(h["rss_ratio"], ".2f"),
                _f(h["pss_ratio"], ".2f"),
                f"{h['server_floor_s']:.2f}",
                _f(
                    h["hostpool_wall_s"] / h["server_floor_s"] if h["server_floor_s"] else None,
                    ".2f",
                ),
            ]
            for h in h2h
        ]
        lines += ["", f"## {HOSTPOOL} / {BASELINE}", ""]
        lines += _table(header, rows, "l" + "r" * (len(header) - 1))
    lines += ["", NOTES, ""]
    return "\n".join(lines)


NOTES = """\
Client CPU = user+sys of the tool's whole process tree (wait4 rusage of the tool plus
every descendant it reaped, plus orphans re-parented to the harness), interpreter start-up
included, nothing subtracted.  sshd CPU = the server side (all sshd processes), on the
same 2 cores.  Peak tree RSS = max over 50 ms samples of the summed RSS of the live tree
(pages shared between forked processes are counted once per process: an upper bound);
peak tree PSS = the same sum of PSS (each shared page split between its sharers: the
tree's real footprint).  cgroup CPU / cgroup peak = the same run measured from a fresh
cgroup the tool joined before exec (every descendant, whoever reaps it; the peak includes
page cache charged to the run): the cross-check of the wait4 figures.
"x best peer" = over the best non-hostpool tool of the same row.  A cell shows numbers
only if every host printed `ok` in every repeat."""


def to_json(meta: dict[str, Any], cells: list[Cell], records: list[RunRecord]) -> dict[str, Any]:
    return {
        "meta": meta,
        "cells": [asdict(c) for c in cells],
        "hostpool_vs_asyncssh": head_to_head(cells),
        "runs": [asdict(r) for r in records],
    }
