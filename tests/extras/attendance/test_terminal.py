"""Attendance on the card reader over a real TCP socket (processing code 93): register a person
(0100/93), clock in and out (0200/93); refusals with their response codes; a repeat answered the
same, byte for byte, and written once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from kimia.service import Kimia
from kimia.terminal import tlv
from kimia.terminal.client import TerminalIdentity, request
from kimia.terminal.codec import Message, decode
from kimia.terminal.dialect import KIMIA_V1
from kimia.terminal.mac import verify_message
from kimia.world import WorldBuilder
from terminal.conftest import connected, service, serving, terminal_kek  # noqa: F401  (fixtures)

TID, MID = "T0000093", "M00000000000093"
MAC_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
CARD = "6037991234567893"


@dataclass
class Shop:
    service: Kimia
    club: int
    merchant: int
    terminal: TerminalIdentity


@pytest.fixture
def shop(service: Kimia) -> Shop:  # noqa: F811
    b = WorldBuilder(service)
    made = b.shop("مالک", "باشگاه آزمون", "کافه")
    b.terminal(made.merchant_id, TID, MID, mac_key=MAC_KEY)
    return Shop(service, made.club_id, made.merchant_id, b.terminals[-1])


def items_of(answer: Message) -> list[tuple[str, str]]:
    return tlv.decode_tlv(answer.get_bytes("48") or b"")


def rows(service: Kimia, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with service.reading() as tx:
        return tx.all(sql, params)


def count(service: Kimia, table: str) -> int:
    return int(rows(service, f"SELECT COUNT(*) FROM {table}")[0][0])


def register_msg(t: TerminalIdentity, code: str | None, name: str | None, *, pan: str | None = None) -> Message:
    items = [(k, v) for k, v in (("ST", code), ("SN", name)) if v is not None]
    return request(t, "0100", "930000", items=items, pan=pan)


def clock_msg(t: TerminalIdentity, code: str, direction: str) -> Message:
    return request(t, "0200", "930000", items=[("ST", code), ("AD", direction)])


async def exchange(shop: Shop, *messages: Message) -> list[tuple[Message, bytes]]:
    """Send each message (MAC'd) on one connection; the decoded answers with their raw bytes."""
    out = []
    async with serving(shop.service, allow_unkeyed=False) as srv, connected(srv) as conn:
        for msg in messages:
            from kimia.terminal.client import to_bytes

            raw = await conn.send_raw(to_bytes(msg, shop.terminal), timeout_s=10)
            assert verify_message(raw, KIMIA_V1, MAC_KEY), "the answer's MAC"
            out.append((decode(raw, KIMIA_V1), raw))
    return out


def test_register_then_clock_in_and_out(shop: Shop) -> None:
    t = shop.terminal
    reg = register_msg(t, "4521", "مریم احمدی")
    first_in = clock_msg(t, "4521", "I")
    again_in = clock_msg(t, "4521", "I")
    out = clock_msg(t, "4521", "O")
    again_out = clock_msg(t, "4521", "O")
    answers = asyncio.run(exchange(shop, reg, first_in, again_in, out, again_out))
    (r, _), (i, _), (i2, _), (o, _), (o2, _) = answers
    assert r.mti == "0110" and r.response_code == "00"
    assert ("RL", "ثبت شد: مریم احمدی") in items_of(r) and ("SN", "مریم احمدی") in items_of(r)
    assert i.mti == "0210" and i.response_code == "00"
    lines = [v for k, v in items_of(i) if k == "RL"]
    assert lines[0] == "مریم احمدی" and lines[1].startswith("ورود: ۱۴") and ("AD", "I") in items_of(i)
    assert i2.response_code == "05"  # already_clocked_in
    assert o.response_code == "00" and [v for k, v in items_of(o) if k == "RL"][1].startswith("خروج: ")
    assert o2.response_code == "05"  # not_clocked_in
    assert count(shop.service, "attendance_staff") == 1 and count(shop.service, "attendance_records") == 2
    stored = rows(shop.service, "SELECT code_hash, code_last4, name, merchant_id FROM attendance_staff")[0]
    assert "4521" not in stored[0] and stored[1] == "4521" and stored[3] == shop.merchant
    recs = rows(shop.service, "SELECT direction, source, terminal_id, actor FROM attendance_records ORDER BY id")
    assert [r[0] for r in recs] == ["in", "out"] and all(r[1] == "terminal" and r[2] is not None for r in recs)


def test_a_staff_card_is_never_stored_in_clear(shop: Shop) -> None:
    t = shop.terminal
    reg = register_msg(t, None, "کارت", pan=CARD)
    swipe = request(t, "0200", "930000", items=[("AD", "I")], pan=CARD)
    (r, _), (i, _) = asyncio.run(exchange(shop, reg, swipe))
    assert r.response_code == "00" and i.response_code == "00"
    stored = rows(shop.service, "SELECT code_hash, code_last4 FROM attendance_staff")[0]
    assert CARD not in stored[0] and stored[1] == CARD[-4:]
    assert "2" not in r.fields and "2" not in i.fields
    for table, columns in (("attendance_staff", "*"), ("attendance_records", "*")):
        assert CARD not in repr(rows(shop.service, f"SELECT {columns} FROM {table}"))


def test_refusals_and_their_response_codes(shop: Shop) -> None:
    t = shop.terminal
    msgs = [
        clock_msg(t, "9999", "I"),  # unknown_staff → 14
        register_msg(t, "1234", "علی"),
        register_msg(t, "1234", "رضا"),  # staff_code_taken → 05
        clock_msg(t, "1234", "O"),  # not_clocked_in → 05
        clock_msg(t, "1234", "X"),  # a direction that is neither → 30
        register_msg(t, "1234", None),  # no name → 30
        register_msg(t, "۱۲۳۴!", "بد"),  # not a code → 30
        request(t, "0200", "930000", items=[("AD", "I")]),  # no code at all → 30
    ]
    missing3 = request(t, "0200", None, items=[("ST", "1234"), ("AD", "I")])
    answers = asyncio.run(exchange(shop, *msgs, missing3))
    assert [a.response_code for a, _ in answers] == ["14", "00", "05", "05", "30", "30", "30", "30", "30"]
    assert count(shop.service, "attendance_staff") == 1 and count(shop.service, "attendance_records") == 0


def test_a_repeat_is_answered_the_same_and_written_once(shop: Shop) -> None:
    t = shop.terminal
    reg = register_msg(t, "7777", "سارا")
    reg_again = Message("0100", {k: v for k, v in reg.fields.items() if k != "64"})  # the same request again
    clock_in = clock_msg(t, "7777", "I")
    clock_again = Message("0201", {k: v for k, v in clock_in.fields.items() if k != "64"})  # its repeat form
    answers = asyncio.run(exchange(shop, reg, reg_again, clock_in, clock_again))
    (r1, raw1), (r2, raw2), (c1, craw1), (c2, craw2) = answers
    assert r1.response_code == r2.response_code == "00" and items_of(r1) == items_of(r2)
    assert c1.response_code == c2.response_code == "00" and items_of(c1) == items_of(c2)
    assert raw1 == raw2 and craw1 == craw2  # the same bytes (same field 7 sent: the same answer, MAC included)
    assert count(shop.service, "attendance_staff") == 1 and count(shop.service, "attendance_records") == 1
    # The same key for another direction is another request: 94, nothing written.
    other = Message("0201", {**{k: v for k, v in clock_in.fields.items() if k != "64"}, "48": tlv.encode_tlv([("ST", "7777"), ("AD", "O")])})
    (o, _), = asyncio.run(exchange(shop, other))
    assert o.response_code == "94" and count(shop.service, "attendance_records") == 1


def test_the_protocol_documents_attendance_with_bytes_that_decode() -> None:
    """docs/terminal-protocol.md, *Attendance*: its four hex examples are a 0100/93, its 0110, a
    0200/93 and its 0210, MAC'd under the documented key, carrying the documented tags."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "terminal-protocol.md").read_text(encoding="utf-8")
    section = doc.split("#### Attendance", 1)[1].split("####", 1)[0]
    frames = [bytes.fromhex(h) for h in re.findall(r"```text\n([0-9A-F]+)\n```", section)]
    assert len(frames) == 4
    wanted = [("0100", [("ST", "4521"), ("SN", "مریم")]), ("0110", None), ("0200", [("ST", "4521"), ("AD", "I")]), ("0210", None)]
    for frame, (mti, items) in zip(frames, wanted):
        raw = frame[2:]
        assert int.from_bytes(frame[:2], "big") == len(raw)
        assert verify_message(raw, KIMIA_V1, MAC_KEY)
        msg = decode(raw, KIMIA_V1)
        assert msg.mti == mti and msg.get_str("3") == "930000"
        if items is not None:
            assert items_of(msg) == items
        else:
            assert msg.response_code == "00" and ("SN", "مریم") in items_of(msg)
