"""A TCP relay that adds a fixed one-way delay, standing in for netem (absent here).

Run inside the bench namespace as ``python bench/relay.py --map 22:2200 --delay-ms 50``:
clients connect to ``<any 127.x>:22`` as usual, the relay connects to the *same*
address on port 2200 where sshd really listens, and every chunk waits ``delay`` in
each direction, so the round trip is 2 x delay.  Because the listen port stays 22 and the
destination address is unchanged, no tool needs a different port or known_hosts line.

Each direction keeps a FIFO of (due_time, bytes): the reader stamps chunks as they
arrive and the writer sends each one at its own due time.  Delays therefore overlap
(a stream of chunks is shifted by the delay, not by delay x chunks) and order holds.

``--echo-port P`` adds a local echo server on P, and ``ping_pong`` measures the round
trip through the relay to it, so a report can show the RTT that was really in force.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import statistics
import time

CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader -> writer, each chunk delivered ``delay`` after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def sender() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:  # EOF marker, delayed like data so a FIN never overtakes bytes
                with contextlib.suppress(OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(sender())
    try:
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await task
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task


async def _relay_conn(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    target_port: int,
    delay: float,
) -> None:
    dest = client_w.get_extra_info("sockname")[0]  # the 127.x the client dialled
    try:
        server_r, server_w = await asyncio.open_connection(dest, target_port)
    except OSError:
        client_w.close()
        return
    for w in (client_w, server_w):
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.gather(_pump(client_r, server_w, delay), _pump(server_r, client_w, delay))
    finally:
        for w in (client_w, server_w):
            w.close()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def serve(maps: list[tuple[int, int]], delay: float, echo_port: int | None) -> None:
    """Serve until SIGTERM/SIGINT: one listener on 0.0.0.0:src per (src, dst) pair."""
    servers = []
    for src, dst in maps:

        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, dst: int = dst) -> None:
            await _relay_conn(r, w, dst, delay)

        servers.append(await asyncio.start_server(handler, "0.0.0.0", src, backlog=4096))
    if echo_port is not None:
        servers.append(await asyncio.start_server(_echo, "127.0.0.1", echo_port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("relay ready", flush=True)
    await stop.wait()
    for s in servers:
        s.close()


def ping_pong(host: str, port: int, rounds: int = 10, timeout: float = 5.0) -> list[float]:
    """Round-trip times (ms) of 1-byte messages to an echo service on host:port."""
    rtts = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            t0 = time.perf_counter()
            sock.sendall(b"x")
            if sock.recv(1) != b"x":
                raise RuntimeError("echo returned something else")
            rtts.append((time.perf_counter() - t0) * 1000)
    return rtts


def _parse_map(text: str) -> tuple[int, int]:
    src, dst = text.split(":")
    return int(src), int(dst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--map",
        type=_parse_map,
        action="append",
        default=[],
        help="LISTEN_PORT:TARGET_PORT; the target address is the dialled one",
    )
    ap.add_argument("--delay-ms", type=float, required=True, help="one-way delay")
    ap.add_argument("--echo-port", type=int, help="also serve an echo on 127.0.0.1:PORT")
    ap.add_argument("--ping", metavar="HOST:PORT", help="only measure RTT to HOST:PORT")
    args = ap.parse_args()
    if args.ping:
        host, port = args.ping.rsplit(":", 1)
        print(f"median RTT {statistics.median(ping_pong(host, int(port))):.1f} ms")
        return
    if not args.map:
        ap.error("--map is required unless --ping is given")
    asyncio.run(serve(args.map, args.delay_ms / 1000, args.echo_port))


if __name__ == "__main__":
    main()
