"""docs/plugins.md documents the contract as the code has it (as datasette's test_docs does):

- every hook has a heading ``### `kimia_x(a: int, b: str) -> list[T]` `` whose signature is the
  specification's (parameter names, order, annotations as text, return), exactly once;
- the document names no hook that does not exist;
- every public name of ``kimia.plugins.types`` has a heading ``### `Name` ``, and the section under
  it names each of its fields (a dataclass) or calls (a protocol).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from kimia.plugins import hookspecs, types

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOK_HEADING = re.compile(r"^### `(kimia_\w+)\((.*)\) -> (.+)`\s*$")
TYPE_HEADING = re.compile(r"^### `([A-Z]\w*)`\s*$")


def text() -> str:
    return DOCS.read_text(encoding="utf-8")


def hooks() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(f) for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("kimia_")}


def code_signature(sig: inspect.Signature) -> str:
    """``(a: int, b: str) -> list[T]`` with the annotations as written (the module postpones them)."""
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"({params}) -> {sig.return_annotation}"


def documented_hooks() -> list[tuple[str, str]]:
    found = []
    for line in text().splitlines():
        match = HOOK_HEADING.match(line)
        if match:
            found.append((match.group(1), f"({match.group(2)}) -> {match.group(3)}"))
        elif line.startswith("#") and "`kimia_" in line:
            pytest.fail(f"a heading naming a hook is not of the form ### `kimia_x(a: T) -> R`: {line!r}")
    return found


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    code = hooks()
    assert len(code) >= 19, "no hooks found"
    docs = documented_hooks()
    names = [name for name, _ in docs]
    assert not sorted(set(code) - set(names)), f"hooks missing from docs/plugins.md: {sorted(set(code) - set(names))}"
    assert not sorted(set(names) - set(code)), f"docs/plugins.md documents hooks that do not exist: {sorted(set(names) - set(code))}"
    assert len(names) == len(set(names)), f"a hook is documented twice: {sorted(n for n in names if names.count(n) > 1)}"
    wrong = {name: (doc, code_signature(code[name])) for name, doc in docs if doc != code_signature(code[name])}
    assert not wrong, "documented signatures differ from the code's (doc, code):\n" + "\n".join(
        f"{name}: {doc}  !=  {real}" for name, (doc, real) in wrong.items())


def public_types() -> list[str]:
    """The names ``kimia.plugins.types`` defines (classes and type aliases; not its TypeVar)."""
    tree = ast.parse(Path(types.__file__).read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if not (isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "TypeVar"):
                names.append(node.targets[0].id)
    return [n for n in names if not n.startswith("_")]


def sections() -> dict[str, str]:
    """Each ``### `Name` `` heading's text, up to the next heading of any level."""
    found: dict[str, str] = {}
    current: str | None = None
    for line in text().splitlines():
        if line.startswith("#"):
            match = TYPE_HEADING.match(line)
            current = match.group(1) if match else None
            if current is not None:
                found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def members(name: str) -> list[str]:
    obj = getattr(types, name)
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    if inspect.isclass(obj) and issubclass(obj, Exception):
        return [p for p in inspect.signature(obj.__init__).parameters if p != "self"]
    if inspect.isclass(obj):  # a protocol: its attributes and calls
        own = [n for n in vars(obj) if not n.startswith("_")]
        return own + [n for n in getattr(obj, "__annotations__", {}) if n not in own]
    return []


def test_every_public_type_is_documented_with_its_fields() -> None:
    names = public_types()
    assert {"Services", "Db", "TerminalOperation", "DialectSpec", "NotificationChannel", "KeyKind"} <= set(names)
    found = sections()
    missing = [n for n in names if n not in found]
    assert not missing, f"types of kimia.plugins.types missing from docs/plugins.md (### `Name`): {missing}"
    unknown = [n for n in found if n not in names]
    assert not unknown, f"docs/plugins.md documents types kimia.plugins.types does not have: {unknown}"
    lacking = {n: [m for m in members(n) if f"`{m}`" not in found[n] and f"`{m}(" not in found[n] and f".{m}(" not in found[n]]
               for n in names}
    lacking = {n: ms for n, ms in lacking.items() if ms}
    assert not lacking, f"fields or calls not named in their type's section of docs/plugins.md: {lacking}"


def test_the_check_finds_a_wrong_signature() -> None:
    """Not vacuous: a parameter renamed, reordered or retyped, or a return changed, differs."""
    real = code_signature(hooks()["kimia_tier_changed"])
    for wrong in ("(club_id: int, member: int, from_tier: str | None, to_tier: str | None, reason: str) -> None",
                  "(member_id: int, club_id: int, from_tier: str | None, to_tier: str | None, reason: str) -> None",
                  "(club_id: int, member_id: int, from_tier: str, to_tier: str | None, reason: str) -> None",
                  "(club_id: int, member_id: int, from_tier: str | None, to_tier: str | None, reason: str) -> bool"):
        assert wrong != real
