"""Parent side: the human output modes other than the table (gather, stream lines).

Everything here reaches a terminal, so every remote byte goes through ``report.sanitize``
first; the machine formats (json, jsonl, junit, out-dir) live in ``export.py`` and keep
exact bytes instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from hostpool.errors import UsageError
from hostpool.models import HostResult, Status
from hostpool.nodeset import fold
from hostpool.output import STDERR
from hostpool.report import Report, paint, sanitize

COLOR_CHOICES = ("auto", "always", "never")
# Host prefixes cycle through colours that do not mean a status (no red or green).
_HOST_PALETTE = ("36", "34", "35", "33", "96", "94", "95", "93")


def use_color(choice: str, isatty: bool) -> bool:
    """``always``/``never`` win; ``auto`` needs a terminal and no NO_COLOR (no-color.org)."""
    if choice not in COLOR_CHOICES:
        raise UsageError(f"--color must be one of {', '.join(COLOR_CHOICES)}")
    if choice != "auto":
        return choice == "always"
    return isatty and not os.environ.get("NO_COLOR")


def _text(data: bytes) -> str:
    return sanitize(data.decode("utf-8", "replace"))


def outcome(result: HostResult) -> str:
    """Status, exit code and error in one phrase: ``failed rc=3: message``."""
    text = result.status.value
    if result.exit_code is not None and result.status is not Status.OK:
        text += f" rc={result.exit_code}"
    if result.attempts > 1:
        text += f" after {result.attempts} attempts"
    if result.error:
        text += f": {sanitize(result.error)}"
    return text


# -- gather -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Group:
    hosts: tuple[str, ...]
    sample: HostResult


def gather(report: Report) -> list[Group]:
    """Hosts with identical stdout, stderr, status, exit code and error, in target order."""
    groups: dict[tuple[bytes, bytes, Status, int | None, str], list[HostResult]] = {}
    for r in report.results:
        groups.setdefault((r.stdout, r.stderr, r.status, r.exit_code, r.error), []).append(r)
    return [Group(tuple(r.host for r in rs), rs[0]) for rs in groups.values()]


def render_gather(report: Report, *, color: bool = False) -> str:
    blocks: list[str] = []
    for group in gather(report):
        r = group.sample
        names = sanitize(fold(group.hosts))
        rule = "-" * min(max(len(names) + 8, 16), 78)
        header = f"{names} ({len(group.hosts)}): {paint(r.status, outcome(r), color)}"
        lines = [rule, header, rule]
        if r.stdout:
            lines.append(_text(r.stdout).rstrip("\n"))
        if r.stderr:
            lines.append(paint(Status.INTERRUPTED, "-- stderr --", color))
            lines.append(_text(r.stderr).rstrip("\n"))
        if r.truncated:
            lines.append("[output truncated]")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + f"\n\n{report.summary()}"


# -- stream -----------------------------------------------------------------------------
class StreamFormat:
    """``host | line`` for stdout and ``host ! line`` for stderr, names padded to align."""

    def __init__(self, hosts: Sequence[str], *, color: bool = False) -> None:
        self.color = color
        self.width = max((len(h) for h in hosts), default=0)
        self._palette = {h: _HOST_PALETTE[i % len(_HOST_PALETTE)] for i, h in enumerate(hosts)}

    def _host(self, host: str) -> str:
        name = sanitize(host).ljust(self.width)
        code = self._palette.get(host)
        return f"\x1b[{code}m{name}\x1b[0m" if self.color and code else name

    def line(self, host: str, stream: int, data: bytes) -> str:
        text = _text(data.rstrip(b"\r"))
        if stream == STDERR:
            mark = "\x1b[33m!\x1b[0m" if self.color else "!"
            return f"{self._host(host)} {mark} {text}"
        return f"{self._host(host)} | {text}"

    def end(self, result: HostResult) -> str | None:
        """One closing line for hosts that did not succeed; successes stay quiet."""
        if result.ok:
            return None
        return f"{self._host(result.host)} # {paint(result.status, outcome(result), self.color)}"
