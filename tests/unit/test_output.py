"""Output helpers without processes: colour choice, the progress line, folding, file names."""

from __future__ import annotations

import io
import json

import pytest

from hostpool.errors import UsageError
from hostpool.models import HostResult, Status
from hostpool.output import progress
from hostpool.output.nodeset import fold
from hostpool.output.terminal import Color, use_color
from hostpool.report import Report
from hostpool.transfer import safe_component


def test_use_color_respects_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Color.AUTO, True)
    assert use_color(Color.ALWAYS, False)
    monkeypatch.delenv("NO_COLOR")
    assert use_color(Color.AUTO, True) and not use_color(Color.AUTO, False)
    assert not use_color(Color.NEVER, True)


def test_progress_line_draws_and_clears(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    stream = io.StringIO()
    bar = progress.Progress(3, stream).start()
    bar.update(ok=True)
    bar.update(ok=False)
    with bar.paused():
        stream.write("line\n")
    bar.stop()
    text = stream.getvalue()
    assert "\r\x1b[K" in text
    assert text.endswith("\r\x1b[K") or text.endswith("line\n")
    assert "2/3 done, 1 failed" in bar.text()


@pytest.mark.parametrize(
    ("names", "folded"),
    [
        (["web01", "web02", "web03", "web05", "web07"], "web[01-03,05,07]"),
        (["web1", "web2", "web10"], "web[1-2,10]"),
        (["n08", "n09", "n10", "n11"], "n[08-11]"),
        (["web9", "web09"], "web[9,09]"),
        (["r1-n01", "r1-n02", "r2-n01"], "r1-n[01-02],r2-n01"),
        (["a1b", "a2b", "lb", "db"], "a[1-2]b,lb,db"),
        (["h3"], "h3"),
    ],
)
def test_fold_host_names(names: list[str], folded: str) -> None:
    assert fold(names) == folded


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b"])
def test_out_dir_refuses_path_like_host_names(name: str) -> None:
    with pytest.raises(UsageError):
        safe_component(name)


def test_table_never_cuts_a_message_and_marks_more_lines() -> None:
    from hostpool.models import HostResult, Status
    from hostpool.output.table import render_table
    from hostpool.report import Report

    hint = (
        "unknown host key for [10.0.0.1]:2222 (ssh-ed25519 SHA256:"
        + "A" * 60
        + "); "
        + ("add it to known_hosts or run with --accept-new")
    )
    report = Report(
        results=(
            HostResult(host="a", status=Status.OK, exit_code=0, stdout=b"12.10\n007\n1e3\n"),
            HostResult(host="b", status=Status.HOSTKEY, error=hint),
        )
    )
    text = render_table(report, columns=80)
    assert "12.10 (+2 lines)" in text  # no number parsing, and the rest is announced
    assert f"b: {hint}" in text  # the whole hint, under the table
    assert "…" in text  # the cell itself is marked as cut


def test_report_json_is_written_a_host_at_a_time_yet_identical() -> None:
    from hostpool.output import machine

    results = tuple(
        HostResult(host=f"h{i}", status=Status.OK, exit_code=0, stdout=b"x\n" * i, stderr=b"\xff")
        for i in range(3)
    )
    for report in (Report(results, command="c"), Report((), command="c")):
        whole = json.dumps(machine.report_to_dict(report), indent=2)
        chunks = list(machine.report_json(report))
        assert "".join(chunks) == whole
        assert len(chunks) == (len(report.results) + 2 if report.results else 1)


def test_junit_is_written_a_host_at_a_time_and_parses() -> None:
    import xml.etree.ElementTree as ET

    from hostpool.output import machine

    results = (
        HostResult(host="a", status=Status.OK, exit_code=0, stdout=b"hi <&>\n"),
        HostResult(host="b", status=Status.FAILED, exit_code=3, stderr=b"e\x1b", error="boom"),
    )
    chunks = list(machine.junit_chunks(Report(results, command="x <y>")))
    assert len(chunks) == 4  # head, a testcase each, the end
    root = ET.fromstring("".join(chunks).split("\n", 1)[1])
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases] == ["a", "b"]
    assert cases[0].findtext("system-out") == "hi <&>\n"
    assert cases[1].find("failure").get("message") == "failed: boom (exit code 3)"  # type: ignore[union-attr]
    first_case = '  <testcase classname="hostpool" name="a" time="0.000">'
    assert first_case in "".join(chunks).splitlines()
