"""The JSON API's keys: made, looked up, revoked and listed (kimia.web.api.auth checks them).

A key is ``kimia_<kind>_<public id>_<secret>``. Only SHA-256 of the secret is stored (the secret
is 256 random bits, so a fast hash is enough: nothing can be guessed from it, as GitHub and Stripe
keep theirs); the whole key is shown once, when it is made, and never again. Kinds:

- ``platform``: the platform's operator (clubs, owners, fee tariffs, a club's first keys);
- ``management``: one club's back office (everything of the club and its sub-clubs);
- ``integration``: a club's apps, sites and cash registers, optionally bound to one merchant or
  one branch (then it acts only as that merchant);
- ``member``: a token an integration mints for one member (a phone reads only its member);
  it expires (an hour unless asked otherwise, a day at most).

Making and revoking a key (member tokens excepted: they expire on their own) is in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal, get_args

from kimia.errors import reject
from kimia.service import audit
from kimia.service.host import Host
from kimia.service.sql import Tx

KeyKind = Literal["platform", "management", "integration", "member"]
KINDS: tuple[str, ...] = get_args(KeyKind)
PREFIX: dict[str, str] = {"platform": "pk", "management": "mk", "integration": "ik", "member": "mt"}
#: A member token's life unless asked otherwise, and the longest it may have.
MEMBER_TOKEN_TTL_S = 3600
MEMBER_TOKEN_MAX_TTL_S = 86_400

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_COLUMNS = ("id, public_id, secret_hash, kind, club_id, merchant_id, branch_id, member_id, label, rate_per_min, "
            "created_by, created_at, expires_at, revoked_at, last_used_at")


@dataclass(frozen=True)
class ApiKeyRow:
    """A stored key (never its secret)."""

    id: int
    public_id: str
    secret_hash: str
    kind: str
    club_id: int | None
    merchant_id: int | None
    branch_id: int | None
    member_id: int | None
    label: str
    rate_per_min: int | None
    created_by: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None

    def usable(self, now: int) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _row(values: Any) -> ApiKeyRow:
    return ApiKeyRow(*values)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(public id, secret) of a presented key, or None when it is not shaped as a kimia key."""
    parts = token.split("_")
    if len(parts) != 4 or parts[0] != "kimia" or parts[1] not in PREFIX.values():
        return None
    if not (8 <= len(parts[2]) <= 24 and parts[2].isalnum() and 20 <= len(parts[3]) <= 64):
        return None
    return parts[2], parts[3]


def matches(row: ApiKeyRow, secret: str) -> bool:
    return hmac.compare_digest(row.secret_hash, secret_hash(secret))


def lookup(svc: Host, public_id: str) -> ApiKeyRow | None:
    with svc.reading() as tx:
        found = tx.one(f"SELECT {_COLUMNS} FROM api_keys WHERE public_id = ?", (public_id,))
    return _row(found) if found else None


def create(svc: Host, *, kind: str, club_id: int | None, actor: str, label: str = "", merchant_id: int | None = None,
           branch_id: int | None = None, member_id: int | None = None, rate_per_min: int | None = None,
           ttl_s: int | None = None) -> tuple[ApiKeyRow, str]:
    """Make a key; returns it and the whole key (shown once). The references must be the club's."""
    if kind not in KINDS:
        raise reject("field_invalid", path="kind", detail=f"one of {', '.join(KINDS)}")
    if kind == "platform" and club_id is not None or kind != "platform" and club_id is None:
        raise reject("field_invalid", path="club_id", detail="a platform key has no club; every other key has one")
    if rate_per_min is not None and not 1 <= rate_per_min <= 1_000_000:
        raise reject("field_invalid", path="rate_per_min", detail="between 1 and 1000000")
    now = svc.clock()
    expires_at = None
    if kind == "member":
        ttl = MEMBER_TOKEN_TTL_S if ttl_s is None else ttl_s
        if not 60 <= ttl <= MEMBER_TOKEN_MAX_TTL_S:
            raise reject("field_invalid", path="ttl_s", detail=f"seconds between 60 and {MEMBER_TOKEN_MAX_TTL_S}")
        expires_at = now + ttl
    public_id = secrets.token_hex(6)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(43))  # 256 bits; no "_" inside
    token = f"kimia_{PREFIX[kind]}_{public_id}_{secret}"

    def work(tx: Tx) -> ApiKeyRow:
        _check_refs(svc, tx, club_id, merchant_id, branch_id, member_id)
        tx.execute(
            "INSERT INTO api_keys (public_id, secret_hash, kind, club_id, merchant_id, branch_id, member_id, label, rate_per_min,"
            " created_by, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (public_id, secret_hash(secret), kind, club_id, merchant_id, branch_id, member_id, label[:200], rate_per_min, actor[:100],
             now, expires_at))
        if kind != "member":
            audit.append(tx, club_id=club_id, actor=actor, action="api_key_created", reason=label,
                         payload={"public_id": public_id, "kind": kind, "merchant_id": merchant_id, "branch_id": branch_id}, at=now)
        return _row(tx.one(f"SELECT {_COLUMNS} FROM api_keys WHERE public_id = ?", (public_id,)))

    return svc.write(work), token


def _check_refs(svc: Host, tx: Tx, club_id: int | None, merchant_id: int | None, branch_id: int | None, member_id: int | None) -> None:
    """A key's club must exist, and its merchant, branch and member must be that club's (its tree's)."""
    if club_id is None:
        return
    if tx.one("SELECT 1 FROM clubs WHERE id = ?", (club_id,)) is None:
        raise reject("unknown_club", path="club_id")
    root = svc.caches.root_club(tx, club_id)
    if branch_id is not None:
        row = tx.one("SELECT merchant_id FROM branches WHERE id = ?", (branch_id,))
        if row is None or merchant_id is not None and int(row[0]) != merchant_id:
            raise reject("foreign_reference", path="branch_id", kind="branch", id=branch_id)
        merchant_id = int(row[0])
    if merchant_id is not None:
        row = tx.one("SELECT club_id FROM merchants WHERE id = ?", (merchant_id,))
        if row is None or svc.caches.root_club(tx, int(row[0])) != root:
            raise reject("foreign_reference", path="merchant_id", kind="merchant", id=merchant_id)
    if member_id is not None:
        row = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
        if row is None or svc.caches.root_club(tx, int(row[0])) != root:
            raise reject("unknown_member", path="member_id")


def revoke(svc: Host, public_id: str, *, club_id: int | None, actor: str, reason: str = "") -> ApiKeyRow:
    """Revoke a key of ``club_id`` (None: any key, the platform's call); revoking twice is no error."""
    now = svc.clock()

    def work(tx: Tx) -> ApiKeyRow:
        found = tx.one(f"SELECT {_COLUMNS} FROM api_keys WHERE public_id = ?", (public_id,))
        if found is None or club_id is not None and found[4] != club_id:
            raise reject("not_found", path="public_id", what="API key")
        row = _row(found)
        if row.revoked_at is None:
            tx.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (now, row.id))
            audit.append(tx, club_id=row.club_id, actor=actor, action="api_key_revoked", reason=reason,
                         payload={"public_id": public_id, "kind": row.kind}, at=now)
        return _row(tx.one(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (row.id,)))

    return svc.write(work)


def list_keys(svc: Host, club_id: int | None, *, after_id: int = 0, limit: int = 50) -> list[ApiKeyRow]:
    """The keys of a club (None: the platform's own), member tokens left out, oldest first."""
    where = "club_id = ?" if club_id is not None else "club_id IS NULL"
    params: tuple[Any, ...] = (club_id, after_id, limit) if club_id is not None else (after_id, limit)
    with svc.reading() as tx:
        rows = tx.all(f"SELECT {_COLUMNS} FROM api_keys WHERE {where} AND kind <> 'member' AND id > ? ORDER BY id LIMIT ?", params)
    return [_row(r) for r in rows]


def touch(svc: Host, used: dict[int, int]) -> None:
    """Record when keys were last used (``{key id: time}``), batched by the caller."""
    if not used:
        return

    def work(tx: Tx) -> None:
        tx.executemany("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [(at, key_id) for key_id, at in used.items()])

    svc.write(work)
