"""The settlement pages (kimia/web/panel/pages/settlement.py): a day's lines by beneficiary with
their totals (Jalali day, default yesterday), the API's CSV file, and the platform's totals per
club."""

from __future__ import annotations

import csv
import io

from .conftest import Panel, page


def test_a_days_settlement_by_role_and_its_csv(panel: Panel) -> None:
    member = {"kind": "id", "value": str(panel.api.members[panel.a.club_id])}
    panel.a.buy(member, 2_000_000)
    panel.a.buy(member, 1_000_000, merchant="restaurant")
    day = panel.a.clock.local_day()
    text = panel.service.settlement(panel.a.club_id, day)
    lines = list(csv.DictReader(io.StringIO(text)))
    total = int(lines[-1]["amount_rial"])
    client = panel.client("read_only")
    status, html = page(client, "/panel/settlement")  # yesterday: nothing
    assert status == 200 and "۱۴۰۴/۰۲/۲۳" in html and "پرداختی برای تسویه نیست" in html
    status, html = page(client, "/panel/settlement?day=۱۴۰۴/۰۲/۲۴")
    assert status == 200 and "کافه" in html and "رستوران" in html and "مالک باشگاه" in html
    assert f"{total:,}".replace(",", "٬").translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) in html
    r = client.get("/panel/settlement/csv?day=1404/02/24")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.get_data(as_text=True) == text and "attachment" in r.headers["Content-Disposition"]
    status, html = page(client, "/panel/settlement?day=1404/02/24&lang=en")
    assert status == 200 and f"{total:,} rials" in html and "Merchants" in html
    status, html = page(client, "/panel/settlement?day=1404/02/32")
    assert status == 400 and "aria-invalid" in html
    assert client.get("/panel/settlement/csv?day=nonsense").status_code == 400
    # Club B's settlement of that day has none of A's payments.
    _, html = page(panel.client("admin", panel.b), "/panel/settlement?day=1404/02/24")
    assert "کافه" not in html and "پرداختی برای تسویه نیست" in html
    # The platform operator sees each club's totals of the day.
    status, html = page(panel.client("platform"), "/panel/settlement/platform?day=1404/02/24&lang=en")
    assert status == 200 and "Club 1" in html and f"{total:,} rials" in html and "Club 2" not in html
