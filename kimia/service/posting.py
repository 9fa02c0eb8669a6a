"""The one write path: every operation that posts is staged in a run and written with the run.

An operation decides on what it read (the core: a purchase, a hold, a completion, a refund, ...)
and hands the run a :class:`Posting`: its operations row, its decision and the statements that
follow it (an original marked completed, a refund counted on its sale). The run turns all its
decisions into rows through the core in one call (``core.batch_rows``) and writes them with one
statement per table (:meth:`Run.flush`): a run of one operation is the same path, one row each.

The rows of a run are written after the run's operations decided, so an operation whose reads
depend on something still pending (its member's accounts or lots, the original it names, its
idempotency key, a reference) asks the run to flush first (:meth:`Run.flush_if`): every operation
decides on the database as if those before it had been written one by one.

Every write that could contradict a snapshot is conditional: a lot is drawn only if it still holds
enough, a holder balance must stay at or above its floor, a budget within its limit. A run of one
answers a failed condition with its rejection; a larger run raises, and the writer runs each of
its operations again alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import kimia._core as core
from kimia.errors import reject
from kimia.service import outbox
from kimia.service.daily import add_daily
from kimia.service.host import Host
from kimia.service.record import issue_voucher
from kimia.service.requests import actor_of, response_json
from kimia.service.sql import Tx
from kimia.service.writer import Guard

#: The columns of an operations row, in the order :func:`op_row` builds it.
OPERATION_COLUMNS = ("id", "club_id", "idem_key", "request_hash", "kind", "status", "member_id", "merchant_id", "terminal_id",
                     "original_op_id", "amount_rial", "refunded_rial", "reference", "response", "decision", "day", "created_at", "actor")

class BulkWriteMismatch(RuntimeError):
    """The database disagreed with a run's snapshot; rerun the run one operation at a time."""


@dataclass
class OpRow:
    """An operations row (its columns but the answer and the decision, known once decided)."""

    id: int
    club_id: int
    idem_key: str
    request_hash: str
    kind: str
    member_id: int | None
    day: int
    created_at: int
    merchant_id: int | None = None
    terminal_id: int | None = None
    original_op_id: int | None = None
    amount_rial: int = 0
    reference: str | None = None
    actor: str | None = None

    def row(self, status: str, response: str, decision: str | None) -> tuple[Any, ...]:
        return (self.id, self.club_id, self.idem_key, self.request_hash, self.kind, status, self.member_id, self.merchant_id,
                self.terminal_id, self.original_op_id, self.amount_rial, 0, self.reference, response, decision, self.day,
                self.created_at, actor_of(self.merchant_id, self.terminal_id, self.actor))


@dataclass
class Posting:
    """One operation's rows: its operations row with its answer (``receipt``) and status, its
    decision (None for a marker such as a voided key), the member's club (whose ledger holds the
    member's accounts), and the statements that must follow the rows (``after``)."""

    op: OpRow
    status: str
    receipt: dict[str, Any]
    decision: core.Decision | None = None
    member_club: int = 0
    after: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    #: Operations this one changes (an original marked completed, cancelled, refunded).
    touches_ops: tuple[int, ...] = ()
    #: Put the codes of the vouchers the decision issues into the answer.
    voucher_codes: bool = False
    #: Written once the operation is sealed, with its rows (an audit row naming the operation).
    then: Callable[[Tx], None] | None = None
    #: The decision its row keeps, when not the one it posts (a hold keeps its purchase's).
    stored: core.Decision | None = None


@dataclass
class Post:
    """What a work decided: its postings (staged in order) and the answer its caller gets."""

    answer: dict[str, Any]
    postings: list[Posting]


class PostingWork:
    """An operation that posts, other than a purchase (a hold, a completion, a cancel, a refund, a
    reversal, a value operation, an enrolment): ``decide(tx, run)`` reads and decides, and gives
    the answer when there is nothing to write (a replay) or a ``Post`` for the run to stage.
    ``runner`` runs a run of works (``kimia.service.bulk.run_postings``): called alone the work is
    a run of one; the writer runs it with the postings queued next to it."""

    batch_kind = "posting"

    def __init__(self, service: Host, decide: Callable[[Tx, Run], Any], runner: Callable[[Tx, list[Any]], list[Any]]) -> None:
        self.service = service
        self.decide = decide
        self.runner = runner
        self.guard: Guard | None = None

    def __call__(self, tx: Tx) -> Any:
        result = self.runner(tx, [self])[0]
        if isinstance(result, BaseException):
            raise result  # its savepoint is rolled back
        return result

    def run_batch(self, tx: Tx, works: list[Any]) -> list[Any]:
        return self.runner(tx, works)


class Run:
    """The postings of one run of the writer: staged in order, written together."""

    def __init__(self, tx: Tx, service: Host, now: int, size: int, ids_wanted: int = 1) -> None:
        self.tx = tx
        self.service = service
        self.now = now
        #: Operations in the run: one alone answers a failed condition with its own rejection.
        self.size = size
        self._ids_wanted = max(1, ids_wanted)
        self._ids: list[int] = []
        self._next_id: int | None = None
        self._reset()

    def _reset(self) -> None:
        self.ops: list[tuple[Any, ...]] = []
        self.items: list[tuple[core.Decision, int, int]] = []
        self.days: dict[int, int] = {}
        self.after: list[tuple[str, tuple[Any, ...]]] = []
        self.keys: set[tuple[int, str]] = set()
        self.op_ids: set[int] = set()
        self.refs: set[tuple[int, str]] = set()
        self.members: set[int] = set()
        self.owners: set[str] = set()
        self.budget_clubs: set[int] = set()
        #: The run's ``operation.committed`` outbox rows (kimia.service.outbox), written with its other rows.
        self.outbox: list[tuple[Any, ...]] = []

    # --- what is pending ---------------------------------------------------------------------

    def touches(self, *, keys: Iterable[tuple[int, str]] = (), ops: Iterable[int] = (), refs: Iterable[tuple[int, str]] = (),
                members: Iterable[int] = (), owners: Iterable[str] = (), budgets_of: int | None = None) -> bool:
        """Whether a read of any of these would see something this run has not written yet."""
        if not self.ops:
            return False
        return (any(k in self.keys for k in keys) or any(o in self.op_ids for o in ops) or any(r in self.refs for r in refs)
                or any(m in self.members for m in members) or any(o in self.owners for o in owners)
                or (budgets_of is not None and budgets_of in self.budget_clubs))

    def flush_if(self, **reads: Any) -> None:
        """Write what is pending when a read of ``reads`` (see :meth:`touches`) depends on it."""
        if self.touches(**reads):
            self.flush()

    def member_snapshot(self, member_id: int, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A member's snapshot read after anything pending of theirs (their shared wallet's too)."""
        self.flush_if(members=[member_id], owners=[f"member:{member_id}"])
        snapshot = load()
        wallet = snapshot.get("shared_group_id")
        if wallet and self.touches(owners=[f"group:{wallet}"]):
            self.flush()
            snapshot = load()
        return snapshot

    def take_ids(self, n: int) -> list[int]:
        """``n`` fresh operation ids. SQLite: counted on from the table's largest (under the write
        lock; pending rows are not in the table yet); PostgreSQL: from the sequence, fetched for
        the whole run at once (unused ones leave gaps, as sequences do)."""
        if self.tx.sqlite:
            if self._next_id is None:
                self._next_id = int(self.tx.one("SELECT COALESCE(MAX(id), 0) FROM operations")[0]) + 1
            start, self._next_id = self._next_id, self._next_id + n
            return list(range(start, start + n))
        if len(self._ids) < n:
            wanted = max(n - len(self._ids), self._ids_wanted)
            self._ids.extend(int(r[0]) for r in self.tx.all(*op_ids_query(wanted)))
        taken, self._ids = self._ids[:n], self._ids[n:]
        return taken

    def take_id(self) -> int:
        return self.take_ids(1)[0]

    # --- staging -----------------------------------------------------------------------------

    def stage(self, posting: Posting) -> None:
        """Add an operation's rows to the run; the writes that cannot wait (a voucher marked used,
        vouchers issued, ``then``) are made now, the voucher first: a voucher used since is the
        operation's rejection, before anything of it is written."""
        tx, d, op = self.tx, posting.decision, posting.op
        receipt = posting.receipt
        if d is not None:
            if d.voucher_used:
                tx.execute("UPDATE vouchers SET used_op_id = ? WHERE code = ? AND used_op_id IS NULL", (op.id, d.voucher_used))
                if tx.rowcount() != 1:
                    raise reject("voucher_already_used")
            if d.voucher_restored:
                tx.execute("UPDATE vouchers SET used_op_id = NULL WHERE code = ?", (d.voucher_restored,))
            codes = [self.issue_voucher(op.club_id, d.member_id, issue["template_id"], op.id) for issue in d.vouchers_issued]
            if posting.voucher_codes and any(codes):
                receipt["vouchers"] = [c for c in codes if c]
        if posting.then is not None:
            posting.then(tx)
        self.stage_row(posting, response_json(receipt))

    def issue_voucher(self, club_id: int, member_id: int, template_id: int, op_id: int) -> str | None:
        """Issue a voucher a decision gives (its code; None if the template is gone), with its
        ``kimia_voucher_issued`` hook and ``voucher.issued`` event (written with the run's rows)."""
        issued = issue_voucher(self.tx, member_id=member_id, template_id=template_id, op_id=op_id, now=self.now)
        if issued is None:
            return None
        voucher_id, code = issued
        self.service.announce(self.tx, "kimia_voucher_issued", club_id=club_id, member_id=member_id, voucher_id=voucher_id,
                              template_id=template_id)
        if self.service.notifications:
            self.outbox.append(outbox.row(event="voucher.issued", club_id=club_id, key=f"voucher:{voucher_id}", member_id=member_id,
                                          payload={"voucher_id": voucher_id, "template_id": template_id, "code": code, "op_id": op_id,
                                                   "member_id": member_id}, at=self.now))
        return code

    def stage_row(self, posting: Posting, text: str) -> None:
        """The rows of a posting whose immediate writes are made (``text``: its answer's JSON)."""
        d, op = posting.decision, posting.op
        kept = posting.stored or d
        self.ops.append(op.row(posting.status, text, kept.to_json() if kept is not None else None))
        self.keys.add((op.club_id, op.idem_key))
        self.op_ids.add(op.id)
        self.op_ids.update(posting.touches_ops)
        if op.reference is not None:
            self.refs.add((op.club_id, op.reference))
        self.after.extend(posting.after)
        if op.member_id is not None:
            self.members.add(op.member_id)
        if d is not None:
            self.items.append((d, op.club_id, posting.member_club))
            self.days[op.id] = op.day
            self.members.add(d.member_id)
            self.owners.update(info.owner for info in map(core.account_info, (account for account, _ in d.deltas)) if info.is_holder)
            if d.budget_use:
                self.budget_clubs.add(op.club_id)
        if posting.status != "void":  # a void key is a marker, not an operation
            member = d.member_id if d is not None else op.member_id
            self.service.committed(tx=self.tx, kind=op.kind, club_id=op.club_id, op_id=op.id, member_id=member, receipt=posting.receipt,
                                   merchant_id=op.merchant_id, amount_rial=op.amount_rial, pending=self.outbox)

    # --- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every pending row: one statement per table (``Tx.insert_rows``), then the
        conditional writes (lots, budgets, floors) and the statements that follow."""
        if not self.ops:
            return
        tx = self.tx
        rows = core.batch_rows(self.items, self.now)
        # Money moves on the day of the operation that moves it: a refund's split legs are settled
        # on the refund's own day, never added to the day of the sale it refunds.
        splits = [(club, op_id, role, who, amount, self.days[op_id]) for club, op_id, role, who, amount, _ in rows["splits"]]
        with tx.pipeline():
            tx.insert_rows("operations", OPERATION_COLUMNS, self.ops)
            tx.insert_rows("journal", ("club_id", "op_id", "seq", "account", "amount", "unit", "memo", "created_at"), rows["legs"])
            tx.insert_rows("balances", ("club_id", "account", "owner", "balance", "credit_limit"), [(*b, 0) for b in rows["balances"]],
                           " ON CONFLICT (club_id, account) DO UPDATE SET balance = balances.balance + excluded.balance")
            # Lots created before any draw: a later operation of the same member may draw from one.
            tx.insert_rows("lots", ("id", "club_id", "owner", "account", "original", "remaining", "expires_at", "pending_until"),
                           rows["lots_created"])
            tx.insert_rows("split_legs", ("club_id", "op_id", "role", "beneficiary_id", "amount_rial", "day"), splits)
            _write_counters(tx, rows)
            # The dashboard's per-day aggregate, in the same transaction (kimia.service.dashboard_views).
            add_daily(tx, self.ops, rows["legs"])
            # The notification events of the run's operations, in the same transaction (one statement).
            outbox.insert_rows(tx, self.outbox)
        self._draw_lots(rows["lots_consumed"])
        self._use_budgets(rows["budgets"])
        self._check_floors(rows["balances"])
        for statement, params in self.after:
            tx.execute(statement, params)
        self._reset()

    def _draw_lots(self, consumed: Sequence[tuple[Any, ...]]) -> None:
        """Each lot must still hold what the run drew from it (one row per lot, summed)."""
        if self.tx.update_rows("lots", "remaining = remaining - v.column1",
                               "lots.id = v.column2 AND lots.club_id = v.column3 AND lots.remaining >= v.column1", consumed) != len(consumed):
            if self.size == 1:
                raise reject("lot_not_found")
            raise BulkWriteMismatch("a lot no longer holds what the run drew")

    def _use_budgets(self, budgets: Sequence[tuple[Any, ...]]) -> None:
        for club, key, amount, limit in budgets:
            row = self.tx.one(
                "INSERT INTO budget_usage (club_id, key, used) VALUES (?,?,?)"
                " ON CONFLICT (club_id, key) DO UPDATE SET used = budget_usage.used + excluded.used RETURNING used",
                (club, key, amount),
            )
            if amount > 0 and row[0] > limit:
                if self.size == 1:
                    uses = [use["key"] for d, _, _ in self.items for use in d.budget_use]
                    raise reject("budget_exhausted", f"budget_use[{uses.index(key)}]", rule=str(key).split("|", 1)[0], budget=str(key))
                raise BulkWriteMismatch(f"budget {key} exceeded")

    def _check_floors(self, balances: Sequence[tuple[Any, ...]]) -> None:
        """No holder account the run took from may end below its floor (a credit line below its
        limit, any other holder account below zero), whatever the snapshots said."""
        # Only accounts with a floor (holders' value and credit lines; not debts or cash) can break one.
        taken = {(club, account): delta for club, account, _, delta in balances if delta < 0 and core.floor(account, 0) is not None}
        if not taken:
            return
        in_clubs, club_params = self.tx.among("club_id", sorted({club for club, _ in taken}))
        in_accounts, account_params = self.tx.among("account", sorted({account for _, account in taken}))
        for club, account, balance, limit in self.tx.all(
                f"SELECT club_id, account, balance, credit_limit FROM balances WHERE {in_clubs} AND {in_accounts}",
                (*club_params, *account_params)):
            floor = core.floor(account, limit)
            delta = taken.get((club, account))
            if delta is not None and floor is not None and balance < floor:
                if self.size == 1:
                    raise reject("insufficient_balance", account=account, needed=-delta, available=balance - delta - floor)
                raise BulkWriteMismatch(f"{account} would end below its floor")


def _write_counters(tx: Tx, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Members' purchase counters, days and merchant visits: only the rows that change something
    (a conversion or a charge counts no purchase and spends nothing)."""
    counters = [c for c in rows["counters"] if c[0] or c[1] or c[2]]
    # (purchases, points, latest purchase time or 0, member). The time is cast: were it missing
    # from every row, PostgreSQL would type the column of VALUES as text.
    tx.update_rows(
        "members",
        "purchase_count = purchase_count + v.column1, period_points = period_points + v.column2,"
        " last_purchase_at = CASE WHEN CAST(v.column3 AS BIGINT) > 0 AND (last_purchase_at IS NULL"
        " OR last_purchase_at < CAST(v.column3 AS BIGINT)) THEN CAST(v.column3 AS BIGINT) ELSE last_purchase_at END",
        "members.id = v.column4",
        counters,
    )
    tx.insert_rows("member_days", ("member_id", "day", "count", "spend_rial"), [r for r in rows["days"] if r[2] or r[3]],
                   " ON CONFLICT (member_id, day) DO UPDATE SET count = member_days.count + excluded.count,"
                   " spend_rial = member_days.spend_rial + excluded.spend_rial")
    tx.insert_rows("merchant_visits", ("member_id", "merchant_id", "count"), [r for r in rows["visits"] if r[2]],
                   " ON CONFLICT (member_id, merchant_id) DO UPDATE SET count = merchant_visits.count + excluded.count")


def op_ids_query(n: int) -> tuple[str, tuple[Any, ...]]:
    """PostgreSQL: ``n`` operation ids from the sequence (unused ones leave gaps, as sequences do)."""
    return ("SELECT nextval(pg_get_serial_sequence('operations', 'id')) FROM generate_series(1, ?)", (n,))


__all__ = ["OPERATION_COLUMNS", "BulkWriteMismatch", "OpRow", "Post", "Posting", "PostingWork", "Run", "op_ids_query", "rejected"]
