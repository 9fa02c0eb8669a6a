"""Idempotency-Key for the POSTs whose answer the API keeps (``idempotency="record"``).

The first request with a key claims it (a row with status 0 and a lease) in its own transaction;
the same key and body again gets the first answer, marked ``Idempotent-Replayed: true``; the same
key with another body is refused ``exists_with_different_request``; a second request while the
first is still being answered waits for it (up to :data:`WAIT_S`, then 409
``idempotency_in_progress`` with ``Retry-After``). Server errors are not kept: the claim is dropped
so a retry runs again. A claim whose process died is taken over once its lease ends.

POSTs that move value (purchases, refunds, ...) are ``service``: the service keeps the key in the
same transaction as the operation, so even a crash between the commit and the answer cannot run
one twice. The operations kept here (making a merchant, a key, a rule set version) are checked
the same way, but a crash in that narrow gap can make a retry run one again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from kimia.errors import reject
from kimia.service.api import Kimia
from kimia.service.sql import Tx

#: How long a claim is held before another request may take it over (the process is gone).
LEASE_S = 60
#: How long a second request with a key being answered waits for the first.
WAIT_S = 10.0
_POLL_S = 0.02


@dataclass(frozen=True)
class Stored:
    status: int
    body: str


def request_hash(method: str, path: str, body: Any) -> str:
    text = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(svc: Kimia, key_id: int, idem_key: str, digest: str) -> Stored | None:
    """Claim ``idem_key`` for this request (None: run it), or the first answer to give again."""
    deadline = time.monotonic() + WAIT_S
    while True:
        now = svc.clock()
        won, row = svc.write(lambda tx: _try_claim(tx, key_id, idem_key, digest, now))
        if won:
            return None
        stored_hash, status, response = row
        if stored_hash != digest:
            raise reject("exists_with_different_request", path="Idempotency-Key")
        if status:
            return Stored(int(status), str(response))
        if time.monotonic() > deadline:
            raise reject("idempotency_in_progress", path="Idempotency-Key")
        time.sleep(_POLL_S)


def _try_claim(tx: Tx, key_id: int, idem_key: str, digest: str, now: int) -> tuple[bool, Any]:
    row = tx.one("SELECT request_hash, status, response, lease_until FROM api_requests WHERE key_id = ? AND idem_key = ?",
                 (key_id, idem_key))
    if row is None:
        tx.execute("INSERT INTO api_requests (key_id, idem_key, request_hash, status, created_at, lease_until) VALUES (?,?,?,0,?,?)",
                   (key_id, idem_key, digest, now, now + LEASE_S))
        return True, None
    if row[0] == digest and not row[1] and int(row[3]) < now:
        tx.execute("UPDATE api_requests SET lease_until = ? WHERE key_id = ? AND idem_key = ?", (now + LEASE_S, key_id, idem_key))
        return True, None
    return False, row[:3]


def finish(svc: Kimia, key_id: int, idem_key: str, status: int, body: str) -> None:
    """Keep the answer to a claimed key."""
    svc.write(lambda tx: tx.execute("UPDATE api_requests SET status = ?, response = ? WHERE key_id = ? AND idem_key = ?",
                                    (status, body, key_id, idem_key)))


def release(svc: Kimia, key_id: int, idem_key: str) -> None:
    """Drop a claim whose request failed on the server's side, so a retry runs again."""
    svc.write(lambda tx: tx.execute("DELETE FROM api_requests WHERE key_id = ? AND idem_key = ? AND status = 0", (key_id, idem_key)))
