"""Tenancy (issue 13, items 1–4): one club or merchant cannot reach another's value.

Two clubs share one database (ids are sequential across the platform, so every id of one club is
a valid-looking id to the other). :data:`CASES` holds, for every public method of ``Kimia`` and
``Admin`` and every terminal operation of the handler registry, a case that tries it with the
other club's (or, within a club, another merchant's) ids and checks it is refused or stays within
its own club; :func:`test_every_operation_has_an_isolation_case` fails when an operation has no
entry, so a new operation must come with its case. An entry may be an :class:`Exempt` only for
what names no club's data (plumbing, pure functions, platform-level set-up), with the reason.

Run on SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from kimia.errors import KimiaError
from kimia.plugins import make_plugin_manager
from kimia.service import Admin, Kimia, PurchaseRequest
from kimia.store import models as m
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request
from kimia.terminal.codec import Message
from kimia.terminal.server import TerminalServer, build_registry

from .builders import VALUE_TABLES, World, card_number, dump, mobile, rows, scalar

#: Every table a refused request must leave as it was.
TABLES = (*VALUE_TABLES, "member_group_members", "merchant_groups", "member_groups", "shared_wallets", "rule_sets",
          "voucher_templates", "terminals", "merchants", "clubs", "lotteries", "lottery_winners", "tier_history")


@dataclass
class Ctx:
    """Two clubs on one service, each with a member, sales, a hold and (the other club) a voucher."""

    home: World
    foreign: World
    home_member: int
    foreign_member: int
    foreign_mobile: str
    home_sale: dict[str, Any]  # at home's cafe, RRN 810000000001
    home_hold: dict[str, Any]  # a hold of home's restaurant (another merchant of the same club)
    foreign_sale: dict[str, Any]  # at the foreign cafe, RRN 820000000001
    foreign_hold: dict[str, Any]  # a hold of the foreign cafe

    @property
    def service(self) -> Kimia:
        return self.home.service

    def home_cafe(self) -> int:
        return self.home.merchants["cafe"]

    def foreign_state(self) -> dict[str, Any]:
        """Everything of the foreign club's that a leak would change."""
        club = self.foreign.club_id
        members = "SELECT id FROM members WHERE club_id IN (SELECT id FROM clubs WHERE id = ? OR parent_id = ?)"
        return {
            "operations": rows(self.service, "SELECT id, kind, status, refunded_rial, member_id FROM operations WHERE club_id = ? ORDER BY id", (club,)),
            "balances": rows(self.service, "SELECT account, balance, credit_limit FROM balances WHERE club_id = ? ORDER BY account", (club,)),
            "lots": rows(self.service, "SELECT id, remaining FROM lots WHERE club_id = ? ORDER BY id", (club,)),
            "members": rows(self.service, f"SELECT id, tier, period_points, shared_wallet_id FROM members WHERE id IN ({members}) ORDER BY id",
                            (club, club)),
            "identifiers": rows(self.service, f"SELECT member_id, kind, lookup FROM member_identifiers WHERE member_id IN ({members})"
                                " ORDER BY member_id, kind, lookup", (club, club)),
            "groups": rows(self.service, f"SELECT group_id, member_id FROM member_group_members WHERE member_id IN ({members})"
                           " ORDER BY group_id, member_id", (club, club)),
            "credit_lines": rows(self.service, "SELECT club_id, account, credit_limit FROM balances WHERE account LIKE ? ORDER BY club_id",
                                 (f"member:{self.foreign_member}/%",)),
            "tier_history": rows(self.service, "SELECT member_id, period_end FROM tier_history WHERE club_id = ?", (club,)),
            "winners": rows(self.service, "SELECT lottery_id, rank, member_id FROM lottery_winners WHERE lottery_id = ?",
                            (self.foreign.lottery_id,)),
        }


def prepare(home: World, foreign: World) -> Ctx:
    service = home.service
    home_member = home.enroll(identifiers=[("mobile", mobile(1))])
    foreign_mobile = mobile(2)
    foreign_member = foreign.enroll(identifiers=[("mobile", foreign_mobile)])
    for world, member in ((home, home_member), (foreign, foreign_member)):
        service.charge(world.club_id, member, idem_key="gift", kind="gift_credit", amount_rial=500_000,
                       source={"type": "club", "id": world.club_id}, expires_days=1, actor="test", reason="gift")
    home_sale = home.buy(home_member, 1_000_000, merchant="cafe", reference="810000000001", idem_key="home-sale")
    home_hold = service.hold(home.request(home_member, 300_000, merchant="restaurant", redeem_credit_rial=50_000, idem_key="home-hold"))
    foreign_sale = foreign.buy(foreign_member, 2_000_000, merchant="cafe", reference="820000000001", idem_key="foreign-sale")
    foreign_hold = service.hold(foreign.request(foreign_member, 400_000, merchant="cafe", redeem_credit_rial=100_000, idem_key="foreign-hold"))
    return Ctx(home, foreign, home_member, foreign_member, foreign_mobile, home_sale, home_hold, foreign_sale, foreign_hold)


@pytest.fixture
def ctx(club: Callable[..., World]) -> Ctx:
    return prepare(club(n=1), club(n=2, name_fa="باشگاه دیگر"))


# --- how a case checks ------------------------------------------------------------------------


def refused(ctx: Ctx, code: str, action: Callable[[], Any], path: str | None = None) -> None:
    """``action`` is refused with ``code`` (and ``path``) and changes nothing anywhere."""
    before = dump(ctx.service, TABLES)
    with pytest.raises(KimiaError) as err:
        action()
    assert err.value.code == code, f"{err.value.code} ({err.value.path}), expected {code}"
    if path is not None:
        assert err.value.path == path
    assert err.value.message_en and err.value.message_fa
    assert dump(ctx.service, TABLES) == before


def stays_home(ctx: Ctx, action: Callable[[], Any]) -> Any:
    """``action`` runs (on the home club) and leaves the foreign club as it was."""
    before = ctx.foreign_state()
    result = action()
    assert ctx.foreign_state() == before
    return result


@dataclass(frozen=True)
class Exempt:
    """An operation that names no club's data: why it needs no isolation case."""

    reason: str


Case = Callable[[Ctx], None]


# --- the service ---------------------------------------------------------------------------------


def _request(ctx: Ctx, member: Any, **fields: Any) -> PurchaseRequest:
    return PurchaseRequest(**{"idem_key": "t-req", "merchant_id": ctx.home_cafe(), "member": member, "amount_rial": 100_000, **fields})


def case_complete_hold(ctx: Ctx) -> None:
    k, cafe = ctx.service, ctx.home_cafe()
    refused(ctx, "unknown_operation", lambda: k.complete_hold(cafe, ctx.foreign_hold["hold_id"], idem_key="t-complete", reference="830000000001"))
    # Within one club, another merchant's hold is not found either.
    refused(ctx, "unknown_operation", lambda: k.complete_hold(cafe, ctx.home_hold["hold_id"], idem_key="t-complete"))


def case_cancel_hold(ctx: Ctx) -> None:
    k, cafe = ctx.service, ctx.home_cafe()
    refused(ctx, "unknown_operation", lambda: k.cancel_hold(cafe, ctx.foreign_hold["hold_id"], idem_key="t-cancel"))
    refused(ctx, "unknown_operation", lambda: k.cancel_hold(cafe, ctx.home_hold["hold_id"], idem_key="t-cancel"))


def case_refund(ctx: Ctx) -> None:
    k, cafe, restaurant = ctx.service, ctx.home_cafe(), ctx.home.merchants["restaurant"]
    refused(ctx, "unknown_operation", lambda: k.refund(cafe, idem_key="t-refund", op_id=ctx.foreign_sale["op_id"]))
    refused(ctx, "unknown_operation", lambda: k.refund(cafe, idem_key="t-refund", reference="820000000001", amount_rial=1_000))
    refused(ctx, "unknown_operation", lambda: k.refund(restaurant, idem_key="t-refund", reference="810000000001", amount_rial=1_000))
    refused(ctx, "unknown_operation", lambda: k.refund(restaurant, idem_key="t-refund", op_id=ctx.home_sale["op_id"]))


def case_reverse_by_key(ctx: Ctx) -> None:
    k = ctx.service
    # Another merchant's key in the same club: not found (and not voided under its key).
    refused(ctx, "unknown_operation", lambda: k.reverse_by_key(ctx.home.merchants["restaurant"], "home-sale", idem_key="t-rev"))
    # The foreign club's key names nothing in this club: recorded as void here, the foreign sale stands.
    answer = stays_home(ctx, lambda: k.reverse_by_key(ctx.home_cafe(), "foreign-sale", idem_key="t-rev2"))
    assert answer["original_found"] is False
    assert scalar(k, "SELECT refunded_rial FROM operations WHERE id = ?", (ctx.foreign_sale["op_id"],)) == 0


def _member_refused(call: Callable[[Ctx, int], Any]) -> Case:
    """A member operation of the home club naming the foreign club's member."""

    def case(ctx: Ctx) -> None:
        refused(ctx, "unknown_member", lambda: call(ctx, ctx.foreign_member))
        refused(ctx, "unknown_member", lambda: call(ctx, {"kind": "mobile", "value": ctx.foreign_mobile}))  # type: ignore[arg-type]

    return case


def case_bind_identifier(ctx: Ctx) -> None:
    refused(ctx, "unknown_member", lambda: ctx.service.bind_identifier(ctx.home.club_id, ctx.foreign_member, "card", card_number(77)))


def case_set_credit_limit(ctx: Ctx) -> None:
    refused(ctx, "unknown_member", lambda: ctx.service.set_credit_limit(ctx.home.club_id, ctx.foreign_member, 1_000_000,
                                                                         actor="t", reason="test"))


def case_buy_voucher(ctx: Ctx) -> None:
    k = ctx.service
    refused(ctx, "unknown_voucher_template", lambda: k.buy_voucher(ctx.home.club_id, ctx.home_member, ctx.foreign.voucher_template_id,
                                                                    idem_key="t-voucher"))
    refused(ctx, "unknown_member", lambda: k.buy_voucher(ctx.home.club_id, ctx.foreign_member, ctx.home.voucher_template_id,
                                                          idem_key="t-voucher"))


def case_enroll(ctx: Ctx) -> None:
    k, club = ctx.service, ctx.home.club_id
    refused(ctx, "foreign_reference", lambda: k.enroll(club, idem_key="t-enrol", identifiers=[("mobile", mobile(50))],
                                                        groups=[ctx.foreign.member_group_id]), "groups[0]")
    refused(ctx, "foreign_reference", lambda: k.enroll(club, idem_key="t-enrol", identifiers=[("mobile", mobile(50))],
                                                        merchant_id=ctx.foreign.merchants["cafe"]), "merchant_id")
    wallet = ctx.foreign.admin.create_shared_wallet(ctx.foreign.club_id, "خانواده", [ctx.foreign_member])
    refused(ctx, "foreign_reference", lambda: k.enroll(club, idem_key="t-enrol", identifiers=[("mobile", mobile(50))],
                                                        shared_wallet_id=wallet), "shared_wallet_id")
    refused(ctx, "unknown_member", lambda: k.enroll(club, idem_key="t-enrol", identifiers=[("mobile", mobile(50))],
                                                     referrer=ctx.foreign_member))


def case_draw_lottery(ctx: Ctx) -> None:
    refused(ctx, "unknown_lottery", lambda: ctx.service.draw_lottery(ctx.home.club_id, ctx.foreign.lottery_id, ctx.foreign.lottery_seed,
                                                                      actor="notary"))


def case_close_period(ctx: Ctx) -> None:
    stays_home(ctx, lambda: ctx.service.close_period(ctx.home.club_id, ctx.home.clock.now, actor="t"))
    assert scalar(ctx.service, "SELECT COUNT(*) FROM tier_history WHERE member_id = ?", (ctx.home_member,)) == 1


def case_expire_sweep(ctx: Ctx) -> None:
    ctx.home.clock.advance(days=2)  # both members' gift credit has expired
    assert stays_home(ctx, lambda: ctx.service.expire_sweep(ctx.home.club_id, actor="t")) >= 1
    assert scalar(ctx.service, "SELECT SUM(remaining) FROM lots WHERE owner = ? AND account LIKE ?",
                  (f"member:{ctx.foreign_member}", "%gift_credit")) > 0


def case_settlement(ctx: Ctx) -> None:
    text = stays_home(ctx, lambda: ctx.service.settlement(ctx.home.club_id, ctx.home.clock.local_day()))
    foreign_shebas = [s for (s,) in rows(ctx.service, "SELECT sheba FROM merchants WHERE club_id = ?", (ctx.foreign.club_id,)) if s]
    assert foreign_shebas and not any(s in text for s in foreign_shebas)


def case_record_for_review(ctx: Ctx) -> None:
    stays_home(ctx, lambda: ctx.service.record_for_review(ctx.home_cafe(), "tenancy_case", {"hold": ctx.foreign_hold["hold_id"]}))
    assert rows(ctx.service, "SELECT club_id FROM audit_log WHERE action = 'tenancy_case'") == [(ctx.home.club_id,)]


def case_identify(ctx: Ctx) -> None:
    refused(ctx, "unknown_member", lambda: ctx.service.identify(ctx.home.club_id, {"kind": "mobile", "value": ctx.foreign_mobile}))
    refused(ctx, "unknown_member", lambda: ctx.service.identify(ctx.home.club_id, ctx.foreign_member))


def case_member_balances(ctx: Ctx) -> None:
    refused(ctx, "unknown_member", lambda: ctx.service.member_balances(ctx.home_cafe(), ctx.foreign_member))


def _purchase_like(call: Callable[[Kimia, PurchaseRequest], Any]) -> Case:
    def case(ctx: Ctx) -> None:
        refused(ctx, "unknown_member", lambda: call(ctx.service, _request(ctx, ctx.foreign_member)))
        refused(ctx, "unknown_member", lambda: call(ctx.service, _request(ctx, {"kind": "mobile", "value": ctx.foreign_mobile})))

    return case


def case_charge_many(ctx: Ctx) -> None:
    refused(ctx, "unknown_member", lambda: ctx.service.charge_many(ctx.home.club_id, 1, [(ctx.foreign_member, 10_000)], batch_key="t-batch",
                                                                             actor="t", reason="welfare"))


# --- administration --------------------------------------------------------------------------------


def case_create_club(ctx: Ctx) -> None:
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.create_club(ctx.home.owner_id, "زیرباشگاه", parent_id=ctx.foreign.club_id),
            "parent_id")


def case_create_terminal(ctx: Ctx) -> None:
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.create_terminal(
        ctx.home_cafe(), "T9990001", "M99900000000001", branch_id=ctx.foreign.branches["cafe-north"]), "branch_id")


def case_create_merchant(ctx: Ctx) -> None:
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.create_merchant(ctx.home.club_id, "نانوایی", marketer_id=ctx.foreign.marketer_id),
            "marketer_id")


def case_create_merchant_group(ctx: Ctx) -> None:
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.create_merchant_group(
        ctx.home.club_id, "گروه", [ctx.home_cafe(), ctx.foreign.merchants["cafe"]]), "merchant_ids[1]")


def case_create_member_group(ctx: Ctx) -> None:
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.create_member_group(ctx.home.club_id, "گروه", [ctx.home_member, ctx.foreign_member]),
            "member_ids[1]")


def case_create_shared_wallet(ctx: Ctx) -> None:
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.create_shared_wallet(ctx.home.club_id, "خانواده", [ctx.foreign_member]),
            "member_ids[0]")


def case_create_voucher_template(ctx: Ctx) -> None:
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.create_voucher_template(
        ctx.home.club_id, "ووچر", discount_rial=1_000, merchants=[ctx.foreign.merchants["cafe"]]), "merchants[0]")


def case_update_settings(ctx: Ctx) -> None:
    conversion = {"default": {"points": 10, "rial": 1_000}, "by_group": {str(ctx.foreign.member_group_id): {"points": 1, "rial": 1_000_000}}}
    refused(ctx, "foreign_reference", lambda: ctx.home.admin.update_settings(ctx.home.club_id, {"conversion": conversion}, actor="t"),
            f"conversion.by_group.{ctx.foreign.member_group_id}")


def foreign_rules(ctx: Ctx) -> list[tuple[dict[str, Any], str]]:
    """A rule (or merchant set) naming one foreign id, and the path the refusal must name."""
    f = ctx.foreign
    effect = [{"type": "points", "fixed": 1}]
    return [
        ({"id": "x", "effects": [{"type": "lottery", "lottery_id": f.lottery_id, "fixed": 1_000_000}]}, "rules[6].effects[0].lottery_id"),
        ({"id": "x", "effects": [{"type": "voucher", "template_id": f.voucher_template_id}]}, "rules[6].effects[0].template_id"),
        ({"id": "x", "scope": {"merchants": [f.merchants["cafe"]]}, "effects": effect}, "rules[6].scope.merchants[0]"),
        ({"id": "x", "scope": {"merchant_groups": [f.merchant_group_id]}, "effects": effect}, "rules[6].scope.merchant_groups[0]"),
        ({"id": "x", "scope": {"branches": [f.branches["cafe-north"]]}, "effects": effect}, "rules[6].scope.branches[0]"),
        ({"id": "x", "scope": {"clubs": [f.sub_club_id]}, "effects": effect}, "rules[6].scope.clubs[0]"),
        ({"id": "x", "conditions": [{"type": "not", "of": {"type": "member_group", "ids": [f.member_group_id]}}], "effects": effect},
         "rules[6].conditions[0].of.ids[0]"),
        ({"id": "x", "conditions": [{"type": "merchant", "ids": [f.merchants["restaurant"]]}], "effects": effect}, "rules[6].conditions[0].ids[0]"),
        ({"id": "x", "conditions": [{"type": "tier", "names": ["platinum"]}], "effects": effect}, "rules[6].conditions[0].names[0]"),
    ]


def case_publish_rules(ctx: Ctx) -> None:
    w = ctx.home
    for rule, path in foreign_rules(ctx):
        body = {**w.rules(), "rules": [*w.rules()["rules"], {"name": {"en": "x", "fa": "x"}, **rule}]}
        refused(ctx, "foreign_reference", lambda: w.admin.publish_rules(w.club_id, body, actor="t"), path)
    sets = {**w.rules(), "merchant_sets": [{"id": 1, "name": {"en": "s", "fa": "s"}, "merchants": [ctx.foreign.merchants["cafe"]]}]}
    refused(ctx, "foreign_reference", lambda: w.admin.publish_rules(w.club_id, sets, actor="t"), "merchant_sets[0].merchants[0]")


# --- the terminal host ----------------------------------------------------------------------------


def home_terminal(ctx: Ctx, name: str = "cafe") -> TerminalIdentity:
    n = {"cafe": 1, "restaurant": 2}[name]  # build_club's codes for club 1
    return TerminalIdentity(f"T001{n:04d}", f"M001{n:011d}")


def on_terminal(ctx: Ctx, messages: Callable[[TerminalIdentity], list[tuple[Message, str]]], terminal: str = "cafe") -> None:
    """Send each message from a home terminal and check its response code; the foreign club's
    state never changes."""
    t = home_terminal(ctx, terminal)

    async def body() -> None:
        srv = TerminalServer(ctx.service, allow_unkeyed=True, freshness_s=10**9)  # no MAC keys; the service runs on a fake clock
        await srv.start()
        conn = await Connection.open("127.0.0.1", srv.port)
        try:
            for msg, code in messages(t):
                answer = await conn.send(msg, t, timeout_s=15)
                assert answer.response_code == code, f"{msg.mti}/{msg.get_str('3')}: {answer.response_code}, expected {code}"
        finally:
            await conn.close()
            await srv.close()

    stays_home(ctx, lambda: asyncio.run(body()))


def _mk(member: int) -> list[tuple[str, str]]:
    return [(tlv.MK, f"A:{member}")]


def term_balance_inquiry(ctx: Ctx) -> None:
    on_terminal(ctx, lambda t: [(request(t, "0100", "310000", items=_mk(ctx.foreign_member)), "14"),
                                (request(t, "0100", "310000", items=[(tlv.MK, f"M:{ctx.foreign_mobile}")]), "14")])


def term_hold(ctx: Ctx) -> None:
    on_terminal(ctx, lambda t: [(request(t, "0100", "000000", amount_rial=100_000, items=[*_mk(ctx.foreign_member), (tlv.RC, "1000")]), "14")])


def term_request_code(ctx: Ctx) -> None:
    on_terminal(ctx, lambda t: [(request(t, "0100", "920000", items=_mk(ctx.foreign_member)), "14")])


def term_purchase(ctx: Ctx) -> None:
    on_terminal(ctx, lambda t: [(request(t, "0200", "000000", amount_rial=100_000, items=_mk(ctx.foreign_member)), "14")])


def term_enrol(ctx: Ctx) -> None:
    # Binding the swiped card to the other club's member.
    on_terminal(ctx, lambda t: [(request(t, "0100", "910000", pan=card_number(91), items=_mk(ctx.foreign_member)), "14")])


def term_refund(ctx: Ctx) -> None:
    on_terminal(ctx, lambda t: [(request(t, "0200", "200000", amount_rial=1_000, items=[(tlv.OR, "820000000001")]), "25")])
    # Another merchant of the same club names the cafe's sale by its RRN: not found either.
    before = dump(ctx.service, TABLES)
    on_terminal(ctx, lambda t: [(request(t, "0200", "200000", amount_rial=1_000, items=[(tlv.OR, "810000000001")]), "25")], "restaurant")
    assert dump(ctx.service, TABLES) == before


# --- the extras' terminal operations (built-in plugins) -----------------------------------------------


def _foreign_cafe(ctx: Ctx) -> Any:
    return ctx.service.plugin_services.merchant(ctx.foreign.merchants["cafe"])


def term_attendance_register(ctx: Ctx) -> None:
    """A staff code registered at the other club's café is no business of this one's: the same code
    registers here (00, not 05 ``staff_code_taken``), and the other's person is untouched."""
    from kimia.extras.attendance import store as attendance

    attendance.register(ctx.service.plugin_services, _foreign_cafe(ctx), code="7001", name="کارمند دیگر", idem_key="t-staff", actor="test")
    before = rows(ctx.service, "SELECT id, merchant_id, name, active FROM attendance_staff ORDER BY id")
    on_terminal(ctx, lambda t: [(request(t, "0100", "930000", items=[(tlv.ST, "7001"), (tlv.SN, "کارمند ما")]), "00")])
    assert rows(ctx.service, "SELECT id, merchant_id, name, active FROM attendance_staff ORDER BY id")[:len(before)] == before


def term_attendance_clock(ctx: Ctx) -> None:
    """The other club's staff member cannot clock in at this club's terminal (14: unknown here)."""
    from kimia.extras.attendance import store as attendance

    attendance.register(ctx.service.plugin_services, _foreign_cafe(ctx), code="7002", name="کارمند دیگر", idem_key="t-staff-2", actor="test")
    on_terminal(ctx, lambda t: [(request(t, "0200", "930000", items=[(tlv.ST, "7002"), (tlv.AD, "I")]), "14")])
    assert rows(ctx.service, "SELECT COUNT(*) FROM attendance_records") == [(0,)]


def _foreign_category(ctx: Ctx, kind: str) -> None:
    from kimia.extras.cash import book as cash

    svc = ctx.service.plugin_services
    svc.write(lambda db: cash.create_category(db, club_id=ctx.foreign.club_id, merchant_id=None, now=svc.now(), actor="test",
                                              new=cash.NewCategory(kind, "theirs", "دستهٔ دیگر", "theirs"), idem_key=f"t-cat-{kind}"))


def term_cash_expense(ctx: Ctx) -> None:
    """A category only the other club has is unknown at this club's terminal (12); nothing is recorded."""
    _foreign_category(ctx, "expense")
    on_terminal(ctx, lambda t: [(request(t, "0200", "940000", amount_rial=100_000, items=[(tlv.EX, "theirs")]), "12")])
    assert rows(ctx.service, "SELECT COUNT(*) FROM cash_entries") == [(0,)]


def term_cash_receipt(ctx: Ctx) -> None:
    _foreign_category(ctx, "receipt")
    on_terminal(ctx, lambda t: [(request(t, "0200", "950000", amount_rial=100_000, items=[(tlv.EX, "theirs")]), "12")])
    assert rows(ctx.service, "SELECT COUNT(*) FROM cash_entries") == [(0,)]


def _foreign_booking_code(ctx: Ctx) -> str:
    import datetime as dt

    from kimia.extras.appointments import store as appointments
    from kimia.plugins.types import Caller

    svc, club = ctx.service.plugin_services, ctx.foreign.club_id
    staff, member = Caller("management", club, "test"), Caller("member", club, "test", member_id=ctx.foreign_member)
    service = appointments.create_service(svc, staff, {"merchant_id": ctx.foreign.merchants["cafe"], "name_fa": "میز",
                                                       "name_en": "Table", "duration_min": 60}, "t-service")
    day = dt.date.fromtimestamp(svc.now()) + dt.timedelta(days=2)
    appointments.publish_slots(svc, staff, {"service_id": service["id"], "from": day.isoformat(), "start": "18:00"}, "t-slots")
    slot = appointments.list_slots(svc, member, {"from": day.isoformat(), "free": "1"})["items"][0]
    return str(appointments.book(svc, member, slot["id"], None, "t-book")["code"])


def term_appointments_lookup(ctx: Ctx) -> None:
    """The other club's booking code finds nothing at this club's terminal (25)."""
    code = _foreign_booking_code(ctx)
    on_terminal(ctx, lambda t: [(request(t, "0100", "960000", items=[(tlv.BK, code)]), "25")])


def term_appointments_check_in(ctx: Ctx) -> None:
    code = _foreign_booking_code(ctx)
    on_terminal(ctx, lambda t: [(request(t, "0200", "960000", items=[(tlv.BK, code)]), "25")])
    assert rows(ctx.service, "SELECT status FROM appointments_bookings") == [("booked",)]


def term_completion(ctx: Ctx) -> None:
    """An advice is acknowledged (00) but a foreign hold is not completed: recorded for review."""
    hold_id = ctx.foreign_hold["hold_id"]
    on_terminal(ctx, lambda t: [(request(t, "0220", "000000", amount_rial=400_000, rrn="830000000001", items=[(tlv.HR, str(hold_id))]), "00")])
    assert scalar(ctx.service, "SELECT status FROM operations WHERE id = ?", (hold_id,)) == "held"
    assert scalar(ctx.service, "SELECT COUNT(*) FROM operations WHERE kind = 'completion'") == 0
    [(payload,)] = rows(ctx.service, "SELECT payload FROM audit_log WHERE action = 'completion_advice_not_applied'")
    assert (payload if isinstance(payload, dict) else json.loads(payload))["code"] == "unknown_operation"


def term_reversal(ctx: Ctx) -> None:
    """A reversal names its original by the reversing terminal's own key: the foreign hold stays."""
    hold_id = ctx.foreign_hold["hold_id"]
    on_terminal(ctx, lambda t: [(request(t, "0420", "000000", amount_rial=400_000, items=[(tlv.HR, str(hold_id))]), "00")])
    assert scalar(ctx.service, "SELECT status FROM operations WHERE id = ?", (hold_id,)) == "held"


CASES: dict[str, Case | Exempt] = {
    # Kimia
    "Kimia.adjust": _member_refused(lambda c, mem: c.service.adjust(c.home.club_id, mem, idem_key="t-adj", account_kind="points", delta=5,
                                                                    actor="t", reason="test")),
    "Kimia.bind_identifier": case_bind_identifier,
    "Kimia.buy_voucher": case_buy_voucher,
    "Kimia.cancel_hold": case_cancel_hold,
    "Kimia.charge": _member_refused(lambda c, mem: c.service.charge(c.home.club_id, mem, idem_key="t-charge", kind="gift_credit",
                                                                    amount_rial=10_000, source={"type": "club", "id": c.home.club_id},
                                                                    actor="t", reason="gift")),
    "Kimia.charge_many": case_charge_many,
    "Kimia.check": Exempt("recomputes the whole database's invariants; names no club and changes nothing"),
    "Kimia.close": Exempt("plumbing: closes the service's connections"),
    "Kimia.close_period": case_close_period,
    "Kimia.set_pin": _member_refused(lambda c, mem: c.service.set_pin(c.home.club_id, mem, "1234", actor="t")),
    "Kimia.request_code": _member_refused(lambda c, mem: c.service.request_code(c.home.club_id, mem)),
    "Kimia.account_number": Exempt("operator tooling (`kimia terminal list`): reads one member's account number by member id"),
    "Kimia.remember_timeout": Exempt("terminal-host plumbing: spends the acting merchant's own request key after a 91"),
    "Kimia.committed": Exempt("plumbing: notes an operation already written in the caller's own transaction for its event"),
    "Kimia.announce": Exempt("plumbing: notes a past-tense hook of something already written in the caller's own transaction"),
    "Kimia.emit": Exempt("plumbing: writes an outbox event in the caller's own transaction, for the club the caller names"),
    "Kimia.run_after_commit": Exempt("plumbing: calls a past-tense hook of something committed (the delivery worker's)"),
    "Kimia.period_closes": Exempt("reads only the closes of the club it is given, as close_period acts on it; names no other"),
    "Kimia.complete_hold": case_complete_hold,
    "Kimia.convert_points": _member_refused(lambda c, mem: c.service.convert_points(c.home.club_id, mem, 10, idem_key="t-convert")),
    "Kimia.deadline": Exempt("plumbing: a thread's deadline"),
    "Kimia.draw_lottery": case_draw_lottery,
    "Kimia.enroll": case_enroll,
    "Kimia.expire_sweep": case_expire_sweep,
    "Kimia.hold": _purchase_like(lambda k, req: k.hold(req)),
    "Kimia.identify": case_identify,
    "Kimia.member_balances": case_member_balances,
    "Kimia.member_key": Exempt("a pure function: a member reference in normal form"),
    "Kimia.merchant_club": Exempt("the club of the caller's own merchant; reads nothing of another"),
    "Kimia.normalize_identifier": Exempt("a pure function: an identifier's lookup and mask"),
    "Kimia.purchase": _purchase_like(lambda k, req: k.purchase(req)),
    "Kimia.purchase_async": _purchase_like(lambda k, req: asyncio.run(k.purchase_async(req))),
    "Kimia.purchase_conversion": Exempt("a helper of a purchase already resolved to its merchant's club"),
    "Kimia.quote": _purchase_like(lambda k, req: k.quote(req)),
    "Kimia.posting": Exempt("plumbing: wraps an operation's decision as a work for the writer (kimia.service.posting)"),
    "Kimia.reading": Exempt("plumbing: a read transaction"),
    "Kimia.record_for_review": case_record_for_review,
    "Kimia.refund": case_refund,
    "Kimia.reverse_by_key": case_reverse_by_key,
    "Kimia.set_credit_limit": case_set_credit_limit,
    "Kimia.settlement": case_settlement,
    "Kimia.terminal": Exempt("the calling terminal identifies itself by fields 41 + 42 (and its MAC key); it names no one else"),
    "Kimia.write": Exempt("plumbing: runs one operation in the writer"),
    "Kimia.wait_for_events": Exempt("plumbing: waits for the event thread"),
    # Admin
    "Admin.commitment": Exempt("a pure function: a seed's SHA-256"),
    "Admin.create_branch": Exempt("platform set-up: a branch names only its merchant"),
    "Admin.create_club": case_create_club,
    "Admin.create_marketer": Exempt("names only its own club"),
    "Admin.create_member_group": case_create_member_group,
    "Admin.create_merchant": case_create_merchant,
    "Admin.create_merchant_group": case_create_merchant_group,
    "Admin.create_meta_club": Exempt("platform set-up: joining clubs is what a meta-club is (C3)"),
    "Admin.create_owner": Exempt("platform set-up: names no club"),
    "Admin.create_shared_wallet": case_create_shared_wallet,
    "Admin.create_terminal": case_create_terminal,
    "Admin.create_voucher_template": case_create_voucher_template,
    "Admin.open_lottery": Exempt("names only its own club"),
    "Admin.publish_rules": case_publish_rules,
    "Admin.set_fee_tariff": Exempt("platform set-up: the platform's own fee, per business type"),
    "Admin.update_settings": case_update_settings,
    # terminal operations (the handler registry)
    "terminal.network": Exempt("sign-on, echo, sign-off: names no member, merchant or operation"),
    "terminal.balance_inquiry": term_balance_inquiry,
    "terminal.hold": term_hold,
    "terminal.enrol": term_enrol,
    "terminal.purchase": term_purchase,
    "terminal.request_code": term_request_code,
    "terminal.refund": term_refund,
    "terminal.completion": term_completion,
    "terminal.reversal": term_reversal,
    "terminal.attendance_register": term_attendance_register,
    "terminal.attendance_clock": term_attendance_clock,
    "terminal.cash.expense": term_cash_expense,
    "terminal.cash.receipt": term_cash_receipt,
    "terminal.appointments.lookup": term_appointments_lookup,
    "terminal.appointments.check_in": term_appointments_check_in,
}


def operations() -> set[str]:
    """Every public method of ``Kimia`` and ``Admin`` and every terminal operation registered."""
    names = {f"{cls.__name__}.{name}" for cls in (Kimia, Admin) for name, _ in inspect.getmembers(cls, callable)
             if not name.startswith("_")}
    names |= {f"terminal.{h.name}" for h in build_registry(make_plugin_manager()).values()}
    return names


def test_every_operation_has_an_isolation_case() -> None:
    """Fails when an operation has no case (add one to CASES) or a case names no operation."""
    missing = sorted(operations() - CASES.keys())
    assert not missing, f"operations without a tenancy case in CASES: {missing}"
    stale = sorted(CASES.keys() - operations())
    assert not stale, f"cases of operations that no longer exist: {stale}"


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if not isinstance(c, Exempt)))
def test_isolation(name: str, ctx: Ctx) -> None:
    case = CASES[name]
    assert not isinstance(case, Exempt)
    case(ctx)


# --- the defects of the issue, one by one ------------------------------------------------------------


def test_a_refund_records_its_terminal_and_every_operation_its_actor(ctx: Ctx) -> None:
    """Item 2: the refund row recorded no terminal."""
    t = home_terminal(ctx)
    terminal_id = ctx.home.terminals["cafe"]
    on_terminal(ctx, lambda _: [(request(t, "0200", "200000", amount_rial=100_000, items=[(tlv.OR, "810000000001")]), "00"),
                                (request(t, "0100", "910000", pan=card_number(93), items=[(tlv.MB, mobile(93))]), "00")])
    assert rows(ctx.service, "SELECT terminal_id, actor, merchant_id FROM operations WHERE kind = 'refund'") == [
        (terminal_id, f"terminal:{terminal_id}", ctx.home_cafe())]
    assert rows(ctx.service, "SELECT actor, merchant_id FROM operations WHERE kind = 'enroll' ORDER BY id DESC LIMIT 1") == [
        (f"terminal:{terminal_id}", ctx.home_cafe())]
    # Through the API a caller names itself; without a terminal a merchant's sale is the merchant's.
    ctx.service.refund(ctx.home_cafe(), idem_key="api-refund", op_id=ctx.home_sale["op_id"], amount_rial=1_000, actor="key:cafe-pos-api")
    assert scalar(ctx.service, "SELECT actor FROM operations WHERE idem_key = 'api-refund'") == "key:cafe-pos-api"
    assert scalar(ctx.service, "SELECT actor FROM operations WHERE idem_key = 'home-sale'") == f"merchant:{ctx.home_cafe()}"


def test_an_rrn_the_host_assigns_is_random(ctx: Ctx) -> None:
    """Item 2: without field 37 the RRN was the operation id (guessable). Now 12 random digits,
    unique in the club, stored as the sale's reference and answered in the receipt."""
    receipts = [ctx.home.buy(ctx.home_member, 10_000) for _ in range(5)]
    held = ctx.service.hold(ctx.home.request(ctx.home_member, 10_000))
    rrns = [r["rrn"] for r in (*receipts, held)]
    assert all(len(r) == 12 and r.isdigit() for r in rrns)
    assert len(set(rrns)) == len(rrns)
    assert all(r["rrn"] != f"{r['op_id']:012d}" for r in (*receipts, held))
    assert [scalar(ctx.service, "SELECT reference FROM operations WHERE id = ?", (r["op_id"],)) for r in receipts] == rrns[:5]
    # The sale is refunded by the RRN it was given, by its own merchant.
    assert ctx.service.refund(ctx.home_cafe(), idem_key="by-rrn", reference=rrns[0])["original_op_id"] == receipts[0]["op_id"]


def test_the_draw_counts_only_entries_held_in_the_lotterys_club(ctx: Ctx) -> None:
    """Item 3, as found: a club's rule gave its own member 1,000,000 entries in another club's
    lottery and that member was drawn first. ``publish_rules`` now refuses such a rule; written
    behind its back (straight into the database), the draw still does not count those entries."""
    home, foreign = ctx.home, ctx.foreign
    body = {**home.rules(), "rules": [*home.rules()["rules"], {"id": "stuff", "name": {"en": "x", "fa": "x"},
                                                               "effects": [{"type": "lottery", "lottery_id": foreign.lottery_id, "fixed": 1_000_000}]}]}
    refused(ctx, "foreign_reference", lambda: home.admin.publish_rules(home.club_id, body, actor="t"), "rules[6].effects[0].lottery_id")
    stored = rows(ctx.service, "SELECT body FROM rule_sets WHERE club_id = ? ORDER BY version DESC", (home.club_id,))[0][0]
    full = stored if isinstance(stored, dict) else json.loads(stored)
    full["rules"] = body["rules"]
    full["version"] += 1
    with Session(ctx.service.engine) as s, s.begin():
        s.add(m.RuleSetVersion(club_id=home.club_id, version=full["version"], body=full, created_by="attacker", created_at=home.clock.now))
    ctx.service.caches.clear()
    stuffed = home.buy(ctx.home_member, 10_000)
    assert {"lottery_id": foreign.lottery_id, "entries": 1_000_000} in stuffed["lottery_entries"]
    winners = ctx.service.draw_lottery(foreign.club_id, foreign.lottery_id, foreign.lottery_seed, actor="notary")
    assert [w["member_id"] for w in winners] == [ctx.foreign_member]
