"""A tier period close end to end through ``kimia close-period`` (issue 12, item 9).

Run (20,000 members by default; set the count for the full figure):
    .venv/bin/python -m pytest benches/test_close_period_bench.py -q -s
    KIMIA_BENCH_CLOSE_MEMBERS=1000000 .venv/bin/python -m pytest benches/test_close_period_bench.py -q -s -k sqlite
    KIMIA_BENCH_CLOSE_MEMBERS=1000000 KIMIA_TEST_PG_URL=... .venv/bin/python -m pytest benches/test_close_period_bench.py -q -s -k postgres

A club of N members is written directly (bulk SQL, untimed): a third of them earned points in the
period, held as one points lot each, so about a third rise and get a deduction; the rest stay.
Then ``kimia close-period`` runs as its own process, progress bar and all, and its wall time is
printed as ``FIGURE close-period ...``. Afterwards every member has one history row and every
deduction one operation. Nothing is asserted about the time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kimia.app import assemble
from kimia.service import Admin
from kimia.settings import Settings
from kimia.service.sql import Tx
from kimia.store.engine import raw_connect

MEMBERS = int(os.environ.get("KIMIA_BENCH_CLOSE_MEMBERS", "20000"))
TIERS = {
    "tiers": [
        {"name": "bronze", "rise_at": 0, "stay_at": 0},
        {"name": "silver", "rise_at": 100, "stay_at": 50, "grace_periods": 1, "deduct_bp": 1000},
        {"name": "gold", "rise_at": 500, "stay_at": 300, "deduct_bp": 2000},
    ]
}
#: Members written per statement while setting up.
SETUP_CHUNK = 20_000
KIMIA = str(Path(sys.executable).with_name("kimia"))


def period_points(i: int) -> int:
    """A third of the members earned 1 to 1,199 points in the period; the rest nothing."""
    return 1 + (i * 37) % 1199 if i % 3 == 0 else 0


def populate(url: str, n: int, now: int) -> int:
    """A club with tiers and ``n`` members (and their points), written in bulk; returns the club id."""
    with assemble(Settings.from_env(database_url=url, migrations="upgrade")) as service:
        admin = Admin(service)
        club = admin.create_club(admin.create_owner("مالک محک"), "باشگاه محک")
        admin.update_settings(club, {"tiers": TIERS}, actor="bench", reason="bench")
    conn = raw_connect(url)
    try:
        tx = Tx(conn)
        tx.begin_write()
        first = int(tx.one("SELECT COALESCE(MAX(id), 0) FROM members")[0]) + 1
        for start in range(0, n, SETUP_CHUNK):
            ids = range(first + start, first + min(n, start + SETUP_CHUNK))
            tx.insert_rows("members", ("id", "club_id", "name_fa", "enrolled_via", "purchase_count", "period_points", "grace_used",
                                       "frozen_until", "created_at"),
                           [(m, club, "", "api", 0, period_points(m - first), 0, 0, now) for m in ids])
            earned = [(m, period_points(m - first)) for m in ids if period_points(m - first)]
            tx.insert_rows("balances", ("club_id", "account", "owner", "balance", "credit_limit"),
                           [(club, f"member:{m}/points", f"member:{m}", p, 0) for m, p in earned])
            tx.insert_rows("lots", ("id", "club_id", "owner", "account", "original", "remaining", "expires_at", "pending_until"),
                           [(f"bench:{m}", club, f"member:{m}", f"member:{m}/points", p, p, now + 365 * 86_400, None) for m, p in earned])
        tx.commit()
    finally:
        conn.close()
    return club


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An SQLite file, or a fresh PostgreSQL database (``KIMIA_TEST_PG_URL``'s server) dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/close.db"
        return
    pg = os.environ.get("KIMIA_TEST_PG_URL", "")
    if not pg:
        pytest.skip("KIMIA_TEST_PG_URL is not set")
    import psycopg

    admin = pg.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    name = f"kimia_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield pg.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_close_period_end_to_end(url: str) -> None:
    database = "sqlite" if url.startswith("sqlite") else "postgresql"
    now = int(time.time())
    club = populate(url, MEMBERS, now - 86_400)
    started = time.perf_counter()
    done = subprocess.run([KIMIA, "--database", url, "close-period", "--club", str(club), "--period-end", str(now - 60)],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split() == ["total", f"{MEMBERS:,}"]
    with assemble(Settings.from_env(database_url=url)) as service, service.reading() as tx:
        assert tx.one("SELECT COUNT(*) FROM tier_history")[0] == MEMBERS
        due = tx.one("SELECT COUNT(*) FROM tier_history WHERE deducted_points > 0")[0]
        assert tx.one("SELECT COUNT(*) FROM operations WHERE kind = 'adjustment'")[0] == due
    print(f"\nFIGURE close-period {database} members={MEMBERS} deductions={due} seconds={seconds:.1f} "
          f"members_per_s={MEMBERS / seconds:,.0f}")
