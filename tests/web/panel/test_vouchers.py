"""The vouchers pages (kimia/web/panel/pages/vouchers.py): templates and offers with their
counts, a template's page, and making a template (audited as ``panel:<login>`` with the reason);
bad input at its field, changing nothing; another club's template is not found."""

from __future__ import annotations

from ..conftest import count
from .conftest import Panel, page, post


def test_the_vouchers_page_lists_templates_with_their_counts(panel: Panel) -> None:
    member = panel.api.members[panel.a.club_id]
    panel.service.adjust(panel.a.club_id, member, idem_key="give-points", account_kind="points", delta=200, actor="test",
                         reason="test")
    panel.service.buy_voucher(panel.a.club_id, {"kind": "id", "value": str(member)}, panel.a.voucher_template_id, idem_key="buy-1")
    client = panel.client("read_only")
    status, html = page(client, "/panel/vouchers")
    assert status == 200 and "ووچر ۱۰۰ هزار ریالی" in html and "۱۰۰٬۰۰۰ ریال" in html and "۵۰ امتیاز" in html
    assert "در فروش" in html and '<td class="num">۱</td>' in html  # one issued
    assert "vouchers/create" not in html  # read-only staff make nothing
    status, html = page(client, f"/panel/vouchers/{panel.a.voucher_template_id}")
    assert status == 200 and "۳۰ روز" in html and "همهٔ پذیرنده‌ها" in html
    status, html = page(client, "/panel/vouchers?lang=en")
    assert status == 200 and "100,000 rials" in html and "50 points" in html and "On sale" in html
    assert page(panel.client("admin", panel.b), f"/panel/vouchers/{panel.a.voucher_template_id}")[0] == 404


def test_a_marketer_makes_a_template_and_bad_input_changes_nothing(panel: Panel) -> None:
    client = panel.client("marketer")
    templates, rows = count(panel.api, "voucher_templates"), count(panel.api, "audit_log")
    refused = [
        ({"name_fa": "", "discount_rial": "1000", "price_points": "5"}, "name_fa"),
        ({"name_fa": "بدون تخفیف"}, "discount_rial"),
        ({"name_fa": "دو قیمت", "discount_rial": "1000", "price_points": "5", "price_credit_rial": "1000"}, "price_points"),
        ({"name_fa": "روز منفی", "discount_rial": "1000", "valid_days": "0"}, "valid_days"),
        ({"name_fa": "پذیرندهٔ دیگر", "discount_rial": "1000", "merchants": str(panel.b.merchants["cafe"])}, "merchants"),
    ]
    for form, field in refused:
        r = post(client, "/panel/vouchers/create", form)
        html = r.get_data(as_text=True)
        assert r.status_code in (400, 422), (form, r.status_code)
        assert f'name="{field}"' in html and 'class="error"' in html, form
        assert f'invalid"><span>' in html or 'aria-invalid="true"' in html, form
    assert count(panel.api, "voucher_templates") == templates and count(panel.api, "audit_log") == rows
    r = post(client, "/panel/vouchers/create", {"name_fa": "ووچر ۱۰٪ کافه", "discount_bp": "۱۰۰۰", "cap_rial": "۵۰٬۰۰۰",
                                               "price_points": "20", "valid_days": "7", "merchants": str(panel.a.merchants["cafe"]),
                                               "funder": "merchant", "reason": "جشنواره پاییز"})
    assert r.status_code == 302 and "notice=vouchers.created" in r.headers["Location"]
    with panel.service.reading() as tx:
        row = tx.one("SELECT discount_bp, cap_rial, price_points, valid_days, funder FROM voucher_templates ORDER BY id DESC LIMIT 1")
        audit = tx.one("SELECT actor, reason FROM audit_log WHERE action = 'create_voucher_template' ORDER BY id DESC LIMIT 1")
    assert tuple(row) == (1000, 50_000, 20, 7, "merchant")
    assert tuple(audit) == (f"panel:marketer-{panel.a.club_id}", "جشنواره پاییز")
    _, html = page(client, "/panel/vouchers?notice=vouchers.created")
    assert "قالب ووچر ساخته شد." in html and "۱۰٪" in html and "کافه" in html
    # Support staff read vouchers but make none.
    assert post(panel.client("support"), "/panel/vouchers/create", {"name_fa": "x", "discount_rial": "1"}).status_code == 403
