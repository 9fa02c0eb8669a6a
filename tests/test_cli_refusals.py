"""The command line's own refusals that no other test reaches, each printed as ``code: English /
Persian`` with exit status 1 (the wording comes from the error catalogue, core/src/errors.rs)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from kimia.cli import main
from kimia.service import Kimia
from kimia.service.admin import Admin
from kimia.store.engine import make_engine
from kimia.store.migrate import upgrade


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database", url, *args], catch_exceptions=False)


def refused(result: Result, code: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"{code}: "), result.stderr
    english, _, persian = result.stderr.partition(" / ")
    assert english and persian.strip(), result.stderr
    return result.stderr


def test_an_older_schema_is_refused_until_init_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kimia.db"
    assert run(url, "init").exit_code == 0
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        message = refused(run(url, "check"), "schema_outdated")
        assert "revision 0001" in message and f"needs {head}" in message
        with engine.begin() as conn:  # back at the newest revision, the same database checks out
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    finally:
        engine.dispose()
    assert run(url, "check").exit_code == 0


def club_without_rules(tmp_path: Path, open_service: Callable[..., Kimia]) -> tuple[str, int]:
    """A database made by ``kimia init`` holding one club with no rule set: (its URL, the club)."""
    url = f"sqlite:///{tmp_path}/kimia.db"
    assert run(url, "init").exit_code == 0
    with open_service(url) as service:
        admin = Admin(service)
        return url, admin.create_club(admin.create_owner("مالک", name_en="Owner"), "باشگاه بی‌قانون", name_en="No rules")


def test_a_period_end_in_the_future_is_refused(tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    url, club = club_without_rules(tmp_path, open_service)
    refused(run(url, "close-period", "--club", str(club), "--period-end", str(int(time.time()) + 86_400)), "period_end_in_future")


def test_a_backtest_needs_a_published_rule_set(tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    url, club = club_without_rules(tmp_path, open_service)
    message = refused(run(url, "backtest", "--club", str(club)), "no_rules")
    assert f"Club {club} has no published rule set" in message


def test_grants_that_do_not_take_are_reported(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command checks the grants after applying them; a check that finds a problem refuses."""
    import kimia.store.roles

    upgrade(pg_url)
    role = "kimia_app_" + uuid.uuid4().hex[:10]
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        monkeypatch.setattr(kimia.store.roles, "verify", lambda conn, role, db: ["journal: UPDATE still granted"])
        message = refused(run(pg_url, "db", "grant-app-role", "--role", role, "--apply"), "grants_incomplete")
        assert "journal: UPDATE still granted" in message
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
