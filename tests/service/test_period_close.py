"""Tier period close (issue 12, item 9): atomic per chunk of members, restartable exactly once.

- Purchases racing a close (another writer, as another process would be) count in exactly one
  period: every point a purchase earned is in one ``tier_history`` row or still in the member's
  period points, never in neither and never in both.
- A close stopped half-way (``kill -9`` of ``kimia close-period`` once its history rows appear, or a
  failure) is reported by ``kimia check``, refused as a new close, and finished by a rerun that
  closes every member once and posts every deduction once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

import kimia._core as core
from kimia.cli import main
from kimia.errors import KimiaError
from kimia.service import Kimia

from .builders import TIERS, FakeClock, World, points_of, rows, scalar

@pytest.fixture
def clock() -> FakeClock:
    """Two days ago: the CLI and the child process close on the wall clock, and the points lots the
    purchases give must not have expired by then."""
    return FakeClock(int(time.time()) - 2 * 86_400)


#: How long the test waits for the child's lines at most (the child needs a few seconds).
CHILD_TIMEOUT_S = 120


def member_state(service: Kimia, club_ids: tuple[int, ...]) -> list[tuple[Any, ...]]:
    marks = ",".join("?" * len(club_ids))
    return rows(service, f"SELECT id, tier, period_points, grace_used, frozen_until, manual_tier FROM members WHERE club_id IN ({marks}) ORDER BY id",
                club_ids)


def expected_close(members: list[tuple[Any, ...]], period_end: int) -> dict[int, tuple[str, int]]:
    """(new tier, deduction) of each member, as the core decides them on the state before the close."""
    names = [t["name"] for t in TIERS["tiers"]]
    index = {n: i for i, n in enumerate(names)}
    out = core.close_tier_period(TIERS, tier=[index.get(m[1], 0) for m in members], period_points=[m[2] for m in members],
                                 grace_used=[m[3] for m in members], frozen_until=[m[4] for m in members],
                                 manual_tier=[index.get(m[5], -1) if m[5] else -1 for m in members], period_end=period_end)
    return {int(m[0]): (names[t], d) for m, t, d in zip(members, out["tier"], out["deducted_points"])}


def members_with_points(world: World, n: int) -> list[int]:
    """``n`` members with between 0 and about 900 period points (bronze, silver and gold next)."""
    members = [world.enroll() for _ in range(n)]
    for i, member in enumerate(members):
        if i % 5:
            world.buy(member, 10_000 * (1 + (i * 37) % 900), merchant="restaurant")
    return members


def assert_closed_once(service: Kimia, before: list[tuple[Any, ...]], points_before: dict[int, int], end: int, club: int) -> None:
    """Every member of ``before`` has one history row of the close, with the tier and deduction the
    core decides, one deduction operation if one was due, and that many fewer points."""
    expected = expected_close(before, end)
    history = rows(service, "SELECT member_id, to_tier, period_points, deducted_points FROM tier_history WHERE club_id = ? AND period_end = ?",
                   (club, end))
    assert len(history) == len(before)
    assert {h[0]: (h[1], h[3]) for h in history} == expected
    assert {h[0]: h[2] for h in history} == {m[0]: m[2] for m in before}
    deductions = rows(service, "SELECT member_id, amount_rial FROM operations WHERE club_id = ? AND idem_key LIKE ?", (club, f"period:{end}:deduct:%"))
    assert sorted(deductions) == sorted((m, d) for m, (_, d) in expected.items() if d > 0)
    assert {m: points_of(service, m) for m in expected} == {m: points_before[m] - d for m, (_, d) in expected.items()}
    assert set(rows(service, "SELECT DISTINCT period_points FROM members")) == {(0,)}


# --- racing purchases ----------------------------------------------------------------------------


def test_purchases_racing_closes_count_in_exactly_one_period(world: World, make_service: Callable[..., Kimia], db_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Three closes of 300 members in chunks of 16 while two threads of another writer buy."""
    monkeypatch.setattr("kimia.service.period.CLOSE_CHUNK", 16, raising=False)
    members = [world.enroll() for _ in range(300)]
    buyer = make_service(db_url)  # a second writer on the same database, as another process is
    earned: dict[int, int] = defaultdict(int)
    stop = threading.Event()
    lock = threading.Lock()

    def buy(thread: int) -> None:
        n = 0
        while not stop.is_set():
            member = members[(n * 7 + thread * 13) % len(members)]
            answer = buyer.purchase(world.request(member, 10_000 * (10 + n % 50), merchant="restaurant", idem_key=f"race-{thread}-{n}"))
            with lock:
                earned[member] += int(answer["points_earned"])
            n += 1

    threads = [threading.Thread(target=buy, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            world.clock.advance(days=1)
            world.service.close_period(world.club_id, world.clock.now, actor="test")
    finally:
        stop.set()
        for t in threads:
            t.join()
    closed = dict(rows(world.service, "SELECT member_id, SUM(period_points) FROM tier_history GROUP BY member_id"))
    open_points = dict(rows(world.service, "SELECT id, period_points FROM members"))
    assert sum(earned.values()) > 0
    assert {m: int(closed.get(m, 0)) + int(open_points[m]) for m in members} == {m: earned[m] for m in members}


# --- a close stopped half-way ------------------------------------------------------------------------


class Stop(Exception):
    pass


def test_a_failed_close_is_reported_refused_as_new_and_resumed_once(world: World) -> None:
    service, club, clock = world.service, world.club_id, world.clock
    members_with_points(world, 40)
    before = member_state(service, (club, world.sub_club_id))
    points_before = {m[0]: points_of(service, m[0]) for m in before}
    end = clock.advance(days=1)

    def fail_after_two_chunks(done: int, total: int) -> None:
        if done >= 14:
            raise Stop

    with pytest.raises(Stop):
        service.close_period(club, end, chunk_size=7, progress=fail_after_two_chunks, actor="test")
    assert scalar(service, "SELECT COUNT(*) FROM tier_history") == 14
    report = service.check()
    assert not report.ok and any("unfinished (14 of 40 members closed)" in p for p in report.problems), report.summary()
    assert service.period_closes(club) == (None, end)
    with pytest.raises(KimiaError) as err:
        service.close_period(club, clock.advance(days=1), actor="test")
    assert err.value.code == "period_close_unfinished" and str(end) in err.value.message_en
    seen: list[tuple[int, int]] = []
    counts = service.close_period(club, end, progress=lambda done, total: seen.append((done, total)), actor="test")
    assert seen[0] == (14, 40) and seen[-1] == (40, 40)
    assert sum(counts.values()) == 40
    assert_closed_once(service, before, points_before, end, club)
    assert service.check().ok
    with pytest.raises(KimiaError) as err:
        service.close_period(club, end, actor="test")
    assert err.value.code == "period_already_closed"


#: The child: closes the period in chunks of 10 and blocks forever once 60 members are closed
#: (committed), so the parent can ``kill -9`` it there.
CHILD = textwrap.dedent(
    """
    import json, sys, threading
    from kimia.app import assemble
    from kimia.settings import Settings

    url, club, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    service = assemble(Settings.from_env(database_url=url))

    def progress(done, total):
        print(json.dumps([done, total]), flush=True)
        if done >= 60:
            print("stopped", flush=True)
            threading.Event().wait()

    service.close_period(club, end, chunk_size=10, progress=progress, actor="test")
    print("finished", flush=True)
    """
)


def test_kill_9_during_a_close_then_a_rerun_closes_every_member_once_and_deducts_once(world: World, db_url: str) -> None:
    service, club = world.service, world.club_id
    members_with_points(world, 150)
    before = member_state(service, (club, world.sub_club_id))
    points_before = {m[0]: points_of(service, m[0]) for m in before}
    end = world.clock.advance(days=1)
    with subprocess.Popen([sys.executable, "-c", CHILD, db_url, str(club), str(end)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}) as child:
        timer = threading.Timer(CHILD_TIMEOUT_S, child.kill)
        timer.start()
        try:
            assert child.stdout is not None and child.stderr is not None
            lines = []
            for line in child.stdout:
                lines.append(line.strip())
                if line.strip() in ("stopped", "finished"):
                    break
            assert lines and lines[-1] == "stopped", lines
            assert json.loads(lines[-2]) == [60, 150]
            assert scalar(service, "SELECT COUNT(*) FROM tier_history") == 60
            child.send_signal(signal.SIGKILL)
            child.wait()
        finally:
            timer.cancel()
            child.kill()
            child.communicate()
    report = service.check()
    assert not report.ok and any("unfinished (60 of 150 members closed)" in p for p in report.problems), report.summary()

    # The operator's retry: the same cron line (--now), which resumes the close that stopped.
    result = CliRunner().invoke(main, ["--database", db_url, "close-period", "--club", str(club), "--now"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"resuming the unfinished close of the period ending at {end}" in result.stderr
    assert result.stdout.splitlines()[-1].split() == ["total", "150"]
    assert_closed_once(service, before, points_before, end, club)
    assert service.check().ok
    again = CliRunner().invoke(main, ["--database", db_url, "close-period", "--club", str(club), "--period-end", str(end)])
    assert again.exit_code == 1 and again.stderr.startswith("period_already_closed: ")


def test_a_close_deducts_from_the_points_lots_and_a_spent_member_is_skipped(world: World, clock: FakeClock) -> None:
    """The deductions of a chunk are posted in bulk: each draws its member's points lots, soonest
    expiring first; a member who spent their points since is not deducted (history says 0)."""
    service, club = world.service, world.club_id
    rich, spent = world.enroll(), world.enroll()
    world.buy(rich, 6_000_000, merchant="restaurant")  # 600 points: gold, 20% deducted
    world.buy(spent, 2_000_000, merchant="restaurant")  # 200 points: silver, 10% deducted
    service.adjust(club, spent, idem_key="spend", account_kind="points", delta=-195, actor="test", reason="spent at the shop")
    end = clock.advance(days=1)
    assert service.close_period(club, end, actor="test") == {"up": 2}
    assert dict(rows(service, "SELECT member_id, deducted_points FROM tier_history")) == {rich: 120, spent: 0}
    assert (points_of(service, rich), points_of(service, spent)) == (480, 5)
    assert scalar(service, "SELECT SUM(remaining) FROM lots WHERE account = ?", (f"member:{rich}/points",)) == 480
