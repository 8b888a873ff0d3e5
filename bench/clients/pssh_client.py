"""parallel-ssh (PyPI, libssh2 via ssh2-python) peer: ParallelSSHClient(pool_size=F).

parallel-ssh has no known_hosts support at all.  To keep "strict checking for every
tool", each session's host key is compared *after* the run with the key that
known_hosts lists for that address, and a mismatch marks the host failed.  That check
runs in this process, so its (small) CPU is counted; it cannot stop a connection to a
wrong host beforehand, which the README notes.
"""

from __future__ import annotations

import base64

from common import emit, parse_args, read_hosts
from pssh.clients import ParallelSSHClient


def load_known(path: str) -> dict[str, bytes]:
    known: dict[str, bytes] = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#"):
                for name in parts[0].split(","):
                    known[name] = base64.b64decode(parts[2])
    return known


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    hosts = read_hosts(args.hosts_file)
    known = load_known(args.known_hosts)
    client = ParallelSSHClient(
        hosts,
        user=args.user,
        pkey=args.key,
        port=args.port,
        pool_size=args.forks,
        allow_agent=False,
        num_retries=1,
        timeout=args.timeout,
    )
    output = client.run_command(args.command, stop_on_errors=False)
    client.join(output)
    for out in output:
        if out.exception is not None:
            emit(out.host, None, "", repr(out.exception))
            continue
        stdout = "\n".join(out.stdout) + "\n"
        hostkey, _ = out.client.session.hostkey()
        if known.get(out.host) != bytes(hostkey):
            emit(out.host, None, stdout, "host key does not match known_hosts")
            continue
        emit(out.host, out.exit_code, stdout)


if __name__ == "__main__":
    main()
