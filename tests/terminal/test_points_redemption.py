"""Field 48 ``RP`` (points to redeem) over TCP, on SQLite and PostgreSQL: a 0200 purchase and a
0100 hold with ``RP`` pay part of the amount with points at the member's conversion ratio and
answer the points redeemed in ``RP``; more points than the member holds is answered 51 and posts
nothing; a refund, a reversal and a hold's reversal give the points back."""

from __future__ import annotations

import asyncio
from typing import Any

from kimia.service import Admin, Kimia
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request
from kimia.terminal.codec import Message

from .conftest import connected, serving

#: These tests are not about cardholder verification (test_verification.py and
#: test_cardholder.py are): the club lets members spend without a PIN, code or card.
OPEN_SPENDING: dict[str, object] = {"verification": {"redeem": [], "bind": []}}

TID, MID = "T0000009", "M00000000000009"
MOBILE = "09121234000"
MK = [(tlv.MK, f"M:{MOBILE}")]
RULES: dict[str, Any] = {
    "rules": [{
        "id": "base",
        "name": {"en": "One point per 10,000 rials", "fa": "یک امتیاز به ازای هر ۱۰٬۰۰۰ ریال"},
        "effects": [{"type": "points", "per_rial": 10_000, "points": 1}],
        "funding": {"club_owner": 10_000},
    }]
}


def build(service: Kimia) -> tuple[int, int, TerminalIdentity]:
    """A club (10 points = 1,000 rials), a merchant with a terminal, and a member holding 1,000 points."""
    admin = Admin(service)
    club = admin.create_club(admin.create_owner("مالک"), "باشگاه امتیاز", settings=OPEN_SPENDING)
    merchant = admin.create_merchant(club, "فروشگاه")
    admin.create_terminal(merchant, TID, MID)
    admin.publish_rules(club, RULES, actor="test")
    admin.update_settings(club, {"conversion": {"default": {"points": 10, "rial": 1_000}}}, actor="test", reason="points pay")
    member = int(service.enroll(club, idem_key="member", identifiers=[("mobile", MOBILE)])["member_id"])
    service.adjust(club, member, idem_key="points", account_kind="points", delta=1_000, actor="test", reason="points to redeem", expires_days=90)
    return club, member, TerminalIdentity(TID, MID)


def tag(answer: Message, name: str) -> str | None:
    return tlv.tlv_get(tlv.decode_tlv(answer.get_bytes("48") or b""), name)


def lines(answer: Message) -> list[str]:
    return tlv.tlv_get_all(tlv.decode_tlv(answer.get_bytes("48") or b""), tlv.RL)


async def points(conn: Connection, t: TerminalIdentity) -> int:
    ans = await conn.send(request(t, "0100", "310000", items=MK), t, timeout_s=10)
    assert ans.response_code == "00"
    return int(tag(ans, tlv.BP) or -1)


def count_operations(service: Kimia) -> int:
    with service.reading() as tx:
        # A refusal is remembered under its key (status refused) but posts nothing.
        return int(tx.one("SELECT COUNT(*) FROM operations WHERE status <> 'refused'")[0])


def test_a_0200_with_rp_pays_with_points_and_answers_them(service: Kimia) -> None:
    club, _, t = build(service)

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=1_000_000, items=MK + [(tlv.RP, "500")], rrn="SALE00000001")
            ans = await conn.send(buy, t)
            assert ans.response_code == "00"
            assert tag(ans, tlv.RP) == "500"
            # 1,000 − 500 redeemed + 100 earned on the purchase.
            assert tag(ans, tlv.BP) == "600"
            assert lines(ans)[0] == "پرداخت با ۵۰۰ امتیاز: ۵۰٬۰۰۰ ریال"
            assert lines(ans)[-1] == "تخفیف: 0 ریال — قابل پرداخت: 950000 ریال"
            assert await points(conn, t) == 600
            # A refund of the sale by its RRN gives back the points in the same share (half).
            refund = request(t, "0200", "200000", amount_rial=500_000, items=[(tlv.OR, "SALE00000001")], rrn="REFD00000001")
            ans = await conn.send(refund, t)
            assert ans.response_code == "00" and tag(ans, tlv.RP) is None
            assert await points(conn, t) == 600 + 250 - 50

    asyncio.run(body())
    with service.reading() as tx:
        assert tx.one("SELECT balance FROM balances WHERE account = ?", (f"club:{club}/points_retired",))[0] == 250


def test_rp_above_the_balance_is_answered_51_and_posts_nothing(service: Kimia) -> None:
    _, _, t = build(service)

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            before = count_operations(service)
            for mti in ("0200", "0100"):
                req = request(t, mti, "000000", amount_rial=1_000_000, items=MK + [(tlv.RP, "1001")])
                ans = await conn.send(req, t)
                assert ans.response_code == "51", (mti, ans.response_code)
            bad = request(t, "0200", "000000", amount_rial=1_000_000, items=MK + [(tlv.RP, "12a")])
            assert (await conn.send(bad, t)).response_code == "30"
            assert count_operations(service) == before
            assert await points(conn, t) == 1_000

    asyncio.run(body())


def test_a_0100_hold_with_rp_holds_the_points_and_a_reversal_returns_them(service: Kimia) -> None:
    _, _, t = build(service)

    async def body() -> None:
        async with serving(service) as srv, connected(srv) as conn:
            hold = request(t, "0100", "000000", amount_rial=600_000, items=MK + [(tlv.RP, "300")])
            ans = await conn.send(hold, t)
            assert ans.response_code == "00"
            assert tag(ans, tlv.RP) == "300" and tag(ans, tlv.HR)
            assert tag(ans, tlv.BP) == "700"
            assert await points(conn, t) == 700  # held, not yet spent
            rev = request(t, "0400", "000000", amount_rial=600_000, original=hold)
            assert (await conn.send(rev, t)).response_code == "00"
            assert await points(conn, t) == 1_000
            # A 0200 with RP reversed (0400) gives its points back too.
            buy = request(t, "0200", "000000", amount_rial=200_000, items=MK + [(tlv.RP, "1000")])
            ans = await conn.send(buy, t)
            assert ans.response_code == "00" and tag(ans, tlv.RP) == "1000"
            assert await points(conn, t) == 20
            rev = request(t, "0400", "000000", amount_rial=200_000, original=buy)
            assert (await conn.send(rev, t)).response_code == "00"
            assert await points(conn, t) == 1_000

    asyncio.run(body())
