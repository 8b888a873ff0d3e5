"""From parsed flags to one run: targets, the Pool, the display, the last-run record.

Every object here is a library one (``SSHOptions``, ``Pool``, ``Display``, actions); the
CLI adds only reading secrets from a terminal or a file, never from argv or the
environment.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from hostpool import inventory, known_hosts
from hostpool.cli.flags import RunFlags
from hostpool.cli.persist import parse_duration
from hostpool.errors import ConfigError, Interrupted, UsageError
from hostpool.inventory import HostDefaults, lastrun
from hostpool.models import Action, HostKeyPolicy, SSHOptions, Target
from hostpool.output.display import Display, Session
from hostpool.persist import PersistentPool
from hostpool.pool.engines import Engine, EngineOptions
from hostpool.pool.ledger import RunPolicy
from hostpool.pool.pool import Pool
from hostpool.pool.rollout import Batch, rollout
from hostpool.report import Report
from hostpool.transfer import safe_component


def parse_env(pairs: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Split ``K=V`` strings; names are validated because they are spliced into ``export``."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier() or not name.isascii():
            raise UsageError(f"--env expects NAME=VALUE with a shell variable name, got {pair!r}")
        out.append((name, value))
    return tuple(out)


def host_key_policy(accept_new: bool, insecure: bool) -> HostKeyPolicy | None:
    """A flag wins; without one, each host's ssh_config StrictHostKeyChecking, else strict."""
    if accept_new and insecure:
        raise UsageError("--accept-new and --insecure-ignore-host-keys exclude each other")
    if insecure:
        return HostKeyPolicy.IGNORE
    return HostKeyPolicy.ACCEPT_NEW if accept_new else None


def ssh_config_path(value: str) -> str | None:
    return None if value.lower() == "none" else value


def checked_user(user: str | None) -> str | None:
    if user is not None and not inventory.is_valid_user(user):
        raise UsageError(f"--become-user: invalid user name {user!r}")
    return user


def secret(
    ask: bool, password_file: str | None, prompt: str, ask_flag: str, file_flag: str
) -> str | None:
    """From the terminal (once) or a file for CI; never from argv or the environment."""
    if ask and password_file:
        raise UsageError(f"{ask_flag} and {file_flag} exclude each other")
    if ask:
        return getpass.getpass(prompt)
    if password_file:
        try:
            text = Path(password_file).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {password_file}: {exc.strerror or exc}") from None
        return text.splitlines()[0] if text else ""
    return None


STDIN_LIMIT = 64 * 1024 * 1024


def broadcast_input(disabled: bool, pty: bool) -> bytes:
    """clush's rule: stdin that is not a terminal is read once and sent to every host;
    ``-n`` turns it off (a pipe nobody closes would otherwise be waited on)."""
    stream = sys.stdin
    if disabled or stream is None or stream.isatty():
        return b""
    try:
        data = stream.buffer.read(STDIN_LIMIT + 1)
    except (OSError, ValueError, AttributeError):  # closed or not a real file
        return b""
    if len(data) > STDIN_LIMIT:
        raise UsageError(f"stdin is larger than {STDIN_LIMIT >> 20} MiB: copy the file instead")
    if data and pty:
        raise UsageError("--pty cannot carry stdin data (a terminal edits it): add -n")
    return data


BUILT_IN = "<built-in: localhost, connection=local>"


def sources(given: list[str] | None) -> list[str]:
    return list(given) if given else [BUILT_IN]


def load(given: list[str] | None) -> inventory.Inventory:
    """Every ``-i``; with none (and no HOSTPOOL_INVENTORY), this machine itself, so
    ``hostpool exec uptime`` works from any directory."""
    if not given:
        return inventory.parse_inventory("localhost ansible_connection=local\n", BUILT_IN)
    return inventory.load(list(given))


def warn(loaded: inventory.Inventory) -> None:
    """The inventory's and ssh_config's warnings, each once, on stderr."""
    for warning in dict.fromkeys(loaded.warnings):
        print(f"hostpool: warning: {warning}", file=sys.stderr)


def targets(flags: RunFlags) -> list[Target]:
    rerun = flags.rerun_failed or flags.limit == lastrun.FAILED_ALIAS
    limit = None if flags.limit == lastrun.FAILED_ALIAS else flags.limit
    defaults = HostDefaults(
        user=flags.user,
        key_file=flags.key,
        ssh_config=ssh_config_path(flags.ssh_config),
        ssh_config_exec=flags.ssh_config_exec,
    )
    loaded = load(flags.inventory)
    try:
        chosen = loaded.select(flags.hosts, limit, defaults)
    finally:
        warn(loaded)
    return lastrun.only_failed(chosen) if rerun else chosen


def execute(
    flags: RunFlags,
    action: Action,
    *,
    sudo: bool = False,
    password: str | None = None,
    become_user: str | None = None,
    engine: Engine = Engine.LOCAL,
    engine_options: EngineOptions = EngineOptions(),
) -> int:
    """Run ``action`` as the flags say, print it, record it; returns the exit code."""
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
        host_key_policy=host_key_policy(flags.accept_new, flags.insecure_ignore_host_keys),
        known_hosts=tuple(flags.known_hosts or ()),
        sudo=sudo,
        sudo_password=password,
        become_user=become_user,
        password=secret(
            flags.ask_pass, flags.pass_file, "SSH password: ", "--ask-pass", "--pass-file"
        ),
        key_passphrase=secret(
            flags.ask_key_pass,
            flags.key_pass_file,
            "key passphrase: ",
            "--ask-key-pass",
            "--key-pass-file",
        ),
        output_limit=flags.output_limit,
        keepalive=flags.keepalive,
    )
    policy = RunPolicy(
        retries=flags.retries,
        retry_delay=flags.retry_delay,
        max_fail=1 if flags.fail_fast else flags.max_fail,
        run_timeout=flags.run_timeout or None,
    )
    chosen = targets(flags)
    _check_paths(display, options, chosen)  # refuse before contacting anyone
    if options.host_key_policy is HostKeyPolicy.IGNORE:
        print(
            "hostpool: warning: --insecure-ignore-host-keys: host keys are not checked; "
            "anyone on the path can impersonate these hosts",
            file=sys.stderr,
        )
    session = Session(display, [t.name for t in chosen])
    persist = parse_duration(flags.persist)
    pool: Pool | PersistentPool
    if persist is not None:
        if engine is not Engine.LOCAL:
            raise UsageError("--persist keeps a local pool; it does not go with --engine ray")
        pool = PersistentPool(
            options,
            forks=flags.forks,  # the pool's size, not this run's: later runs may be larger
            processes=flags.processes,
            maxtasksperchild=flags.max_tasks_per_worker,
            context=flags.start_method,
            idle=persist,
        )
    else:
        pool = Pool(
            options,
            forks=max(1, min(flags.forks, len(chosen))),  # never more in flight than hosts
            processes=flags.processes,
            maxtasksperchild=flags.max_tasks_per_worker,
            context=flags.start_method,
            engine=engine,
            engine_options=engine_options,
        )
    batch = Batch.parse(flags.batch) if flags.batch else None
    if flags.max_fail_percent is not None and batch is None:
        raise UsageError("--max-fail-percent goes with --batch")
    on_line = session.on_line if display.live_lines else None
    session.progress.start()
    try:
        with pool:
            if batch is None:
                report = pool.map(
                    action, chosen, policy=policy, on_result=session.on_result, on_line=on_line
                )
            else:
                report = rollout(
                    pool,
                    action,
                    chosen,
                    batch,
                    max_fail_percent=flags.max_fail_percent,
                    policy=policy,
                    on_result=session.on_result,
                    on_line=on_line,
                    on_batch=session.progress.batch,
                )
    except Interrupted as stop:  # the pool is terminated and every host accounted for
        report = stop.report
    finally:
        session.progress.stop()
    session.finish(report)
    _record(report, flags, action)
    return report.exit_code(maxrc=flags.maxrc)


def _check_paths(display: Display, options: SSHOptions, chosen: list[Target]) -> None:
    """Every file the run will write, checked before any host is contacted."""
    if display.out_dir:
        for t in chosen:
            safe_component(t.name)
        out = Path(display.out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out-dir {out}: {exc.strerror or exc}") from None
        if not os.access(out, os.W_OK):
            raise UsageError(f"--out-dir {out}: not writable")
    if display.junit_file:
        parent = Path(display.junit_file).parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise UsageError(f"--junit-file {display.junit_file}: no writable directory {parent}")
    if options.host_key_policy is HostKeyPolicy.ACCEPT_NEW:
        path = known_hosts.known_hosts_path(options.known_hosts)
        probe = path if path.exists() else path.parent
        if probe.exists() and not os.access(probe, os.W_OK):
            raise ConfigError(f"--accept-new: {probe} is not writable, nothing was contacted")


def _record(report: Report, flags: RunFlags, action: Action) -> None:
    kind = type(action).__name__.lower()
    try:
        lastrun.record(
            report,
            inventory=",".join(sources(flags.inventory)),
            pattern=flags.hosts,
            limit=flags.limit,
            kind=kind,
        )
    except OSError as exc:
        print(f"hostpool: warning: cannot record the last run: {exc}", file=sys.stderr)
