"""Fixtures of the web tests (the JSON API through Flask's test client).

- ``clock``: the FakeClock the application's service runs on.
- ``api``: an :class:`Api` over a world of two clubs (``api.a``, ``api.b``: each a realistic club
  from tests/service/builders.py) on one service, with keys of every kind: ``api.keys["platform"]``
  and, per club, ``api.keys_of(club)["management" | "integration" | "merchant" | "member"]``
  (``merchant``: an integration key bound to the club's cafe; ``member``: a token of the club's
  first member, ``api.members[club]``). Calls: ``api.get(path, key)``, ``api.post(path, key, json,
  idem=...)`` (a fresh Idempotency-Key unless given), ``api.delete(...)``.

The world is built on SQLite and on PostgreSQL (``db_url``) like every service test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kimia.service import apikeys
from kimia.settings import Settings
from kimia.web import create_app
from service.builders import FakeClock, World, build_club, mobile

KINDS = ("management", "integration", "merchant", "member")


@dataclass
class Api:
    app: Flask
    client: FlaskClient
    a: World
    b: World
    keys: dict[str, str] = field(default_factory=dict)
    members: dict[int, int] = field(default_factory=dict)
    _idem: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def service(self) -> Any:
        return self.a.service

    def keys_of(self, world: World) -> dict[str, str]:
        return {kind: self.keys[f"{world.club_id}:{kind}"] for kind in KINDS}

    def idem(self) -> str:
        return f"idem-{next(self._idem)}"

    def _headers(self, key: str | None, lang: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept-Language": lang, **(extra or {})}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def get(self, path: str, key: str | None, *, lang: str = "en", **query: Any) -> Any:
        return self.client.get("/api/v1" + path, headers=self._headers(key, lang), query_string=query)

    def post(self, path: str, key: str | None, json: Any = None, *, idem: str | None = "", lang: str = "en") -> Any:
        extra = {} if idem is None else {"Idempotency-Key": idem or self.idem()}
        return self.client.post("/api/v1" + path, headers=self._headers(key, lang, extra), json=json)

    def put(self, path: str, key: str | None, json: Any = None, *, lang: str = "en") -> Any:
        return self.client.put("/api/v1" + path, headers=self._headers(key, lang), json=json)

    def delete(self, path: str, key: str | None, *, lang: str = "en") -> Any:
        return self.client.delete("/api/v1" + path, headers=self._headers(key, lang))


def count(api: Api, table: str) -> int:
    """Rows of ``table`` now (a refused request must leave every count as it was)."""
    with api.service.reading() as tx:
        return int(tx.one(f"SELECT COUNT(*) FROM {table}")[0])


def refused(r: Any, status: int, code: str, path: str | None = None) -> None:
    """``r`` is the refusal ``status`` with catalogue ``code`` (at ``path`` when given)."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.json["error"]["code"] == code and (path is None or r.json["error"]["path"] == path), r.json


def make_keys(api: Api, world: World, member_id: int) -> None:
    svc = api.service
    club = world.club_id
    api.keys[f"{club}:management"] = apikeys.create(svc, kind="management", club_id=club, actor="test")[1]
    api.keys[f"{club}:integration"] = apikeys.create(svc, kind="integration", club_id=club, actor="test")[1]
    api.keys[f"{club}:merchant"] = apikeys.create(svc, kind="integration", club_id=club, actor="test",
                                                  merchant_id=world.merchants["cafe"])[1]
    api.keys[f"{club}:member"] = apikeys.create(svc, kind="member", club_id=club, actor="test", member_id=member_id)[1]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(db_url: str, clock: FakeClock) -> Iterator[Api]:
    app = create_app(Settings.from_env(database_url=db_url, migrations="upgrade"), clock=clock)
    service = app.extensions["kimia"].service
    try:
        a = build_club(service, clock, n=1)
        b = build_club(service, clock, name_fa="باشگاه دوم", n=2)
        built = Api(app, app.test_client(), a, b)
        built.keys["platform"] = apikeys.create(service, kind="platform", club_id=None, actor="test")[1]
        for n, world in enumerate((a, b), start=1):
            member = world.enroll(identifiers=[("mobile", mobile(2_000_000 + n))], name_fa=f"عضو {n}")
            built.members[world.club_id] = member
            make_keys(built, world, member)
        yield built
        report = service.check()
        assert report.ok, report
    finally:
        app.extensions["kimia"].close()
