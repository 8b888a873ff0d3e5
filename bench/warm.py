"""Warm fleet (issue 18): a second command on a persistent pool against a cold run.

    sudo python bench/warm.py                       # N=500 F=32, loopback and 100 ms RTT
    sudo python bench/warm.py --sizes 500 --forks 32,128 --repeats 3 --rtt-ms 0

Inside the bench namespace (``lab``: one sshd answering on 127.x, a delay relay for
RTT mode), per repeat and interleaved: a cold ``hostpool exec`` (default flags), then a
``--persist`` run that starts a pool (wall only: it starts the server), then a second
``--persist`` run on that pool.  Every run must print ``ok`` for every host; the warm
run must also say ``connections: 0`` for every host (no host reconnected).

CPU is client + server, both whole trees: the CLI's tree through ``measure`` (cgroup or
wait4 plus orphans), the pool server's tree (server, forkserver, workers: alive across
runs, so read from /proc before and after), and sshd's tree (live per-connection
sessions included: a warm connection's sshd does not exit, so its CPU never reaches the
master's cutime).  Memory of the idle pool is the PSS of its whole tree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_PYTHON = BENCH_DIR / ".venv" / "bin" / "python"
HOSTPOOL_PY_ENV = "HPBENCH_HOSTPOOL_PYTHON"
SETTLE_S = 0.5


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="500")
    ap.add_argument("--forks", default="32")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rtt-ms", type=float, default=100.0, help="0: loopback only")
    ap.add_argument("--out", default=str(BENCH_DIR / "results" / "warm-latest.md"))
    return ap.parse_args(argv)


def tree_cpu(pid: int) -> float:
    """utime+stime+cutime+cstime over the live tree under ``pid`` (psutil)."""
    import psutil
    from lab import proc_cpu_seconds

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return 0.0
    return sum(proc_cpu_seconds(p.pid) for p in procs)


def tree_pss_kb(pid: int) -> int:
    import psutil

    total = 0
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().pss // 1024
    return total


@dataclass(frozen=True)
class Figures:
    """One measured run: seconds of wall and of CPU per side."""

    label: str
    wall: float
    client: float
    pool: float
    sshd: float
    valid: bool
    detail: str

    @property
    def cpu(self) -> float:
        return self.client + self.pool + self.sshd


@dataclass(frozen=True)
class Row:
    mode: str
    n: int
    forks: int
    rep: int
    cold: Figures
    warm: Figures
    first_wall: float
    idle_pss_kb: int


class Warm:
    def __init__(self, args: argparse.Namespace, hostpool_python: str) -> None:
        import lab as labmod

        self.args = args
        self.python = hostpool_python
        self.lab = labmod.Lab()
        self.relay: subprocess.Popen[bytes] | None = None
        self.runtime = self.lab.root / "runtime"
        self.runtime.mkdir(mode=0o700)
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"},
            "PYTHONPATH": str(REPO),
            "HOSTPOOL_RUNTIME_DIR": str(self.runtime),
            "HOSTPOOL_STATE_DIR": str(self.lab.root / "state"),
        }
        self.rows: list[Row] = []
        self.sshd_floor = 0.0

    def argv(self, n: int, forks: int, *extra: str) -> list[str]:
        return [
            self.python,
            "-c",
            "import sys; from hostpool.cli.app import main; sys.argv[0] = 'hostpool'; main()",
            "exec",
            "-i",
            str(self.lab.inventory(n, 22)),
            "-f",
            str(forks),
            "--known-hosts",
            str(self.lab.known_hosts),
            "--ssh-config",
            "none",
            "-o",
            "json",
            *extra,
            "echo ok",
        ]

    def pool_pid(self) -> int:
        code = "import hostpool.persist as p; print(' '.join(str(s.pid) for s in p.pools()))"
        out = subprocess.run(
            [self.python, "-c", code], env=self.env, capture_output=True, text=True, timeout=60
        ).stdout.split()
        return int(out[0]) if out else 0

    def stop_pools(self) -> None:
        code = "import hostpool.persist as p; p.stop()"
        subprocess.run([self.python, "-c", code], env=self.env, timeout=60, check=False)

    def run(self, label: str, argv: list[str], n: int, warm: bool, pool: int) -> Figures:
        from measure import run_measured

        protected = {p.pid for p in (self.lab.sshd_proc, self.relay) if p is not None}
        if pool:
            import psutil

            protected |= {pool, *(c.pid for c in psutil.Process(pool).children(recursive=True))}
        time.sleep(SETTLE_S)
        sshd0, pool0 = tree_cpu(self.lab.sshd_proc.pid), tree_cpu(pool) if pool else 0.0
        m = run_measured(
            argv,
            env=self.env,
            cwd=self.lab.root,
            out_dir=self.lab.root / "runs",
            label=label,
            timeout_s=300,
            protected=protected,
        )
        time.sleep(SETTLE_S)
        sshd1, pool1 = tree_cpu(self.lab.sshd_proc.pid), tree_cpu(pool) if pool else 0.0
        client = m.cgroup_cpu_s if m.cgroup_cpu_s is not None else m.cpu_s
        results = json.loads(m.stdout.read_text() or "{}").get("results", [])
        ok = sum(r["status"] == "ok" and r["stdout"] == "ok\n" for r in results)
        reconnected = sum(r.get("connections", 1) for r in results)
        valid = ok == n and m.returncode == 0 and (not warm or reconnected == 0)
        detail = f"{ok}/{n} ok, {reconnected} connections"
        if warm and reconnected:
            again = [str(r["host"]) for r in results if r.get("connections")]
            detail += f" ({', '.join(again[:3])})"
        return Figures(label, m.wall_s, client, pool1 - pool0, sshd1 - sshd0, valid, detail)

    def first_run(self, argv: list[str]) -> float:
        """The run that starts the pool: wall only (the server it leaves is not its tree)."""
        t0 = time.perf_counter()
        done = subprocess.run(
            argv, env=self.env, cwd=self.lab.root, capture_output=True, timeout=300
        )
        wall = time.perf_counter() - t0
        results = json.loads(done.stdout or "{}").get("results", [])
        odd = [(r["host"], r["status"], r["error"][:80]) for r in results if r["status"] != "ok"]
        if odd or len(results) != len(argv and results):
            print(f"first run: {len(odd)} not ok: {odd[:3]}", file=sys.stderr, flush=True)
        return wall

    def floor(self, commands: int = 200) -> float:
        """sshd's own CPU per command on an open connection, no wrapper at all (raw
        ``echo ok``, one after another): what no client can go below."""
        import paramiko

        key = paramiko.Ed25519Key.from_private_key_file(str(self.lab.client_key))
        transport = paramiko.Transport(("127.0.1.1", self.lab.sshd_port))
        try:
            transport.connect(username=self.lab.user, pkey=key)
            time.sleep(SETTLE_S)
            before = tree_cpu(self.lab.sshd_proc.pid)
            for _ in range(commands):
                channel = transport.open_session()
                channel.exec_command("echo ok")
                channel.makefile().read()
                channel.recv_exit_status()
                channel.close()
            time.sleep(SETTLE_S)
            return (tree_cpu(self.lab.sshd_proc.pid) - before) / commands
        finally:
            transport.close()

    def cell(self, mode: str, n: int, forks: int, rep: int) -> None:
        name = f"{mode}-{n}-{forks}"
        persisting = self.argv(n, forks, "--persist", "10m")
        cold = self.run(f"{name}-cold-{rep}", self.argv(n, forks), n, False, 0)
        first = self.first_run(persisting)
        pool = self.pool_pid()
        warm = self.run(f"{name}-warm-{rep}", persisting, n, True, pool)
        idle = tree_pss_kb(pool) if pool else 0
        self.stop_pools()
        self.rows.append(Row(mode, n, forks, rep, cold, warm, first, idle))
        print(
            f"[{time.strftime('%H:%M:%S')}] {name} #{rep}: cold {cold.wall:.2f}s "
            f"first {first:.2f}s warm {warm.wall:.2f}s ({warm.detail}); cpu cold "
            f"{cold.cpu:.2f}s warm {warm.cpu:.2f}s; idle pool {idle // 1024} MB",
            file=sys.stderr,
            flush=True,
        )

    def main(self) -> None:
        import lab as labmod

        sizes = [int(x) for x in self.args.sizes.split(",")]
        forks = [int(x) for x in self.args.forks.split(",")]
        self.lab.prepare(max(sizes))
        labmod.mask_shell_rc(self.lab.user, self.lab.root / "empty-rc")
        self.lab.start_sshd(22)
        self.sshd_floor = self.floor()
        try:
            modes = ["loopback"] + ([f"rtt{self.args.rtt_ms:g}ms"] if self.args.rtt_ms else [])
            for mode in modes:
                if mode != "loopback":
                    self.relay = self.lab.start_relay(self.args.rtt_ms)
                for rep in range(1, self.args.repeats + 1):
                    for n in sizes:
                        for f in forks:
                            self.cell(mode, n, f, rep)
        finally:
            self.stop_pools()
            if self.relay is not None:
                labmod.stop_process(self.relay)
            self.lab.stop(keep_dir=bool(os.environ.get("HPWARM_KEEP")))
        self.report()

    def report(self) -> None:
        lines = [
            "# Warm fleet: a second command on a persistent pool vs a cold run",
            "",
            f"`python bench/warm.py --sizes {self.args.sizes} --forks {self.args.forks} "
            f"--repeats {self.args.repeats} --rtt-ms {self.args.rtt_ms:g}`, "
            f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs; medians over repeats. "
            "CPU = client tree + pool tree + sshd tree (live sessions included). "
            f"sshd's own CPU per raw command on an open connection (the floor of any warm "
            f"command): {self.sshd_floor * 1000:.2f} ms.",
            "",
            "| mode | N | F | cold wall | first --persist wall | warm wall | wall ratio | "
            "cold CPU | warm CPU | CPU ratio | idle pool PSS | valid |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        cells: dict[tuple[str, int, int], list[Row]] = {}
        for row in self.rows:
            cells.setdefault((row.mode, row.n, row.forks), []).append(row)
        med = statistics.median
        for (mode, n, f), rows in cells.items():
            cold_w, warm_w = med(r.cold.wall for r in rows), med(r.warm.wall for r in rows)
            cold_c, warm_c = med(r.cold.cpu for r in rows), med(r.warm.cpu for r in rows)
            first_w = med(r.first_wall for r in rows)
            idle = med(r.idle_pss_kb for r in rows)
            valid = all(r.cold.valid and r.warm.valid for r in rows)
            lines.append(
                f"| {mode} | {n} | {f} | {cold_w:.2f} s | {first_w:.2f} s | {warm_w:.2f} s | "
                f"**{warm_w / cold_w:.2f}x** | {cold_c:.2f} s | {warm_c:.2f} s | "
                f"**{warm_c / cold_c:.2f}x** | {idle / 1024:.0f} MB | {'yes' if valid else 'NO'} |"
            )
        text = "\n".join(lines) + "\n"
        Path(self.args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(self.args.out).write_text(text)
        rows = [asdict(r) for r in self.rows]
        Path(self.args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1))
        print(text)


def main() -> None:
    sys.path.insert(0, str(BENCH_DIR))
    import lab

    if not lab.in_namespace():
        parse_args(sys.argv[1:])
        if not VENV_PYTHON.exists():
            sys.exit("bench/.venv is missing: run `bash bench/setup.sh` first")
        hp_python = os.environ.get(HOSTPOOL_PY_ENV, sys.executable)
        lab.reexec_in_namespace(
            str(VENV_PYTHON), [__file__, *sys.argv[1:]], {HOSTPOOL_PY_ENV: hp_python}
        )
    lab.namespace_setup()
    Warm(parse_args(sys.argv[1:]), os.environ[HOSTPOOL_PY_ENV]).main()


if __name__ == "__main__":
    main()
