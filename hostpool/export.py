"""Parent side: machine-readable outputs (JSON lines, JUnit XML, per-host files).

These keep remote bytes exact (JSON via ``report._blob``, files byte for byte) or, for
XML, as exact as XML allows: characters XML 1.0 cannot carry at all are dropped.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from pathlib import Path

from hostpool.errors import UsageError
from hostpool.models import HostResult
from hostpool.report import Report, report_to_dict, result_to_dict


@functools.cache
def _not_xml() -> re.Pattern[str]:
    """Characters outside XML 1.0's Char production cannot appear even escaped.

    Compiled on first use: this class costs ~3 ms to compile, paid otherwise by every
    run whatever its output mode."""
    return re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def jsonl_result(result: HostResult) -> str:
    return json.dumps({"type": "result", **result_to_dict(result)})


def jsonl_summary(report: Report) -> str:
    summary = report_to_dict(report)
    summary.pop("results", None)
    return json.dumps({"type": "summary", **summary})


def _xml_text(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return _not_xml().sub("", text)


def junit_xml(report: Report, suite: str = "hostpool") -> str:
    """One testcase per host; every non-ok host carries a failure element."""
    import xml.etree.ElementTree as ET  # only this output mode needs it

    bad = len(report.failed)
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(report)),
        failures=str(bad),
        errors="0",
        skipped="0",
        time=f"{report.duration:.3f}",
    )
    ET.SubElement(
        ET.SubElement(root, "properties"),
        "property",
        name="command",
        value=_xml_text(report.command),
    )
    for r in report.results:
        case = ET.SubElement(
            root, "testcase", classname=suite, name=r.host, time=f"{r.duration:.3f}"
        )
        if not r.ok:
            message = r.status.value + (f": {r.error}" if r.error else "")
            if r.exit_code is not None:
                message += f" (exit code {r.exit_code})"
            failure = ET.SubElement(
                case, "failure", message=_xml_text(message), type=r.status.value
            )
            failure.text = _xml_text(r.error or message)
        if r.stdout:
            ET.SubElement(case, "system-out").text = _xml_text(r.stdout)
        if r.stderr:
            ET.SubElement(case, "system-err").text = _xml_text(r.stderr)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def safe_component(name: str) -> str:
    """A host name used as a file name: never a path, never a dot entry."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise UsageError(f"host name {name!r} cannot be used as a file name")
    return name


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_out_dir(report: Report, directory: str | Path) -> None:
    """``<host>.stdout`` and ``<host>.stderr`` with exact bytes, ``<host>.status`` as JSON."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    for r in report.results:
        name = safe_component(r.host)
        write_atomic(root / f"{name}.stdout", r.stdout)
        write_atomic(root / f"{name}.stderr", r.stderr)
        status = result_to_dict(r)
        for key in ("stdout", "stderr", "stdout_encoding", "stderr_encoding"):
            status.pop(key, None)
        write_atomic(root / f"{name}.status", (json.dumps(status, indent=2) + "\n").encode())
