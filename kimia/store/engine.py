"""Database engines. SQLite is the embedded default; PostgreSQL is used at scale.

SQLite connections run in WAL mode with ``synchronous=FULL`` and foreign keys on, and these are
read back and asserted on every new connection: a silently different setting would make
"acknowledged" mean less than it says. Writes take the write lock up front (``BEGIN IMMEDIATE``)
so a read-then-write can never be upgraded into a lost update or a ``SQLITE_BUSY`` storm.

The SQLite file holds card hashes, balances and the audit log: it is created readable by its
owner only (0600, in a directory kimia creates 0700), and SQLite gives its ``-wal`` and ``-shm``
files the database file's mode. A file found readable by others is narrowed to 0600 too.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from kimia.settings import DEFAULT_DATABASE_URL as DEFAULT_URL

BUSY_TIMEOUT_MS = 10_000
#: Prepared statements kept per purchase-path connection (sqlite3's default is 128).
STATEMENT_CACHE = 1024
#: Modes of what kimia creates for an SQLite database: the file (its -wal and -shm follow it) and its directory.
FILE_MODE = 0o600
DIR_MODE = 0o700

log = logging.getLogger(__name__)


def connect_url(url: str | None = None) -> str:
    """The database URL: the argument, else the embedded SQLite file. (``KIMIA_DATABASE_URL`` is
    read by kimia.settings, once: a process passes its settings' URL here.)"""
    return url or DEFAULT_URL


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def configure_sqlite(dbapi_connection: sqlite3.Connection) -> None:
    """Set and verify the durability settings of one SQLite connection."""
    # Autocommit at the driver level: kimia issues BEGIN / BEGIN IMMEDIATE itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        sync = cursor.execute("PRAGMA synchronous").fetchone()[0]
        fks = cursor.execute("PRAGMA foreign_keys").fetchone()[0]
    finally:
        cursor.close()
    in_memory = mode == "memory"
    if not ((mode == "wal" or in_memory) and sync == 2 and fks == 1):
        raise RuntimeError(f"SQLite settings not applied: journal_mode={mode} synchronous={sync} foreign_keys={fks}")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for an in-memory database)."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def prepare_sqlite_file(path: Path) -> None:
    """Create the database's directory (0700) and file (0600) before SQLite does (SQLite would
    create the file 0644 under the usual umask, and the -wal and -shm files copy its mode); narrow
    an existing file readable by others, and its -wal and -shm, to 0600."""
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path.parent, DIR_MODE)  # mkdir's mode is filtered by the umask
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        os.chmod(path, FILE_MODE)
        return
    except FileExistsError:
        pass
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
                log.warning("%s was readable by other users (mode %o); narrowed to %o", file, mode, mode & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s is readable by other users and kimia cannot change its mode", file)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for the panel, migrations and tools (the purchase path uses its own connections)."""
    url = connect_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            prepare_sqlite_file(path)
        engine = create_engine(url, poolclass=NullPool, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            configure_sqlite(dbapi_connection)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def raw_connect(url: str | None = None) -> Any:
    """A driver-level connection for the purchase path: sqlite3 (autocommit, pragmas checked)
    or psycopg (autocommit off, READ COMMITTED with explicit row locks)."""
    url = connect_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            prepare_sqlite_file(path)
        # A large statement cache: the bulk path's multi-row statements come in one shape per
        # table and row count (kimia.service.sql.Tx.insert_rows), each worth keeping prepared.
        conn = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000,
                               cached_statements=STATEMENT_CACHE)
        configure_sqlite(conn)
        return conn
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return psycopg.connect(dsn, autocommit=False)
