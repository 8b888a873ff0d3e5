"""Parent side: the per-run report, the exit-code decision, and table rendering.

The exit code is decided in exactly one function (``exit_code``) so the CLI, scripts and
CI wrappers agree.  This is the only module that imports tabulate.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass

from hostpool.errors import HostFailures
from hostpool.models import HostResult, Status


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # some command exited non-zero (or ran past its deadline)
    USAGE = 2
    CONFIG = 3  # inventory or configuration error; nothing was contacted
    UNREACHABLE = 4  # some host could not be reached, authenticated or trusted
    INTERNAL = 5  # a worker was lost or hostpool itself failed
    INTERRUPTED = 130


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

    def __iter__(self):  # type: ignore[no-untyped-def]
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


# -- terminal safety --------------------------------------------------------------------------
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI, 7- and 8-bit
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (title, hyperlinks, clipboard)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 (but tab/newline), DEL, C1
)


def sanitize(text: str) -> str:
    """Remove terminal control sequences remote output could use to rewrite the screen."""
    text = text.replace("\r\n", "\n")
    return _ESCAPES.sub("", text)


def first_line(result: HostResult, width: int = 60) -> str:
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


_COLORS = {
    Status.OK: "32",
    Status.FAILED: "31",
    Status.TIMEOUT: "33",
    Status.UNREACHABLE: "35",
    Status.AUTH: "35",
    Status.HOSTKEY: "35",
    Status.ERROR: "31;1",
    Status.INTERRUPTED: "2",
}


def paint(status: Status, text: str, color: bool) -> str:
    return f"\x1b[{_COLORS[status]}m{text}\x1b[0m" if color else text


def render_table(report: Report, *, color: bool = False, width: int = 60) -> str:
    """One row per host; a ``tries`` column appears only when some host was retried."""
    retried = any(r.attempts > 1 for r in report.results)
    rows = [
        [
            sanitize(r.host),
            paint(r.status, r.status.value, color),
            "" if r.exit_code is None else r.exit_code,
            f"{r.duration:.2f}s",
            *([r.attempts] if retried else []),
            first_line(r, width) + (" [truncated]" if r.truncated else ""),
        ]
        for r in report.results
    ]
    headers = ["host", "status", "rc", "time", *(["tries"] if retried else []), "output"]
    from tabulate import tabulate  # ~20 ms to import; json, jsonl and stream never need it

    table = tabulate(rows, headers=headers, tablefmt="simple")
    return f"{table}\n\n{report.summary()}"


# -- machine-readable ----------------------------------------------------------------------
def _blob(data: bytes) -> tuple[str, str]:
    """Exact bytes in JSON: UTF-8 text when it is UTF-8, base64 otherwise (never lossy)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        import base64

        return base64.b64encode(data).decode("ascii"), "base64"


def result_to_dict(r: HostResult) -> dict[str, object]:
    stdout, stdout_enc = _blob(r.stdout)
    stderr, stderr_enc = _blob(r.stderr)
    return {
        "host": r.host,
        "address": r.address,
        "status": r.status.value,
        "exit_code": r.exit_code,
        "stdout": stdout,
        "stdout_encoding": stdout_enc,
        "stderr": stderr,
        "stderr_encoding": stderr_enc,
        "error": r.error,
        "duration": round(r.duration, 6),
        "attempts": r.attempts,
        "truncated": r.truncated,
        "started": r.started,
    }


def report_to_dict(report: Report) -> dict[str, object]:
    return {
        "command": report.command,
        "started_at": report.started_at,
        "duration": round(report.duration, 6),
        "interrupted": report.interrupted,
        "stopped_early": report.stopped_early,
        "exit_code": report.exit_code(),
        "counts": {s.value: n for s, n in report.counts.items()},
        "results": [result_to_dict(r) for r in report.results],
    }


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def host_table(described: list[dict[str, object]]) -> str:
    rows = [
        [
            d["name"],
            d["address"],
            d["port"],
            d.get("user") or "",
            d["connection"],
            ",".join(str(g) for g in _as_list(d.get("groups"))),
        ]
        for d in described
    ]
    headers = ["host", "address", "port", "user", "connection", "groups"]
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple") + f"\n\n{len(rows)} hosts"
