"""The appointments extra's pages, in Persian and English, on both databases: the portal (a member
finds free times by day, books once however often the form is sent, sees the code, cancels) and
the panel (a merchant adds services, sets its rules, publishes and closes slots, and works the
day's bookings; club staff read them and admin cancels with a reason). Bad input is shown at its
field and changes nothing; staff changes leave audit rows naming the person and the reason."""

from __future__ import annotations

import secrets
from typing import Any

from flask.testing import FlaskClient

from service.builders import audit
from web.panel.conftest import Panel, page, post

from .conftest import TOMORROW_JALALI, scalar, setup_day


def key() -> str:
    return secrets.token_urlsafe(12)


def count(panel: Panel, table: str) -> int:
    return int(scalar(panel.api, f"SELECT COUNT(*) FROM {table}"))


def booking_ids(panel: Panel) -> list[int]:
    return [int(x) for (x,) in _rows(panel, "SELECT id FROM appointments_bookings ORDER BY id")]


def _rows(panel: Panel, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with panel.service.reading() as tx:
        return list(tx.all(sql, params))


def state(panel: Panel, booking: int) -> str:
    return str(scalar(panel.api, "SELECT status FROM appointments_bookings WHERE id = ?", (booking,)))


# --- the portal ----------------------------------------------------------------------------------------


def test_a_member_finds_free_times_books_once_and_cancels_in_the_portal(panel: Panel) -> None:
    day = setup_day(panel.api)
    member = panel.member_client()
    status, html = page(member, "/portal/appointments")
    assert status == 200 and 'dir="rtl"' in html and "نوبت‌دهی" in html and "گرفتن نوبت" in html and "اصلاح مو" in html
    assert 'href="/portal/appointments"' in html  # the portal's menu entry
    status, html = page(member, f"/portal/appointments?service_id={day.service_id}&day={TOMORROW_JALALI}")
    assert status == 200 and "زمان‌های آزاد اصلاح مو" in html and "پنجشنبه ۲۵ اردیبهشت ۱۴۰۴" in html and ">۰۹:۰۰<" in html
    assert html.count('name="slot_id"') == 6
    form = {"slot_id": day.slot_ids[0], "form_key": key()}
    first = post(member, "/portal/appointments/book", form)
    again = post(member, "/portal/appointments/book", form)  # the same form sent twice
    assert first.status_code == again.status_code == 302 and "notice=appointments.booked" in first.headers["Location"]
    assert count(panel, "appointments_bookings") == 1
    status, html = page(member, first.headers["Location"])
    code = str(scalar(panel.api, "SELECT code FROM appointments_bookings"))
    assert "نوبت شما رزرو شد" in html and fa(code) in html and "رزروشده" in html and "لغو نوبت" in html
    status, html = page(member, f"/portal/appointments?service_id={day.service_id}&day={TOMORROW_JALALI}&lang=en")
    assert 'dir="ltr"' in html and "My appointments" in html and "Free times of Haircut" in html and ">09:30<" in html
    assert html.count('name="slot_id"') == 5  # the booked time is no longer free
    [booking] = booking_ids(panel)
    cancelled = post(member, f"/portal/appointments/bookings/{booking}/cancel", {"form_key": key()})
    assert cancelled.status_code == 302 and state(panel, booking) == "cancelled"
    assert "The appointment is cancelled." in page(member, cancelled.headers["Location"])[1]


def test_portal_refusals_are_shown_and_change_nothing(panel: Panel) -> None:
    day = setup_day(panel.api)
    other = panel.api.a.enroll(name_fa="نفر دیگر")
    from kimia.extras.appointments import store
    from kimia.plugins.types import Caller

    store.book(panel.service.plugin_services, Caller("member", panel.a.club_id, "test", member_id=other), day.slot_ids[0], None, "x-1")
    member = panel.member_client()
    before = count(panel, "appointments_bookings")
    taken = post(member, "/portal/appointments/book", {"slot_id": day.slot_ids[0], "form_key": key()})
    assert taken.status_code == 409 and "این زمان قبلاً رزرو شده است" in taken.get_data(as_text=True)
    assert count(panel, "appointments_bookings") == before
    status, html = page(member, f"/portal/appointments?service_id={day.service_id}&day=1404/13/40")
    assert status == 200 and 'aria-invalid="true"' in html and "تاریخ" in html
    missing = post(member, "/portal/appointments/book", {"slot_id": 10**9, "form_key": key()})
    assert missing.status_code == 404
    assert post(member, "/portal/appointments/book", {"slot_id": day.slot_ids[1]}).status_code == 400  # no form key
    assert count(panel, "appointments_bookings") == before


# --- the panel: services, settings and slots -----------------------------------------------------------


def test_a_merchant_adds_services_sets_rules_and_publishes_slots(panel: Panel) -> None:
    merchant = panel.client("merchant")
    status, html = page(merchant, "/panel/appointments/services")
    assert status == 200 and "خدمات نوبت‌دهی" in html and "افزودن خدمت" in html
    assert all(f'href="/panel/appointments{p}"' in html for p in ("", "/services", "/slots"))
    form = {"form": "service", "name_fa": "کوتاهی مو", "name_en": "Haircut", "duration_min": "۴۵", "form_key": key()}
    first = post(merchant, "/panel/appointments/services", form)
    again = post(merchant, "/panel/appointments/services", form)
    assert first.status_code == again.status_code == 302 and count(panel, "appointments_services") == 1
    bad = post(merchant, "/panel/appointments/services", {**form, "duration_min": "پنج", "form_key": key()})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'aria-invalid="true"' in body and "این فیلد معتبر نیست" in body
    assert count(panel, "appointments_services") == 1
    rules = post(merchant, "/panel/appointments/services", {"form": "settings", "cancel_before_hours": "6", "reminder_hours": "12",
                                                            "form_key": key()})
    assert rules.status_code == 302
    assert _rows(panel, "SELECT cancel_before_hours, reminder_hours FROM appointments_settings") == [(6, 12)]
    status, html = page(merchant, "/panel/appointments/services?lang=en")
    assert "Booking services" in html and "Haircut" in html and 'value="6"' in html

    service = int(scalar(panel.api, "SELECT id FROM appointments_services"))
    status, html = page(merchant, "/panel/appointments/slots?lang=fa")
    assert status == 200 and "انتشار زمان‌ها" in html and "شنبه" in html
    publish = {"service_id": str(service), "from": "۱۴۰۴/۰۲/۲۵", "to": "1404/02/27", "start": "۱۰:۰۰", "end": "12:00", "every_min": "60",
               "capacity": "2", "wd_thu": "1", "wd_sat": "1", "form_key": key()}
    done = post(merchant, "/panel/appointments/slots", publish)
    assert done.status_code == 302 and count(panel, "appointments_slots") == 4  # Thu 25 and Sat 27: 10:00, 11:00
    assert post(merchant, "/panel/appointments/slots", publish).status_code == 302 and count(panel, "appointments_slots") == 4
    status, html = page(merchant, done.headers["Location"])
    assert "زمان‌های نوبت منتشر شد" in html and "۱۰:۰۰–۱۰:۴۵" in html and "کوتاهی مو" in html
    bad = post(merchant, "/panel/appointments/slots", {**publish, "start": "10", "form_key": key()})
    assert bad.status_code == 400 and "ساعت به شکل" in bad.get_data(as_text=True) and count(panel, "appointments_slots") == 4
    bad_day = post(merchant, "/panel/appointments/slots", {**publish, "from": "1404/02/35", "form_key": key()})
    assert bad_day.status_code == 400 and 'aria-invalid="true"' in bad_day.get_data(as_text=True)
    assert count(panel, "appointments_slots") == 4
    slot = int(scalar(panel.api, "SELECT MIN(id) FROM appointments_slots"))
    closed = post(merchant, f"/panel/appointments/slots/{slot}/close", {"form_key": key(), "day": TOMORROW_JALALI})
    assert closed.status_code == 302 and scalar(panel.api, "SELECT status FROM appointments_slots WHERE id = ?", (slot,)) == "closed"
    [(actor, reason, payload)] = audit(panel.service, "appointments.slot_closed")
    assert actor == f"panel:{panel.login_of('merchant')}" and payload["slot_id"] == slot
    status, html = page(merchant, f"/panel/appointments/slots?day={TOMORROW_JALALI}&lang=en")
    assert "Booking slots" in html and "Closed" in html and "10:00–10:45" in html


# --- the panel: the day's bookings ---------------------------------------------------------------------


def _book(panel: Panel, slot: int, name: str) -> int:
    from kimia.extras.appointments import store
    from kimia.plugins.types import Caller

    member = panel.api.a.enroll(name_fa=name)
    made = store.book(panel.service.plugin_services, Caller("member", panel.a.club_id, "test", member_id=member), slot, None, f"k-{slot}")
    return int(made["id"])


def act(client: FlaskClient, booking: int, action: str, **extra: Any) -> Any:
    return post(client, f"/panel/appointments/bookings/{booking}/act",
                {"action": action, "form_key": key(), "day": TOMORROW_JALALI, **extra})


def test_the_merchant_works_the_days_bookings(panel: Panel) -> None:
    day = setup_day(panel.api)
    one, two = _book(panel, day.slot_ids[0], "نرگس"), _book(panel, day.slot_ids[1], "بهرام")
    code = str(scalar(panel.api, "SELECT code FROM appointments_bookings WHERE id = ?", (one,)))
    merchant = panel.client("merchant")
    status, html = page(merchant, f"/panel/appointments?day={TOMORROW_JALALI}")
    assert status == 200 and "نوبت‌های روز" in html and "نرگس" in html and "بهرام" in html and fa(code) in html
    assert "تأیید" in html and "ثبت حضور" in html
    form = {"action": "confirm", "form_key": key(), "day": TOMORROW_JALALI}
    first = post(merchant, f"/panel/appointments/bookings/{one}/act", form)
    again = post(merchant, f"/panel/appointments/bookings/{one}/act", form)  # sent twice: one change
    assert first.status_code == again.status_code == 302 and state(panel, one) == "confirmed"
    assert act(merchant, one, "check_in").status_code == 302 and state(panel, one) == "checked_in"
    # Cancelling without a reason is refused at the booking's row; nothing changes.
    refused = act(merchant, two, "cancel")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "برای اقدام دستی ذکر دلیل لازم است" in body and state(panel, two) == "booked"
    assert audit(panel.service, "appointments.booking_cancelled") == []
    # A no-show before the time is refused (409).
    assert act(merchant, two, "no_show").status_code == 409 and state(panel, two) == "booked"
    assert act(merchant, two, "cancel", reason="مشتری تماس گرفت").status_code == 302 and state(panel, two) == "cancelled"
    [(actor, reason, _)] = audit(panel.service, "appointments.booking_cancelled")
    assert actor == f"panel:{panel.login_of('merchant')}" and reason == "مشتری تماس گرفت"
    assert act(merchant, one, "dance").status_code == 400
    status, html = page(merchant, f"/panel/appointments?day={TOMORROW_JALALI}&lang=en")
    assert "Bookings of the day" in html and "Checked in" in html and "Cancelled" in html and ">09:30<" in html
    assert "Thu 25 Ordibehesht 1404" in html
    status, html = page(merchant, "/panel/appointments?day=1404/02/99")
    assert status == 200 and 'aria-invalid="true"' in html


def test_club_staff_read_every_merchants_bookings_and_admin_cancels_with_a_reason(panel: Panel) -> None:
    day = setup_day(panel.api)
    booking = _book(panel, day.slot_ids[2], "شیما")
    reader = panel.client("read_only")
    status, html = page(reader, f"/panel/appointments?day={TOMORROW_JALALI}")
    assert status == 200 and "شیما" in html and 'name="merchant_id"' in html and "ثبت حضور" not in html and 'value="cancel"' not in html
    assert act(reader, booking, "cancel", reason="x").status_code == 403
    admin = panel.client("admin")
    status, html = page(admin, f"/panel/appointments?day={TOMORROW_JALALI}&merchant_id={panel.a.merchants['cafe']}")
    assert status == 200 and 'value="cancel"' in html and "ثبت حضور" not in html
    assert act(admin, booking, "check_in").status_code == 403 and state(panel, booking) == "booked"
    done = act(admin, booking, "cancel", reason="پذیرنده تعطیل است", merchant_id=str(panel.a.merchants["cafe"]))
    assert done.status_code == 302 and state(panel, booking) == "cancelled"
    [(actor, reason, _)] = audit(panel.service, "appointments.booking_cancelled")
    assert actor == f"panel:{panel.login_of('admin')}" and reason == "پذیرنده تعطیل است"
    other = panel.client("admin", panel.b)
    assert page(other, f"/panel/appointments?merchant_id={panel.a.merchants['cafe']}")[0] == 404
    assert act(other, booking, "cancel", reason="x").status_code == 404


def fa(digits: str) -> str:
    """A booking code as a Persian page shows it (Persian digits)."""
    return digits.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
