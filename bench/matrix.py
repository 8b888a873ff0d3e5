"""The benchmark proper, run inside the namespace: lab up, tool x N x F matrix, report.

Repeats are interleaved (rep 1 of every tool, then rep 2, ...) with the tool order
rotated each time, so slow drift of the machine does not favour whichever tool went first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lab as labmod
from measure import run_measured
from relay import ping_pong
from report import RunRecord, aggregate, markdown, to_json
from tools import ALL_TOOLS, Ctx, Tool

RELAY_ECHO_PORT = labmod.RELAY_ECHO_PORT
SETTLE_S = 0.5  # let sshd reap its per-connection children before reading its CPU
Key = tuple[str, int, int, str]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, bench_python: str, hostpool_python: str):
        self.args = args
        self.bench_python = bench_python
        self.hostpool_python = hostpool_python
        self.lab = labmod.Lab()
        self.relay: subprocess.Popen[bytes] | None = None
        self.records: list[RunRecord] = []
        self.skipped: dict[Key, str] = {}
        self.t0 = time.monotonic()
        self.base_env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}

    # -- helpers -------------------------------------------------------------------
    def protected(self) -> set[int]:
        procs = (self.lab.sshd_proc, self.relay)
        return {p.pid for p in procs if p is not None}

    def relay_cpu(self) -> float:
        return labmod.proc_cpu_seconds(self.relay.pid) if self.relay else 0.0

    def over_budget(self) -> bool:
        budget_s: float = self.args.budget_min * 60
        return time.monotonic() - self.t0 > budget_s

    def run_once(self, tool: Tool, mode: str, n: int, forks: int, rep: int) -> RunRecord:
        ctx = Ctx(self.lab, n, forks, self.bench_python, self.hostpool_python)
        argv, extra = tool.command(ctx)
        time.sleep(SETTLE_S)
        sshd0, relay0 = self.lab.sshd_cpu(), self.relay_cpu()
        m = run_measured(
            argv,
            env={**self.base_env, **extra},
            cwd=self.lab.root,
            out_dir=self.lab.root / "runs",
            label=f"{mode}-{n}-{forks}-{tool.name}-{rep}",
            timeout_s=self.args.timeout,
            protected=self.protected(),
        )
        time.sleep(SETTLE_S)
        sshd1, relay1 = self.lab.sshd_cpu(), self.relay_cpu()
        stdout = m.stdout.read_text(errors="replace")
        stderr = m.stderr.read_text(errors="replace")
        if m.timed_out:
            valid, hosts_ok, detail = False, 0, f"killed after {self.args.timeout:.0f}s"
        else:
            v = tool.validate(ctx, stdout, stderr, m.returncode or 0)
            valid, hosts_ok, detail = v.ok, v.hosts_ok, v.detail
        rec = RunRecord(
            mode=mode,
            n=n,
            forks=forks,
            tool=tool.name,
            rep=rep,
            valid=valid,
            timed_out=m.timed_out,
            hosts_ok=hosts_ok,
            detail=detail,
            wall_s=m.wall_s,
            user_s=m.user_s,
            sys_s=m.sys_s,
            maxrss_kb=m.maxrss_kb,
            peak_tree_rss_kb=m.peak_tree_rss_kb,
            peak_tree_pss_kb=m.peak_tree_pss_kb,
            cgroup_cpu_s=m.cgroup_cpu_s,
            cgroup_peak_kb=m.cgroup_peak_kb,
            server_cpu_s=sshd1 - sshd0,
            relay_cpu_s=relay1 - relay0,
            orphans=m.orphans,
            orphans_killed=m.orphans_killed,
        )
        state = "ok" if valid else ("TIMEOUT" if m.timed_out else f"INVALID {detail}")
        cg = "n/a" if m.cgroup_cpu_s is None else f"{m.cgroup_cpu_s * 1000 / n:.2f}"
        log(
            f"{mode} N={n} F={forks} {tool.name} #{rep}: wall {m.wall_s:.2f}s "
            f"cpu {m.cpu_s * 1000 / n:.2f} ms/host (cgroup {cg}) "
            f"peak rss {m.peak_tree_rss_kb // 1024} MB pss {m.peak_tree_pss_kb // 1024} MB {state}"
        )
        return rec

    # -- phases --------------------------------------------------------------------
    def select(self, names: str | None) -> list[Tool]:
        wanted = [t.strip() for t in names.split(",")] if names else list(ALL_TOOLS)
        unknown = [t for t in wanted if t not in ALL_TOOLS]
        if unknown:
            raise SystemExit(f"unknown tools {unknown}; known: {', '.join(ALL_TOOLS)}")
        return [ALL_TOOLS[t] for t in wanted]

    def check_tools(self, tools: list[Tool]) -> tuple[list[Tool], dict[str, dict[str, str]]]:
        """Availability, version, and a 2-host warm-up run that must be valid."""
        usable, info = [], {}
        for tool in tools:
            why = tool.unavailable(self.bench_python, self.hostpool_python)
            version = "" if why else tool.version(self.bench_python, self.hostpool_python)
            if why is None:
                rec = self.run_once(tool, "warmup", 2, 2, 0)
                if not rec.valid:
                    why = f"warm-up failed: {rec.detail}"
            info[tool.name] = {
                "version": version or "-",
                "note": tool.note + (f" — NOT RUN: {why}" if why else ""),
            }
            if why:
                log(f"{tool.name}: not run: {why}")
            else:
                usable.append(tool)
        return usable, info

    def matrix(self, mode: str, tools: list[Tool], sizes: list[int], forks_list: list[int]) -> None:
        for forks in forks_list:
            dead: dict[str, str] = {}  # tool -> why it is not run at larger N
            for n in sizes:
                live = [t for t in tools if t.name not in dead]
                for t in tools:
                    if t.name in dead:
                        self.skipped[(mode, n, forks, t.name)] = dead[t.name]
                failed: set[str] = set()
                for rep in range(self.args.repeats):
                    order = live[rep % len(live) :] + live[: rep % len(live)] if live else []
                    for tool in order:
                        key = (mode, n, forks, tool.name)
                        if tool.name in failed:
                            continue
                        if self.over_budget():
                            self.skipped[key] = "time budget spent"
                            continue
                        rec = self.run_once(tool, mode, n, forks, rep)
                        self.records.append(rec)
                        if not rec.valid:
                            failed.add(tool.name)  # the cell is INVALID already
                            if rec.timed_out:
                                dead[tool.name] = f"timed out at N={n}"

    def rtt_mode(self, tools: list[Tool]) -> tuple[str, float]:
        """Move sshd to RELAY_SSHD_PORT, put the delay relay on :22, measure the RTT."""
        one_way = self.args.rtt_ms / 2
        self.relay = self.lab.start_relay(self.args.rtt_ms)
        rtt = statistics.median(ping_pong("127.0.0.1", RELAY_ECHO_PORT, rounds=10))
        log(f"RTT mode: relay {one_way:g} ms each way, measured ping-pong median {rtt:.1f} ms")
        mode = f"rtt{self.args.rtt_ms:g}ms"
        for tool in tools:  # a 2-host check that the relay path works for each tool
            rec = self.run_once(tool, "warmup-rtt", 2, 2, 0)
            if not rec.valid:
                for n in self.args.rtt_sizes:
                    for f in self.args.rtt_forks:
                        self.skipped[(mode, n, f, tool.name)] = f"warm-up failed: {rec.detail}"
        return mode, rtt

    def run(self) -> int:
        args = self.args
        labmod.namespace_setup()
        max_n = max([*args.sizes, *(args.rtt_sizes if args.rtt_ms else []), 2])
        self.lab.prepare(max_n)
        masked = (
            None
            if args.keep_shell_rc
            else labmod.mask_shell_rc(self.lab.user, self.lab.root / "empty_bashrc")
        )
        meta: dict[str, Any] = machine_info(self.bench_python, self.hostpool_python)
        meta["args"] = " ".join(sys.argv[1:]) or "(defaults)"
        meta["remote shell rc"] = (
            f"{masked} masked by an empty file (namespace-private bind mount)"
            if masked
            else "as is"
        )
        meta["bytecode"] = precompile(self.hostpool_python, self.bench_python)
        try:
            self.lab.start_sshd(22)
            tools, meta["tools"] = self.check_tools(self.select(args.tools))
            self.matrix("lan", tools, args.sizes, args.forks)
            if args.rtt_ms > 0:
                rtt_names = {t.strip() for t in args.rtt_tools.split(",")}
                rtt_tools = [t for t in tools if t.name in rtt_names]
                if rtt_tools:
                    mode, rtt = self.rtt_mode(rtt_tools)
                    meta["rtt mode"] = (
                        f"delay relay {args.rtt_ms / 2:g} ms each way; measured "
                        f"ping-pong RTT median {rtt:.1f} ms"
                    )
                    live = [
                        t
                        for t in rtt_tools
                        if not any(k[0] == mode and k[3] == t.name for k in self.skipped)
                    ]
                    self.matrix(mode, live, args.rtt_sizes, args.rtt_forks)
        finally:
            if self.relay is not None:
                labmod.stop_process(self.relay)
            self.lab.stop(keep_dir=args.keep)
            if args.keep:
                log(f"lab kept in {self.lab.root}")
        meta["total minutes"] = round(elapsed_min(self.t0), 1)
        meta["load average at end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        if hostpool_source() != meta["hostpool source"]:
            meta["hostpool source"] += " — CHANGED DURING THE RUN: hostpool rows mix versions"
        records = [r for r in self.records if not r.mode.startswith("warmup")]
        cells = aggregate(records, self.skipped, list(ALL_TOOLS))
        md = markdown(meta, cells)
        write_results(args.out, md, to_json(meta, cells, records))
        print(md)
        log(f"wrote {args.out / 'latest.md'} and latest.json")
        return 0


def elapsed_min(t0: float) -> float:
    return (time.monotonic() - t0) / 60


def machine_info(bench_python: str, hostpool_python: str) -> dict[str, Any]:
    """What a reader needs to compare two reports: hardware, kernel, interpreters, ssh."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break

    def out(argv: list[str]) -> str:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return (p.stdout or p.stderr).strip()

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": model,
        "memory GB": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python (hostpool)": out([hostpool_python, "-VV"]),
        "python (peers)": out([bench_python, "-VV"]),
        "openssh": out(["ssh", "-V"]),
        "remote command": "echo ok (each tool must show one 'ok' per host)",
        "hostpool source": hostpool_source(),
        "load average at start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def precompile(hostpool_python: str, bench_python: str) -> str:
    """Byte-compile hostpool and the Python peer clients before timing anything.

    A wheel install compiles every module once; an editable checkout under
    ``PYTHONDONTWRITEBYTECODE=1`` (set on some machines here) would instead recompile
    hostpool's ~30 modules in every process of every run (measured: ~20 ms of CPU per
    interpreter), a cost no installed user pays and the peers, installed from wheels,
    never pay either.
    """
    repo = Path(__file__).resolve().parent.parent
    for python, path in (
        (hostpool_python, repo / "hostpool"),
        (bench_python, repo / "bench" / "clients"),
    ):
        subprocess.run([python, "-m", "compileall", "-q", str(path)], check=True, timeout=120)
    return "hostpool/ and bench/clients/ precompiled with compileall (as a wheel install would be)"


def hostpool_source() -> str:
    """git HEAD plus a digest of hostpool/*.py as run: the tree may hold uncommitted edits."""
    repo = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted((repo / "hostpool").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    p = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    head = p.stdout.strip() or "no commit"
    return f"git {head}, hostpool/*.py sha256 {digest.hexdigest()[:12]}"


def write_results(out: Path, md: str, doc: dict[str, Any]) -> None:
    """Write latest.* atomically (tmp + rename) so an interrupted run never leaves half a
    file, plus a timestamped copy (gitignored) so the next run does not erase this one."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("run-%Y%m%d-%H%M%S", time.gmtime())
    text_json = json.dumps(doc, indent=2)
    for stem in ("latest", stamp):
        for ext, text in ((".md", md), (".json", text_json)):
            tmp = out / f"{stem}{ext}.tmp"
            tmp.write_text(text)
            tmp.replace(out / f"{stem}{ext}")


def run_benchmark(args: argparse.Namespace, bench_python: str, hostpool_python: str) -> int:
    return Bench(args, bench_python, hostpool_python).run()
