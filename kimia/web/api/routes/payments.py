"""The value operations beside a purchase, over HTTP (SPEC CH4: a PC-POS cash register or a site
sends the same basket the terminal does): a quote (a dry run), holds completed or cancelled later,
refunds (full or partial), the reversal of a request by its Idempotency-Key, points converted to
credit, and one-time codes a member proves a spend with.

Every operation that moves value is kept by the service under the caller's Idempotency-Key in the
operation's own transaction (``idempotency="service"``): a retry gets the first answer, marked
``replayed``; the same key with another body is refused (409). An integration key bound to a
merchant acts only as it: another merchant's purchase or hold is answered ``unknown_operation``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Rial
from kimia.web.api.routes.purchases import PAYERS, PurchaseIn, ReceiptOut, purchase_request, receipt

#: Longest Idempotency-Key the API takes (kimia.web.api.dispatch.MAX_IDEM_KEY).
MAX_KEY = 128


class ExplanationLine(Model):
    """One line of a decision's explanation: a rule and what it gave, or why it did not apply."""

    model_config = ConfigDict(extra="allow")
    code: str = Field(description="What the line says, as a stable code (docs/rules.md)")
    rule_id: str | None = None
    message_en: str
    message_fa: str


class QuoteOut(ReceiptOut):
    """What the purchase would give now; nothing is written (``status``: quote, ``op_id``: 0)."""

    explanation: list[ExplanationLine] = Field(default_factory=list, description="Every rule considered, with what it gave or why not")


class HoldActionIn(Model):
    merchant_id: int | None = Field(default=None, ge=1, description="The hold's merchant; required unless the key is bound to one")


class HoldCompleteIn(HoldActionIn):
    reference: str | None = Field(default=None, max_length=64, description="The bank sale's reference (RRN), kept on the completion")


class CancelOut(Model):
    """A hold cancelled: what it held went back to the member."""

    op_id: int
    status: str = Field(description="cancelled")
    hold_id: int
    credit_returned_rial: int = 0
    points_returned: int = 0
    replayed: bool = False


class RefundIn(Model):
    merchant_id: int | None = Field(default=None, ge=1, description="The purchase's merchant; required unless the key is bound to one")
    op_id: int | None = Field(default=None, ge=1, description="The purchase's op_id (give this or reference)")
    reference: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="The purchase's rrn: the caller's own reference when the purchase gave one")
    amount_rial: Rial | None = Field(default=None, description="A partial refund; omitted: what is left of the purchase")


class RefundOut(ReceiptOut):
    original_op_id: int = Field(description="The purchase refunded")


class ReversalIn(Model):
    merchant_id: int | None = Field(default=None, ge=1, description="The original's merchant; required unless the key is bound to one")
    idempotency_key: str = Field(min_length=1, max_length=MAX_KEY, description="The Idempotency-Key the original request was sent with")
    replacement_rial: Rial | None = Field(default=None, description="What the sale comes to after a partial reversal; omitted: all of it")


class ReversalOut(ReceiptOut):
    """The reversal: a sale reversed (its receipt), a hold cancelled, a refund undone; or, when no
    request came under the key, ``status`` void: the key is spent, so the original never posts."""

    kind: str = "reversal"
    original_found: bool = Field(default=True, description="False: nothing came under the key, which is now void")
    original_op_id: int | None = None
    void_op_id: int | None = None


class ConversionIn(Model):
    points: int = Field(ge=1, le=10**12, description="Points to convert, at the member's tier or group ratio")


class CodeOut(Model):
    sent: bool
    mobile: str = Field(description="The mobile the code went to, masked")
    expires_in_s: int


def _reversal(answer: dict[str, Any]) -> ReversalOut:
    return ReversalOut.model_validate(answer)


@endpoint("POST", "/purchases/quote", tag="payments", access=PAYERS, body=PurchaseIn, answer=QuoteOut, idempotency="service")
def quote(ctx: Ctx, body: PurchaseIn) -> QuoteOut:
    """Quote a purchase: what it would give now (discount, credit and points spent, points earned), with the explanation.

    A dry run: nothing is written and nothing is kept under the Idempotency-Key (the header is
    still required, as on every POST), so a retry simply quotes again, as things are then. No proof
    is needed to quote a spend; the purchase itself will ask for it."""
    assert ctx.idem_key is not None
    return QuoteOut.model_validate(ctx.svc.quote(purchase_request(ctx, body, idem_key=ctx.idem_key)))


@endpoint("POST", "/holds", tag="payments", access=PAYERS, body=PurchaseIn, answer=ReceiptOut, status=201, idempotency="service")
def hold(ctx: Ctx, body: PurchaseIn) -> ReceiptOut:
    """Hold a purchase: reserve the credit and points it spends and fix its discount, before the bank sale.

    Complete the hold (``hold_id`` in the answer) when the sale goes through, or cancel it.
    Exactly once per Idempotency-Key: a retry gets the first answer (``replayed``: true)."""
    assert ctx.idem_key is not None
    return receipt(ctx.svc.hold(purchase_request(ctx, body, idem_key=ctx.idem_key)))


@endpoint("POST", "/holds/<int:hold_id>/complete", tag="payments", access=PAYERS, body=HoldCompleteIn, answer=ReceiptOut,
          idempotency="service")
def complete_hold(ctx: Ctx, hold_id: int, body: HoldCompleteIn) -> ReceiptOut:
    """Complete a hold: the bank sale went through; the merchant is paid and the points are earned.

    A hold completed or cancelled already is refused (``hold_not_pending``); a hold of another
    merchant is not found (``unknown_operation``). Exactly once per Idempotency-Key."""
    assert ctx.idem_key is not None
    answer = ctx.svc.complete_hold(ctx.merchant(body.merchant_id), hold_id, idem_key=ctx.idem_key, reference=body.reference,
                                   actor=ctx.actor)
    return receipt(answer)


@endpoint("POST", "/holds/<int:hold_id>/cancel", tag="payments", access=PAYERS, body=HoldActionIn, answer=CancelOut,
          idempotency="service")
def cancel_hold(ctx: Ctx, hold_id: int, body: HoldActionIn) -> CancelOut:
    """Cancel a hold: the bank sale did not happen; what it held goes back to the member.

    A hold completed or cancelled already is refused (``hold_not_pending``); a hold of another
    merchant is not found (``unknown_operation``). Exactly once per Idempotency-Key."""
    assert ctx.idem_key is not None
    answer = ctx.svc.cancel_hold(ctx.merchant(body.merchant_id), hold_id, idem_key=ctx.idem_key, actor=ctx.actor)
    return CancelOut.model_validate(answer)


@endpoint("POST", "/refunds", tag="payments", access=PAYERS, body=RefundIn, answer=RefundOut, status=201, idempotency="service")
def refund(ctx: Ctx, body: RefundIn) -> RefundOut:
    """Refund a purchase, in full or in part: its discount, credit, points and split are taken back in proportion.

    Name the purchase by its ``op_id`` or by its ``reference`` (its ``rrn``, which is the caller's
    own reference when the purchase was sent with one); only the acting merchant's purchases are
    found. Without ``amount_rial`` what is left of the purchase is refunded. A refund larger than
    what is left is refused (``refund_exceeds_purchase``), one of a purchase refunded in full
    already too (``already_reversed``). Exactly once per Idempotency-Key."""
    assert ctx.idem_key is not None
    answer = ctx.svc.refund(ctx.merchant(body.merchant_id), idem_key=ctx.idem_key, op_id=body.op_id, reference=body.reference,
                            amount_rial=body.amount_rial, actor=ctx.actor)
    return RefundOut.model_validate(answer)


@endpoint("POST", "/reversals", tag="payments", access=PAYERS, body=ReversalIn, answer=ReversalOut, status=201, idempotency="service")
def reverse(ctx: Ctx, body: ReversalIn) -> ReversalOut:
    """Reverse a request of yours by the Idempotency-Key it was sent with, when its answer never came.

    A purchase is reversed in full (or, with ``replacement_rial``, down to that amount), a pending
    hold is cancelled, a refund is undone. When nothing arrived under the key, the key is made
    void: should the original arrive late it is refused (``already_reversed``) and never posts.
    Only the keys this API key sent are reversed. Repeating the reversal (same Idempotency-Key)
    changes nothing."""
    assert ctx.idem_key is not None
    original = f"api:{ctx.principal.key_id}:{body.idempotency_key}"
    answer = ctx.svc.reverse_by_key(ctx.merchant(body.merchant_id), original, idem_key=ctx.idem_key,
                                    replacement_rial=body.replacement_rial, actor=ctx.actor)
    return _reversal(answer)


@endpoint("POST", "/members/<int:member_id>/conversions", tag="payments", access=PAYERS, body=ConversionIn, answer=ReceiptOut,
          status=201, idempotency="service")
def convert_points(ctx: Ctx, member_id: int, body: ConversionIn) -> ReceiptOut:
    """Convert a member's points to credit, at the ratio of their tier or group.

    More points than the member has are refused (``insufficient_balance``). Exactly once per
    Idempotency-Key."""
    assert ctx.idem_key is not None
    member = ctx.member(member_id)
    return receipt(ctx.svc.convert_points(ctx.club_id, member, body.points, idem_key=ctx.idem_key))


@endpoint("POST", "/members/<int:member_id>/codes", tag="payments", access=PAYERS, answer=CodeOut, status=201)
def request_code(ctx: Ctx, member_id: int) -> CodeOut:
    """Send the member a one-time code on their mobile, to prove a spend (``proof.otp`` of a purchase or hold).

    The code is valid a few minutes, for one spend. At most one code a minute per member
    (``code_too_soon``); a member without a mobile gets none (``no_mobile``). A retry with the same
    Idempotency-Key gets the first answer and sends no second code."""
    member = ctx.member(member_id)
    return CodeOut.model_validate(ctx.svc.request_code(ctx.club_id, member))
