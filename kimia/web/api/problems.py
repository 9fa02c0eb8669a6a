"""Errors as the API answers them: the catalogue's code, a message in the language asked for, the
path of the offending field, and the HTTP status the code maps to (docs/api.md, Errors).

Every rejection is a :class:`~kimia.errors.KimiaError` from the one catalogue; this module only
chooses its HTTP status. Codes about the request's shape are 400; codes naming something that is
not there (or not the caller's: a club never learns what another holds) 404; conflicts with what
is stored 409; capacity 503; everything else the caller may correct 422.
"""

from __future__ import annotations

import json
from typing import Any

from kimia.errors import KimiaError

STATUS: dict[str, int] = {
    "internal_error": 500, "server_error": 500,
    "unauthenticated": 401, "api_key_invalid": 401, "login_failed": 401, "session_expired": 401,
    "forbidden": 403, "role_forbidden": 403, "csrf_failed": 403,
    "not_found": 404, "unknown_club": 404, "unknown_merchant": 404, "unknown_terminal": 404, "unknown_member": 404,
    "unknown_account": 404, "unknown_operation": 404, "unknown_voucher_template": 404, "voucher_not_found": 404,
    "unknown_lottery": 404, "lot_not_found": 404, "no_rules": 404,
    "unknown_staff": 404, "unknown_category": 404, "unknown_booking": 404, "unknown_slot": 404, "unknown_delivery": 404,
    "method_not_allowed": 405,
    "exists_with_different_amount": 409, "exists_with_different_request": 409, "idempotency_in_progress": 409,
    "identifier_taken": 409, "already_reversed": 409, "hold_not_pending": 409, "period_already_closed": 409,
    "period_close_unfinished": 409, "voucher_already_used": 409,
    "terminal_taken": 409, "login_taken": 409,
    "staff_code_taken": 409, "already_clocked_in": 409, "not_clocked_in": 409, "category_exists": 409, "slot_taken": 409,
    "slot_unavailable": 409, "booking_not_cancellable": 409, "booking_state": 409, "delivery_not_retryable": 409,
    "request_too_large": 413,
    "rate_limited": 429, "code_too_soon": 429, "login_throttled": 429,
    "overloaded": 503, "service_unavailable": 503, "database_error": 503, "not_initialized": 503, "schema_outdated": 503,
}
#: The request's own shape: 400 whatever their family.
_SHAPE_PREFIXES = ("invalid_", "rule_", "amount_", "field_")
_SHAPE = frozenset({"missing_idempotency_key", "basket_mismatch", "password_too_weak"})


def status_of(code: str) -> int:
    if code in STATUS:
        return STATUS[code]
    if code.startswith(_SHAPE_PREFIXES) or code in _SHAPE:
        return 400
    return 422


def error_body(error: KimiaError, lang: str) -> dict[str, Any]:
    """The JSON of an error answer (schema ``Error`` in the OpenAPI document)."""
    return {"error": {
        "code": error.code,
        "message": error.message_fa if lang == "fa" else error.message_en,
        "path": error.path,
        "params": {k: str(v) for k, v in error.params.items()},
    }}


def error_json(error: KimiaError, lang: str) -> str:
    return json.dumps(error_body(error, lang), ensure_ascii=False)
