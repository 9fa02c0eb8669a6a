"""The merchant staff's pages (kimia/web/panel/pages/merchant.py): their own merchant's day,
terminals, operations, liability and settlement, and nothing of another merchant or club."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from kimia.service import staff
from kimia.web.panel import fmt
from service.builders import rows, scalar

from .conftest import PASSWORD, Panel, page, sign_in

PERSIAN_DIGIT = re.compile("[۰-۹]")


def _jalali(day: int) -> str:
    y, m, d = fmt.jalali(dt.date(1970, 1, 1) + dt.timedelta(days=day))
    return f"{y:04d}/{m:02d}/{d:02d}"


def _world_trade(panel: Panel) -> dict[str, int]:
    """Purchases of distinct amounts at club A's cafe, restaurant and bookshop and at club B's cafe."""
    a, b = panel.a, panel.b
    m1, m2, mb = a.enroll(name_fa="مریم احمدی"), a.enroll(), b.enroll()
    cafe = a.buy(m1, 1_230_000)
    a.buy(m2, 4_560_000)
    a.buy(m1, 3_330_000, merchant="restaurant")
    a.buy(m2, 5_000_000, merchant="bookshop")
    b.buy(mb, 7_770_000)
    return {"cafe_op": int(cafe["op_id"]), "member": m1}


def test_home_names_their_merchant_and_todays_figures(panel: Panel) -> None:
    _world_trade(panel)
    client = panel.client("merchant")
    status, html = page(client, "/panel/merchant")
    assert status == 200 and 'dir="rtl"' in html
    assert re.search(r'id="merchant-name">کافه<', html)
    today = html.split('id="merchant-today"', 1)[1]
    assert "۲" in today and "۵٬۷۹۰٬۰۰۰ ریال" in today  # two purchases, 1,230,000 + 4,560,000
    assert not re.search("[0-9]", today.split("</div>\n</div>", 1)[0])
    status, html = page(client, "/panel/merchant?lang=en&toman=1")
    assert status == 200 and 'id="merchant-name">Cafe<' in html and "579,000 tomans" in html
    # The panel's front page sends merchant staff here.
    assert client.get("/panel/").headers["Location"].endswith("/panel/merchant")


def test_operations_are_only_their_merchants(panel: Panel) -> None:
    trade = _world_trade(panel)
    client = panel.client("merchant")
    status, html = page(client, "/panel/merchant/operations?lang=en")
    assert status == 200
    table = html.split('id="operations"', 1)[1].split("</table>", 1)[0]
    assert "1,230,000 rials" in table and "4,560,000 rials" in table
    for other in ("3,330,000", "5,000,000", "7,770,000"):  # the restaurant's, the bookshop's, club B's
        assert other not in table
    assert table.count("<tr>") == 3  # the header and two operations
    assert "مریم احمدی" not in html and "م… ا…" in html  # the member's name is masked
    assert re.search(r"14\d\d/\d\d/\d\d \d\d:\d\d", table)  # Jalali times
    status, html = page(client, "/panel/merchant/operations?lang=fa")
    assert status == 200 and "۱٬۲۳۰٬۰۰۰ ریال" in html
    # Club B's merchant staff (its cafe) see their own sale and none of A's.
    _, html_b = page(panel.client("merchant", panel.b), "/panel/merchant/operations?lang=en")
    assert "7,770,000" in html_b and "1,230,000" not in html_b and "4,560,000" not in html_b
    assert trade["cafe_op"] > 0


def test_the_day_picker(panel: Panel) -> None:
    _world_trade(panel)
    client = panel.client("merchant")
    today = panel.a.clock.local_day()
    status, html = page(client, f"/panel/merchant/operations?lang=en&day={_jalali(today - 1)}")
    assert status == 200 and "1,230,000" not in html and "Nothing here yet." in html
    status, html = page(client, "/panel/merchant/operations?lang=fa&day=" + fmt.digits(_jalali(today), "fa"))  # Persian digits
    assert status == 200 and "۱٬۲۳۰٬۰۰۰" in html
    status, html = page(client, "/panel/merchant/operations?lang=en&day=1405/13/40")
    assert status == 200 and 'aria-invalid="true"' in html and "1,230,000" in html  # the error, and today's operations


def test_operations_are_paged(panel: Panel) -> None:
    a = panel.a
    member = a.enroll()
    for i in range(53):
        a.buy(member, 100_000 + i * 1_000)
    client = panel.client("merchant")
    _, html = page(client, "/panel/merchant/operations?lang=en")
    table = html.split('id="operations"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 51 and "100,000 rials" in table and "152,000" not in table
    more = re.search(r'<p class="more"><a href="([^"]+)"', html)
    assert more
    _, html = page(client, more.group(1).replace("&amp;", "&") + "&lang=en")
    table = html.split('id="operations"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 4 and "152,000 rials" in table and "100,000 rials" not in table


def test_terminals_are_only_their_merchants(panel: Panel) -> None:
    client = panel.client("merchant")
    status, html = page(client, "/panel/merchant/terminals?lang=en")
    assert status == 200
    assert "T0010001" in html and "T0010002" not in html and "T0010003" not in html
    assert "None in the last 7 days" in html
    status, html = page(client, "/panel/merchant/terminals?lang=fa")
    assert status == 200 and "T۰۰۱۰۰۰۱" in html and "کارتخوان" in html


def test_liability_is_their_merchant_credit(panel: Panel) -> None:
    _world_trade(panel)
    a, svc = panel.a, panel.service
    staff.create_user(svc, login="books", name="Books", role="merchant", password=PASSWORD, actor="test", club_id=a.sub_club_id,
                      merchant_id=a.merchants["bookshop"])
    client = panel.api.app.test_client()
    sign_in(client, "books", PASSWORD)
    held = int(scalar(svc, "SELECT COALESCE(SUM(balance), 0) FROM balances WHERE account LIKE ?",
                      (f"%/merchant_credit@merchant:{a.merchants['bookshop']}",)))
    assert held == 500_000  # 10% of 5,000,000
    status, html = page(client, "/panel/merchant/liability?lang=en")
    assert status == 200 and "Bookshop" in html and "500,000 rials" in html
    box = html.split('id="merchant-liability"', 1)[1]
    assert '<div class="value">1</div>' in box
    status, html = page(panel.client("merchant"), "/panel/merchant/liability?lang=en")  # the cafe: none of the bookshop's
    assert status == 200 and "500,000" not in html and '<div class="value">0 rials</div>' in html


def test_settlement_per_day_and_its_csv(panel: Panel) -> None:
    _world_trade(panel)
    a, svc = panel.a, panel.service
    cafe = a.merchants["cafe"]
    legs = rows(svc, "SELECT op_id, amount_rial, day FROM split_legs WHERE role = 'merchant' AND beneficiary_id = ? ORDER BY op_id", (cafe,))
    assert len(legs) == 2
    total = sum(int(r[1]) for r in legs)
    client = panel.client("merchant")
    status, html = page(client, "/panel/merchant/settlement?lang=en")
    assert status == 200 and f"{total:,} rials" in html
    status, html_fa = page(client, "/panel/merchant/settlement?lang=fa")
    assert status == 200 and fmt.number(total, "fa") in html_fa and PERSIAN_DIGIT.search(html_fa)
    response = client.get(f"/panel/merchant/settlement.csv?day={_jalali(int(legs[0][2]))}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert lines[0] == ["merchant_id", "day", "op_id", "amount_rial"]
    assert [int(r[2]) for r in lines[1:-1]] == [int(r[0]) for r in legs]
    assert lines[-1][2] == "total" and int(lines[-1][3]) == total
    # Club B's cafe: none of A's cafe's legs.
    other = panel.client("merchant", panel.b).get(f"/panel/merchant/settlement.csv?day={_jalali(int(legs[0][2]))}")
    assert not {r[2] for r in csv.reader(io.StringIO(other.get_data(as_text=True)))} & {str(r[0]) for r in legs}
    bad = client.get("/panel/merchant/settlement.csv?day=nonsense")
    assert bad.status_code == 400


def test_club_staff_do_not_open_merchant_pages_and_merchants_not_the_dashboard(panel: Panel) -> None:
    assert panel.client("admin").get("/panel/merchant").status_code == 403
    assert panel.client("merchant").get("/panel/dashboard").status_code == 403
