"""The JSON Schema (draft 2020-12) of kimia's rule language, documented in docs/rules.md.

The schema mirrors the serde types of ``core/src/rules/spec.rs``; ``kimia.Rulebook`` remains the
final judge (it also makes the cross-field checks a schema cannot express).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["rules_schema"]


def rules_schema() -> dict[str, Any]:
    """The rule set schema as a fresh dict (safe to modify)."""
    text = resources.files(__name__).joinpath("rules.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
