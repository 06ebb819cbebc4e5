"""engines/ stay pure: no Flask, no app_platform (STYLE.md convention 1)."""

import ast
from pathlib import Path

ENGINES = Path(__file__).resolve().parents[2] / "engines"
FORBIDDEN = ("flask", "app_platform", "werkzeug")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engines_import_neither_flask_nor_the_platform():
    offenders = {}
    files = sorted(ENGINES.rglob("*.py"))
    assert len(files) > 20  # the check really walked the engines
    for path in files:
        bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN)
        if bad:
            offenders[str(path.relative_to(ENGINES))] = bad
    assert offenders == {}
