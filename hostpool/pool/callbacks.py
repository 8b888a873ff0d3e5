"""Parent side: the one thread that runs user callbacks, one at a time, in order.

Never multiprocessing's result-handler thread (a callback that raised there would kill
it and every later result would be lost) and never the dispatcher (a slow callback
would stall dispatch and policing).  A raising callback is reported on stderr and the
run goes on.
"""

from __future__ import annotations

import queue
import sys
import threading
import traceback
from collections.abc import Callable

STOP_GRACE = 10.0  # a callback still running after close gets this long

_Item = tuple[Callable[[], None], bool] | None  # (callable, essential)


class CallbackThread:
    def __init__(self, name: str = "hostpool-callbacks") -> None:
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.errors = 0
        self._thread.start()

    def submit(self, item: Callable[[], None], *, essential: bool = False) -> None:
        """``essential`` items (a call's completion) survive ``discard``."""
        self._queue.put((item, essential))

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                item[0]()
            except Exception:  # the user's; reported, never fatal
                self.errors += 1
                print("hostpool: a callback raised; the run goes on:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)

    def discard(self) -> None:
        """Drop observer calls not run yet (after terminate nobody waits for them); keep
        completions, in order, since a caller may be waiting for those."""
        kept: list[_Item] = []
        try:
            while True:
                item = self._queue.get_nowait()
                if item is None or item[1]:
                    kept.append(item)
        except queue.Empty:
            pass
        for item in kept:
            self._queue.put(item)

    @property
    def current(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        self._queue.put(None)
        if not self.current:
            self._thread.join(STOP_GRACE)
