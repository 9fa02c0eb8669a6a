"""The budgets page (kimia/web/panel/pages/budgets.py): the budgets of the club's rules and their
use in the period holding a day (Jalali entry), as a table and a bar chart."""

from __future__ import annotations

from .conftest import Panel, page


def test_budgets_show_their_use_as_a_table_and_a_chart(panel: Panel) -> None:
    panel.a.publish([{
        "id": "cashback-capped",
        "effects": [{"type": "credit", "kind": "cashback", "percent_bp": 1_000}],
        "budgets": [{"per": "rule", "period": "total", "limit_rial": 50_000},
                    {"per": "member", "period": "day", "limit_count": 5}],
    }])
    member = panel.api.members[panel.a.club_id]
    panel.a.buy({"kind": "id", "value": str(member)}, 300_000)  # 30,000 rials of cashback: 60% of the total budget
    client = panel.client("marketer")
    status, html = page(client, "/panel/budgets")
    assert status == 200 and "cashback-capped" in html and "۵۰٬۰۰۰ ریال" in html and "۳۰٬۰۰۰ ریال" in html
    assert "۶۰٪" in html and "۲۰٪" in html and "<svg" in html and "کل" in html and "روزانه" in html
    assert 'value="۱۴۰۴/۰۲/۲۴"' in html  # the day field, Jalali, today by default
    # The day before: the daily budget was not used, the total one was.
    status, html = page(client, "/panel/budgets?day=1404/02/23")
    assert status == 200 and "۶۰٪" in html and "۲۰٪" not in html
    status, html = page(client, "/panel/budgets?day=1404/13/01")
    assert status == 400 and "aria-invalid" in html and "cashback-capped" in html
    status, html = page(client, "/panel/budgets?lang=en")
    assert status == 200 and "30,000 rials" in html and "60%" in html and "Share of each budget" in html
    # Club B's rules declare no budget.
    status, html = page(panel.client("read_only", panel.b), "/panel/budgets")
    assert status == 200 and "cashback-capped" not in html and "بودجه‌ای تعیین نکرده‌اند" in html
