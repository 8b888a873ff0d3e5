"""Parent side: the ``hostpool`` command, a thin typer layer over the library API.

Flags become library calls; rendering and exit codes come from report.py.  This is the
only module that imports typer.
"""

from __future__ import annotations

import importlib.machinery
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from hostpool import api, console, engines, lastrun, transfer
from hostpool.console import OUTPUT_MODES, Display
from hostpool.errors import HostpoolError, UsageError
from hostpool.models import DEFAULT_OUTPUT_LIMIT, HostKeyPolicy, SSHOptions, Target
from hostpool.render import COLOR_CHOICES
from hostpool.report import ExitCode, host_table
from hostpool.runner import DEFAULT_START_METHOD, START_METHODS
from hostpool.shell import parse_env

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run shell commands on many hosts at once over SSH, on a process pool.",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

InventoryOpt = Annotated[
    str,
    typer.Option(
        "-i",
        "--inventory",
        envvar="HOSTPOOL_INVENTORY",
        help="Inventory INI file, or a comma-separated host list ('web1,web2:2222,').",
    ),
]
HostsOpt = Annotated[
    str,
    typer.Option("-H", "--hosts", help="Host pattern: groups, hosts, globs, ~regex, a:&b, a:!b."),
]
LimitOpt = Annotated[
    str | None, typer.Option("-l", "--limit", help="Further limit the selected hosts by pattern.")
]
UserOpt = Annotated[
    str | None, typer.Option("-u", "--user", help="Login user where the inventory sets none.")
]
KeyOpt = Annotated[
    str | None, typer.Option("-k", "--key", help="Private key file where the inventory sets none.")
]
SSHConfigOpt = Annotated[
    str,
    typer.Option("--ssh-config", help="OpenSSH client config to honour ('none' to ignore it)."),
]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"hostpool: {message}", err=True)
    raise typer.Exit(code)


def _host_key_policy(accept_new: bool, insecure: bool) -> HostKeyPolicy:
    if accept_new and insecure:
        raise UsageError("--accept-new and --insecure-ignore-host-keys exclude each other")
    if insecure:
        return HostKeyPolicy.IGNORE
    return HostKeyPolicy.ACCEPT_NEW if accept_new else HostKeyPolicy.STRICT


@dataclass(frozen=True)
class RunFlags:
    """The options exec, copy and fetch share, declared once in ``_run_flags``."""

    inventory: str
    hosts: str
    limit: str | None
    rerun_failed: bool
    forks: int
    per_worker: int
    user: str | None
    key: str | None
    ssh_config: str
    connect_timeout: float
    timeout: float | None
    max_tasks_per_worker: int | None
    start_method: str
    known_hosts: list[str] | None
    accept_new: bool
    insecure_ignore_host_keys: bool
    retries: int
    retry_delay: float
    max_fail: int | None
    fail_fast: bool
    maxrc: bool
    output: str
    color: str
    junit_file: str | None
    out_dir: str | None
    progress: bool
    output_limit: int


def _run_flags(
    inventory: InventoryOpt = "inventories/local.ini",
    hosts: HostsOpt = "all",
    limit: Annotated[
        str | None,
        typer.Option(
            "-l", "--limit", help="Further limit the hosts by pattern; '@failed' = last run's."
        ),
    ] = None,
    rerun_failed: Annotated[
        bool, typer.Option("--rerun-failed", help="Only the hosts that failed in the last run.")
    ] = False,
    forks: Annotated[
        int, typer.Option("-f", "--forks", min=1, max=4096, help="Worker processes (the Pool).")
    ] = 32,
    per_worker: Annotated[
        int,
        typer.Option(
            "--per-worker",
            min=1,
            max=256,
            help="Hosts each worker drives at once (threads); forks x per-worker in flight.",
        ),
    ] = 1,
    user: UserOpt = None,
    key: KeyOpt = None,
    ssh_config: SSHConfigOpt = "~/.ssh/config",
    connect_timeout: Annotated[
        float,
        typer.Option("--connect-timeout", min=0.1, help="Seconds for TCP, banner, kex, auth."),
    ] = 10.0,
    timeout: Annotated[
        float | None, typer.Option("-t", "--timeout", min=0.1, help="Seconds the command may run.")
    ] = None,
    max_tasks_per_worker: Annotated[
        int | None, typer.Option("--max-tasks-per-worker", min=1, help="Pool maxtasksperchild.")
    ] = None,
    start_method: Annotated[
        str, typer.Option("--start-method", help=f"One of {', '.join(START_METHODS)}.")
    ] = DEFAULT_START_METHOD,
    known_hosts: Annotated[
        list[str] | None, typer.Option("--known-hosts", help="known_hosts file (repeatable).")
    ] = None,
    accept_new: Annotated[
        bool, typer.Option("--accept-new", help="Learn unknown host keys; changed keys still fail.")
    ] = False,
    insecure_ignore_host_keys: Annotated[
        bool, typer.Option("--insecure-ignore-host-keys", help="Do not check host keys at all.")
    ] = False,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Retry hosts whose connection failed.")
    ] = 0,
    retry_delay: Annotated[
        float,
        typer.Option("--retry-delay", min=0.0, help="Seconds before the first retry (doubles)."),
    ] = 1.0,
    max_fail: Annotated[
        int | None, typer.Option("--max-fail", min=1, help="Stop after this many failed hosts.")
    ] = None,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Same as --max-fail 1.")] = False,
    maxrc: Annotated[
        bool, typer.Option("--maxrc", help="Exit with the largest remote exit code.")
    ] = False,
    output: Annotated[
        str, typer.Option("-o", "--output", help=f"One of {', '.join(OUTPUT_MODES)}.")
    ] = "table",
    color: Annotated[
        str, typer.Option("--color", help=f"One of {', '.join(COLOR_CHOICES)}.")
    ] = "auto",
    junit_file: Annotated[
        str | None, typer.Option("--junit-file", help="Also write JUnit XML to this file.")
    ] = None,
    out_dir: Annotated[
        str | None,
        typer.Option("--out-dir", help="Write DIR/<host>.stdout, .stderr and .status files."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Live progress line on a terminal.")
    ] = True,
    output_limit: Annotated[
        int, typer.Option("--output-limit", min=1, help="Bytes kept per stream per host.")
    ] = DEFAULT_OUTPUT_LIMIT,
) -> RunFlags:
    return RunFlags(**locals())


_COMMON = inspect.signature(_run_flags, eval_str=True).parameters


def _run_command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command whose signature is its own parameters plus the shared ones.

    The function receives the shared ones bundled as ``flags: RunFlags``; typer only sees
    the merged signature, so each shared option is declared once.
    """

    def register(func: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(func, eval_str=True)
        mine = [p for p in own.parameters.values() if p.name != "flags"]
        # Help lists arguments, then the shared options, then this command's own.
        required = [p for p in mine if p.default is inspect.Parameter.empty]
        optional = [p for p in mine if p.default is not inspect.Parameter.empty]
        params = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in [*required, *_COMMON.values(), *optional]
        ]

        def command(**kwargs: Any) -> None:
            shared = {k: kwargs.pop(k) for k in _COMMON}
            func(**kwargs, flags=_run_flags(**shared))

        command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__ = func.__name__
        command.__doc__ = func.__doc__
        app.command(name)(command)
        return func

    return register


def _targets(flags: RunFlags) -> list[Target]:
    rerun = flags.rerun_failed or flags.limit == lastrun.FAILED_ALIAS
    limit = None if flags.limit == lastrun.FAILED_ALIAS else flags.limit
    targets = api.select(
        flags.inventory,
        flags.hosts,
        limit,
        user=flags.user,
        key_file=flags.key,
        ssh_config=_ssh_config(flags.ssh_config),
    )
    return lastrun.only_failed(targets) if rerun else targets


def _execute(
    flags: RunFlags,
    command: str,
    *,
    kind: str = "exec",
    args: tuple[str, ...] = (),
    sudo: bool = False,
    password: str | None = None,
    env: tuple[tuple[str, str], ...] = (),
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
) -> NoReturn:
    display = Display(
        mode=flags.output,
        color=flags.color,
        progress=flags.progress,
        junit_file=flags.junit_file,
        out_dir=flags.out_dir,
    )
    options = SSHOptions(
        connect_timeout=flags.connect_timeout,
        command_timeout=flags.timeout,
        host_key_policy=_host_key_policy(flags.accept_new, flags.insecure_ignore_host_keys),
        known_hosts=tuple(flags.known_hosts or ()),
        sudo=sudo,
        sudo_password=password,
        env=env,
        output_limit=flags.output_limit,
    )
    report = console.run(
        _targets(flags),
        command,
        options=options,
        display=display,
        kind=kind,
        args=args,
        forks=flags.forks,
        per_worker=flags.per_worker,
        start_method=flags.start_method,
        max_tasks_per_child=flags.max_tasks_per_worker,
        retries=flags.retries,
        retry_delay=flags.retry_delay,
        max_fail=1 if flags.fail_fast else flags.max_fail,
        engine=engine,
        engine_options=engine_options,
    )
    try:
        lastrun.record(
            report, inventory=flags.inventory, pattern=flags.hosts, limit=flags.limit, kind=kind
        )
    except OSError as exc:
        typer.echo(f"hostpool: warning: cannot record the last run: {exc}", err=True)
    raise typer.Exit(report.exit_code(maxrc=flags.maxrc))


def _sudo_password(ask: bool, password_file: str | None) -> str | None:
    """From the terminal (once) or a file for CI; never from argv or the environment."""
    if ask and password_file:
        raise UsageError("--ask-sudo-pass and --sudo-pass-file exclude each other")
    if ask:
        import getpass

        return getpass.getpass("sudo password: ")
    if password_file:
        try:
            text = Path(password_file).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {password_file}: {exc.strerror or exc}") from None
        return text.splitlines()[0] if text else ""
    return None


@_run_command("exec")
def exec_(
    command: Annotated[str, typer.Argument(help="Shell command to run on every host.")],
    sudo: Annotated[bool, typer.Option("--sudo", help="Run the command through sudo.")] = False,
    ask_sudo_pass: Annotated[
        bool, typer.Option("--ask-sudo-pass", help="Prompt once for the sudo password.")
    ] = False,
    sudo_pass_file: Annotated[
        str | None,
        typer.Option("--sudo-pass-file", help="Read the sudo password from this file (CI)."),
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="K=V exported before the command.")
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help=f"Worker pool: {' or '.join(engines.ENGINES)}.")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster to join (default: local).")
    ] = None,
    ray_resource: Annotated[
        list[str] | None,
        typer.Option("--ray-resource", help="K=V Ray resource each worker needs (repeatable)."),
    ] = None,
    *,
    flags: RunFlags,
) -> None:
    """Run COMMAND on every selected host and report one line per host."""
    password = _sudo_password(ask_sudo_pass, sudo_pass_file)
    _execute(
        flags,
        command,
        sudo=sudo or password is not None,
        password=password,
        env=parse_env(env or []),
        engine=engine,
        engine_options=engines.engine_options(
            engine, address=ray_address, resources=ray_resource or ()
        ),
    )


@_run_command("copy")
def copy_(
    src: Annotated[str, typer.Argument(help="Local file to send.")],
    dest: Annotated[str, typer.Argument(help="Remote path (a directory or ending in '/').")],
    mode: Annotated[
        str | None, typer.Option("--mode", help="Octal permissions, e.g. 0644.")
    ] = None,
    *,
    flags: RunFlags,
) -> None:
    """Copy SRC to DEST on every host (atomic rename; unchanged files are not resent)."""
    command, args = transfer.copy_task(src, dest, mode)
    _execute(flags, command, kind="copy", args=args)


@_run_command("fetch")
def fetch_(
    remote: Annotated[str, typer.Argument(help="Remote file to fetch.")],
    localdir: Annotated[str, typer.Argument(help="Files land in LOCALDIR/<host>/<name>.")],
    *,
    flags: RunFlags,
) -> None:
    """Fetch REMOTE from every host into LOCALDIR/<host>/."""
    command, args = transfer.fetch_task(remote, localdir)
    _execute(flags, command, kind="fetch", args=args)


def _ssh_config(value: str) -> str | None:
    return None if value.lower() == "none" else value


@app.command("hosts")
def hosts_(
    inventory: InventoryOpt = "inventories/local.ini",
    hosts: HostsOpt = "all",
    limit: LimitOpt = None,
    user: UserOpt = None,
    key: KeyOpt = None,
    ssh_config: SSHConfigOpt = "~/.ssh/config",
    as_json: Annotated[bool, typer.Option("--json", help="All resolved fields as JSON.")] = False,
) -> None:
    """List the hosts a pattern selects, with their resolved connection settings."""
    described = api.describe(
        inventory, hosts, limit, user=user, key_file=key, ssh_config=_ssh_config(ssh_config)
    )
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    typer.echo(host_table(described))


def _spare_workers_the_main_script() -> None:
    """Workers started by spawn or forkserver re-run the parent's main script to rebuild
    ``__mp_main__``; for the console script that means importing typer, click and this
    module in every worker (~35 ms of CPU each) for nothing a task needs.
    multiprocessing does not re-run a main module whose spec names a ``__main__`` module
    (as under ``python -m hostpool``), so the console script is given that name."""
    script = sys.modules.get("__main__")
    if (
        script is not None
        and getattr(script, "__spec__", None) is None
        and getattr(script, "main", None) is main
    ):
        script.__spec__ = importlib.machinery.ModuleSpec("hostpool.__main__", None)


def main() -> None:
    """Console entry point: library errors become their documented exit codes."""
    _spare_workers_the_main_script()
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except HostpoolError as exc:
        typer.echo(f"hostpool: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("hostpool: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except typer.Abort:
        sys.exit(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:  # usage errors: unknown flag, bad value
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"hostpool: {exc}", err=True)
        sys.exit(ExitCode.USAGE)


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["app", "main"]
