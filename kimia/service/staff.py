"""The panel's people and sessions: staff users, their passwords, and the server-side sessions of
staff and of members in the portal (kimia.web.panel uses these; nothing here knows HTTP).

- A **user** has a login, a name, a role and where it works: the platform (role ``platform``, no
  club), a club (``admin``, ``marketer``, ``support``, ``read_only``: the club and its sub-clubs)
  or one merchant (``merchant``: that merchant only). Passwords are kept as argon2id hashes
  (argon2-cffi's defaults, RFC 9106's second recommended set), rehashed on sign-in when the
  parameters change. After :data:`MAX_FAILURES` wrong passwords in a row the user is locked for
  :data:`LOCK_S` seconds; a wrong login and a wrong password answer alike (``login_failed``).
- A **session** is a random 256-bit token in an HttpOnly cookie; the database keeps its SHA-256
  only. It ends on logout, when its user is disabled or changes password, after
  :data:`IDLE_S` seconds unused, and :data:`LIFE_S` seconds after sign-in at the latest. Each
  carries its own CSRF token, which every form posts back.

Creating, disabling and re-enabling users and changing a password are in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kimia.errors import reject
from kimia.service import audit
from kimia.service.host import Host
from kimia.service.sql import Tx

Role = Literal["platform", "admin", "marketer", "support", "read_only", "merchant"]
ROLES: tuple[str, ...] = get_args(Role)
#: Roles of a club's own staff (they see the club and its sub-clubs).
CLUB_ROLES = frozenset({"admin", "marketer", "support", "read_only"})
MIN_PASSWORD_LENGTH = 10
MAX_FAILURES = 5
LOCK_S = 15 * 60
IDLE_S = 30 * 60
LIFE_S = 12 * 3600
#: last_seen_at is written at most this often (a page view is then a read, not a write).
TOUCH_EVERY_S = 60

_HASHER = PasswordHasher()  # argon2id, 64 MiB, 3 passes, 4 lanes
#: Checked against when the login is unknown, so both failures take an argon2 check's time.
_DUMMY_HASH = _HASHER.hash("kimia-no-such-user")
_USER_COLUMNS = "id, login, name, role, club_id, merchant_id, disabled, failures, locked_until, created_at"


@dataclass(frozen=True)
class User:
    """A panel user (never its password hash)."""

    id: int
    login: str
    name: str
    role: str
    club_id: int | None
    merchant_id: int | None
    disabled: bool
    failures: int
    locked_until: int
    created_at: int


@dataclass(frozen=True)
class Session:
    """An open session: a staff user's (``user`` set) or a member's (``member_id`` set)."""

    id: int
    kind: str
    user: User | None
    member_id: int | None
    club_id: int | None
    csrf_token: str
    expires_at: int


def _user(values: Any) -> User:
    row = list(values)
    row[6] = bool(row[6])
    return User(*row)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_login(login: str) -> str:
    return login.strip().lower()


def check_password(password: str, login: str) -> None:
    """``password_too_weak`` unless ``password`` is long enough and is not the login itself."""
    if len(password) < MIN_PASSWORD_LENGTH or password.strip().lower() == normalize_login(login):
        raise reject("password_too_weak", path="password", min_length=MIN_PASSWORD_LENGTH)


def _check_place(tx: Tx, role: str, club_id: int | None, merchant_id: int | None) -> None:
    """A platform user has no club; club staff a club; merchant staff a merchant (and its club)."""
    if role not in ROLES:
        raise reject("field_invalid", path="role", detail=f"one of {', '.join(ROLES)}")
    if role == "platform" and (club_id is not None or merchant_id is not None):
        raise reject("field_invalid", path="club_id", detail="a platform user has no club")
    if role != "platform" and club_id is None:
        raise reject("field_required", path="club_id")
    if club_id is not None and tx.one("SELECT 1 FROM clubs WHERE id = ?", (club_id,)) is None:
        raise reject("unknown_club", path="club_id")
    if role == "merchant":
        row = None if merchant_id is None else tx.one("SELECT club_id FROM merchants WHERE id = ?", (merchant_id,))
        if row is None or int(row[0]) != club_id:
            raise reject("foreign_reference", path="merchant_id", kind="merchant", id=merchant_id or 0)
    elif merchant_id is not None:
        raise reject("field_invalid", path="merchant_id", detail="only merchant staff belong to a merchant")


def create_user(svc: Host, *, login: str, name: str, role: str, password: str, actor: str, reason: str = "",
                club_id: int | None = None, merchant_id: int | None = None) -> User:
    """Make a panel user; ``login_taken`` when the login is someone's already."""
    login = normalize_login(login)
    if not 3 <= len(login) <= 100 or not all(c.isalnum() or c in "._-@" for c in login):
        raise reject("field_invalid", path="login", detail="3 to 100 letters, digits or . _ - @")
    check_password(password, login)
    hashed = _HASHER.hash(password)
    now = svc.clock()

    def work(tx: Tx) -> User:
        _check_place(tx, role, club_id, merchant_id)
        if tx.one("SELECT 1 FROM panel_users WHERE login = ?", (login,)) is not None:
            raise reject("login_taken", path="login")
        tx.execute(
            "INSERT INTO panel_users (login, name, role, club_id, merchant_id, password_hash, disabled, failures, locked_until,"
            " created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,0,0,?,?,?)",
            (login, name[:200], role, club_id, merchant_id, hashed, False, actor[:100], now, now))
        user = _user(tx.one(f"SELECT {_USER_COLUMNS} FROM panel_users WHERE login = ?", (login,)))
        audit.append(tx, club_id=club_id, actor=actor, action="panel_user_created", reason=reason,
                     payload={"user_id": user.id, "login": login, "role": role, "merchant_id": merchant_id}, at=now)
        return user

    return svc.write(work)


def get_user(svc: Host, user_id: int) -> User | None:
    with svc.reading() as tx:
        row = tx.one(f"SELECT {_USER_COLUMNS} FROM panel_users WHERE id = ?", (user_id,))
    return _user(row) if row else None


def user_for(svc: Host, user_id: int, *, club_id: int | None, any_club: bool = False) -> User:
    """A user as a manager may see it: one of ``club_id``'s (None: the platform's own), or any
    user when ``any_club`` (the platform's operator); ``not_found`` otherwise, so another club's
    users are never told apart from users that do not exist."""
    user = get_user(svc, user_id) if 0 < user_id < 2**63 else None
    if user is None or not any_club and user.club_id != club_id:
        raise reject("not_found", path="user_id", what="user")
    return user


def list_users(svc: Host, club_id: int | None) -> list[User]:
    """The users of a club (None: the platform's own), by login."""
    where = "club_id = ?" if club_id is not None else "club_id IS NULL"
    with svc.reading() as tx:
        rows = tx.all(f"SELECT {_USER_COLUMNS} FROM panel_users WHERE {where} ORDER BY login",
                      (club_id,) if club_id is not None else ())
    return [_user(r) for r in rows]


def authenticate(svc: Host, login: str, password: str) -> User:
    """The user whose login and password these are; ``login_failed`` otherwise (unknown login,
    wrong password and disabled user answer alike), ``login_throttled`` while locked."""
    login = normalize_login(login)
    with svc.reading() as tx:
        row = tx.one(f"SELECT {_USER_COLUMNS}, password_hash FROM panel_users WHERE login = ?", (login,))
    now = svc.clock()
    if row is None:
        _verify(_DUMMY_HASH, password)
        raise reject("login_failed")
    user, stored = _user(row[:-1]), str(row[-1])
    if user.locked_until > now:
        raise reject("login_throttled", retry_after_s=user.locked_until - now)
    if not _verify(stored, password) or user.disabled:
        _count_failure(svc, user.id, now)
        raise reject("login_failed")
    rehash = _HASHER.check_needs_rehash(stored)
    svc.write(lambda tx: tx.execute(
        "UPDATE panel_users SET failures = 0, locked_until = 0" + (", password_hash = ?" if rehash else "") + " WHERE id = ?",
        ((_HASHER.hash(password), user.id) if rehash else (user.id,))))
    return user


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _count_failure(svc: Host, user_id: int, now: int) -> None:
    def work(tx: Tx) -> None:
        tx.execute("UPDATE panel_users SET failures = failures + 1 WHERE id = ?", (user_id,))
        tx.execute("UPDATE panel_users SET locked_until = ?, failures = 0 WHERE id = ? AND failures >= ?",
                   (now + LOCK_S, user_id, MAX_FAILURES))

    svc.write(work)


def set_disabled(svc: Host, user_id: int, disabled: bool, *, actor: str, reason: str) -> User:
    """Disable (and sign out everywhere) or re-enable a user; in the audit log with its reason."""
    if not reason.strip():
        raise reject("reason_required", path="reason")
    now = svc.clock()

    def work(tx: Tx) -> User:
        row = tx.one(f"SELECT {_USER_COLUMNS} FROM panel_users WHERE id = ?", (user_id,))
        if row is None:
            raise reject("not_found", path="user_id", what="user")
        tx.execute("UPDATE panel_users SET disabled = ?, updated_at = ? WHERE id = ?", (disabled, now, user_id))
        if disabled:
            _revoke_user_sessions(tx, user_id, now)
        audit.append(tx, club_id=row[4], actor=actor, action="panel_user_disabled" if disabled else "panel_user_enabled",
                     reason=reason, payload={"user_id": user_id, "login": row[1]}, at=now)
        return _user(tx.one(f"SELECT {_USER_COLUMNS} FROM panel_users WHERE id = ?", (user_id,)))

    return svc.write(work)


def set_password(svc: Host, user_id: int, password: str, *, actor: str, reason: str = "") -> None:
    """A new password; every session of the user ends (a stolen session does not outlive it)."""
    now = svc.clock()
    user = get_user(svc, user_id)
    if user is None:
        raise reject("not_found", path="user_id", what="user")
    check_password(password, user.login)
    hashed = _HASHER.hash(password)

    def work(tx: Tx) -> None:
        tx.execute("UPDATE panel_users SET password_hash = ?, failures = 0, locked_until = 0, updated_at = ? WHERE id = ?",
                   (hashed, now, user_id))
        _revoke_user_sessions(tx, user_id, now)
        audit.append(tx, club_id=user.club_id, actor=actor, action="panel_password_set", reason=reason,
                     payload={"user_id": user_id, "login": user.login}, at=now)

    svc.write(work)


# --- sessions ------------------------------------------------------------------------------------

SessionKind = Literal["staff", "member"]


def open_session(svc: Host, *, kind: SessionKind, user_id: int | None = None, member_id: int | None = None,
                 club_id: int | None = None, address: str = "") -> tuple[str, str]:
    """A new session; returns (the cookie's token, the session's CSRF token)."""
    if (kind == "staff") != (user_id is not None) or (kind == "member") != (member_id is not None):
        raise ValueError("a staff session has a user; a member session has a member")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = svc.clock()
    svc.write(lambda tx: tx.execute(
        "INSERT INTO panel_sessions (token_hash, kind, user_id, member_id, club_id, csrf_token, created_at, last_seen_at,"
        " expires_at, address) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (token_hash(token), kind, user_id, member_id, club_id, csrf, now, now, now + LIFE_S, address[:64])))
    return token, csrf


def session_of(svc: Host, token: str) -> Session | None:
    """The live session of a cookie's token, or None (unknown, revoked, idle too long, past its
    life, or its user disabled). Refreshes last_seen_at at most once a minute."""
    if not token or len(token) > 100:
        return None
    now = svc.clock()
    with svc.reading() as tx:
        row = tx.one("SELECT id, kind, user_id, member_id, club_id, csrf_token, expires_at, last_seen_at, revoked_at"
                     " FROM panel_sessions WHERE token_hash = ?", (token_hash(token),))
        if row is None or row[8] is not None or now >= int(row[6]) or now - int(row[7]) > IDLE_S:
            return None
        user = None
        if row[2] is not None:
            found = tx.one(f"SELECT {_USER_COLUMNS} FROM panel_users WHERE id = ?", (row[2],))
            user = _user(found) if found else None
            if user is None or user.disabled:
                return None
    if now - int(row[7]) >= TOUCH_EVERY_S:
        svc.write(lambda tx: tx.execute("UPDATE panel_sessions SET last_seen_at = ? WHERE id = ?", (now, row[0])))
    return Session(id=int(row[0]), kind=str(row[1]), user=user, member_id=row[3], club_id=row[4],
                   csrf_token=str(row[5]), expires_at=int(row[6]))


def csrf_matches(session: Session, presented: str) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf_token, presented)


def revoke_session(svc: Host, token: str) -> None:
    """Logout: the session ends at once, in every process (each request reads it)."""
    now = svc.clock()
    svc.write(lambda tx: tx.execute("UPDATE panel_sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                                    (now, token_hash(token))))


def _revoke_user_sessions(tx: Tx, user_id: int, now: int) -> None:
    tx.execute("UPDATE panel_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", (now, user_id))
