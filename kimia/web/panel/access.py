"""Who may open which page: every page of the panel and the portal is declared once, with the
roles that may open it, and this module alone enforces it.

A page module declares its pages with its site's decorator::

    @PANEL.page("/members/<int:member_id>", roles=CLUB_READ, menu=("nav.members", 30))
    def member_page(v: Viewer, member_id: int) -> str: ...

The view receives the :class:`Viewer` (who is signed in, their role, club, merchant or member, the
page's language) and the rule's parameters. Before it runs, :func:`guard` has checked, in this
order: a live session of the site's kind (else the sign-in page, or 401 for a non-GET); the role
(else 403 ``role_forbidden``); on every POST the session's CSRF token (else 403 ``csrf_failed``).
Club scoping is the API's own: :meth:`Viewer.ctx` is an API context whose principal is the
viewer (a club's staff act as the club's management key, merchant staff as an integration key
bound to their merchant, a member as a member token), so a page reads and writes through the same
handlers and service calls as the JSON API, and sees exactly what that key would.

``tests/web/panel/test_roles.py`` walks every declared page as every role and fails on a page
without an entry in its table.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Response, abort, current_app, g, redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import staff
from kimia.service.staff import Session, User
from kimia.service.api import Kimia
from kimia.web.api.endpoint import Ctx, Principal
from kimia.web.api.state import ApiState

#: Everyone signed in to the panel as club staff.
CLUB_READ = frozenset({"admin", "marketer", "support", "read_only"})
#: Club staff who change the club's structure, tiers, budgets, keys and users.
CLUB_ADMIN = frozenset({"admin"})
#: Club staff who shape offers: rules, vouchers, lotteries.
MARKETING = frozenset({"admin", "marketer"})
#: Club staff who serve members: enrol, bind, adjust with a reason.
SUPPORT = frozenset({"admin", "support"})
PLATFORM = frozenset({"platform"})
MERCHANT = frozenset({"merchant"})
MEMBER = frozenset({"member"})
#: Pages anyone may open (the sign-in pages, the language switch).
ANYONE = frozenset({"anyone"})
STAFF_ROLES = ("platform", "admin", "marketer", "support", "read_only", "merchant")
ALL_ROLES = (*STAFF_ROLES, "member")


def service() -> Kimia:
    """The application's service (kept by kimia.web.create_app)."""
    state: ApiState = current_app.extensions["kimia"]
    return state.service


@dataclass(frozen=True)
class PageSpec:
    """A declared page."""

    site: str
    endpoint: str
    rule: str
    methods: tuple[str, ...]
    roles: frozenset[str]
    view: Callable[..., Any]
    #: (words key, order) of its entry in the site's menu, or None.
    menu: tuple[str, int] | None


@dataclass
class Viewer:
    """The person behind a request, as a page sees them."""

    session: Session | None
    lang: str
    toman: bool
    utc_offset_min: int = 0
    _form_key: str = field(default="", repr=False)

    @property
    def user(self) -> User | None:
        return self.session.user if self.session else None

    @property
    def role(self) -> str:
        if self.session is None:
            return "anyone"
        return self.session.user.role if self.session.user else "member"

    @property
    def club_id(self) -> int | None:
        if self.session is None:
            return None
        return self.session.user.club_id if self.session.user else self.session.club_id

    @property
    def merchant_id(self) -> int | None:
        return self.session.user.merchant_id if self.session and self.session.user else None

    @property
    def member_id(self) -> int | None:
        return self.session.member_id if self.session else None

    @property
    def actor(self) -> str:
        """How the audit log and operations name this person."""
        if self.user is not None:
            return f"panel:{self.user.login}"
        return f"portal:member:{self.member_id}"

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token if self.session else str(g.get("login_csrf", ""))

    def can(self, roles: frozenset[str]) -> bool:
        return self.role in roles or "anyone" in roles

    def principal(self) -> Principal:
        """The API principal this person acts as (see the module's docstring)."""
        if self.session is None:
            raise reject("session_expired")
        sid = f"panel-{self.session.id}"
        if self.role == "platform":
            return Principal(0, sid, "platform", None)
        if self.role == "merchant":
            return Principal(0, sid, "integration", self.club_id, merchant_id=self.merchant_id)
        if self.role == "member":
            return Principal(0, sid, "member", self.club_id, member_id=self.member_id)
        return Principal(0, sid, "management", self.club_id)

    def ctx(self, idem_key: str | None = None) -> PanelCtx:
        """An API context acting as this person; ``idem_key`` scopes a value operation's
        idempotency key (a form's key, so a form sent twice is one operation)."""
        scoped = None if idem_key is None else f"panel:{self.session.id if self.session else 0}:{idem_key}"
        return PanelCtx(service(), self.principal(), self.lang, scoped, who=self.actor)


@dataclass
class PanelCtx(Ctx):
    """An API context of a panel or portal page: the operations it makes name the person."""

    who: str = ""

    @property
    def actor(self) -> str:
        return self.who


class Site:
    """The pages of one site (the panel, the portal): a registry and its session's kind."""

    def __init__(self, name: str, session_kind: staff.SessionKind, cookie: str, login_endpoint: str) -> None:
        self.name = name
        self.session_kind = session_kind
        self.cookie = cookie
        self.login_endpoint = login_endpoint
        self.pages: list[PageSpec] = []

    def page(self, rule: str, *, roles: frozenset[str], methods: tuple[str, ...] = ("GET",),
             menu: tuple[str, int] | None = None, endpoint: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a page (see the module's docstring)."""
        unknown = set(roles) - set(ALL_ROLES) - {"anyone"}
        if unknown or not roles:
            raise ValueError(f"{rule}: roles {sorted(roles)}")
        if "member" in roles and self.session_kind != "member" or roles & set(STAFF_ROLES) and self.session_kind != "staff":
            raise ValueError(f"{rule}: roles {sorted(roles)} do not sign in to the {self.name}")

        def declare(view: Callable[..., Any]) -> Callable[..., Any]:
            name = endpoint or f"{view.__module__.rsplit('.', 1)[-1]}.{view.__name__}"
            if any(p.endpoint == name for p in self.pages):
                raise ValueError(f"{self.name}: page {name} is declared twice")
            self.pages.append(PageSpec(self.name, name, rule, tuple(m.upper() for m in methods), roles, view, menu))
            return view

        return declare

    def menu_for(self, viewer: Viewer, extra: list[PageSpec] | None = None) -> Iterator[PageSpec]:
        """The menu entries this viewer may open, in order (``extra``: the plugins' pages)."""
        pages = [*self.pages, *(extra or [])]
        entries = [p for p in pages if p.menu is not None and viewer.can(p.roles) and p.roles != ANYONE]
        yield from sorted(entries, key=lambda p: (p.menu or ("", 0))[1])


PANEL = Site("panel", "staff", "kimia_panel", "panel.auth.login")
PORTAL = Site("portal", "member", "kimia_portal", "portal.auth.login")


def guard(site: Site, spec: PageSpec) -> Callable[..., Any]:
    """The page's view behind the checks of the module's docstring."""

    def view(**params: Any) -> Any:
        viewer: Viewer = g.viewer
        if spec.roles != ANYONE:
            if viewer.session is None:
                if request.method == "GET":
                    return redirect(url_for(site.login_endpoint, next=request.full_path.rstrip("?")))
                raise reject("session_expired")
            if not viewer.can(spec.roles):
                raise reject("role_forbidden", action=spec.endpoint)
            if request.method != "GET":
                presented = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
                if viewer.session is None or not staff.csrf_matches(viewer.session, presented):
                    raise reject("csrf_failed")
        return spec.view(viewer, **params)

    view.__name__ = spec.endpoint.replace(".", "_")
    return view


def form_key() -> str:
    """A fresh key for a form that makes a value operation: posted back, it becomes the
    operation's idempotency key, so a double submit or a retry is one operation."""
    return secrets.token_urlsafe(16)


def posted_form_key() -> str:
    key = request.form.get("form_key", "")
    if not 8 <= len(key) <= 64:
        raise reject("missing_idempotency_key")
    return key


def error_fields(error: KimiaError, lang: str) -> dict[str, str]:
    """A refusal as a form shows it: its message at its field's path ("" for the whole form)."""
    return {error.path or "": message_of(error, lang)}


def message_of(error: KimiaError, lang: str) -> str:
    return error.message_fa if lang == "fa" else error.message_en


def no_such_page() -> Response:
    abort(404)
