"""The panel's users (kimia/web/panel/pages/users.py): a club's admin manages the club's own
users only; the platform its own; disabling and new passwords end sessions at once, with a reason
in the audit log; nobody disables themselves."""

from __future__ import annotations

from kimia.service import staff

from ..conftest import count
from .conftest import PASSWORD, Panel, page, post, sign_in
from .test_structure import audited, persian


def test_a_club_admin_lists_only_the_club_users(panel: Panel) -> None:
    client = panel.client("admin")
    status, html = page(client, "/panel/users")
    assert status == 200 and persian(html)
    for role in ("admin", "marketer", "support", "read_only", "merchant"):
        assert panel.login_of(role) in html
        assert panel.login_of(role, panel.b) not in html  # club B's users never show
    assert ">platform<" not in html and "اپراتور سکو" not in html  # nor the platform's
    assert "کافه" in html  # the merchant staff's merchant
    html = page(client, "/panel/users?lang=en")[1]
    assert "Panel users" in html and "Merchant staff" in html
    assert page(panel.client("marketer"), "/panel/users")[0] == 403


def test_the_platform_lists_its_own_users(panel: Panel) -> None:
    html = page(panel.client("platform"), "/panel/users")[1]
    assert "platform" in html and panel.login_of("admin") not in html


def test_a_club_admin_makes_users_but_never_a_platform_user(panel: Panel) -> None:
    client = panel.client("admin")
    before = count(panel.api, "panel_users")
    for bad in ({"login": "x", "name": "x", "role": "support", "password": PASSWORD},  # login too short
                {"login": "new-support", "name": "x", "role": "platform", "password": PASSWORD},
                {"login": "new-support", "name": "x", "role": "support", "password": "short"},
                {"login": panel.login_of("admin", panel.b), "name": "x", "role": "support", "password": PASSWORD},
                {"login": "new-cashier", "name": "x", "role": "merchant", "password": PASSWORD,
                 "merchant_id": str(panel.b.merchants["cafe"])}):
        r = post(client, "/panel/users", bad)
        assert r.status_code == 400, bad
    assert count(panel.api, "panel_users") == before
    r = post(client, "/panel/users", {"login": "new-cashier", "name": "صندوق‌دار", "role": "merchant", "password": PASSWORD,
                                      "merchant_id": str(panel.a.merchants["restaurant"])})
    assert r.status_code == 302 and count(panel.api, "panel_users") == before + 1
    made = [u for u in staff.list_users(panel.service, panel.a.club_id) if u.login == "new-cashier"][0]
    assert made.role == "merchant" and made.merchant_id == panel.a.merchants["restaurant"]
    assert audited(panel, "panel_user_created")[-1][0] == f"panel:{panel.login_of('admin')}"


def test_disabling_ends_sessions_at_once_and_needs_a_reason(panel: Panel) -> None:
    admin = panel.client("admin")
    target = panel.users[(panel.a.club_id, "support")]
    victim = panel.client("support")
    assert page(victim, "/panel/")[0] in (200, 302)
    r = post(admin, f"/panel/users/{target.id}/state", {"disabled": "1", "reason": ""})
    assert r.status_code == 400 and "ذکر دلیل" in r.get_data(as_text=True)
    assert not staff.get_user(panel.service, target.id).disabled  # type: ignore[union-attr]
    r = post(admin, f"/panel/users/{target.id}/state", {"disabled": "1", "reason": "left the company"})
    assert r.status_code == 302
    assert staff.get_user(panel.service, target.id).disabled  # type: ignore[union-attr]
    assert victim.get("/panel/").status_code == 302 and "/panel/login" in victim.get("/panel/").headers["Location"]
    assert ("panel:" + panel.login_of("admin"), "left the company") == audited(panel, "panel_user_disabled")[-1]
    html = page(admin, f"/panel/users/{target.id}")[1]
    assert "غیرفعال" in html and "فعال کردن دوباره" in html
    r = post(admin, f"/panel/users/{target.id}/state", {"disabled": "0", "reason": "came back"})
    assert r.status_code == 302 and not staff.get_user(panel.service, target.id).disabled  # type: ignore[union-attr]
    assert audited(panel, "panel_user_enabled")[-1] == ("panel:" + panel.login_of("admin"), "came back")


def test_nobody_disables_themselves(panel: Panel) -> None:
    admin = panel.client("admin")
    me = panel.users[(panel.a.club_id, "admin")]
    r = post(admin, f"/panel/users/{me.id}/state", {"disabled": "1", "reason": "oops"})
    assert r.status_code == 403 and "خودتان" in r.get_data(as_text=True)
    assert not staff.get_user(panel.service, me.id).disabled  # type: ignore[union-attr]
    platform = panel.client("platform")
    me = panel.users[(None, "platform")]
    assert post(platform, f"/panel/users/{me.id}/state", {"disabled": "1", "reason": "oops"}).status_code == 403


def test_a_new_password_with_a_reason_ends_sessions(panel: Panel) -> None:
    admin = panel.client("admin")
    target = panel.users[(panel.a.club_id, "marketer")]
    victim = panel.client("marketer")
    r = post(admin, f"/panel/users/{target.id}/password", {"password": "a brand new password", "reason": ""})
    assert r.status_code == 400
    r = post(admin, f"/panel/users/{target.id}/password", {"password": "short", "reason": "forgot it"})
    assert r.status_code == 400 and "گذرواژه باید" in r.get_data(as_text=True)
    sign_in(panel.api.app.test_client(), panel.login_of("marketer"), PASSWORD)  # the old one still works
    r = post(admin, f"/panel/users/{target.id}/password", {"password": "a brand new password", "reason": "forgot it"})
    assert r.status_code == 302
    assert victim.get("/panel/").status_code == 302 and "/panel/login" in victim.get("/panel/").headers["Location"]
    sign_in(panel.api.app.test_client(), panel.login_of("marketer"), "a brand new password")
    assert audited(panel, "panel_password_set")[-1] == ("panel:" + panel.login_of("admin"), "forgot it")


def test_another_club_users_are_not_found(panel: Panel) -> None:
    other = panel.client("admin", panel.b)
    target = panel.users[(panel.a.club_id, "support")]
    assert page(other, f"/panel/users/{target.id}")[0] == 404
    assert post(other, f"/panel/users/{target.id}/state", {"disabled": "1", "reason": "x"}).status_code == 404
    assert post(other, f"/panel/users/{target.id}/password", {"password": "a brand new password", "reason": "x"}).status_code == 404
    platform_user = panel.users[(None, "platform")]
    assert page(other, f"/panel/users/{platform_user.id}")[0] == 404
    assert not staff.get_user(panel.service, target.id).disabled  # type: ignore[union-attr]
    # The platform's operator may open any user (a club whose admin is locked out).
    assert page(panel.client("platform"), f"/panel/users/{target.id}")[0] == 200
