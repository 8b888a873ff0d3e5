"""Child side: copy and fetch over the worker's SSH connection (SFTP plus one exec).

A copy never leaves a half-written file behind the destination name: it uploads to a
hidden sibling, sets the mode, then ``posix-rename``s over the target.  When the remote
file already has the same size and SHA-256 nothing is sent.  File-level problems (missing
paths, permissions) are the host's FAILED result; only connection-level failures escape
to the worker's classifier.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import stat
import tempfile
from dataclasses import replace

import paramiko

from hostpool import transfer
from hostpool.models import HostResult, Task
from hostpool.transfer import CopySpec

HASH_TIMEOUT = 300.0


def open_client(transport: paramiko.Transport) -> paramiko.SFTPClient:
    client = paramiko.SFTPClient.from_transport(transport)
    if client is None:
        raise paramiko.SSHException("could not open an SFTP session")
    return client


def run_transfer(
    transport: paramiko.Transport,
    client: paramiko.SFTPClient,
    task: Task,
    new_key: tuple[str, str, str] | None,
) -> HostResult:
    if task.kind not in ("copy", "fetch"):
        client.close()
        return replace(transfer.unknown_kind(task), new_host_key=new_key)
    with client:
        result = _copy(transport, client, task) if task.kind == "copy" else _fetch(client, task)
    return replace(result, new_host_key=new_key)


def _stat(client: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return client.stat(path)
    except FileNotFoundError:
        return None


def _copy(transport: paramiko.Transport, client: paramiko.SFTPClient, task: Task) -> HostResult:
    spec = CopySpec.from_args(task.args)
    dest = spec.dest
    try:
        st = _stat(client, dest)
        if dest.endswith("/") or (st is not None and stat.S_ISDIR(st.st_mode or 0)):
            dest = transfer.into_dir(dest, spec.src)
            st = _stat(client, dest)
        existing = stat.S_IMODE(st.st_mode or 0) if st is not None else None
        mode = spec.final_mode(existing)
        if (
            st is not None
            and st.st_size == spec.size
            and (_remote_sha256(transport, client, dest) == spec.sha256)
        ):
            if existing == mode:
                return transfer.done(task, f"unchanged {dest}")
            client.chmod(dest, mode)
            return transfer.done(task, f"unchanged {dest} (mode set to {mode:04o})")
        tmp = transfer.temp_sibling(dest)
        try:
            client.put(spec.src, tmp, confirm=True)
            client.chmod(tmp, mode)
            client.posix_rename(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError, paramiko.SSHException):
                client.remove(tmp)
            raise
    except OSError as exc:
        return transfer.failed(task, transfer.os_error("copy to", dest, exc))
    return transfer.done(task, f"copied {dest} ({spec.size} bytes)")


def _remote_sha256(
    transport: paramiko.Transport, client: paramiko.SFTPClient, path: str
) -> str | None:
    """``sha256sum`` on the host when it has one, else hash the file read over SFTP."""
    channel = transport.open_session()
    try:
        channel.settimeout(HASH_TIMEOUT)
        channel.exec_command(f"sha256sum -- {shlex.quote(path)} 2>/dev/null")
        out = b""
        while chunk := channel.recv(4096):
            out += chunk
        rc = channel.recv_exit_status()
    finally:
        channel.close()
    digest = out.split(b" ", 1)[0].decode("ascii", "replace")
    if rc == 0 and len(digest) == 64:
        return digest
    sha = hashlib.sha256()
    with client.open(path, "rb") as fh:
        fh.prefetch()
        while chunk := fh.read(transfer.CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _fetch(client: paramiko.SFTPClient, task: Task) -> HostResult:
    remote, localdir = task.args
    target = transfer.fetch_destination(localdir, task.target.name, remote)
    try:
        st = client.stat(remote)
        if not stat.S_ISREG(st.st_mode or 0):
            return transfer.failed(task, f"fetch {remote}: not a regular file")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            client.get(remote, tmp)
            os.chmod(tmp, stat.S_IMODE(st.st_mode or 0o600))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        return transfer.failed(task, transfer.os_error("fetch", remote, exc))
    return transfer.done(task, f"fetched {remote} ({st.st_size} bytes)")
