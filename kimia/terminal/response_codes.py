"""ISO 8583 (1987, field 39) response codes used by kimia, with English and Persian text.

Terminals show a fixed message per code, so kimia keeps this set small and stable;
detailed Persian text for the receipt travels separately in TLV ``RL`` lines.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["RESPONSE_CODES", "describe", "is_approved"]

APPROVED: Final = "00"
INVALID_MERCHANT: Final = "03"
DO_NOT_HONOUR: Final = "05"
INVALID_TRANSACTION: Final = "12"
INVALID_AMOUNT: Final = "13"
INVALID_CARD: Final = "14"
ORIGINAL_NOT_FOUND: Final = "25"
FORMAT_ERROR: Final = "30"
INSUFFICIENT_FUNDS: Final = "51"
EXPIRED: Final = "54"
INCORRECT_PIN: Final = "55"
NOT_PERMITTED_MERCHANT: Final = "57"
NOT_PERMITTED_TERMINAL: Final = "58"
EXCEEDS_LIMIT: Final = "61"
SECURITY_VIOLATION: Final = "63"
LATE_RESPONSE: Final = "68"
PIN_TRIES_EXCEEDED: Final = "75"
HOST_UNAVAILABLE: Final = "91"
DUPLICATE: Final = "94"
SYSTEM_MALFUNCTION: Final = "96"

RESPONSE_CODES: Final[dict[str, tuple[str, str]]] = {
    APPROVED: ("Approved", "تراکنش موفق"),
    INVALID_MERCHANT: ("Invalid merchant or terminal", "پذیرنده یا پایانه نامعتبر"),
    DO_NOT_HONOUR: ("Do not honour", "عدم انجام تراکنش"),
    INVALID_TRANSACTION: ("Invalid transaction", "تراکنش نامعتبر"),
    INVALID_AMOUNT: ("Invalid amount", "مبلغ نامعتبر"),
    INVALID_CARD: ("Invalid card or member", "کارت یا عضو نامعتبر"),
    ORIGINAL_NOT_FOUND: ("Unable to locate original transaction", "تراکنش اصلی یافت نشد"),
    FORMAT_ERROR: ("Format error", "خطای قالب پیام"),
    INSUFFICIENT_FUNDS: ("Insufficient balance (points or credit)", "موجودی امتیاز یا اعتبار کافی نیست"),
    EXPIRED: ("Expired (voucher or points lot)", "منقضی شده (کوپن یا امتیاز)"),
    INCORRECT_PIN: ("Cardholder verification needed or incorrect (PIN or code)", "تأیید دارنده لازم یا نادرست (رمز یا کد)"),
    NOT_PERMITTED_MERCHANT: ("Not permitted for this merchant", "تراکنش برای این پذیرنده مجاز نیست"),
    NOT_PERMITTED_TERMINAL: ("Not permitted to terminal", "تراکنش برای این پایانه مجاز نیست"),
    EXCEEDS_LIMIT: ("Exceeds limit (budget)", "بیش از سقف مجاز (بودجه)"),
    SECURITY_VIOLATION: ("Security violation (bad MAC or stale message)", "خطای امنیتی (کد اصالت پیام نامعتبر یا پیام کهنه)"),
    LATE_RESPONSE: ("Response received too late", "پاسخ دیر دریافت شد"),
    PIN_TRIES_EXCEEDED: ("PIN tries exceeded", "تعداد دفعات مجاز ورود رمز به پایان رسیده"),
    HOST_UNAVAILABLE: ("Issuer or host unavailable (timeout)", "سامانه در دسترس نیست (پایان مهلت)"),
    DUPLICATE: ("Duplicate transmission", "تراکنش تکراری"),
    SYSTEM_MALFUNCTION: ("System malfunction", "خطای سامانه"),
}
"""Response code -> (English, Persian)."""


def describe(code: str, lang: Literal["en", "fa"] = "fa") -> str:
    """Text for a response code; unknown codes give a generic text naming the code."""
    entry = RESPONSE_CODES.get(code)
    if entry is None:
        return f"Unknown response code {code}" if lang == "en" else f"کد پاسخ ناشناخته {code}"
    return entry[0] if lang == "en" else entry[1]


def is_approved(code: str) -> bool:
    """True only for ``00``."""
    return code == APPROVED
