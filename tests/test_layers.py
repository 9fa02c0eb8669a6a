"""The layers of kimia as its imports draw them (issue 14, item 1).

Every import in kimia/ counts, at module level and inside functions alike (an import moved into a
function to dodge a cycle is still a cycle); only the imports under ``if TYPE_CHECKING:``, which
never run, are left out. The graph must have no cycle, and the service must not reach up into the
channels built on it (the terminal host, the CLI).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "kimia"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, package: str, modules: frozenset[str] = frozenset()) -> list[str]:
    """What a module imports anywhere (functions included), not under TYPE_CHECKING. ``from P import
    name`` imports the module ``P.name`` when there is one (``modules``), else ``P`` itself."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
            found.extend(submodules)
            if len(submodules) < len(node.names):
                found.append(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the kimia modules it imports (only modules that exist in kimia/)."""
    sources = {module_name(p): p for p in ROOT.rglob("*.py")}
    # The compiled core (kimia._core, typed by its .pyi) is a module too, importing nothing of ours.
    modules = frozenset(sources) | {module_name(p) for p in ROOT.rglob("*.pyi")}
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        imported = _imports(ast.parse(path.read_text(encoding="utf-8")), package, modules)
        targets = {t for t in imported if t in sources and t != name}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_finder_sees_a_cycle_through_an_import_inside_a_function() -> None:
    a = ast.parse("import kimia.b\n")
    b = ast.parse("def f():\n    from kimia import a\n")
    modules = frozenset({"kimia.a", "kimia.b"})
    graph = {"kimia.a": set(_imports(a, "kimia", modules)) & modules, "kimia.b": set(_imports(b, "kimia", modules)) & modules}
    assert find_cycle(graph) == ["kimia.a", "kimia.b", "kimia.a"]
    skipped = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import kimia.b\n")
    assert "kimia.b" not in _imports(skipped, "kimia")


def test_kimia_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_service_never_imports_a_channel() -> None:
    graph = import_graph()
    reaching_up = {
        (module, target)
        for module, targets in graph.items() if module.startswith("kimia.service")
        for target in targets if target.startswith(("kimia.terminal", "kimia.cli", "kimia.web"))
    }
    assert not reaching_up, f"the service imports a channel: {sorted(reaching_up)}"
