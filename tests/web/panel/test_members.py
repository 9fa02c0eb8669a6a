"""The panel's member pages (kimia/web/panel/pages/members.py): search with the normalisation
people need, enrolment, the member page, manual adjustments with a reason, binding."""

from __future__ import annotations

import re
from typing import Any

import pytest

from service.builders import card_number, club_card, mobile, national_code

from ..conftest import count
from .conftest import Panel, csrf_of, page, post

PERSIAN_DIGIT = re.compile("[۰-۹]")
JALALI_FA = re.compile("۱۴۰[۰-۹]/[۰-۹]{2}/[۰-۹]{2}")
JALALI_EN = re.compile(r"14\d\d/\d\d/\d\d")


def local(e164: str) -> str:
    return "0" + e164[3:] if e164.startswith("+98") else e164


def to_persian(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


@pytest.fixture
def ali(panel: Panel) -> int:
    """A member of club A with every kind of identifier and a purchase."""
    w = panel.a
    member = w.enroll(identifiers=[("mobile", mobile(8_001)), ("card", card_number(81)), ("national_code", national_code(81)),
                                   ("club_card", club_card(81))], name_fa="علی رضایی")
    w.buy({"kind": "id", "value": str(member)}, 1_200_000)
    return member


def found_ids(html: str) -> set[int]:
    return {int(m) for m in re.findall(r'href="/panel/members/(\d+)"', html)}


def send(panel: Panel, client: Any, path: str, data: dict[str, Any]) -> Any:
    """POST a form as its page sends it: the page's CSRF token and fresh form key."""
    html = client.get(path).get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', html)
    assert key, html[-1500:]
    return client.post(path, data={"csrf_token": csrf_of(html), "form_key": key.group(1), **data})


# --- search -----------------------------------------------------------------------------------------------


def test_search_finds_by_what_people_type(panel: Panel, ali: int) -> None:
    client = panel.client("read_only")
    typed = ["علي", "علی رض", "رضايي", local(mobile(8_001)), to_persian(local(mobile(8_001))), mobile(8_001), national_code(81),
             to_persian(national_code(81)), card_number(81)[-4:], to_persian(card_number(81)[-4:]), club_card(81), str(ali)]
    for text in typed:
        status, html = page(client, "/panel/members", query_string={"q": text})
        assert status == 200 and ali in found_ids(html), text
    kaveh = panel.a.enroll(identifiers=[("mobile", mobile(8_002))], name_fa="کاوه کریمی")
    for text in ("كاوه", "كريمي", "کاو"):
        assert kaveh in found_ids(page(client, "/panel/members", query_string={"q": text})[1]), text


def test_search_lines_show_masked_identifiers_tier_last_purchase_and_balances(panel: Panel, ali: int) -> None:
    client = panel.client("marketer")
    status, html = page(client, "/panel/members", query_string={"q": "علی رضایی"})
    assert status == 200 and "علی رضایی" in html
    assert card_number(81) not in html and club_card(81) not in html and national_code(81) not in html
    assert to_persian(card_number(81)[-4:]) in html  # the mask, in Persian digits
    assert JALALI_FA.search(html) and PERSIAN_DIGIT.search(html)
    assert not re.search(r"<td class=\"num\">[^<]*[0-9]", html)  # no Latin digits in the numbers of a Persian page
    status, html = page(client, "/panel/members", query_string={"q": "علی رضایی", "lang": "en"})
    assert status == 200 and "Last purchase" in html and JALALI_EN.search(html) and card_number(81)[-4:] in html
    assert "No member matches" in page(client, "/panel/members", query_string={"q": "هیچ‌کس"})[1]


def test_club_b_never_finds_club_a_members(panel: Panel, ali: int) -> None:
    client = panel.client("admin", panel.b)
    for text in ("علی", local(mobile(8_001)), national_code(81), card_number(81)[-4:], club_card(81), str(ali)):
        status, html = page(client, "/panel/members", query_string={"q": text})
        assert status == 200 and ali not in found_ids(html), text


# --- enrolment --------------------------------------------------------------------------------------------


def test_enrolment_lands_once_and_is_found(panel: Panel) -> None:
    client = panel.client("support")
    before = count(panel.api, "members")
    form = {"name_fa": "سارا نيكو", "mobile": to_persian(local(mobile(8_101))), "national_code": national_code(82),
            "club_card": club_card(82), "card": card_number(82), "groups": str(panel.a.member_group_id),
            "club_id": str(panel.a.sub_club_id)}
    html = client.get("/panel/members/new").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": csrf_of(html), "form_key": key, **form}
    first = client.post("/panel/members/new", data=data)
    again = client.post("/panel/members/new", data=data)  # a double submit: the same operation
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert count(panel.api, "members") == before + 1
    member_id = int(first.headers["Location"].split("/members/")[1].split("?")[0])
    with panel.service.reading() as tx:
        row = tx.one("SELECT club_id, name_fa, enrolled_via FROM members WHERE id = ?", (member_id,))
        kinds = {k for (k,) in tx.all("SELECT kind FROM member_identifiers WHERE member_id = ?", (member_id,))}
        groups = tx.all("SELECT group_id FROM member_group_members WHERE member_id = ?", (member_id,))
        stored = " ".join(str(r) for r in tx.all("SELECT lookup, display FROM member_identifiers WHERE member_id = ?", (member_id,)))
        actor = tx.one("SELECT actor FROM operations WHERE kind = 'enroll' AND member_id = ?", (member_id,))
    assert tuple(row) == (panel.a.sub_club_id, "سارا نیکو", "panel")
    assert kinds == {"mobile", "national_code", "club_card", "card", "account"} and [g for (g,) in groups] == [panel.a.member_group_id]
    assert card_number(82) not in stored and club_card(82) not in stored  # hashed, as the API keeps them
    assert actor[0] == f"panel:{panel.login_of('support')}"
    status, html = page(client, first.headers["Location"])
    assert status == 200 and "عضو ثبت شد" in html
    assert member_id in found_ids(page(client, "/panel/members", query_string={"q": "نيكو"})[1])


@pytest.mark.parametrize(("field", "value", "code_words"), [
    ("mobile", "0912", "mobile"),
    ("national_code", national_code(83)[:-1] + str((int(national_code(83)[-1]) + 1) % 10), "national_code"),
    ("card", card_number(83)[:-1] + str((int(card_number(83)[-1]) + 1) % 10), "card"),
])
def test_bad_enrolment_shows_the_field_and_changes_nothing(panel: Panel, field: str, value: str, code_words: str) -> None:
    client = panel.client("admin")
    before = (count(panel.api, "members"), count(panel.api, "member_identifiers"), count(panel.api, "operations"))
    response = send(panel, client, "/panel/members/new", {"name_fa": "نادرست", field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<label class="field invalid">\s*<span>[^<]*</span>\s*<input type="text" name="{field}"', html), html[-3000:]
    assert (count(panel.api, "members"), count(panel.api, "member_identifiers"), count(panel.api, "operations")) == before


def test_an_identifier_taken_is_refused_at_its_field(panel: Panel, ali: int) -> None:
    client = panel.client("support")
    before = count(panel.api, "members")
    response = send(panel, client, "/panel/members/new?lang=en", {"name_fa": "x", "mobile": local(mobile(8_001))})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'name="mobile"' in html
    assert re.search(r'name="mobile"[^>]*aria-invalid="true"', html)
    assert count(panel.api, "members") == before
    response = send(panel, client, "/panel/members/new", {"name_fa": "بی‌شناسه"})
    assert response.status_code == 422 and 'class="error" role="alert"' in response.get_data(as_text=True)
    assert count(panel.api, "members") == before


# --- the member page ------------------------------------------------------------------------------------


def test_the_member_page_in_both_languages(panel: Panel, ali: int) -> None:
    client = panel.client("read_only")
    status, html = page(client, f"/panel/members/{ali}")
    assert status == 200 and "علی رضایی" in html and "تاریخچهٔ عملیات" in html
    assert JALALI_FA.search(html) and to_persian(card_number(81)[-4:]) in html
    assert card_number(81) not in html and club_card(81) not in html and national_code(81) not in html
    assert "خرید" in html and "امتیاز" in html
    assert "اصلاح دستی موجودی" not in html  # read-only staff are not offered changes
    status, en = page(client, f"/panel/members/{ali}?lang=en")
    assert status == 200 and "Operations" in en and "Purchase" in en and JALALI_EN.search(en) and "Balances" in en
    with panel.service.reading() as tx:
        lines = tx.one("SELECT response FROM operations WHERE kind = 'purchase' AND member_id = ? ORDER BY id DESC LIMIT 1", (ali,))
    assert lines is not None
    status, support = page(panel.client("support"), f"/panel/members/{ali}")
    assert "اصلاح دستی موجودی" in support


def test_the_history_pages_with_next(panel: Panel, ali: int) -> None:
    for n in range(25):
        panel.a.buy({"kind": "id", "value": str(ali)}, 10_000 + n)
    client = panel.client("admin")
    status, html = page(client, f"/panel/members/{ali}")
    nxt = re.search(r'<p class="more"><a href="([^"]+)"', html)
    assert status == 200 and nxt
    status, second = page(client, nxt.group(1).replace("&amp;", "&"))
    assert status == 200 and "<tbody>" in second and "تاریخچهٔ عملیات" in second


def test_another_clubs_member_is_not_found(panel: Panel, ali: int) -> None:
    client = panel.client("admin", panel.b)
    for path in (f"/panel/members/{ali}", f"/panel/members/{ali}/adjust", f"/panel/members/{ali}/identifiers"):
        assert page(client, path)[0] == 404, path


# --- adjustments --------------------------------------------------------------------------------------------


def points(panel: Panel, member_id: int) -> int:
    with panel.service.reading() as tx:
        row = tx.one("SELECT COALESCE(SUM(balance), 0) FROM balances WHERE owner = ? AND account LIKE 'member:%/points%'", (f"member:{member_id}",))
    return int(row[0])


def test_an_adjustment_lands_with_its_reason_in_the_audit_log(panel: Panel, ali: int) -> None:
    client = panel.client("support")
    start = points(panel, ali)
    response = send(panel, client, f"/panel/members/{ali}/adjust",
                    {"account_kind": "points", "direction": "add", "amount": "۱۲۰", "reason": "جبران تأخیر سفارش"})
    assert response.status_code == 302 and "notice=members.adjusted" in response.headers["Location"]
    assert points(panel, ali) == start + 120
    with panel.service.reading() as tx:
        rows = tx.all("SELECT actor, reason FROM audit_log WHERE reason = ?", ("جبران تأخیر سفارش",))
    assert [tuple(r) for r in rows] == [(f"panel:{panel.login_of('support')}", "جبران تأخیر سفارش")]
    status, html = page(client, response.headers["Location"])
    assert status == 200 and "اصلاح ثبت شد" in html and to_persian(f"{start + 120:,}".replace(",", "٬")) in html
    response = send(panel, client, f"/panel/members/{ali}/adjust",
                    {"account_kind": "points", "direction": "take", "amount": "20", "reason": "اصلاح اشتباه"})
    assert response.status_code == 302 and points(panel, ali) == start + 100


@pytest.mark.parametrize(("form", "field"), [
    ({"account_kind": "points", "direction": "add", "amount": "50", "reason": ""}, "reason"),
    ({"account_kind": "points", "direction": "add", "amount": "پنجاه", "reason": "x"}, "amount"),
    ({"account_kind": "points", "direction": "add", "amount": "0", "reason": "x"}, "amount"),
    ({"account_kind": "points", "direction": "take", "amount": "999999999", "reason": "بیش از موجودی"}, ""),
    ({"account_kind": "merchant_credit", "direction": "add", "amount": "50", "reason": "x"}, "merchant_id"),
])
def test_a_bad_adjustment_shows_its_field_and_changes_nothing(panel: Panel, ali: int, form: dict[str, str], field: str) -> None:
    client = panel.client("admin")
    before = (points(panel, ali), count(panel.api, "operations"), count(panel.api, "audit_log"), count(panel.api, "journal"))
    response = send(panel, client, f"/panel/members/{ali}/adjust", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[-2000:]
    if field:
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"|invalid">\s*<span>[^<]*</span>\s*<(select|textarea) name="{field}"', html), html[-3000:]
    else:
        assert 'class="error" role="alert"' in html
    assert (points(panel, ali), count(panel.api, "operations"), count(panel.api, "audit_log"), count(panel.api, "journal")) == before


# --- binding --------------------------------------------------------------------------------------------------


def test_binding_another_card(panel: Panel, ali: int) -> None:
    client = panel.client("support")
    before = count(panel.api, "member_identifiers")
    response = send(panel, client, f"/panel/members/{ali}/identifiers", {"kind": "card", "value": to_persian(card_number(84))})
    assert response.status_code == 302 and count(panel.api, "member_identifiers") == before + 1
    status, html = page(client, response.headers["Location"])
    assert "شناسه به عضو افزوده شد" in html and to_persian(card_number(84)[-4:]) in html and card_number(84) not in html
    assert ali in found_ids(page(client, "/panel/members", query_string={"q": card_number(84)[-4:]})[1])
    other = panel.a.enroll(identifiers=[("mobile", mobile(8_201))], name_fa="دیگری")
    before = count(panel.api, "member_identifiers")
    for form in ({"kind": "card", "value": card_number(84)}, {"kind": "mobile", "value": "123"}):
        response = send(panel, client, f"/panel/members/{other}/identifiers", form)
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and re.search(r'name="value"[^>]*aria-invalid="true"', html), html[-2000:]
    assert count(panel.api, "member_identifiers") == before
