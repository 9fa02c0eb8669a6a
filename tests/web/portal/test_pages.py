"""The portal's pages (kimia/web/portal/pages/): each in Persian and English with the member's
own data, a voucher bought once however often its form is sent, refusals shown without a change,
and a member never seeing another member's things."""

from __future__ import annotations

import re

from kimia.service import staff
from kimia.world.people import card_number, mobile as nth_mobile

from ..conftest import count
from ..panel.conftest import Panel, page, post
from service.builders import VALUE_TABLES

PAGES = ("/portal/", "/portal/history", "/portal/vouchers", "/portal/referral", "/portal/profile")
_LATIN_NUMBER = re.compile(r">[^<]*\d[^<]*<")


def member_a(panel: Panel) -> int:
    return panel.api.members[panel.a.club_id]


def counts(panel: Panel) -> dict[str, int]:
    return {t: count(panel.api, t) for t in (*VALUE_TABLES, "referral_codes")}


def earn(panel: Panel, member_id: int, amount_rial: int = 2_000_000) -> None:
    panel.a.buy(member_id, amount_rial)


def test_every_page_in_persian_and_english(panel: Panel) -> None:
    earn(panel, member_a(panel))
    client = panel.member_client()
    for path in PAGES:
        status, html = page(client, path + "?lang=fa")
        assert status == 200, (path, html[-1500:])
        assert 'lang="fa"' in html and 'dir="rtl"' in html, path
        assert re.search("[۰-۹]", html), f"{path}: no Persian digits"
        assert "portal." not in re.sub(r'href="[^"]*"|action="[^"]*"|class="[^"]*"', "", html), f"{path}: a words key shown"
        status, html = page(client, path + "?lang=en")
        assert status == 200 and 'lang="en"' in html and 'dir="ltr"' in html, path
        assert "portal." not in re.sub(r'href="[^"]*"|action="[^"]*"|class="[^"]*"', "", html), f"{path}: a words key shown"
    # Jalali dates where a person reads one (the builders' clock is in 1403-1405).
    assert re.search(r"۱۴۰[۰-۹]/", page(client, "/portal/history?lang=fa")[1])
    assert re.search(r"۱۴۰[۰-۹]/", page(client, "/portal/profile?lang=fa")[1])


def test_home_shows_balances_expiry_and_tier(panel: Panel) -> None:
    me = member_a(panel)
    earn(panel, me)
    client = panel.member_client()
    status, html = page(client, "/portal/")
    assert status == 200 and "سلام عضو ۱" in html and "امتیاز" in html and "سطح عضویت" in html
    api = panel.api.get(f"/members/{me}/balances", panel.api.keys_of(panel.a)["management"]).json
    assert api["points"] > 0
    points = f"{api['points']:,}".replace(",", "٬").translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert points in html
    assert "نزدیک‌ترین انقضاها" in html and re.search(r"۱۴۰[۰-۹]/", html)  # the points lot's expiry date
    _, english = page(client, "/portal/?lang=en")
    assert f"{api['points']:,}" in english and "Expiring soonest" in english


def test_history_explains_each_operation_in_the_pages_language(panel: Panel) -> None:
    me = member_a(panel)
    earn(panel, me)
    client = panel.member_client()
    item = panel.api.get(f"/members/{me}/history", panel.api.keys_of(panel.a)["management"]).json["items"][0]
    _, html = page(client, "/portal/history")
    assert "خرید" in html and "کافه" in html
    assert any(line in html for line in item["explanation_fa"]) or item["explanation_fa"] == []
    _, english = page(client, "/portal/history?lang=en")
    assert "Purchase" in english and "Cafe" in english
    assert all(line in english for line in item["explanation_en"][:1])


def test_history_pages(panel: Panel) -> None:
    me = member_a(panel)
    for _ in range(22):
        earn(panel, me, 100_000)
    client = panel.member_client()
    _, first = page(client, "/portal/history")
    found = re.search(r'href="(/portal/history\?cursor=[^"]+)"', first)
    assert found, "no next page link"
    status, second = page(client, found.group(1).replace("&amp;", "&"))
    assert status == 200 and "portal-op" in second
    assert first.count('class="card portal-op"') == 20


def test_a_voucher_is_bought_once_under_a_double_submit(panel: Panel) -> None:
    me = member_a(panel)
    earn(panel, me)
    client = panel.member_client()
    _, html = page(client, "/portal/vouchers")
    assert "ووچر ۱۰۰ هزار ریالی" in html and "۵۰ امتیاز" in html
    key = re.search(r'name="form_key" value="([^"]+)"', html)
    assert key
    before = counts(panel)
    form = {"template_id": panel.a.voucher_template_id, "form_key": key.group(1)}
    first = post(client, "/portal/vouchers/buy", form, from_page="/portal/vouchers")
    second = post(client, "/portal/vouchers/buy", form, from_page="/portal/vouchers")
    assert first.status_code == second.status_code == 302
    assert count(panel.api, "vouchers") == before["vouchers"] + 1
    assert count(panel.api, "operations") == before["operations"] + 1
    vouchers = panel.api.get(f"/members/{me}/vouchers", panel.api.keys_of(panel.a)["management"]).json["items"]
    assert len(vouchers) == 1
    status, html = page(client, "/portal/vouchers?notice=portal.vouchers.bought")
    assert status == 200 and vouchers[0]["code"] in html and "ووچر خریده شد" in html and "قابل استفاده" in html
    _, english = page(client, "/portal/vouchers?lang=en")
    assert vouchers[0]["code"] in english and "Ready to use" in english and "100,000 rials off" in english


def test_a_refused_purchase_shows_why_and_changes_nothing(panel: Panel) -> None:
    client = panel.member_client()  # no points yet
    _, html = page(client, "/portal/vouchers")
    key = re.search(r'name="form_key" value="([^"]+)"', html)
    assert key
    before = counts(panel)
    poor = post(client, "/portal/vouchers/buy", {"template_id": panel.a.voucher_template_id, "form_key": key.group(1)},
                from_page="/portal/vouchers")
    assert poor.status_code == 422 and "حداقل" in poor.get_data(as_text=True)
    bad = post(client, "/portal/vouchers/buy", {"template_id": "abc", "form_key": key.group(1)}, from_page="/portal/vouchers")
    assert bad.status_code == 400 and 'class="error"' in bad.get_data(as_text=True)
    no_key = post(client, "/portal/vouchers/buy", {"template_id": panel.a.voucher_template_id}, from_page="/portal/vouchers")
    assert no_key.status_code == 400
    assert counts(panel) == before


def test_another_clubs_offer_is_not_found(panel: Panel) -> None:
    earn(panel, member_a(panel))
    client = panel.member_client()
    before = counts(panel)
    answer = post(client, "/portal/vouchers/buy", {"template_id": panel.b.voucher_template_id, "form_key": "k" * 16},
                  from_page="/portal/vouchers")
    assert answer.status_code == 404 and counts(panel) == before


def test_referral_code_is_made_once_and_explained(panel: Panel) -> None:
    client = panel.member_client()
    before = count(panel.api, "referral_codes")
    status, html = page(client, "/portal/referral")
    assert status == 200 and "کد معرفی شما" in html and "چطور کار می‌کند" in html
    code = panel.api.get(f"/members/{member_a(panel)}/referral-code", panel.api.keys_of(panel.a)["management"]).json["code"]
    assert code in html and count(panel.api, "referral_codes") == before + 1
    _, again = page(client, "/portal/referral?lang=en")
    assert code in again and "How does it work?" in again and count(panel.api, "referral_codes") == before + 1


def test_profile_shows_identifiers_masked_and_the_preferences(panel: Panel) -> None:
    pan = card_number(7_777)
    me = panel.a.enroll(identifiers=[("mobile", nth_mobile(3_000_001)), ("card", pan)], name_fa="مریم کارتی")
    token, _ = staff.open_session(panel.service, kind="member", member_id=me, club_id=panel.a.club_id)
    client = panel.api.app.test_client()
    client.set_cookie("kimia_portal", token, path="/portal")
    status, html = page(client, "/portal/profile")
    assert status == 200 and "مریم کارتی" in html and "کارت بانکی" in html
    assert pan not in html and pan[-4:] not in html  # the last four in Persian digits on a Persian page
    assert pan[-4:].translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) in html
    _, english = page(client, "/portal/profile?lang=en")
    assert pan not in english and pan[-4:] in english and "Bank card" in english
    assert 'hreflang="fa"' in english
    # The switch to English keeps: the next page without ?lang is English.
    _, next_page = page(client, "/portal/")
    assert 'lang="en"' in next_page


def test_a_member_never_sees_another_members_things(panel: Panel) -> None:
    me = member_a(panel)
    other = panel.a.enroll(identifiers=[("mobile", nth_mobile(3_000_002))], name_fa="همسایهٔ دیگر")
    earn(panel, other, 3_000_000)
    bought = panel.service.buy_voucher(panel.a.club_id, other, panel.a.voucher_template_id, idem_key="other-voucher")
    other_code = bought["vouchers"][0]
    other_ref = panel.api.get(f"/members/{other}/referral-code", panel.api.keys_of(panel.a)["management"]).json["code"]
    client = panel.member_client()
    for path in PAGES:
        _, html = page(client, path)
        assert "همسایهٔ دیگر" not in html and other_code not in html and other_ref not in html, path
    assert "۳٬۰۰۰٬۰۰۰" not in page(client, "/portal/history")[1]
    # Club B's member sees none of club A's member's things either.
    _, b_home = page(panel.member_client(panel.b), "/portal/")
    assert "عضو ۲" in b_home and "عضو ۱" not in b_home
    assert me != other
