"""Members (SPEC M1-M5, CH2/CH3/CH5): enrol and bind identifiers, identify, and read a member's
profile, balances, lots, tier history, history (with each decision's explanation), lottery
entries and referral code.

Who may call: a club's management and integration keys (a merchant-bound one too) for all of it;
a member token only for the reads of its own member (it enrols, binds and identifies no one).
Card numbers never come back: identifiers are answered as stored for display (a card's last 4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic import Field

from kimia.errors import KimiaError, reject
from kimia.service import member_views as views
from kimia.service.verify import Proof
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import MemberRefIn, Model, Page, PageQuery, Stamp
from kimia.web.api.paging import after_id, encode_cursor, next_cursor
from kimia.web.api.routes.purchases import ProofIn

#: Keys that enrol, bind and identify: a club's back office and its integrations.
WRITERS = {"management", "integration"}
#: Keys that read a member: those, and a member token (its own member only: Ctx.member).
READERS = {"management", "integration", "member"}
#: What a member may be enrolled or bound with ("id" is kimia's own, given at enrolment).
BindableKind = Literal["card", "mobile", "national_code", "club_card", "account"]


class IdentifierIn(Model):
    kind: BindableKind = Field(description="card (bank card number), mobile, national_code, club_card or account")
    value: str = Field(min_length=1, max_length=64, description="The identifier; a card number is stored only as a keyed hash")


class IdentifierOut(Model):
    kind: str
    display: str = Field(description="As kimia shows it: a bank or club card's last 4, a national code's first and last 3")


class EnrolIn(Model):
    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=10, description="How the member is known; an account number is made when none is given")
    name_fa: str = Field(default="", max_length=200, description="The member's name")
    groups: list[int] = Field(default_factory=list, max_length=50, description="Member groups of the club to put the member in")
    club_id: int | None = Field(default=None, ge=1, description="A sub-club of the caller's club to enrol into (default: the caller's club)")
    referred_by_code: str | None = Field(default=None, min_length=4, max_length=32,
                                         description="The referral code of the member who introduced this one (GET /members/{id}/referral-code)")


class EnrolledOut(Model):
    member_id: int
    identifiers: list[IdentifierOut]
    op_id: int = Field(description="The enrolment operation")
    replayed: bool = Field(default=False, description="True when this answers a retry of the same Idempotency-Key")


class BindIn(Model):
    kind: BindableKind
    value: str = Field(min_length=1, max_length=64)
    proof: ProofIn | None = Field(default=None, description="Integration keys: the proof the club asks for binding (a PIN or one-time code)")


class BoundOut(Model):
    member_id: int
    kind: str
    display: str
    op_id: int | None = Field(default=None, description="The bind operation (null: the identifier was already the member's)")
    replayed: bool = False


class IdentifyIn(Model):
    member: MemberRefIn


class IdentifiedOut(Model):
    member_id: int
    identifiers: list[IdentifierOut]


class GroupOut(Model):
    id: int
    name_fa: str


class ProfileIdentifierOut(IdentifierOut):
    created: Stamp


class ProfileOut(Model):
    member_id: int
    club_id: int = Field(description="The (sub-)club the member was enrolled in")
    name_fa: str
    account_number: str | None = Field(description="How the member is named on the wire without a card")
    tier: str | None
    manual_tier: str | None = Field(description="A tier set by hand, which period closes leave alone")
    groups: list[GroupOut] = Field(description="The caller's club's member groups the member is in")
    identifiers: list[ProfileIdentifierOut]
    enrolled_via: str
    purchase_count: int
    last_purchase: Stamp | None
    referred: bool = Field(description="Whether a member of the caller's club introduced this one")
    created: Stamp


class AccountOut(Model):
    account: str = Field(description="The ledger account, e.g. member:7/merchant_credit@merchant:3")
    kind: str = Field(description="points, merchant_credit, club_credit, credit_line, lottery_entries, ...")
    unit: str = Field(description="point, rial or entry")
    scope: str | None = Field(description="Where it is valid or what it counts for (merchant:3, lottery:1), if anywhere in particular")
    balance: int
    credit_limit: int
    shared: bool = Field(description="Held in the member's shared wallet rather than their own")


class BalancesOut(Model):
    member_id: int
    points: int = Field(description="Every point account the member holds, together")
    credit_held_rial: int = Field(description="Rial credit the member holds, whatever it is valid at")
    accounts: list[AccountOut]


class LotOut(Model):
    lot_id: str
    account: str
    kind: str
    unit: str
    original: int = Field(description="What the lot was earned with")
    remaining: int = Field(description="What is left in it")
    expires: Stamp | None
    pending_until: Stamp | None = Field(description="Not spendable before this moment (null: spendable now)")
    shared: bool


class TierMoveOut(Model):
    id: int
    period_end: Stamp
    from_tier: str | None
    to_tier: str | None
    reason: str = Field(description="up, down, stay, grace, ...: why the tier moved or stayed at the close")
    period_points: int
    deducted_points: int


class HistoryItemOut(Model):
    op_id: int
    kind: str = Field(description="purchase, hold, completion, cancel, refund, reversal, conversion, charge, voucher, adjustment, expiry, enroll, bind")
    status: str
    merchant_id: int | None
    original_op_id: int | None = Field(description="The operation this one refunds, reverses, completes or cancels")
    amount_rial: int
    refunded_rial: int
    discount_rial: int
    payable_rial: int
    credit_used_rial: int
    points_earned: int
    points_redeemed: int
    applied_rules: list[str]
    explanation_fa: list[str] = Field(description="Why the decision came out so, line by line, in Persian")
    explanation_en: list[str] = Field(description="The same in English")
    at: Stamp


class WinOut(Model):
    rank: int
    prize: str


class LotteryEntryOut(Model):
    lottery_id: int
    name_fa: str
    status: str = Field(description="open or drawn")
    drawn: Stamp | None
    entries: int
    won: list[WinOut]


class ReferralCodeOut(Model):
    member_id: int
    code: str = Field(description="The code a newcomer gives as referred_by_code when enrolling")
    created: Stamp


def _maybe(ctx: Ctx, ts: int | None) -> Stamp | None:
    return ctx.stamp(int(ts)) if ts is not None else None


@contextmanager
def _paths(fields: dict[str, str]) -> Iterator[None]:
    """The service names an identifier taken by its kind (``mobile``) and a group by ``groups[0]``;
    the API names the request's field (``identifiers.0.value``, ``groups.0``)."""
    try:
        yield
    except KimiaError as error:
        if (error.path or "") in fields:
            error.path = fields[error.path or ""]
        elif error.path is not None:
            error.path = re.sub(r"\[(\d+)\]", r".\1", error.path)
        raise


def _check_identifier(ctx: Ctx, kind: str, value: str, path: str) -> None:
    """Refuse a malformed identifier (a card failing Luhn, a mobile that is not one) at ``path``."""
    try:
        ctx.svc.normalize_identifier(kind, value)
    except KimiaError as error:
        error.path = path
        raise


def _enrol_club(ctx: Ctx, club_id: int | None) -> int:
    if club_id is None:
        return ctx.club_id
    ctx.root()  # first, outside Ctx.clubs()'s read: a thread's reads do not nest
    if club_id not in ctx.clubs():
        raise reject("unknown_club", path="club_id")
    return club_id


@endpoint("POST", "/members", tag="members", access=WRITERS, body=EnrolIn, answer=EnrolledOut, status=201, idempotency="service")
def enrol(ctx: Ctx, body: EnrolIn) -> EnrolledOut:
    """Enrol a member with their identifiers (M1-M3).

    One identifier of each kind (bind a second card afterwards: POST /members/{member_id}/identifiers);
    an account number is made for the member unless one is given. ``referred_by_code`` names the
    member who introduced this one (their referral code); the club's ``referral`` rules then credit
    that member on the newcomer's purchases. A merchant-bound key is recorded as the enrolling
    merchant. Exactly once per Idempotency-Key: a retry gets the first answer (``replayed``)."""
    assert ctx.idem_key is not None
    club_id = _enrol_club(ctx, body.club_id)
    kinds = [i.kind for i in body.identifiers]
    if len(set(kinds)) != len(kinds):
        dup = next(n for n, kind in enumerate(kinds) if kind in kinds[:n])
        raise reject("field_invalid", path=f"identifiers.{dup}.kind", detail="one identifier of each kind at enrolment")
    referrer = views.referrer_of_code(ctx.svc, club_id, body.referred_by_code) if body.referred_by_code else None
    for n, i in enumerate(body.identifiers):
        _check_identifier(ctx, i.kind, i.value, f"identifiers.{n}.value")
    with _paths({kind: f"identifiers.{n}.value" for n, kind in enumerate(kinds)}):
        answer = ctx.svc.enroll(club_id, idem_key=ctx.idem_key, identifiers=[(i.kind, i.value) for i in body.identifiers],
                                name_fa=body.name_fa, referrer=referrer, groups=body.groups, via="api",
                                merchant_id=ctx.principal.merchant_id, actor=ctx.actor)
    return EnrolledOut.model_validate(answer)


@endpoint("POST", "/members/<int:member_id>/identifiers", tag="members", access=WRITERS, body=BindIn, answer=BoundOut, status=201,
          idempotency="service")
def bind(ctx: Ctx, member_id: int, body: BindIn) -> BoundOut:
    """Bind another identifier to a member (M5: a second bank card, a club card, a mobile).

    A management key binds as an operator (audited as the key); an integration key gives the proof
    the member's club asks for binding (``proof``: a PIN or a one-time code). An identifier already
    the member's changes nothing; another member's is ``identifier_taken``."""
    assert ctx.idem_key is not None
    ctx.member(member_id)
    operator = ctx.principal.kind == "management"
    proof = Proof(pin=body.proof.pin, otp=body.proof.otp) if body.proof else None
    _check_identifier(ctx, body.kind, body.value, "value")
    with _paths({body.kind: "value", "pin": "proof.pin", "otp": "proof.otp"}):
        answer = ctx.svc.bind_identifier(ctx.club_id, member_id, body.kind, body.value, idem_key=ctx.idem_key, proof=proof,
                                         actor=ctx.actor if operator else None, merchant_id=ctx.principal.merchant_id)
    return BoundOut.model_validate(answer)


@endpoint("POST", "/members/identify", tag="members", access=WRITERS, body=IdentifyIn, answer=IdentifiedOut)
def identify(ctx: Ctx, body: IdentifyIn) -> IdentifiedOut:
    """Find a member by an identifier: mobile, national code, bank card, club card, account or id.

    A POST so that a card number never sits in a URL or an access log. Searches the caller's club
    and the clubs sharing members with it through a meta-club; answers the member's id and their
    identifiers, masked."""
    if body.member.kind != "id":
        _check_identifier(ctx, body.member.kind, body.member.value, "member.value")
    with _paths({"": "member"}):
        member_id = ctx.svc.identify(ctx.club_id, body.member.model_dump())
    ctx.member(member_id, path="member")
    with ctx.svc.reading() as tx:
        identifiers = views.masked_identifiers(ctx.svc, tx, member_id)
    return IdentifiedOut(member_id=member_id, identifiers=[IdentifierOut(kind=i["kind"], display=i["display"]) for i in identifiers])


@endpoint("GET", "/members/<int:member_id>", tag="members", access=READERS, answer=ProfileOut)
def member(ctx: Ctx, member_id: int) -> ProfileOut:
    """A member's profile: name, account number, tier, groups, identifiers (masked), enrolment."""
    data = views.profile(ctx.svc, ctx.root(), ctx.member(member_id))
    return ProfileOut(
        member_id=data["member_id"], club_id=data["club_id"], name_fa=data["name_fa"], account_number=data["account_number"],
        tier=data["tier"], manual_tier=data["manual_tier"], groups=[GroupOut(**g) for g in data["groups"]],
        identifiers=[ProfileIdentifierOut(kind=i["kind"], display=i["display"], created=ctx.stamp(i["created_at"])) for i in data["identifiers"]],
        enrolled_via=data["enrolled_via"], purchase_count=data["purchase_count"], last_purchase=_maybe(ctx, data["last_purchase_at"]),
        referred=data["referred"], created=ctx.stamp(data["created_at"]))


@endpoint("GET", "/members/<int:member_id>/balances", tag="members", access=READERS, answer=BalancesOut)
def balances(ctx: Ctx, member_id: int) -> BalancesOut:
    """A member's balances: points, credit per kind and where it is valid, lottery entries, held credit.

    Accounts as the ledger keeps them (the member's own and their shared wallet's). A club that
    meets the member through a meta-club which does not share value sees none."""
    data = views.balances(ctx.svc, ctx.root(), ctx.member(member_id))
    return BalancesOut(member_id=data["member_id"], points=data["points"], credit_held_rial=data["credit_held_rial"],
                       accounts=[AccountOut(**{k: v for k, v in a.items() if k != "credit_held"}) for a in data["accounts"]])


@endpoint("GET", "/members/<int:member_id>/lots", tag="members", access=READERS, query=PageQuery, answer=Page[LotOut])
def lots(ctx: Ctx, member_id: int, query: PageQuery) -> Page[LotOut]:
    """A member's open lots with their expiry, soonest to expire first (the order spending draws them).

    Lots with nothing left are not listed; lots without expiry come last."""
    offset = after_id(query.cursor)  # lots are read in expiry order: the cursor counts them
    rows = views.lots(ctx.svc, ctx.root(), ctx.member(member_id), offset=offset, limit=query.limit)
    items = [LotOut(lot_id=r["lot_id"], account=r["account"], kind=r["kind"], unit=r["unit"], original=r["original"],
                    remaining=r["remaining"], expires=_maybe(ctx, r["expires_at"]), pending_until=_maybe(ctx, r["pending_until"]),
                    shared=r["shared"]) for r in rows]
    more = encode_cursor(offset + len(rows)) if len(rows) >= query.limit else None
    return Page[LotOut](items=items, next_cursor=more)


@endpoint("GET", "/members/<int:member_id>/tier-history", tag="members", access=READERS, query=PageQuery, answer=Page[TierMoveOut])
def tier_history(ctx: Ctx, member_id: int, query: PageQuery) -> Page[TierMoveOut]:
    """A member's tier at each period close (moved up, down, or stayed), newest first."""
    rows = views.tier_history(ctx.svc, ctx.member(member_id), before_id=after_id(query.cursor), limit=query.limit)
    items = [TierMoveOut(id=r["id"], period_end=ctx.stamp(r["period_end"]), from_tier=r["from_tier"], to_tier=r["to_tier"],
                         reason=r["reason"], period_points=r["period_points"], deducted_points=r["deducted_points"]) for r in rows]
    return Page[TierMoveOut](items=items, next_cursor=next_cursor(rows, query.limit, lambda r: int(r["id"])))


@endpoint("GET", "/members/<int:member_id>/history", tag="members", access=READERS, query=PageQuery, answer=Page[HistoryItemOut])
def history(ctx: Ctx, member_id: int, query: PageQuery) -> Page[HistoryItemOut]:
    """A member's operations in the caller's club, newest first, each with its decision's explanation.

    Every purchase, refund, reversal, conversion, charge, voucher, adjustment and expiry, with its
    amounts and why it came out so, in Persian (``explanation_fa``) and English (``explanation_en``)."""
    rows = views.history(ctx.svc, ctx.root(), ctx.member(member_id), before_id=after_id(query.cursor), limit=query.limit)
    items = [HistoryItemOut(**{k: v for k, v in r.items() if k != "created_at"}, at=ctx.stamp(r["created_at"])) for r in rows]
    return Page[HistoryItemOut](items=items, next_cursor=next_cursor(rows, query.limit, lambda r: int(r["op_id"])))


@endpoint("GET", "/members/<int:member_id>/lottery-entries", tag="members", access=READERS, query=PageQuery,
          answer=Page[LotteryEntryOut])
def lottery_entries(ctx: Ctx, member_id: int, query: PageQuery) -> Page[LotteryEntryOut]:
    """A member's lottery entries per lottery, and what they won in the lotteries drawn."""
    start = after_id(query.cursor)
    found = [e for e in views.lottery_entries(ctx.svc, ctx.root(), ctx.member(member_id)) if e["lottery_id"] > start][:query.limit]
    items = [LotteryEntryOut(lottery_id=e["lottery_id"], name_fa=e["name_fa"], status=e["status"], drawn=_maybe(ctx, e["drawn_at"]),
                             entries=e["entries"], won=[WinOut(**w) for w in e["won"]]) for e in found]
    return Page[LotteryEntryOut](items=items, next_cursor=next_cursor(found, query.limit, lambda e: int(e["lottery_id"])))


@endpoint("GET", "/members/<int:member_id>/referral-code", tag="members", access=READERS, answer=ReferralCodeOut)
def referral_code(ctx: Ctx, member_id: int) -> ReferralCodeOut:
    """A member's referral code, made on first ask (the same code every time after).

    A newcomer gives it as ``referred_by_code`` when enrolling in the member's club; how the
    introducer is credited is the club's rules' (a ``referral`` effect). Only the member's own
    club hands it out."""
    data = views.referral_code(ctx.svc, ctx.root(), ctx.member(member_id))
    return ReferralCodeOut(member_id=data["member_id"], code=data["code"], created=ctx.stamp(data["created_at"]))
