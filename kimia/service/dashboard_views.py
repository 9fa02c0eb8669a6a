"""The club dashboard's and the merchant staff's reads (reads only, scoped by the caller's root
club and merchant). The dashboard reads the per-day aggregate ``club_days`` (kimia.service.daily),
which the posting path writes with each operation.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kimia.service import backoffice_views
from kimia.service.clubs import club_tree
from kimia.service.daily import ALL_TIME, rebuild_daily, rebuild_daily_tx, recount, stored
from kimia.service.host import Host
from kimia.service.sql import Tx

# --- the club dashboard ---------------------------------------------------------------------------

#: The periods the dashboard offers (days back from today, today included).
PERIODS = (7, 30, 90)
#: Recency buckets (days since the last purchase) and frequency buckets (purchases ever).
RECENCY = ((30, "r1"), (90, "r2"))
FREQUENCY = ((2, "f1"), (6, "f2"))
#: Monetary: points earned in the current tier period (what the member spent, as the rules priced it).
MONETARY = ((1_000, "m1"), (10_000, "m2"))
#: How long the members' distribution (tiers, segments) is reused before it is counted again.
MEMBERS_TTL_S = 600
_members_cache: weakref.WeakKeyDictionary[Any, dict[int, tuple[float, Any]]] = weakref.WeakKeyDictionary()


@dataclass
class Dashboard:
    root: int
    days: list[int]
    #: Per metric, the values of each day of ``days``: (count, amount).
    series: dict[str, list[tuple[int, int]]]
    #: Value outstanding now, by holder kind (points in points, the rest in rials).
    outstanding: dict[str, int]
    tiers: list[tuple[str, int]]
    tier_moves: list[tuple[str, str, int]]
    segments: dict[str, int]
    budgets: list[Any] = field(default_factory=list)

    def counts(self, metric: str) -> list[int]:
        return [c for c, _ in self.series.get(metric, [(0, 0)] * len(self.days))]

    def amounts(self, metric: str) -> list[int]:
        return [a for _, a in self.series.get(metric, [(0, 0)] * len(self.days))]

    def sum_amounts(self, prefix: str, exclude_suffix: tuple[str, ...] = ()) -> list[int]:
        total = [0] * len(self.days)
        for metric, values in self.series.items():
            if metric.startswith(prefix) and not metric.endswith(exclude_suffix or ("\0",)):
                for i, (_, amount) in enumerate(values):
                    total[i] += amount
        return total

    def funders(self) -> dict[str, dict[str, int]]:
        """Value granted in the period by funder, by holder kind."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for metric, values in self.series.items():
            if metric.startswith("g:"):
                _, funder, kind = metric.split(":", 2)
                out[funder][kind] = out[funder].get(kind, 0) + sum(a for _, a in values)
        return dict(out)


def dashboard(svc: Host, club_id: int, period_days: int) -> Dashboard:
    """The dashboard of the club tree of ``club_id`` over the last ``period_days`` local days."""
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        today = svc.caches.local_day(tx, root, svc.clock())
        first = today - period_days + 1
        days = list(range(first, today + 1))
        series: dict[str, list[tuple[int, int]]] = {}
        for day, metric, n, amount in tx.all("SELECT day, metric, count, amount FROM club_days WHERE club_id = ? AND day >= ?"
                                              " AND day <= ? AND NOT (metric >= 'h:' AND metric < 'h;')",  # not the holders' rows
                                              (root, max(first, ALL_TIME + 1), today)):
            values = series.setdefault(str(metric), [(0, 0)] * len(days))
            values[int(day) - first] = (int(n), int(amount))
        outstanding: dict[str, int] = {}
        for metric, amount in tx.all("SELECT metric, amount FROM club_days WHERE club_id = ? AND day = ?", (root, ALL_TIME)):
            kind = str(metric)[2:].split("@", 1)[0]
            outstanding[kind] = outstanding.get(kind, 0) + int(amount or 0)
        tiers, segments = _members_distribution(svc, tx, root)
        start_ts = _day_start(svc, tx, root, first)
        moves = [(str(a or ""), str(b or ""), int(n)) for a, b, n in tx.all(
            "SELECT from_tier, to_tier, COUNT(*) FROM tier_history WHERE club_id = ? AND period_end >= ?"
            " AND (from_tier IS NULL OR to_tier IS NULL OR from_tier <> to_tier) GROUP BY from_tier, to_tier"
            " ORDER BY COUNT(*) DESC LIMIT 20", (root, start_ts))]
    _, budget_views = backoffice_views.budgets(svc, root, today)
    return Dashboard(root, days, series, outstanding, tiers, moves, segments, budget_views)


def _day_start(svc: Host, tx: Tx, root: int, day: int) -> int:
    return day * 86_400 - svc.caches.utc_offset_min(tx, root) * 60


def _members_distribution(svc: Host, tx: Tx, root: int) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """Members per tier and per recency/frequency/monetary segment. One pass over the club's
    members (a million take seconds), so it is kept: counted in the request the first time only,
    then, once older than ``MEMBERS_TTL_S``, the kept counts are shown while a background thread
    counts again (one at a time per club)."""
    kept = _members_cache.setdefault(svc, {})
    cached = kept.get(root)
    if cached is None:
        result = _count_members(svc, tx, root)
        kept[root] = (time.monotonic(), result)
        return result
    if time.monotonic() - cached[0] >= MEMBERS_TTL_S and (svc, root) not in _refreshing:
        _refreshing.add((svc, root))
        threading.Thread(target=_refresh_members, args=(svc, root), name=f"kimia-dashboard-members-{root}", daemon=True).start()
    return cached[1]  # type: ignore[no-any-return]


_refreshing: set[tuple[Any, int]] = set()


def _refresh_members(svc: Host, root: int) -> None:
    try:
        with svc.reading() as tx:
            result = _count_members(svc, tx, root)
        _members_cache.setdefault(svc, {})[root] = (time.monotonic(), result)
    except Exception:  # a closed service or database: the kept counts stay, counted again next time
        pass
    finally:
        _refreshing.discard((svc, root))


def _count_members(svc: Host, tx: Tx, root: int) -> tuple[list[tuple[str, int]], dict[str, int]]:
    now = svc.clock()
    clubs = club_tree(tx, root)
    r1, r2 = now - RECENCY[0][0] * 86_400, now - RECENCY[1][0] * 86_400
    rows = tx.all(
        "SELECT tier,"
        " CASE WHEN last_purchase_at IS NULL THEN 'r0' WHEN last_purchase_at >= ? THEN 'r1' WHEN last_purchase_at >= ? THEN 'r2'"
        " ELSE 'r3' END,"
        " CASE WHEN purchase_count = 0 THEN 'f0' WHEN purchase_count < ? THEN 'f1' WHEN purchase_count < ? THEN 'f2' ELSE 'f3' END,"
        " CASE WHEN period_points < ? THEN 'm1' WHEN period_points < ? THEN 'm2' ELSE 'm3' END, COUNT(*)"
        f" FROM members WHERE club_id IN ({tx.placeholders(len(clubs))}) GROUP BY 1, 2, 3, 4",
        (r1, r2, FREQUENCY[0][0], FREQUENCY[1][0], MONETARY[0][0], MONETARY[1][0], *clubs))
    tiers: dict[str, int] = defaultdict(int)
    segments: dict[str, int] = defaultdict(int)
    for tier, r, f, m, n in rows:
        tiers[str(tier or "")] += int(n)
        segments[str(r)] += int(n)
        segments[str(f)] += int(n)
        segments[str(m)] += int(n)
        segments[segment_of(str(r), str(f))] += int(n)
    return sorted(tiers.items(), key=lambda t: (-t[1], t[0])), dict(segments)


def segment_of(recency: str, frequency: str) -> str:
    """A named segment from recency and frequency: champions (bought in the last 30 days, 6+
    purchases), loyal (the last 90 days, 2+), new (the last 30 days, fewer than 2), at risk
    (not in 90 days, 2+), lost (not in 90 days, fewer than 2), never (no purchase)."""
    if recency == "r0":
        return "seg:never"
    if recency == "r1" and frequency == "f3":
        return "seg:champions"
    if recency in ("r1", "r2") and frequency in ("f2", "f3"):
        return "seg:loyal"
    if recency in ("r1", "r2"):
        return "seg:new"
    return "seg:at_risk" if frequency in ("f2", "f3") else "seg:lost"


def forget_members_cache() -> None:
    _members_cache.clear()


# --- the merchant staff's pages ---------------------------------------------------------------------


@dataclass(frozen=True)
class MerchantDay:
    purchases: int
    sales_rial: int
    refunds: int
    refunds_rial: int
    members: int
    settlement_rial: int


@dataclass(frozen=True)
class MerchantOp:
    id: int
    kind: str
    status: str
    amount_rial: int
    refunded_rial: int
    member_id: int | None
    member_name: str
    terminal_code: str
    at: int


@dataclass(frozen=True)
class TerminalSeen:
    id: int
    terminal_code: str
    merchant_code: str
    kind: str
    active: bool
    last_seen: int | None


def today(svc: Host, root: int) -> int:
    with svc.reading() as tx:
        return svc.caches.local_day(tx, root, svc.clock())


def merchant_day(svc: Host, root: int, merchant_id: int, day: int) -> MerchantDay:
    """A merchant's figures of one local day (its operations and its settlement legs)."""
    with svc.reading() as tx:
        rows = tx.all("SELECT kind, COUNT(*), COALESCE(SUM(amount_rial), 0), COUNT(DISTINCT member_id) FROM operations"
                      " WHERE day = ? AND club_id = ? AND merchant_id = ? AND status NOT IN ('void', 'rejected') GROUP BY kind",
                      (day, root, merchant_id))
        settled = tx.one("SELECT COALESCE(SUM(amount_rial), 0) FROM split_legs WHERE club_id = ? AND day = ?"
                         " AND role = 'merchant' AND beneficiary_id = ?", (root, day, merchant_id))
    by = {str(k): (int(n), int(a), int(m)) for k, n, a, m in rows}
    sales = [by.get(k, (0, 0, 0)) for k in ("purchase", "completion")]
    back = [by.get(k, (0, 0, 0)) for k in ("refund", "reversal")]
    return MerchantDay(sum(s[0] for s in sales), sum(s[1] for s in sales), sum(b[0] for b in back), sum(b[1] for b in back),
                       sum(s[2] for s in sales), int(settled[0]))


def merchant_operations(svc: Host, root: int, merchant_id: int, day: int, *, after_id: int, limit: int) -> list[MerchantOp]:
    """A merchant's operations of one local day, oldest first, after ``after_id``."""
    with svc.reading() as tx:
        rows = tx.all("SELECT o.id, o.kind, o.status, o.amount_rial, o.refunded_rial, o.member_id, m.name_fa, t.terminal_code, o.created_at"
                      " FROM operations o LEFT JOIN members m ON m.id = o.member_id LEFT JOIN terminals t ON t.id = o.terminal_id"
                      " WHERE o.day = ? AND o.club_id = ? AND o.merchant_id = ? AND o.id > ? AND o.status NOT IN ('void', 'rejected')"
                      " ORDER BY o.id LIMIT ?", (day, root, merchant_id, after_id, min(max(limit, 1), 200)))
    return [MerchantOp(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), None if r[5] is None else int(r[5]), mask_name(str(r[6] or "")),
                       str(r[7] or ""), int(r[8])) for r in rows]


def mask_name(name: str) -> str:
    """A member's name as a merchant sees it: the first letter of each word."""
    return " ".join(f"{w[0]}…" for w in name.split() if w)


#: How far back a terminal's last operation is looked for.
SEEN_DAYS = 7


def merchant_terminals(svc: Host, root: int, merchant_id: int) -> list[TerminalSeen]:
    """A merchant's terminals with the time of their latest operation in the last ``SEEN_DAYS`` days."""
    with svc.reading() as tx:
        day = svc.caches.local_day(tx, root, svc.clock())
        terminals = tx.all("SELECT id, terminal_code, merchant_code, kind, active FROM terminals WHERE merchant_id = ? ORDER BY id",
                           (merchant_id,))
        seen = {int(t): int(at) for t, at in tx.all(
            "SELECT terminal_id, MAX(created_at) FROM operations WHERE day >= ? AND day <= ? AND club_id = ? AND merchant_id = ?"
            " AND terminal_id IS NOT NULL GROUP BY terminal_id", (day - SEEN_DAYS + 1, day, root, merchant_id))}
    return [TerminalSeen(int(i), str(c), str(mc), str(k), bool(a), seen.get(int(i))) for i, c, mc, k, a in terminals]


def merchant_liability(svc: Host, root: int, merchant_id: int) -> tuple[int, int]:
    """(members' merchant credit spendable only at this merchant still outstanding, holders)."""
    metric = f"h:merchant_credit@merchant:{merchant_id}"
    with svc.reading() as tx:
        total = tx.one("SELECT COALESCE(SUM(amount), 0) FROM club_days WHERE club_id = ? AND day = ? AND metric = ?", (root, ALL_TIME, metric))
        holders = tx.one("SELECT COUNT(*) FROM balances WHERE club_id = ? AND account LIKE ? AND balance > 0",
                         (root, f"%/merchant_credit@merchant:{merchant_id}"))
    return int(total[0]), int(holders[0])


@dataclass(frozen=True)
class SettlementDay:
    day: int
    amount_rial: int
    legs: int


def merchant_settlement(svc: Host, root: int, merchant_id: int, first_day: int, last_day: int) -> list[SettlementDay]:
    """What the club owes a merchant per local day (its split legs as beneficiary), newest first."""
    with svc.reading() as tx:
        rows = tx.all("SELECT day, SUM(amount_rial), COUNT(*) FROM split_legs WHERE club_id = ? AND day >= ? AND day <= ?"
                      " AND role = 'merchant' AND beneficiary_id = ? GROUP BY day ORDER BY day DESC",
                      (root, first_day, last_day, merchant_id))
    return [SettlementDay(int(d), int(a), int(n)) for d, a, n in rows]


def merchant_settlement_csv(svc: Host, root: int, merchant_id: int, day: int) -> str:
    """One day's settlement legs of a merchant as CSV, with a total line."""
    import csv
    import io

    with svc.reading() as tx:
        rows = tx.all("SELECT op_id, amount_rial FROM split_legs WHERE club_id = ? AND day = ? AND role = 'merchant'"
                      " AND beneficiary_id = ? ORDER BY op_id", (root, day, merchant_id))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["merchant_id", "day", "op_id", "amount_rial"])
    for op_id, amount in rows:
        writer.writerow([merchant_id, day, int(op_id), int(amount)])
    writer.writerow([merchant_id, day, "total", sum(int(a) for _, a in rows)])
    return out.getvalue()


__all__ = ["PERIODS", "Dashboard", "MerchantDay", "MerchantOp", "SettlementDay", "TerminalSeen", "dashboard", "merchant_day", "merchant_liability", "merchant_operations", "merchant_settlement", "merchant_settlement_csv",
           "merchant_terminals", "rebuild_daily", "rebuild_daily_tx", "recount", "segment_of", "stored", "today"]
