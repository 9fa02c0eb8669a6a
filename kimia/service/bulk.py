"""The purchase pipeline in bulk: many purchases of one group commit decided and written together.

The single path (one savepoint, ~13 statements per purchase) is simple and is kept as the
reference and the fallback. Here a run of queued purchases shares every read and write:

1. one idempotency query per club (a retried key answers from the stored receipt; a key repeated
   inside the batch answers from the first); deadlines checked;
2. members resolved, then every snapshot loaded with one query per table (row-locked on
   PostgreSQL, in member-id order);
3. operation ids allocated (SQLite: under the write lock; PostgreSQL: from the sequence);
4. each purchase decided in queue order by the core; ``kimia.apply`` carries a member's snapshot
   forward, so two purchases of one member in one batch see each other, and it re-checks every
   floor: a purchase that would overdraw is rejected alone;
5. deadlines sealed, then everything written with ``executemany``: journal legs, balances
   (aggregated per account), lots, split legs, counters, budgets and operations.

Any surprise while writing (a lot drawn concurrently, a constraint) raises; the writer then rolls
the batch back to its savepoint and runs each purchase again on the single path.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import kimia._core as core
from kimia.errors import KimiaError, Rejected, reject
from kimia.service.record import issue_voucher
from kimia.service.snapshot import CREDIT_KINDS, HISTORY_DAYS, is_holder, load_budgets, load_vouchers, owner_of
from kimia.service.sql import Tx

if TYPE_CHECKING:
    from kimia.service.api import Deadline, Kimia, PurchaseRequest


class BulkWriteMismatch(RuntimeError):
    """The database disagreed with the batch's snapshot; rerun the batch one purchase at a time."""


class PurchaseWork:
    """A queued purchase. Called alone it runs the single path; the writer may run a group of
    them through ``run_purchase_batch``."""

    batch_kind = "purchase"

    def __init__(self, service: Kimia, req: PurchaseRequest, body_hash: str) -> None:
        self.service = service
        self.req = req
        self.body_hash = body_hash
        self.guard: Deadline | None = None

    def __call__(self, tx: Tx) -> Any:
        if self.guard is not None:
            self.guard.check()
        result = self.service._purchase_single(tx, self.req, self.body_hash)
        if self.guard is not None:
            self.guard.seal()
        return result

    @staticmethod
    def run_batch(tx: Tx, works: list[PurchaseWork]) -> list[Any]:
        return run_purchase_batch(tx, works)


def _snapshots(tx: Tx, service: Kimia, members: dict[int, int], credit_members: set[int], today: int) -> dict[int, dict[str, Any]]:
    """Snapshots of many members (member id → member's club), one query per table."""
    ids = sorted(members)
    marks = tx.placeholders(len(ids))
    rows = tx.all(
        tx.lock(
            "SELECT id, tier, referrer_id, shared_wallet_id, purchase_count, last_purchase_at, enrolled_by_merchant_id"
            f" FROM members WHERE id IN ({marks}) ORDER BY id"
        ),
        ids,
    )
    snaps: dict[int, dict[str, Any]] = {}
    owners: dict[str, int] = {}
    for member_id, tier, referrer, wallet, count, last, enrolled in rows:
        snaps[member_id] = {
            "member_id": member_id, "tier": tier, "groups": [], "referrer_id": referrer, "shared_group_id": wallet,
            "purchase_count": count, "merchant_purchase_count": 0, "last_purchase_at": last, "history": [],
            "accounts": [], "lots": [], "_enrolled_by": enrolled, "_visits": {},
        }
        owners[f"member:{member_id}"] = member_id
        if wallet:
            owners[f"group:{wallet}"] = member_id
    clubs = sorted(set(members.values()))
    owner_list = sorted(owners)
    if owner_list:
        omarks = tx.placeholders(len(owner_list))
        cmarks = tx.placeholders(len(clubs))
        for club, account, balance, limit, owner in tx.all(
            f"SELECT club_id, account, balance, credit_limit, owner FROM balances WHERE club_id IN ({cmarks}) AND owner IN ({omarks})",
            (*clubs, *owner_list),
        ):
            for member_id, snap in snaps.items():
                if members[member_id] == club and (owner == f"member:{member_id}" or owner == f"group:{snap['shared_group_id']}"):
                    snap["accounts"].append({"account": account, "balance": balance, "credit_limit": limit})
        credit_owners = sorted(o for o, m in owners.items() if m in credit_members)
        if credit_owners:
            for lot_id, club, owner, account, remaining, expires, pending in tx.all(
                "SELECT id, club_id, owner, account, remaining, expires_at, pending_until FROM lots"
                f" WHERE club_id IN ({cmarks}) AND owner IN ({tx.placeholders(len(credit_owners))}) AND remaining > 0",
                (*clubs, *credit_owners),
            ):
                if account.split("/", 1)[1].split("@", 1)[0] not in CREDIT_KINDS:
                    continue
                for member_id, snap in snaps.items():
                    if member_id in credit_members and members[member_id] == club and (
                        owner == f"member:{member_id}" or owner == f"group:{snap['shared_group_id']}"
                    ):
                        snap["lots"].append({"id": lot_id, "account": account, "remaining": remaining, "expires_at": expires, "pending_until": pending})
    for member_id, day, count, spend in tx.all(
        f"SELECT member_id, day, count, spend_rial FROM member_days WHERE member_id IN ({marks}) AND day > ?", (*ids, today - HISTORY_DAYS)
    ):
        snaps[member_id]["history"].append({"day": day, "count": count, "spend_rial": spend})
    for group_id, member_id in tx.all(f"SELECT group_id, member_id FROM member_group_members WHERE member_id IN ({marks})", ids):
        snaps[member_id]["groups"].append(group_id)
    for member_id, merchant_id, count in tx.all(f"SELECT member_id, merchant_id, count FROM merchant_visits WHERE member_id IN ({marks})", ids):
        snaps[member_id]["_visits"][merchant_id] = count
    return snaps


def _allocate_op_ids(tx: Tx, n: int) -> list[int]:
    if tx.sqlite:
        start = int(tx.one("SELECT COALESCE(MAX(id), 0) FROM operations")[0]) + 1
        return list(range(start, start + n))
    rows = tx.all("SELECT nextval(pg_get_serial_sequence('operations', 'id')) FROM generate_series(1, ?)", (n,))
    return [int(r[0]) for r in rows]


def run_purchase_batch(tx: Tx, works: list[PurchaseWork]) -> list[Any]:
    service = works[0].service
    now = service.clock()
    from kimia.service.api import local_day

    today = local_day(now)
    results: list[Any] = [None] * len(works)
    live: list[int] = []
    for i, w in enumerate(works):
        try:
            if w.guard is not None:
                w.guard.check()
            merchant = service.caches.merchant(tx, w.req.merchant_id)
            if not merchant.active:
                raise reject("unknown_merchant")
            live.append(i)
        except KimiaError as exc:
            results[i] = exc

    # 1. Idempotency: stored answers, conflicts, and keys repeated inside the batch.
    by_club: dict[int, list[int]] = defaultdict(list)
    for i in live:
        by_club[service.caches.merchant(tx, works[i].req.merchant_id).root_club_id].append(i)
    todo: list[int] = []
    first_of: dict[tuple[int, str], int] = {}
    repeats: list[tuple[int, int]] = []
    for club, indexes in by_club.items():
        keys = sorted({works[i].req.idem_key for i in indexes})
        stored = {
            key: (h, resp, amount)
            for key, h, resp, amount in tx.all(
                f"SELECT idem_key, request_hash, response, amount_rial FROM operations WHERE club_id = ? AND idem_key IN ({tx.placeholders(len(keys))})",
                (club, *keys),
            )
        }
        for i in indexes:
            w = works[i]
            if w.req.idem_key in stored:
                h, resp, amount = stored[w.req.idem_key]
                if h == "void":
                    results[i] = reject("already_reversed", path="idem_key")
                elif h != w.body_hash:
                    results[i] = reject("exists_with_different_amount" if amount != w.req.amount_rial else "exists_with_different_request", path="idem_key")
                else:
                    results[i] = {**(resp if isinstance(resp, dict) else json.loads(resp)), "replayed": True}
            elif (club, w.req.idem_key) in first_of:
                repeats.append((i, first_of[(club, w.req.idem_key)]))
            else:
                first_of[(club, w.req.idem_key)] = i
                todo.append(i)

    # 2. Members and their snapshots.
    resolved: dict[int, tuple[int, int]] = {}
    for i in todo:
        w = works[i]
        try:
            from kimia.service.api import MemberRef

            merchant = service.caches.merchant(tx, w.req.merchant_id)
            resolved[i] = service._resolve_member(tx, merchant.root_club_id, MemberRef.of(w.req.member))
        except KimiaError as exc:
            results[i] = exc
    todo = [i for i in todo if i in resolved]
    members = {resolved[i][0]: resolved[i][1] for i in todo}
    credit_members = {resolved[i][0] for i in todo if works[i].req.redeem_credit_rial > 0}
    snaps = _snapshots(tx, service, members, credit_members, today) if members else {}
    if not tx.sqlite and todo:
        # On PostgreSQL another process may have committed one of these keys while we waited for
        # the member locks: look again now that we hold them, and answer those from their receipt.
        for i in list(todo):
            w = works[i]
            club = service.caches.merchant(tx, w.req.merchant_id).root_club_id
            try:
                answered = service._existing(tx, club, w.req.idem_key, w.body_hash, w.req.amount_rial)
            except KimiaError as exc:
                results[i] = exc
                todo.remove(i)
                continue
            if answered is not None:
                results[i] = answered
                todo.remove(i)

    # 3–4. Decide in order, carrying each member's snapshot forward.
    op_ids = _allocate_op_ids(tx, len(todo)) if todo else []
    state: dict[int, core.Member] = {}
    seen: set[int] = set()  # members already decided in this batch: their carried snapshot needs this merchant's count
    balances: dict[int, dict[str, int]] = {}
    decided: list[tuple[int, int, core.Decision, int, int]] = []  # (index, op id, decision, op club, member club)
    for i, op_id in zip(todo, op_ids):
        w = works[i]
        member_id, member_club = resolved[i]
        snap = snaps.get(member_id)
        if snap is None:
            results[i] = reject("unknown_member")
            continue
        merchant = service.caches.merchant(tx, w.req.merchant_id)
        try:
            service._check_cross_club_spend(tx, member_club, merchant.root_club_id, w.req.redeem_credit_rial)
            if member_id not in state:
                core_snap = {k: v for k, v in snap.items() if not k.startswith("_")}
                balances[member_id] = {a["account"]: int(a["balance"]) for a in snap["accounts"]}
                state[member_id] = core.Member(core_snap)
            member = state[member_id]
            purchase = service._purchase_input(merchant, w.req, op_id, snap["_enrolled_by"])
            book = service.caches.rulebook(tx, merchant.root_club_id)
            extra: dict[str, Any] = {}
            if book.has_budgets:
                keys = book.budget_keys(purchase, member_id, now)
                if keys:
                    extra["budget_used"] = load_budgets(tx, merchant.root_club_id, keys)
            if w.req.voucher_code:
                extra["vouchers"] = load_vouchers(tx, member_id, w.req.voucher_code)
            visits = snap["_visits"].get(merchant.merchant_id, 0)
            if extra or visits or member_id in seen:
                # Rarely needed facts are merged into a fresh snapshot rather than kept in the carried one.
                base = member.to_dict()
                base["merchant_purchase_count"] = visits
                base.update(extra)
                member_for_call: core.Member | dict[str, Any] = base
            else:
                member_for_call = member
            decision = book.evaluate(purchase, member_for_call, now)
            member = core.apply(member_for_call, decision)
            state[member_id] = member
            snap["_visits"][merchant.merchant_id] = visits + 1
            seen.add(member_id)
            decided.append((i, op_id, decision, merchant.root_club_id, member_club))
        except KimiaError as exc:
            results[i] = exc

    # 5. Seal deadlines: an expired purchase is dropped before anything is written.
    sealed: list[tuple[int, int, core.Decision, int, int]] = []
    for item in decided:
        w = works[item[0]]
        try:
            if w.guard is not None:
                w.guard.seal()
            sealed.append(item)
        except KimiaError as exc:
            results[item[0]] = exc
    if any(isinstance(results[item[0]], KimiaError) for item in decided if item not in sealed):
        # A dropped purchase may have moved a later purchase of the same member: redo singly.
        dropped_members = {resolved[item[0]][0] for item in decided if item not in sealed}
        if any(resolved[item[0]][0] in dropped_members for item in sealed):
            raise BulkWriteMismatch("a purchase dropped at its deadline preceded another of the same member")

    receipts = _write(tx, service, works, sealed, balances, now)
    for i, receipt in receipts.items():
        results[i] = receipt
    for i, first in repeats:
        first_result = results[first]
        if isinstance(first_result, dict) and works[i].body_hash == works[first].body_hash:
            results[i] = {**first_result, "replayed": True}
        elif isinstance(first_result, dict):
            results[i] = reject(
                "exists_with_different_amount" if works[i].req.amount_rial != works[first].req.amount_rial else "exists_with_different_request",
                path="idem_key",
            )
        else:
            results[i] = first_result
    return results


def _write(tx: Tx, service: Kimia, works: list[PurchaseWork], items: list[tuple[int, int, core.Decision, int, int]],
           balances: dict[int, dict[str, int]], now: int) -> dict[int, dict[str, Any]]:
    legs: list[tuple[Any, ...]] = []
    deltas: dict[tuple[int, str], int] = defaultdict(int)
    consumed: list[tuple[Any, ...]] = []
    created: list[tuple[Any, ...]] = []
    splits: list[tuple[Any, ...]] = []
    budgets: dict[tuple[int, str], list[int]] = {}
    counters: dict[int, list[Any]] = {}
    days: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    visits: dict[tuple[int, int], int] = defaultdict(int)
    ops: list[tuple[Any, ...]] = []
    receipts: dict[int, dict[str, Any]] = {}
    from kimia.service.api import local_day

    for i, op_id, d, op_club, member_club in items:
        w = works[i]
        for seq, p in enumerate(d.postings):
            club_from = member_club if is_holder(p["from"]) else op_club
            club_to = member_club if is_holder(p["to"]) else op_club
            memo = p["memo"][:120]
            legs.append((club_from, op_id, seq, p["from"], -p["amount"], p["unit"], memo, now))
            legs.append((club_to, op_id, seq, p["to"], p["amount"], p["unit"], memo, now))
        member_balances = balances[d.member_id]
        for account, delta in d.deltas:
            holder = is_holder(account)
            deltas[(member_club if holder else op_club, account)] += delta
            if holder:
                member_balances[account] = member_balances.get(account, 0) + delta
        for used in d.lots_consumed:
            consumed.append((used["amount"], used["lot_id"], member_club, used["amount"]))
        for lot in d.lots_created:
            created.append((lot["id"], member_club, owner_of(lot["account"]), lot["account"], lot["remaining"], lot["remaining"], lot["expires_at"], lot["pending_until"]))
        c = d.counters
        for leg in d.split:
            splits.append((op_club, op_id, leg["role"], leg["beneficiary_id"], leg["amount_rial"], c["day"]))
        for use in d.budget_use:
            entry = budgets.setdefault((op_club, use["key"]), [0, use["limit"]])
            entry[0] += use["amount"]
        count = counters.setdefault(d.member_id, [0, 0, None])
        count[0] += c["purchases"]
        count[1] += d.points_earned
        if c["last_purchase_at"] is not None:
            count[2] = max(count[2] or 0, c["last_purchase_at"])
        days[(d.member_id, c["day"])][0] += c["purchases"]
        days[(d.member_id, c["day"])][1] += c["spend_rial"]
        if d.merchant_id is not None:
            visits[(d.member_id, d.merchant_id)] += c["purchases"]
        if d.voucher_used:
            tx.execute("UPDATE vouchers SET used_op_id = ? WHERE code = ? AND used_op_id IS NULL", (op_id, d.voucher_used))
            if tx.rowcount() != 1:
                raise BulkWriteMismatch("voucher used twice")
        from kimia.service.api import terminal_fields

        receipt = {**service._receipt_from(d, member_balances, op_id), **terminal_fields(w.req, op_id)}
        for issue in d.vouchers_issued:
            code = issue_voucher(tx, member_id=d.member_id, template_id=issue["template_id"], op_id=op_id, now=now)
            if code:
                receipt.setdefault("vouchers", []).append(code)
        receipts[i] = receipt
        ops.append((op_id, op_club, w.req.idem_key, w.body_hash, "purchase", "done", d.member_id, w.req.merchant_id, w.req.terminal_id,
                    None, w.req.amount_rial, 0, receipt["rrn"], json.dumps(receipt, ensure_ascii=False), d.to_json(), local_day(now), now))

    # Operations first: journal legs, lots and split legs refer to them.
    tx.executemany(
        "INSERT INTO operations (id, club_id, idem_key, request_hash, kind, status, member_id, merchant_id, terminal_id,"
        " original_op_id, amount_rial, refunded_rial, reference, response, decision, day, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ops,
    )
    tx.executemany("INSERT INTO journal (club_id, op_id, seq, account, amount, unit, memo, created_at) VALUES (?,?,?,?,?,?,?,?)", legs)
    tx.executemany(
        "INSERT INTO balances (club_id, account, owner, balance, credit_limit) VALUES (?,?,?,?,0)"
        " ON CONFLICT (club_id, account) DO UPDATE SET balance = balances.balance + excluded.balance",
        [(club, account, owner_of(account), delta) for (club, account), delta in deltas.items() if delta != 0],
    )
    # Lots created first: a later purchase of the same member in this batch may draw from one.
    tx.executemany("INSERT INTO lots (id, club_id, owner, account, original, remaining, expires_at, pending_until) VALUES (?,?,?,?,?,?,?,?)", created)
    if consumed:
        tx.executemany("UPDATE lots SET remaining = remaining - ? WHERE id = ? AND club_id = ? AND remaining >= ?", consumed)
        # Both drivers report the rows an executemany changed in total (psycopg 3 sums them).
        if tx.rowcount() != len(consumed):
            raise BulkWriteMismatch("a lot no longer holds what the batch drew")
    tx.executemany("INSERT INTO split_legs (club_id, op_id, role, beneficiary_id, amount_rial, day) VALUES (?,?,?,?,?,?)", splits)
    for (club, key), (amount, limit) in budgets.items():
        row = tx.one(
            "INSERT INTO budget_usage (club_id, key, used) VALUES (?,?,?)"
            " ON CONFLICT (club_id, key) DO UPDATE SET used = budget_usage.used + excluded.used RETURNING used",
            (club, key, amount),
        )
        if amount > 0 and row[0] > limit:
            raise BulkWriteMismatch(f"budget {key} exceeded")
    tx.executemany(
        "UPDATE members SET purchase_count = purchase_count + ?, period_points = period_points + ?,"
        " last_purchase_at = CASE WHEN last_purchase_at IS NULL OR last_purchase_at < ? THEN ? ELSE last_purchase_at END WHERE id = ?",
        [(n, pts, last or 0, last or 0, member_id) for member_id, (n, pts, last) in counters.items()],
    )
    tx.executemany(
        "INSERT INTO member_days (member_id, day, count, spend_rial) VALUES (?,?,?,?)"
        " ON CONFLICT (member_id, day) DO UPDATE SET count = member_days.count + excluded.count, spend_rial = member_days.spend_rial + excluded.spend_rial",
        [(m, day, n, spend) for (m, day), (n, spend) in days.items()],
    )
    tx.executemany(
        "INSERT INTO merchant_visits (member_id, merchant_id, count) VALUES (?,?,?)"
        " ON CONFLICT (member_id, merchant_id) DO UPDATE SET count = merchant_visits.count + excluded.count",
        [(m, merchant, n) for (m, merchant), n in visits.items()],
    )
    return receipts


__all__ = ["BulkWriteMismatch", "PurchaseWork", "Rejected", "run_purchase_batch"]
