"""Child side: running a command through a local process (``connection=local`` / ``docker``).

The command runs in its own session so a terminal Ctrl-C never reaches it directly (the
parent decides what an interrupt means) and so the worker can kill the whole process group
on a deadline or when the pool terminates it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import signal
import subprocess
import threading
import time

from hostpool import sched
from hostpool.models import HostResult, Status, Target
from hostpool.output import STDERR, STDOUT, Output

# What each lane thread is running: its process group and, for docker, (container, run id).
_running: dict[int, tuple[subprocess.Popen[bytes], tuple[str, str] | None]] = {}

# Kills every process in the container whose environment carries the run id: killing the
# local `docker exec` client leaves the exec'd command running inside the container.
_REAP_SCRIPT = (
    'for p in /proc/[0-9]*; do grep -qs "HOSTPOOL_RUN_ID=$1" "$p/environ" '
    '&& kill -9 "${p#/proc/}" 2>/dev/null; done; true'
)


def kill_current() -> None:
    """Called from the worker's SIGTERM handler: no orphaned commands after terminate()."""
    running = list(_running.values())
    for proc, _ in running:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    for _, docker_exec in running:
        if docker_exec is not None:
            reap_in_container(*docker_exec, timeout=5.0)


def reap_in_container(container: str, run_id: str, timeout: float) -> None:
    try:
        subprocess.run(
            ["docker", "exec", "--", container, "/bin/sh", "-c", _REAP_SCRIPT, "sh", run_id],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return


def docker_state(container: str, timeout: float) -> str | None:
    """Why a container cannot take an exec (None when it can).

    A missing engine or container is 'unreachable', like a refused SSH port."""
    try:
        proc = subprocess.run(
            ["docker", "inspect", "--type", "container", "--format", "{{json .State}}", container],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        return "docker CLI not found"
    except subprocess.TimeoutExpired:
        return "docker inspect timed out"
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return msg[-1] if msg else f"no such container: {container}"
    state = json.loads(proc.stdout or b"{}")
    if state.get("Paused"):
        return f"container {container} is paused"
    if not state.get("Running"):
        return f"container {container} is not running ({state.get('Status', 'unknown')})"
    return None


def argv_for(target: Target, command: str, run_id: str = "") -> list[str]:
    if target.connection == "docker":
        argv = ["docker", "exec", "--env", f"HOSTPOOL_RUN_ID={run_id}"]
        if target.user:
            argv += ["--user", target.user]
        # "--" keeps a container named like an option from being read as one.
        return [*argv, "--", target.address, "/bin/sh", "-c", command]
    return ["/bin/sh", "-c", command]


def run_local(
    target: Target,
    command: str,
    out: Output,
    *,
    connect_timeout: float,
    command_timeout: float | None,
) -> HostResult:
    """Run ``command`` for ``target``; never raises for the command's own failures."""
    start = time.monotonic()
    if target.connection == "docker":
        problem = docker_state(target.address, connect_timeout)
        if problem:
            return HostResult(
                host=target.name,
                status=Status.UNREACHABLE,
                error=problem,
                duration=time.monotonic() - start,
                address=target.address,
            )
    run_id = secrets.token_hex(8)
    with sched.unconfined():  # a lane's one CPU and batch policy are not the command's
        proc = subprocess.Popen(
            argv_for(target, command, run_id),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    docker_exec = (target.address, run_id) if target.connection == "docker" else None
    lane = threading.get_ident()
    _running[lane] = (proc, docker_exec)
    try:
        timed_out = _pump(proc, out, command_timeout, start)
        if timed_out and docker_exec is not None:
            reap_in_container(*docker_exec, timeout=connect_timeout)
    finally:
        _running.pop(lane, None)
    duration = time.monotonic() - start
    if timed_out:
        error = f"command did not finish within {command_timeout:g}s"
        return out.result(target.name, Status.TIMEOUT, error=error, duration=duration)
    rc = proc.returncode
    if rc < 0:
        return out.exit_result(target.name, 128 - rc, f"killed by signal {-rc}", duration=duration)
    return out.exit_result(target.name, rc, duration=duration)


def _pump(
    proc: subprocess.Popen[bytes], out: Output, command_timeout: float | None, start: float
) -> bool:
    """Drain both pipes together until EOF; True when the deadline killed the command."""
    assert proc.stdout and proc.stderr and proc.stdin
    deadline = start + command_timeout if command_timeout else None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, STDOUT)
    sel.register(proc.stderr, selectors.EVENT_READ, STDERR)
    stdin_open = True
    try:
        while sel.get_map():
            if stdin_open and out.close_stdin:
                proc.stdin.close()
                stdin_open = False
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if deadline is not None and wait == 0.0:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            for key, _ in sel.select(min(wait, 0.5) if wait is not None else 0.5):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                reply = out.feed(key.data, data)
                if reply and stdin_open:
                    try:
                        proc.stdin.write(reply)
                        proc.stdin.flush()
                    except BrokenPipeError:
                        stdin_open = False
        if stdin_open:
            proc.stdin.close()
        remaining = None if deadline is None else max(0.01, deadline - time.monotonic())
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        return False
    finally:
        sel.close()
