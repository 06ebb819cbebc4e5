"""engines/flow stays pure: no Flask, no platform imports (style guide rule 1)."""

import ast
from pathlib import Path

import engines.flow

FLOW = Path(engines.flow.__file__).parent


def test_flow_engine_imports_neither_flask_nor_the_platform() -> None:
    offenders = []
    for path in FLOW.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] in ("flask", "app_platform")]  # fmt: skip
    assert offenders == []
