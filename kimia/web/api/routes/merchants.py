"""Merchants (پذیرنده), their branches and terminals (with their MAC keys), and merchant groups
(SPEC C4, C5): a club's management key runs those of its own club tree.

An integration key may read the club's merchants and their branches (what a cash register or a
site needs to name where a purchase happens), never change them; a key bound to a merchant sees
only that merchant, and one bound to a branch its merchant and that branch only. Terminals, their
keys and groups are the management key's only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kimia.errors import reject
from kimia.service import structure, structure_views as views
from kimia.service.admin import Admin
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Page, PageQuery, Stamp
from kimia.web.api.paging import after_id, next_cursor
from kimia.web.api.routes.clubs import BusinessType, Id, NameEn, NameFa, Sheba, own_club, tree

MANAGERS = {"management"}
#: Who may read merchants and branches: the back office and the club's integrations.
READERS = {"management", "integration"}

#: A MAC key in hex: 32 hex digits (AES-128) or 64 (AES-256).
KeyHex = Annotated[str, Field(pattern=r"^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})$",
                              description="The MAC key in hex (32 digits: AES-128, 64: AES-256); never stored in clear nor answered")]


class MerchantIn(Model):
    club_id: Id | None = Field(default=None, description="A club of the caller's tree (default: the caller's club)")
    name_fa: NameFa
    name_en: NameEn = ""
    business_type: BusinessType = None
    sheba: Sheba = None
    marketer_id: Id | None = Field(default=None, description="The marketer who brought the merchant (S3)")


class MerchantChangeIn(Model):
    """Only the fields given change."""

    name_fa: NameFa | None = None
    name_en: NameEn | None = None
    business_type: BusinessType = None


class MerchantOut(Model):
    id: int
    club_id: int
    name_fa: str
    name_en: str
    business_type: str | None
    sheba: str | None = Field(description="The merchant's settlement account; shown to management keys only (null for others)")
    marketer_id: int | None
    active: bool
    created: Stamp


class BranchIn(Model):
    name_fa: NameFa


class BranchOut(Model):
    id: int
    merchant_id: int
    name_fa: str


class TerminalIn(Model):
    terminal_code: str = Field(min_length=1, max_length=8, pattern=r"^\S+$", description="The terminal id (ISO 8583 field 41)")
    merchant_code: str = Field(min_length=1, max_length=15, pattern=r"^\S+$", description="The merchant id (ISO 8583 field 42)")
    kind: Literal["pos", "pcpos"] = Field(default="pos", description="pos: a card terminal; pcpos: a cash register")
    branch_id: Id | None = Field(default=None, description="A branch of the same merchant")
    mac_key_hex: KeyHex | None = None


class TerminalOut(Model):
    id: int
    terminal_code: str
    merchant_code: str
    merchant_id: int
    branch_id: int | None
    kind: str
    active: bool
    mac_key_version: int = Field(description="0: no key yet; +1 at each new key")
    mac_key_kcv: str | None = Field(description="The key's check value (3 bytes of AES(key, 0), hex): names the key without it")


class MacKeyIn(Model):
    key_hex: KeyHex


class GroupIn(Model):
    name_fa: NameFa
    name_en: NameEn = ""
    ids: list[Id] = Field(default_factory=list, max_length=10_000, description="Its first members")


class GroupChangeIn(Model):
    add: list[Id] = Field(default_factory=list, max_length=10_000)
    remove: list[Id] = Field(default_factory=list, max_length=10_000)


class GroupOut(Model):
    id: int
    club_id: int
    name_fa: str
    name_en: str
    size: int = Field(description="How many it holds")


class MerchantGroupOut(GroupOut):
    merchant_ids: list[int]


def _merchant(ctx: Ctx, row: views.MerchantView) -> MerchantOut:
    return MerchantOut(id=row.id, club_id=row.club_id, name_fa=row.name_fa, name_en=row.name_en, business_type=row.business_type,
                       sheba=row.sheba if ctx.principal.kind == "management" else None, marketer_id=row.marketer_id, active=row.active, created=ctx.stamp(row.created_at))


def bound_merchant(ctx: Ctx) -> int | None:
    """The one merchant a key bound to a merchant, or to one of its branches, acts as (None: unbound)."""
    if ctx.principal.merchant_id is not None:
        return ctx.principal.merchant_id
    if ctx.principal.branch_id is not None:
        return views.merchant_of_branch(ctx.svc, ctx.principal.branch_id)
    return None


def own_merchant(ctx: Ctx, merchant_id: int) -> views.MerchantView:
    """A merchant of the caller's tree (a key bound to a merchant or a branch: that merchant only),
    else ``unknown_merchant``."""
    bound = bound_merchant(ctx)
    if bound is not None and bound != merchant_id:
        raise reject("unknown_merchant", path="merchant_id")
    return views.merchant(ctx.svc, tree(ctx), merchant_id)


# --- merchants -----------------------------------------------------------------------------------


@endpoint("GET", "/merchants", tag="merchants", access=READERS, query=PageQuery, answer=Page[MerchantOut])
def list_merchants(ctx: Ctx, query: PageQuery) -> Page[MerchantOut]:
    """The merchants of the caller's club tree, oldest first (a key bound to a merchant or a branch: that merchant only)."""
    rows = views.list_merchants(ctx.svc, tree(ctx), after_id=after_id(query.cursor), limit=query.limit, only=bound_merchant(ctx))
    return Page[MerchantOut](items=[_merchant(ctx, r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("GET", "/merchants/<int:merchant_id>", tag="merchants", access=READERS, answer=MerchantOut)
def get_merchant(ctx: Ctx, merchant_id: int) -> MerchantOut:
    """A merchant of the caller's club tree."""
    return _merchant(ctx, own_merchant(ctx, merchant_id))


@endpoint("POST", "/merchants", tag="merchants", access=MANAGERS, body=MerchantIn, answer=MerchantOut, status=201)
def create_merchant(ctx: Ctx, body: MerchantIn) -> MerchantOut:
    """Add a merchant to a club of the caller's tree.

    Its marketer, if any, must be of the caller's tree (``foreign_reference`` otherwise)."""
    club_id = own_club(ctx, body.club_id)
    sheba = structure.valid_sheba(body.sheba)
    new_id = Admin(ctx.svc).create_merchant(club_id, body.name_fa, name_en=body.name_en, business_type=body.business_type,
                                            sheba=sheba, marketer_id=body.marketer_id, actor=ctx.actor)
    return _merchant(ctx, views.merchant(ctx.svc, tree(ctx), new_id))


@endpoint("PUT", "/merchants/<int:merchant_id>", tag="merchants", access=MANAGERS, body=MerchantChangeIn, answer=MerchantOut)
def update_merchant(ctx: Ctx, merchant_id: int, body: MerchantChangeIn) -> MerchantOut:
    """Rename a merchant or change its business type (only the fields given change)."""
    own_merchant(ctx, merchant_id)
    changes = body.model_dump(exclude_unset=True)
    for column in ("name_fa", "name_en"):
        if column in changes and changes[column] is None:
            raise reject("field_invalid", path=column, detail="a name cannot be null")
    structure.update_merchant(ctx.svc, merchant_id, changes, actor=ctx.actor)
    return _merchant(ctx, views.merchant(ctx.svc, tree(ctx), merchant_id))


# --- branches ------------------------------------------------------------------------------------


def _branch(row: views.BranchView) -> BranchOut:
    return BranchOut(id=row.id, merchant_id=row.merchant_id, name_fa=row.name_fa)


@endpoint("GET", "/merchants/<int:merchant_id>/branches", tag="merchants", access=READERS, query=PageQuery, answer=Page[BranchOut])
def list_branches(ctx: Ctx, merchant_id: int, query: PageQuery) -> Page[BranchOut]:
    """The branches of a merchant of the caller's club tree (a key bound to a branch: that branch only)."""
    own_merchant(ctx, merchant_id)
    rows = views.list_branches(ctx.svc, merchant_id, after_id=after_id(query.cursor), limit=query.limit, only=ctx.principal.branch_id)
    return Page[BranchOut](items=[_branch(r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("POST", "/merchants/<int:merchant_id>/branches", tag="merchants", access=MANAGERS, body=BranchIn, answer=BranchOut,
          status=201)
def create_branch(ctx: Ctx, merchant_id: int, body: BranchIn) -> BranchOut:
    """Add a branch to a merchant of the caller's club tree."""
    own_merchant(ctx, merchant_id)
    new_id = Admin(ctx.svc).create_branch(merchant_id, body.name_fa, actor=ctx.actor)
    return BranchOut(id=new_id, merchant_id=merchant_id, name_fa=body.name_fa)


# --- terminals -----------------------------------------------------------------------------------


def _terminal(row: views.TerminalView) -> TerminalOut:
    return TerminalOut(id=row.id, terminal_code=row.terminal_code, merchant_code=row.merchant_code, merchant_id=row.merchant_id,
                       branch_id=row.branch_id, kind=row.kind, active=row.active, mac_key_version=row.mac_key_version,
                       mac_key_kcv=row.mac_key_kcv)


@endpoint("GET", "/merchants/<int:merchant_id>/terminals", tag="merchants", access=MANAGERS, query=PageQuery,
          answer=Page[TerminalOut])
def list_terminals(ctx: Ctx, merchant_id: int, query: PageQuery) -> Page[TerminalOut]:
    """The terminals of a merchant of the caller's club tree, with their keys' versions and check values."""
    own_merchant(ctx, merchant_id)
    rows = views.list_terminals(ctx.svc, merchant_id, after_id=after_id(query.cursor), limit=query.limit)
    return Page[TerminalOut](items=[_terminal(r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("POST", "/merchants/<int:merchant_id>/terminals", tag="merchants", access=MANAGERS, body=TerminalIn, answer=TerminalOut,
          status=201)
def register_terminal(ctx: Ctx, merchant_id: int, body: TerminalIn) -> TerminalOut:
    """Register a terminal (a card terminal or a cash register) of a merchant of the caller's club tree.

    The terminal host accepts only registered terminals (fields 41 + 42). Its MAC key, when given,
    is stored only wrapped under the operator's key-encryption key; the answer holds its check
    value (KCV), never the key. A pair of ids already registered is refused (``terminal_taken``)."""
    own_merchant(ctx, merchant_id)
    key = bytes.fromhex(body.mac_key_hex) if body.mac_key_hex is not None else None
    new_id = structure.register_terminal(ctx.svc, merchant_id, body.terminal_code, body.merchant_code, kind=body.kind,
                                         branch_id=body.branch_id, mac_key=key, actor=ctx.actor)
    return _terminal(views.terminal(ctx.svc, tree(ctx), new_id))


@endpoint("GET", "/terminals/<int:terminal_id>", tag="merchants", access=MANAGERS, answer=TerminalOut)
def get_terminal(ctx: Ctx, terminal_id: int) -> TerminalOut:
    """A terminal of a merchant of the caller's club tree."""
    return _terminal(views.terminal(ctx.svc, tree(ctx), terminal_id))


@endpoint("PUT", "/terminals/<int:terminal_id>/mac-key", tag="merchants", access=MANAGERS, body=MacKeyIn, answer=TerminalOut)
def set_mac_key(ctx: Ctx, terminal_id: int, body: MacKeyIn) -> TerminalOut:
    """Give a terminal its MAC key, or a new one (rotation).

    The key is given once, here; it is stored only wrapped under the operator's key-encryption key
    with the next version, never answered nor logged: the answer names it by its check value
    (``mac_key_kcv``). The previous key stops being accepted at once (a terminal that changes its
    own key does so with an 0800, keeping the old one for a while)."""
    views.terminal(ctx.svc, tree(ctx), terminal_id)
    structure.set_mac_key(ctx.svc, terminal_id, bytes.fromhex(body.key_hex), actor=ctx.actor)
    return _terminal(views.terminal(ctx.svc, tree(ctx), terminal_id))


# --- merchant groups -----------------------------------------------------------------------------


def merchant_group_out(ctx: Ctx, row: views.GroupView) -> MerchantGroupOut:
    merchants = views.group_members(ctx.svc, "merchant", row.id, after_id=0, limit=10_000)
    return MerchantGroupOut(id=row.id, club_id=row.club_id, name_fa=row.name_fa, name_en=row.name_en, size=row.size,
                            merchant_ids=merchants)


@endpoint("POST", "/merchant-groups", tag="merchants", access=MANAGERS, body=GroupIn, answer=MerchantGroupOut, status=201)
def create_merchant_group(ctx: Ctx, body: GroupIn) -> MerchantGroupOut:
    """Make a group of merchants (``ids``) of the caller's club tree, or shared with it by a meta-club.

    Rules name a group to apply to all its merchants at once."""
    new_id = structure.create_group(ctx.svc, "merchant", ctx.club_id, body.name_fa, body.ids, name_en=body.name_en, actor=ctx.actor)
    return merchant_group_out(ctx, views.group(ctx.svc, "merchant", tree(ctx), new_id))


@endpoint("GET", "/merchant-groups", tag="merchants", access=MANAGERS, query=PageQuery, answer=Page[GroupOut])
def list_merchant_groups(ctx: Ctx, query: PageQuery) -> Page[GroupOut]:
    """The merchant groups of the caller's club tree, with their sizes."""
    rows = views.list_groups(ctx.svc, "merchant", tree(ctx), after_id=after_id(query.cursor), limit=query.limit)
    return Page[GroupOut](items=[GroupOut(**vars(r)) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("GET", "/merchant-groups/<int:group_id>", tag="merchants", access=MANAGERS, answer=MerchantGroupOut)
def get_merchant_group(ctx: Ctx, group_id: int) -> MerchantGroupOut:
    """A merchant group of the caller's club tree with its merchants."""
    return merchant_group_out(ctx, views.group(ctx.svc, "merchant", tree(ctx), group_id))


@endpoint("PUT", "/merchant-groups/<int:group_id>/merchants", tag="merchants", access=MANAGERS, body=GroupChangeIn,
          answer=MerchantGroupOut)
def change_merchant_group(ctx: Ctx, group_id: int, body: GroupChangeIn) -> MerchantGroupOut:
    """Add merchants to a group and take others out.

    Adding a merchant already in, or taking out one not in, changes nothing, so the same request
    twice leaves the same group. Merchants added must be of the caller's tree or shared with it."""
    found = views.group(ctx.svc, "merchant", tree(ctx), group_id)
    structure.change_group(ctx.svc, "merchant", found.club_id, group_id, add=body.add, remove=body.remove, actor=ctx.actor)
    return merchant_group_out(ctx, views.group(ctx.svc, "merchant", tree(ctx), group_id))
