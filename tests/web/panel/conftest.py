"""Fixtures of the panel and portal tests (Flask's test client).

``panel`` is a :class:`Panel` over the API tests' world (``tests/web/conftest.py``: clubs A and B,
each a realistic club with merchants, members, rules and keys) with a panel user of every role in
each club (``panel.users[(club_id, role)]``, the platform's at ``(None, "platform")``) and:

- ``panel.client(role, club=None)``: a test client signed in as that role of club A (or of the
  world ``club``: ``panel.a`` / ``panel.b``), through the real sign-in form;
- ``panel.member_client(club=None)``: a portal client signed in as the club's first member
  (``panel.api.members[club_id]``; the session is opened directly: the portal's own tests sign in
  with a one-time code);
- ``page(client, path)``: GET a page and return (status, text); ``post(client, path, data)``:
  POST a form with the page's CSRF token added.

Every client sends ``Accept-Language`` nothing; the language is the panel's default (Persian)
unless a test asks ``?lang=en``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from kimia.service import staff
from service.builders import World

from ..conftest import Api

PASSWORD = "correct horse battery staple"
CLUB_ROLES = ("admin", "marketer", "support", "read_only", "merchant")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Panel:
    api: Api
    users: dict[tuple[int | None, str], staff.User] = field(default_factory=dict)

    @property
    def a(self) -> World:
        return self.api.a

    @property
    def b(self) -> World:
        return self.api.b

    @property
    def service(self) -> Any:
        return self.api.service

    def login_of(self, role: str, club: World | None = None) -> str:
        if role == "platform":
            return "platform"
        return f"{role}-{(club or self.a).club_id}"

    def client(self, role: str, club: World | None = None) -> FlaskClient:
        """A client signed in as ``role`` through the sign-in form."""
        client = self.api.app.test_client()
        sign_in(client, self.login_of(role, club), PASSWORD)
        return client

    def member_client(self, club: World | None = None) -> FlaskClient:
        world = club or self.a
        member_id = self.api.members[world.club_id]
        token, _ = staff.open_session(self.service, kind="member", member_id=member_id, club_id=world.club_id)
        client = self.api.app.test_client()
        client.set_cookie("kimia_portal", token, path="/portal")
        return client


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, login: str, password: str) -> Any:
    form = client.get("/panel/login")
    response = client.post("/panel/login", data={"login": login, "password": password,
                                                 "csrf_token": csrf_of(form.get_data(as_text=True))})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return response


def page(client: FlaskClient, path: str, **kwargs: Any) -> tuple[int, str]:
    response = client.get(path, **kwargs)
    return response.status_code, response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, Any], *, from_page: str | None = None, **kwargs: Any) -> Any:
    """POST ``data`` to ``path`` with the CSRF token of ``from_page`` (default: the panel's or
    portal's front page, whichever ``path`` is under) added."""
    source = from_page or ("/portal/" if path.startswith("/portal") else "/panel/")
    html = client.get(source, follow_redirects=True).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_of(html), **data}, **kwargs)


@pytest.fixture
def panel(api: Api) -> Iterator[Panel]:
    api.app.config["KIMIA_SIGN_IN_PER_MIN"] = 100_000  # the tests sign in many times from one address
    built = Panel(api)
    svc = api.service
    built.users[(None, "platform")] = staff.create_user(svc, login="platform", name="Platform", role="platform",
                                                         password=PASSWORD, actor="test")
    for world in (api.a, api.b):
        for role in CLUB_ROLES:
            built.users[(world.club_id, role)] = staff.create_user(
                svc, login=built.login_of(role, world), name=f"{role} {world.club_id}", role=role, password=PASSWORD,
                actor="test", club_id=world.club_id, merchant_id=world.merchants["cafe"] if role == "merchant" else None)
    yield built
