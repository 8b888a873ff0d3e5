"""Parent side: the per-run report and the exit-code decision (no rendering here).

The exit code is decided in exactly one function (``exit_code``) so the CLI, scripts and
CI wrappers agree; how a report looks is ``hostpool.output``'s business.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from hostpool.errors import ExitCode, HostFailures
from hostpool.models import HostResult, Status

_CONNECT_FAILURES = (Status.UNREACHABLE, Status.AUTH, Status.HOSTKEY)


@dataclass(frozen=True, slots=True)
class Report:
    """Every host exactly once, in target order; per-host outcomes are data, not exceptions."""

    results: tuple[HostResult, ...]
    command: str = ""
    duration: float = 0.0
    started_at: float = 0.0
    interrupted: bool = False
    stopped_early: bool = False

    def result(self, host: str) -> HostResult:
        for r in self.results:
            if r.host == host:
                return r
        raise KeyError(host)

    def __iter__(self) -> Iterator[HostResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> tuple[HostResult, ...]:
        return tuple(r for r in self.results if r.status is Status.OK)

    @property
    def failed(self) -> tuple[HostResult, ...]:
        """Every host that did not succeed, whatever the reason."""
        return tuple(r for r in self.results if r.status is not Status.OK)

    @property
    def counts(self) -> dict[Status, int]:
        found = Counter(r.status for r in self.results)
        return {s: found[s] for s in Status if found[s]}

    def summary(self) -> str:
        parts = [f"{n} {s.value}" for s, n in self.counts.items()]
        total = len(self.results)
        text = f"{total} host{'s' if total != 1 else ''}: " + (", ".join(parts) or "none")
        if self.stopped_early:
            text += " (stopped early after too many failures)"
        return f"{text} in {self.duration:.1f}s"

    def exit_code(self, maxrc: bool = False) -> int:
        """Worst category wins: interrupted > internal > unreachable > failed > ok.

        A command timeout counts as a failure of the command (1); a timeout before the
        command started means the host was not reachable in time (4).  With ``maxrc`` the
        failure code is the largest remote exit status instead of 1 (as ``clush --maxrc``).
        """
        statuses = {r.status for r in self.results}
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if Status.ERROR in statuses:
            return ExitCode.INTERNAL
        if statuses & set(_CONNECT_FAILURES) or any(
            r.status is Status.TIMEOUT and not r.started for r in self.results
        ):
            return ExitCode.UNREACHABLE
        if Status.INTERRUPTED in statuses:
            return ExitCode.INTERRUPTED if not self.stopped_early else ExitCode.FAILED
        if statuses - {Status.OK}:
            if maxrc:
                codes = [r.exit_code for r in self.results if r.exit_code]
                return max(codes) if codes else ExitCode.FAILED
            return ExitCode.FAILED
        return ExitCode.OK

    def raise_for_failures(self) -> None:
        """Opt-in exception for scripts that prefer try/except over inspecting results."""
        bad = self.failed
        if bad:
            names = tuple(r.host for r in bad)
            raise HostFailures(
                names, f"{len(bad)} of {len(self.results)} hosts failed: {self.summary()}"
            )
