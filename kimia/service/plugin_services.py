"""What a plugin is handed: kimia's public service calls behind the plain interface of
``kimia.plugins.types`` (``Services``, ``Db``). Plugins never see the service object, its
connections or its caches; kimia keeps the right to change those.

A plugin's writes run in the service's one write path (``Kimia.write``: a savepoint inside the
writer's group commit), so they are serialised with every purchase of the process and land with
their audit rows and outbox events or not at all.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from kimia.errors import KimiaError, Phrase, reject
from kimia.plugins.types import DaySales, MemberInfo, MerchantInfo, Refusal
from kimia.service import audit, outbox, terminalkeys
from kimia.service.requests import MemberRef
from kimia.service.sql import Tx

if TYPE_CHECKING:
    from kimia.service.api import Kimia

T = TypeVar("T")

#: The member keys a plugin may name a member by (as a terminal's ``MK``).
_KEY_KINDS = {"M": "mobile", "N": "national_code", "C": "club_card", "A": "account"}
#: Settings a plugin is never given (:meth:`PluginServices.setting`).
_HIDDEN_SETTINGS = frozenset({"card_key", "old_card_keys", "database_url"})


@contextmanager
def as_refusals() -> Iterator[None]:
    """kimia's refusals of a plugin's call raised as the contract's ``Refusal`` (carrying kimia's
    own error, so the channel answers it worded as kimia words it)."""
    try:
        yield
    except KimiaError as error:
        refusal = Refusal(error.code, error.path, **error.params)
        refusal.error = error
        raise refusal from None


F = TypeVar("F", bound=Callable[..., Any])


def _refusing(call: F) -> F:
    """A ``Services`` call whose refusals reach the plugin as ``Refusal`` (see :func:`as_refusals`)."""
    @functools.wraps(call)
    def run(*args: Any, **kwargs: Any) -> Any:
        with as_refusals():
            return call(*args, **kwargs)

    return cast(F, run)


def refusal_error(refusal: Refusal) -> KimiaError:
    """A plugin's refusal as kimia's own error (its code must be in the catalogue). A parameter
    that is words (``what``, ``detail``) may be given as ``(English, Persian)``."""
    if isinstance(refusal.error, KimiaError):
        return refusal.error
    params = {k: Phrase(str(v[0]), str(v[1])) if isinstance(v, tuple) and len(v) == 2 else v for k, v in refusal.params.items()}
    return reject(refusal.code, path=refusal.path, **params)  # type: ignore[arg-type]


class PluginDb:
    """One transaction, as ``kimia.plugins.types.Db`` describes it."""

    def __init__(self, tx: Tx, clock: Callable[[], int] | None = None) -> None:
        self._tx = tx
        self._clock = clock
        self.dialect: Literal["sqlite", "postgresql"] = "sqlite" if tx.sqlite else "postgresql"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._tx.execute(sql, params).rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self._tx.one(sql, params)
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._tx.all(sql, params)]

    def insert(self, table: str, row: Mapping[str, Any]) -> int:
        if not table.replace("_", "").isalnum() or not all(c.replace("_", "").isalnum() for c in row):
            raise ValueError(f"not a table or column name: {table} {list(row)}")
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        found = self._tx.one(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", tuple(row.values()))
        return int(found[0])

    def emit(self, event: str, *, club_id: int, key: str, payload: Mapping[str, Any], member_id: int | None = None) -> str:
        return outbox.emit(self._tx, event=event, club_id=club_id, key=key, payload=payload, at=self._now(), member_id=member_id)

    def audit(self, *, club_id: int | None, actor: str, action: str, reason: str, payload: Mapping[str, Any]) -> None:
        audit.append(self._tx, club_id=club_id, actor=actor, action=action, reason=reason, payload=dict(payload), at=self._now())

    def _now(self) -> int:
        if self._clock is None:
            from kimia.store.models import utc_now_s

            return utc_now_s()
        return self._clock()


class PluginServices:
    """``kimia.plugins.types.Services`` over one service (``Kimia.plugin_services``)."""

    def __init__(self, svc: Kimia) -> None:
        self._svc = svc

    def now(self) -> int:
        return self._svc.clock()

    @_refusing
    def write(self, work: Callable[[PluginDb], T]) -> T:
        clock = self._svc.clock

        def run(tx: Tx) -> T:
            try:
                return work(PluginDb(tx, clock))
            except Refusal as refusal:
                raise refusal_error(refusal) from None

        return self._svc.write(run)

    @_refusing
    def read(self, work: Callable[[PluginDb], T]) -> T:
        with self._svc.reading() as tx:
            try:
                return work(PluginDb(tx, self._svc.clock))
            except Refusal as refusal:
                raise refusal_error(refusal) from None

    @_refusing
    def merchant(self, merchant_id: int) -> MerchantInfo:
        with self._svc.reading() as tx:
            row = tx.one("SELECT id, club_id, name_fa, name_en FROM merchants WHERE id = ?", (merchant_id,))
            if row is None:
                raise reject("unknown_merchant")
            root = self._svc.caches.root_club(tx, int(row[1]))
        return MerchantInfo(int(row[0]), int(row[1]), root, str(row[2] or ""), str(row[3] or ""))

    @_refusing
    def merchants(self, club_id: int) -> list[MerchantInfo]:
        from kimia.service.clubs import club_tree

        with self._svc.reading() as tx:
            root = self._svc.caches.root_club(tx, club_id)
            clubs = club_tree(tx, club_id)
            rows = tx.all(f"SELECT id, club_id, name_fa, name_en FROM merchants WHERE club_id IN ({tx.placeholders(len(clubs))})"
                          " ORDER BY id", tuple(clubs))
        return [MerchantInfo(int(i), int(c), root, str(fa or ""), str(en or "")) for i, c, fa, en in rows]

    @_refusing
    def member(self, club_id: int, member_id: int) -> MemberInfo:
        from kimia.service.members import resolve_member

        with self._svc.reading() as tx:
            root = self._svc.caches.root_club(tx, club_id)
            found, member_club = resolve_member(self._svc, tx, root, MemberRef("id", str(member_id)))
            row = tx.one("SELECT name_fa, tier FROM members WHERE id = ?", (found,))
            mobile = tx.one("SELECT display FROM member_identifiers WHERE member_id = ? AND kind = 'mobile' ORDER BY id LIMIT 1", (found,))
        return MemberInfo(found, member_club, str(row[0] or ""), str(mobile[0]) if mobile else None, row[1])

    @_refusing
    def find_member(self, club_id: int, key: str) -> int | None:
        kind, sep, value = key.partition(":")
        if not sep or kind not in _KEY_KINDS or not value:
            raise reject("invalid_request", path="member", detail="a member key is M:, N:, C: or A: and a value")
        try:
            return self._svc.identify(club_id, MemberRef(_KEY_KINDS[kind], value))
        except KimiaError as exc:
            if exc.code == "unknown_member":
                return None
            raise

    @_refusing
    def utc_offset_min(self, club_id: int) -> int:
        with self._svc.reading() as tx:
            return self._svc.caches.utc_offset_min(tx, club_id)

    def secret_hash(self, purpose: str, value: str) -> str:
        key = hmac.new(self._svc.card_key, b"kimia-plugin-secret:" + purpose.encode(), hashlib.sha256).digest()
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    @_refusing
    def seal(self, purpose: str, value: str) -> str:
        return terminalkeys.seal(terminalkeys.load_kek(), value.encode(), f"kimia-plugin|{purpose}")

    @_refusing
    def unseal(self, purpose: str, sealed: str) -> str:
        return terminalkeys.unseal(terminalkeys.load_kek(), sealed, f"kimia-plugin|{purpose}").decode()

    def setting(self, name: str) -> str | None:
        if name in _HIDDEN_SETTINGS:
            return None
        value = getattr(self._svc.settings, name, None)
        return None if value is None or value == "" else str(value)

    @_refusing
    def card_sales(self, merchant_id: int, first_day: str, last_day: str) -> list[DaySales]:
        first, last = _day_number(first_day), _day_number(last_day)
        with self._svc.reading() as tx:
            rows = tx.all(
                "SELECT day, SUM(CASE WHEN kind = 'purchase' OR kind = 'completion' THEN 1 ELSE 0 END),"
                " SUM(CASE WHEN kind = 'purchase' OR kind = 'completion' THEN amount_rial ELSE 0 END),"
                " SUM(CASE WHEN kind = 'refund' THEN amount_rial ELSE 0 END)"
                " FROM operations WHERE merchant_id = ? AND day BETWEEN ? AND ? AND status IN ('done', 'completed')"
                " AND kind IN ('purchase', 'completion', 'refund') GROUP BY day ORDER BY day",
                (merchant_id, first, last),
            )
        return [DaySales(_day_text(int(d)), int(n or 0), int(a or 0), int(r or 0)) for d, n, a, r in rows]


def _day_number(day: str) -> int:
    try:
        return (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days
    except ValueError:
        raise reject("invalid_request", path="day", detail="a day is YYYY-MM-DD") from None


def _day_text(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
