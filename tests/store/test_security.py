"""Issue 13, items 8 and 6/7/13 at the store: SQLite files readable by their owner only, and
migration 0005 on a database that already holds data (masks narrowed, leaked numbers in the
audit log masked, the audit log chained, the append-only triggers in place)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kimia.service import Kimia
from alembic import command
from sqlalchemy import text

from kimia.service.audit import chain_rows, verify_chain
from kimia.service.sql import Tx
from kimia.store.engine import make_engine, raw_connect
from kimia.store.migrate import alembic_config, upgrade


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give a service (022): files 0644 and directories 0755 unless asked."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_the_sqlite_database_and_its_wal_are_readable_by_the_owner_only(tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    """Item 8: the directory kimia creates is 0700; the database, its -wal and its -shm 0600."""
    from kimia.service import Kimia

    db = tmp_path / "data" / "kimia.db"
    with open_service(f"sqlite:///{db}", dev_mode=True) as service:
        conn = raw_connect(service.url)  # a second connection keeps the WAL and the shared memory in place
        try:
            conn.execute("INSERT INTO club_owners (name_fa, name_en, created_at) VALUES ('مالک', 'owner', 1)")
            modes = {p.name: mode(p) for p in sorted(db.parent.iterdir())}
        finally:
            conn.close()
    assert mode(db.parent) == 0o700
    assert modes == {"kimia.db": 0o600, "kimia.db-shm": 0o600, "kimia.db-wal": 0o600}


@pytest.mark.usefixtures("usual_umask")
def test_a_database_readable_by_others_is_narrowed(tmp_path: Path) -> None:
    """A file created by an older kimia (0644) is narrowed to 0600 the next time kimia opens it."""
    db = tmp_path / "kimia.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    conn = raw_connect(f"sqlite:///{db}")
    conn.close()
    assert mode(db) == 0o600


def _at_0003(url: str) -> None:
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0003")
    finally:
        engine.dispose()


def test_migration_0005_masks_and_chains_what_is_already_stored(db_url: str) -> None:
    """Items 6, 7, 13 on an existing database: card masks cut to the last 4, a club card's display
    masked, a card number an adjustment wrote into the audit log in clear masked, the audit log
    chained, and the journal and the audit log append-only from then on."""
    pan, club_card = "6037991234567893", "770012345678"
    _at_0003(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO club_owners (id, name_fa, name_en, created_at) VALUES (1, 'o', 'o', 1)"))
            conn.execute(text("INSERT INTO clubs (id, owner_id, name_fa, name_en, utc_offset_min, settings, created_at)"
                              " VALUES (1, 1, 'c', 'c', 210, '{}', 1)"))
            conn.execute(text("INSERT INTO members (id, club_id, name_fa, enrolled_via, purchase_count, period_points, grace_used,"
                              " frozen_until, created_at) VALUES (1, 1, 'm', 'panel', 0, 0, 0, 0, 1)"))
            for kind, lookup, display in [("card", "ab" * 32, "603799******7893"), ("club_card", club_card, club_card)]:
                conn.execute(text("INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at)"
                                  " VALUES (1, 1, :k, :l, :d, 1)"), {"k": kind, "l": lookup, "d": display})
            payload = {"member": f"MemberRef(kind='card', value='{pan}')", "delta": 5, "op_id": 1}
            for reason in (f"asked by phone, card {pan}", "second"):
                conn.execute(text("INSERT INTO audit_log (club_id, actor, action, reason, payload, at) VALUES (1, 'support', 'adjust', :r, :p, 1)"),
                             {"r": reason, "p": json.dumps(payload)})
        upgrade(db_url)
        with engine.connect() as conn:
            displays = sorted(conn.execute(text("SELECT display FROM member_identifiers WHERE kind <> 'account'")).scalars())
            dumped = json.dumps([list(r) for r in conn.execute(text("SELECT actor, reason, payload FROM audit_log"))], default=str)
    finally:
        engine.dispose()
    assert displays == ["************7893", "********5678"]
    assert pan not in dumped and "123456" not in dumped and "************7893" in dumped
    conn = raw_connect(db_url)
    try:
        tx = Tx(conn)
        tx.begin_read()
        count, head, problems = verify_chain(chain_rows(tx))
        tx.rollback()
        assert (count, len(head), problems) == (2, 64, [])
        tx.begin_write()
        with pytest.raises(Exception, match="append-only"):
            tx.execute("DELETE FROM audit_log")
    finally:
        conn.close()
