"""Driver-level SQL for the purchase path, one dialect layer for SQLite and PostgreSQL.

Statements are written once with ``?`` placeholders and translated for psycopg (``%s``).
Row locks (``FOR UPDATE``) are added on PostgreSQL only; SQLite serialises writers with
``BEGIN IMMEDIATE`` and the single writer thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from typing import Any

#: SQLite's default bound on ``?`` parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
SQLITE_MAX_PARAMS = 32766


@lru_cache(maxsize=512)
def _to_pg(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


def chunks(rows: Sequence[Sequence[Any]], width: int) -> Iterator[Sequence[Sequence[Any]]]:
    """``rows`` in as few runs as SQLite's bound on parameters per statement allows (one, for any
    batch the writer makes: 256 operations)."""
    most = max(1, SQLITE_MAX_PARAMS // width)
    for start in range(0, len(rows), most):
        yield rows[start:start + most]


@lru_cache(maxsize=1024)
def values(rows: int, width: int) -> str:
    """``(?,?),(?,?),...``: ``rows`` tuples of ``width`` placeholders."""
    one = "(" + ",".join("?" * width) + ")"
    return ",".join([one] * rows)


@lru_cache(maxsize=1024)
def numbered_values(rows: int, width: int) -> str:
    """``($1,$2),($3,$4),...``: PostgreSQL's own placeholders, for a raw cursor (see ``insert_rows``)."""
    return ",".join("(" + ",".join(f"${row * width + col + 1}" for col in range(width)) + ")" for row in range(rows))


def flat(rows: Sequence[Sequence[Any]]) -> list[Any]:
    return list(chain.from_iterable(rows))


class Tx:
    """A thin wrapper of one driver connection used inside a write or read transaction."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.sqlite = isinstance(conn, sqlite3.Connection)
        self.cur = conn.cursor()
        self._pipelined = False
        self._raw: Any = None
        #: True once a write transaction was begun on it (the writer's); reads never write.
        self.writing = False
        #: Operations written in this transaction, announced once it commits (the writer keeps
        #: only those of operations whose savepoint was released): see ``Kimia.committed``.
        self.events: list[Any] = []
        #: (kind, club, member) of each operation opened in this transaction, by operation id.
        self.opened: dict[int, tuple[str, int, int | None]] = {}

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """PostgreSQL: the statements run inside are sent without waiting for one another and
        synchronised once when the block ends: one round trip for all of them instead of one each
        (about 1 ms apiece on a loaded two-core machine). The first error is raised at the end of
        the block; no statement inside may need another's result, and counts (``rowcount``,
        ``update_rows``) are not known inside. SQLite: statements run as usual."""
        if self.sqlite or self._pipelined:
            yield
            return
        self._pipelined = True
        try:
            with self.conn.pipeline():
                yield
        finally:
            self._pipelined = False

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

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], on_conflict: str = "") -> None:
        """Insert ``rows`` into ``table``, with an optional ``ON CONFLICT ...`` clause.

        SQLite: one multi-row ``VALUES`` statement (per chunk of ``chunks``) where an
        ``executemany`` binds and steps a statement once per row, releasing and retaking the GIL
        each time: for a batch of 16 purchases this took the writer's own time per purchase from
        245–262 µs to 206–242 µs (docs/benchmarks.md).
        PostgreSQL: plain inserts are one COPY (the rows travel as one stream and the server runs
        no executor per row), except inside ``pipeline``; inserts with a conflict clause, and any
        inside ``pipeline``, the same multi-row statement as on SQLite (COPY cannot run in a
        pipeline). An ``executemany`` there cost psycopg a query's whole round of Python per row:
        a fifth of the writer's time (docs/benchmarks.md, 2026-12-06). A conflict clause must then
        meet each key once per statement (the core sums a batch's rows per key). The statement goes
        through a raw cursor with PostgreSQL's own ``$n`` placeholders: psycopg parses a ``%s``
        statement of more than 50 parameters afresh on every call, which cost as much as the
        ``executemany``. It is prepared like any other (psycopg: from its fifth use; one
        statement per table and row count): the server parsing a VALUES list of hundreds of
        parameters for every batch cost more than the cache."""
        if not rows:
            return
        names = ", ".join(columns)
        width = len(columns)
        if self.sqlite:
            for chunk in chunks(rows, width):
                self.cur.execute(f"INSERT INTO {table} ({names}) VALUES {values(len(chunk), width)}{on_conflict}", flat(chunk))
            return
        if on_conflict or self._pipelined:  # COPY cannot run in a pipeline
            for chunk in chunks(rows, width):
                statement = f"INSERT INTO {table} ({names}) VALUES {numbered_values(len(chunk), width)}{on_conflict}"
                self._raw_cursor().execute(statement, flat(chunk))
            return
        with self.cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def update_rows(self, table: str, assignments: str, condition: str, rows: Sequence[Sequence[Any]]) -> int:
        """``UPDATE table SET assignments WHERE condition`` once for each row of ``rows``, whose
        values the clauses name ``v.column1``, ``v.column2``, ... (how both databases name the
        columns of ``VALUES``); at most one row of ``rows`` may match any one row of the table.
        Returns the number of rows changed (on PostgreSQL not inside ``pipeline``, where it is not
        known yet). One ``UPDATE ... FROM (VALUES ...)`` per chunk on both databases (see
        ``insert_rows``; on PostgreSQL through the raw cursor, where an ``executemany`` of the
        one-row form cost psycopg a query's Python per row). PostgreSQL types a column of
        ``VALUES`` by its values: cast a column that may be NULL in every row.
        """
        if not rows:
            return 0
        width = len(rows[0])
        changed = 0
        for chunk in chunks(rows, width):
            if self.sqlite:
                cursor = self.cur
                cursor.execute(f"UPDATE {table} SET {assignments} FROM (VALUES {values(len(chunk), width)}) AS v WHERE {condition}", flat(chunk))
            else:
                cursor = self._raw_cursor()
                cursor.execute(f"UPDATE {table} SET {assignments} FROM (VALUES {numbered_values(len(chunk), width)}) AS v WHERE {condition}",
                               flat(chunk))
            if not self._pipelined:
                changed += cursor.rowcount
        return changed

    def _raw_cursor(self) -> Any:
        """PostgreSQL: a cursor taking the server's own ``$n`` placeholders as they are."""
        if self._raw is None:
            import psycopg

            self._raw = psycopg.RawCursor(self.conn)
        return self._raw

    def all_together(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """The rows of each of ``queries``, run in order. PostgreSQL: sent together in one
        pipeline, one round trip for all (none may need another's result, but a later one sees
        what an earlier one did, such as the row locks it took); SQLite: in turn."""
        if self.sqlite or len(queries) < 2:
            return [self.all(statement, params) for statement, params in queries]
        cursors = []
        with self.conn.pipeline():
            for statement, params in queries:
                cursor = self.conn.cursor()
                # Planned afresh when it looks up an array, as ``execute`` does.
                cursor.execute(_to_pg(statement), params, prepare=False if "= ANY(" in statement else None)
                cursors.append(cursor)
        try:
            return [list(cursor.fetchall()) for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

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
        self.writing = True
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
