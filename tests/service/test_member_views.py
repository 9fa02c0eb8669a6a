"""The reads of a member (kimia.service.member_views), scoped by the viewer's club: a club that
meets a member through a meta-club sharing members sees the member and its own operations, but
their value only when the meta-club shares value too; referral codes are one per member, unique
in the club, and found as typed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kimia.errors import Rejected
from kimia.service import member_views as views

from .builders import World, card_number, mobile, rows


def test_a_club_sharing_members_sees_its_own_operations_and_no_value_until_value_is_shared(club: Callable[..., World]) -> None:
    a = club(n=1)
    b = club(n=2, name_fa="باشگاه همسایه")
    service = a.service
    member = a.enroll(identifiers=[("card", card_number(81)), ("mobile", mobile(81))], groups=[a.member_group_id])
    a.admin.create_meta_club("فراباشگاه", [a.club_id, b.club_id], share_members=True)
    at_b = b.buy(member, 1_000_000, merchant="restaurant")
    at_a = a.buy(member, 1_000_000, merchant="cafe")

    assert [i["op_id"] for i in views.history(service, b.club_id, member, before_id=0, limit=50)] == [at_b["op_id"]]
    assert [i["kind"] for i in views.history(service, a.club_id, member, before_id=0, limit=50)] == ["purchase", "enroll"]
    assert views.balances(service, b.club_id, member)["accounts"] == [] and views.lots(service, b.club_id, member, offset=0, limit=50) == []
    own = views.balances(service, a.club_id, member)
    assert own["points"] == at_a["balance_points"] and own["points"] > 0
    # B's lottery entries (kept in A's ledger) are B's to see; A's own lottery is not.
    assert [e["lottery_id"] for e in views.lottery_entries(service, b.club_id, member)] == [b.lottery_id]
    assert [e["lottery_id"] for e in views.lottery_entries(service, a.club_id, member)] == sorted([a.lottery_id, b.lottery_id])
    assert views.profile(service, b.club_id, member)["groups"] == []
    assert [g["id"] for g in views.profile(service, a.club_id, member)["groups"]] == [a.member_group_id]
    with pytest.raises(Rejected) as err:
        views.referral_code(service, b.club_id, member)
    assert err.value.code == "unknown_member"

    a.admin.create_meta_club("فراباشگاه ارزشی", [a.club_id, b.club_id], share_members=True, share_value=True)
    assert views.balances(service, b.club_id, member)["points"] == own["points"]


def test_masked_identifiers_hold_no_card_number(world: World) -> None:
    pan = card_number(82)
    member = world.enroll(identifiers=[("card", pan)])
    with world.service.reading() as tx:
        shown = views.masked_identifiers(world.service, tx, member)
    assert [(i["kind"], i["display"]) for i in shown][0] == ("card", "*" * 12 + pan[-4:])
    assert pan not in str(shown)


def test_a_referral_code_is_one_per_member_unique_and_found_as_typed(world: World) -> None:
    service = world.service
    first, second = world.enroll(), world.enroll()
    code = views.referral_code(service, world.club_id, first)["code"]
    assert views.referral_code(service, world.club_id, first)["code"] == code
    other = views.referral_code(service, world.club_id, second)["code"]
    assert other != code and len(code) == 8 and set(code) <= set(views.CODE_ALPHABET)
    assert rows(service, "SELECT COUNT(*) FROM referral_codes") == [(2,)]
    assert views.referrer_of_code(service, world.sub_club_id, f" {code[:4].lower()}-{code[4:]} ") == first
    with pytest.raises(Rejected) as err:
        views.referrer_of_code(service, world.club_id, "22222222")
    assert (err.value.code, err.value.path) == ("field_invalid", "referred_by_code")


def test_tier_history_and_history_are_newest_first_and_paged_by_id(world: World) -> None:
    service = world.service
    member = world.enroll()
    ops = [world.buy(member, 1_000_000 * (n + 1))["op_id"] for n in range(3)]
    page = views.history(service, world.club_id, member, before_id=0, limit=2)
    assert [i["op_id"] for i in page] == ops[:0:-1]
    rest = views.history(service, world.club_id, member, before_id=page[-1]["op_id"], limit=2)
    assert [i["op_id"] for i in rest][0] == ops[0] and rest[-1]["kind"] == "enroll"
    assert page[0]["explanation_en"] and page[0]["explanation_fa"]
    service.close_period(world.club_id, world.clock.now + 10, actor="test")
    world.clock.advance(days=1)
    service.close_period(world.club_id, world.clock.now + 10, actor="test")
    moves = views.tier_history(service, member, before_id=0, limit=50)
    assert len(moves) == 2 and moves[0]["id"] > moves[1]["id"] and moves[1]["to_tier"] == "gold"
    assert views.tier_history(service, member, before_id=moves[0]["id"], limit=50) == moves[1:]
