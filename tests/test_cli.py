"""The command line (kimia/cli.py) and the demo it builds (kimia/demo_club.py), through click's CliRunner.

One demo database (SQLite, 60 purchases) is built per module and shared; tests that change it
(close-period, expire) only add to it and run ``kimia check`` again. One demo runs on PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kimia.service import Kimia
from click.testing import CliRunner, Result

from kimia import gregorian_to_jalali
from kimia.cli import main, parse_date
from kimia.demo_club import (
    DemoClock,
    build_demo,
    demo_steps,
    make_card_number,
    make_national_code,
    make_sheba,
    tehran_midnight,
)
from kimia.identifiers import validate_card_number, validate_national_code, validate_sheba

TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))
#: The demo's month ends two days ago (Tehran time), so "now" is after it whatever the clock says.
LAST_DAY = dt.datetime.now(TEHRAN).date() - dt.timedelta(days=2)
PURCHASES = 60


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database", url, *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Result]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli')}/kimia.db"
    result = run(url, "demo", "--purchases", str(PURCHASES), "--seed", "3", "--until", LAST_DAY.isoformat())
    yield url, result


def settlement_rows(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:7] == ["club_id", "day", "role", "beneficiary_id", "name", "sheba", "amount_rial"]
    return rows[1:]


# --- init ---------------------------------------------------------------------------------------


def test_init_twice_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kimia.db"
    first, second = run(url, "init"), run(url, "init")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert first.stdout == second.stdout
    assert f"database: {url}" in first.stdout
    assert "(newest)" in first.stdout
    assert run(url, "check").exit_code == 0  # an empty, initialised database checks out


def test_commands_refuse_a_database_that_was_never_initialised(tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path}/none.db", "check")
    assert result.exit_code == 1
    assert result.stderr.startswith("not_initialized: ")
    assert not (tmp_path / "none.db").exists()


# --- demo ---------------------------------------------------------------------------------------


def test_demo_builds_and_checks(demo_db: tuple[str, Result]) -> None:
    url, result = demo_db
    assert result.exit_code == 0, result.output
    out = result.stdout
    for fact in ("باشگاه کیمیا", "زیرباشگاه شمال", "باشگاه فرهنگیان", "merchants: 9", "members: 60",
                 f"purchases: {PURCHASES - 1} ", "total discount", "points issued", "credit issued", "credit spent",
                 "top members by points", "tiers: ", "drawn", "kimia draw-lottery --lottery"):
        assert fact in out, fact
    assert "every invariant holds" in out
    assert "3 staff (codes 1001–1003), 3 cash-book entries today, 12 bookable slots, one booked" in out
    check = run(url, "check")
    assert check.exit_code == 0
    assert check.stdout.startswith("ok: ")


def test_the_demo_s_extras_are_seeded_once(demo_db: tuple[str, Result], open_service: Callable[..., Kimia]) -> None:
    """Seeding the extras again (a second run of the demo's last step) adds nothing."""
    from kimia.world.extras_demo import seed_extras

    url, _ = demo_db
    tables = ("attendance_staff", "attendance_records", "cash_entries", "appointments_slots", "appointments_bookings")
    with open_service(url, dev_mode=True) as service:
        def counts() -> list[int]:
            with service.reading() as tx:
                return [int(tx.one(f"SELECT COUNT(*) FROM {t}")[0]) for t in tables]

        before = counts()
        assert before == [3, 2, 3, 12, 1]
        seed_extras(service, None)
        assert counts() == before


def test_demo_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        result = run(f"sqlite:///{tmp_path}/{name}.db", "demo", "--purchases", "25", "--seed", "11", "--until", LAST_DAY.isoformat())
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]


def test_demo_reset_deletes_only_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kimia.db"
    assert run(url, "init").exit_code == 0
    result = run(url, "demo", "--purchases", "5", "--reset", "--until", LAST_DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert "members: 60" in result.stdout  # one demo, not one on top of another
    refused = run("postgresql+psycopg://nobody@127.0.0.1:1/nothing", "demo", "--reset")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("reset_not_supported: ")
    assert " / " in refused.stderr


def test_build_demo_reports_every_step(tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    from kimia.service import Admin, Kimia

    steps: list[int] = []
    with open_service(f"sqlite:///{tmp_path}/k.db", clock=DemoClock(tehran_midnight(LAST_DAY))) as service:
        summary = build_demo(service, Admin(service), purchases=10, seed=5, progress=lambda n, label: steps.append(n))
    assert sum(steps) == demo_steps(10)
    assert summary.check_ok, summary.check_summary
    assert summary.members == 60 and summary.merchants == 9
    assert [line.name_fa for line in summary.clubs] == ["باشگاه کیمیا", "زیرباشگاه شمال", "باشگاه فرهنگیان"]


def test_generated_identifiers_are_valid() -> None:
    rng = random.Random(0)
    for _ in range(300):
        assert validate_card_number(make_card_number(rng))
        assert validate_national_code(make_national_code(rng))
        assert validate_sheba(make_sheba(rng))


# --- settle -------------------------------------------------------------------------------------


def busiest_day(url: str) -> tuple[dt.date, list[list[str]]]:
    best: tuple[dt.date, list[list[str]]] | None = None
    for back in range(30):
        day = LAST_DAY - dt.timedelta(days=back)
        result = run(url, "settle", "--club", "1", "--day", day.isoformat())
        assert result.exit_code == 0, result.output
        rows = settlement_rows(result.stdout)
        if best is None or len(rows) > len(best[1]):
            best = (day, rows)
    assert best is not None
    return best


def test_settle_total_line_is_the_sum_of_the_lines(demo_db: tuple[str, Result], tmp_path: Path) -> None:
    url, _ = demo_db
    day, rows = busiest_day(url)
    *lines, total = rows
    assert len(lines) >= 3
    assert total[2] == "total"
    assert int(total[6]) == sum(int(line[6]) for line in lines) > 0
    assert int(total[7]) == sum(int(line[7]) for line in lines)
    merchants = [line for line in lines if line[2] == "merchant"]
    assert merchants and all(validate_sheba(line[5]) for line in merchants)

    # The same day named in the Jalali calendar (Persian digits and slashes accepted), into a file.
    y, m, d = gregorian_to_jalali(day.year, day.month, day.day)
    jalali = f"{y}/{m:02d}/{d:02d}".translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    out = tmp_path / "settle.csv"
    result = run(url, "settle", "--club", "1", "--day", jalali, "--jalali", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert settlement_rows(out.read_text(encoding="utf-8")) == rows
    assert f"total {int(total[6]):,} rial" in result.stderr


def test_settle_rejects_a_date_that_does_not_exist() -> None:
    result = run("sqlite:///unused.db", "settle", "--club", "1", "--day", "1404-12-30", "--jalali")  # 1404 is not a leap year
    assert result.exit_code == 1
    assert result.stderr.startswith("invalid_date: ")
    assert parse_date("1403-12-30", jalali=True) == dt.date(2025, 3, 20)
    assert parse_date("۲۰۲۶-۰۳-۱۵") == dt.date(2026, 3, 15)


# --- backtest -----------------------------------------------------------------------------------


def test_backtest_prints_totals(demo_db: tuple[str, Result]) -> None:
    url, _ = demo_db
    result = run(url, "backtest", "--club", "1", "--days", "400")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "rule set version 1" in out
    purchases = next(line for line in out.splitlines() if line.startswith("purchases"))
    assert int(purchases.split()[-1].replace(",", "")) > 0
    for heading in ("points issued", "cost (rial)", "club_owner", "merchant", "کافه نارنج", "points-base", "lottery-nowruz"):
        assert heading in out, heading


# --- tier periods and expiry --------------------------------------------------------------------


def test_close_period_and_expire_run(demo_db: tuple[str, Result]) -> None:
    url, _ = demo_db
    closed = run(url, "close-period", "--club", "1", "--period-end", str(int(time.time()) - 100))
    assert closed.exit_code == 0, closed.output
    assert "tier period closed" in closed.stdout and "total" in closed.stdout
    again = run(url, "close-period", "--club", "1", "--now")
    assert again.exit_code == 1
    assert again.stderr.startswith("period_too_short: ")
    end = tehran_midnight(LAST_DAY)  # before the demo's own close at the end of its month
    retried = run(url, "close-period", "--club", "3", "--period-end", str(end))
    assert retried.exit_code == 1
    assert retried.stderr.startswith("period_already_closed: ")
    assert run(url, "close-period", "--club", "1").exit_code == 2  # --now or --period-end is required

    expired = run(url, "expire", "--club", "1")
    assert expired.exit_code == 0, expired.output
    assert "club 1: expired lots retired for" in expired.stdout
    assert run(url, "expire", "--club", "1").exit_code == 0  # re-runnable
    assert run(url, "check").exit_code == 0


def test_draw_lottery_from_the_demo_summary(demo_db: tuple[str, Result]) -> None:
    url, result = demo_db
    line = next(line for line in result.stdout.splitlines() if "kimia draw-lottery" in line)
    args = line.split("kimia ", 1)[1].split()
    wrong = run(url, "draw-lottery", "--lottery", args[2], "--seed", "not-the-seed")
    assert wrong.exit_code == 1 and wrong.stderr.startswith("seed_mismatch: ")
    drawn = run(url, *args)
    assert drawn.exit_code == 0, drawn.output
    assert "drawn" in drawn.stdout
    assert run(url, *args).stderr.startswith("lottery_not_open: ")


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["expire", "--club", "999"],
        ["close-period", "--club", "999", "--now"],
        ["settle", "--club", "999", "--day", "2026-01-01"],
        ["backtest", "--club", "999"],
    ],
)
def test_unknown_club_is_a_clean_error(demo_db: tuple[str, Result], args: list[str]) -> None:
    url, _ = demo_db
    result = run(url, *args)
    assert result.exit_code == 1
    assert result.stderr == "unknown_club: No such club / چنین باشگاهی وجود ندارد\n"
    assert result.stdout == ""


def test_an_unreachable_database_is_a_clean_error() -> None:
    result = run("postgresql+psycopg://nobody@127.0.0.1:1/nothing", "check")
    assert result.exit_code == 1
    assert result.stderr.startswith("database_error: ")
    assert "Traceback" not in result.output


# --- PostgreSQL ---------------------------------------------------------------------------------


def test_demo_on_postgresql(pg_url: str) -> None:
    assert run(pg_url, "init").exit_code == 0
    result = run(pg_url, "demo", "--purchases", "40", "--seed", "2", "--until", LAST_DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert "every invariant holds" in result.stdout
    assert run(pg_url, "check").exit_code == 0
    backtest = run(pg_url, "backtest", "--club", "3", "--days", "400")
    assert backtest.exit_code == 0, backtest.output
    assert "teachers-stationery" in backtest.stdout


# --- card keys (issue 13, item 6) -------------------------------------------------------------------


def test_commands_refuse_to_start_without_a_card_key(demo_db: tuple[str, Result], monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside development mode and without KIMIA_CARD_HASH_KEY, a command stops with a stable
    code instead of hashing cards under the development key; init still works (and warns)."""
    url, _ = demo_db
    monkeypatch.delenv("KIMIA_DEV_MODE", raising=False)
    monkeypatch.delenv("KIMIA_CARD_HASH_KEY", raising=False)
    result = run(url, "check")
    assert result.exit_code == 1
    assert result.stderr.startswith("card_key_missing: ")
    init = run(url, "init")
    assert init.exit_code == 0 and "KIMIA_CARD_HASH_KEY is not set" in init.stderr


def test_card_keys_counts_hashes_per_key_and_rehash_cards_hashes_clear_club_cards(demo_db: tuple[str, Result]) -> None:
    """The demo's cards are under the development key; a club card stored in clear (as before
    revision 0005) is counted as such and hashed by ``kimia rehash-cards``, then found by number."""
    from kimia.identifiers import club_card_hash, key_id
    from kimia.service.cardkeys import DEV_CARD_KEY
    from kimia.store.engine import raw_connect

    url, _ = demo_db
    conn = raw_connect(url)
    try:
        conn.execute("BEGIN IMMEDIATE")
        member, club = conn.execute("SELECT member_id, club_id FROM member_identifiers WHERE kind = 'club_card' LIMIT 1").fetchone()
        conn.execute("INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at) VALUES (?, ?, 'club_card', ?, ?, 0)",
                     (club, member, "990011223344", "********3344"))
        conn.execute("COMMIT")
    finally:
        conn.close()
    report = run(url, "card-keys")
    assert report.exit_code == 0, report.output
    dev = key_id(DEV_CARD_KEY)
    assert f"current key: {dev} (the development key)" in report.stdout
    assert any(line.split()[:3] == [dev, "current", "card"] for line in report.stdout.splitlines())
    assert any(line.split()[:4] == ["-", "clear", "club_card", "1"] for line in report.stdout.splitlines())
    rehashed = run(url, "rehash-cards")
    assert rehashed.exit_code == 0 and rehashed.stdout.startswith("1 club card(s) hashed"), rehashed.output
    conn = raw_connect(url)
    try:
        stored = conn.execute("SELECT lookup, key_id FROM member_identifiers WHERE display = '********3344'").fetchall()
        action = conn.execute("SELECT actor, action FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    assert stored == [(club_card_hash("990011223344", DEV_CARD_KEY), dev)]
    assert action[1] == "rehash_cards" and action[0].startswith("cli:")
    assert "clear" not in run(url, "card-keys").stdout
    assert run(url, "check").exit_code == 0
