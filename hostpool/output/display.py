"""Parent side: one run as a person or a CI job sees it (mode, progress, side files).

A ``Session`` receives the pool's ``on_line``/``on_result`` callbacks while the run goes
on and renders the report at the end.  Both callbacks run on the thread that drives the
pool; only the progress timer is another thread, and it shares one lock.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from hostpool.models import HostResult, Stream
from hostpool.output import files, machine
from hostpool.output.modes import MODES, OutputMode, View
from hostpool.output.progress import Progress
from hostpool.output.stream import StreamFormat
from hostpool.output.terminal import Color, isatty, use_color
from hostpool.report import Report


@dataclass(frozen=True, slots=True)
class Display:
    mode: OutputMode = OutputMode.TABLE
    color: Color = Color.AUTO
    progress: bool = True
    junit_file: str | None = None
    out_dir: str | None = None

    @property
    def live_lines(self) -> bool:
        return MODES[self.mode].live_lines


class LineSink:
    """The pool's line observer: per line, or a worker's chunk at once (``lines``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def __call__(self, host: str, stream: Stream, line: bytes) -> None:
        self._session.write_lines(host, stream, (line,))

    def lines(self, host: str, stream: Stream, lines: tuple[bytes, ...]) -> None:
        self._session.write_lines(host, stream, lines)


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
        self.mode = MODES[display.mode]
        self.out = stdout or sys.stdout
        err = stderr or sys.stderr
        self.err = err
        color = use_color(display.color, isatty(self.out))
        self.view = View(color, StreamFormat(hosts, color=color), display.junit_file)
        self.progress = Progress(
            len(hosts), err, enabled=display.progress and isatty(err) and len(hosts) > 0
        )
        self._emitted: set[str] = set()

    def _write(self, text: str | Iterable[str], *, diagnostic: bool = False) -> None:
        """``text`` whole, or chunk by chunk as it is made (a machine report of 30 x 20 MB
        is never held as one string)."""
        stream = self.err if diagnostic and self.mode.diagnostics_to_stderr else self.out
        with self.progress.paused():
            for chunk in (text,) if isinstance(text, str) else text:
                stream.write(chunk)
            stream.write("\n")
            stream.flush()

    # -- pool callbacks -----------------------------------------------------------------
    @property
    def on_line(self) -> LineSink:
        return LineSink(self)

    def write_lines(self, host: str, stream: Stream, lines: tuple[bytes, ...]) -> None:
        """A worker's chunk of lines in one write and one flush."""
        text = self.view.stream.lines(host, stream, lines)
        self._write(text, diagnostic=stream is Stream.STDERR)

    def on_result(self, result: HostResult) -> None:
        self.progress.update(result.ok)
        self._emit(result)

    def _emit(self, result: HostResult) -> None:
        self._emitted.add(result.host)
        if self.mode.per_host is not None:
            text = self.mode.per_host(self.view, result)
            if text is not None:
                self._write(text, diagnostic=True)

    # -- the end ------------------------------------------------------------------------
    def finish(self, report: Report) -> None:
        self.progress.stop()
        for result in report.results:  # hosts the pool settled without a callback
            if result.host not in self._emitted:
                self._emit(result)
        if self.display.out_dir:
            files.write_out_dir(report, self.display.out_dir)
        if self.display.junit_file:
            with open(self.display.junit_file, "w", encoding="utf-8") as fh:
                fh.writelines(machine.junit_chunks(report))
                fh.write("\n")
        self._write(self.mode.final(self.view, report), diagnostic=True)
