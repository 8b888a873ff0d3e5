"""Parent side: the default ``table`` mode and the ``hosts`` listing (tabulate's module).

tabulate is told never to parse numbers: it would print ``3.10`` as ``3.1``, and output a
user sees must be what the host sent.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence

from hostpool.models import HostResult
from hostpool.output.terminal import paint, sanitize
from hostpool.report import Report

FIRST_LINE_WIDTH = 60


def _lines(blob: bytes) -> list[str]:
    return [line.strip() for line in sanitize(blob.decode("utf-8", "replace")).splitlines()]


def first_line(result: HostResult, width: int = FIRST_LINE_WIDTH) -> str:
    """The line a person most likely wants (the error, else output's first non-empty
    line), with ``(+N lines)`` when more is there; cut to ``width`` with a ``…`` mark."""
    source, more = "", 0
    if result.error:
        source = sanitize(result.error)
        more = sum(1 for blob in (result.stdout, result.stderr) for line in _lines(blob) if line)
    else:
        lines = [line for blob in (result.stdout, result.stderr) for line in _lines(blob) if line]
        if lines:
            source, more = lines[0], len(lines) - 1
    source = source.replace("\t", " ")
    suffix = f" (+{more} line{'s' if more != 1 else ''})" if more else ""
    room = max(8, width - len(suffix))
    cut = source if len(source) <= room else source[: room - 1] + "…"
    return cut + suffix


def table_width() -> int:
    """The output column's room on this terminal (160 columns when not a terminal)."""
    return shutil.get_terminal_size((160, 45)).columns


def plain_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    from tabulate import tabulate  # ~20 ms to import; json, jsonl and stream never need it

    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def render_table(report: Report, *, color: bool = False, columns: int | None = None) -> str:
    """One row per host; a ``tries`` column appears only when some host was retried.
    Messages are never cut: one too long for its cell is printed whole under the table."""
    retried = any(r.attempts > 1 for r in report.results)
    hosts = max((len(r.host) for r in report.results), default=4)
    width = max(FIRST_LINE_WIDTH // 2, (columns or table_width()) - hosts - 40)
    rows = [
        [
            sanitize(r.host),
            paint(r.status, r.status.value, color),
            "" if r.exit_code is None else str(r.exit_code),
            f"{r.duration:.2f}s",
            *([str(r.attempts)] if retried else []),
            first_line(r, width) + (" [truncated]" if r.truncated else ""),
        ]
        for r in report.results
    ]
    headers = ["host", "status", "rc", "time", *(["tries"] if retried else []), "output"]
    notes = [
        f"{sanitize(r.host)}: {sanitize(r.error)}"
        for r in report.results
        if r.error and sanitize(r.error) not in first_line(r, width)
    ]
    under = ("\n\n" + "\n".join(notes)) if notes else ""
    return f"{plain_table(rows, headers)}{under}\n\n{report.summary()}"


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def host_table(described: Sequence[dict[str, object]]) -> str:
    rows = [
        [
            sanitize(str(d["name"])),
            sanitize(str(d["address"])),
            str(d["port"]),
            str(d.get("user") or ""),
            str(d["connection"]),
            ",".join(str(g) for g in _as_list(d.get("groups"))),
        ]
        for d in described
    ]
    headers = ["host", "address", "port", "user", "connection", "groups"]
    return plain_table(rows, headers) + f"\n\n{len(rows)} hosts"
