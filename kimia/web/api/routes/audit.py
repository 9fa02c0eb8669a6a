"""The audit log as a club's back office reads it: every manual action in the club's tree (who,
when, why, what), newest first, as it was stored (masked when written: a card by its last 4
digits). The log is append-only and chained (``kimia check`` verifies the chain)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kimia.service import backoffice_views as views
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import Model, Page, PageQuery, Stamp
from kimia.web.api.paging import after_id, next_cursor


class AuditQuery(PageQuery):
    action: str | None = Field(default=None, min_length=1, max_length=50, description="Only rows of this action (adjust, charge, ...)")
    actor: str | None = Field(default=None, min_length=1, max_length=100, description="Only rows of this actor (api:<key id>, ...)")


class AuditEntryOut(Model):
    id: int
    club_id: int | None
    actor: str = Field(description="Who acted: a person, an API key (api:<public id>), a job")
    action: str
    reason: str
    payload: Any = Field(description="What was done, as stored (masked)")
    at: Stamp


@endpoint("GET", "/audit-log", tag="audit", access={"management"}, query=AuditQuery, answer=Page[AuditEntryOut])
def audit_log(ctx: Ctx, query: AuditQuery) -> Page[AuditEntryOut]:
    """The audit log of the caller's club and its sub-clubs, newest first.

    Filter by ``action`` and ``actor``; pass ``next_cursor`` as ``cursor`` for older rows."""
    rows = views.audit_log(ctx.svc, ctx.root(), before_id=after_id(query.cursor), limit=query.limit, action=query.action,
                           actor=query.actor)
    items = [AuditEntryOut(id=r.id, club_id=r.club_id, actor=r.actor, action=r.action, reason=r.reason, payload=r.payload,
                           at=ctx.stamp(r.at)) for r in rows]
    return Page[AuditEntryOut](items=items, next_cursor=next_cursor(rows, query.limit, lambda r: r.id))
