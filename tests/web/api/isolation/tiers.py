"""Isolation cases of kimia/web/api/routes/tiers.py.

Tiers and the tier period are the caller's own club's: those requests name nothing of another club,
so another club's key reads or changes only its own club's (A's keys of other kinds are refused,
and B's requests leave A unchanged). A move by hand names club A's member: B's key gets 404."""

from __future__ import annotations

from . import Case, Probe

MANAGEMENT = frozenset({"management"})
TIERS = {"tiers": [{"name": "bronze"}, {"name": "silver", "rise_at": 100, "stay_at": 50}, {"name": "gold", "rise_at": 500, "stay_at": 300}],
         "reason": "isolation probe"}

CASES: dict[str, Case] = {
    "GET /tiers": lambda api: Probe("/tiers", a_allowed=MANAGEMENT),
    "PUT /tiers": lambda api: Probe("/tiers", TIERS, a_allowed=MANAGEMENT),
    "GET /tiers/period": lambda api: Probe("/tiers/period", a_allowed=MANAGEMENT),
    "POST /tiers/period/preview": lambda api: Probe("/tiers/period/preview", {"force": True}, a_allowed=MANAGEMENT),
    "POST /tiers/period/close": lambda api: Probe("/tiers/period/close", {"force": True}, a_allowed=MANAGEMENT),
    "POST /members/{member_id}/tier": lambda api: Probe(f"/members/{api.members[api.a.club_id]}/tier",
                                                        {"tier": "gold", "reason": "isolation probe"}, a_allowed=MANAGEMENT),
}
