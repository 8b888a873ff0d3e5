"""Running the ``hostpool`` command in a subprocess, isolated from the repo's state dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.sshd import SSHLab


def hostpool(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HOSTPOOL_STATE_DIR": str(cwd / "state"), **(env or {})}
    if "NO_COLOR" not in (env or {}):
        full_env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "hostpool", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        timeout=timeout,
    )


def lab_args(lab: SSHLab, inventory: Path) -> tuple[str, ...]:
    """Flags every lab run needs: its inventory, its known_hosts, no user ssh_config."""
    return ("-i", str(inventory), "--known-hosts", str(lab.known_hosts), "--ssh-config", "none")


def first_address_case(fail: str) -> str:
    """Shell snippet running ``fail`` only on the lab's first address (127.0.0.1)."""
    return f'case "$SSH_CONNECTION" in *" 127.0.0.1 "*) {fail};; esac'
