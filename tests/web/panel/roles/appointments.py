"""Cases of the appointments extra's pages (kimia/extras/appointments/pages.py). Each names club
A's things: its cafe, a slot of the cafe, a booking of club A's first member. Club B's staff and
members get 404 (or 403 for a merchant naming another merchant), never club A's page."""

from __future__ import annotations

import secrets
from typing import Any

from kimia.extras.appointments import store
from kimia.plugins.types import Caller

from . import Case, Visit


def things(p: Any) -> dict[str, int]:
    """A service of club A's cafe, slots tomorrow, and bookings of the club's first member (made once)."""
    made: dict[str, int] | None = getattr(p, "_appointments", None)
    if made is None:
        services = p.service.plugin_services
        club = p.a.club_id
        staff = Caller("management", club, "test")
        service = store.create_service(services, staff, {"merchant_id": p.a.merchants["cafe"], "name_fa": "اصلاح", "duration_min": 30},
                                       None)
        slots = store.publish_slots(services, staff, {"service_id": service["id"], "from": "2025-05-15", "start": "09:00",
                                                      "end": "11:00"}, None)["slot_ids"]
        member = Caller("member", club, "test", member_id=p.api.members[club])
        acted = store.book(services, member, slots[0], None, "roles-act")["id"]
        mine = store.book(services, member, slots[1], None, "roles-mine")["id"]
        made = {"slot": slots[2], "free": slots[3], "acted": acted, "mine": mine}
        p._appointments = made
    return made


def _key() -> str:
    return secrets.token_urlsafe(12)


CASES: dict[str, Case] = {
    "panel.appointments.bookings": lambda p: Visit(f"/panel/appointments?merchant_id={p.a.merchants['cafe']}"),
    "panel.appointments.act": lambda p: Visit(f"/panel/appointments/bookings/{things(p)['acted']}/act",
                                              form={"action": "cancel", "reason": "role walker", "form_key": _key()}),
    "panel.appointments.services": lambda p: Visit("/panel/appointments/services", names_a=False),
    "panel.appointments.slots": lambda p: Visit("/panel/appointments/slots", names_a=False),
    "panel.appointments.close_slot": lambda p: Visit(f"/panel/appointments/slots/{things(p)['slot']}/close", form={"form_key": _key()}),
    "portal.appointments.home": lambda p: Visit("/portal/appointments", names_a=False),
    "portal.appointments.book": lambda p: Visit("/portal/appointments/book", form={"slot_id": things(p)["free"], "form_key": _key()}),
    "portal.appointments.cancel": lambda p: Visit(f"/portal/appointments/bookings/{things(p)['mine']}/cancel", form={"form_key": _key()}),
}
