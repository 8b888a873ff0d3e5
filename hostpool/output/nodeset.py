"""Parent side: folding host names into ranges (``web[01-05,07]``), as ClusterShell does.

Only the last numeric field varies within a fold, so ``rack1-node01`` and ``rack2-node01``
stay apart (their racks differ) while ``rack1-node01..03`` become ``rack1-node[01-03]``.
Zero padding is kept exactly: ``web9`` and ``web09`` never merge, because folding must
round-trip to the same names a person would type back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


def _fits(digits: str, width: int) -> bool:
    """Whether ``digits`` is ``int(digits)`` printed at ``width`` (0 = unpadded)."""
    return digits == str(int(digits)).zfill(width)


def _width(digits: str) -> int:
    return len(digits) if digits.startswith("0") and len(digits) > 1 else 0


def _ranges(numbers: list[str]) -> list[str]:
    """Consecutive runs that share one padding become ``a-b``; the rest stay single."""
    ordered = sorted(set(numbers), key=lambda d: (int(d), len(d)))
    runs: list[list[str]] = []
    width = 0
    for digits in ordered:
        last = runs[-1] if runs else None
        if last is not None and int(digits) == int(last[-1]) + 1 and _fits(digits, width):
            last.append(digits)
            continue
        runs.append([digits])
        width = _width(digits)
    return [run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs]


def fold(names: Iterable[str]) -> str:
    """Comma-separated folded names, in order of each fold's first name."""
    groups: dict[tuple[str, str], list[str]] = {}
    plain: dict[str, None] = {}
    order: list[tuple[str, str] | str] = []
    for name in names:
        match = _LAST_NUMBER.match(name)
        if match is None:
            if name not in plain:
                plain[name] = None
                order.append(name)
            continue
        key = (match.group(1), match.group(3))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(match.group(2))
    parts: list[str] = []
    for item in order:
        if isinstance(item, str):
            parts.append(item)
            continue
        prefix, suffix = item
        ranges = _ranges(groups[item])
        if len(ranges) == 1 and "-" not in ranges[0]:
            parts.append(f"{prefix}{ranges[0]}{suffix}")
        else:
            parts.append(f"{prefix}[{','.join(ranges)}]{suffix}")
    return ",".join(parts)
