"""Write a decision: journal legs, balances, lots, budgets, split legs, counters, vouchers.

Called inside the writer's transaction, after the core decided on a snapshot read in that same
transaction. Every write that could contradict the snapshot is conditional (a lot is drawn only if
it still holds enough; a holder balance must stay at or above its floor; a budget must stay within
its limit), so even a bug upstream cannot make the database disagree with the invariants: the
operation is rejected and its savepoint rolled back.
"""

from __future__ import annotations

import secrets
from typing import Any

import kimia._core as core
from kimia._core import Decision
from kimia.errors import reject
from kimia.service.sql import Tx

#: Offset of the local day of settlement (and of ``operations.day``) from UTC: Tehran, 03:30.
SETTLEMENT_UTC_OFFSET_S = 210 * 60


def write_decision(tx: Tx, d: Decision, *, op_id: int, op_club: int, member_club: int, now: int) -> None:
    """Persist every effect of ``d`` under operation ``op_id``."""
    # The core knows each account's club (a holder's is the member's), owner and floor.
    rows = core.batch_rows([(d, op_club, member_club)], now)
    tx.executemany(
        "INSERT INTO journal (club_id, op_id, seq, account, amount, unit, memo, created_at) VALUES (?,?,?,?,?,?,?,?)",
        rows["legs"],
    )
    upsert = (
        "INSERT INTO balances (club_id, account, owner, balance, credit_limit) VALUES (?,?,?,?,0)"
        " ON CONFLICT (club_id, account) DO UPDATE SET balance = balances.balance + excluded.balance"
    )
    unchecked: list[tuple[Any, ...]] = []
    for club, account, owner, delta in rows["balances"]:
        if delta >= 0 or core.floor(account, 0) is None:
            # Unbounded accounts (the business side, debts) have no floor and a credit cannot break
            # one: no need to read back.
            unchecked.append((club, account, owner, delta))
            continue
        row = tx.one(upsert + " RETURNING balance, credit_limit", (club, account, owner, delta))
        floor = core.floor(account, row[1])
        if floor is not None and row[0] < floor:
            raise reject("insufficient_balance", account=account, needed=-delta, available=row[0] - delta - floor)
    tx.executemany(upsert, unchecked)
    for used in d.lots_consumed:
        tx.execute(
            "UPDATE lots SET remaining = remaining - ? WHERE id = ? AND club_id = ? AND remaining >= ?",
            (used["amount"], used["lot_id"], member_club, used["amount"]),
        )
        if tx.rowcount() != 1:
            raise reject("lot_not_found")
    tx.executemany(
        "INSERT INTO lots (id, club_id, owner, account, original, remaining, expires_at, pending_until)"
        " VALUES (?,?,?,?,?,?,?,?)",
        rows["lots_created"],
    )
    for i, use in enumerate(d.budget_use):
        row = tx.one(
            "INSERT INTO budget_usage (club_id, key, used) VALUES (?,?,?)"
            " ON CONFLICT (club_id, key) DO UPDATE SET used = budget_usage.used + excluded.used RETURNING used",
            (op_club, use["key"], use["amount"]),
        )
        if use["amount"] > 0 and row[0] > use["limit"]:
            key = str(use["key"])
            raise reject("budget_exhausted", f"budget_use[{i}]", rule=key.split("|", 1)[0], budget=key)
    counters = d.counters
    day = counters["day"]
    # Money moves on the day of this operation: a refund, a reversal or a completed hold is settled
    # on its own day (the day of ``operations.day``), never added to an earlier day's settlement.
    settle_day = (now + SETTLEMENT_UTC_OFFSET_S) // 86_400
    tx.executemany(
        "INSERT INTO split_legs (club_id, op_id, role, beneficiary_id, amount_rial, day) VALUES (?,?,?,?,?,?)",
        [(op_club, op_id, leg["role"], leg["beneficiary_id"], leg["amount_rial"], settle_day) for leg in d.split],
    )
    if counters["purchases"] or counters["spend_rial"]:
        last = counters["last_purchase_at"]
        if last is None:
            tx.execute(
                "UPDATE members SET purchase_count = purchase_count + ?, period_points = period_points + ? WHERE id = ?",
                (counters["purchases"], d.points_earned, d.member_id),
            )
        else:
            tx.execute(
                "UPDATE members SET purchase_count = purchase_count + ?, period_points = period_points + ?,"
                " last_purchase_at = CASE WHEN last_purchase_at IS NULL OR last_purchase_at < ? THEN ? ELSE last_purchase_at END"
                " WHERE id = ?",
                (counters["purchases"], d.points_earned, last, last, d.member_id),
            )
        tx.execute(
            "INSERT INTO member_days (member_id, day, count, spend_rial) VALUES (?,?,?,?)"
            " ON CONFLICT (member_id, day) DO UPDATE SET count = member_days.count + excluded.count,"
            " spend_rial = member_days.spend_rial + excluded.spend_rial",
            (d.member_id, day, counters["purchases"], counters["spend_rial"]),
        )
        if d.merchant_id is not None:
            tx.execute(
                "INSERT INTO merchant_visits (member_id, merchant_id, count) VALUES (?,?,?)"
                " ON CONFLICT (member_id, merchant_id) DO UPDATE SET count = merchant_visits.count + excluded.count",
                (d.member_id, d.merchant_id, counters["purchases"]),
            )
    elif d.points_earned:
        tx.execute("UPDATE members SET period_points = period_points + ? WHERE id = ?", (d.points_earned, d.member_id))
    if d.voucher_used:
        tx.execute("UPDATE vouchers SET used_op_id = ? WHERE code = ? AND used_op_id IS NULL", (op_id, d.voucher_used))
        if tx.rowcount() != 1:
            raise reject("voucher_already_used")
    restored = d.voucher_restored
    if restored:
        tx.execute("UPDATE vouchers SET used_op_id = NULL WHERE code = ?", (restored,))
    for issue in d.vouchers_issued:
        issue_voucher(tx, member_id=d.member_id, template_id=issue["template_id"], op_id=op_id, now=now)


def restore_last_purchase(tx: Tx, member_id: int) -> None:
    """Set a member's last purchase time to that of their latest purchase still standing.

    Called when a purchase stops counting (a full reversal or refund: its purchase count goes back
    too) or counts again (its refund undone). A purchase only ever moves the time forward, so
    without this a reversed purchase would keep the member looking recent and block a win-back
    rule (``days_since_last_purchase``) on their next purchase. A completed hold counts from the
    hold, as when it was written (the completion carries the hold's decision)."""
    tx.execute(
        "UPDATE members SET last_purchase_at = (SELECT MAX(COALESCE(h.created_at, o.created_at)) FROM operations o"
        " LEFT JOIN operations h ON o.kind = 'completion' AND h.id = o.original_op_id"
        " WHERE o.member_id = ? AND o.kind IN ('purchase', 'completion') AND o.status = 'done' AND o.refunded_rial < o.amount_rial)"
        " WHERE id = ?",
        (member_id, member_id),
    )


def issue_voucher(tx: Tx, *, member_id: int, template_id: int, op_id: int, now: int) -> str | None:
    """Create a voucher from a template for a member; returns its code (None if no such template)."""
    row = tx.one("SELECT club_id, valid_days FROM voucher_templates WHERE id = ?", (template_id,))
    if row is None:
        return None
    code = "V" + secrets.token_hex(6).upper()
    tx.execute(
        "INSERT INTO vouchers (club_id, code, template_id, member_id, issued_op_id, used_op_id, valid_from, valid_to)"
        " VALUES (?,?,?,?,?,NULL,?,?)",
        (row[0], code, template_id, member_id, op_id, now, now + int(row[1]) * 86_400),
    )
    return code
