"""engines/match stays pure: standard library and its own modules only."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "engines" / "match"


def test_only_stdlib_and_own_imports() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "engines" and top not in sys.stdlib_module_names:
                    offenders.append(f"{path.name}: {name}")
                if name.startswith("engines.") and not name.startswith("engines.match"):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text("utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 400, sizes
