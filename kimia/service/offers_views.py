"""Reads the panel's offers pages need beyond the API's (issue 16): a club's tier period closes, a
platform's settlement totals per club for a day, the audit log of every club (the platform
operator's), and whether the audit log's hash chain holds (what ``kimia check`` verifies).

Reads only, parameters bound. A club's reads are scoped by its root club (``period_closes`` rows
are the root's, as :mod:`kimia.service.period` writes them); the platform's reads are of every
club, for the platform operator only (the page declares that role).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kimia.service import audit
from kimia.service.backoffice_views import MAX_PAGE, AuditEntry, _json
from kimia.service.host import Host

#: Settlement roles in the order a settlement reads them.
SETTLEMENT_ROLES = ("merchant", "merchant_marketer", "marketer", "club_owner", "platform")


# --- tier period closes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CloseRow:
    """A tier period close of a club, as ``period_closes`` records it."""

    period_end: int
    status: str
    members_total: int
    members_done: int
    actor: str
    started_at: int
    finished_at: int | None


def period_close_history(svc: Host, root: int, *, limit: int = 50) -> list[CloseRow]:
    """The tier period closes of the club tree of ``root``, newest first."""
    with svc.reading() as tx:
        rows = tx.all("SELECT period_end, status, members_total, members_done, actor, started_at, finished_at FROM period_closes"
                      " WHERE club_id = ? ORDER BY period_end DESC LIMIT ?", (root, min(limit, MAX_PAGE)))
    return [CloseRow(int(r[0]), str(r[1]), int(r[2]), int(r[3]), str(r[4]), int(r[5]), None if r[6] is None else int(r[6]))
            for r in rows]


# --- the platform's settlement ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClubSettlement:
    """One root club's settlement totals of a local day: per role and in all."""

    club_id: int
    name_fa: str
    name_en: str
    by_role: dict[str, int] = field(default_factory=dict)
    total_rial: int = 0
    legs: int = 0


def platform_settlement(svc: Host, day: int) -> list[ClubSettlement]:
    """Every root club's settlement of its local ``day`` (days since 1970-01-01), by club id;
    clubs without a payment that day are left out. One indexed read per club (``split_legs``
    by club and day)."""
    found = []
    with svc.reading() as tx:
        clubs = tx.all("SELECT id, name_fa, name_en FROM clubs WHERE parent_id IS NULL ORDER BY id")
        for club_id, name_fa, name_en in clubs:
            rows = tx.all("SELECT role, SUM(amount_rial), COUNT(*) FROM split_legs WHERE club_id = ? AND day = ? GROUP BY role",
                          (club_id, day))
            if not rows:
                continue
            by_role = {str(r[0]): int(r[1]) for r in rows}
            found.append(ClubSettlement(int(club_id), str(name_fa), str(name_en or ""), by_role, sum(by_role.values()),
                                        sum(int(r[2]) for r in rows)))
    return found


# --- the audit log ------------------------------------------------------------------------------------


def platform_audit_log(svc: Host, *, before_id: int, limit: int, action: str | None = None, actor: str | None = None,
                       club_id: int | None = None) -> list[AuditEntry]:
    """Rows of the whole audit log (every club's and the platform's own), newest first, before
    ``before_id`` (0: from the newest), optionally of one action, one actor, one club only."""
    with svc.reading() as tx:
        where, params = ["1 = 1"], list[Any]()
        for column, value in (("id <", before_id or None), ("action =", action), ("actor =", actor), ("club_id =", club_id)):
            if value is not None:
                where.append(f"{column} ?")
                params.append(value)
        rows = tx.all(f"SELECT id, club_id, actor, action, reason, payload, at FROM audit_log WHERE {' AND '.join(where)}"
                      " ORDER BY id DESC LIMIT ?", (*params, min(limit, MAX_PAGE)))
    return [AuditEntry(int(r[0]), None if r[1] is None else int(r[1]), str(r[2]), str(r[3]), str(r[4]), _json(r[5]), int(r[6]))
            for r in rows]


@dataclass(frozen=True)
class ChainStatus:
    """The audit log's hash chain, verified now (``kimia check``'s invariant 8)."""

    rows: int
    head: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


#: The last verification per service: (last row id, rows, head, problems, when).
_VERIFIED: dict[int, tuple[int, int, str, list[str], float]] = {}
#: Seconds before the whole chain is verified again from its first row (in between, only rows
#: appended since the last verification are, from the head it ended at).
FULL_CHECK_S = 600


def audit_chain(svc: Host, *, full: bool = False) -> ChainStatus:
    """Recompute the audit log's chain (kimia.service.audit.verify_chain): from its first row at
    most every ``FULL_CHECK_S``, else from the head the last verification ended at, if that row
    still holds that hash (a log with millions of rows is not rehashed on every page)."""
    now = time.monotonic()
    with svc.reading() as tx:
        known = _VERIFIED.get(id(svc))
        if known is not None and not full and now - known[4] < FULL_CHECK_S:
            last_id, count, head, problems, checked = known
            row = tx.one("SELECT chain_hash FROM audit_log WHERE id = ?", (last_id,)) if last_id else None
            if (row[0] if row else "") == head:
                rows = tx.execute("SELECT id, club_id, actor, action, reason, payload, at, chain_hash FROM audit_log"
                                  " WHERE id > ? ORDER BY id", (last_id,)).fetchall()
                more, new_head, found = _verify_from(head, rows)
                last = int(rows[-1][0]) if rows else last_id
                _VERIFIED[id(svc)] = (last, count + more, new_head, (problems + found)[:50], checked)
                return ChainStatus(count + more, new_head, (problems + found)[:50])
        ids: list[int] = [0]

        def tracked() -> Iterator[Sequence[Any]]:
            for chained in audit.chain_rows(tx):
                ids[0] = int(chained[0])
                yield chained

        count, head, problems = audit.verify_chain(tracked())
        last = ids[0]
    _VERIFIED[id(svc)] = (last, count, head, problems, now)
    return ChainStatus(count, head, problems)


def _verify_from(prev: str, rows: list[Any]) -> tuple[int, str, list[str]]:
    """verify_chain over ``rows`` continuing from the hash ``prev``."""
    problems: list[str] = []
    for row_id, club_id, actor, action, reason, payload, at, stored in rows:
        data = payload if not isinstance(payload, str) else json.loads(payload)
        if audit.link(prev, club_id, actor, action, reason, data, int(at)) != stored:
            problems.append(f"audit log row {row_id} does not match the chain: it or the row before it was edited, deleted"
                            " or inserted outside kimia")
        prev = stored or ""
    return len(rows), prev, problems


__all__ = ["SETTLEMENT_ROLES", "ChainStatus", "ClubSettlement", "CloseRow", "audit_chain", "period_close_history",
           "platform_audit_log", "platform_settlement"]
