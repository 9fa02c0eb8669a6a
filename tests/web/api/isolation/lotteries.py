"""Isolation cases of kimia/web/api/routes/lotteries.py."""

from __future__ import annotations

from kimia.service.admin import Admin

from . import Case, Probe

CASES: dict[str, Case] = {
    # A lottery of club A's sub-club: another club's key is refused (unknown_club).
    "POST /lotteries": lambda api: Probe("/lotteries", {"name_fa": "قرعه", "prizes": ["سکه"], "seed_commitment": Admin.commitment("s"),
                                                        "club_id": api.a.sub_club_id}),
    "GET /lotteries": lambda api: Probe("/lotteries"),
    "GET /lotteries/{lottery_id}": lambda api: Probe(f"/lotteries/{api.a.lottery_id}"),
    "GET /lotteries/{lottery_id}/winners": lambda api: Probe(f"/lotteries/{api.a.lottery_id}/winners"),
    "POST /lotteries/{lottery_id}/draw": lambda api: Probe(f"/lotteries/{api.a.lottery_id}/draw", {"seed": api.a.lottery_seed}),
}
