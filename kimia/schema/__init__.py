"""The JSON Schemas (draft 2020-12) of kimia: the rule language (``rules.schema.json``, documented
in docs/rules.md) and the data the core and the service take and give (``data.schema.json``: the
purchase, the member snapshot, the decision, conversion, tiers, vouchers, ...). Both are rendered
into docs/rules-reference.md by ``python -m kimia.schema.reference``.

The rule schema mirrors the serde types of ``core/src/rules/spec.rs``; ``kimia.Rulebook`` remains
the final judge (it also makes the cross-field checks a schema cannot express).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["data_schema", "rules_schema"]


def rules_schema() -> dict[str, Any]:
    """The rule set schema as a fresh dict (safe to modify)."""
    text = resources.files(__name__).joinpath("rules.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def data_schema() -> dict[str, Any]:
    """The data schema (purchase, member snapshot, decision, ...) as a fresh dict."""
    text = resources.files(__name__).joinpath("data.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
