"""API keys and member tokens: made (shown once), listed, revoked."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kimia.errors import reject
from kimia.service import apikeys
from kimia.service.apikeys import ApiKeyRow
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import MemberRefIn, Model, Page, PageQuery, Stamp
from kimia.web.api.paging import after_id, next_cursor

class KeyIn(Model):
    kind: Literal["management", "integration"]
    #: A platform key names the club; a management key makes keys of its own club only.
    club_id: int | None = Field(default=None, ge=1, description="Platform keys only: the club the key is for")
    merchant_id: int | None = Field(default=None, ge=1, description="An integration key that acts only as this merchant")
    branch_id: int | None = Field(default=None, ge=1, description="An integration key that acts only as this branch")
    label: str = Field(default="", max_length=200)
    rate_per_min: int | None = Field(default=None, ge=1, le=1_000_000, description="Requests a minute (default: by kind)")


class KeyOut(Model):
    public_id: str
    kind: str
    club_id: int | None
    merchant_id: int | None
    branch_id: int | None
    label: str
    rate_per_min: int | None
    created_by: str
    created: Stamp
    last_used: Stamp | None
    revoked: Stamp | None


class KeyCreatedOut(KeyOut):
    key: str | None = Field(description="The whole key, shown this once (null when a retry replays the answer)")


class MemberTokenIn(Model):
    member: MemberRefIn
    ttl_s: int = Field(default=apikeys.MEMBER_TOKEN_TTL_S, ge=60, le=apikeys.MEMBER_TOKEN_MAX_TTL_S)


class MemberTokenOut(Model):
    token: str | None = Field(description="A bearer token that reads only this member (null when a retry replays the answer)")
    member_id: int
    expires: Stamp


def _out(ctx: Ctx, row: ApiKeyRow) -> KeyOut:
    return KeyOut(public_id=row.public_id, kind=row.kind, club_id=row.club_id, merchant_id=row.merchant_id, branch_id=row.branch_id,
                  label=row.label, rate_per_min=row.rate_per_min, created_by=row.created_by, created=ctx.stamp(row.created_at),
                  last_used=ctx.stamp(row.last_used_at) if row.last_used_at else None,
                  revoked=ctx.stamp(row.revoked_at) if row.revoked_at else None)


@endpoint("POST", "/api-keys", tag="keys", access={"platform", "management"}, body=KeyIn, answer=KeyCreatedOut, status=201,
          secret_fields=("key",))
def create_key(ctx: Ctx, body: KeyIn) -> KeyCreatedOut:
    """Make an API key: shown once in ``key``, stored only hashed.

    A platform key makes keys for any club (``club_id``); a management key for its own club only.
    An integration key may be bound to one merchant or one branch: it then acts only as it."""
    if ctx.principal.kind == "platform":
        if body.club_id is None:
            raise reject("field_required", path="club_id")
        club_id = body.club_id
    else:
        if body.club_id is not None and body.club_id != ctx.club_id:
            raise reject("forbidden", action="make keys for another club")
        club_id = ctx.club_id
    if body.kind == "management" and (body.merchant_id or body.branch_id):
        raise reject("field_invalid", path="merchant_id", detail="only an integration key is bound to a merchant or branch")
    row, token = apikeys.create(ctx.svc, kind=body.kind, club_id=club_id, actor=ctx.actor, label=body.label,
                                merchant_id=body.merchant_id, branch_id=body.branch_id, rate_per_min=body.rate_per_min)
    return KeyCreatedOut(**_out(ctx, row).model_dump(), key=token)


@endpoint("GET", "/api-keys", tag="keys", access={"platform", "management"}, query=PageQuery, answer=Page[KeyOut])
def list_keys(ctx: Ctx, query: PageQuery) -> Page[KeyOut]:
    """The keys of the caller's club (a platform key: the platform's own), oldest first; member tokens are not listed."""
    club_id = None if ctx.principal.kind == "platform" else ctx.club_id
    rows = apikeys.list_keys(ctx.svc, club_id, after_id=after_id(query.cursor), limit=query.limit)
    return Page[KeyOut](items=[_out(ctx, r) for r in rows], next_cursor=next_cursor(rows, query.limit, lambda r: r.id))


@endpoint("DELETE", "/api-keys/<public_id>", tag="keys", access={"platform", "management"}, answer=KeyOut)
def revoke_key(ctx: Ctx, public_id: str) -> KeyOut:
    """Revoke a key at once (revoking it again changes nothing). A platform key revokes any key."""
    club_id = None if ctx.principal.kind == "platform" else ctx.club_id
    row = apikeys.revoke(ctx.svc, public_id, club_id=club_id, actor=ctx.actor)
    from flask import current_app
    current_app.extensions["kimia"].forget(public_id)
    return _out(ctx, row)


@endpoint("POST", "/member-tokens", tag="keys", access={"integration", "management"}, body=MemberTokenIn, answer=MemberTokenOut,
          status=201, secret_fields=("token",))
def member_token(ctx: Ctx, body: MemberTokenIn) -> MemberTokenOut:
    """Mint a token for one member, for an app's backend to hand to that member's phone.

    The token reads only that member (and acts only for them) and expires after ``ttl_s`` seconds."""
    member_id = ctx.svc.identify(ctx.club_id, body.member.model_dump())
    ctx.member(member_id, path="member")
    row, token = apikeys.create(ctx.svc, kind="member", club_id=ctx.club_id, actor=ctx.actor, member_id=member_id, ttl_s=body.ttl_s,
                                merchant_id=ctx.principal.merchant_id)
    assert row.expires_at is not None
    return MemberTokenOut(token=token, member_id=member_id, expires=ctx.stamp(row.expires_at))
