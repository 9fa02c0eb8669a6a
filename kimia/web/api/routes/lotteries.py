"""Lotteries (R10) as a club's back office runs them: opened with a commitment to a secret seed
(its SHA-256; the club keeps the seed), entries won by purchases under the club's rules, and a
draw that reveals the seed, so anyone can recompute the winners from the seed and the entries.
Members see their own entries through the members area, not here."""

from __future__ import annotations

from pydantic import Field

from kimia.errors import reject
from kimia.service import backoffice_views as views
from kimia.service.admin import Admin
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Page, PageQuery, Stamp
from kimia.web.api.paging import after_id, next_cursor

MANAGERS = {"management"}


class LotteryIn(Model):
    name_fa: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    prizes: list[str] = Field(min_length=1, max_length=1_000, description="The prizes in rank order: one winner is drawn for each")
    seed_commitment: str = Field(pattern="^[0-9a-f]{64}$",
                                 description="SHA-256 (lowercase hex) of the secret seed the club keeps and reveals at the draw")
    club_id: int | None = Field(default=None, ge=1, description="The caller's club or one of its sub-clubs (default: the caller's)")
    reason: str = Field(default="", max_length=500, description="Why, for the audit log (optional)")


class DrawIn(Model):
    seed: str = Field(min_length=1, max_length=128, description="The secret seed whose SHA-256 was committed at the opening")


class WinnerOut(Model):
    rank: int
    member_id: int
    prize: str


class LotteryOut(Model):
    id: int
    club_id: int
    name_fa: str
    name_en: str
    prizes: list[str]
    seed_commitment: str | None = Field(description="SHA-256 of the seed, committed when the lottery opened")
    seed: str | None = Field(description="The seed, revealed by the draw (null before it)")
    status: str = Field(description="open or drawn")
    drawn: Stamp | None
    entries: int = Field(description="Entries held for this lottery by the members who may win it")
    entrants: int = Field(description="Members holding at least one entry")
    winners: list[WinnerOut]


def _out(ctx: Ctx, view: views.LotteryView) -> LotteryOut:
    return LotteryOut(id=view.id, club_id=view.club_id, name_fa=view.name_fa, name_en=view.name_en, prizes=view.prizes,
                      seed_commitment=view.seed_commitment, seed=view.seed, status=view.status,
                      drawn=ctx.stamp(view.drawn_at) if view.drawn_at is not None else None, entries=view.entries,
                      entrants=view.entrants, winners=[WinnerOut(**vars(w)) for w in view.winners])


@endpoint("POST", "/lotteries", tag="lotteries", access=MANAGERS, body=LotteryIn, answer=LotteryOut, status=201)
def open_lottery(ctx: Ctx, body: LotteryIn) -> LotteryOut:
    """Open a lottery, committing now to the SHA-256 of a secret seed.

    The club keeps the seed and sends only its SHA-256 (``seed_commitment``); the draw reveals
    it. Rules give entries in it from then on (a rule's ``lottery`` effect names its id).
    A sub-club's lottery is opened by naming it in ``club_id`` (another club is ``unknown_club``).
    Recorded in the audit log."""
    club_id = ctx.club_id if body.club_id is None else body.club_id
    if club_id not in ctx.clubs():
        raise reject("unknown_club", path="club_id")
    lottery_id = Admin(ctx.svc).open_lottery(club_id, body.name_fa, name_en=body.name_en, prizes=body.prizes,
                                             seed_commitment=body.seed_commitment, actor=ctx.actor,
                                             reason=body.reason)
    return _out(ctx, views.lottery(ctx.svc, ctx.root(), lottery_id))


@endpoint("GET", "/lotteries", tag="lotteries", access=MANAGERS, query=PageQuery, answer=Page[LotteryOut])
def list_lotteries(ctx: Ctx, query: PageQuery) -> Page[LotteryOut]:
    """The lotteries of the caller's club and its sub-clubs, oldest first, with their entries."""
    rows = views.lotteries(ctx.svc, ctx.root(), after_id=after_id(query.cursor), limit=query.limit)
    return Page[LotteryOut](items=[_out(ctx, r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("GET", "/lotteries/<int:lottery_id>", tag="lotteries", access=MANAGERS, answer=LotteryOut)
def get_lottery(ctx: Ctx, lottery_id: int) -> LotteryOut:
    """One lottery: its commitment, its entries, and once drawn its seed and winners.

    Another club's lottery is ``unknown_lottery``, as one that does not exist."""
    return _out(ctx, views.lottery(ctx.svc, ctx.root(), lottery_id))


@endpoint("POST", "/lotteries/<int:lottery_id>/draw", tag="lotteries", access=MANAGERS, body=DrawIn, answer=LotteryOut)
def draw(ctx: Ctx, lottery_id: int, body: DrawIn) -> LotteryOut:
    """Draw the winners by revealing the seed.

    The seed's SHA-256 must be the commitment (else ``seed_mismatch``, and nothing is drawn);
    the winners follow from the seed and the entries alone, weighted by entries, one per prize,
    without repeats. A lottery is drawn once (``lottery_not_open`` after); one without entries
    is ``no_entries``. Recorded in the audit log with the winners."""
    ctx.svc.draw_lottery(ctx.club_id, lottery_id, body.seed, actor=ctx.actor)
    return _out(ctx, views.lottery(ctx.svc, ctx.root(), lottery_id))


@endpoint("GET", "/lotteries/<int:lottery_id>/winners", tag="lotteries", access=MANAGERS, query=PageQuery, answer=Page[WinnerOut])
def winners(ctx: Ctx, lottery_id: int, query: PageQuery) -> Page[WinnerOut]:
    """The winners of a drawn lottery in rank order (none before the draw); the cursor is the rank."""
    start = after_id(query.cursor)
    ranked = [w for w in views.lottery(ctx.svc, ctx.root(), lottery_id).winners if w.rank > start][: query.limit]
    return Page[WinnerOut](items=[WinnerOut(**vars(w)) for w in ranked], next_cursor=next_cursor(ranked, query.limit, lambda w: w.rank))
