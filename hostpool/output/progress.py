"""Parent side: the live ``done/total`` line on stderr for runs that take a while.

A timer thread redraws it because the runner only calls back when a host finishes, and a
stalled run is exactly when the elapsed time matters.  Anything else printing to the
terminal takes ``paused()`` first, so the progress line never splits an output line.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TextIO

DELAY = 1.0  # short runs never show a progress line
INTERVAL = 0.2


class Progress:
    def __init__(self, total: int, stream: TextIO, *, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.label = ""
        self._stream = stream
        self._enabled = enabled
        self._lock = threading.RLock()
        self._shown = False
        self._last = ""
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread: threading.Thread | None = None

    def start(self) -> Progress:
        if self._enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="hostpool-progress", daemon=True
            )
            self._thread.start()
        return self

    def batch(self, index: int, count: int) -> None:
        with self._lock:
            self.label = f"batch {index}/{count}, "

    def update(self, ok: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1

    def text(self) -> str:
        elapsed = time.monotonic() - self._start
        failed = f", {self.failed} failed" if self.failed else ""
        return f"hostpool: {self.label}{self.done}/{self.total} done{failed}, {elapsed:.0f}s"

    def _loop(self) -> None:
        if self._stop.wait(DELAY):
            return
        while not self._stop.is_set():
            with self._lock:
                text = self.text()
                if not self._shown or text != self._last:
                    self._stream.write("\r\x1b[K" + text)
                    self._stream.flush()
                    self._shown, self._last = True, text
            self._stop.wait(INTERVAL)

    def _clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Clear the line while the caller prints; the timer redraws it afterwards."""
        with self._lock:
            self._clear()
            yield

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._clear()
