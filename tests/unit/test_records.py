"""Unit tests with fakes: error pickling, exit-code policy, sanitising, output collection."""

from __future__ import annotations

import pickle

import pytest

import hostpool.errors as errors
from hostpool.cli.session import parse_env
from hostpool.models import (
    Completion,
    Copy,
    Event,
    Exec,
    Fetch,
    FileDigest,
    HostKey,
    HostResult,
    Lines,
    Started,
    Status,
    Stream,
    Target,
    Task,
)
from hostpool.output.terminal import sanitize
from hostpool.report import Report
from hostpool.worker.command import SudoWrap, compose
from hostpool.worker.output import STDERR, STDOUT, Output


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


SAMPLE_ARGS = {
    errors.InventoryError: ("inv.ini", 3, "bad"),
    errors.PatternError: ("web:&", "bad"),
    errors.HostFailures: (("a", "b"), "2 failed"),
    errors.HostFailed: (HostResult(host="h", status=Status.FAILED, exit_code=2),),
}


def test_interrupted_is_a_keyboard_interrupt_carrying_the_report() -> None:
    report = Report(results=(HostResult(host="h", status=Status.INTERRUPTED),), interrupted=True)
    exc = errors.Interrupted(report)
    assert isinstance(exc, KeyboardInterrupt)
    again = pickle.loads(pickle.dumps(exc))
    assert again.report == report and "interrupted" in str(again)


@pytest.mark.parametrize("cls", [errors.HostpoolError, *_all_subclasses(errors.HostpoolError)])
def test_every_error_round_trips_through_pickle(cls: type) -> None:
    exc = cls(*SAMPLE_ARGS.get(cls, ("message",)))
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is cls
    assert str(again) == str(exc)


def test_inventory_error_renders_file_line() -> None:
    assert str(errors.InventoryError("x.ini", 7, "no")) == "x.ini:7: no"


def r(status: Status, **kw: object) -> HostResult:
    return HostResult(host=f"h{status}", status=status, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([Status.OK], 0),
        ([Status.OK, Status.FAILED], 1),
        ([Status.FAILED, Status.UNREACHABLE], 4),
        ([Status.AUTH], 4),
        ([Status.HOSTKEY, Status.ERROR], 5),
        ([], 0),
    ],
)
def test_exit_code_worst_category_wins(statuses: list[Status], code: int) -> None:
    assert Report(results=tuple(r(s) for s in statuses)).exit_code() == code


def test_timeout_before_or_after_start() -> None:
    assert Report(results=(r(Status.TIMEOUT, started=True),)).exit_code() == 1
    assert Report(results=(r(Status.TIMEOUT),)).exit_code() == 4
    assert Report(results=(r(Status.OK),), interrupted=True).exit_code() == 130


def test_sanitize_strips_escapes_keeps_text() -> None:
    nasty = "ok\x1b[31mred\x1b[0m \x1b]0;title\x07\x1b]52;c;Zm9v\x07end\r\n\x9b2J\tx"
    assert sanitize(nasty) == "okred end\n\tx"


def test_output_cap_and_lines() -> None:
    events: list[Event] = []

    class Sink:
        def put(self, obj: Event) -> None:
            events.append(obj)

    out = Output(5, events=Sink(), seq=1, host="h")
    out.feed(STDOUT, b"abc\nde")
    out.feed(STDOUT, b"f\n")
    out.feed(STDERR, b"tail")
    stdout, stderr = out.finish()
    assert stdout == b"abc\nd" and out.truncated
    assert stderr == b"tail"
    lines = [line for e in events if isinstance(e, Lines) for line in e.lines]
    assert lines == [b"abc", b"def", b"tail"]


def test_sudo_password_handshake() -> None:
    sudo = SudoWrap(with_password=True)
    out = Output(1000, sudo=sudo, password="s3cret", stdin=b"data")
    assert out.take_input() == b""  # sudo would read it as the password
    assert out.feed(STDERR, sudo.prompt.encode()) == b"s3cret\n"
    assert out.take_input() == b""
    assert out.feed(STDOUT, sudo.ready.encode() + b"\nhello\n") is None
    assert out.take_input() == b"data" and out.take_input() == b""
    assert not out.close_stdin  # stdin stays open: the command's lifeline
    stdout, stderr = out.finish()
    assert stdout == b"hello\n"
    assert b"s3cret" not in stdout + stderr and sudo.prompt.encode() not in stderr


def test_sudo_wrong_password_stops_feeding() -> None:
    sudo = SudoWrap(with_password=True)
    out = Output(1000, sudo=sudo, password="bad")
    assert out.feed(STDERR, sudo.prompt.encode()) == b"bad\n"
    assert out.feed(STDERR, b"Sorry, try again.\n" + sudo.prompt.encode()) is None
    assert out.close_stdin and "password" in out.sudo_error


def test_env_names_are_validated_and_values_quoted() -> None:
    line = compose("x", parse_env(["A=it's"]), None, guard=False)
    assert line == "export A='it'\"'\"'s'; x"
    with pytest.raises(errors.UsageError):
        parse_env(["1A=x"])
    with pytest.raises(errors.UsageError):
        parse_env(["A;rm=x"])


@pytest.mark.parametrize(
    "record",
    [
        HostResult(host="h", status=Status.FAILED, exit_code=3, stdout=b"\xff", error="x"),
        Completion(1, 2, HostResult(host="h", status=Status.OK), 99, HostKey("h", "t", "k")),
        Started(1, 1, 1234),
        Lines(1, "h", Stream.STDERR, (b"a", b"b")),
        Task(Target(name="h", address="a"), Exec("true", sudo=True, env=(("A", "1"),))),
        Task(Target(name="h", address="a"), Copy("s", "/d", 0o644, FileDigest("0" * 64, 1, 420))),
        Task(Target(name="h", address="a"), Fetch("/etc/motd", "/tmp/out"), seq=3, attempt=2),
    ],
    ids=lambda r: type(r).__name__,
)
def test_records_that_cross_processes_round_trip(record: object) -> None:
    assert pickle.loads(pickle.dumps(record)) == record


def test_actions_validate_what_reaches_a_shell() -> None:
    with pytest.raises(errors.UsageError):
        Exec("true", env=(("1BAD", "x"),))
    with pytest.raises(errors.UsageError):
        Copy("a", "")
    with pytest.raises(errors.UsageError):
        Exec("true", timeout=0)
