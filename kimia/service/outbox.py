"""The notification outbox: an event is a row written in the transaction that caused it, so it is
delivered if and only if that transaction committed (the delivery worker reads it afterwards:
kimia.extras.notifications).

An event's ``uid`` is stable, ``<event>:<club>:<key>``: emitting the same key twice (a retried
request, a periodic task run twice) is one event, and a receiver drops repeats by it.

The events kimia writes itself (``KIMIA_NOTIFICATIONS=on``, the default):

- ``operation.committed`` for every committed operation, key ``op:<operation id>``; the row's
  payload has the operation's kind, id, member, merchant and amount, and the delivery worker adds
  the summary of the operation's stored receipt (points earned and redeemed, credit used,
  discount, balances after: :func:`with_summary`) when it reads the event. Operations of the
  write path's runs (purchases above all) are written with the run's other rows, one statement
  per run (:func:`insert_rows`, from ``kimia.service.posting.Run.flush``);
- ``member.enrolled`` (key ``member:<id>``), ``tier.changed`` (``member:<id>:period:<end>`` or
  ``member:<id>:manual:<audit time>``), ``voucher.issued`` (``voucher:<id>``), ``lottery.drawn``
  (``lottery:<id>``) and ``lottery.won`` (``lottery:<id>:rank:<n>``), ``value.expiring``
  (``lot:<id>``, by the delivery worker's periodic task).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kimia.service.sql import Tx

#: The longest event name and key an event may have (the column widths, uid included).
MAX_EVENT = 60
MAX_UID = 200

#: The columns :func:`insert_rows` writes, in the order of a row.
COLUMNS = ("uid", "event", "club_id", "member_id", "payload", "created_at")

#: What of an operation's receipt its ``operation.committed`` event carries (when present).
SUMMARY_KEYS = ("points_earned", "points_redeemed", "points_redeemed_rial", "credit_used_rial", "credit_earned_rial", "credit_rial",
                "discount_rial", "payable_rial", "balance_points", "balance_credit_rial", "lottery_entries", "vouchers", "refunded_rial",
                "hold_id", "rrn")

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


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
        (uid, event, club_id, member_id, _dumps(dict(payload)), at),
    )
    return uid


def row(*, event: str, club_id: int, key: str, payload: Mapping[str, Any], at: int, member_id: int | None = None) -> tuple[Any, ...]:
    """An event as a row for :func:`insert_rows` (``COLUMNS``)."""
    return (event_uid(event, club_id, key), event, club_id, member_id, _dumps(dict(payload)), at)


def insert_rows(tx: Tx, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write events (rows of :func:`row`) with one statement; those already there are left."""
    if rows:
        tx.insert_rows("outbox_events", COLUMNS, rows, " ON CONFLICT (uid) DO NOTHING")



def summary_of(receipt: Mapping[str, Any]) -> dict[str, Any]:
    """What of an operation's receipt its ``operation.committed`` event carries (``SUMMARY_KEYS``)."""
    return {k: receipt[k] for k in SUMMARY_KEYS if k in receipt}


def operation_payload(*, kind: str, op_id: int, member_id: int | None, merchant_id: int | None, amount_rial: int | None,
                      receipt: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of an ``operation.committed`` event as it is delivered: the operation and its
    receipt's summary (points earned and redeemed, credit used, discount, balances after)."""
    if merchant_id is None:
        merchant_id = receipt.get("merchant_id")
    if amount_rial is None:
        amount_rial = receipt.get("amount_rial")
    return {"kind": kind, "op_id": op_id, "member_id": member_id, "merchant_id": merchant_id, "amount_rial": amount_rial,
            "summary": summary_of(receipt)}


def operation_row(*, kind: str, club_id: int, op_id: int, member_id: int | None, receipt: Mapping[str, Any],
                  merchant_id: int | None, amount_rial: int | None, at: int) -> tuple[Any, ...]:
    """The ``operation.committed`` row of an operation (key ``op:<id>``). Its stored payload names
    the operation (kind, id, member, merchant, amount); the receipt's summary is not copied: it is
    the operation's stored answer, in the same transaction, and the delivery worker adds it when it
    reads the event (:func:`with_summary`). On the purchase path every byte and microsecond of the
    writer counts: the row is a few integers, put together without the JSON encoder."""
    if merchant_id is None:
        merchant_id = receipt.get("merchant_id")
    if amount_rial is None:
        amount_rial = receipt.get("amount_rial")
    payload = (f'{{"amount_rial":{"null" if amount_rial is None else int(amount_rial)},"kind":"{kind}",'
               f'"member_id":{"null" if member_id is None else int(member_id)},'
               f'"merchant_id":{"null" if merchant_id is None else int(merchant_id)},"op_id":{op_id}}}')
    return (f"operation.committed:{club_id}:op:{op_id}", "operation.committed", club_id, member_id, payload, at)


def with_summary(tx: Tx, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Add to the payloads of ``operation.committed`` events (``(event, payload)``) the summary of
    their operation's stored receipt, with one query."""
    wanted = {int(p["op_id"]): p for e, p in events if e == "operation.committed" and "summary" not in p and "op_id" in p}
    if not wanted:
        return
    in_ids, params = tx.among("id", sorted(wanted))
    for op_id, response in tx.all(f"SELECT id, response FROM operations WHERE {in_ids}", params):
        receipt = response if isinstance(response, dict) else json.loads(response or "{}")
        wanted[int(op_id)]["summary"] = summary_of(receipt)
