"""How an API route is declared: ``@endpoint`` records it (method, path, who may call it, its typed
request and answer) in :data:`REGISTRY`; the blueprint (kimia.web.api) serves every entry through
:func:`kimia.web.api.dispatch.serve`, and the OpenAPI document is built from the same entries.

A route module (``kimia/web/api/routes/<area>.py``) declares::

    @endpoint("GET", "/members/<int:member_id>", tag="members", access=MEMBER_READERS, answer=MemberOut)
    def member(ctx: Ctx, member_id: int) -> MemberOut:
        \"\"\"A member: ... (the first line is the summary, the rest the description)\"\"\"

The handler gets the request's :class:`Ctx`, the path's parameters, and ``body`` / ``query`` (the
parsed models) when the endpoint declares them. It returns its ``answer`` model (or None for an
endpoint without one: 204) and raises a catalogue error (``reject``) to refuse.

A GET that answers a file instead of JSON (a settlement CSV) declares its media type with
``raw="text/csv"`` (and no ``answer``) and returns a :class:`Raw`; the OpenAPI document then
describes its answer as that media type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from kimia.errors import KimiaError, reject
from kimia.service.api import Kimia
from kimia.service.context import MerchantContext
from kimia.web.api.models import Stamp, stamp

KeyKind = Literal["platform", "management", "integration", "member"]
#: ``record``: the API keeps the answer under the Idempotency-Key (kimia.web.api.idempotency);
#: ``service``: the handler hands ``ctx.idem_key`` to a service call that keeps it in the same
#: transaction as the operation (purchases, refunds, ...); ``none``: not a POST.
Idempotency = Literal["record", "service", "none"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Who calls: the key's kind and what it is bound to."""

    key_id: int
    public_id: str
    kind: str
    club_id: int | None
    merchant_id: int | None = None
    branch_id: int | None = None
    member_id: int | None = None
    #: Requests a minute the key may make (its own limit, or its kind's: kimia.web.api.limits).
    rate_per_min: int = 60


@dataclass(frozen=True)
class Endpoint:
    method: str
    rule: str
    tag: str
    access: frozenset[str]
    handler: Callable[..., Any]
    answer: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    idempotency: Idempotency = "none"
    #: Answer fields never kept for a replay (a key shown once): a retry gets them as null.
    secret_fields: tuple[str, ...] = ()
    #: The media type of a non-JSON answer (the handler returns :class:`Raw`); None: JSON.
    raw: str | None = None

    @property
    def name(self) -> str:
        return f"{self.tag}_{self.handler.__name__}".replace("-", "_")

    @property
    def path(self) -> str:
        """The OpenAPI form of the rule: ``/members/{member_id}``."""
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)

    @property
    def path_params(self) -> list[tuple[str, str]]:
        """(name, converter) of each path parameter."""
        return [(m.group(2), m.group(1) or "string") for m in re.finditer(r"<(?:(\w+):)?(\w+)>", self.rule)]

    @property
    def key(self) -> str:
        """``METHOD /path``: how tests and documents name the endpoint."""
        return f"{self.method} {self.path}"

    @property
    def summary(self) -> str:
        return (self.handler.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ").strip()

    @property
    def description(self) -> str:
        parts = (self.handler.__doc__ or "").strip().split("\n\n", 1)
        return " ".join(parts[1].split()) if len(parts) > 1 else ""


@dataclass(frozen=True)
class Raw:
    """A non-JSON answer: its text, in the endpoint's ``raw`` media type (UTF-8), and the file
    name a browser saves it as."""

    text: str
    filename: str | None = None


#: Every endpoint, in declaration order.
REGISTRY: list[Endpoint] = []


def endpoint(method: str, rule: str, *, tag: str, access: set[str] | frozenset[str], answer: type[BaseModel] | None = None,
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None, status: int | None = None,
             idempotency: Idempotency | None = None, secret_fields: tuple[str, ...] = (),
             raw: str | None = None) -> Callable[[F], F]:
    """Declare an API endpoint (see the module's docstring). A POST keeps its answer under the
    Idempotency-Key (``record``) unless it says the service does (``service``). ``raw``: the media
    type of a GET's non-JSON answer."""
    method = method.upper()
    if method not in ("GET", "POST", "PUT", "DELETE"):
        raise ValueError(method)
    unknown = set(access) - {"platform", "management", "integration", "member"}
    if unknown or not access:
        raise ValueError(f"access {sorted(access)}")
    mode: Idempotency = idempotency or ("record" if method == "POST" else "none")
    if (method == "POST") != (mode != "none"):
        raise ValueError("a POST, and only a POST, is idempotent by record or by service")
    if raw is not None and (method != "GET" or answer is not None):
        # Only a GET: a replayed POST answer is kept and served as JSON.
        raise ValueError("a raw answer is a GET's, instead of an answer model")

    def declare(handler: F) -> F:
        entry = Endpoint(method, rule, tag, frozenset(access), handler, answer, body, query,
                         status if status is not None else (200 if answer is not None or raw else 204), mode, secret_fields, raw)
        if any(e.key == entry.key for e in REGISTRY):
            raise ValueError(f"{entry.key} is declared twice")
        REGISTRY.append(entry)
        return handler

    return declare


@dataclass
class Ctx:
    """One request as a handler sees it: the service, the caller, the language, the key."""

    svc: Kimia
    principal: Principal
    lang: str
    #: The service's idempotency key for this POST (the caller's key, scoped to the API key).
    idem_key: str | None = None
    _root: int | None = field(default=None, repr=False)
    _offset_min: int | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """Who the audit log and the operations record: the API key's public id."""
        return f"api:{self.principal.public_id}"

    def utc_offset_min(self) -> int:
        """The caller's club's time zone (UTC for the platform), read once per request (a page
        formats dozens of times)."""
        if self.principal.club_id is None:
            return 0
        if self._offset_min is None:
            with self.svc.reading() as tx:
                self._offset_min = self.svc.caches.utc_offset_min(tx, self.principal.club_id)
        return self._offset_min

    def stamp(self, ts: int) -> Stamp:
        """``ts`` as the caller's club reads it, with its Jalali date."""
        return stamp(ts, self.utc_offset_min())

    def require(self, *kinds: str, action: str = "call this") -> None:
        if self.principal.kind not in kinds:
            raise reject("forbidden", action=action)

    @property
    def club_id(self) -> int:
        """The caller's club; a platform key has none (``forbidden``)."""
        if self.principal.club_id is None:
            raise reject("forbidden", action="act for a club")
        return self.principal.club_id

    def root(self) -> int:
        """The root of the caller's club tree (value is kept per root club)."""
        if self._root is None:
            with self.svc.reading() as tx:
                self._root = self.svc.caches.root_club(tx, self.club_id)
        return self._root

    def clubs(self) -> list[int]:
        """The caller's club and its sub-clubs."""
        from kimia.service.clubs import club_tree
        root = self.root()  # before the read below: a thread's reads do not nest
        with self.svc.reading() as tx:
            return club_tree(tx, root)

    def merchant(self, merchant_id: int | None, path: str = "merchant_id") -> int:
        """The merchant a request acts as: a merchant-bound key's own (another is ``forbidden``);
        otherwise ``merchant_id``, which must be of the caller's club tree (else ``unknown_merchant``)."""
        bound = self.principal.merchant_id
        if bound is not None:
            if merchant_id is not None and merchant_id != bound:
                raise reject("forbidden", action="act as another merchant")
            return bound
        if merchant_id is None:
            raise reject("field_required", path=path)
        root = self.root()  # before the read below: a thread's reads do not nest
        # The service's cached merchant context, as the terminal host uses: no read on a hit.
        known = self.svc.caches.get(("merchant", merchant_id))
        if not isinstance(known, MerchantContext):
            try:
                with self.svc.reading() as tx:
                    known = self.svc.caches.merchant(tx, merchant_id)
            except KimiaError:
                raise reject("unknown_merchant", path=path) from None
        if known.root_club_id != root:
            raise reject("unknown_merchant", path=path)
        return merchant_id

    def member(self, member_id: int, path: str = "member_id") -> int:
        """A member the caller may read: a member token's own only; otherwise one of the caller's
        club tree (or of a club sharing members with it through a meta-club)."""
        if self.principal.member_id is not None:
            if member_id != self.principal.member_id:
                raise reject("unknown_member", path=path)
            return member_id
        from kimia.service.members import clubs_sharing_members
        root = self.root()
        with self.svc.reading() as tx:
            row = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
            if row is None:
                raise reject("unknown_member", path=path)
            member_root = self.svc.caches.root_club(tx, int(row[0]))
            if member_root != root and member_root not in clubs_sharing_members(self.svc, tx, root):
                raise reject("unknown_member", path=path)
        return member_id
