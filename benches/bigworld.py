"""A big world, fast: one club (with its sub-club) of 1,000,000 members and 5,000,000 operations
over six months, on a fresh SQLite file or PostgreSQL database, for the panel's benchmark
(benches/panel_bench.py).

What goes through the service, as a club's staff would make it: the fee tariffs, the owner, the
club and its sub-club, merchants (3 of tests/service/builders.py ``build_club`` plus
``EXTRA_MERCHANTS``) with a terminal each, the groups, the lottery, the voucher offer, the settings
(tiers, conversion) and the published rules, and a panel admin (``ADMIN_LOGIN``).

What is written in bulk, row by row as the service writes it (kimia/service/members.py enroll,
kimia/service/posting.py Run.flush; the rows of a purchase were read off a real one):

- members, each enrolled by an ``enroll`` operation, with a name drawn from common Persian first
  and last names (some typed with the Arabic ي/ك, as people do), a 12-digit account number, a
  mobile (95%), a national code (60%), a bank card (30%) and a club card (20%). Cards are stored
  as the service stores them: the keyed hash of the current card key (development mode's key,
  which the benchmark's server uses too) and the last-4 mask;
- purchases (the rest of ``operations``) spread over ``DAYS`` days before now, more on weekends,
  at each member's two or three usual merchants; 100 heavy members make 4% of them. Each one
  is decided as the club's rules decide it: points per 10,000 rials with the tier multiplier
  (``points-base``), 5% off in the food court (``food-court-5``, funded half by the merchant),
  10% merchant credit in the sub-club (``north-credit``, 60 days), a lottery entry per 1,000,000
  rials (``lottery``), and in 6% of them the member pays with points (100 rials a point). The
  answer kept in ``operations.response`` is the receipt's (amounts, applied rules, explanations
  in Persian and English); ``decision`` is left empty (nothing the panel reads);
- their journal legs (two per posting, in the core's order, seq per posting), balances (the sums
  of the legs per account), lots (points drawn soonest-expiring first by the redemptions; credit
  and lottery entries untouched), split legs (platform fee, club owner, marketer, merchant),
  members' counters (purchase count, last purchase, period points), member days and merchant
  visits;
- the panel's search words (migration 0014, ``member_search_words``) when that table exists,
  made with kimia.service.search_keys; the dashboard's aggregates (migration 0015) when
  kimia.service.dashboard_views has ``rebuild_daily``, by that function.

Not made: refunds, reversals, holds, expiry runs, vouchers bought, tier period closes.

Secondary indexes of the big tables are dropped during the load and made again after it; PostgreSQL's
tables are analysed after it, as autovacuum would, SQLite's are not, as kimia never does. SQLite
loads with ``synchronous=OFF`` and no rollback journal, PostgreSQL with COPY and foreign-key
triggers off (``session_replication_role = replica``). The world's
description (ids, the admin's password, sample identifiers for the searches, heavy and light
members, the load time) is written beside it as JSON, so a later run reuses it (``--reuse``).

    .venv/bin/python benches/bigworld.py --database sqlite:////tmp/bench/big.db
    .venv/bin/python benches/bigworld.py --database "$(bash scripts/pg.sh | sed 's/kimia_test/kimia_bigworld/')"
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # tests/service/builders.py: build_club, FakeClock
os.environ.setdefault("KIMIA_DEV_MODE", "1")

from service.builders import FakeClock, build_club  # noqa: E402

from kimia.app import assemble  # noqa: E402
from kimia.identifiers import key_id as card_key_id  # noqa: E402
from kimia.service import staff  # noqa: E402
from kimia.settings import Settings  # noqa: E402
from kimia.world import WorldBuilder  # noqa: E402
from kimia.world.people import CARD_BINS, national_code_of, with_luhn  # noqa: E402

DAY_S = 86_400
#: How far back the purchases go.
DAYS = 183
UTC_OFFSET_MIN = 210
EXTRA_MERCHANTS = 45
#: Of them, this many in the sub-club (merchant credit there).
EXTRA_IN_SUB = 7
HEAVY_MEMBERS = 100
HEAVY_SHARE = 0.04
REDEEM_SHARE = 0.06
ADMIN_LOGIN = "bench-admin"
ADMIN_PASSWORD = "bench-admin-password-1"
#: Rows per statement run (SQLite executemany) / per COPY.
CHUNK = 20_000
POINT_VALUE_RIAL = 100
TIER_MULT_BP = {None: 10_000, "bronze": 10_000, "silver": 15_000, "gold": 20_000}

FIRST_NAMES = (
    "محمد", "علی", "حسین", "رضا", "مهدی", "امیر", "حسن", "مصطفی", "سعید", "حمید", "مجید", "احمد", "جواد", "محسن", "مرتضی",
    "کامران", "کیوان", "بهرام", "داریوش", "فرهاد", "پیمان", "بابک", "سینا", "آرش", "امید", "یاسر", "یوسف", "یعقوب", "کاوه",
    "محمدرضا", "علی‌رضا", "امیرحسین", "ابوالفضل", "عبدالله",
    "فاطمه", "زهرا", "مریم", "سارا", "نرگس", "لیلا", "مینا", "نازنین", "الهام", "سمیه", "زینب", "کوثر", "یاسمن", "یگانه",
    "کیمیا", "کتایون", "شیرین", "پریسا", "پروانه", "نیلوفر", "ترانه", "هانیه", "آیدا", "ریحانه", "مهسا", "فرشته", "سپیده",
    "ملیکا", "ستاره", "نگین", "بهاره", "رؤیا", "یلدا", "کبری", "فریبا",
)
LAST_NAMES = (
    "محمدی", "حسینی", "احمدی", "رضایی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی", "کاظمی", "قاسمی", "یزدانی",
    "یوسفی", "یعقوبی", "کیانی", "کرمانی", "کاشانی", "شیرازی", "تهرانی", "اصفهانی", "تبریزی", "یزدی", "کامرانی", "نیکنام",
    "حسین‌زاده", "علی‌زاده", "قلی‌پور", "نیک‌پور", "رستمی", "فرهادی", "اکبری", "نوری", "باقری", "عباسی", "ملکی", "زارعی",
    "سلیمانی", "کوهی", "مرادی", "نجفی", "شریفی", "توکلی", "کریم‌خانی", "میرزایی", "پاکزاد", "کشاورز", "کیهانی", "یگانه",
    "خلیلی", "سبحانی", "دهقان", "آقایی", "بیگی", "جمشیدی", "طاهری", "ابراهیمی", "فتحی", "کامیاب", "کوچکی", "یاوری",
)
_ARABIC_LETTERS = str.maketrans({"ی": "ي", "ک": "ك"})
_FA_DIGITS = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")


def fa_num(n: int) -> str:
    return f"{n:,}".translate(_FA_DIGITS)


# --- identifiers: the i-th member's, unique by construction (bijections mod a power of ten) -------


def mobile_of(i: int) -> str:
    return f"+989{(i * 7919 + 12_345) % 900_000_000 + 100_000_000:09d}"


def national_code_for(i: int) -> str:
    body = (i * 7907 + 1_234_567) % 10**9
    code = national_code_of(f"{body:09d}")
    return code if len(set(code)) > 1 else ""


def card_of(i: int) -> str:
    return with_luhn(f"{CARD_BINS[i % len(CARD_BINS)]}{(i * 7901 + 7) % 10**9:09d}")


def club_card_of(i: int) -> str:
    return f"9860{(i * 7873 + 4_242) % 10**12:012d}"


def account_of(i: int) -> str:
    return str(10**11 + (i * 7877 + 99_991) % (9 * 10**11))


@dataclass
class WorldInfo:
    """What the benchmark needs to know of a built world (kept as JSON beside it)."""

    url: str
    members: int
    operations: int
    club_id: int
    sub_club_id: int
    admin_login: str
    admin_password: str
    built_at: int
    load_s: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    #: Samples for the searches: mobiles (local form), national codes, card last 4, club cards, names.
    mobiles: list[str] = field(default_factory=list)
    national_codes: list[str] = field(default_factory=list)
    card_last4: list[str] = field(default_factory=list)
    club_cards: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    heavy_members: list[int] = field(default_factory=list)
    light_members: list[int] = field(default_factory=list)
    #: What the load did beyond the plain tables (search words, dashboard aggregates).
    extras: list[str] = field(default_factory=list)

    @staticmethod
    def path_for(url: str) -> Path:
        if url.startswith("sqlite"):
            return Path(url.split("///", 1)[1] + ".world.json")
        return Path("/tmp") / ("bigworld-" + hashlib.sha256(url.encode()).hexdigest()[:12] + ".world.json")

    def save(self) -> None:
        self.path_for(self.url).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, url: str) -> WorldInfo | None:
        path = cls.path_for(url)
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


# --- the database ---------------------------------------------------------------------------------


def fresh(url: str) -> None:
    """Remove the SQLite file, or drop and create the PostgreSQL database (on its server's ``postgres``)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm", ".world.json"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return
    import psycopg

    base, name = url.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Loader:
    """Bulk rows into one database: executemany in one transaction (SQLite), COPY (PostgreSQL)."""

    BIG = ("members", "member_identifiers", "operations", "journal", "balances", "lots", "split_legs", "member_days",
           "merchant_visits", "member_search_words")

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.counts: dict[str, int] = {}
        if self.sqlite:
            import sqlite3

            self.conn: Any = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=OFF")
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.execute("PRAGMA foreign_keys=OFF")
            self.conn.execute("PRAGMA cache_size=-1000000")
            self.conn.execute("PRAGMA temp_store=MEMORY")
            self.conn.execute("BEGIN")
        else:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=False)
            self.conn.execute("SET session_replication_role = replica")  # no foreign-key triggers during the load
            self.conn.execute("SET maintenance_work_mem = '512MB'")
        self.tables = self._tables()
        self.indexes = self._drop_indexes()

    def _tables(self) -> set[str]:
        if self.sqlite:
            return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {r[0] for r in self.conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}

    def _drop_indexes(self) -> list[str]:
        """Drop the secondary indexes of the big tables (not those of keys and unique constraints);
        returns the statements that make them again."""
        big = [t for t in self.BIG if t in self.tables]
        if self.sqlite:
            rows = self.conn.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({','.join('?' * len(big))})",
                big).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (big,)).fetchall()
        for name, _ in rows:
            self.conn.execute(f'DROP INDEX "{name}"')
        return [sql for _, sql in rows]

    def put(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self.counts[table] = self.counts.get(table, 0) + len(rows)
        if self.sqlite:
            self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})", rows)
            return
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self, say: Any) -> None:
        """Make the indexes again, move the sequences past the ids given, analyse, commit."""
        started = time.perf_counter()
        for sql in self.indexes:
            self.conn.execute(sql)
        say(f"  indexes made again ({len(self.indexes)}) in {time.perf_counter() - started:.1f} s")
        if self.sqlite:
            self.conn.execute("COMMIT")
            # No ANALYZE: kimia never runs it, so a production SQLite file plans without statistics
            # (sqlite_stat1), and so must the benchmark's. PostgreSQL's autovacuum analyses.
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.close()
            return
        for (table,) in self.conn.execute("SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
                                          " AND column_name = 'id' AND column_default LIKE 'nextval%%'").fetchall():
            self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}")
        self.conn.execute("SET session_replication_role = DEFAULT")
        self.conn.commit()
        started = time.perf_counter()
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        say(f"  vacuumed and analysed in {time.perf_counter() - started:.1f} s")
        self.conn.close()

    def max_id(self, table: str) -> int:
        row = self.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()
        return int(row[0])


# --- building ---------------------------------------------------------------------------------------


OP_COLUMNS = ("id", "club_id", "idem_key", "request_hash", "kind", "status", "member_id", "merchant_id", "terminal_id",
              "original_op_id", "amount_rial", "refunded_rial", "reference", "response", "decision", "day", "created_at", "actor")
LEG_COLUMNS = ("id", "club_id", "op_id", "seq", "account", "amount", "unit", "memo", "created_at")
SPLIT_COLUMNS = ("id", "club_id", "op_id", "role", "beneficiary_id", "amount_rial", "day")
LOT_COLUMNS = ("id", "club_id", "owner", "account", "original", "remaining", "expires_at", "pending_until")


@dataclass
class Shop:
    id: int
    club_id: int
    terminal_id: int
    food_court: bool
    credit: bool
    marketer: bool
    fee_bp: int


def build(url: str, *, members: int, operations: int, seed: int = 1, say: Any = print) -> WorldInfo:
    """Build the world on a fresh database at ``url``; returns (and saves) its description."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = int(time.time())
    offset_s = UTC_OFFSET_MIN * 60
    start = ((now + offset_s) // DAY_S - DAYS + 1) * DAY_S - offset_s  # local midnight, DAYS - 1 days before today
    fresh(url)
    clock = FakeClock(start - 400 * DAY_S)
    settings = Settings.from_env({}, database_url=url, migrations="upgrade", dev_mode=True)
    with assemble(settings, clock=clock) as svc:
        world = build_club(svc, clock)
        b = WorldBuilder(svc)
        shops = [
            Shop(world.merchants["cafe"], world.club_id, world.terminals["cafe"], True, False, True, 30),
            Shop(world.merchants["restaurant"], world.club_id, world.terminals["restaurant"], True, False, False, 50),
            Shop(world.merchants["bookshop"], world.sub_club_id, world.terminals["bookshop"], False, True, True, 30),
        ]
        kinds = ("سوپرمارکت", "نانوایی", "داروخانه", "پوشاک", "کافه", "رستوران", "کتاب‌فروشی", "میوه‌فروشی", "لوازم‌التحریر")
        for n in range(EXTRA_MERCHANTS):
            sub = n < EXTRA_IN_SUB
            club = world.sub_club_id if sub else world.club_id
            kind = kinds[n % len(kinds)]
            restaurant = kind == "رستوران"
            merchant = b.merchant(club, f"{kind} {fa_num(n + 1)}", name_en=f"Shop {n + 1}", business_type="restaurant" if restaurant else "retail",
                                  marketer_id=world.marketer_id if n % 3 == 0 else None)
            terminal = b.terminal(merchant, f"B{n:07d}", f"BM{n:013d}")
            shops.append(Shop(merchant, club, terminal, False, sub, n % 3 == 0, 50 if restaurant else 30))
        staff.create_user(svc, login=ADMIN_LOGIN, name="مدیر سنجش", role="admin", password=ADMIN_PASSWORD, actor="bench",
                          club_id=world.club_id)
        card_key = svc.card_keys.current
    key_of_cards = card_key_id(card_key)
    root, sub_club = world.club_id, world.sub_club_id
    say(f"club {root} (sub-club {sub_club}), {len(shops)} merchants, made through the service in {time.perf_counter() - started:.1f} s")

    info = WorldInfo(url=url, members=members, operations=operations, club_id=root, sub_club_id=sub_club, admin_login=ADMIN_LOGIN,
                     admin_password=ADMIN_PASSWORD, built_at=now)
    db = Loader(url)
    words_of = _search_words(db, info)
    first_member = db.max_id("members") + 1
    op_id = db.max_id("operations") + 1
    leg_id = db.max_id("journal") + 1
    split_id = db.max_id("split_legs") + 1

    # --- members: who, enrolled when (80% before the purchases begin, the rest during), tier ---
    t0 = time.perf_counter()
    before = int(members * 0.8)
    enrolled_at = array("q", (start - 540 * DAY_S + (i * 540 * DAY_S) // max(before, 1) if i < before
                              else start + ((i - before) * (DAYS - 1) * DAY_S) // max(members - before, 1) for i in range(members)))
    tiers: list[str | None] = [None] * members
    names: list[str] = [""] * members
    sample = set(rng.sample(range(members), min(members, 400)))
    for i in range(members):
        r = rng.random()
        tiers[i] = None if r < 0.5 else "bronze" if r < 0.75 else "silver" if r < 0.92 else "gold"
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if rng.random() < 0.05:
            name = name.translate(_ARABIC_LETTERS)
        names[i] = name
    ids_rows: list[tuple[Any, ...]] = []
    op_rows: list[tuple[Any, ...]] = []
    ident_id = db.max_id("member_identifiers") + 1
    for i in range(members):
        mid = first_member + i
        at = enrolled_at[i]
        club = sub_club if i % 10 == 9 else root
        shown: list[dict[str, str]] = []

        def ident(kind: str, lookup: str, display: str, key: str | None = None) -> None:
            nonlocal ident_id
            ids_rows.append((ident_id, root, mid, kind, lookup, display, at, key))
            shown.append({"kind": kind, "display": display})
            ident_id += 1

        r = rng.random()
        if r < 0.95:
            mobile = mobile_of(i)
            ident("mobile", mobile, mobile)
            if i in sample:
                info.mobiles.append("0" + mobile[3:])
        if rng.random() < 0.6:
            code = national_code_for(i)
            if code:
                ident("national_code", code, code[:3] + "****" + code[-3:])
                if i in sample:
                    info.national_codes.append(code)
        if rng.random() < 0.3:
            pan = card_of(i)
            ident("card", hmac.new(card_key, pan.encode(), hashlib.sha256).hexdigest(), "*" * 12 + pan[-4:], key_of_cards)
            if i in sample:
                info.card_last4.append(pan[-4:])
        if rng.random() < 0.2:
            number = club_card_of(i)
            ident("club_card", hmac.new(card_key, b"club_card:" + number.encode(), hashlib.sha256).hexdigest(), "*" * 12 + number[-4:],
                  key_of_cards)
            if i in sample:
                info.club_cards.append(number)
        account = account_of(i)
        ident("account", account, account)
        if i in sample:
            info.names.append(names[i])
        answer = json.dumps({"member_id": mid, "identifiers": shown, "op_id": op_id}, ensure_ascii=False, separators=(",", ":"))
        op_rows.append((op_id, root, f"bench-enrol-{mid:010d}", f"{op_id:064x}", "enroll", "done", mid, None, None, None, 0, 0, None, answer,
                        None, (at + offset_s) // DAY_S, at, "panel:" + ADMIN_LOGIN))
        op_id += 1
        if len(op_rows) >= CHUNK:
            db.put("member_identifiers", ("id", "club_id", "member_id", "kind", "lookup", "display", "created_at", "key_id"), ids_rows)
            db.put("operations", OP_COLUMNS, op_rows)
            ids_rows, op_rows = [], []
    db.put("member_identifiers", ("id", "club_id", "member_id", "kind", "lookup", "display", "created_at", "key_id"), ids_rows)
    db.put("operations", OP_COLUMNS, op_rows)
    ids_rows, op_rows = [], []
    say(f"  {members:,} members' identifiers and enrolments in {time.perf_counter() - t0:.1f} s")

    # --- purchases, day by day ---
    t0 = time.perf_counter()
    heavy = rng.sample(range(before), min(HEAVY_MEMBERS, before))
    points = array("q", bytes(8 * members))
    period_points = array("q", bytes(8 * members))
    purchase_count = array("q", bytes(8 * members))
    last_at = array("q", bytes(8 * members))
    entries = array("q", bytes(8 * members))
    redeemed = array("q", bytes(8 * members))
    credit: dict[tuple[int, int], int] = {}
    visits: dict[int, int] = {}
    totals: dict[tuple[str, str], int] = {}  # (account, owner) -> balance, for club and merchant accounts
    lot_op = array("q")
    lot_member = array("l")
    lot_points = array("q")
    lot_at = array("q")
    weights = [1.0 + 0.5 * ((d + 2) % 7 in (5, 6)) for d in range(DAYS)]  # Thursdays and Fridays busier
    per_day = [int(operations * w / sum(weights)) for w in weights]
    per_day[-1] += operations - sum(per_day)
    n_shops = len(shops)
    assert n_shops < 1024
    rules_fa = {"points": "یک امتیاز به ازای هر ۱۰٬۰۰۰ ریال", "food": "فودکورت: ۵٪ تخفیف", "north": "زیرباشگاه شمال: ۱۰٪ اعتبار پذیرنده",
                "lottery": "قرعه‌کشی: یک شانس به ازای هر ۱٬۰۰۰٬۰۰۰ ریال"}
    mu, sigma = math.log(1_200_000), 0.8
    amounts = [max(50_000, min(50_000_000, int(math.exp(rng.gauss(mu, sigma))) // 1000 * 1000)) for _ in range(65_536)]
    getrandbits = rng.getrandbits
    leg_rows: list[tuple[Any, ...]] = []
    split_rows: list[tuple[Any, ...]] = []
    lot_rows: list[tuple[Any, ...]] = []
    for d in range(DAYS):
        day_start = start + d * DAY_S
        enrolled_now = min(members, before + ((d * DAY_S) * (members - before)) // max((DAYS - 1) * DAY_S, 1)) or members
        times = sorted(day_start + 8 * 3600 + int(rng.random() * 15 * 3600) for _ in range(per_day[d]))
        days: dict[int, list[int]] = {}
        day = (day_start + offset_s) // DAY_S
        for t in times:
            if t >= now:
                t = max(day_start, now - rng.randrange(60, 7200))
            i = rng.choice(heavy) if rng.random() < HEAVY_SHARE else int(rng.random() * enrolled_now)
            mid = first_member + i
            s_idx = (i * 7 + rng.randrange(3) * 13) % n_shops
            shop = shops[s_idx]
            m = shop.id
            amount = amounts[getrandbits(16)]
            owner = f"member:{mid}"
            legs: list[tuple[str, str, int, str, str]] = []  # (from, to, amount, unit, memo)
            fa: list[str] = []
            en: list[str] = []
            applied: list[str] = []
            paid_points = 0
            if points[i] >= 200 and rng.random() < REDEEM_SHARE:
                paid_points = min(points[i], rng.randrange(100, 1000), amount // POINT_VALUE_RIAL)
                legs.append((f"{owner}/points", f"club:{root}/points_retired", paid_points, "point", "points_redeemed"))
                legs.append((f"club:{root}/expense", f"merchant:{m}/credit_accepted", paid_points * POINT_VALUE_RIAL, "rial", "points_redeemed"))
                fa.append(f"پرداخت با {fa_num(paid_points)} امتیاز: {fa_num(paid_points * POINT_VALUE_RIAL)} ریال")
                en.append(f"Paid with {paid_points:,} points: {paid_points * POINT_VALUE_RIAL:,} rials")
                points[i] -= paid_points
                redeemed[i] += paid_points
            earned = (amount // 10_000) * TIER_MULT_BP[tiers[i]] // 10_000
            if earned:
                legs.append((f"club:{root}/points_issued", f"{owner}/points", earned, "point", "points-base"))
                fa.append(f"{rules_fa['points']}: {fa_num(earned)} امتیاز")
                en.append(f"One point per 10,000 rials: {earned:,} points")
                applied.append("points-base")
            discount = 0
            if shop.food_court:
                discount = min(amount * 500 // 10_000, 100_000)
                half = discount // 2
                legs.append((f"merchant:{m}/expense", f"merchant:{m}/discount_given", half, "rial", "food-court-5"))
                legs.append((f"club:{root}/expense", f"merchant:{m}/discount_given", discount - half, "rial", "food-court-5"))
                fa.append(f"{rules_fa['food']}: {fa_num(discount)} ریال تخفیف")
                en.append(f"Food court: 5% off: {discount:,} rials off")
                applied.append("food-court-5")
            credit_given = 0
            if shop.credit:
                credit_given = min(amount // 10, 500_000)
                legs.append((f"merchant:{m}/expense", f"{owner}/merchant_credit@merchant:{m}", credit_given, "rial", "north-credit"))
                fa.append(f"{rules_fa['north']}: {fa_num(credit_given)} ریال اعتبار")
                en.append(f"North sub-club: 10% merchant credit: {credit_given:,} rials of credit")
                applied.append("north-credit")
            won = amount // 1_000_000
            if won:
                legs.append((f"club:{root}/entries_issued@lottery:1", f"{owner}/lottery_entries@lottery:1", won, "entry", "lottery"))
                fa.append(f"{rules_fa['lottery']}: {fa_num(won)} شانس قرعه‌کشی")
                en.append(f"Lottery: an entry per 1,000,000 rials: {won:,} lottery entr{'y' if won == 1 else 'ies'}")
                applied.append("lottery")
            for seq, (src, dst, value, unit, memo) in enumerate(legs):
                leg_rows.append((leg_id, root, op_id, seq, src, -value, unit, memo, t))
                leg_rows.append((leg_id + 1, root, op_id, seq, dst, value, unit, memo, t))
                leg_id += 2
                for account, delta in ((src, -value), (dst, value)):
                    if not account.startswith("member:"):
                        key = (account, account.split("/", 1)[0])
                        totals[key] = totals.get(key, 0) + delta
            n_lot = 0
            if earned:
                points[i] += earned
                period_points[i] += earned
                lot_op.append(op_id)
                lot_member.append(i)
                lot_points.append(earned)
                lot_at.append(t)
                n_lot += 1
            if credit_given:
                lot_rows.append((f"{op_id}:{n_lot}", root, owner, f"{owner}/merchant_credit@merchant:{m}", credit_given, credit_given,
                                 t + 60 * DAY_S, None))
                credit[(i, m)] = credit.get((i, m), 0) + credit_given
                n_lot += 1
            if won:
                lot_rows.append((f"{op_id}:{n_lot}", root, owner, f"{owner}/lottery_entries@lottery:1", won, won, None, None))
                entries[i] += won
            payable = amount - discount - paid_points * POINT_VALUE_RIAL
            fee = min(payable * shop.fee_bp // 10_000, 200_000)
            club_share = (payable - fee) * 200 // 10_000
            marketer = (payable - fee) * 100 // 10_000 if shop.marketer else 0
            split = [("platform_fee", 0, fee), ("club_owner", world.owner_id, club_share)]
            if marketer:
                split.append(("marketer", world.marketer_id, marketer))
            split.append(("merchant", m, payable - fee - club_share - marketer))
            for role, who, value in split:
                split_rows.append((split_id, root, op_id, role, who, value, day))
                split_id += 1
            rrn = f"{op_id % 10**12:012d}"
            # The receipt as json.dumps(..., ensure_ascii=False, separators=(",", ":")) writes it (no
            # text here needs escaping), a tenth of its time.
            sep = '","'
            rules_json, fa_json, en_json = sep.join(applied), sep.join(fa), sep.join(en)
            response = (
                f'{{"op_id":{op_id},"status":"done","kind":"purchase","member_id":{mid},"merchant_id":{m},"amount_rial":{amount},'
                f'"discount_rial":{discount},"credit_used_rial":0,"points_redeemed":{paid_points},'
                f'"points_redeemed_rial":{paid_points * POINT_VALUE_RIAL},"payable_rial":{payable},"points_earned":{earned},'
                f'"applied_rules":["{rules_json}"],"balance_points":{points[i]},'
                f'"explanation_fa":["{fa_json}"],"explanation_en":["{en_json}"],"rrn":"{rrn}"}}')
            by_terminal = op_id % 2 == 0
            op_rows.append((op_id, root, f"bench-{op_id:010d}", f"{op_id:064x}", "purchase", "done", mid, m, shop.terminal_id if by_terminal else None,
                            None, amount, 0, rrn, response, None, day, t, f"terminal:{shop.terminal_id}" if by_terminal else f"merchant:{m}"))
            op_id += 1
            purchase_count[i] += 1
            last_at[i] = t
            slot = days.get(i)
            if slot is None:
                days[i] = [1, amount]
            else:
                slot[0] += 1
                slot[1] += amount
            vk = i * 1024 + s_idx
            visits[vk] = visits.get(vk, 0) + 1
            if len(op_rows) >= CHUNK:
                db.put("operations", OP_COLUMNS, op_rows)
                db.put("journal", LEG_COLUMNS, leg_rows)
                db.put("split_legs", SPLIT_COLUMNS, split_rows)
                db.put("lots", LOT_COLUMNS, lot_rows)
                op_rows, leg_rows, split_rows, lot_rows = [], [], [], []
        db.put("member_days", ("member_id", "day", "count", "spend_rial"),
               [(first_member + i, day, c, s) for i, (c, s) in sorted(days.items())])
        if d % 30 == 29:
            say(f"  day {d + 1}/{DAYS}: {op_id - 1:,} operations so far, {time.perf_counter() - t0:.0f} s")
    db.put("operations", OP_COLUMNS, op_rows)
    db.put("journal", LEG_COLUMNS, leg_rows)
    db.put("split_legs", SPLIT_COLUMNS, split_rows)
    db.put("lots", LOT_COLUMNS, lot_rows)
    say(f"  {operations:,} purchases with their legs in {time.perf_counter() - t0:.1f} s")

    # --- the points lots, drawn soonest-expiring first by each member's redemptions ---
    t0 = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    for k in range(len(lot_op)):
        i = lot_member[k]
        original = lot_points[k]
        take = min(redeemed[i], original)
        if take:
            redeemed[i] -= take
        owner = f"member:{first_member + i}"
        rows.append((f"{lot_op[k]}:0", root, owner, f"{owner}/points", original, original - take, lot_at[k] + 365 * DAY_S, None))
        if len(rows) >= CHUNK:
            db.put("lots", LOT_COLUMNS, rows)
            rows = []
    db.put("lots", LOT_COLUMNS, rows)
    assert not any(redeemed), "a redemption drew more than the member's lots held"

    # --- members (with their counters), balances, merchant visits, search words ---
    rows = []
    words: list[tuple[Any, ...]] = []
    for i in range(members):
        mid = first_member + i
        rows.append((mid, sub_club if i % 10 == 9 else root, names[i], tiers[i], None, None, None, None, "panel", purchase_count[i],
                     last_at[i] or None, period_points[i], 0, 0, enrolled_at[i]))
        if words_of is not None:
            words.extend((root, w, mid) for w in words_of(names[i]))
        if len(rows) >= CHUNK:
            db.put("members", MEMBER_COLUMNS, rows)
            db.put("member_search_words", ("club_id", "word", "member_id"), words)
            rows, words = [], []
    db.put("members", MEMBER_COLUMNS, rows)
    db.put("member_search_words", ("club_id", "word", "member_id"), words)
    _add_totals(db, root, totals)  # first: on PostgreSQL these take ids from the sequence
    balance_id = db.max_id("balances") + 1
    rows = []
    for i in range(members):
        owner = f"member:{first_member + i}"
        for account, value in ((f"{owner}/points", points[i]), (f"{owner}/lottery_entries@lottery:1", entries[i])):
            if value or (account.endswith("/points") and purchase_count[i]):
                rows.append((balance_id, root, account, owner, value, 0))
                balance_id += 1
        if len(rows) >= CHUNK:
            db.put("balances", ("id", "club_id", "account", "owner", "balance", "credit_limit"), rows)
            rows = []
    for (i, m), value in sorted(credit.items()):
        owner = f"member:{first_member + i}"
        rows.append((balance_id, root, f"{owner}/merchant_credit@merchant:{m}", owner, value, 0))
        balance_id += 1
    db.put("balances", ("id", "club_id", "account", "owner", "balance", "credit_limit"), rows)
    rows = []
    for key, count in visits.items():
        i, s = divmod(key, 1024)
        rows.append((first_member + i, shops[s].id, count))
        if len(rows) >= CHUNK:
            db.put("merchant_visits", ("member_id", "merchant_id", "count"), rows)
            rows = []
    db.put("merchant_visits", ("member_id", "merchant_id", "count"), rows)
    say(f"  lots, members, balances, visits in {time.perf_counter() - t0:.1f} s")
    db.finish(say)
    info.rows = dict(db.counts)
    info.heavy_members = sorted(first_member + i for i in heavy[:20])
    info.light_members = [first_member + i for i in rng.sample(range(members), min(members, 200)) if purchase_count[i] <= 10][:100]
    _dashboard_rebuild(url, info, say)
    info.load_s = round(time.perf_counter() - started, 1)
    info.save()
    say(f"built {members:,} members and {operations:,} operations in {info.load_s:.1f} s ({url})")
    return info


MEMBER_COLUMNS = ("id", "club_id", "name_fa", "tier", "referrer_id", "shared_wallet_id", "enrolled_by_merchant_id", "manual_tier",
                  "enrolled_via", "purchase_count", "last_purchase_at", "period_points", "grace_used", "frozen_until", "created_at")


def _add_totals(db: Loader, root: int, totals: dict[tuple[str, str], int]) -> None:
    """Club and merchant accounts: add the load's sums to the rows the service made (if any)."""
    for (account, owner), value in sorted(totals.items()):
        if db.sqlite:
            db.conn.execute("INSERT INTO balances (club_id, account, owner, balance, credit_limit) VALUES (?,?,?,?,0)"
                            " ON CONFLICT (club_id, account) DO UPDATE SET balance = balance + excluded.balance", (root, account, owner, value))
        else:
            db.conn.execute("INSERT INTO balances (club_id, account, owner, balance, credit_limit) VALUES (%s,%s,%s,%s,0)"
                            " ON CONFLICT (club_id, account) DO UPDATE SET balance = balances.balance + excluded.balance",
                            (root, account, owner, value))


def _search_words(db: Loader, info: WorldInfo) -> Any:
    """The function making a member's search words, when the schema has the table (0014)."""
    if "member_search_words" not in db.tables:
        return None
    from kimia.service import search_keys  # type: ignore[attr-defined]

    info.extras.append("member_search_words (kimia.service.search_keys.words_of)")
    return search_keys.words_of


def _dashboard_rebuild(url: str, info: WorldInfo, say: Any) -> None:
    """The dashboard's aggregates (0015), rebuilt by its own function when it is there."""
    import importlib

    rebuild = None
    for module in ("kimia.service.daily", "kimia.service.dashboard_views"):
        try:
            rebuild = getattr(importlib.import_module(module), "rebuild_daily", None)
        except ImportError:
            continue
        if rebuild is not None:
            break
    if rebuild is None:
        return
    started = time.perf_counter()
    with assemble(Settings.from_env({}, database_url=url, dev_mode=True)) as svc:
        rebuild(svc)
    info.extras.append(f"{rebuild.__module__}.rebuild_daily")
    say(f"  dashboard aggregates rebuilt in {time.perf_counter() - started:.1f} s")


def mirror(source: str, target: str, *, say: Any = print) -> WorldInfo:
    """The world at ``source`` (an SQLite file built by :func:`build`) copied row for row into a
    fresh PostgreSQL database at ``target``: the same world on both databases, made in a fraction of
    the time of building it again. The schema is made by the migrations, then every table is
    copied with COPY (secondary indexes made after, as :func:`build` does)."""
    import sqlite3

    started = time.perf_counter()
    info = WorldInfo.load(source)
    if info is None:
        raise SystemExit(f"no world at {source}: build it first")
    with assemble(Settings.from_env({}, database_url=source, migrations="upgrade", dev_mode=True)):
        pass  # the source's schema up to date, so both are at the same revision
    fresh(target)
    with assemble(Settings.from_env({}, database_url=target, migrations="upgrade", dev_mode=True)):
        pass
    db = Loader(target)
    path = source.split("///", 1)[1]
    src = sqlite3.connect(path)
    shell = shutil.which("sqlite3") is not None
    tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                                        " AND name <> 'alembic_version' ORDER BY name")]
    for table in tables:
        if table not in db.tables:
            continue
        theirs = [r[0] for r in db.conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                                                 " AND table_name = %s", (table,))]
        columns = [r[1] for r in src.execute(f"PRAGMA table_info({table})") if r[1] in theirs]
        db.conn.execute(f"DELETE FROM {table}")  # what the migrations made (nothing but lookup rows) comes from the source
        t0 = time.perf_counter()
        n = 0
        if table in Loader.BIG and shell:
            # The sqlite3 shell writes the table as CSV straight into COPY (an unquoted empty field
            # is NULL; the big tables hold no empty text): no row is made in Python.
            select = f"SELECT {', '.join(columns)} FROM {table}"
            with subprocess.Popen(["sqlite3", "-csv", f"file:{path}?immutable=1", select], stdout=subprocess.PIPE) as proc, \
                    db.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
                assert proc.stdout is not None
                while block := proc.stdout.read(1 << 20):
                    copy.write(block)
            if proc.returncode:
                raise RuntimeError(f"sqlite3 failed ({proc.returncode}) reading {table}")
            n = int(db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        else:
            cursor = src.execute(f"SELECT {', '.join(columns)} FROM {table}")
            with db.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                while True:
                    rows = cursor.fetchmany(50_000)
                    if not rows:
                        break
                    for row in rows:
                        copy.write_row(row)
                    n += len(rows)
        db.counts[table] = n
        if n > 100_000:
            say(f"  {table}: {n:,} rows in {time.perf_counter() - t0:.1f} s")
    src.close()
    db.finish(say)
    info.url = target
    info.load_s = round(time.perf_counter() - started, 1)
    info.extras.append(f"mirrored from {source}")  # with its aggregates (club_days, search words) as they are there
    info.save()
    say(f"mirrored {info.members:,} members and {info.operations:,} operations into {target} in {info.load_s:.1f} s")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite:////tmp/bench/big.db")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--operations", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mirror-to", help="copy the world at --database (SQLite, built before) into this PostgreSQL database")
    args = parser.parse_args(argv)
    if args.mirror_to:
        mirror(args.database, args.mirror_to)
        return 0
    build(args.database, members=args.members, operations=args.operations, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
