"""Parent side: inventory variable values as Ansible reads them, and plain ``{{ var }}``.

INI values go through Python's literal evaluation exactly as Ansible's INI plugin does
(``port=2222`` is an int, ``tags="[1, 2]"`` a list, anything that is not a literal stays
the text as written); YAML and JSON values are already typed.  Templating is not Jinja:
only a whole ``{{ name }}`` (or several in one string) naming an inventory variable or
``inventory_hostname`` is resolved; anything else is left as written and, where it would
decide a connection, makes that host unservable instead of guessing.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Mapping

from hostpool.models import VarValue

_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_TEMPLATE = re.compile(r"\{\{|\{%|\{#")
MAX_DEPTH = 10  # references of references, bounded (a cycle is simply unresolved)


def ini_value(text: str) -> VarValue:
    """Ansible's ``_parse_value``: a Python literal when it is one, else the text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value)


def _plain(value: object) -> VarValue:
    """What JSON can show: tuples and sets become lists, bytes text, other keys text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def is_template(value: VarValue) -> bool:
    return isinstance(value, str) and _ANY_TEMPLATE.search(value) is not None


def resolve(value: VarValue, variables: Mapping[str, VarValue]) -> VarValue | None:
    """``value`` with plain references replaced; None when a template remains that this
    cannot evaluate (a filter, a lookup, an unknown or cyclic name)."""
    current = value
    for _ in range(MAX_DEPTH):
        if not is_template(current):
            return current
        assert isinstance(current, str)
        whole = _REFERENCE.fullmatch(current.strip())
        if whole is not None:  # keep the referenced value's type, as Jinja would
            name = whole.group(1)
            if name not in variables:
                return None
            current = variables[name]
            continue
        missing = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal missing
            name = match.group(1)
            if name not in variables or is_template(variables[name]):
                missing = True
                return match.group(0)
            return str(variables[name])

        replaced = _REFERENCE.sub(substitute, current)
        if missing or _ANY_TEMPLATE.search(replaced):
            return None
        current = replaced
    return None


def text(value: VarValue) -> str:
    """A value as the text a connection setting needs (``2222`` for the int 2222)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
