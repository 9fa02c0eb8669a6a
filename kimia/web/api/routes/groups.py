"""Member groups (SPEC M-groups, used by rules and conversion ratios): made, listed and changed by
a club's management key, of its own members or members a meta-club shares with it."""

from __future__ import annotations

from kimia.service import structure, structure_views as views
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Page, PageQuery
from kimia.web.api.paging import after_id, next_cursor
from kimia.web.api.routes.clubs import tree
from kimia.web.api.routes.merchants import GroupChangeIn, GroupIn, GroupOut

MANAGERS = {"management"}


class MemberIdOut(Model):
    member_id: int


@endpoint("POST", "/member-groups", tag="groups", access=MANAGERS, body=GroupIn, answer=GroupOut, status=201)
def create_member_group(ctx: Ctx, body: GroupIn) -> GroupOut:
    """Make a group of members (``ids``) of the caller's club, or shared with it by a meta-club.

    Rules (multipliers, conditions) and conversion ratios name groups to treat their members apart."""
    new_id = structure.create_group(ctx.svc, "member", ctx.club_id, body.name_fa, body.ids, name_en=body.name_en, actor=ctx.actor)
    return GroupOut(**vars(views.group(ctx.svc, "member", tree(ctx), new_id)))


@endpoint("GET", "/member-groups", tag="groups", access=MANAGERS, query=PageQuery, answer=Page[GroupOut])
def list_member_groups(ctx: Ctx, query: PageQuery) -> Page[GroupOut]:
    """The member groups of the caller's club tree, with their sizes."""
    rows = views.list_groups(ctx.svc, "member", tree(ctx), after_id=after_id(query.cursor), limit=query.limit)
    return Page[GroupOut](items=[GroupOut(**vars(r)) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("GET", "/member-groups/<int:group_id>", tag="groups", access=MANAGERS, answer=GroupOut)
def get_member_group(ctx: Ctx, group_id: int) -> GroupOut:
    """A member group of the caller's club tree, with its size."""
    return GroupOut(**vars(views.group(ctx.svc, "member", tree(ctx), group_id)))


@endpoint("GET", "/member-groups/<int:group_id>/members", tag="groups", access=MANAGERS, query=PageQuery, answer=Page[MemberIdOut])
def list_group_members(ctx: Ctx, group_id: int, query: PageQuery) -> Page[MemberIdOut]:
    """The members of a member group of the caller's club tree, by id, a page at a time."""
    views.group(ctx.svc, "member", tree(ctx), group_id)
    ids = views.group_members(ctx.svc, "member", group_id, after_id=after_id(query.cursor), limit=query.limit)
    return Page[MemberIdOut](items=[MemberIdOut(member_id=i) for i in ids], next_cursor=next_cursor(ids, query.limit, lambda i: i))


@endpoint("PUT", "/member-groups/<int:group_id>/members", tag="groups", access=MANAGERS, body=GroupChangeIn, answer=GroupOut)
def change_member_group(ctx: Ctx, group_id: int, body: GroupChangeIn) -> GroupOut:
    """Add members to a group and take others out.

    Adding a member already in, or taking out one not in, changes nothing, so the same request
    twice leaves the same group. Members added must be of the caller's club or shared with it."""
    found = views.group(ctx.svc, "member", tree(ctx), group_id)
    structure.change_group(ctx.svc, "member", found.club_id, group_id, add=body.add, remove=body.remove, actor=ctx.actor)
    return GroupOut(**vars(views.group(ctx.svc, "member", tree(ctx), group_id)))
