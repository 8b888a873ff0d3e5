"""Child side: copy and fetch for ``connection=local`` (plain files) and ``docker`` hosts.

Same contract as ``sftp.py``: write to a hidden sibling, set the mode, rename over the
destination; skip when the content already matches.  Docker hosts go through
``docker cp`` plus a small ``sh`` script run with ``docker exec`` whose paths are passed
as positional arguments, never spliced into the script.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from hostpool import transfer
from hostpool.localexec import docker_state
from hostpool.models import Connection, HostResult, Status, Target, Task
from hostpool.transfer import CopySpec

DOCKER_TIMEOUT = 600.0

# Prints "D" for a directory, "F <octal mode> <sha256>" for a file, "N" when absent.
_PROBE = (
    'if [ -d "$1" ]; then echo D; elif [ -e "$1" ]; then '
    'echo "F $(stat -c %a "$1") $(sha256sum -- "$1" | cut -d" " -f1)"; else echo N; fi'
)
_INSTALL = 'chmod "$1" "$2" && mv -f "$2" "$3"'


def run_transfer(task: Task, *, connect_timeout: float) -> HostResult:
    target = task.target
    if task.kind not in ("copy", "fetch"):
        return transfer.unknown_kind(task)
    if target.connection is Connection.DOCKER:
        problem = docker_state(target.address, connect_timeout)
        if problem:
            return HostResult(host=target.name, status=Status.UNREACHABLE, error=problem)
        return _docker_copy(task) if task.kind == "copy" else _docker_fetch(task)
    return _local_copy(task) if task.kind == "copy" else _local_fetch(task)


# -- local --------------------------------------------------------------------------------
def _local_copy(task: Task) -> HostResult:
    spec = CopySpec.from_args(task.args)
    dest = spec.dest
    try:
        if dest.endswith("/") or os.path.isdir(dest):
            dest = transfer.into_dir(dest, spec.src)
        try:
            st: os.stat_result | None = os.stat(dest)
        except FileNotFoundError:
            st = None
        existing = stat.S_IMODE(st.st_mode) if st is not None else None
        mode = spec.final_mode(existing)
        if st is not None and st.st_size == spec.size and transfer.file_sha256(dest) == spec.sha256:
            if existing == mode:
                return transfer.done(task, f"unchanged {dest}")
            os.chmod(dest, mode)
            return transfer.done(task, f"unchanged {dest} (mode set to {mode:04o})")
        _install(Path(spec.src), Path(dest), mode)
    except OSError as exc:
        return transfer.failed(task, transfer.os_error("copy to", dest, exc))
    return transfer.done(task, f"copied {dest} ({spec.size} bytes)")


def _install(src: Path, dest: Path, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _local_fetch(task: Task) -> HostResult:
    remote, localdir = task.args
    target = transfer.fetch_destination(localdir, task.target.name, remote)
    try:
        st = os.stat(remote)
        if not stat.S_ISREG(st.st_mode):
            return transfer.failed(task, f"fetch {remote}: not a regular file")
        target.parent.mkdir(parents=True, exist_ok=True)
        _install(Path(remote), target, stat.S_IMODE(st.st_mode))
    except OSError as exc:
        return transfer.failed(task, transfer.os_error("fetch", remote, exc))
    return transfer.done(task, f"fetched {remote} ({st.st_size} bytes)")


# -- docker -------------------------------------------------------------------------------
def _docker(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["docker", *argv],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=DOCKER_TIMEOUT,
        check=False,
    )


def _sh(target: Target, script: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    user = ["--user", target.user] if target.user else []
    return _docker(["exec", *user, "--", target.address, "sh", "-c", script, "sh", *args])


def _why(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _probe(target: Target, path: str) -> tuple[str, int | None, str]:
    proc = _sh(target, _PROBE, path)
    if proc.returncode != 0:
        raise OSError(f"cannot inspect {path}: {_why(proc)}")
    kind, *rest = proc.stdout.decode("utf-8", "replace").split()
    if kind == "F" and len(rest) == 2:
        return kind, int(rest[0], 8), rest[1]
    return kind, None, ""


def _docker_copy(task: Task) -> HostResult:
    target, spec = task.target, CopySpec.from_args(task.args)
    dest = spec.dest
    try:
        kind, existing, digest = _probe(target, dest)
        if dest.endswith("/") or kind == "D":
            dest = transfer.into_dir(dest, spec.src)
            kind, existing, digest = _probe(target, dest)
        mode = spec.final_mode(existing)
        if kind == "F" and digest == spec.sha256:
            if existing == mode:
                return transfer.done(task, f"unchanged {dest}")
            proc = _sh(target, 'chmod "$1" "$2"', oct(mode)[2:], dest)
            if proc.returncode != 0:
                raise OSError(f"chmod: {_why(proc)}")
            return transfer.done(task, f"unchanged {dest} (mode set to {mode:04o})")
        tmp = transfer.temp_sibling(dest)
        proc = _docker(["cp", spec.src, f"{target.address}:{tmp}"])
        if proc.returncode != 0:
            raise OSError(f"docker cp: {_why(proc)}")
        proc = _sh(target, _INSTALL, oct(mode)[2:], tmp, dest)
        if proc.returncode != 0:
            _sh(target, 'rm -f "$1"', tmp)
            raise OSError(f"install: {_why(proc)}")
    except OSError as exc:
        return transfer.failed(task, f"copy to {dest}: {exc.strerror or exc}")
    return transfer.done(task, f"copied {dest} ({spec.size} bytes)")


def _docker_fetch(task: Task) -> HostResult:
    target = task.target
    remote, localdir = task.args
    dest = transfer.fetch_destination(localdir, target.name, remote)
    try:
        kind, _, _ = _probe(target, remote)
        if kind != "F":
            return transfer.failed(task, f"fetch {remote}: not a regular file")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".hostpool-") as tmpdir:
            tmp = Path(tmpdir) / dest.name
            proc = _docker(["cp", f"{target.address}:{remote}", str(tmp)])
            if proc.returncode != 0 or not tmp.is_file():
                raise OSError(f"docker cp: {_why(proc)}")
            size = tmp.stat().st_size
            os.replace(tmp, dest)
    except OSError as exc:
        return transfer.failed(task, f"fetch {remote}: {exc.strerror or exc}")
    return transfer.done(task, f"fetched {remote} ({size} bytes)")
