"""Parent side: the public Pool and what drives it.

``pool`` (the ``multiprocessing.Pool`` vocabulary), ``dispatch`` (apply_async per host,
callbacks that only enqueue), ``ledger`` (one entry per host, the parent's own deadlines),
``lanes`` (a Pool whose processes drive several hosts each), ``events`` (the worker ->
parent channel), ``processes`` (bounded stops), ``engines`` and ``ray_*`` (Ray actors).

Deliberately empty of imports: a worker unpickling the events channel imports
``hostpool.pool.events``, and must not drag the parent's half in with this package.
"""
