"""The value a club's back office moves and reads: rule budgets and their use (R14), the daily
settlement file (S1), manual adjustments with a reason, credit charged to members (V2-V4) and
credit lines, and the expiry sweep. Every POST that moves value is kept exactly once under the
caller's Idempotency-Key, in the operation's own transaction (same key and body: the first
answer again; another body: 409)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

import kimia._core as core
from kimia.errors import KimiaError, reject
from kimia.service import backoffice_views as views
from kimia.web.api.endpoint import Ctx, Raw, endpoint
from kimia.web.api.models import Model, Page, PageQuery, Rial, Stamp
from kimia.web.api.paging import after_id, encode_cursor
from kimia.web.api.routes.purchases import ReceiptOut

MANAGERS = {"management"}
EPOCH = dt.date(1970, 1, 1)
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
Calendar = Literal["gregorian", "jalali"]


# --- days -------------------------------------------------------------------------------------------


def day_number(text: str, calendar: str, path: str = "day") -> int:
    """The local day (days since 1970-01-01) of ``YYYY-MM-DD`` in ``calendar``; ``field_invalid``
    for a date that does not exist."""
    year, month, day = (int(part) for part in text.split("-"))
    try:
        if calendar == "jalali":
            year, month, day = core.jalali_to_gregorian(year, month, day)
        return (dt.date(year, month, day) - EPOCH).days
    except (ValueError, KimiaError):
        raise reject("field_invalid", path=path, detail=f"{text} is not a {calendar} date") from None


def day_text(day: int) -> tuple[str, str]:
    """(Gregorian, Jalali) ``YYYY-MM-DD`` of a local day number."""
    date = EPOCH + dt.timedelta(days=day)
    y, m, d = core.gregorian_to_jalali(date.year, date.month, date.day)
    return date.isoformat(), f"{y:04d}-{m:02d}-{d:02d}"


class DayQuery(Model):
    day: str = Field(pattern=DATE_PATTERN, description="The club's local day, YYYY-MM-DD")
    calendar: Calendar = Field(default="gregorian", description="The calendar of day: gregorian or jalali")


# --- budgets ----------------------------------------------------------------------------------------


class BudgetQuery(PageQuery):
    day: str | None = Field(default=None, pattern=DATE_PATTERN, description="The day whose periods are read (default: today)")
    calendar: Calendar = "gregorian"


class BudgetOut(Model):
    rule_id: str
    index: int = Field(description="The budget's place in the rule's budgets")
    per: str = Field(description="rule, member or merchant: whose use is counted")
    period: str = Field(description="day, month (Jalali) or total")
    limit_rial: int | None
    limit_count: int | None
    period_key: str = Field(description="The period read: d:<day number>, m:<Jalali YYYY-MM> or total")
    used: int = Field(description="Rials of cost (limit_rial) or uses (limit_count) in the period, summed over holders")
    holders: int = Field(description="Members or merchants (per rule: the rule) with some use in the period")
    most_used: int = Field(description="The most one holder used in the period")


class BudgetsOut(Page[BudgetOut]):
    rules_version: int = Field(description="The rule set version the budgets are declared in (0: none published)")
    day: str
    day_jalali: str


@endpoint("GET", "/budgets", tag="ledger", access=MANAGERS, query=BudgetQuery, answer=BudgetsOut)
def budgets(ctx: Ctx, query: BudgetQuery) -> BudgetsOut:
    """The budgets the club's current rules declare, and their use so far.

    Each budget's use is read in the period (day, Jalali month, or all time) holding ``day``
    (default: the club's today). The cursor is a position in the list."""
    root = ctx.root()
    day = day_number(query.day, query.calendar) if query.day else views.local_day(ctx.svc, root)
    version, found = views.budgets(ctx.svc, root, day)
    start = after_id(query.cursor)
    page = found[start:start + query.limit]
    more = start + query.limit < len(found)
    gregorian, jalali = day_text(day)
    return BudgetsOut(items=[BudgetOut(**vars(b)) for b in page], next_cursor=encode_cursor(start + query.limit) if more else None,
                      rules_version=version, day=gregorian, day_jalali=jalali)


# --- settlement -------------------------------------------------------------------------------------


class SettlementLineOut(Model):
    role: str = Field(description="merchant, merchant_marketer, marketer, club_owner or platform")
    beneficiary_id: int
    name: str
    sheba: str
    amount_rial: int
    legs: int = Field(description="Split legs of payments this line sums")
    first_op_id: int
    last_op_id: int


class SettlementOut(Model):
    club_id: int
    day: str
    day_jalali: str
    lines: list[SettlementLineOut]
    total_rial: int
    legs: int


@endpoint("GET", "/settlement", tag="ledger", access=MANAGERS, query=DayQuery, raw="text/csv")
def settlement(ctx: Ctx, query: DayQuery) -> Raw:
    """The settlement file of one local day, as CSV.

    One line per beneficiary (role, id, name, Sheba, amount in rials, how many split legs, the
    first and last operation), then a total line adding up exactly to the payments of the day."""
    day = day_number(query.day, query.calendar)
    return Raw(ctx.svc.settlement(ctx.club_id, day), filename=f"settlement-{ctx.root()}-{day_text(day)[0]}.csv")


@endpoint("GET", "/settlement/summary", tag="ledger", access=MANAGERS, query=DayQuery, answer=SettlementOut)
def settlement_summary(ctx: Ctx, query: DayQuery) -> SettlementOut:
    """The settlement of one local day as JSON: the same lines as the CSV file, and their total."""
    day = day_number(query.day, query.calendar)
    root = ctx.root()
    lines = views.settlement_summary(ctx.svc, root, day)
    gregorian, jalali = day_text(day)
    return SettlementOut(club_id=root, day=gregorian, day_jalali=jalali, lines=[SettlementLineOut(**vars(line)) for line in lines],
                         total_rial=sum(line.amount_rial for line in lines), legs=sum(line.legs for line in lines))


# --- adjustments, charges, credit lines ---------------------------------------------------------------


AdjustableKind = Literal["points", "merchant_credit", "club_credit", "virtual_credit", "cashback", "gift_credit", "welfare_credit"]


class AdjustmentIn(Model):
    account_kind: AdjustableKind = Field(description="The member's account to adjust (merchant_credit: at merchant_id)")
    merchant_id: int | None = Field(default=None, ge=1, description="merchant_credit only: the merchant the credit is at")
    delta: int = Field(ge=-10**15, le=10**15, description="Added (positive) or taken (negative): points, or rials of credit")
    reason: str = Field(default="", max_length=1_000, description="Why: required (reason_required), kept in the audit log")
    expires_days: int | None = Field(default=None, ge=1, le=3_650, description="An addition's expiry in days (default: none)")


def _account(ctx: Ctx, body: AdjustmentIn) -> str:
    if body.account_kind != "merchant_credit":
        if body.merchant_id is not None:
            raise reject("field_invalid", path="merchant_id", detail="only merchant_credit is at a merchant")
        return body.account_kind
    return f"merchant_credit@merchant:{ctx.merchant(body.merchant_id)}"


@endpoint("POST", "/members/<int:member_id>/adjustments", tag="ledger", access=MANAGERS, body=AdjustmentIn, answer=ReceiptOut,
          status=201, idempotency="service")
def adjust(ctx: Ctx, member_id: int, body: AdjustmentIn) -> ReceiptOut:
    """Adjust a member's account by hand, with a reason.

    The reason is required (``reason_required``) and goes to the audit log with who made the
    adjustment. Taking away more than the member holds is refused. Exactly once per
    Idempotency-Key: a retry gets the first receipt (``replayed``: true)."""
    assert ctx.idem_key is not None
    ctx.member(member_id)
    account = _account(ctx, body)
    return ReceiptOut.model_validate(ctx.svc.adjust(ctx.club_id, member_id, idem_key=ctx.idem_key, account_kind=account,
                                                    delta=body.delta, actor=ctx.actor, reason=body.reason,
                                                    expires_days=body.expires_days))


ChargeKind = Literal["gift_credit", "welfare_credit", "virtual_credit", "credit_line"]


class ChargeSourceIn(Model):
    type: Literal["club", "merchant", "org", "cash"] = Field(description="Who pays: the club, a merchant, an organisation, "
                                                                         "or the member in money (cash)")
    id: int | None = Field(default=None, ge=1, description="The club, merchant or organisation (none for cash)")


class ChargeIn(Model):
    kind: ChargeKind = Field(description="The credit charged; credit_line repays a member's credit line")
    amount_rial: Rial
    source: ChargeSourceIn
    reason: str = Field(default="", max_length=1_000, description="Why: required (reason_required), kept in the audit log")
    expires_days: int | None = Field(default=None, ge=1, le=3_650)
    shared_wallet: bool = Field(default=False, description="Charge the member's shared (family) wallet instead")


def _source(ctx: Ctx, source: ChargeSourceIn) -> dict[str, object]:
    """The core's charge source; a club or merchant must be of the caller's tree."""
    if source.type == "cash":
        return {"type": "cash"}
    if source.id is None:
        raise reject("field_required", path="source.id")
    if source.type == "merchant":
        ctx.merchant(source.id, path="source.id")
    elif source.type == "club" and source.id not in ctx.clubs():
        raise reject("unknown_club", path="source.id")
    return {"type": source.type, "id": source.id}


@endpoint("POST", "/members/<int:member_id>/charges", tag="ledger", access=MANAGERS, body=ChargeIn, answer=ReceiptOut, status=201,
          idempotency="service")
def charge(ctx: Ctx, member_id: int, body: ChargeIn) -> ReceiptOut:
    """Charge credit to a member: a gift card, welfare credit, or a credit-line repayment.

    Who pays is ``source``; who charged and why (required) go to the audit log. Exactly once per
    Idempotency-Key."""
    assert ctx.idem_key is not None
    ctx.member(member_id)
    answer = ctx.svc.charge(ctx.club_id, member_id, idem_key=ctx.idem_key, kind=body.kind, amount_rial=body.amount_rial,
                            source=_source(ctx, body.source), actor=ctx.actor, reason=body.reason, expires_days=body.expires_days,
                            shared_wallet=body.shared_wallet)
    return ReceiptOut.model_validate(answer)


class BatchLineIn(Model):
    member_id: int = Field(ge=1)
    amount_rial: Rial


class ChargeBatchIn(Model):
    org_id: int = Field(ge=1, description="The organisation paying (its number in the club's records)")
    kind: Literal["welfare_credit", "gift_credit", "virtual_credit"] = "welfare_credit"
    charges: list[BatchLineIn] = Field(min_length=1, max_length=1_000)
    reason: str = Field(default="", max_length=1_000, description="Why: required (reason_required), kept in the audit log")
    expires_days: int | None = Field(default=None, ge=1, le=3_650)


class ChargeBatchOut(Model):
    items: list[ReceiptOut]


@endpoint("POST", "/charge-batches", tag="ledger", access=MANAGERS, body=ChargeBatchIn, answer=ChargeBatchOut, status=201,
          idempotency="service")
def charge_batch(ctx: Ctx, body: ChargeBatchIn) -> ChargeBatchOut:
    """Charge many members at once for an organisation (staff welfare credit, V3).

    One operation per member, each kept under the Idempotency-Key and the member: the same batch
    sent again charges nobody twice, and the same key with another amount for a member is refused
    (``exists_with_different_amount``). Every member must be the club's (checked before anything
    is charged) and named once."""
    assert ctx.idem_key is not None
    seen: set[int] = set()
    for i, line in enumerate(body.charges):
        if line.member_id in seen:
            raise reject("field_invalid", path=f"charges.{i}.member_id", detail="a member is charged once in a batch")
        seen.add(ctx.member(line.member_id, path=f"charges.{i}.member_id"))
    answers = ctx.svc.charge_many(ctx.club_id, body.org_id, [(c.member_id, c.amount_rial) for c in body.charges],
                                  batch_key=ctx.idem_key, actor=ctx.actor, reason=body.reason, kind=body.kind,
                                  expires_days=body.expires_days)
    return ChargeBatchOut(items=[ReceiptOut.model_validate(a) for a in answers])


class CreditLimitIn(Model):
    limit_rial: Rial = Field(description="The most the member may owe on their credit line (0 closes it to new spending)")
    reason: str = Field(default="", max_length=1_000, description="Why: required (reason_required), kept in the audit log")


class CreditLimitOut(Model):
    member_id: int
    limit_rial: int


@endpoint("PUT", "/members/<int:member_id>/credit-limit", tag="ledger", access=MANAGERS, body=CreditLimitIn, answer=CreditLimitOut)
def set_credit_limit(ctx: Ctx, member_id: int, body: CreditLimitIn) -> CreditLimitOut:
    """Open or change a member's credit line (V2).

    A limit below what the member already owes is ``credit_limit_exceeded``. Who and why go to
    the audit log."""
    ctx.member(member_id)
    ctx.svc.set_credit_limit(ctx.club_id, member_id, body.limit_rial, actor=ctx.actor, reason=body.reason)
    return CreditLimitOut(member_id=member_id, limit_rial=body.limit_rial)


# --- expiry -----------------------------------------------------------------------------------------


class ExpirySweepOut(Model):
    members_swept: int = Field(description="Members whose expired lots were retired")
    at: Stamp


class ExpirySweepIn(Model):
    club_id: int | None = Field(default=None, ge=1, description="The club meant: the caller's (the default) or one of its "
                                                                "sub-clubs; either way the whole club tree is swept")


@endpoint("POST", "/expiry-sweeps", tag="ledger", access=MANAGERS, body=ExpirySweepIn, answer=ExpirySweepOut)
def expiry_sweep(ctx: Ctx, body: ExpirySweepIn) -> ExpirySweepOut:
    """Retire every expired lot of the club now (points and credit past their expiry).

    The body may be empty. Value is kept per club tree, so the sweep is of the caller's whole
    tree; a script holding several clubs' keys may name the club it means in ``club_id`` (another
    club's is ``unknown_club``, and nothing is swept). Safe to run again (what is retired stays
    retired); each run is a row of the audit log."""
    if body.club_id is not None and body.club_id not in ctx.clubs():
        raise reject("unknown_club", path="club_id")
    swept = ctx.svc.expire_sweep(ctx.club_id, actor=ctx.actor)
    return ExpirySweepOut(members_swept=swept, at=ctx.stamp(ctx.svc.clock()))
