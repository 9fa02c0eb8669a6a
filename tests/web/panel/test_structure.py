"""The club's structure pages (kimia/web/panel/pages/structure.py): the tree, meta-clubs, groups
and marketers; the admin's changes land through the API's handlers and in the audit log."""

from __future__ import annotations

from ..conftest import count
from .conftest import Panel, page, post


def audited(panel: Panel, action: str) -> list[tuple[str, str]]:
    """(actor, reason) of each audit row of ``action``, oldest first."""
    with panel.service.reading() as tx:
        return [(str(r[0]), str(r[1] or "")) for r in tx.all("SELECT actor, reason FROM audit_log WHERE action = ? ORDER BY id", (action,))]


def persian(html: str) -> bool:
    return any(c in html for c in "۰۱۲۳۴۵۶۷۸۹")


def test_the_tree_groups_and_marketers_show_in_persian_and_english(panel: Panel) -> None:
    client = panel.client("read_only")
    status, html = page(client, "/panel/structure")
    assert status == 200
    assert "باشگاه کیمیا" in html and "زیرباشگاه شمال" in html  # the club and its sub-club
    assert "فودکورت" in html and "اعضای ویژه" in html and "بازاریاب" in html
    assert "باشگاه دوم" not in html  # club B's name never shows
    assert persian(html) and "۱۴۰" in html  # a Jalali year in Persian digits
    assert 'action="/panel/structure/sub-clubs"' not in html  # read-only: no forms
    status, html = page(client, "/panel/structure?lang=en")
    assert status == 200 and "Club tree" in html and "North" in html and "Food court" in html


def test_the_admin_adds_a_sub_club_and_it_is_audited(panel: Panel) -> None:
    client = panel.client("admin")
    assert 'action="/panel/structure/sub-clubs"' in page(client, "/panel/structure")[1]
    before = count(panel.api, "clubs")
    r = post(client, "/panel/structure/sub-clubs", {"parent_id": str(panel.a.sub_club_id), "name_fa": "شعبهٔ جنوب", "name_en": "South"})
    assert r.status_code == 302 and "notice=structure.created_sub_club" in r.headers["Location"]
    assert count(panel.api, "clubs") == before + 1
    with panel.service.reading() as tx:
        assert tx.one("SELECT parent_id FROM clubs WHERE name_fa = ?", ("شعبهٔ جنوب",))[0] == panel.a.sub_club_id
    html = page(client, "/panel/structure?notice=structure.created_sub_club")[1]
    assert "شعبهٔ جنوب" in html and "زیرباشگاه ساخته شد" in html
    assert audited(panel, "create_club")[-1][0] == f"panel:{panel.login_of('admin')}"


def test_a_bad_sub_club_shows_its_error_and_changes_nothing(panel: Panel) -> None:
    client = panel.client("admin")
    before = count(panel.api, "clubs")
    r = post(client, "/panel/structure/sub-clubs", {"name_fa": ""})
    assert r.status_code == 400 and "این فیلد الزامی است" in r.get_data(as_text=True)
    # Club B's admin names club A's club as the parent: refused, nothing made.
    other = panel.client("admin", panel.b)
    r = post(other, "/panel/structure/sub-clubs", {"parent_id": str(panel.a.club_id), "name_fa": "نفوذی"})
    assert r.status_code == 400 and "چنین باشگاهی وجود ندارد" in r.get_data(as_text=True)
    assert count(panel.api, "clubs") == before


def test_the_admin_adds_a_marketer(panel: Panel) -> None:
    client = panel.client("admin")
    before = count(panel.api, "marketers")
    r = post(client, "/panel/structure/marketers", {"name_fa": "بازاریاب تازه", "sheba": "not a sheba"})
    assert r.status_code == 400 and count(panel.api, "marketers") == before
    r = post(client, "/panel/structure/marketers", {"name_fa": "بازاریاب تازه", "club_id": str(panel.a.sub_club_id)})
    assert r.status_code == 302 and count(panel.api, "marketers") == before + 1
    assert "بازاریاب تازه" in page(client, "/panel/structure")[1]
    assert audited(panel, "create_marketer")[-1][0] == f"panel:{panel.login_of('admin')}"


def test_merchant_groups_are_made_and_changed(panel: Panel) -> None:
    client = panel.client("admin")
    cafe, bookshop = panel.a.merchants["cafe"], panel.a.merchants["bookshop"]
    r = post(client, "/panel/structure/merchant-groups", {"name_fa": "کتاب و قهوه", "ids": [str(cafe), str(bookshop)]})
    assert r.status_code == 302
    path = r.headers["Location"].split("?")[0]
    html = page(client, path)[1]
    assert "کتاب و قهوه" in html and "۲" in html
    r = post(client, path, {"ids": [str(cafe)]})
    assert r.status_code == 302
    with panel.service.reading() as tx:
        group = tx.one("SELECT id FROM merchant_groups WHERE name_fa = ?", ("کتاب و قهوه",))[0]
        members = {int(x[0]) for x in tx.all("SELECT merchant_id FROM merchant_group_members WHERE group_id = ?", (group,))}
    assert members == {cafe}
    assert audited(panel, "create_merchant_group")[-1][0] == f"panel:{panel.login_of('admin')}"
    # Another club's merchant is refused and the group stays as it was.
    r = post(client, path, {"ids": [str(cafe), str(panel.b.merchants["cafe"])]})
    assert r.status_code == 400
    with panel.service.reading() as tx:
        assert {int(x[0]) for x in tx.all("SELECT merchant_id FROM merchant_group_members WHERE group_id = ?", (group,))} == {cafe}


def test_member_groups_list_and_change_their_members(panel: Panel) -> None:
    client = panel.client("admin")
    member = panel.api.members[panel.a.club_id]
    r = post(client, "/panel/structure/member-groups", {"name_fa": "مشتریان وفادار", "ids": f"{member}"})
    assert r.status_code == 302
    path = r.headers["Location"].split("?")[0]
    status, html = page(client, path)
    assert status == 200 and "مشتریان وفادار" in html
    from kimia.web.panel import fmt
    assert fmt.number(member, "fa") in html
    before = count(panel.api, "member_group_members")
    r = post(client, path, {"add": "abc"})
    assert r.status_code == 400 and count(panel.api, "member_group_members") == before
    r = post(client, path, {"add": str(panel.api.members[panel.b.club_id])})  # club B's member
    assert r.status_code == 400 and count(panel.api, "member_group_members") == before
    r = post(client, path, {"remove": fmt.digits(str(member), "fa")})  # Persian digits are read
    assert r.status_code == 302 and count(panel.api, "member_group_members") == before - 1


def test_club_b_never_opens_club_a_groups(panel: Panel) -> None:
    other = panel.client("read_only", panel.b)
    assert page(other, f"/panel/structure/merchant-groups/{panel.a.merchant_group_id}")[0] == 404
    assert page(other, f"/panel/structure/member-groups/{panel.a.member_group_id}")[0] == 404
