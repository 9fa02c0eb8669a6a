"""Reads the panel's rules builder needs beyond the API's: a backtest of a draft beside the rule set
in effect, over the same purchases, with the totals of each local day (for a chart).

The purchases are read once (:func:`kimia.service.reports.backtest_columns`, as ``kimia backtest``
and the API's backtest read them) and replayed through both rule sets. The days' figures replay
each day on its own, so a rule or merchant budget counts from zero every day in them; the whole
run's totals count budgets across the days as the API's backtest does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kimia._core as core
from kimia.service import rulesets
from kimia.service.host import Host
from kimia.service.reports import BacktestColumns, backtest_columns


@dataclass(frozen=True)
class Day:
    #: Unix seconds of the local day's midnight.
    start: int
    purchases: int
    #: What each rule set gave that day: discount + credit + points × point value, in rials.
    cost_old: int
    cost_new: int


@dataclass(frozen=True)
class Comparison:
    days: int
    #: The version in effect (0: none; ``old`` is then None).
    old_version: int
    old: rulesets.Backtest | None
    new: rulesets.Backtest
    daily: list[Day]


def _slice(columns: BacktestColumns, rows: list[int]) -> BacktestColumns:
    return BacktestColumns(
        merchant_id=[columns.merchant_id[i] for i in rows], amount_rial=[columns.amount_rial[i] for i in rows],
        at=[columns.at[i] for i in rows], merchant_group=[columns.merchant_group[i] for i in rows],
        tier=[columns.tier[i] for i in rows], purchase_count=[columns.purchase_count[i] for i in rows],
        merchant_names=columns.merchant_names)


def cost_of(result: dict[str, Any], point_value_rial: int) -> int:
    """What a backtest's purchases were given, in rials."""
    return int(result["discount_rial"]) + int(result["credit_issued_rial"]) + int(result["points_issued"]) * point_value_rial


def compare(svc: Host, club_id: int, body: dict[str, Any], *, days: int) -> Comparison:
    """The draft ``body`` and the rule set in effect over the root club's last ``days`` days of
    purchases (the draft's first error raised if it does not compile)."""
    source, book = rulesets.backtest_plan(svc, club_id, days=days, body=body)
    now = svc.clock()
    with svc.reading() as tx:
        old_book: core.Rulebook | None = svc.caches.rulebook(tx, source.root, now=now)
        offset = int(svc.caches.utc_offset_min(tx, source.root))
        columns = backtest_columns(tx, source)
    if old_book is not None and old_book.version == 0:
        old_book = None
    old_body = rulesets.version_body(svc, source.root, old_book.version) if old_book is not None else {}
    tiers = source.tier_names
    new = rulesets.Backtest(source.root, 0, len(book), days, book.backtest(**columns.arguments(tiers)), columns.merchant_names,
                            source.rule_names())
    old = None
    if old_book is not None:
        old_names = {str(r["id"]): str((r.get("name") or {}).get("en") or "") for r in old_body.get("rules", [])}
        old = rulesets.Backtest(source.root, old_book.version, len(old_book), days, old_book.backtest(**columns.arguments(tiers)),
                                columns.merchant_names, old_names)
    point_value = int(body.get("point_value_rial", 1)) if isinstance(body.get("point_value_rial", 1), int) else 1
    old_point_value = int(old_body.get("point_value_rial", 1))
    by_day: dict[int, list[int]] = {}
    for i, at in enumerate(columns.at):
        local = at + offset * 60
        by_day.setdefault(local - local % 86_400 - offset * 60, []).append(i)
    first = now + offset * 60
    first = first - first % 86_400 - offset * 60 - (days - 1) * 86_400
    daily: list[Day] = []
    for k in range(days):
        start = first + k * 86_400
        rows = by_day.get(start, [])
        if not rows:
            daily.append(Day(start, 0, 0, 0))
            continue
        args = _slice(columns, rows).arguments(tiers)
        cost_new = cost_of(book.backtest(**args), point_value)
        cost_old = cost_of(old_book.backtest(**args), old_point_value) if old_book is not None else 0
        daily.append(Day(start, len(rows), cost_old, cost_new))
    return Comparison(days, old.version if old else 0, old, new, daily)
