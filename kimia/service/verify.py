"""Cardholder verification: proof that a member is there before their value is spent or a card is
bound to them, and the notification sink that carries one-time codes.

A club chooses, in its settings (``Admin.update_settings``), which proofs it accepts::

    "verification": {"redeem": ["card_present", "pin", "otp"], "bind": ["pin", "otp"],
                     "member_id_refs": false}

``redeem`` covers every spend of held value (club credit ``redeem_credit_rial``, points
``redeem_points``) by a purchase or a hold; ``bind`` covers binding a card to a member at a
terminal or through the app. Any one listed proof is enough; an empty list asks for none. Without
the setting a club gets :data:`DEFAULT_POLICY`. Earning is always open; a voucher is a bearer code
and is its own proof. ``member_id_refs`` (development only) lets a member be named by their member
id as an account (``A:<id>``).

Proofs:

* ``card_present``: the member was named by a bank card read at a POS or PC-POS (field 2 / 35).
* ``pin``: the member's club PIN (4 to 12 digits), kept as a scrypt hash; after
  :data:`PIN_MAX_FAILURES` wrong PINs in a row it is locked for :data:`PIN_LOCK_S` seconds.
* ``otp``: a one-time code of :data:`CODE_DIGITS` digits sent to the member's mobile
  (``Kimia.request_code``), kept as a keyed hash, valid :data:`CODE_TTL_S` seconds, used once,
  :data:`CODE_MAX_ATTEMPTS` wrong tries at most.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kimia.errors import reject

log = logging.getLogger(__name__)

PROOFS = ("card_present", "pin", "otp")
#: What a club without a ``verification`` setting asks for.
DEFAULT_POLICY: dict[str, tuple[str, ...]] = {"redeem": PROOFS, "bind": ("pin", "otp")}
#: Proofs each action may accept (a card being bound proves nothing about its member).
ALLOWED: dict[str, tuple[str, ...]] = {"redeem": PROOFS, "bind": ("pin", "otp")}

PIN_MAX_FAILURES = 5
PIN_LOCK_S = 15 * 60
CODE_DIGITS = 6
CODE_TTL_S = 5 * 60
CODE_MAX_ATTEMPTS = 5
#: A member is sent at most one code in this many seconds (a terminal cannot flood their phone).
CODE_INTERVAL_S = 60
#: scrypt parameters: about 16 MiB and tens of milliseconds per PIN check, slow for a brute force.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class Proof:
    """What a request offers as proof that the member is there. Never stored or logged."""

    pin: str | None = None
    otp: str | None = None
    #: Set by the service, not the caller: the member was named by a card read at a terminal.
    card_present: bool = False


def policy(settings: dict[str, Any], action: str) -> tuple[str, ...]:
    """The proofs a club accepts for ``action`` (``redeem`` or ``bind``); empty means none needed."""
    verification = settings.get("verification")
    if isinstance(verification, dict) and isinstance(verification.get(action), list):
        return tuple(str(p) for p in verification[action])
    return DEFAULT_POLICY[action]


def member_id_refs(settings: dict[str, Any]) -> bool:
    """Whether ``A:<member id>`` still names a member (development clubs only)."""
    verification = settings.get("verification")
    return isinstance(verification, dict) and verification.get("member_id_refs") is True


def validate_settings(value: Any) -> None:
    """Check a club's ``verification`` setting; ``invalid_request`` names the offending key."""
    if not isinstance(value, dict):
        raise reject("invalid_request", path="verification", detail="verification is an object")
    for key, item in value.items():
        if key == "member_id_refs":
            if not isinstance(item, bool):
                raise reject("invalid_request", path="verification.member_id_refs", detail="true or false")
            continue
        if key not in ALLOWED:
            raise reject("invalid_request", path=f"verification.{key}", detail="the keys are redeem, bind and member_id_refs")
        if not isinstance(item, list) or not all(isinstance(p, str) and p in ALLOWED[key] for p in item):
            raise reject("invalid_request", path=f"verification.{key}", detail=f"a list of {', '.join(ALLOWED[key])}")


def check_pin_format(pin: str) -> str:
    if not isinstance(pin, str) or not 4 <= len(pin) <= 12 or not (pin.isascii() and pin.isdigit()):
        raise reject("invalid_request", path="pin", detail="a PIN is 4 to 12 digits")
    return pin


def hash_pin(pin: str) -> str:
    """A slow salted hash of a PIN (scrypt): ``scrypt$n$r$p$salt$hash``, hex."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(check_pin_format(pin).encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(key: bytes, member_id: int, code: str) -> str:
    """A one-time code as stored: keyed (the service's secret key) and bound to its member."""
    return hmac.new(key, f"otp:{member_id}:{code}".encode(), hashlib.sha256).hexdigest()


# --- notifications ---------------------------------------------------------------------------------


class Notifier(Protocol):
    """Where messages to members go (one-time codes). SMS delivery plugs in here."""

    def send(self, *, club_id: int, mobile: str, text_fa: str, text_en: str) -> None: ...


class ConsoleNotifier:
    """Writes each message to standard error: for development and demonstrations only."""

    def send(self, *, club_id: int, mobile: str, text_fa: str, text_en: str) -> None:
        print(f"[kimia notification] club {club_id} to {mobile}: {text_fa} / {text_en}", file=sys.stderr, flush=True)


class FileNotifier:
    """Appends each message as one JSON line to a file (created 0600): for tests and for a relay
    that delivers them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, *, club_id: int, mobile: str, text_fa: str, text_en: str) -> None:
        line = json.dumps({"club_id": club_id, "mobile": mobile, "text_fa": text_fa, "text_en": text_en}, ensure_ascii=False)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(line + "\n")

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]


def notifier_for(target: str) -> Notifier:
    """The notifier a ``notify`` setting names (``KIMIA_NOTIFY``, kimia.settings): ``file:<path>``
    for a file sink, else the console."""
    if target.startswith("file:"):
        return FileNotifier(target[5:])
    return ConsoleNotifier()
