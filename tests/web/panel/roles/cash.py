"""Cases of the cash extra's pages (kimia/extras/cash/pages.py): the cash book and its writes
(merchant staff), categories (merchant staff and club admins), the income report and its CSV
(merchant staff and club staff)."""

from __future__ import annotations

from typing import Any

from kimia.extras.cash import book
from kimia.plugins.types import Caller

from . import Case, Visit


def _cafe(p: Any) -> int:
    return int(p.a.merchants["cafe"])


def _entry(p: Any) -> int:
    """An expense of club A's cafe, for the void page."""
    services = p.service.plugin_services
    m = services.merchant(_cafe(p))
    new = book.NewEntry("expense", 12_000, category="other", note="walker")
    return book.record(services, m, new, source="api", idem_key=f"walker-entry-{m.id}", actor="test").id


def _own_category(p: Any) -> int:
    """A category of club A's cafe's own (its staff and the club's admins manage it)."""
    services = p.service.plugin_services
    m = services.merchant(_cafe(p))
    caller = Caller("integration", m.root_club_id, "test", merchant_id=m.id)
    found = services.read(lambda db: [c for c in book.own_categories(db, m.id) if c.code == "walker"])
    if found:
        return found[0].id
    new = book.NewCategory("expense", "walker", "پیاده", "Walker")
    return services.write(lambda db: book.create_category(db, club_id=m.root_club_id, merchant_id=m.id, new=new,
                                                          idem_key="walker-category", actor=caller.actor, now=services.now())).id


CASES: dict[str, Case] = {
    "panel.cash.book": lambda p: Visit("/panel/cash", names_a=False),
    "panel.cash.record": lambda p: Visit("/panel/cash/entries", names_a=False,
                                         form={"form_key": "walker-cash-0001", "kind": "receipt", "amount_rial": "1000"}),
    "panel.cash.void": lambda p: Visit(f"/panel/cash/entries/{_entry(p)}/void",
                                       form={"form_key": "walker-void-0001", "reason": "walker"}),
    "panel.cash.income": lambda p: Visit(f"/panel/cash/income?merchant_id={_cafe(p)}"),
    "panel.cash.income_csv": lambda p: Visit(f"/panel/cash/income.csv?merchant_id={_cafe(p)}"),
    "panel.cash.categories": lambda p: Visit("/panel/cash/categories", names_a=False),
    "panel.cash.switch_category": lambda p: Visit(f"/panel/cash/categories/{_own_category(p)}/switch", form={"active": "0"}),
}
