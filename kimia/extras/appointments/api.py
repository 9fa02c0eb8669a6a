"""The appointments extra's API routes (``/api/v1/appointments/...``, tag ``appointments``).

Every key kind of a club reads services and slots; management keys and keys bound to a merchant
publish them; members (their token, or the club's website with an integration key naming the
member) book and cancel; managers confirm, check in and mark no-shows (store.py says who may do
what). Lists take ``?limit=`` (at most 200) and ``?cursor=``; bookings also ``?format=csv``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from kimia.extras.appointments import store
from kimia.plugins.types import ApiCall, ApiRoute, RawAnswer

TAG = "appointments"
READERS = frozenset({"management", "integration", "member"})
MANAGERS = frozenset({"management", "integration"})
BOOKERS = frozenset({"management", "integration", "member"})


def services_list(call: ApiCall) -> Any:
    return store.list_services(call.services, call.caller, call.query)


def services_add(call: ApiCall) -> Any:
    return store.create_service(call.services, call.caller, call.body, call.idem_key)


def merchants(call: ApiCall) -> Any:
    found = []
    for merchant in store.offering_merchants(call.services, call.caller):
        info = call.services.merchant(merchant)
        found.append({"id": info.id, "name_fa": info.name_fa, "name_en": info.name_en})
    return {"items": found}


def settings_get(call: ApiCall) -> Any:
    return store.settings_of(call.services, call.caller, call.query.get("merchant_id"))


def settings_set(call: ApiCall) -> Any:
    return store.set_settings(call.services, call.caller, call.body, call.idem_key)


def slots_list(call: ApiCall) -> Any:
    return store.list_slots(call.services, call.caller, call.query)


def slots_publish(call: ApiCall) -> Any:
    return store.publish_slots(call.services, call.caller, call.body, call.idem_key)


def slot_close(call: ApiCall) -> Any:
    return store.close_slot(call.services, call.caller, int(call.params["slot_id"]), call.idem_key,
                            store.text_of(call.body.get("reason"), "reason", required=False, most=store.MAX_REASON))


def bookings_list(call: ApiCall) -> Any:
    rows, cursor, offset = store.list_bookings(call.services, call.caller, call.query)
    items = [store.booking_json(r, offset) for r in rows]
    if call.query.get("format") == "csv":
        return RawAnswer(bookings_csv(items), filename="appointments.csv")
    return {"items": items, "next_cursor": cursor}


def bookings_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "merchant_id", "service_id", "service_fa", "service_en", "member_id", "starts_at", "starts_at_jalali",
                     "ends_at", "status", "code", "booked_at", "cancel_reason"])
    for b in items:
        writer.writerow([b["id"], b["merchant_id"], b["service_id"], b["service_name_fa"], b["service_name_en"], b["member_id"],
                         b["starts_at"]["at"], b["starts_at"]["at_jalali"], b["ends_at"]["at"], b["status"], b["code"],
                         b["booked_at"]["at"], b["cancel_reason"] or ""])
    return out.getvalue()


def booking_add(call: ApiCall) -> Any:
    return store.book(call.services, call.caller, call.body.get("slot_id"), call.body.get("member"), call.idem_key)


def booking_get(call: ApiCall) -> Any:
    return store.get_booking(call.services, call.caller, int(call.params["booking_id"]))


def _change(action: str) -> Any:
    def handle(call: ApiCall) -> Any:
        return store.change(call.services, call.caller, int(call.params["booking_id"]), action, str(call.body.get("reason") or ""),
                            call.idem_key)

    handle.__name__ = f"booking_{action}"
    return handle


def routes() -> list[ApiRoute]:
    b = "/appointments"
    return [
        ApiRoute("GET", f"{b}/merchants", merchants, READERS, "Merchants of the club taking appointments", TAG),
        ApiRoute("GET", f"{b}/services", services_list, READERS, "Services to book (merchant_id=)", TAG),
        ApiRoute("POST", f"{b}/services", services_add, MANAGERS, "Add a service (name_fa, name_en, duration_min)", TAG, 201),
        ApiRoute("GET", f"{b}/settings", settings_get, MANAGERS, "A merchant's cancellation limit and reminder window", TAG),
        ApiRoute("POST", f"{b}/settings", settings_set, MANAGERS, "Set cancel_before_hours and reminder_hours", TAG),
        ApiRoute("GET", f"{b}/slots", slots_list, READERS, "Slots by day (merchant_id, service_id, from, to, free=1)", TAG),
        ApiRoute("POST", f"{b}/slots", slots_publish, MANAGERS,
                 "Publish slots: from[-to] days, weekdays, start[-end] every every_min minutes, capacity", TAG, 201),
        ApiRoute("POST", f"{b}/slots/<int:slot_id>/close", slot_close, MANAGERS, "Close a slot to new bookings", TAG),
        ApiRoute("GET", f"{b}/bookings", bookings_list, BOOKERS, "Bookings (own; a merchant's or the club's by day); CSV", TAG),
        ApiRoute("POST", f"{b}/bookings", booking_add, BOOKERS, "Book a slot (a member token for itself; member= M:+98...)", TAG, 201),
        ApiRoute("GET", f"{b}/bookings/<int:booking_id>", booking_get, BOOKERS, "One booking", TAG),
        ApiRoute("POST", f"{b}/bookings/<int:booking_id>/cancel", _change("cancel"), BOOKERS,
                 "Cancel a booking (members up to the merchant's limit; staff with a reason)", TAG),
        ApiRoute("POST", f"{b}/bookings/<int:booking_id>/confirm", _change("confirm"), MANAGERS, "Confirm a booking", TAG),
        ApiRoute("POST", f"{b}/bookings/<int:booking_id>/check-in", _change("check_in"), MANAGERS, "Check the member in", TAG),
        ApiRoute("POST", f"{b}/bookings/<int:booking_id>/no-show", _change("no_show"), MANAGERS, "Mark a no-show", TAG),
    ]
