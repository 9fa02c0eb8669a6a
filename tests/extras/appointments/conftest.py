"""Fixtures of the appointments tests: the web tests' ``api`` world (clubs A and B with keys of
every kind) and the panel's users, and :func:`setup_day`, which gives club A's cafe a service and
a morning of slots through the API (as the cafe's own key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web.conftest import Api, api, clock  # noqa: F401 - fixtures used by this package's tests
from web.panel.conftest import panel  # noqa: F401

#: The day after the FakeClock's start (2025-05-14 10:00 Tehran): 1404/02/25, a Thursday.
TOMORROW = "2025-05-15"
TOMORROW_JALALI = "1404/02/25"


@dataclass
class Day:
    service_id: int
    slot_ids: list[int]


def setup_day(api: Api, *, world: Any = None, capacity: int = 1, start: str = "09:00", end: str = "12:00", day: str = TOMORROW,
              name_fa: str = "اصلاح مو", duration_min: int = 30) -> Day:
    world = world or api.a
    key = api.keys_of(world)["merchant"]
    service = api.post("/appointments/services", key, {"name_fa": name_fa, "name_en": "Haircut", "duration_min": duration_min})
    assert service.status_code == 201, service.get_data(as_text=True)
    slots = api.post("/appointments/slots", key, {"service_id": service.json["id"], "from": day, "start": start, "end": end,
                                                  "capacity": capacity})
    assert slots.status_code == 201, slots.get_data(as_text=True)
    return Day(service.json["id"], slots.json["slot_ids"])


def rows(api: Api, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with api.service.reading() as tx:
        return list(tx.all(sql, params))


def scalar(api: Api, sql: str, params: tuple[Any, ...] = ()) -> Any:
    return rows(api, sql, params)[0][0]
