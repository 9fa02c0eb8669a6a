"""Reads of a club's back office (issue 15, Management): voucher templates, lotteries with their
entries and winners, the rule budgets and their use, the settlement lines of a day, and the audit
log. Every read is scoped by the caller's club tree, given by its root: an id of another tree is
answered exactly as one that does not exist (a club never learns what another holds)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import kimia._core as core
from kimia.errors import reject
from kimia.service.clubs import club_tree
from kimia.service.host import Host
from kimia.service.members import clubs_sharing_members
from kimia.service.settlement import SettlementLine, settlement_lines
from kimia.service.sql import Tx

#: The most rows one read returns (a page is at most this).
MAX_PAGE = 200


def _json(value: Any) -> Any:
    """A JSON column as stored: a value on PostgreSQL, text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def like_prefix(text: str) -> str:
    """``text`` as a LIKE pattern matching itself literally (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- voucher templates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoucherTemplateView:
    id: int
    club_id: int
    name_fa: str
    name_en: str
    discount_rial: int
    discount_bp: int
    cap_rial: int | None
    valid_days: int
    merchants: list[int]
    price_points: int
    price_credit_rial: int
    min_balance: int
    funder: str
    #: Vouchers issued from this template, and how many of them were used.
    issued: int
    used: int


_TEMPLATE_SQL = (
    "SELECT t.id, t.club_id, t.name_fa, t.name_en, t.discount_rial, t.discount_bp, t.cap_rial, t.valid_days, t.merchants,"
    " t.price_points, t.price_credit_rial, t.min_balance, t.funder,"
    " (SELECT COUNT(*) FROM vouchers v WHERE v.template_id = t.id),"
    " (SELECT COUNT(*) FROM vouchers v WHERE v.template_id = t.id AND v.used_op_id IS NOT NULL)"
    " FROM voucher_templates t"
)


def _template(row: Any) -> VoucherTemplateView:
    return VoucherTemplateView(int(row[0]), int(row[1]), str(row[2]), str(row[3]), int(row[4]), int(row[5]),
                               None if row[6] is None else int(row[6]), int(row[7]), [int(m) for m in _json(row[8]) or []],
                               int(row[9]), int(row[10]), int(row[11]), str(row[12]), int(row[13]), int(row[14]))


def voucher_templates(svc: Host, root: int, *, after_id: int, limit: int) -> list[VoucherTemplateView]:
    """The voucher templates of the club tree of ``root``, by id."""
    with svc.reading() as tx:
        clubs = club_tree(tx, root)
        rows = tx.all(f"{_TEMPLATE_SQL} WHERE t.club_id IN ({tx.placeholders(len(clubs))}) AND t.id > ? ORDER BY t.id LIMIT ?",
                      (*clubs, after_id, min(limit, MAX_PAGE)))
    return [_template(r) for r in rows]


def voucher_template(svc: Host, root: int, template_id: int) -> VoucherTemplateView:
    """One voucher template of the club tree of ``root`` (else ``unknown_voucher_template``)."""
    with svc.reading() as tx:
        clubs = club_tree(tx, root)
        row = tx.one(f"{_TEMPLATE_SQL} WHERE t.id = ? AND t.club_id IN ({tx.placeholders(len(clubs))})", (template_id, *clubs))
    if row is None:
        raise reject("unknown_voucher_template", path="template_id")
    return _template(row)


# --- lotteries --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WinnerView:
    rank: int
    member_id: int
    prize: str


@dataclass(frozen=True)
class LotteryView:
    id: int
    club_id: int
    name_fa: str
    name_en: str
    prizes: list[str]
    seed_commitment: str | None
    #: Revealed by the draw only (before it, only its SHA-256 is known).
    seed: str | None
    status: str
    drawn_at: int | None
    #: Entries held for this lottery by members of the club and of clubs sharing members with it.
    entries: int
    entrants: int
    winners: list[WinnerView]


_LOTTERY_SQL = "SELECT id, club_id, name_fa, name_en, prizes, seed_commitment, seed, status, drawn_at FROM lotteries"


def _lottery(svc: Host, tx: Tx, root: int, row: Any) -> LotteryView:
    lottery_id = int(row[0])
    ledgers = clubs_sharing_members(svc, tx, root)
    entries, entrants = tx.one(
        f"SELECT COALESCE(SUM(balance), 0), COUNT(*) FROM balances WHERE club_id IN ({tx.placeholders(len(ledgers))})"
        " AND account LIKE ? AND balance > 0",
        (*ledgers, f"member:%/lottery_entries@lottery:{lottery_id}"))
    winners = [WinnerView(int(r[0]), int(r[1]), str(r[2])) for r in
               tx.all("SELECT rank, member_id, prize FROM lottery_winners WHERE lottery_id = ? ORDER BY rank", (lottery_id,))]
    return LotteryView(lottery_id, int(row[1]), str(row[2]), str(row[3]), [str(p) for p in _json(row[4]) or []],
                       row[5], row[6], str(row[7]), None if row[8] is None else int(row[8]), int(entries), int(entrants), winners)


def lotteries(svc: Host, root: int, *, after_id: int, limit: int) -> list[LotteryView]:
    """The lotteries of the club tree of ``root``, by id, each with its entries and winners."""
    with svc.reading() as tx:
        clubs = club_tree(tx, root)
        rows = tx.all(f"{_LOTTERY_SQL} WHERE club_id IN ({tx.placeholders(len(clubs))}) AND id > ? ORDER BY id LIMIT ?",
                      (*clubs, after_id, min(limit, MAX_PAGE)))
        return [_lottery(svc, tx, root, r) for r in rows]


def lottery(svc: Host, root: int, lottery_id: int) -> LotteryView:
    """One lottery of the club tree of ``root`` (else ``unknown_lottery``)."""
    with svc.reading() as tx:
        clubs = club_tree(tx, root)
        row = tx.one(f"{_LOTTERY_SQL} WHERE id = ? AND club_id IN ({tx.placeholders(len(clubs))})", (lottery_id, *clubs))
        if row is None:
            raise reject("unknown_lottery", path="lottery_id")
        return _lottery(svc, tx, root, row)


# --- budgets ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetView:
    """A budget a rule of the club's current rule set declares, and its use in one period."""

    rule_id: str
    #: The budget's place in the rule's ``budgets`` list.
    index: int
    per: str
    period: str
    limit_rial: int | None
    limit_count: int | None
    #: The period the use is of (``d:<day>``, ``m:<Jalali year-month>`` or ``total``).
    period_key: str
    #: Rials of cost (a rial budget) or uses (a count budget) in that period: of the whole rule
    #: (``per`` rule), or summed over every member or merchant (``per`` member or merchant).
    used: int
    #: Members or merchants with some use in that period (1 or 0 for a per-rule budget).
    holders: int
    #: The most one holder used in that period.
    most_used: int


def period_key(period: str, day: int) -> str:
    """The core's key of a budget period holding the local ``day`` (core/src/rules/evaluate.rs)."""
    if period == "day":
        return f"d:{day}"
    if period == "month":
        date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        year, month, _ = core.gregorian_to_jalali(date.year, date.month, date.day)
        return f"m:{year:04d}-{month:02d}"
    return "total"


def _declared(body: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    return [(str(rule.get("id")), i, budget) for rule in body.get("rules", []) if isinstance(rule, dict)
            for i, budget in enumerate(rule.get("budgets") or [])]


def _use(tx: Tx, root: int, rule_id: str, per: str, key: str) -> tuple[int, int, int]:
    """(sum, holders, most) of the use rows of one budget in one period."""
    who = "rule" if per == "rule" else f"{per}:%"
    pattern = f"{like_prefix(rule_id)}|{who}|{like_prefix(key)}"
    row = tx.one("SELECT COALESCE(SUM(used), 0), COUNT(*), COALESCE(MAX(used), 0) FROM budget_usage"
                 " WHERE club_id = ? AND key LIKE ? ESCAPE '\\' AND used <> 0", (root, pattern))
    return int(row[0]), int(row[1]), int(row[2])


def budgets(svc: Host, root: int, day: int) -> tuple[int, list[BudgetView]]:
    """(the current rule set's version, its budgets with their use in the periods holding ``day``)."""
    with svc.reading() as tx:
        row = tx.one("SELECT version, body FROM rule_sets WHERE club_id = ? ORDER BY version DESC LIMIT 1", (root,))
        if row is None:
            return 0, []
        views = []
        for rule_id, index, budget in _declared(_json(row[1]) or {}):
            per, period = str(budget.get("per")), str(budget.get("period"))
            key = period_key(period, day)
            used, holders, most = _use(tx, root, rule_id, per, key)
            views.append(BudgetView(rule_id, index, per, period, budget.get("limit_rial"), budget.get("limit_count"), key, used,
                                    holders, most))
        return int(row[0]), views


# --- settlement ---------------------------------------------------------------------------------------


def settlement_summary(svc: Host, root: int, day: int) -> list[SettlementLine]:
    """The lines of the settlement file of the local ``day`` of the club ``root`` (S1)."""
    with svc.reading() as tx:
        return settlement_lines(tx, root, day)


def local_day(svc: Host, root: int) -> int:
    """Today in the club's local time (days since 1970-01-01)."""
    with svc.reading() as tx:
        return svc.caches.local_day(tx, root, svc.clock())


# --- the audit log ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    id: int
    club_id: int | None
    actor: str
    action: str
    reason: str
    #: As stored: masked when it was written (card numbers by their last 4 digits).
    payload: Any
    at: int


def audit_log(svc: Host, root: int, *, before_id: int, limit: int, action: str | None = None,
              actor: str | None = None) -> list[AuditEntry]:
    """Rows of the audit log of the club tree of ``root``, newest first, before ``before_id`` (0:
    from the newest), optionally of one action and one actor only."""
    with svc.reading() as tx:
        return audit_rows(tx, club_tree(tx, root), before_id=before_id, limit=limit, action=action, actor=actor)


def audit_rows(tx: Tx, clubs: Sequence[int] | None, *, before_id: int, limit: int, action: str | None = None,
               actor: str | None = None) -> list[AuditEntry]:
    """Audit rows of ``clubs`` (None: every club's and the platform's own), newest first."""
    where, params = (["1 = 1"], list[Any]()) if clubs is None else ([f"club_id IN ({tx.placeholders(len(clubs))})"], list[Any](clubs))
    for column, value in (("id <", before_id or None), ("action =", action), ("actor =", actor)):
        if value is not None:
            where.append(f"{column} ?")
            params.append(value)
    rows = tx.all(f"SELECT id, club_id, actor, action, reason, payload, at FROM audit_log WHERE {' AND '.join(where)}"
                  " ORDER BY id DESC LIMIT ?", (*params, min(limit, MAX_PAGE)))
    return [AuditEntry(int(r[0]), None if r[1] is None else int(r[1]), str(r[2]), str(r[3]), str(r[4]), _json(r[5]), int(r[6]))
            for r in rows]
