"""Reads of vouchers for the channels (the API, the portal): the offers a club sells to its
members, and a member's vouchers with their state. Writes (buying, using) are value operations
(kimia.service.value, kimia.service.purchases).

Every read is scoped to one club tree (its root, where voucher offers are kept): an offer or a
voucher of another club is never listed, whatever cursor or member id the caller passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kimia.service.host import Host


@dataclass(frozen=True)
class VoucherOffer:
    """A voucher template a member may buy: its discount, validity, price and where it applies."""

    id: int
    name_fa: str
    name_en: str
    discount_rial: int
    discount_bp: int
    cap_rial: int | None
    valid_days: int
    merchant_ids: list[int]
    price_points: int
    price_credit_rial: int
    min_balance: int


@dataclass(frozen=True)
class MemberVoucher:
    """A voucher a member holds, with its code and whether it may still be used (``state``)."""

    id: int
    code: str
    template_id: int
    name_fa: str
    name_en: str
    discount_rial: int
    discount_bp: int
    cap_rial: int | None
    merchant_ids: list[int]
    valid_from: int
    valid_to: int
    issued_op_id: int
    used_op_id: int | None
    #: ``active``, ``used`` or ``expired`` (at ``now``).
    state: str


_OFFER_COLUMNS = ("id, name_fa, name_en, discount_rial, discount_bp, cap_rial, valid_days, merchants, price_points,"
                  " price_credit_rial, min_balance")


def _ids(value: Any) -> list[int]:
    """A template's ``merchants`` column (JSON: a list, text on some drivers) as merchant ids."""
    if isinstance(value, str):
        value = json.loads(value)
    return [int(v) for v in value or []]


def offers(svc: Host, root_club: int, *, after_id: int = 0, limit: int = 50) -> list[VoucherOffer]:
    """The voucher offers of ``root_club`` that are for sale (a price in points or credit), by id."""
    with svc.reading() as tx:
        rows = tx.all(f"SELECT {_OFFER_COLUMNS} FROM voucher_templates WHERE club_id = ? AND id > ?"
                      " AND (price_points > 0 OR price_credit_rial > 0) ORDER BY id LIMIT ?", (root_club, after_id, limit))
    return [VoucherOffer(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), None if r[5] is None else int(r[5]), int(r[6]),
                         _ids(r[7]), int(r[8]), int(r[9]), int(r[10])) for r in rows]


def member_vouchers(svc: Host, clubs: list[int], member_id: int, *, after_id: int = 0, limit: int = 50,
                    state: str | None = None) -> list[MemberVoucher]:
    """The vouchers ``member_id`` holds from any of ``clubs`` (a club tree), oldest first; with
    ``state`` only those in it (``active``, ``used``, ``expired``)."""
    now = svc.clock()
    where, params = _state_filter(state, now)
    with svc.reading() as tx:
        rows = tx.all(
            "SELECT v.id, v.code, v.template_id, t.name_fa, t.name_en, t.discount_rial, t.discount_bp, t.cap_rial, t.merchants,"
            " v.valid_from, v.valid_to, v.issued_op_id, v.used_op_id FROM vouchers v JOIN voucher_templates t ON t.id = v.template_id"
            f" WHERE v.member_id = ? AND v.club_id IN ({tx.placeholders(len(clubs))}) AND v.id > ?{where} ORDER BY v.id LIMIT ?",
            (member_id, *clubs, after_id, *params, limit))
    return [MemberVoucher(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]),
                          None if r[7] is None else int(r[7]), _ids(r[8]), int(r[9]), int(r[10]), int(r[11]),
                          None if r[12] is None else int(r[12]), _state(r[12], int(r[9]), int(r[10]), now)) for r in rows]


def _state(used_op_id: Any, valid_from: int, valid_to: int, now: int) -> str:
    if used_op_id is not None:
        return "used"
    return "active" if valid_from <= now < valid_to else "expired"


def _state_filter(state: str | None, now: int) -> tuple[str, tuple[int, ...]]:
    """The SQL condition (and its parameters) of one ``state``, as :func:`_state` decides it."""
    if state is None:
        return "", ()
    if state == "used":
        return " AND v.used_op_id IS NOT NULL", ()
    if state == "active":
        return " AND v.used_op_id IS NULL AND v.valid_from <= ? AND v.valid_to > ?", (now, now)
    if state == "expired":
        return " AND v.used_op_id IS NULL AND (v.valid_from > ? OR v.valid_to <= ?)", (now, now)
    raise ValueError(state)
