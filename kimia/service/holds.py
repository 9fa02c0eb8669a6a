"""Holds: a redemption fixed before the bank sale, then completed or cancelled."""

from __future__ import annotations

import logging
from typing import Any

import kimia._core as core
from kimia.errors import KimiaError, reject
from kimia.service.host import Host
from kimia.service.requests import PurchaseRequest
from kimia.service.requests import check_key, fresh_rrns, local_day
from kimia.service.requests import receipt_of, request_hash, terminal_fields, tier_field, validate_purchase
from kimia.service.snapshot import load_member
from kimia.service.purchases import decide_purchase
from kimia.service.posting import OpRow, Post, Posting, Run
from kimia.service.sql import Tx
from kimia.service.ops import existing_answer, load_op, refusal_work, remember
from kimia.service.members import member_root_club, member_key
from kimia.service.cardholder import verify_spend

log = logging.getLogger(__name__)


def hold(svc: Host, req: PurchaseRequest) -> dict[str, Any]:
    """Reserve the credit a purchase would spend and fix its discount; complete or cancel later: documented on ``Kimia.hold``, the public face of this function."""
    validate_purchase(req)
    body_hash = request_hash({"op": "hold", **req.body(member_key(svc, req.member))})
    try:
        verify_spend(svc, req)
        return place_hold(svc, req, body_hash)
    except KimiaError as exc:
        if req.remember_refusal:
            remember(svc, refusal_work(svc, exc, req.merchant_id, req.idem_key, body_hash, req.amount_rial))
        raise


def place_hold(svc: Host, req: PurchaseRequest, body_hash: str) -> dict[str, Any]:

    def decide(tx: Tx, run: Run) -> dict[str, Any] | Post:
        now = run.now
        merchant = svc.caches.merchant(tx, req.merchant_id)
        run.flush_if(keys=[(merchant.root_club_id, req.idem_key)])
        existing = existing_answer(tx, merchant.root_club_id, req.idem_key, body_hash, req.amount_rial)
        if existing is not None:
            return existing
        op_id = run.take_id()
        d, snapshot, merchant, member_club = decide_purchase(svc, tx, req, op_id, now, run)
        rrn = req.reference or fresh_rrns(tx, merchant.root_club_id, 1)[0]
        held = core.hold(d)
        # The points balance is the hold's (the points redeemed are held, none earned yet).
        balance_points = receipt_of(held, snapshot, op_id, "held")["balance_points"]
        receipt = {**receipt_of(d, snapshot, op_id, "held"), "hold_id": op_id, "points_earned": 0, "balance_points": balance_points,
                   **terminal_fields(req, op_id, snapshot["tier"], rrn)}
        op = OpRow(op_id, merchant.root_club_id, req.idem_key, body_hash, "hold", d.member_id, local_day(now, merchant.utc_offset_min), now,
                   merchant_id=req.merchant_id, terminal_id=req.terminal_id, amount_rial=req.amount_rial, reference=rrn, actor=req.actor)
        # The operation keeps the purchase's decision (completed or cancelled from it); the rows are the hold's.
        return Post(receipt, [Posting(op, "held", receipt, held, member_club, stored=d)])

    answer: dict[str, Any] = svc.write(svc.posting(decide))
    return answer


def complete_hold(svc: Host, merchant_id: int, hold_id: int, *, idem_key: str, reference: str | None = None,
                  terminal_id: int | None = None, actor: str | None = None) -> dict[str, Any]:
    """The bank sale went through: pay the merchant from the hold and write the rest of the purchase: documented on ``Kimia.complete_hold``, the public face of this function."""
    check_key(idem_key)
    body_hash = request_hash({"op": "complete", "hold": hold_id, "reference": reference})

    def decide(tx: Tx, run: Run) -> dict[str, Any] | Post:
        now = run.now
        merchant = svc.caches.merchant(tx, merchant_id)
        run.flush_if(ops=[hold_id], keys=[(merchant.root_club_id, idem_key)])
        held = load_op(svc, tx, merchant_id, hold_id)
        existing = existing_answer(tx, held["club_id"], idem_key, body_hash, held["amount_rial"])
        if existing is not None:
            return existing
        if held["kind"] != "hold" or held["status"] != "held":
            raise reject("hold_not_pending")
        original = core.Decision.from_json(held["decision"])
        op_id = run.take_id()
        d = core.complete_hold(original, op_id=op_id, now=now)
        member_club = member_root_club(svc, tx, held["member_id"])
        snapshot = run.member_snapshot(held["member_id"], lambda: load_member(
            tx, held["member_id"], merchant_id=held["merchant_id"], today=local_day(now, merchant.utc_offset_min), club_id=held["club_id"],
            ledger_club=member_club))
        receipt = {**receipt_of(d, snapshot, op_id), "hold_id": hold_id, **tier_field(snapshot)}
        op = OpRow(op_id, held["club_id"], idem_key, body_hash, "completion", held["member_id"], local_day(now, merchant.utc_offset_min), now,
                   merchant_id=held["merchant_id"], terminal_id=terminal_id, original_op_id=hold_id, amount_rial=held["amount_rial"],
                   reference=reference, actor=actor)
        after = [("UPDATE operations SET status = 'completed' WHERE id = ?", (hold_id,))]
        return Post(receipt, [Posting(op, "done", receipt, d, member_club, after, touches_ops=(hold_id,))])

    answer: dict[str, Any] = svc.write(svc.posting(decide))
    return answer


def cancel_hold(svc: Host, merchant_id: int, hold_id: int, *, idem_key: str, terminal_id: int | None = None,
                actor: str | None = None) -> dict[str, Any]:
    """The bank sale did not happen (or was reversed): the held credit goes back: documented on ``Kimia.cancel_hold``, the public face of this function."""
    check_key(idem_key)
    body_hash = request_hash({"op": "cancel", "hold": hold_id})

    def decide(tx: Tx, run: Run) -> dict[str, Any] | Post:
        club = svc.caches.merchant(tx, merchant_id).root_club_id
        run.flush_if(ops=[hold_id], keys=[(club, idem_key)])
        held = load_op(svc, tx, merchant_id, hold_id)
        existing = existing_answer(tx, held["club_id"], idem_key, body_hash, 0)
        if existing is not None:
            return existing
        posting = cancel_in(svc, tx, run, held, idem_key, body_hash, by=(terminal_id, actor))
        return Post(posting.receipt, [posting])

    answer: dict[str, Any] = svc.write(svc.posting(decide))
    return answer


def cancel_in(svc: Host, tx: Tx, run: Run, held: dict[str, Any], idem_key: str, body_hash: str,
              by: tuple[int | None, str | None] = (None, None)) -> Posting:
    """The cancellation of a pending hold; ``by`` is (terminal id, actor) of who cancels it."""
    if held["kind"] != "hold" or held["status"] != "held":
        raise reject("hold_not_pending")
    now = run.now
    original = core.Decision.from_json(held["decision"])
    op_id = run.take_id()
    d = core.cancel_hold(core.hold(original), op_id=op_id, now=now)
    response = {"op_id": op_id, "status": "cancelled", "hold_id": held["id"], "credit_returned_rial": original.credit_used_rial}
    if original.points_redeemed:
        response["points_returned"] = original.points_redeemed
    op = OpRow(op_id, held["club_id"], idem_key, body_hash, "cancel", held["member_id"], svc.caches.local_day(tx, held["club_id"], now), now,
               merchant_id=held["merchant_id"], terminal_id=by[0], original_op_id=held["id"], actor=by[1])
    after = [("UPDATE operations SET status = 'cancelled' WHERE id = ?", (held["id"],))]
    return Posting(op, "done", response, d, member_root_club(svc, tx, held["member_id"]), after, touches_ops=(held["id"],))
