"""Purchases (SPEC C1–C6, R1, R5–R13, N1, S7): clubs and sub-clubs, meta-clubs, merchant and member
groups, fee tariffs in the split, credit spending, quotes that write nothing, and exactly-once
purchases per idempotency key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import Rejected

from .builders import (
    FEE_DEFAULT_BP,
    FEE_RESTAURANT_BP,
    World,
    all_tables,
    balance,
    card_number,
    dump,
    member_balances,
    mobile,
    persian,
    points_of,
    row_counts,
    rows,
    scalar,
)


def expected_split(payable: int, *, fee_bp: int, fee_cap: int, club_id: int, merchant_id: int,
                   marketer_id: int | None = None, enrolling_merchant_id: int | None = None) -> list[dict[str, Any]]:
    """The split as SPEC S1–S7 and DESIGN describe it, computed independently of the core: the
    fee comes off the top; the rest is shared by basis points with largest-remainder rounding."""
    fee = min(payable * fee_bp // 10_000, fee_cap, payable)
    rest = payable - fee
    club_bp, marketer_bp = (200, 100) if marketer_id is not None else (300, 0)
    mm_bp = 50 if enrolling_merchant_id not in (None, merchant_id) else 0
    weights = [club_bp, marketer_bp, mm_bp, 10_000 - club_bp - marketer_bp - mm_bp]
    parts = [rest * w // 10_000 for w in weights]
    remainders = sorted(range(4), key=lambda i: (-(rest * weights[i] % 10_000), i))
    for i in remainders[: rest - sum(parts)]:
        parts[i] += 1
    legs = [("platform_fee", 0, fee), ("club_owner", club_id, parts[0]), ("marketer", marketer_id or 0, parts[1]),
            ("merchant_marketer", enrolling_merchant_id or 0, parts[2]), ("merchant", merchant_id, parts[3])]
    return [{"role": r, "beneficiary_id": b, "amount_rial": a} for r, b, a in legs if a > 0]


def test_a_purchase_discounts_earns_and_splits(world: World) -> None:
    """N1/R6/R7/S1: discount, points, lottery entries and the split, decided at the moment of the purchase."""
    member = world.enroll()
    receipt = world.buy(member, 1_234_567, merchant="cafe")
    assert receipt["status"] == "done" and receipt["kind"] == "purchase"
    assert receipt["applied_rules"] == ["points-base", "food-court-5", "lottery"]
    assert receipt["discount_rial"] == 61_728  # 5% of 1,234,567, floored
    assert receipt["credit_used_rial"] == 0
    assert receipt["payable_rial"] == 1_234_567 - 61_728
    assert receipt["points_earned"] == 123
    assert receipt["lottery_entries"] == [{"lottery_id": world.lottery_id, "entries": 1}]
    assert receipt["split"] == expected_split(receipt["payable_rial"], fee_bp=FEE_DEFAULT_BP, fee_cap=200_000, club_id=world.club_id,
                                              merchant_id=world.merchants["cafe"], marketer_id=world.marketer_id)
    assert receipt["balance_points"] == 123
    assert any("فودکورت" in line for line in receipt["explanation_fa"])
    assert any("Food court" in line for line in receipt["explanation_en"])
    # What the receipt says is what the database holds.
    assert member_balances(world.service, member) == {"points": 123, f"lottery_entries@lottery:{world.lottery_id}": 1}
    assert rows(world.service, "SELECT kind, status, member_id, merchant_id, amount_rial FROM operations WHERE id = ?", (receipt["op_id"],)) == [
        ("purchase", "done", member, world.merchants["cafe"], 1_234_567)]
    assert scalar(world.service, "SELECT SUM(amount_rial) FROM split_legs WHERE op_id = ?", (receipt["op_id"],)) == receipt["payable_rial"]
    assert scalar(world.service, "SELECT COUNT(*) FROM journal WHERE op_id = ?", (receipt["op_id"],)) > 0
    assert scalar(world.service, "SELECT SUM(amount) FROM journal WHERE op_id = ?", (receipt["op_id"],)) == 0
    assert rows(world.service, "SELECT purchase_count, last_purchase_at, period_points FROM members WHERE id = ?", (member,)) == [
        (1, world.clock.now, 123)]


def test_sub_club_purchases_match_rules_scoped_to_the_sub_club(world: World) -> None:
    """C2/R1: the sub-club's merchant credit applies in the sub-club and in its own sub-clubs
    (the rule is matched through the club path), and nowhere else."""
    admin = world.admin
    nested = admin.create_club(world.owner_id, "زیرباشگاه رشت", parent_id=world.sub_club_id, business_type="retail")
    world.merchants["rasht"] = admin.create_merchant(nested, "فروشگاه رشت", business_type="retail")
    member = world.enroll()
    in_sub = world.buy(member, 800_000, merchant="bookshop")
    in_nested = world.buy(member, 300_000, merchant="rasht")
    in_root = world.buy(member, 800_000, merchant="cafe")
    assert "north-credit" in in_sub["applied_rules"] and "north-credit" in in_nested["applied_rules"]
    assert "north-credit" not in in_root["applied_rules"]
    assert member_balances(world.service, member)[f"merchant_credit@merchant:{world.merchants['bookshop']}"] == 80_000
    assert member_balances(world.service, member)[f"merchant_credit@merchant:{world.merchants['rasht']}"] == 30_000
    # Sub-clubs keep one ledger and one rule set: their root club's.
    assert {c for (c,) in rows(world.service, "SELECT DISTINCT club_id FROM operations")} == {world.club_id}
    assert {c for (c,) in rows(world.service, "SELECT DISTINCT club_id FROM split_legs")} == {world.club_id}


def test_merchant_group_and_member_group_rules(world: World) -> None:
    """C4/C5/R1/R3: a rule scoped to a merchant group applies at its merchants only; a rule for a
    member group applies to its members only; a merchant_group condition works like the scope."""
    world.publish([{
        "id": "food-court-members",
        "name": {"en": "VIP at the food court: 2,000 rials off", "fa": "اعضای ویژه در فودکورت"},
        "conditions": [{"type": "merchant_group", "ids": [world.merchant_group_id]}, {"type": "member_group", "ids": [world.member_group_id]}],
        "effects": [{"type": "discount", "fixed_rial": 2_000}],
        "funding": {"club_owner": 10_000},
    }])
    vip = world.enroll(groups=[world.member_group_id])
    plain = world.enroll()
    expectations = [
        (vip, "cafe", {"points-base", "food-court-5", "vip-bonus", "food-court-members"}, 25_000 + 2_000, 50 + 50),
        (vip, "restaurant", {"points-base", "food-court-5", "vip-bonus", "food-court-members"}, 25_000 + 2_000, 50 + 50),
        (vip, "bookshop", {"points-base", "north-credit", "vip-bonus"}, 0, 50 + 50),
        (plain, "cafe", {"points-base", "food-court-5"}, 25_000, 50),
        (plain, "bookshop", {"points-base", "north-credit"}, 0, 50),
    ]
    for member, merchant, applied, discount, points in expectations:
        receipt = world.buy(member, 500_000, merchant=merchant)
        assert set(receipt["applied_rules"]) == applied, (member, merchant)
        assert receipt["discount_rial"] == discount, (member, merchant)
        assert receipt["points_earned"] == points, (member, merchant)
    assert rows(world.service, "SELECT member_id FROM member_group_members WHERE group_id = ?", (world.member_group_id,)) == [(vip,)]


def test_fee_tariff_differs_per_business_type(world: World) -> None:
    """C6/S1–S5: the platform fee follows the merchant's business type (restaurant 0.5%, others
    0.3%, each capped), then the club owner, marketer, merchant-marketer and merchant share."""
    enrolled_at_restaurant = world.service.enroll(world.club_id, idem_key="pos-enrol", identifiers=[("mobile", mobile(5))],
                                                  via="pos", merchant_id=world.merchants["restaurant"])["member_id"]
    cases = [
        ("restaurant", 2_000_000, FEE_RESTAURANT_BP, 300_000, None),
        ("cafe", 2_000_000, FEE_DEFAULT_BP, 200_000, world.marketer_id),
        ("bookshop", 2_000_000, FEE_DEFAULT_BP, 200_000, world.marketer_id),
        ("restaurant", 90_000_000_000, FEE_RESTAURANT_BP, 300_000, None),  # capped
        ("cafe", 90_000_000_000, FEE_DEFAULT_BP, 200_000, world.marketer_id),  # capped
        ("cafe", 33_333, FEE_DEFAULT_BP, 200_000, world.marketer_id),  # rounding
    ]
    for merchant, amount, fee_bp, cap, marketer in cases:
        receipt = world.buy(enrolled_at_restaurant, amount, merchant=merchant)
        enrolling = world.merchants["restaurant"]
        expected = expected_split(receipt["payable_rial"], fee_bp=fee_bp, fee_cap=cap, club_id=world.club_id,
                                  merchant_id=world.merchants[merchant], marketer_id=marketer, enrolling_merchant_id=enrolling)
        assert receipt["split"] == expected, (merchant, amount)
        assert sum(leg["amount_rial"] for leg in receipt["split"]) == receipt["payable_rial"]
        stored = rows(world.service, "SELECT role, beneficiary_id, amount_rial FROM split_legs WHERE op_id = ? ORDER BY id", (receipt["op_id"],))
        assert stored == [(leg["role"], leg["beneficiary_id"], leg["amount_rial"]) for leg in expected]
    # The merchant-marketer share goes to the merchant that enrolled the member, never to itself.
    at_restaurant = world.buy(enrolled_at_restaurant, 1_000_000, merchant="restaurant")
    assert "merchant_marketer" not in {leg["role"] for leg in at_restaurant["split"]}
    at_cafe = world.buy(enrolled_at_restaurant, 1_000_000, merchant="cafe")
    assert [leg["beneficiary_id"] for leg in at_cafe["split"] if leg["role"] == "merchant_marketer"] == [world.merchants["restaurant"]]


def test_fee_tariffs_change_with_a_new_rules_version(world: World) -> None:
    """C6: a new tariff reaches purchases once the club's rules are published again."""
    member = world.enroll()
    before = world.buy(member, 1_000_000, merchant="restaurant")
    world.admin.set_fee_tariff("restaurant", percent_bp=100, fixed_rial=1_000, cap_rial=None)
    world.publish()
    after = world.buy(member, 1_000_000, merchant="restaurant")
    fee = {r["role"]: r["amount_rial"] for r in before["split"]}["platform_fee"], {r["role"]: r["amount_rial"] for r in after["split"]}["platform_fee"]
    assert fee == (950_000 * 50 // 10_000, 950_000 * 100 // 10_000 + 1_000)


def test_meta_club_shares_members(club: Callable[..., World]) -> None:
    """C3: a member of club A is identified and served at club B's merchant when A and B form a
    meta-club sharing members; the member's value stays in A's ledger; club C outside sees nobody."""
    a = club(n=1)
    b = club(n=2, name_fa="باشگاه همسایه")
    c = club(n=3, name_fa="باشگاه دور")
    service = a.service
    pan = card_number(77)
    member = a.enroll(identifiers=[("card", pan), ("mobile", mobile(77))])
    for other in (b, c):
        with pytest.raises(Rejected) as err:
            other.buy({"kind": "card", "value": pan}, 100_000)
        assert err.value.code == "unknown_member"
    meta = a.admin.create_meta_club("فراباشگاه", [a.club_id, b.club_id], share_members=True)
    assert rows(service, "SELECT club_id FROM meta_club_members WHERE meta_club_id = ? ORDER BY club_id", (meta,)) == [(a.club_id,), (b.club_id,)]
    assert service.identify(b.club_id, {"kind": "card", "value": pan}) == member
    assert service.identify(b.club_id, {"kind": "mobile", "value": persian(mobile(77))}) == member
    receipt = b.buy({"kind": "card", "value": pan}, 1_000_000, merchant="restaurant")
    assert receipt["member_id"] == member
    assert receipt["points_earned"] == 100
    assert rows(service, "SELECT club_id FROM operations WHERE id = ?", (receipt["op_id"],)) == [(b.club_id,)]
    assert rows(service, "SELECT DISTINCT club_id FROM split_legs WHERE op_id = ?", (receipt["op_id"],)) == [(b.club_id,)]
    assert balance(service, f"member:{member}/points", a.club_id) == 100
    a.buy(member, 500_000, merchant="cafe")
    assert points_of(service, member) == 150
    # Sharing is mutual: B's members are known in A too.
    b_member = b.enroll(identifiers=[("mobile", mobile(78))])
    assert service.identify(a.club_id, {"kind": "mobile", "value": mobile(78)}) == b_member
    with pytest.raises(Rejected) as err:
        c.buy({"kind": "card", "value": pan}, 100_000)
    assert err.value.code == "unknown_member"
    # A meta-club that shares merchants only does not share members.
    c.admin.create_meta_club("فقط پذیرندگان", [a.club_id, c.club_id], share_members=False, share_merchants=True)
    with pytest.raises(Rejected) as err:
        service.identify(c.club_id, {"kind": "card", "value": pan})
    assert err.value.code == "unknown_member"


def test_spending_credit_draws_the_soonest_expiring_lots_first(world: World) -> None:
    """R12/R13: credit pays part of a purchase, soonest-expiring lot first; a rule discounts the
    part paid with credit; the member earns on the whole amount."""
    world.publish([{
        "id": "pay-with-credit",
        "name": {"en": "5% off the part paid with credit", "fa": "۵٪ تخفیف روی بخش پرداختی با اعتبار"},
        "effects": [{"type": "credit_spend_discount", "percent_bp": 500, "cap_rial": 200_000}],
        "funding": {"club_owner": 10_000},
    }])
    service, club_id = world.service, world.club_id
    member = world.enroll()
    late = service.charge(club_id, member, actor="test", reason="test-setup", idem_key="gift-late", kind="gift_credit", amount_rial=200_000, source={"type": "club", "id": club_id}, expires_days=60)
    soon = service.charge(club_id, member, actor="test", reason="test-setup", idem_key="gift-soon", kind="welfare_credit", amount_rial=100_000, source={"type": "org", "id": 9}, expires_days=10)
    receipt = world.buy(member, 1_000_000, merchant="restaurant", redeem_credit_rial=150_000)
    assert receipt["credit_used_rial"] == 150_000
    assert receipt["discount_rial"] == 50_000 + 7_500
    assert receipt["payable_rial"] == 1_000_000 - 150_000 - 57_500
    assert receipt["points_earned"] == 100
    assert receipt["balance_credit_rial"] == 150_000
    lots = dict(rows(service, "SELECT id, remaining FROM lots WHERE account LIKE ?", (f"member:{member}/%credit",)))
    assert lots == {f"{soon['op_id']}:0": 0, f"{late['op_id']}:0": 150_000}
    assert balance(service, f"merchant:{world.merchants['restaurant']}/credit_accepted") == 150_000
    assert sum(leg["amount_rial"] for leg in receipt["split"]) == receipt["payable_rial"]


def test_quote_writes_nothing(world: World) -> None:
    """A quote is a dry run: the same numbers as the purchase, and not one row written."""
    service = world.service
    member = world.enroll(groups=[world.member_group_id])
    service.charge(world.club_id, member, actor="test", reason="test-setup", idem_key="gift", kind="gift_credit", amount_rial=80_000, source={"type": "club", "id": world.club_id})
    request = world.request(member, 2_500_000, merchant="cafe", redeem_credit_rial=60_000, idem_key="real")
    counts, before = row_counts(service), dump(service, all_tables())
    quotes = [service.quote(request) for _ in range(3)]
    assert row_counts(service) == counts
    assert dump(service, all_tables()) == before
    assert quotes[0] == quotes[1] == quotes[2]
    quote = quotes[0]
    assert quote["status"] == "quote" and quote["op_id"] == 0
    assert {e["code"] for e in quote["explanation"]} >= {"applied", "not_in_scope"}
    receipt = service.purchase(request)
    for key in ("amount_rial", "discount_rial", "credit_used_rial", "payable_rial", "points_earned", "applied_rules",
                "lottery_entries", "split", "balance_points", "balance_credit_rial", "explanation_fa"):
        assert quote[key] == receipt[key], key


def test_rules_see_the_time_of_the_purchase(world: World) -> None:
    """R4: an hour-of-day rule applies only inside its hours, on the club's local time."""
    world.publish([{
        "id": "happy-hour",
        "name": {"en": "Happy hour: 10% off", "fa": "ساعت خوش: ۱۰٪ تخفیف"},
        "stacking_group": "campaigns",
        "scope": {"merchants": [world.merchants["bookshop"]]},
        "conditions": [{"type": "hour_range", "from": "16:00", "to": "19:00"}],
        "effects": [{"type": "discount", "percent_bp": 1_000}],
        "funding": {"merchant": 10_000},
    }])
    member = world.enroll()
    assert "happy-hour" not in world.buy(member, 100_000, merchant="bookshop")["applied_rules"]  # 10:00 Tehran
    world.clock.advance(hours=7)  # 17:00 Tehran
    assert world.buy(member, 100_000, merchant="bookshop")["discount_rial"] == 10_000
    world.clock.advance(hours=2, minutes=1)  # 19:01
    assert world.buy(member, 100_000, merchant="bookshop")["discount_rial"] == 0


# --- exactly once -------------------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_answer(world: World) -> None:
    service = world.service
    member = world.enroll(identifiers=[("mobile", mobile(3)), ("card", card_number(3))])
    first = world.buy({"kind": "mobile", "value": mobile(3)}, 700_000, idem_key="same")
    counts, before = row_counts(service), dump(service, all_tables())
    for form in (mobile(3), persian(mobile(3)), "+989120000003"):
        again = world.buy({"kind": "mobile", "value": form}, 700_000, idem_key="same")
        assert again == {**first, "replayed": True}
    assert "replayed" not in first
    assert row_counts(service) == counts
    assert dump(service, all_tables()) == before
    assert points_of(service, member) == 70


def test_same_key_with_another_amount_or_body_is_refused(world: World) -> None:
    service = world.service
    member = world.enroll()
    other = world.enroll()
    first = world.buy(member, 700_000, idem_key="same", merchant="cafe")
    before = dump(service)
    with pytest.raises(Rejected) as err:
        world.buy(member, 700_001, idem_key="same", merchant="cafe")
    assert (err.value.code, err.value.path) == ("exists_with_different_amount", "idem_key")
    different_bodies: list[dict[str, Any]] = [
        {"member": other},
        {"merchant": "restaurant"},
        {"payment_method": "cash"},
        {"channel": "pos"},
        {"basket": [{"goods_id": "tea", "group": "drinks", "amount_rial": 700_000, "quantity": 1}]},
    ]
    for change in different_bodies:
        kwargs = {"member": member, "merchant": "cafe", **change}
        with pytest.raises(Rejected) as err:
            world.buy(kwargs.pop("member"), 700_000, idem_key="same", **kwargs)
        assert err.value.code == "exists_with_different_request", change
    assert dump(service) == before
    assert world.buy(member, 700_000, idem_key="same", merchant="cafe") == {**first, "replayed": True}


def test_idempotency_keys_are_per_club(club: Callable[..., World]) -> None:
    a, b = club(n=1), club(n=2)
    member_a = a.enroll(identifiers=[("mobile", mobile(1))])
    member_b = b.enroll(identifiers=[("mobile", mobile(1))])  # the same person, enrolled in both clubs
    assert member_a != member_b
    in_a = a.buy(member_a, 400_000, idem_key="terminal-1:000123")
    in_b = b.buy(member_b, 400_000, idem_key="terminal-1:000123")
    assert "replayed" not in in_b and in_a["op_id"] != in_b["op_id"]
    assert rows(a.service, "SELECT club_id FROM operations WHERE idem_key = ? ORDER BY club_id", ("terminal-1:000123",)) == [
        (a.club_id,), (b.club_id,)]
    assert points_of(a.service, member_a) == points_of(a.service, member_b) == 40
    # Per club also means per root club: a sub-club's merchant shares its root's keys.
    with pytest.raises(Rejected) as err:
        a.buy(member_a, 400_000, idem_key="terminal-1:000123", merchant="bookshop")
    assert err.value.code == "exists_with_different_request"


def test_meta_club_shares_value_only_when_it_says_so(club: Callable[..., World]) -> None:
    """C3: a visiting member earns at a partner club's merchant; they spend their own club's credit
    there only when the meta-club shares value."""
    a = club(n=1)
    b = club(n=2, name_fa="باشگاه همسایه")
    c = club(n=3, name_fa="باشگاه شریک")
    service = a.service
    member = a.enroll(identifiers=[("mobile", mobile(88))])
    service.charge(a.club_id, member, actor="test", reason="test-setup", idem_key="gift", kind="gift_credit", amount_rial=200_000, source={"type": "club", "id": a.club_id})
    a.admin.create_meta_club("اعضای مشترک", [a.club_id, b.club_id], share_members=True, share_value=False)
    a.admin.create_meta_club("ارزش مشترک", [a.club_id, c.club_id], share_members=True, share_value=True)
    visitor = {"kind": "mobile", "value": mobile(88)}
    before = dump(service)
    with pytest.raises(Rejected) as err:
        b.buy(visitor, 500_000, merchant="bookshop", redeem_credit_rial=50_000)
    assert err.value.code == "credit_not_valid_at_merchant"
    assert dump(service) == before
    assert b.buy(visitor, 500_000, merchant="bookshop")["points_earned"] == 50  # earning is fine
    spent = c.buy(visitor, 500_000, merchant="bookshop", redeem_credit_rial=50_000)
    assert spent["credit_used_rial"] == 50_000 and spent["member_id"] == member
    assert balance(service, f"member:{member}/gift_credit", a.club_id) == 150_000
    assert balance(service, f"merchant:{c.merchants['bookshop']}/credit_accepted", c.club_id) == 50_000


def test_points_multiplied_per_member_group(world: World) -> None:
    """R7/V11: earning differs per member group (a multiplier keyed by the group's id), also after
    the rule set was stored as JSON and read back."""
    world.publish([{
        "id": "vip-triple",
        "name": {"en": "VIP: triple points on top", "fa": "اعضای ویژه: سه برابر امتیاز"},
        "effects": [{"type": "points", "per_rial": 100_000, "points": 1, "group_multipliers_bp": {world.member_group_id: 30_000}}],
        "funding": {"club_owner": 10_000},
    }])
    world.service.caches.clear()  # compile from the stored rule set, not from the publisher's copy
    vip = world.enroll(groups=[world.member_group_id])
    plain = world.enroll()
    assert world.buy(vip, 1_000_000, merchant="restaurant")["points_earned"] == 100 + 50 + 30
    assert world.buy(plain, 1_000_000, merchant="restaurant")["points_earned"] == 100 + 10
