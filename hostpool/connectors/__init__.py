"""Child side: transports behind one protocol (``base.Connector``): ssh, local, docker.

Everything above a connector (the output pump, copy, fetch) is written once against the
protocol; ``worker.task`` is the one place a ``Connection`` picks its class.  paramiko is
imported only by the ssh modules (the forkserver preloads them).
"""
