"""One exception tree, rooted at HostpoolError (both process sides).

Every class keeps ``self.args`` equal to its constructor arguments: multiprocessing
rebuilds exceptions as ``cls(*args)`` and an exception that cannot be rebuilt hangs a Pool
forever.  Workers never raise these across the boundary anyway (they return records), but
the API raises them and scripts may ship them around.  ``exit_code`` lets the CLI map any
error to its documented exit status in one place.
"""

from __future__ import annotations


class HostpoolError(Exception):
    """Root of everything hostpool raises on purpose."""

    exit_code = 5


class UsageError(HostpoolError):
    """The caller asked for something that cannot mean anything (bad flag values)."""

    exit_code = 2


class ConfigError(HostpoolError):
    """Configuration the run depends on is wrong; nothing was contacted."""

    exit_code = 3


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

    exit_code = 1

    def __init__(self, hosts: tuple[str, ...], summary: str) -> None:
        super().__init__(hosts, summary)
        self.hosts = hosts
        self.summary = summary

    def __str__(self) -> str:
        return self.summary


class RunnerError(HostpoolError):
    """The pool itself misbehaved (could not start, lost its workers beyond recovery)."""

    exit_code = 5
