"""What the write path (kimia.service.posting) needs beside the core's rows: a voucher issued, a member's last purchase time set again after a reversal."""

from __future__ import annotations

import secrets
from typing import Any

from kimia.service.sql import Tx


def restore_last_purchase_statement(member_id: int) -> tuple[str, tuple[Any, ...]]:
    """The statement that sets a member's last purchase time to that of their latest purchase still standing.

    Called when a purchase stops counting (a full reversal or refund: its purchase count goes back
    too) or counts again (its refund undone). A purchase only ever moves the time forward, so
    without this a reversed purchase would keep the member looking recent and block a win-back
    rule (``days_since_last_purchase``) on their next purchase. A completed hold counts from the
    hold, as when it was written (the completion carries the hold's decision)."""
    return (
        "UPDATE members SET last_purchase_at = (SELECT MAX(COALESCE(h.created_at, o.created_at)) FROM operations o"
        " LEFT JOIN operations h ON o.kind = 'completion' AND h.id = o.original_op_id"
        " WHERE o.member_id = ? AND o.kind IN ('purchase', 'completion') AND o.status = 'done' AND o.refunded_rial < o.amount_rial)"
        " WHERE id = ?",
        (member_id, member_id),
    )


def issue_voucher(tx: Tx, *, member_id: int, template_id: int, op_id: int, now: int) -> tuple[int, str] | None:
    """Create a voucher from a template for a member; returns its id and code (None if no such template)."""
    row = tx.one("SELECT club_id, valid_days FROM voucher_templates WHERE id = ?", (template_id,))
    if row is None:
        return None
    code = "V" + secrets.token_hex(6).upper()
    found = tx.one(
        "INSERT INTO vouchers (club_id, code, template_id, member_id, issued_op_id, used_op_id, valid_from, valid_to)"
        " VALUES (?,?,?,?,?,NULL,?,?) RETURNING id",
        (row[0], code, template_id, member_id, op_id, now, now + int(row[1]) * 86_400),
    )
    return int(found[0]), code
