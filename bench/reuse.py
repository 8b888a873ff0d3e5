"""How often a warm Pool reuses a connection: 20 calls on 5 hosts, counted from the sshd side.

Each remote shell prints the sshd process serving its connection (its grandparent: the
parent is the lifeline wrapper, tests/procs.STARTER): the number of
distinct values is the number of connections made.  Run from the repo root:
``python bench/reuse.py`` (starts its own sshd on 127.0.0.1-5, nothing else).
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import hostpool
from tests.procs import STARTER
from tests.sshd import start_lab


def main() -> None:
    lab = start_lab(pathlib.Path(tempfile.mkdtemp(prefix="hp-reuse-")), n_addresses=5)
    try:
        hosts = lab.targets(5)
        for forks, processes in ((5, None), (5, 5), (32, None)):
            sessions: set[bytes] = set()
            total = 0
            with hostpool.Pool(lab.options(), forks=forks, processes=processes) as pool:
                for _ in range(20):
                    report = pool.map(f"echo {STARTER}", hosts)
                    assert report.exit_code() == 0, report.results
                    sessions |= {r.stdout for r in report}
                    total += len(report)
            print(
                f"forks={forks} processes={pool.processes}: {total} commands, "
                f"{len(sessions)} connections, reused {total - len(sessions)}/{total}"
            )
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
