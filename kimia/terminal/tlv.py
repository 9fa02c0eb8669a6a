"""Field 48 private data as TLV (tag, length, value).

Wire format of one item: ``TT LLL VVV...``

* ``TT``  tag, 2 ASCII characters from ``A-Z`` and ``0-9`` (see :data:`TAGS`);
* ``LLL`` 3 ASCII digits: the value length in **bytes** (not characters), 000-999;
* ``VVV`` the value, UTF-8 (Persian text allowed: most Persian letters take 2 bytes).

Items are concatenated; tags may repeat (e.g. several ``BL`` basket lines) and
order is kept. Errors raise :class:`TlvError` with a stable ``code``:
``bad_tag``, ``bad_length``, ``truncated``, ``bad_value``, ``unknown_tag``
(strict decoding only), ``too_long``. Messages never contain values, because
values may be personal data (mobile, national code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "TAGS",
    "BasketLine",
    "TlvError",
    "decode_tlv",
    "encode_tlv",
    "format_member_key",
    "parse_member_key",
    "tlv_get",
    "tlv_get_all",
]

_TAG_RE: Final = re.compile(r"[A-Z0-9]{2}\Z")
_DIGITS: Final = frozenset(b"0123456789")
MAX_VALUE_BYTES: Final = 999


class TlvError(ValueError):
    """Malformed TLV. ``code`` is stable; ``tag`` and ``offset`` locate the problem."""

    def __init__(self, code: str, detail: str, *, tag: str | None = None, offset: int | None = None) -> None:
        self.code = code
        self.tag = tag
        self.offset = offset
        where = []
        if tag is not None:
            where.append(f"tag {tag!r}")
        if offset is not None:
            where.append(f"offset {offset}")
        suffix = f" ({', '.join(where)})" if where else ""
        super().__init__(f"{code}: {detail}{suffix}")


# -- tag registry ----------------------------------------------------------------

MK: Final = "MK"
"""Member key, ``<type>:<value>``: ``M:+98912...`` mobile (E.164), ``N:0012345678`` national
code, ``C:<club card number>``, ``A:<account id>``. See :func:`parse_member_key`."""

BL: Final = "BL"
"""Basket line ``goods_id|group|qty|amount_rial`` (repeated, one per line). See :class:`BasketLine`."""

RP: Final = "RP"
"""Points to redeem at checkout (request) or redeemed (response), integer; converted to rials at the
member's conversion ratio; 51 when the member has fewer."""

RC: Final = "RC"
"""Club credit to redeem / redeemed, integer rials."""

VC: Final = "VC"
"""Voucher (coupon) code."""

RL: Final = "RL"
"""Receipt line to print, Persian text allowed (repeated, response only)."""

BP: Final = "BP"
"""Points balance after the transaction, integer (response)."""

BC: Final = "BC"
"""The member's credit in rials after the transaction (response): all of it, own accounts and shared
wallet, wherever it may be spent; a credit line is not counted. The same in every answer."""

CU: Final = "CU"
"""Credit usable at this merchant now, in rials (balance inquiry answer): BC less what is scoped to
other merchants, expired or not yet available, plus the unused part of a credit line."""

TR: Final = "TR"
"""Member tier name (response), Persian text allowed."""

HR: Final = "HR"
"""Hold reference: returned by an 0100 hold, sent back in the 0220 completion or 0420 reversal."""

OR: Final = "OR"
"""Original RRN (field 37 of the sale) for a refund."""

LG: Final = "LG"
"""Language of receipt lines: ``fa`` or ``en``."""

MB: Final = "MB"
"""Mobile number for enrolment (E.164, ``+98...``)."""

NC: Final = "NC"
"""National code (کد ملی, 10 digits) for enrolment."""

ST: Final = "ST"
"""Staff id (attendance clock-in/out from the terminal)."""

EX: Final = "EX"
"""Expense category (expense recording from the terminal)."""

NT: Final = "NT"
"""Free-text note, Persian text allowed."""

SN: Final = "SN"
"""Staff member's name, Persian text (attendance: registering staff on a terminal)."""

AD: Final = "AD"
"""Attendance direction: ``I`` clock in, ``O`` clock out."""

BK: Final = "BK"
"""Booking code (appointments: confirming or checking a member in at the terminal)."""

KE: Final = "KE"
"""Key change answer (0810, 70=161): the new MAC key wrapped under the key the 0800 was MAC'd with
(AES key wrap, RFC 3394), upper-case hex: 48 digits for an AES-128 key, 80 for AES-256."""

KC: Final = "KC"
"""Check value of the new MAC key: first 3 bytes of AES-ECB(new key, zero block), 6 hex digits."""

KV: Final = "KV"
"""Version of the new MAC key (integer, +1 per change)."""
PN: Final = "PN"
"""The member's club PIN (4-12 ASCII digits): cardholder verification. Never stored, logged or echoed."""

OT: Final = "OT"
"""A one-time code sent to the member's mobile (0100/92): cardholder verification. Never stored or echoed."""

TAGS: Final[dict[str, str]] = {
    MK: "Member key: M:<mobile> | N:<national code> | C:<club card> | A:<account number>",
    BL: "Basket line goods_id|group|qty|amount_rial (repeated)",
    RP: "Points redeemed at checkout (integer), at the member's conversion ratio; 51 when short",
    RC: "Redeem credit (integer rials)",
    VC: "Voucher code",
    RL: "Receipt line, Persian text allowed (repeated, response)",
    BP: "Balance: points (response)",
    BC: "Balance: the member's credit in rials, all of it (response)",
    CU: "Credit usable at this merchant now, in rials (balance inquiry answer)",
    TR: "The member's tier name (response, when the member has a tier)",
    HR: "Hold reference (0110 -> 0220 / 0420)",
    OR: "Original RRN for a refund",
    LG: "Language: fa or en",
    MB: "Mobile for enrolment (E.164)",
    NC: "National code for enrolment",
    ST: "Staff id (attendance)",
    EX: "Expense category",
    NT: "Note, Persian text allowed",
    SN: "Staff member's name (attendance registration)",
    AD: "Attendance direction: I (in) or O (out)",
    BK: "Booking code (appointments)",
    KE: "Key change: the new MAC key wrapped under the current one (RFC 3394, hex; 0810 70=161)",
    KC: "Key change: check value of the new MAC key (6 hex digits)",
    KV: "Key change: version of the new MAC key",
    PN: "The member's club PIN (cardholder verification; never stored or echoed)",
    OT: "One-time code sent to the member's mobile (cardholder verification)",
}
"""Tag -> meaning, for documentation and strict decoding."""

MEMBER_KEY_TYPES: Final[dict[str, str]] = {
    "M": "mobile",
    "N": "national code",
    "C": "club card",
    "A": "account number",
}


# -- encode / decode -------------------------------------------------------------


def encode_tlv(items: Iterable[tuple[str, str]], *, max_bytes: int = 999) -> bytes:
    """Encode ``(tag, value)`` pairs in order. Raises :class:`TlvError`.

    ``max_bytes`` bounds the whole result (field 48 holds at most 999 bytes).
    """
    out = bytearray()
    for tag, value in items:
        if not isinstance(tag, str) or not _TAG_RE.match(tag):
            raise TlvError("bad_tag", "tag must be 2 characters from A-Z, 0-9", offset=len(out))
        if not isinstance(value, str):
            raise TlvError("bad_value", "value must be str", tag=tag, offset=len(out))
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:
            raise TlvError("bad_value", "value is not encodable as UTF-8", tag=tag, offset=len(out)) from None
        if len(raw) > MAX_VALUE_BYTES:
            raise TlvError("too_long", f"value is {len(raw)} bytes, maximum {MAX_VALUE_BYTES}", tag=tag, offset=len(out))
        out += tag.encode("ascii") + b"%03d" % len(raw) + raw
    if len(out) > max_bytes:
        raise TlvError("too_long", f"TLV data is {len(out)} bytes, maximum {max_bytes}")
    return bytes(out)


def decode_tlv(data: bytes, *, strict: bool = False) -> list[tuple[str, str]]:
    """Decode TLV bytes into ``(tag, value)`` pairs, keeping order and repeats.

    Empty input gives an empty list. With ``strict=True`` tags missing from
    :data:`TAGS` raise ``unknown_tag``; otherwise they are passed through, so a
    newer terminal can add tags without breaking an older host.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TlvError("bad_value", f"expected bytes, got {type(data).__name__}")
    buf = bytes(data)
    items: list[tuple[str, str]] = []
    pos = 0
    while pos < len(buf):
        if len(buf) - pos < 5:
            raise TlvError("truncated", f"item header needs 5 bytes, {len(buf) - pos} left", offset=pos)
        tag_raw = buf[pos : pos + 2]
        tag = tag_raw.decode("latin-1")
        if not _TAG_RE.match(tag):
            raise TlvError("bad_tag", "tag must be 2 characters from A-Z, 0-9", offset=pos)
        if strict and tag not in TAGS:
            raise TlvError("unknown_tag", "tag is not registered", tag=tag, offset=pos)
        len_raw = buf[pos + 2 : pos + 5]
        if not set(len_raw) <= _DIGITS:
            raise TlvError("bad_length", "length must be 3 ASCII digits", tag=tag, offset=pos + 2)
        length = int(len_raw)
        start = pos + 5
        end = start + length
        if end > len(buf):
            raise TlvError("truncated", f"value needs {length} bytes, {len(buf) - start} left", tag=tag, offset=start)
        try:
            value = buf[start:end].decode("utf-8")
        except UnicodeDecodeError:
            raise TlvError("bad_value", "value is not valid UTF-8", tag=tag, offset=start) from None
        items.append((tag, value))
        pos = end
    return items


def tlv_get(items: Iterable[tuple[str, str]], tag: str) -> str | None:
    """First value for `tag`, or None."""
    for t, v in items:
        if t == tag:
            return v
    return None


def tlv_get_all(items: Iterable[tuple[str, str]], tag: str) -> list[str]:
    """All values for `tag`, in order."""
    return [v for t, v in items if t == tag]


# -- structured values -----------------------------------------------------------


def parse_member_key(value: str) -> tuple[str, str]:
    """Split an ``MK`` value into ``(type, value)``; type is one of M, N, C, A."""
    kind, sep, rest = value.partition(":")
    if not sep or kind not in MEMBER_KEY_TYPES or not rest:
        raise TlvError("bad_value", "member key must be <M|N|C|A>:<value>", tag=MK)
    return kind, rest


def format_member_key(kind: str, value: str) -> str:
    """Build an ``MK`` value; the inverse of :func:`parse_member_key`."""
    if kind not in MEMBER_KEY_TYPES or not value:
        raise TlvError("bad_value", "member key must be <M|N|C|A>:<value>", tag=MK)
    return f"{kind}:{value}"


_QTY_RE: Final = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?\Z")
_INT_RE: Final = re.compile(r"[0-9]{1,18}\Z")


@dataclass(frozen=True)
class BasketLine:
    """One ``BL`` item: goods id, goods group (may be empty), quantity (decimal string
    with ASCII digits, e.g. ``"2"`` or ``"1.250"`` kg) and line amount in rials."""

    goods_id: str
    group: str
    qty: str
    amount_rial: int

    @classmethod
    def parse(cls, value: str) -> BasketLine:
        parts = value.split("|")
        if len(parts) != 4:
            raise TlvError("bad_value", "basket line needs goods_id|group|qty|amount_rial", tag=BL)
        goods_id, group, qty, amount = parts
        if not goods_id or not _QTY_RE.match(qty) or not _INT_RE.match(amount):
            raise TlvError("bad_value", "basket line has an empty goods id or a non-numeric qty/amount", tag=BL)
        return cls(goods_id, group, qty, int(amount))

    def format(self) -> str:
        if not self.goods_id or "|" in self.goods_id or "|" in self.group:
            raise TlvError("bad_value", "goods id must be non-empty and ids must not contain '|'", tag=BL)
        if not _QTY_RE.match(self.qty) or self.amount_rial < 0:
            raise TlvError("bad_value", "qty must be a decimal with ASCII digits, amount non-negative", tag=BL)
        return f"{self.goods_id}|{self.group}|{self.qty}|{self.amount_rial}"
