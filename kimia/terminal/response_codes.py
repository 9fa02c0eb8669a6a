"""ISO 8583 (1987, field 39) response codes used by kimia, with English and Persian text.

Terminals show a fixed message per code, so kimia keeps this set small and stable;
detailed Persian text for the receipt travels separately in TLV ``RL`` lines.
"""

from __future__ import annotations

from typing import Final, Literal

from kimia.error_codes import ErrorCode

__all__ = ["DEFAULT_RESPONSE", "NOT_MET_AT_TERMINAL", "RESPONSE_CODES", "RESPONSE_FOR_ERROR", "describe", "is_approved"]

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

#: kimia's error codes (the catalogue, core/src/errors.rs) → ISO 8583 response codes (field 39).
#: tests/test_errors.py checks every key against the catalogue and every code against this table.
RESPONSE_FOR_ERROR: Final[dict[ErrorCode, str]] = {
    "unknown_member": INVALID_CARD,
    "invalid_card_number_format": INVALID_CARD,
    "invalid_card_number_checksum": INVALID_CARD,
    "invalid_mobile": INVALID_CARD,
    "invalid_national_code_format": INVALID_CARD,
    "invalid_national_code_checksum": INVALID_CARD,
    "invalid_club_card": INVALID_CARD,
    "insufficient_balance": INSUFFICIENT_FUNDS,
    "credit_limit_exceeded": EXCEEDS_LIMIT,
    "budget_exhausted": EXCEEDS_LIMIT,
    "lot_expired": EXPIRED,
    "voucher_not_active": EXPIRED,
    "credit_not_valid_at_merchant": NOT_PERMITTED_MERCHANT,
    "points_redemption_not_allowed": NOT_PERMITTED_MERCHANT,
    "below_threshold": INVALID_AMOUNT,
    "voucher_not_valid_at_merchant": NOT_PERMITTED_MERCHANT,
    "amount_must_be_positive": INVALID_AMOUNT,
    "amount_too_large": INVALID_AMOUNT,
    "basket_mismatch": INVALID_AMOUNT,
    "exists_with_different_amount": DUPLICATE,
    "exists_with_different_request": DUPLICATE,
    "already_reversed": INVALID_TRANSACTION,
    "not_refundable": INVALID_TRANSACTION,
    "hold_not_pending": INVALID_TRANSACTION,
    "unknown_operation": ORIGINAL_NOT_FOUND,
    "nothing_to_reverse": ORIGINAL_NOT_FOUND,
    "refund_exceeds_purchase": INVALID_AMOUNT,
    "service_unavailable": HOST_UNAVAILABLE,
    "overloaded": HOST_UNAVAILABLE,
    "unknown_terminal": INVALID_MERCHANT,
    "unknown_merchant": INVALID_MERCHANT,
    "invalid_request": FORMAT_ERROR,
    "voucher_not_found": INVALID_CARD,
    "voucher_already_used": DO_NOT_HONOUR,
    "identifier_taken": DO_NOT_HONOUR,
    # Cardholder verification: 55 asks the terminal for the member's PIN or code; 75 after too
    # many wrong PINs.
    "verification_required": INCORRECT_PIN,
    "pin_incorrect": INCORRECT_PIN,
    "otp_invalid": INCORRECT_PIN,
    "pin_locked": PIN_TRIES_EXCEEDED,
    "no_mobile": DO_NOT_HONOUR,
    "code_too_soon": DO_NOT_HONOUR,
    # The extras' terminal operations (docs/terminal-protocol.md, section 7).
    "unknown_staff": INVALID_CARD,
    "unknown_booking": ORIGINAL_NOT_FOUND,
    "unknown_category": INVALID_TRANSACTION,
    "staff_code_taken": DO_NOT_HONOUR,
    "already_clocked_in": DO_NOT_HONOUR,
    "not_clocked_in": DO_NOT_HONOUR,
    "booking_state": INVALID_TRANSACTION,
    "slot_taken": DO_NOT_HONOUR,
}

#: The answer to a code the terminal can meet but that has no entry above: do not honour.
DEFAULT_RESPONSE: Final = DO_NOT_HONOUR

#: Codes no terminal request can lead to (setup, the command line, database roles, rule publishing,
#: administration); every other code not in :data:`RESPONSE_FOR_ERROR` is answered
#: :data:`DEFAULT_RESPONSE`.
NOT_MET_AT_TERMINAL: Final[frozenset[ErrorCode]] = frozenset({
    # kimia's setup: checked when a process starts, before any terminal connects.
    "card_key_missing", "card_key_weak", "terminal_kek_missing",
    # The command line and the database roles.
    "database_error", "not_initialized", "schema_outdated", "not_postgresql", "reset_not_supported", "bad_role_name",
    "role_missing", "role_too_strong", "role_owns_tables", "grants_incomplete", "invalid_date", "no_rules",
    "period_end_in_future", "period_too_short",
    # Rule publishing, tier closes, lotteries and value administration: the panel's and the API's.
    "rule_invalid_json", "rule_too_many", "rule_set_bad_value", "rule_duplicate_id", "rule_bad_value", "rule_bad_date",
    "rule_empty_effects", "rule_bad_funding", "rule_unknown_set", "rule_unknown_stacking_group", "invalid_tier_config",
    "invalid_sheba_format", "invalid_sheba_checksum", "unknown_voucher_template", "unknown_lottery", "actor_required",
    "reason_required", "period_close_unfinished", "period_already_closed", "lottery_not_open", "seed_mismatch",
    "no_entries", "conversion_not_allowed",
    # The JSON API's own (kimia.web): its keys, request bodies, lists and limits.
    "terminal_taken",  # the API's terminal registration (a terminal never registers itself)
    "server_error", "invalid_json", "field_required", "field_invalid", "request_too_large", "invalid_cursor", "rate_limited",
    "idempotency_in_progress", "unauthenticated", "api_key_invalid", "not_found", "method_not_allowed", "forbidden",
    # The panel's and portal's sign-in, sessions and forms (kimia.web.panel).
    "login_failed", "login_throttled", "session_expired", "csrf_failed", "role_forbidden", "password_too_weak",
    "login_taken",
    # The extras' administration: the panel's and the API's.
    "unknown_slot", "unknown_delivery", "category_exists", "slot_unavailable", "booking_not_cancellable",
    "delivery_not_retryable", "template_invalid",
    # The terminal's requests always carry their key (terminal, STAN and date).
    "missing_idempotency_key",
})


def describe(code: str, lang: Literal["en", "fa"] = "fa") -> str:
    """Text for a response code; unknown codes give a generic text naming the code."""
    entry = RESPONSE_CODES.get(code)
    if entry is None:
        return f"Unknown response code {code}" if lang == "en" else f"کد پاسخ ناشناخته {code}"
    return entry[0] if lang == "en" else entry[1]


def is_approved(code: str) -> bool:
    """True only for ``00``."""
    return code == APPROVED
