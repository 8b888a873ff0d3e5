"""One adapter per benchmarked tool: how to invoke it, and how to prove every host ran.

Every tool runs the same remote command, ``echo ok``: a shell builtin as cheap as
``true``, but its output lets each validity check demand one ``ok`` per host, tagged with
that host, rather than trusting an exit status alone.  A run whose check fails is
INVALID and none of its figures are used.

Host keys are checked strictly by every tool against the lab's known_hosts (one line per
127.x address); see each adapter for how, and for parallel-ssh's post-hoc check.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lab import Lab

COMMAND = "echo ok"
MARK = "ok"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CLIENTS = BENCH_DIR / "clients"


@dataclass(frozen=True)
class Ctx:
    """Everything one invocation depends on."""

    lab: Lab
    n: int
    forks: int
    bench_python: str  # interpreter of bench/.venv (peers' libraries)
    hostpool_python: str  # interpreter that has hostpool's own dependencies
    port: int = 22
    host_timeout_s: float = 120  # per-host connect timeouts, far above any healthy run

    @property
    def hosts(self) -> list[str]:
        return self.lab.hosts(self.n)


@dataclass(frozen=True)
class Validity:
    ok: bool
    hosts_ok: int
    detail: str = ""


def check_hosts(expected: list[str], good: Counter[str], bad: list[str]) -> Validity:
    """Valid iff every expected host succeeded exactly once and nothing failed."""
    missing = [h for h in expected if good[h] != 1]
    hosts_ok = sum(1 for h in expected if good[h] == 1)
    if missing or bad:
        detail = f"{len(missing)} hosts missing/duplicated (e.g. {missing[:3]})" if missing else ""
        if bad:
            detail += f"; failures: {bad[:3]}"
        return Validity(False, hosts_ok, detail.strip("; "))
    return Validity(True, hosts_ok)


def openssh_opts(lab: Lab, port: int, with_key: bool = True) -> list[str]:
    """Options that make an OpenSSH client check host keys strictly against the lab file
    only, never prompt, and open one plain connection (no multiplexing master that would
    outlive the run and hide its CPU)."""
    opts = ["-F", str(lab.root / "ssh_config")]
    if with_key:
        opts += ["-i", str(lab.client_key)]
    opts += [
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={lab.known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
        "-o",
        "LogLevel=ERROR",
    ]
    if port != 22:
        opts += ["-p", str(port)]
    return opts


def _first_line(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    return ((p.stdout or p.stderr).strip().splitlines() or ["unknown"])[0].strip()


def _py_version(python: str, *dists: str) -> str:
    code = (
        "import importlib.metadata as m;"
        f"print(' '.join(d + ' ' + m.version(d) for d in {list(dists)!r}))"
    )
    return _first_line([python, "-c", code])


class Tool:
    name = ""
    note = ""

    def unavailable(self, bench_python: str, hostpool_python: str) -> str | None:
        """Why this tool cannot run here, or None."""
        return None

    def version(self, bench_python: str, hostpool_python: str) -> str:
        raise NotImplementedError

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        """argv and the *extra* environment of one run."""
        raise NotImplementedError

    def validate(self, ctx: Ctx, stdout: str, stderr: str, rc: int) -> Validity:
        raise NotImplementedError


class JsonLinesClient(Tool):
    """A bench/clients/*.py script that prints one JSON record per host."""

    script = ""
    module = ""
    dist: tuple[str, ...] = ()

    def unavailable(self, bench_python: str, hostpool_python: str) -> str | None:
        p = subprocess.run(
            [bench_python, "-c", f"import {self.module}"], capture_output=True, timeout=60
        )
        return f"cannot import {self.module} in {bench_python}" if p.returncode else None

    def version(self, bench_python: str, hostpool_python: str) -> str:
        return _py_version(bench_python, *self.dist)

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        return [
            ctx.bench_python,
            str(CLIENTS / self.script),
            "--hosts-file",
            str(ctx.lab.hosts_file(ctx.n)),
            "--forks",
            str(ctx.forks),
            "--key",
            str(ctx.lab.client_key),
            "--known-hosts",
            str(ctx.lab.known_hosts),
            "--user",
            ctx.lab.user,
            "--port",
            str(ctx.port),
            "--timeout",
            str(ctx.host_timeout_s),
            COMMAND,
        ], {}

    def validate(self, ctx: Ctx, stdout: str, stderr: str, rc: int) -> Validity:
        good: Counter[str] = Counter()
        bad: list[str] = []
        for line in stdout.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("exit") == 0 and rec.get("stdout", "").strip() == MARK:
                good[rec["host"]] += 1
            else:
                bad.append(f"{rec.get('host')}: {rec.get('error') or rec.get('exit')}")
        v = check_hosts(ctx.hosts, good, bad)
        if v.ok and rc != 0:
            return Validity(False, v.hosts_ok, f"exit status {rc}: {stderr[-200:]}")
        return v


class AsyncSSH(JsonLinesClient):
    name = "asyncssh"
    script = "asyncssh_client.py"
    module = "asyncssh"
    dist = ("asyncssh",)
    note = "asyncio.gather + Semaphore(F); known_hosts parsed once"


class ParallelSSHLib(JsonLinesClient):
    name = "parallel-ssh"
    script = "pssh_client.py"
    module = "pssh.clients"
    dist = ("parallel-ssh", "ssh2-python")
    note = (
        "ParallelSSHClient(pool_size=F), libssh2; no known_hosts support: host key "
        "compared with known_hosts after the run"
    )


class Fabric(JsonLinesClient):
    name = "fabric"
    script = "fabric_client.py"
    module = "fabric"
    dist = ("fabric", "paramiko")
    note = "ThreadingGroup: one thread per host, F is ignored (Fabric has no limit)"


_HOST_COLON = re.compile(r"^(\S+?):\s?(.*)$")


def _prefixed_lines(stdout: str) -> tuple[Counter[str], list[str]]:
    """Parse ``host: line`` output (pdsh, clush): good = hosts whose line is the mark."""
    good: Counter[str] = Counter()
    bad: list[str] = []
    for line in stdout.splitlines():
        m = _HOST_COLON.match(line)
        if not m:
            continue
        if m.group(2).strip() == MARK:
            good[m.group(1)] += 1
        else:
            bad.append(line[:120])
    return good, bad


class Pdsh(Tool):
    name = "pdsh"
    note = "pdsh -R ssh (one OpenSSH client process per host)"

    def unavailable(self, bench_python: str, hostpool_python: str) -> str | None:
        return None if shutil.which("pdsh") else "pdsh not installed (apt-get install pdsh)"

    def version(self, bench_python: str, hostpool_python: str) -> str:
        return f"{_first_line(['pdsh', '-V'])}; {_first_line(['ssh', '-V'])}"

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        ssh_args = shlex.join(openssh_opts(ctx.lab, ctx.port)) + " -l%u %h"
        return [
            "pdsh",
            "-R",
            "ssh",
            "-S",
            "-f",
            str(ctx.forks),
            "-t",
            str(int(ctx.host_timeout_s)),
            "-l",
            ctx.lab.user,
            "-w",
            "^" + str(ctx.lab.hosts_file(ctx.n)),
            COMMAND,
        ], {"PDSH_SSH_ARGS": ssh_args}

    def validate(self, ctx: Ctx, stdout: str, stderr: str, rc: int) -> Validity:
        good, bad = _prefixed_lines(stdout)
        bad += [line for line in stderr.splitlines() if line.strip()][:5]
        v = check_hosts(ctx.hosts, good, bad)
        return v if not (v.ok and rc) else Validity(False, v.hosts_ok, f"exit status {rc}")


class Clush(Tool):
    name = "clush"
    note = "ClusterShell clush (one OpenSSH client process per host)"

    def _exe(self, bench_python: str) -> str:
        return str(Path(bench_python).parent / "clush")

    def unavailable(self, bench_python: str, hostpool_python: str) -> str | None:
        return None if os.access(self._exe(bench_python), os.X_OK) else "clush not in bench venv"

    def version(self, bench_python: str, hostpool_python: str) -> str:
        return _py_version(bench_python, "ClusterShell")

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        return [
            self._exe(ctx.bench_python),
            "-f",
            str(ctx.forks),
            "-S",
            "-t",
            str(int(ctx.host_timeout_s)),
            "-l",
            ctx.lab.user,
            "-o",
            shlex.join(openssh_opts(ctx.lab, ctx.port)),
            "--hostfile",
            str(ctx.lab.hosts_file(ctx.n)),
            COMMAND,
        ], {}

    validate = Pdsh.validate


class Pssh(Tool):
    name = "pssh"
    note = "Debian pssh (parallel-ssh command; one OpenSSH client process per host)"

    def unavailable(self, bench_python: str, hostpool_python: str) -> str | None:
        return None if shutil.which("parallel-ssh") else "apt-get install pssh"

    def version(self, bench_python: str, hostpool_python: str) -> str:
        return "pssh " + _first_line(["parallel-ssh", "--version"])

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        return [
            "parallel-ssh",
            "-h",
            str(ctx.lab.hosts_file(ctx.n)),
            "-p",
            str(ctx.forks),
            "-l",
            ctx.lab.user,
            "-t",
            "0",
            "-i",
            "-x",
            shlex.join(openssh_opts(ctx.lab, ctx.port)),
            COMMAND,
        ], {}

    def validate(self, ctx: Ctx, stdout: str, stderr: str, rc: int) -> Validity:
        # "-i": "[k] hh:mm:ss [SUCCESS] host" then that host's stdout lines
        good: Counter[str] = Counter()
        bad: list[str] = []
        host: str | None = None
        for line in stdout.splitlines():
            m = re.match(r"^\[\d+\] \S+ \[(\w+)\] (\S+)", line)
            if m:
                host = m.group(2) if m.group(1) == "SUCCESS" else None
                if host is None:
                    bad.append(line[:120])
            elif host is not None and line.strip() == MARK:
                good[host] += 1
                host = None
        v = check_hosts(ctx.hosts, good, bad)
        return v if not (v.ok and rc) else Validity(False, v.hosts_ok, f"exit status {rc}")


class Ansible(Tool):
    name = "ansible"
    note = "ansible all -m raw (ssh connection plugin, F forked workers)"

    def _exe(self, bench_python: str) -> str:
        return str(Path(bench_python).parent / "ansible")

    def unavailable(self, bench_python: str, hostpool_python: str) -> str | None:
        return None if os.access(self._exe(bench_python), os.X_OK) else "ansible not in venv"

    def version(self, bench_python: str, hostpool_python: str) -> str:
        return _py_version(bench_python, "ansible-core")

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        home = ctx.lab.root / "ansible"
        home.mkdir(exist_ok=True)
        cfg = home / "ansible.cfg"
        cfg.write_text("[defaults]\n")  # never pick up a stray ansible.cfg from cwd/home
        env = {
            "ANSIBLE_CONFIG": str(cfg),
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_SSH_ARGS": shlex.join(openssh_opts(ctx.lab, ctx.port, with_key=False)),
            "ANSIBLE_TIMEOUT": str(int(ctx.host_timeout_s)),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "False",
        }
        return [
            self._exe(ctx.bench_python),
            "all",
            "-i",
            str(ctx.lab.inventory(ctx.n, ctx.port)),
            "-m",
            "raw",
            "-a",
            COMMAND,
            "-f",
            str(ctx.forks),
        ], env

    def validate(self, ctx: Ctx, stdout: str, stderr: str, rc: int) -> Validity:
        good: Counter[str] = Counter()
        bad: list[str] = []
        lines = stdout.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\S+) \| (\w+)", line)
            if not m:
                continue
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if m.group(2) == "CHANGED" and "rc=0" in line and nxt == MARK:
                good[m.group(1)] += 1
            else:
                bad.append(line[:120])
        v = check_hosts(ctx.hosts, good, bad)
        return v if not (v.ok and rc) else Validity(False, v.hosts_ok, f"exit status {rc}")


class Hostpool(Tool):
    """Default flags only: ``-f F`` hosts in flight; hostpool chooses the processes (the
    Pool's default, one per CPU, never more than needed) and their lanes itself."""

    name = "hostpool"
    note = "hostpool exec CLI, default flags: -f F"

    def extra_flags(self, forks: int) -> list[str]:
        return []

    def unavailable(self, bench_python: str, hostpool_python: str) -> str | None:
        p = subprocess.run(
            [hostpool_python, "-c", "import hostpool.cli"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env=self._env(),
        )
        return f"import hostpool.cli failed: {p.stderr.strip()[-200:]}" if p.returncode else None

    @staticmethod
    def _env() -> dict[str, str]:
        pp = os.environ.get("PYTHONPATH")
        return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{pp}" if pp else str(REPO)}

    def version(self, bench_python: str, hostpool_python: str) -> str:
        code = (
            "import hostpool, paramiko; "
            "print('hostpool', hostpool.__version__, 'paramiko', paramiko.__version__)"
        )
        p = subprocess.run(
            [hostpool_python, "-c", code],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env=self._env(),
        )
        return p.stdout.strip() or f"unknown ({p.stderr.strip()[-100:]})"

    def command(self, ctx: Ctx) -> tuple[list[str], dict[str, str]]:
        # The way users run it: the console script, which starts the run's forkserver
        # while the CLI still imports (``cli.early``: only for the hostpool command).
        # Without an installed one, its body (``-m hostpool.cli`` would make every
        # worker re-run the module as ``__mp_main__``).
        script = Path(ctx.hostpool_python).parent / "hostpool"
        body = "import sys; from hostpool.cli.app import main; sys.argv[0] = 'hostpool'; main()"
        start = [str(script)] if script.is_file() else ["-c", body]
        return [
            ctx.hostpool_python,
            *start,
            "exec",
            "-i",
            str(ctx.lab.inventory(ctx.n, ctx.port)),
            "-f",
            str(ctx.forks),
            *self.extra_flags(ctx.forks),
            "--known-hosts",
            str(ctx.lab.known_hosts),
            "--ssh-config",
            "none",
            "--connect-timeout",
            str(ctx.host_timeout_s),
            "--output",
            "json",
            COMMAND,
        ], {"PYTHONPATH": self._env()["PYTHONPATH"]}

    def validate(self, ctx: Ctx, stdout: str, stderr: str, rc: int) -> Validity:
        try:
            doc = json.loads(stdout)
        except ValueError:
            return Validity(False, 0, f"no JSON (rc {rc}): {stderr.strip()[-200:]}")
        good: Counter[str] = Counter()
        bad: list[str] = []
        for r in doc.get("results", []):
            name = r.get("address") or r.get("host")
            if (
                r.get("status") == "ok"
                and r.get("exit_code") == 0
                and str(r.get("stdout", "")).strip() == MARK
            ):
                good[name] += 1
            else:
                bad.append(f"{name}: {r.get('status')} {r.get('error')}")
        v = check_hosts(ctx.hosts, good, bad)
        return v if not (v.ok and rc) else Validity(False, v.hosts_ok, f"exit status {rc}")


class HostpoolProcs(Hostpool):
    """The Pool without lanes: one worker process per host in flight."""

    name = "hostpool-procs"
    note = "hostpool exec CLI: -f F --processes F (one worker process per host in flight)"

    def extra_flags(self, forks: int) -> list[str]:
        return ["--processes", str(forks)]


ALL_TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Hostpool(),
        HostpoolProcs(),
        AsyncSSH(),
        ParallelSSHLib(),
        Fabric(),
        Clush(),
        Pdsh(),
        Pssh(),
        Ansible(),
    )
}
