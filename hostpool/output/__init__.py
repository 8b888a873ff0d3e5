"""Parent side: everything a run shows (tabulate is imported here only).

``modes`` is the registry of output modes; ``display`` wires a run's callbacks to one;
``terminal`` decides what may reach a TTY; ``table``, ``gather``, ``stream`` and
``machine`` draw; ``files`` writes ``--out-dir``; ``progress`` and ``nodeset`` help.
"""
