"""Vouchers over HTTP (V5): the offers a club sells to its members, buying one with points or
credit, and a member's vouchers; a voucher is used by giving its code as ``voucher_code`` of a
purchase (POST /purchases).

Codes are shown in full to whoever may read the member (the member's own token, their club's
integration and management keys): the code is what the member gives at the counter or the app
sends with a purchase, so a masked code would be of no use to them; another club never sees it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kimia.errors import KimiaError, reject
from kimia.service import voucher_views
from kimia.service.voucher_views import MemberVoucher, VoucherOffer
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Page, PageQuery, Stamp
from kimia.web.api.paging import after_id, next_cursor
from kimia.web.api.routes.purchases import ReceiptOut

#: Keys that read offers and a member's vouchers and buy one: a member token only for itself.
VOUCHER_USERS = {"integration", "management", "member"}


class OfferOut(Model):
    template_id: int
    name_fa: str
    name_en: str
    discount_rial: int = Field(description="A fixed discount, or 0 when the voucher takes a percentage")
    discount_bp: int = Field(description="A percentage discount in basis points (1000 = 10%)")
    cap_rial: int | None = Field(description="The most a percentage discount gives")
    valid_days: int = Field(description="Days a voucher bought now may be used")
    merchant_ids: list[int] = Field(description="The merchants that take it (empty: every merchant of the club)")
    price_points: int
    price_credit_rial: int
    min_balance: int = Field(description="Points the member must keep after paying")


class VoucherOut(Model):
    voucher_id: int
    code: str = Field(description="The code to give as voucher_code of a purchase")
    template_id: int
    name_fa: str
    name_en: str
    discount_rial: int
    discount_bp: int
    cap_rial: int | None
    merchant_ids: list[int]
    state: Literal["active", "used", "expired"]
    valid_from: Stamp
    valid_to: Stamp
    issued_op_id: int
    used_op_id: int | None


class VoucherQuery(PageQuery):
    state: Literal["active", "used", "expired"] | None = Field(default=None, description="Only the vouchers in this state")


class BuyVoucherIn(Model):
    template_id: int = Field(ge=1, description="The offer bought (GET /voucher-offers)")


class VoucherBoughtOut(ReceiptOut):
    vouchers: list[str] = Field(default_factory=list, description="The code of the voucher bought")


def _offer(o: VoucherOffer) -> OfferOut:
    return OfferOut(template_id=o.id, name_fa=o.name_fa, name_en=o.name_en, discount_rial=o.discount_rial, discount_bp=o.discount_bp,
                    cap_rial=o.cap_rial, valid_days=o.valid_days, merchant_ids=o.merchant_ids, price_points=o.price_points,
                    price_credit_rial=o.price_credit_rial, min_balance=o.min_balance)


def _voucher(ctx: Ctx, v: MemberVoucher) -> VoucherOut:
    return VoucherOut(voucher_id=v.id, code=v.code, template_id=v.template_id, name_fa=v.name_fa, name_en=v.name_en,
                      discount_rial=v.discount_rial, discount_bp=v.discount_bp, cap_rial=v.cap_rial, merchant_ids=v.merchant_ids,
                      state="used" if v.state == "used" else "active" if v.state == "active" else "expired",
                      valid_from=ctx.stamp(v.valid_from), valid_to=ctx.stamp(v.valid_to), issued_op_id=v.issued_op_id,
                      used_op_id=v.used_op_id)


@endpoint("GET", "/voucher-offers", tag="vouchers", access=VOUCHER_USERS, query=PageQuery, answer=Page[OfferOut])
def offers(ctx: Ctx, query: PageQuery) -> Page[OfferOut]:
    """The voucher offers of the caller's club a member may buy, with their price in points or credit.

    Only offers with a price are listed (a voucher given by a rule is not for sale), oldest first."""
    rows = voucher_views.offers(ctx.svc, ctx.root(), after_id=after_id(query.cursor), limit=query.limit)
    return Page[OfferOut](items=[_offer(o) for o in rows], next_cursor=next_cursor(rows, query.limit, lambda o: o.id))


@endpoint("GET", "/members/<int:member_id>/vouchers", tag="vouchers", access=VOUCHER_USERS, query=VoucherQuery,
          answer=Page[VoucherOut])
def member_vouchers(ctx: Ctx, member_id: int, query: VoucherQuery) -> Page[VoucherOut]:
    """A member's vouchers of the caller's club, with their codes and state (active, used, expired), oldest first.

    A member token reads only its own member's."""
    member = ctx.member(member_id)
    clubs = ctx.clubs()
    rows = voucher_views.member_vouchers(ctx.svc, clubs, member, after_id=after_id(query.cursor), limit=query.limit,
                                         state=query.state)
    return Page[VoucherOut](items=[_voucher(ctx, v) for v in rows], next_cursor=next_cursor(rows, query.limit, lambda v: v.id))


@endpoint("POST", "/members/<int:member_id>/vouchers", tag="vouchers", access=VOUCHER_USERS, body=BuyVoucherIn,
          answer=VoucherBoughtOut, status=201, idempotency="service")
def buy_voucher(ctx: Ctx, member_id: int, body: BuyVoucherIn) -> VoucherBoughtOut:
    """Buy a voucher for a member with their points or credit; the answer carries its code.

    A member token buys only for its own member. Fewer points than the price is refused
    (``below_threshold``), as is paying that leaves fewer than the offer's ``min_balance``; an offer of another
    club is not found (``unknown_voucher_template``). Exactly once per Idempotency-Key: a retry
    gets the first answer, with the same code, and buys nothing more."""
    assert ctx.idem_key is not None
    member = ctx.member(member_id)
    try:
        answer = ctx.svc.buy_voucher(ctx.club_id, member, body.template_id, idem_key=ctx.idem_key)
    except KimiaError as error:
        if error.code == "unknown_voucher_template" and error.path is None:
            raise reject("unknown_voucher_template", path="template_id") from None
        raise
    return VoucherBoughtOut.model_validate(answer)
