"""Rule sets as the back office manages them (kimia.service.rulesets): a version takes effect at its
time and not before, in every cache; a draft's errors are all found at their paths; versions
compare by rule id; a backtest runs a draft or the version in effect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import KimiaError
from kimia.service import rulesets

from .builders import World, audit, scalar

LATER = {"id": "later-bonus", "name": {"en": "Later: 77 points", "fa": "بعدا"}, "effects": [{"type": "points", "fixed": 77}],
         "funding": {"club_owner": 10_000}}


def body_with(world: World, *extra: dict[str, Any]) -> dict[str, Any]:
    return {**world.rules(), "rules": world.rules()["rules"] + list(extra)}


def test_a_version_takes_effect_at_its_time_and_not_before(world: World) -> None:
    service, clock = world.service, world.clock
    member = world.enroll()
    later = clock.now + 3_600
    version = world.admin.publish_rules(world.club_id, body_with(world, LATER), actor="test", reason="campaign", effective_from=later)
    assert version == world.rules_version + 1
    assert audit(service, "publish_rules")[-1][:2] == ("test", "campaign")
    # Before its time the old version is used, and cached as the one in effect.
    assert "later-bonus" not in world.buy(member, 1_000_000)["applied_rules"]
    clock.advance(minutes=59, seconds=59)
    assert "later-bonus" not in world.buy(member, 1_000_000)["applied_rules"]
    # From its time on the new one: the cache (seconds old, well within its lifetime) does not keep the old.
    clock.advance(seconds=1)
    assert "later-bonus" in world.buy(member, 1_000_000)["applied_rules"]
    listed = rulesets.versions(service, world.club_id, after_id=0, limit=10)
    assert [(v.version, v.in_effect) for v in listed][-2:] == [(version - 1, False), (version, True)]
    assert listed[-1].effective_from == later


def test_a_later_publish_with_an_earlier_time_supersedes_a_waiting_version(world: World) -> None:
    service, clock = world.service, world.clock
    member = world.enroll()
    world.admin.publish_rules(world.club_id, body_with(world, LATER), actor="test", effective_from=clock.now + 7_200)
    world.admin.publish_rules(world.club_id, world.rules(), actor="test")  # now
    clock.advance(hours=3)
    assert "later-bonus" not in world.buy(member, 1_000_000)["applied_rules"]


def test_a_time_in_the_past_is_refused_and_nothing_is_stored(world: World) -> None:
    before = scalar(world.service, "SELECT COUNT(*) FROM rule_sets")
    with pytest.raises(KimiaError) as refused:
        world.admin.publish_rules(world.club_id, world.rules(), actor="test", effective_from=world.clock.now - 3_600)
    assert (refused.value.code, refused.value.path) == ("field_invalid", "effective_from")
    assert scalar(world.service, "SELECT COUNT(*) FROM rule_sets") == before


def test_validate_finds_every_bad_rule_at_its_path(world: World) -> None:
    body = body_with(world,
                     {"id": "bad-percent", "effects": [{"type": "discount", "percent_bp": 20_000}]},
                     {"id": "no-effects", "effects": []},
                     {"id": "misspelt", "effects": [{"type": "discount", "percent": 10}]})
    n = len(world.rules()["rules"])
    found = {(e.code, e.path) for e in rulesets.validate(world.service, world.club_id, body)}
    assert ("rule_empty_effects", f"rules[{n + 1}].effects") in found
    assert any(code == "rule_bad_value" and path.startswith(f"rules[{n}].effects[0]") for code, path in found)
    assert any(code == "rule_invalid_json" and path.startswith(f"rules[{n + 2}]") for code, path in found)
    assert rulesets.validate(world.service, world.club_id, world.rules()) == []


def test_validate_refuses_every_id_of_another_club(world: World, club: Callable[..., World]) -> None:
    other = club(n=2)
    body = body_with(world, {"id": "theirs", "scope": {"merchants": [other.merchants["cafe"], other.merchants["bookshop"]]},
                             "effects": [{"type": "discount", "percent_bp": 100}]},
                     {"id": "tier", "conditions": [{"type": "tier", "names": ["platinum"]}], "effects": [{"type": "points", "fixed": 1}]})
    errors = rulesets.validate(world.service, world.club_id, body)
    assert [(e.code, e.params.get("kind")) for e in errors] == [("foreign_reference", "merchant")] * 2 + [("foreign_reference", "tier")]


def test_diff_names_rules_added_removed_and_changed() -> None:
    a = {"version": 1, "rules": [{"id": "x", "effects": [1]}, {"id": "y", "effects": [2]}], "point_value_rial": 1}
    b = {"version": 2, "rules": [{"id": "y", "effects": [3]}, {"id": "z", "effects": [4]}], "point_value_rial": 2}
    change = rulesets.diff(a, b)
    assert (change.added, change.removed, change.changed, change.fields_changed) == (["z"], ["x"], ["y"], ["point_value_rial"])


def test_backtest_runs_a_draft_or_the_version_in_effect(world: World) -> None:
    member = world.enroll()
    for _ in range(3):
        world.buy(member, 1_000_000)
    world.clock.advance(hours=1)
    current = rulesets.backtest(world.service, world.club_id, days=30)
    draft = rulesets.backtest(world.service, world.club_id, days=30, body=body_with(world, LATER))
    assert (current.version, current.result["purchases"]) == (world.rules_version, 3)
    assert draft.version == 0 and draft.rule_count == current.rule_count + 1
    assert draft.result["per_rule"]["later-bonus"]["uses"] == 3 and "later-bonus" not in current.result["per_rule"]
    assert draft.result["points_issued"] == current.result["points_issued"] + 3 * 77
