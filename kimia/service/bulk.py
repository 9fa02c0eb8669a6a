"""The batched write path: a run of the writer's postings, decided in order and written together.

Every operation that posts rides it (kimia.service.posting has the rows and the run). Consecutive
purchases of a run form a segment that shares every read:

1. one idempotency query per club (a retried key answers from the stored receipt; a key repeated
   inside the segment answers from the first); deadlines checked;
2. members resolved, then every snapshot loaded with one query per table (row-locked on
   PostgreSQL, in member-id order);
3. operation ids allocated (SQLite: under the write lock; PostgreSQL: from the sequence);
4. each purchase decided in queue order by the core; ``kimia.apply`` carries a member's snapshot
   forward, so two purchases of one member in one segment see each other, and it re-checks every
   floor: a purchase that would overdraw is rejected alone;
5. deadlines sealed, then the rows staged in the run.

Any other posting (``PostingWork``: a hold, a completion, a refund, a value operation) decides on
its own reads and is staged in the same run. The run's rows are written together at its end, one
statement per table (``Run.flush``), or earlier when an operation's reads depend on them. A run of
one operation is the single path. Any surprise while writing a larger run (a lot drawn
concurrently, a constraint) raises; the writer then rolls the run back to its savepoint and runs
each operation again alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import kimia._core as core
from kimia.errors import KimiaError, Rejected, reject
from kimia.service.clubs import purchase_conversion
from kimia.service.context import MerchantContext
from kimia.service.host import Host
from kimia.service.members import MAX_MEMBER_ID, check_cross_club_spend, clubs_sharing_members, normalize_identifier, resolve_member
from kimia.service.posting import BulkWriteMismatch, OpRow, Post, Posting, PostingWork, Run, op_ids_query
from kimia.service.requests import Deadline, MemberRef, PurchaseRequest, fresh_rrns, local_day, lots_to_spend, purchase_input
from kimia.service.requests import response_json, stored_answer, terminal_fields
from kimia.service.snapshot import HISTORY_DAYS, SPENDABLE_KINDS, load_budgets, load_vouchers
from kimia.service.sql import Tx
from kimia.service.writer import Guard


class PurchaseWork(Protocol):
    """A queued purchase as the batch sees it (``kimia.service.purchases.PurchaseWork``)."""

    service: Host
    req: PurchaseRequest
    body_hash: str
    #: The member reference in normal form, computed for the hash: looked up by it, not re-hashed.
    member_key: list[str] | None
    guard: Deadline | None
    #: The merchant, set by the batch's first step.
    merchant: MerchantContext | None


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


def _resolve_members(tx: Tx, service: Host, works: list[PurchaseWork], todo: list[int], results: list[Any]) -> dict[int, tuple[int, int]]:
    """(member id, member's root club) of each purchase, with one query per kind of reference.

    A reference the batch query does not settle (not found, or an account number that is really a
    member id) goes through the single path's resolver, which gives the exact answer or error."""
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
                if ref.value.isdigit() and int(ref.value) <= MAX_MEMBER_ID:  # else the single path answers unknown_member
                    by_id[int(ref.value)].append(i)
            else:
                key = works[i].member_key
                lookup = key[1] if key is not None and key[0] == ref.kind else normalize_identifier(service, ref.kind, ref.value)[0]
                by_identifier[ref.kind][lookup].append(i)
        except KimiaError as exc:
            results[i] = exc
    if by_id:
        ids = sorted(by_id)
        in_ids, id_params = tx.among("id", ids)
        for member_id, club in tx.all(f"SELECT id, club_id FROM members WHERE {in_ids}", id_params):
            root = service.caches.root_club(tx, club)
            for i in by_id[member_id]:
                if root in clubs_sharing_members(service, tx, _merchant(works[i]).root_club_id):
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
                if i not in resolved and club in clubs_sharing_members(service, tx, _merchant(works[i]).root_club_id):
                    resolved[i] = (int(member_id), int(club))
    for i in todo:
        if i in resolved or isinstance(results[i], KimiaError):
            continue
        try:
            resolved[i] = resolve_member(service, tx, _merchant(works[i]).root_club_id, refs[i])
        except KimiaError as exc:
            results[i] = exc
    return resolved


def _budgets(tx: Tx, service: Host, works: list[PurchaseWork], inputs: dict[int, dict[str, Any]],
             resolved: dict[int, tuple[int, int]], now: int) -> tuple[dict[int, list[str]], dict[tuple[int, str], int]]:
    """The budget keys each purchase may use and the use so far of all of them, one query per club.
    The caller adds each decision's use as it goes, so a later purchase of the batch sees it."""
    keys_of: dict[int, list[str]] = {}
    by_club: dict[int, set[str]] = defaultdict(set)
    for i, purchase in inputs.items():
        club = _merchant(works[i]).root_club_id
        book = service.caches.rulebook(tx, club, now=now)
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


def _admit(tx: Tx, service: Host, works: list[PurchaseWork], results: list[Any]) -> list[int]:
    """The purchases still in time whose merchant sells: each gets its merchant; the others their refusal."""
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
    return live


def _first_of_each_key(run: Run, works: list[PurchaseWork], live: list[int], results: list[Any]) -> tuple[list[int], list[tuple[int, int]]]:
    """Idempotency: stored answers and conflicts answered; of a key repeated inside the segment
    only the first is decided, the others (``repeats``: (index, first index)) answered from it."""
    run.flush_if(keys=[(_merchant(works[i]).root_club_id, works[i].req.idem_key) for i in live])
    stored = _stored_answers(run.tx, works, live)
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
    return todo, repeats


def _spending(works: list[PurchaseWork], todo: list[int], resolved: dict[int, tuple[int, int]]) -> dict[int, frozenset[str]]:
    """The lots each member's purchases of the segment spend (credit, points), by kind."""
    spending: dict[int, frozenset[str]] = {}
    for i in todo:
        req = works[i].req
        kinds = SPENDABLE_KINDS[lots_to_spend(req.redeem_credit_rial, req.redeem_points)]
        if kinds:
            spending[resolved[i][0]] = spending.get(resolved[i][0], frozenset()) | kinds
    return spending


def _load(run: Run, works: list[PurchaseWork], todo: list[int], resolved: dict[int, tuple[int, int]],
          results: list[Any]) -> tuple[dict[int, dict[str, Any]], list[int], list[int]]:
    """(snapshots by member, operation ids, the purchases still to decide). Pending rows of these
    members (or of their shared wallets) are written first, so the snapshots see them."""
    tx = run.tx
    members = {resolved[i][0]: resolved[i][1] for i in todo}
    if not members:
        return {}, [], todo
    run.flush_if(members=members, owners=[f"member:{m}" for m in members],
                 budgets_of=next((c for c in {_merchant(works[i]).root_club_id for i in todo} if run.touches(budgets_of=c)), None))
    today = local_day(run.now, _merchant(works[todo[0]]).utc_offset_min)
    spending = _spending(works, todo, resolved)
    if tx.sqlite:
        snaps = _snapshots(tx, members, spending, today, [])[0]
        op_ids = run.take_ids(len(todo))
    else:
        # On PostgreSQL another process may have committed one of these keys while we waited for
        # the member locks: look again (one query per club) once we hold them, and answer those
        # from their receipt. These lookups and the operation ids ride the locking round trip.
        lookups = _key_queries(tx, works, todo)
        snaps, (*found, ids) = _snapshots(tx, members, spending, today, [*(q for _, q in lookups), op_ids_query(len(todo))])
        answered = _answers(works, lookups, found)
        for i, answer in answered.items():
            results[i] = answer
        todo = [i for i in todo if i not in answered]
        op_ids = [int(r[0]) for r in ids][:len(todo)]
    wallets = [f"group:{snap['shared_group_id']}" for snap in snaps.values() if snap["shared_group_id"]]
    if run.touches(owners=wallets):
        run.flush()  # a wallet another operation of the run spends: read it again once written
        return _load(run, works, todo, resolved, results)
    return snaps, op_ids, todo


#: A purchase decided: (index, op id, decision, op club, member club, the member as the decision found them).
Decided = tuple[int, int, core.Decision, int, int, core.Member]


def _decide_all(run: Run, works: list[PurchaseWork], todo: list[int], op_ids: list[int], resolved: dict[int, tuple[int, int]],
                snaps: dict[int, dict[str, Any]], results: list[Any]) -> tuple[list[Decided], dict[int, list[str]]]:
    """Decide in order, carrying each member's snapshot forward (``core.apply``: it re-checks every
    floor, so a purchase that would overdraw is refused alone) and each budget's use."""
    tx, service, now = run.tx, run.service, run.now
    inputs: dict[int, dict[str, Any]] = {}
    for i, op_id in zip(todo, op_ids):
        snap = snaps.get(resolved[i][0])
        if snap is not None:
            conversion = purchase_conversion(service, tx, _merchant(works[i]), works[i].req)
            inputs[i] = purchase_input(_merchant(works[i]), works[i].req, op_id, snap["_enrolled_by"], conversion)
    budget_keys, budget_used = _budgets(tx, service, works, inputs, resolved, now)
    state: dict[int, core.Member] = {}
    decided: list[Decided] = []
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
            check_cross_club_spend(service, tx, member_club, club, w.req)
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
            decision = service.caches.rulebook(tx, club, now=now).evaluate(inputs[i], before, now)
            state[member_id] = core.apply(before, decision)
            for use in decision.budget_use:
                slot = (club, use["key"])
                budget_used[slot] = budget_used.get(slot, 0) + use["amount"]
            snap["_visits"][merchant.merchant_id] = visits + 1
            decided.append((i, op_id, decision, club, member_club, before))
        except KimiaError as exc:
            results[i] = exc
    return decided, budget_keys


def _seal(works: list[PurchaseWork], decided: list[Decided], resolved: dict[int, tuple[int, int]], budget_keys: dict[int, list[str]],
          results: list[Any]) -> list[Decided]:
    """Seal deadlines: an expired purchase is dropped before anything is written. If it moved a
    later purchase of the segment (the same member, or a budget that one saw), raise: the run is
    redone one operation at a time."""
    sealed: list[Decided] = []
    dropped: list[Decided] = []
    for item in decided:
        w = works[item[0]]
        try:
            if w.guard is not None:
                w.guard.seal()
            sealed.append(item)
        except KimiaError as exc:
            results[item[0]] = exc
            dropped.append(item)
    if dropped:
        dropped_members = {resolved[item[0]][0] for item in dropped}
        if any(resolved[item[0]][0] in dropped_members for item in sealed):
            raise BulkWriteMismatch("a purchase dropped at its deadline preceded another of the same member")
        dropped_budgets = {(item[3], use["key"]) for item in dropped for use in item[2].budget_use}
        if any((item[3], key) in dropped_budgets for item in sealed for key in budget_keys.get(item[0], [])):
            raise BulkWriteMismatch("a purchase dropped at its deadline used a budget another one saw")
    return sealed


def _answer_repeats(works: list[PurchaseWork], repeats: list[tuple[int, int]], results: list[Any]) -> None:
    """A key repeated inside the segment: the first's answer replayed, or the conflict."""
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


def purchase_segment(run: Run, works: list[PurchaseWork]) -> list[Any]:
    """Consecutive purchases of a run, decided together on reads they share (one query per table)
    and staged in the run: the answer (or the refusal) of each."""
    results: list[Any] = [None] * len(works)
    live = _admit(run.tx, run.service, works, results)
    todo, repeats = _first_of_each_key(run, works, live, results)
    resolved = _resolve_members(run.tx, run.service, works, todo, results)
    snaps, op_ids, todo = _load(run, works, [i for i in todo if i in resolved], resolved, results)
    decided, budget_keys = _decide_all(run, works, todo, op_ids, resolved, snaps, results)
    sealed = _seal(works, decided, resolved, budget_keys, results)
    tiers = {m: snap["tier"] for m, snap in snaps.items()}
    rrns = _batch_rrns(run.tx, works, sealed)
    for item in sealed:
        results[item[0]] = _stage_purchase(run, works[item[0]], item, tiers, rrns.get(item[0]))
    _answer_repeats(works, repeats, results)
    return results


def _batch_rrns(tx: Tx, works: list[PurchaseWork], items: list[Decided]) -> dict[int, str]:
    """A fresh random RRN for each purchase of the segment sent without one (field 37), drawn per
    club in one query each (``fresh_rrns``)."""
    wanted: dict[int, list[int]] = {}
    for i, _, _, op_club, _, _ in items:
        if works[i].req.reference is None:
            wanted.setdefault(op_club, []).append(i)
    rrns: dict[int, str] = {}
    for club, indexes in wanted.items():
        rrns.update(zip(indexes, fresh_rrns(tx, club, len(indexes))))
    return rrns


def _stage_purchase(run: Run, w: PurchaseWork, item: Decided, tiers: dict[int, str | None], rrn: str | None) -> dict[str, Any]:
    """A decided purchase's rows into the run; its answer (the core builds it and its JSON)."""
    _, op_id, d, op_club, member_club, before = item
    tx, now = run.tx, run.now
    if d.voucher_used:
        tx.execute("UPDATE vouchers SET used_op_id = ? WHERE code = ? AND used_op_id IS NULL", (op_id, d.voucher_used))
        if tx.rowcount() != 1:
            if run.size == 1:
                raise reject("voucher_already_used")
            raise BulkWriteMismatch("voucher used twice")
    receipt, text = d.receipt(op_id, before, "done", list(terminal_fields(w.req, op_id, tiers.get(d.member_id), rrn).items()))
    for issue in d.vouchers_issued:
        code = run.issue_voucher(op_club, d.member_id, issue["template_id"], op_id)
        if code:
            receipt.setdefault("vouchers", []).append(code)
    if "vouchers" in receipt:
        text = response_json(receipt)
    op = OpRow(op_id, op_club, w.req.idem_key, w.body_hash, "purchase", d.member_id, local_day(now, _merchant(w).utc_offset_min), now,
               merchant_id=w.req.merchant_id, terminal_id=w.req.terminal_id, amount_rial=w.req.amount_rial,
               reference=str(receipt["rrn"]), actor=w.req.actor)
    run.stage_row(Posting(op, "done", receipt, d, member_club), text)
    return receipt


def run_alone(tx: Tx, work: Any) -> Any:
    """A run of one operation: its answer, or its refusal raised (its savepoint is rolled back)."""
    result = run_postings(tx, [work])[0]
    if isinstance(result, BaseException):
        raise result
    return result


def run_postings(tx: Tx, works: list[Any]) -> list[Any]:
    """A run of postings of any kind, in queue order: consecutive purchases decided together, every
    other operation on its own reads; all the run's rows written together at the end (and earlier
    when an operation's reads need them). One answer or refusal per work."""
    service: Host = works[0].service
    others = sum(1 for w in works if isinstance(w, PostingWork))
    run = Run(tx, service, service.clock(), size=len(works), ids_wanted=others)
    results: list[Any] = []
    i = 0
    while i < len(works):
        if isinstance(works[i], PostingWork):
            results.append(_decide_one(run, works[i]))
            i += 1
            continue
        j = i
        while j < len(works) and not isinstance(works[j], PostingWork):
            j += 1
        results.extend(purchase_segment(run, works[i:j]))
        i = j
    run.flush()
    return results


def _decide_one(run: Run, work: PostingWork) -> Any:
    """One operation of the run: checked against its deadline, decided, sealed, staged."""
    try:
        if work.guard is not None:
            work.guard.check()
        outcome = work.decide(run.tx, run)
        if not isinstance(outcome, Post):
            return outcome
        if work.guard is not None:
            work.guard.seal()
        for posting in outcome.postings:
            run.stage(posting)
        return outcome.answer
    except KimiaError as exc:
        return exc


__all__ = ["BulkWriteMismatch", "PurchaseWork", "Rejected", "run_alone", "run_postings"]
