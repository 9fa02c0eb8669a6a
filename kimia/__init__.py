"""kimia: a customer-club (loyalty) platform for Iranian businesses, run as a service.

The decision core is the native module ``kimia._core`` (Rust); this package re-exports its
public API next to the Python layers (store, service, terminal, web, plugins).
"""

from kimia._core import (
    Decision,
    Member,
    Rulebook,
    __version__,
    adjust,
    apply,
    batch_rows,
    buy_voucher,
    cancel_hold,
    charge,
    close_tier_period,
    complete_hold,
    convert_points,
    expire,
    explanation_codes,
    gregorian_to_jalali,
    hold,
    invert,
    jalali_to_gregorian,
    reverse,
    split_amount,
)
from kimia.errors import KimiaError, Rejected, RuleError, error_codes

__all__ = [
    "Decision",
    "KimiaError",
    "Member",
    "Rejected",
    "RuleError",
    "Rulebook",
    "__version__",
    "adjust",
    "apply",
    "batch_rows",
    "buy_voucher",
    "cancel_hold",
    "charge",
    "close_tier_period",
    "complete_hold",
    "convert_points",
    "error_codes",
    "expire",
    "explanation_codes",
    "gregorian_to_jalali",
    "hold",
    "invert",
    "jalali_to_gregorian",
    "reverse",
    "split_amount",
]
