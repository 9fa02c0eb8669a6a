"""A club's structure (SPEC C1-C3, C6, S3): its tree and the meta-clubs it belongs to, sub-clubs,
marketers (management keys, of their own club tree); owners, root clubs, meta-clubs and fee tariffs
(the platform key: things above any one club)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from kimia.errors import reject
from kimia.service import structure, structure_views as views
from kimia.service.admin import Admin
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Page, PageQuery, Rial, Stamp
from kimia.web.api.paging import after_id, next_cursor

PLATFORM = {"platform"}
MANAGERS = {"management"}

NameFa = Annotated[str, Field(min_length=1, max_length=200, description="The name in Persian")]
NameEn = Annotated[str, Field(max_length=200, description="The name in English")]
BusinessType = Annotated[str | None, Field(min_length=1, max_length=50,
                                           description="The kind of business (fee tariffs are per business type)")]
#: An id in a request: a database holds none above 2**63 - 1.
Id = Annotated[int, Field(ge=1, le=views.MAX_ID)]
Sheba = Annotated[str | None, Field(max_length=40, description="An Iranian Sheba (IR + 24 digits) for settlement")]


class ClubOut(Model):
    id: int
    parent_id: int | None = Field(description="The club this is a sub-club of (null: a root club)")
    name_fa: str
    name_en: str
    business_type: str | None
    created: Stamp
    sub_clubs: list[ClubOut] = Field(description="Its sub-clubs, each with theirs")


class MetaClubOut(Model):
    id: int
    name_fa: str
    name_en: str
    share_members: bool = Field(description="The clubs' members are known in each of them")
    share_merchants: bool = Field(description="Each club's members earn and spend at the others' merchants")
    share_value: bool = Field(description="Value earned in one club is spent in the others")
    club_ids: list[Id] = Field(description="The root clubs in the meta-club")
    created: Stamp


class TreeOut(Model):
    club: ClubOut = Field(description="The caller's root club with its sub-clubs")
    meta_clubs: list[MetaClubOut] = Field(description="The meta-clubs the club belongs to and what each shares")


class ClubIn(Model):
    name_fa: NameFa
    name_en: NameEn = ""
    business_type: BusinessType = None


class RootClubIn(ClubIn):
    owner_id: Id = Field(description="The club owner (باشگاه‌دار) opening the club")


class RootClubOut(ClubOut):
    owner_id: int


class OwnerIn(Model):
    name_fa: NameFa
    name_en: NameEn = ""
    sheba: Sheba = None


class OwnerOut(Model):
    id: int
    name_fa: str
    name_en: str
    sheba: str | None
    created: Stamp


class MetaClubIn(Model):
    name_fa: NameFa
    club_ids: list[Id] = Field(min_length=2, max_length=100, description="Root clubs (at least two)")
    share_members: bool = True
    share_merchants: bool = False
    share_value: bool = False


class TariffIn(Model):
    business_type: str | None = Field(default=None, min_length=1, max_length=50, description="null: the default tariff")
    percent_bp: int = Field(ge=0, le=10_000, description="The fee in basis points of the amount (100 = 1%)")
    fixed_rial: Rial = 0
    cap_rial: Rial | None = Field(default=None, description="The most one operation pays (null: no cap)")


class TariffOut(Model):
    business_type: str | None
    percent_bp: int
    fixed_rial: int
    cap_rial: int | None


class MarketerIn(Model):
    club_id: Id | None = Field(default=None, description="A club of the caller's tree (default: the caller's club)")
    name_fa: NameFa
    sheba: Sheba = None


class MarketerOut(Model):
    id: int
    club_id: int
    name_fa: str
    sheba: str | None
    created: Stamp


def _club(ctx: Ctx, node: views.ClubNode) -> ClubOut:
    return ClubOut(id=node.id, parent_id=node.parent_id, name_fa=node.name_fa, name_en=node.name_en, business_type=node.business_type,
                   created=ctx.stamp(node.created_at), sub_clubs=[_club(ctx, c) for c in node.children])


def _meta(ctx: Ctx, meta: views.MetaClubView) -> MetaClubOut:
    return MetaClubOut(id=meta.id, name_fa=meta.name_fa, name_en=meta.name_en, share_members=meta.share_members,
                       share_merchants=meta.share_merchants, share_value=meta.share_value, club_ids=meta.club_ids,
                       created=ctx.stamp(meta.created_at))


def tree(ctx: Ctx) -> list[int]:
    """The caller's club tree (``ctx.clubs()``; its root read first, as two reads of one thread do not nest)."""
    ctx.root()
    return ctx.clubs()


def own_club(ctx: Ctx, club_id: int | None, path: str = "club_id") -> int:
    """``club_id`` if it is of the caller's tree (``unknown_club`` otherwise); None: the caller's club."""
    if club_id is None:
        return ctx.club_id
    if club_id not in tree(ctx):
        raise reject("unknown_club", path=path)
    return club_id


# --- a club's own structure (management) ---------------------------------------------------------


@endpoint("GET", "/club-tree", tag="clubs", access=MANAGERS, answer=TreeOut)
def club_tree(ctx: Ctx) -> TreeOut:
    """The caller's club tree and the meta-clubs it belongs to.

    The root club with its sub-clubs at any depth, and each meta-club the root club is in with what
    it shares (members, merchants, value) and its clubs."""
    root = ctx.root()
    return TreeOut(club=_club(ctx, views.club_tree(ctx.svc, tree(ctx))),
                   meta_clubs=[_meta(ctx, m) for m in views.meta_clubs_of(ctx.svc, root)])


@endpoint("POST", "/clubs/<int:club_id>/sub-clubs", tag="clubs", access=MANAGERS, body=ClubIn, answer=ClubOut, status=201)
def create_sub_club(ctx: Ctx, club_id: int, body: ClubIn) -> ClubOut:
    """Make a sub-club under a club of the caller's tree.

    The sub-club has the owner of the club it is under, shares its ledger (value is kept per root
    club) and may have its own merchants and sub-clubs."""
    parent = own_club(ctx, club_id)
    new_id = structure.create_sub_club(ctx.svc, parent, body.name_fa, name_en=body.name_en, business_type=body.business_type,
                                       actor=ctx.actor)
    return _club(ctx, views.club_tree(ctx.svc, [new_id]))


@endpoint("POST", "/marketers", tag="clubs", access=MANAGERS, body=MarketerIn, answer=MarketerOut, status=201)
def create_marketer(ctx: Ctx, body: MarketerIn) -> MarketerOut:
    """Add a marketer (بازاریاب) who brings merchants to a club of the caller's tree (S3)."""
    club_id = own_club(ctx, body.club_id)
    sheba = structure.valid_sheba(body.sheba)
    new_id = Admin(ctx.svc).create_marketer(club_id, body.name_fa, sheba=sheba, actor=ctx.actor)
    found = [m for m in views.list_marketers(ctx.svc, [club_id], after_id=new_id - 1, limit=1)]
    return _marketer(ctx, found[0])


def _marketer(ctx: Ctx, row: views.MarketerView) -> MarketerOut:
    return MarketerOut(id=row.id, club_id=row.club_id, name_fa=row.name_fa, sheba=row.sheba, created=ctx.stamp(row.created_at))


@endpoint("GET", "/marketers", tag="clubs", access=MANAGERS, query=PageQuery, answer=Page[MarketerOut])
def list_marketers(ctx: Ctx, query: PageQuery) -> Page[MarketerOut]:
    """The marketers of the caller's club tree, oldest first."""
    rows = views.list_marketers(ctx.svc, tree(ctx), after_id=after_id(query.cursor), limit=query.limit)
    return Page[MarketerOut](items=[_marketer(ctx, r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


# --- the platform --------------------------------------------------------------------------------


def _owner(ctx: Ctx, row: views.OwnerView) -> OwnerOut:
    return OwnerOut(id=row.id, name_fa=row.name_fa, name_en=row.name_en, sheba=row.sheba, created=ctx.stamp(row.created_at))


@endpoint("POST", "/owners", tag="clubs", access=PLATFORM, body=OwnerIn, answer=OwnerOut, status=201)
def create_owner(ctx: Ctx, body: OwnerIn) -> OwnerOut:
    """Add a club owner (باشگاه‌دار): a business that opens clubs on the platform (platform key)."""
    sheba = structure.valid_sheba(body.sheba)
    new_id = Admin(ctx.svc).create_owner(body.name_fa, name_en=body.name_en, sheba=sheba, actor=ctx.actor)
    return _owner(ctx, views.list_owners(ctx.svc, after_id=new_id - 1, limit=1)[0])


@endpoint("GET", "/owners", tag="clubs", access=PLATFORM, query=PageQuery, answer=Page[OwnerOut])
def list_owners(ctx: Ctx, query: PageQuery) -> Page[OwnerOut]:
    """The club owners of the platform, oldest first (platform key)."""
    rows = views.list_owners(ctx.svc, after_id=after_id(query.cursor), limit=query.limit)
    return Page[OwnerOut](items=[_owner(ctx, r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


def _root_club(ctx: Ctx, owner_id: int, node: views.ClubNode) -> RootClubOut:
    return RootClubOut(**_club(ctx, node).model_dump(), owner_id=owner_id)


@endpoint("POST", "/clubs", tag="clubs", access=PLATFORM, body=RootClubIn, answer=RootClubOut, status=201)
def create_club(ctx: Ctx, body: RootClubIn) -> RootClubOut:
    """Open a root club for an owner (platform key).

    The club then gets its management key (POST /api-keys with its ``club_id``) and is run from it."""
    new_id = structure.create_root_club(ctx.svc, body.owner_id, body.name_fa, name_en=body.name_en, business_type=body.business_type,
                                        actor=ctx.actor)
    return _root_club(ctx, body.owner_id, views.club_tree(ctx.svc, [new_id]))


@endpoint("GET", "/clubs", tag="clubs", access=PLATFORM, query=PageQuery, answer=Page[RootClubOut])
def list_clubs(ctx: Ctx, query: PageQuery) -> Page[RootClubOut]:
    """The root clubs of the platform, oldest first, without their sub-clubs (platform key)."""
    rows = views.list_root_clubs(ctx.svc, after_id=after_id(query.cursor), limit=query.limit)
    return Page[RootClubOut](items=[_root_club(ctx, owner, node) for owner, node in rows],
                             next_cursor=next_cursor(rows, query.limit, lambda r: r[1].id))


@endpoint("POST", "/meta-clubs", tag="clubs", access=PLATFORM, body=MetaClubIn, answer=MetaClubOut, status=201)
def create_meta_club(ctx: Ctx, body: MetaClubIn) -> MetaClubOut:
    """Make a meta-club (فراباشگاه) of root clubs sharing members, merchants and/or value (C3; platform key)."""
    if len(set(body.club_ids)) != len(body.club_ids):
        raise reject("field_invalid", path="club_ids", detail="a club is named twice")
    new_id = structure.create_meta_club(ctx.svc, body.name_fa, body.club_ids, share_members=body.share_members,
                                        share_merchants=body.share_merchants, share_value=body.share_value, actor=ctx.actor)
    return _meta(ctx, views.list_meta_clubs(ctx.svc, after_id=new_id - 1, limit=1)[0])


@endpoint("GET", "/meta-clubs", tag="clubs", access=PLATFORM, query=PageQuery, answer=Page[MetaClubOut])
def list_meta_clubs(ctx: Ctx, query: PageQuery) -> Page[MetaClubOut]:
    """The meta-clubs of the platform with what each shares, oldest first (platform key)."""
    rows = views.list_meta_clubs(ctx.svc, after_id=after_id(query.cursor), limit=query.limit)
    return Page[MetaClubOut](items=[_meta(ctx, r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


def _tariff(row: views.TariffView) -> TariffOut:
    return TariffOut(business_type=row.business_type, percent_bp=row.percent_bp, fixed_rial=row.fixed_rial, cap_rial=row.cap_rial)


@endpoint("PUT", "/fee-tariffs", tag="clubs", access=PLATFORM, body=TariffIn, answer=TariffOut)
def set_fee_tariff(ctx: Ctx, body: TariffIn) -> TariffOut:
    """Set the platform's fee (کارمزد) for a business type, or the default one (C6; platform key).

    Setting it again replaces it; the same request twice leaves the same tariff."""
    Admin(ctx.svc).set_fee_tariff(body.business_type, percent_bp=body.percent_bp, fixed_rial=body.fixed_rial, cap_rial=body.cap_rial,
                                  actor=ctx.actor)
    return TariffOut(**body.model_dump())


@endpoint("GET", "/fee-tariffs", tag="clubs", access=PLATFORM, query=PageQuery, answer=Page[TariffOut])
def list_fee_tariffs(ctx: Ctx, query: PageQuery) -> Page[TariffOut]:
    """The platform's fee tariffs (the default has ``business_type`` null; platform key)."""
    rows = views.list_fee_tariffs(ctx.svc, after_id=after_id(query.cursor), limit=query.limit)
    return Page[TariffOut](items=[_tariff(r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))
