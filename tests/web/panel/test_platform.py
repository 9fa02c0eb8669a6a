"""The platform operator's pages (kimia/web/panel/pages/platform.py): root clubs with their owner
and size, new owners, clubs and a club's admin, and the fee tariffs."""

from __future__ import annotations

from kimia.service import staff

from ..conftest import count
from .conftest import PASSWORD, Panel, page, post, sign_in
from .test_structure import audited, persian


def test_the_clubs_page_is_the_platform_home_and_counts_members_and_merchants(panel: Panel) -> None:
    client = panel.client("platform")
    r = client.get("/panel/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/panel/platform/clubs")
    status, html = page(client, "/panel/platform/clubs")
    assert status == 200 and persian(html)
    assert "باشگاه کیمیا" in html and "باشگاه دوم" in html
    assert "شرکت 1" in html  # the owner's name
    with panel.service.reading() as tx:
        members = int(tx.one("SELECT COUNT(*) FROM members WHERE club_id IN (?, ?)", (panel.a.club_id, panel.a.sub_club_id))[0])
    from kimia.web.panel import fmt
    assert f'<td class="num">{fmt.number(members, "fa")}</td>' in html
    assert '<td class="num">۳</td>' in html  # three merchants in club A's tree
    status, html = page(client, "/panel/platform/clubs?lang=en")
    assert status == 200 and "Club 1" in html and "Owner 1" in html and f'<td class="num">{members}</td>' in html


def test_the_platform_makes_an_owner_a_club_and_its_admin(panel: Panel) -> None:
    client = panel.client("platform")
    owners, clubs = count(panel.api, "club_owners"), count(panel.api, "clubs")
    assert post(client, "/panel/platform/owners", {"name_fa": ""}).status_code == 400
    assert count(panel.api, "club_owners") == owners
    r = post(client, "/panel/platform/owners", {"name_fa": "شرکت تازه", "name_en": "New Co"})
    assert r.status_code == 302 and count(panel.api, "club_owners") == owners + 1
    with panel.service.reading() as tx:
        owner = int(tx.one("SELECT id FROM club_owners WHERE name_fa = ?", ("شرکت تازه",))[0])
    assert post(client, "/panel/platform/clubs", {"owner_id": "999999", "name_fa": "باشگاه بی‌صاحب"}).status_code == 400
    assert count(panel.api, "clubs") == clubs
    r = post(client, "/panel/platform/clubs", {"owner_id": str(owner), "name_fa": "باشگاه تازه", "business_type": "retail"})
    assert r.status_code == 302 and count(panel.api, "clubs") == clubs + 1
    with panel.service.reading() as tx:
        club = int(tx.one("SELECT id FROM clubs WHERE name_fa = ?", ("باشگاه تازه",))[0])
    assert "باشگاه تازه" in page(client, "/panel/platform/clubs")[1]
    users = count(panel.api, "panel_users")
    r = post(client, "/panel/platform/admins", {"club_id": str(club), "login": "new-admin", "name": "مدیر تازه", "password": "short"})
    assert r.status_code == 400 and "گذرواژه باید" in r.get_data(as_text=True) and count(panel.api, "panel_users") == users
    r = post(client, "/panel/platform/admins", {"club_id": str(club), "login": "new-admin", "name": "مدیر تازه", "password": PASSWORD})
    assert r.status_code == 302 and count(panel.api, "panel_users") == users + 1
    made = [u for u in staff.list_users(panel.service, club) if u.login == "new-admin"][0]
    assert made.role == "admin" and made.club_id == club
    assert audited(panel, "panel_user_created")[-1][0] == "panel:platform"
    assert audited(panel, "create_club")[-1][0] == "panel:platform"
    fresh = panel.api.app.test_client()
    sign_in(fresh, "new-admin", PASSWORD)
    assert page(fresh, "/panel/structure")[1].count("باشگاه تازه") >= 1


def test_tariffs_are_listed_added_and_changed(panel: Panel) -> None:
    client = panel.client("platform")
    status, html = page(client, "/panel/platform/tariffs")
    assert status == 200 and "restaurant" in html and "پیش‌فرض" in html and "٪" in html
    before = count(panel.api, "fee_tariffs")
    r = post(client, "/panel/platform/tariffs", {"business_type": "bakery", "percent_bp": "abc"})
    assert r.status_code == 400 and count(panel.api, "fee_tariffs") == before
    r = post(client, "/panel/platform/tariffs", {"business_type": "bakery", "percent_bp": "۱۵۰", "cap_rial": "500,000"})
    assert r.status_code == 302 and count(panel.api, "fee_tariffs") == before + 1
    r = post(client, "/panel/platform/tariffs", {"business_type": "bakery", "percent_bp": "175"})
    assert r.status_code == 302 and count(panel.api, "fee_tariffs") == before + 1
    with panel.service.reading() as tx:
        assert tuple(tx.one("SELECT percent_bp, cap_rial FROM fee_tariffs WHERE business_type = ?", ("bakery",))) == (175, None)
    html = page(client, "/panel/platform/tariffs?lang=en")[1]
    assert "bakery" in html and "1.75%" in html
    assert audited(panel, "set_fee_tariff")[-1][0] == "panel:platform"


def test_club_staff_never_open_the_platform_pages(panel: Panel) -> None:
    for role in ("admin", "read_only", "merchant"):
        client = panel.client(role)
        assert page(client, "/panel/platform/clubs")[0] == 403
        assert post(client, "/panel/platform/owners", {"name_fa": "x"}).status_code == 403
