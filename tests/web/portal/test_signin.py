"""The portal's sign-in with a one-time code (kimia/web/portal/pages/auth.py): the code goes
through the service's notifier (a file here, read as a relay would), a wrong code is refused, the
per-address limit holds, an unknown mobile looks exactly like a known one, and signing out ends
the session on the server."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from kimia.service import staff
from kimia.world.people import mobile as nth_mobile, persian

from ..conftest import count
from ..panel.conftest import Panel, csrf_of, page, post
from .conftest import Codes

#: The first member of club A (tests/web/conftest.py enrols them with this mobile).
MOBILE = nth_mobile(2_000_001)
E164 = "+98" + MOBILE[1:]
UNKNOWN = nth_mobile(2_999_999)


def ask(client: FlaskClient, club: int, mobile: str, path: str = "/portal/login", **extra: Any) -> Any:
    html = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_of(html), "step": "ask", "club": club, "mobile": mobile, **extra})


def give_code(client: FlaskClient, club: int, mobile: str, code: str, path: str = "/portal/login") -> Any:
    html = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_of(html), "step": "code", "club": club, "mobile": mobile, "code": code})


def signed_in(client: FlaskClient) -> bool:
    return client.get("/portal/").status_code == 200


def test_a_member_signs_in_with_the_code_sent_to_their_mobile(panel: Panel, codes: Codes) -> None:
    client = panel.api.app.test_client()
    status, html = page(client, "/portal/login")
    assert status == 200 and 'lang="fa"' in html and "باشگاه کیمیا" in html and "باشگاه دوم" in html
    assert "کد ورود" in html or "شمارهٔ موبایل" in html
    # Persian digits are fine for the mobile.
    answer = ask(client, panel.a.club_id, persian(MOBILE))
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "اگر این شماره عضو باشگاه باشد" in text and 'name="code"' in text
    assert len(codes.sent()) == 1 and codes.sent()[0]["mobile"] == E164
    code = codes.last_code(E164)
    done = give_code(client, panel.a.club_id, MOBILE, persian(code))
    assert done.status_code == 302 and done.headers["Location"].endswith("/portal/")
    status, html = page(client, "/portal/")
    assert status == 200 and "عضو ۱" in html
    # The code is used up: it does not sign in a second time.
    again = panel.api.app.test_client()
    refused = give_code(again, panel.a.club_id, MOBILE, code)
    assert refused.status_code == 422 and "کد یکبار مصرف نامعتبر است" in refused.get_data(as_text=True)
    assert not signed_in(again)


def test_the_clubs_link_names_the_club_and_english_works(panel: Panel, codes: Codes) -> None:
    client = panel.api.app.test_client()
    status, html = page(client, f"/portal/login?club={panel.a.club_id}&lang=en")
    assert status == 200 and 'lang="en"' in html and "Club 1" in html and "<select" not in html
    answer = ask(client, panel.a.club_id, MOBILE, path=f"/portal/login?club={panel.a.club_id}")
    assert "If this number is a member of the club" in answer.get_data(as_text=True)
    assert give_code(client, panel.a.club_id, MOBILE, codes.last_code(E164)).status_code == 302
    assert signed_in(client)


def test_a_wrong_code_is_refused_and_too_many_wrong_codes_spend_the_code(panel: Panel, codes: Codes) -> None:
    client = panel.api.app.test_client()
    ask(client, panel.a.club_id, MOBILE)
    code = codes.last_code(E164)
    wrong = "000000" if code != "000000" else "111111"
    sessions = count(panel.api, "panel_sessions")
    answer = give_code(client, panel.a.club_id, MOBILE, wrong)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "کد یکبار مصرف نامعتبر است" in text and 'aria-invalid="true"' in text
    assert 'name="code"' in text  # the code form again, not the first step
    assert count(panel.api, "panel_sessions") == sessions and not signed_in(client)
    for _ in range(4):
        give_code(client, panel.a.club_id, MOBILE, wrong)
    # Five wrong tries: even the right code no longer signs in.
    assert give_code(client, panel.a.club_id, MOBILE, code).status_code == 422
    assert count(panel.api, "panel_sessions") == sessions and not signed_in(client)


def test_an_expired_code_is_refused(panel: Panel, codes: Codes) -> None:
    client = panel.api.app.test_client()
    ask(client, panel.a.club_id, MOBILE)
    panel.a.clock.advance(minutes=6)
    assert give_code(client, panel.a.club_id, MOBILE, codes.last_code(E164)).status_code == 422
    assert not signed_in(client)


def _shape(html: str, *numbers: str) -> str:
    """A page with what differs by nature (the number typed, the form's tokens) blanked."""
    for n in numbers:
        html = html.replace(n, "N").replace(persian(n), "N")
    return re.sub(r'value="[A-Za-z0-9_\-]{20,}"', 'value="T"', html)


def test_an_unknown_mobile_looks_the_same_as_a_members(panel: Panel, codes: Codes) -> None:
    known, unknown = panel.api.app.test_client(), panel.api.app.test_client()
    a = ask(known, panel.a.club_id, MOBILE)
    b = ask(unknown, panel.a.club_id, UNKNOWN)
    assert a.status_code == b.status_code == 200
    assert _shape(a.get_data(as_text=True), E164[3:], MOBILE[1:]) == _shape(b.get_data(as_text=True), UNKNOWN[1:])
    assert [m["mobile"] for m in codes.sent()] == [E164]  # only the member got a code
    # The member of club B is unknown in club A too: no code, the same page.
    c = ask(panel.api.app.test_client(), panel.a.club_id, nth_mobile(2_000_002))
    assert c.status_code == 200 and len(codes.sent()) == 1
    # Asking again within a minute: the same "a code was just sent" for both.
    a2, b2 = ask(known, panel.a.club_id, MOBILE), ask(unknown, panel.a.club_id, UNKNOWN)
    assert a2.status_code == b2.status_code == 200
    assert "همین چند لحظه پیش" in a2.get_data(as_text=True)
    assert _shape(a2.get_data(as_text=True), E164[3:], MOBILE[1:]) == _shape(b2.get_data(as_text=True), UNKNOWN[1:])
    assert len(codes.sent()) == 1
    # A code for an unknown number is refused as a wrong code is.
    x = give_code(unknown, panel.a.club_id, UNKNOWN, "123456")
    y = give_code(known, panel.a.club_id, MOBILE, "000000" if codes.last_code(E164) != "000000" else "111111")
    assert x.status_code == y.status_code == 422
    assert _shape(x.get_data(as_text=True), UNKNOWN[1:]) == _shape(y.get_data(as_text=True), E164[3:], MOBILE[1:])
    # A minute later a new code goes out.
    panel.a.clock.advance(minutes=2)
    ask(known, panel.a.club_id, MOBILE)
    assert len(codes.sent()) == 2


def test_bad_input_is_shown_at_its_field_and_sends_nothing(panel: Panel, codes: Codes) -> None:
    client = panel.api.app.test_client()
    bad = ask(client, panel.a.club_id, "12345")
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "شماره موبایل معتبر نیست" in text and 'aria-invalid="true"' in text
    no_club = ask(client, 999_999, MOBILE)
    assert no_club.status_code == 404 and "چنین باشگاهی وجود ندارد" in no_club.get_data(as_text=True)
    sub_club = ask(client, panel.a.sub_club_id, MOBILE)  # only root clubs are offered
    assert sub_club.status_code == 404
    assert codes.sent() == [] and count(panel.api, "member_codes") == 0


def test_the_sign_in_form_needs_its_token(panel: Panel, codes: Codes) -> None:
    client = panel.api.app.test_client()
    client.get("/portal/login")
    answer = client.post("/portal/login", data={"step": "ask", "club": panel.a.club_id, "mobile": MOBILE, "csrf_token": "forged"})
    assert answer.status_code == 403 and codes.sent() == []


def test_sign_in_attempts_are_throttled_per_address(panel: Panel, codes: Codes) -> None:
    panel.api.app.config["KIMIA_SIGN_IN_PER_MIN"] = 1  # a token a minute: no refill during the test
    client = panel.api.app.test_client()
    # The limiter lets a burst of ten through (kimia.web.api.limits), then holds to the rate.
    statuses = [give_code(client, panel.a.club_id, MOBILE, "123456").status_code for _ in range(12)]
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]
    throttled = give_code(client, panel.a.club_id, MOBILE, "123456").get_data(as_text=True)
    assert "تلاش‌های ورود بیش از حد بوده است" in throttled
    # Throttled before anything is checked: not even a code is asked for.
    assert ask(client, panel.a.club_id, MOBILE).status_code == 429 and codes.sent() == []


def test_logout_revokes_the_session(panel: Panel, codes: Codes) -> None:
    client = panel.api.app.test_client()
    ask(client, panel.a.club_id, MOBILE)
    assert give_code(client, panel.a.club_id, MOBILE, codes.last_code(E164)).status_code == 302
    token = client.get_cookie("kimia_portal", path="/portal")
    assert token is not None and staff.session_of(panel.service, token.value) is not None
    out = post(client, "/portal/logout", {})
    assert out.status_code == 302 and "/portal/login" in out.headers["Location"]
    assert staff.session_of(panel.service, token.value) is None
    # The old cookie, sent again, opens nothing.
    replay = panel.api.app.test_client()
    replay.set_cookie("kimia_portal", token.value, path="/portal")
    assert replay.get("/portal/").status_code == 302
    status, html = page(client, "/portal/login?out=1")
    assert status == 200 and "از باشگاه من خارج شدید" in html


def test_a_staff_session_does_not_open_the_portal(panel: Panel) -> None:
    staff_client = panel.client("admin")
    token = staff_client.get_cookie("kimia_panel", path="/panel")
    assert token is not None
    client = panel.api.app.test_client()
    client.set_cookie("kimia_portal", token.value, path="/portal")
    assert client.get("/portal/").status_code == 302
