"""Parent side: what a submission returns, in ``multiprocessing.pool``'s vocabulary.

A ``Call`` is one submission (one host for ``apply_async``, many for ``map``); the
dispatcher fills its ledger and completes it, the callback thread delivers its results.
``AsyncResult``/``MapResult`` wait on it; a Ctrl-C while waiting terminates the pool
(every host accounted for) and raises ``Interrupted`` carrying the partial report.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from hostpool.errors import HostFailed, HostpoolError, Interrupted
from hostpool.models import HostResult, Stream
from hostpool.pool.ledger import Ledger
from hostpool.report import Report

WAIT_SLICE = 0.5  # waits are sliced so Ctrl-C is seen promptly on every platform


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


LinesHandler = Callable[[str, Stream, tuple[bytes, ...]], None]


def batched(on_line: Callable[[str, Stream, bytes], None]) -> LinesHandler:
    """One callback per chunk a worker sent, not per line: a queue hand-off per line cost
    the stream mode 13 s on 700k lines.  A handler with a ``lines`` method takes the chunk
    whole (the CLI writes and flushes it once); any other gets the lines one by one."""
    many = getattr(on_line, "lines", None)
    if callable(many):
        return many  # type: ignore[no-any-return]

    def each(host: str, stream: Stream, lines: tuple[bytes, ...]) -> None:
        for line in lines:
            on_line(host, stream, line)

    return each


class Call:
    """One submission: its ledger, its observers, and the report once every host is in."""

    def __init__(
        self,
        ledger: Ledger,
        label: str,
        *,
        on_result: Callable[[HostResult], None] | None = None,
        on_line: Callable[[str, Stream, bytes], None] | None = None,
        on_done: Callable[[Report], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.label = label
        self.on_result = on_result
        self.on_lines = batched(on_line) if on_line is not None else None
        self.on_done = on_done
        self.started_at = time.time()
        self.t0 = time.monotonic()
        self.waiting: list[int] = list(ledger.entries)  # seqs not yet dispatched
        self.in_flight: set[int] = set()
        self.failures = 0
        self.stopped_early = False
        self.interrupted = False
        self.error: HostpoolError | None = None  # raised by get() once the report is in
        self.report: Report | None = None
        self.finished: queue.SimpleQueue[HostResult] = queue.SimpleQueue()
        self._done = threading.Event()

    # -- filled by the dispatcher and the callback thread --------------------------------
    def deliver(self, result: HostResult) -> None:
        """Callback thread: the user's observer first, then waiting iterators."""
        try:
            if self.on_result is not None:
                self.on_result(result)
        finally:
            self.finished.put(result)

    def build_report(self) -> Report:
        return Report(
            results=self.ledger.results(),
            command=self.label,
            duration=time.monotonic() - self.t0,
            started_at=self.started_at,
            interrupted=self.interrupted,
            stopped_early=self.stopped_early,
        )

    def complete(self, report: Report) -> None:
        self.report = report
        self._done.set()
        if self.on_done is not None and self.error is None and not report.interrupted:
            self.on_done(report)

    # -- waited on by the caller ---------------------------------------------------------
    def ready(self) -> bool:
        return self._done.is_set()

    def wait(self, pool: Interruptible, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._done.is_set():
                left = WAIT_SLICE if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(min(left, WAIT_SLICE))
        except KeyboardInterrupt:
            pool.interrupt()
            raise Interrupted(self.require()) from None
        return True

    def require(self) -> Report:
        self._done.wait()
        assert self.report is not None
        if self.error is not None:
            raise self.error
        return self.report


class MapResult:
    """``map_async``'s answer: ``get()`` is the Report, in target order."""

    def __init__(self, pool: Interruptible, call: Call) -> None:
        self._pool = pool
        self._call = call

    @property
    def call(self) -> Call:
        return self._call

    def ready(self) -> bool:
        return self._call.ready()

    def wait(self, timeout: float | None = None) -> None:
        self._call.wait(self._pool, timeout)

    def successful(self) -> bool:
        if not self.ready():
            raise ValueError("result is not ready")
        report = self._call.require()
        return not report.failed

    def get(self, timeout: float | None = None) -> Report:
        if not self._call.wait(self._pool, timeout):
            raise TimeoutError("result is not ready")
        report = self._call.require()
        if report.interrupted:
            raise Interrupted(report)
        return report


class AsyncResult:
    """``apply_async``'s answer for one host: ``get()`` is its HostResult, whatever its
    status (per-host outcomes are data); ``successful()`` says whether it was ok."""

    def __init__(self, pool: Interruptible, call: Call) -> None:
        self._map = MapResult(pool, call)

    @property
    def call(self) -> Call:
        return self._map.call

    def ready(self) -> bool:
        return self._map.ready()

    def wait(self, timeout: float | None = None) -> None:
        self._map.wait(timeout)

    def successful(self) -> bool:
        return self._map.successful()

    def get(self, timeout: float | None = None) -> HostResult:
        return self._map.get(timeout).results[0]


def split_callbacks(
    callback: Callable[[HostResult], None] | None,
    error_callback: Callable[[BaseException], None] | None,
) -> Callable[[HostResult], None] | None:
    """The stdlib split: ok results to ``callback``, the rest as ``HostFailed`` to
    ``error_callback``; without an ``error_callback`` every result goes to ``callback``
    (nothing is dropped silently)."""
    if callback is None and error_callback is None:
        return None

    def route(result: HostResult) -> None:
        if result.ok or error_callback is None:
            if callback is not None:
                callback(result)
        else:
            error_callback(HostFailed(result))

    return route


def unordered(pool: Interruptible, call: Call) -> Iterator[HostResult]:
    """Each host's result as it finishes; Ctrl-C terminates and raises ``Interrupted``."""
    seen: set[str] = set()
    try:
        while len(seen) < len(call.ledger.entries):
            try:
                result = call.finished.get(timeout=WAIT_SLICE)
            except queue.Empty:
                if call.ready():  # the rest was settled without delivery (stopped early)
                    break
                continue
            seen.add(result.host)
            yield result
    except KeyboardInterrupt:
        pool.interrupt()
        raise Interrupted(call.require()) from None
    report = call.require()
    if report.interrupted:
        raise Interrupted(report)
    yield from (r for r in report.results if r.host not in seen)


def ordered(pool: Interruptible, call: Call) -> Iterator[HostResult]:
    """``imap``: results in target order, each as soon as it and those before it are in."""
    order = [e.target.name for e in call.ledger.entries.values()]
    pending: dict[str, HostResult] = {}
    position = 0
    for result in unordered(pool, call):
        pending[result.host] = result
        while position < len(order) and order[position] in pending:
            yield pending.pop(order[position])
            position += 1
