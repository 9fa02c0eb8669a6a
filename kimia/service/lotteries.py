"""Lotteries (R10): a reproducible draw from the entries and the revealed seed."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from typing import Any

import kimia._core as core
from kimia.errors import reject
from kimia.service import audit
from kimia.service.host import Host
from kimia.service.requests import check_actor
from kimia.service.sql import Tx
from kimia.service.members import clubs_sharing_members

log = logging.getLogger(__name__)


def draw_lottery(svc: Host, club_id: int, lottery_id: int, seed: str, *, actor: str) -> list[dict[str, Any]]:
    """Draw winners, reproducibly: the seed's SHA-256 was committed when the lottery opened, and: documented on ``Kimia.draw_lottery``, the public face of this function."""
    check_actor(actor)

    def work(tx: Tx) -> list[dict[str, Any]]:
        row = tx.one(tx.lock("SELECT club_id, prizes, seed_commitment, status FROM lotteries WHERE id = ?"), (lottery_id,))
        if row is None or svc.caches.root_club(tx, int(row[0])) != svc.caches.root_club(tx, club_id):
            raise reject("unknown_lottery")
        lottery_club, prizes, commitment, status = row
        prizes = prizes if isinstance(prizes, list) else json.loads(prizes or "[]")
        if status != "open":
            raise reject("lottery_not_open")
        if hashlib.sha256(seed.encode()).hexdigest() != commitment:
            raise reject("seed_mismatch")
        entrants = clubs_sharing_members(svc, tx, svc.caches.root_club(tx, lottery_club))
        winners = draw_winners(tx, entrants, lottery_id, seed, len(prizes) or 1)
        if not winners:
            raise reject("no_entries")
        result = []
        for rank, member_id in enumerate(winners, start=1):
            prize = str(prizes[rank - 1]) if rank - 1 < len(prizes) else ""
            tx.execute("INSERT INTO lottery_winners (lottery_id, rank, member_id, prize) VALUES (?,?,?,?)", (lottery_id, rank, member_id, prize))
            result.append({"rank": rank, "member_id": member_id, "prize": prize})
        now = svc.clock()
        tx.execute("UPDATE lotteries SET status = 'drawn', seed = ?, drawn_at = ? WHERE id = ?", (seed, now, lottery_id))
        audit.append(tx, club_id=lottery_club, actor=actor, action="draw_lottery", reason="seed revealed",
                     payload={"lottery_id": lottery_id, "winners": result}, at=now)
        root = svc.caches.root_club(tx, int(lottery_club))
        svc.announce(tx, "kimia_lottery_drawn", club_id=root, lottery_id=lottery_id, winners=list(winners))
        svc.emit(tx, "lottery.drawn", club_id=root, key=f"lottery:{lottery_id}", payload={"lottery_id": lottery_id, "winners": result})
        for rank, member_id in enumerate(winners, start=1):
            svc.emit(tx, "lottery.won", club_id=root, key=f"lottery:{lottery_id}:rank:{rank}", member_id=member_id,
                     payload={"lottery_id": lottery_id, **result[rank - 1]})
        return result

    return svc.write(work)


def draw_winners(tx: Tx, clubs: list[int], lottery_id: int, seed: str, count: int) -> list[int]:
    """Winners of a lottery from its entries and the revealed seed (deterministic, auditable).

    ``clubs`` are the ledgers whose entries count: the lottery's club and the clubs sharing members
    with it (C3: a member of another club of a meta-club keeps the entries won here in their own
    club's ledger). Entries any other club's ledger holds for this lottery id were not won here."""
    suffix = f"/lottery_entries@lottery:{lottery_id}"
    rows = tx.all(
        f"SELECT account, balance FROM balances WHERE account LIKE ? AND balance > 0 AND club_id IN ({tx.placeholders(len(clubs))})"
        " ORDER BY owner",
        ("member:%" + suffix, *clubs),
    )
    pool = [(core.account_info(account).owner_id, int(balance)) for account, balance in rows]
    pool.sort()
    rng = random.Random(hashlib.sha256(f"{seed}:{lottery_id}".encode()).digest())
    winners: list[int] = []
    while pool and len(winners) < count:
        total = sum(w for _, w in pool)
        pick = rng.randrange(total)
        for i, (member_id, weight) in enumerate(pool):
            if pick < weight:
                winners.append(member_id)
                pool.pop(i)
                break
            pick -= weight
    return winners
