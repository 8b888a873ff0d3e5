"""Parent side: the default ``table`` mode and the ``hosts`` listing (tabulate's module).

tabulate is told never to parse numbers: it would print ``3.10`` as ``3.1``, and output a
user sees must be what the host sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from hostpool.models import HostResult
from hostpool.output.terminal import paint, sanitize
from hostpool.report import Report

FIRST_LINE_WIDTH = 60


def first_line(result: HostResult, width: int = FIRST_LINE_WIDTH) -> str:
    """The line a person most likely wants: the error, else output's first non-empty line."""
    source = result.error or ""
    if not source:
        for blob in (result.stdout, result.stderr):
            text = sanitize(blob.decode("utf-8", "replace"))
            for line in text.splitlines():
                if line.strip():
                    source = line.strip()
                    break
            if source:
                break
    source = sanitize(source).replace("\t", " ")
    return source if len(source) <= width else source[: width - 1] + "…"


def _tabulate(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    from tabulate import tabulate  # ~20 ms to import; json, jsonl and stream never need it

    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def render_table(report: Report, *, color: bool = False, width: int = FIRST_LINE_WIDTH) -> str:
    """One row per host; a ``tries`` column appears only when some host was retried."""
    retried = any(r.attempts > 1 for r in report.results)
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
    return f"{_tabulate(rows, headers)}\n\n{report.summary()}"


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
    return _tabulate(rows, headers) + f"\n\n{len(rows)} hosts"
