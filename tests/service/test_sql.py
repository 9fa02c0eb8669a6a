"""``kimia.service.sql.Tx``'s multi-row writes, on SQLite and PostgreSQL: rows inserted with and
without a conflict clause, one update per row of values with the count of rows changed, and
SQLite's statements cut where its bound on parameters per statement says.

Each test works on a scratch table inside a transaction it rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import sqlite3

import psycopg
import pytest

from kimia.service import sql
from kimia.service.sql import Tx
from kimia.store.engine import raw_connect

UPSERT = " ON CONFLICT (k) DO UPDATE SET n = scratch.n + excluded.n"


@contextmanager
def scratch(url: str) -> Iterator[Tx]:
    conn = raw_connect(url)
    tx = Tx(conn)
    try:
        tx.begin_write()
        tx.execute("CREATE TABLE scratch (k BIGINT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)")
        yield tx
    finally:
        tx.rollback()
        conn.close()


def table(tx: Tx) -> dict[int, int]:
    return {k: n for k, n in tx.all("SELECT k, n FROM scratch ORDER BY k")}


def test_insert_rows_with_and_without_a_conflict_clause(db_url: str) -> None:
    with scratch(db_url) as tx:
        tx.insert_rows("scratch", ("k", "n", "note"), [(1, 2, "یک"), (2, 5, None)])
        tx.insert_rows("scratch", ("k", "n", "note"), [(2, 1, "x"), (3, 4, "y")], UPSERT)
        assert table(tx) == {1: 2, 2: 6, 3: 4}
        assert tx.all("SELECT note FROM scratch ORDER BY k") == [("یک",), (None,), ("y",)]
        tx.insert_rows("scratch", ("k", "n", "note"), [])  # nothing to do
        assert table(tx) == {1: 2, 2: 6, 3: 4}


def test_update_rows_counts_the_rows_it_changed(db_url: str) -> None:
    with scratch(db_url) as tx:
        tx.insert_rows("scratch", ("k", "n", "note"), [(1, 2, None), (2, 5, None), (3, 1, None)])
        # Take 3 from every row that holds at least 3: only row 2 does.
        changed = tx.update_rows("scratch", "n = n - v.column1", "scratch.k = v.column2 AND scratch.n >= v.column1",
                                 [(3, 1), (3, 2), (3, 3)])
        assert changed == 1
        assert table(tx) == {1: 2, 2: 2, 3: 1}
        assert tx.update_rows("scratch", "n = 0", "scratch.k = v.column1", []) == 0


def test_sqlite_statements_are_cut_at_the_parameter_bound(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "SQLITE_MAX_PARAMS", 7)  # two rows of three values per statement
    assert [len(c) for c in sql.chunks([(i,) * 3 for i in range(5)], 3)] == [2, 2, 1]
    with scratch(sqlite_url) as tx:
        tx.insert_rows("scratch", ("k", "n", "note"), [(i, i, None) for i in range(1, 6)])
        tx.insert_rows("scratch", ("k", "n", "note"), [(i, 1, None) for i in range(1, 6)], UPSERT)
        assert tx.update_rows("scratch", "n = n + v.column1", "scratch.k = v.column2", [(10, i) for i in range(1, 6)]) == 5
        assert table(tx) == {i: i + 11 for i in range(1, 6)}


def test_all_together_answers_each_query_in_order(db_url: str) -> None:
    with scratch(db_url) as tx:
        tx.insert_rows("scratch", ("k", "n", "note"), [(1, 2, "a"), (2, 5, "b"), (3, 9, None)])
        in_keys, params = tx.among("k", [1, 3])
        first, second, third = tx.all_together([
            (tx.lock(f"SELECT k, n FROM scratch WHERE {in_keys} ORDER BY k"), params),
            ("SELECT count(*) FROM scratch WHERE n > ?", (4,)),
            ("SELECT note FROM scratch WHERE k = ?", (42,)),
        ])
        assert [tuple(r) for r in first] == [(1, 2), (3, 9)]
        assert [tuple(r) for r in second] == [(2,)]
        assert third == []
        assert tx.all_together([]) == []


def test_an_error_in_a_pipeline_rolls_back_to_the_savepoint(db_url: str) -> None:
    """The writer's fallback: a batch whose pipelined writes fail (here a duplicate key) is rolled
    back to its savepoint, and the transaction goes on."""
    with scratch(db_url) as tx:
        tx.insert_rows("scratch", ("k", "n", "note"), [(1, 1, None)])
        tx.savepoint("batch")
        with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
            with tx.pipeline():
                tx.insert_rows("scratch", ("k", "n", "note"), [(2, 2, None)])
                tx.insert_rows("scratch", ("k", "n", "note"), [(1, 7, None)])  # k = 1 exists
                tx.insert_rows("scratch", ("k", "n", "note"), [(3, 3, None)], UPSERT)
        tx.rollback_to("batch")
        assert table(tx) == {1: 1}
        with tx.pipeline():
            tx.insert_rows("scratch", ("k", "n", "note"), [(2, 2, None)])
            tx.update_rows("scratch", "n = n + v.column1", "scratch.k = v.column2", [(10, 1)])
        assert table(tx) == {1: 11, 2: 2}
