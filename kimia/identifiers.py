"""Validation and normalisation of Iranian identifiers.

Covers the national code (کد ملی), bank card numbers (PAN), Sheba (IBAN),
mobile numbers and club card numbers. Standard library only, apart from kimia's error catalogue.

Every validator returns the canonical form or raises :class:`IdentifierError`
with a stable ``code`` and messages in English and Persian. Error messages
never contain the rejected value, so they are safe to log and to return to
clients (the value may be a card number).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import traceback
from typing import Any

from kimia.error_codes import ErrorCode
from kimia.errors import CATALOGUE, message

__all__ = [
    "IDENTIFIER_ERRORS",
    "IdentifierError",
    "card_hash",
    "club_card_hash",
    "identifier_error_codes",
    "install_log_masking",
    "key_id",
    "mask_card",
    "mask_club_card",
    "mask_pans_in_text",
    "normalize_digits",
    "normalize_mobile",
    "validate_card_number",
    "validate_club_card",
    "validate_national_code",
    "validate_sheba",
]

#: code -> (English message, Persian message), read from the one error catalogue
#: (core/src/errors.rs, origin "identifiers"). Codes are part of the public API (clients switch on
#: them); messages may be reworded.
IDENTIFIER_ERRORS: dict[str, tuple[str, str]] = {
    code: (spec.en, spec.fa) for code, spec in CATALOGUE.items() if spec.origin == "identifiers"
}


def identifier_error_codes() -> list[str]:
    """All error codes this module can raise, in precedence order."""
    return list(IDENTIFIER_ERRORS)


class IdentifierError(ValueError):
    """An identifier failed validation; ``code`` is stable, messages are bilingual."""

    code: ErrorCode
    message_en: str
    message_fa: str
    field: str

    def __init__(self, code: ErrorCode, field: str) -> None:
        # args == (code, field) so the exception pickles and re-raises across
        # processes (Exception.__reduce__ calls cls(*args)).
        super().__init__(code, field)
        message_en, message_fa = message(code, "en"), message(code, "fa")  # an unlisted code raises
        self.code = code
        self.message_en = message_en
        self.message_fa = message_fa
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"


# --- normalisation ---------------------------------------------------------

_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # U+06F0..U+06F9
_ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"  # U+0660..U+0669
_ANY_DIGIT = "0-9\u0660-\u0669\u06f0-\u06f9"

# Characters people (and copy-paste from Persian UIs) put inside numbers:
# dashes of every flavour, ZWNJ/ZWJ/ZWSP, bidi marks and the BOM. None of them
# is matched by str.isspace(), so they are listed explicitly.
_DROPPED = (
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\ufeff"
)

_TRANSLATION: dict[int, int | None] = {
    **str.maketrans(_PERSIAN_DIGITS, "0123456789"),
    **str.maketrans(_ARABIC_DIGITS, "0123456789"),
    **{ord(ch): None for ch in _DROPPED},
}

# Explicit [0-9]: str.isdigit() and \d also accept superscripts and other
# scripts' digits, which int() or the checksums would mishandle.
_ASCII_DIGITS = re.compile(r"[0-9]+")


def normalize_digits(text: str) -> str:
    """Persian/Arabic-Indic digits to ASCII; drop whitespace, dashes and ZWNJ."""
    if text.isascii() and text.isdigit():
        return text  # the common case (a terminal's PAN, a normalised key): nothing to change
    translated = text.translate(_TRANSLATION)
    return "".join(ch for ch in translated if not ch.isspace())


def _digits(text: object, code: ErrorCode, field: str) -> str:
    """Normalise ``text`` and require a non-empty run of ASCII digits."""
    # Non-str (None, int, ...) is rejected rather than coerced: an int has
    # already lost leading zeros, which matter for national codes.
    if not isinstance(text, str):
        raise IdentifierError(code, field)
    value = normalize_digits(text)
    if not _ASCII_DIGITS.fullmatch(value):
        raise IdentifierError(code, field)
    return value


# --- national code ---------------------------------------------------------


def validate_national_code(text: str | None, *, field: str = "national_code") -> str:
    """Validate an Iranian national code; return its 10-digit form."""
    code = _digits(text, "invalid_national_code_format", field)
    if not 8 <= len(code) <= 10:
        raise IdentifierError("invalid_national_code_format", field)
    # Older codes are printed without leading zeros; the official rule pads.
    code = code.zfill(10)
    # Same-digit codes pass the checksum but are placeholders, never issued.
    if len(set(code)) == 1:
        raise IdentifierError("invalid_national_code_checksum", field)
    total = sum(int(code[i]) * (10 - i) for i in range(9))
    remainder = total % 11
    check = int(code[9])
    expected = remainder if remainder < 2 else 11 - remainder
    if check != expected:
        raise IdentifierError("invalid_national_code_checksum", field)
    return code


# --- bank cards ------------------------------------------------------------


def _luhn_ok(digits: str) -> bool:
    # Every second digit is doubled, counting from the rightmost (check) digit.
    return sum(_luhn_weighted(digits)) % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn test (for issuing club cards and test
    data); ``body`` is ASCII digits."""
    if not body.isascii() or not body.isdigit():
        raise ValueError("the body of a card number is ASCII digits")
    return str((10 - sum(_luhn_weighted(body + "0")) % 10) % 10)


def _luhn_weighted(digits: str) -> list[int]:
    out = []
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        out.append(d)
    return out


def _pan_digits(text: object, field: str) -> str:
    pan = _digits(text, "invalid_card_number_format", field)
    if not 13 <= len(pan) <= 19:
        raise IdentifierError("invalid_card_number_format", field)
    return pan


def validate_card_number(text: str | None, *, field: str = "card_number") -> str:
    """Validate a bank card number (13-19 digits, Luhn); return its digits."""
    pan = _pan_digits(text, field)
    if not _luhn_ok(pan):
        raise IdentifierError("invalid_card_number_checksum", field)
    return pan


def _mask_digits(digits: str, *, keep_bin: bool = True) -> str:
    if keep_bin:
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_card(pan: str, *, keep_bin: bool = False) -> str:
    """Mask a PAN: one ``*`` per hidden digit and the last 4 (``************7893``); with
    ``keep_bin`` also the first 6, the BIN (``603799******7893``)."""
    # Last 4 by default: that is all a member or an operator needs to tell their cards apart,
    # and every extra digit kept shrinks the search space of someone holding a stolen hash key
    # (first 6 + last 4 leave about 10^5 Luhn-valid candidates). The BIN names the issuing bank;
    # keep it only where a person needs that (diagnosing a terminal or an issuer), never in storage.
    # Format check only, no Luhn: a mistyped number must still never be shown
    # in clear, and masking must not fail on a display path.
    return _mask_digits(_pan_digits(pan, "card_number"), keep_bin=keep_bin)


def mask_club_card(number: str) -> str:
    """Mask a club card number (8-19 digits) to its last 4, like a bank card."""
    digits = validate_club_card(number)
    return "*" * (len(digits) - 4) + digits[-4:]


def key_id(key: bytes) -> str:
    """A short public name of a hash key (16 hex digits), stored beside each hash made with it.

    Derived from the key (HMAC of a fixed label), so it cannot be set wrong and reveals nothing
    that helps guess the key."""
    _check_key(key)
    return hmac.new(bytes(key), b"kimia card hash key id", hashlib.sha256).hexdigest()[:16]


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError("card hash key must be bytes")
    if not key:
        raise ValueError("card hash key must not be empty")


def card_hash(pan: str, key: bytes) -> str:
    """Keyed HMAC-SHA256 (hex) of the validated PAN, for lookup without storing it."""
    # Keyed, not a plain hash: the PAN space is small enough (BIN + ~9 digits)
    # that an unkeyed SHA-256 is reversible by brute force.
    _check_key(key)
    digits = validate_card_number(pan)
    return hmac.new(bytes(key), digits.encode("ascii"), hashlib.sha256).hexdigest()


def club_card_hash(number: str, key: bytes) -> str:
    """Keyed HMAC-SHA256 (hex) of a validated club card number: a club card spends value like a
    bank card, so it is stored the same way (a label keeps it apart from a bank card's hash)."""
    _check_key(key)
    digits = validate_club_card(number)
    return hmac.new(bytes(key), b"club_card:" + digits.encode("ascii"), hashlib.sha256).hexdigest()


_D = f"[{_ANY_DIGIT}]"
# A bare run of 13-19 digits, or 16 digits printed in 4-digit groups with one
# consistent space/dash separator (how card numbers usually reach logs).
_PAN_IN_TEXT = re.compile(
    rf"(?<!{_D})(?:{_D}{{13,19}}|{_D}{{4}}([ -]){_D}{{4}}\1{_D}{{4}}\1{_D}{{4}})(?!{_D})"
)


def _mask_match(match: re.Match[str], keep_bin: bool) -> str:
    digits = normalize_digits(match.group(0))
    if not _luhn_ok(digits):
        return match.group(0)
    return _mask_digits(digits, keep_bin=keep_bin)


def mask_pans_in_text(text: str, *, keep_bin: bool = True) -> str:
    """Mask every Luhn-valid 13-19 digit run in ``text``: first 6 and last 4 kept (for log
    filters, where the BIN tells which issuer a failing card is from), or with ``keep_bin=False``
    the last 4 only (for what is stored, such as the audit log)."""
    # Luhn gate: keeps STANs, RRNs, timestamps etc. readable in logs; a
    # random digit run still passes 1 time in 10, which errs on the safe side.
    return _PAN_IN_TEXT.sub(lambda match: _mask_match(match, keep_bin), text)


def install_log_masking() -> None:
    """Mask card numbers in every log record this process makes, its message and its traceback
    (``mask_pans_in_text``, the BIN kept for diagnosis). Idempotent. The kimia command line calls
    it; a program embedding kimia should too. A safety net: code must not log PANs at all."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "kimia_masking", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        masked = mask_pans_in_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = mask_pans_in_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    factory.kimia_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# --- Sheba (IBAN) ----------------------------------------------------------

_SHEBA = re.compile(r"IR[0-9]{24}")


def validate_sheba(text: str | None, *, field: str = "sheba") -> str:
    """Validate an Iranian Sheba (IBAN, ``IR`` + 24 digits); return it uppercase."""
    if not isinstance(text, str):
        raise IdentifierError("invalid_sheba_format", field)
    sheba = normalize_digits(text).upper()
    if not _SHEBA.fullmatch(sheba):
        raise IdentifierError("invalid_sheba_format", field)
    # ISO 13616: move country code + check digits to the end, letters become
    # 10..35 (I=18, R=27), and the whole number mod 97 must be 1.
    rearranged = sheba[4:] + "1827" + sheba[2:4]
    if int(rearranged) % 97 != 1:
        raise IdentifierError("invalid_sheba_checksum", field)
    return sheba


# --- mobile ----------------------------------------------------------------

_NATIONAL_MOBILE = re.compile(r"9[0-9]{9}")


def normalize_mobile(text: str | None, *, field: str = "mobile") -> str:
    """Normalise an Iranian mobile number to E.164 (``+989121234567``)."""
    if not isinstance(text, str):
        raise IdentifierError("invalid_mobile", field)
    value = normalize_digits(text)
    with_country_code = True
    if value.startswith("+98"):
        national = value[3:]
    elif value.startswith("+"):
        # After "+" only the Iranian country code is acceptable.
        raise IdentifierError("invalid_mobile", field)
    elif value.startswith("0098"):
        national = value[4:]
    elif value.startswith("98") and len(value) >= 12:
        # Length guard: a 10-digit "98..." is a national number, not 98 + 8.
        national = value[2:]
    else:
        with_country_code = False
        # Local form keeps the trunk zero ("0912..."); it may also be omitted.
        national = value[1:] if value.startswith("0") else value
    if with_country_code and len(national) == 11 and national.startswith("0"):
        # "+98 0912..." (trunk zero kept after the country code) is common in
        # copy-pasted numbers and unambiguous.
        national = national[1:]
    if not _NATIONAL_MOBILE.fullmatch(national):
        raise IdentifierError("invalid_mobile", field)
    return "+98" + national


# --- club cards ------------------------------------------------------------


def validate_club_card(text: str | None, *, field: str = "club_card") -> str:
    """Validate a club (non-bank) card number: 8-19 digits; return the digits."""
    number = _digits(text, "invalid_club_card", field)
    if not 8 <= len(number) <= 19:
        raise IdentifierError("invalid_club_card", field)
    return number
