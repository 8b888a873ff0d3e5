"""Stream mode throughput against ``ssh | sed``: 20 MB of lines from one host.

The peer is what a user would type for one host, ``ssh host cat FILE | sed 's/^/h0 | /'``;
hostpool is ``hostpool exec -o stream`` (the same prefix, stderr apart).  Both write to
/dev/null, interleaved, three rounds each; the ratio is of the medians.  Run from the repo
root: ``python bench/stream.py`` (starts its own sshd on 127.0.0.1, nothing else).
"""

from __future__ import annotations

import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.sshd import start_lab

ROUNDS = 3


def timed(argv: list[str] | str, shell: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(argv, shell=shell, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    root = pathlib.Path(tempfile.mkdtemp(prefix="hp-stream-"))
    lab = start_lab(root, n_addresses=1)
    try:
        data = root / "lines.txt"
        with data.open("w") as fh:
            for i in range(700_000):
                fh.write(f"{i:09d} the quick brown fox\n")
        size = data.stat().st_size
        inventory = lab.inventory(root / "hosts.ini", n=1)
        ssh = (
            f"ssh -q -i {lab.client_key} -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o UserKnownHostsFile={lab.known_hosts} -F none -p {lab.port} "
            f"{lab.user}@{lab.addresses[0]} cat {data} | sed 's/^/h0 | /'"
        )
        hostpool = [
            sys.executable, "-m", "hostpool", "exec", "-i", str(inventory), "--known-hosts",
            str(lab.known_hosts), "--ssh-config", "none", "-o", "stream", "-n",
            "--output-limit", str(2 * size), f"cat {data}",
        ]  # fmt: skip
        peer: list[float] = []
        ours: list[float] = []
        for _ in range(ROUNDS):
            peer.append(timed(ssh, shell=True))
            ours.append(timed(hostpool))
        p, o = statistics.median(peer), statistics.median(ours)
        print(f"{size / 1e6:.1f} MB of lines, {ROUNDS} interleaved rounds, medians:")
        print(f"  ssh | sed          {p:6.2f} s  ({size / p / 1e6:6.1f} MB/s)")
        print(f"  hostpool -o stream {o:6.2f} s  ({size / o / 1e6:6.1f} MB/s)")
        print(f"  ratio hostpool/ssh|sed: {o / p:.2f}")
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
