"""The notification outbox: an event is a row written in the transaction that caused it, so it is
delivered if and only if that transaction committed (the delivery worker reads it afterwards:
kimia.extras.notifications).

An event's ``uid`` is stable, ``<event>:<club>:<key>``: emitting the same key twice (a retried
request, a periodic task run twice) is one event, and a receiver drops repeats by it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kimia.service.sql import Tx

#: The longest event name and key an event may have (the column widths, uid included).
MAX_EVENT = 60
MAX_UID = 200


def event_uid(event: str, club_id: int, key: str) -> str:
    uid = f"{event}:{club_id}:{key}"
    if not event or len(event) > MAX_EVENT or len(uid) > MAX_UID:
        raise ValueError(f"event {event!r} with key {key!r} does not fit the outbox")
    return uid


def emit(tx: Tx, *, event: str, club_id: int, key: str, payload: Mapping[str, Any], at: int, member_id: int | None = None) -> str:
    """Write one event in ``tx`` (nothing if its uid is there already); its uid."""
    uid = event_uid(event, club_id, key)
    tx.execute(
        "INSERT INTO outbox_events (uid, event, club_id, member_id, payload, created_at) VALUES (?,?,?,?,?,?)"
        " ON CONFLICT (uid) DO NOTHING",
        (uid, event, club_id, member_id, json.dumps(dict(payload), ensure_ascii=False, sort_keys=True), at),
    )
    return uid
