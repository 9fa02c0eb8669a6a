"""Purchases over HTTP: the same request the terminal makes (a member, an amount, a basket),
decided by the same service, kept under the caller's Idempotency-Key in the same transaction."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from kimia.service.requests import PurchaseRequest
from kimia.service.verify import Proof
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import BasketLine, MemberRefIn, Model, Rial

#: Keys that may submit purchases: a club's integrations (as a merchant) and its back office.
PAYERS = {"integration", "management"}


class ProofIn(Model):
    """Proof that the member is there, when their club asks for it to spend value; never stored."""

    pin: str | None = Field(default=None, min_length=4, max_length=12)
    otp: str | None = Field(default=None, min_length=4, max_length=12)


class PurchaseIn(Model):
    merchant_id: int | None = Field(default=None, ge=1, description="Required unless the key is bound to a merchant")
    branch_id: int | None = Field(default=None, ge=1)
    member: MemberRefIn
    amount_rial: Rial = Field(description="The whole purchase in rials, before any discount")
    basket: list[BasketLine] = Field(default_factory=list, max_length=500)
    payment_method: Literal["card", "cash", "mixed", "credit"] = "card"
    redeem_credit_rial: Rial = Field(default=0, description="Credit the member spends on this purchase")
    redeem_points: int = Field(default=0, ge=0, le=10**12, description="Points the member pays with, at their conversion ratio")
    voucher_code: str | None = Field(default=None, max_length=64)
    reference: str | None = Field(default=None, max_length=64, description="The caller's own reference (an invoice number)")
    proof: ProofIn | None = None


class SplitLeg(Model):
    role: str
    beneficiary_id: int
    amount_rial: int


class LotteryEntries(Model):
    lottery_id: int
    entries: int


class ReceiptOut(Model):
    """A decided operation, as the terminal's receipt shows it (more fields may follow)."""

    model_config = ConfigDict(extra="allow")
    op_id: int
    status: str
    kind: str
    member_id: int | None = None
    merchant_id: int | None = None
    amount_rial: int = 0
    discount_rial: int = 0
    credit_used_rial: int = 0
    points_redeemed: int = 0
    points_redeemed_rial: int = 0
    payable_rial: int = 0
    points_earned: int = 0
    applied_rules: list[str] = Field(default_factory=list)
    lottery_entries: list[LotteryEntries] = Field(default_factory=list)
    split: list[SplitLeg] = Field(default_factory=list)
    balance_points: int | None = None
    balance_credit_rial: int | None = None
    explanation_fa: list[str] = Field(default_factory=list)
    explanation_en: list[str] = Field(default_factory=list)
    rrn: str | None = None
    replayed: bool = False


def purchase_request(ctx: Ctx, body: PurchaseIn, *, idem_key: str) -> PurchaseRequest:
    """The service's request for ``body``, as the caller's merchant."""
    merchant_id = ctx.merchant(body.merchant_id)
    branch_id = ctx.principal.branch_id or body.branch_id
    proof = Proof(pin=body.proof.pin, otp=body.proof.otp) if body.proof else None
    return PurchaseRequest(
        idem_key=idem_key, merchant_id=merchant_id, member=body.member.model_dump(), amount_rial=body.amount_rial,
        basket=[line.model_dump() for line in body.basket], payment_method=body.payment_method, channel="api",
        redeem_credit_rial=body.redeem_credit_rial, redeem_points=body.redeem_points, voucher_code=body.voucher_code,
        branch_id=branch_id, reference=body.reference, actor=ctx.actor, proof=proof)


def receipt(answer: dict[str, Any]) -> ReceiptOut:
    return ReceiptOut.model_validate(answer)


@endpoint("POST", "/purchases", tag="purchases", access=PAYERS, body=PurchaseIn, answer=ReceiptOut, status=201, idempotency="service")
def purchase(ctx: Ctx, body: PurchaseIn) -> ReceiptOut:
    """A purchase: discounts, credit and points spent, points and credit earned, lottery entries, the split.

    Exactly once per Idempotency-Key: a retry gets the first receipt (``replayed``: true)."""
    assert ctx.idem_key is not None
    return receipt(ctx.svc.purchase(purchase_request(ctx, body, idem_key=ctx.idem_key)))
