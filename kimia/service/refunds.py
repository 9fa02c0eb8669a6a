"""Refunds and reversals: compensating postings for a sale, a refund undone, a terminal's reversal
by key (including one that arrives before its original)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import kimia._core as core
from kimia.errors import reject
from kimia.service.host import Host
from kimia.service.record import restore_last_purchase_statement
from kimia.service.requests import VOID_HASH
from kimia.service.requests import check_amount, check_key
from kimia.service.requests import receipt_of, request_hash, tier_field
from kimia.service.snapshot import load_member
from kimia.service.posting import OpRow, Post, Posting, Run
from kimia.service.sql import Tx
from kimia.service.ops import existing_answer, load_op
from kimia.service.members import member_root_club
from kimia.service.holds import cancel_in

log = logging.getLogger(__name__)


def refund(
    svc: Host,
    merchant_id: int,
    *,
    idem_key: str,
    op_id: int | None = None,
    reference: str | None = None,
    amount_rial: int | None = None,
    terminal_id: int | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Refund part of a purchase (``amount_rial``) or reverse what is left of it (``None``): documented on ``Kimia.refund``, the public face of this function."""
    check_key(idem_key)
    if amount_rial is not None:
        check_amount(amount_rial, "amount_rial")
    if op_id is None and reference is None:
        raise reject("invalid_request", path="op_id", detail="give op_id or reference")
    body_hash = request_hash({"op": "refund", "of": op_id, "reference": reference, "amount": amount_rial})

    def decide(tx: Tx, run: Run) -> dict[str, Any] | Post:
        merchant = svc.caches.merchant(tx, merchant_id)
        if not merchant.active:
            raise reject("unknown_merchant")  # a deactivated merchant refunds no more than it sells
        club = merchant.root_club_id
        run.flush_if(keys=[(club, idem_key)], ops=[op_id] if op_id is not None else [],
                     refs=[(club, reference)] if reference is not None else [])
        original = load_op(svc, tx, merchant_id, op_id, reference=reference)
        if run.touches(ops=[original["id"]]):  # found by its reference, refunded in this run: read it written
            run.flush()
            original = load_op(svc, tx, merchant_id, op_id, reference=reference)
        existing = existing_answer(tx, original["club_id"], idem_key, body_hash, amount_rial or 0)
        if existing is not None:
            return existing
        posting = reverse_in(svc, tx, run, original, idem_key, body_hash, amount_rial, by=(terminal_id, actor))
        return Post(posting.receipt, [posting])

    answer: dict[str, Any] = svc.write(svc.posting(decide))
    return answer


def _snapshot(svc: Host, tx: Tx, run: Run, op: dict[str, Any], member_club: int) -> dict[str, Any]:
    """The member of an operation as they are now, after whatever of theirs the run has pending."""
    today = svc.caches.local_day(tx, op["club_id"], run.now)
    return run.member_snapshot(op["member_id"], lambda: load_member(
        tx, op["member_id"], merchant_id=op["merchant_id"], today=today, club_id=op["club_id"], ledger_club=member_club))


def reverse_in(svc: Host, tx: Tx, run: Run, original: dict[str, Any], idem_key: str, body_hash: str, amount_rial: int | None,
               by: tuple[int | None, str | None] = (None, None)) -> Posting:
    """The refund or reversal of a posted sale; ``by`` is (terminal id, actor) of who does it."""
    if original["kind"] not in ("purchase", "completion") or original["status"] != "done" or not original["decision"]:
        raise reject("not_refundable")
    if original["refunded_rial"] >= original["amount_rial"]:
        raise reject("already_reversed")
    now = run.now
    decided = core.Decision.from_json(original["decision"])
    member_club = member_root_club(svc, tx, original["member_id"])
    snapshot = _snapshot(svc, tx, run, original, member_club)
    new_id = run.take_id()
    d = core.reverse(decided, snapshot, op_id=new_id, now=now, refund_rial=amount_rial, refunded_before_rial=original["refunded_rial"])
    op = OpRow(new_id, original["club_id"], idem_key, body_hash, "refund" if amount_rial is not None else "reversal", original["member_id"],
               svc.caches.local_day(tx, original["club_id"], now), now, merchant_id=original["merchant_id"], terminal_id=by[0],
               original_op_id=original["id"], amount_rial=amount_rial or original["amount_rial"] - original["refunded_rial"], actor=by[1])
    after = [("UPDATE operations SET refunded_rial = refunded_rial + ? WHERE id = ?", (-d.amount_rial, original["id"]))]
    if d.counters["purchases"]:  # the whole purchase is undone: every counter it moved goes back
        after.append(restore_last_purchase_statement(original["member_id"]))
    receipt = {**receipt_of(d, snapshot, new_id), "original_op_id": original["id"], **tier_field(snapshot)}
    return Posting(op, "done", receipt, d, member_club, after, touches_ops=(original["id"],))


def undo_refund(svc: Host, tx: Tx, run: Run, refund: dict[str, Any], idem_key: str, body_hash: str,
                by: tuple[int | None, str | None] = (None, None)) -> Posting:
    """Undo a refund exactly (a terminal reversed it): the purchase stands again as before."""
    refund_row = tx.one(tx.lock("SELECT original_op_id FROM operations WHERE id = ?"), (refund["id"],))
    now = run.now
    decided = core.Decision.from_json(refund["decision"])
    member_club = member_root_club(svc, tx, refund["member_id"])
    snapshot = _snapshot(svc, tx, run, refund, member_club)
    new_id = run.take_id()
    d = core.invert(decided, snapshot, op_id=new_id, now=now)
    op = OpRow(new_id, refund["club_id"], idem_key, body_hash, "reversal", refund["member_id"], svc.caches.local_day(tx, refund["club_id"], now),
               now, merchant_id=refund["merchant_id"], terminal_id=by[0], original_op_id=refund["id"], amount_rial=-decided.amount_rial,
               actor=by[1])
    after: list[tuple[str, tuple[Any, ...]]] = [("UPDATE operations SET status = 'reversed' WHERE id = ?", (refund["id"],))]
    touched = [refund["id"]]
    if refund_row is not None and refund_row[0] is not None:
        after.append(("UPDATE operations SET refunded_rial = refunded_rial - ? WHERE id = ?", (-decided.amount_rial, refund_row[0])))
        touched.append(int(refund_row[0]))
    if d.counters["purchases"]:  # a full refund undone: the purchase counts again
        after.append(restore_last_purchase_statement(refund["member_id"]))
    receipt = {**receipt_of(d, snapshot, new_id), "original_op_id": refund["id"]}
    return Posting(op, "done", receipt, d, member_club, after, touches_ops=tuple(touched))


def reverse_by_key(svc: Host, merchant_id: int, original_key: str, *, idem_key: str, replacement_rial: int | None = None,
                   terminal_id: int | None = None, actor: str | None = None, legacy_key: str | None = None) -> dict[str, Any]:
    """Reverse the operation submitted under ``original_key`` (a terminal's reversal, 0400/0420): documented on ``Kimia.reverse_by_key``, the public face of this function."""
    check_key(idem_key)
    check_key(original_key)
    if legacy_key is not None:
        check_key(legacy_key)
    by = (terminal_id, actor)
    if replacement_rial is not None:
        check_amount(replacement_rial, "replacement_rial", allow_zero=True)
    body = {"op": "reverse_key", "merchant": merchant_id, "original": original_key}
    body_hash = request_hash(body if not replacement_rial else {**body, "replacement": replacement_rial})

    def decide(tx: Tx, run: Run) -> dict[str, Any] | Post:
        root = svc.caches.merchant(tx, merchant_id).root_club_id
        run.flush_if(keys=[(root, key) for key in (idem_key, original_key, legacy_key) if key is not None])
        existing = existing_answer(tx, root, idem_key, body_hash, 0)
        if existing is not None:
            return existing
        row = tx.one(tx.lock("SELECT id, merchant_id FROM operations WHERE club_id = ? AND idem_key = ?"), (root, original_key))
        if row is None and legacy_key is not None:
            row = tx.one(tx.lock("SELECT id, merchant_id FROM operations WHERE club_id = ? AND idem_key = ?"), (root, legacy_key))
        if row is not None and row[1] != merchant_id:
            raise reject("unknown_operation", path="original_key")
        if row is None:
            return _void(svc, tx, run, root, (original_key, idem_key), body_hash, (terminal_id, actor), merchant_id)
        run.flush_if(ops=[int(row[0])])
        original = load_op(svc, tx, merchant_id, int(row[0]))
        posting = _reverse_found(svc, tx, run, original, idem_key, body_hash, replacement_rial, (terminal_id, actor))
        if posting is not None:
            return Post({**posting.receipt, "original_found": True}, [posting])
        response = {"status": "nothing_to_reverse", "original_found": True, "original_op_id": original["id"]}
        return Post(*_marker(svc, tx, run, root, idem_key, body_hash, response, (terminal_id, actor), merchant_id))

    answer: dict[str, Any] = svc.write(svc.posting(decide))
    return answer


def _reverse_found(svc: Host, tx: Tx, run: Run, original: dict[str, Any], idem_key: str, body_hash: str, replacement_rial: int | None,
                   by: tuple[int | None, str | None]) -> Posting | None:
    """The reversal of an original found under its key: a pending hold cancelled, a sale reversed
    (down to ``replacement_rial`` if given), a refund undone; None when nothing is left to reverse."""
    if original["kind"] == "hold" and original["status"] == "held":
        return cancel_in(svc, tx, run, original, idem_key, body_hash, by)
    left = original["amount_rial"] - original["refunded_rial"]
    # A partial reversal leaves the sale at replacement_rial: reverse what is above it.
    part = None if not replacement_rial else original["amount_rial"] - replacement_rial - original["refunded_rial"]
    if original["kind"] in ("purchase", "completion") and original["status"] == "done" and left > 0 and (part is None or part > 0):
        return reverse_in(svc, tx, run, original, idem_key, body_hash, part if part is not None and part < left else None, by)
    if original["kind"] == "refund" and original["status"] == "done" and original["decision"]:
        return undo_refund(svc, tx, run, original, idem_key, body_hash, by)
    return None


def _marker(svc: Host, tx: Tx, run: Run, root: int, idem_key: str, body_hash: str, response: dict[str, Any],
            by: tuple[int | None, str | None], merchant_id: int) -> tuple[dict[str, Any], list[Posting]]:
    """A reversal that posts nothing, recorded under its key (answered the same when repeated)."""
    op_id = run.take_id()
    response = {**response, "op_id": op_id}
    op = OpRow(op_id, root, idem_key, body_hash, "reversal", None, svc.caches.local_day(tx, root, run.now), run.now,
               merchant_id=merchant_id, terminal_id=by[0], actor=by[1])
    return response, [Posting(op, "done", response)]


def _void(svc: Host, tx: Tx, run: Run, root: int, keys: tuple[str, str], body_hash: str, by: tuple[int | None, str | None],
          merchant_id: int) -> Post:
    """An original that never arrived: its key (``keys[0]``) voided, so that it never posts if it
    arrives late, and the reversal (``keys[1]``) recorded."""
    void_id = run.take_id()
    void = OpRow(void_id, root, keys[0], VOID_HASH, "void", None, svc.caches.local_day(tx, root, run.now), run.now,
                 merchant_id=merchant_id, terminal_id=by[0], actor=by[1])
    response = {"status": "void", "original_found": False, "void_op_id": void_id}
    answer, postings = _marker(svc, tx, run, root, keys[1], body_hash, response, by, merchant_id)
    return Post(answer, [Posting(void, "void", {"op_id": void_id, "status": "void"}), *postings])
