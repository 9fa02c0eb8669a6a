"""``kimia check``: recompute every balance from the journal and verify every invariant.

1. every journal entry (operation, posting) sums to zero, per unit;
2. every balance equals the sum of its account's journal legs, and no journal account lacks a balance;
3. no holder balance is below its floor (0; a credit line's limit; debts are the exception);
4. every lot account's balance equals the sum of its lots' remaining value, and no lot is negative
   or above its original amount;
5. at most one operation per idempotency key;
6. every operation's split legs add up to its payable amount;
7. budget use is never negative;
8. the audit log's hash chain holds (kimia.service.audit): no row was edited, deleted or inserted
   outside kimia. The summary names the chain's head, to be recorded elsewhere: that is what shows
   the newest rows were not deleted.
9. every tier period close is finished (one stopped half-way is reported until it is run again),
   closed each of its members once, and took exactly the deductions its history records.
10. the dashboard's per-day aggregate (``club_days``) equals a recount from the operations and
   the journal (kimia.service.daily).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import kimia._core as core
from kimia.service.audit import chain_rows, verify_chain
from kimia.service.daily import check_daily
from kimia.service.sql import Tx


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    operations: int = 0
    legs: int = 0
    accounts: int = 0
    lots: int = 0
    audit_rows: int = 0
    audit_head: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = (f"{self.operations} operations, {self.legs} journal legs, {self.accounts} balances, {self.lots} lots,"
                f" {self.audit_rows} audit rows (chain head {self.audit_head[:16] or '-'})")
        if self.ok:
            return f"ok: {head}; every invariant holds"
        return f"FAILED: {head}; {len(self.problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in self.problems[:50])


def run_check(tx: Tx, *, limit: int = 1000) -> CheckReport:
    report = CheckReport()
    add = report.problems.append
    report.operations = int(tx.one("SELECT COUNT(*) FROM operations")[0])
    report.legs = int(tx.one("SELECT COUNT(*) FROM journal")[0])
    report.lots = int(tx.one("SELECT COUNT(*) FROM lots")[0])

    for op_id, seq, unit, total in tx.all(
        "SELECT op_id, seq, unit, SUM(amount) FROM journal GROUP BY op_id, seq, unit HAVING SUM(amount) <> 0 LIMIT ?", (limit,)
    ):
        add(f"entry {op_id}/{seq} ({unit}) sums to {total}, not 0")
    for op_id, n in tx.all("SELECT op_id, COUNT(*) FROM journal GROUP BY op_id, seq HAVING COUNT(*) <> 2 LIMIT ?", (limit,)):
        add(f"entry of operation {op_id} has {n} legs, not 2")

    journal = {(c, a): int(s) for c, a, s in tx.all("SELECT club_id, account, SUM(amount) FROM journal GROUP BY club_id, account")}
    balances = {(c, a): (int(b), int(l)) for c, a, b, l in tx.all("SELECT club_id, account, balance, credit_limit FROM balances")}
    report.accounts = len(balances)
    for key, (balance, limit_rial) in balances.items():
        expected = journal.get(key, 0)
        if balance != expected:
            add(f"balance of {key[1]} (club {key[0]}) is {balance}, the journal says {expected}")
        floor = core.floor(key[1], limit_rial)
        if floor is not None and balance < floor:
            add(f"{key[1]} (club {key[0]}) is {balance}, below its floor {floor}")
    for key, total in journal.items():
        if key not in balances and total != 0:
            add(f"{key[1]} (club {key[0]}) has journal legs summing to {total} but no balance row")

    lot_sums = {(c, a): int(s) for c, a, s in tx.all("SELECT club_id, account, SUM(remaining) FROM lots GROUP BY club_id, account")}
    for (club, account), (balance, _) in balances.items():
        info = core.account_info(account)
        if info.is_holder and info.has_lots and lot_sums.get((club, account), 0) != balance:
            add(f"lots of {account} (club {club}) hold {lot_sums.get((club, account), 0)}, the balance is {balance}")
    for lot_id, remaining, original in tx.all("SELECT id, remaining, original FROM lots WHERE remaining < 0 OR remaining > original LIMIT ?", (limit,)):
        add(f"lot {lot_id} holds {remaining} of {original}")

    for club, key, n in tx.all("SELECT club_id, idem_key, COUNT(*) FROM operations GROUP BY club_id, idem_key HAVING COUNT(*) > 1 LIMIT ?", (limit,)):
        add(f"idempotency key {key!r} of club {club} has {n} operations")

    legs = {int(o): int(s) for o, s in tx.all("SELECT op_id, SUM(amount_rial) FROM split_legs GROUP BY op_id")}
    for op_id, response in tx.all("SELECT id, response FROM operations WHERE status IN ('done', 'held') AND kind IN ('purchase', 'completion', 'refund', 'reversal')"):
        data = response if isinstance(response, dict) else json.loads(response or "{}")
        payable = int(data.get("payable_rial", 0))
        if data.get("status") == "held":
            continue
        if legs.get(int(op_id), 0) != payable:
            add(f"split legs of operation {op_id} add up to {legs.get(int(op_id), 0)}, the payable amount is {payable}")

    for club, key, used in tx.all("SELECT club_id, key, used FROM budget_usage WHERE used < 0 LIMIT ?", (limit,)):
        add(f"budget {key} of club {club} is negative ({used})")
    check_period_closes(tx, add)
    check_daily(tx, add, limit)

    report.audit_rows, report.audit_head, broken = verify_chain(chain_rows(tx))
    report.problems.extend(broken)
    return report


def check_period_closes(tx: Tx, add: Callable[[str], None]) -> None:
    """Invariant 9: a close's members each have one history row, and its deduction operations
    (keys ``period:{end}:deduct:{member}``) add up to the points its history says were deducted."""
    closes = tx.all("SELECT club_id, period_end, status, members_done, members_total FROM period_closes ORDER BY club_id, period_end")
    history = {(int(c), int(e)): (int(n), int(d or 0)) for c, e, n, d in tx.all(
        "SELECT club_id, period_end, COUNT(*), SUM(deducted_points) FROM tier_history GROUP BY club_id, period_end")}
    for club, end, status, done, total in closes:
        members, deducted = history.get((int(club), int(end)), (0, 0))
        if status != "done":
            add(f"the tier period close of club {club} ending at {end} is unfinished ({done} of {total} members closed);"
                " run `kimia close-period` again to finish it")
        if members != int(done):
            add(f"the tier period close of club {club} ending at {end} closed {done} members but has {members} history rows")
        row = tx.one("SELECT COALESCE(SUM(amount_rial), 0) FROM operations WHERE club_id = ? AND kind = 'adjustment' AND idem_key LIKE ?",
                     (club, f"period:{end}:deduct:%"))
        if int(row[0]) != deducted:
            add(f"the tier period close of club {club} ending at {end} deducted {row[0]} points, its history says {deducted}")
