"""Parent side: the ``gather`` mode, identical output grouped under folded host names.

Like ``clush -b``: a fleet that mostly agrees reads as one block plus its exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from hostpool.models import HostResult, Status
from hostpool.output.nodeset import fold
from hostpool.output.terminal import outcome, paint, sanitize, text_of
from hostpool.report import Report


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
            lines.append(text_of(r.stdout).rstrip("\n"))
        if r.stderr:
            lines.append(paint(Status.INTERRUPTED, "-- stderr --", color))
            lines.append(text_of(r.stderr).rstrip("\n"))
        if r.truncated:
            lines.append("[output truncated]")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + f"\n\n{report.summary()}"
