"""What a terminal vendor relies on (issue 12): required fields, currency, integers from the wire,
one meaning per tag, reversals matched by field 90 and partial by field 95, refusals logged and
counted, idle and frame timeouts, sign-on. A real TerminalServer on loopback TCP, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

import pytest
from sqlalchemy import text

from kimia.service import Kimia
from kimia.terminal import tlv
from kimia.terminal.client import TEHRAN, TerminalIdentity, request
from kimia.terminal.codec import Message, encode
from kimia.terminal.dialect import KIMIA_V1
from kimia.terminal.framing import frame
from kimia.terminal.server import TerminalServer

from .conftest import connected, serving
from .test_server_flows import MAC_KEY, MK, PAN, World, assert_answer, build, count, rows, run, tag

LOGGER = "kimia.terminal.server"
PAN2 = "6219861034529007"


@pytest.fixture
def world(service: Kimia) -> World:
    return build(service)


def without(message: Message, *fids: str) -> Message:
    return Message(message.mti, {k: v for k, v in message.fields.items() if k not in fids})


def with_fields(message: Message, **fields: str) -> Message:
    return Message(message.mti, {**message.fields, **{k.lstrip("f"): v for k, v in fields.items()}})


def ledger(service: Kimia) -> tuple[int, int]:
    """(operations, journal legs): nothing posted means neither moves."""
    return count(service, "operations"), count(service, "journal")


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def send(srv: TerminalServer, message: Message, t: TerminalIdentity) -> Message:
    async with connected(srv) as conn:
        return await conn.send(message, t, timeout_s=10)


# -- item 2: required fields and the currency ---------------------------------------------------------


@pytest.mark.parametrize("missing", ["3", "4", "12", "13", "49", "7"])
def test_a_purchase_missing_a_required_field_is_a_format_error(world: World, missing: str) -> None:
    t = world.terminal
    buy = without(request(t, "0200", "000000", amount_rial=500_000, items=MK, rrn="REQ000000001"), missing)

    async def body() -> None:
        async with serving(world.service) as srv:
            assert (await send(srv, buy, t)).response_code == "30"

    before = ledger(world.service)
    run(body())
    assert ledger(world.service) == before


@pytest.mark.parametrize(("mti", "code", "missing"), [("0100", "000000", "4"), ("0100", "000000", "49"), ("0220", "000000", "37"),
                                                       ("0200", "200000", "4"), ("0100", "310000", "3")])
def test_other_requests_missing_a_required_field_are_format_errors(world: World, mti: str, code: str, missing: str) -> None:
    t = world.terminal
    items = [(tlv.HR, "1")] if mti == "0220" else [(tlv.OR, "X")] if code == "200000" else MK
    message = without(request(t, mti, code, amount_rial=None if code == "310000" else 100_000, items=items, rrn="REQ000000002"), missing)

    async def body() -> None:
        async with serving(world.service) as srv:
            assert (await send(srv, message, t)).response_code == "30"

    before = ledger(world.service)
    run(body())
    assert ledger(world.service) == before


@pytest.mark.parametrize("currency", ["840", "978", "000"])
def test_an_amount_in_another_currency_is_refused(world: World, currency: str) -> None:
    t = world.terminal
    buy = with_fields(request(t, "0200", "000000", amount_rial=500_000, items=MK, rrn="CUR000000001"), f49=currency)
    hold = with_fields(request(t, "0100", "000000", amount_rial=500_000, items=MK), f49=currency)

    async def body() -> None:
        async with serving(world.service) as srv:
            for message in (buy, hold):
                answer = await send(srv, message, t)
                assert_answer(message, answer, "13")

    before = ledger(world.service)
    run(body())
    assert ledger(world.service) == before


# -- item 3: integers from the wire -------------------------------------------------------------------


@pytest.mark.parametrize("account", [str(2**63), str(2**64 + 5), "9" * 30])
def test_a_member_key_beyond_64_bits_is_an_unknown_member(world: World, account: str, caplog: pytest.LogCaptureFixture) -> None:
    t = world.terminal
    buy = request(t, "0200", "000000", amount_rial=500_000, items=[(tlv.MK, f"A:{account}")], rrn="BIG000000001")
    inquiry = request(t, "0100", "310000", items=[(tlv.MK, f"A:{account}")])

    async def body() -> None:
        async with serving(world.service) as srv:
            assert (await send(srv, buy, t)).response_code == "14"
            assert (await send(srv, inquiry, t)).response_code == "14"

    before = ledger(world.service)
    run(body())
    assert ledger(world.service) == before
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(("items", "code"), [
    ([(tlv.MK, "A:²")], "30"),
    ([(tlv.MK, "A:۱۲")], "30"),  # Persian digits: not accepted in an account key
    ([*MK, (tlv.RC, "²")], "30"),
    ([*MK, (tlv.RC, "۵۰۰۰")], "30"),
    ([*MK, (tlv.RC, str(2**63))], "13"),
    ([*MK, (tlv.RC, "9" * 40)], "13"),
])
def test_digits_that_are_not_ascii_and_huge_amounts_get_their_codes(world: World, items: list[tuple[str, str]], code: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    t = world.terminal
    buy = request(t, "0200", "000000", amount_rial=500_000, items=items, rrn="DIG000000001")

    async def body() -> None:
        async with serving(world.service) as srv:
            assert (await send(srv, buy, t)).response_code == code

    before = ledger(world.service)
    run(body())
    assert ledger(world.service) == before
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("hold_ref", [str(2**63), str(2**70)])
def test_a_completion_naming_an_impossible_hold_is_recorded_not_refused(world: World, hold_ref: str,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    t = world.terminal
    advice = request(t, "0220", "000000", amount_rial=100_000, items=[(tlv.HR, hold_ref)], rrn="BANK00000099")
    garbled = request(t, "0220", "000000", amount_rial=100_000, items=[(tlv.HR, "²")], rrn="BANK00000098")

    async def body() -> None:
        async with serving(world.service) as srv:
            assert (await send(srv, advice, t)).response_code == "00"  # an advice is not declined
            assert (await send(srv, garbled, t)).response_code == "30"  # unreadable: the one exception

    run(body())
    assert tracebacks(caplog) == []
    review = rows(world.service, "SELECT payload FROM audit_log WHERE action = 'completion_advice_not_applied'")
    assert len(review) == 1 and hold_ref in str(review[0][0])


# -- item 4: one meaning per tag ------------------------------------------------------------------------


def test_balance_tags_mean_the_same_in_every_answer(world: World) -> None:
    service, t = world.service, world.terminal
    # A credit line is usable here (CU) but is not credit the member holds (BC).
    service.set_credit_limit(world.club, world.member, 50_000, actor="test", reason="test")
    with service.engine.begin() as conn:
        conn.execute(text("UPDATE members SET tier = 'طلایی' WHERE id = :id"), {"id": world.member})
    service.caches.clear()

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            inquiry = request(t, "0100", "310000", items=MK)
            answer = await conn.send(inquiry, t)
            assert_answer(inquiry, answer, "00")
            assert (tag(answer, tlv.BC), tag(answer, tlv.CU), tag(answer, tlv.TR)) == ("200000", "250000", "طلایی")
            buy = request(t, "0200", "000000", amount_rial=300_000, items=[*MK, (tlv.RC, "20000")], rrn="TAG000000001")
            answer = await conn.send(buy, t)
            assert_answer(buy, answer, "00")
            assert (tag(answer, tlv.BC), tag(answer, tlv.TR)) == ("180000", "طلایی")
            hold = request(t, "0100", "000000", amount_rial=100_000, items=[*MK, (tlv.RC, "30000")])
            answer = await conn.send(hold, t)
            assert (tag(answer, tlv.BC), tag(answer, tlv.TR)) == ("150000", "طلایی")
            done = request(t, "0220", "000000", amount_rial=100_000, items=[(tlv.HR, tag(answer, tlv.HR) or "")], rrn="BANK00000001")
            answer = await conn.send(done, t)
            assert_answer(done, answer, "00")
            assert (tag(answer, tlv.BC), tag(answer, tlv.TR)) == ("150000", "طلایی")
            inquiry = request(t, "0100", "310000", items=MK)
            answer = await conn.send(inquiry, t)
            assert (tag(answer, tlv.BC), tag(answer, tlv.CU)) == ("150000", "200000")
            assert answer.get_str("54") == "1002364C000000150000"  # 54 repeats BC

    run(body())


# -- item 5: reversals ----------------------------------------------------------------------------------


def _refunded(service: Kimia, rrn: str) -> int:
    return int(rows(service, "SELECT refunded_rial FROM operations WHERE reference = ?", (rrn,))[0][0])


def test_a_partial_reversal_by_field_95_reverses_only_the_difference(world: World) -> None:
    service, t = world.service, world.terminal

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=500_000, items=MK, rrn="PRV000000001")
            assert (await conn.send(buy, t)).response_code == "00"
            # The sale came to 400,000 after all: field 95 carries the actual amount.
            partial = with_fields(request(t, "0420", "000000", amount_rial=500_000, original=buy), f95="000000400000" + "0" * 30)
            assert (await conn.send(partial, t)).response_code == "00"
            assert _refunded(service, "PRV000000001") == 100_000
            assert tag(await conn.send(request(t, "0100", "310000", items=MK), t), tlv.BP) == "40"
            # Its repeat changes nothing; a full reversal afterwards takes the rest.
            assert (await conn.send(Message("0421", partial.fields), t)).response_code == "00"
            assert _refunded(service, "PRV000000001") == 100_000
            full = request(t, "0420", "000000", amount_rial=500_000, original=buy)
            assert (await conn.send(full, t)).response_code == "00"
            assert _refunded(service, "PRV000000001") == 500_000
            assert tag(await conn.send(request(t, "0100", "310000", items=MK), t), tlv.BP) == "0"

    run(body())


def test_field_4_of_a_reversal_does_not_say_how_much_to_reverse(world: World) -> None:
    service, t = world.service, world.terminal

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=500_000, items=MK, rrn="PRV000000002")
            assert (await conn.send(buy, t)).response_code == "00"
            rev = request(t, "0420", "000000", amount_rial=1, original=buy)  # field 4 is the original's amount, as documented
            assert (await conn.send(rev, t)).response_code == "00"

    run(body())
    assert _refunded(service, "PRV000000002") == 500_000


def test_a_reversal_finds_its_original_by_the_date_in_field_90(world: World) -> None:
    """Yesterday's sale and today's share a STAN; a reversal sent today for yesterday's names it in
    field 90 (its transmission date-time), and only yesterday's is reversed."""
    service, t = world.service, world.terminal
    now = dt.datetime.now(TEHRAN)
    yesterday = now - dt.timedelta(days=1)

    async def body() -> None:
        # Yesterday's sale is sent as it was then: the freshness window is widened to let it in.
        async with serving(service, freshness_s=2 * 86_400) as srv, connected(srv) as conn:
            old = request(t, "0200", "000000", amount_rial=300_000, items=MK, rrn="DAY000000001", stan="000777", now=yesterday)
            assert (await conn.send(old, t)).response_code == "00"
            new = request(t, "0200", "000000", amount_rial=200_000, items=MK, rrn="DAY000000002", stan="000777", now=now)
            assert (await conn.send(new, t)).response_code == "00"
            rev = request(t, "0420", "000000", amount_rial=300_000, original=old, now=now)
            assert (await conn.send(rev, t)).response_code == "00"

    run(body())
    assert _refunded(service, "DAY000000001") == 300_000
    assert _refunded(service, "DAY000000002") == 0


def test_a_reversal_naming_another_acquirer_finds_no_original(world: World) -> None:
    service, t = world.service, world.terminal

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=300_000, items=MK, rrn="ACQ000000001")
            assert (await conn.send(buy, t)).response_code == "00"
            rev = request(t, "0420", "000000", amount_rial=300_000, original=buy)
            data = rev.get_str("90") or ""
            foreign = with_fields(rev, f90=data[:20] + "00000627381" + "00000000000")
            assert (await conn.send(foreign, t)).response_code == "25"

    run(body())
    assert _refunded(service, "ACQ000000001") == 0


# -- item 6: refusals and drops are logged and counted ---------------------------------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_bad_macs_dropped_frames_and_format_errors_are_logged_with_a_reason_and_counted(
        service: Kimia, caplog: pytest.LogCaptureFixture) -> None:
    world = build(service, mac_key=MAC_KEY)
    t = world.terminal
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def body() -> TerminalServer:
        async with serving(service) as srv:
            buy = request(t, "0200", "000000", amount_rial=100_000, pan=PAN, rrn="LOG000000001")
            wrong = TerminalIdentity(t.terminal_id, t.merchant_id, mac_key=bytes(16))
            assert (await send(srv, buy, wrong)).response_code == "63"
            assert (await send(srv, without(buy, "49"), t)).response_code == "30"
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(frame(b"\x00garbage that is no message", KIMIA_V1))
            await writer.drain()
            assert await reader.read() == b""  # dropped: no answer, the connection closed
            writer.close()
            return srv

    srv = run(body())
    lines = _warnings(caplog)
    bad_mac = [line for line in lines if "reason=bad_mac" in line]
    assert len(bad_mac) == 1 and "code=63" in bad_mac[0] and "603799******7893" in bad_mac[0]
    assert any("reason=missing_field:49" in line and "code=30" in line for line in lines)
    assert any("frame dropped" in line and "reason=decode:" in line for line in lines)
    assert all(PAN not in r.getMessage() for r in caplog.records)
    metrics = srv.metrics()
    assert (metrics["bad_mac"], metrics["format_errors"], metrics["dropped"]) == (1, 1, 1)
    assert metrics["refused:bad_mac"] == 1 and metrics["refused:missing_field:49"] == 1


def test_a_deadline_91_is_logged_and_counted(world: World, caplog: pytest.LogCaptureFixture) -> None:
    service, t = world.service, world.terminal
    real_submit_async = service.writer.submit_async

    async def slow_submit_async(work: Any) -> Any:
        await asyncio.sleep(0.4)
        return await real_submit_async(work)

    async def body() -> TerminalServer:
        service.writer.submit_async = slow_submit_async  # type: ignore[method-assign,assignment]
        try:
            async with serving(service, deadline_s=0.15) as srv:
                buy = request(t, "0200", "000000", amount_rial=100_000, pan=PAN2, rrn="LOG000000002")
                assert (await send(srv, buy, t)).response_code == "91"
                await asyncio.sleep(0.5)
                return srv
        finally:
            service.writer.submit_async = real_submit_async  # type: ignore[method-assign]

    srv = run(body())
    deadline = [line for line in _warnings(caplog) if "reason=deadline" in line]
    assert len(deadline) == 1 and "code=91" in deadline[0] and "621986******9007" in deadline[0]
    assert srv.metrics()["timeouts"] == 1 and srv.metrics()["refused:deadline"] == 1


# -- item 7: timeouts and sign-on --------------------------------------------------------------------------


def test_sign_on_needs_7_11_41_42_and_70_only(world: World) -> None:
    t = world.terminal

    async def body() -> None:
        async with serving(world.service) as srv:
            for code in ("001", "301", "002"):
                bare = without(request(t, "0800", None, network_code=code), "12", "13")
                assert_answer(bare, await send(srv, bare, t), "00")
            for missing in ("7", "11", "70"):
                message = without(request(t, "0800", None, network_code="001"), missing)
                assert (await send(srv, message, t)).response_code == "30"

    run(body())


def test_the_idle_timeout_and_the_frame_timeout_are_separate(world: World) -> None:
    t = world.terminal
    assert TerminalServer(world.service).idle_timeout_s <= 60  # an idle connection is closed within a minute by default
    data = frame(encode(request(t, "0800", None, network_code="301"), KIMIA_V1), KIMIA_V1)

    async def body() -> None:
        async with serving(world.service, idle_timeout_s=5.0, frame_timeout_s=0.3) as srv:
            # A frame started and never finished is closed at the frame timeout, long before the idle one.
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(data[:5])
            await writer.drain()
            started = time.monotonic()
            assert await asyncio.wait_for(reader.read(), 3) == b""
            assert time.monotonic() - started < 3
            writer.close()
            # A connection quiet between frames is kept until the idle timeout: it still answers.
            async with connected(srv) as conn:
                await asyncio.sleep(0.6)
                answer = await conn.send(request(t, "0800", None, network_code="301"), t)
                assert answer.response_code == "00"

    run(body())
