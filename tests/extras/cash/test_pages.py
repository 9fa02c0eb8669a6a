"""The cash extra's panel pages: the cash book (record, void), categories, the income report and
its CSV; in Persian and English, writes landing once under a double submit, bad input shown at its
field and changing nothing, audit rows naming the person and their reason."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from kimia.extras.cash import book
from web.panel.conftest import Panel, csrf_of, page

FORM_KEY = "cash-form-key-0001"


def entries(panel: Panel) -> list[Any]:
    with panel.service.reading() as tx:
        return tx.all("SELECT id, kind, amount_rial, category_id, note, source, actor, voided_at, void_reason, day FROM cash_entries"
                      " ORDER BY id")


def count(panel: Panel, table: str) -> int:
    with panel.service.reading() as tx:
        return int(tx.one(f"SELECT COUNT(*) FROM {table}")[0])


def category_id(panel: Panel, code: str) -> int:
    """A shared category of club A's (the defaults are added on first use: here, if not yet)."""
    book.ensure_defaults(panel.service.plugin_services, panel.a.club_id)
    with panel.service.reading() as tx:
        return int(tx.one("SELECT id FROM cash_categories WHERE code = ? AND merchant_id IS NULL AND club_id = ?",
                          (code, panel.a.club_id))[0])


def send(client: Any, path: str, data: dict[str, str], source: str = "/panel/cash") -> Any:
    """POST a form with the CSRF token of the page it is on."""
    html = client.get(source).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_of(html), **data})


def test_the_cash_book_in_persian_and_english(panel: Panel) -> None:
    client = panel.client("merchant")
    status, html = page(client, "/panel/cash")
    assert status == 200 and 'dir="rtl"' in html and "دفتر صندوق" in html and 'id="merchant-name">کافه<' in html
    assert "ثبت هزینه یا دریافت نقدی" in html and "اجاره (rent)" in html and "ثبتی نیست." in html
    assert "۰ ریال" in html  # today's totals, in Persian digits
    assert 'name="csrf_token"' in html and 'name="form_key"' in html
    assert "<script>" not in html and "style=" not in html
    status, html = page(client, "/panel/cash?lang=en")
    assert status == 200 and 'dir="ltr"' in html and "Cash book" in html and "Rent (rent)" in html and "0 rials" in html
    # In the menu of merchant staff, and not of club staff (the income report is).
    assert 'href="/panel/cash"' in html and 'href="/panel/cash/income"' in html
    admin = page(panel.client("admin"), "/panel/cash/income?lang=en")[1]
    assert 'href="/panel/cash"' not in admin and 'href="/panel/cash/income"' in admin
    assert panel.client("admin").get("/panel/cash").status_code == 403


def test_record_lands_once_under_a_double_submit(panel: Panel) -> None:
    client = panel.client("merchant")
    rent = str(category_id(panel, "rent"))
    form = {"form_key": FORM_KEY, "kind": "expense", "amount_rial": "۲٬۵۰۰٬۰۰۰", "category_expense": rent,
            "category_receipt": "", "note": "اجارهٔ آذر", "day": ""}
    first = send(client, "/panel/cash/entries", form)
    assert first.status_code == 302 and "/panel/cash?day=1404/02/24&done=recorded" in first.headers["Location"].replace("%2F", "/")
    second = send(client, "/panel/cash/entries", form)
    assert second.status_code == 302
    rows = entries(panel)
    assert [(r[1], r[2], r[4], r[5], r[6]) for r in rows] == [
        ("expense", 2_500_000, "اجارهٔ آذر", "panel", f"panel:{panel.login_of('merchant')}")]
    status, html = page(client, first.headers["Location"])
    assert status == 200 and "ثبت شد." in html and "۲٬۵۰۰٬۰۰۰ ریال" in html and "اجارهٔ آذر" in html
    # A cash receipt without a category, for yesterday (a Jalali date typed in Persian digits).
    receipt = send(client, "/panel/cash/entries", {"form_key": "cash-form-key-0002", "kind": "receipt", "amount_rial": "150000",
                                                   "category_expense": rent, "category_receipt": "", "day": "۱۴۰۴/۰۲/۲۳"})
    assert receipt.status_code == 302
    assert entries(panel)[-1][1:4] == ("receipt", 150_000, None)
    html = page(client, "/panel/cash?day=1404/02/23&lang=en")[1]
    assert "150,000 rials" in html and "2,500,000" not in html.split('id="entries"', 1)[1]


def test_bad_input_is_shown_at_its_field_and_changes_nothing(panel: Panel) -> None:
    client = panel.client("merchant")
    rent = str(category_id(panel, "rent"))
    base = {"form_key": FORM_KEY, "kind": "expense", "amount_rial": "1000", "category_expense": rent, "category_receipt": "",
            "note": "", "day": ""}
    cases = [
        ({"amount_rial": ""}, "amount_rial", "این فیلد الزامی است"),
        ({"amount_rial": "0"}, "amount_rial", "مبلغ باید عددی صحیح و مثبت باشد"),
        ({"amount_rial": "دو هزار"}, "amount_rial", "این فیلد معتبر نیست"),
        ({"amount_rial": "100000000001"}, "amount_rial", "مبلغ از سقف مجاز بیشتر است"),
        ({"category_expense": ""}, "category", "این فیلد الزامی است"),
        ({"category_expense": "999999"}, "category", "دسته‌ای با نام 999999 تعریف نشده است"),
        ({"day": "1404/02/25"}, "day", "این فیلد معتبر نیست"),
        ({"day": "1404/14/01"}, "day", "تاریخ"),
        ({"note": "x" * 201}, "note", "این فیلد معتبر نیست"),
        ({"kind": "loan"}, "kind", "این فیلد معتبر نیست"),
    ]
    for change, field, message in cases:
        response = send(client, "/panel/cash/entries", {**base, **change})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (change, response.status_code)
        form = html.split('id="record"', 1)[1].split("</form>", 1)[0]
        assert message in form, (change, form[-3000:])
        if field in ("amount_rial", "note"):
            assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', form), change
        elif field == "category":
            assert re.search(r'class="field invalid"><span>دستهٔ هزینه', form), change
        elif field == "day":
            assert re.search(r'name="day"[^>]*aria-invalid="true"', form), change
    assert count(panel, "cash_entries") == 0
    # What was typed is kept.
    response = send(client, "/panel/cash/entries", {**base, "amount_rial": "0", "note": "نوشته"})
    assert 'value="نوشته"' in response.get_data(as_text=True)
    assert count(panel, "cash_entries") == 0


def test_void_with_a_reason_lands_once_with_an_audit_row(panel: Panel) -> None:
    client = panel.client("merchant")
    rent = str(category_id(panel, "rent"))
    send(client, "/panel/cash/entries", {"form_key": FORM_KEY, "kind": "expense", "amount_rial": "500000", "category_expense": rent})
    entry = entries(panel)[0][0]
    path = f"/panel/cash/entries/{entry}/void"
    empty = send(client, path, {"form_key": "cash-void-key-0001", "reason": " "})
    assert empty.status_code == 422
    html = empty.get_data(as_text=True)
    row = html.split(f'id="entry-{entry}"', 1)[1].split("</tr>", 1)[0]
    assert "برای اقدام دستی ذکر دلیل لازم است" in row and 'aria-invalid="true"' in row
    assert entries(panel)[0][7] is None and count(panel, "audit_log WHERE action = 'cash.entry_voided'") == 0
    done = send(client, path, {"form_key": "cash-void-key-0002", "reason": "مبلغ اشتباه"})
    assert done.status_code == 302 and "done=voided" in done.headers["Location"]
    again = send(client, path, {"form_key": "cash-void-key-0002", "reason": "مبلغ اشتباه"})
    assert again.status_code == 302
    row = entries(panel)[0]
    assert row[7] is not None and row[8] == "مبلغ اشتباه"
    with panel.service.reading() as tx:
        audits = tx.all("SELECT actor, reason FROM audit_log WHERE action = 'cash.entry_voided'")
    assert audits == [(f"panel:{panel.login_of('merchant')}", "مبلغ اشتباه")]
    html = page(client, "/panel/cash")[1]
    assert "باطل شد" in html and 'class="cash-voided"' in html
    assert 'id="total-expense">۰ ریال<' in html  # a voided entry counts for nothing
    # Voided already (another form): refused at the form, nothing more in the audit log.
    third = send(client, path, {"form_key": "cash-void-key-0003", "reason": "دوباره"})
    assert third.status_code == 422 and "این تراکنش قبلاً برگشت خورده است" in third.get_data(as_text=True)
    assert count(panel, "audit_log WHERE action = 'cash.entry_voided'") == 1
    # Club B's merchant staff cannot reach it.
    other = panel.client("merchant", panel.b)
    assert send(other, path, {"form_key": "cash-void-key-0004", "reason": "x"}).status_code == 404


def test_categories_page_for_merchant_staff_and_club_admins(panel: Panel) -> None:
    client = panel.client("merchant")
    status, html = page(client, "/panel/cash/categories")
    assert status == 200 and "دسته‌های خودتان" in html and "دسته‌های باشگاه" in html and "حقوق و دستمزد" in html
    form = {"form_key": FORM_KEY, "kind": "expense", "code": "Flour", "name_fa": "آرد", "name_en": "Flour"}
    first = send(client, "/panel/cash/categories", form, "/panel/cash/categories")
    second = send(client, "/panel/cash/categories", form, "/panel/cash/categories")
    assert first.status_code == second.status_code == 302
    with panel.service.reading() as tx:
        own = tx.all("SELECT id, code, merchant_id FROM cash_categories WHERE merchant_id IS NOT NULL")
    assert [(c, m) for _, c, m in own] == [("flour", panel.a.merchants["cafe"])]
    before = count(panel, "cash_categories")
    bad = send(client, "/panel/cash/categories", {**form, "form_key": "cash-form-key-0009", "code": "آرد"}, "/panel/cash/categories")
    assert bad.status_code == 422 and re.search(r'name="code"[^>]*aria-invalid="true"', bad.get_data(as_text=True))
    taken = send(client, "/panel/cash/categories", {**form, "form_key": "cash-form-key-0010"}, "/panel/cash/categories")
    assert taken.status_code == 422 and "دستهٔ flour از قبل وجود دارد" in taken.get_data(as_text=True)
    assert count(panel, "cash_categories") == before
    # Disable it: the cash book no longer offers it; an audit row names the person.
    off = send(client, f"/panel/cash/categories/{own[0][0]}/switch", {"active": "0"}, "/panel/cash/categories")
    assert off.status_code == 302
    assert "آرد (flour)" not in page(client, "/panel/cash")[1]
    with panel.service.reading() as tx:
        assert tx.one("SELECT actor FROM audit_log WHERE action = 'cash.category_disabled'")[0] == f"panel:{panel.login_of('merchant')}"
    # The club's admin manages the shared ones, in English too.
    admin = panel.client("admin")
    status, html = page(admin, "/panel/cash/categories?lang=en")
    assert status == 200 and "The club&#39;s shared categories" in html and "Wages" in html
    added = send(admin, "/panel/cash/categories", {"form_key": FORM_KEY, "kind": "receipt", "code": "tips", "name_fa": "انعام"},
                 "/panel/cash/categories")
    assert added.status_code == 302
    assert "انعام (tips)" in page(client, "/panel/cash")[1]
    # A merchant cannot switch the club's; nobody of club B anything of club A's.
    shared = category_id(panel, "tips")
    assert send(client, f"/panel/cash/categories/{shared}/switch", {"active": "0"}, "/panel/cash/categories").status_code == 404
    other = panel.client("admin", panel.b)
    assert send(other, f"/panel/cash/categories/{shared}/switch", {"active": "0"}, "/panel/cash/categories").status_code == 404
    assert panel.client("marketer").get("/panel/cash/categories").status_code == 403


def test_the_income_report_and_its_csv(panel: Panel) -> None:
    a = panel.a
    member = a.enroll()
    a.buy(member, 1_230_000)
    a.buy(member, 4_560_000)
    a.buy(member, 3_330_000, merchant="restaurant")
    client = panel.client("merchant")
    rent = str(category_id(panel, "rent"))
    send(client, "/panel/cash/entries", {"form_key": FORM_KEY, "kind": "expense", "amount_rial": "2500000", "category_expense": rent})
    send(client, "/panel/cash/entries", {"form_key": "cash-form-key-0002", "kind": "receipt", "amount_rial": "150000"})
    status, html = page(client, "/panel/cash/income")
    assert status == 200 and "گزارش درآمد روزانه" in html and "۱۴۰۴/۰۲/۰۱ – ۱۴۰۴/۰۲/۲۴" in html
    totals = html.split('id="totals"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "۵٬۷۹۰٬۰۰۰ ریال" in totals and "۱۵۰٬۰۰۰ ریال" in totals and "۲٬۵۰۰٬۰۰۰ ریال" in totals
    assert 'id="net">۳٬۴۴۰٬۰۰۰ ریال<' in html  # 5,790,000 + 150,000 - 2,500,000
    assert "<svg" in html and 'class="s1"' in html and "اجاره" in html
    assert ">۲۴</text>" in html and ">24</text>" not in html  # the chart's days in the page's digits
    status, html = page(client, "/panel/cash/income?lang=en&from=1404/02/24&to=1404/02/24")
    assert status == 200 and "Daily income report" in html and 'id="net">3,440,000 rials<' in html and "Rent" in html
    days = html.split('id="days"', 1)[1].split("</table>", 1)[0]
    assert days.count("<tr>") == 2  # the day, the head; the total line is in tfoot
    # Bad dates are shown at their field.
    status, html = page(client, "/panel/cash/income?from=1404/02/30&to=1404/02/01")
    assert status == 200 and re.search(r'name="from"[^>]*aria-invalid="true"', html) and 'id="totals"' not in html
    # The CSV.
    csv_response = client.get("/panel/cash/income.csv?from=1404/02/24&to=1404/02/24")
    assert csv_response.status_code == 200 and csv_response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(csv_response.get_data(as_text=True))))
    assert rows[1][0] == "2025-05-14" and rows[1][-1] == "3440000" and rows[-1][0] == "total"
    assert client.get("/panel/cash/income.csv?from=bad").status_code in (400, 422)
    # Club staff choose any merchant of their club; another club's is 404.
    ro = panel.client("read_only")
    status, html = page(ro, f"/panel/cash/income?merchant_id={a.merchants['restaurant']}&lang=en")
    assert status == 200 and 'name="merchant_id"' in html and "3,330,000 rials" in html
    status, html = page(ro, "/panel/cash/income?lang=en")
    assert status == 200 and 'id="merchant-name">Cafe<' in html
    assert page(panel.client("admin", panel.b), f"/panel/cash/income?merchant_id={a.merchants['cafe']}")[0] == 404
    assert page(panel.client("merchant", panel.b), f"/panel/cash/income.csv?merchant_id={a.merchants['cafe']}")[0] == 404
