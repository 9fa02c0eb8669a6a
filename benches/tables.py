"""The benchmark rule table, built three ways from one description.

A club's rule table of N rules: six club-wide rules, and per merchant a round of four rules
(a discount above an amount, points per amount with tier multipliers, merchant credit on a
weekday/hour window, lottery entries above an amount); 2,000 merchants from 1,000 rules up. It is
the same table `core/benches/decide.rs` generates for the Rust benchmarks.

Each `Rule` is turned into
(a) a kimia rule (`kimia_rule_set`), the dict `kimia.Rulebook` compiles;
(b) a row of one zen-engine (GoRules JDM) decision table with hit policy "collect"
    (`zen_decision`): one input column per condition, one output column per reward, the reward
    arithmetic written as ZEN expressions;
(c) a plain-Python evaluator (`PlainEvaluator`): a loop over the rules that could match (indexed by
    merchant, as kimia indexes them) with the same matching and the same integer arithmetic.

Purchases are columns (`Purchases`) so the same purchases feed kimia's backtest, kimia single calls,
zen-engine and the plain-Python loop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

CLUB_ID = 1
UTC_OFFSET_MIN = 210
#: 2025-03-01 00:00 in Tehran (UTC+03:30), a Saturday.
START = 1_740_774_600
#: Purchases fall within four weeks from START.
SPAN_S = 28 * 86_400
MERCHANT_GROUPS = 20
TIER_NAMES = ("bronze", "silver", "gold")
WEEKDAYS = ("sat", "sun", "mon", "tue", "wed", "thu", "fri")
TIER_MULTIPLIERS_BP = {"silver": 12_500, "gold": 15_000}
BP_ONE = 10_000
CLUB_WIDE = 6
PER_MERCHANT = 4
SIZES = (10, 100, 1_000, 10_000)


@dataclass(frozen=True)
class Rule:
    """One rule: where it applies, what must hold, and what it gives (one kind of reward)."""

    id: str
    position: int
    name_en: str = ""
    name_fa: str = ""
    # Scope (empty: anywhere in the club).
    merchants: tuple[int, ...] = ()
    merchant_groups: tuple[int, ...] = ()
    # Conditions (all must hold).
    amount_min: int | None = None
    tiers: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = ()  # 0 = Saturday ... 6 = Friday
    minute_from: int | None = None  # local time of day, from inclusive ...
    minute_to: int | None = None  # ... to exclusive
    first_purchase: bool = False
    nth: int | None = None
    # Rewards.
    discount_bp: int = 0
    discount_cap: int | None = None
    points_per_rial: int = 0
    points: int = 0
    points_fixed: int = 0
    tier_multiplied: bool = False
    points_expires_days: int | None = None
    credit_kind: str | None = None
    credit_bp: int = 0
    credit_cap: int | None = None
    credit_expires_days: int | None = None
    lottery_id: int | None = None
    lottery_per_rial: int = 0
    lottery_entries: int = 0
    funding: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, order=True)
class Reward:
    """What one matching rule gives a purchase (before the discount is capped at the amount)."""

    discount: int = 0
    points: int = 0
    credit: int = 0
    entries: int = 0

    def is_empty(self) -> bool:
        return self.discount == 0 and self.points == 0 and self.credit == 0 and self.entries == 0


@dataclass
class Totals:
    discount: int = 0
    points: int = 0
    credit: int = 0
    entries: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.discount, self.points, self.credit, self.entries)


def merchant_count(n: int) -> int:
    """Merchants in a table of n rules: 2,000 from 1,000 rules up, else as many as the rules fill."""
    return 2_000 if n >= 1_000 else max(1, (n - CLUB_WIDE) // PER_MERCHANT)


def active_merchants(n: int) -> int:
    """Merchants with rules of their own (ids 1..active)."""
    slots = max(1, -(-max(0, n - CLUB_WIDE) // PER_MERCHANT))
    return min(slots, merchant_count(n))


def merchant_group(merchant: int) -> int:
    return merchant % MERCHANT_GROUPS + 1


def club_wide_rules() -> list[Rule]:
    return [
        Rule("club_points", 0, "Club points", "امتیاز باشگاه", points_per_rial=20_000, points=1,
             tier_multiplied=True, points_expires_days=365, funding={"club_owner": 10_000}),
        Rule("welcome", 1, "Welcome", "خوش‌آمد", first_purchase=True, points_fixed=500,
             funding={"club_owner": 10_000}),
        Rule("every_tenth", 2, "Every tenth purchase", "هر ده خرید", nth=10, discount_bp=500,
             discount_cap=500_000, funding={"club_owner": 5_000, "merchant": 5_000}),
        Rule("big_basket_lottery", 3, "Big basket lottery", "قرعه‌کشی خرید بزرگ", amount_min=5_000_000,
             lottery_id=1, lottery_per_rial=1_000_000, lottery_entries=1),
        Rule("group_friday", 4, "Friday at restaurants", "جمعه‌های رستوران", merchant_groups=(3,),
             weekdays=(6,), discount_bp=1_000, discount_cap=300_000),
        Rule("gold_cashback", 5, "Gold cashback", "بازگشت وجه طلایی", tiers=("gold",), credit_kind="cashback",
             credit_bp=100, credit_cap=100_000, funding={"club_owner": 10_000}),
    ]


def merchant_rule(i: int, merchants: int, position: int) -> Rule:
    """The i-th merchant rule: merchant (i // 4) % merchants + 1, kind i % 4, varied by merchant and round."""
    slot = i // PER_MERCHANT
    m = slot % merchants + 1
    rnd = slot // merchants
    kind = i % PER_MERCHANT
    rule_id = f"m{m}_r{rnd}_k{kind}"
    scope = (m,)
    if kind == 0:
        return Rule(rule_id, position, merchants=scope, amount_min=1_000_000 + (m % 5) * 500_000 + rnd * 1_000_000,
                    discount_bp=300 + (m % 5) * 100, discount_cap=1_000_000)
    if kind == 1:
        return Rule(rule_id, position, merchants=scope, points_per_rial=10_000, points=1 + (m + rnd) % 3,
                    tier_multiplied=True, points_expires_days=180)
    if kind == 2:
        first = (m + rnd) % 7
        days = tuple(sorted((first + d * 2) % 7 for d in range(3)))
        from_h = 9 + (m + rnd) % 8
        return Rule(rule_id, position, merchants=scope, weekdays=days, minute_from=from_h * 60,
                    minute_to=(from_h + 4) * 60 + 30, credit_kind="merchant", credit_bp=200, credit_cap=200_000,
                    credit_expires_days=30)
    return Rule(rule_id, position, merchants=scope, amount_min=500_000, lottery_id=1_000 + m,
                lottery_per_rial=500_000, lottery_entries=1)


def rules(n: int) -> list[Rule]:
    """The table of n rules, in evaluation order (all rules stack; none has a priority)."""
    merchants = merchant_count(n)
    table = club_wide_rules()[:n]
    table += [merchant_rule(i, merchants, CLUB_WIDE + i) for i in range(max(0, n - CLUB_WIDE))]
    return table


# (a) kimia ------------------------------------------------------------------------------------


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def kimia_rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rule.id}
    if rule.name_en:
        out["name"] = {"en": rule.name_en, "fa": rule.name_fa}
    scope: dict[str, Any] = {}
    if rule.merchants:
        scope["merchants"] = list(rule.merchants)
    if rule.merchant_groups:
        scope["merchant_groups"] = list(rule.merchant_groups)
    if scope:
        out["scope"] = scope
    conditions: list[dict[str, Any]] = []
    if rule.amount_min is not None:
        conditions.append({"type": "amount", "min": rule.amount_min})
    if rule.tiers:
        conditions.append({"type": "tier", "names": list(rule.tiers)})
    if rule.weekdays:
        conditions.append({"type": "weekdays", "days": [WEEKDAYS[d] for d in rule.weekdays]})
    if rule.minute_from is not None and rule.minute_to is not None:
        conditions.append({"type": "hour_range", "from": _hhmm(rule.minute_from), "to": _hhmm(rule.minute_to)})
    if rule.first_purchase:
        conditions.append({"type": "first_purchase"})
    if rule.nth is not None:
        conditions.append({"type": "nth_purchase", "n": rule.nth})
    if conditions:
        out["conditions"] = conditions
    effects: list[dict[str, Any]] = []
    if rule.discount_bp:
        effects.append({"type": "discount", "percent_bp": rule.discount_bp, "cap_rial": rule.discount_cap})
    if rule.points or rule.points_fixed:
        points: dict[str, Any] = {"type": "points", "per_rial": rule.points_per_rial, "points": rule.points,
                                  "fixed": rule.points_fixed}
        if rule.tier_multiplied:
            points["tier_multipliers_bp"] = dict(TIER_MULTIPLIERS_BP)
        if rule.points_expires_days is not None:
            points["expires_days"] = rule.points_expires_days
        effects.append(points)
    if rule.credit_kind is not None:
        effects.append({"type": "credit", "kind": rule.credit_kind, "percent_bp": rule.credit_bp,
                        "cap_rial": rule.credit_cap, "expires_days": rule.credit_expires_days})
    if rule.lottery_id is not None:
        effects.append({"type": "lottery", "lottery_id": rule.lottery_id, "per_rial": rule.lottery_per_rial,
                        "entries": rule.lottery_entries})
    out["effects"] = effects
    if rule.funding:
        out["funding"] = dict(rule.funding)
    return out


def kimia_rule_set(n: int) -> dict[str, Any]:
    """The rule set of n rules, as the dict `kimia.Rulebook` takes."""
    return {
        "club_id": CLUB_ID,
        "version": 1,
        "utc_offset_min": UTC_OFFSET_MIN,
        "point_value_rial": 1_000,
        "settlement": {"club_owner_bp": 200, "marketer_bp": 100,
                       "fee_tariffs": [{"percent_bp": 30, "fixed_rial": 1_000, "cap_rial": 50_000}]},
        "rules": [kimia_rule(r) for r in rules(n)],
    }


# (b) zen-engine ---------------------------------------------------------------------------------

#: Input columns of the decision table: (column id, field of the evaluation context).
ZEN_INPUTS = (
    ("c_merchant", "merchant_id"),
    ("c_group", "merchant_group"),
    ("c_amount", "amount"),
    ("c_tier", "tier"),
    ("c_weekday", "weekday"),
    ("c_minute", "minute"),
    ("c_number", "number"),
)
#: Output columns: (column id, output field).
ZEN_OUTPUTS = (
    ("o_rule", "rule"),
    ("o_discount", "discount"),
    ("o_points", "points"),
    ("o_credit", "credit"),
    ("o_entries", "entries"),
)
_TIER_MULTIPLIER_EXPR = "(tier == \"gold\" ? 15000 : (tier == \"silver\" ? 12500 : 10000))"
assert TIER_MULTIPLIERS_BP == {"silver": 12_500, "gold": 15_000}, "keep _TIER_MULTIPLIER_EXPR in step"


def _amount_expr(bp: int, cap: int | None) -> str:
    value = f"floor(amount * {bp} / {BP_ONE})"
    return value if cap is None else f"min([{value}, {cap}])"


def zen_row(rule: Rule) -> dict[str, str]:
    """One row of the decision table: unary tests on the inputs (empty: any), expressions out."""
    row = {cid: "" for cid, _ in ZEN_INPUTS}
    row["_id"] = rule.id
    if rule.merchants:
        row["c_merchant"] = ", ".join(str(m) for m in rule.merchants)
    if rule.merchant_groups:
        row["c_group"] = ", ".join(str(g) for g in rule.merchant_groups)
    if rule.amount_min is not None:
        row["c_amount"] = f">= {rule.amount_min}"
    if rule.tiers:
        row["c_tier"] = ", ".join(f'"{t}"' for t in rule.tiers)
    if rule.weekdays:
        row["c_weekday"] = ", ".join(str(d) for d in rule.weekdays)
    if rule.minute_from is not None and rule.minute_to is not None:
        row["c_minute"] = f"[{rule.minute_from}..{rule.minute_to})"
    tests = []
    if rule.first_purchase:
        tests.append("$ == 1")
    if rule.nth is not None:
        tests.append(f"$ % {rule.nth} == 0")
    row["c_number"] = " and ".join(tests)

    row["o_rule"] = f'"{rule.id}"'
    row["o_discount"] = _amount_expr(rule.discount_bp, rule.discount_cap) if rule.discount_bp else "0"
    if rule.points or rule.points_fixed:
        plain = f"floor(amount * {rule.points} / {rule.points_per_rial})" if rule.points else "0"
        plain = f"({plain} + {rule.points_fixed})" if rule.points_fixed else plain
        row["o_points"] = f"floor({plain} * {_TIER_MULTIPLIER_EXPR} / {BP_ONE})" if rule.tier_multiplied else plain
    else:
        row["o_points"] = "0"
    row["o_credit"] = _amount_expr(rule.credit_bp, rule.credit_cap) if rule.credit_kind else "0"
    if rule.lottery_id is not None:
        row["o_entries"] = f"floor(amount * {rule.lottery_entries} / {rule.lottery_per_rial})"
    else:
        row["o_entries"] = "0"
    return row


def zen_decision(n: int) -> dict[str, Any]:
    """The same n rules as one JDM graph: request → decision table (hit policy "collect") → response."""
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "rules",
                "type": "decisionTableNode",
                "name": "Club rules",
                "position": {"x": 300, "y": 0},
                "content": {
                    "hitPolicy": "collect",
                    "inputs": [{"id": cid, "type": "expression", "field": f, "name": f} for cid, f in ZEN_INPUTS],
                    "outputs": [{"id": cid, "type": "expression", "field": f, "name": f} for cid, f in ZEN_OUTPUTS],
                    "rules": [zen_row(r) for r in rules(n)],
                },
            },
            {"id": "response", "type": "outputNode", "name": "Response", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "type": "edge", "sourceId": "request", "targetId": "rules"},
            {"id": "e2", "type": "edge", "sourceId": "rules", "targetId": "response"},
        ],
    }


def zen_matches(result: Any) -> list[tuple[str, Reward]]:
    """The rows zen-engine matched (the `result` of a "collect" table: a list), as (rule id, reward)."""
    assert isinstance(result, list), f"expected the rows of a collect table, got {result!r}"
    return [
        (str(r["rule"]), Reward(int(r["discount"]), int(r["points"]), int(r["credit"]), int(r["entries"])))
        for r in result
    ]


# (c) plain Python -------------------------------------------------------------------------------


def _percent(amount: int, bp: int, cap: int | None) -> int:
    value = amount * bp // BP_ONE
    return value if cap is None else min(value, cap)


class PlainEvaluator:
    """The table evaluated by a loop over the rules that could match, in plain Python."""

    def __init__(self, table: list[Rule]) -> None:
        self.by_merchant: dict[int, list[Rule]] = {}
        self.by_group: dict[int, list[Rule]] = {}
        self.everywhere: list[Rule] = []
        for rule in table:
            if rule.merchants:
                for m in rule.merchants:
                    self.by_merchant.setdefault(m, []).append(rule)
            elif rule.merchant_groups:
                for g in rule.merchant_groups:
                    self.by_group.setdefault(g, []).append(rule)
            else:
                self.everywhere.append(rule)
        self._candidates: dict[tuple[int, int], list[Rule]] = {}

    def candidates(self, merchant: int, group: int) -> list[Rule]:
        key = (merchant, group)
        found = self._candidates.get(key)
        if found is None:
            merged = {r.position: r for r in self.everywhere}
            merged.update((r.position, r) for r in self.by_merchant.get(merchant, ()))
            merged.update((r.position, r) for r in self.by_group.get(group, ()))
            found = [merged[p] for p in sorted(merged)]
            self._candidates[key] = found
        return found

    def matches(self, merchant: int, group: int, amount: int, tier: str | None, weekday: int, minute: int,
                purchase_count: int) -> list[tuple[str, Reward]]:
        out: list[tuple[str, Reward]] = []
        for r in self.candidates(merchant, group):
            if r.merchants and merchant not in r.merchants:
                continue
            if r.merchant_groups and group not in r.merchant_groups:
                continue
            if r.amount_min is not None and amount < r.amount_min:
                continue
            if r.tiers and tier not in r.tiers:
                continue
            if r.weekdays and weekday not in r.weekdays:
                continue
            if r.minute_from is not None and r.minute_to is not None and not r.minute_from <= minute < r.minute_to:
                continue
            if r.first_purchase and purchase_count != 0:
                continue
            if r.nth is not None and (purchase_count + 1) % r.nth != 0:
                continue
            discount = _percent(amount, r.discount_bp, r.discount_cap) if r.discount_bp else 0
            points = 0
            if r.points or r.points_fixed:
                points = (amount * r.points // r.points_per_rial if r.points else 0) + r.points_fixed
                if r.tier_multiplied:
                    points = points * TIER_MULTIPLIERS_BP.get(tier or "", BP_ONE) // BP_ONE
            credit = _percent(amount, r.credit_bp, r.credit_cap) if r.credit_kind else 0
            entries = amount * r.lottery_entries // r.lottery_per_rial if r.lottery_id is not None else 0
            out.append((r.id, Reward(discount, points, credit, entries)))
        return out

    def add(self, totals: Totals, amount: int, matched: list[tuple[str, Reward]]) -> None:
        """Add one purchase's rewards; cash discounts never exceed what is left to pay (as in kimia)."""
        left = amount
        for _, reward in matched:
            given = min(reward.discount, left)
            left -= given
            totals.discount += given
            totals.points += reward.points
            totals.credit += reward.credit
            totals.entries += reward.entries


# Purchases --------------------------------------------------------------------------------------


@dataclass
class Purchases:
    """Purchases as columns; `at` is Unix seconds, `tier` an index into TIER_NAMES or -1."""

    merchant_id: list[int]
    merchant_group: list[int]
    amount_rial: list[int]
    at: list[int]
    tier: list[int]
    purchase_count: list[int]
    weekday: list[int]
    minute: list[int]

    def __len__(self) -> int:
        return len(self.merchant_id)

    def tier_name(self, i: int) -> str | None:
        t = self.tier[i]
        return TIER_NAMES[t] if t >= 0 else None

    def backtest_columns(self) -> dict[str, Any]:
        """Keyword arguments of `kimia.Rulebook.backtest`."""
        return {
            "merchant_id": self.merchant_id,
            "merchant_group": self.merchant_group,
            "amount_rial": self.amount_rial,
            "at": self.at,
            "tier": self.tier,
            "tier_names": list(TIER_NAMES),
            "purchase_count": self.purchase_count,
        }

    def kimia_purchase(self, i: int) -> dict[str, Any]:
        """The purchase dict of `kimia.Rulebook.evaluate`."""
        return {"op_id": i + 1, "club_id": CLUB_ID, "merchant_id": self.merchant_id[i],
                "merchant_groups": [self.merchant_group[i]], "amount_rial": self.amount_rial[i]}

    def kimia_member(self, i: int) -> dict[str, Any]:
        """The member snapshot the backtest assumes: member 1 with this purchase's tier and count."""
        return {"member_id": 1, "tier": self.tier_name(i), "purchase_count": self.purchase_count[i]}

    def zen_context(self, i: int) -> dict[str, Any]:
        return {"merchant_id": self.merchant_id[i], "merchant_group": self.merchant_group[i],
                "amount": self.amount_rial[i], "tier": self.tier_name(i), "weekday": self.weekday[i],
                "minute": self.minute[i], "number": self.purchase_count[i] + 1}

    def plain_args(self, i: int) -> tuple[int, int, int, str | None, int, int, int]:
        return (self.merchant_id[i], self.merchant_group[i], self.amount_rial[i], self.tier_name(i),
                self.weekday[i], self.minute[i], self.purchase_count[i])


def local_weekday_minute(at: int) -> tuple[int, int]:
    """Local weekday (0 = Saturday) and minute of the day in the club's time zone."""
    shifted = at + UTC_OFFSET_MIN * 60
    day, second = divmod(shifted, 86_400)
    return (day + 5) % 7, second // 60


def purchases(n_rules: int, count: int, seed: int = 7) -> Purchases:
    """count purchases: half at merchants with rules of their own, half at any merchant of the club."""
    rng = random.Random(seed)
    every, active = merchant_count(n_rules), active_merchants(n_rules)
    cols = Purchases([], [], [], [], [], [], [], [])
    for _ in range(count):
        m = rng.randrange(active if rng.random() < 0.5 else every) + 1
        at = START + rng.randrange(SPAN_S)
        weekday, minute = local_weekday_minute(at)
        cols.merchant_id.append(m)
        cols.merchant_group.append(merchant_group(m))
        cols.amount_rial.append(50_000 + rng.randrange(400) * 25_000 + rng.randrange(10_000))
        cols.at.append(at)
        cols.tier.append(rng.randrange(4) - 1)
        cols.purchase_count.append(rng.randrange(40))
        cols.weekday.append(weekday)
        cols.minute.append(minute)
    return cols


def representative(n_rules: int) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A purchase at a merchant with rules of its own, on a Sunday at 11:30, by a gold member whose
    tenth purchase it is (most candidate rules match): (purchase, member, now). As in decide.rs."""
    del n_rules  # merchant 1 has rules of its own at every size
    purchase = {"op_id": 1, "club_id": CLUB_ID, "merchant_id": 1, "merchant_groups": [merchant_group(1)],
                "amount_rial": 3_456_789}
    member = {"member_id": 1, "tier": "gold", "purchase_count": 9}
    return purchase, member, START + 86_400 + 11 * 3_600 + 1_800
