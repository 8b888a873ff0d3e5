"""Child side: what runs inside pool worker processes.

``entry`` holds the functions the pool pickles by reference (importable in the parent
without paramiko); ``task`` is the per-process state and the task function; ``pump``
drains any connector's command; ``classify`` maps failures to statuses; ``output``
collects bytes; ``command`` composes shell lines; ``lanes`` and ``sched`` are the worker
loop that runs several hosts per process.
"""
