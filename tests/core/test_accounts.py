"""What the core knows of accounts, as the service asks it (issue 14, item 5): classification, floors,
the lot kinds a purchase spends, the credit a member can spend at a merchant and the credit held.
The Python copies of these (``floor_of``, ``is_holder``, ``owner_of``, ``lot_kind``, ``CREDIT_KINDS``,
the spendable-credit loop of ``member_balances``) are gone; these tests pin what they computed."""

from __future__ import annotations

from typing import Any

import pytest

import kimia
import kimia._core as core
from kimia.errors import Rejected

from .helpers import BAKERY, CAFE, GARAGE, at, book, holding, lot, member, purchase

NOW = at(2026, 12, 17, 11)

ACCOUNTS: list[tuple[str, dict[str, Any]]] = [
    ("member:42/merchant_credit@merchant:7",
     {"owner": "member:42", "owner_type": "member", "owner_id": 42, "kind": "merchant_credit", "unit": "rial", "scope": "merchant:7",
      "is_holder": True, "has_lots": True, "is_spendable_credit": True, "is_credit_held": True}),
    ("group:3/club_credit@set:2",
     {"owner": "group:3", "owner_type": "group", "owner_id": 3, "kind": "club_credit", "scope": "set:2", "is_holder": True, "is_credit_held": True}),
    ("member:42/points", {"kind": "points", "unit": "point", "scope": None, "is_holder": True, "has_lots": True, "is_spendable_credit": False}),
    ("member:42/credit_line", {"kind": "credit_line", "is_holder": True, "has_lots": False, "is_spendable_credit": True, "is_credit_held": False}),
    ("member:1/lottery_entries@lottery:9", {"unit": "entry", "scope": "lottery:9", "has_lots": True, "is_spendable_credit": False}),
    ("club:1/expense", {"owner": "club:1", "owner_type": "club", "is_holder": False, "has_lots": False}),
    ("platform:0/cash", {"owner": "platform:0", "owner_type": "platform", "owner_id": 0, "is_holder": False}),
]


@pytest.mark.parametrize(("account", "expected"), ACCOUNTS, ids=[a for a, _ in ACCOUNTS])
def test_account_info_classifies_an_account_by_its_name(account: str, expected: dict[str, Any]) -> None:
    info = core.account_info(account)
    assert info.account == account
    assert {name: getattr(info, name) for name in expected} == expected


@pytest.mark.parametrize("text", ["member:x/points", "member:1/nonsense", "points", "member:1/points@shop:2"])
def test_account_info_refuses_a_name_that_is_no_account(text: str) -> None:
    with pytest.raises(Rejected) as e:
        core.account_info(text)
    assert e.value.code == "unknown_account"


FLOORS: list[tuple[str, int, int | None]] = [
    ("member:42/points", 0, 0),
    ("member:42/virtual_credit", 500, 0),
    ("group:3/club_credit@set:2", 0, 0),
    ("member:42/credit_line", 500_000, -500_000),
    ("member:42/points_debt", 0, None),
    ("member:42/credit_debt", 0, None),
    # A holder's cash account is money from outside: a source, unbounded like the business side.
    ("member:42/cash", 0, None),
    ("club:1/expense", 0, None),
    ("merchant:7/credit_accepted", 0, None),
]


@pytest.mark.parametrize(("account", "limit", "floor"), FLOORS, ids=[a for a, _, _ in FLOORS])
def test_floor_is_the_cores(account: str, limit: int, floor: int | None) -> None:
    assert core.floor(account, limit) == floor
    assert core.account_info(account).floor(limit) == floor


def test_spent_lot_kinds_and_kinds_of() -> None:
    credit = {"merchant_credit", "club_credit", "virtual_credit", "cashback", "gift_credit", "welfare_credit"}
    assert core.spent_lot_kinds(credit=True, points=False) == frozenset(credit)
    assert core.spent_lot_kinds(credit=False, points=True) == frozenset({"points"})
    assert core.spent_lot_kinds(credit=True, points=True) == frozenset(credit | {"points"})
    assert core.spent_lot_kinds(credit=False, points=False) == frozenset()
    assert core.kinds_of(["member:1/points", "group:2/cashback@set:1", "club:1/expense"]) == ["points", "cashback", "expense"]
    assert core.kinds_of([]) == []


def test_spendable_credit_is_what_a_purchase_may_draw_here() -> None:
    wallet = holding(
        lot("1:0", "member:42/virtual_credit", 40_000),
        lot("2:0", "member:42/cashback", 30_000, expires_at=NOW + 86_400),
        lot("3:0", f"member:42/merchant_credit@merchant:{BAKERY}", 50_000),
        lot("4:0", "member:42/club_credit@set:1", 10_000),
        lot("5:0", "member:42/gift_credit", 5_000, expires_at=NOW - 1),
        lot("6:0", "member:42/welfare_credit", 7_000, pending_until=NOW + 60),
        accounts=[{"account": "member:42/credit_line", "balance": -20_000, "credit_limit": 50_000}],
    )
    b = book([])
    # Cafe: virtual, cashback, the set's club credit and 30,000 of the credit line; expired,
    # pending and another merchant's credit do not count.
    assert b.spendable_credit(wallet, merchant_id=CAFE, merchant_groups=[10], now=NOW) == 110_000
    assert b.spendable_credit(wallet, merchant_id=BAKERY, merchant_groups=[], now=NOW) == 160_000
    assert b.spendable_credit(wallet, merchant_id=GARAGE, merchant_groups=[], now=NOW) == 100_000
    d = b.evaluate(purchase(amount_rial=500_000, redeem_credit_rial=110_000), wallet, NOW)
    assert d.credit_used_rial == 110_000
    with pytest.raises(Rejected):
        b.evaluate(purchase(amount_rial=500_000, redeem_credit_rial=110_001), wallet, NOW)


def test_credit_held_is_a_receipts_credit_balance() -> None:
    snapshot = holding(
        lot("1:0", "member:42/virtual_credit", 40_000),
        lot("2:0", f"member:42/merchant_credit@merchant:{BAKERY}", 50_000),
        lot("3:0", "group:8/club_credit@set:1", 9_000),
        lot("4:0", "member:42/points", 700),
        shared_group_id=8,
        accounts=[{"account": "member:42/credit_line", "balance": -20_000, "credit_limit": 50_000}],
    )
    m = kimia.Member(snapshot)
    assert m.credit_held_rial == 99_000
    d = book([]).evaluate(purchase(), member(), NOW)
    assert d.receipt(1, m)[0]["balance_credit_rial"] == 99_000
