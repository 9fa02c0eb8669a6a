"""The panel's benchmark in a tiny form (benches/bigworld.py, benches/panel_bench.py): a world of
2,000 members and 10,000 operations made by the generator, and a few requests per page through
gunicorn and through Flask's test client. It checks that the generator's world is whole (counts,
balances equal to the journal, identifiers findable as the service stores them) and that every page
answers 200 to the signed-in admin: no timing is asserted (the full run is the benchmark's)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kimia.app import assemble
from kimia.service import Kimia
from kimia.settings import Settings
from service.builders import rows, scalar

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))

import bigworld  # noqa: E402
import panel_bench  # noqa: E402

MEMBERS = 2_000
OPERATIONS = 10_000


@pytest.fixture
def world(db_url: str) -> bigworld.WorldInfo:
    return bigworld.build(db_url, members=MEMBERS, operations=OPERATIONS, say=lambda *_: None)


def _service(url: str) -> Kimia:
    return assemble(Settings.from_env({}, database_url=url, dev_mode=True))


def test_the_world_is_whole(world: bigworld.WorldInfo, db_url: str) -> None:
    with _service(db_url) as svc:
        assert scalar(svc, "SELECT COUNT(*) FROM members") == MEMBERS
        assert scalar(svc, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'") == OPERATIONS
        assert scalar(svc, "SELECT COUNT(*) FROM operations WHERE kind = 'enroll'") == MEMBERS
        # Every posting balances, and every balance is the sum of its account's legs.
        assert scalar(svc, "SELECT COUNT(*) FROM (SELECT op_id, seq FROM journal GROUP BY op_id, seq HAVING SUM(amount) <> 0) x") == 0
        assert scalar(svc, "SELECT COUNT(*) FROM balances b WHERE b.balance <> COALESCE((SELECT SUM(j.amount) FROM journal j"
                           " WHERE j.club_id = b.club_id AND j.account = b.account), 0)") == 0
        # Lots hold what the points balances say.
        assert scalar(svc, "SELECT SUM(remaining) FROM lots WHERE account LIKE 'member:%/points'") == \
            scalar(svc, "SELECT SUM(balance) FROM balances WHERE account LIKE 'member:%/points'")
        assert scalar(svc, "SELECT SUM(purchase_count) FROM members") == OPERATIONS
        # Identifiers are found as the service finds them (a card by its keyed hash).
        for mobile in world.mobiles[:3]:
            assert svc.identify(world.club_id, {"kind": "mobile", "value": mobile})
        for code in world.national_codes[:3]:
            assert svc.identify(world.club_id, {"kind": "national_code", "value": code})
        for number in world.club_cards[:3]:
            assert svc.identify(world.club_id, {"kind": "club_card", "value": number})
        assert rows(svc, "SELECT COUNT(*) FROM member_identifiers WHERE kind = 'card'")[0][0] > 0


def test_every_page_answers(world: bigworld.WorldInfo, db_url: str) -> None:
    timings = panel_bench.run(db_url, members=MEMBERS, operations=OPERATIONS, requests=3, reuse=True, say=lambda *_: None)
    assert {(t.mode, t.page) for t in timings} == {(mode, page) for mode in ("http", "in-process") for page in
                                                   ("healthz (ref)", "sign-in page (ref)", "search", "dashboard", "member")}
    for t in timings:
        assert t.statuses == {200: 3}, (t.mode, t.page, t.statuses)
