"""Value outside the till (SPEC V1–V5): points to credit at per-tier and per-group ratios, welfare
and gift credit that expires (moved by the fake clock), a credit line, vouchers bought with points
or credit and used at a purchase, and audited manual adjustments."""

from __future__ import annotations

import pytest

from kimia.errors import Rejected

from .builders import DAY_S, World, audit, balance, dump, member_balances, points_of, rows, scalar


def test_points_convert_at_the_ratio_of_the_tier_and_group(world: World) -> None:
    """V1: default 10 points → 1,000 rials; silver 1,500; gold 2,000; the VIP group's 3,000 wins over any tier."""
    service, club = world.service, world.club_id
    plain = world.enroll()
    silver = world.enroll()
    gold = world.enroll()
    vip = world.enroll(groups=[world.member_group_id])
    world.buy(plain, 300_000, merchant="restaurant")  # 30 period points: stays bronze
    world.buy(silver, 1_000_000, merchant="restaurant")  # 100: silver
    world.buy(gold, 5_000_000, merchant="restaurant")  # 500: gold
    world.buy(vip, 1_000_000, merchant="restaurant")  # 100 + 50 VIP bonus: silver
    assert service.close_period(club, world.clock.now, actor="test") == {"stay": 1, "up": 3}
    tiers = dict(rows(service, "SELECT id, tier FROM members"))
    assert [tiers[m] for m in (plain, silver, gold, vip)] == ["bronze", "silver", "gold", "silver"]
    held = {m: points_of(service, m) for m in (plain, silver, gold, vip)}
    assert held == {plain: 30, silver: 90, gold: 400, vip: 135}  # after the period-end deductions (V9)
    expected = {plain: 2_000, silver: 3_000, gold: 4_000, vip: 6_000}
    for member, rial in expected.items():
        receipt = service.convert_points(club, member, 20, idem_key=f"convert-{member}")
        assert receipt["kind"] == "conversion"
        assert receipt["balance_points"] == held[member] - 20
        assert receipt["balance_credit_rial"] == rial
        assert member_balances(service, member)["virtual_credit"] == rial
        assert balance(service, f"club:{club}/points_retired") > 0
    # The converted credit is spendable (it is virtual credit, valid anywhere in the club).
    assert world.buy(vip, 100_000, merchant="bookshop", redeem_credit_rial=6_000)["credit_used_rial"] == 6_000
    with pytest.raises(Rejected) as err:
        service.convert_points(club, plain, 11, idem_key="too-many")
    assert err.value.code == "insufficient_balance"
    with pytest.raises(Rejected) as err:
        service.convert_points(club, plain, 0, idem_key="zero")
    assert err.value.code == "amount_must_be_positive"
    # A club that turns conversion off refuses it.
    world.admin.update_settings(club, {"conversion": {}}, actor="test", reason="conversion paused")
    with pytest.raises(Rejected) as err:
        service.convert_points(club, plain, 5, idem_key="paused")
    assert err.value.code == "conversion_not_allowed"


def test_gift_credit_expires_and_the_sweep_retires_it(world: World) -> None:
    """V4: a gift card's credit is spendable until it expires; after that it cannot be spent and
    the expiry sweep retires it (re-runnable)."""
    service, club, clock = world.service, world.club_id, world.clock
    member = world.enroll()
    charged = service.charge(club, member, actor="test", reason="test-setup", idem_key="gift-card", kind="gift_credit", amount_rial=100_000,
                             source={"type": "club", "id": club}, expires_days=30)
    assert charged["balance_credit_rial"] == 100_000
    assert rows(service, "SELECT expires_at, remaining FROM lots WHERE account = ?", (f"member:{member}/gift_credit",)) == [
        (clock.now + 30 * DAY_S, 100_000)]
    world.buy(member, 300_000, merchant="restaurant", redeem_credit_rial=30_000)
    clock.advance(days=29)
    assert service.expire_sweep(club, actor="test") == 0
    world.buy(member, 300_000, merchant="restaurant", redeem_credit_rial=10_000)
    clock.advance(days=2)
    with pytest.raises(Rejected) as err:
        world.buy(member, 300_000, merchant="restaurant", redeem_credit_rial=10_000)
    assert err.value.code == "lot_expired"
    assert balance(service, f"member:{member}/gift_credit") == 60_000  # expired, not yet swept
    assert service.expire_sweep(club, actor="test") == 1
    assert balance(service, f"member:{member}/gift_credit") == 0
    assert scalar(service, "SELECT SUM(remaining) FROM lots WHERE account = ?", (f"member:{member}/gift_credit",)) == 0
    assert balance(service, f"club:{club}/credit_retired") == 60_000
    assert rows(service, "SELECT COUNT(*) FROM operations WHERE kind = 'expiry' AND member_id = ?", (member,)) == [(1,)]
    # Sweeping again retires nothing more.
    before = dump(service)
    assert service.expire_sweep(club, actor="test") == 0
    assert dump(service) == before
    # The points earned meanwhile (365 days) are untouched.
    assert member_balances(service, member) == {"points": 60}


def test_points_expire_after_their_lifetime(world: World) -> None:
    service, clock = world.service, world.clock
    member = world.enroll()
    world.buy(member, 1_000_000, merchant="restaurant")  # 100 points, for 365 days
    clock.advance(days=200)
    world.buy(member, 500_000, merchant="restaurant")  # 50 more, expiring later
    clock.advance(days=166)
    assert service.expire_sweep(world.club_id, actor="test") == 1
    assert points_of(service, member) == 50
    assert balance(service, f"club:{world.club_id}/points_retired") == 100


def test_welfare_credit_charged_by_an_organisation(world: World) -> None:
    """V3: an organisation charges its staff in bulk; a re-run of the batch charges nobody twice;
    the credit is spent inside the club and expires."""
    service, club = world.service, world.club_id
    staff = [world.enroll() for _ in range(3)]
    charges = [(staff[0], 500_000), (staff[1], 300_000), (staff[2], 200_000)]
    first = service.charge_many(club, 42, charges, actor="test", reason="test-setup", batch_key="welfare-1404-01", expires_days=15)
    assert [r["balance_credit_rial"] for r in first] == [500_000, 300_000, 200_000]
    before = dump(service)
    again = service.charge_many(club, 42, charges, actor="test", reason="test-setup", batch_key="welfare-1404-01", expires_days=15)
    assert again == [{**r, "replayed": True} for r in first]
    assert dump(service) == before
    assert balance(service, "org:42/expense") == -1_000_000
    assert world.buy(staff[0], 800_000, merchant="restaurant", redeem_credit_rial=500_000)["credit_used_rial"] == 500_000
    world.clock.advance(days=16)
    assert service.expire_sweep(club, actor="test") == 2
    assert all(balance(service, f"member:{m}/welfare_credit") == 0 for m in staff)
    assert balance(service, f"club:{club}/credit_retired") == 500_000


def test_credit_line(world: World) -> None:
    """V2: open a credit line, transact on it, repay it; the limit holds."""
    service, club = world.service, world.club_id
    member = world.enroll()
    with pytest.raises(Rejected) as err:
        service.set_credit_limit(club, member, 1_000_000, actor="operator", reason="  ")
    assert err.value.code == "reason_required"
    service.set_credit_limit(club, member, 1_000_000, actor="operator", reason="payroll guarantee")
    assert audit(service, "set_credit_limit") == [("operator", "payroll guarantee", {"member_id": member, "limit_rial": 1_000_000})]
    bought = world.buy(member, 600_000, merchant="bookshop", redeem_credit_rial=600_000)
    assert (bought["credit_used_rial"], bought["payable_rial"]) == (600_000, 0)
    assert bought["split"] == []
    assert balance(service, f"member:{member}/credit_line") == -600_000
    with pytest.raises(Rejected) as err:  # 400,000 left on the line (the bookshop's credit is not valid here)
        world.buy(member, 500_000, merchant="restaurant", redeem_credit_rial=475_000)
    assert err.value.code == "insufficient_balance"
    assert world.buy(member, 500_000, merchant="restaurant", redeem_credit_rial=400_000)["credit_used_rial"] == 400_000
    assert balance(service, f"member:{member}/credit_line") == -1_000_000
    # The limit cannot go below what is already owed.
    with pytest.raises(Rejected) as err:
        service.set_credit_limit(club, member, 900_000, actor="operator", reason="lower")
    assert err.value.code == "credit_limit_exceeded"
    assert rows(service, "SELECT credit_limit FROM balances WHERE account = ?", (f"member:{member}/credit_line",)) == [(1_000_000,)]
    # Repaid in cash, in two parts.
    service.charge(club, member, actor="test", reason="test-setup", idem_key="repay-1", kind="credit_line", amount_rial=400_000, source={"type": "cash"})
    service.charge(club, member, actor="test", reason="test-setup", idem_key="repay-2", kind="credit_line", amount_rial=600_000, source={"type": "cash"})
    assert balance(service, f"member:{member}/credit_line") == 0
    assert balance(service, f"member:{member}/cash") == -1_000_000  # the money that came in from outside
    assert world.buy(member, 1_000_000, merchant="restaurant", redeem_credit_rial=950_000)["credit_used_rial"] == 950_000
    assert balance(service, f"member:{member}/credit_line") == -950_000
    service.set_credit_limit(club, member, 950_000, actor="operator", reason="cap at what is used")


def test_vouchers_bought_with_points_and_used_at_a_purchase(world: World) -> None:
    """V5: a voucher costs 50 points; it gives 100,000 rials off once, within its validity."""
    service, club = world.service, world.club_id
    member = world.enroll()
    other = world.enroll()
    world.buy(member, 600_000, merchant="bookshop")  # 60 points
    bought = service.buy_voucher(club, member, world.voucher_template_id, idem_key="voucher-1")
    [code] = bought["vouchers"]
    assert bought["kind"] == "voucher_purchase" and bought["balance_points"] == 10
    assert rows(service, "SELECT member_id, used_op_id, valid_from, valid_to FROM vouchers WHERE code = ?", (code,)) == [
        (member, None, world.clock.now, world.clock.now + 30 * DAY_S)]
    with pytest.raises(Rejected) as err:
        service.buy_voucher(club, member, world.voucher_template_id, idem_key="voucher-2")
    assert err.value.code == "below_threshold"

    world.clock.advance(days=3)
    used = world.buy(member, 400_000, merchant="restaurant", voucher_code=code)
    assert used["discount_rial"] == 20_000 + 100_000
    assert used["payable_rial"] == 280_000
    assert scalar(service, "SELECT used_op_id FROM vouchers WHERE code = ?", (code,)) == used["op_id"]
    with pytest.raises(Rejected) as err:
        world.buy(member, 400_000, merchant="restaurant", voucher_code=code)
    assert err.value.code == "voucher_already_used"
    with pytest.raises(Rejected) as err:  # a voucher belongs to its member
        world.buy(other, 400_000, merchant="restaurant", voucher_code=code)
    assert err.value.code == "voucher_not_found"


def test_vouchers_bought_with_credit_limited_to_merchants_or_given_by_a_rule(world: World) -> None:
    service, club = world.service, world.club_id
    cafe_only = world.admin.create_voucher_template(club, "ووچر کافه", discount_bp=2_000, cap_rial=50_000, valid_days=7,
                                                    merchants=[world.merchants["cafe"]], price_credit_rial=40_000)
    member = world.enroll()
    service.charge(club, member, actor="test", reason="test-setup", idem_key="gift", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": club})
    [code] = service.buy_voucher(club, member, cafe_only, idem_key="cafe-voucher")["vouchers"]
    assert balance(service, f"member:{member}/gift_credit") == 60_000
    with pytest.raises(Rejected) as err:
        world.buy(member, 1_000_000, merchant="restaurant", voucher_code=code)
    assert err.value.code == "voucher_not_valid_at_merchant"
    assert world.buy(member, 1_000_000, merchant="cafe", voucher_code=code)["discount_rial"] == 50_000 + 50_000
    # A rule may hand out vouchers too (V5 as a reward).
    world.publish([{
        "id": "big-basket-voucher",
        "name": {"en": "Spend 3,000,000: a voucher", "fa": "خرید ۳ میلیونی: یک ووچر"},
        "conditions": [{"type": "amount", "min": 3_000_000}],
        "effects": [{"type": "voucher", "template_id": world.voucher_template_id}],
        "funding": {"club_owner": 10_000},
    }])
    small = world.buy(member, 2_999_999, merchant="bookshop")
    big = world.buy(member, 3_000_000, merchant="bookshop")
    assert "big-basket-voucher" not in small["applied_rules"] and "big-basket-voucher" in big["applied_rules"]
    assert rows(service, "SELECT member_id, template_id FROM vouchers WHERE issued_op_id = ?", (big["op_id"],)) == [
        (member, world.voucher_template_id)]


def test_adjustments_need_a_reason_and_are_audited(world: World) -> None:
    service, club = world.service, world.club_id
    member = world.enroll()
    before = dump(service)
    for reason in ("", "   "):
        with pytest.raises(Rejected) as err:
            service.adjust(club, member, idem_key="adj-no-reason", account_kind="points", delta=100, actor="support", reason=reason)
        assert err.value.code == "reason_required"
    with pytest.raises(Rejected) as err:
        service.adjust(club, member, idem_key="adj-zero", account_kind="points", delta=0, actor="support", reason="typo")
    assert err.value.code == "amount_must_be_positive"
    assert dump(service) == before
    assert audit(service, "adjust") == []

    up = service.adjust(club, member, idem_key="adj-1", account_kind="points", delta=100, actor="support:ali", reason="جبران تأخیر در تحویل")
    assert up["kind"] == "adjustment" and up["balance_points"] == 100
    down = service.adjust(club, member, idem_key="adj-2", account_kind="points", delta=-30, actor="support:ali", reason="duplicate credit")
    assert down["balance_points"] == 70
    gift = service.adjust(club, member, idem_key="adj-3", account_kind="gift_credit", delta=25_000, actor="support:sara",
                          reason="goodwill", expires_days=10)
    assert gift["balance_credit_rial"] == 25_000
    with pytest.raises(Rejected) as err:
        service.adjust(club, member, idem_key="adj-4", account_kind="points", delta=-71, actor="support:ali", reason="too much")
    assert err.value.code == "insufficient_balance"
    logged = audit(service, "adjust")
    assert [(actor, reason) for actor, reason, _ in logged] == [
        ("support:ali", "جبران تأخیر در تحویل"), ("support:ali", "duplicate credit"), ("support:sara", "goodwill")]
    assert [payload["op_id"] for _, _, payload in logged] == [up["op_id"], down["op_id"], gift["op_id"]]
    assert [payload["delta"] for _, _, payload in logged] == [100, -30, 25_000]
    assert member_balances(service, member) == {"points": 70, "gift_credit": 25_000}
    # A retried adjustment is not applied twice, and not audited twice.
    assert service.adjust(club, member, idem_key="adj-1", account_kind="points", delta=100, actor="support:ali",
                          reason="جبران تأخیر در تحویل") == {**up, "replayed": True}
    assert len(audit(service, "adjust")) == 3
    assert points_of(service, member) == 70
