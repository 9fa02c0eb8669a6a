"""Durable purchases per second through the service API (issue 3), beside the same run's floors.

Run: KIMIA_TEST_PG_URL=$(bash scripts/pg.sh) .venv/bin/python -m pytest benches/test_service_bench.py -q -s

Prints, for SQLite (synchronous=FULL) and PostgreSQL at 1, 8 and 16 concurrent callers (threads
calling ``purchase``, then asyncio tasks awaiting ``purchase_async``), the purchases per second
acknowledged after COMMIT, next to the raw floors measured in the same run:
SQLite's single-commit insert rate (before and after the SQLite runs; the ratio is against the
higher) and `pgbench -c 16` TPC-B TPS. Targets (reported, not asserted):
SQLite ≥ 2× its single-commit floor; PostgreSQL at 16 callers ≥ 1.0× pgbench.

Each row also gives the process's CPU time per purchase (callers and writer together, from
``os.times``): the service runs its Python on one core at a time, so ``10⁶ / CPU µs`` is about the
most it can reach on this machine however fast the disk.

Also prints the writer's own time per purchase (``writer_cost``): batches decided, written and
committed on one thread with nothing else running, a figure that moves with the code rather than
with the machine's load. Its SQL statements (SQLite's own work and the binding of parameters) are
timed apart; with the COMMIT they give the most a writer could reach on this disk if its Python
cost nothing, beside the single-commit floor: the bound that SQLite and the schema set, before
kimia's code.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cpu import own_cpu_s

from kimia.samples import demo_rules_for
from kimia.app import assemble
from kimia.service import Admin, PurchaseRequest
from kimia.settings import Settings

PURCHASES_PER_CALLER = int(os.environ.get("KIMIA_BENCH_PURCHASES", "400"))
CALLERS = (1, 8, 16)
#: Callers as threads calling ``Kimia.purchase`` (each blocks until its commit), and as asyncio
#: tasks awaiting ``Kimia.purchase_async`` on one event loop (how the terminal host calls it).
MODES = ("threads", "asyncio")


def sqlite_floor(path: Path, n: int = 3000) -> float:
    """Single-row INSERT, one COMMIT (fsync) each, WAL + synchronous=FULL: the durable floor."""
    con = sqlite3.connect(str(path), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
    start = time.perf_counter()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t (a, b) VALUES (?, ?)", (i, "x"))
        con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    con.close()
    return n / elapsed


def pgbench_tps(admin_dsn: str, db: str) -> float:
    """pgbench TPC-B, 16 clients, 10 s, on a scratch database."""
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))[-1]
    host, port = re.search(r"@([^:/]+):(\d+)/", admin_dsn + "/").groups()  # type: ignore[union-attr]
    common = [str(binary), "-h", host, "-p", port, "-U", "postgres"]
    subprocess.run(common + ["-i", "-q", "-s", "4", db], check=True, capture_output=True)
    out = subprocess.run(common + ["-c", "16", "-j", "2", "-T", "10", "-n", db], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]


def service_rate(url: str, callers: int, mode: str = "threads") -> tuple[float, float]:
    """Durable purchases per second and the process's CPU µs per purchase."""
    service = assemble(Settings.from_env(database_url=url, migrations="upgrade"))
    admin = Admin(service)
    owner = admin.create_owner("بنچ")
    club = admin.create_club(owner, "باشگاه بنچ")
    merchant = admin.create_merchant(club, "فروشگاه")
    admin.publish_rules(club, demo_rules_for(admin, club, merchant, actor="bench"), actor="bench")
    members = [service.enroll(club, idem_key=f"e{i}", identifiers=[("account", str(10_000 + i))])["member_id"] for i in range(callers * 4)]
    run_id = uuid.uuid4().hex[:8]

    def caller(t: int) -> None:
        for i in range(PURCHASES_PER_CALLER):
            service.purchase(PurchaseRequest(idem_key=f"{run_id}-{t}-{i}", merchant_id=merchant,
                                             member=members[(t * 4 + i) % len(members)], amount_rial=250_000 + i))

    async def task(t: int) -> None:
        for i in range(PURCHASES_PER_CALLER):
            await service.purchase_async(PurchaseRequest(idem_key=f"{run_id}-{t}-{i}", merchant_id=merchant,
                                                         member=members[(t * 4 + i) % len(members)], amount_rial=250_000 + i))

    async def tasks() -> None:
        await asyncio.gather(*(task(t) for t in range(callers)))

    start, cpu_start = time.perf_counter(), own_cpu_s()
    if mode == "asyncio":
        asyncio.run(tasks())
    else:
        threads = [threading.Thread(target=caller, args=(t,)) for t in range(callers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    elapsed, cpu = time.perf_counter() - start, own_cpu_s() - cpu_start
    assert service.check().ok
    service.close()
    n = callers * PURCHASES_PER_CALLER
    return n / elapsed, cpu / n * 1e6


def test_durable_purchases_per_second(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pg = os.environ.get("KIMIA_TEST_PG_URL", "")
    rows: list[tuple[str, str, int, tuple[float, float]]] = []
    # The disk's fsync rate drifts within minutes on a shared machine: the floor is measured before
    # and after the SQLite runs and the ratio is given against the higher of the two (conservative).
    floor_before = sqlite_floor(tmp_path / "floor.db")
    for mode in MODES:
        for callers in CALLERS:
            rows.append(("sqlite", mode, callers, service_rate(f"sqlite:///{tmp_path}/k{mode}{callers}.db", callers, mode)))
    floor_after = sqlite_floor(tmp_path / "floor-after.db")
    floor = max(floor_before, floor_after)
    tps = None
    if pg:
        import psycopg

        admin = pg.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
        names = []
        with psycopg.connect(admin, autocommit=True) as conn:
            for _ in range(len(CALLERS) * len(MODES)):
                name = f"kimia_bench_{uuid.uuid4().hex[:8]}"
                conn.execute(f"CREATE DATABASE {name}")
                names.append(name)
            bench_db = f"kimia_pgbench_{uuid.uuid4().hex[:8]}"
            conn.execute(f"CREATE DATABASE {bench_db}")
        try:
            tps = pgbench_tps(pg, bench_db)
            runs = [(mode, callers) for mode in MODES for callers in CALLERS]
            for (mode, callers), name in zip(runs, names):
                rows.append(("postgresql", mode, callers, service_rate(pg.rsplit("/", 1)[0] + "/" + name, callers, mode)))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                for name in [*names, bench_db]:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    with capsys.disabled():
        print(f"\nDurable purchases/s through kimia.service (demo rules, {PURCHASES_PER_CALLER} purchases per caller)")
        print(f"{'database':<12}{'callers':<9}{'n':>4}{'purchases/s':>14}{'× floor':>10}{'CPU µs/purchase':>17}")
        for db, mode, callers, (rate, cpu_us) in rows:
            base = floor if db == "sqlite" else tps
            ratio = f"{rate / base:.2f}×" if base else "—"
            print(f"{db:<12}{mode:<9}{callers:>4}{rate:>14,.0f}{ratio:>10}{cpu_us:>17,.0f}")
        sqlite_floors = f"SQLite single-commit insert {floor_before:,.0f}/s before, {floor_after:,.0f}/s after (ratio against the higher)"
        print(f"floors: {sqlite_floors}; pgbench -c 16 TPC-B {tps:,.0f} TPS" if tps else f"floors: {sqlite_floors}")


class TimedCursor:
    """A driver cursor that adds up the wall time of its statements (SQLite: the library's own work
    and the binding of parameters), so the writer's time splits into SQL and the rest."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.spent = 0.0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._cursor.execute(*args, **kwargs)
        finally:
            self.spent += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def writer_cost(url: str, batches: int = 300, size: int = 16) -> dict[str, float]:
    """The writer's own time per purchase, without contention: batches of ``size`` purchases run
    through the one write path on this thread (``run_postings``, then COMMIT), no other thread
    holding the GIL. Throughput under load moves with the machine; this moves with the code."""
    from kimia.service.bulk import run_postings
    from kimia.service.sql import Tx
    from kimia.store.engine import raw_connect

    service = assemble(Settings.from_env(database_url=url, migrations="upgrade"))
    admin = Admin(service)
    club = admin.create_club(admin.create_owner("بنچ"), "باشگاه بنچ")
    merchant = admin.create_merchant(club, "فروشگاه")
    admin.publish_rules(club, demo_rules_for(admin, club, merchant, actor="bench"), actor="bench")
    members = [service.enroll(club, idem_key=f"e{i}", identifiers=[("account", str(10_000 + i))])["member_id"] for i in range(64)]
    tx = Tx(raw_connect(url))
    timed = TimedCursor(tx.cur)
    tx.cur = timed  # type: ignore[assignment]
    spent = {"decide and write": 0.0, "SQL statements": 0.0, "commit": 0.0}
    warmup = 20
    for b in range(warmup + batches):
        works = [service._purchase_work(PurchaseRequest(idem_key=f"w{b}-{i}", merchant_id=merchant, member=members[(b * size + i) % 64],
                                                        amount_rial=250_000 + i)) for i in range(size)]
        timed.spent = 0.0
        started = time.perf_counter()
        tx.begin_write()
        results = run_postings(tx, works)
        written, in_sql = time.perf_counter(), timed.spent  # before COMMIT, itself a statement
        tx.commit()
        done = time.perf_counter()
        assert all(isinstance(r, dict) for r in results), results
        if b >= warmup:
            spent["decide and write"] += written - started
            spent["SQL statements"] += in_sql
            spent["commit"] += done - written
    tx.conn.close()
    assert service.check().ok
    service.close()
    return {k: v / (batches * size) * 1e6 for k, v in spent.items()}


def test_writer_time_per_purchase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size = 16
    cost = writer_cost(f"sqlite:///{tmp_path}/writer.db", size=size)
    floor = sqlite_floor(tmp_path / "floor.db")
    database = cost["SQL statements"] + cost["commit"]
    with capsys.disabled():
        print(f"\nThe writer's own time per purchase on SQLite, batches of {size}, no contention: "
              + ", ".join(f"{k} {v:.0f} µs" for k, v in cost.items()) + " (SQL statements are part of decide and write)")
        # What SQLite alone allows: a writer whose Python cost nothing would still spend the SQL
        # statements and the COMMIT on every batch.
        print(f"SQL statements and COMMIT alone: {database:.0f} µs per purchase, {database * size / 1000:.2f} ms per batch of {size}:"
              f" at most {1e6 / database:,.0f} purchases/s with no Python at all, {1e6 / database / floor:.2f}× this"
              f" run's single-commit floor ({floor:,.0f}/s)")
