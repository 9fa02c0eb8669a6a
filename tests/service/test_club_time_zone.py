"""Issue 14, item 3: a club's local day is the club's own (``clubs.utc_offset_min``), never Tehran's
by default. A purchase near midnight lands on the club's day: its operation, the member's day of
purchases, its split legs and so the club's settlement file of that day; a refund is settled on the
club's day it is made."""

from __future__ import annotations

import calendar
from collections.abc import Callable

from .builders import World, execute, rows, scalar

#: 2025-05-14 22:30 UTC: already 02:00 on the 15th in Tehran, still the 14th at UTC.
LATE = calendar.timegm((2025, 5, 14, 22, 30, 0))


def at_utc(world: World) -> World:
    """The club (and its sub-club) keep UTC; the rules are published again with its offset."""
    for club in (world.club_id, world.sub_club_id):
        execute(world.service, "UPDATE clubs SET utc_offset_min = 0 WHERE id = ?", (club,))
    world.service.caches.clear()
    world.publish()
    return world


def test_a_purchase_near_midnight_lands_on_its_clubs_day(club: Callable[..., World]) -> None:
    world = at_utc(club(publish=False))
    service = world.service
    member = world.enroll()
    world.clock.set(LATE)
    utc_day, tehran_day = LATE // 86_400, (LATE + 210 * 60) // 86_400
    assert tehran_day == utc_day + 1

    bought = world.buy(member, 1_000_000, merchant="cafe")
    assert scalar(service, "SELECT day FROM operations WHERE id = ?", (bought["op_id"],)) == utc_day
    assert rows(service, "SELECT day, count FROM member_days WHERE member_id = ?", (member,)) == [(utc_day, 1)]
    split_days = {d for (d,) in rows(service, "SELECT day FROM split_legs WHERE op_id = ?", (bought["op_id"],))}
    assert split_days == {utc_day}
    # The file's last line is the day's total (its amount the 7th column).
    assert int(world.service.settlement(world.club_id, utc_day).strip().splitlines()[-1].split(",")[6]) > 0
    assert int(world.service.settlement(world.club_id, tehran_day).strip().splitlines()[-1].split(",")[6]) == 0

    refund = world.service.refund(world.merchants["cafe"], idem_key="late-refund", op_id=bought["op_id"], amount_rial=100_000)
    assert scalar(service, "SELECT day FROM operations WHERE id = ?", (refund["op_id"],)) == utc_day
    refund_days = {d for (d,) in rows(service, "SELECT day FROM split_legs WHERE op_id = ?", (refund["op_id"],))}
    assert refund_days <= {utc_day}
    held = world.service.hold(world.request(member, 500_000, merchant="cafe"))
    done = world.service.complete_hold(world.merchants["cafe"], held["hold_id"], idem_key="late-complete")
    assert {scalar(service, "SELECT day FROM operations WHERE id = ?", (op,)) for op in (held["op_id"], done["op_id"])} == {utc_day}
