"""Child side: ``connection=docker``, a container reached through the local docker CLI.

For containers without sshd (the CI smoke-check case).  Commands are ``docker exec``
clients; files go through ``docker cp`` plus small ``sh`` scripts whose paths are passed
as positional arguments, never spliced into the script.  Killing the local ``docker exec``
client leaves the exec'd command running inside the container, so every command carries
a run id in its environment and a timeout or terminate reaps by it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path

from hostpool.connectors.base import ConnectFailure, FileInfo, FileKind, Stateless
from hostpool.connectors.local import PipeProcess
from hostpool.models import Status, Target

DOCKER_TIMEOUT = 600.0
REAP_TIMEOUT = 5.0

# Kills every process in the container whose environment carries the run id.
_REAP_SCRIPT = (
    'for p in /proc/[0-9]*; do grep -qs "HOSTPOOL_RUN_ID=$1" "$p/environ" '
    '&& kill -9 "${p#/proc/}" 2>/dev/null; done; true'
)
# Prints "D" for a directory, "F <octal mode> <size>" for a file, "O" for anything
# else, "N" when absent.
_PROBE = (
    'if [ -d "$1" ]; then echo D; elif [ -f "$1" ]; then echo "F $(stat -c "%a %s" "$1")"; '
    'elif [ -e "$1" ]; then echo O; else echo N; fi'
)
_INSTALL = 'chmod "$1" "$2" && mv -f "$2" "$3"'
# One line per entry: "D|F|O <octal mode> <size> <name>" (links are O, not followed).
_LIST = (
    'cd "$1" && for f in * .*; do case "$f" in .|..) continue;; esac; '
    '[ -e "$f" ] || [ -L "$f" ] || continue; '
    'if [ -L "$f" ]; then k=O; elif [ -d "$f" ]; then k=D; elif [ -f "$f" ]; then k=F; '
    'else k=O; fi; echo "$k $(stat -c "%a %s" -- "$f") $f"; done'
)


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


def _why(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


class DockerConnector(Stateless):
    """A running container; 'connecting' is checking that it can take an exec."""

    def __init__(self, target: Target, connect_timeout: float, keepalive: float = 0.0) -> None:
        problem = docker_state(target.address, connect_timeout)
        if problem:
            raise ConnectFailure(Status.UNREACHABLE, problem)
        self.target = target
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive

    def _exec_argv(self, *env: str, flags: tuple[str, ...] = ()) -> list[str]:
        argv = ["docker", "exec", *flags, *(f"--env={e}" for e in env)]
        if self.target.user:
            argv += ["--user", self.target.user]
        # "--" keeps a container named like an option from being read as one.
        return [*argv, "--", self.target.address]

    def start(self, command: str, pty: bool = False) -> PipeProcess:
        """``-i``: stdin is the command's lifeline (and its data); the docker client's end
        of it closes with the worker, whatever kills the worker."""
        run_id = secrets.token_hex(8)
        flags = ("-i", "-t") if pty else ("-i",)
        env = f"HOSTPOOL_RUN_ID={run_id}"
        argv = [*self._exec_argv(env, flags=flags), "/bin/sh", "-c", command]
        return PipeProcess(
            argv,
            on_kill=lambda: self._reap(run_id),
            health=lambda: docker_state(self.target.address, self.connect_timeout),
            interval=self.keepalive,
            pty=pty,  # docker exec -t insists on a terminal of its own
        )

    def _reap(self, run_id: str) -> None:
        argv = [*self._exec_argv(), "/bin/sh", "-c", _REAP_SCRIPT, "sh", run_id]
        try:
            subprocess.run(
                argv, capture_output=True, timeout=REAP_TIMEOUT, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired):
            return

    def _docker(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["docker", *argv],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=DOCKER_TIMEOUT,
            check=False,
        )

    def _sh(self, script: str, *args: str) -> bytes:
        argv = [*self._exec_argv()[1:], "sh", "-c", script, "sh", *args]
        proc = self._docker(*argv)
        if proc.returncode != 0:
            raise OSError(_why(proc))
        return proc.stdout

    def stat(self, path: str) -> FileInfo | None:
        kind, *rest = self._sh(_PROBE, path).decode("utf-8", "replace").split()
        if kind == "N":
            return None
        if kind == "F" and len(rest) == 2:
            return FileInfo(FileKind.FILE, int(rest[0], 8), int(rest[1]))
        return FileInfo(FileKind.DIRECTORY if kind == "D" else FileKind.OTHER, 0, 0)

    def sha256(self, path: str) -> str:
        return self._sh('sha256sum -- "$1"', path).split(b" ", 1)[0].decode("ascii", "replace")

    def put(self, local: str, remote: str) -> None:
        proc = self._docker("cp", local, f"{self.target.address}:{remote}")
        if proc.returncode != 0:
            raise OSError(f"docker cp: {_why(proc)}")

    def install(self, tmp: str, dest: str, mode: int) -> None:
        self._sh(_INSTALL, oct(mode)[2:], tmp, dest)

    def chmod(self, path: str, mode: int) -> None:
        self._sh('chmod "$1" "$2"', oct(mode)[2:], path)

    def remove(self, path: str) -> None:
        self._sh('rm -f -- "$1"', path)

    def mkdir(self, path: str, mode: int) -> None:
        self._sh('mkdir -- "$2" && chmod "$1" "$2"', oct(mode)[2:], path)

    def listdir(self, path: str) -> list[tuple[str, FileInfo]]:
        kinds = {"D": FileKind.DIRECTORY, "F": FileKind.FILE, "O": FileKind.OTHER}
        entries = []
        for line in self._sh(_LIST, path).decode("utf-8", "surrogateescape").splitlines():
            kind, mode, size, name = line.split(" ", 3)
            entries.append((name, FileInfo(kinds[kind], int(mode, 8), int(size))))
        return entries

    def get(self, remote: str, local: str) -> None:
        # docker cp into a fresh directory: it never writes through what ``local`` is.
        parent = os.path.dirname(local) or "."
        with tempfile.TemporaryDirectory(dir=parent, prefix=".hostpool-") as tmpdir:
            tmp = Path(tmpdir) / "file"
            proc = self._docker("cp", f"{self.target.address}:{remote}", str(tmp))
            if proc.returncode != 0 or not tmp.is_file():
                raise OSError(f"docker cp: {_why(proc)}")
            os.replace(tmp, local)
