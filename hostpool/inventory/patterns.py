"""Parent side: Ansible's host patterns, evaluated as its InventoryManager does.

Terms split on ``,`` (or ``:`` outside brackets when the whole is not one address); empty
terms are ignored.  Plain terms are unioned in order, then ``&`` terms intersect, then
``!`` terms subtract.  A term that is exactly a host name is that host; otherwise it
matches groups (all their hosts) and, if no group matched or it has glob characters,
hosts: ``fnmatch`` globs and ``~regex`` (anchored at the start, as ``re.match``).
``group[0]``, ``[-1]``, ``[1:]``, ``[2:3]`` (inclusive) slice a term.  ``@file`` in a limit
reads one pattern per line.  Hardening, on purpose: a term that matches nothing is an
error (a typo in ``all:!prod`` must not widen the run to prod), not Ansible's warning.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hostpool.errors import PatternError
from hostpool.inventory.validate import is_ipv6

if TYPE_CHECKING:
    from hostpool.inventory.graph import Inventory

SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_pattern(pattern: str) -> list[str]:
    if "," in pattern:
        parts = pattern.split(",")
    elif is_ipv6(pattern.strip()) or ":" not in pattern:
        parts = [pattern]
    else:
        parts = _COLON_TERMS.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def _limit_terms(limit: str) -> list[str]:
    terms: list[str] = []
    for term in split_pattern(limit):
        if not term.startswith("@"):
            terms.append(term)
            continue
        path = Path(term[1:])
        try:
            lines = path.read_text().split("\n")
        except OSError as exc:
            raise PatternError(limit, f"cannot read limit file {path}: {exc.strerror}") from None
        terms += [line.strip() for line in lines if line.strip()]
    return terms


def select_names(inventory: Inventory, pattern: str, limit: str | None) -> list[str]:
    """Hosts ``pattern`` and ``limit`` select, in Ansible's order."""
    chosen = evaluate(inventory, split_pattern(pattern), pattern)
    if not chosen:
        raise PatternError(pattern, "matches no hosts")
    if limit is not None:
        allowed = set(evaluate(inventory, _limit_terms(limit), limit))
        chosen = [h for h in chosen if h in allowed]
        if not chosen:
            raise PatternError(limit, f"limit leaves none of the hosts matched by {pattern!r}")
    return chosen


def evaluate(inventory: Inventory, terms: list[str], pattern: str) -> list[str]:
    regular = [t for t in terms if t[0] not in "&!"] or ["all"]
    ordered = regular + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]
    hosts: list[str] = []
    for term in ordered:
        if term in inventory.hosts:
            if term not in hosts:
                hosts.append(term)
            continue
        that = match_term(inventory, term.lstrip("&!") if term[0] in "&!" else term, pattern)
        if term[0] == "!":
            drop = set(that)
            hosts = [h for h in hosts if h not in drop]
        elif term[0] == "&":
            keep = set(that)
            hosts = [h for h in hosts if h in keep]
        else:
            seen = set(hosts)
            hosts += [h for h in that if h not in seen]
    return hosts


def match_term(inventory: Inventory, term: str, pattern: str) -> list[str]:
    if not term:
        raise PatternError(pattern, "empty term after & or !")
    expr, subscript = _split_subscript(term, pattern)
    hosts = _enumerate(inventory, expr, pattern)
    if subscript is None or not hosts:
        return hosts
    start, end = subscript
    try:
        if end is None:
            return [hosts[start]]
        return hosts[start : (len(hosts) - 1 if end == -1 else end) + 1]
    except IndexError:
        raise PatternError(pattern, f"no hosts match the subscripted pattern {term!r}") from None


def _split_subscript(term: str, pattern: str) -> tuple[str, tuple[int, int | None] | None]:
    if term[0] == "~":
        return term, None
    match = SUBSCRIPT.match(term)
    if match is None:
        return term, None
    expr, index, start, sep, end = match.groups()
    if index:
        return expr, (int(index), None)
    if sep == "-":
        raise PatternError(pattern, f"use [x:y] inclusive subscripts, not [x-y], in {term!r}")
    return expr, (int(start), int(end) if end else -1)


def _matcher(term: str, pattern: str) -> Callable[[str], bool]:
    try:
        regex = re.compile(term[1:] if term[0] == "~" else fnmatch.translate(term))
    except re.error as exc:
        raise PatternError(pattern, f"invalid pattern {term!r}: {exc}") from None
    return lambda name: regex.match(name) is not None


def _enumerate(inventory: Inventory, term: str, pattern: str) -> list[str]:
    matches = _matcher(term, pattern)
    groups = [g for g in inventory.groups if matches(g)]
    results: list[str] = []
    for group in groups:
        results += inventory.group_hosts(group)
    if not groups or term[0] == "~" or any(c in term for c in ".?*["):
        results += [h for h in inventory.hosts if matches(h)]
    if not results:
        raise PatternError(pattern, f"{term!r} matches no host or group")
    return list(dict.fromkeys(results))
