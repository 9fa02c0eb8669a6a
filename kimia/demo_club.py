"""A realistic demo platform, built through the service like real traffic (``kimia demo``).

Two club owners; «باشگاه کیمیا» with a sub-club «زیرباشگاه شمال», and «باشگاه فرهنگیان»,
joined by a meta-club that shares members; nine merchants with branches, POS terminals, cash
registers (PC-POS) and marketers; sixty members identified by bank cards, mobiles, national codes,
club cards or card-less accounts; rules, tiers, conversion ratios, vouchers, lotteries, welfare
credit and gift cards; then a month of purchases on a clock the demo moves forward, with credit
spent, baskets, holds, refunds, reversals, conversions, an expiry sweep, tier period closes and a
lottery draw. Everything is random but seeded: the same seed and end date give the same demo.

Built with the one world builder (:mod:`kimia.world`), through public service calls only; the
summary is read back from the database afterwards (:mod:`kimia.service.reports`), so it shows what
was stored, not what the demo meant to store. The members' cards and mobiles stay in the builder's
roster (a demo-only file for the terminal simulator, never the database).
"""

from __future__ import annotations

import calendar
import datetime as dt
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import kimia._core as core
from kimia.errors import KimiaError
from kimia.samples import demo_rules
from kimia.service.admin import Admin
from kimia.service.api import Kimia, PurchaseRequest
from kimia.service.reports import ClubsReport, ReportScope, clubs_report, credit_line_owed_rial
from kimia.world import Roster, WorldBuilder, points_rule
from kimia.world.people import make_card_number, make_club_card, make_mobile, make_national_code, make_sheba

TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))
DAY_S = 86_400
HOUR_S = 3_600
#: The demo's purchases fall in this many local days before its end.
WINDOW_DAYS = 30
ACTOR = "kimia-demo"

#: ``progress(steps_done, label)``: called as the demo advances; ``demo_steps`` is the total.
Progress = Callable[[int, str], None]


# --- a clock the demo moves forward ----------------------------------------------------------


class DemoClock:
    """The service's clock during the demo: it only moves forward, when the demo says so."""

    def __init__(self, end_at: int) -> None:
        self.end_at = end_at
        self.start_at = end_at - WINDOW_DAYS * DAY_S
        # Setting up (clubs, merchants, enrolments, charges) happens in the three days before.
        self.now = self.start_at - 3 * DAY_S

    def __call__(self) -> int:
        return self.now

    def advance_to(self, at: int) -> None:
        """Move to ``at``; a time in the past leaves the clock one second further on instead."""
        self.now = at if at > self.now else self.now + 1


def tehran_midnight(day: dt.date) -> int:
    """Unix seconds of 00:00 Tehran time on ``day``."""
    return calendar.timegm(dt.datetime(day.year, day.month, day.day, tzinfo=TEHRAN).utctimetuple())


def default_last_day(now: int) -> dt.date:
    """Yesterday in Tehran: the demo's month ends where today begins."""
    return dt.datetime.fromtimestamp(now, TEHRAN).date() - dt.timedelta(days=1)


def jalali(day: dt.date) -> str:
    y, m, d = core.gregorian_to_jalali(day.year, day.month, day.day)
    return f"{y:04d}-{m:02d}-{d:02d}"


# --- the demo's cast ---------------------------------------------------------------------------

FIRST_NAMES = (
    "علی", "محمد", "حسین", "رضا", "مهدی", "امیر", "سعید", "حمید", "مجید", "کاوه", "بابک", "آرش", "پویا", "سینا", "نیما",
    "زهرا", "فاطمه", "مریم", "سارا", "نرگس", "لیلا", "مینا", "شیرین", "الهام", "پریسا", "نازنین", "هانیه", "یاسمن", "ترانه", "آیدا",
)
LAST_NAMES = (
    "احمدی", "محمدی", "حسینی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی", "نوری", "کاظمی", "قاسمی", "تهرانی",
    "شیرازی", "اصفهانی", "عباسی", "یزدانی", "فراهانی", "مرادی", "نجفی", "طاهری", "سلیمانی", "بهرامی", "افشار", "شریفی",
)
FAMILY_NAME = "رضایی"
BRANCH_NAMES = ("شعبه مرکزی", "شعبه ونک", "شعبه تجریش", "شعبه سعادت‌آباد", "شعبه پاسداران")


@dataclass(frozen=True)
class MerchantSpec:
    club: str  # "kimia" | "north" | "farhangian"
    business_type: str
    name_fa: str
    name_en: str
    min_rial: int
    max_rial: int
    branches: int
    pcpos: bool
    hours: tuple[int, int]


MERCHANTS: tuple[MerchantSpec, ...] = (
    MerchantSpec("kimia", "cafe", "کافه نارنج", "Narenj Café", 150_000, 1_500_000, 2, True, (8, 23)),
    MerchantSpec("kimia", "restaurant", "رستوران نقش جهان", "Naqsh-e Jahan Restaurant", 800_000, 6_000_000, 2, False, (12, 23)),
    MerchantSpec("kimia", "supermarket", "سوپرمارکت برکت", "Barekat Supermarket", 300_000, 8_000_000, 2, True, (8, 22)),
    MerchantSpec("kimia", "bookshop", "کتاب‌فروشی ققنوس", "Ghoghnoos Bookshop", 200_000, 3_000_000, 1, False, (10, 21)),
    MerchantSpec("kimia", "pharmacy", "داروخانه شفا", "Shafa Pharmacy", 100_000, 2_500_000, 1, False, (8, 23)),
    MerchantSpec("north", "cafe", "کافه ساحل رامسر", "Sahel Café, Ramsar", 200_000, 1_500_000, 1, False, (9, 23)),
    MerchantSpec("north", "restaurant", "رستوران ماهی سفید", "Mahi Sefid Restaurant", 900_000, 5_000_000, 1, False, (12, 23)),
    MerchantSpec("farhangian", "stationery", "لوازم‌التحریر دانش", "Danesh Stationery", 100_000, 1_500_000, 1, False, (9, 20)),
    MerchantSpec("farhangian", "bookshop", "کتاب‌فروشی معلم", "Moallem Bookshop", 200_000, 2_500_000, 1, False, (9, 21)),
)

#: Goods sold through the cash registers (PC-POS): id, goods group, unit price.
GOODS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "cafe": (("espresso", "coffee", 180_000), ("latte", "coffee", 240_000), ("beans-250g", "coffee-beans", 650_000),
             ("beans-1kg", "coffee-beans", 2_100_000), ("cheesecake", "pastry", 220_000)),
    "supermarket": (("milk-1l", "dairy", 120_000), ("cheese-400g", "dairy", 310_000), ("apples-1kg", "produce", 180_000),
                    ("tomatoes-1kg", "produce", 90_000), ("rice-5kg", "grocery", 2_400_000), ("tea-500g", "grocery", 850_000),
                    ("chips", "snacks", 60_000)),
}

#: Platform fee tariffs per business type (C6): percent in basis points, fixed rials, cap.
FEE_TARIFFS: tuple[tuple[str | None, int, int, int | None], ...] = (
    (None, 30, 0, 200_000),
    ("restaurant", 50, 0, 300_000),
    ("supermarket", 20, 0, 150_000),
    ("pharmacy", 10, 0, 100_000),
    ("cafe", 40, 2_000, 250_000),
)

MEMBERS_KIMIA = 44
MEMBERS_FARHANGIAN = 16
MEMBER_COUNT = MEMBERS_KIMIA + MEMBERS_FARHANGIAN
#: Progress steps outside the purchases and the enrolments.
SETUP_STEPS = 8
FINAL_STEPS = 6


def demo_steps(purchases: int) -> int:
    """How many steps ``build_demo`` reports through ``progress`` (the length of a progress bar)."""
    return SETUP_STEPS + MEMBER_COUNT + purchases + FINAL_STEPS


# --- the summary -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary(ClubsReport):
    """What the demo built: what its clubs hold, read back from the database
    (:class:`~kimia.service.reports.ClubsReport`), and what the demo itself counted."""

    seed: int
    first_day: dt.date
    last_day: dt.date
    meta_club_id: int
    merchants: int
    refunds: int
    holds_completed: int
    holds_cancelled: int
    rejected: int
    replayed: int
    check_ok: bool
    check_summary: str
    refusals: tuple[tuple[str, int], ...] = ()


# --- building ----------------------------------------------------------------------------------


@dataclass
class _Merchant:
    spec: MerchantSpec
    merchant_id: int
    club_id: int
    root_id: int
    branches: list[int]
    terminals: list[tuple[int, str, int]]  # (terminal id, terminal code, branch id)
    pcpos: tuple[int, str, int] | None
    stan: int = 0


@dataclass
class _Member:
    member_id: int
    club_id: int
    name_fa: str
    refs: list[dict[str, str]]
    weight: float
    credit_line: bool = False
    vouchers: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)


@dataclass(order=True)
class _Event:
    at: int
    seq: int
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


@dataclass
class _Counts:
    purchases: int = 0
    refunds: int = 0
    holds_completed: int = 0
    holds_cancelled: int = 0
    rejected: int = 0
    replayed: int = 0
    refusals: dict[str, int] = field(default_factory=dict)


class _Demo:
    def __init__(self, service: Kimia, admin: Admin, clock: DemoClock, *, purchases: int, seed: int, progress: Progress,
                 roster: Roster) -> None:
        self.k = service
        self.w = WorldBuilder(service, actor=ACTOR, roster=roster)
        self.w.admin = admin
        self.clock = clock
        self.n_purchases = purchases
        self.seed = seed
        self.rng = random.Random(seed)
        self.progress = progress
        self.counts = _Counts()
        self.clubs: dict[str, int] = {}
        self.merchants: list[_Merchant] = []
        self.members: list[_Member] = []
        self.groups: dict[str, int] = {}
        self.merchant_groups: dict[str, int] = {}
        self.templates: dict[str, int] = {}
        self.lotteries: dict[str, tuple[int, str]] = {}
        self.meta_id = 0
        self.events: list[_Event] = []
        self.seq = 0
        self.tag = f"demo{seed}"
        self.holds_started = 0

    # --- helpers ---

    def tick(self, seconds: int = 60) -> None:
        self.clock.advance_to(self.clock.now + seconds)

    def schedule(self, at: int, kind: str, **data: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, _Event(at, self.seq, kind, data))

    def key(self, *parts: object) -> str:
        return ":".join([self.tag, *(str(p) for p in parts)])

    def attempt(self, what: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Run one operation; a refusal is counted (and the demo goes on), as a till would."""
        try:
            return call()
        except KimiaError as exc:
            self.counts.rejected += 1
            key = f"{what}: {exc.code}"
            self.counts.refusals[key] = self.counts.refusals.get(key, 0) + 1
            return None

    # --- setup ---

    def setup_platform(self) -> None:
        for business_type, percent_bp, fixed_rial, cap_rial in FEE_TARIFFS:
            self.w.fee_tariff(business_type, percent_bp=percent_bp, fixed_rial=fixed_rial, cap_rial=cap_rial)
        rng = self.rng
        owner_kimia = self.w.owner("شرکت کیمیا پرداز", name_en="Kimia Pardaz Co.", sheba=make_sheba(rng))
        owner_farhangian = self.w.owner("صندوق رفاه فرهنگیان", name_en="Teachers' Welfare Fund", sheba=make_sheba(rng))
        self.tick()
        self.clubs["kimia"] = self.w.club(
            owner_kimia, "باشگاه کیمیا", name_en="Kimia Club", business_type="retail",
            settings={"settlement": {"club_owner_bp": 200, "marketer_bp": 100, "merchant_marketer_bp": 50}},
        )
        self.clubs["north"] = self.w.club(
            owner_kimia, "زیرباشگاه شمال", name_en="North sub-club", parent_id=self.clubs["kimia"], business_type="tourism",
        )
        self.clubs["farhangian"] = self.w.club(
            owner_farhangian, "باشگاه فرهنگیان", name_en="Teachers' Club", business_type="welfare",
            settings={"settlement": {"club_owner_bp": 150, "marketer_bp": 100}},
        )
        self.meta_id = self.w.meta_club("فراباشگاه کیمیا و فرهنگیان", [self.clubs["kimia"], self.clubs["farhangian"]],
                                        share_members=True)
        self.progress(1, "clubs")

    def setup_merchants(self) -> None:
        rng = self.rng
        marketers = {
            "kimia": self.w.marketer(self.clubs["kimia"], "بازاریابی پارس", sheba=make_sheba(rng)),
            "farhangian": self.w.marketer(self.clubs["farhangian"], "بازاریابی آموزش", sheba=make_sheba(rng)),
        }
        for spec in MERCHANTS:
            club_id = self.clubs[spec.club]
            root_id = self.clubs["farhangian" if spec.club == "farhangian" else "kimia"]
            marketer = marketers["farhangian" if spec.club == "farhangian" else "kimia"] if rng.random() < 0.7 else None
            merchant_id = self.w.merchant(club_id, spec.name_fa, name_en=spec.name_en, business_type=spec.business_type,
                                          sheba=make_sheba(rng), marketer_id=marketer)
            merchant = _Merchant(spec, merchant_id, club_id, root_id, [], [], None)
            for b in range(spec.branches):
                branch_id = self.w.branch(merchant_id, BRANCH_NAMES[b] if spec.club != "north" else "شعبه رامسر")
                merchant.branches.append(branch_id)
                code = f"{merchant_id % 10_000:04d}{b + 1:04d}"
                terminal_id = self.w.terminal(merchant_id, code, f"{merchant_id:015d}", branch_id=branch_id)
                merchant.terminals.append((terminal_id, code, branch_id))
            if spec.pcpos:
                code = f"{merchant_id % 10_000:04d}9001"
                terminal_id = self.w.terminal(merchant_id, code, f"{merchant_id:015d}", kind="pcpos", branch_id=merchant.branches[0])
                merchant.pcpos = (terminal_id, code, merchant.branches[0])
            self.merchants.append(merchant)
        self.tick()
        by_type = {(m.spec.club, m.spec.business_type): m.merchant_id for m in self.merchants}
        kimia = self.clubs["kimia"]
        self.merchant_groups["food"] = self.w.merchant_group(
            kimia, "خوراک و نوشیدنی", [by_type[("kimia", "cafe")], by_type[("kimia", "restaurant")],
                                         by_type[("north", "cafe")], by_type[("north", "restaurant")]], name_en="Food & drink")
        self.merchant_groups["daily"] = self.w.merchant_group(
            kimia, "خرید روزانه", [by_type[("kimia", "supermarket")], by_type[("kimia", "pharmacy")]], name_en="Daily needs")
        self.merchant_groups["edu"] = self.w.merchant_group(
            self.clubs["farhangian"], "آموزشی", [by_type[("farhangian", "stationery")], by_type[("farhangian", "bookshop")]],
            name_en="Education")
        self.progress(1, "merchants")

    def merchant(self, club: str, business_type: str) -> _Merchant:
        return next(m for m in self.merchants if m.spec.club == club and m.spec.business_type == business_type)

    def setup_offers(self) -> None:
        """Voucher templates and lotteries: rules refer to them, so they come first."""
        kimia = self.clubs["kimia"]
        cafes = [self.merchant("kimia", "cafe").merchant_id, self.merchant("north", "cafe").merchant_id]
        self.templates["coffee"] = self.w.voucher_template(
            kimia, "یک قهوه رایگان", name_en="A free coffee", discount_rial=180_000, valid_days=14, merchants=cafes,
            price_points=150)
        self.templates["books"] = self.w.voucher_template(
            kimia, "۲۰٪ تخفیف کتاب", name_en="20% off books", discount_bp=2000, cap_rial=400_000, valid_days=30,
            merchants=[self.merchant("kimia", "bookshop").merchant_id], price_credit_rial=100_000)
        self.templates["cinema"] = self.w.voucher_template(
            kimia, "بلیت سینما (خارج از باشگاه)", name_en="Cinema ticket (outside the club)", valid_days=30,
            price_points=400, funder="club_owner")
        for key, club, name_fa, name_en, prizes in (
            ("nowruz", kimia, "قرعه‌کشی نوروز", "Nowruz lottery",
             ["سکه بهار آزادی", "کارت هدیه ۱۰ میلیون ریالی", "اشتراک یک‌ساله کافه نارنج"]),
            ("north", kimia, "قرعه‌کشی سفر شمال", "North trip lottery", ["سفر دو نفره به رامسر"]),
        ):
            seed = f"{key}-{self.seed}-{self.rng.getrandbits(64):016x}"
            lottery_id = self.w.lottery(club, name_fa, name_en=name_en, prizes=prizes, seed=seed)
            self.lotteries[key] = (lottery_id, seed)
        self.progress(1, "vouchers & lotteries")

    def setup_groups(self) -> None:
        kimia, farhangian = self.clubs["kimia"], self.clubs["farhangian"]
        for key, club, name_fa, name_en in (
            ("staff", kimia, "کارکنان کیمیا", "Kimia staff"),
            ("students", kimia, "دانشجویان", "Students"),
            ("vip", kimia, "مشتریان ویژه", "VIP customers"),
            ("retired", farhangian, "فرهنگیان بازنشسته", "Retired teachers"),
        ):
            self.groups[key] = self.w.member_group(club, name_fa, [], name_en=name_en)
        self.progress(1, "member groups")

    def kimia_rules(self) -> dict[str, Any]:
        """The sample rule set (kimia/samples/demo_rules.json) adapted to the ids created here."""
        body = demo_rules()
        body.pop("settlement", None)  # the club's settings and the platform's tariffs are merged in
        body.pop("club_id", None)
        body.pop("version", None)
        cafe, restaurant = self.merchant("kimia", "cafe"), self.merchant("kimia", "restaurant")
        body["merchant_sets"] = [
            {"id": 1, "name": {"en": "Food & drink", "fa": "خوراک و نوشیدنی"}, "merchants": [cafe.merchant_id, restaurant.merchant_id],
             "merchant_groups": [self.merchant_groups["food"]]},
            {"id": 2, "name": {"en": "Whole club", "fa": "کل باشگاه"},
             "merchants": [m.merchant_id for m in self.merchants if m.root_id == self.clubs["kimia"]]},
        ]
        first = self.clock.start_at + (WINDOW_DAYS - 12) * DAY_S
        last = self.clock.end_at - DAY_S
        for rule in body["rules"]:
            if rule["id"] == "cafe-happy-hour":
                rule["scope"] = {"merchants": [cafe.merchant_id]}
            elif rule["id"] == "yalda-weekend":
                # The sample's campaign dates, moved to the last twelve days of the demo's month.
                rule["id"] = "festival-weekend"
                rule["name"] = {"en": "Weekend festival: 10% merchant credit", "fa": "جشنواره آخر هفته: ۱۰٪ اعتبار پذیرنده"}
                for cond in rule["conditions"]:
                    if cond["type"] == "date_range":
                        cond["from"] = jalali(dt.datetime.fromtimestamp(first, TEHRAN).date())
                        cond["to"] = jalali(dt.datetime.fromtimestamp(last, TEHRAN).date())
            elif rule["id"] == "lottery-nowruz":
                rule["effects"][0]["lottery_id"] = self.lotteries["nowruz"][0]
            elif rule["id"] == "points-base":
                rule["effects"][0]["group_multipliers_bp"] = {self.groups["staff"]: 15000}
        body["rules"].extend(self.kimia_extra_rules())
        return body

    def kimia_extra_rules(self) -> list[dict[str, Any]]:
        """Rules the sample lacks, on this demo's groups, merchants, sub-club, vouchers and lotteries."""
        bookshop, supermarket = self.merchant("kimia", "bookshop"), self.merchant("kimia", "supermarket")
        return [
            {
                "id": "students-books",
                "name": {"en": "Students: 10% off at the bookshop", "fa": "دانشجویان: ۱۰٪ تخفیف در کتاب‌فروشی"},
                "scope": {"merchants": [bookshop.merchant_id]},
                "conditions": [{"type": "member_group", "ids": [self.groups["students"]]}],
                "effects": [{"type": "discount", "percent_bp": 1000, "cap_rial": 500_000}],
                "funding": {"merchant": 5000, "club_owner": 5000},
            },
            {
                "id": "fresh-produce",
                "name": {"en": "Fresh produce: 5% off those lines", "fa": "میوه و سبزی تازه: ۵٪ تخفیف همان اقلام"},
                "scope": {"merchants": [supermarket.merchant_id]},
                "conditions": [{"type": "goods_group", "ids": ["produce"]}],
                "effects": [{"type": "discount", "percent_bp": 500}],
            },
            {
                "id": "north-credit",
                "name": {"en": "North sub-club: 5% merchant credit", "fa": "زیرباشگاه شمال: ۵٪ اعتبار پذیرنده"},
                "scope": {"clubs": [self.clubs["north"]]},
                "effects": [{"type": "credit", "kind": "merchant", "percent_bp": 500, "cap_rial": 300_000, "expires_days": 45}],
            },
            {
                "id": "north-lottery",
                "name": {"en": "North trip lottery: an entry per purchase", "fa": "قرعه‌کشی سفر شمال: یک شانس برای هر خرید"},
                "scope": {"clubs": [self.clubs["north"]]},
                "effects": [{"type": "lottery", "lottery_id": self.lotteries["north"][0], "fixed": 1}],
            },
            {
                "id": "we-missed-you",
                "name": {"en": "Back after a week: 50 bonus points", "fa": "بازگشت پس از یک هفته: ۵۰ امتیاز هدیه"},
                "conditions": [{"type": "days_since_last_purchase", "min": 7}],
                "effects": [{"type": "points", "fixed": 50, "expires_days": 180}],
                "funding": {"club_owner": 10000},
            },
            {
                "id": "big-basket-coffee",
                "name": {"en": "Purchases over 5,000,000 rials: a free coffee voucher", "fa": "خرید بالای ۵٬۰۰۰٬۰۰۰ ریال: ووچر قهوه رایگان"},
                "conditions": [{"type": "amount", "min": 5_000_000}],
                "effects": [{"type": "voucher", "template_id": self.templates["coffee"]}],
                "funding": {"club_owner": 10000},
                "budgets": [{"per": "member", "period": "month", "limit_count": 1}],
            },
            {
                "id": "app-bonus",
                "name": {"en": "Ordered in the app: 20 bonus points", "fa": "سفارش از اپلیکیشن: ۲۰ امتیاز هدیه"},
                "conditions": [{"type": "channel", "channels": ["app", "web"]}],
                "effects": [{"type": "points", "fixed": 20}],
                "funding": {"club_owner": 10000},
            },
            {
                "id": "frequent-diners",
                "name": {"en": "Third visit this week in food & drink: 5% virtual credit",
                         "fa": "سومین خرید هفته در خوراک و نوشیدنی: ۵٪ اعتبار مجازی"},
                "scope": {"merchant_groups": [self.merchant_groups["food"]]},
                "conditions": [{"type": "purchases_in_window", "days": 7, "min": 2}],
                "effects": [{"type": "credit", "kind": "virtual", "percent_bp": 500, "cap_rial": 200_000, "expires_days": 30}],
                "funding": {"club_owner": 10000},
            },
        ]

    def farhangian_rules(self) -> dict[str, Any]:
        edu = self.merchant_groups["edu"]
        club_merchants = [m.merchant_id for m in self.merchants if m.root_id == self.clubs["farhangian"]]
        return {
            "utc_offset_min": 210,
            "point_value_rial": 100,
            "merchant_sets": [{"id": 1, "name": {"en": "Teachers' club", "fa": "باشگاه فرهنگیان"}, "merchants": club_merchants}],
            "rules": [
                points_rule(expires_days=365, tier_multipliers_bp={"silver": 12500, "gold": 15000}),
                {
                    "id": "teachers-stationery",
                    "name": {"en": "Teachers: 8% off stationery and books", "fa": "فرهنگیان: ۸٪ تخفیف لوازم‌التحریر و کتاب"},
                    "scope": {"merchant_groups": [edu]},
                    "effects": [{"type": "discount", "percent_bp": 800, "cap_rial": 400_000}],
                    "funding": {"merchant": 6000, "club_owner": 4000},
                },
                {
                    "id": "retired-cashback",
                    "name": {"en": "Retired teachers: 3% cashback", "fa": "فرهنگیان بازنشسته: ۳٪ بازگشت وجه"},
                    "conditions": [{"type": "member_group", "ids": [self.groups["retired"]]}],
                    "effects": [{"type": "credit", "kind": "cashback", "percent_bp": 300, "cap_rial": 300_000, "expires_days": 60}],
                    "funding": {"club_owner": 10000},
                },
                {
                    "id": "tuesday-club-credit",
                    "name": {"en": "Tuesdays: 5% club credit", "fa": "سه‌شنبه‌ها: ۵٪ اعتبار باشگاه"},
                    "conditions": [{"type": "weekdays", "days": ["tue"]}],
                    "effects": [{"type": "credit", "kind": "club", "percent_bp": 500, "cap_rial": 250_000, "spendable_at": 1, "expires_days": 30}],
                    "funding": {"club_owner": 10000},
                },
                {
                    "id": "referral",
                    "name": {"en": "Referral: points to the introducer", "fa": "معرفی: امتیاز برای معرف"},
                    "effects": [{"type": "referral", "per_rial": 100_000, "points": 1}],
                    "funding": {"club_owner": 10000},
                },
                {
                    "id": "welfare-spend",
                    "name": {"en": "3% extra off when paying with credit", "fa": "۳٪ تخفیف بیشتر هنگام پرداخت با اعتبار"},
                    "effects": [{"type": "credit_spend_discount", "percent_bp": 300, "cap_rial": 150_000}],
                    "funding": {"club_owner": 10000},
                },
            ],
        }

    def setup_rules(self) -> None:
        tiers = {"tiers": [
            {"name": "bronze"},
            {"name": "silver", "rise_at": 600, "stay_at": 400, "grace_periods": 1, "deduct_bp": 500},
            {"name": "gold", "rise_at": 1_800, "stay_at": 1_200, "grace_periods": 1, "deduct_bp": 1000},
        ]}
        self.w.settings(self.clubs["kimia"], {
            "tiers": tiers,
            "conversion": {
                "default": {"points": 10, "rial": 1_000},
                "by_tier": {"silver": {"points": 10, "rial": 1_200}, "gold": {"points": 10, "rial": 1_500}},
                "by_group": {self.groups["staff"]: {"points": 10, "rial": 1_300}},
                "min_points": 100,
                "expires_days": 90,
            },
        }, reason="demo: tiers and conversion ratios")
        self.w.settings(self.clubs["farhangian"], {
            "tiers": tiers,
            "conversion": {"default": {"points": 10, "rial": 1_000}, "by_group": {self.groups["retired"]: {"points": 10, "rial": 1_400}},
                           "min_points": 100},
        }, reason="demo: tiers and conversion ratios")
        # The month of history is generated without cardholders at the counter: spending needs no
        # proof while it is written; ``finish`` gives the clubs the default verification back.
        for club in ("kimia", "farhangian"):
            self.w.settings(self.clubs[club], {"verification": {"redeem": [], "bind": []}}, reason="demo: history generated without cardholders")
        self.w.publish(self.clubs["kimia"], self.kimia_rules(), reason="demo rule set")
        self.w.publish(self.clubs["farhangian"], self.farhangian_rules(), reason="demo rule set")
        self.tick()
        self.progress(1, "rules")

    def enroll_members(self) -> None:
        """Sixty members of the two root clubs. (Members enrolled into a sub-club are not used: the
        service reads their balances under the sub-club but writes them under its root club.)"""
        rng = self.rng
        vias = ("pos", "panel", "app", "web", "pos", "pos")
        for i in range(MEMBER_COUNT):
            club = "kimia" if i < MEMBERS_KIMIA else "farhangian"
            n = i if club == "kimia" else i - MEMBERS_KIMIA
            club_id = self.clubs[club]
            last = FAMILY_NAME if club == "kimia" and n in (5, 6, 7) else rng.choice(LAST_NAMES)
            name_fa = f"{rng.choice(FIRST_NAMES)} {last}"
            identifiers: list[tuple[str, str]] = []
            refs: list[dict[str, str]] = []
            shape = n % 10
            if shape <= 5:  # a bank card and a mobile; some add a national code
                card, mobile = make_card_number(rng), make_mobile(rng)
                identifiers += [("card", card), ("mobile", mobile)]
                if shape % 2 == 0:
                    identifiers.append(("national_code", make_national_code(rng)))
            elif shape in (6, 7):  # a club card of the business's own design
                identifiers += [("club_card", make_club_card(rng)), ("mobile", make_mobile(rng))]
            elif shape == 8:  # mobile only: no card at all
                identifiers.append(("mobile", make_mobile(rng)))
            else:  # a card-less account number (national code kept for the welfare fund)
                identifiers += [("account", str(rng.randrange(10**9, 10**10))), ("national_code", make_national_code(rng))]
            for kind, value in identifiers:
                refs.append({"kind": kind, "value": value})
            same_club = [m for m in self.members if m.club_id == club_id]
            referrer = rng.choice(same_club).member_id if same_club and rng.random() < 0.25 else None
            groups: list[int] = []
            if club == "kimia":
                if n < 5:
                    groups.append(self.groups["staff"])
                elif 10 <= n < 18:
                    groups.append(self.groups["students"])
                elif n in (20, 21, 22, 23, 24):
                    groups.append(self.groups["vip"])
            elif n < 6:
                groups.append(self.groups["retired"])
            via = rng.choice(vias)
            home = [m for m in self.merchants if m.root_id == club_id]
            enrolled_at = rng.choice(home).merchant_id if via == "pos" else None
            self.tick(rng.randrange(60, 3_600))
            member_id = self.w.member(club_id, identifiers, idem_key=self.key("enroll", i), name_fa=name_fa, referrer=referrer,
                                      groups=groups, via=via, merchant_id=enrolled_at)
            member = _Member(member_id, club_id, name_fa, refs, rng.paretovariate(1.6))
            refs.append({"kind": "id", "value": str(member.member_id)})
            self.members.append(member)
            if shape in (0, 3) and n < 30:  # a second bank card bound to the same identity (M5)
                second = make_card_number(rng)
                self.w.bind(club_id, member.member_id, "card", second, actor="demo:support")
                refs.append({"kind": "card", "value": second})
            self.progress(1, "members")

    def setup_value(self) -> None:
        """Family wallet, credit line, gift cards and the organisation's welfare charge."""
        rng = self.rng
        kimia, farhangian = self.clubs["kimia"], self.clubs["farhangian"]
        family = [m.member_id for m in self.members if m.club_id == kimia and m.name_fa.endswith(FAMILY_NAME)]
        self.w.shared_wallet(kimia, f"خانواده {FAMILY_NAME}", family)
        vip = self.members[20]  # in the VIP group
        self.k.set_credit_limit(kimia, vip.member_id, 20_000_000, actor=ACTOR, reason="demo: a VIP's credit line")
        vip.credit_line = True
        vip.weight = max(vip.weight, 4.0)  # a regular: the credit line gets used
        self.progress(1, "wallets")
        self.clock.advance_to(self.clock.start_at - 8 * HOUR_S)
        for m in rng.sample([m for m in self.members if m.club_id == kimia], 8):
            self.tick(rng.randrange(60, 600))
            self.w.gift_credit(kimia, m.member_id, 500_000, idem_key=self.key("gift", m.member_id), reason="demo: gift and welfare credit",
                               expires_days=14)
        self.progress(1, "gift cards")
        self.clock.advance_to(self.clock.start_at - 4 * HOUR_S)
        staff = [(m.member_id, 3_000_000 if rng.random() < 0.5 else 2_000_000) for m in self.members if m.club_id == farhangian]
        batch = self.key("welfare", "month1")
        self.k.charge_many(farhangian, 1, staff, actor=ACTOR, reason="demo: gift and welfare credit", batch_key=batch, expires_days=60)
        # The same batch sent again (a retried upload): every charge answers from its first run.
        again = self.k.charge_many(farhangian, 1, staff, actor=ACTOR, reason="demo: gift and welfare credit", batch_key=batch, expires_days=60)
        self.counts.replayed += sum(1 for r in again if r.get("replayed"))
        self.progress(1, "welfare credit")
        assert self.clock.now < self.clock.start_at, "setting up must end before the month of purchases"

    # --- traffic ---

    def plan(self) -> None:
        rng = self.rng
        for i in range(self.n_purchases):
            member = rng.choices(self.members, weights=[m.weight for m in self.members])[0]
            own = [m for m in self.merchants if m.root_id == member.club_id]
            other = [m for m in self.merchants if m.root_id != member.club_id]
            merchant = rng.choice(other) if rng.random() < 0.12 else rng.choice(own)
            day = rng.randrange(WINDOW_DAYS)
            lo, hi = merchant.spec.hours
            at = self.clock.start_at + day * DAY_S + rng.randrange(lo * HOUR_S, hi * HOUR_S)
            self.schedule(at, "purchase", index=i, member=member, merchant=merchant)
        mid = self.clock.start_at + (WINDOW_DAYS // 2) * DAY_S
        self.schedule(mid, "close_period")
        self.schedule(mid + 6 * DAY_S, "expire")
        self.schedule(self.clock.start_at + 12 * DAY_S + 20 * HOUR_S, "adjust")
        self.schedule(self.clock.start_at + 25 * DAY_S + 11 * HOUR_S, "repay")

    def run(self) -> None:
        while self.events:
            event = heapq.heappop(self.events)
            self.clock.advance_to(event.at)
            if event.kind == "purchase":
                self.purchase(event.data["index"], event.data["member"], event.data["merchant"])
                self.progress(1, "purchases")
            elif event.kind == "refund":
                self.refund(**event.data)
            elif event.kind == "complete":
                r = self.attempt("complete", lambda: self.k.complete_hold(event.data["merchant_id"], event.data["hold_id"],
                                                                            idem_key=self.key("complete", event.data["hold_id"]),
                                                                            reference=event.data["rrn"]))
                self.counts.holds_completed += r is not None
            elif event.kind == "cancel":
                r = self.attempt("cancel", lambda: self.k.cancel_hold(event.data["merchant_id"], event.data["hold_id"], idem_key=self.key("cancel", event.data["hold_id"])))
                self.counts.holds_cancelled += r is not None
            elif event.kind == "close_period":
                for club in ("kimia", "farhangian"):
                    self.k.close_period(self.clubs[club], event.at, actor=ACTOR)
            elif event.kind == "expire":
                for club in ("kimia", "farhangian"):
                    self.k.expire_sweep(self.clubs[club], actor=ACTOR)
            elif event.kind == "repay":
                self.repay_credit_line()
            elif event.kind == "adjust":
                m = self.members[3]
                self.attempt("adjust", lambda: self.k.adjust(m.club_id, m.member_id, idem_key=self.key("adjust", m.member_id),
                                                             account_kind="points", delta=50, actor="support:sara",
                                                             reason="apology for a failed card read"))

    def purchase(self, i: int, member: _Member, merchant: _Merchant) -> None:
        rng = self.rng
        spec = merchant.spec
        channel = "pos"
        basket: list[dict[str, Any]] = []
        terminal = rng.choice(merchant.terminals)
        if merchant.pcpos is not None and rng.random() < 0.5:
            channel, terminal = "pcpos", merchant.pcpos
            for goods_id, group, price in rng.sample(GOODS[spec.business_type], rng.randint(1, 3)):
                quantity = rng.randint(1, 3)
                basket.append({"goods_id": goods_id, "group": group, "quantity": quantity, "amount_rial": price * quantity})
            amount = sum(line["amount_rial"] for line in basket)
        else:
            # Log-uniform between the merchant's typical smallest and largest sale, in whole 10,000s.
            amount = max(10_000, round(math.exp(rng.uniform(math.log(spec.min_rial), math.log(spec.max_rial))) / 10_000) * 10_000)
            if rng.random() < 0.07:
                channel = "app"
        payment = rng.choices(("card", "cash", "mixed"), weights=(75, 15, 10))[0]
        redeem = 0
        voucher: str | None = None
        home = merchant.root_id == member.club_id
        if home:
            usable = [v for v in member.vouchers if merchant.merchant_id in v[1]]
            if usable and rng.random() < 0.8:
                voucher = usable[0][0]
                member.vouchers.remove(usable[0])
            if member.credit_line and voucher is None and rng.random() < 0.6:
                redeem, payment = amount, "credit"
            elif rng.random() < 0.45:
                spendable = int(self.k.member_balances(merchant.merchant_id, member.member_id)["credit_rial"])
                redeem = min(spendable, amount * 6 // 10) // 1_000 * 1_000
                if redeem > 0 and payment == "card":
                    payment = "mixed"
        terminal_id, terminal_code, branch_id = terminal
        merchant.stan += 1
        stamp = dt.datetime.fromtimestamp(self.clock.now, TEHRAN).strftime("%m%d%H%M%S")
        key = f"{self.tag}:{terminal_code}:{merchant.stan:06d}:{stamp}"
        rrn = f"{rng.randrange(10**11, 10**12)}"
        req = PurchaseRequest(
            idem_key=key, merchant_id=merchant.merchant_id, member=rng.choice(member.refs), amount_rial=amount, basket=basket,
            payment_method=payment, channel=channel, redeem_credit_rial=redeem, voucher_code=voucher, branch_id=branch_id,
            terminal_id=terminal_id, reference=rrn if channel != "app" else None,
        )
        # A few credit redemptions are held first (the credit is reserved, then the bank sale
        # completes or fails): one completes, one is cancelled.
        if redeem > 0 and self.holds_started < 2:
            held = self.attempt("hold", lambda: self.k.hold(req))
            if held is not None:
                self.holds_started += 1
                kind = "complete" if self.holds_started == 1 else "cancel"
                self.schedule(self.clock.now + 90, kind, hold_id=held["hold_id"], rrn=rrn, merchant_id=merchant.merchant_id)
            return
        receipt = self.attempt("purchase", lambda: self.k.purchase(req))
        if receipt is None:
            return
        self.counts.purchases += 1
        if i == 0:
            # The till did not see the answer and sends the purchase again: same answer, no new posting.
            again = self.k.purchase(req)
            self.counts.replayed += bool(again.get("replayed"))
        if i == 1:
            # A terminal reversal (the card sale failed after kimia answered): everything is undone.
            if self.attempt("reversal", lambda: self.k.reverse_by_key(merchant.merchant_id, key, idem_key=key + ":rev")) is not None:
                self.counts.refunds += 1
            return
        for code in receipt.get("vouchers", []):  # issued by the big-basket rule: a free coffee
            member.vouchers.append((str(code), self.voucher_merchants("coffee")))
        self.after_purchase(member, merchant, receipt, rrn)

    def after_purchase(self, member: _Member, merchant: _Merchant, receipt: dict[str, Any], rrn: str) -> None:
        rng = self.rng
        if rng.random() < 0.05:
            # A refund a few hours or days later: a third of the sale, or the whole of it (a reversal).
            third = int(receipt["amount_rial"]) // 3 // 10_000 * 10_000
            refund_rial = third if third > 0 and rng.random() < 0.6 else None
            self.schedule(self.clock.now + rng.randrange(HOUR_S, 3 * DAY_S), "refund", op_id=int(receipt["op_id"]),
                          amount=refund_rial, rrn=rrn, merchant_id=merchant.merchant_id)
        home = merchant.root_id == member.club_id
        points = int(receipt["balance_points"])
        if home and member.club_id == self.clubs["kimia"] and rng.random() < 0.12:
            if points >= 150 and rng.random() < 0.6:
                self.buy_voucher(member, "coffee")
            elif int(receipt["balance_credit_rial"]) >= 100_000:
                self.buy_voucher(member, "books")
        elif home and points >= 300 and rng.random() < 0.06:
            self.attempt("conversion", lambda: self.k.convert_points(member.club_id, member.member_id, 200,
                                                                     idem_key=self.key("convert", receipt["op_id"])))

    def buy_voucher(self, member: _Member, template: str) -> None:
        template_id = self.templates[template]
        r = self.attempt("voucher", lambda: self.k.buy_voucher(member.club_id, member.member_id, template_id,
                                                                 idem_key=self.key("voucher", member.member_id, self.clock.now)))
        if r is None:
            return
        for code in r.get("vouchers", []):
            member.vouchers.append((str(code), self.voucher_merchants(template)))

    def voucher_merchants(self, template: str) -> tuple[int, ...]:
        """Where a voucher of ``template`` is accepted (empty: outside the club, not at a till)."""
        if template == "coffee":
            return (self.merchant("kimia", "cafe").merchant_id, self.merchant("north", "cafe").merchant_id)
        if template == "books":
            return (self.merchant("kimia", "bookshop").merchant_id,)
        return ()

    def repay_credit_line(self) -> None:
        """The VIP pays back what the credit line lent (V2): money in, the line back to zero."""
        vip = next(m for m in self.members if m.credit_line)
        with self.k.reading() as tx:
            owed = credit_line_owed_rial(tx, vip.club_id, vip.member_id)
        if owed > 0:
            self.attempt("repayment", lambda: self.k.charge(vip.club_id, vip.member_id, actor=ACTOR, reason="demo: gift and welfare credit", idem_key=self.key("repay", vip.member_id),
                                                            kind="credit_line", amount_rial=owed, source={"type": "cash"}))

    def refund(self, *, op_id: int, amount: int | None, rrn: str, merchant_id: int) -> None:
        if amount is not None and self.rng.random() < 0.3:
            # Named by the bank sale's reference (RRN), as a merchant's panel would.
            r = self.attempt("refund", lambda: self.k.refund(merchant_id, idem_key=self.key("refund", op_id), reference=rrn, amount_rial=amount))
        else:
            r = self.attempt("refund", lambda: self.k.refund(merchant_id, idem_key=self.key("refund", op_id), op_id=op_id, amount_rial=amount))
        self.counts.refunds += r is not None

    def finish(self) -> None:
        self.clock.advance_to(self.clock.end_at)
        for club in ("kimia", "farhangian"):
            self.k.close_period(self.clubs[club], self.clock.end_at, actor=ACTOR)
        self.progress(1, "tier period close")
        for club in ("kimia", "farhangian"):
            self.k.expire_sweep(self.clubs[club], actor=ACTOR)
        self.progress(1, "expiry sweep")
        lottery_id, seed = self.lotteries["nowruz"]
        try:
            self.k.draw_lottery(self.clubs["kimia"], lottery_id, seed, actor=ACTOR)
        except KimiaError as exc:
            if exc.code != "no_entries":  # no purchases, no entries: the lottery stays open
                raise
        self.progress(1, "lottery draw")
        for club in ("kimia", "farhangian"):
            self.w.settings(self.clubs[club], {"verification": {"redeem": ["card_present", "pin", "otp"], "bind": ["pin", "otp"]}},
                            reason="demo: spending at a terminal needs the cardholder from now on")


def build_demo(service: Kimia, admin: Admin, *, purchases: int = 300, seed: int = 1, progress: Progress | None = None,
               roster: Roster | None = None) -> DemoSummary:
    """Build the demo platform through ``service`` and return what was stored.

    ``service`` must run on a :class:`DemoClock` (``kimia.app.assemble(settings, clock=DemoClock(end_at))``): the demo
    moves it through the month before ``end_at``. Deterministic for a given ``seed`` and end. The
    members' cards and mobiles go to ``roster`` when given (in memory; the caller may save it)."""
    clock = service.clock
    if not isinstance(clock, DemoClock):
        raise TypeError("build_demo needs a service constructed with clock=DemoClock(...)")
    if not 0 <= purchases <= 100_000:
        raise ValueError("purchases must be between 0 and 100000")
    report = progress or (lambda steps, label: None)
    demo = _Demo(service, admin, clock, purchases=purchases, seed=seed, progress=report, roster=roster if roster is not None else Roster())
    demo.setup_platform()
    demo.setup_merchants()
    demo.setup_offers()
    demo.setup_groups()
    demo.setup_rules()
    demo.enroll_members()
    demo.setup_value()
    demo.plan()
    demo.run()
    demo.finish()
    summary = summarize(service, demo)
    report(FINAL_STEPS - 3, "check")
    return summary


# --- reading the summary back ------------------------------------------------------------------


def summarize(service: Kimia, demo: _Demo) -> DemoSummary:
    """The demo's summary: what its clubs hold (kimia.service.reports) and what the demo counted."""
    kimia = demo.clubs["kimia"]
    scope = ReportScope(
        roots=(kimia, demo.clubs["farhangian"]),
        clubs=(kimia, demo.clubs["north"], demo.clubs["farhangian"]),
        merchants=tuple(m.merchant_id for m in demo.merchants),
        lotteries=tuple((lottery_id, kimia, seed) for lottery_id, seed in demo.lotteries.values()),
    )
    check = service.check()
    with service.reading() as tx:
        held = clubs_report(tx, scope)
    return DemoSummary(
        **{f.name: getattr(held, f.name) for f in fields(ClubsReport)},
        seed=demo.seed,
        first_day=dt.datetime.fromtimestamp(demo.clock.start_at, TEHRAN).date(),
        last_day=dt.datetime.fromtimestamp(demo.clock.end_at - 1, TEHRAN).date(),
        meta_club_id=demo.meta_id,
        merchants=len(scope.merchants),
        refunds=demo.counts.refunds,
        holds_completed=demo.counts.holds_completed,
        holds_cancelled=demo.counts.holds_cancelled,
        rejected=demo.counts.rejected,
        replayed=demo.counts.replayed,
        check_ok=check.ok,
        check_summary=check.summary(),
        refusals=tuple(sorted(demo.counts.refusals.items())),
    )


# --- rendering ---------------------------------------------------------------------------------

_FA_DIGITS = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")


def fa_number(value: int) -> str:
    """``1234567`` → ``۱٬۲۳۴٬۵۶۷``."""
    return f"{value:,}".translate(_FA_DIGITS)


def render_summary(s: DemoSummary) -> str:
    """The demo's summary in Persian and English, one fact per line."""
    def rial(value: int) -> str:
        return f"{value:,} rial"

    out: list[str] = []
    add = out.append
    add(f"══ دموی کیمیا · kimia demo — seed {s.seed} ══")
    add(f"دوره · period: {jalali(s.first_day)} … {jalali(s.last_day)}  ({s.first_day} … {s.last_day}, Tehran time)")
    add("")
    add(f"باشگاه‌ها · clubs: {len(s.clubs)} (+ meta-club #{s.meta_club_id} «فراباشگاه کیمیا و فرهنگیان» sharing members)")
    for c in s.clubs:
        kind = f"sub-club of #{c.parent_id}" if c.parent_id else "club"
        members = "members of its parent" if c.parent_id and not c.members else f"{c.members} members"
        add(f"  • #{c.club_id} {c.name_fa} · {c.name_en} ({kind}): {members}, {c.merchants} merchants")
    add(f"پذیرندگان · merchants: {s.merchants} — {s.branches} branches, {s.terminals} terminals (POS + PC-POS), {s.marketers} marketers")
    ids = ", ".join(f"{kind} {n}" for kind, n in s.identifiers.items())
    add(f"اعضا · members: {s.members} — identifiers: {ids}")
    add("")
    add(f"خریدها · purchases: {s.purchases} ({fa_number(s.purchases)}) for {rial(s.purchase_amount_rial)} net of refunds")
    add(f"  holds: {s.holds_completed} completed, {s.holds_cancelled} cancelled · refunds/reversals: {s.refunds}"
        f" · retries answered from their first run: {s.replayed}")
    if s.refusals:
        add(f"  refused (a till would show why): {s.rejected} — " + ", ".join(f"{what} ×{n}" for what, n in s.refusals))
    add(f"تخفیف · total discount: {rial(s.discount_rial)}")
    add(f"امتیاز · points issued: {s.points_issued:,} ({fa_number(s.points_issued)} امتیاز), converted to credit: {s.points_converted:,}")
    add(f"اعتبار · credit issued: {rial(s.credit_issued_rial)} (welfare {s.welfare_charged_rial:,}, gift cards {s.gift_charged_rial:,})")
    add(f"         credit spent: {rial(s.credit_spent_rial)} · expired: {rial(s.credit_expired_rial)}")
    add(f"ووچر · vouchers: {s.vouchers_issued} issued ({s.vouchers_bought} bought with points or credit, the rest"
        f" given by rules), {s.vouchers_used} used")
    add(f"تسهیم · settlement legs: {rial(s.settlement_rial)} to merchants, marketers, club owners and the platform")
    add("")
    add("برترین اعضا · top members by points:")
    for i, m in enumerate(s.top_members, start=1):
        add(f"  {i}. {m.name_fa} (#{m.member_id}, {m.club_fa}, {m.tier}) — {fa_number(m.points)} امتیاز · {m.points:,} points")
    add("طبقات · tiers: " + " · ".join(f"{name} {n}" for name, n in s.tiers))
    for lot in s.lotteries:
        add(f"قرعه‌کشی · lottery #{lot.lottery_id} «{lot.name_fa}» ({lot.name_en}): {lot.entries} entries, {lot.status}")
        for w in lot.winners:
            add(f"  {w.rank}. {w.name_fa} (#{w.member_id}) — {w.prize}")
        if lot.status == "open":
            add(f"  seed (committed as sha256 {lot.commitment[:16]}…): {lot.seed}")
            add(f"  draw it: kimia draw-lottery --lottery {lot.lottery_id} --seed {lot.seed}")
    add("")
    add(("بررسی · check: " if s.check_ok else "بررسی · check FAILED: ") + s.check_summary)
    return "\n".join(out)


__all__ = [
    "DemoClock",
    "DemoSummary",
    "build_demo",
    "default_last_day",
    "demo_steps",
    "make_card_number",
    "make_national_code",
    "make_sheba",
    "render_summary",
    "tehran_midnight",
]
