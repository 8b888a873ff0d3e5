"""Parent side: driving a Pool-shaped object through one call's ledger.

Each host goes in with ``apply_async(run_task, (task,), callback=..., error_callback=...)``
within a window of twice the hosts in flight.  Callbacks run on the pool's result thread,
so they only enqueue: a callback that raised would kill that thread and every later result
would be lost.  Everything else (observers, policing, retries) happens on the driving
thread, between waits of at most ``Timing.poll_interval``.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hostpool.models import Completion, Event, HostResult, Lines, Started, Status, Stream, Task
from hostpool.pool.ledger import EntryState, Ledger
from hostpool.worker.entry import run_task

LineHandler = Callable[[str, Stream, bytes], None]
ResultHandler = Callable[[HostResult], None]


class AsyncResultLike(Protocol):
    def ready(self) -> bool: ...


class PoolLike(Protocol):
    """What the dispatcher needs: ``multiprocessing.Pool``, ``LanePool`` and ``RayPool``."""

    def apply_async(
        self,
        func: Callable[[Task], Completion],
        args: tuple[Task],
        *,
        callback: Callable[[Completion], None],
        error_callback: Callable[[BaseException], None],
    ) -> AsyncResultLike: ...

    def close(self) -> None: ...
    def terminate(self) -> None: ...
    def join(self) -> None: ...


class EventSource(Protocol):
    """The parent end of the worker -> parent events channel."""

    def empty(self) -> bool: ...
    def get(self) -> Event: ...


@dataclass(frozen=True, slots=True)
class Observers:
    on_result: ResultHandler | None = None
    on_line: LineHandler | None = None


_Message = tuple[int, int, Completion | str]  # (seq, attempt, completion or error text)


class Dispatcher:
    """One call: dispatch, collect, police, retry, until every host has its entry done."""

    def __init__(
        self,
        pool: PoolLike,
        events: EventSource | None,
        ledger: Ledger,
        *,
        window: int,
        observers: Observers = Observers(),
    ) -> None:
        self.pool = pool
        self.events = events
        self.ledger = ledger
        self.window = max(1, window)
        self.observers = observers
        self._inbox: queue.SimpleQueue[_Message] = queue.SimpleQueue()

    def drive(self) -> bool:
        """Returns True when the call stopped early on its failure threshold; the caller
        then terminates the pool and fills the rest (its workers may still run them)."""
        ledger = self.ledger
        max_fail = ledger.policy.max_fail
        waiting = list(ledger.entries)  # seqs not yet dispatched, in dispatch order
        in_flight: set[int] = set()
        failures = 0
        last_check = time.monotonic()
        while waiting or in_flight:
            now = time.monotonic()
            while waiting and len(in_flight) < self.window:
                if ledger.entries[waiting[0]].not_before > now:
                    break
                seq = waiting.pop(0)
                self._dispatch(seq)
                in_flight.add(seq)
            finished = self._collect()
            self._drain_events()
            now = time.monotonic()
            if now - last_check >= ledger.timing.poll_interval:
                last_check = now
                finished += ledger.police(in_flight, now)
            for seq in finished:
                if seq not in in_flight:
                    continue
                in_flight.discard(seq)
                if ledger.retry(seq, now):
                    waiting.append(seq)
                    waiting.sort(key=lambda s: ledger.entries[s].not_before)
                    continue
                result = ledger.entries[seq].result
                assert result is not None
                failures += result.status is not Status.OK
                if self.observers.on_result is not None:
                    self.observers.on_result(result)
            if max_fail is not None and failures >= max_fail and (waiting or in_flight):
                return True
        return False

    def _dispatch(self, seq: int) -> None:
        entry = self.ledger.entries[seq]
        entry.state = EntryState.DISPATCHED
        task = entry.task
        inbox = self._inbox

        def on_done(completion: Completion) -> None:
            inbox.put((task.seq, task.attempt, completion))

        def on_error(exc: BaseException) -> None:
            inbox.put((task.seq, task.attempt, f"{type(exc).__name__}: {exc}"))

        self.pool.apply_async(run_task, (task,), callback=on_done, error_callback=on_error)

    def _collect(self) -> list[int]:
        """Wait briefly for the callbacks' messages; returns the seqs that got an answer."""
        finished: list[int] = []
        timeout: float | None = self.ledger.timing.poll_interval
        while True:
            try:
                if timeout is None:
                    seq, attempt, payload = self._inbox.get_nowait()
                else:
                    seq, attempt, payload = self._inbox.get(timeout=timeout)
            except queue.Empty:
                return finished
            timeout = None
            if isinstance(payload, Completion):
                done = self.ledger.completed(payload)
            else:
                done = self.ledger.failed(seq, attempt, payload)
            if done is not None:
                finished.append(done)

    def _drain_events(self) -> None:
        """Which PID runs which host, and live output lines."""
        events = self.events
        if events is None:
            return
        for _ in range(10000):
            try:
                if events.empty():
                    return
                event = events.get()
            except (OSError, EOFError, ValueError):
                return
            if isinstance(event, Started):
                self.ledger.started(event, time.monotonic())
            elif isinstance(event, Lines) and self.observers.on_line is not None:
                for line in event.lines:
                    self.observers.on_line(event.host, event.stream, line)
