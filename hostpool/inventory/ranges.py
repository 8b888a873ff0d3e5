"""Parent side: Ansible's host range notation, ``web[01:20]``, ``[a:f]``, ``[1:10:2]``.

Ranges are bounded (``MAX_RANGE_HOSTS``) before anything is materialised: an inventory
line must not be able to exhaust memory.
"""

from __future__ import annotations

import re
import string

MAX_RANGE_HOSTS = 10_000

_RANGE_RE = re.compile(r"\[([^\[\]]*)\]")


def expand_ranges(name: str) -> list[str]:
    """``web[01:03]`` -> web01, web02, web03; several ranges multiply.  ValueError on misuse."""
    parts: list[list[str]] = []
    pos = 0
    total = 1
    for match in _RANGE_RE.finditer(name):
        parts.append([name[pos : match.start()]])
        values = _range_values(match.group(1))
        total *= len(values)
        if total > MAX_RANGE_HOSTS:
            raise ValueError(f"huge range in {name!r}: more than {MAX_RANGE_HOSTS} hosts")
        parts.append(values)
        pos = match.end()
    parts.append([name[pos:]])
    names = [""]
    for choices in parts:
        names = [prefix + choice for prefix in names for choice in choices]
    return names


def _range_values(spec: str) -> list[str]:
    fields = spec.split(":")
    if len(fields) not in (2, 3):
        raise ValueError(f"invalid range [{spec}] (expected [start:end] or [start:end:stride])")
    start, end = fields[0] or "0", fields[1]
    stride_text = fields[2] if len(fields) == 3 else "1"
    if not re.fullmatch(r"-?[0-9]+", stride_text):
        raise ValueError(f"invalid range stride {stride_text!r} in [{spec}]")
    stride = int(stride_text)
    if stride <= 0:
        raise ValueError(f"range stride must be positive in [{spec}]")
    if start.isdigit() and end.isdigit():
        return _numeric_range(spec, start, end, stride)
    letters = string.ascii_letters
    if len(start) == 1 and len(end) == 1 and start in letters and end in letters:
        first, last = letters.index(start), letters.index(end)
        if first > last:
            raise ValueError(f"reversed range [{spec}]")
        return list(letters[first : last + 1 : stride])
    if (start.isdigit() and end.isalpha()) or (start.isalpha() and end.isdigit()):
        raise ValueError(f"mixed alphabetic and numeric range [{spec}]")
    raise ValueError(f"invalid range [{spec}] (bounds must be integers or single letters)")


def _numeric_range(spec: str, start: str, end: str, stride: int) -> list[str]:
    first, last = int(start), int(end)
    if first > last:
        raise ValueError(f"reversed range [{spec}]")
    values = range(first, last + 1, stride)
    if len(values) > MAX_RANGE_HOSTS:  # checked before materialising anything
        raise ValueError(f"huge range [{spec}]: {len(values)} hosts (max {MAX_RANGE_HOSTS})")
    width = len(start) if start.startswith("0") and len(start) > 1 else 0
    return [str(v).zfill(width) for v in values]
