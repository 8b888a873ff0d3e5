"""Fabric peer: ThreadingGroup.run over all hosts.

Fabric has no concurrency limit: ThreadingGroup starts one thread per host, so ``--forks``
is ignored (the README says so).  Fabric's Connection sets paramiko's AutoAddPolicy; it is
replaced by RejectPolicy, and each client gets its host's key from one shared parse of
known_hosts (loading the file per connection would cost O(hosts^2) key parsing).
"""

from __future__ import annotations

import paramiko
from common import emit, parse_args, read_hosts
from fabric import ThreadingGroup
from fabric.exceptions import GroupException


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    hosts = read_hosts(args.hosts_file)
    known = paramiko.HostKeys(args.known_hosts)
    group = ThreadingGroup(
        *hosts,
        user=args.user,
        port=args.port,
        connect_timeout=args.timeout,
        connect_kwargs={"key_filename": args.key, "allow_agent": False, "look_for_keys": False},
    )
    for conn in group:
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        for keytype, key in (known.lookup(conn.host) or {}).items():
            conn.client.get_host_keys().add(conn.host, keytype, key)
    try:
        results = group.run(args.command, hide=True, warn=True)
    except GroupException as e:
        results = e.result
    for conn, res in results.items():
        if isinstance(res, Exception):
            emit(conn.host, None, "", repr(res))
        else:
            emit(conn.host, res.exited, res.stdout)
    group.close()


if __name__ == "__main__":
    main()
