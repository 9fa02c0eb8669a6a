"""Isolation cases of kimia/web/api/routes/tiers.py.

Tiers and the tier period are the caller's own club's: no request names another club's things, so
another club's key reads or changes only its own club's (the probes check that A's keys of other
kinds are refused and that B's requests leave A unchanged)."""

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
}
