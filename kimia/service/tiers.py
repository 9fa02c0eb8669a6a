"""Tier periods: closing one for a whole club (chunked, restartable: kimia.service.period)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import kimia._core as core

from kimia.errors import Phrase, Rejected, reject
from kimia.service.host import Host
from kimia.service.requests import check_actor
from kimia.service.clubs import club_settings, club_tree
from kimia.service.period import close_chunk, last_closed_end, open_close, running_close
from kimia.service import audit, period
from kimia.service.sql import Tx

log = logging.getLogger(__name__)


def close_period(svc: Host, club_id: int, period_end: int, *, actor: str, chunk_size: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Close a tier period for the whole club: moves, grace, deductions; returns counts per reason: documented on ``Kimia.close_period``, the public face of this function."""
    check_actor(actor)
    chunk_size = chunk_size if chunk_size is not None else period.CLOSE_CHUNK

    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        clubs = club_tree(tx, root)
        config = club_settings(tx, root).get("tiers")
    if not config:
        raise reject("invalid_tier_config", detail=Phrase("no tiers", "طبقه‌ای تعریف نشده"))
    if not 1 <= chunk_size <= 100_000:
        raise reject("invalid_request", path="chunk_size", detail="chunk_size is between 1 and 100,000")
    state = svc.write(partial(open_close, root=root, clubs=clubs, period_end=period_end, config=config, actor=actor, now=svc.clock()))
    if progress is not None:
        progress(state.members_done, state.members_total)
    while not state.finished:
        state = svc.write(partial(close_chunk, service=svc, close_id=state.id, clubs=clubs, chunk_size=chunk_size))
        if progress is not None:
            progress(state.members_done, state.members_total)
    svc.caches.clear()
    with svc.reading() as tx:
        counts = tx.all("SELECT reason, COUNT(*) FROM tier_history WHERE club_id = ? AND period_end = ? GROUP BY reason", (root, period_end))
    return {str(reason): int(n) for reason, n in counts}


def period_closes(svc: Host, club_id: int) -> tuple[int | None, int | None]:
    """(end of the club's last finished period close, end of its unfinished close if any)."""
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        running = running_close(tx, root)
        return last_closed_end(tx, root), running.period_end if running is not None else None




def preview_close(svc: Host, club_id: int, period_end: int) -> dict[str, Any]:
    """What closing a tier period at ``period_end`` would do, nothing written: members per reason
    (up, down, stay, grace, frozen, manual), moves per (from, to) tier, and the points it would
    deduct. Refused as the close would be (no tiers, an earlier or unfinished close)."""
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        clubs = club_tree(tx, root)
        config = club_settings(tx, root).get("tiers")
        if not config:
            raise reject("invalid_tier_config", detail=Phrase("no tiers", "طبقه‌ای تعریف نشده"))
        running = running_close(tx, root)
        if running is not None and running.period_end != period_end:
            raise reject("period_close_unfinished", period_end=running.period_end)
        last = last_closed_end(tx, root)
        if running is None and last is not None and period_end <= last:
            raise reject("period_already_closed", period_end=last)
        names = [t["name"] for t in config["tiers"]]
        index = {n: i for i, n in enumerate(names)}
        reasons: dict[str, int] = {}
        moves: dict[tuple[str | None, str], int] = {}
        deducted, after = 0, running.done_through if running is not None else 0
        in_clubs, params = tx.among("club_id", clubs)
        while members := tx.all(f"SELECT id, tier, period_points, grace_used, frozen_until, manual_tier FROM members WHERE {in_clubs}"
                                " AND id > ? ORDER BY id LIMIT ?", (*params, after, period.CLOSE_CHUNK)):
            result = core.close_tier_period(
                config, tier=[index.get(r[1], 0) for r in members], period_points=[r[2] for r in members],
                grace_used=[r[3] for r in members], frozen_until=[r[4] for r in members],
                manual_tier=[index.get(r[5], -1) if r[5] else -1 for r in members], period_end=period_end)
            for r, t, reason in zip(members, result["tier"], result["reason"]):
                reasons[str(reason)] = reasons.get(str(reason), 0) + 1
                if r[1] != names[t]:
                    moves[(r[1], names[t])] = moves.get((r[1], names[t]), 0) + 1
            deducted += sum(int(d) for d in result["deducted_points"])
            after = int(members[-1][0])
    return {"reasons": reasons, "moves": [{"from": f, "to": t, "members": n} for (f, t), n in sorted(moves.items(), key=str)],
            "deducted_points": deducted}


def move_tier(svc: Host, club_id: int, member_id: int, tier: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Move a member of the club's tree to ``tier`` by hand, now; the next period close keeps them
    there (its reason ``manual``) and then places them by points again. Audited with the reason
    (``move_tier``); the tier history shows the period closes only."""
    check_actor(actor, reason)

    def work(tx: Tx) -> dict[str, Any]:
        root = svc.caches.root_club(tx, club_id)
        names = [str(t["name"]) for t in (club_settings(tx, root).get("tiers") or {}).get("tiers", [])]
        if tier not in names:
            raise reject("foreign_reference", path="tier", kind="tier", id=tier)
        row = tx.one(tx.lock("SELECT club_id, tier FROM members WHERE id = ?"), (member_id,))
        if row is None or int(row[0]) not in club_tree(tx, root):
            raise reject("unknown_member", path="member_id")
        tx.execute("UPDATE members SET tier = ?, manual_tier = ? WHERE id = ?", (tier, tier, member_id))
        moved = {"member_id": member_id, "from_tier": row[1], "to_tier": tier}
        now = svc.clock()
        audit.append(tx, club_id=int(row[0]), actor=actor, action="move_tier", reason=reason, payload=moved, at=now)
        if row[1] != tier:
            svc.announce(tx, "kimia_tier_changed", club_id=root, member_id=member_id, from_tier=row[1], to_tier=tier, reason="manual")
            svc.emit(tx, "tier.changed", club_id=root, key=f"member:{member_id}:manual:{now}:{tier}", member_id=member_id,
                     payload={"member_id": member_id, "from_tier": row[1], "to_tier": tier, "reason": "manual"})
        return moved

    return svc.write(work)
