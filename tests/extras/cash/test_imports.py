"""The cash extra reaches kimia only through the plugin contract: its modules import nothing of
kimia but ``kimia.plugins`` (types, hook markers), ``kimia.web.panel.fmt`` (Jalali dates and
digits) and its own package."""

from __future__ import annotations

import ast
from pathlib import Path

import kimia.extras.cash

ALLOWED = ("kimia.plugins", "kimia.web.panel.fmt", "kimia.extras.cash")


def test_the_extra_imports_only_the_contract() -> None:
    package = Path(kimia.extras.cash.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 6
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name == "kimia" or name.startswith("kimia."):
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"
