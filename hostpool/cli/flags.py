"""The flags ``exec``, ``copy`` and ``fetch`` share, declared once, in help panels.

``cli.register`` merges them into each command's signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from hostpool.cli.options import (
    HostsOpt,
    InventoryOpt,
    KeyOpt,
    SSHConfigExecOpt,
    SSHConfigOpt,
    UserOpt,
)
from hostpool.cli.persist import PersistOpt
from hostpool.models import DEFAULT_OUTPUT_LIMIT
from hostpool.output.modes import OutputMode
from hostpool.output.terminal import Color
from hostpool.pool.pool import StartMethod


@dataclass(frozen=True)
class RunFlags:
    """The options exec, copy and fetch share, declared once in ``run_flags``."""

    inventory: list[str] | None
    hosts: str
    limit: str | None
    rerun_failed: bool
    forks: int
    processes: int | None
    user: str | None
    key: str | None
    ssh_config: str
    ssh_config_exec: bool
    keepalive: float
    ask_pass: bool
    pass_file: str | None
    ask_key_pass: bool
    key_pass_file: str | None
    connect_timeout: float
    timeout: float | None
    run_timeout: float
    max_tasks_per_worker: int | None
    start_method: StartMethod
    known_hosts: list[str] | None
    accept_new: bool
    insecure_ignore_host_keys: bool
    retries: int
    retry_delay: float
    batch: str | None
    max_fail_percent: float | None
    max_fail: int | None
    fail_fast: bool
    maxrc: bool
    output: OutputMode
    color: Color
    junit_file: str | None
    out_dir: str | None
    progress: bool
    output_limit: int
    persist: str | None


def run_flags(
    inventory: InventoryOpt = None,
    hosts: HostsOpt = "all",
    limit: Annotated[
        str | None,
        typer.Option(
            "-l", "--limit", help="Further limit the hosts by pattern; '@failed' = last run's."
        ),
    ] = None,
    rerun_failed: Annotated[
        bool,
        typer.Option(
            "--rerun-failed",
            help="Only the hosts that failed in the last run.",
            rich_help_panel="Selection",
        ),
    ] = False,
    forks: Annotated[
        int,
        typer.Option(
            "-f",
            "--forks",
            min=1,
            max=4096,
            help="Hosts in flight at once.",
            rich_help_panel="Execution",
        ),
    ] = 32,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            max=4096,
            help="Worker processes of the Pool (default: CPU count); each drives its share "
            "of the hosts in flight.",
            rich_help_panel="Advanced pool",
        ),
    ] = None,
    user: UserOpt = None,
    key: KeyOpt = None,
    ssh_config: SSHConfigOpt = "~/.ssh/config",
    ssh_config_exec: SSHConfigExecOpt = False,
    ask_pass: Annotated[
        bool,
        typer.Option(
            "--ask-pass",
            help="Prompt once for the SSH login password.",
            rich_help_panel="Connection",
        ),
    ] = False,
    pass_file: Annotated[
        str | None,
        typer.Option(
            "--pass-file",
            help="Read the SSH password from this file.",
            rich_help_panel="Connection",
        ),
    ] = None,
    ask_key_pass: Annotated[
        bool,
        typer.Option(
            "--ask-key-pass",
            help="Prompt once for the private key passphrase.",
            rich_help_panel="Connection",
        ),
    ] = False,
    key_pass_file: Annotated[
        str | None,
        typer.Option(
            "--key-pass-file",
            help="Read the key passphrase from this file (CI).",
            rich_help_panel="Connection",
        ),
    ] = None,
    keepalive: Annotated[
        float,
        typer.Option(
            "--keepalive",
            min=0,
            help="Seconds of silence before a keepalive probe; 3 unanswered make the host "
            "unreachable (0: off; ssh_config ServerAliveInterval wins).",
            rich_help_panel="Connection",
        ),
    ] = 15.0,
    connect_timeout: Annotated[
        float,
        typer.Option(
            "--connect-timeout",
            min=0.1,
            help="Seconds for TCP, banner, kex, auth.",
            rich_help_panel="Connection",
        ),
    ] = 10.0,
    timeout: Annotated[
        float | None,
        typer.Option(
            "-t",
            "--timeout",
            min=0.1,
            help="Seconds the command may run.",
            rich_help_panel="Execution",
        ),
    ] = None,
    run_timeout: Annotated[
        float,
        typer.Option(
            "--run-timeout",
            min=0,
            envvar="HOSTPOOL_RUN_TIMEOUT",
            help="Seconds the whole run may take; hosts still out then are 'timeout' and"
            " their commands are stopped (0: no limit).",
            rich_help_panel="Execution",
        ),
    ] = 3600.0,
    max_tasks_per_worker: Annotated[
        int | None,
        typer.Option(
            "--max-tasks-per-worker",
            min=1,
            help="Pool maxtasksperchild.",
            rich_help_panel="Advanced pool",
        ),
    ] = None,
    start_method: Annotated[
        StartMethod,
        typer.Option(
            "--start-method", help="How worker processes start.", rich_help_panel="Advanced pool"
        ),
    ] = StartMethod.FORKSERVER,
    known_hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--known-hosts", help="known_hosts file (repeatable).", rich_help_panel="Connection"
        ),
    ] = None,
    accept_new: Annotated[
        bool,
        typer.Option(
            "--accept-new",
            help="Learn unknown host keys; changed keys still fail.",
            rich_help_panel="Connection",
        ),
    ] = False,
    insecure_ignore_host_keys: Annotated[
        bool,
        typer.Option(
            "--insecure-ignore-host-keys",
            help="Do not check host keys at all.",
            rich_help_panel="Connection",
        ),
    ] = False,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            help="Retry hosts whose connection failed.",
            rich_help_panel="Execution",
        ),
    ] = 0,
    retry_delay: Annotated[
        float,
        typer.Option(
            "--retry-delay",
            min=0.0,
            help="Seconds before the first retry (doubles).",
            rich_help_panel="Execution",
        ),
    ] = 1.0,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="Rolling execution: N hosts or P% at a time (Ansible's serial).",
            rich_help_panel="Execution",
        ),
    ] = None,
    max_fail_percent: Annotated[
        float | None,
        typer.Option(
            "--max-fail-percent",
            min=0,
            max=100,
            help="With --batch: stop the rollout when more than this share of a batch fails.",
            rich_help_panel="Execution",
        ),
    ] = None,
    max_fail: Annotated[
        int | None,
        typer.Option(
            "--max-fail",
            min=1,
            help="Stop after this many failed hosts.",
            rich_help_panel="Execution",
        ),
    ] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Same as --max-fail 1.", rich_help_panel="Execution")
    ] = False,
    maxrc: Annotated[
        bool,
        typer.Option(
            "--maxrc", help="Exit with the largest remote exit code.", rich_help_panel="Execution"
        ),
    ] = False,
    output: Annotated[
        OutputMode, typer.Option("-o", "--output", help="Output mode.", rich_help_panel="Output")
    ] = (OutputMode.TABLE),
    color: Annotated[
        Color, typer.Option("--color", help="Colour the human modes.", rich_help_panel="Output")
    ] = Color.AUTO,
    junit_file: Annotated[
        str | None,
        typer.Option(
            "--junit-file", help="Also write JUnit XML to this file.", rich_help_panel="Output"
        ),
    ] = None,
    out_dir: Annotated[
        str | None,
        typer.Option(
            "--out-dir",
            help="Write DIR/<host>.stdout, .stderr and .status files.",
            rich_help_panel="Output",
        ),
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Live progress line on a terminal.",
            rich_help_panel="Output",
        ),
    ] = True,
    output_limit: Annotated[
        int,
        typer.Option(
            "--output-limit",
            min=1,
            help="Bytes kept per stream per host.",
            rich_help_panel="Output",
        ),
    ] = DEFAULT_OUTPUT_LIMIT,
    persist: PersistOpt = None,
) -> RunFlags:
    return RunFlags(**locals())
