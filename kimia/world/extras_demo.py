"""The extras in the demo: the first club's first merchant (the demo's café, whose staff sign in as
``cafe``) gets staff who clocked in today, a day's cash book and a bookable service, and a demo
member holds a booking, so every extra's pages show something the first time a person opens them.

Written through the extras' own calls on the plugin contract (``Service.plugin_services``), the
way their terminal operations, API routes and pages write; safe to run again (every write has a
fixed idempotency key, and a staff code already registered is left as it is).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kimia.errors import KimiaError
from kimia.extras.appointments import store as appointments
from kimia.extras.attendance import store as attendance
from kimia.extras.cash import book as cash
from kimia.plugins.types import Caller, MerchantInfo, Refusal, Services
from kimia.service.api import Kimia

ACTOR = "demo"
#: (code, name) of the café's staff; the first two clock in.
STAFF = (("1001", "مریم احمدی"), ("1002", "علی رضایی"), ("1003", "سارا کریمی"))
#: (kind, category code, amount in rials, note) of the day's cash book.
CASH = (("expense", "goods", 3_500_000, "قهوه و شیر"), ("expense", "bills", 850_000, "قبض برق"),
        ("receipt", "sales", 2_400_000, "فروش نقدی"))


@dataclass(frozen=True)
class ExtrasDemo:
    merchant_id: int
    staff: int
    cash_entries: int
    slots: int
    booking_code: str | None


def seed_extras(service: Kimia, member_id: int | None) -> ExtrasDemo | None:
    """Seed the extras at the first root club's first merchant; None when there is no merchant."""
    with service.reading() as tx:
        row = tx.one("SELECT MIN(m.id) FROM merchants m JOIN clubs c ON c.id = m.club_id WHERE c.parent_id IS NULL"
                     " AND c.id = (SELECT MIN(id) FROM clubs WHERE parent_id IS NULL)")
    if row is None or row[0] is None:
        return None
    services: Services = service.plugin_services
    merchant = services.merchant(int(row[0]))
    staff = _attendance(services, merchant)
    entries = _cash(services, merchant)
    slots, code = _appointments(services, merchant, member_id)
    return ExtrasDemo(merchant.id, staff, entries, slots, code)


def _attendance(services: Services, merchant: MerchantInfo) -> int:
    for n, (code, name) in enumerate(STAFF):
        try:
            attendance.register(services, merchant, code=code, name=name, idem_key=f"demo:staff:{code}", actor=ACTOR)
        except Refusal as refusal:
            if refusal.code != "staff_code_taken":
                raise
        if n < 2:
            try:
                attendance.clock(services, merchant, code=code, direction="in", source="panel",
                                 idem_key=f"demo:clock:{code}:{dt.date.today()}", actor=ACTOR)
            except Refusal as refusal:
                if refusal.code != "already_clocked_in":
                    raise
    return len(STAFF)


def _cash(services: Services, merchant: MerchantInfo) -> int:
    today = dt.date.today()
    for n, (kind, category, amount, note) in enumerate(CASH):
        entry = cash.NewEntry(kind, amount, category=category, note=note)
        cash.record(services, merchant, entry, source="panel", idem_key=f"demo:cash:{today}:{n}", actor=ACTOR)
    return len(CASH)


def _appointments(services: Services, merchant: MerchantInfo, member_id: int | None) -> tuple[int, str | None]:
    club = merchant.root_club_id
    staff = Caller("management", club, ACTOR)
    service = appointments.create_service(services, staff, {"merchant_id": merchant.id, "name_fa": "رزرو میز",
                                                            "name_en": "Table booking", "duration_min": 60}, "demo:service")
    first = dt.date.today() + dt.timedelta(days=1)
    published = appointments.publish_slots(services, staff, {"service_id": service["id"], "from": first.isoformat(),
                                                             "to": (first + dt.timedelta(days=2)).isoformat(),
                                                             "start": "18:00", "end": "22:00", "every_min": 60}, "demo:slots")
    if member_id is None:
        return int(published.get("created", 0)), None
    member = Caller("member", club, ACTOR, member_id=member_id)
    slots = appointments.list_slots(services, member, {"merchant_id": str(merchant.id), "free": "1"})
    if not slots["items"]:
        return int(published.get("created", 0)), None
    try:
        booked = appointments.book(services, member, slots["items"][0]["id"], None, "demo:booking")
    except (Refusal, KimiaError):
        return int(published.get("created", 0)), None
    return int(published.get("created", 0)), str(booked.get("code"))
