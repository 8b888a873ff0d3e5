"""Output modes end to end against the real sshd: stream, gather, jsonl, junit, out-dir."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.cliutil import first_address_case, hostpool, lab_args
from tests.sshd import SSHLab

ESCAPES = r"printf '\033]0;pwned\007\033[2Jsafe\n'"


@pytest.fixture
def lab_inv(ssh_lab: SSHLab, tmp_path: Path) -> tuple[str, ...]:
    return lab_args(ssh_lab, ssh_lab.inventory(tmp_path / "lab.ini"))


def test_stream_prefixes_lines_marks_stderr_and_ends_with_summary(
    lab_inv: tuple[str, ...], tmp_path: Path
) -> None:
    cmd = f"echo one; echo two >&2; {ESCAPES}; {first_address_case('exit 3')}"
    done = hostpool("exec", *lab_inv, "-o", "stream", "-f", "2", cmd, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    out, err = done.stdout.splitlines(), done.stderr.splitlines()
    for host in ("h0", "h1", "h2", "h3"):
        assert f"{host} | one" in out  # what hosts printed: stdout, so pipes stay clean
        assert f"{host} | safe" in out
        assert f"{host} ! two" in err  # their stderr, endings and the summary: stderr
    assert "h0 # failed rc=3" in err
    assert not any(line.startswith("h1 #") for line in err)  # successes stay quiet
    assert all(" | " in line for line in out)
    assert err[-1].startswith("4 hosts: 3 ok, 1 failed")
    # A host's stderr lines come before its closing line.
    assert err.index("h0 ! two") < err.index("h0 # failed rc=3")


def test_stream_colour_always_but_remote_escapes_still_removed(
    lab_inv: tuple[str, ...], tmp_path: Path
) -> None:
    done = hostpool(
        "exec", *lab_inv, "-l", "h0", "-o", "stream", "--color", "always", ESCAPES, cwd=tmp_path
    )
    assert done.returncode == 0
    assert "\x1b[36m" in done.stdout  # our host colour
    assert (
        "pwned" not in done.stdout and "\x1b]" not in done.stdout and "\x1b[2J" not in done.stdout
    )


def test_no_color_and_never_disable_colour(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    done = hostpool("exec", *lab_inv, "-l", "h0", "--color", "never", "exit 3", cwd=tmp_path)
    assert done.returncode == 1 and "\x1b" not in done.stdout


def test_gather_groups_identical_output(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    cmd = f"{first_address_case('echo odd; exit 3')}; echo same; {ESCAPES}"
    done = hostpool("exec", *lab_inv, "-o", "gather", cmd, cwd=tmp_path)
    assert done.returncode == 1
    out = done.stdout
    assert "h[1-3] (3): ok" in out
    assert "h0 (1): failed rc=3" in out
    assert out.count("same\n") == 1 and out.count("odd\n") == 1
    assert "\x1b" not in out and "pwned" not in out
    assert out.rstrip().splitlines()[-1].startswith("4 hosts: 3 ok, 1 failed")


def test_jsonl_one_object_per_host_then_summary(
    ssh_lab: SSHLab, lab_inv: tuple[str, ...], tmp_path: Path
) -> None:
    cmd = f"{first_address_case('exit 5')}; printf '\\033[31mred'"
    done = hostpool("exec", *lab_inv, "-o", "jsonl", cmd, cwd=tmp_path)
    assert done.returncode == 1
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    results, summary = objects[:-1], objects[-1]
    assert sorted(r["host"] for r in results) == ["h0", "h1", "h2", "h3"]
    assert {r["type"] for r in results} == {"result"}
    assert summary["type"] == "summary" and summary["counts"] == {"ok": 3, "failed": 1}
    assert summary["exit_code"] == 1
    by_host = {r["host"]: r for r in results}
    assert by_host["h0"]["exit_code"] == 5
    assert by_host["h1"]["stdout"] == "\x1b[31mred"  # machine output keeps exact bytes


def test_jsonl_reports_hosts_cut_off_by_fail_fast(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    cmd = f"{first_address_case('exit 1')}; sleep 1"
    done = hostpool("exec", *lab_inv, "-f", "1", "--fail-fast", "-o", "jsonl", cmd, cwd=tmp_path)
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(o["host"] for o in objects[:-1]) == ["h0", "h1", "h2", "h3"]
    assert objects[-1]["stopped_early"] is True


def test_junit_file_alongside_table(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    cmd = f"echo out; echo err >&2; {first_address_case('exit 2')}"
    done = hostpool("exec", *lab_inv, "--junit-file", str(junit), cmd, cwd=tmp_path)
    assert done.returncode == 1
    assert "4 hosts: 3 ok, 1 failed" in done.stdout  # the table still goes to stdout
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "4" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"h0", "h1", "h2", "h3"}
    failure = cases["h0"].find("failure")
    assert failure is not None and failure.get("type") == "failed"
    assert "exit code 2" in (failure.get("message") or "")
    assert cases["h1"].find("failure") is None
    assert cases["h1"].findtext("system-out") == "out\n"
    assert cases["h1"].findtext("system-err") == "err\n"


def test_junit_to_stdout_is_valid_xml_even_with_control_bytes(
    lab_inv: tuple[str, ...], tmp_path: Path
) -> None:
    done = hostpool("exec", *lab_inv, "-l", "h1", "-o", "junit", ESCAPES, cwd=tmp_path)
    suite = ET.fromstring(done.stdout)
    assert suite.findtext("testcase/system-out") is not None


def test_out_dir_keeps_exact_bytes(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = r"printf 'a\377b\033[2J'; printf 'warn\n' >&2; " + first_address_case("exit 4")
    done = hostpool("exec", *lab_inv, "--out-dir", str(out), "-o", "json", cmd, cwd=tmp_path)
    assert done.returncode == 1
    for host in ("h0", "h1", "h2", "h3"):
        assert (out / f"{host}.stdout").read_bytes() == b"a\xffb\x1b[2J"
        assert (out / f"{host}.stderr").read_bytes() == b"warn\n"
    status = json.loads((out / "h0.status").read_text())
    assert status["status"] == "failed" and status["exit_code"] == 4
    assert json.loads((out / "h1.status").read_text())["status"] == "ok"


def test_table_shows_tries_only_after_retries(
    ssh_lab: SSHLab, tmp_path: Path, refused_port: int
) -> None:
    inv = ssh_lab.inventory(
        tmp_path / "lab.ini",
        n=1,
        extra=(f"[dead]\nd0 ansible_host=127.0.0.1 ansible_port={refused_port}\n"),
    )
    base = lab_args(ssh_lab, inv)
    plain = hostpool("exec", *base, "true", cwd=tmp_path)
    assert "tries" not in plain.stdout
    retried = hostpool(
        "exec", *base, "--retries", "2", "--retry-delay", "0.05", "true", cwd=tmp_path
    )
    assert retried.returncode == 4
    header = retried.stdout.splitlines()[0]
    assert "tries" in header
    row = next(line for line in retried.stdout.splitlines() if line.startswith("d0"))
    assert " 3 " in row


def test_bad_output_mode_is_usage_error(tmp_path: Path) -> None:
    inv = tmp_path / "l.ini"
    inv.write_text("[l]\nlocalhost ansible_connection=local\n")
    assert hostpool("exec", "-i", str(inv), "-o", "yaml", "true", cwd=tmp_path).returncode == 2
    assert hostpool("exec", "-i", str(inv), "--color", "pink", "true", cwd=tmp_path).returncode == 2


def test_no_progress_line_without_a_terminal(lab_inv: tuple[str, ...], tmp_path: Path) -> None:
    done = hostpool("exec", *lab_inv, "sleep 1.2", cwd=tmp_path)
    assert "\r" not in done.stderr and "done" not in done.stderr
