"""Every page of the panel and the portal, walked as every role (issue 16, Security: roles and
club scoping enforced in one place, with a test that walks every route as every role and fails
when a route has no entry). The table is ``tests/web/panel/roles/`` (its docstring says what a
case is and what the walker checks).

The world is built once per database and every page is walked in one test, which collects every
failure and lists them all at the end.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask.testing import FlaskClient

from kimia.web.panel.access import ANYONE, PANEL, PORTAL, STAFF_ROLES, PageSpec
from kimia.web.plugins import page_specs

from . import roles
from .conftest import Panel, csrf_of
from .roles import Case, Visit

#: What a refusal as "not yours" may be: a role not allowed (403) or a thing not found (404).
NOT_THEIRS = frozenset({403, 404})


def all_cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for info in sorted(pkgutil.iter_modules(roles.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{roles.__name__}.{info.name}")
        for key, case in getattr(module, "CASES", {}).items():
            assert key not in cases, f"{key}: a case in more than one module"
            cases[key] = case
    return cases


class Walker:
    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.clients: dict[tuple[str, int], FlaskClient] = {}
        self.failures: list[str] = []

    def client(self, role: str, club: int) -> FlaskClient:
        key = (role, club)
        if key not in self.clients:
            world = self.panel.a if club == 0 else self.panel.b
            self.clients[key] = self.panel.member_client(world) if role == "member" else self.panel.client(role, world)
        return self.clients[key]

    def send(self, client: FlaskClient, spec: PageSpec, visit: Visit, *, csrf: bool = True) -> int:
        if "GET" in spec.methods:
            return client.get(visit.path).status_code
        form = dict(visit.form)
        if csrf:
            home = "/portal/" if spec.site == "portal" else "/panel/"
            form["csrf_token"] = csrf_of(client.get(home, follow_redirects=True).get_data(as_text=True))
        return client.post(visit.path, data=form).status_code

    def fail(self, spec: PageSpec, text: str) -> None:
        self.failures.append(f"{spec.site}.{spec.endpoint} {spec.rule}: {text}")

    def walk(self, spec: PageSpec, visit: Visit) -> None:
        site_roles = ("member",) if spec.site == "portal" else STAFF_ROLES
        self.signed_out(spec, visit)
        for role in site_roles:
            self.as_role(spec, visit, role, club=0)
            if visit.names_a and role not in ("platform",):
                self.as_other_club(spec, visit, role)

    def signed_out(self, spec: PageSpec, visit: Visit) -> None:
        if spec.roles == ANYONE:
            return
        status = self.send(self.panel.api.app.test_client(), spec, visit, csrf=False)
        wanted = {302} if "GET" in spec.methods else {401, 403}
        if status not in wanted:
            self.fail(spec, f"signed out: {status}, wanted {sorted(wanted)}")

    def as_role(self, spec: PageSpec, visit: Visit, role: str, club: int) -> None:
        client = self.client(role, club)
        allowed = role in spec.roles or spec.roles == ANYONE
        if "POST" in spec.methods and "GET" not in spec.methods and allowed and spec.roles != ANYONE:
            status = self.send(client, spec, visit, csrf=False)
            if status != 403:
                self.fail(spec, f"{role}: a POST without its CSRF token answered {status}, not 403")
        status = self.send(client, spec, visit)
        if visit.ends_session:
            self.clients.pop((role, club), None)
        if not allowed:
            if status != 403:
                self.fail(spec, f"{role} is not among {sorted(spec.roles)} but got {status}, not 403")
            return
        served = visit.served or (frozenset({200}) if "GET" in spec.methods else None)
        if served is not None and status not in served or served is None and (status in (401, 403, 404) or status >= 500):
            self.fail(spec, f"{role} (allowed) got {status}")

    def as_other_club(self, spec: PageSpec, visit: Visit, role: str) -> None:
        status = self.send(self.client(role, 1), spec, visit)
        if visit.ends_session:
            self.clients.pop((role, 1), None)
        if status not in NOT_THEIRS:
            self.fail(spec, f"{role} of club B reached club A's page: {status}")


def test_every_page_as_every_role(panel: Panel) -> None:
    cases = all_cases()
    walker = Walker(panel)
    declared = [*PANEL.pages, *PORTAL.pages, *plugin_pages(panel)]
    names = {f"{spec.site}.{spec.endpoint}" for spec in declared}
    for key in sorted(set(cases) - names):
        walker.failures.append(f"{key}: a case for a page that is not declared")
    # Sign-out last: it ends the sessions the walker reuses.
    for spec in sorted(declared, key=lambda s: s.endpoint.endswith("logout")):
        case = cases.get(f"{spec.site}.{spec.endpoint}")
        if case is None:
            walker.fail(spec, "no case in tests/web/panel/roles/ (every page needs one)")
            continue
        walker.walk(spec, case(panel))
    assert not walker.failures, "\n".join(walker.failures)


def plugin_pages(panel: Panel) -> list[PageSpec]:
    """The pages of the built-in plugins (the extras), declared through ``kimia_register_pages``:
    walked like kimia's own (their cases are ``roles/<plugin>.py``)."""
    plugins = panel.api.service.plugins
    return [*page_specs(plugins, "panel"), *page_specs(plugins, "portal")]


def test_every_role_is_refused_the_pages_it_is_not_given(panel: Panel) -> None:
    """The registry itself: no page is open to every staff role by accident of an empty set, and
    the portal's pages are only members'."""
    extra = plugin_pages(panel)
    for spec in [*PANEL.pages, *(s for s in extra if s.site == "panel")]:
        assert spec.roles == ANYONE or spec.roles <= set(STAFF_ROLES), spec
    for spec in [*PORTAL.pages, *(s for s in extra if s.site == "portal")]:
        assert spec.roles == ANYONE or spec.roles == {"member"}, spec
