"""The panel's foundation: sign-in, sessions, CSRF, headers, assets (issue 16, Security)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kimia.service import staff
from kimia.web.api.limits import RateLimiter
from kimia.web.panel.access import PANEL, PORTAL
from service.builders import FakeClock

from ..conftest import count
from .conftest import PASSWORD, Panel, csrf_of, page, post, sign_in

STATIC = Path(__file__).resolve().parents[3] / "kimia" / "web" / "static"


def test_passwords_are_argon2id_and_never_kept_in_clear(panel: Panel) -> None:
    with panel.service.reading() as tx:
        rows = tx.all("SELECT password_hash FROM panel_users")
    assert rows and all(str(r[0]).startswith("$argon2id$") for r in rows)
    assert not any(PASSWORD in str(r[0]) for r in rows)


def test_a_wrong_password_and_an_unknown_login_answer_alike(panel: Panel) -> None:
    client = panel.api.app.test_client()
    token = csrf_of(client.get("/panel/login").get_data(as_text=True))
    wrong = client.post("/panel/login", data={"login": "admin-%d" % panel.a.club_id, "password": "not the password", "csrf_token": token})
    unknown = client.post("/panel/login", data={"login": "nobody-here", "password": "not the password", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "kimia_panel" not in (wrong.headers.get("Set-Cookie") or "")
    message = "نام کاربری یا گذرواژه درست نیست"
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_five_wrong_passwords_lock_the_user_for_a_while(panel: Panel, clock: FakeClock) -> None:
    login = panel.login_of("support")
    for _ in range(staff.MAX_FAILURES):
        with pytest.raises(Exception) as refused:
            staff.authenticate(panel.service, login, "wrong password!!")
        assert getattr(refused.value, "code", "") == "login_failed"
    with pytest.raises(Exception) as locked:
        staff.authenticate(panel.service, login, PASSWORD)  # even the right one, while locked
    assert getattr(locked.value, "code", "") == "login_throttled"
    clock.advance(seconds=staff.LOCK_S + 1)
    assert staff.authenticate(panel.service, login, PASSWORD).login == login


def test_sign_in_without_the_form_token_is_refused(panel: Panel) -> None:
    client = panel.api.app.test_client()
    r = client.post("/panel/login", data={"login": panel.login_of("admin"), "password": PASSWORD})
    assert r.status_code == 403 and "csrf_failed" not in (r.headers.get("Set-Cookie") or "")
    assert "kimia_panel" not in (r.headers.get("Set-Cookie") or "")


def test_sign_in_is_limited_per_address(panel: Panel) -> None:
    panel.api.app.config["KIMIA_SIGN_IN_PER_MIN"] = 10
    panel.api.app.extensions["kimia_sign_in"] = RateLimiter(clock=lambda: 0.0)  # time stands still: no refill
    client = panel.api.app.test_client()
    token = csrf_of(client.get("/panel/login").get_data(as_text=True))
    statuses = [client.post("/panel/login", data={"login": "x-y-z", "password": "no no no no no", "csrf_token": token}).status_code
                for _ in range(12)]
    assert statuses[-1] == 429 and 401 in statuses


def test_logout_ends_the_session_on_the_server(panel: Panel) -> None:
    client = panel.client("admin")
    cookie = client.get_cookie("kimia_panel", path="/panel")
    assert cookie is not None
    r = post(client, "/panel/logout", {})
    assert r.status_code == 302
    other = panel.api.app.test_client()  # the old cookie, replayed from elsewhere
    other.set_cookie("kimia_panel", cookie.value, path="/panel")
    assert other.get("/panel/").status_code == 302  # to the sign-in page


def test_disabling_a_user_ends_their_sessions(panel: Panel) -> None:
    client = panel.client("marketer")
    assert page(client, "/panel/")[0] in (200, 302)
    user = panel.users[(panel.a.club_id, "marketer")]
    staff.set_disabled(panel.service, user.id, True, actor="test", reason="left the company")
    assert client.get("/panel/").headers["Location"].startswith("/panel/login")
    with panel.service.reading() as tx:
        row = tx.one("SELECT action, reason FROM audit_log ORDER BY id DESC LIMIT 1")
    assert tuple(row) == ("panel_user_disabled", "left the company")


def test_a_session_ends_when_idle_and_at_the_end_of_its_life(panel: Panel, clock: FakeClock) -> None:
    client = panel.client("admin")
    clock.advance(seconds=staff.IDLE_S + 1)
    assert client.get("/panel/").status_code == 302
    client = panel.client("admin")
    for _ in range(staff.LIFE_S // (staff.IDLE_S - 60) + 1):
        clock.advance(seconds=staff.IDLE_S - 60)
        client.get("/panel/")
    assert client.get("/panel/").headers.get("Location", "").startswith("/panel/login")


def test_a_post_without_the_sessions_csrf_token_changes_nothing(panel: Panel) -> None:
    client = panel.client("admin")
    before = count(panel.api, "panel_sessions")
    r = client.post("/panel/logout", data={"csrf_token": "forged"})
    assert r.status_code == 403 and "csrf_failed" in r.get_data(as_text=True)
    assert client.get("/panel/").status_code in (200, 302) and count(panel.api, "panel_sessions") == before
    assert not client.get("/panel/", follow_redirects=True).request.path.startswith("/panel/login")


def test_pages_carry_the_security_headers_and_the_session_cookie_is_guarded(panel: Panel) -> None:
    client = panel.api.app.test_client()
    r = client.get("/panel/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    token = csrf_of(r.get_data(as_text=True))
    signed = client.post("/panel/login", data={"login": panel.login_of("admin"), "password": PASSWORD, "csrf_token": token})
    cookie = next(c for c in signed.headers.getlist("Set-Cookie") if c.startswith("kimia_panel="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/panel" in cookie and "Secure" in cookie
    with panel.service.reading() as tx:  # only the token's hash is kept
        hashes = [str(r[0]) for r in tx.all("SELECT token_hash FROM panel_sessions")]
    assert cookie.split(";")[0].split("=", 1)[1] not in hashes


def test_next_never_leads_to_another_site(panel: Panel) -> None:
    for target in ("https://evil.example/", "//evil.example/panel", "/api/v1/members"):
        client = panel.api.app.test_client()
        token = csrf_of(client.get("/panel/login").get_data(as_text=True))
        r = client.post(f"/panel/login?next={target}", data={"login": panel.login_of("admin"), "password": PASSWORD,
                                                            "csrf_token": token})
        assert r.headers["Location"] == "/panel/", target


def test_no_inline_script_or_style_in_any_template() -> None:
    templates = Path(__file__).resolve().parents[3] / "kimia" / "web" / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"{path}: an inline script"
        assert "<style" not in text and " style=" not in text, f"{path}: an inline style"
        assert not re.search(r"\son[a-z]+=", text), f"{path}: an inline event handler"


def test_assets_are_all_local() -> None:
    """The stylesheet, script and fonts reference nothing outside the project."""
    for path in STATIC.rglob("*"):
        if path.suffix in (".css", ".js"):
            text = path.read_text()
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f"{path} names an outside address"
    assert (STATIC / "fonts" / "NotoSansArabic-Regular.ttf").stat().st_size > 100_000


def test_every_page_is_declared_once_per_site() -> None:
    for site in (PANEL, PORTAL):
        names = [p.endpoint for p in site.pages]
        assert len(names) == len(set(names))
