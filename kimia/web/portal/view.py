"""What every portal page shares: the signed-in member's id, the API's moments as timestamps for
the Jalali filters, and names of the club's merchants for what a member reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from kimia.errors import KimiaError, reject
from kimia.service import structure_views
from kimia.web.api.models import PageQuery, Stamp
from kimia.web.panel.access import PanelCtx, Viewer

#: Rows a paged portal list shows at once.
PAGE_SIZE = 20


def member_id(v: Viewer) -> int:
    """The signed-in member (the guard let only a member's session through)."""
    if v.member_id is None:
        raise reject("session_expired")
    return v.member_id


def ts(value: Stamp | None) -> int | None:
    """A moment the API answered, as Unix seconds (for ``|jdate`` and ``|jdatetime``)."""
    if value is None:
        return None
    return int(dt.datetime.fromisoformat(value.at).timestamp())


def page_query(cursor: str | None, limit: int = PAGE_SIZE) -> PageQuery:
    """The API's paging for ``?cursor=`` (a cursor too long or malformed is the API's refusal)."""
    return PageQuery(limit=limit, cursor=(cursor or None) and cursor[:200])


def merchant_names(ctx: PanelCtx, ids: Iterable[int | None], lang: str) -> dict[int, str]:
    """The names of the club's merchants among ``ids`` in the page's language (an id that is not
    the club's, which cannot happen for the member's own things, is left out)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    clubs = ctx.clubs()
    names: dict[int, str] = {}
    for merchant_id in wanted:
        try:
            found = structure_views.merchant(ctx.svc, clubs, merchant_id)
        except KimiaError:
            continue
        names[merchant_id] = (found.name_en or found.name_fa) if lang == "en" else found.name_fa
    return names


def scope_label(scope: str | None, names: dict[int, str]) -> dict[str, Any]:
    """Where a balance is valid, for the page: (words key, merchant name) from the core's scope."""
    if scope and scope.startswith("merchant:") and scope[9:].isdigit():
        return {"key": "portal.scope.merchant", "name": names.get(int(scope[9:]), "")}
    if scope and scope.startswith("lottery:"):
        return {"key": "portal.scope.lottery", "name": ""}
    return {"key": "portal.scope.club", "name": ""}


def scope_merchants(scopes: Iterable[str | None]) -> list[int]:
    return [int(s[9:]) for s in scopes if s and s.startswith("merchant:") and s[9:].isdigit()]
