"""Driver-level SQL for the purchase path, one dialect layer for SQLite and PostgreSQL.

Statements are written once with ``?`` placeholders and translated for psycopg (``%s``).
Row locks (``FOR UPDATE``) are added on PostgreSQL only; SQLite serialises writers with
``BEGIN IMMEDIATE`` and the single writer thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=512)
def _to_pg(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


class Tx:
    """A thin wrapper of one driver connection used inside a write or read transaction."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.sqlite = isinstance(conn, sqlite3.Connection)
        self.cur = conn.cursor()

    def _sql(self, statement: str) -> str:
        return statement if self.sqlite else _to_pg(statement)

    def lock(self, statement: str) -> str:
        """Add a row lock to a SELECT on PostgreSQL."""
        return statement if self.sqlite else statement + " FOR UPDATE"

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        if self.sqlite:
            self.cur.execute(statement, params)
        elif "= ANY(" in statement:
            # Planned afresh each time: a generic plan cached while a table was small can pick
            # the wrong index for an array lookup and keep it as the table grows (a lookup of
            # 16 idempotency keys was scanning the whole club's operations: 4 ms instead of 0.2).
            self.cur.execute(_to_pg(statement), params, prepare=False)
        else:
            self.cur.execute(_to_pg(statement), params)
        return self.cur

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self.cur.executemany(self._sql(statement), rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append ``rows`` to ``table`` (plain inserts, no conflict clause). On PostgreSQL one COPY:
        the rows travel as one stream and the server runs no executor per row, where an
        ``executemany`` costs the client and the server a statement each."""
        if not rows:
            return
        if self.sqlite:
            self.cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.placeholders(len(columns))})", rows)
            return
        with self.cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(statement, params).fetchone()

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.execute(statement, params).fetchall())

    def rowcount(self) -> int:
        return int(self.cur.rowcount)

    def placeholders(self, n: int) -> str:
        return ",".join("?" * n)

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``column`` is one of ``values``: the SQL condition and its parameters. On PostgreSQL
        one array parameter (``= ANY(?)``), so the statement's text is the same for any number of
        values (``execute`` plans such a statement afresh for each call); on SQLite an ``IN`` list."""
        if self.sqlite:
            return f"{column} IN ({self.placeholders(len(values))})", tuple(values)
        return f"{column} = ANY(?)", (list(values),)

    # --- transactions ---
    def begin_write(self) -> None:
        if self.sqlite:
            self.cur.execute("BEGIN IMMEDIATE")
        # psycopg opens a transaction implicitly (autocommit off).

    def begin_read(self) -> None:
        if self.sqlite:
            self.cur.execute("BEGIN")

    def savepoint(self, name: str) -> None:
        self.cur.execute(f"SAVEPOINT {name}")

    def release(self, name: str) -> None:
        self.cur.execute(f"RELEASE SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        self.cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
        self.cur.execute(f"RELEASE SAVEPOINT {name}")

    def commit(self) -> None:
        if self.sqlite:
            self.cur.execute("COMMIT")
        else:
            self.conn.commit()

    def rollback(self) -> None:
        if self.sqlite:
            if self.conn.in_transaction:
                self.cur.execute("ROLLBACK")
        else:
            self.conn.rollback()
