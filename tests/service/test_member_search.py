"""The panel's member search (kimia.service.member_search, migration 0014): what it finds, how it
normalises what people type, that it never leaves the caller's club tree, and that each of its
lookups is an index probe or range on both databases."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

from kimia.service import Kimia, member_search, search_keys
from kimia.store.engine import raw_connect
from service.builders import World, card_number, club_card, mobile, national_code

MIGRATION = importlib.import_module("kimia.store.migrations.versions.0014_member_search")


@pytest.fixture
def people(world: World) -> dict[str, int]:
    w = world
    return {
        "ali": w.enroll(identifiers=[("mobile", mobile(9_001)), ("card", card_number(1)), ("national_code", national_code(1)),
                                     ("club_card", club_card(1))], name_fa="علی رضایی"),
        "kaveh": w.enroll(identifiers=[("mobile", mobile(9_002))], name_fa="كاوه يزدي"),  # typed with Arabic kaf and yeh
        "mr": w.enroll(identifiers=[("mobile", mobile(9_003))], name_fa="محمد\u200cرضا احمدی"),
        "sub": w.enroll(identifiers=[("mobile", mobile(9_004))], name_fa="سارا نیکو", club_id=w.sub_club_id),
    }


def found(service: Kimia, club: int, text: str) -> list[int]:
    return [r["member_id"] for r in member_search.search(service, club, text)]


def test_words_are_normalised_as_people_type_them() -> None:
    assert search_keys.words_of("علي  رضايي") == ["علی", "رضایی"]
    assert search_keys.words_of("كاوه ۱۲۳") == ["کاوه", "123"]
    assert search_keys.words_of("محمد\u200cرضا") == ["محمدرضا", "محمد", "رضا"]
    assert search_keys.words_of("Sara NIKOO") == ["sara", "nikoo"]
    assert search_keys.query_words(" محمد\u200cرضا  ٠٩١٢ ") == ["محمدرضا", "0912"]
    for name in ("علي  رضايي", "كاوه ۱۲۳", "محمد\u200cرضا احمدی", "Sara NIKOO", "", "  "):
        assert MIGRATION.words_of(name) == search_keys.words_of(name), name  # the backfill makes the same words


def test_finds_a_member_by_each_thing_they_are_known_by(service: Kimia, world: World, people: dict[str, int]) -> None:
    club, ali = world.club_id, people["ali"]
    mobile_text = mobile(9_001)
    local = "0" + mobile_text[3:] if mobile_text.startswith("+98") else mobile_text
    persian = local.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    arabic = local.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for text in (local, "+98" + local[1:], persian, arabic, national_code(1), club_card(1), card_number(1)[-4:],
                 club_card(1)[-4:], str(ali), card_number(1), "علی", "علي", "رضا", "علی رض", "رضایی علی"):
        assert ali in found(service, club, text), text
    assert found(service, club, "كاوه") == [people["kaveh"]] == found(service, club, "یزد")
    assert found(service, club, "محمدرضا") == [people["mr"]] == found(service, club, "رضا احم") == found(service, club, "محمد\u200cرضا")
    assert found(service, club, "نیکو") == [people["sub"]]  # a sub-club's member is in the tree
    assert found(service, club, "") == [] and found(service, club, "ناشناس") == []
    (line,) = member_search.search(service, club, mobile_text)
    assert line["name_fa"] == "علی رضایی" and line["points"] == 0 and line["last_purchase_at"] is None
    shown = " ".join(i["display"] for i in line["identifiers"])
    assert card_number(1) not in shown and club_card(1) not in shown and card_number(1)[-4:] in shown


def test_a_search_never_leaves_the_club_tree(service: Kimia, world: World, club: Callable[..., World], people: dict[str, int]) -> None:
    other = club(n=2, name_fa="باشگاه دیگر")
    stranger = other.enroll(identifiers=[("mobile", mobile(9_101)), ("card", card_number(5))], name_fa="علی غریبه")
    for text in (mobile(9_001), "علی", str(people["ali"]), card_number(1)[-4:], national_code(1)):
        assert people["ali"] not in found(service, other.club_id, text), text
    assert found(service, other.club_id, "علی") == [stranger]
    assert stranger not in found(service, world.club_id, "غریبه") + found(service, world.club_id, str(stranger))
    assert found(service, world.sub_club_id, "علی") == [people["ali"]]  # a sub-club's staff search the tree


def test_the_words_follow_enrolment(service: Kimia, world: World, people: dict[str, int]) -> None:
    with service.reading() as tx:
        rows = tx.all("SELECT club_id, word FROM member_search_words WHERE member_id = ? ORDER BY word", (people["sub"],))
    assert sorted(w for _, w in rows) == sorted(["سارا", "نیکو"]) and {c for c, _ in rows} == {world.club_id}  # the root club


def test_each_lookup_goes_through_an_index(db_url: str, open_service: Callable[..., Kimia]) -> None:
    """With many members the name prefix is a range of member_search_words' primary key and a
    card's last 4 a probe of ix_member_identifiers_display (migration 0014), on both databases."""
    from kimia.service import Admin

    with open_service(db_url) as service:
        admin = Admin(service)
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه")
    conn = raw_connect(db_url)
    name_sql = ("SELECT w.member_id FROM member_search_words w WHERE w.club_id = {p} AND w.word >= {p} AND w.word < {p}"
                " ORDER BY w.word, w.member_id LIMIT 60")
    last4_sql = "SELECT member_id FROM member_identifiers WHERE club_id = {p} AND kind = {p} AND display IN ({p}, {p}) ORDER BY member_id LIMIT 20"
    try:
        if db_url.startswith("sqlite"):
            conn.executemany("INSERT INTO members (id, club_id, name_fa, enrolled_via, purchase_count, period_points, grace_used,"
                             " frozen_until, created_at) VALUES (?, ?, 'x', 'api', 0, 0, 0, 0, 0)", [(g, club) for g in range(1, 3001)])
            conn.executemany("INSERT INTO member_search_words (club_id, word, member_id) VALUES (?, ?, ?)",
                             [(club, f"نام{g}", g) for g in range(1, 3001)])
            conn.executemany("INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at) VALUES (?, ?, 'card', ?, ?, 0)",
                             [(club, g, f"h{g}", f"************{g:04d}") for g in range(1, 3001)])
            conn.execute("ANALYZE")
            plans = [" ".join(str(r) for r in conn.execute("EXPLAIN QUERY PLAN " + sql.format(p="?"), params).fetchall())
                     for sql, params in ((name_sql, (club, "نام12", "نام12\uffff")),
                                         (last4_sql, (club, "card", "************0012", "*************0012")))]
        else:
            conn.execute("INSERT INTO members (id, club_id, name_fa, enrolled_via, purchase_count, period_points, grace_used, frozen_until,"
                         " created_at) SELECT g, %s, 'x', 'api', 0, 0, 0, 0, 0 FROM generate_series(1, 3000) g", (club,))
            conn.execute("INSERT INTO member_search_words (club_id, word, member_id) SELECT %s, 'نام' || g, g FROM generate_series(1, 3000) g",
                         (club,))
            conn.execute("INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at)"
                         " SELECT %s, g, 'card', 'h' || g, '************' || lpad(g::text, 4, '0'), 0 FROM generate_series(1, 3000) g", (club,))
            conn.execute("ANALYZE members")
            conn.execute("ANALYZE member_search_words")
            conn.execute("ANALYZE member_identifiers")
            plans = ["\n".join(r[0] for r in conn.execute("EXPLAIN " + sql.format(p="%s"), params, prepare=False).fetchall())
                     for sql, params in ((name_sql, (club, "نام12", "نام12\uffff")),
                                         (last4_sql, (club, "card", "************0012", "*************0012")))]
        conn.rollback()
    finally:
        conn.close()
    # SQLite names a composite primary key's index sqlite_autoindex_member_search_words_1.
    assert ("pk_member_search_words" in plans[0] or "INDEX sqlite_autoindex_member_search_words_1 (club_id=? AND word>? AND word<?)" in plans[0]), plans[0]
    assert "Seq Scan" not in plans[0] and "Sort" not in plans[0] and "TEMP B-TREE" not in plans[0], plans[0]
    assert "ix_member_identifiers_display" in plans[1], plans[1]
