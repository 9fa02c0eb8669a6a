"""A club's tiers (SPEC V6–V11): the tier settings, and the tier period: when it last closed, what
closing it now would do, and closing it.

Tiers are the root club's (one ledger, one period for the whole tree): a key of the root club
changes them or closes the period; a sub-club's management key reads them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kimia.errors import reject
from kimia.service import tiers
from kimia.service.admin import Admin
from kimia.service.clubs import club_settings
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Stamp
from kimia.web.api.routes.rules import parse_time

MANAGERS = {"management"}
#: A period shorter than this is refused unless ``force`` (as ``kimia close-period`` does).
MIN_PERIOD_S = 86_400


def tiers_club(ctx: Ctx, *, write: bool = False) -> int:
    """The club whose tiers the caller manages: its root club; changing them takes a key of the root."""
    ctx.require("management", action="manage tiers")
    root = ctx.root()
    if write and ctx.club_id != root:
        raise reject("forbidden", action="change the tiers of the parent club")
    return root


class TierIn(Model):
    """One tier, in rank order (lowest first)."""

    name: str = Field(min_length=1, max_length=50)
    rise_at: int = Field(default=0, ge=0, le=10**15, description="Period points needed to rise into this tier")
    stay_at: int = Field(default=0, ge=0, le=10**15, description="Period points needed to stay in this tier")
    grace_periods: int = Field(default=0, ge=0, le=1000, description="Periods a member below stay_at may keep this tier")
    deduct_bp: int = Field(default=0, ge=0, le=10_000, description="Share of the period's points taken off at period end (bp)")


class TiersOut(Model):
    tiers: list[TierIn] = Field(description="Lowest first; empty: the club has no tiers")


class TiersIn(Model):
    tiers: list[TierIn] = Field(min_length=1, max_length=100, description="Lowest first; rise_at must not decrease")
    reason: str = Field(min_length=1, max_length=500, description="Why, for the audit log")


def _tiers(ctx: Ctx, club: int) -> TiersOut:
    with ctx.svc.reading() as tx:
        config = club_settings(tx, club).get("tiers") or {}
    return TiersOut(tiers=[TierIn.model_validate(t) for t in config.get("tiers", [])])


@endpoint("GET", "/tiers", tag="tiers", access=MANAGERS, answer=TiersOut)
def get_tiers(ctx: Ctx) -> TiersOut:
    """The club's tiers: each tier's thresholds to rise and stay, grace periods and period-end deduction."""
    return _tiers(ctx, tiers_club(ctx))


@endpoint("PUT", "/tiers", tag="tiers", access=MANAGERS, body=TiersIn, answer=TiersOut)
def put_tiers(ctx: Ctx, body: TiersIn) -> TiersOut:
    """Replace the club's tiers (validated by the core: 1 to 100 tiers, rise_at not decreasing), audited with the reason.

    Members keep their tier until the next period close places them among the new tiers."""
    club = tiers_club(ctx, write=True)
    names = [t.name for t in body.tiers]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise reject("field_invalid", path=f"tiers.{i}.name", detail="two tiers have this name")
    config = {"tiers": [t.model_dump() for t in body.tiers]}
    Admin(ctx.svc).update_settings(club, {"tiers": config}, actor=ctx.actor, reason=body.reason)
    return _tiers(ctx, club)


class PeriodOut(Model):
    last_close: Stamp | None = Field(description="The end of the last period closed (null: never closed)")
    unfinished_close: Stamp | None = Field(
        description="The end of a close that stopped half-way, finished by the next close (null: none)")
    next_close_from: Stamp | None = Field(
        description="The earliest period end a close accepts without force (a day after the last)")


@endpoint("GET", "/tiers/period", tag="tiers", access=MANAGERS, answer=PeriodOut)
def period(ctx: Ctx) -> PeriodOut:
    """The club's tier period: when it last closed, and any close still to finish.

    kimia closes a period when the club asks (``POST /tiers/period/close``), not on a schedule: the
    next close is the one the club makes, at the earliest a day after the last (or with force)."""
    last, unfinished = ctx.svc.period_closes(tiers_club(ctx))
    return PeriodOut(last_close=ctx.stamp(last) if last is not None else None,
                     unfinished_close=ctx.stamp(unfinished) if unfinished is not None else None,
                     next_close_from=ctx.stamp(last + MIN_PERIOD_S) if last is not None else None)


class CloseIn(Model):
    period_end: str | None = Field(default=None, max_length=40, description="ISO 8601 with its UTC offset; default now")
    force: bool = Field(default=False, description="Close even if the last close was less than a day earlier")


class MoveOut(Model):
    from_tier: str | None
    to_tier: str
    members: int


class ClosePreviewOut(Model):
    period_end: Stamp
    reasons: dict[str, int] = Field(description="Members per reason: up, down, stay, grace, frozen, manual")
    moves: list[MoveOut] = Field(description="Members changing tier, per (from, to)")
    deducted_points: int = Field(description="Points the close would take off")


class CloseOut(Model):
    period_end: Stamp
    reasons: dict[str, int] = Field(description="Members per reason: up, down, stay, grace, frozen, manual")


def period_end_of(ctx: Ctx, club: int, body: CloseIn) -> int:
    """The period end a close takes: an unfinished close's own; else the one asked, not in the
    future, after the last close (by a day unless ``force``)."""
    now = ctx.svc.clock()
    end = parse_time(body.period_end, "period_end") if body.period_end else now
    if end > now + 60:
        raise reject("period_end_in_future", path="period_end")
    last, unfinished = ctx.svc.period_closes(club)
    if unfinished is not None:
        return unfinished
    if last is not None and end <= last:
        raise reject("period_already_closed", path="period_end", period_end=ctx.stamp(last).at)
    if last is not None and end - last < MIN_PERIOD_S and not body.force:
        raise reject("period_too_short", path="period_end", club=club, last=ctx.stamp(last).at)
    return end


@endpoint("POST", "/tiers/period/preview", tag="tiers", access=MANAGERS, body=CloseIn, answer=ClosePreviewOut, idempotency="service")
def preview_close(ctx: Ctx, body: CloseIn) -> ClosePreviewOut:
    """What closing the tier period would do now: members per reason, tier moves, points deducted.

    Nothing is written, so nothing is kept under the Idempotency-Key."""
    club = tiers_club(ctx)
    end = period_end_of(ctx, club, body)
    found: dict[str, Any] = tiers.preview_close(ctx.svc, club, end)
    return ClosePreviewOut(period_end=ctx.stamp(end), reasons=found["reasons"], deducted_points=found["deducted_points"],
                           moves=[MoveOut(from_tier=m["from"], to_tier=m["to"], members=m["members"]) for m in found["moves"]])


@endpoint("POST", "/tiers/period/close", tag="tiers", access=MANAGERS, body=CloseIn, answer=CloseOut)
def close(ctx: Ctx, body: CloseIn) -> CloseOut:
    """Close the tier period: move members between tiers, apply grace, deduct points (``kimia close-period``).

    A close that stopped half-way is finished first, with its own period end. A retry with the same
    Idempotency-Key gets the first answer; a new close of a period already closed is refused."""
    club = tiers_club(ctx, write=True)
    end = period_end_of(ctx, club, body)
    counts = ctx.svc.close_period(club, end, actor=ctx.actor)
    return CloseOut(period_end=ctx.stamp(end), reasons=counts)


class MoveIn(Model):
    tier: str = Field(min_length=1, max_length=50, description="One of the club's tiers")
    reason: str = Field(min_length=1, max_length=500, description="Why, for the audit log")


class MovedOut(Model):
    member_id: int
    from_tier: str | None
    to_tier: str


@endpoint("POST", "/members/<int:member_id>/tier", tag="tiers", access=MANAGERS, body=MoveIn, answer=MovedOut)
def move_member(ctx: Ctx, member_id: int, body: MoveIn) -> MovedOut:
    """Move a member to a tier by hand, with a reason (audited as ``move_tier``).

    The member is in the tier at once; the next period close keeps them there (reason ``manual``)
    and later closes place them by their points again. A member of another club (even one shared
    through a meta-club) is not found."""
    club = tiers_club(ctx, write=True)
    moved = tiers.move_tier(ctx.svc, club, member_id, body.tier, actor=ctx.actor, reason=body.reason)
    return MovedOut.model_validate(moved)
