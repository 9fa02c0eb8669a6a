"""Tier periods: closing one for a whole club (chunked, restartable: kimia.service.period)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from kimia.errors import Phrase, Rejected, reject
from kimia.service.host import Host
from kimia.service.requests import check_actor
from kimia.service.clubs import club_settings, club_tree
from kimia.service.period import close_chunk, last_closed_end, open_close, running_close
from kimia.service import period

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


