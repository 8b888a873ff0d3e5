"""Parent side: the ``hostpool`` command, a thin typer layer over the library API.

Flags become library calls; rendering and exit codes come from report.py.  This is the
only module that imports typer.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, NoReturn

import typer

from hostpool import api
from hostpool.errors import HostpoolError, UsageError
from hostpool.models import DEFAULT_OUTPUT_LIMIT, HostKeyPolicy, SSHOptions
from hostpool.report import ExitCode, host_table, render_table, report_to_dict
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


@app.command("exec")
def exec_(
    command: Annotated[str, typer.Argument(help="Shell command to run on every host.")],
    inventory: InventoryOpt = "inventories/local.ini",
    hosts: HostsOpt = "all",
    limit: LimitOpt = None,
    forks: Annotated[int, typer.Option("-f", "--forks", min=1, max=4096)] = 32,
    user: UserOpt = None,
    key: KeyOpt = None,
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
    sudo: Annotated[bool, typer.Option("--sudo", help="Run the command through sudo.")] = False,
    ask_sudo_pass: Annotated[
        bool, typer.Option("--ask-sudo-pass", help="Prompt once for the sudo password.")
    ] = False,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="K=V exported before the command.")
    ] = None,
    known_hosts: Annotated[
        list[str] | None, typer.Option("--known-hosts", help="known_hosts file (repeatable).")
    ] = None,
    accept_new: Annotated[
        bool, typer.Option("--accept-new", help="Learn unknown host keys; changed keys still fail.")
    ] = False,
    insecure_ignore_host_keys: Annotated[
        bool, typer.Option("--insecure-ignore-host-keys", help="Do not check host keys at all.")
    ] = False,
    ssh_config: SSHConfigOpt = "~/.ssh/config",
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Retry connection failures.")
    ] = 0,
    max_fail: Annotated[
        int | None, typer.Option("--max-fail", min=1, help="Stop after this many failed hosts.")
    ] = None,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Same as --max-fail 1.")] = False,
    maxrc: Annotated[
        bool, typer.Option("--maxrc", help="Exit with the largest remote exit code.")
    ] = False,
    output: Annotated[str, typer.Option("-o", "--output", help="table or json.")] = "table",
    output_limit: Annotated[
        int, typer.Option("--output-limit", min=1, help="Bytes kept per stream per host.")
    ] = DEFAULT_OUTPUT_LIMIT,
) -> None:
    """Run COMMAND on every selected host and report one line per host."""
    if output not in ("table", "json"):
        raise UsageError("--output must be table or json")
    password = None
    if ask_sudo_pass:
        import getpass

        sudo = True
        password = getpass.getpass("sudo password: ")
    options = SSHOptions(
        connect_timeout=connect_timeout,
        command_timeout=timeout,
        host_key_policy=_host_key_policy(accept_new, insecure_ignore_host_keys),
        known_hosts=tuple(known_hosts or ()),
        sudo=sudo,
        sudo_password=password,
        env=parse_env(env or []),
        output_limit=output_limit,
    )
    targets = api.select(
        inventory, hosts, limit, user=user, key_file=key, ssh_config=_ssh_config(ssh_config)
    )
    report = api.run(
        targets,
        command,
        forks=forks,
        options=options,
        start_method=start_method,
        max_tasks_per_child=max_tasks_per_worker,
        retries=retries,
        max_fail=1 if fail_fast else max_fail,
    )
    if output == "json":
        typer.echo(json.dumps(report_to_dict(report), indent=2))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        typer.echo(render_table(report, color=color))
    raise typer.Exit(report.exit_code(maxrc=maxrc))


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


def main() -> None:
    """Console entry point: library errors become their documented exit codes."""
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
