"""Render the generated sections of docs/rules-reference.md from kimia's JSON Schemas.

The reference is hand-written prose around tables generated from the schemas: the rule set
(``rules.schema.json``) and everything else the core and the service take and give
(``data.schema.json``). A generated section is marked in the Markdown file::

    <!-- generated: rules Rule Scope Budget -->
    ...tables, rewritten by this module...
    <!-- end generated -->

The first word names the schema (``rules`` or ``data``), the rest its definitions in order: ``.``
is the schema's root object (shown as ``RuleSet``) and ``Condition...`` is the union
``Condition`` followed by each of its alternatives. Usage::

    python -m kimia.schema.reference            # rewrite docs/rules-reference.md in place
    python -m kimia.schema.reference --check    # exit 1 if it is out of date
    python -m kimia.schema.reference --stdout   # print the regenerated text instead

tests/test_docs_reference.py checks that the file is up to date and that every definition is shown.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kimia.schema import data_schema, rules_schema

__all__ = ["MARKER_RE", "ROOT_NAME", "render", "render_def", "schemas", "sections", "type_of"]

#: A generated section: its schema, the definitions it shows, and its current text.
MARKER_RE = re.compile(r"<!-- generated: (?P<spec>[^>]*?) -->\n(?P<body>.*?)<!-- end generated -->", re.DOTALL)

#: How the rule set schema's root object is named in the reference.
ROOT_NAME = "RuleSet"

#: Said of a definition whose unknown fields the core ignores (``x-unknown-fields: ignored``).
IGNORED = ("**The core ignores unknown fields here**: a misspelt optional field silently takes its default. "
           "Validate against the schema (which rejects them) to catch it.")

#: The limits of i64: a bound equal to one of them says nothing to a reader.
I64 = (-(2**63), 2**63 - 1)

def schemas() -> dict[str, dict[str, Any]]:
    """Both schemas by the name a marker uses."""
    return {"rules": rules_schema(), "data": data_schema()}


# --- one cell at a time -----------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _number(n: int) -> str:
    return f"{n:,}" if abs(n) >= 100_000 else str(n)


def _link(ref: str) -> str:
    name = ref.rsplit("/", 1)[1]
    return f"[{name}](#{name.lower()})"


def _integer(node: dict[str, Any]) -> str:
    low, high = node.get("minimum"), node.get("maximum")
    low = None if low == I64[0] else low
    high = None if high == I64[1] else high
    if low is not None and high is not None:
        return f"integer {_number(low)}..{_number(high)}"
    if low is not None:
        return f"integer ≥ {_number(low)}"
    if high is not None:
        return f"integer ≤ {_number(high)}"
    return "integer"


def _string(node: dict[str, Any]) -> str:
    parts = ["string"]
    low, high = node.get("minLength"), node.get("maxLength")
    if low is not None or high is not None:
        parts.append(f"{low or 0}..{high} characters" if high is not None else f"at least {low} characters")
    if "pattern" in node:
        parts.append(f"matching `{node['pattern']}`")
    return ", ".join(parts)


def _array(node: dict[str, Any]) -> str:
    if "prefixItems" in node:
        return "[" + ", ".join(type_of(item) for item in node["prefixItems"]) + "]"
    text = f"list of {type_of(node.get('items', {}))}"
    low, high = node.get("minItems"), node.get("maxItems")
    if low is not None and high is not None:
        text += f" ({_number(low)}..{_number(high)} items)"
    elif high is not None:
        text += f" (at most {_number(high)})"
    elif low is not None:
        text += f" (at least {_number(low)})"
    return text


def _object(node: dict[str, Any]) -> str:
    values = node.get("additionalProperties")
    if not isinstance(values, dict):
        return "object"
    names = node.get("propertyNames", {})
    if "x-keys" in node:
        keys = str(node["x-keys"])
    elif "enum" in names:
        keys = "(" + ", ".join(f"`{k}`" for k in names["enum"]) + ")"
    elif "pattern" in names:
        keys = "id as a string"
    else:
        keys = "string"
    return f"map of {keys} → {type_of(values)}"


def _literal(value: Any) -> str:
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def type_of(node: dict[str, Any]) -> str:
    """A property's type, in words, with its ranges and links to the definitions it uses."""
    if "$ref" in node:
        return _link(node["$ref"])
    if "const" in node:
        return _literal(node["const"])
    if "enum" in node:
        return "one of " + ", ".join(_literal(v) for v in node["enum"])
    for union in ("anyOf", "oneOf"):
        if union in node and not node.get("type"):
            return " or ".join(type_of(alt) for alt in node[union])
    kinds = node.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    words = [_one_type(node, kind) for kind in kinds if kind != "null"]
    if "null" in kinds:
        words.append("null")
    return " or ".join(words) or "any"


def _one_type(node: dict[str, Any], kind: str) -> str:
    if kind == "integer":
        return _integer(node)
    if kind == "string":
        return _string(node)
    if kind == "array":
        return _array(node)
    if kind == "object":
        return _object(node)
    return str(kind)


def _default(name: str, node: dict[str, Any], required: set[str]) -> str:
    if name in required:
        return "**required**"
    if "default" in node:
        return _literal(node["default"])
    return "optional"


def _checks(definition: dict[str, Any]) -> list[str]:
    """The ``$comment`` notes of a definition outside its properties: checks across fields."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$comment"), str):
                found.append(node["$comment"])
            for key, value in node.items():
                if key not in ("properties", "$defs"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(definition)
    return list(dict.fromkeys(found))


# --- one definition -----------------------------------------------------------------------------


def render_def(name: str, definition: dict[str, Any], defs: dict[str, Any]) -> str:
    """A definition as a heading, its description and a table of its fields."""
    lines = [f"#### {name}", "", definition.get("description", "")]
    if "oneOf" in definition and "properties" not in definition:
        lines += ["", "One of:", ""]
        for alt in definition["oneOf"]:
            alt_name = alt["$ref"].rsplit("/", 1)[1]
            tag = defs[alt_name].get("properties", {}).get("type", {}).get("const")
            lines.append(f"- {_link(alt['$ref'])}" + (f": `\"type\": \"{tag}\"`" if tag else ""))
    elif "properties" in definition:
        if definition.get("x-unknown-fields") == "ignored":
            lines += ["", IGNORED]
        lines += ["", *_table(definition)]
    else:
        lines += ["", f"Type: {type_of(definition)}."]
    checks = _checks(definition)
    if checks:
        lines += ["", "Also checked: " + " ".join(c if c.endswith(".") else c + "." for c in checks)]
    return "\n".join(lines) + "\n"


def _table(definition: dict[str, Any]) -> list[str]:
    required = set(definition.get("required", []))
    output = definition.get("x-output", False)
    head = ["| field | type | meaning |", "|---|---|---|"] if output else ["| field | type | default | meaning |", "|---|---|---|---|"]
    rows = []
    for field, node in definition["properties"].items():
        meaning = node.get("description", "")
        only = node.get("x-only")
        if only:
            meaning = f"*({only} only)* {meaning}"
        cells = [f"`{field}`", type_of(node)]
        if not output:
            cells.append(_default(field, node, required))
        cells.append(meaning)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return head + rows


# --- the document ---------------------------------------------------------------------------------


def _expand(schema: dict[str, Any], names: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    defs = schema.get("$defs", {})
    for name in names:
        if name == ".":
            yield ROOT_NAME, schema
        elif name.endswith("..."):
            union = name[:-3]
            yield union, defs[union]
            for alt in defs[union]["oneOf"]:
                alt_name = alt["$ref"].rsplit("/", 1)[1]
                yield alt_name, defs[alt_name]
        elif name in defs:
            yield name, defs[name]
        else:
            raise KeyError(f"no definition {name!r} in the schema")


def sections(text: str) -> Iterator[tuple[str, list[str]]]:
    """(schema name, definitions shown) of every generated section of a document."""
    all_schemas = schemas()
    for m in MARKER_RE.finditer(text):
        schema_name, *names = m.group("spec").split()
        yield schema_name, [n for n, _ in _expand(all_schemas[schema_name], names)]


def render(text: str) -> str:
    """The document with every generated section rendered afresh."""
    all_schemas = schemas()

    def section(m: re.Match[str]) -> str:
        schema_name, *names = m.group("spec").split()
        schema = all_schemas[schema_name]
        defs = schema.get("$defs", {})
        body = "\n".join(render_def(n, d, defs) for n, d in _expand(schema, names))
        return f"<!-- generated: {m.group('spec')} -->\n{body}<!-- end generated -->"

    return MARKER_RE.sub(section, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kimia.schema.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default="docs/rules-reference.md", type=Path, help="the Markdown file (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the file is out of date; change nothing")
    mode.add_argument("--stdout", action="store_true", help="print the regenerated text; change nothing")
    args = parser.parse_args(argv)
    old = args.path.read_text(encoding="utf-8")
    new = render(old)
    if args.stdout:
        sys.stdout.write(new)
    elif args.check:
        if new != old:
            print(f"{args.path} is out of date: run python -m kimia.schema.reference", file=sys.stderr)
            return 1
    elif new != old:
        args.path.write_text(new, encoding="utf-8")
        print(f"{args.path} updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
