"""Parent side: ``--out-dir`` files and atomic writes (exact bytes, never half a file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hostpool.output.machine import result_to_dict
from hostpool.report import Report
from hostpool.transfer import safe_component


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
