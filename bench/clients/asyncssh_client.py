"""asyncssh peer: asyncio.gather over all hosts, concurrency bounded by Semaphore(F).

known_hosts and the client key are parsed once and shared (``read_known_hosts`` /
``read_private_key``), as a careful asyncssh user would: passing the file *path* makes
asyncssh re-read the whole file for every connection.  Checking is still strict.
"""

from __future__ import annotations

import asyncio

import asyncssh
from common import emit, parse_args, read_hosts


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    hosts = read_hosts(args.hosts_file)
    known = asyncssh.read_known_hosts(args.known_hosts)
    key = asyncssh.read_private_key(args.key)
    sem = asyncio.Semaphore(args.forks)

    async def one(host: str) -> None:
        async with sem:
            try:
                async with asyncssh.connect(
                    host,
                    port=args.port,
                    username=args.user,
                    client_keys=[key],
                    known_hosts=known,
                    agent_path=None,
                    config=[],
                    connect_timeout=args.timeout,
                ) as conn:
                    r = await conn.run(args.command, check=False)
                    emit(host, r.exit_status, str(r.stdout))
            except (TimeoutError, OSError, asyncssh.Error) as e:
                emit(host, None, "", repr(e))

    await asyncio.gather(*(one(h) for h in hosts))


if __name__ == "__main__":
    asyncio.run(main())
