"""Cursor pagination: a list is read in pages ordered by id; a cursor is opaque to the caller (it
names the last id seen). A cursor cannot widen what a key may read: every query is scoped first."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import TypeVar

from kimia.errors import reject
from kimia.web.api.models import MAX_INT

T = TypeVar("T")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"k1:{last_id}".encode()).decode().rstrip("=")


def after_id(cursor: str | None) -> int:
    """The id a page starts after (0: the first page); ``invalid_cursor`` for a made-up one."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix == "k1" and number.isdigit():
            return min(int(number), MAX_INT)  # past every id: the empty page (not an SQL overflow)
    except (ValueError, UnicodeDecodeError):
        pass
    raise reject("invalid_cursor", path="cursor")


def next_cursor(rows: Sequence[T], limit: int, id_of: Callable[[T], int]) -> str | None:
    """The cursor after ``rows`` when a page came back full (the caller asked for ``limit``)."""
    return encode_cursor(id_of(rows[-1])) if len(rows) >= limit and rows else None
