"""Child side: the one protocol every transport implements (pyinfra's connectors shape).

The algorithms that used to exist once per transport are written once over it: the output
pump (``worker.pump``) drives any ``RemoteProcess``; copy and fetch (``transfer``) use
only ``stat``/``sha256``/``put``/``install``/``get``.  A connector holds a live
connection, so it never leaves the worker process: tasks and results stay plain data.
"""

from __future__ import annotations

import enum
import stat
from dataclasses import dataclass
from typing import Protocol

from hostpool.models import HostKey, Status, Stream

# What a command's lifeline (``worker.command``) reads as "stop now": any byte or the end
# of stdin while the command runs.
STOP = b"\n"


class FileKind(enum.StrEnum):
    FILE = "file"
    DIRECTORY = "directory"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class FileInfo:
    kind: FileKind
    mode: int  # permission bits only
    size: int

    @classmethod
    def of(cls, st_mode: int, size: int) -> FileInfo:
        """From a stat mode (local ``os.stat`` or SFTP attributes alike)."""
        kind = (
            FileKind.FILE
            if stat.S_ISREG(st_mode)
            else FileKind.DIRECTORY
            if stat.S_ISDIR(st_mode)
            else FileKind.OTHER
        )
        return cls(kind, stat.S_IMODE(st_mode), size)


@dataclass(frozen=True, slots=True)
class Exit:
    """How a command ended, as its transport saw it.

    ``code`` is None when no exit status arrived; ``status`` overrides the exit-code rule
    when the transport knows better (a connection lost mid-command is ``unreachable``).
    """

    code: int | None
    status: Status | None = None
    error: str = ""


class ConnectFailure(Exception):
    """A failure a connector has already classified (raised inside connect steps).

    Child side only: workers turn it into a ``HostResult`` and it never crosses the pipe.
    Its args match its constructor, like every exception here, so it would rebuild.
    """

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


class StaleConnection(Exception):
    """A kept connection turned out dead before anything reached the host: redo it once."""


class RemoteProcess(Protocol):
    """A started command whose output the pump drains (stdout and stderr together)."""

    def wait(self, timeout: float) -> None:
        """Block until output may be ready, the streams end, or ``timeout`` passes."""

    def read(self) -> list[tuple[Stream, bytes]]:
        """Whatever output is ready now, without blocking."""

    @property
    def at_eof(self) -> bool:
        """Both streams ended (or the transport died)."""

    def send(self, data: bytes) -> int:
        """Write what the command can take now without blocking; how much was taken (all
        of it once stdin is gone: nobody will read it)."""

    def close_stdin(self) -> None: ...

    def exit(self, timeout: float) -> Exit | None:
        """The exit, waiting up to ``timeout`` once the streams ended; None if not yet."""

    @property
    def exited(self) -> bool:
        """The command's exit status is in, whether or not its streams have ended (a
        background child may hold them open)."""

    def kill(self) -> None:
        """The deadline passed: stop the command as far as this transport can."""

    def stop(self) -> None:
        """The caller cancelled: stop the command; a kept connection may stay open."""


class Connector(Protocol):
    """One host's connection: connect in the constructor, then commands and file ops.

    File operations raise ``OSError`` for file-level problems (missing path, permission),
    which become that host's ``failed``; anything else is a connection problem for the
    worker's classifier.
    """

    def start(self, command: str, pty: bool = False) -> RemoteProcess:
        """``pty``: on a terminal that hangs the command up when the session ends."""

    def stat(self, path: str) -> FileInfo | None:
        """None when nothing exists at ``path``."""

    def sha256(self, path: str) -> str: ...

    def put(self, local: str, remote: str) -> None: ...

    def install(self, tmp: str, dest: str, mode: int) -> None:
        """Set ``mode`` on ``tmp``, then rename it over ``dest`` atomically."""

    def chmod(self, path: str, mode: int) -> None: ...

    def remove(self, path: str) -> None: ...

    def mkdir(self, path: str, mode: int) -> None: ...

    def listdir(self, path: str) -> list[tuple[str, FileInfo]]:
        """Entries of a directory, links and special files as ``OTHER`` (not followed)."""

    def get(self, remote: str, local: str) -> None: ...

    def take_learnt(self) -> HostKey | None:
        """A host key seen under accept-new, handed over once for the parent to write."""

    def end_task(self) -> None:
        """Release per-task resources; the connection itself may be kept for the next."""

    def close(self) -> None: ...


class Stateless:
    """For connectors with no connection to keep: nothing learnt, nothing to release."""

    def take_learnt(self) -> HostKey | None:
        return None

    def end_task(self) -> None:
        return None

    def close(self) -> None:
        return None
