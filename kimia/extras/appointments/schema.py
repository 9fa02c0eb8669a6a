"""The appointments extra's tables (``appointments_*``), portable between SQLite and PostgreSQL.

- ``appointments_settings``: a merchant's rules (cancellation limit, reminder window).
- ``appointments_services``: what a merchant books (a haircut, 30 minutes).
- ``appointments_slots``: times a service can be booked, each with a ``capacity`` and a
  ``taken`` counter. A booking raises ``taken`` with ``UPDATE ... WHERE taken < capacity`` and the
  seat it gets is guarded by ``UNIQUE (slot_id, seat)``: a slot is never booked beyond its
  capacity, whatever process books it, and a member holds one seat of a slot at most
  (``UNIQUE (slot_id, seated_member)``). Cancelling frees the seat (both become NULL).
- ``appointments_bookings``: a member's booking of a slot, with its 6-digit code. The code is
  unique per merchant among live bookings (``live_code``: the code while booked or confirmed,
  NULL after).
- ``appointments_requests``: every write a terminal or an API call makes, under its
  idempotency key, with the answer it got: a repeat is answered from here.
"""

from __future__ import annotations

from kimia.plugins.types import Db, Migration, PluginSchema


def _create(db: Db) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    db.execute(
        "CREATE TABLE appointments_settings ("
        " merchant_id BIGINT PRIMARY KEY,"
        " club_id BIGINT NOT NULL,"
        " cancel_before_hours INTEGER NOT NULL DEFAULT 2,"
        " reminder_hours INTEGER NOT NULL DEFAULT 24,"
        " updated_at BIGINT NOT NULL,"
        " updated_by TEXT NOT NULL)"
    )
    db.execute(
        f"CREATE TABLE appointments_services (id {key},"
        " club_id BIGINT NOT NULL,"
        " root_club_id BIGINT NOT NULL,"
        " merchant_id BIGINT NOT NULL,"
        " name_fa TEXT NOT NULL,"
        " name_en TEXT NOT NULL DEFAULT '',"
        " duration_min INTEGER NOT NULL,"
        " active INTEGER NOT NULL DEFAULT 1,"
        " created_at BIGINT NOT NULL,"
        " created_by TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX appointments_services_merchant ON appointments_services (merchant_id, id)")
    db.execute("CREATE INDEX appointments_services_club ON appointments_services (root_club_id, id)")
    db.execute(
        f"CREATE TABLE appointments_slots (id {key},"
        " club_id BIGINT NOT NULL,"
        " root_club_id BIGINT NOT NULL,"
        " merchant_id BIGINT NOT NULL,"
        " service_id BIGINT NOT NULL REFERENCES appointments_services (id),"
        " starts_at BIGINT NOT NULL,"
        " ends_at BIGINT NOT NULL,"
        " capacity INTEGER NOT NULL DEFAULT 1,"
        " taken INTEGER NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL DEFAULT 'open',"
        " created_at BIGINT NOT NULL,"
        " created_by TEXT NOT NULL,"
        " CONSTRAINT appointments_slots_taken CHECK (taken >= 0 AND taken <= capacity),"
        " CONSTRAINT appointments_slots_status CHECK (status IN ('open', 'closed')),"
        " CONSTRAINT appointments_slots_once UNIQUE (service_id, starts_at))"
    )
    db.execute("CREATE INDEX appointments_slots_merchant ON appointments_slots (merchant_id, starts_at, id)")
    db.execute(
        f"CREATE TABLE appointments_bookings (id {key},"
        " club_id BIGINT NOT NULL,"
        " root_club_id BIGINT NOT NULL,"
        " merchant_id BIGINT NOT NULL,"
        " service_id BIGINT NOT NULL,"
        " slot_id BIGINT NOT NULL REFERENCES appointments_slots (id),"
        " member_id BIGINT NOT NULL,"
        " starts_at BIGINT NOT NULL,"
        " seat INTEGER,"
        " seated_member BIGINT,"
        " status TEXT NOT NULL DEFAULT 'booked',"
        " code TEXT NOT NULL,"
        " live_code TEXT,"
        " idem_key TEXT NOT NULL,"
        " booked_at BIGINT NOT NULL,"
        " booked_by TEXT NOT NULL,"
        " confirmed_at BIGINT, confirmed_by TEXT,"
        " checked_in_at BIGINT, checked_in_by TEXT,"
        " closed_at BIGINT, closed_by TEXT,"
        " cancel_reason TEXT,"
        " reminded_at BIGINT,"
        " CONSTRAINT appointments_bookings_key UNIQUE (idem_key),"
        " CONSTRAINT appointments_bookings_seat UNIQUE (slot_id, seat),"
        " CONSTRAINT appointments_bookings_one_seat UNIQUE (slot_id, seated_member),"
        " CONSTRAINT appointments_bookings_code UNIQUE (merchant_id, live_code),"
        " CONSTRAINT appointments_bookings_status CHECK (status IN ('booked', 'confirmed', 'checked_in', 'cancelled', 'no_show')))"
    )
    db.execute("CREATE INDEX appointments_bookings_merchant ON appointments_bookings (merchant_id, starts_at, id)")
    db.execute("CREATE INDEX appointments_bookings_member ON appointments_bookings (member_id, starts_at, id)")
    db.execute("CREATE INDEX appointments_bookings_club ON appointments_bookings (root_club_id, starts_at, id)")
    db.execute("CREATE INDEX appointments_bookings_code_lookup ON appointments_bookings (merchant_id, code)")
    db.execute("CREATE INDEX appointments_bookings_due ON appointments_bookings (status, starts_at)")
    db.execute(
        f"CREATE TABLE appointments_requests (id {key},"
        " idem_key TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " request TEXT NOT NULL,"
        " answer TEXT,"
        " created_at BIGINT NOT NULL,"
        " CONSTRAINT appointments_requests_key UNIQUE (idem_key))"
    )


SCHEMA = PluginSchema("appointments", (Migration("0001", _create),))
