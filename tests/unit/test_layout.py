"""The layout is the design: which process side may import what (read from the source).

Child-side packages (``worker``, ``connectors``) never import the parent's half, so a
worker never pays for inventory parsing, the Pool's bookkeeping or rendering; the shared
records (``models``, ``errors``) import nothing else of hostpool's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hostpool"
PARENT_ONLY = ("hostpool.inventory", "hostpool.pool", "hostpool.output", "hostpool.cli")
MAX_LINES = 370


def imports(path: Path) -> set[str]:
    """Modules imported at run time (``if TYPE_CHECKING:`` blocks are for types only)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def modules(*parts: str) -> list[Path]:
    return sorted(p for part in parts for p in (PACKAGE / part).glob("*.py"))


@pytest.mark.parametrize("path", modules("worker", "connectors"), ids=lambda p: p.stem)
def test_child_side_never_imports_the_parent_half(path: Path) -> None:
    bad = {m for m in imports(path) if m.startswith(PARENT_ONLY) or m == "hostpool.report"}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", ["models.py", "errors.py"])
def test_shared_records_stand_alone(name: str) -> None:
    own = {m for m in imports(PACKAGE / name) if m.startswith("hostpool")}
    assert own <= {"hostpool.errors"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.stem)
def test_one_concept_per_module(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES
