"""Persistent pools: a warm fleet that outlives one run (``hostpool exec --persist 10m``).

The server (``persist.server``) is one warm ``hostpool.Pool`` behind a private Unix
socket; clients (``persist.client``, the CLI) send each run's hosts to it and read the
results back, so a second command on the same fleet costs a channel per host, not a key
exchange.  ``runtime`` is where pools live and who may talk to them; ``protocol`` the
records they exchange.
"""

from hostpool.persist.client import PersistentPool, pools, stop
from hostpool.persist.protocol import PoolStatus

__all__ = ["PersistentPool", "PoolStatus", "pools", "stop"]
