"""Sample data shipped with kimia: a demo club's rule set, used by the demo and the tests."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def demo_rules() -> dict[str, Any]:
    """The rule set of the demo club «باشگاه کیمیا» (club 1)."""
    text = resources.files(__package__).joinpath("demo_rules.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
