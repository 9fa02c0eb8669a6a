"""The appointments extra at the terminal, over a real TCP socket with MAC'd messages, on both
databases: ``0100/96`` looks a booking up by its code (48 BK) and ``0200/96`` checks the member in.
Refusals carry their response codes (25 unknown booking or another merchant's, 12 a booking that
cannot be checked in, 30 a missing or malformed BK, 94 the same STAN for another booking); a
repeat is answered as the first and written once. The hex examples of docs/terminal-protocol.md
(*Appointments*) are what the host sends here."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kimia.app import assemble
from kimia.extras.appointments import store
from kimia.plugins.types import Caller
from kimia.service import Kimia
from kimia.settings import Settings
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request, to_bytes
from kimia.terminal.codec import Message, decode
from kimia.terminal.dialect import KIMIA_V1
from kimia.terminal.framing import frame
from kimia.terminal.handlers import TEHRAN
from kimia.world import WorldBuilder
from service.builders import DEFAULT_START, FakeClock
from terminal.conftest import TEST_KEK, connected, serving

MAC_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
OTHER_KEY = bytes.fromhex("0f0e0d0c0b0a09080706050403020100")
CODE = "123456"
DOC = Path(__file__).resolve().parents[3] / "docs" / "terminal-protocol.md"


@dataclass
class World:
    service: Kimia
    clock: FakeClock
    club: int
    merchant: int
    member: int
    terminal: TerminalIdentity
    other_terminal: TerminalIdentity
    booking: int
    second: int  # another live booking of the same merchant


@pytest.fixture
def world(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("KIMIA_TERMINAL_KEK", TEST_KEK)
    clock = FakeClock(DEFAULT_START)  # 2025-05-14 10:00 in Tehran: the host checks field 7 against it
    service = assemble(settings, clock=clock)
    try:
        yield build(service, clock)
        assert service.check().ok
    finally:
        service.close()


def build(service: Kimia, clock: FakeClock) -> World:
    b = WorldBuilder(service)
    shop = b.shop("مالک", "باشگاه آزمون", "آرایشگاه نیلوفر", merchant_en="Niloufar salon")
    b.terminal(shop.merchant_id, "T0000001", "M00000000000001", mac_key=MAC_KEY)
    cafe = b.merchant(shop.club_id, "کافه")
    b.terminal(cafe, "T0000002", "M00000000000002", mac_key=OTHER_KEY)
    member = b.member(shop.club_id, [("mobile", "09121234567")], idem_key="setup-member", name_fa="سارا احمدی")
    other = b.member(shop.club_id, [("mobile", "09121234568")], idem_key="setup-member-2", name_fa="علی")
    services = service.plugin_services
    staff = Caller("management", shop.club_id, "test")
    made = store.create_service(services, staff, {"merchant_id": shop.merchant_id, "name_fa": "اصلاح مو", "duration_min": 30}, None)
    slots = store.publish_slots(services, staff, {"service_id": made["id"], "from": "2025-05-15", "start": "09:00", "end": "10:00"},
                                None)["slot_ids"]
    first = store.book(services, Caller("member", shop.club_id, "test", member_id=member), slots[0], None, "setup-book-1")
    second = store.book(services, Caller("member", shop.club_id, "test", member_id=other), slots[1], None, "setup-book-2")
    # A known code, so that the document's example bytes are reproducible.
    services.write(lambda db: db.execute("UPDATE appointments_bookings SET code = ?, live_code = ? WHERE id = ?", (CODE, CODE, first["id"])))
    return World(service, clock, shop.club_id, shop.merchant_id, member, b.terminals[0], b.terminals[1], first["id"], second["id"])


def at(w: World) -> dt.datetime:
    return dt.datetime.fromtimestamp(w.clock(), TEHRAN)


def ask(w: World, mti: str, code: str | None, t: TerminalIdentity | None = None, *, stan: str | None = None) -> Message:
    items = None if code is None else [(tlv.BK, code)]
    return request(t or w.terminal, mti, "960000", items=items, stan=stan, now=at(w))


def items_of(answer: Message) -> list[tuple[str, str]]:
    return tlv.decode_tlv(answer.get_bytes("48") or b"")


def lines(answer: Message) -> list[str]:
    return [v for t, v in items_of(answer) if t == tlv.RL]


def status(w: World, booking: int) -> tuple[Any, ...]:
    with w.service.reading() as tx:
        return tuple(tx.one("SELECT status, checked_in_at, checked_in_by, live_code FROM appointments_bookings WHERE id = ?", (booking,)))


def code_of(w: World, booking: int) -> str:
    with w.service.reading() as tx:
        return str(tx.one("SELECT code FROM appointments_bookings WHERE id = ?", (booking,))[0])


def count(w: World, sql: str, params: tuple[Any, ...] = ()) -> int:
    with w.service.reading() as tx:
        return int(tx.one(sql, params)[0])


def test_a_booking_is_looked_up_and_checked_in_once_over_tcp(world: World) -> None:
    w = world

    async def body() -> None:
        async with serving(w.service, allow_unkeyed=False) as srv, connected(srv) as conn:
            looked = await conn.send(ask(w, "0100", CODE), w.terminal)
            assert looked.mti == "0110" and looked.response_code == "00"
            assert items_of(looked)[0] == (tlv.BK, CODE)
            assert lines(looked) == ["نوبت: سارا احمدی", "خدمت: اصلاح مو", "زمان: ۱۴۰۴/۰۲/۲۵ ۰۹:۰۰", "وضعیت: رزروشده"]
            # Another merchant's terminal does not find it; an unknown code is 25 too.
            assert (await conn.send(ask(w, "0100", CODE, w.other_terminal), w.other_terminal)).response_code == "25"
            assert (await conn.send(ask(w, "0100", "654321"), w.terminal)).response_code == "25"
            # Without BK, or with one that is not six ASCII digits: a format error.
            assert (await conn.send(ask(w, "0100", None), w.terminal)).response_code == "30"
            assert (await conn.send(ask(w, "0100", "12ab56"), w.terminal)).response_code == "30"
            assert (await conn.send(ask(w, "0200", CODE, w.other_terminal), w.other_terminal)).response_code == "25"
            assert status(w, w.booking)[0] == "booked"

            check_in = ask(w, "0200", CODE)
            first = await conn.send(check_in, w.terminal)
            assert first.mti == "0210" and first.response_code == "00"
            assert lines(first) == ["نوبت: سارا احمدی", "خدمت: اصلاح مو", "زمان: ۱۴۰۴/۰۲/۲۵ ۰۹:۰۰", "وضعیت: حضور ثبت شد"]
            done = status(w, w.booking)
            assert done[0] == "checked_in" and done[2].startswith("terminal:") and done[3] is None
            # The repeat (0201, same STAN) is answered as the first and writes nothing.
            w.clock.advance(seconds=30)
            again = await conn.send(Message("0201", check_in.fields), w.terminal)
            assert again.response_code == "00" and again.get_bytes("48") == first.get_bytes("48")
            assert status(w, w.booking) == done
            assert count(w, "SELECT COUNT(*) FROM appointments_requests WHERE kind = 'terminal.check_in'") == 1
            # A new request for the same booking: it is checked in already (12).
            assert (await conn.send(ask(w, "0200", CODE), w.terminal)).response_code == "12"
            looked_again = await conn.send(ask(w, "0100", CODE), w.terminal)
            assert looked_again.response_code == "00" and lines(looked_again)[-1] == "وضعیت: حاضرشده"
            # The same STAN for another booking: 94, and that booking is untouched.
            second_code = code_of(w, w.second)
            other = ask(w, "0200", second_code, stan=check_in.stan)
            assert (await conn.send(other, w.terminal)).response_code == "94"
            assert status(w, w.second)[0] == "booked"
            # A cancelled booking cannot be checked in (12).
            store.change(w.service.plugin_services, Caller("management", w.club, "test"), w.second, "cancel", "تست", None)
            assert (await conn.send(ask(w, "0200", second_code), w.terminal)).response_code == "12"
            assert status(w, w.second)[0] == "cancelled"

    asyncio.run(body())


async def examples(w: World) -> list[tuple[str, str]]:
    """(request, answer) of a lookup and a check-in, framed, in upper-case hex: the document's."""
    found = []
    async with serving(w.service, allow_unkeyed=False) as srv, connected(srv) as conn:
        for mti, stan in (("0100", "000101"), ("0200", "000102")):
            req = ask(w, mti, CODE, stan=stan)
            raw = to_bytes(req, w.terminal)
            answer = await conn.send_raw(raw)
            assert decode(answer, KIMIA_V1).response_code == "00"
            found.append((frame(raw, KIMIA_V1).hex().upper(), frame(answer, KIMIA_V1).hex().upper()))
    return found


def test_the_documented_examples_are_what_the_host_sends(world: World) -> None:
    section = DOC.read_text(encoding="utf-8").split("#### Appointments", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"```hex\n([0-9A-F]+)\n```", section)
    made = [h for pair in asyncio.run(examples(world)) for h in pair]
    assert documented == made, "\n\n".join(made)
