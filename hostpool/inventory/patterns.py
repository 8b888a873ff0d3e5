"""Parent side: Ansible's host pattern algebra over an inventory's hosts and groups.

Plain terms union, then ``&`` terms intersect, then ``!`` terms subtract; globs and
``~regex`` match host and group names.  A term naming nothing is an error: a typo in
``all:!prod`` must not silently widen the run to prod.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from hostpool.errors import PatternError
from hostpool.inventory.validate import depth_scan, is_ipv6, unbracket

if TYPE_CHECKING:
    from hostpool.inventory.graph import Inventory


def select_names(inventory: Inventory, pattern: str, limit: str | None) -> list[str]:
    """Hosts ``pattern`` and ``limit`` select, in inventory order."""
    chosen = evaluate(inventory, pattern)
    if not chosen:
        raise PatternError(pattern, "matches no hosts")
    if limit is not None:
        chosen &= evaluate(inventory, limit)
        if not chosen:
            raise PatternError(limit, f"limit leaves none of the hosts matched by {pattern!r}")
    return [name for name in inventory.hosts if name in chosen]


def evaluate(inventory: Inventory, pattern: str) -> set[str]:
    terms = split_pattern(pattern)
    plain = [t for t in terms if t[0] not in "&!"] or ["all"]
    result: set[str] = set()
    for term in plain:
        result |= match_term(inventory, pattern, term)
    for term in (t for t in terms if t[0] == "&"):
        result &= match_term(inventory, pattern, term[1:])
    for term in (t for t in terms if t[0] == "!"):
        result -= match_term(inventory, pattern, term[1:])
    return result


def match_term(inventory: Inventory, pattern: str, term: str) -> set[str]:
    if term in ("all", "*"):
        return set(inventory.hosts)
    matcher = term_matcher(pattern, term)
    groups = [g for g in inventory.groups if matcher(g)]
    hosts = {h for h in inventory.hosts if matcher(h)}
    if not groups and not hosts:
        raise PatternError(pattern, f"{term!r} matches no host or group")
    for group in groups:
        hosts.update(inventory.group_hosts(group))
    return hosts


def split_pattern(pattern: str) -> list[str]:
    """Commas always split; otherwise ':' splits outside ``[...]`` unless it is one IPv6."""
    text = pattern.strip()
    if "," in text:
        raw = text.split(",")
    elif is_ipv6(text):
        raw = [text]
    else:
        cuts = [i for i, depth in depth_scan(text) if text[i] == ":" and depth == 0]
        bounds = zip([-1, *cuts], [*cuts, len(text)], strict=True)
        raw = [text[a + 1 : b] for a, b in bounds]
    terms = [t.strip() for t in raw]
    if not text or any(not t or t in "&!" for t in terms):
        raise PatternError(pattern, "empty term")
    return terms


def term_matcher(pattern: str, term: str) -> Callable[[str], bool]:
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise PatternError(pattern, f"invalid regex {term[1:]!r}: {exc}") from exc
        return lambda name: regex.search(name) is not None
    literal = unbracket(term)
    if literal != term or not any(ch in term for ch in "*?["):
        return lambda name: name == literal
    return lambda name: fnmatch.fnmatchcase(name, term)
