"""The tiers pages (kimia/web/panel/pages/tiers.py): the settings form, a member moved by hand,
the period close (preview, then a confirmed close) and its history; in Persian and English; bad
input shown at its field and changing nothing; every change audited as ``panel:<login>``."""

from __future__ import annotations

import re
from typing import Any

from service.builders import TIERS

from ..conftest import count
from .conftest import Panel, page, post

PERSIAN_DIGIT = re.compile("[۰-۹]")


def settings_form(tiers: list[dict[str, Any]], reason: str = "تغییر سطح‌ها") -> dict[str, str]:
    form = {"rows": str(len(tiers) + 2), "reason": reason}
    for i, tier in enumerate(tiers):
        form.update({f"tiers.{i}.{k}": str(v) for k, v in tier.items()})
    return form


def tiers_of(panel: Panel) -> list[dict[str, Any]]:
    r = panel.api.get("/tiers", panel.api.keys_of(panel.a)["management"])
    return list(r.json["tiers"])


def audit_of(panel: Panel, action: str) -> list[tuple[str, str]]:
    with panel.service.reading() as tx:
        return [(str(r[0]), str(r[1])) for r in tx.all("SELECT actor, reason FROM audit_log WHERE action = ? ORDER BY id", (action,))]


def test_the_tiers_page_in_both_languages_and_for_each_role(panel: Panel) -> None:
    status, html = page(panel.client("admin"), "/panel/tiers")
    assert status == 200 and 'lang="fa"' in html and "طبقه‌های عضویت" in html
    assert 'value="۱۰۰"' in html and 'name="tiers.1.rise_at"' in html  # silver rises at 100, in Persian digits
    assert "پیش‌نمایش بستن دوره" in html and "هنوز دوره‌ای بسته نشده است." in html
    status, html = page(panel.client("admin"), "/panel/tiers?lang=en")
    assert status == 200 and "Points to rise" in html and "Preview the period close" in html
    # Read-only staff read the tiers as a table, with no form; support may move a member only.
    _, html = page(panel.client("read_only"), "/panel/tiers")
    assert "tiers/save" not in html and "tiers/move" not in html and "<td>silver</td>" in html and "۵۰۰" in html
    _, html = page(panel.client("support"), "/panel/tiers")
    assert "tiers/save" not in html and "tiers/move" in html


def test_saving_the_tiers_lands_with_the_reason_and_bad_input_changes_nothing(panel: Panel) -> None:
    client = panel.client("admin")
    changed = [dict(t) for t in TIERS["tiers"]]
    changed[1]["rise_at"] = "۱۵۰"  # typed in Persian digits
    r = post(client, "/panel/tiers/save", settings_form(changed, "آستانهٔ نقره‌ای بالاتر"))
    assert r.status_code == 302 and "notice=tiers.saved" in r.headers["Location"]
    assert tiers_of(panel)[1]["rise_at"] == 150
    assert audit_of(panel, "update_settings")[-1] == (f"panel:admin-{panel.a.club_id}", "آستانهٔ نقره‌ای بالاتر")
    before, rows = tiers_of(panel), count(panel.api, "audit_log")
    bad = [dict(t) for t in TIERS["tiers"]]
    bad[2]["rise_at"] = "بسیار"
    r = post(client, "/panel/tiers/save", settings_form(bad))
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'name="tiers.2.rise_at"' in html and "این فیلد معتبر نیست" in html
    assert re.search(r'<td class="num invalid">\s*<input name="tiers.2.rise_at"', html)
    r = post(client, "/panel/tiers/save", settings_form(TIERS["tiers"], reason=""))
    assert r.status_code == 400 and 'aria-invalid="true"' in r.get_data(as_text=True)
    two_names = [dict(t) for t in TIERS["tiers"]]
    two_names[2]["name"] = "silver"
    r = post(client, "/panel/tiers/save", settings_form(two_names))
    assert r.status_code == 400 and "two tiers have this name" in r.get_data(as_text=True)
    assert tiers_of(panel) == before and count(panel.api, "audit_log") == rows
    # A marketer may not change the tiers.
    assert post(panel.client("marketer"), "/panel/tiers/save", settings_form(TIERS["tiers"])).status_code == 403


def test_a_member_is_moved_by_hand_with_a_reason(panel: Panel) -> None:
    member = panel.api.members[panel.a.club_id]
    client = panel.client("support")
    r = post(client, "/panel/tiers/move", {"member_id": str(member), "tier": "gold", "reason": "جبران خطای ثبت خرید"})
    assert r.status_code == 302
    with panel.service.reading() as tx:
        assert tuple(tx.one("SELECT tier, manual_tier FROM members WHERE id = ?", (member,))) == ("gold", "gold")
    assert audit_of(panel, "move_tier")[-1] == (f"panel:support-{panel.a.club_id}", "جبران خطای ثبت خرید")
    rows = count(panel.api, "audit_log")
    for form, field in (({"member_id": str(member), "tier": "diamond", "reason": "x"}, "tier"),
                        ({"member_id": "abc", "tier": "gold", "reason": "x"}, "member_id"),
                        ({"member_id": str(member), "tier": "silver", "reason": ""}, "reason")):
        r = post(client, "/panel/tiers/move", form)
        html = r.get_data(as_text=True)
        assert r.status_code in (400, 422), (form, r.status_code)
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', html) or f'invalid"><span>' in html, form
    other = panel.api.members[panel.b.club_id]
    assert post(client, "/panel/tiers/move", {"member_id": str(other), "tier": "silver", "reason": "x"}).status_code == 404
    assert count(panel.api, "audit_log") == rows
    with panel.service.reading() as tx:
        assert tx.one("SELECT tier FROM members WHERE id = ?", (member,))[0] == "gold"
        assert tx.one("SELECT manual_tier FROM members WHERE id = ?", (other,))[0] in (None, "")


def test_closing_the_period_previews_first_and_closes_once_confirmed(panel: Panel) -> None:
    client = panel.client("admin")
    status, html = page(client, "/panel/tiers/close/preview")
    assert status == 200 and "پیش‌نمایش بستن دورهٔ طبقه‌بندی" in html and "۱۴۰۴/۰۲/۲۴" in html and 'name="form_key"' in html
    end = re.search(r'name="period_end" value="([^"]+)"', html)
    assert end
    key = re.search(r'name="form_key" value="([^"]+)"', html)
    assert key
    # Not confirmed: the preview again with the error; nothing closed.
    r = post(client, "/panel/tiers/close", {"period_end": end.group(1), "form_key": key.group(1)})
    assert r.status_code == 400 and "invalid" in r.get_data(as_text=True)
    assert count(panel.api, "period_closes") == 0
    r = post(client, "/panel/tiers/close", {"period_end": end.group(1), "form_key": key.group(1), "confirm": "1"})
    assert r.status_code == 302 and "notice=tiers.closed" in r.headers["Location"]
    with panel.service.reading() as tx:
        assert tuple(tx.one("SELECT status, actor FROM period_closes")) == ("done", f"panel:admin-{panel.a.club_id}")
    # The same form again is refused (the period is closed), and closes nothing more.
    r = post(client, "/panel/tiers/close", {"period_end": end.group(1), "form_key": key.group(1), "confirm": "1"})
    assert r.status_code in (400, 409, 422) and count(panel.api, "period_closes") == 1
    _, html = page(client, "/panel/tiers?notice=tiers.closed")
    assert "دوره بسته شد" in html and "تاریخچهٔ بستن دوره‌ها" in html and "۱۴۰۴/۰۲/۲۴" in html and "کامل" in html
    assert PERSIAN_DIGIT.search(html)
    status, html_en = page(client, "/panel/tiers?lang=en")
    assert status == 200 and "Period closes" in html_en and "1404/02/24" in html_en and "Done" in html_en
