"""Isolation cases of kimia/web/api/routes/rules.py.

A draft names its club (``rule_set.club_id``) and club A's merchants: another club's key is refused
(``foreign_reference``, 422) before anything is written. Versions are numbered per club, so the
version probed is one club A has and club B has not."""

from __future__ import annotations

from typing import Any

from . import Case, Probe

MANAGEMENT = frozenset({"management"})


def _draft(api: Any) -> dict[str, Any]:
    return {**api.a.rules(), "club_id": api.a.club_id}


def _a_only_version(api: Any) -> int:
    """A version number of club A's rule set that club B's does not reach (publishing A's rules again if need be)."""
    def top(club: int) -> int:
        with api.service.reading() as tx:
            return int(tx.one("SELECT COALESCE(MAX(version), 0) FROM rule_sets WHERE club_id = ?", (club,))[0])
    while top(api.a.club_id) <= top(api.b.club_id):
        api.a.publish()
    return top(api.a.club_id)


CASES: dict[str, Case] = {
    "POST /rules/validate": lambda api: Probe("/rules/validate", {"rule_set": _draft(api)}, a_allowed=MANAGEMENT),
    "POST /rules/dry-run": lambda api: Probe("/rules/dry-run", {
        "rule_set": _draft(api), "merchant_id": api.a.merchants["cafe"], "amount_rial": 500_000,
        "member": {"kind": "id", "value": str(api.members[api.a.club_id])}}, a_allowed=MANAGEMENT),
    "POST /rules/backtest": lambda api: Probe("/rules/backtest", {"rule_set": _draft(api), "days": 30}, a_allowed=MANAGEMENT),
    "POST /rules": lambda api: Probe("/rules", {"rule_set": _draft(api)}, a_allowed=MANAGEMENT),
    "GET /rules/versions": lambda api: Probe("/rules/versions", a_allowed=MANAGEMENT),
    "GET /rules/versions/{version}": lambda api: Probe(f"/rules/versions/{_a_only_version(api)}", a_allowed=MANAGEMENT),
    "GET /rules/versions/{a}/diff/{b}": lambda api: Probe(
        f"/rules/versions/{_a_only_version(api)}/diff/{_a_only_version(api)}", a_allowed=MANAGEMENT),
}
