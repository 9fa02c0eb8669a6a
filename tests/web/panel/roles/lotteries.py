"""Cases of kimia/web/panel/pages/lotteries.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.lotteries.lotteries": lambda p: Visit("/panel/lotteries", names_a=False),
    "panel.lotteries.lottery": lambda p: Visit(f"/panel/lotteries/{p.a.lottery_id}"),
    "panel.lotteries.create": lambda p: Visit("/panel/lotteries/create", form={"name_fa": "قرعه‌کشی آزمون", "prizes": "سکه",
                                                                               "seed_commitment": "ab" * 32, "reason": "walker"},
                                              names_a=False),
    # A wrong seed: refused at its field (422), nothing drawn; club B's admin: not found (404).
    "panel.lotteries.draw": lambda p: Visit(f"/panel/lotteries/{p.a.lottery_id}/draw", form={"seed": "not the seed"}),
}
