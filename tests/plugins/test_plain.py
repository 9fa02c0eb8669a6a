"""The contract stays plain: the hook specifications and their types import nothing of kimia but
``kimia.plugins.types`` (and pluggy, the standard library), and kimia's extras import nothing of
kimia but the contract (``kimia.plugins``) and the pure formatting functions of
``kimia.web.panel.fmt``: they depend on kimia's behaviour, never on its internals. Every import
counts, inside functions too, under ``if TYPE_CHECKING:`` too (a plugin author reads those)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KIMIA = ROOT / "kimia"
#: The extras built as plugins through the contract (their packages may still be stubs).
EXTRAS = ("attendance", "cash", "appointments", "messages")
STDLIB = frozenset(sys.stdlib_module_names)


def imports(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, what) of every import of a source file: ``module`` for ``import module``,
    ``module.name`` for ``from module import name``, a relative import made absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text if text is not None else path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def outside(modules: list[tuple[int, str]], allowed: tuple[str, ...], third_party: tuple[str, ...] = ()) -> list[str]:
    """The imports that are neither the standard library, ``third_party``, nor one of ``allowed``
    (a module or its submodules)."""
    bad = []
    for line, module in modules:
        top = module.split(".")[0]
        if top == "__future__" or (top in STDLIB and top != "kimia") or top in third_party:
            continue
        if any(module == a or module.startswith(a + ".") for a in allowed):
            continue
        bad.append(f"line {line}: {module}")
    return bad


@pytest.mark.parametrize("name", ["hookspecs.py", "types.py"])
def test_the_hook_specifications_and_types_import_only_the_plain_types(name: str) -> None:
    allowed = ("kimia.plugins.types",) if name == "hookspecs.py" else ()
    bad = outside(imports(KIMIA / "plugins" / name), allowed, third_party=("pluggy",))
    assert not bad, f"kimia/plugins/{name} imports more than the contract's plain types: {bad}"


def extras_modules() -> list[Path]:
    return sorted(p for extra in EXTRAS if (KIMIA / "extras" / extra).is_dir() for p in (KIMIA / "extras" / extra).rglob("*.py"))


def test_the_extras_import_only_the_contract_and_the_formatting_functions() -> None:
    problems = {}
    for path in extras_modules():
        # Third-party libraries an extra may use are its own business; kimia's insides are not.
        modules = [(line, m) for line, m in imports(path) if m.split(".")[0] == "kimia"]
        bad = outside(modules, ("kimia.plugins", "kimia.web.panel.fmt", f"kimia.extras.{path.relative_to(KIMIA / 'extras').parts[0]}"))
        if bad:
            problems[str(path.relative_to(ROOT))] = bad
    assert not problems, f"extras reaching past the plugin contract (kimia.plugins, kimia.web.panel.fmt): {problems}"


def test_the_check_sees_a_forbidden_import() -> None:
    """Not vacuous: an import of kimia's insides, plain, relative or inside a function, is found."""
    source = ("from kimia.plugins import hookimpl\nfrom kimia.plugins.types import Refusal\nfrom kimia.web.panel import fmt\n"
              "def f():\n    from kimia.service.api import Kimia\n    from ... import errors\n    import kimia.store.engine\n"
              "    from kimia.web.panel import site\n")
    found = imports(KIMIA / "extras" / "attendance" / "plugin.py", source)
    assert outside(found, ("kimia.plugins", "kimia.web.panel.fmt")) == [
        "line 5: kimia.service.api.Kimia", "line 6: kimia.errors", "line 7: kimia.store.engine", "line 8: kimia.web.panel.site"]
