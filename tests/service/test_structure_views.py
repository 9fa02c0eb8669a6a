"""kimia.service.structure_views (reads of a club's structure, scoped by the clubs the caller may
see) and kimia.service.structure (the writes Admin does not make), below the API: two clubs on one
service, each read answering the other's ids as unknown, each write audited and refused whole."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kimia.errors import KimiaError
from kimia.service import Kimia, structure, structure_views as views
from kimia.service.clubs import club_tree
from kimia.service.terminalkeys import kcv, load_kek, unwrap

from .builders import World, audit, dump, scalar

STRUCTURE = ("clubs", "meta_clubs", "meta_club_members", "merchants", "terminals", "merchant_group_members", "member_group_members",
             "audit_log")


def tree_of(world: World) -> list[int]:
    with world.service.reading() as tx:
        return club_tree(tx, world.club_id)


def code_of(call: Callable[[], object]) -> tuple[str, str | None]:
    with pytest.raises(KimiaError) as caught:
        call()
    return caught.value.code, caught.value.path


@pytest.fixture
def two(club: Callable[..., World]) -> tuple[World, World]:
    return club(publish=False), club(publish=False, n=2, name_fa="باشگاه دوم")


def test_the_tree_nests_sub_clubs_and_names_the_meta_clubs(two: tuple[World, World]) -> None:
    a, b = two
    deeper = structure.create_sub_club(a.service, a.sub_club_id, "ژرف", name_en="Deep", business_type=None, actor="test")
    root = views.club_tree(a.service, tree_of(a))
    assert root.id == a.club_id and [c.id for c in root.children] == [a.sub_club_id]
    assert [c.id for c in root.children[0].children] == [deeper]
    meta = structure.create_meta_club(a.service, "فرا", [a.club_id, b.club_id], share_members=False, share_merchants=True,
                                      share_value=False, actor="test")
    [found] = views.meta_clubs_of(a.service, b.club_id)
    assert (found.id, found.share_merchants, found.club_ids) == (meta, True, sorted([a.club_id, b.club_id]))
    assert views.list_meta_clubs(a.service, after_id=meta, limit=10) == []


def test_reads_answer_another_clubs_ids_as_unknown(two: tuple[World, World]) -> None:
    a, b = two
    clubs = tree_of(a)
    assert views.merchant(a.service, clubs, a.merchants["bookshop"]).club_id == a.sub_club_id
    assert code_of(lambda: views.merchant(a.service, clubs, b.merchants["cafe"])) == ("unknown_merchant", "merchant_id")
    assert code_of(lambda: views.terminal(a.service, clubs, b.terminals["cafe"])) == ("unknown_terminal", "terminal_id")
    assert code_of(lambda: views.group(a.service, "member", clubs, b.member_group_id)) == ("not_found", "group_id")
    assert code_of(lambda: views.group(a.service, "merchant", clubs, b.merchant_group_id)) == ("not_found", "group_id")
    assert [m.id for m in views.list_merchants(a.service, clubs, after_id=0, limit=50)] == sorted(a.merchants.values())
    assert [m.id for m in views.list_merchants(a.service, clubs, after_id=0, limit=50, only=a.merchants["cafe"])] == [a.merchants["cafe"]]
    assert views.list_merchants(a.service, clubs, after_id=0, limit=50, only=b.merchants["cafe"]) == []
    assert [m.id for m in views.list_marketers(a.service, clubs, after_id=0, limit=50)] == [a.marketer_id]
    assert [g.id for g in views.list_groups(a.service, "merchant", clubs, after_id=0, limit=50)] == [a.merchant_group_id]


def test_lists_are_read_a_page_at_a_time(two: tuple[World, World]) -> None:
    a, _ = two
    clubs = tree_of(a)
    first = views.list_merchants(a.service, clubs, after_id=0, limit=2)
    rest = views.list_merchants(a.service, clubs, after_id=first[-1].id, limit=2)
    assert [m.id for m in first + rest] == sorted(a.merchants.values())
    assert [t.id for t in views.list_terminals(a.service, a.merchants["cafe"], after_id=0, limit=5)] == [a.terminals["cafe"]]
    owners = views.list_owners(a.service, after_id=0, limit=1)
    assert len(owners) == 1 and views.list_owners(a.service, after_id=owners[0].id, limit=5)[0].id > owners[0].id
    assert [c.id for _, c in views.list_root_clubs(a.service, after_id=0, limit=5)] == sorted([a.club_id, two[1].club_id])


def test_a_terminals_key_is_wrapped_versioned_and_audited_by_its_check_value(two: tuple[World, World]) -> None:
    a, _ = two
    terminal = a.terminals["restaurant"]
    key = bytes(range(16))
    version, check = structure.set_mac_key(a.service, terminal, key, actor="test")
    assert check == kcv(key) and views.terminal(a.service, tree_of(a), terminal).mac_key_version == version
    codes = scalar(a.service, "SELECT terminal_code FROM terminals WHERE id = ?", (terminal,)), \
        scalar(a.service, "SELECT merchant_code FROM terminals WHERE id = ?", (terminal,))
    assert unwrap(load_kek(), scalar(a.service, "SELECT mac_key_enc FROM terminals WHERE id = ?", (terminal,)), *codes) == key
    assert audit(a.service, "set_terminal_key")[-1][2]["kcv"] == check
    again, _ = structure.set_mac_key(a.service, terminal, bytes(range(32)), actor="test")
    assert again == version + 1


def test_refused_writes_change_nothing(two: tuple[World, World]) -> None:
    a, b = two
    svc: Kimia = a.service
    before = dump(svc, STRUCTURE)
    taken = views.terminal(svc, tree_of(a), a.terminals["cafe"])
    assert code_of(lambda: structure.register_terminal(svc, a.merchants["cafe"], taken.terminal_code, taken.merchant_code, kind="pos",
                                                       branch_id=None, mac_key=None, actor="t"))[0] == "terminal_taken"
    assert code_of(lambda: structure.register_terminal(svc, a.merchants["cafe"], "NEW1", "M1", kind="pos", branch_id=None,
                                                       mac_key=bytes(8), actor="t")) == ("field_invalid", "mac_key_hex")
    assert code_of(lambda: structure.set_mac_key(svc, 999_999, bytes(16), actor="t")) == ("unknown_terminal", "terminal_id")
    assert code_of(lambda: structure.create_meta_club(svc, "x", [a.club_id, b.sub_club_id], share_members=True, share_merchants=False,
                                                      share_value=False, actor="t")) == ("unknown_club", "club_ids.1")
    assert code_of(lambda: structure.create_root_club(svc, 999_999, "x", name_en="", business_type=None, actor="t"))[0] == "not_found"
    assert code_of(lambda: structure.change_group(svc, "merchant", a.club_id, a.merchant_group_id, add=[b.merchants["cafe"]], remove=[],
                                                  actor="t")) == ("foreign_reference", "add.0")
    assert code_of(lambda: structure.create_group(svc, "member", a.club_id, "x", [999_999], name_en="", actor="t")) == \
        ("foreign_reference", "ids.0")
    assert code_of(lambda: structure.valid_sheba("IR1")) == ("invalid_sheba_format", "sheba")
    assert dump(svc, STRUCTURE) == before


def test_a_groups_change_is_idempotent_and_a_merchants_rename_audited(two: tuple[World, World]) -> None:
    a, _ = two
    group, cafe, bookshop = a.merchant_group_id, a.merchants["cafe"], a.merchants["bookshop"]
    for _ in range(2):
        structure.change_group(a.service, "merchant", a.club_id, group, add=[bookshop], remove=[cafe], actor="test")
    assert views.group_members(a.service, "merchant", group, after_id=0, limit=10) == sorted([a.merchants["restaurant"], bookshop])
    structure.update_merchant(a.service, cafe, {"name_en": "Coffee"}, actor="test")
    assert views.merchant(a.service, tree_of(a), cafe).name_en == "Coffee"
    assert audit(a.service, "update_merchant")[-1] == ("test", "", {"id": cafe, "name_en": "Coffee"})


def test_a_terminal_registered_by_a_concurrent_request_is_refused_as_taken(two: tuple[World, World],
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = two
    taken = views.terminal(a.service, tree_of(a), a.terminals["cafe"])
    before = dump(a.service, STRUCTURE)
    # The check before the insert saw nothing (the other request had not committed): the unique pair refuses it.
    monkeypatch.setattr(structure, "terminal_by_codes", lambda *_: None)
    assert code_of(lambda: structure.register_terminal(a.service, a.merchants["cafe"], taken.terminal_code, taken.merchant_code,
                                                       kind="pos", branch_id=None, mac_key=None, actor="t")) == \
        ("terminal_taken", "terminal_code")
    assert dump(a.service, STRUCTURE) == before
