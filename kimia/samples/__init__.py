"""Sample data shipped with kimia: a demo club's rule set, used by the demo and the tests."""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kimia.service.admin import Admin


def demo_rules() -> dict[str, Any]:
    """The rule set of the demo club «باشگاه کیمیا» (club 1)."""
    text = resources.files(__package__).joinpath("demo_rules.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def demo_rules_for(admin: Admin, club_id: int, merchant_id: int, *, actor: str = "platform") -> dict[str, Any]:
    """The demo rule set for a club of one merchant: the sample names merchants, a merchant group
    and a lottery by the demo club's ids, and a rule set may name only its own club's
    (``publish_rules`` refuses others), so they become ``merchant_id``, a group of it and a lottery
    opened in ``club_id``. The sample's settlement is left out (the club's own applies)."""
    body = demo_rules()
    body.pop("settlement", None)
    group = admin.create_merchant_group(club_id, "فودکورت", [merchant_id], name_en="Food court", actor=actor)
    lottery = admin.open_lottery(club_id, "قرعه‌کشی نوروز", prizes=["جایزه"], actor=actor,
                                 seed_commitment=admin.commitment(f"demo-rules-{club_id}"))
    for merchant_set in body.get("merchant_sets", []):
        merchant_set["merchants"], merchant_set["merchant_groups"] = [merchant_id], [group]
    for rule in body.get("rules", []):
        if rule.get("scope", {}).get("merchants"):
            rule["scope"]["merchants"] = [merchant_id]
        for effect in rule.get("effects", []):
            if "lottery_id" in effect:
                effect["lottery_id"] = lottery
    return body
