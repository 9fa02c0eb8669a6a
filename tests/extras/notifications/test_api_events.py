"""The past-tense hooks and outbox events from the JSON API (issue 17): an enrolment, a manual
tier move and a lottery draw made through ``/api/v1`` are told once, after commit, with the
API's ``via``; a replayed request tells nothing again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kimia.plugins import default_plugin_manager
from tests.service.builders import rows
from tests.service.test_events import PastTense
from tests.web.conftest import Api, api, clock  # noqa: F401  (the API's fixtures)


@pytest.fixture
def past() -> Iterator[PastTense]:
    heard = PastTense()
    default_plugin_manager().register(heard)
    try:
        yield heard
    finally:
        default_plugin_manager().unregister(heard)


def events(api: Api, event: str) -> list[tuple[Any, ...]]:
    found = rows(api.service, "SELECT uid, club_id, member_id, payload FROM outbox_events WHERE event = ? ORDER BY id", (event,))
    return [(uid, club, member, p if isinstance(p, dict) else json.loads(p)) for uid, club, member, p in found]


def test_api_writes_are_told_once_after_commit(api: Api, past: PastTense) -> None:
    past.service = api.service
    key = api.keys_of(api.a)["management"]
    body = {"identifiers": [{"kind": "mobile", "value": "09127770000"}]}
    first = api.post("/members", key, body, idem="enrol-api")
    again = api.post("/members", key, body, idem="enrol-api")  # a replay: the same answer, nothing told again
    assert first.status_code == 201 and again.json == {**first.json, "replayed": True}
    member = first.json["member_id"]
    moved = api.post(f"/members/{member}/tier", key, {"tier": "gold", "reason": "loyal customer"})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    api.a.buy(member, 6_000_000, merchant="restaurant")  # a lottery entry
    drawn = api.post(f"/lotteries/{api.a.lottery_id}/draw", key, {"seed": api.a.lottery_seed})
    assert drawn.status_code == 200, drawn.get_data(as_text=True)
    api.service.wait_for_events()

    assert past.of("member_enrolled") == [{"club_id": api.a.club_id, "member_id": member, "via": "api"}]
    assert past.of("tier_changed") == [{"club_id": api.a.club_id, "member_id": member, "from_tier": None, "to_tier": "gold",
                                        "reason": "manual"}]
    (lottery,) = past.of("lottery_drawn")
    assert lottery["club_id"] == api.a.club_id and lottery["lottery_id"] == api.a.lottery_id and member in lottery["winners"]
    assert all(past.visible)
    assert [(e[1], e[2]) for e in events(api, "member.enrolled") if e[2] == member] == [(api.a.club_id, member)]
    assert [e[3]["to_tier"] for e in events(api, "tier.changed")] == ["gold"]
    assert len(events(api, "lottery.drawn")) == 1 and member in [e[2] for e in events(api, "lottery.won")]
    # Club B's events are B's: nothing of A's request is in them.
    assert all(e[1] == api.b.club_id for e in events(api, "member.enrolled") if e[2] == api.members[api.b.club_id])
