"""Voucher templates (V5), as a club's back office makes and reads them: what a voucher gives,
where, for how long, and what a member pays for it. (A template cannot be withdrawn yet: the
store has no such state; a member buys from any template of the club.)"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kimia.errors import reject
from kimia.service import backoffice_views as views
from kimia.service.admin import Admin
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Page, PageQuery, Rial
from kimia.web.api.paging import after_id, next_cursor

MANAGERS = {"management"}


class VoucherTemplateIn(Model):
    name_fa: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    discount_rial: Rial = Field(default=0, description="A fixed discount in rials (or give discount_bp)")
    discount_bp: int = Field(default=0, ge=0, le=10_000, description="A discount in basis points of the purchase (500: 5%)")
    cap_rial: Rial | None = Field(default=None, description="The most a percentage discount gives")
    valid_days: int = Field(default=30, ge=1, le=3_650, description="Days a bought voucher stays valid")
    merchants: list[int] = Field(default_factory=list, max_length=1_000,
                                 description="Merchants where the voucher is used (of the club's tree); empty: anywhere in the club")
    price_points: int = Field(default=0, ge=0, le=10**12, description="What a member pays in points (or price_credit_rial)")
    price_credit_rial: Rial = Field(default=0, description="What a member pays in credit (or price_points)")
    min_balance: int = Field(default=0, ge=0, le=10**15, description="The balance a member must hold to buy it")
    funder: Literal["club_owner", "merchant", "platform", "marketer"] = Field(default="club_owner",
                                                                               description="Who bears the voucher's discount")
    reason: str = Field(default="", max_length=500, description="Why, for the audit log (optional)")


class VoucherTemplateOut(Model):
    id: int
    club_id: int
    name_fa: str
    name_en: str
    discount_rial: int
    discount_bp: int
    cap_rial: int | None
    valid_days: int
    merchants: list[int]
    price_points: int
    price_credit_rial: int
    min_balance: int
    funder: str
    issued: int = Field(description="Vouchers bought from this template")
    used: int = Field(description="Of them, vouchers used in a purchase")


def _out(view: views.VoucherTemplateView) -> VoucherTemplateOut:
    return VoucherTemplateOut(**vars(view))


@endpoint("POST", "/voucher-templates", tag="vouchers-admin", access=MANAGERS, body=VoucherTemplateIn, answer=VoucherTemplateOut,
          status=201)
def create_template(ctx: Ctx, body: VoucherTemplateIn) -> VoucherTemplateOut:
    """Make a voucher template: what a voucher gives, where, for how long, at what price.

    A voucher gives ``discount_rial`` or ``discount_bp`` (capped by ``cap_rial``); members buy it
    with points or with credit, not both. Every merchant named must be of the caller's club tree
    (else ``foreign_reference`` at its path). Recorded in the audit log."""
    if body.discount_rial == 0 and body.discount_bp == 0:
        raise reject("field_invalid", path="discount_rial", detail="a voucher gives discount_rial or discount_bp")
    template_id = Admin(ctx.svc).create_voucher_template(
        ctx.club_id, body.name_fa, name_en=body.name_en, discount_rial=body.discount_rial, discount_bp=body.discount_bp,
        cap_rial=body.cap_rial, valid_days=body.valid_days, merchants=body.merchants, price_points=body.price_points,
        price_credit_rial=body.price_credit_rial, min_balance=body.min_balance, funder=body.funder, actor=ctx.actor, reason=body.reason)
    return _out(views.voucher_template(ctx.svc, ctx.root(), template_id))


@endpoint("GET", "/voucher-templates", tag="vouchers-admin", access=MANAGERS, query=PageQuery, answer=Page[VoucherTemplateOut])
def list_templates(ctx: Ctx, query: PageQuery) -> Page[VoucherTemplateOut]:
    """The voucher templates of the caller's club and its sub-clubs, oldest first."""
    rows = views.voucher_templates(ctx.svc, ctx.root(), after_id=after_id(query.cursor), limit=query.limit)
    return Page[VoucherTemplateOut](items=[_out(r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("GET", "/voucher-templates/<int:template_id>", tag="vouchers-admin", access=MANAGERS, answer=VoucherTemplateOut)
def get_template(ctx: Ctx, template_id: int) -> VoucherTemplateOut:
    """One voucher template, with how many vouchers were bought from it and used.

    Another club's template is ``unknown_voucher_template``, as one that does not exist."""
    return _out(views.voucher_template(ctx.svc, ctx.root(), template_id))
