"""The duplicate and reversal matrix over a real socket, on SQLite and PostgreSQL.

* an identical repeat (resent as is, or in its repeat form 0201 / 0221 / 0401 / 0421) gets the
  stored answer byte for byte and posts nothing again;
* the same natural key with different content gets 94 and posts nothing;
* a reversal of an original the host never saw is acknowledged (00), and the late original is
  then refused (12) and never posts; repeated reversals change nothing;
* a reversal after a partial refund reverses what is left;
* a request that misses its deadline is answered 91 and not posted; the same request later posts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kimia.service import Admin, Kimia
from kimia.terminal import tlv
from kimia.terminal.client import TEHRAN, Connection, TerminalIdentity, request, to_bytes
from kimia.terminal.codec import Message, decode
from kimia.terminal.dialect import KIMIA_V1
from kimia.terminal.handlers import idempotency_key
from kimia.terminal.server import TerminalServer

from .conftest import serving, connected

#: These tests are not about cardholder verification (test_verification.py and
#: test_cardholder.py are): the club lets members spend without a PIN, code or card.
OPEN_SPENDING: dict[str, object] = {"verification": {"redeem": [], "bind": []}}

TID, MID = "T0000001", "M00000000000001"
MOBILE = "09121234567"
MK = [(tlv.MK, f"M:{MOBILE}")]
RULES: dict[str, Any] = {
    "rules": [
        {
            "id": "base",
            "name": {"en": "One point per 10,000 rials", "fa": "یک امتیاز به ازای هر ۱۰٬۰۰۰ ریال"},
            "effects": [{"type": "points", "per_rial": 10000, "points": 1}],
            "funding": {"club_owner": 10000},
        }
    ]
}


@dataclass
class World:
    service: Kimia
    club: int
    member: int
    terminal: TerminalIdentity


def build(service: Kimia, *, mac_key: bytes | None = None) -> World:
    admin = Admin(service)
    club = admin.create_club(admin.create_owner("مالک"), "باشگاه آزمون", settings=OPEN_SPENDING)
    merchant = admin.create_merchant(club, "کافه")
    admin.create_terminal(merchant, TID, MID, mac_key_hex=mac_key.hex() if mac_key else None)
    admin.publish_rules(club, RULES, actor="test")
    member = int(service.enroll(club, idem_key="setup-member", identifiers=[("mobile", MOBILE)])["member_id"])
    service.charge(club, member, actor="test", reason="test-setup", idem_key="setup-credit", kind="gift_credit", amount_rial=200_000, source={"type": "club", "id": club})
    return World(service, club, member, TerminalIdentity(TID, MID, mac_key=mac_key))


@pytest.fixture
def world(service: Kimia) -> World:
    return build(service)


def rows(service: Kimia, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with service.reading() as tx:
        return [tuple(r) for r in tx.all(sql, params)]


def one(service: Kimia, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with service.reading() as tx:
        return tx.one(sql, params)


def counts(service: Kimia) -> tuple[int, int, int]:
    """(operations, journal legs, sum of all balances' absolute values) — a fingerprint of the ledger."""
    with service.reading() as tx:
        # A remembered refusal or spent key (status refused / timed_out) posts nothing: not counted.
        ops = int(tx.one("SELECT COUNT(*) FROM operations WHERE status NOT IN ('refused', 'timed_out')")[0])
        legs = int(tx.one("SELECT COUNT(*) FROM journal")[0])
        total = int(tx.one("SELECT COALESCE(SUM(ABS(balance)), 0) FROM balances")[0])
    return ops, legs, total


def key_of(msg: Message, mti: str | None = None) -> str:
    """The operation key the host gives a request: its local date with the year."""
    return idempotency_key(Message(mti or msg.mti, msg.fields), int(time.time()))


def repeat_form(msg: Message) -> Message:
    return Message({"0200": "0201", "0220": "0221", "0400": "0401", "0420": "0421"}[msg.mti], msg.fields)


async def raw_answer(conn: Connection, msg: Message, t: TerminalIdentity) -> bytes:
    return await conn.send_raw(to_bytes(msg, t), timeout_s=10)


async def balance(conn: Connection, t: TerminalIdentity) -> tuple[int, int]:
    ans = await conn.send(request(t, "0100", "310000", items=MK), t, timeout_s=10)
    assert ans.response_code == "00"
    items = tlv.decode_tlv(ans.get_bytes("48") or b"")
    return int(tlv.tlv_get(items, tlv.BP) or -1), int(tlv.tlv_get(items, tlv.BC) or -1)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- identical repeats ------------------------------------------------------------------------


@pytest.mark.parametrize("signed", [False, True], ids=["plain", "mac"])
def test_identical_repeats_get_the_stored_answer_byte_for_byte(service: Kimia, signed: bool) -> None:
    world = build(service, mac_key=bytes(range(16)) if signed else None)
    t = world.terminal

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            # Purchase: resent as is, then as 0201.
            buy = request(t, "0200", "000000", amount_rial=700_000, items=MK + [(tlv.RC, "50000")], rrn="DUP000000001")
            first = await raw_answer(conn, buy, t)
            assert decode(first, KIMIA_V1).response_code == "00"
            after = counts(service)
            assert await raw_answer(conn, buy, t) == first
            assert await raw_answer(conn, repeat_form(buy), t) == first
            # ... also on a new connection (the terminal reconnected after a drop).
            async with connected(srv) as conn2:
                assert await raw_answer(conn2, repeat_form(buy), t) == first
            assert counts(service) == after
            # Hold (0100 has no repeat form: resent as is), completion 0220 / 0221.
            hold = request(t, "0100", "000000", amount_rial=400_000, items=MK + [(tlv.RC, "20000")])
            held = await raw_answer(conn, hold, t)
            assert await raw_answer(conn, hold, t) == held
            hr = tlv.tlv_get(tlv.decode_tlv(decode(held, KIMIA_V1).get_bytes("48") or b""), tlv.HR)
            assert hr
            done = request(t, "0220", "000000", amount_rial=400_000, items=[(tlv.HR, hr)], rrn="BANK00000001")
            completed = await raw_answer(conn, done, t)
            assert decode(completed, KIMIA_V1).response_code == "00"
            after = counts(service)
            assert await raw_answer(conn, repeat_form(done), t) == completed
            assert await raw_answer(conn, done, t) == completed
            assert counts(service) == after
            # Reversal 0420 / 0421 and 0400 / 0401.
            rev = request(t, "0420", "000000", amount_rial=700_000, original=buy)
            reversed_ = await raw_answer(conn, rev, t)
            assert decode(reversed_, KIMIA_V1).response_code == "00"
            after = counts(service)
            assert await raw_answer(conn, repeat_form(rev), t) == reversed_
            assert await raw_answer(conn, repeat_form(rev), t) == reversed_
            buy2 = request(t, "0200", "000000", amount_rial=100_000, items=MK, rrn="DUP000000002")
            assert decode(await raw_answer(conn, buy2, t), KIMIA_V1).response_code == "00"
            rev2 = request(t, "0400", "000000", amount_rial=100_000, original=buy2)
            first_rev2 = await raw_answer(conn, rev2, t)
            after = counts(service)
            assert await raw_answer(conn, repeat_form(rev2), t) == first_rev2
            assert counts(service) == after
            # Refund by RRN, resent.
            buy3 = request(t, "0200", "000000", amount_rial=300_000, items=MK, rrn="DUP000000003")
            assert decode(await raw_answer(conn, buy3, t), KIMIA_V1).response_code == "00"
            refund = request(t, "0200", "200000", amount_rial=100_000, items=[(tlv.OR, "DUP000000003")], rrn="DUP000000004")
            refunded = await raw_answer(conn, refund, t)
            assert decode(refunded, KIMIA_V1).response_code == "00"
            after = counts(service)
            assert await raw_answer(conn, repeat_form(refund), t) == refunded
            assert counts(service) == after
            # Balances: 70 (buy, reversed) -> 0; 40 (hold completion) + 10 (buy2, reversed) + 30 - 10 (refund).
            assert await balance(conn, t) == (60, 180_000)

    run(body())
    assert one(service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'")[0] == 3


def test_a_repeat_with_a_new_transmission_time_gets_the_stored_answer(world: World) -> None:
    """docs/terminal-protocol.md, Duplicates: "identical" excludes the repeat digit, field 7 (set
    anew on each transmission) and the MAC, and the host returns the stored response byte for byte
    (keeping its original field 7)."""
    t = world.terminal

    async def body() -> None:
        async with serving(world.service) as srv, connected(srv) as conn:
            now = dt.datetime.now(TEHRAN)
            buy = request(t, "0200", "000000", amount_rial=700_000, items=MK, rrn="DUP000000010", now=now)
            first = await raw_answer(conn, buy, t)
            assert decode(first, KIMIA_V1).response_code == "00"
            later = request(t, "0201", "000000", amount_rial=700_000, items=MK, rrn="DUP000000010", stan=buy.stan,
                            now=now + dt.timedelta(seconds=40))
            assert later.get_str("7") != buy.get_str("7") and later.local_date == buy.local_date
            assert await raw_answer(conn, later, t) == first

    run(body())


# -- same key, different content ----------------------------------------------------------------


def test_same_key_with_different_content_is_94_and_posts_nothing(world: World) -> None:
    t, service = world.terminal, world.service

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=700_000, items=MK, rrn="DUP000000020")
            ok = await conn.send(buy, t)
            assert ok.response_code == "00"
            after = counts(service)
            s = buy.stan
            variants = [
                request(t, "0200", "000000", amount_rial=700_001, items=MK, rrn="DUP000000020", stan=s),  # amount
                request(t, "0201", "000000", amount_rial=700_001, items=MK, rrn="DUP000000020", stan=s),  # ... as a repeat
                request(t, "0200", "000000", amount_rial=700_000, items=[(tlv.MK, "M:09350000000")], rrn="DUP000000020", stan=s),  # member
                request(t, "0200", "000000", amount_rial=700_000, pan="6037991234567893", rrn="DUP000000020", stan=s),  # card
                request(t, "0200", "000000", amount_rial=700_000, items=MK + [(tlv.RC, "1000")], rrn="DUP000000020", stan=s),  # redeem
                request(t, "0200", "200000", amount_rial=700_000, items=[(tlv.OR, "DUP000000020")], stan=s),  # a refund
            ]
            for variant in variants:
                ans = await conn.send(variant, t)
                assert ans.response_code == "94", f"{variant!r} got {ans.response_code}"
                assert ans.stan == s
            assert counts(service) == after
            # The first answer is still what an identical repeat gets.
            again = await conn.send(repeat_form(buy), t)
            assert again.fields == ok.fields
            # A completion advice under a used key with another hold: 94 too.
            hold = request(t, "0100", "000000", amount_rial=100_000, items=MK)
            hr = tlv.tlv_get(tlv.decode_tlv((await conn.send(hold, t)).get_bytes("48") or b""), tlv.HR)
            hold2 = request(t, "0100", "000000", amount_rial=100_000, items=MK)
            hr2 = tlv.tlv_get(tlv.decode_tlv((await conn.send(hold2, t)).get_bytes("48") or b""), tlv.HR)
            assert hr and hr2 and hr != hr2
            done = request(t, "0220", "000000", amount_rial=100_000, items=[(tlv.HR, hr)], rrn="BANK00000020")
            assert (await conn.send(done, t)).response_code == "00"
            after = counts(service)
            clash = request(t, "0221", "000000", amount_rial=100_000, items=[(tlv.HR, hr2)], rrn="BANK00000020", stan=done.stan)
            assert (await conn.send(clash, t)).response_code == "94"
            assert counts(service) == after
            rev = request(t, "0400", "000000", amount_rial=100_000, original=hold2)
            assert (await conn.send(rev, t)).response_code == "00"

    run(body())


def test_same_key_with_another_rrn_is_94(world: World) -> None:
    """The RRN (37) is part of the content: a repeat naming another bank sale is not identical."""
    t, service = world.terminal, world.service

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=700_000, items=MK, rrn="DUP000000030")
            assert (await conn.send(buy, t)).response_code == "00"
            other = request(t, "0201", "000000", amount_rial=700_000, items=MK, rrn="DUP000000031", stan=buy.stan)
            assert (await conn.send(other, t)).response_code == "94"

    run(body())


# -- reversals ------------------------------------------------------------------------------


def test_reversal_of_an_unknown_original_then_the_late_original(world: World) -> None:
    t, service = world.terminal, world.service
    ghost = request(t, "0200", "000000", amount_rial=500_000, items=MK + [(tlv.RC, "10000")], rrn="LOST00000001")
    ghost_hold = request(t, "0100", "000000", amount_rial=300_000, items=MK)

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            before = counts(service)
            rev = request(t, "0420", "000000", amount_rial=500_000, original=ghost)
            ans = await conn.send(rev, t)
            assert ans.response_code == "00" and ans.mti == "0430"
            # Repeats of the reversal are acknowledged alike.
            assert (await conn.send(repeat_form(rev), t)).fields == ans.fields
            posted = counts(service)
            assert posted[1:] == before[1:]  # no journal legs, no balance moved
            # The original arrives late (and is repeated): refused, never posted.
            late = await conn.send(ghost, t)
            assert late.response_code == "12" and late.mti == "0210"
            assert (await conn.send(repeat_form(ghost), t)).response_code == "12"
            assert counts(service) == posted
            assert await balance(conn, t) == (0, 200_000)
            # The same for a hold reversed before it arrived (0400, field 90 names the 0100).
            rev_hold = request(t, "0400", "000000", amount_rial=300_000, original=ghost_hold)
            assert (await conn.send(rev_hold, t)).response_code == "00"
            assert (await conn.send(ghost_hold, t)).response_code == "12"
            assert counts(service)[1:] == before[1:]

    run(body())
    (kind, status, legs) = one(
        service, "SELECT kind, status, (SELECT COUNT(*) FROM journal j WHERE j.op_id = o.id) FROM operations o WHERE idem_key = ?",
        (key_of(ghost),),
    )
    assert (kind, status, legs) == ("void", "void", 0)


def test_repeated_reversals_change_nothing(world: World) -> None:
    t, service = world.terminal, world.service

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=800_000, items=MK + [(tlv.RC, "80000")], rrn="REV000000001")
            assert (await conn.send(buy, t)).response_code == "00"
            assert await balance(conn, t) == (80, 120_000)
            rev = request(t, "0420", "000000", amount_rial=800_000, original=buy)
            assert (await conn.send(rev, t)).response_code == "00"
            assert await balance(conn, t) == (0, 200_000)
            after = counts(service)
            for _ in range(3):
                assert (await conn.send(repeat_form(rev), t)).response_code == "00"
            assert counts(service) == after
            # Another reversal message of the same original (a new STAN, or a 0400): acknowledged, nothing moves.
            for mti in ("0420", "0400"):
                again = request(t, mti, "000000", amount_rial=800_000, original=buy)
                assert (await conn.send(again, t)).response_code == "00"
            ops, legs, total = counts(service)
            assert (legs, total) == after[1:]
            assert await balance(conn, t) == (0, 200_000)
            # The reversed sale cannot be refunded or reversed into the negative.
            refund = request(t, "0200", "200000", amount_rial=1000, items=[(tlv.OR, "REV000000001")])
            assert (await conn.send(refund, t)).response_code == "12"
            # A reversal without field 90 names the original by its own STAN (the POS reuses it).
            buy2 = request(t, "0200", "000000", amount_rial=200_000, items=MK, rrn="REV000000002")
            assert (await conn.send(buy2, t)).response_code == "00"
            bare = request(t, "0420", "000000", amount_rial=200_000, stan=buy2.stan)
            assert (await conn.send(bare, t)).response_code == "00"
            assert await balance(conn, t) == (0, 200_000)

    run(body())
    (refunded,) = one(service, "SELECT refunded_rial FROM operations WHERE reference = 'REV000000001'")
    assert refunded == 800_000
    (n,) = one(service, "SELECT COUNT(*) FROM operations WHERE kind = 'reversal' AND original_op_id IS NOT NULL")
    assert n == 2  # one per sale; the other reversal messages recorded that there was nothing left


def test_reversal_after_a_partial_refund_reverses_the_rest(world: World) -> None:
    t, service = world.terminal, world.service

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=1_000_000, items=MK + [(tlv.RC, "100000")], rrn="PART00000001")
            assert (await conn.send(buy, t)).response_code == "00"
            assert await balance(conn, t) == (100, 100_000)
            refund = request(t, "0200", "200000", amount_rial=300_000, items=[(tlv.OR, "PART00000001")])
            assert (await conn.send(refund, t)).response_code == "00"
            assert await balance(conn, t) == (70, 130_000)
            rev = request(t, "0420", "000000", amount_rial=1_000_000, original=buy)
            assert (await conn.send(rev, t)).response_code == "00"
            assert await balance(conn, t) == (0, 200_000)
            after = counts(service)
            assert (await conn.send(repeat_form(rev), t)).response_code == "00"
            late_refund = request(t, "0200", "200000", amount_rial=1000, items=[(tlv.OR, "PART00000001")])
            assert (await conn.send(late_refund, t)).response_code == "12"
            assert counts(service) == after

    run(body())
    (refunded, amount) = one(service, "SELECT refunded_rial, amount_rial FROM operations WHERE reference = 'PART00000001'")
    assert refunded == amount == 1_000_000
    amounts = [one(service, "SELECT amount_rial FROM operations WHERE kind = ?", (k,))[0] for k in ("refund", "reversal")]
    assert amounts == [300_000, 700_000]


def test_reversal_of_a_refund_undoes_the_refund(world: World) -> None:
    """A refund (0200/20) that timed out is reversed like any 0200 (field 90 names it). The
    protocol: "Original found and approved -> undo it once"; an acknowledged reversal that leaves
    the refund in place would make the terminal's view and the ledger disagree."""
    t, service = world.terminal, world.service

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=1_000_000, items=MK, rrn="RFND00000001")
            assert (await conn.send(buy, t)).response_code == "00"
            refund = request(t, "0200", "200000", amount_rial=400_000, items=[(tlv.OR, "RFND00000001")])
            assert (await conn.send(refund, t)).response_code == "00"
            assert await balance(conn, t) == (60, 200_000)
            rev = request(t, "0420", "200000", amount_rial=400_000, original=refund)
            ans = await conn.send(rev, t)
            if ans.response_code == "00":
                assert await balance(conn, t) == (100, 200_000), "the reversal of the refund was acknowledged but changed nothing"
            else:
                assert ans.response_code in ("12", "25")  # or refused outright, so the terminal knows

    run(body())


# -- deadlines ------------------------------------------------------------------------------------


def test_a_request_past_its_deadline_is_91_and_not_posted(world: World) -> None:
    t, service = world.terminal, world.service
    buy = request(t, "0200", "000000", amount_rial=600_000, items=MK + [(tlv.RC, "60000")], rrn="LATE00000001")
    hold = request(t, "0100", "000000", amount_rial=300_000, items=MK)

    async def body() -> None:
        before = counts(service)
        async with serving(service, deadline_s=0.0001) as srv, connected(srv) as conn:
            for msg in (buy, hold):
                ans = await conn.send(msg, t)
                assert ans.response_code == "91", ans
                assert ans.stan == msg.stan and "38" not in ans.fields
            assert srv.stats["timeouts"] >= 2
        # The server waited for its workers on close: anything they would have written is written.
        # Each key is spent (nothing posted under it), so a replay cannot post later.
        spent = "SELECT kind, status FROM operations WHERE idem_key IN (?, ?)"
        assert sorted(rows(service, spent, (key_of(buy), key_of(hold)))) == [("timeout", "timed_out")] * 2
        assert counts(service) == before
        async with serving(service) as srv, connected(srv) as conn:
            # The repeat (or a replay) of a request answered 91 is answered 91 again: never posted.
            assert (await conn.send(repeat_form(buy), t)).response_code == "91"
            assert (await conn.send(hold, t)).response_code == "91"
            # The terminal starts again with a new STAN.
            again = request(t, "0200", "000000", amount_rial=600_000, items=MK + [(tlv.RC, "60000")], rrn="LATE00000002")
            first = await raw_answer(conn, again, t)
            assert decode(first, KIMIA_V1).response_code == "00"
            assert await raw_answer(conn, repeat_form(again), t) == first
            assert await balance(conn, t) == (60, 140_000)

    run(body())
    assert one(service, "SELECT COUNT(*) FROM operations WHERE idem_key = ?", (key_of(buy, "0200"),))[0] == 1


def test_a_slow_service_is_answered_91_and_the_operation_rolled_back(world: World) -> None:
    t, service = world.terminal, world.service
    real_submit = service.writer.submit
    buy = request(t, "0200", "000000", amount_rial=500_000, items=MK + [(tlv.RC, "50000")], rrn="SLOW00000001")

    real_submit_async = service.writer.submit_async

    def slow_submit(work: Any, timeout_s: float = 30.0) -> Any:
        time.sleep(0.4)
        return real_submit(work, timeout_s)

    def slow_submit_async(work: Any) -> Any:  # a purchase takes the event loop's path
        if getattr(work, "batch_kind", None) is None:
            return real_submit_async(work)  # the host spending the key of a 91 is not slowed

        async def slow() -> Any:
            await asyncio.sleep(0.4)
            return await real_submit_async(work)

        return asyncio.ensure_future(slow())

    async def body() -> None:
        before = counts(service)
        service.writer.submit = slow_submit  # type: ignore[method-assign]
        service.writer.submit_async = slow_submit_async  # type: ignore[method-assign,assignment]
        try:
            async with serving(service, deadline_s=0.15) as srv, connected(srv) as conn:
                started = time.monotonic()
                ans = await conn.send(buy, t)
                assert ans.response_code == "91"
                assert time.monotonic() - started < 0.4  # answered at the deadline, not when the work ended
        finally:
            service.writer.submit = real_submit  # type: ignore[method-assign]
            service.writer.submit_async = real_submit_async  # type: ignore[method-assign]
        # The host queued the spending of the key before answering 91: a write queued after it
        # has finished once the spending has.
        await asyncio.get_running_loop().run_in_executor(None, real_submit, lambda tx: None)
        assert rows(service, "SELECT kind FROM operations WHERE idem_key = ?", (key_of(buy),)) == [("timeout",)]
        assert counts(service) == before
        async with serving(service, deadline_s=5.0) as srv, connected(srv) as conn:
            # Replayed once the service is fast again, the request is still 91: its key is spent.
            assert (await conn.send(buy, t)).response_code == "91"
            assert (await conn.send(repeat_form(buy), t)).response_code == "91"
            assert await balance(conn, t) == (0, 200_000)
        assert counts(service) == before

    run(body())
