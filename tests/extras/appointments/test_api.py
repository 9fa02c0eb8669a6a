"""The appointments API (``/api/v1/appointments/...``) on both databases: services and slots
published by a merchant's key, bookings by members and by the club's website, the cancellation
rule, staff actions with their audit rows, scoping (club B never sees club A's), idempotent
replays, lists with cursors and CSV, and the events written to the outbox."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from kimia.extras.appointments import plugin
from service.builders import FakeClock, audit, mobile
from web.conftest import Api, count, refused

from .conftest import TOMORROW, TOMORROW_JALALI, rows, scalar, setup_day

MEMBER_A = f"M:{mobile(2_000_001)}"  # club A's first member (api.members[club A]), by mobile


def book(api: Api, key: str, slot_id: Any, *, idem: str = "", **extra: Any) -> Any:
    return api.post("/appointments/bookings", key, {"slot_id": slot_id, **extra}, idem=idem)


# --- services and settings ------------------------------------------------------------------------


def test_a_merchant_key_adds_services_and_every_key_of_the_club_reads_them(api: Api) -> None:
    keys = api.keys_of(api.a)
    added = api.post("/appointments/services", keys["merchant"], {"name_fa": "اصلاح مو", "name_en": "Haircut", "duration_min": 30},
                     idem="svc-1")
    assert added.status_code == 201
    assert added.json == {"id": added.json["id"], "merchant_id": api.a.merchants["cafe"], "name_fa": "اصلاح مو", "name_en": "Haircut",
                          "duration_min": 30, "active": True}
    again = api.post("/appointments/services", keys["merchant"], {"name_fa": "اصلاح مو", "name_en": "Haircut", "duration_min": 30},
                     idem="svc-1")
    assert again.status_code == 201 and again.json == added.json
    assert count(api, "appointments_services") == 1
    for kind in ("management", "integration", "merchant", "member"):
        listed = api.get("/appointments/services", keys[kind])
        assert listed.status_code == 200 and [s["id"] for s in listed.json["items"]] == [added.json["id"]], kind
    assert api.get("/appointments/services", api.keys_of(api.b)["management"]).json["items"] == []
    merchants = api.get("/appointments/merchants", keys["member"]).json["items"]
    assert [m["id"] for m in merchants] == [api.a.merchants["cafe"]]


def test_service_refusals_name_their_field_and_write_nothing(api: Api) -> None:
    keys = api.keys_of(api.a)
    refused(api.post("/appointments/services", keys["merchant"], {"duration_min": 30}), 400, "field_required", "name_fa")
    refused(api.post("/appointments/services", keys["merchant"], {"name_fa": "x", "duration_min": 2}), 400, "field_invalid",
            "duration_min")
    refused(api.post("/appointments/services", keys["management"], {"name_fa": "x", "duration_min": 30}), 400, "field_required",
            "merchant_id")
    refused(api.post("/appointments/services", keys["management"], {"merchant_id": api.b.merchants["cafe"], "name_fa": "x",
                                                                    "duration_min": 30}), 404, "unknown_merchant", "merchant_id")
    refused(api.post("/appointments/services", keys["integration"], {"name_fa": "x", "duration_min": 30}), 403, "forbidden")
    refused(api.post("/appointments/services", keys["merchant"], {"merchant_id": api.a.merchants["restaurant"], "name_fa": "x",
                                                                  "duration_min": 30}), 403, "forbidden")
    refused(api.post("/appointments/services", keys["member"], {"name_fa": "x", "duration_min": 30}), 403, "forbidden")
    assert count(api, "appointments_services") == 0
    # The management key names the merchant.
    ok = api.post("/appointments/services", keys["management"], {"merchant_id": api.a.merchants["restaurant"], "name_fa": "میز شام",
                                                                 "duration_min": 90})
    assert ok.status_code == 201 and ok.json["merchant_id"] == api.a.merchants["restaurant"]


def test_settings_set_the_cancellation_limit_members_meet(api: Api, clock: FakeClock) -> None:
    keys = api.keys_of(api.a)
    assert api.get("/appointments/settings", keys["merchant"]).json == {"merchant_id": api.a.merchants["cafe"],
                                                                        "cancel_before_hours": 2, "reminder_hours": 24}
    changed = api.post("/appointments/settings", keys["merchant"], {"cancel_before_hours": 30, "reminder_hours": 6})
    assert changed.status_code == 200 and changed.json["cancel_before_hours"] == 30
    refused(api.post("/appointments/settings", keys["merchant"], {"cancel_before_hours": 9999}), 400, "field_invalid",
            "cancel_before_hours")
    day = setup_day(api)
    booking = book(api, keys["member"], day.slot_ids[0]).json
    # The slot starts in 23 hours: within the 30-hour limit, the member may no longer cancel.
    refused(api.post(f"/appointments/bookings/{booking['id']}/cancel", keys["member"], {}), 409, "booking_not_cancellable",
            "booking_id")
    assert api.get(f"/appointments/bookings/{booking['id']}", keys["member"]).json["status"] == "booked"


# --- slots ------------------------------------------------------------------------------------------


def test_publishing_slots_makes_them_once_and_lists_them_by_day(api: Api) -> None:
    keys = api.keys_of(api.a)
    service = api.post("/appointments/services", keys["merchant"], {"name_fa": "کارواش", "duration_min": 40}).json
    body = {"service_id": service["id"], "from": TOMORROW_JALALI, "to": "2025-05-21", "weekdays": ["sat", "thu"], "start": "16:00",
            "end": "18:00", "every_min": 30, "capacity": 2}
    first = api.post("/appointments/slots", keys["merchant"], body, idem="pub-1")
    # Thursday 15 May and Saturday 17 May; 16:00, 16:30, 17:00, 17:30 doesn't fit (ends 18:10).
    assert first.status_code == 201 and first.json["created"] == 6 and first.json["skipped"] == 0
    assert first.json["first"] == {"at": "2025-05-15T16:00:00+03:30", "at_jalali": "1404-02-25 16:00"}
    assert api.post("/appointments/slots", keys["merchant"], body, idem="pub-1").json == first.json
    overlapping = api.post("/appointments/slots", keys["merchant"], {**body, "to": TOMORROW, "weekdays": "thu"}, idem="pub-2")
    assert overlapping.json["created"] == 0 and overlapping.json["skipped"] == 3
    assert count(api, "appointments_slots") == 6
    listed = api.get("/appointments/slots", keys["member"], service_id=service["id"], free="1", **{"from": TOMORROW, "to": "2025-05-20"})
    assert [s["starts_at"]["at"][:16] for s in listed.json["items"]] == [
        "2025-05-15T16:00", "2025-05-15T16:30", "2025-05-15T17:00", "2025-05-17T16:00", "2025-05-17T16:30", "2025-05-17T17:00"]
    assert listed.json["items"][0]["capacity"] == 2 and listed.json["items"][0]["free"] == 2
    paged = api.get("/appointments/slots", keys["member"], limit=4, **{"from": TOMORROW, "to": "2025-05-20"})
    assert len(paged.json["items"]) == 4 and paged.json["next_cursor"]
    rest = api.get("/appointments/slots", keys["member"], limit=4, cursor=paged.json["next_cursor"], **{"from": TOMORROW, "to": "2025-05-20"})
    assert len(rest.json["items"]) == 2 and rest.json["next_cursor"] is None
    refused(api.get("/appointments/slots", keys["member"], cursor="made-up"), 400, "invalid_cursor", "cursor")
    # Club B sees none of them, nor can publish on club A's service.
    assert api.get("/appointments/slots", api.keys_of(api.b)["member"], **{"from": TOMORROW}).json["items"] == []
    refused(api.post("/appointments/slots", api.keys_of(api.b)["management"], body), 404, "not_found", "service_id")


def test_slot_refusals(api: Api) -> None:
    keys = api.keys_of(api.a)
    service = api.post("/appointments/services", keys["merchant"], {"name_fa": "ماساژ", "duration_min": 60}).json
    base = {"service_id": service["id"], "from": TOMORROW, "start": "10:00"}
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "start": "25:00"}), 400, "field_invalid", "start")
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "end": "10:30"}), 400, "field_invalid", "end")
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "from": "2025-02-30"}), 400, "field_invalid", "from")
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "from": "1404/13/01"}), 400, "invalid_date", "from")
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "from": "2025-05-01"}), 400, "field_invalid", "from")
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "weekdays": ["someday"]}), 400, "field_invalid", "weekdays")
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "to": "2026-05-15"}), 400, "field_invalid", "to")
    refused(api.post("/appointments/slots", keys["merchant"], {**base, "capacity": 0}), 400, "field_invalid", "capacity")
    refused(api.post("/appointments/slots", keys["merchant"], {"from": TOMORROW, "start": "10:00"}), 400, "field_required", "service_id")
    refused(api.post("/appointments/slots", keys["member"], base), 403, "forbidden")
    assert count(api, "appointments_slots") == 0


def test_closing_a_slot_stops_bookings_keeps_its_bookings_and_is_audited(api: Api) -> None:
    keys = api.keys_of(api.a)
    day = setup_day(api, capacity=2)
    booked = book(api, keys["member"], day.slot_ids[0])
    closed = api.post(f"/appointments/slots/{day.slot_ids[0]}/close", keys["merchant"], {"reason": "آرایشگر مرخصی است"})
    assert closed.status_code == 200 and closed.json["status"] == "closed" and closed.json["taken"] == 1
    assert audit(api.service, "appointments.slot_closed")[0][1] == "آرایشگر مرخصی است"
    refused(book(api, keys["integration"], day.slot_ids[0], member=f"M:{mobile(2_000_001)}"), 409, "slot_unavailable", "slot_id")
    assert api.get(f"/appointments/bookings/{booked.json['id']}", keys["merchant"]).json["status"] == "booked"
    refused(api.post(f"/appointments/slots/{day.slot_ids[1]}/close", api.keys_of(api.b)["management"], {}), 404, "unknown_slot", "slot_id")
    assert scalar(api, "SELECT status FROM appointments_slots WHERE id = ?", (day.slot_ids[1],)) == "open"


# --- bookings ---------------------------------------------------------------------------------------


def test_a_member_books_a_slot_once_and_a_replay_is_the_first_answer(api: Api) -> None:
    keys = api.keys_of(api.a)
    day = setup_day(api)
    first = book(api, keys["member"], day.slot_ids[0], idem="book-1")
    assert first.status_code == 201, first.json
    b = first.json
    assert b["member_id"] == api.members[api.a.club_id] and b["status"] == "booked" and len(b["code"]) == 6 and b["code"].isdigit()
    assert b["starts_at"] == {"at": "2025-05-15T09:00:00+03:30", "at_jalali": "1404-02-25 09:00"}
    again = book(api, keys["member"], day.slot_ids[0], idem="book-1")
    assert again.status_code == 201 and again.json == b, again.json
    other = api.post("/appointments/bookings", keys["member"], {"slot_id": day.slot_ids[1]}, idem="book-1")
    refused(other, 409, "exists_with_different_request")
    assert count(api, "appointments_bookings") == 1
    assert scalar(api, "SELECT taken FROM appointments_slots WHERE id = ?", (day.slot_ids[0],)) == 1
    # The member cannot take a second place of the same slot, and a full slot is taken.
    refused(book(api, keys["member"], day.slot_ids[0]), 409, "slot_unavailable", "slot_id")
    someone = f"A:{api.service.account_number(api.a.enroll())}"
    refused(book(api, keys["integration"], day.slot_ids[0], member=someone), 409, "slot_taken", "slot_id")
    events = rows(api, "SELECT uid, member_id, payload FROM outbox_events WHERE event = 'appointment.booked'")
    assert [(e[0], e[1]) for e in events] == [(f"appointment.booked:{api.a.club_id}:booking:{b['id']}:booked", b["member_id"])]
    payload = json.loads(events[0][2])
    assert payload["code"] == b["code"] and payload["member_name"] == "عضو 1" and payload["service_name_fa"] == "اصلاح مو"
    assert payload["starts_at_jalali"] == "1404-02-25 09:00" and payload["merchant_name_fa"]


def test_the_clubs_website_books_for_a_member_it_names(api: Api) -> None:
    keys = api.keys_of(api.a)
    day = setup_day(api, capacity=3)
    refused(book(api, keys["integration"], day.slot_ids[0]), 400, "field_required", "member")
    refused(book(api, keys["integration"], day.slot_ids[0], member=f"M:{mobile(7_777_777)}"), 404, "unknown_member", "member")
    refused(book(api, keys["integration"], day.slot_ids[0], member="X:1"), 400, "invalid_request", "member")
    made = book(api, keys["integration"], day.slot_ids[0], member=MEMBER_A)
    assert made.status_code == 201 and made.json["member_id"] == api.members[api.a.club_id]
    refused(book(api, keys["member"], day.slot_ids[0]), 409, "slot_unavailable", "slot_id")  # already the member's
    other = api.a.enroll(name_fa="مریم")
    by_staff = book(api, keys["management"], day.slot_ids[0], member=f"A:{api.service.account_number(other)}")
    assert by_staff.status_code == 201 and by_staff.json["member_id"] == other
    listed = api.get("/appointments/bookings", keys["integration"], member=MEMBER_A)
    assert [x["id"] for x in listed.json["items"]] == [made.json["id"]]
    refused(api.get("/appointments/bookings", keys["integration"]), 400, "field_required", "member")


def test_slots_of_another_club_closed_or_started_are_refused(api: Api, clock: FakeClock) -> None:
    day = setup_day(api)
    refused(book(api, api.keys_of(api.b)["member"], day.slot_ids[0]), 404, "unknown_slot", "slot_id")
    refused(book(api, api.keys_of(api.b)["integration"], day.slot_ids[0], member=MEMBER_A), 404, "unknown_member", "member")
    b_member = f"A:{api.service.account_number(api.members[api.b.club_id])}"
    refused(book(api, api.keys_of(api.b)["integration"], day.slot_ids[0], member=b_member), 404, "unknown_slot", "slot_id")
    refused(book(api, api.keys_of(api.a)["member"], 10**12), 404, "unknown_slot", "slot_id")
    refused(book(api, api.keys_of(api.a)["member"], "abc"), 400, "field_invalid", "slot_id")
    clock.advance(days=1)  # 2025-05-15 10:00: the 09:00 and 09:30 slots have started
    refused(book(api, api.keys_of(api.a)["integration"], day.slot_ids[0], member=MEMBER_A), 409, "slot_unavailable", "slot_id")
    assert count(api, "appointments_bookings") == 0


def test_members_cancel_their_own_within_the_limit_and_the_seat_is_free_again(api: Api, clock: FakeClock) -> None:
    keys = api.keys_of(api.a)
    day = setup_day(api)
    b = book(api, keys["member"], day.slot_ids[0]).json
    refused(api.post(f"/appointments/bookings/{b['id']}/cancel", api.keys_of(api.b)["member"], {}), 404, "unknown_booking", "booking_id")
    refused(api.post(f"/appointments/bookings/{b['id']}/confirm", keys["member"], {}), 403, "forbidden")
    cancelled = api.post(f"/appointments/bookings/{b['id']}/cancel", keys["member"], {}, idem="c-1")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert api.post(f"/appointments/bookings/{b['id']}/cancel", keys["member"], {}, idem="c-1").json == cancelled.json
    refused(api.post(f"/appointments/bookings/{b['id']}/cancel", keys["member"], {}), 409, "booking_state", "booking_id")
    assert scalar(api, "SELECT taken FROM appointments_slots WHERE id = ?", (day.slot_ids[0],)) == 0
    assert audit(api.service, "appointments.booking_cancelled") == []  # a member's own cancellation is no manual change
    again = book(api, keys["integration"], day.slot_ids[0], member=MEMBER_A)
    assert again.status_code == 201 and again.json["code"]
    # Within two hours of the start the member may no longer cancel; staff may, with a reason.
    clock.advance(hours=21, minutes=30)  # 2025-05-15 07:30, the slot starts at 09:00
    refused(api.post(f"/appointments/bookings/{again.json['id']}/cancel", keys["integration"], {}), 409, "booking_not_cancellable")
    refused(api.post(f"/appointments/bookings/{again.json['id']}/cancel", keys["merchant"], {}), 422, "reason_required", "reason")
    staff = api.post(f"/appointments/bookings/{again.json['id']}/cancel", keys["merchant"], {"reason": "مشتری تماس گرفت"})
    assert staff.status_code == 200 and staff.json["cancel_reason"] == "مشتری تماس گرفت"
    [(actor, reason, payload)] = audit(api.service, "appointments.booking_cancelled")
    assert actor.startswith("api:") and reason == "مشتری تماس گرفت" and payload["booking_id"] == again.json["id"]
    assert count(api, "outbox_events WHERE event = 'appointment.cancelled'") == 2


def test_staff_confirm_check_in_and_mark_no_shows(api: Api, clock: FakeClock) -> None:
    keys = api.keys_of(api.a)
    day = setup_day(api)
    one = book(api, keys["member"], day.slot_ids[0]).json
    two = book(api, keys["integration"], day.slot_ids[1], member=f"A:{api.service.account_number(api.a.enroll())}").json
    confirmed = api.post(f"/appointments/bookings/{one['id']}/confirm", keys["merchant"], {})
    assert confirmed.status_code == 200 and confirmed.json["status"] == "confirmed" and confirmed.json["confirmed_at"]
    refused(api.post(f"/appointments/bookings/{one['id']}/confirm", keys["merchant"], {}), 409, "booking_state", "booking_id")
    refused(api.post(f"/appointments/bookings/{one['id']}/check-in", api.keys_of(api.b)["management"], {}), 404, "unknown_booking")
    refused(api.post(f"/appointments/bookings/{one['id']}/check-in", keys["integration"], {}), 403, "forbidden")
    checked = api.post(f"/appointments/bookings/{one['id']}/check-in", keys["management"], {})
    assert checked.status_code == 200 and checked.json["status"] == "checked_in"
    refused(api.post(f"/appointments/bookings/{two['id']}/no-show", keys["merchant"], {}), 409, "booking_state")  # not started
    clock.advance(days=1)
    gone = api.post(f"/appointments/bookings/{two['id']}/no-show", keys["merchant"], {})
    assert gone.status_code == 200 and gone.json["status"] == "no_show"
    [(actor, reason, payload)] = audit(api.service, "appointments.booking_no_show")
    assert actor.startswith("api:") and reason == "no-show" and payload["member_id"] == two["member_id"]
    refused(api.post(f"/appointments/bookings/{two['id']}/cancel", keys["merchant"], {"reason": "x"}), 409, "booking_state")


def test_lists_of_bookings_are_scoped_by_day_and_give_csv(api: Api) -> None:
    keys = api.keys_of(api.a)
    day = setup_day(api)
    later = setup_day(api, day="2025-05-16", name_fa="رنگ مو")
    mine = [book(api, keys["member"], day.slot_ids[i]).json["id"] for i in range(3)]
    other = book(api, keys["integration"], later.slot_ids[0], member=f"A:{api.service.account_number(api.a.enroll())}").json["id"]
    listed = api.get("/appointments/bookings", keys["member"])
    assert [x["id"] for x in listed.json["items"]] == mine
    by_day = api.get("/appointments/bookings", keys["merchant"], day=TOMORROW)
    assert [x["id"] for x in by_day.json["items"]] == mine
    jalali = api.get("/appointments/bookings", keys["management"], day="1404/02/26", merchant_id=api.a.merchants["cafe"])
    assert [x["id"] for x in jalali.json["items"]] == [other]
    paged = api.get("/appointments/bookings", keys["merchant"], limit=2)
    assert [x["id"] for x in paged.json["items"]] == mine[:2]
    rest = api.get("/appointments/bookings", keys["merchant"], limit=2, cursor=paged.json["next_cursor"])
    assert [x["id"] for x in rest.json["items"]] == [mine[2], other]
    refused(api.get("/appointments/bookings", keys["merchant"], limit=500), 400, "field_invalid", "limit")
    refused(api.get("/appointments/bookings", keys["merchant"], status="lost"), 400, "field_invalid", "status")
    assert api.get("/appointments/bookings", api.keys_of(api.b)["management"]).json["items"] == []
    refused(api.get(f"/appointments/bookings/{mine[0]}", api.keys_of(api.b)["management"]), 404, "unknown_booking", "booking_id")
    refused(api.get(f"/appointments/bookings/{other}", keys["member"]), 404, "unknown_booking")
    got = api.get("/appointments/bookings", keys["merchant"], format="csv")
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    assert [int(r["id"]) for r in table] == [*mine, other] and table[0]["service_fa"] == "اصلاح مو"
    assert table[0]["starts_at_jalali"] == "1404-02-25 09:00" and table[0]["status"] == "booked"


def test_reminders_are_emitted_once_within_the_merchants_window(api: Api, clock: FakeClock) -> None:
    keys = api.keys_of(api.a)
    api.post("/appointments/settings", keys["merchant"], {"reminder_hours": 3})
    day = setup_day(api)
    near = book(api, keys["member"], day.slot_ids[0]).json  # 09:00 tomorrow
    far = book(api, keys["integration"], day.slot_ids[5], member=f"A:{api.service.account_number(api.a.enroll())}").json  # 11:30
    [task] = plugin.kimia_register_periodic_tasks()
    assert task.every_s == 60
    services = api.service.plugin_services
    task.run(services, clock())
    assert count(api, "outbox_events WHERE event = 'appointment.reminder'") == 0
    clock.advance(hours=20, minutes=30)  # 06:30 tomorrow: 09:00 is within 3 hours, 11:30 is not
    task.run(services, clock())
    task.run(services, clock())
    events = rows(api, "SELECT uid, payload FROM outbox_events WHERE event = 'appointment.reminder'")
    assert [e[0] for e in events] == [f"appointment.reminder:{api.a.club_id}:booking:{near['id']}:reminder"]
    assert json.loads(events[0][1])["starts_at"] == "2025-05-15T09:00:00+03:30"
    clock.advance(hours=3)
    api.post(f"/appointments/bookings/{near['id']}/check-in", keys["merchant"], {})
    task.run(services, clock())
    assert [e[0] for e in rows(api, "SELECT uid FROM outbox_events WHERE event = 'appointment.reminder' ORDER BY id")][1] == \
        f"appointment.reminder:{api.a.club_id}:booking:{far['id']}:reminder"
