"""One slot is never booked twice: 16 clients race for one slot through the real HTTP API
(gunicorn in its own processes: tests/web/live.py), each for another member, on SQLite and
PostgreSQL. Exactly one is booked (201); the fifteen others are refused ``slot_taken``; one booking
row, and the slot's counter says one. A member's double submit (one Idempotency-Key sent by
eight clients at once) is one booking with one answer, and a member asking for one slot eight
times at once with different keys holds one seat of it."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from kimia.app import assemble
from kimia.extras.appointments import store
from kimia.plugins.types import Caller
from kimia.settings import Settings
from service.builders import FakeClock, mobile
from web.live import LiveWorld, Server, call, prepare
from web.test_live_http import run_clients

CLIENTS = 16
BOOKINGS = "/api/v1/appointments/bookings"


def _slots(world: LiveWorld, n: int, capacity: int = 1) -> list[int]:
    """``n`` slots of ``capacity`` seats the day after tomorrow at the world's cafe (a new service
    each call), published as the club's management."""
    with assemble(Settings.from_env(database_url=world.url), clock=FakeClock(int(time.time()))) as service:
        services = service.plugin_services
        caller = Caller("management", world.club_id, "test")
        made = store.create_service(services, caller, {"merchant_id": world.merchant_id, "name_fa": "نوبت", "duration_min": 30}, None)
        tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
        published = store.publish_slots(services, caller, {"service_id": made["id"], "from": tomorrow, "start": "10:00",
                                                           "end": f"{10 + n // 2:02d}:{30 * (n % 2):02d}", "capacity": capacity},
                                         None)
        slots: list[int] = published["slot_ids"]
    assert len(slots) == n
    return slots


def _count(url: str, sql: str, params: tuple[object, ...] = ()) -> int:
    with assemble(Settings.from_env(database_url=url)) as service, service.reading() as tx:
        return int(tx.one(sql, params)[0])


def test_sixteen_clients_racing_for_one_slot_book_it_once(db_url: str, tmp_path: Path) -> None:
    world = prepare(db_url, members=CLIENTS)
    race, twice = _slots(world, 2)
    (roomy,) = _slots(world, 1, capacity=4)
    env = {"KIMIA_WEB_WORKERS": "2", "KIMIA_WEB_THREADS": "16"}
    with Server(db_url, tmp_path / "gunicorn.log", env=env) as server:
        def book(i: int) -> tuple[int, object]:
            body = {"slot_id": race, "member": f"M:{mobile(3_000_000 + i)}"}
            return call(server.port, "POST", BOOKINGS, key=world.key, body=body, idem=f"race-{i}")

        answers = run_clients(CLIENTS, book)
        same = {"slot_id": twice, "member": f"M:{mobile(3_000_000)}"}
        repeats = run_clients(8, lambda i: call(server.port, "POST", BOOKINGS, key=world.key, body=same, idem="one-form"))
        mine = {"slot_id": roomy, "member": f"M:{mobile(3_000_001)}"}
        greedy = run_clients(8, lambda i: call(server.port, "POST", BOOKINGS, key=world.key, body=mine, idem=f"greedy-{i}"))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (CLIENTS - 1), answers
    assert all(a["error"]["code"] == "slot_taken" for s, a in answers if s == 409), answers  # type: ignore[index]
    winner = next(a for s, a in answers if s == 201)
    assert _count(db_url, "SELECT COUNT(*) FROM appointments_bookings WHERE slot_id = ?", (race,)) == 1
    assert _count(db_url, "SELECT taken FROM appointments_slots WHERE id = ?", (race,)) == 1
    assert _count(db_url, "SELECT COUNT(*) FROM outbox_events WHERE event = 'appointment.booked' AND uid = ?",
                  (f"appointment.booked:{world.club_id}:booking:{winner['id']}:booked",)) == 1  # type: ignore[index]
    assert {status for status, _ in repeats} == {201}, repeats
    first = repeats[0][1]
    assert all({k: v for k, v in a.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}  # type: ignore[union-attr]
               for _, a in repeats)
    assert _count(db_url, "SELECT COUNT(*) FROM appointments_bookings WHERE slot_id = ?", (twice,)) == 1
    # One member asking eight times at once with different keys holds one seat of a roomy slot.
    assert sorted(status for status, _ in greedy) == [201] + [409] * 7, greedy
    assert all(a["error"]["code"] == "slot_unavailable" for s, a in greedy if s == 409), greedy  # type: ignore[index]
    assert _count(db_url, "SELECT COUNT(*) FROM appointments_bookings WHERE slot_id = ?", (roomy,)) == 1
    assert _count(db_url, "SELECT taken FROM appointments_slots WHERE id = ?", (roomy,)) == 1
