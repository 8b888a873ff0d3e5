"""Parent side: the one registry of output modes.

Each mode says whether it wants output lines live, what it prints when a host finishes,
and what it prints at the end; ``Display`` only looks modes up here, so a new mode is one
entry, not a branch in several places.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hostpool.models import HostResult
from hostpool.output import machine
from hostpool.output.stream import StreamFormat
from hostpool.report import Report


class OutputMode(enum.StrEnum):
    TABLE = "table"
    STREAM = "stream"
    GATHER = "gather"
    JSON = "json"
    JSONL = "jsonl"
    JUNIT = "junit"


@dataclass(frozen=True, slots=True)
class View:
    """What a mode's printers may use: colour, the stream formatter, side files."""

    color: bool
    stream: StreamFormat
    junit_file: str | None


@dataclass(frozen=True, slots=True)
class Mode:
    final: Callable[[View, Report], str | Iterable[str]]  # chunks: written as they come
    per_host: Callable[[View, HostResult], str | None] | None = None
    live_lines: bool = False
    human: bool = True
    diagnostics_to_stderr: bool = False  # stream: stdout carries only what hosts printed


def _table(view: View, report: Report) -> str:
    from hostpool.output.table import render_table  # tabulate only for tables

    return render_table(report, color=view.color)


def _gather(view: View, report: Report) -> str:
    from hostpool.output.gather import render_gather

    return render_gather(report, color=view.color)


def _junit(view: View, report: Report) -> str | Iterable[str]:
    # With --junit-file the XML goes to the file; stdout keeps just the summary.
    return report.summary() if view.junit_file else machine.junit_chunks(report)


MODES: dict[OutputMode, Mode] = {
    OutputMode.TABLE: Mode(final=_table),
    OutputMode.STREAM: Mode(
        final=lambda view, report: f"\n{report.summary()}",
        per_host=lambda view, result: view.stream.end(result),
        live_lines=True,
        diagnostics_to_stderr=True,
    ),
    OutputMode.GATHER: Mode(final=_gather),
    OutputMode.JSON: Mode(
        final=lambda view, report: machine.report_json(report),
        human=False,
    ),
    OutputMode.JSONL: Mode(
        final=lambda view, report: machine.jsonl_summary(report),
        per_host=lambda view, result: machine.jsonl_result(result),
        human=False,
    ),
    OutputMode.JUNIT: Mode(final=_junit, human=False),
}
