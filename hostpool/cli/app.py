"""The ``hostpool`` command: a thin typer layer over the library API.

Flags become library objects (``cli.session``); rendering comes from ``hostpool.output``
and exit codes from ``Report.exit_code``.  The ``cli`` package is the only typer importer.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated

import typer

from hostpool import __version__
from hostpool.cli import session
from hostpool.cli.flags import RunFlags
from hostpool.cli.options import (
    HostsOpt,
    InventoryOpt,
    KeyOpt,
    LimitOpt,
    SSHConfigExecOpt,
    SSHConfigOpt,
    UserOpt,
)
from hostpool.cli.persist import pool_app
from hostpool.cli.register import run_command
from hostpool.errors import ExitCode, HostpoolError
from hostpool.inventory import HostDefaults
from hostpool.models import Copy, Exec, Fetch, Script
from hostpool.output.table import host_table
from hostpool.pool.engines import Engine, engine_options
from hostpool.transfer import parse_mode

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="Run shell commands on many hosts at once over SSH, on a process pool.",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(show: bool) -> None:
    if show:
        typer.echo(f"hostpool {__version__}")
        raise typer.Exit(0)


app.add_typer(pool_app, name="pool")


@app.callback()
def _top(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Run shell commands on many hosts at once over SSH, on a process pool."""


@run_command(app, "exec", trailing=True)
def exec_(
    command: Annotated[
        list[str],
        typer.Argument(help="Shell command to run on every host (the words after the options)."),
    ],
    sudo: Annotated[
        bool, typer.Option("--sudo", "--become", help="Run the command through sudo.")
    ] = False,
    become_user: Annotated[
        str | None, typer.Option("--become-user", help="sudo -u USER (implies --become).")
    ] = None,
    ask_sudo_pass: Annotated[
        bool,
        typer.Option(
            "--ask-sudo-pass", "--ask-become-pass", help="Prompt once for the sudo password."
        ),
    ] = False,
    sudo_pass_file: Annotated[
        str | None,
        typer.Option(
            "--sudo-pass-file",
            "--become-pass-file",
            help="Read the sudo password from this file (CI).",
        ),
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="K=V exported before the command.")
    ] = None,
    pty: Annotated[
        bool,
        typer.Option(
            "--pty", help="Run on a terminal (stderr merges into stdout, as on any terminal)."
        ),
    ] = False,
    no_stdin: Annotated[
        bool,
        typer.Option("-n", "--no-stdin", help="Do not send stdin (sent when not a terminal)."),
    ] = False,
    engine: Annotated[Engine, typer.Option("--engine", help="Worker pool engine.")] = Engine.LOCAL,
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
    """Run COMMAND on every selected host and report one line per host.

    \b
    hostpool exec -i hosts.ini uptime
    hostpool exec -i hosts.ini -H 'web:!web03' -f 64 -t 30 -- systemctl is-active nginx
    hostpool exec -i 'deploy@web[01:04].example.com,' -o gather cat /etc/os-release
    hostpool exec -i hosts.ini 'sort | uniq -c' < list.txt   # stdin goes to every host
    """
    password = session.secret(
        ask_sudo_pass, sudo_pass_file, "sudo password: ", "--ask-sudo-pass", "--sudo-pass-file"
    )
    options = engine_options(engine, address=ray_address, resources=ray_resource or ())
    data = session.broadcast_input(no_stdin, pty)
    action = Exec(" ".join(command), env=session.parse_env(env or []), stdin=data, pty=pty)
    code = session.execute(
        flags,
        action,
        sudo=sudo or password is not None or become_user is not None,
        password=password,
        become_user=session.checked_user(become_user),
        engine=engine,
        engine_options=options,
    )
    raise typer.Exit(code)


@run_command(app, "script", trailing=True)
def script_(
    script: Annotated[str, typer.Argument(help="Local script to send and run on every host.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the script.")] = None,
    sudo: Annotated[
        bool, typer.Option("--sudo", "--become", help="Run the script through sudo.")
    ] = False,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="K=V exported before the script.")
    ] = None,
    no_stdin: Annotated[
        bool,
        typer.Option("-n", "--no-stdin", help="Do not send stdin (sent when not a terminal)."),
    ] = False,
    *,
    flags: RunFlags,
) -> None:
    """Send SCRIPT to every host, run it with ARGS, remove it (Ansible's script).

    \b
    hostpool script -i hosts.ini ./check.sh --verbose
    """
    data = session.broadcast_input(no_stdin, pty=False)
    run = Exec("", sudo=sudo or None, env=session.parse_env(env or []), stdin=data)
    raise typer.Exit(session.execute(flags, Script(script, tuple(args or ()), run)))


@run_command(app, "copy")
def copy_(
    src: Annotated[
        str, typer.Argument(help="Local file or directory ('dir/': its contents) to send.")
    ],
    dest: Annotated[str, typer.Argument(help="Remote path (a directory or ending in '/').")],
    mode: Annotated[
        str | None, typer.Option("--mode", help="Octal permissions, e.g. 0644.")
    ] = None,
    *,
    flags: RunFlags,
) -> None:
    """Copy SRC to DEST on every host (atomic rename; unchanged files are not resent).

    \b
    hostpool copy -i hosts.ini ./motd /etc/motd --mode 0644
    hostpool copy -i hosts.ini ./site /var/www      # -> /var/www/site/...
    hostpool copy -i hosts.ini ./site/ /var/www     # -> /var/www/... (the contents)
    """
    raise typer.Exit(session.execute(flags, Copy(src, dest, parse_mode(mode))))


@run_command(app, "fetch")
def fetch_(
    remote: Annotated[str, typer.Argument(help="Remote file or directory to fetch.")],
    localdir: Annotated[str, typer.Argument(help="Files land in LOCALDIR/<host>/<name>.")],
    *,
    flags: RunFlags,
) -> None:
    """Fetch REMOTE from every host into LOCALDIR/<host>/.

    \b
    hostpool fetch -i hosts.ini /var/log/syslog ./logs    # ./logs/<host>/syslog
    hostpool fetch -i hosts.ini /etc/nginx ./configs      # ./configs/<host>/nginx/...
    """
    raise typer.Exit(session.execute(flags, Fetch(remote, localdir)))


@app.command("hosts")
def hosts_(
    source: InventoryOpt = None,
    hosts: HostsOpt = "all",
    limit: LimitOpt = None,
    user: UserOpt = None,
    key: KeyOpt = None,
    ssh_config: SSHConfigOpt = "~/.ssh/config",
    ssh_config_exec: SSHConfigExecOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="All resolved fields as JSON.")] = False,
) -> None:
    """List the hosts a pattern selects, with their resolved connection settings."""
    config = session.ssh_config_path(ssh_config)
    defaults = HostDefaults(
        user=user, key_file=key, ssh_config=config, ssh_config_exec=ssh_config_exec
    )
    loaded = session.load(source)
    try:
        described = loaded.describe(hosts, limit, defaults)
    finally:
        session.warn(loaded)
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    typer.echo(host_table(described))


_received: list[int] = []


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP end a run as Ctrl-C does (workers terminated, every host
    accounted for, the report printed), then exit 128 + the signal."""
    _received.append(signum)
    raise KeyboardInterrupt


def main() -> None:
    """Console entry point: library errors become their documented exit codes."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job keeps it
        signal.signal(signal.SIGINT, signal.default_int_handler)  # after cli.entry's
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop_like_ctrl_c)
    try:
        code = app(standalone_mode=False)
        sys.exit(_signalled(code if isinstance(code, int) else 0))
    except typer.Exit as done:
        sys.exit(_signalled(done.exit_code))
    except HostpoolError as exc:
        typer.echo(f"hostpool: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("hostpool: interrupted", err=True)
        sys.exit(_signalled(ExitCode.INTERRUPTED))
    except typer.Abort:
        sys.exit(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:  # usage errors: unknown flag, bad value
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"hostpool: {exc}", err=True)
        sys.exit(ExitCode.USAGE)


def _signalled(code: int) -> int:
    return 128 + _received[0] if _received else code


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["app", "main"]
