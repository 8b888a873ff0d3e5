"""Child side: draining one command's output, the same loop for every transport.

stdout and stderr are read together: reading one to EOF first deadlocks once the other
fills its window.  Every wait is a slice of at most a second, so the command deadline is
checked however quiet the host is; at the deadline the connector stops what it can.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hostpool.connectors.base import RemoteProcess
from hostpool.models import HostResult, Status
from hostpool.worker.output import Output

# Once the exit status is in, output still arriving gets this long: a background child
# (``sleep 1000 &``) can hold stdout open forever after the command itself ended.
TRAILING_OUTPUT = 2.0
INPUT_SLICE = 32768


def deadline_slice(deadline: float | None) -> float | None:
    """How long one wait may last: a second at most, None once the deadline has passed."""
    if deadline is None:
        return 1.0
    left = deadline - time.monotonic()
    return None if left <= 0 else min(left, 1.0)


def pump(
    proc: RemoteProcess,
    out: Output,
    host: str,
    timeout: float | None,
    cancelled: Callable[[], bool] | None = None,
) -> HostResult:
    """Feed ``out`` until both streams end and the exit arrives, the deadline passes, or
    the parent cancels the call (``cancels.CancelBoard``).

    Stdin is written in slices between reads, never in one blocking write: a command that
    answers before it has read all its input would otherwise wait on us while we wait on
    it.  It is closed once the exit status is in (the lifeline's normal end)."""
    deadline = time.monotonic() + timeout if timeout else None
    stdin_open = True
    pending = bytearray()
    exited_at = 0.0
    while True:
        if cancelled is not None and cancelled():
            return _cancelled(proc, out, host)
        if stdin_open and (out.close_stdin or proc.exited):
            proc.close_stdin()
            stdin_open = False
        pending += out.take_input()
        if pending and stdin_open:
            del pending[: proc.send(bytes(pending[:INPUT_SLICE]))]
        chunks = proc.read()
        for stream, data in chunks:
            reply = out.feed(stream, data)
            if reply:
                pending[:0] = reply
        if chunks:
            out.flush_lines()
            continue
        if proc.at_eof:
            break
        if proc.exited:
            exited_at = exited_at or time.monotonic()
            if time.monotonic() - exited_at > TRAILING_OUTPUT:
                # The command ended; a leftover child still holds its output: stopped
                # with the command's group (local, docker), or left with a dropped
                # connection (ssh), never waited for.
                proc.kill()
                break
        wait = deadline_slice(deadline)
        if wait is None:
            return _timed_out(proc, out, host, timeout)
        proc.wait(min(wait, 0.005) if pending and stdin_open else wait)
    # Stdin stays open until the exit status is in: the streams end before the command
    # does (procps' uptime closes stdout at exit, then runs on for a moment), and an
    # end-of-file on the lifeline then would stop it (seen: "killed by a signal").
    while True:
        if cancelled is not None and cancelled():
            return _cancelled(proc, out, host)
        wait = deadline_slice(deadline)
        if wait is None:
            return _timed_out(proc, out, host, timeout)
        ended = proc.exit(wait)
        if ended is not None:
            if stdin_open:
                proc.close_stdin()
            break
    if ended.status is not None:
        return out.result(host, ended.status, exit_code=ended.code, error=ended.error)
    assert ended.code is not None
    return out.exit_result(host, ended.code, ended.error)


def _timed_out(proc: RemoteProcess, out: Output, host: str, timeout: float | None) -> HostResult:
    proc.kill()
    error = f"command did not finish within {timeout or 0:g}s"
    return out.result(host, Status.TIMEOUT, error=error)


def _cancelled(proc: RemoteProcess, out: Output, host: str) -> HostResult:
    """The parent already answered for this host; the command only has to stop."""
    proc.stop()
    return out.result(host, Status.INTERRUPTED, error="interrupted: the caller cancelled")
