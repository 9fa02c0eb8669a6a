"""The store: SQLite durability settings on every connection, idempotent migrations on both
databases, and an Alembic head that matches the models exactly."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from kimia.service import Kimia
from kimia.store.engine import configure_sqlite, make_engine, raw_connect
from kimia.store.migrate import alembic_config, upgrade
from kimia.store.models import Base


def pragmas(conn: sqlite3.Connection) -> tuple[str, int, int]:
    cur = conn.cursor()
    try:
        return (cur.execute("PRAGMA journal_mode").fetchone()[0], cur.execute("PRAGMA synchronous").fetchone()[0],
                cur.execute("PRAGMA foreign_keys").fetchone()[0])
    finally:
        cur.close()


def test_every_engine_connection_is_durable(sqlite_url: str) -> None:
    """WAL, synchronous=FULL (2) and foreign keys on, on each new connection of the engine."""
    engine = make_engine(sqlite_url)
    try:
        seen = []
        for _ in range(3):  # NullPool: every checkout is a new connection
            with engine.connect() as conn:
                seen.append(tuple(conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous", "foreign_keys")))
                seen.append(tuple(conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous", "foreign_keys")))
        with engine.begin() as conn:  # the write path (BEGIN IMMEDIATE) too
            seen.append(tuple(conn.execute(text(f"PRAGMA {p}")).scalar() for p in ("journal_mode", "synchronous", "foreign_keys")))
        assert seen == [("wal", 2, 1)] * 7
    finally:
        engine.dispose()


def test_every_raw_connection_is_durable(sqlite_url: str) -> None:
    conns = [raw_connect(sqlite_url) for _ in range(3)]
    results: list[tuple[str, int, int]] = []
    # Connections made on other threads (the writer thread, readers) are configured the same way.
    thread = threading.Thread(target=lambda: conns.append(raw_connect(sqlite_url)))
    thread.start()
    thread.join()
    try:
        for conn in conns:
            results.append(pragmas(conn))
            assert conn.isolation_level is None  # kimia issues BEGIN itself
    finally:
        for conn in conns:
            conn.close()
    assert results == [("wal", 2, 1)] * 4
    assert (Path(sqlite_url.split(":///", 1)[1])).exists()


def test_foreign_keys_are_enforced(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    conn = raw_connect(sqlite_url)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO clubs (owner_id, name_fa, name_en, utc_offset_min, settings, created_at) VALUES (999, 'x', 'x', 210, '{}', 0)")
    finally:
        conn.close()


def test_a_connection_without_the_settings_is_refused(tmp_path: Path) -> None:
    """configure_sqlite verifies what it set: a database that cannot use WAL is refused."""

    class Stubborn:
        """A connection whose PRAGMAs report a rollback journal whatever is asked."""

        isolation_level: str | None = ""

        def __init__(self) -> None:
            self.real = sqlite3.connect(str(tmp_path / "stubborn.db"))

        def cursor(self) -> "StubbornCursor":
            return StubbornCursor(self.real.cursor())

    class StubbornCursor:
        def __init__(self, cur: sqlite3.Cursor) -> None:
            self.cur = cur

        def execute(self, sql: str) -> "StubbornCursor":
            self.cur.execute("PRAGMA journal_mode=DELETE" if sql == "PRAGMA journal_mode" else sql)
            return self

        def fetchone(self) -> tuple[object, ...]:
            return tuple(self.cur.fetchone())

        def close(self) -> None:
            self.cur.close()

    stubborn = Stubborn()
    try:
        with pytest.raises(RuntimeError, match="journal_mode=delete"):
            configure_sqlite(stubborn)  # type: ignore[arg-type]
    finally:
        stubborn.real.close()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrations_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            first = MigrationContext.configure(conn).get_current_revision()
            tables = set(inspect(conn).get_table_names())
        upgrade(db_url)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == first == head_revision()
            assert set(inspect(conn).get_table_names()) == tables
            # kimia's own tables, and besides them only the built-in plugins' (the extras': kimia init
            # runs their migrations after kimia's).
            kimia_tables = {t for t in tables if not t.startswith(plugin_prefixes())}
            assert kimia_tables == set(Base.metadata.tables) | {"alembic_version"}
            assert tables - kimia_tables
            assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_migrations_keep_data(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO club_owners (name_fa, name_en, created_at) VALUES ('مالک', 'owner', 1)"))
        upgrade(db_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name_fa FROM club_owners")).scalars().all() == ["مالک"]
    finally:
        engine.dispose()


def plugin_prefixes() -> tuple[str, ...]:
    """The table-name prefixes of the registered plugins' schemas (``attendance_``, ...)."""
    from kimia.plugins import default_plugin_manager
    from kimia.store.plugin_schema import schemas

    return tuple(f"{s.name}_" for s in schemas(default_plugin_manager()))


def kimia_s_own(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate compares kimia's tables with kimia's models; the plugins' tables are theirs."""
    return not (type_ == "table" and reflected and compare_to is None and (name or "").startswith(plugin_prefixes()))


def test_alembic_head_matches_the_models(db_url: str) -> None:
    """Autogenerate against the migrated database finds nothing to do."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False,
                                                             "include_object": kimia_s_own})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_batch_key_lookup_uses_the_unique_index_before_any_statistics(pg_url: str, open_service: Callable[..., Kimia]) -> None:
    """PostgreSQL, a table filled faster than autovacuum analyzes it (migration 0002): the bulk
    path's lookup of a batch's idempotency keys must probe ``uq_operations_club_id``, not filter
    every operation of the club through another index led by club_id."""
    from kimia.service import Admin, Kimia

    with open_service(pg_url) as service:
        admin = Admin(service)
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه")
    conn = raw_connect(pg_url)
    try:
        conn.execute(
            "INSERT INTO operations (club_id, idem_key, request_hash, kind, status, amount_rial, refunded_rial, response, day, created_at)"
            " SELECT %s, 'k' || g, 'h', 'purchase', 'done', 1000, 0, '{}', 20000 + g / 500, 0 FROM generate_series(1, 5000) g",
            (club,),
        )
        keys = [f"k{n}" for n in range(100, 4100, 250)]
        plan = "\n".join(row[0] for row in conn.execute(
            "EXPLAIN SELECT idem_key, request_hash, response, amount_rial FROM operations WHERE club_id = %s AND idem_key = ANY(%s)",
            (club, keys), prepare=False,
        ).fetchall())
        conn.rollback()
    finally:
        conn.close()
    assert "uq_operations_club_id" in plan, plan


def test_a_purchase_row_is_stored_as_it_is_on_postgresql(pg_url: str, open_service: Callable[..., Kimia]) -> None:
    """PostgreSQL (migration 0003): a purchase's stored decision, over the 2 kB at which
    PostgreSQL would compress a row into TOAST, stays in the table uncompressed."""
    from kimia.samples import demo_rules_for
    from kimia.service import Admin, Kimia, PurchaseRequest

    with open_service(pg_url) as service:
        admin = Admin(service)
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه")
        merchant = admin.create_merchant(club, "فروشگاه")
        admin.publish_rules(club, demo_rules_for(admin, club, merchant, actor="test"), actor="test")
        member = service.enroll(club, idem_key="e1", identifiers=[("account", "10001")])["member_id"]
        op_id = service.purchase(PurchaseRequest(idem_key="p1", merchant_id=merchant, member=member, amount_rial=250_000))["op_id"]
    conn = raw_connect(pg_url)
    try:
        options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'operations'").fetchone()[0]
        length, compression = conn.execute(
            "SELECT octet_length(decision), pg_column_compression(decision) FROM operations WHERE id = %s", (op_id,)).fetchone()
        conn.rollback()
    finally:
        conn.close()
    assert "toast_tuple_target=8160" in options
    assert length > 2_000  # large enough that PostgreSQL would have compressed it by default
    assert compression is None


def test_looking_operations_up_by_reference_uses_its_index(db_url: str, open_service: Callable[..., Kimia]) -> None:
    """A refund names its sale by reference, and every batch of API purchases checks its fresh RRNs
    (kimia.service.requests.fresh_rrns): both through ix_operations_reference_club (migration
    0012), not by reading the club's every operation."""
    from kimia.service import Admin

    with open_service(db_url) as service:
        admin = Admin(service)
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه")
    conn = raw_connect(db_url)
    try:
        if db_url.startswith("sqlite"):
            conn.executemany(
                "INSERT INTO operations (club_id, idem_key, request_hash, kind, status, amount_rial, refunded_rial, response, day,"
                " created_at, reference) VALUES (?, ?, 'h', 'purchase', 'done', 1000, 0, '{}', 20000, 0, ?)",
                [(club, f"k{g}", f"{g:012d}") for g in range(5000)])
            conn.execute("ANALYZE")
            plan = " ".join(str(row) for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT reference FROM operations WHERE club_id = ? AND reference IN (?, ?)",
                (club, "000000000100", "999999999999")).fetchall())
        else:
            conn.execute(
                "INSERT INTO operations (club_id, idem_key, request_hash, kind, status, amount_rial, refunded_rial, response, day,"
                " created_at, reference) SELECT %s, 'k' || g, 'h', 'purchase', 'done', 1000, 0, '{}', 20000, 0, lpad(g::text, 12, '0')"
                " FROM generate_series(1, 5000) g", (club,))
            conn.execute("ANALYZE operations")
            plan = "\n".join(row[0] for row in conn.execute(
                "EXPLAIN SELECT reference FROM operations WHERE club_id = %s AND reference = ANY(%s)",
                (club, ["000000000100", "999999999999"]), prepare=False).fetchall())
        conn.rollback()
    finally:
        conn.close()
    assert "ix_operations_reference_club" in plan, plan
