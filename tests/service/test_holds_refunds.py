"""Holds (a redemption fixed before the bank sale), completion and cancellation; refunds in parts,
reversals, refunds by the bank reference (RRN), clawback of spent value, and what cannot be refunded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import Rejected

from .builders import World, all_tables, balance, dump, member_balances, points_of, row_counts, rows, scalar


def gifted_member(world: World, amount_rial: int = 100_000, *, expires_days: int | None = 30) -> int:
    member = world.enroll()
    world.service.charge(world.club_id, member, actor="test", reason="test-setup", idem_key=world.key("gift"), kind="gift_credit", amount_rial=amount_rial,
                         source={"type": "club", "id": world.club_id}, expires_days=expires_days)
    return member


def test_hold_then_complete(world: World) -> None:
    service = world.service
    member = gifted_member(world)
    held = service.hold(world.request(member, 600_000, merchant="restaurant", redeem_credit_rial=40_000, idem_key="hold-1"))
    assert held["status"] == "held" and held["hold_id"] == held["op_id"]
    assert (held["credit_used_rial"], held["discount_rial"], held["payable_rial"]) == (40_000, 30_000, 530_000)
    assert held["points_earned"] == 0
    assert held["balance_credit_rial"] == 60_000
    # The credit is reserved, nothing else happened yet: no points, no split, no purchase counted.
    assert member_balances(service, member) == {"gift_credit": 60_000, f"held@hold:{held['hold_id']}": 40_000}
    assert scalar(service, "SELECT COUNT(*) FROM split_legs") == 0
    assert scalar(service, "SELECT purchase_count FROM members WHERE id = ?", (member,)) == 0
    assert scalar(service, "SELECT status FROM operations WHERE id = ?", (held["hold_id"],)) == "held"

    done = service.complete_hold(world.merchants["restaurant"], held["hold_id"], idem_key="complete-1", reference="400000000001")
    assert done["status"] == "done" and done["hold_id"] == held["hold_id"]
    assert (done["credit_used_rial"], done["discount_rial"], done["payable_rial"], done["points_earned"]) == (40_000, 30_000, 530_000, 60)
    assert sum(leg["amount_rial"] for leg in done["split"]) == 530_000
    assert member_balances(service, member) == {"gift_credit": 60_000, "points": 60}
    assert balance(service, f"merchant:{world.merchants['restaurant']}/credit_accepted") == 40_000
    assert scalar(service, "SELECT status FROM operations WHERE id = ?", (held["hold_id"],)) == "completed"
    assert scalar(service, "SELECT purchase_count FROM members WHERE id = ?", (member,)) == 1
    assert scalar(service, "SELECT SUM(amount_rial) FROM split_legs WHERE op_id = ?", (done["op_id"],)) == 530_000

    # The same completion again is answered from the record; another completion is refused.
    counts = row_counts(service)
    assert service.complete_hold(world.merchants["restaurant"], held["hold_id"], idem_key="complete-1", reference="400000000001") == {**done, "replayed": True}
    assert row_counts(service) == counts
    with pytest.raises(Rejected) as err:
        service.complete_hold(world.merchants["restaurant"], held["hold_id"], idem_key="complete-2", reference="400000000001")
    assert err.value.code == "hold_not_pending"
    with pytest.raises(Rejected) as err:
        service.cancel_hold(world.merchants["restaurant"], held["hold_id"], idem_key="cancel-late")
    assert err.value.code == "hold_not_pending"
    with pytest.raises(Rejected) as err:
        service.complete_hold(world.merchants["restaurant"], held["hold_id"], idem_key="complete-1", reference="999999999999")
    assert err.value.code == "exists_with_different_request"
    assert row_counts(service) == counts
    # A hold is replayed like a purchase.
    again = service.hold(world.request(member, 600_000, merchant="restaurant", redeem_credit_rial=40_000, idem_key="hold-1"))
    assert again == {**held, "replayed": True}


def test_hold_then_cancel(world: World) -> None:
    service = world.service
    member = gifted_member(world, 150_000)
    held = service.hold(world.request(member, 500_000, merchant="cafe", redeem_credit_rial=150_000))
    assert member_balances(service, member) == {f"held@hold:{held['hold_id']}": 150_000}
    with pytest.raises(Rejected) as err:  # the held credit cannot be spent twice
        world.buy(member, 100_000, merchant="cafe", redeem_credit_rial=1)
    assert err.value.code == "insufficient_balance"
    cancelled = service.cancel_hold(world.merchants["cafe"], held["hold_id"], idem_key="cancel-1")
    assert cancelled == {"op_id": cancelled["op_id"], "status": "cancelled", "hold_id": held["hold_id"], "credit_returned_rial": 150_000}
    assert member_balances(service, member) == {"gift_credit": 150_000}
    assert scalar(service, "SELECT status FROM operations WHERE id = ?", (held["hold_id"],)) == "cancelled"
    # The credit came back with its original expiry.
    expiries = {e for (e,) in rows(service, "SELECT expires_at FROM lots WHERE account = ? AND remaining > 0", (f"member:{member}/gift_credit",))}
    assert expiries == {world.clock.now + 30 * 86_400}
    assert service.cancel_hold(world.merchants["cafe"], held["hold_id"], idem_key="cancel-1") == {**cancelled, "replayed": True}
    attempts: list[Callable[[], Any]] = [lambda: service.cancel_hold(world.merchants["cafe"], held["hold_id"], idem_key="cancel-2"),
                                         lambda: service.complete_hold(world.merchants["cafe"], held["hold_id"], idem_key="complete-after-cancel")]
    for attempt in attempts:
        with pytest.raises(Rejected) as err:
            attempt()
        assert err.value.code == "hold_not_pending"
    assert scalar(service, "SELECT COUNT(*) FROM split_legs") == 0
    assert points_of(service, member) == 0
    # The returned credit is spendable again.
    assert world.buy(member, 500_000, merchant="cafe", redeem_credit_rial=150_000)["credit_used_rial"] == 150_000


def test_unknown_hold(world: World) -> None:
    member = world.enroll()
    bought = world.buy(member, 100_000)
    unknown: list[Callable[[], Any]] = [lambda: world.service.complete_hold(world.merchants["cafe"], 999_999, idem_key="x"),
                                        lambda: world.service.cancel_hold(world.merchants["cafe"], 999_999, idem_key="y")]
    for attempt in unknown:
        with pytest.raises(Rejected) as err:
            attempt()
        assert err.value.code == "unknown_operation"
    with pytest.raises(Rejected) as err:  # a purchase is not a hold
        world.service.complete_hold(world.merchants["cafe"], bought["op_id"], idem_key="z")
    assert err.value.code == "hold_not_pending"


def test_refund_in_parts_then_the_rest(world: World) -> None:
    """Two partial refunds and a reversal of the rest give back exactly what the purchase gave."""
    service = world.service
    member = gifted_member(world, 300_000)
    bought = world.buy(member, 1_000_000, merchant="bookshop", redeem_credit_rial=100_000, reference="500000000001")
    assert (bought["points_earned"], bought["credit_used_rial"], bought["payable_rial"]) == (100, 100_000, 900_000)
    merchant_credit = f"merchant_credit@merchant:{world.merchants['bookshop']}"
    entries = f"lottery_entries@lottery:{world.lottery_id}"
    assert member_balances(service, member) == {"points": 100, "gift_credit": 200_000, merchant_credit: 100_000, entries: 1}

    first = service.refund(world.merchants["bookshop"], idem_key="refund-1", op_id=bought["op_id"], amount_rial=250_000)
    assert first["kind"] == "refund" and first["original_op_id"] == bought["op_id"]
    assert (first["amount_rial"], first["points_earned"], first["credit_used_rial"]) == (-250_000, -25, -25_000)
    assert -225_000 <= first["payable_rial"] < -225_000 + len(bought["split"])  # each leg's share, rounded down
    assert sum(leg["amount_rial"] for leg in first["split"]) == first["payable_rial"]
    assert member_balances(service, member) == {"points": 75, "gift_credit": 225_000, merchant_credit: 75_000, entries: 1}
    second = service.refund(world.merchants["bookshop"], idem_key="refund-2", op_id=bought["op_id"], amount_rial=333_333)
    assert second["amount_rial"] == -333_333
    assert scalar(service, "SELECT refunded_rial FROM operations WHERE id = ?", (bought["op_id"],)) == 583_333
    with pytest.raises(Rejected) as err:
        service.refund(world.merchants["bookshop"], idem_key="refund-too-much", op_id=bought["op_id"], amount_rial=416_668)
    assert err.value.code == "refund_exceeds_purchase"
    rest = service.refund(world.merchants["bookshop"], idem_key="refund-rest", op_id=bought["op_id"])
    assert rest["kind"] == "reversal" and rest["amount_rial"] == -416_667
    # Everything the purchase gave is back where it came from, to the rial and the point.
    assert sum(r["amount_rial"] for r in (first, second, rest)) == -1_000_000
    assert sum(r["payable_rial"] for r in (first, second, rest)) == -900_000
    assert sum(r["points_earned"] for r in (first, second, rest)) == -100
    assert sum(r["credit_used_rial"] for r in (first, second, rest)) == -100_000
    assert member_balances(service, member) == {"gift_credit": 300_000}  # the lottery was not drawn: its entry went back too
    assert scalar(service, "SELECT SUM(amount_rial) FROM split_legs") == 0
    assert rows(service, "SELECT purchase_count FROM members WHERE id = ?", (member,)) == [(0,)]
    assert scalar(service, "SELECT refunded_rial FROM operations WHERE id = ?", (bought["op_id"],)) == 1_000_000
    for key, amount in (("refund-4", 1), ("refund-5", None)):
        with pytest.raises(Rejected) as err:
            service.refund(world.merchants["bookshop"], idem_key=key, op_id=bought["op_id"], amount_rial=amount)
        assert err.value.code == "already_reversed"
    # Retrying a refund with its key gives its first answer.
    assert service.refund(world.merchants["bookshop"], idem_key="refund-1", op_id=bought["op_id"], amount_rial=250_000) == {**first, "replayed": True}
    with pytest.raises(Rejected) as err:
        service.refund(world.merchants["bookshop"], idem_key="refund-1", op_id=bought["op_id"], amount_rial=1)
    assert err.value.code == "exists_with_different_amount"


def test_refund_by_bank_reference(world: World) -> None:
    """A refund names the purchase by its RRN within the club: a purchase or a completed hold."""
    service = world.service
    member = gifted_member(world)
    world.buy(member, 400_000, merchant="cafe", reference="600000000001")
    held = service.hold(world.request(member, 300_000, merchant="restaurant", redeem_credit_rial=20_000))
    completed = service.complete_hold(world.merchants["restaurant"], held["hold_id"], idem_key="complete", reference="600000000002")
    cafe, restaurant = world.merchants["cafe"], world.merchants["restaurant"]
    by_rrn = service.refund(cafe, idem_key="rrn-1", reference="600000000001", amount_rial=100_000)
    assert by_rrn["amount_rial"] == -100_000 and by_rrn["member_id"] == member
    of_completion = service.refund(restaurant, idem_key="rrn-2", reference="600000000002")
    assert of_completion["original_op_id"] == completed["op_id"]
    assert of_completion["credit_used_rial"] == -20_000
    # A merchant of the sub-club names its own sales by their references.
    sub_purchase = world.buy(member, 200_000, merchant="bookshop", reference="600000000003")
    assert service.refund(world.merchants["bookshop"], idem_key="rrn-3", reference="600000000003")["original_op_id"] == sub_purchase["op_id"]
    with pytest.raises(Rejected) as err:
        service.refund(cafe, idem_key="rrn-4", reference="600000000009")
    assert err.value.code == "unknown_operation"
    with pytest.raises(Rejected) as err:
        service.refund(cafe, idem_key="rrn-5")  # neither the sale's id nor its reference
    assert err.value.code == "invalid_request"


def test_what_cannot_be_refunded(world: World) -> None:
    service = world.service
    member = gifted_member(world)
    charge_op = scalar(service, "SELECT id FROM operations WHERE kind = 'charge'")
    enrol_op = scalar(service, "SELECT id FROM operations WHERE kind = 'enroll'")
    held = service.hold(world.request(member, 100_000, redeem_credit_rial=10_000))
    cancelled = service.cancel_hold(world.merchants["cafe"], service.hold(world.request(member, 100_000, redeem_credit_rial=10_000))["hold_id"], idem_key="c")
    bought = world.buy(member, 100_000)
    refund = service.refund(world.merchants["cafe"], idem_key="r", op_id=bought["op_id"], amount_rial=10_000)
    before = dump(service, all_tables())
    for op_id in (held["hold_id"], cancelled["op_id"], refund["op_id"]):
        with pytest.raises(Rejected) as err:
            service.refund(world.merchants["cafe"], idem_key=f"no-{op_id}", op_id=op_id)
        assert err.value.code == "not_refundable", op_id
    # A charge and an enrolment are no merchant's operations: not found for a merchant.
    for op_id in (charge_op, enrol_op):
        with pytest.raises(Rejected) as err:
            service.refund(world.merchants["cafe"], idem_key=f"no-{op_id}", op_id=op_id)
        assert err.value.code == "unknown_operation", op_id
    with pytest.raises(Rejected) as err:
        service.refund(world.merchants["cafe"], idem_key="nothing", op_id=987_654)
    assert err.value.code == "unknown_operation"
    assert dump(service, all_tables()) == before


def test_full_reversal_restores_spent_credit_and_voucher(world: World) -> None:
    service = world.service
    member = gifted_member(world, 100_000, expires_days=20)
    service.adjust(world.club_id, member, idem_key="points", account_kind="points", delta=50, actor="op", reason="welcome")
    voucher = service.buy_voucher(world.club_id, member, world.voucher_template_id, idem_key="voucher")["vouchers"][0]
    bought = world.buy(member, 900_000, merchant="cafe", redeem_credit_rial=100_000, voucher_code=voucher)
    assert bought["discount_rial"] == 45_000 + 100_000
    assert scalar(service, "SELECT used_op_id FROM vouchers WHERE code = ?", (voucher,)) == bought["op_id"]
    reversed_ = service.refund(world.merchants["cafe"], idem_key="reverse", op_id=bought["op_id"])
    assert reversed_["credit_used_rial"] == -100_000
    assert member_balances(service, member) == {"gift_credit": 100_000}  # the voucher's 50 points were spent on it
    assert scalar(service, "SELECT used_op_id FROM vouchers WHERE code = ?", (voucher,)) is None
    expiries = {e for (e,) in rows(service, "SELECT expires_at FROM lots WHERE account = ? AND remaining > 0", (f"member:{member}/gift_credit",))}
    assert expiries == {world.clock.now + 20 * 86_400}
    # The voucher can be used again.
    again = world.buy(member, 900_000, merchant="cafe", voucher_code=voucher)
    assert again["discount_rial"] == 45_000 + 100_000


def test_reversal_of_spent_points_leaves_a_debt_repaid_by_later_earnings(world: World) -> None:
    """Clawback: points already converted cannot come back, so the member owes them; the next
    earnings repay the debt before anything reaches the balance. ``check`` accepts the debt."""
    service = world.service
    member = world.enroll()
    bought = world.buy(member, 2_000_000, merchant="restaurant")
    assert points_of(service, member) == 200
    service.convert_points(world.club_id, member, 150, idem_key="convert")
    service.refund(world.merchants["restaurant"], idem_key="reverse", op_id=bought["op_id"])
    assert balance(service, f"member:{member}/points") == 0
    assert balance(service, f"member:{member}/points_debt") == -150
    world.buy(member, 1_000_000, merchant="restaurant")  # earns 100: all of it repays the debt
    assert balance(service, f"member:{member}/points_debt") == -50
    assert points_of(service, member) == 0
    world.buy(member, 1_000_000, merchant="restaurant")
    assert balance(service, f"member:{member}/points_debt") == 0
    assert points_of(service, member) == 50
    assert service.check().ok
