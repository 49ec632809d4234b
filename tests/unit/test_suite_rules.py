"""The suite's own rules, in every tier: a test module imports no other test module (what is
shared lives in conftest.py fixtures or a ``*_support.py`` / ``support.py`` / ``helpers.py``
module of its tier)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_module_of_any_tier_imports_a_test_module() -> None:
    offenders = {
        str(path.relative_to(TESTS)): sorted(name for name in _imported_modules(path)
                                             if name.rsplit(".", 1)[-1].startswith("test_"))
        for path in sorted(TESTS.rglob("*.py"))
    }  # fmt: skip
    assert {name: found for name, found in offenders.items() if found} == {}
