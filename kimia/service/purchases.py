"""Purchases: decided by the core on a snapshot read in the writer, exactly once per key; concurrent
ones decided and written together (kimia.service.bulk)."""

from __future__ import annotations

import logging
from typing import Any

import kimia._core as core
from kimia.errors import KimiaError, reject
from kimia.service.context import MerchantContext
from kimia.service.host import Host
from kimia.service.requests import Deadline, MemberRef, PurchaseRequest
from kimia.service.requests import local_day, lots_to_spend
from kimia.service.requests import purchase_input, receipt_of, request_hash, validate_purchase
from kimia.service.snapshot import load_budgets, load_member
from kimia.service.posting import Run
from kimia.service.sql import Tx
from kimia.service.bulk import run_alone, run_postings
from kimia.service.clubs import purchase_conversion
from kimia.service.ops import refusal_work, remember
from kimia.service.members import check_cross_club_spend, member_key, resolve_member
from kimia.service.cardholder import verify_spend, verify_spend_async

log = logging.getLogger(__name__)


class PurchaseWork:
    """A queued purchase. Called alone it is a run of one; the writer runs it with the postings
    queued next to it (``run_batch``: kimia.service.bulk)."""

    batch_kind = "posting"

    def __init__(self, service: Host, req: PurchaseRequest, body_hash: str, member_key: list[str] | None = None) -> None:
        self.service = service
        self.req = req
        self.body_hash = body_hash
        #: The member reference in normal form (``members.member_key``), already computed for the
        #: hash: the batch looks members up by it rather than hashing a card number again.
        self.member_key = member_key
        self.guard: Deadline | None = None
        #: The merchant, looked up once by the batch (every step of it needs the merchant's club).
        self.merchant: MerchantContext | None = None

    def __call__(self, tx: Tx) -> Any:
        return run_alone(tx, self)

    @staticmethod
    def run_batch(tx: Tx, works: list[Any]) -> list[Any]:
        return run_postings(tx, works)


def decide_purchase(svc: Host, tx: Tx, req: PurchaseRequest, op_id: int, now: int,
                    run: Run | None = None, book: core.Rulebook | None = None) -> tuple[core.Decision, dict[str, Any], MerchantContext, int]:
    """A purchase decided on the member as they are now (a quote, a hold); in a ``run``, after
    whatever of theirs (or of the club's budgets) it has pending. ``book``: a rule set other than
    the club's own in effect (a dry run of a draft, kimia.service.rulesets)."""
    merchant = svc.caches.merchant(tx, req.merchant_id)
    if not merchant.active:
        raise reject("unknown_merchant")
    member_id, member_club = resolve_member(svc, tx, merchant.root_club_id, MemberRef.of(req.member))
    check_cross_club_spend(svc, tx, member_club, merchant.root_club_id, req)
    book = book if book is not None else svc.caches.rulebook(tx, merchant.root_club_id, now=now)

    def load() -> dict[str, Any]:
        return load_member(
            tx,
            member_id,
            merchant_id=merchant.merchant_id,
            today=local_day(now, merchant.utc_offset_min),
            voucher_code=req.voucher_code,
            club_id=merchant.root_club_id,
            lots=lots_to_spend(req.redeem_credit_rial, req.redeem_points),
            with_enrolled_by=True,
            ledger_club=member_club,
        )

    if run is not None:
        run.flush_if(budgets_of=merchant.root_club_id)
    snapshot = load() if run is None else run.member_snapshot(member_id, load)
    purchase = purchase_input(merchant, req, op_id, snapshot.pop("_enrolled_by"), purchase_conversion(svc, tx, merchant, req))
    if book.has_budgets:
        keys = book.budget_keys(purchase, member_id, now)
        if keys:
            snapshot["budget_used"] = load_budgets(tx, merchant.root_club_id, keys)
    decision = book.evaluate(purchase, snapshot, now)
    return decision, snapshot, merchant, member_club


def quote(svc: Host, req: PurchaseRequest) -> dict[str, Any]:
    """What a purchase would give, without writing anything (a dry run)."""
    validate_purchase(req)
    now = svc.clock()
    with svc.reading() as tx:
        d, snapshot, _, _ = decide_purchase(svc, tx, req, 0, now)
        return {**receipt_of(d, snapshot, 0, "quote"), "explanation": d.explanation}


def purchase(svc: Host, req: PurchaseRequest) -> dict[str, Any]:
    """A purchase: discount, credit spent, points and credit earned, split: documented on ``Kimia.purchase``, the public face of this function."""
    work = purchase_work(svc, req)
    try:
        verify_spend(svc, req)
        return svc.write(work)
    except KimiaError as exc:
        if req.remember_refusal:
            remember(svc, refusal_work(svc, exc, req.merchant_id, req.idem_key, work.body_hash, req.amount_rial))
        raise


def purchase_work(svc: Host, req: PurchaseRequest) -> PurchaseWork:
    """A checked purchase ready for the writer: refused here, before the queue, if malformed."""
    validate_purchase(req)
    key = member_key(svc, req.member)
    return PurchaseWork(svc, req, request_hash(req.body(key)), key)


async def purchase_async(svc: Host, req: PurchaseRequest, deadline: Deadline | None = None) -> dict[str, Any]:
    """``purchase`` for an event loop (the terminal host): the request is checked and queued on: documented on ``Kimia.purchase_async``, the public face of this function."""
    work = purchase_work(svc, req)
    work.guard = deadline
    try:
        await verify_spend_async(svc, req)
        result = await svc.writer.submit_async(work)
        if isinstance(result, KimiaError):
            raise result
        answer: dict[str, Any] = result
    except KimiaError as exc:
        if not req.remember_refusal:
            raise
        try:
            await svc.writer.submit_async(refusal_work(svc, exc, req.merchant_id, req.idem_key, work.body_hash, req.amount_rial))
        except Exception:
            log.exception("could not remember the refusal of key %s", req.idem_key)
        raise
    return answer
