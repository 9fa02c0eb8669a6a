"""Who may spend a member's value at a terminal (issue 13, item 9), over real TCP on SQLite and
PostgreSQL: a club with the default verification asks for the card at the counter, the member's
PIN (48 PN) or a one-time code sent to their mobile (0100/92, then 48 OT) before credit or points
are spent or a card is bound; earning stays open; members are named on the wire by a random
account number, never their sequential id; enrolment does not name an existing member."""

from __future__ import annotations

from collections.abc import Callable

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kimia.service import Admin, Kimia
from kimia.service.verify import FileNotifier
from kimia.terminal import tlv
from kimia.terminal.client import TerminalIdentity, request
from kimia.terminal.codec import Message

from .conftest import connected, serving

TID, MID = "T0000042", "M00000000000042"
MOBILE, OTHER_MOBILE = "09121230001", "09121230002"
PAN = "6037991234567893"
NEW_CARD = "6219861034529007"
RULES: dict[str, Any] = {"rules": [{"id": "base", "name": {"en": "points", "fa": "امتیاز"},
                                    "effects": [{"type": "points", "per_rial": 10000, "points": 1}],
                                    "funding": {"club_owner": 10000}}]}


@dataclass
class World:
    service: Kimia
    club: int
    member: int  # mobile MOBILE, card PAN, PIN 4321, 200,000 rials of gift credit
    other: int  # mobile OTHER_MOBILE, no PIN, 200,000 rials of gift credit
    terminal: TerminalIdentity
    sms: FileNotifier


@pytest.fixture
def world(db_url: str, tmp_path: Path, open_service: Callable[..., Kimia]) -> Any:
    sms = FileNotifier(tmp_path / "sms.jsonl")
    service = open_service(db_url, notifier=sms)
    try:
        admin = Admin(service)
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه")  # no verification setting: the default
        merchant = admin.create_merchant(club, "کافه")
        admin.create_terminal(merchant, TID, MID)
        admin.publish_rules(club, RULES, actor="test")
        member = int(service.enroll(club, idem_key="m1", identifiers=[("mobile", MOBILE), ("card", PAN)])["member_id"])
        other = int(service.enroll(club, idem_key="m2", identifiers=[("mobile", OTHER_MOBILE)])["member_id"])
        for who in (member, other):
            service.charge(club, who, idem_key=f"credit-{who}", kind="gift_credit", amount_rial=200_000, source={"type": "club", "id": club}, actor="test", reason="setup")
        service.set_pin(club, member, "4321", actor="operator:test")
        yield World(service, club, member, other, TerminalIdentity(TID, MID), sms)
        report = service.check()
        assert report.ok, report.summary()
    finally:
        service.close()


def tag(answer: Message, name: str) -> str | None:
    return tlv.tlv_get(tlv.decode_tlv(answer.get_bytes("48") or b""), name)


def credit_of(service: Kimia, member: int) -> int:
    with service.reading() as tx:
        row = tx.one("SELECT COALESCE(SUM(balance), 0) FROM balances WHERE owner = ? AND account LIKE ?", (f"member:{member}", "%gift_credit%"))
    return int(row[0])


def rows(service: Kimia, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with service.reading() as tx:
        return [tuple(r) for r in tx.all(sql, params)]


def spend(t: TerminalIdentity, member_key: str | None = None, *, pan: str | None = None, extra: list[tuple[str, str]] | None = None,
          rc: int = 50_000) -> Message:
    items = ([(tlv.MK, member_key)] if member_key else []) + [(tlv.RC, str(rc))] + (extra or [])
    return request(t, "0200", "000000", amount_rial=500_000, pan=pan, items=items)


def test_spending_needs_the_cardholder_and_earning_does_not(world: World) -> None:
    t, s = world.terminal, world.service

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            # Knowing the mobile number is not enough to spend the member's credit.
            refused = await conn.send(spend(t, f"M:{MOBILE}"), t)
            assert refused.response_code == "55"
            assert credit_of(s, world.member) == 200_000
            # Earning needs no proof.
            earn = await conn.send(request(t, "0200", "000000", amount_rial=100_000, items=[(tlv.MK, f"M:{MOBILE}")]), t)
            assert earn.response_code == "00"
            # The card read at the counter is the proof.
            assert (await conn.send(spend(t, pan=PAN), t)).response_code == "00"
            # So is the member's club PIN, in 48 PN; a hold asks for it as a purchase does.
            assert (await conn.send(spend(t, f"M:{MOBILE}", extra=[(tlv.PN, "4321")]), t)).response_code == "00"
            hold = request(t, "0100", "000000", amount_rial=300_000, items=[(tlv.MK, f"M:{MOBILE}"), (tlv.RC, "10000")])
            assert (await conn.send(hold, t)).response_code == "55"

    asyncio.run(body())
    assert credit_of(s, world.member) == 100_000


def test_wrong_pins_lock_the_pin(world: World) -> None:
    t, s = world.terminal, world.service

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            for _ in range(4):
                assert (await conn.send(spend(t, f"M:{MOBILE}", extra=[(tlv.PN, "0000")]), t)).response_code == "55"
            assert (await conn.send(spend(t, f"M:{MOBILE}", extra=[(tlv.PN, "0000")]), t)).response_code == "75"
            # Locked: even the right PIN is refused for a while.
            assert (await conn.send(spend(t, f"M:{MOBILE}", extra=[(tlv.PN, "4321")]), t)).response_code == "75"

    asyncio.run(body())
    assert credit_of(s, world.member) == 200_000
    # The PIN is kept as a slow salted hash, never in clear.
    [(stored,)] = rows(s, "SELECT pin_hash FROM member_pins WHERE member_id = ?", (world.member,))
    assert stored.startswith("scrypt$") and "4321" not in stored


def test_a_one_time_code_sent_to_the_mobile_proves_the_member_once(world: World) -> None:
    t, s = world.terminal, world.service

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            asked = await conn.send(request(t, "0100", "920000", items=[(tlv.MK, f"M:{OTHER_MOBILE}")]), t)
            assert asked.response_code == "00"
            [sms] = world.sms.messages()
            assert sms["mobile"] == "+989121230002"
            code = re.search(r"\d{6}", sms["text_en"])
            assert code is not None
            wrong = "000000" if code.group() != "000000" else "111111"
            assert (await conn.send(spend(t, f"M:{OTHER_MOBILE}", extra=[(tlv.OT, wrong)]), t)).response_code == "55"
            assert (await conn.send(spend(t, f"M:{OTHER_MOBILE}", extra=[(tlv.OT, code.group())]), t)).response_code == "00"
            # Used once: a second spend with the same code is refused.
            assert (await conn.send(spend(t, f"M:{OTHER_MOBILE}", extra=[(tlv.OT, code.group())]), t)).response_code == "55"
            # A second code right away is refused (no flooding the member's phone).
            again = await conn.send(request(t, "0100", "920000", items=[(tlv.MK, f"M:{OTHER_MOBILE}")]), t)
            assert again.response_code == "05"

    asyncio.run(body())
    assert credit_of(s, world.other) == 150_000
    # The code is stored as a keyed hash only.
    [(stored,)] = rows(s, "SELECT code_hash FROM member_codes WHERE member_id = ?", (world.other,))
    assert len(stored) == 64


def test_members_are_named_by_a_random_account_number_not_their_id(world: World) -> None:
    t, s = world.terminal, world.service
    account = s.account_number(world.member)
    assert account is not None and len(account) == 12 and account != str(world.member)

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            by_id = await conn.send(request(t, "0100", "310000", items=[(tlv.MK, f"A:{world.member}")]), t)
            assert by_id.response_code == "14"
            by_account = await conn.send(request(t, "0100", "310000", items=[(tlv.MK, f"A:{account}")]), t)
            assert by_account.response_code == "00" and tag(by_account, tlv.BC) == "200000"
            # A new member is answered with their account number.
            joined = await conn.send(request(t, "0100", "910000", items=[(tlv.MB, "09121230003")]), t)
            assert joined.response_code == "00"
            [(new_id,)] = rows(s, "SELECT member_id FROM member_identifiers WHERE kind = 'mobile' AND lookup = ?", ("+989121230003",))
            assert tag(joined, tlv.MK) == f"A:{s.account_number(int(new_id))}" != f"A:{new_id}"

    asyncio.run(body())


def test_enrolling_a_taken_identifier_does_not_name_its_member(world: World) -> None:
    t, s = world.terminal, world.service

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            for items, pan in (([(tlv.MB, MOBILE)], None), ([], PAN)):
                ans = await conn.send(request(t, "0100", "910000", pan=pan, items=items or None), t)
                assert ans.response_code == "05"
                assert tag(ans, tlv.MK) is None

    asyncio.run(body())


def test_binding_a_card_needs_the_member_and_is_recorded(world: World) -> None:
    t, s = world.terminal, world.service
    account = s.account_number(world.member)

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            # Anyone could bind their own card to a member they can name: not without the PIN.
            bare = await conn.send(request(t, "0100", "910000", pan=NEW_CARD, items=[(tlv.MK, f"A:{account}")]), t)
            assert bare.response_code == "55"
            wrong = await conn.send(request(t, "0100", "910000", pan=NEW_CARD, items=[(tlv.MK, f"A:{account}"), (tlv.PN, "9999")]), t)
            assert wrong.response_code == "55"
            bound = await conn.send(request(t, "0100", "910000", pan=NEW_CARD, items=[(tlv.MK, f"A:{account}"), (tlv.PN, "4321")]), t)
            assert bound.response_code == "00" and tag(bound, tlv.MK) == f"A:{account}"
            # The card now names the member and proves them at the counter.
            assert (await conn.send(spend(t, pan=NEW_CARD), t)).response_code == "00"

    asyncio.run(body())
    assert rows(s, "SELECT kind, status, member_id FROM operations WHERE kind = 'bind'") == [("bind", "done", world.member)]
    [(actor, payload)] = rows(s, "SELECT actor, payload FROM audit_log WHERE action = 'bind_identifier'")
    assert actor.startswith("terminal:") and NEW_CARD not in str(payload)


def test_a_member_of_another_club_cannot_be_bound_here(world: World) -> None:
    s = world.service
    admin = Admin(s)
    elsewhere = admin.create_club(admin.create_owner("دیگری"), "باشگاه دیگر", settings={"verification": {"redeem": [], "bind": []}})
    stranger = int(s.enroll(elsewhere, idem_key="x", identifiers=[("mobile", "09121230009")])["member_id"])
    with pytest.raises(Exception) as err:
        s.bind_identifier(elsewhere, world.member, "card", NEW_CARD, actor="operator")
    assert getattr(err.value, "code", None) == "unknown_member"
    with pytest.raises(Exception) as err:
        s.bind_identifier(world.club, stranger, "card", NEW_CARD, actor="operator")
    assert getattr(err.value, "code", None) == "unknown_member"
    assert rows(s, "SELECT COUNT(*) FROM member_identifiers WHERE kind = 'card'") == [(1,)]
