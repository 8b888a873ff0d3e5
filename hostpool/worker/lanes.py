"""Child side: the worker loop of a ``LanePool`` process, fanned out over lane threads.

Instead of the stdlib loop "take a task, run it, send the result", a lane worker runs the
initializer once, then a reader thread takes a task from the pool's queue only when one
of its ``per_worker`` lanes (threads) is free.  It still takes exactly one sentinel from
``close()`` and still exits after ``maxtasksperchild`` tasks, which is all the pool's
bookkeeping relies on.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import queue
import threading
from typing import Any

from hostpool.worker import sched

# The stdlib worker loop this replaces, and the tuple shapes it speaks:
# task = (job, i, func, args, kwds); result = (job, i, (ok, value)).
_stdlib: Any = multiprocessing.pool  # its worker helpers are not in the type stubs
STDLIB_WORKER = _stdlib.worker


def lane_worker(
    per_worker: int,
    inqueue: Any,
    outqueue: Any,
    initializer: Any = None,
    initargs: tuple[Any, ...] = (),
    maxtasks: int | None = None,
    wrap_exception: bool = False,
) -> None:
    """Child side: the stdlib worker loop, fanned out over ``per_worker`` lane threads.

    The reader is the main thread, so signal handlers (the worker's SIGTERM) still run
    while it waits on the queue.  It reads a task only when a lane is free: a process
    never holds tasks it cannot start while another process sits idle.
    """
    if hasattr(inqueue, "_writer"):
        inqueue._writer.close()
        outqueue._reader.close()
    identity = getattr(multiprocessing.current_process(), "_identity", ())  # 1, 2, ... per pool
    sched.confine(identity[-1] - 1 if identity else None)
    if initializer is not None:
        initializer(*initargs)
    # Free-lane tokens: a C-level queue is cheaper per task than threading.Semaphore's
    # Python Condition, and its blocking get() still lets signal handlers run.
    free: queue.SimpleQueue[None] = queue.SimpleQueue()
    for _ in range(per_worker):
        free.put(None)
    local: queue.SimpleQueue[Any] = queue.SimpleQueue()
    lanes = [
        threading.Thread(
            target=_lane, args=(local, outqueue, free, wrap_exception), name=f"lane-{n}"
        )
        for n in range(per_worker)
    ]
    for lane in lanes:
        lane.start()
    taken = 0
    try:
        while maxtasks is None or taken < maxtasks:
            free.get()
            try:
                task = inqueue.get()
            except (EOFError, OSError):
                break
            if task is None:
                break
            local.put(task)
            taken += 1
    finally:
        for _ in lanes:
            local.put(None)
        for lane in lanes:
            lane.join()


def _lane(
    local: queue.SimpleQueue[Any], outqueue: Any, free: queue.SimpleQueue[None], wrap: bool
) -> None:
    while (task := local.get()) is not None:
        job, i, func, args, kwds = task
        result: Any
        try:
            result = (True, func(*args, **kwds))
        except Exception as exc:
            wrapped = _stdlib.ExceptionWithTraceback(exc, exc.__traceback__) if wrap else exc
            result = (False, wrapped)
        try:
            outqueue.put((job, i, result))
        except Exception as exc:
            outqueue.put((job, i, (False, _stdlib.MaybeEncodingError(exc, result[1]))))
        task = result = None  # drop references before waiting, as the stdlib loop does
        free.put(None)
