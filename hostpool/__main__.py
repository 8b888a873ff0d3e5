"""``python -m hostpool``: the CLI without a console script.

Preferred over ``python -m hostpool.cli``: multiprocessing skips re-running a
``__main__`` module in each worker, so workers start without re-importing the CLI.
"""

from hostpool.cli.app import main

main()
