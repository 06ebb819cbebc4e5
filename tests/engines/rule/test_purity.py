"""engines/rule stays pure: no web framework, no platform imports."""

import ast
from pathlib import Path

import engines.rule


def test_no_flask_or_platform_imports():
    root = Path(engines.rule.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("flask", "app_platform")), (path, name)
