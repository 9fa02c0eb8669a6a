"""The application's PostgreSQL role (``kimia db grant-app-role``, docs/operations.md, Database roles).

The owner (the test server's ``postgres``) migrates; a fresh login role gets the grants through the
command; connected as that role, kimia runs a whole demo month (enrolments, purchases, refunds,
reversals, holds, conversions, expiry, period closes, a lottery draw) and a purchase of its own,
and ``kimia check`` passes; yet the role cannot UPDATE, DELETE or TRUNCATE the journal or the
audit log (permission denied, before any trigger is reached) nor disable or drop the triggers
(not the owner). Roles are cluster-wide: each test makes one with a unique name and drops it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from kimia.service import Kimia
from click.testing import CliRunner
from sqlalchemy import text

from kimia.cli import main
from kimia.store.engine import make_engine
from kimia.store.migrate import upgrade
from kimia.store.roles import Database, grant_statements

PASSWORD = "kimia-test-password"


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def app_role(pg_url: str) -> Iterator[str]:
    """A new login role, dropped (with its grants in the test database) afterwards."""
    role = "kimia_app_" + uuid.uuid4().hex[:10]
    with psycopg.connect(_dsn(pg_url), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    try:
        yield role
    finally:
        with psycopg.connect(_dsn(pg_url), autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")  # its privileges and default privileges here
            conn.execute(f"DROP ROLE {role}")


def _as(url: str, role: str) -> str:
    """``url`` (the owner's, ``postgres@host``) for ``role``."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}:{PASSWORD}@{rest.split('@', 1)[1]}"


def _one(conn: psycopg.Connection[tuple[object, ...]], sql: str, params: tuple[object, ...] = ()) -> object:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def _grant(pg_url: str, role: str) -> None:
    result = CliRunner().invoke(main, ["--database", pg_url, "db", "grant-app-role", "--role", role, "--apply"])
    assert result.exit_code == 0, result.output
    assert f"{role}: " in result.output and "INSERT and SELECT only on journal and audit_log" in result.output


def test_the_application_role_runs_kimia_but_cannot_change_the_books(pg_url: str, app_role: str, open_service: Callable[..., Kimia]) -> None:
    from kimia.demo_club import DemoClock, build_demo, tehran_midnight
    from kimia.service import Admin, Kimia, PurchaseRequest

    upgrade(pg_url)  # as the owner
    _grant(pg_url, app_role)
    _grant(pg_url, app_role)  # repeatable
    app_url = _as(pg_url, app_role)

    # (a) everything kimia does, as the application role.
    end = tehran_midnight(dt.date.today() - dt.timedelta(days=2))
    service = open_service(app_url, migrations="check", dev_mode=True, clock=DemoClock(end))
    try:
        summary = build_demo(service, Admin(service), purchases=12, seed=3)
        assert summary.check_ok, summary.check_summary
        with psycopg.connect(_dsn(app_url)) as conn:
            row = conn.execute(
                "SELECT merchant_id, member_id FROM operations WHERE kind = 'purchase' ORDER BY id LIMIT 1").fetchone()
        assert row is not None
        merchant_id, member_id = row
        receipt = service.purchase(PurchaseRequest(idem_key="roles-1", merchant_id=merchant_id, member=member_id,
                                                   amount_rial=500_000, actor="test:roles"))
        assert receipt["status"] == "done" and receipt["kind"] == "purchase"
        assert service.check().ok
    finally:
        service.close()
    checked = CliRunner().invoke(main, ["--database", app_url, "check"])
    assert checked.exit_code == 0, checked.output

    # (b) no UPDATE, DELETE or TRUNCATE of the books: refused by the grants, not (only) the triggers.
    refused = [
        "UPDATE journal SET amount = amount + 1",
        "DELETE FROM journal",
        "UPDATE audit_log SET reason = reason",
        "DELETE FROM audit_log",
        "TRUNCATE journal",
        "TRUNCATE audit_log",
    ]
    # (c) nor switching the append-only triggers off: only the owner may.
    not_owner = [
        "ALTER TABLE journal DISABLE TRIGGER ALL",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "DROP TRIGGER journal_append_only ON journal",
        "DROP TRIGGER audit_log_no_truncate ON audit_log",
        "DROP FUNCTION kimia_append_only() CASCADE",
        "DROP TABLE journal",
    ]
    with psycopg.connect(_dsn(app_url), autocommit=True) as conn:
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table"):
                conn.execute(statement)
        for statement in not_owner:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner of"):
                conn.execute(statement)
        # It still writes where kimia writes (and may update an operation's status), and reads the books.
        assert _one(conn, "SELECT count(*) > 0 FROM journal") is True
        assert _one(conn, "SELECT has_table_privilege('operations', 'UPDATE')") is True
        assert _one(conn, "SELECT has_table_privilege('alembic_version', 'UPDATE')") is False

    # The triggers are all still there, enabled, and the books still add up (as the owner).
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            triggers = conn.execute(text("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")).all()
    finally:
        engine.dispose()
    assert [(name, enabled) for name, enabled in triggers] == [
        ("audit_log_append_only", "O"), ("audit_log_no_truncate", "O"), ("journal_append_only", "O"), ("journal_no_truncate", "O")]
    assert CliRunner().invoke(main, ["--database", pg_url, "check"]).exit_code == 0

    # A table a later migration creates: the default privileges let the role read and append at
    # once; UPDATE and DELETE come when the command is run again after `kimia init`.
    with psycopg.connect(_dsn(pg_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE later_table (id SERIAL PRIMARY KEY, x INTEGER NOT NULL)")
    with psycopg.connect(_dsn(app_url), autocommit=True) as conn:
        conn.execute("INSERT INTO later_table (x) VALUES (1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table"):
            conn.execute("UPDATE later_table SET x = 2")
    _grant(pg_url, app_role)
    with psycopg.connect(_dsn(app_url), autocommit=True) as conn:
        conn.execute("UPDATE later_table SET x = 2")
        conn.execute("INSERT INTO later_table (x) VALUES (3)")


def test_the_command_prints_the_statements_and_refuses_owners(pg_url: str, app_role: str) -> None:
    upgrade(pg_url)
    printed = CliRunner().invoke(main, ["--database", pg_url, "db", "grant-app-role", "--role", app_role])
    assert printed.exit_code == 0, printed.output
    lines = printed.stdout.splitlines()
    assert all(line.endswith(";") for line in lines)
    assert f'GRANT SELECT, INSERT ON "public"."audit_log", "public"."journal" TO "{app_role}";' in lines
    assert f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "public" TO "{app_role}";' in lines
    assert not any("journal" in line and "UPDATE" in line for line in lines)
    # Printing grants nothing.
    with psycopg.connect(_dsn(pg_url)) as conn:
        assert _one(conn, "SELECT has_table_privilege(%s, 'journal', 'SELECT')", (app_role,)) is False

    for role, code in [("postgres", "role_too_strong"), ("Bad-Name", "bad_role_name")]:
        result = CliRunner().invoke(main, ["--database", pg_url, "db", "grant-app-role", "--role", role, "--apply"])
        assert result.exit_code == 1 and result.stderr.startswith(f"{code}: "), result.output
    # A member of the owner's role could act as the owner.
    with psycopg.connect(_dsn(pg_url), autocommit=True) as conn:
        owner = "kimia_own_" + uuid.uuid4().hex[:10]
        conn.execute(f"CREATE ROLE {owner}")
        try:
            conn.execute(f"ALTER TABLE journal OWNER TO {owner}")
            conn.execute(f"GRANT {owner} TO {app_role}")
            result = CliRunner().invoke(main, ["--database", pg_url, "db", "grant-app-role", "--role", app_role, "--apply"])
            assert result.exit_code == 1 and result.stderr.startswith("role_owns_tables: "), result.output
        finally:
            conn.execute("ALTER TABLE journal OWNER TO postgres")
            conn.execute(f"DROP OWNED BY {owner}")
            conn.execute(f"DROP ROLE {owner}")
    missing = CliRunner().invoke(main, ["--database", pg_url, "db", "grant-app-role", "--role", "kimia_nobody_here", "--apply"])
    assert missing.exit_code == 1 and missing.stderr.startswith("role_missing: ")


def test_sqlite_has_no_roles(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["--database", sqlite_url, "db", "grant-app-role", "--role", "kimia_app"])
    assert result.exit_code == 1
    assert result.stderr.startswith("not_postgresql: ") and "permissions" in result.stderr


def test_the_statements_follow_the_tables() -> None:
    db = Database(schema="public", owner="kimia_owner", tables=("alembic_version", "audit_log", "journal", "members", "operations"))
    statements = grant_statements("kimia_app", db)
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON "public"."members", "public"."operations" TO "kimia_app"' in statements
    assert 'GRANT SELECT, INSERT ON "public"."audit_log", "public"."journal" TO "kimia_app"' in statements
    assert 'GRANT SELECT ON "public"."alembic_version" TO "kimia_app"' in statements
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "kimia_owner" IN SCHEMA "public" GRANT SELECT, INSERT ON TABLES TO "kimia_app"' in statements
    assert not any("UPDATE" in s and ("journal" in s or "audit_log" in s or "DEFAULT" in s) for s in statements)
