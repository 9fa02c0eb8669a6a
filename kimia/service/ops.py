"""Operation rows: the idempotency key's stored answer, a new row and its answer, an operation of
the acting merchant, a refusal or a timeout remembered under its key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import kimia._core as core
from kimia.errors import KimiaError, reject
from kimia.service.host import Host
from kimia.service.requests import NOT_REMEMBERED, TIMEOUT_HASH
from kimia.service.requests import actor_of, check_key
from kimia.service.requests import request_hash, response_json, stored_answer
from kimia.service.sql import Tx

log = logging.getLogger(__name__)


def existing_answer(tx: Tx, club_id: int, idem_key: str, body_hash: str, amount: int) -> dict[str, Any] | None:
    """The stored answer for a retried key, or a conflict if the key was used for something else."""
    row = tx.one(
        "SELECT request_hash, response, amount_rial FROM operations WHERE club_id = ? AND idem_key = ?",
        (club_id, idem_key),
    )
    if row is None:
        return None
    answer = stored_answer(row[0], row[1], row[2], body_hash, amount)
    if isinstance(answer, KimiaError):
        raise answer
    return answer


def new_op(
    svc: Host,
    tx: Tx,
    *,
    club_id: int,
    idem_key: str,
    body_hash: str,
    kind: str,
    member_id: int | None,
    merchant_id: int | None = None,
    terminal_id: int | None = None,
    original_op_id: int | None = None,
    amount_rial: int = 0,
    reference: str | None = None,
    actor: str | None = None,
    now: int,
) -> int:
    row = tx.one(
        "INSERT INTO operations (club_id, idem_key, request_hash, kind, status, member_id, merchant_id, terminal_id,"
        " original_op_id, amount_rial, refunded_rial, reference, response, decision, day, created_at, actor)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,0,?,?,NULL,?,?,?) RETURNING id",
        (club_id, idem_key, body_hash, kind, "pending", member_id, merchant_id, terminal_id, original_op_id,
         amount_rial, reference, "{}", svc.caches.local_day(tx, club_id, now), now, actor_of(merchant_id, terminal_id, actor)),
    )
    tx.opened[int(row[0])] = (kind, club_id, member_id)
    return int(row[0])


def finish_op(
    svc: Host, tx: Tx, op_id: int, status: str, response: dict[str, Any], decision: core.Decision | None, *, member_id: int | None = None
) -> None:
    tx.execute(
        "UPDATE operations SET status = ?, response = ?, decision = ?, member_id = COALESCE(?, member_id) WHERE id = ?",
        (status, response_json(response), decision.to_json() if decision is not None else None, member_id, op_id),
    )
    opened = tx.opened.pop(op_id, None)
    if opened is not None and status != "void":  # a void key is a marker, not an operation
        kind, club, opened_member = opened
        svc.committed(tx, kind=kind, club_id=club, op_id=op_id, member_id=member_id if member_id is not None else opened_member,
                       receipt=response)


def load_op(svc: Host, tx: Tx, merchant_id: int, op_id: int | None = None, *, reference: str | None = None) -> dict[str, Any]:
    """An operation of the acting merchant (in its club), by id or by reference (RRN): every
    lookup is scoped so, and anything else (another club's, another merchant's) is not found.
    Ids are sequential and RRNs of old rows too: only the scope keeps them to their owner."""
    club_id = svc.caches.merchant(tx, merchant_id).root_club_id
    columns = "id, club_id, kind, status, member_id, merchant_id, amount_rial, refunded_rial, decision, reference"
    if op_id is not None:
        row = tx.one(tx.lock(f"SELECT {columns} FROM operations WHERE id = ? AND club_id = ? AND merchant_id = ?"),
                     (op_id, club_id, merchant_id))
    else:
        row = tx.one(
            tx.lock(f"SELECT {columns} FROM operations WHERE club_id = ? AND merchant_id = ? AND reference = ?"
                    " AND kind IN ('purchase', 'completion') ORDER BY id DESC LIMIT 1"),
            (club_id, merchant_id, reference),
        )
    if row is None:
        raise reject("unknown_operation")
    keys = ("id", "club_id", "kind", "status", "member_id", "merchant_id", "amount_rial", "refunded_rial", "decision", "reference")
    return dict(zip(keys, row))


def remember(svc: Host, work: Callable[[Tx], None]) -> None:
    """Store a refusal (see ``refusal_work``); a failure to store it does not hide the refusal."""
    try:
        svc.writer.submit(work)
    except Exception:
        log.exception("could not remember a refusal")


def refusal_work(svc: Host, error: KimiaError, merchant_id: int, idem_key: str, body_hash: str, amount: int) -> Callable[[Tx], None]:
    """An operation storing a decided refusal under its key (kind ``refusal``, status
    ``refused``, no journal legs), so that a replay of the request gets the same refusal and is
    never decided again. Run outside any deadline: the refusal was already decided. Nothing is
    stored for the errors in :data:`NOT_REMEMBERED`, or when the key is already taken (the
    stored refusal itself, or a concurrent repeat that was answered)."""

    def work(tx: Tx) -> None:
        if error.code in NOT_REMEMBERED or not isinstance(idem_key, str) or not idem_key or len(idem_key) > 200:
            return
        try:
            root = svc.caches.merchant(tx, merchant_id).root_club_id
        except KimiaError:
            return  # no such merchant: no club to remember it in
        if tx.one("SELECT 1 FROM operations WHERE club_id = ? AND idem_key = ?", (root, idem_key)) is not None:
            return
        now = svc.clock()
        op_id = new_op(svc, tx, club_id=root, idem_key=idem_key, body_hash=body_hash, kind="refusal", member_id=None,
                             merchant_id=merchant_id, amount_rial=amount, now=now)
        finish_op(svc, tx, op_id, "refused", {"op_id": op_id, "refused": error.to_dict()}, None)

    return work


def remember_timeout(svc: Host, merchant_id: int, idem_key: str) -> asyncio.Future[Any]:
    """A terminal request answered 91 (nothing posted): its key is spent, so the same request: documented on ``Kimia.remember_timeout``, the public face of this function."""
    check_key(idem_key)

    def work(tx: Tx) -> None:
        root = svc.caches.merchant(tx, merchant_id).root_club_id
        if tx.one("SELECT 1 FROM operations WHERE club_id = ? AND idem_key = ?", (root, idem_key)) is not None:
            return
        op_id = new_op(svc, tx, club_id=root, idem_key=idem_key, body_hash=TIMEOUT_HASH, kind="timeout",
                             member_id=None, merchant_id=merchant_id, now=svc.clock())
        finish_op(svc, tx, op_id, "timed_out", {"op_id": op_id, "status": "timed_out"}, None)

    return svc.writer.submit_async(work)
