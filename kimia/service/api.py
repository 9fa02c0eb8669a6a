"""The kimia service: every operation is one database transaction, exactly once per key.

The core decides (``kimia._core``), this layer loads the data it decides on and writes the
decision. Value operations go through the group-commit writer; reads (quote, balances) use their
own connections. Used by the terminal server, the JSON API, the panel and the CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import kimia._core as core
from kimia import identifiers as ids
from kimia.error_codes import ErrorCode
from kimia.errors import KimiaError, Phrase, Rejected, reject
from kimia.service import audit
from kimia.service.cardkeys import DEV_CARD_KEY, HASHED_KINDS, CardKeys
from kimia.service.context import Caches, MerchantContext, TerminalContext
from kimia.service.record import issue_voucher, restore_last_purchase, write_decision
from kimia.service.snapshot import load_budgets, load_member
from kimia.service.sql import Tx
from kimia.service import verify
from kimia.service.verify import Notifier, Proof
from kimia.service.writer import Writer
from kimia.store.engine import connect_url, is_sqlite, make_engine, raw_connect
from kimia.store.models import Base, utc_now_s

if TYPE_CHECKING:
    import pluggy

    from kimia.service.bulk import PurchaseWork

log = logging.getLogger(__name__)

MAX_AMOUNT_RIAL = 10**15
#: The request hash of a key voided by a reversal that arrived before its original.
VOID_HASH = "void"
#: The request hash of a terminal key answered 91 (timed out, nothing posted): the key is spent,
#: and every later request under it is answered as timed out again (never decided anew).
TIMEOUT_HASH = "timeout"
#: Refusals not remembered under their key: a timeout (remembered by the host, see
#: ``remember_timeout``) and the conflicts that come from the stored key itself.
NOT_REMEMBERED: frozenset[ErrorCode] = frozenset({"service_unavailable", "exists_with_different_amount", "exists_with_different_request",
                            "already_reversed", "missing_idempotency_key"})
UTC_OFFSET_S = 210 * 60


def local_day(now: int, utc_offset_min: int = 210) -> int:
    return (now + utc_offset_min * 60) // 86_400


#: Canonical JSON of a request (for its hash) and the JSON of a stored answer. The encoders are
#: built once: ``json.dumps`` with options builds a new encoder on every call, a third of its cost.
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode
response_json = json.JSONEncoder(ensure_ascii=False).encode


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical_json(body).encode()).hexdigest()


def stored_answer(stored_hash: str, response: Any, stored_amount: int, body_hash: str, amount: int) -> dict[str, Any] | KimiaError:
    """What a request gets when its idempotency key is already stored: the first answer marked
    ``replayed`` if it is the same request, else the refusal (the key was voided by a reversal,
    or used for another amount or another request)."""
    if stored_hash == VOID_HASH:
        return reject("already_reversed", path="idem_key")
    if stored_hash == TIMEOUT_HASH:
        return reject("service_unavailable", path="idem_key")
    if stored_hash != body_hash:
        return reject("exists_with_different_amount" if stored_amount != amount else "exists_with_different_request", path="idem_key")
    stored = response if isinstance(response, dict) else json.loads(response)
    refused = stored.get("refused")
    if isinstance(refused, dict):
        # A refusal is remembered under its key: a replay is refused the same way, not decided anew.
        return Rejected(str(refused["code"]), str(refused["message_en"]), str(refused["message_fa"]), refused.get("path"),
                        refused.get("params") or {})
    return {**stored, "replayed": True}


class Deadline:
    """A request's deadline, shared by the thread waiting for an answer and the writer.

    The writer seals the operation just before its savepoint is released; the waiter may expire
    it only while it is not sealed. So an operation is either sealed (it will be committed and
    answered) or expired (it is rolled back and answered as timed out), never both."""

    def __init__(self, at_monotonic: float) -> None:
        self.at = at_monotonic
        self._lock = threading.Lock()
        self.sealed = False
        self.expired = False

    def check(self) -> None:
        import time

        with self._lock:
            if self.expired or time.monotonic() > self.at:
                self.expired = True
                raise reject("service_unavailable")

    def seal(self) -> None:
        import time

        with self._lock:
            if self.expired or time.monotonic() > self.at:
                self.expired = True
                raise reject("service_unavailable")
            self.sealed = True

    def expire(self) -> bool:
        """Expire unless sealed; True if the operation will not be posted."""
        with self._lock:
            if not self.sealed:
                self.expired = True
            return self.expired


@dataclass(frozen=True)
class MemberRef:
    """How a request names a member: by id, or by an identifier (card, mobile, national code, ...)."""

    kind: str  # "id" | "card" | "mobile" | "national_code" | "club_card" | "account"
    value: str

    @staticmethod
    def of(value: MemberRef | int | dict[str, Any] | None) -> MemberRef | None:
        if value is None or isinstance(value, MemberRef):
            return value
        if isinstance(value, int):
            return MemberRef("id", str(value))
        return MemberRef(str(value.get("kind", "")), str(value.get("value", "")))


@dataclass
class PurchaseRequest:
    """A purchase as a channel submits it."""

    idem_key: str
    merchant_id: int
    member: MemberRef | int | dict[str, Any]
    amount_rial: int
    basket: list[dict[str, Any]] = field(default_factory=list)
    payment_method: str = "card"
    channel: str = "api"
    redeem_credit_rial: int = 0
    #: Points to pay with, at the member's conversion ratio (the core decides how many are needed).
    redeem_points: int = 0
    voucher_code: str | None = None
    branch_id: int | None = None
    terminal_id: int | None = None
    reference: str | None = None
    #: The terminal's transmission time (field 7): kept in the receipt so a repeat is answered with
    #: the first answer's bytes; not part of the request's identity.
    transmission: str | None = None
    #: The terminal's local transaction time (field 12), kept with field 7 for the same reason.
    local_time: str | None = None
    #: Who submits it (an API key, a panel user), recorded on the operation; a terminal's
    #: requests are recorded as ``terminal:<id>`` without it.
    actor: str | None = None
    #: Store a refusal under the key, so that a replay is refused again rather than decided anew
    #: (the terminal host sets it: a captured request must not pass once the member could pay).
    remember_refusal: bool = False
    #: Proof that the member is there (PIN, one-time code), needed when the purchase spends their
    #: value and their club asks for it (kimia.service.verify). Not part of the request's identity.
    proof: Proof | None = None

    def body(self, member_key: list[str]) -> dict[str, Any]:
        """What the idempotency hash covers; ``member_key`` is the normalised member reference."""
        body: dict[str, Any] = {
            "merchant_id": self.merchant_id,
            "member": member_key,
            "amount_rial": self.amount_rial,
            "basket": self.basket,
            "payment_method": self.payment_method,
            "channel": self.channel,
            "redeem_credit_rial": self.redeem_credit_rial,
            "voucher_code": self.voucher_code,
            "branch_id": self.branch_id,
            "reference": self.reference,
        }
        if self.redeem_points:
            # Only when set, so the stored hash of every request without points stays what it was.
            body["redeem_points"] = self.redeem_points
        return body


def rrn_of(op_id: int) -> str:
    """The operation id as 12 digits: the RRN rows written before revision 0006 carry. Never
    assigned any more: an RRN is what a refund names its sale by, so it must not be guessable."""
    return f"{op_id % 10**12:012d}"


def fresh_rrns(tx: Tx, club_id: int, count: int) -> list[str]:
    """``count`` random 12-digit retrieval reference numbers no operation of the club carries yet
    (drawn again on a collision). An RRN names a sale to refund: a sequential one (the operation
    id) let anyone who saw one receipt name the next merchant's sale."""
    chosen: list[str] = []
    while len(chosen) < count:
        candidates = list(dict.fromkeys(f"{secrets.randbelow(10**12):012d}" for _ in range(count - len(chosen))))
        taken = {r for (r,) in tx.all(
            f"SELECT reference FROM operations WHERE club_id = ? AND reference IN ({tx.placeholders(len(candidates))})",
            (club_id, *candidates))}
        chosen.extend(c for c in candidates if c not in taken and c not in chosen)
    return chosen


def actor_of(merchant_id: int | None, terminal_id: int | None, actor: str | None) -> str | None:
    """Who made an operation, as its row records it: the caller's own name for itself (an API
    key, a panel user), else the terminal, else the merchant."""
    if actor:
        return audit.mask(actor)[:100]  # an operator's text may quote a card: never stored in clear
    if terminal_id is not None:
        return f"terminal:{terminal_id}"
    return f"merchant:{merchant_id}" if merchant_id is not None else None


def terminal_fields(req: PurchaseRequest, op_id: int, tier: str | None = None, rrn: str | None = None) -> dict[str, str]:
    """What a terminal's answer is rebuilt from on a repeat: the RRN (the terminal's field 37, else
    ``rrn``, a fresh random one), the first transmission time and the member's tier (TR)."""
    fields: dict[str, str] = {"rrn": req.reference or rrn or rrn_of(op_id)}
    if tier:
        fields["tier"] = str(tier)
    if req.transmission:
        fields["transmission"] = req.transmission
    if req.local_time:
        fields["local_time"] = req.local_time
    return fields


def tier_field(snapshot: dict[str, Any]) -> dict[str, str]:
    """The member's tier for a receipt (a terminal answers it as TR), when they have one."""
    return {"tier": str(snapshot["tier"])} if snapshot.get("tier") else {}


def _check_amount(value: Any, field_name: str, *, allow_zero: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise reject("invalid_request", path=field_name, detail=f"{field_name} must be an integer number of rials")
    if value < 0 or (value == 0 and not allow_zero):
        raise reject("amount_must_be_positive", path=field_name)
    if value > MAX_AMOUNT_RIAL:
        raise reject("amount_too_large", path=field_name)
    return value


def _check_points(value: Any, field_name: str) -> int:
    """A number of points a request may leave at zero (none)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise reject("invalid_request", path=field_name, detail=f"{field_name} must be an integer number of points")
    if value < 0:
        raise reject("amount_must_be_positive", path=field_name)
    if value > MAX_AMOUNT_RIAL:
        raise reject("amount_too_large", path=field_name)
    return value


def lots_to_spend(redeem_credit_rial: int, redeem_points: int) -> str:
    """Which lots a purchase's snapshot needs (``load_member``'s ``lots``)."""
    if redeem_points > 0:
        return "credit+points" if redeem_credit_rial > 0 else "points"
    return "credit" if redeem_credit_rial > 0 else "none"


def _spends(req: PurchaseRequest) -> bool:
    """Whether a purchase spends the member's held value (what cardholder verification guards)."""
    return req.redeem_credit_rial > 0 or req.redeem_points > 0


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > 200:
        raise reject("missing_idempotency_key", path="idem_key")
    return key


def _check_actor(actor: Any, reason: Any = "-") -> None:
    """A manual or bulk value operation names who ran it (a person, ``cli:USER``, a job) and why."""
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 100:
        raise reject("actor_required", path="actor")
    if not isinstance(reason, str) or not reason.strip():
        raise reject("reason_required", path="reason")


class Kimia:
    """The service. One instance per process; thread-safe.

    Writes are committed in groups of at most ``max_batch`` operations. When fewer operations are
    queued than the last group carried, the writer waits up to ``max_wait_s`` (1 ms; at most 10)
    for that many, so concurrent callers share one commit; a lone caller never waits
    (``kimia.service.writer``).

    Card numbers are hashed under ``card_key`` (else ``KIMIA_CARD_HASH_KEY``) and found under it
    or ``old_card_keys`` (else ``KIMIA_CARD_HASH_OLD_KEYS``). Without a key the service refuses to
    start (``card_key_missing``) unless ``dev_mode`` (else ``KIMIA_DEV_MODE=1``) allows the
    development key (kimia.service.cardkeys)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        card_key: bytes | None = None,
        old_card_keys: Sequence[bytes] = (),
        dev_mode: bool | None = None,
        max_batch: int = 64,
        max_wait_s: float = 0.001,
        clock: Callable[[], int] = utc_now_s,
        create: bool = True,
        plugins: pluggy.PluginManager | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        # The keys first: a service that would hash cards under a known key does not start at all.
        self.card_keys = CardKeys.resolve(card_key, old_card_keys, dev_mode=dev_mode)
        self.card_key = self.card_keys.current
        self.url = connect_url(url)
        self.sqlite = is_sqlite(self.url)
        self.engine = make_engine(self.url)
        if create:
            from kimia.store.migrate import upgrade

            upgrade(self.url)
        self.clock = clock
        #: Where one-time codes go (``KIMIA_NOTIFY``: the console, or ``file:<path>``).
        self.notifier = notifier or verify.notifier_from_env()
        self.caches = Caches()
        from kimia.plugins import default_plugin_manager

        self.plugins = plugins if plugins is not None else default_plugin_manager()
        # One thread runs the ``kimia_operation_committed`` hooks, in commit order, off the writer.
        self._events = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kimia-events")
        self.writer = Writer(lambda: raw_connect(self.url), max_batch=max_batch, max_wait_s=max_wait_s, on_commit=self._announce)
        self._local = threading.local()
        self._readers: list[Any] = []
        self._readers_lock = threading.Lock()

    def close(self) -> None:
        self.writer.close()
        self._events.shutdown(wait=True)  # every committed operation is announced before we stop
        with self._readers_lock:
            for conn in self._readers:
                try:
                    conn.close()
                except Exception:
                    pass
            self._readers.clear()
        self.engine.dispose()

    def __enter__(self) -> Kimia:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------

    def committed(self, tx: Tx, *, kind: str, club_id: int, op_id: int, member_id: int | None, receipt: dict[str, Any]) -> None:
        """Note an operation written in ``tx``: once its transaction commits (and only if its
        savepoint was kept), ``kimia_operation_committed`` is called with it (docs/plugins.md)."""
        if self.plugins.hook.kimia_operation_committed.get_hookimpls():
            tx.events.append((kind, club_id, op_id, member_id, receipt))

    def _announce(self, events: list[Any]) -> None:
        """The writer's ``on_commit``: hand a committed batch's operations to the event thread."""
        try:
            self._events.submit(self._run_hooks, events)
        except RuntimeError:  # closing: the events of the last batches are run here instead
            self._run_hooks(events)

    def _run_hooks(self, events: list[Any]) -> None:
        """Each plugin's hook for each operation, on its own: one failing notifier (logged) neither
        stops the others nor touches the operation, which is committed already."""
        for kind, club_id, op_id, member_id, receipt in events:
            args = {"kind": kind, "club_id": club_id, "op_id": op_id, "member_id": member_id, "receipt": receipt}
            for impl in self.plugins.hook.kimia_operation_committed.get_hookimpls():
                try:
                    impl.function(**{name: args[name] for name in impl.argnames})
                except Exception:
                    log.exception("kimia_operation_committed of plugin %s failed for operation %s", impl.plugin_name, op_id)

    def wait_for_events(self) -> None:
        """Return once the hooks of every operation committed so far have run."""
        self._events.submit(lambda: None).result()

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A read transaction on this thread's own connection (never the writer's)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = raw_connect(self.url)
            if not self.sqlite:
                conn.autocommit = False
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        tx = Tx(conn)
        tx.begin_read()
        try:
            yield tx
        finally:
            tx.rollback()

    def write(self, work: Callable[[Tx], Any]) -> Any:
        """Run ``work`` as one operation in the writer (one savepoint inside a group commit).

        If the calling thread set a deadline (``with service.deadline(guard):``), the operation is
        checked against it when it starts and when it finishes, inside its savepoint: past the
        deadline it is rolled back, so an operation answered as timed out is never posted."""
        guard: Deadline | None = getattr(self._local, "deadline", None)
        if guard is not None and hasattr(work, "batch_kind"):
            work.guard = guard  # type: ignore[attr-defined]
        elif guard is not None:
            inner = work

            def work(tx: Tx) -> Any:
                guard.check()
                result = inner(tx)
                guard.seal()
                return result

        result = self.writer.submit(work)
        if isinstance(result, KimiaError):
            raise result
        return result

    @contextmanager
    def deadline(self, guard: Deadline) -> Iterator[Deadline]:
        """Operations this thread submits inside the block obey ``guard``."""
        self._local.deadline = guard
        try:
            yield guard
        finally:
            self._local.deadline = None

    def _existing(self, tx: Tx, club_id: int, idem_key: str, body_hash: str, amount: int) -> dict[str, Any] | None:
        """The stored answer for a retried key, or a conflict if the key was used for something else."""
        row = tx.one(
            "SELECT request_hash, response, amount_rial FROM operations WHERE club_id = ? AND idem_key = ?",
            (club_id, idem_key),
        )
        if row is None:
            return None
        answer = stored_answer(row[0], row[1], row[2], body_hash, amount)
        if isinstance(answer, KimiaError):
            raise answer
        return answer

    def _new_op(
        self,
        tx: Tx,
        *,
        club_id: int,
        idem_key: str,
        body_hash: str,
        kind: str,
        member_id: int | None,
        merchant_id: int | None = None,
        terminal_id: int | None = None,
        original_op_id: int | None = None,
        amount_rial: int = 0,
        reference: str | None = None,
        actor: str | None = None,
        now: int,
    ) -> int:
        row = tx.one(
            "INSERT INTO operations (club_id, idem_key, request_hash, kind, status, member_id, merchant_id, terminal_id,"
            " original_op_id, amount_rial, refunded_rial, reference, response, decision, day, created_at, actor)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,0,?,?,NULL,?,?,?) RETURNING id",
            (club_id, idem_key, body_hash, kind, "pending", member_id, merchant_id, terminal_id, original_op_id,
             amount_rial, reference, "{}", local_day(now), now, actor_of(merchant_id, terminal_id, actor)),
        )
        tx.opened[int(row[0])] = (kind, club_id, member_id)
        return int(row[0])

    def _finish_op(
        self, tx: Tx, op_id: int, status: str, response: dict[str, Any], decision: core.Decision | None, *, member_id: int | None = None
    ) -> None:
        tx.execute(
            "UPDATE operations SET status = ?, response = ?, decision = ?, member_id = COALESCE(?, member_id) WHERE id = ?",
            (status, response_json(response), decision.to_json() if decision is not None else None, member_id, op_id),
        )
        opened = tx.opened.pop(op_id, None)
        if opened is not None and status != "void":  # a void key is a marker, not an operation
            kind, club, opened_member = opened
            self.committed(tx, kind=kind, club_id=club, op_id=op_id, member_id=member_id if member_id is not None else opened_member,
                           receipt=response)

    # --- members (M1–M5) ------------------------------------------------------------------------

    def member_key(self, member: MemberRef | int | dict[str, Any] | None) -> list[str]:
        """A member reference in normal form (a card as its keyed hash), for idempotency hashes."""
        ref = MemberRef.of(member)
        if ref is None:
            raise reject("unknown_member")
        if ref.kind == "id":
            return ["id", ids.normalize_digits(ref.value)]
        return [ref.kind, self.normalize_identifier(ref.kind, ref.value)[0]]

    def normalize_identifier(self, kind: str, value: str) -> tuple[str, str]:
        """(lookup, display) for an identifier; card numbers become a keyed hash and a mask.
        An invalid identifier is a ``Rejected`` with the identifier's own code (one family of
        errors for every caller, so a terminal answers 14, not 96)."""
        try:
            return self._normalize_identifier(kind, value)
        except ids.IdentifierError as exc:
            raise Rejected(exc.code, exc.message_en, exc.message_fa, exc.field or kind) from None

    def _normalize_identifier(self, kind: str, value: str) -> tuple[str, str]:
        if kind == "card":
            pan = ids.validate_card_number(value)
            return self.card_keys.hash(kind, pan), ids.mask_card(pan)
        if kind == "mobile":
            mobile = ids.normalize_mobile(value)
            return mobile, mobile
        if kind == "national_code":
            code = ids.validate_national_code(value)
            return code, code[:3] + "****" + code[-3:]
        if kind == "club_card":
            card = ids.validate_club_card(value)
            return self.card_keys.hash(kind, card), ids.mask_club_card(card)
        if kind == "account":
            account = ids.normalize_digits(value)
            if not account.isdigit() or not 1 <= len(account) <= 20:
                raise reject("invalid_request", path="account", detail="an account number is 1 to 20 digits")
            return account, account
        raise reject("invalid_request", path="kind", detail=f"unknown identifier kind {kind!r}")

    def _stored_forms(self, kind: str, value: str) -> list[tuple[str, str | None]]:
        """Every (lookup, key id) under which an identifier may be stored, the current form first:
        a card under each key this process holds (kimia.service.cardkeys), anything else as is."""
        lookup, _ = self.normalize_identifier(kind, value)
        if kind not in HASHED_KINDS:
            return [(lookup, None)]
        canonical = ids.validate_card_number(value) if kind == "card" else ids.validate_club_card(value)
        return self.card_keys.lookups(kind, canonical)

    def _find_identifier(self, tx: Tx, clubs: Sequence[int], kind: str, forms: list[tuple[str, str | None]]) -> tuple[int, int] | None:
        """(member id, club) of an identifier stored in any of ``forms`` in one of ``clubs``. In a
        write, a card found under an older key (or none) is re-hashed under the current key."""
        lookups = [lookup for lookup, _ in forms]
        rows = tx.all(
            f"SELECT id, member_id, club_id, lookup, key_id FROM member_identifiers WHERE kind = ?"
            f" AND lookup IN ({tx.placeholders(len(lookups))}) AND club_id IN ({tx.placeholders(len(clubs))})",
            (kind, *lookups, *clubs),
        )
        if not rows:
            return None
        row = min(rows, key=lambda r: lookups.index(r[3]))
        current, current_id = forms[0]
        if tx.writing and kind in HASHED_KINDS and (row[3], row[4]) != (current, current_id):
            tx.execute("UPDATE member_identifiers SET lookup = ?, key_id = ? WHERE id = ?", (current, current_id, row[0]))
        return int(row[1]), int(row[2])

    def _member_ref_display(self, ref: MemberRef | None) -> tuple[str, list[tuple[str, str]]]:
        """How an audit row names the member an operator referred to, and the (value, mask) pairs
        that must never reach the row in clear."""
        if ref is None or ref.kind == "id":
            return (f"id:{ref.value}" if ref else ""), []
        lookup, display = self.normalize_identifier(ref.kind, ref.value)
        if ref.kind in HASHED_KINDS or ref.kind == "national_code":
            canonical = ids.normalize_digits(ref.value)
            return f"{ref.kind}:{display}", [(canonical, display)]
        return f"{ref.kind}:{display}", []

    def _member_secrets(self, tx: Tx, member_id: int, text: str) -> list[tuple[str, str]]:
        """(value, mask) of the member's club cards and national codes quoted in ``text`` (say, in
        the reason an operator typed): a club card is recognised by its hash, as it is stored."""
        stored = tx.all("SELECT kind, lookup, display FROM member_identifiers WHERE member_id = ? AND kind IN ('club_card', 'national_code')",
                        (member_id,))
        if not stored:
            return []
        found = [(lookup, display) for kind, lookup, display in stored if kind == "national_code"]
        club_cards = {lookup: display for kind, lookup, display in stored if kind == "club_card"}
        for run in audit.digit_runs(text):
            for lookup, _ in self.card_keys.lookups("club_card", run):
                if lookup in club_cards:
                    found.append((run, club_cards[lookup]))
        return found

    def _shares_value(self, tx: Tx, club_a: int, club_b: int) -> bool:
        """Whether two clubs are in a meta-club that shares value (C3)."""
        if club_a == club_b:
            return True
        key = ("shares_value", (min(club_a, club_b), max(club_a, club_b)))
        cached = self.caches.get(key)
        if cached is not None:
            return bool(cached)
        row = tx.one(
            "SELECT 1 FROM meta_club_members a JOIN meta_club_members b ON a.meta_club_id = b.meta_club_id"
            " JOIN meta_clubs m ON m.id = a.meta_club_id WHERE a.club_id = ? AND b.club_id = ? AND m.share_value = ?",
            (club_a, club_b, True),
        )
        return bool(self.caches.put(key, row is not None))

    def _check_cross_club_spend(self, tx: Tx, member_club: int, merchant_club: int, req: PurchaseRequest) -> None:
        """A member of another club (met through a meta-club) may earn here, but may spend their
        club's credit or points here only if the meta-club shares value."""
        spends = "redeem_credit_rial" if req.redeem_credit_rial > 0 else "redeem_points" if req.redeem_points > 0 else None
        if spends is not None and not self._shares_value(tx, member_club, merchant_club):
            raise reject("credit_not_valid_at_merchant", path=spends)

    def _clubs_sharing_members(self, tx: Tx, root_club: int) -> list[int]:
        """The club itself plus clubs sharing members with it through a meta-club (C3)."""
        cached = self.caches.get(("sharing", root_club))
        if cached is not None:
            return list(cached)
        rows = tx.all(
            "SELECT DISTINCT b.club_id FROM meta_club_members a JOIN meta_club_members b ON a.meta_club_id = b.meta_club_id"
            " JOIN meta_clubs m ON m.id = a.meta_club_id WHERE a.club_id = ? AND m.share_members = ?",
            (root_club, True),
        )
        return list(self.caches.put(("sharing", root_club), [root_club] + [c for (c,) in rows if c != root_club]))

    def _resolve_member(self, tx: Tx, root_club: int, ref: MemberRef | None) -> tuple[int, int]:
        """(member_id, member's root club) for a reference, searching clubs that share members."""
        if ref is None:
            raise reject("unknown_member")
        clubs = self._clubs_sharing_members(tx, root_club)
        marks = tx.placeholders(len(clubs))
        if ref.kind == "id":
            if not ref.value.isdigit():
                raise reject("unknown_member")
            row = tx.one(f"SELECT id, club_id FROM members WHERE id = ? AND club_id IN ({marks})", (int(ref.value), *clubs))
            if row is None:
                row = tx.one("SELECT id, club_id FROM members WHERE id = ?", (int(ref.value),))
                if row is None or self.caches.root_club(tx, row[1]) not in clubs:
                    raise reject("unknown_member")
            return int(row[0]), self.caches.root_club(tx, row[1])
        forms = self._stored_forms(ref.kind, ref.value)
        found = self._find_identifier(tx, clubs, ref.kind, forms)
        if found is None and ref.kind == "account" and verify.member_id_refs(self._settings(tx, root_club)):
            # A development club may still name members by their (sequential, guessable) member id.
            return self._resolve_member(tx, root_club, MemberRef("id", forms[0][0]))
        if found is None:
            raise reject("unknown_member")
        return found

    def identify(self, club_id: int, member: MemberRef | int | dict[str, Any]) -> int:
        """The member id known by an identifier in a club (or a club sharing members with it)."""
        with self.reading() as tx:
            root = self.caches.root_club(tx, club_id)
            return self._resolve_member(tx, root, MemberRef.of(member))[0]

    def enroll(
        self,
        club_id: int,
        *,
        idem_key: str,
        identifiers: list[tuple[str, str]],
        name_fa: str = "",
        referrer: MemberRef | int | dict[str, Any] | None = None,
        groups: list[int] | None = None,
        via: str = "api",
        merchant_id: int | None = None,
        shared_wallet_id: int | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Enrol a member (at a POS, in the panel, through the app or API: M1–M3). The groups,
        enrolling merchant and shared wallet must be the club's own."""
        idem_key = _check_key(idem_key)
        if via not in ("pos", "panel", "app", "web", "api"):
            raise reject("invalid_request", path="via", detail="via is pos, panel, app, web or api")
        normalized = [(kind, *self.normalize_identifier(kind, value)) for kind, value in identifiers]
        forms = [self._stored_forms(kind, value) for kind, value in identifiers]
        body = {"op": "enroll", "club": club_id, "ids": [(k, l) for k, l, _ in normalized], "name": name_fa,
                "referrer": str(referrer), "groups": groups or [], "via": via}
        body_hash = request_hash(body)
        ref = MemberRef.of(referrer)

        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock()
            if merchant_id is not None and not self.caches.merchant(tx, merchant_id).active:
                raise reject("unknown_merchant")  # a deactivated merchant enrols no one
            root = self.caches.root_club(tx, club_id)
            existing = self._existing(tx, root, idem_key, body_hash, 0)
            if existing is not None:
                return existing
            self._check_enrolment_refs(tx, club_id, root, groups or [], merchant_id, shared_wallet_id)
            for (kind, _, _), stored in zip(normalized, forms):
                if self._find_identifier(tx, [root], kind, stored) is not None:
                    raise reject("identifier_taken", path=kind)
            referrer_id = self._resolve_member(tx, root, ref)[0] if ref is not None else None
            row = tx.one(
                "INSERT INTO members (club_id, name_fa, tier, referrer_id, shared_wallet_id, enrolled_by_merchant_id,"
                " enrolled_via, purchase_count, last_purchase_at, period_points, grace_used, frozen_until, manual_tier,"
                " created_at) VALUES (?,?,NULL,?,?,?,?,0,NULL,0,0,0,NULL,?) RETURNING id",
                (club_id, name_fa, referrer_id, shared_wallet_id, merchant_id, via, now),
            )
            member_id = int(row[0])
            rows = list(normalized)
            key_ids = [stored[0][1] for stored in forms]
            if not any(kind == "account" for kind, _, _ in rows):
                number = self._new_account_number(tx, root)
                rows.append(("account", number, number))
                key_ids.append(None)
            tx.executemany(
                "INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at, key_id) VALUES (?,?,?,?,?,?,?)",
                [(root, member_id, kind, lookup, display, now, key) for (kind, lookup, display), key in zip(rows, key_ids)],
            )
            tx.executemany("INSERT INTO member_group_members (group_id, member_id) VALUES (?,?)", [(g, member_id) for g in groups or []])
            response = {"member_id": member_id, "identifiers": [{"kind": k, "display": d} for k, _, d in rows]}
            op_id = self._new_op(tx, club_id=root, idem_key=idem_key, body_hash=body_hash, kind="enroll", member_id=member_id,
                                 merchant_id=merchant_id, actor=actor, now=now)
            self._finish_op(tx, op_id, "done", {**response, "op_id": op_id}, None)
            return {**response, "op_id": op_id}

        return self.write(work)  # type: ignore[no-any-return]

    def _new_account_number(self, tx: Tx, root: int) -> str:
        """A random 12-digit account number, free in the club: how a member is named on the wire
        (``MK`` ``A:``) without a guessable sequential id."""
        while True:
            number = str(10**11 + secrets.randbelow(9 * 10**11))
            if tx.one("SELECT 1 FROM member_identifiers WHERE club_id = ? AND kind = 'account' AND lookup = ?", (root, number)) is None:
                return number

    def account_number(self, member_id: int) -> str | None:
        """The member's account number (``MK`` ``A:<number>``), if they have one."""
        with self.reading() as tx:
            row = tx.one("SELECT lookup FROM member_identifiers WHERE member_id = ? AND kind = 'account' ORDER BY id LIMIT 1", (member_id,))
        return str(row[0]) if row else None

    def bind_identifier(
        self,
        club_id: int,
        member: MemberRef | int | dict[str, Any],
        kind: str,
        value: str,
        *,
        idem_key: str | None = None,
        proof: Proof | None = None,
        actor: str | None = None,
        merchant_id: int | None = None,
        terminal_id: int | None = None,
    ) -> dict[str, Any]:
        """Bind another identifier (e.g. a second bank card, M5) to a member of the club.

        An operator (``actor``: the panel, the CLI) is trusted and audited as themselves; anyone
        else (a terminal, the app) must give the proof the member's club asks for binding (a PIN or
        a one-time code, kimia.service.verify). Writes a ``bind`` operation and an audit row."""
        lookup, display = self.normalize_identifier(kind, value)
        forms = self._stored_forms(kind, value)
        ref = MemberRef.of(member)
        idem_key = _check_key(idem_key or f"bind:{secrets.token_hex(12)}")
        body_hash = request_hash({"op": "bind", "club": club_id, "member": self.member_key(ref), "kind": kind, "lookup": lookup})
        with self.reading() as tx:
            root = self.caches.root_club(tx, club_id)
            member_id, member_club = self._resolve_member(tx, root, ref)
            accepted = verify.policy(self._settings(tx, member_club), "bind")
        if member_club != root:
            raise reject("unknown_member")  # a member of another club (met through a meta-club) is not bound here
        if actor is None:
            self._prove(member_id, member_club, accepted, proof or Proof())

        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock()
            existing = self._existing(tx, root, idem_key, body_hash, 0)
            if existing is not None:
                return existing
            self._own_member(tx, root, member_id)
            owner = self._find_identifier(tx, [root], kind, forms)
            response = {"member_id": member_id, "kind": kind, "display": display}
            if owner is not None:
                if owner[0] != member_id:
                    raise reject("identifier_taken", path=kind)
                return response  # already theirs: nothing changes
            tx.execute(
                "INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at, key_id) VALUES (?,?,?,?,?,?,?)",
                (root, member_id, kind, forms[0][0], display, now, forms[0][1]),
            )
            op_id = self._new_op(tx, club_id=root, idem_key=idem_key, body_hash=body_hash, kind="bind", member_id=member_id,
                                 merchant_id=merchant_id, terminal_id=terminal_id, actor=actor, now=now)
            response = {**response, "op_id": op_id}
            self._finish_op(tx, op_id, "done", response, None)
            who = actor or actor_of(merchant_id, terminal_id, None) or "member"
            audit.append(tx, club_id=root, actor=who, action="bind_identifier", reason="operator" if actor else "cardholder verified",
                         payload={"member_id": member_id, "kind": kind, "display": display, "op_id": op_id}, at=now,
                         secrets=[(value, display)])
            return response

        return self.write(work)  # type: ignore[no-any-return]

    def _own_member(self, tx: Tx, root: int, member_id: int, path: str = "member_id") -> None:
        """Refuse a member id that is not of the club ``root`` (or one of its sub-clubs) as unknown."""
        row = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
        if row is None or self.caches.root_club(tx, int(row[0])) != root:
            raise reject("unknown_member", path=path)

    def _check_enrolment_refs(self, tx: Tx, club_id: int, root: int, groups: list[int], merchant_id: int | None,
                              shared_wallet_id: int | None) -> None:
        """The club, member groups, enrolling merchant and shared wallet of an enrolment must all be
        of one club's tree: else a member would join another club's group or wallet."""
        if self.caches.root_club(tx, club_id) != root:
            raise reject("unknown_club")
        for i, group in enumerate(groups):
            found = tx.one("SELECT club_id FROM member_groups WHERE id = ?", (group,))
            if found is None or self.caches.root_club(tx, int(found[0])) != root:
                raise reject("foreign_reference", path=f"groups[{i}]", kind="member group", id=group)
        if merchant_id is not None and self.caches.merchant(tx, merchant_id).root_club_id != root:
            raise reject("foreign_reference", path="merchant_id", kind="merchant", id=merchant_id)
        if shared_wallet_id is not None:
            found = tx.one("SELECT club_id FROM shared_wallets WHERE id = ?", (shared_wallet_id,))
            if found is None or self.caches.root_club(tx, int(found[0])) != root:
                raise reject("foreign_reference", path="shared_wallet_id", kind="shared wallet", id=shared_wallet_id)

    def terminal(self, terminal_code: str, merchant_code: str) -> TerminalContext:
        """A registered, active terminal (field 41 + 42), or ``unknown_terminal``."""
        with self.reading() as tx:
            return self.caches.terminal(tx, terminal_code.strip(), merchant_code.strip())

    def record_for_review(self, merchant_id: int, action: str, payload: dict[str, Any]) -> None:
        """Record something an operator should look at (e.g. an advice that could not be applied)."""

        def work(tx: Tx) -> None:
            club = self.caches.merchant(tx, merchant_id).root_club_id
            audit.append(tx, club_id=club, actor=f"terminal:{merchant_id}", action=action, reason="for review", payload=payload,
                         at=self.clock())

        self.write(work)

    def merchant_club(self, merchant_id: int) -> int:
        """The club whose ledger a merchant belongs to; ``unknown_merchant`` for a deactivated one
        (its terminals may no longer refund or enrol, as they may no longer sell)."""
        with self.reading() as tx:
            merchant = self.caches.merchant(tx, merchant_id)
        if not merchant.active:
            raise reject("unknown_merchant")
        return merchant.root_club_id

    def member_balances(self, merchant_id: int, member: MemberRef | int | dict[str, Any] | None) -> dict[str, Any]:
        """Points, and credit spendable at this merchant, of the member (a balance inquiry)."""
        with self.reading() as tx:
            merchant = self.caches.merchant(tx, merchant_id)
            member_id, member_club = self._resolve_member(tx, merchant.root_club_id, MemberRef.of(member))
            snapshot = load_member(tx, member_id, merchant_id=merchant_id, today=local_day(self.clock()), club_id=member_club, lots="credit",
                                   ledger_club=member_club)
            if member_club != merchant.root_club_id and not self._shares_value(tx, member_club, merchant.root_club_id):
                snapshot["lots"] = []
                snapshot["accounts"] = [a for a in snapshot["accounts"] if core.account_info(a["account"]).kind != "credit_line"]
            book = self.caches.rulebook(tx, merchant.root_club_id)
        # What the member can spend here and what they hold, as the core counts them at a purchase
        # and on a receipt (balance_credit_rial).
        holder = core.Member(snapshot)
        spendable = book.spendable_credit(holder, merchant_id=merchant_id, merchant_groups=list(merchant.groups), now=self.clock())
        return {"member_id": member_id, "points": holder.points, "credit_rial": spendable, "credit_total_rial": holder.credit_held_rial,
                "tier": snapshot["tier"]}

    # --- purchases ------------------------------------------------------------------------------

    def _purchase_input(self, merchant: MerchantContext, req: PurchaseRequest, op_id: int, enrolled_by: int | None,
                        conversion: dict[str, Any] | None = None) -> dict[str, Any]:
        """The core's purchase; ``conversion`` (``_conversion``) prices the points it redeems."""
        return {
            "op_id": op_id,
            "club_id": merchant.club_id,
            "club_path": list(merchant.club_path),
            "merchant_id": merchant.merchant_id,
            "merchant_groups": list(merchant.groups),
            "branch_id": req.branch_id,
            "business_type": merchant.business_type,
            "marketer_id": merchant.marketer_id,
            "enrolling_merchant_id": enrolled_by,
            "amount_rial": req.amount_rial,
            "basket": req.basket,
            "payment_method": req.payment_method,
            "channel": req.channel,
            "redeem_credit_rial": req.redeem_credit_rial,
            "redeem_points": req.redeem_points,
            "conversion": conversion,
            "voucher_code": req.voucher_code,
        }

    def _conversion(self, tx: Tx, root_club: int) -> dict[str, Any]:
        """The club's points → rial conversion settings (V1), as the core reads them."""
        conversion = {"club_id": root_club, **self._settings(tx, root_club).get("conversion", {})}
        if isinstance(conversion.get("by_group"), dict):
            # JSON object keys are strings; the core wants member-group ids.
            conversion["by_group"] = {int(k): v for k, v in conversion["by_group"].items()}
        return conversion

    def purchase_conversion(self, tx: Tx, merchant: MerchantContext, req: PurchaseRequest) -> dict[str, Any] | None:
        """The conversion settings a purchase needs: only one that redeems points reads them."""
        return self._conversion(tx, merchant.root_club_id) if req.redeem_points > 0 else None

    def _validate_purchase(self, req: PurchaseRequest) -> None:
        _check_key(req.idem_key)
        _check_amount(req.amount_rial, "amount_rial")
        _check_amount(req.redeem_credit_rial, "redeem_credit_rial", allow_zero=True)
        _check_points(req.redeem_points, "redeem_points")
        if req.payment_method not in ("card", "cash", "mixed", "credit"):
            raise reject("invalid_request", path="payment_method", detail="card, cash, mixed or credit")
        if req.channel not in ("pos", "pcpos", "app", "web", "api", "panel"):
            raise reject("invalid_request", path="channel", detail="pos, pcpos, app, web, api or panel")
        if not isinstance(req.basket, list) or len(req.basket) > 1000:
            raise reject("invalid_request", path="basket", detail="at most 1000 lines")

    def _decide(self, tx: Tx, req: PurchaseRequest, op_id: int, now: int) -> tuple[core.Decision, dict[str, Any], MerchantContext, int]:
        merchant = self.caches.merchant(tx, req.merchant_id)
        if not merchant.active:
            raise reject("unknown_merchant")
        member_id, member_club = self._resolve_member(tx, merchant.root_club_id, MemberRef.of(req.member))
        self._check_cross_club_spend(tx, member_club, merchant.root_club_id, req)
        book = self.caches.rulebook(tx, merchant.root_club_id)
        snapshot = load_member(
            tx,
            member_id,
            merchant_id=merchant.merchant_id,
            today=local_day(now),
            voucher_code=req.voucher_code,
            club_id=merchant.root_club_id,
            lots=lots_to_spend(req.redeem_credit_rial, req.redeem_points),
            with_enrolled_by=True,
            ledger_club=member_club,
        )
        purchase = self._purchase_input(merchant, req, op_id, snapshot.pop("_enrolled_by"), self.purchase_conversion(tx, merchant, req))
        if book.has_budgets:
            keys = book.budget_keys(purchase, member_id, now)
            if keys:
                snapshot["budget_used"] = load_budgets(tx, merchant.root_club_id, keys)
        decision = book.evaluate(purchase, snapshot, now)
        return decision, snapshot, merchant, member_club

    @staticmethod
    def _receipt(d: core.Decision, snapshot: dict[str, Any], op_id: int, status: str = "done") -> dict[str, Any]:
        """The answer a channel shows: amounts, the member's balances after the decision,
        explanation in both languages (built by the core: ``Decision.receipt``)."""
        return d.receipt(op_id, snapshot, status)[0]

    def quote(self, req: PurchaseRequest) -> dict[str, Any]:
        """What a purchase would give, without writing anything (a dry run)."""
        self._validate_purchase(req)
        now = self.clock()
        with self.reading() as tx:
            d, snapshot, _, _ = self._decide(tx, req, 0, now)
            return {**self._receipt(d, snapshot, 0, "quote"), "explanation": d.explanation}

    def purchase(self, req: PurchaseRequest) -> dict[str, Any]:
        """A purchase: discount, credit spent, points and credit earned, split. Exactly once per key.
        Concurrent purchases are decided and written together (kimia.service.bulk). A refusal is
        remembered under the key when ``req.remember_refusal`` (a terminal's request): a replay is
        refused the same way, even once the member could pay."""
        work = self._purchase_work(req)
        try:
            self._verify_spend(req)
            return self.write(work)  # type: ignore[no-any-return]
        except KimiaError as exc:
            if req.remember_refusal:
                self._remember(self._refusal_work(exc, req.merchant_id, req.idem_key, work.body_hash, req.amount_rial))
            raise

    def _purchase_work(self, req: PurchaseRequest) -> PurchaseWork:
        """A checked purchase ready for the writer: refused here, before the queue, if malformed."""
        from kimia.service.bulk import PurchaseWork

        self._validate_purchase(req)
        key = self.member_key(req.member)
        return PurchaseWork(self, req, request_hash(req.body(key)), key)

    async def purchase_async(self, req: PurchaseRequest, deadline: Deadline | None = None) -> dict[str, Any]:
        """``purchase`` for an event loop (the terminal host): the request is checked and queued on
        the loop's own thread and the answer comes back with its batch, so a purchase crosses no
        thread but the writer's. Past ``deadline`` it is rolled back and rejected (never posted)."""
        work = self._purchase_work(req)
        work.guard = deadline
        try:
            await self._verify_spend_async(req)
            result = await self.writer.submit_async(work)
            if isinstance(result, KimiaError):
                raise result
        except KimiaError as exc:
            if not req.remember_refusal:
                raise
            try:
                await self.writer.submit_async(self._refusal_work(exc, req.merchant_id, req.idem_key, work.body_hash, req.amount_rial))
            except Exception:
                log.exception("could not remember the refusal of key %s", req.idem_key)
            raise
        return result  # type: ignore[no-any-return]

    # --- cardholder verification (kimia.service.verify) ------------------------------------------

    def _verify_spend(self, req: PurchaseRequest) -> None:
        """A purchase or hold that spends the member's value (credit or points) needs the proof
        their club asks for; earning needs none. Raises ``verification_required``,
        ``pin_incorrect``, ``pin_locked`` or ``otp_invalid``."""
        if not _spends(req):
            return
        with self.reading() as tx:
            needed = self._verification_needed(tx, req)
        if needed is not None:
            self._prove(*needed, req.proof or Proof())

    async def _verify_spend_async(self, req: PurchaseRequest) -> None:
        """``_verify_spend`` for the event loop. What is needed is read in the writer's queue, so
        purchases keep their order (a club that asks for nothing costs one queued read); only a
        PIN or code to check goes to a worker thread (a PIN check is slow on purpose)."""
        if not _spends(req):
            return
        needed = await self.writer.submit_async(lambda tx: self._verification_needed(tx, req))
        if isinstance(needed, KimiaError):
            raise needed
        if needed is not None:
            member_id, member_club, accepted = needed
            await asyncio.get_running_loop().run_in_executor(None, partial(self._prove, member_id, member_club, accepted, req.proof or Proof()))

    def _verification_needed(self, tx: Tx, req: PurchaseRequest) -> tuple[int, int, tuple[str, ...]] | None:
        """(member id, member's club, proofs accepted) when the spend needs a PIN or a code; None
        when it needs nothing (the club asks for nothing, a card was read at the counter, or the
        request is a repeat: it gets the stored answer, and a used code must not refuse it).
        Raises ``verification_required`` when no accepted proof is offered."""
        ref = MemberRef.of(req.member)
        merchant = self.caches.merchant(tx, req.merchant_id)
        if tx.one("SELECT 1 FROM operations WHERE club_id = ? AND idem_key = ?", (merchant.root_club_id, req.idem_key)):
            return None
        member_id, member_club = self._resolve_member(tx, merchant.root_club_id, ref)
        accepted = verify.policy(self._settings(tx, member_club), "redeem")
        card_present = ref is not None and ref.kind == "card" and req.channel in ("pos", "pcpos")
        if not accepted or ("card_present" in accepted and card_present):
            return None
        proof = req.proof or Proof()
        if not (("pin" in accepted and proof.pin) or ("otp" in accepted and proof.otp)):
            raise reject("verification_required", path="proof", accepted=" / ".join(accepted))
        return member_id, member_club, accepted

    def _prove(self, member_id: int, club_id: int, accepted: tuple[str, ...], proof: Proof) -> None:
        """Accept the first proof offered that the club accepts, or raise."""
        if not accepted:
            return
        if "pin" in accepted and proof.pin:
            self._check_pin(member_id, proof.pin)
            return
        if "otp" in accepted and proof.otp:
            self._check_code(member_id, proof.otp)
            return
        raise reject("verification_required", path="proof", accepted=" / ".join(accepted))

    def _check_pin(self, member_id: int, pin: str) -> None:
        """The PIN against its scrypt hash (computed here, outside the writer: it is slow on
        purpose); the outcome is counted in the writer, so a lockout holds across processes."""
        now = self.clock()
        with self.reading() as tx:
            row = tx.one("SELECT pin_hash, locked_until FROM member_pins WHERE member_id = ?", (member_id,))
        if row is None:
            raise reject("pin_incorrect", path="pin")
        if int(row[1]) > now:
            raise reject("pin_locked", path="pin")
        right = verify.pin_matches(pin, str(row[0]))

        def work(tx: Tx) -> KimiaError | None:
            state = tx.one(tx.lock("SELECT failures, locked_until FROM member_pins WHERE member_id = ?"), (member_id,))
            if state is None or int(state[1]) > now:
                return reject("pin_locked", path="pin")
            if right:
                if state[0]:
                    tx.execute("UPDATE member_pins SET failures = 0 WHERE member_id = ?", (member_id,))
                return None
            failures = int(state[0]) + 1
            locked = now + verify.PIN_LOCK_S if failures >= verify.PIN_MAX_FAILURES else 0
            tx.execute("UPDATE member_pins SET failures = ?, locked_until = ? WHERE member_id = ?",
                       (0 if locked else failures, locked, member_id))
            return reject("pin_locked" if locked else "pin_incorrect", path="pin")

        outcome = self.writer.submit(work)
        if isinstance(outcome, KimiaError):
            raise outcome

    def _check_code(self, member_id: int, code: str) -> None:
        """The member's newest one-time code: unexpired, unused, tried fewer than the limit; used
        up when it matches, a try counted when it does not."""
        now = self.clock()
        offered = verify.code_hash(self.card_key, member_id, code)

        def work(tx: Tx) -> KimiaError | None:
            row = tx.one(tx.lock("SELECT id, code_hash, expires_at, attempts, used_at FROM member_codes WHERE member_id = ?"
                                 " ORDER BY id DESC LIMIT 1"), (member_id,))
            if row is None or row[4] is not None or int(row[2]) <= now or int(row[3]) >= verify.CODE_MAX_ATTEMPTS:
                return reject("otp_invalid", path="otp")
            if not hmac.compare_digest(str(row[1]), offered):
                tx.execute("UPDATE member_codes SET attempts = attempts + 1 WHERE id = ?", (row[0],))
                return reject("otp_invalid", path="otp")
            tx.execute("UPDATE member_codes SET used_at = ? WHERE id = ?", (now, row[0]))
            return None

        outcome = self.writer.submit(work)
        if isinstance(outcome, KimiaError):
            raise outcome

    def request_code(self, club_id: int, member: MemberRef | int | dict[str, Any] | None) -> dict[str, Any]:
        """Send the member a one-time code on their mobile (through ``self.notifier``); it proves
        they are there for one spend or card binding within a few minutes. At most one code a
        minute per member."""
        ref = MemberRef.of(member)
        code = verify.new_code()

        def work(tx: Tx) -> dict[str, Any] | KimiaError:
            now = self.clock()
            root = self.caches.root_club(tx, club_id)
            member_id, member_club = self._resolve_member(tx, root, ref)
            mobile = tx.one("SELECT display FROM member_identifiers WHERE member_id = ? AND kind = 'mobile' ORDER BY id LIMIT 1", (member_id,))
            if mobile is None:
                return reject("no_mobile")
            last = tx.one("SELECT MAX(created_at) FROM member_codes WHERE member_id = ?", (member_id,))
            if last is not None and last[0] is not None and int(last[0]) > now - verify.CODE_INTERVAL_S:
                return reject("code_too_soon")
            tx.execute("INSERT INTO member_codes (club_id, member_id, code_hash, expires_at, attempts, used_at, created_at)"
                       " VALUES (?,?,?,?,0,NULL,?)",
                       (member_club, member_id, verify.code_hash(self.card_key, member_id, code), now + verify.CODE_TTL_S, now))
            return {"member_id": member_id, "club_id": member_club, "mobile": str(mobile[0]), "expires_in_s": verify.CODE_TTL_S}

        sent = self.writer.submit(work)
        if isinstance(sent, KimiaError):
            raise sent
        minutes = verify.CODE_TTL_S // 60
        self.notifier.send(club_id=sent["club_id"], mobile=sent["mobile"],
                           text_fa=f"کد تأیید باشگاه: {code} (تا {minutes} دقیقه معتبر است)",
                           text_en=f"Club verification code: {code} (valid {minutes} minutes)")
        mobile = sent["mobile"]
        return {"sent": True, "mobile": mobile[:4] + "*" * max(0, len(mobile) - 6) + mobile[-2:], "expires_in_s": sent["expires_in_s"]}

    def set_pin(self, club_id: int, member: MemberRef | int | dict[str, Any], pin: str, *, actor: str, reason: str = "") -> None:
        """Set (or replace) a member's club PIN; audited, the PIN itself never stored or logged.
        Clears a lockout."""
        ref = MemberRef.of(member)
        pin_hash = verify.hash_pin(pin)

        def work(tx: Tx) -> None:
            now = self.clock()
            root = self.caches.root_club(tx, club_id)
            member_id, member_club = self._resolve_member(tx, root, ref)
            if tx.one("SELECT 1 FROM member_pins WHERE member_id = ?", (member_id,)) is None:
                tx.execute("INSERT INTO member_pins (member_id, club_id, pin_hash, failures, locked_until, updated_at) VALUES (?,?,?,0,0,?)",
                           (member_id, member_club, pin_hash, now))
            else:
                tx.execute("UPDATE member_pins SET pin_hash = ?, failures = 0, locked_until = 0, updated_at = ? WHERE member_id = ?",
                           (pin_hash, now, member_id))
            audit.append(tx, club_id=member_club, actor=actor, action="set_pin", reason=reason, payload={"member_id": member_id}, at=now)

        self.write(work)

    def _remember(self, work: Callable[[Tx], None]) -> None:
        """Store a refusal (see ``_refusal_work``); a failure to store it does not hide the refusal."""
        try:
            self.writer.submit(work)
        except Exception:
            log.exception("could not remember a refusal")

    def _refusal_work(self, error: KimiaError, merchant_id: int, idem_key: str, body_hash: str, amount: int) -> Callable[[Tx], None]:
        """An operation storing a decided refusal under its key (kind ``refusal``, status
        ``refused``, no journal legs), so that a replay of the request gets the same refusal and is
        never decided again. Run outside any deadline: the refusal was already decided. Nothing is
        stored for the errors in :data:`NOT_REMEMBERED`, or when the key is already taken (the
        stored refusal itself, or a concurrent repeat that was answered)."""

        def work(tx: Tx) -> None:
            if error.code in NOT_REMEMBERED or not isinstance(idem_key, str) or not idem_key or len(idem_key) > 200:
                return
            try:
                root = self.caches.merchant(tx, merchant_id).root_club_id
            except KimiaError:
                return  # no such merchant: no club to remember it in
            if tx.one("SELECT 1 FROM operations WHERE club_id = ? AND idem_key = ?", (root, idem_key)) is not None:
                return
            now = self.clock()
            op_id = self._new_op(tx, club_id=root, idem_key=idem_key, body_hash=body_hash, kind="refusal", member_id=None,
                                 merchant_id=merchant_id, amount_rial=amount, now=now)
            self._finish_op(tx, op_id, "refused", {"op_id": op_id, "refused": error.to_dict()}, None)

        return work

    def remember_timeout(self, merchant_id: int, idem_key: str) -> asyncio.Future[Any]:
        """A terminal request answered 91 (nothing posted): its key is spent, so the same request
        replayed later, when it might pass, is answered 91 again and never posts (the terminal
        starts again with a new STAN). Reversals and advices are not spent this way: they are
        repeated until answered. Called on the event loop: the write is queued at once (before any
        later request's) and not waited for, so the 91 is not delayed by a busy writer."""
        _check_key(idem_key)

        def work(tx: Tx) -> None:
            root = self.caches.merchant(tx, merchant_id).root_club_id
            if tx.one("SELECT 1 FROM operations WHERE club_id = ? AND idem_key = ?", (root, idem_key)) is not None:
                return
            op_id = self._new_op(tx, club_id=root, idem_key=idem_key, body_hash=TIMEOUT_HASH, kind="timeout",
                                 member_id=None, merchant_id=merchant_id, now=self.clock())
            self._finish_op(tx, op_id, "timed_out", {"op_id": op_id, "status": "timed_out"}, None)

        return self.writer.submit_async(work)

    def _open_purchase_op(self, tx: Tx, req: PurchaseRequest, body_hash: str, kind: str, now: int) -> tuple[dict[str, Any] | None, int]:
        """The stored answer of a retried key, or a new operation row (its id) for a purchase or hold."""
        merchant = self.caches.merchant(tx, req.merchant_id)
        existing = self._existing(tx, merchant.root_club_id, req.idem_key, body_hash, req.amount_rial)
        if existing is not None:
            return existing, 0
        op_id = self._new_op(tx, club_id=merchant.root_club_id, idem_key=req.idem_key, body_hash=body_hash, kind=kind,
                             member_id=None, merchant_id=req.merchant_id, terminal_id=req.terminal_id,
                             amount_rial=req.amount_rial, reference=req.reference, actor=req.actor, now=now)
        return None, op_id

    def _purchase_single(self, tx: Tx, req: PurchaseRequest, body_hash: str) -> dict[str, Any]:
        """The single path of a purchase (the reference the bulk path must agree with)."""
        now = self.clock()
        existing, op_id = self._open_purchase_op(tx, req, body_hash, "purchase", now)
        if existing is not None:
            return existing
        rrn = self._assign_rrn(tx, req, op_id)
        d, snapshot, merchant, member_club = self._decide(tx, req, op_id, now)
        write_decision(tx, d, op_id=op_id, op_club=merchant.root_club_id, member_club=member_club, now=now)
        receipt = {**self._receipt(d, snapshot, op_id), **terminal_fields(req, op_id, snapshot["tier"], rrn)}
        codes = [c for (c,) in tx.all("SELECT code FROM vouchers WHERE issued_op_id = ?", (op_id,))] if d.vouchers_issued else []
        if codes:
            receipt["vouchers"] = codes
        self._finish_op(tx, op_id, "done", receipt, d, member_id=d.member_id)
        return receipt

    def _assign_rrn(self, tx: Tx, req: PurchaseRequest, op_id: int) -> str | None:
        """A fresh random RRN for an operation its terminal sent without field 37 (stored as its
        reference); None when the request has its own."""
        if req.reference is not None:
            return None
        club = self.caches.merchant(tx, req.merchant_id).root_club_id
        rrn = fresh_rrns(tx, club, 1)[0]
        tx.execute("UPDATE operations SET reference = ? WHERE id = ?", (rrn, op_id))
        return rrn

    # --- holds (a redemption fixed before the bank sale) ------------------------------------------

    def hold(self, req: PurchaseRequest) -> dict[str, Any]:
        """Reserve the credit a purchase would spend and fix its discount; complete or cancel later.
        A refusal is remembered under the key as a purchase's is (``req.remember_refusal``)."""
        self._validate_purchase(req)
        body_hash = request_hash({"op": "hold", **req.body(self.member_key(req.member))})
        try:
            self._verify_spend(req)
            return self._hold(req, body_hash)
        except KimiaError as exc:
            if req.remember_refusal:
                self._remember(self._refusal_work(exc, req.merchant_id, req.idem_key, body_hash, req.amount_rial))
            raise

    def _hold(self, req: PurchaseRequest, body_hash: str) -> dict[str, Any]:

        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock()
            existing, op_id = self._open_purchase_op(tx, req, body_hash, "hold", now)
            if existing is not None:
                return existing
            rrn = self._assign_rrn(tx, req, op_id)
            d, snapshot, merchant, member_club = self._decide(tx, req, op_id, now)
            held = core.hold(d)
            write_decision(tx, held, op_id=op_id, op_club=merchant.root_club_id, member_club=member_club, now=now)
            # The points balance is the hold's (the points redeemed are held, none earned yet).
            balance_points = self._receipt(held, snapshot, op_id, "held")["balance_points"]
            receipt = {**self._receipt(d, snapshot, op_id, "held"), "hold_id": op_id, "points_earned": 0, "balance_points": balance_points,
                       **terminal_fields(req, op_id, snapshot["tier"], rrn)}
            self._finish_op(tx, op_id, "held", receipt, d, member_id=d.member_id)
            return receipt

        return self.write(work)  # type: ignore[no-any-return]

    def _load_op(self, tx: Tx, merchant_id: int, op_id: int | None = None, *, reference: str | None = None) -> dict[str, Any]:
        """An operation of the acting merchant (in its club), by id or by reference (RRN): every
        lookup is scoped so, and anything else (another club's, another merchant's) is not found.
        Ids are sequential and RRNs of old rows too: only the scope keeps them to their owner."""
        club_id = self.caches.merchant(tx, merchant_id).root_club_id
        columns = "id, club_id, kind, status, member_id, merchant_id, amount_rial, refunded_rial, decision, reference"
        if op_id is not None:
            row = tx.one(tx.lock(f"SELECT {columns} FROM operations WHERE id = ? AND club_id = ? AND merchant_id = ?"),
                         (op_id, club_id, merchant_id))
        else:
            row = tx.one(
                tx.lock(f"SELECT {columns} FROM operations WHERE club_id = ? AND merchant_id = ? AND reference = ?"
                        " AND kind IN ('purchase', 'completion') ORDER BY id DESC LIMIT 1"),
                (club_id, merchant_id, reference),
            )
        if row is None:
            raise reject("unknown_operation")
        keys = ("id", "club_id", "kind", "status", "member_id", "merchant_id", "amount_rial", "refunded_rial", "decision", "reference")
        return dict(zip(keys, row))

    def complete_hold(self, merchant_id: int, hold_id: int, *, idem_key: str, reference: str | None = None,
                      terminal_id: int | None = None, actor: str | None = None) -> dict[str, Any]:
        """The bank sale went through: pay the merchant from the hold and write the rest of the purchase.
        ``merchant_id`` is the acting merchant (its terminal's): only its own holds are found."""
        _check_key(idem_key)
        body_hash = request_hash({"op": "complete", "hold": hold_id, "reference": reference})

        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock()
            held = self._load_op(tx, merchant_id, hold_id)
            existing = self._existing(tx, held["club_id"], idem_key, body_hash, held["amount_rial"])
            if existing is not None:
                return existing
            if held["kind"] != "hold" or held["status"] != "held":
                raise reject("hold_not_pending")
            original = core.Decision.from_json(held["decision"])
            op_id = self._new_op(tx, club_id=held["club_id"], idem_key=idem_key, body_hash=body_hash, kind="completion",
                                 member_id=held["member_id"], merchant_id=held["merchant_id"], terminal_id=terminal_id,
                                 original_op_id=hold_id, amount_rial=held["amount_rial"], reference=reference, actor=actor, now=now)
            d = core.complete_hold(original, op_id=op_id, now=now)
            member_club = self._member_club(tx, held["member_id"])
            snapshot = load_member(tx, held["member_id"], merchant_id=held["merchant_id"], today=local_day(now), club_id=held["club_id"],
                                   ledger_club=member_club)
            write_decision(tx, d, op_id=op_id, op_club=held["club_id"], member_club=member_club, now=now)
            tx.execute("UPDATE operations SET status = 'completed' WHERE id = ?", (hold_id,))
            receipt = {**self._receipt(d, snapshot, op_id), "hold_id": hold_id, **tier_field(snapshot)}
            self._finish_op(tx, op_id, "done", receipt, d)
            return receipt

        return self.write(work)  # type: ignore[no-any-return]

    def cancel_hold(self, merchant_id: int, hold_id: int, *, idem_key: str, terminal_id: int | None = None,
                    actor: str | None = None) -> dict[str, Any]:
        """The bank sale did not happen (or was reversed): the held credit goes back. Only a hold of
        the acting merchant ``merchant_id`` is found."""
        _check_key(idem_key)
        body_hash = request_hash({"op": "cancel", "hold": hold_id})

        def work(tx: Tx) -> dict[str, Any]:
            held = self._load_op(tx, merchant_id, hold_id)
            existing = self._existing(tx, held["club_id"], idem_key, body_hash, 0)
            if existing is not None:
                return existing
            return self._cancel_in(tx, held, idem_key, body_hash, self.clock(), by=(terminal_id, actor))

        return self.write(work)  # type: ignore[no-any-return]

    def _cancel_in(self, tx: Tx, held: dict[str, Any], idem_key: str, body_hash: str, now: int,
                   by: tuple[int | None, str | None] = (None, None)) -> dict[str, Any]:
        """Cancel a pending hold; ``by`` is (terminal id, actor) of who cancels it."""
        if held["kind"] != "hold" or held["status"] != "held":
            raise reject("hold_not_pending")
        original = core.Decision.from_json(held["decision"])
        op_id = self._new_op(tx, club_id=held["club_id"], idem_key=idem_key, body_hash=body_hash, kind="cancel",
                             member_id=held["member_id"], merchant_id=held["merchant_id"], terminal_id=by[0],
                             original_op_id=held["id"], actor=by[1], now=now)
        d = core.cancel_hold(core.hold(original), op_id=op_id, now=now)
        write_decision(tx, d, op_id=op_id, op_club=held["club_id"], member_club=self._member_club(tx, held["member_id"]), now=now)
        tx.execute("UPDATE operations SET status = 'cancelled' WHERE id = ?", (held["id"],))
        response = {"op_id": op_id, "status": "cancelled", "hold_id": held["id"], "credit_returned_rial": original.credit_used_rial}
        if original.points_redeemed:
            response["points_returned"] = original.points_redeemed
        self._finish_op(tx, op_id, "done", response, d)
        return response

    def _member_club(self, tx: Tx, member_id: int) -> int:
        row = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
        if row is None:
            raise reject("unknown_member")
        return self.caches.root_club(tx, int(row[0]))

    # --- refunds and reversals --------------------------------------------------------------------

    def refund(
        self,
        merchant_id: int,
        *,
        idem_key: str,
        op_id: int | None = None,
        reference: str | None = None,
        amount_rial: int | None = None,
        terminal_id: int | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Refund part of a purchase (``amount_rial``) or reverse what is left of it (``None``).
        The purchase is named by its operation id, or by its reference (RRN), and is found only
        among the sales of the acting merchant ``merchant_id``."""
        _check_key(idem_key)
        if amount_rial is not None:
            _check_amount(amount_rial, "amount_rial")
        if op_id is None and reference is None:
            raise reject("invalid_request", path="op_id", detail="give op_id or reference")
        body_hash = request_hash({"op": "refund", "of": op_id, "reference": reference, "amount": amount_rial})

        def work(tx: Tx) -> dict[str, Any]:
            if not self.caches.merchant(tx, merchant_id).active:
                raise reject("unknown_merchant")  # a deactivated merchant refunds no more than it sells
            original = self._load_op(tx, merchant_id, op_id, reference=reference)
            existing = self._existing(tx, original["club_id"], idem_key, body_hash, amount_rial or 0)
            if existing is not None:
                return existing
            return self._reverse_in(tx, original, idem_key, body_hash, amount_rial, self.clock(), by=(terminal_id, actor))

        return self.write(work)  # type: ignore[no-any-return]

    def _reverse_in(self, tx: Tx, original: dict[str, Any], idem_key: str, body_hash: str, amount_rial: int | None, now: int,
                    by: tuple[int | None, str | None] = (None, None)) -> dict[str, Any]:
        """Refund or reverse a posted sale; ``by`` is (terminal id, actor) of who does it."""
        if original["kind"] not in ("purchase", "completion") or original["status"] != "done" or not original["decision"]:
            raise reject("not_refundable")
        if original["refunded_rial"] >= original["amount_rial"]:
            raise reject("already_reversed")
        decided = core.Decision.from_json(original["decision"])
        member_club = self._member_club(tx, original["member_id"])
        snapshot = load_member(tx, original["member_id"], merchant_id=original["merchant_id"], today=local_day(now), club_id=original["club_id"],
                               ledger_club=member_club)
        new_id = self._new_op(tx, club_id=original["club_id"], idem_key=idem_key, body_hash=body_hash,
                              kind="refund" if amount_rial is not None else "reversal", member_id=original["member_id"],
                              merchant_id=original["merchant_id"], terminal_id=by[0], original_op_id=original["id"],
                              amount_rial=amount_rial or original["amount_rial"] - original["refunded_rial"], actor=by[1], now=now)
        d = core.reverse(decided, snapshot, op_id=new_id, now=now, refund_rial=amount_rial, refunded_before_rial=original["refunded_rial"])
        write_decision(tx, d, op_id=new_id, op_club=original["club_id"], member_club=member_club, now=now)
        tx.execute("UPDATE operations SET refunded_rial = refunded_rial + ? WHERE id = ?", (-d.amount_rial, original["id"]))
        if d.counters["purchases"]:  # the whole purchase is undone: every counter it moved goes back
            restore_last_purchase(tx, original["member_id"])
        receipt = {**self._receipt(d, snapshot, new_id), "original_op_id": original["id"], **tier_field(snapshot)}
        self._finish_op(tx, new_id, "done", receipt, d)
        return receipt

    def _undo_refund(self, tx: Tx, refund: dict[str, Any], idem_key: str, body_hash: str, now: int,
                     by: tuple[int | None, str | None] = (None, None)) -> dict[str, Any]:
        """Undo a refund exactly (a terminal reversed it): the purchase stands again as before."""
        refund_row = tx.one(tx.lock("SELECT original_op_id FROM operations WHERE id = ?"), (refund["id"],))
        decided = core.Decision.from_json(refund["decision"])
        member_club = self._member_club(tx, refund["member_id"])
        snapshot = load_member(tx, refund["member_id"], merchant_id=refund["merchant_id"], today=local_day(now), club_id=refund["club_id"],
                               ledger_club=member_club)
        new_id = self._new_op(tx, club_id=refund["club_id"], idem_key=idem_key, body_hash=body_hash, kind="reversal",
                              member_id=refund["member_id"], merchant_id=refund["merchant_id"], terminal_id=by[0],
                              original_op_id=refund["id"], amount_rial=-decided.amount_rial, actor=by[1], now=now)
        d = core.invert(decided, snapshot, op_id=new_id, now=now)
        write_decision(tx, d, op_id=new_id, op_club=refund["club_id"], member_club=member_club, now=now)
        tx.execute("UPDATE operations SET status = 'reversed' WHERE id = ?", (refund["id"],))
        if refund_row is not None and refund_row[0] is not None:
            tx.execute("UPDATE operations SET refunded_rial = refunded_rial - ? WHERE id = ?", (-decided.amount_rial, refund_row[0]))
        if d.counters["purchases"]:  # a full refund undone: the purchase counts again
            restore_last_purchase(tx, refund["member_id"])
        receipt = {**self._receipt(d, snapshot, new_id), "original_op_id": refund["id"]}
        self._finish_op(tx, new_id, "done", receipt, d)
        return receipt

    def reverse_by_key(self, merchant_id: int, original_key: str, *, idem_key: str, replacement_rial: int | None = None,
                       terminal_id: int | None = None, actor: str | None = None, legacy_key: str | None = None) -> dict[str, Any]:
        """Reverse the operation submitted under ``original_key`` (a terminal's reversal, 0400/0420).

        A posted purchase is reversed in full, or, with ``replacement_rial`` (what the sale comes to
        after a partial reversal, ISO 8583 field 95), down to that amount; a pending hold is
        cancelled; an original that never arrived is recorded as void under its key, so if it
        arrives late it is refused and never posts. Repeating the reversal (same ``idem_key``)
        changes nothing. ``legacy_key`` is the original's key as it was written before (a terminal
        key without its year): looked up when nothing is stored under ``original_key``.

        Only an original of the acting merchant ``merchant_id`` is reversed: a key of another
        merchant of the club is answered ``unknown_operation`` (and is not voided)."""
        _check_key(idem_key)
        _check_key(original_key)
        if legacy_key is not None:
            _check_key(legacy_key)
        by = (terminal_id, actor)
        if replacement_rial is not None:
            _check_amount(replacement_rial, "replacement_rial", allow_zero=True)
        body = {"op": "reverse_key", "merchant": merchant_id, "original": original_key}
        body_hash = request_hash(body if not replacement_rial else {**body, "replacement": replacement_rial})

        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock()
            merchant = self.caches.merchant(tx, merchant_id)
            root = merchant.root_club_id
            existing = self._existing(tx, root, idem_key, body_hash, 0)
            if existing is not None:
                return existing
            row = tx.one(tx.lock("SELECT id, merchant_id FROM operations WHERE club_id = ? AND idem_key = ?"), (root, original_key))
            if row is None and legacy_key is not None:
                row = tx.one(tx.lock("SELECT id, merchant_id FROM operations WHERE club_id = ? AND idem_key = ?"), (root, legacy_key))
            if row is not None and row[1] != merchant_id:
                raise reject("unknown_operation", path="original_key")
            if row is None:
                void_id = self._new_op(tx, club_id=root, idem_key=original_key, body_hash=VOID_HASH, kind="void", member_id=None,
                                       merchant_id=merchant_id, terminal_id=terminal_id, actor=actor, now=now)
                self._finish_op(tx, void_id, "void", {"op_id": void_id, "status": "void"}, None)
                response = {"status": "void", "original_found": False, "void_op_id": void_id}
            else:
                original = self._load_op(tx, merchant_id, int(row[0]))
                if original["kind"] == "hold" and original["status"] == "held":
                    response = {**self._cancel_in(tx, original, idem_key, body_hash, now, by), "original_found": True}
                    return response
                left = original["amount_rial"] - original["refunded_rial"]
                # A partial reversal leaves the sale at replacement_rial: reverse what is above it.
                part = None if not replacement_rial else original["amount_rial"] - replacement_rial - original["refunded_rial"]
                if original["kind"] in ("purchase", "completion") and original["status"] == "done" and left > 0 and (part is None or part > 0):
                    return {**self._reverse_in(tx, original, idem_key, body_hash, part if part is not None and part < left else None, now, by),
                            "original_found": True}
                if original["kind"] == "refund" and original["status"] == "done" and original["decision"]:
                    return {**self._undo_refund(tx, original, idem_key, body_hash, now, by), "original_found": True}
                response = {"status": "nothing_to_reverse", "original_found": True, "original_op_id": original["id"]}
            op_id = self._new_op(tx, club_id=root, idem_key=idem_key, body_hash=body_hash, kind="reversal", member_id=None,
                                 merchant_id=merchant_id, terminal_id=terminal_id, actor=actor, now=now)
            response = {**response, "op_id": op_id}
            self._finish_op(tx, op_id, "done", response, None)
            return response

        return self.write(work)  # type: ignore[no-any-return]

    # --- value operations (V1–V5, manual adjustments, expiry) ---------------------------------------

    def _member_value_op(
        self,
        *,
        club_id: int,
        member: MemberRef | int | dict[str, Any],
        idem_key: str,
        kind: str,
        body: dict[str, Any],
        amount: int,
        decide: Callable[[Tx, dict[str, Any], int, int, int], core.Decision],
        audited: tuple[str, str, str] | None = None,
    ) -> dict[str, Any]:
        """An operation on one member's value decided by ``decide(tx, snapshot, op_id, now, root)``;
        with ``audited`` = (actor, action, reason) also a row of the audit log, in its transaction."""
        _check_key(idem_key)
        body_hash = request_hash({"op": kind, **body, "member": self.member_key(member)})
        ref = MemberRef.of(member)

        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock()
            root = self.caches.root_club(tx, club_id)
            existing = self._existing(tx, root, idem_key, body_hash, amount)
            if existing is not None:
                return existing
            member_id, member_club = self._resolve_member(tx, root, ref)
            op_id = self._new_op(tx, club_id=root, idem_key=idem_key, body_hash=body_hash, kind=kind, member_id=member_id, amount_rial=amount,
                                 actor=audited[0] if audited is not None else None, now=now)
            snapshot = load_member(tx, member_id, merchant_id=None, today=local_day(now), club_id=root, ledger_club=member_club)
            d = decide(tx, snapshot, op_id, now, root)
            write_decision(tx, d, op_id=op_id, op_club=root, member_club=member_club, now=now)
            receipt = self._receipt(d, snapshot, op_id)
            codes = [issue_voucher_code for issue_voucher_code in tx.all("SELECT code FROM vouchers WHERE issued_op_id = ?", (op_id,))]
            if codes:
                receipt["vouchers"] = [c for (c,) in codes]
            if audited is not None:
                actor, action, reason = audited
                named, secrets = self._member_ref_display(ref)
                payload = {**body, "member": named, "member_id": member_id, "op_id": op_id}
                secrets += self._member_secrets(tx, member_id, json.dumps([actor, reason, payload], ensure_ascii=False))
                audit.append(tx, club_id=root, actor=actor, action=action, reason=reason, at=now, secrets=secrets, payload=payload)
            self._finish_op(tx, op_id, "done", receipt, d)
            return receipt

        return self.write(work)  # type: ignore[no-any-return]

    def _settings(self, tx: Tx, club_id: int) -> dict[str, Any]:
        row = tx.one("SELECT settings FROM clubs WHERE id = ?", (club_id,))
        if row is None:
            raise reject("unknown_club")
        return row[0] if isinstance(row[0], dict) else json.loads(row[0] or "{}")

    def convert_points(self, club_id: int, member: MemberRef | int | dict[str, Any], points: int, *, idem_key: str) -> dict[str, Any]:
        """Convert points to credit at the member's tier/group ratio (V1)."""
        _check_amount(points, "points")

        def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
            return core.convert_points(self._conversion(tx, root), snapshot, op_id=op_id, now=now, points=points)

        return self._member_value_op(club_id=club_id, member=member, idem_key=idem_key, kind="conversion",
                                     body={"member": str(member), "points": points}, amount=points, decide=decide)

    def charge(
        self,
        club_id: int,
        member: MemberRef | int | dict[str, Any],
        *,
        idem_key: str,
        kind: str,
        amount_rial: int,
        source: dict[str, Any],
        actor: str,
        reason: str,
        expires_days: int | None = None,
        shared_wallet: bool = False,
    ) -> dict[str, Any]:
        """Charge credit: welfare from an organisation (V3), a gift card (V4), a credit-line repayment (V2).
        With ``shared_wallet`` the credit goes to the member's shared (family) wallet, which every
        member of the wallet may spend (M5). Issues value: who (``actor``) and why (``reason``)
        go to the audit log with it."""
        _check_actor(actor, reason)
        _check_amount(amount_rial, "amount_rial")
        if kind not in ("gift_credit", "welfare_credit", "virtual_credit", "credit_line"):
            raise reject("invalid_request", path="kind", detail="gift_credit, welfare_credit, virtual_credit or credit_line")

        def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
            account = f"member:{snapshot['member_id']}/{kind}"
            if shared_wallet:
                if snapshot.get("shared_group_id") is None:
                    raise reject("invalid_request", path="shared_wallet", detail="the member has no shared wallet")
                account = f"group:{snapshot['shared_group_id']}/{kind}"
            return core.charge(snapshot, op_id=op_id, now=now, account=account, amount=amount_rial, source=source, expires_days=expires_days)

        body = {"member": str(member), "kind": kind, "amount": amount_rial, "source": source, "expires": expires_days}
        if shared_wallet:
            body["shared_wallet"] = True
        return self._member_value_op(club_id=club_id, member=member, idem_key=idem_key, kind="charge",
                                     body=body, amount=amount_rial, decide=decide, audited=(actor, "charge", reason))

    def charge_many(self, club_id: int, org_id: int, charges: list[tuple[int, int]], *, batch_key: str, actor: str, reason: str,
                    kind: str = "welfare_credit", expires_days: int | None = None) -> list[dict[str, Any]]:
        """Closed-loop bulk charge of staff accounts by an organisation (V3): one operation per member,
        keyed ``{batch_key}:{member_id}`` so a re-run of the same batch charges nobody twice; each
        with ``actor`` and ``reason`` in the audit log."""
        _check_actor(actor, reason)
        return [
            self.charge(club_id, member_id, idem_key=f"{batch_key}:{member_id}", kind=kind, amount_rial=amount,
                        source={"type": "org", "id": org_id}, expires_days=expires_days, actor=actor,
                        reason=f"{reason} (batch {batch_key})")
            for member_id, amount in charges
        ]

    def set_credit_limit(self, club_id: int, member_id: int, limit_rial: int, *, actor: str, reason: str) -> None:
        """Open or change a member's credit line (V2); audited."""
        _check_amount(limit_rial, "limit_rial", allow_zero=True)
        _check_actor(actor, reason)

        def work(tx: Tx) -> None:
            root = self.caches.root_club(tx, club_id)
            self._own_member(tx, root, member_id)
            account = f"member:{member_id}/credit_line"
            tx.execute(
                "INSERT INTO balances (club_id, account, owner, balance, credit_limit) VALUES (?,?,?,0,?)"
                " ON CONFLICT (club_id, account) DO UPDATE SET credit_limit = excluded.credit_limit",
                (root, account, f"member:{member_id}", limit_rial),
            )
            row = tx.one("SELECT balance FROM balances WHERE club_id = ? AND account = ?", (root, account))
            if row[0] < -limit_rial:
                raise reject("credit_limit_exceeded")
            audit.append(tx, club_id=root, actor=actor, action="set_credit_limit", reason=reason,
                         payload={"member_id": member_id, "limit_rial": limit_rial}, at=self.clock())

        self.write(work)

    def buy_voucher(self, club_id: int, member: MemberRef | int | dict[str, Any], template_id: int, *, idem_key: str) -> dict[str, Any]:
        """Buy a voucher with points or credit (V5); the answer carries the voucher code."""

        def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
            row = tx.one("SELECT price_points, price_credit_rial, min_balance FROM voucher_templates WHERE id = ? AND club_id = ?", (template_id, root))
            if row is None:
                raise reject("unknown_voucher_template")
            price = {"template_id": template_id, "points": row[0], "credit_rial": row[1], "min_balance": row[2]}
            return core.buy_voucher(root, price, snapshot, op_id=op_id, now=now)

        return self._member_value_op(club_id=club_id, member=member, idem_key=idem_key, kind="voucher",
                                     body={"member": str(member), "template": template_id}, amount=0, decide=decide)

    def adjust(
        self,
        club_id: int,
        member: MemberRef | int | dict[str, Any],
        *,
        idem_key: str,
        account_kind: str,
        delta: int,
        actor: str,
        reason: str,
        expires_days: int | None = None,
    ) -> dict[str, Any]:
        """A manual adjustment by staff, with who and why in the audit log (the member named as
        the operator named them, masked: a card by its last 4 digits)."""
        _check_actor(actor, reason)
        if not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_AMOUNT_RIAL:
            raise reject("amount_must_be_positive", path="delta")

        def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
            account = f"member:{snapshot['member_id']}/{account_kind}"
            return core.adjust(root, snapshot, op_id=op_id, now=now, account=account, delta=delta, expires_days=expires_days)

        return self._member_value_op(club_id=club_id, member=member, idem_key=idem_key, kind="adjustment",
                                     body={"member": str(member), "account": account_kind, "delta": delta, "reason": reason},
                                     amount=abs(delta), decide=decide, audited=(actor, "adjust", reason))

    def expire_sweep(self, club_id: int, *, actor: str) -> int:
        """Retire every expired lot of a club; returns how many members were swept. Re-runnable.
        Each run is a row of the audit log naming ``actor`` (the job or person that ran it)."""
        _check_actor(actor)
        now = self.clock()
        with self.reading() as tx:
            root = self.caches.root_club(tx, club_id)
            owners = [o for (o,) in tx.all(
                "SELECT DISTINCT owner FROM lots WHERE club_id = ? AND remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ?",
                (root, now))]
            members: list[int] = []
            for owner in owners:
                kind, _, number = owner.partition(":")
                if kind == "member":
                    members.append(int(number))
                else:
                    row = tx.one("SELECT id FROM members WHERE shared_wallet_id = ? ORDER BY id LIMIT 1", (int(number),))
                    if row:
                        members.append(int(row[0]))

        def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now_: int, root_: int) -> core.Decision:
            return core.expire(root_, snapshot, op_id=op_id, now=now_)

        for member_id in members:
            self._member_value_op(club_id=root, member=member_id, idem_key=f"expire:{member_id}:{now}", kind="expiry",
                                  body={"member": member_id, "at": now}, amount=0, decide=decide)
        self.write(partial(audit.append, club_id=root, actor=actor, action="expire_sweep", reason="lots past their expiry",
                           payload={"members_swept": len(members)}, at=now))
        return len(members)

    # --- tiers (V6–V11) ----------------------------------------------------------------------------

    def _club_tree(self, tx: Tx, root: int) -> list[int]:
        """A club and all its sub-clubs, at any depth."""
        clubs, frontier = [root], [root]
        while frontier and len(clubs) < 10_000:
            children = [c for (c,) in tx.all(f"SELECT id FROM clubs WHERE parent_id IN ({tx.placeholders(len(frontier))})", tuple(frontier))]
            clubs.extend(children)
            frontier = children
        return clubs

    def close_period(self, club_id: int, period_end: int, *, actor: str, chunk_size: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Close a tier period for the whole club: moves, grace, deductions; returns counts per reason.

        Chunked and restartable (kimia.service.period): each chunk of members is closed, and its
        deductions posted, in one transaction; if a run stops half-way, running the same close
        again finishes it, closing every member once and deducting once. ``progress(done, total)``
        is called as members are closed."""
        _check_actor(actor)
        from kimia.service import period
        from kimia.service.period import close_chunk, open_close

        chunk_size = chunk_size if chunk_size is not None else period.CLOSE_CHUNK

        with self.reading() as tx:
            root = self.caches.root_club(tx, club_id)
            clubs = self._club_tree(tx, root)
            config = self._settings(tx, root).get("tiers")
        if not config:
            raise reject("invalid_tier_config", detail=Phrase("no tiers", "طبقه‌ای تعریف نشده"))
        if not 1 <= chunk_size <= 100_000:
            raise reject("invalid_request", path="chunk_size", detail="chunk_size is between 1 and 100,000")
        state = self.write(partial(open_close, root=root, clubs=clubs, period_end=period_end, config=config, actor=actor, now=self.clock()))
        if progress is not None:
            progress(state.members_done, state.members_total)
        while not state.finished:
            state = self.write(partial(close_chunk, service=self, close_id=state.id, clubs=clubs, chunk_size=chunk_size))
            if progress is not None:
                progress(state.members_done, state.members_total)
        self.caches.clear()
        with self.reading() as tx:
            counts = tx.all("SELECT reason, COUNT(*) FROM tier_history WHERE club_id = ? AND period_end = ? GROUP BY reason", (root, period_end))
        return {str(reason): int(n) for reason, n in counts}

    def period_closes(self, club_id: int) -> tuple[int | None, int | None]:
        """(end of the club's last finished period close, end of its unfinished close if any)."""
        from kimia.service.period import last_closed_end, running_close

        with self.reading() as tx:
            root = self.caches.root_club(tx, club_id)
            running = running_close(tx, root)
            return last_closed_end(tx, root), running.period_end if running is not None else None

    # --- settlement and checks ------------------------------------------------------------------------

    def settlement(self, club_id: int, day: int) -> str:
        """The settlement CSV of one local day of a club (S1)."""
        from kimia.service.settlement import settlement_csv, settlement_lines

        with self.reading() as tx:
            root = self.caches.root_club(tx, club_id)
            return settlement_csv(settlement_lines(tx, root, day), club_id=root, day=day)

    def check(self) -> Any:
        """Recompute every balance from the journal and verify every invariant (``kimia check``)."""
        from kimia.service.check import run_check

        with self.reading() as tx:
            return run_check(tx)

    # --- lotteries (R10) ------------------------------------------------------------------------------

    def draw_lottery(self, club_id: int, lottery_id: int, seed: str, *, actor: str) -> list[dict[str, Any]]:
        """Draw winners, reproducibly: the seed's SHA-256 was committed when the lottery opened, and
        the winners follow from the seed and the entries alone (weighted by entries, without repeats).
        ``club_id`` is the club drawing: a lottery of another club is not found."""
        _check_actor(actor)

        def work(tx: Tx) -> list[dict[str, Any]]:
            row = tx.one(tx.lock("SELECT club_id, prizes, seed_commitment, status FROM lotteries WHERE id = ?"), (lottery_id,))
            if row is None or self.caches.root_club(tx, int(row[0])) != self.caches.root_club(tx, club_id):
                raise reject("unknown_lottery")
            lottery_club, prizes, commitment, status = row
            prizes = prizes if isinstance(prizes, list) else json.loads(prizes or "[]")
            if status != "open":
                raise reject("lottery_not_open")
            if hashlib.sha256(seed.encode()).hexdigest() != commitment:
                raise reject("seed_mismatch")
            entrants = self._clubs_sharing_members(tx, self.caches.root_club(tx, lottery_club))
            winners = draw_winners(tx, entrants, lottery_id, seed, len(prizes) or 1)
            if not winners:
                raise reject("no_entries")
            result = []
            for rank, member_id in enumerate(winners, start=1):
                prize = str(prizes[rank - 1]) if rank - 1 < len(prizes) else ""
                tx.execute("INSERT INTO lottery_winners (lottery_id, rank, member_id, prize) VALUES (?,?,?,?)", (lottery_id, rank, member_id, prize))
                result.append({"rank": rank, "member_id": member_id, "prize": prize})
            now = self.clock()
            tx.execute("UPDATE lotteries SET status = 'drawn', seed = ?, drawn_at = ? WHERE id = ?", (seed, now, lottery_id))
            audit.append(tx, club_id=lottery_club, actor=actor, action="draw_lottery", reason="seed revealed",
                         payload={"lottery_id": lottery_id, "winners": result}, at=now)
            return result

        return self.write(work)  # type: ignore[no-any-return]


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


__all__ = ["DEV_CARD_KEY", "Base", "Deadline", "Kimia", "MemberRef", "PurchaseRequest", "draw_winners", "local_day", "request_hash"]
