"""One exception tree, rooted at HostpoolError (both process sides).

Every class keeps ``self.args`` equal to its constructor arguments: multiprocessing
rebuilds exceptions as ``cls(*args)`` and an exception that cannot be rebuilt hangs a Pool
forever.  Workers never raise these across the boundary anyway (they return records), but
the API raises them and scripts may ship them around.  ``exit_code`` lets the CLI map any
error to its documented exit status in one place.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hostpool.models import HostResult
    from hostpool.report import Report


class ExitCode(enum.IntEnum):
    """Every exit status the CLI can end with; ``Report.exit_code`` decides among them."""

    OK = 0
    FAILED = 1  # some command exited non-zero (or ran past its deadline)
    USAGE = 2
    CONFIG = 3  # inventory or configuration error; nothing was contacted
    UNREACHABLE = 4  # some host could not be reached, authenticated or trusted
    INTERNAL = 5  # a worker was lost or hostpool itself failed
    INTERRUPTED = 130


class HostpoolError(Exception):
    """Root of everything hostpool raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(HostpoolError):
    """The caller asked for something that cannot mean anything (bad flag values)."""

    exit_code = ExitCode.USAGE


class ConfigError(HostpoolError):
    """Configuration the run depends on is wrong; nothing was contacted."""

    exit_code = ExitCode.CONFIG


class InventoryError(ConfigError):
    """A problem at a precise place in an inventory file, rendered as ``file:line: message``."""

    def __init__(self, path: str, lineno: int, message: str) -> None:
        super().__init__(path, lineno, message)
        self.path = path
        self.lineno = lineno
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


class PatternError(ConfigError):
    """A host pattern (target or ``--limit``) that is malformed or matches nothing."""

    def __init__(self, pattern: str, message: str) -> None:
        super().__init__(pattern, message)
        self.pattern = pattern
        self.message = message

    def __str__(self) -> str:
        return f"pattern {self.pattern!r}: {self.message}"


class HostKeyStoreError(ConfigError):
    """known_hosts could not be read or written."""


class HostFailures(HostpoolError):
    """Raised only on request (``Report.raise_for_failures``): per-host outcomes are data."""

    exit_code = ExitCode.FAILED

    def __init__(self, hosts: tuple[str, ...], summary: str) -> None:
        super().__init__(hosts, summary)
        self.hosts = hosts
        self.summary = summary

    def __str__(self) -> str:
        return self.summary


class HostFailed(HostpoolError):
    """What ``apply_async``'s ``error_callback`` receives for a host that did not succeed."""

    exit_code = ExitCode.FAILED

    def __init__(self, result: HostResult) -> None:
        super().__init__(result)
        self.result = result

    def __str__(self) -> str:
        r = self.result
        return f"{r.host}: {r.status.value}" + (f": {r.error}" if r.error else "")


class PoolError(HostpoolError):
    """The pool itself misbehaved (could not start, lost its workers beyond recovery)."""

    exit_code = ExitCode.INTERNAL


RunnerError = PoolError  # the earlier name


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or ``terminate``) while a call was waiting: raised in the caller after the
    pool was terminated and every host accounted for; ``report`` is the partial Report.

    A KeyboardInterrupt, not a HostpoolError, on purpose: a script that does not handle it
    stops, exactly as Ctrl-C stops any other Python program.
    """

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, report: Report) -> None:
        super().__init__(report)
        self.report = report

    def __str__(self) -> str:
        return f"interrupted: {self.report.summary()}"
