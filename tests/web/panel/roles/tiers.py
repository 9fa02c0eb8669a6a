"""Cases of kimia/web/panel/pages/tiers.py."""

from __future__ import annotations

from service.builders import TIERS

from . import Case, Visit


def _settings(p: object) -> dict[str, str]:
    form = {"rows": str(len(TIERS["tiers"])), "reason": "walker"}
    for i, tier in enumerate(TIERS["tiers"]):
        form.update({f"tiers.{i}.{k}": str(v) for k, v in tier.items()})
    return form


CASES: dict[str, Case] = {
    "panel.tiers.tiers": lambda p: Visit("/panel/tiers", names_a=False),
    "panel.tiers.save": lambda p: Visit("/panel/tiers/save", form=_settings(p), names_a=False),
    # Club B's support and admin must not move club A's member (not found: 404).
    "panel.tiers.move": lambda p: Visit("/panel/tiers/move", form={"member_id": str(p.api.members[p.a.club_id]), "tier": "silver",
                                                                   "reason": "walker"}),
    "panel.tiers.preview": lambda p: Visit("/panel/tiers/close/preview", names_a=False),
    # Without the confirmation: the preview again with the error, nothing closed.
    "panel.tiers.close": lambda p: Visit("/panel/tiers/close", form={"form_key": "walker-close-key"}, names_a=False),
}
