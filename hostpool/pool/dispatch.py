"""Parent side: the dispatcher thread that drives the worker pool for every call.

Each host goes in with ``apply_async(run_task, (task,), callback=..., error_callback=...)``
within a window of twice the hosts in flight.  Those callbacks run on the pool's result
thread, so they only enqueue: a callback that raised would kill that thread and every
later result would be lost.  Everything else happens here, on one thread that owns every
call's ledger: submissions from any thread, answers, worker events and the parent's own
deadlines arrive in one inbox, so several threads may share a Pool.
"""

from __future__ import annotations

import functools
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable

from hostpool.errors import HostpoolError
from hostpool.models import Completion, HostKey, Lines, Started, Status
from hostpool.pool.callbacks import CallbackThread
from hostpool.pool.events import Waker
from hostpool.pool.ledger import EntryState
from hostpool.pool.recovery import Recovery
from hostpool.pool.results import Call
from hostpool.pool.seams import WAKE, Answer, Cancel, Engine, Stop, Wake
from hostpool.worker.entry import run_task


class Dispatcher:
    def __init__(
        self,
        start_engine: Callable[[], Engine],
        *,
        window: int,
        poll_interval: float,
        callbacks: CallbackThread,
        learn: Callable[[list[HostKey]], None],
    ) -> None:
        self._start_engine = start_engine
        self._engine: Engine | None = start_engine()
        self.window = max(1, window)
        self.poll = poll_interval
        self.callbacks = callbacks
        self.learn = learn
        self.inbox: queue.SimpleQueue[Call | Answer | Stop | Cancel | Wake] = queue.SimpleQueue()
        self._calls: list[Call] = []
        self._owner: dict[int, Call] = {}
        self._in_flight = 0
        self._stopping: Stop | None = None
        self._wedged = False
        self._suspects: set[int] = set()
        self._recovery = Recovery()
        self._waker = Waker(self._events_fd, lambda: self.inbox.put(WAKE))
        self._thread = threading.Thread(target=self._run, name="hostpool-dispatch", daemon=True)
        self._thread.start()

    def _events_fd(self) -> int | None:
        events = self._engine.events if self._engine is not None else None
        fileno = getattr(events, "fileno", None)
        try:
            # Only while a call streams lines: a wake-up per 'started' event would cost
            # every run thread switches per host, for bookkeeping the next tick does.
            streaming = any(call.on_lines is not None for call in self._calls)
            return int(fileno()) if callable(fileno) and streaming else None
        except (OSError, ValueError):
            return None

    # -- any thread --------------------------------------------------------------------
    def submit(self, call: Call) -> None:
        self.inbox.put(call)

    def stop(self, terminate: bool, message: str = "") -> None:
        self.inbox.put(Stop(terminate, message))

    def cancel(self, call: Call, message: str) -> None:
        self.inbox.put(Cancel(call, message))

    def join(self, timeout: float | None = None) -> None:
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def worker_pids(self) -> list[int]:
        engine = self._engine
        return engine.pids() if engine is not None else []

    # -- the dispatcher thread ---------------------------------------------------------
    def _run(self) -> None:
        try:
            while self._step():
                pass
        except BaseException as exc:  # a bug of ours: nobody else would answer these hosts
            traceback.print_exc(file=sys.stderr)
            self._stop_workers(terminate=True)
            self._finish_all(Status.ERROR, f"hostpool dispatcher failed: {exc!r}", now=True)
        finally:
            self._waker.stopped.set()
            self._waker.drained.set()

    def _step(self) -> bool:
        self._receive(self.poll if self._calls else None)
        self._dispatch_due()
        self._drain_events()
        now = time.monotonic()
        for call in self._calls:
            for seq in call.ledger.police(call.in_flight, now):
                self._finished(call, seq, now)
        restart = functools.partial(self._stop_workers, terminate=True)
        for call, seq in self._recovery.check(self._engine, self._calls, now, restart):
            call.in_flight.discard(seq)
            self._in_flight -= 1
            call.waiting.insert(0, seq)  # fresh workers start with the next dispatch
        self._absorb_settled()
        self._complete_done()
        stop = self._stopping
        if stop is not None and (stop.terminate or not self._calls):
            self._stop_workers(terminate=stop.terminate)
            message = stop.message or "interrupted: the pool was terminated"
            self._finish_all(Status.INTERRUPTED, message, now=stop.terminate)
            return False
        return True

    def _receive(self, timeout: float | None) -> None:
        """Everything in the inbox; worker events first, since a worker writes its events
        before it returns the answer that follows them (output lines before the end)."""
        try:
            messages = [self.inbox.get(timeout=timeout)]
        except queue.Empty:
            return
        while True:
            try:
                messages.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        self._drain_events()
        for message in messages:
            self._handle(message)

    def _handle(self, message: Call | Answer | Stop | Cancel | Wake) -> None:
        if isinstance(message, Wake):
            return
        if isinstance(message, Cancel):
            self._cancel(message)
            return
        if isinstance(message, Stop):
            if self._stopping is None or message.terminate:
                self._stopping = message
            return
        if isinstance(message, Call):
            if self._stopping is not None:
                message.interrupted = True
                message.ledger.fill(Status.INTERRUPTED, "not run: the pool was closing")
                message.complete(message.build_report())
                return
            self._calls.append(message)
            for seq in message.ledger.entries:
                self._owner[seq] = message
            return
        call = self._owner.get(message.seq)
        if call is None:
            return
        if isinstance(message.payload, Completion):
            done = call.ledger.completed(message.payload)
        else:
            done = call.ledger.failed(message.seq, message.attempt, message.payload)
        if done is not None:
            self._finished(call, done, time.monotonic())

    def _dispatch_due(self) -> None:
        if self._stopping is not None and self._stopping.terminate:
            return
        now = time.monotonic()
        for call in self._calls:
            while call.waiting and self._in_flight < self.window:
                entry = call.ledger.entries[call.waiting[0]]
                if entry.state is EntryState.DONE:  # answered while waiting (run limit)
                    call.waiting.pop(0)
                    continue
                if entry.not_before > now:
                    break
                call.waiting.pop(0)
                self._send(call, entry.seq)
            if self._in_flight >= self.window:
                return

    def _send(self, call: Call, seq: int) -> None:
        if self._engine is None:  # stopped after a max-fail: fresh workers for the rest
            self._engine = self._start_engine()
        entry = call.ledger.entries[seq]
        entry.state = EntryState.DISPATCHED
        task = entry.task
        inbox = self.inbox

        def on_done(completion: Completion) -> None:
            inbox.put(Answer(task.seq, task.attempt, completion))

        def on_error(exc: BaseException) -> None:
            inbox.put(Answer(task.seq, task.attempt, f"{type(exc).__name__}: {exc}"))

        call.in_flight.add(seq)
        self._in_flight += 1
        self._engine.pool.apply_async(run_task, (task,), callback=on_done, error_callback=on_error)

    def _drain_events(self) -> None:
        """Which PID runs which host, and live output lines."""
        events = self._engine.events if self._engine is not None else None
        if events is None:
            return
        for _ in range(10000):
            try:
                if events.empty():
                    self._waker.drained.set()
                    return
                event = events.get()
            except (OSError, EOFError, ValueError):
                return
            call = self._owner.get(event.seq)
            if call is None:
                continue
            if isinstance(event, Started):
                call.ledger.started(event, time.monotonic())
            elif isinstance(event, Lines) and call.on_lines is not None:
                self.callbacks.submit(
                    functools.partial(call.on_lines, event.host, event.stream, event.lines)
                )

    def _finished(self, call: Call, seq: int, now: float) -> None:
        if seq not in call.in_flight:
            return
        call.in_flight.discard(seq)
        self._in_flight -= 1
        ledger = call.ledger
        if ledger.retry(seq, now):
            call.waiting.append(seq)
            call.waiting.sort(key=lambda s: ledger.entries[s].not_before)
            return
        result = ledger.entries[seq].result
        assert result is not None
        call.failures += result.status is not Status.OK
        self.callbacks.submit(functools.partial(call.deliver, result))
        max_fail = ledger.policy.max_fail
        if max_fail is not None and call.failures >= max_fail and not ledger.done:
            self._stop_early(call)

    def _stop_early(self, culprit: Call) -> None:
        """A call hit its failure threshold: its workers are stopped (running commands
        with them), its unfinished hosts are ``interrupted``; other calls in flight lose
        theirs too, and later calls get fresh workers."""
        culprit.stopped_early = True
        self._stop_workers(terminate=True)
        message = f"not run: stopped after {culprit.failures} failures"
        culprit.ledger.fill(Status.INTERRUPTED, message)
        for call in self._calls:
            if call is not culprit:
                call.ledger.fill(Status.INTERRUPTED, "interrupted: another call stopped the pool")
            self._in_flight -= len(call.in_flight)
            call.in_flight.clear()
            call.waiting.clear()

    def _cancel(self, cancel: Cancel) -> None:
        """The call's hosts are answered for now; its running commands are stopped by
        the workers themselves (``cancels``; Ray actors have no board and run them to
        their end).  Late answers find no owner and are dropped."""
        call = cancel.call
        if call not in self._calls or call.ledger.done:
            return
        call.interrupted = True
        if call.in_flight and self._engine is not None:
            self._engine.cancel(*call.ledger.seq_range)
        call.ledger.cancel(cancel.message)
        self._in_flight -= len(call.in_flight)
        call.in_flight.clear()
        call.waiting.clear()

    def _absorb_settled(self) -> None:
        """Hosts the parent answered for leave their workers suspect: terminate, not join."""
        for call in self._calls:
            if call.ledger.wedged:
                self._wedged = True
            self._suspects |= call.ledger.suspects
            call.ledger.suspects = set()

    def _complete_done(self) -> None:
        for call in [c for c in self._calls if c.ledger.done]:
            self._calls.remove(call)
            for seq in call.ledger.entries:
                self._owner.pop(seq, None)
            self._learn(call)
            report = call.build_report()
            self.callbacks.submit(functools.partial(call.complete, report), essential=True)

    def _learn(self, call: Call) -> None:
        learnt = call.ledger.learnt()
        if not learnt:
            return
        try:
            self.learn(learnt)
        except HostpoolError as exc:
            call.error = exc

    def _stop_workers(self, terminate: bool) -> None:
        engine, self._engine = self._engine, None
        self._absorb_settled()
        suspects, self._suspects = self._suspects, set()
        if engine is None:
            return
        if terminate:
            engine.terminate(suspects)
        else:
            engine.close(self._wedged, suspects)
        self._wedged = False

    def _finish_all(self, status: Status, message: str, now: bool) -> None:
        """Terminate or a failure: every call ends at once, without its pending callbacks."""
        if now:
            self.callbacks.discard()
        for call in self._calls:
            if not call.ledger.done:
                call.interrupted = status is Status.INTERRUPTED
                call.ledger.fill(status, message)
            call.complete(call.build_report())
        self._calls.clear()
        self._owner.clear()
        self._in_flight = 0
