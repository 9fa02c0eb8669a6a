"""Bad requests, each refused with its exact code, and the database exactly as it was: every
value table (and the set-up tables an admin request could touch) dumped before and after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from kimia.errors import KimiaError, RuleError
from kimia.identifiers import IdentifierError
from kimia.service import PurchaseRequest

from .builders import (
    VALUE_TABLES,
    World,
    bad_luhn_card,
    bad_national_code,
    card_number,
    dump,
    mobile,
    national_code,
    persian,
    scalar,
)

#: Value tables plus the set-up tables an admin request might write.
TABLES = (*VALUE_TABLES, "rule_sets", "terminals", "merchants", "clubs", "audit_log", "lotteries", "lottery_winners",
          "member_group_members", "voucher_templates", "member_days", "merchant_visits")


@dataclass
class Ctx:
    member: int
    purchase_op: int
    hold_id: int
    voucher: str


def prepare(w: World) -> Ctx:
    """A member with a card, a mobile and a national code, 90,000 rials of gift credit, 50,000 of
    merchant credit at the bookshop, 20 points, an unused voucher, a purchase and a completed hold."""
    s = w.service
    member = w.enroll(identifiers=[("mobile", mobile(1)), ("card", card_number(1)), ("national_code", national_code(1))])
    s.charge(w.club_id, member, actor="test", reason="test-setup", idem_key="gift", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": w.club_id})
    bought = w.buy(member, 500_000, merchant="bookshop", idem_key="bought")  # 50 points, 50,000 merchant credit here
    [voucher] = s.buy_voucher(w.club_id, member, w.voucher_template_id, idem_key="voucher")["vouchers"]
    held = s.hold(w.request(member, 200_000, merchant="restaurant", redeem_credit_rial=10_000, idem_key="hold"))
    s.complete_hold(w.merchants["restaurant"], held["hold_id"], idem_key="complete")
    return Ctx(member=member, purchase_op=bought["op_id"], hold_id=held["hold_id"], voucher=voucher)


Action = Callable[[], Any]
Case = Callable[[World, Ctx], Action]


def expired_voucher(w: World, c: Ctx) -> Action:
    w.clock.advance(days=31)
    return lambda: w.buy(c.member, 300_000, merchant="restaurant", voucher_code=c.voucher)


def used_voucher(w: World, c: Ctx) -> Action:
    w.buy(c.member, 300_000, merchant="restaurant", voucher_code=c.voucher)
    return lambda: w.buy(c.member, 300_000, merchant="cafe", voucher_code=c.voucher)


def lowered_credit_limit(w: World, c: Ctx) -> Action:
    w.service.set_credit_limit(w.club_id, c.member, 1_000_000, actor="operator", reason="open")
    w.buy(c.member, 700_000, merchant="cafe", redeem_credit_rial=600_000)  # 90,000 gift, then 510,000 on the line
    return lambda: w.service.set_credit_limit(w.club_id, c.member, 500_000, actor="operator", reason="lower")


def publish(rules: list[dict[str, Any]], **extra: Any) -> Case:
    return lambda w, c: lambda: w.admin.publish_rules(w.club_id, {"rules": rules, **extra}, actor="manager")


POINTS = {"type": "points", "per_rial": 10_000, "points": 1}

CASES: list[tuple[str, str, Case]] = [
    # --- who the member is ---
    ("unknown member id", "unknown_member", lambda w, c: lambda: w.buy(99_999, 10_000)),
    ("unknown member mobile", "unknown_member", lambda w, c: lambda: w.buy({"kind": "mobile", "value": mobile(999)}, 10_000)),
    ("unknown member card", "unknown_member", lambda w, c: lambda: w.buy({"kind": "card", "value": card_number(999)}, 10_000)),
    ("unknown member on a charge", "unknown_member", lambda w, c: lambda: w.service.charge(
        w.club_id, 99_999, actor="test", reason="test-setup", idem_key="x", kind="gift_credit", amount_rial=1_000, source={"type": "club", "id": w.club_id})),
    ("invalid national code checksum", "invalid_national_code_checksum",
     lambda w, c: lambda: w.buy({"kind": "national_code", "value": bad_national_code(1)}, 10_000)),
    ("invalid national code at enrolment", "invalid_national_code_checksum",
     lambda w, c: lambda: w.enroll(identifiers=[("mobile", mobile(2)), ("national_code", persian(bad_national_code(2)))])),
    ("national code too short", "invalid_national_code_format",
     lambda w, c: lambda: w.enroll(identifiers=[("national_code", "12345")])),
    ("card failing Luhn", "invalid_card_number_checksum", lambda w, c: lambda: w.buy({"kind": "card", "value": bad_luhn_card(1)}, 10_000)),
    ("card failing Luhn at enrolment", "invalid_card_number_checksum",
     lambda w, c: lambda: w.enroll(identifiers=[("mobile", mobile(3)), ("card", bad_luhn_card(3))])),
    ("card failing Luhn at binding", "invalid_card_number_checksum",
     lambda w, c: lambda: w.service.bind_identifier(w.club_id, c.member, "card", bad_luhn_card(4))),
    ("card too short", "invalid_card_number_format", lambda w, c: lambda: w.buy({"kind": "card", "value": "603799123"}, 10_000)),
    ("invalid mobile", "invalid_mobile", lambda w, c: lambda: w.enroll(identifiers=[("mobile", "0812345678")])),
    ("foreign mobile", "invalid_mobile", lambda w, c: lambda: w.enroll(identifiers=[("mobile", "+1 202 555 0100")])),
    ("invalid mobile as a reference", "invalid_mobile", lambda w, c: lambda: w.buy({"kind": "mobile", "value": "۰۹۱۲"}, 10_000)),
    ("club card too short", "invalid_club_card", lambda w, c: lambda: w.enroll(identifiers=[("club_card", "1234")])),
    ("unknown identifier kind", "invalid_request", lambda w, c: lambda: w.enroll(identifiers=[("passport", "X123")])),
    ("identifier taken", "identifier_taken", lambda w, c: lambda: w.enroll(identifiers=[("card", card_number(1))])),
    ("unknown referrer", "unknown_member",
     lambda w, c: lambda: w.enroll(identifiers=[("mobile", mobile(5))], referrer={"kind": "mobile", "value": mobile(6)})),
    ("unknown club", "unknown_club", lambda w, c: lambda: w.enroll(identifiers=[("mobile", mobile(7))], club_id=99_999)),
    # --- amounts ---
    ("negative amount", "amount_must_be_positive", lambda w, c: lambda: w.buy(c.member, -1_000)),
    ("zero amount", "amount_must_be_positive", lambda w, c: lambda: w.buy(c.member, 0)),
    ("huge amount", "amount_too_large", lambda w, c: lambda: w.buy(c.member, 10**15 + 1)),
    ("fractional amount", "invalid_request", lambda w, c: lambda: w.buy(c.member, 1_000.5)),  # type: ignore[arg-type]
    ("amount as text", "invalid_request", lambda w, c: lambda: w.buy(c.member, "1000")),  # type: ignore[arg-type]
    ("amount as a boolean", "invalid_request", lambda w, c: lambda: w.buy(c.member, True)),
    ("negative credit to redeem", "amount_must_be_positive", lambda w, c: lambda: w.buy(c.member, 10_000, redeem_credit_rial=-1)),
    ("basket not adding up", "basket_mismatch", lambda w, c: lambda: w.buy(
        c.member, 10_000, basket=[{"goods_id": "tea", "group": "drinks", "amount_rial": 9_000, "quantity": 1}])),
    ("zero charge", "amount_must_be_positive", lambda w, c: lambda: w.service.charge(
        w.club_id, c.member, actor="test", reason="test-setup", idem_key="x", kind="gift_credit", amount_rial=0, source={"type": "club", "id": w.club_id})),
    # --- value the member does not have ---
    ("more credit than held", "insufficient_balance",
     lambda w, c: lambda: w.buy(c.member, 1_000_000, merchant="restaurant", redeem_credit_rial=140_001)),
    ("more credit than held, on a hold", "insufficient_balance",
     lambda w, c: lambda: w.service.hold(w.request(c.member, 1_000_000, merchant="restaurant", redeem_credit_rial=140_001))),
    ("merchant credit at another merchant", "credit_not_valid_at_merchant",
     lambda w, c: lambda: w.buy(c.member, 1_000_000, merchant="cafe", redeem_credit_rial=120_000)),
    ("more points than held", "insufficient_balance",
     lambda w, c: lambda: w.service.convert_points(w.club_id, c.member, 21, idem_key="x")),
    ("voucher with too few points", "below_threshold",
     lambda w, c: lambda: w.service.buy_voucher(w.club_id, c.member, w.voucher_template_id, idem_key="x")),
    ("unknown voucher offer", "unknown_voucher_template",
     lambda w, c: lambda: w.service.buy_voucher(w.club_id, c.member, 99_999, idem_key="x")),
    ("expired voucher", "voucher_not_active", expired_voucher),
    ("used voucher", "voucher_already_used", used_voucher),
    ("unknown voucher", "voucher_not_found", lambda w, c: lambda: w.buy(c.member, 300_000, voucher_code="VDEADBEEF0000")),
    ("credit limit below what is owed", "credit_limit_exceeded", lowered_credit_limit),
    ("negative adjustment beyond the balance", "insufficient_balance", lambda w, c: lambda: w.service.adjust(
        w.club_id, c.member, idem_key="x", account_kind="points", delta=-21, actor="op", reason="fix")),
    # --- the request itself ---
    ("unknown merchant", "unknown_merchant", lambda w, c: lambda: w.service.purchase(
        PurchaseRequest(idem_key="x", merchant_id=99_999, member=c.member, amount_rial=10_000))),
    ("missing idempotency key", "missing_idempotency_key", lambda w, c: lambda: w.service.purchase(
        PurchaseRequest(idem_key="", merchant_id=w.merchants["cafe"], member=c.member, amount_rial=10_000))),
    ("unknown payment method", "invalid_request", lambda w, c: lambda: w.buy(c.member, 10_000, payment_method="cheque")),
    ("unknown channel", "invalid_request", lambda w, c: lambda: w.buy(c.member, 10_000, channel="fax")),
    ("unknown charge kind", "invalid_request", lambda w, c: lambda: w.service.charge(
        w.club_id, c.member, actor="test", reason="test-setup", idem_key="x", kind="points", amount_rial=1_000, source={"type": "club", "id": w.club_id})),
    ("unknown charge source", "invalid_input", lambda w, c: lambda: w.service.charge(
        w.club_id, c.member, actor="test", reason="test-setup", idem_key="x", kind="gift_credit", amount_rial=1_000, source={"type": "bank"})),
    ("adjustment without a reason", "reason_required", lambda w, c: lambda: w.service.adjust(
        w.club_id, c.member, idem_key="x", account_kind="points", delta=10, actor="op", reason=" ")),
    ("same key, other amount", "exists_with_different_amount",
     lambda w, c: lambda: w.buy(c.member, 500_001, merchant="bookshop", idem_key="bought")),
    ("same key, other request", "exists_with_different_request",
     lambda w, c: lambda: w.buy(c.member, 500_000, merchant="cafe", idem_key="bought")),
    ("refund beyond the purchase", "refund_exceeds_purchase",
     lambda w, c: lambda: w.service.refund(w.merchants["bookshop"], idem_key="x", op_id=c.purchase_op, amount_rial=500_001)),
    ("refund of an unknown operation", "unknown_operation", lambda w, c: lambda: w.service.refund(w.merchants["bookshop"], idem_key="x", op_id=99_999)),
    # A charge is no merchant's operation (refunding it is unknown_operation): a hold is the merchant's, not refundable.
    ("refund of a hold", "not_refundable", lambda w, c: lambda: w.service.refund(
        w.merchants["restaurant"], idem_key="x", op_id=c.hold_id)),
    ("second completion of a hold", "hold_not_pending", lambda w, c: lambda: w.service.complete_hold(w.merchants["restaurant"], c.hold_id, idem_key="x")),
    ("cancel of a completed hold", "hold_not_pending", lambda w, c: lambda: w.service.cancel_hold(w.merchants["restaurant"], c.hold_id, idem_key="x")),
    ("lottery drawn with the wrong seed", "seed_mismatch",
     lambda w, c: lambda: w.service.draw_lottery(w.club_id, w.lottery_id, "guess", actor="notary")),
    # --- the admin path ---
    ("unknown terminal", "unknown_terminal", lambda w, c: lambda: w.service.terminal("T9999999", "M99999999999999")),
    ("terminal of an unknown merchant", "unknown_merchant",
     lambda w, c: lambda: w.admin.create_terminal(99_999, "T7777777", "M77777777777777")),
    ("terminal id too long", "invalid_request",
     lambda w, c: lambda: w.admin.create_terminal(w.merchants["cafe"], "T123456789", "M1")),
    ("merchant with a bad Sheba", "invalid_sheba_checksum",
     lambda w, c: lambda: w.admin.create_merchant(w.club_id, "بد", sheba="IR000170000000000000000103")),
    ("rule without effects", "rule_empty_effects", publish([{"id": "empty", "effects": []}])),
    ("rule funded past 100%", "rule_bad_funding",
     publish([{"id": "greedy", "effects": [POINTS], "funding": {"merchant": 6_000, "club_owner": 6_000}}])),
    ("rule naming an unknown merchant set", "rule_unknown_set",
     publish([{"id": "set", "effects": [{"type": "credit", "kind": "club", "fixed_rial": 1, "spendable_at": 42}]}])),
    ("rule with an unknown condition", "rule_invalid_json",
     publish([{"id": "moon", "conditions": [{"type": "full_moon"}], "effects": [POINTS]}])),
    ("two rules with one id", "rule_duplicate_id", publish([{"id": "twin", "effects": [POINTS]}, {"id": "twin", "effects": [POINTS]}])),
    ("rule in an unknown stacking group", "rule_unknown_stacking_group",
     publish([{"id": "lonely", "stacking_group": "nowhere", "effects": [POINTS]}])),
]


@pytest.mark.parametrize(("name", "code", "case"), CASES, ids=[c[0] for c in CASES])
def test_bad_request_is_refused_and_changes_nothing(world: World, name: str, code: str, case: Case) -> None:
    ctx = prepare(world)
    action = case(world, ctx)
    before = dump(world.service, TABLES)
    with pytest.raises((KimiaError, IdentifierError)) as err:
        action()
    assert getattr(err.value, "code", None) == code, f"{name}: {err.value}"
    if code.startswith("rule_"):
        assert isinstance(err.value, RuleError)
    assert dump(world.service, TABLES) == before, name
    # The service is still fine after the refusal.
    assert world.buy(ctx.member, 100_000, merchant="restaurant")["status"] == "done"
