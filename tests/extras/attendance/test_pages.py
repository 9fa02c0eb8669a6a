"""The attendance pages in the panel: Persian and English, a register form landing once under a
double submit, bad input shown at its field and changing nothing, corrections with their audit row,
the report with its CSV, and club scoping. On SQLite and PostgreSQL (the ``panel`` world)."""

from __future__ import annotations

from typing import Any

from kimia.extras.attendance import store
from web.conftest import api, clock  # noqa: F401  (fixtures)
from web.panel.conftest import Panel, page, panel, post  # noqa: F401  (fixtures)


def count(p: Panel, table: str, where: str = "1 = 1") -> int:
    with p.service.reading() as tx:
        return int(tx.one(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0])


def seed(p: Panel) -> tuple[Any, store.Staff, store.Record]:
    services = p.service.plugin_services
    cafe = services.merchant(p.a.merchants["cafe"])
    person = store.register(services, cafe, code="4521", name="مریم احمدی", idem_key="seed-staff", actor="test")
    record = store.clock(services, cafe, code="4521", direction="in", source="terminal", idem_key="seed-in", actor="terminal:1")
    return cafe, person, record


def test_the_merchant_sees_who_is_in_in_persian_and_english(panel: Panel) -> None:  # noqa: F811
    seed(panel)
    client = panel.client("merchant")
    status, html = page(client, "/panel/attendance")
    assert status == 200 and 'lang="fa"' in html and "حاضرین اکنون" in html and "مریم احمدی" in html
    assert "۱۴" in html and "ورود" in html and 'href="/panel/attendance"' in html  # Jalali, Persian digits; the menu entry
    assert "گزارش حضور و غیاب" in html
    status, html = page(client, "/panel/attendance?lang=en")
    assert status == 200 and "In now" in html and "Attendance report" in html and "since 14" in html
    status, html = page(client, "/panel/attendance?day=1405/13/40&lang=en")
    assert status == 200 and 'aria-invalid="true"' in html  # a bad day is shown at its field
    # Another merchant's staff, and club B's, see none of it.
    other = panel.client("merchant", panel.b)
    assert "مریم احمدی" not in page(other, "/panel/attendance")[1]


def test_registering_lands_once_and_bad_input_changes_nothing(panel: Panel) -> None:  # noqa: F811
    client = panel.client("merchant")
    status, html = page(client, "/panel/attendance/staff")
    assert status == 200 and "ثبت کارمند" in html and 'name="form_key"' in html
    form = {"form_key": "form-key-register-1", "code": "6037991234567893", "name": "سارا"}
    first = post(client, "/panel/attendance/staff", form)
    second = post(client, "/panel/attendance/staff", form)  # a double submit
    assert first.status_code == second.status_code == 302
    assert count(panel, "attendance_staff") == 1
    status, html = page(client, "/panel/attendance/staff?done=registered")
    assert "کارمند ثبت شد" in html and "سارا" in html and "۷۸۹۳" in html and "6037991234567893" not in html
    before = count(panel, "attendance_staff")
    bad = post(client, "/panel/attendance/staff", {"form_key": "form-key-register-2", "code": "6037991234567893", "name": "x"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "کد کارمندی …۷۸۹۳ قبلاً در این فروشگاه ثبت شده" in text and 'aria-invalid="true"' in text
    assert "6037991234567893" not in text  # the card is never shown back
    bad = post(client, "/panel/attendance/staff?lang=en", {"form_key": "form-key-register-3", "code": "77", "name": ""})
    assert bad.status_code == 400 and "This field is required" in bad.get_data(as_text=True)
    assert count(panel, "attendance_staff") == before
    # Disable and enable again, audited.
    staff_id = panel.service.plugin_services.read(lambda db: store.list_staff(db, merchant_ids=[panel.a.merchants["cafe"]]))[0].id
    assert post(client, f"/panel/attendance/staff/{staff_id}/state", {"active": "0"}).status_code == 302
    assert "غیرفعال" in page(client, "/panel/attendance/staff?lang=fa")[1]
    assert count(panel, "audit_log", "action = 'attendance.staff_disable'") == 1
    assert post(panel.client("merchant", panel.b), f"/panel/attendance/staff/{staff_id}/state", {"active": "1"}).status_code == 404


def test_a_correction_is_audited_and_lands_once(panel: Panel) -> None:  # noqa: F811
    _, person, record = seed(panel)
    client = panel.client("merchant")
    status, html = page(client, f"/panel/attendance/correct?record_id={record.id}")
    assert status == 200 and "اصلاح رکورد حضور" in html and "مریم احمدی" in html
    records_before, audits_before = count(panel, "attendance_records"), count(panel, "audit_log")
    bad = post(client, f"/panel/attendance/correct?record_id={record.id}",
               {"form_key": "form-key-correct-1", "action": "replace", "day": "1405/09/16", "time": "25:00", "reason": "x"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    bad = post(client, f"/panel/attendance/correct?record_id={record.id}&lang=en",
               {"form_key": "form-key-correct-2", "action": "void", "reason": " "})
    assert bad.status_code == 400 and "A manual action needs a reason" in bad.get_data(as_text=True)
    assert count(panel, "attendance_records") == records_before and count(panel, "audit_log") == audits_before
    form = {"form_key": "form-key-correct-3", "action": "void", "reason": "clocked in by mistake"}
    assert post(client, f"/panel/attendance/correct?record_id={record.id}", form).status_code == 302
    assert post(client, f"/panel/attendance/correct?record_id={record.id}", form).status_code == 302  # double submit
    assert count(panel, "attendance_records") == records_before + 1
    with panel.service.reading() as tx:
        audit = tx.all("SELECT actor, reason FROM audit_log WHERE action = 'attendance.correct'")
    assert len(audit) == 1 and audit[0][1] == "clocked in by mistake" and "merchant" in audit[0][0]
    status, html = page(client, "/panel/attendance?done=corrected&lang=fa")
    assert "اصلاح ثبت شد" in html and "باطل‌شده" in html
    # Club B's staff cannot reach it; club A's support may correct (add a missing record).
    assert page(panel.client("merchant", panel.b), f"/panel/attendance/correct?record_id={record.id}")[0] == 404
    assert page(panel.client("admin", panel.b), f"/panel/attendance/correct?record_id={record.id}")[0] == 404
    support = panel.client("support")
    cafe = panel.a.merchants["cafe"]
    status, html = page(support, f"/panel/attendance/correct?merchant_id={cafe}&lang=en")
    assert status == 200 and "Add a missing record" in html
    added = post(support, f"/panel/attendance/correct?merchant_id={cafe}",
                 {"form_key": "form-key-correct-4", "action": "add", "staff_id": str(person.id), "direction": "in",
                  "day": store.jalali_text(store.today(panel.service.plugin_services, 210)), "time": "00:01", "reason": "paper sheet"})
    assert added.status_code == 302, added.get_data(as_text=True)
    assert count(panel, "audit_log", "action = 'attendance.correct'") == 2
    assert page(panel.client("read_only"), f"/panel/attendance/correct?record_id={record.id}")[0] == 403


def test_the_report_per_merchant_and_person_with_csv(panel: Panel) -> None:  # noqa: F811
    cafe, _, _ = seed(panel)
    admin = panel.client("admin")
    status, html = page(admin, "/panel/attendance/report")
    assert status == 200 and "گزارش حضور و غیاب" in html and "مریم احمدی" in html and "روزهای حضور" in html and "۱" in html
    status, html = page(admin, f"/panel/attendance/report?merchant_id={cafe.id}&lang=en")
    assert status == 200 and "Days present" in html and "Download CSV" in html and f'<option value="{cafe.id}" selected>Cafe</option>' in html
    csv = admin.get(f"/panel/attendance/report.csv?merchant_id={cafe.id}")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    body = csv.get_data(as_text=True)
    assert "attachment" in csv.headers["Content-Disposition"] and ",مریم احمدی,4521," in body
    status, html = page(admin, f"/panel/attendance/records?merchant_id={cafe.id}&lang=fa")
    assert status == 200 and "مریم احمدی" in html and "کارتخوان" in html
    status, html = page(admin, "/panel/attendance/report?from=1405/99/01")
    assert status == 200 and 'aria-invalid="true"' in html
    assert page(panel.client("admin", panel.b), f"/panel/attendance/report?merchant_id={cafe.id}")[0] == 404
    assert "مریم احمدی" not in page(panel.client("admin", panel.b), "/panel/attendance/report")[1]
    assert panel.client("admin", panel.b).get(f"/panel/attendance/report.csv?merchant_id={cafe.id}").status_code == 404
    merchant = panel.client("merchant")
    status, html = page(merchant, "/panel/attendance/report?lang=en")
    assert status == 200 and 'name="merchant_id"' not in html and "Hours worked" in html
    assert page(panel.client("marketer"), "/panel/attendance")[0] == 403
