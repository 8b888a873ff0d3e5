"""Parent side: one run as a person or a CI job sees it (output mode, progress, files).

The CLI builds a ``Display`` from its flags and calls ``run``; this module wires the
runner's ``on_line``/``on_result`` callbacks to the chosen output and prints the final
rendering, so the CLI itself stays a thin flag layer.  Both callbacks run on the parent's
main thread; only the progress timer is another thread, and it shares one lock.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hostpool import export
from hostpool.errors import UsageError
from hostpool.models import HostResult, SSHOptions, Target
from hostpool.progress import Progress
from hostpool.render import StreamFormat, render_gather, use_color
from hostpool.report import Report, render_table, report_to_dict
from hostpool.runner import Runner

OUTPUT_MODES = ("table", "stream", "gather", "json", "jsonl", "junit")
HUMAN_MODES = ("table", "stream", "gather")


@dataclass(frozen=True, slots=True)
class Display:
    mode: str = "table"
    color: str = "auto"  # auto | always | never
    progress: bool = True
    junit_file: str | None = None
    out_dir: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in OUTPUT_MODES:
            raise UsageError(f"--output must be one of {', '.join(OUTPUT_MODES)}")
        use_color(self.color, False)  # validates the choice


class Session:
    """Receives results while the run goes on and renders the report at the end."""

    def __init__(
        self,
        display: Display,
        hosts: Sequence[str],
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.display = display
        self.out = stdout or sys.stdout
        err = stderr or sys.stderr
        self.color = use_color(display.color, _isatty(self.out))
        self.progress = Progress(
            len(hosts), err, enabled=display.progress and _isatty(err) and len(hosts) > 0
        )
        self.stream = StreamFormat(hosts, color=self.color)
        self._emitted: set[str] = set()

    def _write(self, text: str) -> None:
        with self.progress.paused():
            self.out.write(text + "\n")
            self.out.flush()

    # -- runner callbacks ---------------------------------------------------------------
    def on_line(self, host: str, stream: int, line: bytes) -> None:
        self._write(self.stream.line(host, stream, line))

    def on_result(self, result: HostResult) -> None:
        self.progress.update(result.ok)
        self._emit(result)

    def _emit(self, result: HostResult) -> None:
        self._emitted.add(result.host)
        if self.display.mode == "jsonl":
            self._write(export.jsonl_result(result))
        elif self.display.mode == "stream":
            end = self.stream.end(result)
            if end is not None:
                self._write(end)

    # -- the end ------------------------------------------------------------------------
    def finish(self, report: Report) -> None:
        self.progress.stop()
        for result in report.results:  # hosts the runner settled without a callback
            if result.host not in self._emitted:
                self._emit(result)
        mode = self.display.mode
        if self.display.out_dir:
            export.write_out_dir(report, self.display.out_dir)
        if self.display.junit_file:
            Path(self.display.junit_file).write_text(export.junit_xml(report) + "\n")
        if mode == "table":
            self._write(render_table(report, color=self.color))
        elif mode == "gather":
            self._write(render_gather(report, color=self.color))
        elif mode == "stream":
            self._write(f"\n{report.summary()}")
        elif mode == "json":
            self._write(json.dumps(report_to_dict(report), indent=2))
        elif mode == "jsonl":
            self._write(export.jsonl_summary(report))
        elif mode == "junit" and not self.display.junit_file:
            self._write(export.junit_xml(report))
        else:
            self._write(report.summary())


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def run(
    targets: Sequence[Target],
    command: str,
    *,
    options: SSHOptions,
    display: Display,
    kind: str = "exec",
    args: tuple[str, ...] = (),
    **runner_kwargs: Any,
) -> Report:
    """Run on the pool with live output as the display asks; returns the report."""
    session = Session(display, [t.name for t in targets])
    if display.out_dir:
        for t in targets:  # refuse before contacting anyone
            export.safe_component(t.name)
    on_line = session.on_line if display.mode == "stream" else None
    session.progress.start()
    try:
        with Runner(options, on_result=session.on_result, on_line=on_line, **runner_kwargs) as r:
            report = r.run(targets, command, kind=kind, args=args)
    finally:
        session.progress.stop()
    session.finish(report)
    return report
