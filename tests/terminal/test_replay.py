"""Replay (issue 13, item 10), over real TCP on SQLite and PostgreSQL: a captured, signed request
cannot be sent again later (field 7 must be within the freshness window), a refusal is remembered
under its key (a replay after credit arrived is refused again, not decided anew), and the key has
the year (the same STAN and MMDD a year later is a new transaction, and a reversal cannot reach
last year's sale)."""

from __future__ import annotations

from collections.abc import Callable

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import pytest

from kimia.service import Admin, Kimia
from kimia.terminal import tlv
from kimia.terminal.client import TEHRAN, TerminalIdentity, request, to_bytes
from kimia.terminal.codec import decode
from kimia.terminal.dialect import KIMIA_V1

from .conftest import connected, serving

TID, MID = "T0000077", "M00000000000077"
MOBILE = "09121239999"
MAC_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
YEAR_S = 365 * 86_400


class Clock:
    """The host's clock, moved by hand (a year later)."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return int(time.time()) + self.offset


@dataclass
class World:
    service: Kimia
    club: int
    member: int
    terminal: TerminalIdentity
    clock: Clock


@pytest.fixture
def world(db_url: str, open_service: Callable[..., Kimia]) -> Any:
    clock = Clock()
    service = open_service(db_url, clock=clock)
    try:
        admin = Admin(service)
        # Spending is open here: these tests are about replay, not the cardholder.
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه", settings={"verification": {"redeem": [], "bind": []}})
        merchant = admin.create_merchant(club, "کافه")
        admin.create_terminal(merchant, TID, MID, mac_key_hex=MAC_KEY.hex())
        member = int(service.enroll(club, idem_key="m", identifiers=[("mobile", MOBILE)])["member_id"])
        service.charge(club, member, idem_key="c1", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": club}, actor="test", reason="setup")
        yield World(service, club, member, TerminalIdentity(TID, MID, mac_key=MAC_KEY), clock)
        report = service.check()
        assert report.ok, report.summary()
    finally:
        service.close()


MK = [(tlv.MK, f"M:{MOBILE}")]


def rows(service: Kimia, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with service.reading() as tx:
        return [tuple(r) for r in tx.all(sql, params)]


def posted(service: Kimia) -> list[tuple[Any, ...]]:
    return rows(service, "SELECT kind, status, amount_rial, refunded_rial FROM operations WHERE kind IN ('purchase', 'reversal', 'void')"
                         " ORDER BY id")


def test_a_request_outside_the_freshness_window_is_refused(world: World) -> None:
    t, s = world.terminal, world.service
    now = dt.datetime.now(TEHRAN)

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            old = request(t, "0200", "000000", amount_rial=100_000, items=MK, now=now - dt.timedelta(minutes=11))
            answer = await conn.send(old, t)
            assert answer.response_code == "63"
            early = request(t, "0200", "000000", amount_rial=100_000, items=MK, now=now + dt.timedelta(minutes=11))
            assert (await conn.send(early, t)).response_code == "63"
            assert srv.metrics()["refused:stale_transmission"] == 2
            fresh = request(t, "0200", "000000", amount_rial=100_000, items=MK, now=now - dt.timedelta(minutes=9))
            assert (await conn.send(fresh, t)).response_code == "00"

    asyncio.run(body())
    assert posted(s) == [("purchase", "done", 100_000, 0)]


def test_a_captured_refusal_replayed_after_credit_arrived_is_still_refused(world: World) -> None:
    t, s = world.terminal, world.service
    captured = to_bytes(request(t, "0200", "000000", amount_rial=500_000, items=MK + [(tlv.RC, "150000")], rrn="CAPT00000001"), t)

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            assert decode(await conn.send_raw(captured), KIMIA_V1).response_code == "51"
            s.charge(world.club, world.member, idem_key="c2", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": world.club}, actor="test", reason="setup")
            # The same signed bytes, sent again once the member could pay: refused as before.
            assert decode(await conn.send_raw(captured), KIMIA_V1).response_code == "51"

    asyncio.run(body())
    assert posted(s) == []
    assert rows(s, "SELECT kind, status FROM operations WHERE idem_key LIKE 'iso:%'") == [("refusal", "refused")]


def test_the_same_stan_and_date_a_year_later_is_a_new_transaction(world: World) -> None:
    t, s = world.terminal, world.service
    now = dt.datetime.now(TEHRAN)
    later = now + dt.timedelta(days=365)

    def sale(when: dt.datetime) -> Any:
        return request(t, "0200", "000000", amount_rial=200_000, items=MK, rrn="YEAR00000001", stan="004242", now=when)

    async def body() -> None:
        async with serving(s) as srv, connected(srv) as conn:
            assert (await conn.send(sale(now), t)).response_code == "00"
        world.clock.offset = YEAR_S
        async with serving(s) as srv, connected(srv) as conn:
            repeat = sale(later)
            repeat.fields["13"] = sale(now).fields["13"]  # the same MMDD, a year on
            assert (await conn.send(repeat, t)).response_code == "00"
            # A reversal a year later by STAN and date reverses this year's sale, never last year's.
            rev = request(t, "0400", "000000", amount_rial=200_000, stan="004242", now=later)
            rev.fields["13"] = repeat.fields["13"]
            assert (await conn.send(rev, t)).response_code == "00"

    asyncio.run(body())
    assert posted(s) == [("purchase", "done", 200_000, 0), ("purchase", "done", 200_000, 200_000), ("reversal", "done", 200_000, 0)]
