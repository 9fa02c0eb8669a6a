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
5. deadlines sealed, then everything written with one statement per table (``Tx.insert_rows``,
   ``Tx.update_rows``): operations, journal legs, balances (summed per account), lots (draws
   summed per lot), split legs, budgets and counters.

Any surprise while writing (a lot drawn concurrently, a constraint) raises; the writer then rolls
the batch back to its savepoint and runs each purchase again on the single path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import kimia._core as core
from kimia.errors import KimiaError, Rejected, reject
from kimia.service.record import issue_voucher
from kimia.service.snapshot import HISTORY_DAYS, SPENDABLE_KINDS, load_budgets, load_vouchers
from kimia.service.sql import Tx

if TYPE_CHECKING:
    from kimia.service.api import Deadline, Kimia, PurchaseRequest
    from kimia.service.context import MerchantContext


class BulkWriteMismatch(RuntimeError):
    """The database disagreed with the batch's snapshot; rerun the batch one purchase at a time."""


class PurchaseWork:
    """A queued purchase. Called alone it runs the single path; the writer may run a group of
    them through ``run_purchase_batch``."""

    batch_kind = "purchase"

    def __init__(self, service: Kimia, req: PurchaseRequest, body_hash: str, member_key: list[str] | None = None) -> None:
        self.service = service
        self.req = req
        self.body_hash = body_hash
        #: The member reference in normal form (``Kimia.member_key``), already computed for the
        #: hash: the batch looks members up by it rather than hashing a card number again.
        self.member_key = member_key
        self.guard: Deadline | None = None
        #: The merchant, looked up once by the batch (every step of it needs the merchant's club).
        self.merchant: MerchantContext | None = None

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


#: A read of the batch: (statement, parameters).
Query = tuple[str, tuple[Any, ...]]


def _merchant(work: PurchaseWork) -> MerchantContext:
    """The merchant of a purchase the batch has let through its first step."""
    assert work.merchant is not None
    return work.merchant


def _snapshots(tx: Tx, members: dict[int, int], spending: dict[int, frozenset[str]], today: int,
               also: list[Query]) -> tuple[dict[int, dict[str, Any]], list[list[Any]]]:
    """Snapshots of many members (member id → member's club), one query per table, in two round
    trips on PostgreSQL (``Tx.all_together``): the members (row-locked, in id order) with what
    hangs on their ids, then the accounts and lots of the owners that the members rows name.
    Only the members in ``spending`` get lots: those of the kinds their purchases spend.
    The queries ``also`` ride the first round, after the locks; their rows come back second."""
    ids = sorted(members)
    by_member, member_params = tx.among("member_id", ids)
    by_id, id_params = tx.among("id", ids)
    rows, days, groups, visits, *extra = tx.all_together([
        (tx.lock("SELECT id, tier, referrer_id, shared_wallet_id, purchase_count, last_purchase_at, enrolled_by_merchant_id"
                 f" FROM members WHERE {by_id} ORDER BY id"), id_params),
        (f"SELECT member_id, day, count, spend_rial FROM member_days WHERE {by_member} AND day > ?", (*member_params, today - HISTORY_DAYS)),
        (f"SELECT group_id, member_id FROM member_group_members WHERE {by_member}", member_params),
        (f"SELECT member_id, merchant_id, count FROM merchant_visits WHERE {by_member}", member_params),
        *also,
    ])
    snaps: dict[int, dict[str, Any]] = {}
    owners: dict[str, int] = {}
    # (club, owner) → the members of the batch whose snapshot holds that owner's accounts.
    holders: dict[tuple[int, str], list[int]] = defaultdict(list)
    for member_id, tier, referrer, wallet, count, last, enrolled in rows:
        snaps[member_id] = {
            "member_id": member_id, "tier": tier, "groups": [], "referrer_id": referrer, "shared_group_id": wallet,
            "purchase_count": count, "merchant_purchase_count": 0, "last_purchase_at": last, "history": [],
            "accounts": [], "lots": [], "_enrolled_by": enrolled, "_visits": {},
        }
        owners[f"member:{member_id}"] = member_id
        holders[(members[member_id], f"member:{member_id}")].append(member_id)
        if wallet:
            owners[f"group:{wallet}"] = member_id
            holders[(members[member_id], f"group:{wallet}")].append(member_id)
    for member_id, day, count, spend in days:
        snaps[member_id]["history"].append({"day": day, "count": count, "spend_rial": spend})
    for group_id, member_id in groups:
        snaps[member_id]["groups"].append(group_id)
    for member_id, merchant_id, count in visits:
        snaps[member_id]["_visits"][merchant_id] = count
    clubs = sorted(set(members.values()))
    owner_list = sorted(owners)
    if not owner_list:
        return snaps, extra
    in_clubs, club_params = tx.among("club_id", clubs)
    in_owners, owner_params = tx.among("owner", owner_list)
    queries: list[Query] = [
        (f"SELECT club_id, account, balance, credit_limit, owner FROM balances WHERE {in_clubs} AND {in_owners}", (*club_params, *owner_params)),
    ]
    spending_owners = sorted(o for o, m in owners.items() if m in spending)
    if spending_owners:
        in_spending, spending_params = tx.among("owner", spending_owners)
        queries.append((
            "SELECT id, club_id, owner, account, remaining, expires_at, pending_until FROM lots"
            f" WHERE {in_clubs} AND {in_spending} AND remaining > 0",
            (*club_params, *spending_params),
        ))
    balances, *lots = tx.all_together(queries)
    for club, account, balance, limit, owner in balances:
        for member_id in holders.get((club, owner), ()):
            snaps[member_id]["accounts"].append({"account": account, "balance": balance, "credit_limit": limit})
    lot_rows = lots[0] if lots else []
    for (lot_id, club, owner, account, remaining, expires, pending), kind in zip(lot_rows, core.kinds_of([r[3] for r in lot_rows])):
        for member_id in holders.get((club, owner), ()):
            if kind in spending.get(member_id, ()):
                snaps[member_id]["lots"].append({"id": lot_id, "account": account, "remaining": remaining, "expires_at": expires, "pending_until": pending})
    return snaps, extra


def _key_queries(tx: Tx, works: list[PurchaseWork], indexes: list[int]) -> list[tuple[list[int], Query]]:
    """The lookups of these purchases' idempotency keys: one per club, with the purchases it covers."""
    by_club: dict[int, list[int]] = defaultdict(list)
    for i in indexes:
        by_club[_merchant(works[i]).root_club_id].append(i)
    out: list[tuple[list[int], Query]] = []
    for club, members_of_club in by_club.items():
        in_keys, key_params = tx.among("idem_key", sorted({works[i].req.idem_key for i in members_of_club}))
        out.append((members_of_club, (f"SELECT idem_key, request_hash, response, amount_rial FROM operations WHERE club_id = ? AND {in_keys}",
                                      (club, *key_params))))
    return out


def _answers(works: list[PurchaseWork], lookups: list[tuple[list[int], Query]], found: list[list[Any]]) -> dict[int, Any]:
    """For the purchases whose key the lookups found: the stored answer (a replay) or the refusal
    (a void key, or the key used for something else)."""
    from kimia.service.api import stored_answer

    out: dict[int, Any] = {}
    for (indexes, _), rows in zip(lookups, found):
        stored = {key: (h, resp, amount) for key, h, resp, amount in rows}
        for i in indexes:
            w = works[i]
            if w.req.idem_key in stored:
                out[i] = stored_answer(*stored[w.req.idem_key], w.body_hash, w.req.amount_rial)
    return out


def _stored_answers(tx: Tx, works: list[PurchaseWork], indexes: list[int]) -> dict[int, Any]:
    """``_answers`` of the purchases ``indexes``: one query per club, all in one round trip."""
    lookups = _key_queries(tx, works, indexes)
    return _answers(works, lookups, tx.all_together([q for _, q in lookups]))


def _resolve_members(tx: Tx, service: Kimia, works: list[PurchaseWork], todo: list[int], results: list[Any]) -> dict[int, tuple[int, int]]:
    """(member id, member's root club) of each purchase, with one query per kind of reference.

    A reference the batch query does not settle (not found, or an account number that is really a
    member id) goes through the single path's resolver, which gives the exact answer or error."""
    from kimia.service.api import MemberRef

    resolved: dict[int, tuple[int, int]] = {}
    by_id: dict[int, list[int]] = defaultdict(list)
    by_identifier: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    refs: dict[int, MemberRef | None] = {}
    for i in todo:
        ref = MemberRef.of(works[i].req.member)
        refs[i] = ref
        if ref is None:
            continue
        try:
            if ref.kind == "id":
                if ref.value.isdigit():
                    by_id[int(ref.value)].append(i)
            else:
                key = works[i].member_key
                lookup = key[1] if key is not None and key[0] == ref.kind else service.normalize_identifier(ref.kind, ref.value)[0]
                by_identifier[ref.kind][lookup].append(i)
        except KimiaError as exc:
            results[i] = exc
    if by_id:
        ids = sorted(by_id)
        in_ids, id_params = tx.among("id", ids)
        for member_id, club in tx.all(f"SELECT id, club_id FROM members WHERE {in_ids}", id_params):
            root = service.caches.root_club(tx, club)
            for i in by_id[member_id]:
                if root in service._clubs_sharing_members(tx, _merchant(works[i]).root_club_id):
                    resolved[i] = (int(member_id), root)
    for kind, lookups in by_identifier.items():
        keys = sorted(lookups)
        in_lookups, lookup_params = tx.among("lookup", keys)
        rows = tx.all(
            f"SELECT lookup, member_id, club_id FROM member_identifiers WHERE kind = ? AND {in_lookups} ORDER BY club_id",
            (kind, *lookup_params),
        )
        for lookup, member_id, club in rows:
            for i in lookups[lookup]:
                if i not in resolved and club in service._clubs_sharing_members(tx, _merchant(works[i]).root_club_id):
                    resolved[i] = (int(member_id), int(club))
    for i in todo:
        if i in resolved or isinstance(results[i], KimiaError):
            continue
        try:
            resolved[i] = service._resolve_member(tx, _merchant(works[i]).root_club_id, refs[i])
        except KimiaError as exc:
            results[i] = exc
    return resolved


def _budgets(tx: Tx, service: Kimia, works: list[PurchaseWork], inputs: dict[int, dict[str, Any]],
             resolved: dict[int, tuple[int, int]], now: int) -> tuple[dict[int, list[str]], dict[tuple[int, str], int]]:
    """The budget keys each purchase may use and the use so far of all of them, one query per club.
    The caller adds each decision's use as it goes, so a later purchase of the batch sees it."""
    keys_of: dict[int, list[str]] = {}
    by_club: dict[int, set[str]] = defaultdict(set)
    for i, purchase in inputs.items():
        club = _merchant(works[i]).root_club_id
        book = service.caches.rulebook(tx, club)
        if book.has_budgets:
            keys = book.budget_keys(purchase, resolved[i][0], now)
            if keys:
                keys_of[i] = keys
                by_club[club].update(keys)
    used: dict[tuple[int, str], int] = {}
    for club, club_keys in by_club.items():
        for key, amount in load_budgets(tx, club, sorted(club_keys)).items():
            used[(club, key)] = amount
    return keys_of, used


def _allocate_op_ids(tx: Tx, n: int) -> list[int]:
    """SQLite only (under the write lock); PostgreSQL draws from the sequence (``_op_ids_query``)."""
    start = int(tx.one("SELECT COALESCE(MAX(id), 0) FROM operations")[0]) + 1
    return list(range(start, start + n))


def _op_ids_query(n: int) -> Query:
    """PostgreSQL: ``n`` operation ids from the sequence (unused ones leave gaps, as sequences do)."""
    return ("SELECT nextval(pg_get_serial_sequence('operations', 'id')) FROM generate_series(1, ?)", (n,))


def run_purchase_batch(tx: Tx, works: list[PurchaseWork]) -> list[Any]:
    service = works[0].service
    now = service.clock()
    from kimia.service.api import local_day, lots_to_spend

    today = local_day(now)
    results: list[Any] = [None] * len(works)
    live: list[int] = []
    for i, w in enumerate(works):
        try:
            if w.guard is not None:
                w.guard.check()
            merchant = w.merchant = service.caches.merchant(tx, w.req.merchant_id)
            if not merchant.active:
                raise reject("unknown_merchant")
            live.append(i)
        except KimiaError as exc:
            results[i] = exc

    # 1. Idempotency: stored answers, conflicts, and keys repeated inside the batch.
    stored = _stored_answers(tx, works, live)
    todo: list[int] = []
    first_of: dict[tuple[int, str], int] = {}
    repeats: list[tuple[int, int]] = []
    for i in live:
        if i in stored:
            results[i] = stored[i]
            continue
        slot = (_merchant(works[i]).root_club_id, works[i].req.idem_key)
        if slot in first_of:
            repeats.append((i, first_of[slot]))
        else:
            first_of[slot] = i
            todo.append(i)

    # 2. Members and their snapshots.
    resolved = _resolve_members(tx, service, works, todo, results)
    todo = [i for i in todo if i in resolved]
    members = {resolved[i][0]: resolved[i][1] for i in todo}
    # The lots each member's purchases of the batch spend (credit, points), by kind.
    spending: dict[int, frozenset[str]] = {}
    for i in todo:
        req = works[i].req
        kinds = SPENDABLE_KINDS[lots_to_spend(req.redeem_credit_rial, req.redeem_points)]
        if kinds:
            spending[resolved[i][0]] = spending.get(resolved[i][0], frozenset()) | kinds
    if members and not tx.sqlite:
        # On PostgreSQL another process may have committed one of these keys while we waited for
        # the member locks: look again (one query per club) once we hold them, and answer those
        # from their receipt. These lookups and the operation ids ride the locking round trip.
        lookups = _key_queries(tx, works, todo)
        snaps, (*found, ids) = _snapshots(tx, members, spending, today, [*(q for _, q in lookups), _op_ids_query(len(todo))])
        answered = _answers(works, lookups, found)
        for i, answer in answered.items():
            results[i] = answer
        todo = [i for i in todo if i not in answered]
        op_ids = [int(r[0]) for r in ids][:len(todo)]
    elif members:
        snaps = _snapshots(tx, members, spending, today, [])[0]
        op_ids = _allocate_op_ids(tx, len(todo))
    else:
        snaps, op_ids = {}, []

    # 3–4. Decide in order, carrying each member's snapshot forward (and each budget's use).
    inputs: dict[int, dict[str, Any]] = {}
    for i, op_id in zip(todo, op_ids):
        snap = snaps.get(resolved[i][0])
        if snap is not None:
            conversion = service.purchase_conversion(tx, _merchant(works[i]), works[i].req)
            inputs[i] = service._purchase_input(_merchant(works[i]), works[i].req, op_id, snap["_enrolled_by"], conversion)
    budget_keys, budget_used = _budgets(tx, service, works, inputs, resolved, now)
    state: dict[int, core.Member] = {}
    # (index, op id, decision, op club, member club, the member as the decision found them)
    decided: list[tuple[int, int, core.Decision, int, int, core.Member]] = []
    for i, op_id in zip(todo, op_ids):
        w = works[i]
        member_id, member_club = resolved[i]
        snap = snaps.get(member_id)
        if snap is None:
            results[i] = reject("unknown_member")
            continue
        merchant = _merchant(w)
        club = merchant.root_club_id
        try:
            service._check_cross_club_spend(tx, member_club, club, w.req)
            if member_id not in state:
                state[member_id] = core.Member({k: v for k, v in snap.items() if not k.startswith("_")})
            keys = budget_keys.get(i, [])
            visits = snap["_visits"].get(merchant.merchant_id, 0)
            # The facts that depend on this purchase are set afresh on the carried snapshot.
            before = state[member_id].with_facts(
                merchant_purchase_count=visits,
                budget_used={k: budget_used[(club, k)] for k in keys if (club, k) in budget_used},
                vouchers=load_vouchers(tx, member_id, w.req.voucher_code) if w.req.voucher_code else [],
            )
            decision = service.caches.rulebook(tx, club).evaluate(inputs[i], before, now)
            state[member_id] = core.apply(before, decision)
            for use in decision.budget_use:
                slot = (club, use["key"])
                budget_used[slot] = budget_used.get(slot, 0) + use["amount"]
            snap["_visits"][merchant.merchant_id] = visits + 1
            decided.append((i, op_id, decision, club, member_club, before))
        except KimiaError as exc:
            results[i] = exc

    # 5. Seal deadlines: an expired purchase is dropped before anything is written.
    sealed: list[tuple[int, int, core.Decision, int, int, core.Member]] = []
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
        dropped = [item for item in decided if item not in sealed]
        dropped_members = {resolved[item[0]][0] for item in dropped}
        if any(resolved[item[0]][0] in dropped_members for item in sealed):
            raise BulkWriteMismatch("a purchase dropped at its deadline preceded another of the same member")
        # Likewise a budget a dropped purchase used, if a later one of the batch saw that use.
        dropped_budgets = {(item[3], use["key"]) for item in dropped for use in item[2].budget_use}
        if any((item[3], key) in dropped_budgets for item in sealed for key in budget_keys.get(item[0], [])):
            raise BulkWriteMismatch("a purchase dropped at its deadline used a budget another one saw")

    receipts = _write(tx, service, works, sealed, now, {m: snap["tier"] for m, snap in snaps.items()})
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


#: The columns of an operations row, in the order ``_write`` builds it.
OPERATION_COLUMNS = ("id", "club_id", "idem_key", "request_hash", "kind", "status", "member_id", "merchant_id", "terminal_id",
                     "original_op_id", "amount_rial", "refunded_rial", "reference", "response", "decision", "day", "created_at", "actor")


def _batch_rrns(tx: Tx, works: list[PurchaseWork], items: list[tuple[int, int, core.Decision, int, int, core.Member]]) -> dict[int, str]:
    """A fresh random RRN for each purchase of the batch sent without one (field 37), drawn per
    club in one query each (``fresh_rrns``)."""
    from kimia.service.api import fresh_rrns

    wanted: dict[int, list[int]] = {}
    for i, _, _, op_club, _, _ in items:
        if works[i].req.reference is None:
            wanted.setdefault(op_club, []).append(i)
    rrns: dict[int, str] = {}
    for club, indexes in wanted.items():
        rrns.update(zip(indexes, fresh_rrns(tx, club, len(indexes))))
    return rrns


def _write(tx: Tx, service: Kimia, works: list[PurchaseWork], items: list[tuple[int, int, core.Decision, int, int, core.Member]],
           now: int, tiers: dict[int, str | None]) -> dict[int, dict[str, Any]]:
    from kimia.service.api import actor_of, local_day, response_json, terminal_fields

    rows = core.batch_rows([(d, op_club, member_club) for _, _, d, op_club, member_club, _ in items], now)
    ops: list[tuple[Any, ...]] = []
    receipts: dict[int, dict[str, Any]] = {}
    day = local_day(now)
    rrns = _batch_rrns(tx, works, items)
    for i, op_id, d, op_club, _, before in items:
        w = works[i]
        if d.voucher_used:
            tx.execute("UPDATE vouchers SET used_op_id = ? WHERE code = ? AND used_op_id IS NULL", (op_id, d.voucher_used))
            if tx.rowcount() != 1:
                raise BulkWriteMismatch("voucher used twice")
        # The core builds the receipt and its stored JSON in one call.
        receipt, text = d.receipt(op_id, before, "done", list(terminal_fields(w.req, op_id, tiers.get(d.member_id), rrns.get(i)).items()))
        for issue in d.vouchers_issued:
            code = issue_voucher(tx, member_id=d.member_id, template_id=issue["template_id"], op_id=op_id, now=now)
            if code:
                receipt.setdefault("vouchers", []).append(code)
        if "vouchers" in receipt:
            text = response_json(receipt)
        receipts[i] = receipt
        service.committed(tx, kind="purchase", club_id=op_club, op_id=op_id, member_id=d.member_id, receipt=receipt)
        ops.append((op_id, op_club, w.req.idem_key, w.body_hash, "purchase", "done", d.member_id, w.req.merchant_id, w.req.terminal_id,
                    None, w.req.amount_rial, 0, receipt["rrn"], text, d.to_json(), day, now,
                    actor_of(w.req.merchant_id, w.req.terminal_id, w.req.actor)))

    # Operations first: journal legs, lots and split legs refer to them. One statement per table
    # on SQLite (``Tx.insert_rows``); on PostgreSQL everything but the lot draws and budgets in one
    # round trip (``Tx.pipeline``): none of these statements needs another's result.
    with tx.pipeline():
        tx.insert_rows("operations", OPERATION_COLUMNS, ops)
        tx.insert_rows("journal", ("club_id", "op_id", "seq", "account", "amount", "unit", "memo", "created_at"), rows["legs"])
        tx.insert_rows("balances", ("club_id", "account", "owner", "balance", "credit_limit"), [(*b, 0) for b in rows["balances"]],
                       " ON CONFLICT (club_id, account) DO UPDATE SET balance = balances.balance + excluded.balance")
        # Lots created before any draw: a later purchase of the same member in this batch may
        # draw from one.
        tx.insert_rows("lots", ("id", "club_id", "owner", "account", "original", "remaining", "expires_at", "pending_until"),
                       rows["lots_created"])
        tx.insert_rows("split_legs", ("club_id", "op_id", "role", "beneficiary_id", "amount_rial", "day"), rows["splits"])
        # (purchases, points, latest purchase time, member). The time is cast: were it missing from
        # every row, PostgreSQL would type the column of VALUES as text.
        tx.update_rows(
            "members",
            "purchase_count = purchase_count + v.column1, period_points = period_points + v.column2,"
            " last_purchase_at = CASE WHEN last_purchase_at IS NULL OR last_purchase_at < CAST(v.column3 AS BIGINT)"
            " THEN CAST(v.column3 AS BIGINT) ELSE last_purchase_at END",
            "members.id = v.column4",
            rows["counters"],
        )
        tx.insert_rows("member_days", ("member_id", "day", "count", "spend_rial"), rows["days"],
                       " ON CONFLICT (member_id, day) DO UPDATE SET count = member_days.count + excluded.count,"
                       " spend_rial = member_days.spend_rial + excluded.spend_rial")
        tx.insert_rows("merchant_visits", ("member_id", "merchant_id", "count"), rows["visits"],
                       " ON CONFLICT (member_id, merchant_id) DO UPDATE SET count = merchant_visits.count + excluded.count")
    # These need their counts: each lot must still hold what the batch drew, each budget its room.
    consumed = rows["lots_consumed"]  # one row per lot: (amount, lot id, club), summed over the batch
    if tx.update_rows("lots", "remaining = remaining - v.column1",
                      "lots.id = v.column2 AND lots.club_id = v.column3 AND lots.remaining >= v.column1", consumed) != len(consumed):
        raise BulkWriteMismatch("a lot no longer holds what the batch drew")
    for club, key, amount, limit in rows["budgets"]:
        row = tx.one(
            "INSERT INTO budget_usage (club_id, key, used) VALUES (?,?,?)"
            " ON CONFLICT (club_id, key) DO UPDATE SET used = budget_usage.used + excluded.used RETURNING used",
            (club, key, amount),
        )
        if amount > 0 and row[0] > limit:
            raise BulkWriteMismatch(f"budget {key} exceeded")
    return receipts


__all__ = ["BulkWriteMismatch", "PurchaseWork", "Rejected", "run_purchase_batch"]
