"""Reports read back from the database: what a set of clubs holds (the demo's summary) and the
purchases a backtest replays. Each function takes a read transaction (or a service) and returns
typed rows; the CLI only renders them.

The store is the system of record: a report says what was stored, not what a caller meant to store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kimia.service.sql import Tx

# --- what a set of clubs holds -------------------------------------------------------------------


@dataclass(frozen=True)
class ClubLine:
    club_id: int
    name_fa: str
    name_en: str
    parent_id: int | None
    members: int
    merchants: int


@dataclass(frozen=True)
class MemberLine:
    member_id: int
    name_fa: str
    club_fa: str
    points: int
    tier: str


@dataclass(frozen=True)
class WinnerLine:
    rank: int
    member_id: int
    name_fa: str
    prize: str


@dataclass(frozen=True)
class LotteryLine:
    lottery_id: int
    club_id: int
    name_fa: str
    name_en: str
    status: str
    seed: str
    commitment: str
    entries: int
    winners: tuple[WinnerLine, ...]


@dataclass(frozen=True)
class ReportScope:
    """What a report covers: root clubs (where value is booked), every club (sub-clubs too), the
    merchants, and lotteries with the seeds their caller kept (a seed is never stored)."""

    roots: tuple[int, ...]
    clubs: tuple[int, ...]
    merchants: tuple[int, ...]
    lotteries: tuple[tuple[int, int, str], ...] = ()  # (lottery id, club id, seed)


@dataclass(frozen=True)
class ClubsReport:
    """Counts and sums of a :class:`ReportScope`, read from the store."""

    clubs: tuple[ClubLine, ...]
    branches: int
    terminals: int
    marketers: int
    members: int
    identifiers: dict[str, int]
    purchases: int
    purchase_amount_rial: int
    discount_rial: int
    points_issued: int
    points_converted: int
    credit_issued_rial: int
    credit_spent_rial: int
    credit_expired_rial: int
    vouchers_bought: int
    vouchers_issued: int
    vouchers_used: int
    welfare_charged_rial: int
    gift_charged_rial: int
    settlement_rial: int
    top_members: tuple[MemberLine, ...]
    tiers: tuple[tuple[str, int], ...]
    lotteries: tuple[LotteryLine, ...]


class _Reader:
    """Scalar queries over one read transaction, with the scope's placeholders at hand."""

    def __init__(self, tx: Tx, scope: ReportScope) -> None:
        self.tx = tx
        self.scope = scope
        self.r = tx.placeholders(len(scope.roots))
        self.a = tx.placeholders(len(scope.clubs))
        self.mk = tx.placeholders(len(scope.merchants))

    def scalar(self, sql: str, params: Sequence[Any]) -> int:
        row = self.tx.one(sql, params)
        return int(row[0] or 0) if row else 0

    def in_roots(self, sql: str) -> int:
        """``sql`` with ``{r}`` standing for the root clubs' placeholders."""
        return self.scalar(sql.format(r=self.r), self.scope.roots)

    def legs(self, pattern: str) -> int:
        return self.scalar(f"SELECT SUM(amount) FROM journal WHERE club_id IN ({self.r}) AND account LIKE ?", (*self.scope.roots, pattern))

    def op_legs(self, kind: str, account_like: str) -> int:
        """The sum of postings to accounts like ``account_like`` by operations of ``kind``."""
        return self.scalar(
            f"SELECT SUM(j.amount) FROM journal j JOIN operations o ON o.id = j.op_id WHERE o.club_id IN ({self.r})"
            " AND o.kind = ? AND j.account LIKE ?", (*self.scope.roots, kind, account_like))


def _club_lines(rd: _Reader) -> tuple[ClubLine, ...]:
    lines = []
    for club_id in rd.scope.clubs:
        name_fa, name_en, parent = rd.tx.one("SELECT name_fa, name_en, parent_id FROM clubs WHERE id = ?", (club_id,))
        lines.append(ClubLine(
            club_id, str(name_fa), str(name_en), parent,
            rd.scalar("SELECT COUNT(*) FROM members WHERE club_id = ?", (club_id,)),
            rd.scalar("SELECT COUNT(*) FROM merchants WHERE club_id = ?", (club_id,)),
        ))
    return tuple(lines)


def _top_members(rd: _Reader, limit: int = 3) -> tuple[MemberLine, ...]:
    top = []
    for owner, balance in rd.tx.all(
        f"SELECT owner, balance FROM balances WHERE club_id IN ({rd.r}) AND account LIKE 'member:%/points'"
        f" ORDER BY balance DESC, owner LIMIT {int(limit)}", rd.scope.roots,
    ):
        member_id = int(str(owner).split(":")[1])
        name, club_name, tier = rd.tx.one(
            "SELECT m.name_fa, c.name_fa, m.tier FROM members m JOIN clubs c ON c.id = m.club_id WHERE m.id = ?", (member_id,))
        top.append(MemberLine(member_id, str(name), str(club_name), int(balance), str(tier or "bronze")))
    return tuple(top)


def _lottery_lines(rd: _Reader) -> tuple[LotteryLine, ...]:
    lines = []
    for lottery_id, club_id, seed in rd.scope.lotteries:
        name_fa, name_en, status, commitment = rd.tx.one(
            "SELECT name_fa, name_en, status, seed_commitment FROM lotteries WHERE id = ?", (lottery_id,))
        entries = rd.scalar("SELECT SUM(balance) FROM balances WHERE account LIKE ? AND balance > 0",
                            (f"member:%/lottery_entries@lottery:{lottery_id}",))
        winners = tuple(
            WinnerLine(int(rank), int(member_id), str(name), str(prize))
            for rank, member_id, name, prize in rd.tx.all(
                "SELECT w.rank, w.member_id, m.name_fa, w.prize FROM lottery_winners w JOIN members m ON m.id = w.member_id"
                " WHERE w.lottery_id = ? ORDER BY w.rank", (lottery_id,))
        )
        lines.append(LotteryLine(lottery_id, club_id, str(name_fa), str(name_en), str(status), seed, str(commitment), entries, winners))
    return tuple(lines)


def _credit_issued_rial(rd: _Reader) -> int:
    """Credit issued to members: postings from a funder (expense) or from outside (cash) into a holder's credit."""
    return rd.in_roots(
        "SELECT SUM(h.amount) FROM journal h JOIN journal s ON s.op_id = h.op_id AND s.seq = h.seq AND s.id <> h.id"
        " WHERE h.club_id IN ({r}) AND (h.account LIKE 'member:%' OR h.account LIKE 'group:%') AND h.unit = 'rial'"
        " AND h.account NOT LIKE '%/credit_line' AND h.account NOT LIKE '%/cash'"
        " AND (s.account LIKE '%/expense' OR s.account LIKE '%/cash')")


def _credit_expired_rial(rd: _Reader) -> int:
    return -rd.in_roots(
        "SELECT SUM(j.amount) FROM journal j JOIN operations o ON o.id = j.op_id WHERE o.club_id IN ({r}) AND o.kind = 'expiry'"
        " AND j.unit = 'rial' AND (j.account LIKE 'member:%' OR j.account LIKE 'group:%')")


def _purchases(rd: _Reader) -> tuple[int, int]:
    """(purchases done, their amount net of refunds)."""
    done = "FROM operations WHERE club_id IN ({r}) AND kind IN ('purchase', 'completion') AND status = 'done'"
    return rd.in_roots("SELECT COUNT(*) " + done), rd.in_roots("SELECT SUM(amount_rial - refunded_rial) " + done)


def clubs_report(tx: Tx, scope: ReportScope) -> ClubsReport:
    """What ``scope`` holds, read in one transaction."""
    rd = _Reader(tx, scope)
    purchases, amount = _purchases(rd)
    return ClubsReport(
        clubs=_club_lines(rd),
        branches=rd.scalar(f"SELECT COUNT(*) FROM branches WHERE merchant_id IN ({rd.mk})", scope.merchants),
        terminals=rd.scalar(f"SELECT COUNT(*) FROM terminals WHERE merchant_id IN ({rd.mk})", scope.merchants),
        marketers=rd.scalar(f"SELECT COUNT(*) FROM marketers WHERE club_id IN ({rd.a})", scope.clubs),
        members=rd.scalar(f"SELECT COUNT(*) FROM members WHERE club_id IN ({rd.a})", scope.clubs),
        identifiers={str(kind): int(n) for kind, n in tx.all(
            f"SELECT kind, COUNT(*) FROM member_identifiers WHERE club_id IN ({rd.r}) GROUP BY kind ORDER BY kind", scope.roots)},
        purchases=purchases,
        purchase_amount_rial=amount,
        discount_rial=rd.legs("merchant:%/discount_given"),
        points_issued=-rd.legs("%/points_issued"),
        points_converted=rd.op_legs("conversion", "%/points_retired"),
        credit_issued_rial=_credit_issued_rial(rd),
        credit_spent_rial=rd.legs("merchant:%/credit_accepted"),
        credit_expired_rial=_credit_expired_rial(rd),
        vouchers_bought=rd.in_roots("SELECT COUNT(*) FROM operations WHERE club_id IN ({r}) AND kind = 'voucher' AND status = 'done'"),
        vouchers_issued=rd.in_roots("SELECT COUNT(*) FROM vouchers WHERE club_id IN ({r})"),
        vouchers_used=rd.in_roots("SELECT COUNT(*) FROM vouchers WHERE club_id IN ({r}) AND used_op_id IS NOT NULL"),
        welfare_charged_rial=rd.legs("org:%/expense") * -1,
        gift_charged_rial=rd.op_legs("charge", "member:%/gift_credit"),
        settlement_rial=rd.in_roots("SELECT SUM(amount_rial) FROM split_legs WHERE club_id IN ({r})"),
        top_members=_top_members(rd),
        tiers=tuple((str(t or "bronze"), int(n)) for t, n in tx.all(
            f"SELECT tier, COUNT(*) FROM members WHERE club_id IN ({rd.a}) GROUP BY tier ORDER BY COUNT(*) DESC, tier", scope.clubs)),
        lotteries=_lottery_lines(rd),
    )


def credit_line_owed_rial(tx: Tx, club_id: int, member_id: int) -> int:
    """What a member's credit line has lent and not been paid back (0 when nothing is owed)."""
    row = tx.one("SELECT balance FROM balances WHERE club_id = ? AND account = ?", (club_id, f"member:{member_id}/credit_line"))
    return max(0, -int(row[0])) if row else 0


# --- the purchases a backtest replays -------------------------------------------------------------

_PURCHASE_KINDS = "('purchase', 'completion')"


@dataclass(frozen=True)
class BacktestSource:
    """The club's newest rule set and how many purchases since ``since`` a backtest will read."""

    root: int
    since: int
    version: int
    body: dict[str, Any]
    tier_names: tuple[str, ...]
    total: int

    def rule_names(self) -> dict[str, str]:
        """Rule id -> English name, from the rule set's body."""
        return {str(r["id"]): str((r.get("name") or {}).get("en") or "") for r in self.body.get("rules", [])}


@dataclass
class BacktestColumns:
    """The purchases as the columns ``Rulebook.backtest`` takes, and the merchants' names."""

    merchant_id: list[int] = field(default_factory=list)
    amount_rial: list[int] = field(default_factory=list)
    at: list[int] = field(default_factory=list)
    merchant_group: list[int] = field(default_factory=list)
    tier: list[int] = field(default_factory=list)
    purchase_count: list[int] = field(default_factory=list)
    merchant_names: dict[int, str] = field(default_factory=dict)

    def arguments(self, tier_names: Sequence[str]) -> dict[str, Any]:
        """Keyword arguments of ``Rulebook.backtest``."""
        return {"merchant_id": self.merchant_id, "amount_rial": self.amount_rial, "at": self.at,
                "merchant_group": self.merchant_group, "tier": self.tier, "tier_names": list(tier_names),
                "purchase_count": self.purchase_count}


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    loaded = json.loads(value or "{}")
    assert isinstance(loaded, dict)
    return loaded


def backtest_source(tx: Tx, root: int, since: int, rule_set: tuple[int, dict[str, Any]] | None = None) -> BacktestSource | None:
    """What a backtest of the root club ``root`` reads, running ``rule_set`` (version, body), else
    the club's newest; None when it has none."""
    rules = (rule_set[1], rule_set[0]) if rule_set is not None else tx.one(
        "SELECT body, version FROM rule_sets WHERE club_id = ? ORDER BY version DESC LIMIT 1", (root,))
    if rules is None:
        return None
    settings = _json(tx.one("SELECT settings FROM clubs WHERE id = ?", (root,))[0])
    tier_names = tuple(str(t["name"]) for t in (settings.get("tiers") or {}).get("tiers", []))
    total = int(tx.one(f"SELECT COUNT(*) FROM operations WHERE kind IN {_PURCHASE_KINDS} AND status = 'done'"
                       " AND created_at >= ?", (since,))[0])
    return BacktestSource(root, since, int(rules[1]), _json(rules[0]), tier_names, total)


def backtest_columns(tx: Tx, source: BacktestSource, progress: Callable[[int], Any] = lambda rows: None) -> BacktestColumns:
    """Every purchase since ``source.since`` at the root club, with the member's current tier and
    purchase count at the time; ``progress(rows)`` after each chunk of the ``source.total`` read."""
    tiers = {str(m): t for m, t in tx.all("SELECT id, tier FROM members WHERE tier IS NOT NULL")}
    groups = {int(m): int(g) for m, g in tx.all("SELECT merchant_id, MIN(group_id) FROM merchant_group_members GROUP BY merchant_id")}
    # A member's purchases in every club count, as in the live snapshot's purchase count.
    before = {int(m): int(n) for m, n in tx.all(
        f"SELECT member_id, COUNT(*) FROM operations WHERE kind IN {_PURCHASE_KINDS} AND status = 'done'"
        " AND created_at < ? AND member_id IS NOT NULL GROUP BY member_id", (source.since,))}
    out = BacktestColumns(merchant_names={int(i): str(n) for i, n in tx.all("SELECT id, name_fa FROM merchants")})
    cursor = tx.execute(
        f"SELECT club_id, merchant_id, amount_rial, created_at, member_id FROM operations WHERE kind IN {_PURCHASE_KINDS}"
        " AND status = 'done' AND created_at >= ? ORDER BY id", (source.since,))
    while rows := cursor.fetchmany(5_000):
        for op_club, merchant, amount, created, member in rows:
            count = before.get(member, 0) if member is not None else 0
            if member is not None:
                before[int(member)] = count + 1
            if int(op_club) != source.root:
                continue
            out.merchant_id.append(int(merchant))
            out.amount_rial.append(int(amount))
            out.at.append(int(created))
            out.merchant_group.append(groups.get(int(merchant), -1))
            name = tiers.get(str(member))
            out.tier.append(source.tier_names.index(name) if name in source.tier_names else -1)
            out.purchase_count.append(count)
        progress(len(rows))
    return out


__all__ = [
    "BacktestColumns",
    "BacktestSource",
    "ClubLine",
    "ClubsReport",
    "LotteryLine",
    "MemberLine",
    "ReportScope",
    "WinnerLine",
    "backtest_columns",
    "backtest_source",
    "clubs_report",
    "credit_line_owed_rial",
]
