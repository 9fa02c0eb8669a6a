"""The back office's reads (kimia.service.backoffice_views): scoped by club tree, another tree's
ids answered as not found; budget periods keyed as the core keys them; the audit log newest first
with its filters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kimia.errors import KimiaError
from kimia.service import backoffice_views as views

from .builders import World, scalar


@pytest.fixture
def two(club: Callable[..., World]) -> tuple[World, World]:
    return club(), club(n=2, name_fa="باشگاه دوم")


def test_like_prefix_matches_only_itself() -> None:
    assert views.like_prefix("a_b%c\\d") == "a\\_b\\%c\\\\d"


def test_period_keys_are_the_cores(world: World) -> None:
    day = world.clock.local_day()
    assert views.period_key("day", day) == f"d:{day}"
    assert views.period_key("total", day) == "total"
    assert views.period_key("month", 20_454) == "m:1404-10"  # 2026-01-01 is 11 Dey 1404


def test_templates_and_lotteries_are_read_within_the_club_tree(two: tuple[World, World]) -> None:
    a, b = two
    assert [t.id for t in views.voucher_templates(a.service, a.club_id, after_id=0, limit=50)] == [a.voucher_template_id]
    assert views.voucher_template(a.service, a.club_id, a.voucher_template_id).price_points == 50
    with pytest.raises(KimiaError) as refused:
        views.voucher_template(b.service, b.club_id, a.voucher_template_id)
    assert refused.value.code == "unknown_voucher_template"
    assert [x.id for x in views.lotteries(a.service, a.club_id, after_id=0, limit=50)] == [a.lottery_id]
    with pytest.raises(KimiaError) as refused:
        views.lottery(b.service, b.club_id, a.lottery_id)
    assert refused.value.code == "unknown_lottery"
    assert views.voucher_templates(a.service, a.club_id, after_id=a.voucher_template_id, limit=50) == []


def test_a_lottery_counts_its_entries_and_shows_its_winners(world: World) -> None:
    member = world.enroll()
    world.buy(member, 2_000_000)
    other = world.enroll()
    world.buy(other, 1_000_000)
    seen = views.lottery(world.service, world.club_id, world.lottery_id)
    assert (seen.entries, seen.entrants, seen.winners, seen.seed) == (3, 2, [], None)
    world.service.draw_lottery(world.club_id, world.lottery_id, world.lottery_seed, actor="test")
    drawn = views.lottery(world.service, world.club_id, world.lottery_id)
    assert drawn.status == "drawn" and drawn.seed == world.lottery_seed and {w.member_id for w in drawn.winners} == {member, other}
    assert [w.rank for w in drawn.winners] == [1, 2]


def test_budgets_read_the_current_rules_and_their_use(world: World) -> None:
    world.publish([{"id": "capped_50%", "effects": [{"type": "credit", "kind": "cashback", "percent_bp": 1_000}],
                    "budgets": [{"per": "merchant", "period": "month", "limit_rial": 80_000}]}])
    member = world.enroll()
    world.buy(member, 300_000)
    world.buy(member, 200_000, merchant="restaurant")
    version, found = views.budgets(world.service, world.club_id, world.clock.local_day())
    assert version == world.rules_version
    (budget,) = found
    assert (budget.rule_id, budget.per, budget.limit_rial, budget.used, budget.holders, budget.most_used) == (
        "capped_50%", "merchant", 80_000, 50_000, 2, 30_000)
    assert scalar(world.service, "SELECT COUNT(*) FROM budget_usage") == 2
    assert views.budgets(world.service, world.club_id, world.clock.local_day() + 400)[1][0].used == 0  # another month


def test_a_club_without_rules_has_no_budgets(club: Callable[..., World]) -> None:
    bare = club(publish=False)
    assert views.budgets(bare.service, bare.club_id, 0) == (0, [])


def test_the_audit_log_is_newest_first_filtered_and_of_the_tree(two: tuple[World, World]) -> None:
    a, b = two
    member = a.enroll()
    for n in range(3):
        a.service.adjust(a.club_id, member, idem_key=f"adj-{n}", account_kind="points", delta=1, actor=f"cli:{n % 2}", reason=f"r{n}")
    rows = views.audit_log(a.service, a.club_id, before_id=0, limit=50, action="adjust")
    assert [r.reason for r in rows] == ["r2", "r1", "r0"]
    assert [r.reason for r in views.audit_log(a.service, a.club_id, before_id=0, limit=50, actor="cli:0")] == ["r2", "r0"]
    assert [r.reason for r in views.audit_log(a.service, a.club_id, before_id=rows[0].id, limit=1, action="adjust")] == ["r1"]
    assert views.audit_log(b.service, b.club_id, before_id=0, limit=50, action="adjust") == []
    everything = views.audit_log(a.service, a.club_id, before_id=0, limit=500)
    assert {r.club_id for r in everything} <= {a.club_id, a.sub_club_id} and len(everything) <= views.MAX_PAGE


def test_the_settlement_summary_is_the_files_lines(world: World) -> None:
    world.buy(world.enroll(), 1_000_000)
    day = world.clock.local_day()
    lines = views.settlement_summary(world.service, world.club_id, day)
    assert lines and sum(line.amount_rial for line in lines) == int(world.service.settlement(world.club_id, day).splitlines()[-1].split(",")[6])
    assert views.local_day(world.service, world.club_id) == day
