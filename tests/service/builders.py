"""Shared builders for the service tests, on the one world builder (kimia.world): a controllable
clock, valid Iranian identifiers, a realistic club (owner, club, sub-club, merchants, terminals, marketer, groups, rules, tiers,
conversion, a lottery and a voucher offer) and helpers that read or dump the database.

Import from test modules of this package with ``from .builders import ...``.
"""

from __future__ import annotations

import calendar
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kimia.service import Admin, Kimia, PurchaseRequest
from kimia.service.sql import Tx
from kimia.store.engine import raw_connect
from kimia.store.models import Base
from kimia.world import WorldBuilder, points_rule
from kimia.world.people import (  # re-exported: the test modules take them from here
    bad_luhn_card as bad_luhn_card,
    bad_national_code as bad_national_code,
    card_number as card_number,
    club_card as club_card,
    mobile as mobile,
    national_code as national_code,
    persian as persian,
    sheba as sheba,
)

# --- time ------------------------------------------------------------------------------------

#: 2025-05-14 10:00 in Tehran (UTC+03:30), a Wednesday: 06:30 UTC.
DEFAULT_START = calendar.timegm((2025, 5, 14, 6, 30, 0))
DAY_S = 86_400


class FakeClock:
    """A clock the tests move by hand: ``Kimia(url, clock=clock)``; ``clock.advance(days=31)``."""

    def __init__(self, start: int = DEFAULT_START) -> None:
        self.now = int(start)

    def __call__(self) -> int:
        return self.now

    def advance(self, *, days: int = 0, hours: int = 0, minutes: int = 0, seconds: int = 0) -> int:
        self.now += days * DAY_S + hours * 3600 + minutes * 60 + seconds
        return self.now

    def set(self, at: int) -> int:
        self.now = int(at)
        return self.now

    def local_day(self, utc_offset_min: int = 210) -> int:
        """The club-local day number of now (the ``day`` column of operations and split legs)."""
        return (self.now + utc_offset_min * 60) // DAY_S


# --- the club --------------------------------------------------------------------------------

TIERS = {
    "tiers": [
        {"name": "bronze", "rise_at": 0, "stay_at": 0, "grace_periods": 0, "deduct_bp": 0},
        {"name": "silver", "rise_at": 100, "stay_at": 50, "grace_periods": 1, "deduct_bp": 1000},
        {"name": "gold", "rise_at": 500, "stay_at": 300, "grace_periods": 0, "deduct_bp": 2000},
    ]
}

#: The platform's fee tariffs (C6): default 0.3% capped at 200,000 rials; restaurants 0.5%.
FEE_DEFAULT_BP = 30
FEE_RESTAURANT_BP = 50
SETTLEMENT = {"club_owner_bp": 200, "marketer_bp": 100, "merchant_marketer_bp": 50}


@dataclass
class World:
    """A club built on a service, with the ids of everything in it."""

    service: Kimia
    admin: Admin
    clock: FakeClock
    owner_id: int
    club_id: int
    sub_club_id: int
    marketer_id: int
    merchants: dict[str, int]
    branches: dict[str, int]
    terminals: dict[str, int]
    merchant_group_id: int
    member_group_id: int
    lottery_id: int
    lottery_seed: str
    voucher_template_id: int
    rules_version: int = 0
    extra_rules: list[dict[str, Any]] = field(default_factory=list)
    _keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _people: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # --- keys and members ---
    def key(self, prefix: str = "k") -> str:
        """A fresh idempotency key."""
        return f"{prefix}-{next(self._keys)}"

    def enroll(
        self,
        *,
        identifiers: list[tuple[str, str]] | None = None,
        name_fa: str = "عضو",
        idem_key: str | None = None,
        club_id: int | None = None,
        **kwargs: Any,
    ) -> int:
        """Enrol a member (default: a fresh mobile number) and return the member id."""
        n = next(self._people)
        ids = identifiers if identifiers is not None else [("mobile", mobile(1_000_000 + n))]
        result = self.service.enroll(
            club_id if club_id is not None else self.club_id,
            idem_key=idem_key or self.key("enroll"),
            identifiers=ids,
            name_fa=name_fa,
            **kwargs,
        )
        return int(result["member_id"])

    # --- purchases ---
    def request(self, member: Any, amount_rial: int, *, merchant: str = "cafe", idem_key: str | None = None, **kwargs: Any) -> PurchaseRequest:
        return PurchaseRequest(
            idem_key=idem_key or self.key("buy"),
            merchant_id=self.merchants[merchant],
            member=member,
            amount_rial=amount_rial,
            **kwargs,
        )

    def buy(self, member: Any, amount_rial: int, *, merchant: str = "cafe", idem_key: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """A purchase at one of the club's merchants (``cafe``, ``restaurant``, ``bookshop``)."""
        return self.service.purchase(self.request(member, amount_rial, merchant=merchant, idem_key=idem_key, **kwargs))

    # --- rules ---
    def rules(self) -> dict[str, Any]:
        """The club's rule set body: the base rules plus ``extra_rules``."""
        return {
            "point_value_rial": 100,
            "merchant_sets": [{"id": 1, "name": {"en": "Food court", "fa": "فودکورت"}, "merchant_groups": [self.merchant_group_id]}],
            "stacking_groups": [{"name": "campaigns", "mode": "exclusive"}],
            "rules": base_rules(self) + list(self.extra_rules),
        }

    def publish(self, extra_rules: list[dict[str, Any]] | None = None) -> int:
        """Publish the base rules plus ``extra_rules`` (kept for later publishes)."""
        if extra_rules is not None:
            self.extra_rules = list(extra_rules)
        self.rules_version = self.admin.publish_rules(self.club_id, self.rules(), actor="test", reason="tests")
        return self.rules_version


def base_rules(w: World) -> list[dict[str, Any]]:
    """The base rule set: points everywhere (tier multipliers), a food-court discount (merchant
    group), merchant credit in the sub-club (club scope), a VIP bonus (member group), referral
    points, and lottery entries."""
    return [
        points_rule(rounding="floor", tier_multipliers_bp={"silver": 15_000, "gold": 20_000}, expires_days=365),
        {
            "id": "food-court-5",
            "name": {"en": "Food court: 5% off", "fa": "فودکورت: ۵٪ تخفیف"},
            "scope": {"merchant_groups": [w.merchant_group_id]},
            "effects": [{"type": "discount", "percent_bp": 500, "cap_rial": 100_000}],
            "funding": {"merchant": 5_000, "club_owner": 5_000},
        },
        {
            "id": "north-credit",
            "name": {"en": "North sub-club: 10% merchant credit", "fa": "زیرباشگاه شمال: ۱۰٪ اعتبار پذیرنده"},
            "scope": {"clubs": [w.sub_club_id]},
            "effects": [{"type": "credit", "kind": "merchant", "percent_bp": 1_000, "cap_rial": 500_000, "expires_days": 60}],
            "funding": {"merchant": 10_000},
        },
        {
            "id": "vip-bonus",
            "name": {"en": "VIP members: 50 bonus points", "fa": "اعضای ویژه: ۵۰ امتیاز هدیه"},
            "conditions": [{"type": "member_group", "ids": [w.member_group_id]}],
            "effects": [{"type": "points", "fixed": 50}],
            "funding": {"club_owner": 10_000},
        },
        {
            "id": "referral",
            "name": {"en": "Referral: a point per 100,000 rials to the introducer", "fa": "معرفی: امتیاز برای معرف"},
            "effects": [{"type": "referral", "per_rial": 100_000, "points": 1}],
            "funding": {"club_owner": 10_000},
        },
        {
            "id": "lottery",
            "name": {"en": "Lottery: an entry per 1,000,000 rials", "fa": "قرعه‌کشی: یک شانس به ازای هر ۱٬۰۰۰٬۰۰۰ ریال"},
            "effects": [{"type": "lottery", "lottery_id": w.lottery_id, "per_rial": 1_000_000, "entries": 1}],
        },
    ]


def build_club(service: Kimia, clock: FakeClock, *, publish: bool = True, name_fa: str = "باشگاه کیمیا", n: int = 1) -> World:
    """Build a realistic club on ``service``; ``n`` varies names and Shebas between clubs."""
    b = WorldBuilder(service)
    base = n * 100
    b.fee_tariff(None, percent_bp=FEE_DEFAULT_BP, cap_rial=200_000)
    b.fee_tariff("restaurant", percent_bp=FEE_RESTAURANT_BP, cap_rial=300_000)
    owner = b.owner(f"شرکت {n}", name_en=f"Owner {n}", sheba=sheba(base + 1))
    club = b.club(owner, name_fa, name_en=f"Club {n}", business_type="retail", settings={"settlement": dict(SETTLEMENT)})
    sub = b.club(owner, "زیرباشگاه شمال", name_en="North", parent_id=club, business_type="retail")
    marketer = b.marketer(club, "بازاریاب", sheba=sheba(base + 2))
    merchants = {
        "cafe": b.merchant(club, "کافه", name_en="Cafe", business_type="cafe", sheba=sheba(base + 3), marketer_id=marketer),
        "restaurant": b.merchant(club, "رستوران", name_en="Restaurant", business_type="restaurant", sheba=sheba(base + 4)),
        "bookshop": b.merchant(sub, "کتاب‌فروشی", name_en="Bookshop", business_type="retail", sheba=sheba(base + 5), marketer_id=marketer),
    }
    branches = {"cafe-north": b.branch(merchants["cafe"], "شعبه شمال")}
    terminals = {
        "cafe": b.terminal(merchants["cafe"], f"T{n:03d}0001", f"M{n:03d}00000000001", branch_id=branches["cafe-north"]),
        "restaurant": b.terminal(merchants["restaurant"], f"T{n:03d}0002", f"M{n:03d}00000000002"),
        "bookshop": b.terminal(merchants["bookshop"], f"T{n:03d}0003", f"M{n:03d}00000000003", kind="pcpos"),
    }
    food_court = b.merchant_group(club, "فودکورت", [merchants["cafe"], merchants["restaurant"]], name_en="Food court")
    vip = b.member_group(club, "اعضای ویژه", name_en="VIP")
    seed = f"lottery-seed-{n}"
    lottery = b.lottery(club, "قرعه‌کشی نوروز", prizes=["سکه طلا", "کارت هدیه"], seed=seed)
    voucher = b.voucher_template(club, "ووچر ۱۰۰ هزار ریالی", discount_rial=100_000, valid_days=30, price_points=50)
    b.settings(club, {
        "tiers": TIERS,
        "conversion": {
            "default": {"points": 10, "rial": 1_000},
            "by_tier": {"silver": {"points": 10, "rial": 1_500}, "gold": {"points": 10, "rial": 2_000}},
            "by_group": {str(vip): {"points": 10, "rial": 3_000}},
        },
        # These tests are about value; cardholder verification (a PIN, a one-time code or a
        # card at the counter before spending or binding) is tested in test_verification.py.
        "verification": {"redeem": [], "bind": []},
    }, actor="test", reason="club setup")
    world = World(
        service=service, admin=b.admin, clock=clock, owner_id=owner, club_id=club, sub_club_id=sub, marketer_id=marketer,
        merchants=merchants, branches=branches, terminals=terminals, merchant_group_id=food_court, member_group_id=vip,
        lottery_id=lottery, lottery_seed=seed, voucher_template_id=voucher,
    )
    if publish:
        world.publish()
    return world


# --- reading the database ----------------------------------------------------------------------

#: Tables whose content is value or identity: a rejected request must leave them unchanged.
VALUE_TABLES = (
    "operations", "journal", "balances", "lots", "budget_usage", "split_legs", "vouchers",
    "members", "member_identifiers",
)


def all_tables() -> list[str]:
    return sorted(Base.metadata.tables)


def rows(service: Kimia, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run a read statement (``?`` placeholders) on a reader connection of the service."""
    with service.reading() as tx:
        return [tuple(r) for r in tx.all(statement, params)]


def scalar(service: Kimia, statement: str, params: Sequence[Any] = ()) -> Any:
    found = rows(service, statement, params)
    return found[0][0] if found else None


def execute(service: Kimia, statement: str, params: Sequence[Any] = ()) -> int:
    """Run a write statement outside the service (to corrupt data on purpose); returns rowcount.
    The journal and the audit log refuse changes (kimia.store.append_only): for a statement on
    them the triggers are dropped and created again around it, in its transaction, as someone
    with the tables' owner's rights could."""
    from kimia.store import append_only

    conn = raw_connect(service.url)
    try:
        tx = Tx(conn)
        tx.begin_write()
        dialect = "sqlite" if tx.sqlite else "postgresql"
        behind = any(table in statement for table in append_only.TABLES)
        for ddl in append_only.drop_statements(dialect) if behind else []:
            tx.execute(ddl)
        tx.execute(statement, params)
        count = tx.rowcount()
        for ddl in append_only.create_statements(dialect) if behind else []:
            tx.execute(ddl)
        tx.commit()
        return count
    finally:
        conn.close()


def _plain(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


def dump(service: Kimia, tables: Iterable[str] = VALUE_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, sorted, with JSON values as text: compare before and after."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        columns = [c.name for c in Base.metadata.tables[table].columns]
        found = rows(service, f"SELECT {', '.join(columns)} FROM {table}")
        out[table] = sorted((tuple(_plain(v) for v in r) for r in found), key=repr)
    return out


def row_counts(service: Kimia, tables: Iterable[str] | None = None) -> dict[str, int]:
    return {t: int(scalar(service, f"SELECT COUNT(*) FROM {t}")) for t in (tables or all_tables())}


def all_text(service: Kimia) -> list[tuple[str, str, str]]:
    """(table, column, text) of every non-null value of every column of every table, as text."""
    out: list[tuple[str, str, str]] = []
    for table in all_tables():
        columns = [c.name for c in Base.metadata.tables[table].columns]
        for r in rows(service, f"SELECT {', '.join(columns)} FROM {table}"):
            for column, value in zip(columns, r):
                if value is not None:
                    out.append((table, column, value if isinstance(value, str) else json.dumps(_plain(value), ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)))
    return out


def balance(service: Kimia, account: str, club_id: int | None = None) -> int:
    """The balance row of an account (0 when there is none)."""
    if club_id is None:
        value = scalar(service, "SELECT SUM(balance) FROM balances WHERE account = ?", (account,))
    else:
        value = scalar(service, "SELECT balance FROM balances WHERE club_id = ? AND account = ?", (club_id, account))
    return int(value or 0)


def member_balances(service: Kimia, member_id: int) -> dict[str, int]:
    """Every account of a member: ``{"points": 12, "merchant_credit@merchant:3": 5000, ...}``."""
    prefix = f"member:{member_id}/"
    found = rows(service, "SELECT account, balance FROM balances WHERE owner = ?", (f"member:{member_id}",))
    return {a[len(prefix):]: int(b) for a, b in found if int(b) != 0}


def points_of(service: Kimia, member_id: int) -> int:
    return balance(service, f"member:{member_id}/points")


def audit(service: Kimia, action: str) -> list[tuple[Any, ...]]:
    """(actor, reason, payload) of audit log lines of an action, oldest first."""
    return [(a, r, p if isinstance(p, dict) else json.loads(p)) for a, r, p in
            rows(service, "SELECT actor, reason, payload FROM audit_log WHERE action = ? ORDER BY id", (action,))]
