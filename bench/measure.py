"""Run one tool invocation and measure wall time, CPU and memory of its whole process tree.

CPU: the tool is our direct child and we reap it with ``os.wait4``, whose rusage covers
the child *plus every descendant it reaped* (ssh clients spawned by pdsh, pool workers
joined by hostpool, ...).  The harness is a child subreaper (see ``lab.namespace_setup``),
so descendants the tool orphaned come back to us; they are killed and reaped here and
their rusage is added too.  Nothing is subtracted: interpreter start-up and imports are
part of what a user pays for one run, so they are counted for every tool alike.

Memory: ``ru_maxrss`` is only the largest *single* process of the tree, which flatters
multi-process tools.  A sampler thread therefore sums the RSS of the live tree every
50 ms (psutil) and keeps the peak of that sum.  Pages shared between forked workers are
counted once per process, so the sum is an upper bound; the same sampler also sums PSS
(each shared page split between the processes sharing it), the tree's real footprint.

Cross-check: where cgroup v1 ``cpuacct`` and ``memory`` controllers can be written, the
tool runs in a fresh cgroup of each, joined before ``exec``.  A cgroup holds every
descendant whoever reaps it (forkserver children, the resource tracker, daemons), so its
CPU total and peak usage check the wait4 figures above; the report prints both.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_S = 0.05
ORPHAN_GRACE_S = 2.0
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class Measurement:
    wall_s: float
    returncode: int | None  # None when the run was killed for its timeout
    timed_out: bool
    user_s: float
    sys_s: float
    maxrss_kb: int  # ru_maxrss: peak of the largest single process
    peak_tree_rss_kb: int  # peak of the sampled sum over the live tree
    peak_tree_pss_kb: int  # the same for PSS (shared pages split, not repeated)
    cgroup_cpu_s: float | None  # cpuacct.usage of the run's own cgroup, when available
    cgroup_peak_kb: int | None  # memory.max_usage_in_bytes (includes page cache charged)
    orphans: int  # descendants the tool left behind, re-parented to us and reaped here
    orphans_killed: int  # ... of which were still alive after ORPHAN_GRACE_S
    stdout: Path
    stderr: Path

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


@dataclass
class _Orphans:
    count: int = 0
    ru_utime: float = 0.0
    ru_stime: float = 0.0
    ru_maxrss: int = 0


def _reap_orphans(protected: set[int]) -> tuple[_Orphans, int]:
    """Reap descendants the tool orphaned (we are subreaper), adding their rusage.

    Helpers that exit on their own once their parent is gone (multiprocessing's
    forkserver and resource tracker see EOF) get ORPHAN_GRACE_S; whatever is still
    alive then is a leak, is SIGKILLed, and is counted as killed.
    """
    acc, killed = _Orphans(), set[int]()
    start = time.monotonic()
    while time.monotonic() - start < ORPHAN_GRACE_S + 10:  # bounded even if kill fails
        for child in psutil.Process().children():
            if child.pid in protected:
                continue
            with contextlib.suppress(ChildProcessError):
                got, _, ru = os.wait4(child.pid, os.WNOHANG)
                if got:
                    acc.count += 1
                    acc.ru_utime += ru.ru_utime
                    acc.ru_stime += ru.ru_stime
                    acc.ru_maxrss = max(acc.ru_maxrss, ru.ru_maxrss)
        pending = [c.pid for c in psutil.Process().children() if c.pid not in protected]
        if not pending:
            break
        if time.monotonic() - start > ORPHAN_GRACE_S:
            for pid in set(pending) - killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
        time.sleep(0.02)
    return acc, len(killed)


def _tree_memory_kb(proc: psutil.Process) -> tuple[int, int]:
    """(summed RSS, summed PSS) of the live tree, in KiB."""
    rss = pss = 0
    with contextlib.suppress(psutil.Error):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                full = p.memory_full_info()
                rss += full.rss
                pss += getattr(full, "pss", full.rss)
    return rss // 1024, pss // 1024


class _Cgroups:
    """A fresh cpuacct and memory cgroup (v1) for one run; inert where unavailable."""

    def __init__(self, label: str) -> None:
        name = f"hpbench-{os.getpid()}-{label}"
        self.dirs = [CGROUP_ROOT / c / name for c in ("cpuacct", "memory")]
        try:
            for d in self.dirs:
                d.mkdir()
        except OSError:
            self.remove()
            self.dirs = []

    def join(self) -> None:
        """preexec_fn: the child joins before exec, so every descendant is inside."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def read(self) -> tuple[float | None, int | None]:
        if not self.dirs:
            return None, None
        cpu_ns = int((self.dirs[0] / "cpuacct.usage").read_text())
        peak = int((self.dirs[1] / "memory.max_usage_in_bytes").read_text())
        return cpu_ns / 1e9, peak // 1024

    def remove(self) -> None:
        for d in self.dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    out_dir: Path,
    label: str,
    timeout_s: float,
    protected: set[int],
) -> Measurement:
    """Run ``argv`` to completion (or ``timeout_s``) and measure it; never raises on the
    tool's own failure.  ``protected`` are PIDs of our long-lived helpers (sshd, relay)
    that must never be reaped or killed by the orphan sweep."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = out_dir / f"{label}.out", out_dir / f"{label}.err"
    result: dict[str, object] = {}
    done = threading.Event()
    peak = [0, 0]
    cgroups = _Cgroups(label)

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            start_new_session=True,  # own process group: a timeout kills the whole tree
            preexec_fn=cgroups.join if cgroups.dirs else None,
        )

        def waiter() -> None:
            _, status, ru = os.wait4(proc.pid, 0)
            result.update(t1=time.perf_counter(), status=status, ru=ru)
            done.set()

        def sampler() -> None:
            with contextlib.suppress(psutil.Error):
                ps = psutil.Process(proc.pid)
                while not done.is_set():
                    rss, pss = _tree_memory_kb(ps)
                    peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
                    done.wait(SAMPLE_S)

        threads = [threading.Thread(target=f, daemon=True) for f in (waiter, sampler)]
        for t in threads:
            t.start()
        timed_out = not done.wait(timeout_s)
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            done.wait(30)
        for t in threads:
            t.join(5)

    status = int(result.get("status", 0))  # type: ignore[call-overload]
    ru = result.get("ru")
    proc.returncode = os.waitstatus_to_exitcode(status) if ru is not None else -9
    user_s = ru.ru_utime if isinstance(ru, resource.struct_rusage) else 0.0
    sys_s = ru.ru_stime if isinstance(ru, resource.struct_rusage) else 0.0
    maxrss = ru.ru_maxrss if isinstance(ru, resource.struct_rusage) else 0
    orphans, killed = _reap_orphans(protected)
    user_s += orphans.ru_utime
    sys_s += orphans.ru_stime
    maxrss = max(maxrss, orphans.ru_maxrss)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything of the tool's group still around
    t1 = float(result.get("t1", time.perf_counter()))  # type: ignore[arg-type]
    cgroup_cpu_s, cgroup_peak_kb = cgroups.read()
    cgroups.remove()
    return Measurement(
        wall_s=t1 - t0,
        returncode=None if timed_out else proc.returncode,
        timed_out=timed_out,
        user_s=user_s,
        sys_s=sys_s,
        maxrss_kb=maxrss,
        peak_tree_rss_kb=max(peak[0], maxrss),
        peak_tree_pss_kb=peak[1],
        cgroup_cpu_s=cgroup_cpu_s,
        cgroup_peak_kb=cgroup_peak_kb,
        orphans=orphans.count,
        orphans_killed=killed,
        stdout=out_path,
        stderr=err_path,
    )
