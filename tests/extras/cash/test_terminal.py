"""The cash extra's terminal operations over a real TCP socket: a TerminalServer on loopback, the
reference client, MAC'd messages, on SQLite and on PostgreSQL.

``0200/94`` records an expense (4 the amount, 48 EX the category, NT a note), ``0200/95`` a cash
receipt (EX optional). Approved 00 with Persian receipt lines; refused 13 (amount), 12 (unknown
category), 30 (an expense without EX, or no field 4); a repeat is answered byte for byte and
records once; the same key with another amount is 94.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kimia.service import Kimia
from kimia.terminal import tlv
from kimia.terminal.client import TerminalIdentity, request, to_bytes
from kimia.terminal.codec import Message, decode
from kimia.terminal.dialect import KIMIA_V1
from kimia.terminal.handlers import TEHRAN
from kimia.terminal.mac import verify_message
from kimia.world import WorldBuilder
from service.builders import FakeClock
from terminal.conftest import TEST_KEK, connected, serving

TID, MID = "T0000094", "M00000000000094"
MAC_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


@pytest.fixture(autouse=True)
def terminal_kek(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KIMIA_TERMINAL_KEK", TEST_KEK)
    return TEST_KEK


@dataclass
class Shop:
    service: Kimia
    club: int
    merchant: int
    terminal: TerminalIdentity
    terminal_id: int


@pytest.fixture
def shop(open_service: Any, db_url: str, terminal_kek: str) -> Iterator[Shop]:
    """A club with one merchant and one MAC-keyed card reader, on the real clock (the host
    checks field 7 against it)."""
    service = open_service(db_url)
    try:
        b = WorldBuilder(service)
        s = b.shop("مالک", "باشگاه آزمون", "نانوایی")
        terminal_id = b.terminal(s.merchant_id, TID, MID, kind="pos", mac_key=MAC_KEY)
        yield Shop(service, s.club_id, s.merchant_id, b.terminals[-1], terminal_id)
        report = service.check()
        assert report.ok, report.summary()
    finally:
        service.close()


def items_of(answer: Message) -> list[tuple[str, str]]:
    return tlv.decode_tlv(answer.get_bytes("48") or b"")


def lines_of(answer: Message) -> list[str]:
    return tlv.tlv_get_all(items_of(answer), tlv.RL)


def entries(service: Kimia) -> list[Any]:
    with service.reading() as tx:
        return tx.all("SELECT id, kind, amount_rial, category_id, note, source, terminal_id, actor, voided_at FROM cash_entries"
                      " ORDER BY id")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_an_expense_and_a_cash_receipt_from_the_card_reader(shop: Shop) -> None:
    t = shop.terminal

    async def body() -> tuple[Message, Message, Message]:
        async with serving(shop.service, allow_unkeyed=False) as srv, connected(srv) as conn:
            rent = request(t, "0200", "940000", amount_rial=2_500_000, items=[(tlv.EX, "rent"), (tlv.NT, "اجارهٔ آذر")])
            raw = await conn.send_raw(to_bytes(rent, t))
            assert verify_message(raw, KIMIA_V1, MAC_KEY)  # the answer is MAC'd like every other
            first = decode(raw, KIMIA_V1)
            # A cash receipt, without a category, and one with a category typed in capitals.
            sale = request(t, "0200", "950000", amount_rial=150_000)
            second = await conn.send(sale, t)
            debts = request(t, "0200", "950000", amount_rial=50_000, items=[(tlv.EX, "DEBTS"), (tlv.NT, "ب" * 300)])
            third = await conn.send(debts, t)
            return first, second, third

    first, second, third = run(body())
    assert first.mti == "0210" and first.response_code == "00"
    assert lines_of(first) == ["هزینه ثبت شد: اجاره ۲٬۵۰۰٬۰۰۰ ریال", "جمع هزینه‌های امروز: ۲٬۵۰۰٬۰۰۰ ریال",
                               "جمع دریافت‌های نقدی امروز: ۰ ریال", "شماره ثبت: ۱"]
    assert first.get_str("37") == "000000000001" and first.get_str("38") == "000001"
    assert second.response_code == "00"
    assert lines_of(second)[0] == "دریافت نقدی ثبت شد: ۱۵۰٬۰۰۰ ریال"
    assert lines_of(second)[1:3] == ["جمع هزینه‌های امروز: ۲٬۵۰۰٬۰۰۰ ریال", "جمع دریافت‌های نقدی امروز: ۱۵۰٬۰۰۰ ریال"]
    assert third.response_code == "00" and lines_of(third)[0] == "دریافت نقدی ثبت شد: وصول طلب ۵۰٬۰۰۰ ریال"
    rows = entries(shop.service)
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == [("expense", 2_500_000, "اجارهٔ آذر", "terminal"),
                                                          ("receipt", 150_000, "", "terminal"),
                                                          ("receipt", 50_000, "ب" * 200, "terminal")]  # a long note is cut
    assert rows[1][3] is None and rows[0][3] is not None
    assert {r[6] for r in rows} == {shop.terminal_id} and {r[7] for r in rows} == {f"terminal:{shop.terminal_id}"}


def test_a_repeat_is_answered_as_the_first_and_records_once(shop: Shop) -> None:
    t = shop.terminal

    async def body() -> None:
        async with serving(shop.service, allow_unkeyed=False) as srv, connected(srv) as conn:
            req = request(t, "0200", "940000", amount_rial=700_000, items=[(tlv.EX, "bills")])
            first = await conn.send_raw(to_bytes(req, t))
            # The same message again (its answer was lost), and as a 0201 repeat sent later.
            again = await conn.send_raw(to_bytes(req, t))
            assert again == first
            fields = dict(req.fields)
            repeat = await conn.send_raw(to_bytes(Message("0201", fields), t))
            assert decode(repeat, KIMIA_V1).fields == decode(first, KIMIA_V1).fields
            assert decode(first, KIMIA_V1).response_code == "00"
            # The same key (terminal, STAN, date) with another amount: 94, nothing recorded.
            other = Message("0200", {**fields, "4": "000000900000"})
            assert (await conn.send(other, t)).response_code == "94"

    run(body())
    assert [(r[1], r[2]) for r in entries(shop.service)] == [("expense", 700_000)]


@pytest.mark.parametrize(("code", "amount", "items", "answer"), [
    ("940000", 0, [(tlv.EX, "rent")], "13"),  # amount_must_be_positive
    ("940000", 100_000_000_001, [(tlv.EX, "rent")], "13"),  # amount_too_large
    ("940000", 10_000, [(tlv.EX, "no-such")], "12"),  # unknown_category
    ("940000", 10_000, [(tlv.NT, "بدون دسته")], "30"),  # an expense without EX: invalid_request
    ("950000", 10_000, [(tlv.EX, "rent")], "12"),  # rent is an expense category, not a receipt's
    ("940000", None, [(tlv.EX, "rent")], "30"),  # no field 4 (required)
])
def test_refusals_record_nothing(shop: Shop, code: str, amount: int | None, items: list[tuple[str, str]], answer: str) -> None:
    t = shop.terminal

    async def body() -> Message:
        async with serving(shop.service, allow_unkeyed=False) as srv, connected(srv) as conn:
            return await conn.send(request(t, "0200", code, amount_rial=amount, items=items), t)

    ans = run(body())
    assert ans.response_code == answer and ans.mti == "0210"
    assert entries(shop.service) == []


def test_a_disabled_category_is_refused_at_the_terminal(shop: Shop) -> None:
    t = shop.terminal
    with shop.service.reading() as tx:
        assert tx.one("SELECT COUNT(*) FROM cash_categories")[0] == 0  # the defaults come on first use

    async def record(code: str) -> Message:
        async with serving(shop.service, allow_unkeyed=False) as srv, connected(srv) as conn:
            return await conn.send(request(t, "0200", "940000", amount_rial=10_000, items=[(tlv.EX, code)]), t)

    assert run(record("transport")).response_code == "00"
    with shop.service.reading() as tx:
        assert tx.one("SELECT COUNT(*) FROM cash_categories WHERE merchant_id IS NULL AND club_id = ?", (shop.club,))[0] == 9
    from kimia.service.plugin_services import PluginServices
    PluginServices(shop.service).write(lambda db: db.execute("UPDATE cash_categories SET active = 0 WHERE code = 'transport'"))
    assert run(record("transport")).response_code == "12"
    assert len(entries(shop.service)) == 1


# --- the example of docs/terminal-protocol.md ------------------------------------------------------------

#: The documented example's moment: 1405/09/16 (7 December 2026) 08:30 in Tehran, 05:00 GMT.
EXAMPLE_AT = 1_796_619_600
DOC = Path(__file__).resolve().parents[3] / "docs" / "terminal-protocol.md"


def example_bytes(open_service: Any, db_url: str) -> tuple[bytes, bytes]:
    """The framed request and answer of the documented example, as the host exchanges them: a
    fresh club, its terminal T0000001 / M00000000000001 keyed with ``MAC_KEY``, an expense of
    2,500,000 rials for rent with a note, on a clock stopped at :data:`EXAMPLE_AT`."""
    clock = FakeClock(EXAMPLE_AT)
    service = open_service(db_url, clock=clock)
    try:
        b = WorldBuilder(service)
        s = b.shop("مالک", "باشگاه آزمون", "نانوایی")
        b.terminal(s.merchant_id, "T0000001", "M00000000000001", kind="pos", mac_key=MAC_KEY)
        t = TerminalIdentity("T0000001", "M00000000000001", mac_key=MAC_KEY)
        at = dt.datetime.fromtimestamp(EXAMPLE_AT, TEHRAN)
        req = request(t, "0200", "940000", amount_rial=2_500_000, items=[(tlv.EX, "rent"), (tlv.NT, "آذر")], stan="000124", now=at)
        raw = to_bytes(req, t)

        async def body() -> bytes:
            async with serving(service, allow_unkeyed=False) as srv, connected(srv) as conn:
                return await conn.send_raw(raw)

        answer = run(body())
        return struct.pack(">H", len(raw)) + raw, struct.pack(">H", len(answer)) + answer
    finally:
        service.close()


def test_the_documented_example_is_what_the_host_answers(open_service: Any, db_url: str, terminal_kek: str) -> None:
    sent, answered = example_bytes(open_service, db_url)
    doc = DOC.read_text(encoding="utf-8")
    section = doc.split("#### Expenses and cash receipts", 1)[1].split("\n#### ", 1)[0]
    assert sent.hex().upper() in section, sent.hex().upper()
    assert answered.hex().upper() in section, answered.hex().upper()
    answer = decode(answered[2:], KIMIA_V1)
    assert answer.response_code == "00" and verify_message(answered[2:], KIMIA_V1, MAC_KEY)
    assert lines_of(answer)[0] == "هزینه ثبت شد: اجاره ۲٬۵۰۰٬۰۰۰ ریال"
