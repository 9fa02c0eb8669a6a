"""Tiers over periods (SPEC V6–V11) and lotteries (R10): members move up, stay, breathe (grace) and
fall at period close with their points deducted; purchases give lottery entries; a draw needs the
committed seed and gives the same winners from the same entries on any database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import KimiaError, Rejected
from kimia.service import Admin, Kimia

from .builders import FakeClock, World, audit, build_club, mobile, points_of, rows, scalar

TIERS = {
    "tiers": [
        {"name": "bronze", "rise_at": 0, "stay_at": 0},
        {"name": "silver", "rise_at": 200, "stay_at": 100, "grace_periods": 1, "deduct_bp": 1_000},
        {"name": "gold", "rise_at": 1_000, "stay_at": 600, "deduct_bp": 2_500},
    ]
}


def history(service: Kimia, period_end: int) -> dict[int, tuple[Any, ...]]:
    found = rows(service, "SELECT member_id, from_tier, to_tier, reason, period_points, deducted_points FROM tier_history WHERE period_end = ?",
                 (period_end,))
    return {r[0]: r[1:] for r in found}


def test_tier_periods_move_members_and_deduct_points(world: World) -> None:
    service, club, clock = world.service, world.club_id, world.clock
    world.admin.update_settings(club, {"tiers": TIERS}, actor="manager", reason="new tier thresholds")
    assert audit(service, "update_settings")[-1][:2] == ("manager", "new tier thresholds")
    a, b, c = world.enroll(), world.enroll(), world.enroll()
    world.buy(a, 12_000_000, merchant="restaurant")  # 1,200 period points
    world.buy(b, 3_000_000, merchant="restaurant")  # 300
    world.buy(c, 500_000, merchant="restaurant")  # 50
    assert dict(rows(service, "SELECT id, period_points FROM members")) == {a: 1_200, b: 300, c: 50}

    # Period 1: a rises two tiers at once, b one; c stays at the bottom. Deductions per new tier (V9).
    end1 = clock.now
    assert service.close_period(club, end1, actor="system") == {"up": 2, "stay": 1}
    assert history(service, end1) == {a: (None, "gold", "up", 1_200, 300), b: (None, "silver", "up", 300, 30), c: (None, "bronze", "stay", 50, 0)}
    assert dict(rows(service, "SELECT id, tier FROM members")) == {a: "gold", b: "silver", c: "bronze"}
    assert dict(rows(service, "SELECT id, period_points FROM members")) == {a: 0, b: 0, c: 0}
    assert {m: points_of(service, m) for m in (a, b, c)} == {a: 900, b: 270, c: 50}
    deductions = audit(service, "adjust")
    assert {(actor, reason, p["delta"]) for actor, reason, p in deductions} == {
        ("system", f"period end deduction {end1}", -300), ("system", f"period end deduction {end1}", -30)}

    # Period 2: earning differs per tier (V11): gold earns double and stays; b breathes (grace, V8);
    # c rises.
    clock.advance(days=30)
    assert world.buy(a, 3_000_000, merchant="restaurant")["points_earned"] == 600
    assert world.buy(c, 2_500_000, merchant="restaurant")["points_earned"] == 250
    end2 = clock.now
    assert service.close_period(club, end2, actor="system") == {"stay": 1, "grace": 1, "up": 1}
    assert history(service, end2) == {a: ("gold", "gold", "stay", 600, 150), b: ("silver", "silver", "grace", 0, 0),
                                      c: ("bronze", "silver", "up", 250, 25)}
    assert dict(rows(service, "SELECT id, grace_used FROM members")) == {a: 0, b: 1, c: 0}
    assert world.buy(c, 500_000, merchant="restaurant")["points_earned"] == 75  # silver: 1.5 points per 10,000

    # Period 3: only c buys, too little to stay: a falls, b's grace is used up so b falls, c breathes.
    clock.advance(days=30)
    end3 = clock.now
    assert service.close_period(club, end3, actor="system") == {"down": 2, "grace": 1}
    assert history(service, end3) == {a: ("gold", "bronze", "down", 0, 0), b: ("silver", "bronze", "down", 0, 0),
                                      c: ("silver", "silver", "grace", 75, 7)}
    assert scalar(service, "SELECT COUNT(*) FROM tier_history") == 9
    assert {m: points_of(service, m) for m in (a, b, c)} == {a: 900 + 600 - 150, b: 270, c: 50 + 250 - 25 + 75 - 7}


def test_a_bad_tier_configuration_is_refused(world: World) -> None:
    service, club = world.service, world.club_id
    settings_before = rows(service, "SELECT settings FROM clubs WHERE id = ?", (club,))
    bad = {"tiers": [{"name": "gold", "rise_at": 1_000}, {"name": "bronze", "rise_at": 0}]}  # rise_at goes down
    with pytest.raises(KimiaError) as err:
        world.admin.update_settings(club, {"tiers": bad}, actor="manager")
    assert err.value.code == "invalid_tier_config"
    with pytest.raises(KimiaError) as err:
        world.admin.update_settings(club, {"tiers": {"tiers": []}}, actor="manager")
    assert err.value.code == "invalid_tier_config"
    assert rows(service, "SELECT settings FROM clubs WHERE id = ?", (club,)) == settings_before
    # A club without tiers cannot close a period.
    plain = world.admin.create_club(world.owner_id, "باشگاه ساده")
    with pytest.raises(Rejected) as err:
        service.close_period(plain, world.clock.now, actor="system")
    assert err.value.code == "invalid_tier_config"


# --- lotteries -------------------------------------------------------------------------------------


def lottery_purchases(w: World) -> dict[str, int]:
    """Four members with 5, 2, 1 and 0 entries (an entry per 1,000,000 rials)."""
    members = {name: w.enroll(identifiers=[("mobile", mobile(500 + n))], name_fa=name) for n, name in enumerate(["سارا", "علی", "مینا", "رضا"])}
    w.buy(members["سارا"], 5_400_000, merchant="restaurant", idem_key="l-1")
    w.buy(members["علی"], 1_000_000, merchant="cafe", idem_key="l-2")
    w.buy(members["علی"], 1_200_000, merchant="bookshop", idem_key="l-3")
    w.buy(members["مینا"], 1_999_999, merchant="restaurant", idem_key="l-4")
    w.buy(members["رضا"], 999_999, merchant="restaurant", idem_key="l-5")
    return members


def test_lottery_entries_and_draw(world: World) -> None:
    service = world.service
    members = lottery_purchases(world)
    account = f"lottery_entries@lottery:{world.lottery_id}"
    entries = {name: scalar(service, "SELECT balance FROM balances WHERE account = ?", (f"member:{m}/{account}",)) or 0 for name, m in members.items()}
    assert entries == {"سارا": 5, "علی": 2, "مینا": 1, "رضا": 0}

    with pytest.raises(Rejected) as err:
        service.draw_lottery(world.club_id, world.lottery_id, "not-the-seed", actor="notary")
    assert err.value.code == "seed_mismatch"
    assert rows(service, "SELECT status, seed FROM lotteries WHERE id = ?", (world.lottery_id,)) == [("open", None)]
    assert scalar(service, "SELECT COUNT(*) FROM lottery_winners") == 0

    world.clock.advance(days=1)
    winners = service.draw_lottery(world.club_id, world.lottery_id, world.lottery_seed, actor="notary")
    assert [w["rank"] for w in winners] == [1, 2]
    assert [w["prize"] for w in winners] == ["سکه طلا", "کارت هدیه"]
    ids = [w["member_id"] for w in winners]
    assert len(set(ids)) == 2 and set(ids) <= {members["سارا"], members["علی"], members["مینا"]}
    assert rows(service, "SELECT rank, member_id, prize FROM lottery_winners WHERE lottery_id = ? ORDER BY rank", (world.lottery_id,)) == [
        (w["rank"], w["member_id"], w["prize"]) for w in winners]
    assert rows(service, "SELECT status, seed, drawn_at FROM lotteries WHERE id = ?", (world.lottery_id,)) == [
        ("drawn", world.lottery_seed, world.clock.now)]
    [(actor, _, payload)] = audit(service, "draw_lottery")
    assert actor == "notary" and payload == {"lottery_id": world.lottery_id, "winners": winners}
    with pytest.raises(Rejected) as err:
        service.draw_lottery(world.club_id, world.lottery_id, world.lottery_seed, actor="notary")
    assert err.value.code == "lottery_not_open"
    with pytest.raises(Rejected) as err:
        service.draw_lottery(world.club_id, 987_654, world.lottery_seed, actor="notary")
    assert err.value.code == "unknown_lottery"


def test_a_lottery_without_entries(world: World) -> None:
    seed = "empty-lottery-seed"
    empty = world.admin.open_lottery(world.club_id, "قرعه‌کشی بی‌شرکت‌کننده", prizes=["جایزه"], seed_commitment=Admin.commitment(seed))
    world.buy(world.enroll(), 3_000_000)  # entries go to the other lottery
    with pytest.raises(Rejected) as err:
        world.service.draw_lottery(world.club_id, empty, seed, actor="notary")
    assert err.value.code == "no_entries"
    assert scalar(world.service, "SELECT status FROM lotteries WHERE id = ?", (empty,)) == "open"
    with pytest.raises(Rejected) as err:
        world.admin.open_lottery(world.club_id, "بد", prizes=[], seed_commitment="not-a-hash")
    assert err.value.code == "invalid_request"


def test_the_draw_is_reproducible_on_another_database(world: World, db_url: str, request: pytest.FixtureRequest, tmp_path: Any,
                                                      make_service: Callable[..., Kimia]) -> None:
    """The winners follow from the entries and the revealed seed alone: the same entries drawn
    with the same seed on a second database (PostgreSQL for SQLite, and the other way round)
    give the same winners."""
    members = lottery_purchases(world)
    names = {m: name for name, m in members.items()}
    winners = [names[w["member_id"]] for w in world.service.draw_lottery(world.club_id, world.lottery_id, world.lottery_seed, actor="notary")]

    other_url = f"sqlite:///{tmp_path}/second.db" if db_url.startswith("postgresql") else request.getfixturevalue("pg_url")
    other_clock = FakeClock()
    other = make_service(other_url, clock=other_clock)
    try:
        copy = build_club(other, other_clock)
        copy_members = lottery_purchases(copy)
        copy_names = {m: name for name, m in copy_members.items()}
        again = [copy_names[w["member_id"]] for w in other.draw_lottery(copy.club_id, copy.lottery_id, copy.lottery_seed, actor="notary")]
        assert again == winners
        report = other.check()
        assert report.ok, report.summary()
    finally:
        other.close()


def test_meta_club_members_enter_the_other_clubs_lottery(club: Callable[..., World]) -> None:
    """C3 with R10: a member of club A buying at club B's merchant holds entries in B's lottery,
    and the draw counts them."""
    a = club(n=1)
    b = club(n=2, name_fa="باشگاه همسایه")
    a.admin.create_meta_club("فراباشگاه", [a.club_id, b.club_id])
    visitor = a.enroll(identifiers=[("mobile", mobile(600))])
    local = b.enroll(identifiers=[("mobile", mobile(601))])
    assert b.buy({"kind": "mobile", "value": mobile(600)}, 3_000_000, merchant="restaurant")["lottery_entries"] == [
        {"lottery_id": b.lottery_id, "entries": 3}]
    b.buy(local, 1_000_000, merchant="restaurant")
    winners = b.service.draw_lottery(b.club_id, b.lottery_id, b.lottery_seed, actor="notary")
    assert sorted(w["member_id"] for w in winners) == sorted([visitor, local])


def test_period_end_is_taken_from_the_fake_clock(world: World) -> None:
    """The period close is stamped with the period end given, not the wall clock."""
    member = world.enroll()
    world.buy(member, 2_000_000, merchant="restaurant")
    end = world.clock.advance(days=90)
    world.service.close_period(world.club_id, end, actor="system")
    assert rows(world.service, "SELECT period_end, to_tier FROM tier_history WHERE member_id = ?", (member,)) == [(end, "silver")]
