"""Load what the core needs to decide: a member snapshot and the merchant's context."""

from __future__ import annotations

import json
from typing import Any

import kimia._core as core
from kimia.errors import reject
from kimia.service.sql import Tx

#: The lot kinds each ``lots`` choice of ``load_member`` loads (``"all"`` loads every lot), as the
#: core spends them: rial credit held in lots and/or points, never lottery entries.
SPENDABLE_KINDS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "credit": core.spent_lot_kinds(credit=True, points=False),
    "points": core.spent_lot_kinds(credit=False, points=True),
    "credit+points": core.spent_lot_kinds(credit=True, points=True),
}

#: Days of purchase history loaded for window conditions (rules may look back at most this far).
HISTORY_DAYS = 400


def load_member(
    tx: Tx,
    member_id: int,
    *,
    merchant_id: int | None,
    today: int,
    budget_keys: list[str] | None = None,
    voucher_code: str | None = None,
    club_id: int,
    lots: str = "all",
    with_enrolled_by: bool = False,
    ledger_club: int | None = None,
) -> dict[str, Any]:
    """The member's snapshot, read inside the write transaction (row-locked on PostgreSQL).

    ``lots`` says which lots to load: ``"all"`` (reversals, conversions, expiry), ``"credit"`` (a
    purchase spending credit: only spendable credit), ``"points"`` (a purchase paying with
    points), ``"credit+points"`` (both), or ``"none"`` (a purchase that spends nothing: the core
    needs balances, not lots, to decide it)."""
    if ledger_club is None:
        found = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
        if found is None:
            raise reject("unknown_member")
        ledger_club = int(found[0])
    found_rows = tx.all_together(_snapshot_queries(tx, member_id, merchant_id=merchant_id, today=today, lots=lots, ledger_club=ledger_club))
    member_rows, balance_rows, day_rows, group_rows = found_rows[:4]
    visit_rows = found_rows[4] if merchant_id is not None else []
    lot_rows: list[Any] = found_rows[-1] if lots != "none" else []
    if not member_rows:
        raise reject("unknown_member")
    tier, referrer_id, wallet_id, purchase_count, last_purchase_at, _, enrolled_by = member_rows[0]
    accounts = [{"account": a, "balance": b, "credit_limit": c} for a, b, c in balance_rows]
    if lots not in ("all", "none"):
        kinds = SPENDABLE_KINDS[lots]
        lot_rows = [r for r, kind in zip(lot_rows, core.kinds_of([r[1] for r in lot_rows])) if kind in kinds]
    lot_list = [{"id": i, "account": a, "remaining": r, "expires_at": e, "pending_until": p} for i, a, r, e, p in lot_rows]
    history = [{"day": d, "count": c, "spend_rial": s} for d, c, s in day_rows]
    groups = [g for (g,) in group_rows]
    merchant_count = visit_rows[0][0] if visit_rows else 0
    snapshot: dict[str, Any] = {
        "member_id": member_id,
        "tier": tier,
        "groups": groups,
        "referrer_id": referrer_id,
        "shared_group_id": wallet_id,
        "purchase_count": purchase_count,
        "merchant_purchase_count": merchant_count,
        "last_purchase_at": last_purchase_at,
        "history": history,
        "accounts": accounts,
        "lots": lot_list,
    }
    if budget_keys:
        snapshot["budget_used"] = load_budgets(tx, club_id, budget_keys)
    if voucher_code:
        snapshot["vouchers"] = load_vouchers(tx, member_id, voucher_code)
    if with_enrolled_by:
        # Not part of the core's snapshot: the caller pops it before deciding.
        snapshot["_enrolled_by"] = enrolled_by
    return snapshot


def _snapshot_queries(tx: Tx, member_id: int, *, merchant_id: int | None, today: int, lots: str, ledger_club: int) -> list[tuple[str, tuple[Any, ...]]]:
    """The reads of a snapshot, in the order ``load_member`` unpacks them."""
    # One round trip on PostgreSQL (``Tx.all_together``): the member row first (row-locked), then
    # what hangs on it; the accounts and lots of the member and of their shared wallet, named by a
    # subquery on the member row rather than by a second round trip. A member's value lives in the
    # ledger of their root club (a sub-club member's too): ``ledger_club``.
    owners = "owner IN (?, (SELECT 'group:' || CAST(shared_wallet_id AS TEXT) FROM members WHERE id = ?))"
    queries: list[tuple[str, tuple[Any, ...]]] = [
        (tx.lock("SELECT tier, referrer_id, shared_wallet_id, purchase_count, last_purchase_at, club_id, enrolled_by_merchant_id"
                 " FROM members WHERE id = ?"), (member_id,)),
        (f"SELECT account, balance, credit_limit FROM balances WHERE club_id = ? AND {owners}", (ledger_club, f"member:{member_id}", member_id)),
        ("SELECT day, count, spend_rial FROM member_days WHERE member_id = ? AND day > ?", (member_id, today - HISTORY_DAYS)),
        ("SELECT group_id FROM member_group_members WHERE member_id = ?", (member_id,)),
    ]
    if merchant_id is not None:
        queries.append(("SELECT count FROM merchant_visits WHERE member_id = ? AND merchant_id = ?", (member_id, merchant_id)))
    if lots != "none":
        queries.append((f"SELECT id, account, remaining, expires_at, pending_until FROM lots WHERE club_id = ? AND {owners} AND remaining > 0",
                        (ledger_club, f"member:{member_id}", member_id)))
    return queries


def load_budgets(tx: Tx, club_id: int, budget_keys: list[str]) -> dict[str, int]:
    """Budget use so far for the given keys (row-locked on PostgreSQL, in key order)."""
    in_keys, key_params = tx.among("key", sorted(set(budget_keys)))
    rows = tx.all(
        tx.lock(f"SELECT key, used FROM budget_usage WHERE club_id = ? AND {in_keys} ORDER BY key"),
        (club_id, *key_params),
    )
    return {k: int(u) for k, u in rows}


def load_vouchers(tx: Tx, member_id: int, code: str) -> list[dict[str, Any]]:
    row = tx.one(
        "SELECT v.code, t.discount_rial, t.discount_bp, t.cap_rial, v.valid_from, v.valid_to, t.merchants,"
        " v.used_op_id, t.funder FROM vouchers v JOIN voucher_templates t ON t.id = v.template_id"
        " WHERE v.code = ? AND v.member_id = ?",
        (code, member_id),
    )
    if row is None:
        return []
    merchants = row[6] if isinstance(row[6], list) else json.loads(row[6] or "[]")
    return [
        {
            "code": row[0],
            "discount_rial": row[1],
            "discount_bp": row[2],
            "cap_rial": row[3],
            "valid_from": row[4],
            "valid_to": row[5],
            "merchants": merchants,
            "used": row[7] is not None,
            "funder": row[8],
        }
    ]
