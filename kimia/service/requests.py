"""What a channel submits and the pure helpers every operation family shares: member references,
the purchase request, deadlines, request hashes and stored answers, RRNs, amount checks.

Nothing here holds state or calls another family; the families and the facade (``Kimia``) build
on it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import kimia._core as core
from kimia.error_codes import ErrorCode
from kimia.errors import KimiaError, Rejected, reject
from kimia.service import audit
from kimia.service.context import MerchantContext
from kimia.service.sql import Tx
from kimia.service.verify import Proof


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


def local_day(now: int, utc_offset_min: int) -> int:
    """The local day (days since 1970-01-01) of Unix time ``now`` at ``utc_offset_min``, always
    the club's own offset (``Caches.utc_offset_min``, ``MerchantContext``): no club's day is a
    constant."""
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
        with self._lock:
            if self.expired or time.monotonic() > self.at:
                self.expired = True
                raise reject("service_unavailable")

    def seal(self) -> None:
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


def check_amount(value: Any, field_name: str, *, allow_zero: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise reject("invalid_request", path=field_name, detail=f"{field_name} must be an integer number of rials")
    if value < 0 or (value == 0 and not allow_zero):
        raise reject("amount_must_be_positive", path=field_name)
    if value > MAX_AMOUNT_RIAL:
        raise reject("amount_too_large", path=field_name)
    return value


def check_points(value: Any, field_name: str) -> int:
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


def spends(req: PurchaseRequest) -> bool:
    """Whether a purchase spends the member's held value (what cardholder verification guards)."""
    return req.redeem_credit_rial > 0 or req.redeem_points > 0


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > 200:
        raise reject("missing_idempotency_key", path="idem_key")
    return key


def check_actor(actor: Any, reason: Any = "-") -> None:
    """A manual or bulk value operation names who ran it (a person, ``cli:USER``, a job) and why."""
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 100:
        raise reject("actor_required", path="actor")
    if not isinstance(reason, str) or not reason.strip():
        raise reject("reason_required", path="reason")


def purchase_input(merchant: MerchantContext, req: PurchaseRequest, op_id: int, enrolled_by: int | None,
                    conversion: dict[str, Any] | None = None) -> dict[str, Any]:
    """The core's purchase; ``conversion`` (``conversion_settings``) prices the points it redeems."""
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


def validate_purchase(req: PurchaseRequest) -> None:
    check_key(req.idem_key)
    check_amount(req.amount_rial, "amount_rial")
    check_amount(req.redeem_credit_rial, "redeem_credit_rial", allow_zero=True)
    check_points(req.redeem_points, "redeem_points")
    if req.payment_method not in ("card", "cash", "mixed", "credit"):
        raise reject("invalid_request", path="payment_method", detail="card, cash, mixed or credit")
    if req.channel not in ("pos", "pcpos", "app", "web", "api", "panel"):
        raise reject("invalid_request", path="channel", detail="pos, pcpos, app, web, api or panel")
    if not isinstance(req.basket, list) or len(req.basket) > 1000:
        raise reject("invalid_request", path="basket", detail="at most 1000 lines")


def receipt_of(d: core.Decision, snapshot: dict[str, Any], op_id: int, status: str = "done") -> dict[str, Any]:
    """The answer a channel shows: amounts, the member's balances after the decision,
    explanation in both languages (built by the core: ``Decision.receipt``)."""
    return d.receipt(op_id, snapshot, status)[0]
