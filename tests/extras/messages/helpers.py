"""Outbox events and deliveries written as the delivery worker would (the messages extra's tests and
the role walker's cases use them)."""

from __future__ import annotations

import json
from typing import Any

from kimia.plugins.types import Db, Delivery, Event


def emit(svc: Any, event: str, club_id: int, key: str, payload: dict[str, Any], member_id: int | None = None) -> Event:
    """Write an event to the outbox through the plugin contract and read it back as the worker would."""
    uid = svc.plugin_services.write(lambda db: db.emit(event, club_id=club_id, key=key, payload=payload, member_id=member_id))
    return event_of(svc, uid)


def event_of(svc: Any, uid: str) -> Event:
    with svc.reading() as tx:
        row = tx.one("SELECT uid, event, club_id, member_id, payload, created_at FROM outbox_events WHERE uid = ?", (uid,))
    return Event(str(row[0]), str(row[1]), int(row[2]), None if row[3] is None else int(row[3]), json.loads(row[4]), int(row[5]))


def add_delivery(svc: Any, event: Event, channel: str, target: str, *, status: str = "failed", attempts: int = 8,
                 last_error: str | None = "the endpoint answered 500") -> int:
    """A delivery row as the worker leaves it."""
    def work(db: Db) -> int:
        event_id = db.one("SELECT id FROM outbox_events WHERE uid = ?", (event.id,))
        assert event_id is not None
        return db.insert("outbox_deliveries", {
            "event_id": event_id[0], "club_id": event.club_id, "channel": channel, "target": target, "status": status,
            "attempts": attempts, "next_at": event.at + 3600, "lease_until": 0, "last_error": last_error,
            "sent_at": event.at if status == "sent" else None, "created_at": event.at})

    return int(svc.plugin_services.write(work))


def delivery(event: Event, channel: str, target: str, attempt: int = 1) -> Delivery:
    return Delivery(event, channel, target, attempt)
