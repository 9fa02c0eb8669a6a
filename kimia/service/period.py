"""Tier period close (SPEC V6–V11), chunked and restartable, each member closed exactly once.

A close is recorded first (a ``period_closes`` row, status ``running``, with the tier
configuration and the last member id it covers), then its members are closed in chunks of member
ids. Each chunk is one transaction that

1. locks the chunk's member rows (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time)
   and reads their period points, the same locks purchases take, so a purchase racing the close
   lands either before the chunk (its points count in the closing period) or after it (in the
   next one), never in neither;
2. moves the members (the core decides: ``close_tier_period``) and takes their period points off;
3. writes their ``tier_history`` rows (unique per member and close);
4. posts their points deductions, one operation each under the key
   ``period:{period_end}:deduct:{member_id}``;
5. advances the close's ``done_through``; the last, empty chunk marks the close ``done``.

A crash loses at most the chunk in flight (its transaction rolls back); running the same close
again resumes from ``done_through`` with the configuration it started with. Every statement of a
chunk is a bulk one (``Tx.insert_rows`` / ``Tx.update_rows``), never one per member.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import kimia._core as core
from kimia.errors import KimiaError, reject
from kimia.service import audit, outbox
from kimia.service.posting import OPERATION_COLUMNS, BulkWriteMismatch, Run
from kimia.service.daily import add_daily
from kimia.service.host import Host
from kimia.service.requests import request_hash
from kimia.service.sql import Tx

#: Members closed per transaction: large enough that the statements dominate, small enough that a
#: chunk holds its members' locks (and purchases of them wait) for a few tens of milliseconds.
CLOSE_CHUNK = 2_000

HISTORY_COLUMNS = ("club_id", "member_id", "period_end", "from_tier", "to_tier", "reason", "period_points", "deducted_points")
@dataclass(frozen=True)
class CloseState:
    """A period close as recorded in ``period_closes``."""

    id: int
    club_id: int
    period_end: int
    status: str
    config: dict[str, Any]
    last_member_id: int
    members_total: int
    members_done: int
    done_through: int
    actor: str

    @property
    def finished(self) -> bool:
        return self.status == "done"


_STATE_COLUMNS = "id, club_id, period_end, status, config, last_member_id, members_total, members_done, done_through, actor"


def _state(row: Any) -> CloseState:
    config = row[4] if isinstance(row[4], dict) else json.loads(row[4] or "{}")
    return CloseState(int(row[0]), int(row[1]), int(row[2]), str(row[3]), config, int(row[5]), int(row[6]), int(row[7]),
                      int(row[8]), str(row[9]))


def running_close(tx: Tx, root: int) -> CloseState | None:
    """The unfinished close of a club, if a crash (or a failure) interrupted one."""
    row = tx.one(f"SELECT {_STATE_COLUMNS} FROM period_closes WHERE club_id = ? AND status = 'running' ORDER BY id LIMIT 1", (root,))
    return _state(row) if row is not None else None


def last_closed_end(tx: Tx, root: int) -> int | None:
    """The end of the club's latest finished close (``None`` if it never closed one)."""
    row = tx.one("SELECT MAX(period_end) FROM period_closes WHERE club_id = ? AND status = 'done'", (root,))
    return int(row[0]) if row and row[0] is not None else None


def open_close(tx: Tx, *, root: int, clubs: list[int], period_end: int, config: dict[str, Any], actor: str, now: int) -> CloseState:
    """Start a close, or return the unfinished close of the same period end to resume it.

    Another period cannot start while one is unfinished (``period_close_unfinished``), and a
    period that does not end after the last finished one is refused (``period_already_closed``)."""
    # Serialises two processes opening a close of one club (PostgreSQL; SQLite has one writer).
    tx.one(tx.lock("SELECT id FROM clubs WHERE id = ?"), (root,))
    running = running_close(tx, root)
    if running is not None:
        if running.period_end != period_end:
            raise reject("period_close_unfinished", period_end=running.period_end)
        return running
    last = last_closed_end(tx, root)
    if last is not None and period_end <= last:
        raise reject("period_already_closed", period_end=last)
    in_clubs, params = tx.among("club_id", clubs)
    last_member, total = tx.one(f"SELECT COALESCE(MAX(id), 0), COUNT(*) FROM members WHERE {in_clubs}", params)
    row = tx.one(
        "INSERT INTO period_closes (club_id, period_end, status, config, last_member_id, members_total, members_done, done_through,"
        " actor, started_at, finished_at) VALUES (?,?,'running',?,?,?,0,0,?,?,NULL) RETURNING id",
        (root, period_end, json.dumps(config), int(last_member), int(total), actor, now),
    )
    return CloseState(int(row[0]), root, period_end, "running", config, int(last_member), int(total), 0, 0, actor)


def close_chunk(tx: Tx, service: Host, *, close_id: int, clubs: list[int], chunk_size: int) -> CloseState:
    """Close the next ``chunk_size`` members of a close in this transaction; the state after it."""
    now = service.clock()
    row = tx.one(tx.lock(f"SELECT {_STATE_COLUMNS} FROM period_closes WHERE id = ?"), (close_id,))
    state = _state(row)
    if state.finished:
        return state
    in_clubs, params = tx.among("club_id", clubs)
    members = tx.all(
        tx.lock(f"SELECT id, tier, period_points, grace_used, frozen_until, manual_tier FROM members WHERE {in_clubs}"
                " AND id > ? AND id <= ? ORDER BY id LIMIT ?"),
        (*params, state.done_through, state.last_member_id, chunk_size),
    )
    if not members:
        tx.execute("UPDATE period_closes SET status = 'done', finished_at = ? WHERE id = ?", (now, close_id))
        return _state((*row[:3], "done", *row[4:]))
    names = [t["name"] for t in state.config["tiers"]]
    index = {n: i for i, n in enumerate(names)}
    result = core.close_tier_period(
        state.config,
        tier=[index.get(r[1], 0) for r in members],
        period_points=[r[2] for r in members],
        grace_used=[r[3] for r in members],
        frozen_until=[r[4] for r in members],
        manual_tier=[index.get(r[5], -1) if r[5] else -1 for r in members],
        period_end=state.period_end,
    )
    due = {int(r[0]): d for r, d in zip(members, result["deducted_points"]) if d > 0}
    taken = _post_deductions(tx, service, state, due, now) if due else {}
    # The points read are taken off rather than the column set to zero: with the row locked the
    # two are the same, and should anything ever add points unlocked they stay for the next period.
    tx.update_rows(
        "members",
        "tier = v.column1, grace_used = v.column2, period_points = members.period_points - v.column3, manual_tier = NULL",
        "members.id = v.column4",
        [(names[t], g, r[2], r[0]) for r, t, g in zip(members, result["tier"], result["grace_used"])],
    )
    _tier_events(tx, service, state, [(int(r[0]), r[1], names[t]) for r, t in zip(members, result["tier"]) if names[t] != r[1]], now)
    tx.insert_rows("tier_history", HISTORY_COLUMNS, [
        (state.club_id, r[0], state.period_end, r[1], names[t], reason, r[2], taken.get(int(r[0]), 0))
        for r, t, reason in zip(members, result["tier"], result["reason"])
    ])
    last = int(members[-1][0])
    tx.execute("UPDATE period_closes SET members_done = members_done + ?, done_through = ? WHERE id = ?", (len(members), last, close_id))
    return CloseState(state.id, state.club_id, state.period_end, "running", state.config, state.last_member_id, state.members_total,
                      state.members_done + len(members), last, state.actor)


def _tier_events(tx: Tx, service: Host, state: CloseState, moved: list[tuple[int, str | None, str]], now: int) -> None:
    """The members a chunk moved: their ``kimia_tier_changed`` hooks and ``tier.changed`` events
    (one statement; key ``member:<id>:period:<end>``, so a chunk run again adds none)."""
    rows = []
    for member_id, from_tier, to_tier in moved:
        service.announce(tx, "kimia_tier_changed", club_id=state.club_id, member_id=member_id, from_tier=from_tier, to_tier=to_tier,
                         reason="period_close")
        if service.notifications:
            rows.append(outbox.row(event="tier.changed", club_id=state.club_id, key=f"member:{member_id}:period:{state.period_end}",
                                   member_id=member_id, at=now,
                                   payload={"member_id": member_id, "from_tier": from_tier, "to_tier": to_tier, "reason": "period_close",
                                            "period_end": state.period_end}))
    outbox.insert_rows(tx, rows)


def _points_snapshots(tx: Tx, root: int, member_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Just what a points deduction is decided on: each member's points balance and points lots."""
    owners = [f"member:{m}" for m in member_ids]
    in_owners, params = tx.among("owner", owners)
    snaps: dict[int, dict[str, Any]] = {m: {"member_id": m, "accounts": [], "lots": []} for m in member_ids}
    for owner, account, balance, limit in tx.all(
        f"SELECT owner, account, balance, credit_limit FROM balances WHERE club_id = ? AND {in_owners}", (root, *params)
    ):
        if account == f"{owner}/points":
            snaps[int(owner[7:])]["accounts"].append({"account": account, "balance": balance, "credit_limit": limit})
    for lot_id, owner, account, remaining, expires, pending in tx.all(
        f"SELECT id, owner, account, remaining, expires_at, pending_until FROM lots WHERE club_id = ? AND {in_owners} AND remaining > 0",
        (root, *params),
    ):
        if account == f"{owner}/points":
            snaps[int(owner[7:])]["lots"].append(
                {"id": lot_id, "account": account, "remaining": remaining, "expires_at": expires, "pending_until": pending})
    return snaps


def _post_deductions(tx: Tx, service: Host, state: CloseState, due: dict[int, int], now: int) -> dict[int, int]:
    """Post the period-end deductions of a chunk (V9), one operation per member, in bulk; returns
    the points taken per member. A member holding fewer points than due (spent since) is skipped
    and their history row says 0, as before."""
    root = state.club_id
    snaps = _points_snapshots(tx, root, sorted(due))
    ids = Run(tx, service, now, size=len(due), ids_wanted=len(due)).take_ids(len(due))
    reason = f"period end deduction {state.period_end}"
    decisions: list[tuple[int, int, core.Decision]] = []
    for (member_id, points), op_id in zip(sorted(due.items()), ids):
        try:
            d = core.adjust(root, snaps[member_id], op_id=op_id, now=now, account=f"member:{member_id}/points", delta=-points)
        except KimiaError as exc:
            if exc.code != "insufficient_balance":
                raise
            continue
        decisions.append((member_id, points, d))
    if not decisions:
        return {}
    rows = core.batch_rows([(d, root, root) for _, _, d in decisions], now)
    day = service.caches.local_day(tx, root, now)
    ops: list[tuple[Any, ...]] = []
    audits: list[tuple[int | None, str, str, str, Any, int]] = []
    events: list[tuple[Any, ...]] = []
    for member_id, points, d in decisions:
        receipt, text = d.receipt(d.op_id, snaps[member_id], "done")
        body = {"member": str(member_id), "account": "points", "delta": -points, "reason": reason}
        ops.append((d.op_id, root, f"period:{state.period_end}:deduct:{member_id}", request_hash({"op": "period_deduction", **body}),
                    "adjustment", "done", member_id, None, None, None, points, 0, None, text, d.to_json(), day, now, state.actor))
        audits.append((root, state.actor, "adjust", reason, {**body, "op_id": d.op_id}, now))
        service.committed(tx, kind="adjustment", club_id=root, op_id=d.op_id, member_id=member_id, receipt=receipt,
                          amount_rial=points, pending=events)
    tx.insert_rows("operations", OPERATION_COLUMNS, ops)
    outbox.insert_rows(tx, events)
    tx.insert_rows("journal", ("club_id", "op_id", "seq", "account", "amount", "unit", "memo", "created_at"), rows["legs"])
    add_daily(tx, ops, rows["legs"])
    tx.insert_rows("balances", ("club_id", "account", "owner", "balance", "credit_limit"), [(*b, 0) for b in rows["balances"]],
                   " ON CONFLICT (club_id, account) DO UPDATE SET balance = balances.balance + excluded.balance")
    consumed = rows["lots_consumed"]
    if tx.update_rows("lots", "remaining = remaining - v.column1",
                      "lots.id = v.column2 AND lots.club_id = v.column3 AND lots.remaining >= v.column1", consumed) != len(consumed):
        raise BulkWriteMismatch("a points lot no longer holds what a period deduction drew")
    audit.append_many(tx, audits)
    return {member_id: points for member_id, points, _ in decisions}


__all__ = ["CLOSE_CHUNK", "CloseState", "close_chunk", "last_closed_end", "open_close", "running_close"]
