"""The audit log: every manual or bulk action, masked, append-only and hash-chained.

- **Masked**: nothing an operator passes reaches a row in clear. Card numbers anywhere in the
  actor, the reason or the payload are cut to their last 4 digits, and the identifier the
  operation named its member by (a bank or club card, a national code) is replaced by its mask
  wherever it appears, in any digits (``mask``).
- **Append-only**: triggers refuse UPDATE and DELETE of ``audit_log`` and ``journal`` rows on both
  databases (migration 0005).
- **Chained**: each row stores ``chain_hash = SHA-256(previous row's chain_hash + "\\n" +
  canonical JSON of this row)`` (the first row chains from ""). ``verify_chain`` (run by
  ``kimia check``) recomputes the chain, so a row edited, deleted or inserted behind kimia's back
  breaks it from that row on. Deleting the *newest* rows leaves a shorter valid chain: record the
  head that ``kimia check`` prints somewhere else (a ticket, a daily e-mail) to detect that too.

Rows are chained in id order. Appending takes a lock first (PostgreSQL: a transaction-level
advisory lock; SQLite: writes are already serialised by ``BEGIN IMMEDIATE``), so two transactions
never chain from the same row.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from kimia import identifiers as ids
from kimia.service.sql import Tx

#: The key of PostgreSQL's advisory lock that serialises appends to the chain ("kimia" + 1).
CHAIN_LOCK = 0x6B696D696101
_DIGIT_FORMS = {str(d): f"[{d}{ids._PERSIAN_DIGITS[d]}{ids._ARABIC_DIGITS[d]}]" for d in range(10)}
_SEPARATORS = "[ \\-\u200c\u200f\u200e]?"


def canonical(club_id: int | None, actor: str, action: str, reason: str, payload: Any, at: int) -> str:
    """The text of a row that the chain covers (sorted keys, no spaces, payload as stored)."""
    row = {"club_id": club_id, "actor": actor, "action": action, "reason": reason, "payload": payload, "at": at}
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(prev: str, club_id: int | None, actor: str, action: str, reason: str, payload: Any, at: int) -> str:
    return hashlib.sha256((prev + "\n" + canonical(club_id, actor, action, reason, payload, at)).encode()).hexdigest()


def _secret_pattern(value: str) -> re.Pattern[str]:
    """``value`` (ASCII digits) written with any digit script and spaces or dashes between digits."""
    return re.compile(_SEPARATORS.join(_DIGIT_FORMS.get(ch, re.escape(ch)) for ch in value))


_DIGIT_RUN = re.compile(r"[0-9\u0660-\u0669\u06f0-\u06f9](?:[ \-]?[0-9\u0660-\u0669\u06f0-\u06f9]){7,18}")


def digit_runs(text: str) -> set[str]:
    """Every run of 8 to 19 digits in ``text`` (any script, spaces or dashes between), as ASCII
    digits: what could be a club card number."""
    return {ids.normalize_digits(run) for run in _DIGIT_RUN.findall(text)}


def mask(text: str, secrets: Sequence[tuple[str, str]] = ()) -> str:
    """``text`` with every Luhn-valid card number cut to its last 4 and each ``(value, mask)`` of
    ``secrets`` replaced by its mask."""
    for value, masked in secrets:
        if value:
            text = _secret_pattern(value).sub(masked, text)
    return ids.mask_pans_in_text(text, keep_bin=False)


def _masked(value: Any, secrets: Sequence[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        return mask(value, secrets)
    if isinstance(value, dict):
        return {mask(str(k), secrets): _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v, secrets) for v in value]
    return value


def prepare(actor: str, reason: str, payload: Any, secrets: Sequence[tuple[str, str]] = ()) -> tuple[str, str, Any]:
    """(actor, reason, payload) masked, the payload as it reads back from the database."""
    clean = json.loads(json.dumps(_masked(payload, secrets), ensure_ascii=False))
    return mask(actor, secrets), mask(reason, secrets), clean


def append(
    tx: Tx,
    *,
    club_id: int | None,
    actor: str,
    action: str,
    reason: str,
    payload: Any,
    at: int,
    secrets: Sequence[tuple[str, str]] = (),
) -> None:
    """Append one masked, chained row to the audit log inside the caller's write transaction."""
    actor, reason, payload = prepare(actor, reason, payload, secrets)
    if not tx.sqlite:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (CHAIN_LOCK,))
    row = tx.one("SELECT chain_hash FROM audit_log ORDER BY id DESC LIMIT 1")
    chained = link(row[0] if row else "", club_id, actor, action, reason, payload, at)
    tx.execute(
        "INSERT INTO audit_log (club_id, actor, action, reason, payload, at, chain_hash) VALUES (?,?,?,?,?,?,?)",
        (club_id, actor, action, reason, json.dumps(payload, ensure_ascii=False), at, chained),
    )


def append_many(tx: Tx, entries: Sequence[tuple[int | None, str, str, str, Any, int]]) -> None:
    """``append`` for many rows at once, (club_id, actor, action, reason, payload, at) each, chained
    in order from the current head with one lock, one read and one multi-row insert (bulk paths
    such as a tier period close)."""
    if not entries:
        return
    if not tx.sqlite:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (CHAIN_LOCK,))
    row = tx.one("SELECT chain_hash FROM audit_log ORDER BY id DESC LIMIT 1")
    prev = row[0] if row else ""
    rows: list[tuple[Any, ...]] = []
    for club_id, actor, action, reason, payload, at in entries:
        actor, reason, payload = prepare(actor, reason, payload)
        prev = link(prev, club_id, actor, action, reason, payload, at)
        rows.append((club_id, actor, action, reason, json.dumps(payload, ensure_ascii=False), at, prev))
    tx.insert_rows("audit_log", ("club_id", "actor", "action", "reason", "payload", "at", "chain_hash"), rows)


def append_orm(session: Any, *, club_id: int | None, actor: str, action: str, reason: str, payload: Any, at: int) -> None:
    """``append`` for an ORM session (kimia.service.admin): the row is flushed at once, so a second
    row of the same transaction chains from it."""
    from sqlalchemy import text

    from kimia.store.models import AuditLog

    actor, reason, payload = prepare(actor, reason, payload)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    session.flush()
    prev = conn.execute(text("SELECT chain_hash FROM audit_log ORDER BY id DESC LIMIT 1")).scalar()
    session.add(AuditLog(club_id=club_id, actor=actor, action=action, reason=reason, payload=payload, at=at,
                         chain_hash=link(prev or "", club_id, actor, action, reason, payload, at)))
    session.flush()


def verify_chain(rows: Iterable[Sequence[Any]], limit: int = 50) -> tuple[int, str, list[str]]:
    """(rows, head hash, problems) of the chain over ``(id, club_id, actor, action, reason, payload,
    at, chain_hash)`` rows in id order. After a break the chain goes on from the stored hash, so
    one edited row is reported once, not with every row after it."""
    count, prev = 0, ""
    problems: list[str] = []
    for row_id, club_id, actor, action, reason, payload, at, stored in rows:
        count += 1
        data = payload if not isinstance(payload, str) else json.loads(payload)
        if link(prev, club_id, actor, action, reason, data, int(at)) != stored and len(problems) < limit:
            problems.append(f"audit log row {row_id} does not match the chain: it or the row before it was edited, deleted"
                            " or inserted outside kimia")
        prev = stored or ""
    return count, prev, problems


def chain_rows(tx: Tx) -> Iterable[Sequence[Any]]:
    """Every audit row in id order, fetched in chunks."""
    cursor = tx.execute("SELECT id, club_id, actor, action, reason, payload, at, chain_hash FROM audit_log ORDER BY id")
    while rows := cursor.fetchmany(5_000):
        yield from rows


__all__ = ["CHAIN_LOCK", "append", "append_orm", "canonical", "chain_rows", "digit_runs", "link", "mask", "prepare", "verify_chain"]
