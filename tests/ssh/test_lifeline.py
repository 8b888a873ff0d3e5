"""The remote-stop wrapper (``worker.command.lifeline_script``: with stdin data and
without; ``LIFELINE_DIRECT``, run by a POSIX login shell itself; ``any_shell``, the line
that lets an unknown login shell pick) under each POSIX shell it must run on: dash
(Debian's sh), bash and busybox sh; and ``any_shell`` under fish, tcsh and zsh.  Run
locally through pipes, exactly as sshd runs it: the wrapper's stdin is the lifeline, its own
process group is the command's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from hostpool.worker.command import LIFELINE_DIRECT, any_shell, lifeline_script
from tests.procs import wait_for

SHELLS = [
    pytest.param(["dash"], id="dash"),
    pytest.param(["bash"], id="bash"),
    pytest.param(["busybox", "sh"], id="busybox"),
]
# direct: a warm connection whose login shell is POSIX; any: a cold one (the shell picks)
FORMS = ["wrapped", "direct", "any"]
OTHER_SHELLS = [pytest.param([sh], id=sh) for sh in ("fish", "tcsh", "zsh")]


def start(
    shell: list[str], command: str, data: bytes = b"", *, tmp: Path, form: str = "wrapped"
) -> subprocess.Popen[bytes]:
    found = shutil.which(shell[0])
    if not found:
        pytest.skip(f"{shell[0]} not installed")
    # The command runs under $SHELL, the login shell sshd sets: the same shell here
    # (busybox picks its applet from the name it is called by).
    login = found
    if len(shell) > 1:
        login = str(tmp / shell[1])
        with contextlib.suppress(FileExistsError):
            os.symlink(found, login)
    argv = [*shell, "-c", lifeline_script(len(data)), "hostpool", command, str(len(data))]
    if form != "wrapped":
        assert not data, f"the {form} form is for commands without stdin data"
        line = LIFELINE_DIRECT + command if form == "direct" else any_shell(command)
        argv = [*shell, "-c", line]
    return subprocess.Popen(
        argv,
        env=dict(os.environ, SHELL=str(login)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # as sshd's setsid: the wrapper leads its group
    )


def finish(proc: subprocess.Popen[bytes], data: bytes = b"") -> tuple[bytes, bytes]:
    """Like ``communicate`` but stdin stays open until the wrapper exits, as sshd keeps
    it until the session ends (``communicate`` closes it at once: the stop signal)."""
    assert proc.stdin and proc.stdout and proc.stderr
    got: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda: got.__setitem__("out", proc.stdout.read())),  # type: ignore[union-attr]
        threading.Thread(target=lambda: got.__setitem__("err", proc.stderr.read())),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    proc.stdin.write(data)
    proc.stdin.flush()
    proc.wait(timeout=10)
    proc.stdin.close()
    for reader in readers:
        reader.join(timeout=10)
    return got["out"], got["err"]


def running(tag: str) -> list[str]:
    """Processes whose argv has ``tag`` as a word (the watchdog's argv holds the whole
    command text, so a plain substring search would count it too)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if tag.encode() in argv:
                found.append(entry)
    return found


@pytest.fixture
def tag() -> str:
    # A unique duration: ``sleep <tag>`` is findable and sleeps long enough.
    return f"{900 + uuid.uuid4().int % 99}.{uuid.uuid4().int % 10**6:06d}"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shell", SHELLS)
def test_ends_by_itself_with_its_status_streams_apart(
    shell: list[str], form: str, tmp_path: Path
) -> None:
    proc = start(shell, "echo out; echo err >&2; exit 7", tmp=tmp_path, form=form)
    out, err = finish(proc)
    assert (out, err, proc.returncode) == (b"out\n", b"err\n", 7)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shell", SHELLS)
def test_a_command_that_waits_for_its_jobs_ends(
    shell: list[str], form: str, tmp_path: Path
) -> None:
    """The watchdog is no job of the command's shell (``wait`` would wait for it)."""
    proc = start(shell, "sleep 0.1 & wait; echo done", tmp=tmp_path, form=form)
    out, _ = finish(proc)
    assert (out, proc.returncode) == (b"done\n", 0)


@pytest.mark.parametrize("shell", SHELLS)
def test_stdin_data_arrives_exactly_and_then_ends(shell: list[str], tmp_path: Path) -> None:
    data = bytes(range(256)) * 300 + b"no newline at the end"
    proc = start(shell, "cat; echo after", data, tmp=tmp_path)
    out, _ = finish(proc, data)
    assert out == data + b"after\n"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shell", SHELLS)
def test_no_data_means_an_empty_stdin(shell: list[str], form: str, tmp_path: Path) -> None:
    proc = start(shell, "cat; echo after", tmp=tmp_path, form=form)
    out, _ = finish(proc)
    assert out == b"after\n"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shell", SHELLS)
def test_a_daemon_the_command_started_survives_its_normal_end(
    shell: list[str], form: str, tag: str, tmp_path: Path
) -> None:
    command = f"nohup sleep {tag} >/dev/null 2>&1 & echo started"
    proc = start(shell, command, tmp=tmp_path, form=form)
    try:
        out, _ = finish(proc)
        assert out == b"started\n"
        time.sleep(0.5)
        assert running(tag), "the command's own daemon was killed at its normal end"
    finally:
        for pid in running(tag):
            os.kill(int(pid), signal.SIGKILL)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("how", ["eof", "stop-byte"])
@pytest.mark.parametrize(
    ("data", "form"),
    [(b"", "wrapped"), (b"some input\n", "wrapped"), (b"", "direct"), (b"", "any")],
    ids=["no-data", "data", "direct", "any"],
)
def test_losing_the_lifeline_stops_the_command_and_its_children(
    shell: list[str], how: str, data: bytes, form: str, tag: str, tmp_path: Path
) -> None:
    command = f"cat >/dev/null; sleep {tag} & sleep {tag}; echo never"
    proc = start(shell, command, data, tmp=tmp_path, form=form)
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()
    assert wait_for(lambda: len(running(tag)) >= 2, timeout=10), running(tag)
    if how == "eof":
        proc.stdin.close()  # what sshd does when the session or the connection goes
    else:
        proc.stdin.write(b"\n")
        proc.stdin.flush()
    assert wait_for(lambda: not running(tag), timeout=5)
    assert proc.stdout is not None
    proc.wait(timeout=10)
    assert b"never" not in proc.stdout.read()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shell", SHELLS)
def test_a_command_ignoring_term_is_killed_two_seconds_later(
    shell: list[str], form: str, tag: str, tmp_path: Path
) -> None:
    proc = start(shell, f"trap '' TERM; sleep {tag}", tmp=tmp_path, form=form)
    assert proc.stdin is not None
    assert wait_for(lambda: bool(running(tag)), timeout=10)
    proc.stdin.close()
    time.sleep(1.0)
    assert running(tag), "KILL came without the TERM grace"
    assert wait_for(lambda: not running(tag), timeout=5)
    proc.wait(timeout=10)


@pytest.mark.parametrize("shell", OTHER_SHELLS)
def test_any_shell_line_runs_under_a_shell_that_is_not_posix_sh(
    shell: list[str], tmp_path: Path
) -> None:
    """Syntax all of them share: the command's status and output come through."""
    proc = start(shell, "echo out; exit 7", tmp=tmp_path, form="any")
    out, err = finish(proc)
    assert (out, err, proc.returncode) == (b"out\n", b"", 7)


@pytest.mark.parametrize("shell", OTHER_SHELLS)
def test_any_shell_line_keeps_the_lifeline_under_a_shell_that_is_not_posix_sh(
    shell: list[str], tag: str, tmp_path: Path
) -> None:
    """tcsh puts a background job in a process group of its own, out of the watchdog's
    reach (as with the wrapped form before): there only the foreground is checked."""
    jobs = 1 if shell == ["tcsh"] else 2
    command = f"sleep {tag} & " * (jobs - 1) + f"sleep {tag}; echo never"
    proc = start(shell, command, tmp=tmp_path, form="any")
    assert proc.stdin is not None and proc.stdout is not None
    assert wait_for(lambda: len(running(tag)) >= jobs, timeout=10), running(tag)
    proc.stdin.close()
    assert wait_for(lambda: not running(tag), timeout=5)
    proc.wait(timeout=10)
    assert b"never" not in proc.stdout.read()
