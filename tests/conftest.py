"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

- ``settings``: the settings a test's service runs on: the environment's (development mode), the
  test's database (``db_url``), the schema migrated on start.
- ``open_service(url, clock=..., plugins=..., notifier=..., **settings)``: a service assembled as
  every entry assembles it (kimia.app), on ``Settings.from_env`` with the given settings
  (``migrations="upgrade"`` unless given); it reads the environment when called, so a test's
  ``monkeypatch.setenv`` applies.

PostgreSQL is started by scripts/test.sh (scripts/pg.sh), which exports KIMIA_TEST_PG_URL.
A PostgreSQL test never skips: without the server it fails, so CI cannot go green without it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kimia.app import assemble
from kimia.service import Kimia
from kimia.settings import Settings

PG_URL = os.environ.get("KIMIA_TEST_PG_URL", "")
# The tests run in development mode: a service without KIMIA_CARD_HASH_KEY hashes cards with the
# development key instead of refusing to start (tests of that refusal unset it themselves).
# Child processes the tests start (the CLI, crash tests) inherit it.
os.environ.setdefault("KIMIA_DEV_MODE", "1")


def _pg_admin_dsn() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not PG_URL:
        pytest.fail("KIMIA_TEST_PG_URL is not set: run the tests through ./scripts/test.sh, which starts PostgreSQL")
    import psycopg

    name = "kimia_t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/kimia.db"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on an SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/kimia.db"
    url: str = request.getfixturevalue("pg_url")
    return url


#: What ``open_service`` hands to :func:`kimia.app.assemble` itself rather than to the settings.
PARTS = ("clock", "plugins", "notifier")


def assembled(url: str, **kwargs: Any) -> Kimia:
    """A service on ``url``: ``kwargs`` are settings (kimia.settings.Settings fields) and parts."""
    parts = {name: kwargs.pop(name) for name in PARTS if name in kwargs}
    kwargs.setdefault("migrations", "upgrade")
    return assemble(Settings.from_env(database_url=url, **kwargs), **parts)


@pytest.fixture
def open_service() -> Callable[..., Kimia]:
    return assembled


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings.from_env(database_url=db_url, migrations="upgrade")
