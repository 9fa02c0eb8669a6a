"""Issue 12, item 16: ``kimia_operation_committed`` is fired by the service after every commit,
whatever the channel (the Python service, single and group-committed; the terminal host; the
CLI), once per operation, with the operation's real club, id, member and stored receipt; an
operation rolled back is never announced, and a failing hook changes nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from kimia.cli import main
from kimia.errors import KimiaError
from kimia.plugins import default_plugin_manager, hookimpl, make_plugin_manager
from kimia.service import Admin, Kimia, outbox
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request
from kimia.terminal.server import TerminalServer

from .batching import together
from .builders import FakeClock, World, build_club, rows

Event = tuple[str, int, int, int | None, dict[str, Any]]


class Recorder:
    """A notifier plugin: keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def kimia_operation_committed(self, kind: str, club_id: int, op_id: int, member_id: int | None, receipt: dict[str, Any]) -> None:
        self.events.append((kind, club_id, op_id, member_id, receipt))


class Broken:
    """A notifier that always fails (and takes only some of the arguments, as a plugin may)."""

    @hookimpl
    def kimia_operation_committed(self, kind: str, op_id: int) -> None:
        raise RuntimeError(f"SMS gateway down ({kind} {op_id})")


def stored(service: Kimia) -> list[Event]:
    """Every operation in the database, as its event should say it (void markers are not operations)."""
    out: list[Event] = []
    for kind, club, op_id, member, response in rows(service, "SELECT kind, club_id, id, member_id, response FROM operations"
                                                             " WHERE kind <> 'void' ORDER BY id"):
        out.append((kind, club, op_id, member, response if isinstance(response, dict) else json.loads(response)))
    return out


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def heard(db_url: str, clock: FakeClock, recorder: Recorder, open_service: Callable[..., Kimia]) -> World:
    """A club on a service whose plugins are the recorder and a broken notifier."""
    service = open_service(db_url, clock=clock, plugins=make_plugin_manager([Broken(), recorder], load_entry_points=False))
    return build_club(service, clock)


def test_every_operation_of_the_python_service_is_announced_once_after_its_commit(heard: World, recorder: Recorder,
                                                                                   caplog: pytest.LogCaptureFixture) -> None:
    w, service = heard, heard.service
    caplog.set_level(logging.ERROR)
    member = w.enroll()
    service.charge(w.club_id, member, idem_key="gift", kind="gift_credit", amount_rial=300_000, source={"type": "club", "id": w.club_id},
                   actor="test", reason="gift")
    single = w.buy(member, 400_000, merchant="cafe")
    # Two purchases committed as one group (kimia.service.bulk), one of a sub-club's merchant.
    grouped = together(service, [lambda: w.buy(member, 500_000, merchant="restaurant"),
                                 lambda: w.buy(member, 600_000, merchant="bookshop", redeem_credit_rial=100_000)])
    assert all(isinstance(r, dict) for r in grouped)
    service.refund(w.merchants["cafe"], idem_key="refund", op_id=single["op_id"], amount_rial=100_000)
    held = service.hold(w.request(member, 200_000, merchant="cafe", redeem_credit_rial=50_000))
    service.complete_hold(w.merchants["cafe"], held["hold_id"], idem_key="complete")
    service.adjust(w.club_id, member, idem_key="fix", account_kind="points", delta=7, actor="staff", reason="apology")
    service.reverse_by_key(w.merchants["cafe"], "never-arrived", idem_key="reverse-nothing")
    with pytest.raises(KimiaError):  # refused in the writer: rolled back, never announced
        service.refund(w.merchants["cafe"], idem_key="too-much", op_id=single["op_id"], amount_rial=400_000)
    service.wait_for_events()
    assert recorder.events == stored(service)
    kinds = [e[0] for e in recorder.events]
    assert kinds.count("purchase") == 3 and {"enroll", "charge", "refund", "hold", "completion", "adjustment", "reversal"} <= set(kinds)
    assert {e[1] for e in recorder.events} == {w.club_id}  # the club's real id (a sub-club's merchant books in its club)
    assert {e[3] for e in recorder.events if e[0] != "reversal"} == {member}
    assert sum("SMS gateway down" in r.getMessage() or "SMS gateway down" in (r.exc_text or "") for r in caplog.records) >= 1
    assert service.check().ok  # the failing notifier undid nothing


def test_a_batch_that_falls_back_announces_only_what_it_committed(heard: World, recorder: Recorder) -> None:
    """Two members of one shared wallet spending it in one group: the group is rolled back and run
    one by one (the lots guard); only the purchase that landed is announced, once."""
    w, service = heard, heard.service
    a, b = w.enroll(), w.enroll()
    Admin(service).create_shared_wallet(w.club_id, "خانواده", [a, b])
    service.charge(w.club_id, a, idem_key="family", kind="gift_credit", amount_rial=60_000, source={"type": "club", "id": w.club_id},
                   shared_wallet=True, actor="test", reason="gift")
    spent = together(service, [lambda: w.buy(a, 100_000, redeem_credit_rial=60_000), lambda: w.buy(b, 100_000, redeem_credit_rial=60_000)])
    assert isinstance(spent[0], dict) and isinstance(spent[1], KimiaError)
    service.wait_for_events()
    assert recorder.events == stored(service)
    assert [e[2] for e in recorder.events if e[0] == "purchase"] == [spent[0]["op_id"]]


def test_a_terminal_purchase_is_announced_by_the_service_with_its_club(heard: World, recorder: Recorder) -> None:
    w, service = heard, heard.service
    member = w.enroll(identifiers=[("mobile", "09121112233")])
    ident = TerminalIdentity("T1000001", "M10000000000001")
    Admin(service).create_terminal(w.merchants["bookshop"], ident.terminal_id, ident.merchant_id)
    before = len(stored(service))

    async def buy() -> str | None:
        srv = TerminalServer(service, allow_unkeyed=True, freshness_s=10**9)  # no MAC key; the service runs on a fake clock
        await srv.start()
        try:
            conn = await Connection.open("127.0.0.1", srv.port)
            try:
                answer = await conn.send(request(ident, "0200", "000000", amount_rial=850_000, items=[(tlv.MK, "M:09121112233")]), ident)
                return answer.response_code
            finally:
                await conn.close()
        finally:
            await srv.close()

    assert asyncio.run(buy()) == "00"
    service.wait_for_events()
    assert recorder.events == stored(service)
    (purchase,) = recorder.events[before:]
    assert purchase[0] == "purchase" and purchase[1] == w.club_id and purchase[3] == member
    assert purchase[4]["op_id"] == purchase[2]


@pytest.fixture
def installed(recorder: Recorder) -> Iterator[Recorder]:
    """The recorder installed in the process's plugins, as an entry-point plugin is."""
    default_plugin_manager().register(recorder)
    try:
        yield recorder
    finally:
        default_plugin_manager().unregister(recorder)


def test_operations_of_the_cli_are_announced(db_url: str, make_service: Callable[..., Kimia], installed: Recorder) -> None:
    now = FakeClock(int(time.time()) - 3 * 86_400)  # the CLI runs on the wall clock: the gift has expired by then, the points not
    service = make_service(db_url, clock=now)
    w = build_club(service, now)
    member = w.enroll()
    w.buy(member, 6_000_000, merchant="restaurant")  # 600 points: gold at the close, 120 deducted
    service.charge(w.club_id, member, idem_key="short", kind="gift_credit", amount_rial=5_000, source={"type": "club", "id": w.club_id},
                   expires_days=1, actor="test", reason="gift")
    service.close()
    before = len(installed.events)
    for args in (["close-period", "--club", str(w.club_id), "--period-end", str(now.now + 60)], ["expire", "--club", str(w.club_id)]):
        result = CliRunner().invoke(main, ["--database", db_url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    cli_events = installed.events[before:]
    assert [(e[0], e[1], e[3]) for e in cli_events] == [("adjustment", w.club_id, member), ("expiry", w.club_id, member)]
    assert cli_events[0][4]["op_id"] == cli_events[0][2]


# --- issue 17: every past-tense hook, and the outbox rows written with the operation ---------------


class PastTense:
    """A plugin hearing every past-tense hook; each call notes whether what it names is committed
    (seen from a connection of its own) and the thread it runs on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.service: Kimia | None = None
        self.visible: list[bool] = []

    def _seen(self, sql: str, params: tuple[Any, ...]) -> None:
        if self.service is not None:
            with self.service.reading() as tx:
                self.visible.append(tx.one(sql, params) is not None)

    @hookimpl
    def kimia_member_enrolled(self, club_id: int, member_id: int, via: str) -> None:
        self.calls.append(("member_enrolled", {"club_id": club_id, "member_id": member_id, "via": via}))
        self._seen("SELECT 1 FROM members WHERE id = ?", (member_id,))

    @hookimpl
    def kimia_tier_changed(self, club_id: int, member_id: int, from_tier: str | None, to_tier: str | None, reason: str) -> None:
        self.calls.append(("tier_changed", {"club_id": club_id, "member_id": member_id, "from_tier": from_tier, "to_tier": to_tier,
                                            "reason": reason}))
        self._seen("SELECT 1 FROM members WHERE id = ? AND tier = ?", (member_id, to_tier))

    @hookimpl
    def kimia_voucher_issued(self, club_id: int, member_id: int, voucher_id: int, template_id: int | None) -> None:
        self.calls.append(("voucher_issued", {"club_id": club_id, "member_id": member_id, "voucher_id": voucher_id,
                                              "template_id": template_id}))
        self._seen("SELECT 1 FROM vouchers WHERE id = ?", (voucher_id,))

    @hookimpl
    def kimia_lottery_drawn(self, club_id: int, lottery_id: int, winners: list[int]) -> None:
        self.calls.append(("lottery_drawn", {"club_id": club_id, "lottery_id": lottery_id, "winners": winners}))
        self._seen("SELECT 1 FROM lotteries WHERE id = ? AND status = 'drawn'", (lottery_id,))

    @hookimpl
    def kimia_value_expiring(self, club_id: int, member_id: int, kind: str, amount: int, expires_at: int) -> None:
        self.calls.append(("value_expiring", {"club_id": club_id, "member_id": member_id, "kind": kind, "amount": amount,
                                              "expires_at": expires_at}))
        self._seen("SELECT 1 FROM outbox_events WHERE event = 'value.expiring' AND member_id = ?", (member_id,))

    def of(self, hook: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == hook]


def outbox_events(service: Kimia, event: str | None = None) -> list[tuple[str, str, int, int | None, dict[str, Any]]]:
    query = "SELECT uid, event, club_id, member_id, payload FROM outbox_events"
    found = rows(service, query + (" WHERE event = ?" if event else "") + " ORDER BY id", (event,) if event else ())
    return [(uid, name, club, member, p if isinstance(p, dict) else json.loads(p)) for uid, name, club, member, p in found]


@pytest.fixture
def told(db_url: str, clock: FakeClock, open_service: Callable[..., Kimia]) -> tuple[World, PastTense, Recorder]:
    past, recorder = PastTense(), Recorder()
    service = open_service(db_url, clock=clock, plugins=make_plugin_manager([Broken(), past, recorder], load_entry_points=False))
    past.service = service
    return build_club(service, clock), past, recorder


def test_every_past_tense_hook_is_called_once_after_commit_with_its_arguments(told: tuple[World, PastTense, Recorder]) -> None:
    from kimia.service import tiers

    w, past, recorder = told
    service = w.service
    member = w.enroll(identifiers=[("mobile", "09121234567")])
    with pytest.raises(KimiaError):  # identifier_taken: rolled back, never told
        w.enroll(identifiers=[("mobile", "09121234567")])
    w.buy(member, 6_000_000, merchant="restaurant")  # 600 points and a lottery entry
    bought = service.buy_voucher(w.club_id, member, w.voucher_template_id, idem_key="voucher")
    tiers.move_tier(service, w.club_id, member, "gold", actor="staff", reason="vip")
    tiers.move_tier(service, w.club_id, member, "gold", actor="staff", reason="again")  # no change: nothing told
    drawn = service.draw_lottery(w.club_id, w.lottery_id, w.lottery_seed, actor="notary")
    service.wait_for_events()

    assert past.of("member_enrolled") == [{"club_id": w.club_id, "member_id": member, "via": "api"}]
    (voucher,) = past.of("voucher_issued")
    voucher_id = rows(service, "SELECT id FROM vouchers WHERE code = ?", (bought["vouchers"][0],))[0][0]
    assert voucher == {"club_id": w.club_id, "member_id": member, "voucher_id": voucher_id, "template_id": w.voucher_template_id}
    assert past.of("tier_changed") == [{"club_id": w.club_id, "member_id": member, "from_tier": None, "to_tier": "gold", "reason": "manual"}]
    assert past.of("lottery_drawn") == [{"club_id": w.club_id, "lottery_id": w.lottery_id, "winners": [r["member_id"] for r in drawn]}]
    assert past.visible and all(past.visible)  # each was told once what it names was committed

    # The outbox holds each event once, written with its operation.
    events = outbox_events(service)
    assert [e[0] for e in events if e[1] == "operation.committed"] == [f"operation.committed:{w.club_id}:op:{e[2]}" for e in stored(service)]
    assert [(e[0], e[3]) for e in events if e[1] == "member.enrolled"] == [(f"member.enrolled:{w.club_id}:member:{member}", member)]
    assert [(e[3], e[4]["voucher_id"], e[4]["code"]) for e in events if e[1] == "voucher.issued"] == [(member, voucher_id, bought["vouchers"][0])]
    assert [(e[4]["from_tier"], e[4]["to_tier"]) for e in events if e[1] == "tier.changed"] == [(None, "gold")]
    assert [e[4]["winners"] for e in events if e[1] == "lottery.drawn"] == [drawn]
    assert [(e[3], e[4]["rank"]) for e in events if e[1] == "lottery.won"] == [(r["member_id"], r["rank"]) for r in drawn]
    purchase = next(e[4] for e in events if e[1] == "operation.committed" and e[4]["kind"] == "purchase")
    assert purchase["member_id"] == member and purchase["amount_rial"] == 6_000_000 and purchase["merchant_id"] == w.merchants["restaurant"]
    # The row names the operation; its receipt's summary is added from the stored receipt when it is read.
    with service.reading() as tx:
        outbox.with_summary(tx, [("operation.committed", purchase)])
    receipt = next(e[4] for e in stored(service) if e[2] == purchase["op_id"])
    assert purchase["summary"] == {k: receipt[k] for k in outbox.SUMMARY_KEYS if k in receipt}
    assert purchase["summary"]["points_earned"] > 0 and "balance_points" in purchase["summary"]
    assert len({e[0] for e in events}) == len(events)


def test_a_batch_that_falls_back_writes_the_outbox_rows_of_what_it_committed_only(heard: World, recorder: Recorder) -> None:
    w, service = heard, heard.service
    a, b = w.enroll(), w.enroll()
    Admin(service).create_shared_wallet(w.club_id, "خانواده", [a, b])
    service.charge(w.club_id, a, idem_key="family", kind="gift_credit", amount_rial=60_000, source={"type": "club", "id": w.club_id},
                   shared_wallet=True, actor="test", reason="gift")
    grouped = together(service, [lambda: w.buy(a, 100_000, redeem_credit_rial=60_000), lambda: w.buy(b, 100_000, redeem_credit_rial=60_000),
                                 lambda: w.buy(a, 200_000)])
    assert isinstance(grouped[1], KimiaError)
    committed = [e[4]["op_id"] for e in outbox_events(service, "operation.committed")]
    assert committed == [e[2] for e in stored(service)]
    assert grouped[0]["op_id"] in committed and grouped[2]["op_id"] in committed


def test_with_notifications_off_no_outbox_row_is_written_and_the_hooks_still_fire(db_url: str, clock: FakeClock,
                                                                                   open_service: Callable[..., Kimia]) -> None:
    past, recorder = PastTense(), Recorder()
    service = open_service(db_url, clock=clock, notifications=False, plugins=make_plugin_manager([past, recorder], load_entry_points=False))
    w = build_club(service, clock)
    member = w.enroll()
    w.buy(member, 6_000_000, merchant="restaurant")
    service.draw_lottery(w.club_id, w.lottery_id, w.lottery_seed, actor="notary")
    service.wait_for_events()
    assert outbox_events(service) == []
    assert [e[0] for e in recorder.events] == ["enroll", "purchase"]
    assert [name for name, _ in past.calls] == ["member_enrolled", "lottery_drawn"]


def test_a_terminal_enrolment_is_told_with_via_pos(told: tuple[World, PastTense, Recorder]) -> None:
    w, past, _ = told
    service = w.service
    ident = TerminalIdentity("T1000002", "M10000000000002")
    Admin(service).create_terminal(w.merchants["cafe"], ident.terminal_id, ident.merchant_id)

    async def enrol() -> list[str]:
        srv = TerminalServer(service, allow_unkeyed=True, freshness_s=10**9)
        await srv.start()
        try:
            conn = await Connection.open("127.0.0.1", srv.port)
            try:
                first = request(ident, "0100", "910000", items=[(tlv.MB, "09125550000")])
                codes = [(await conn.send(first, ident)).response_code]
                codes.append((await conn.send(first, ident)).response_code)  # the same request again: answered the same, told once
                return [c or "" for c in codes]
            finally:
                await conn.close()
        finally:
            await srv.close()

    assert asyncio.run(enrol()) == ["00", "00"]
    service.wait_for_events()
    (member,) = [m for (m,) in rows(service, "SELECT member_id FROM member_identifiers WHERE kind = 'mobile'")]
    assert past.of("member_enrolled") == [{"club_id": w.club_id, "member_id": member, "via": "pos"}]
    assert [e[3] for e in outbox_events(service, "member.enrolled")] == [member]


def test_a_period_close_of_the_cli_tells_each_tier_change_once(db_url: str, make_service: Callable[..., Kimia]) -> None:
    past = PastTense()
    default_plugin_manager().register(past)
    try:
        now = FakeClock(int(time.time()) - 3 * 86_400)
        service = make_service(db_url, clock=now)
        w = build_club(service, now)
        gold, bronze = w.enroll(), w.enroll()
        w.buy(gold, 6_000_000, merchant="restaurant")  # gold at the close; the other member gets the first tier
        service.close()
        for _ in range(2):  # the second close of the same period is refused: nothing told twice
            CliRunner().invoke(main, ["--database", db_url, "close-period", "--club", str(w.club_id), "--period-end", str(now.now + 60)])
        moved = past.of("tier_changed")
        assert moved == [{"club_id": w.club_id, "member_id": gold, "from_tier": None, "to_tier": "gold", "reason": "period_close"},
                         {"club_id": w.club_id, "member_id": bronze, "from_tier": None, "to_tier": "bronze", "reason": "period_close"}]
        service = make_service(db_url, clock=now)
        assert [(e[0], e[3], e[4]["to_tier"]) for e in outbox_events(service, "tier.changed")] == [
            (f"tier.changed:{w.club_id}:member:{m}:period:{now.now + 60}", m, tier) for m, tier in ((gold, "gold"), (bronze, "bronze"))]
        # A second close, of a later period, moves nobody: nothing told.
        service.close()
        CliRunner().invoke(main, ["--database", db_url, "close-period", "--club", str(w.club_id), "--period-end", str(now.now + 120)])
        assert len(past.of("tier_changed")) == 2
    finally:
        default_plugin_manager().unregister(past)


def test_value_about_to_expire_is_told_once_per_lot(told: tuple[World, PastTense, Recorder], clock: FakeClock) -> None:
    from kimia.extras.notifications.worker import warn_expiring

    w, past, _ = told
    service = w.service
    member, later = w.enroll(), w.enroll()
    service.charge(w.club_id, member, idem_key="soon", kind="gift_credit", amount_rial=70_000, source={"type": "club", "id": w.club_id},
                   expires_days=3, actor="test", reason="gift")
    service.charge(w.club_id, later, idem_key="later", kind="gift_credit", amount_rial=80_000, source={"type": "club", "id": w.club_id},
                   expires_days=30, actor="test", reason="gift")
    assert warn_expiring(service, clock.now) == 1
    assert warn_expiring(service, clock.now + 60) == 0  # once per lot
    service.wait_for_events()
    (told_once,) = past.of("value_expiring")
    assert told_once["member_id"] == member and told_once["amount"] == 70_000 and told_once["kind"] == "gift_credit"
    assert told_once["expires_at"] > clock.now and all(past.visible)
    (event,) = outbox_events(service, "value.expiring")
    lot = rows(service, "SELECT id FROM lots WHERE owner = ? AND expires_at IS NOT NULL", (f"member:{member}",))[0][0]
    assert event[0] == f"value.expiring:{w.club_id}:lot:{lot}" and event[3] == member
    assert warn_expiring(service, clock.now + 28 * 86_400) == 1  # the later lot enters its window


def test_the_expiry_scan_pages_through_a_club_with_many_lots(told: tuple[World, PastTense, Recorder], clock: FakeClock) -> None:
    """A page at a time (one write each), every page read: a club with more lots in its window
    than a page is warned of all of them, once; a club's own window (``expiry_warning_days``)."""
    from kimia.extras.notifications.worker import warn_expiring

    w, past, _ = told
    service = w.service
    members = [w.enroll() for _ in range(7)]
    for n, member in enumerate(members):
        service.charge(w.club_id, member, idem_key=f"soon-{n}", kind="gift_credit", amount_rial=10_000 + n,
                       source={"type": "club", "id": w.club_id}, expires_days=2, actor="test", reason="gift")
    assert warn_expiring(service, clock.now, page=3) == 7
    assert warn_expiring(service, clock.now, page=3) == 0
    service.wait_for_events()
    assert sorted(e["member_id"] for e in past.of("value_expiring")) == sorted(members)
    assert len(outbox_events(service, "value.expiring")) == 7
    # A club that asks for a one-day window is not warned two days ahead.
    other = w.enroll()
    service.charge(w.club_id, other, idem_key="other", kind="gift_credit", amount_rial=5_000, source={"type": "club", "id": w.club_id},
                   expires_days=2, actor="test", reason="gift")
    w.admin.update_settings(w.club_id, {"expiry_warning_days": 1}, actor="test", reason="shorter warning")
    assert warn_expiring(service, clock.now) == 0
    assert warn_expiring(service, clock.now + 86_400 + 60) == 1
