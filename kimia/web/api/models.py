"""The shapes every area of the API shares: a member reference, a basket line, a time with its
Jalali date, a page of a list, an error. Amounts are integer rials in fields named ``*_rial``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

import kimia._core as core

T = TypeVar("T")

#: The largest integer the databases hold (a signed 64-bit BIGINT): ids, counts and amounts past it
#: are refused at the API's door (400, or 404 for an id in the path) instead of failing in SQL.
MAX_INT = 2**63 - 1
#: Integer rials, never negative, at most what the core accepts.
Rial = Annotated[int, Field(ge=0, le=10**15)]
IdentifierKind = Literal["id", "card", "mobile", "national_code", "club_card", "account"]


class Model(BaseModel):
    """Every request and answer model: unknown fields refused, so a misspelt field is an error."""

    model_config = ConfigDict(extra="forbid")


class MemberRefIn(Model):
    """How a request names a member, as the terminal does: by kimia's id or by one identifier."""

    kind: IdentifierKind = Field(description="id, card (bank card number), mobile, national_code, club_card or account")
    value: str = Field(min_length=1, max_length=64, description="The identifier; a card number is never stored or echoed")


class BasketLine(Model):
    """One line of goods, exactly as the terminal's basket TLV (``BL``: goods_id|group|qty|amount_rial)
    carries it, so one integration serves both; rules match ``goods_id`` and ``group``."""

    goods_id: str = Field(min_length=1, max_length=64, pattern=r"^[^|]+$", description="The goods' id (SKU)")
    group: str = Field(default="", max_length=64, pattern=r"^[^|]*$", description="The goods' group (category), as the club's rules name it")
    quantity: int = Field(ge=1, le=1_000_000)
    amount_rial: Rial = Field(description="The line's whole amount (quantity × unit price); the lines add up to the purchase's amount_rial")


class Stamp(Model):
    """A moment: ISO 8601 in the club's time zone, with its Jalali date beside it."""

    at: str = Field(description="ISO 8601 with the club's UTC offset")
    at_jalali: str = Field(description="The Jalali date and time (YYYY-MM-DD HH:MM), for people")


class ErrorDetail(Model):
    code: str = Field(description="A stable code from docs/errors.md")
    message: str = Field(description="In the language asked for (Accept-Language: fa by default, or en)")
    path: str | None = Field(description="The offending field, dotted (basket.0.quantity), when there is one")
    params: dict[str, str]


class ErrorOut(Model):
    error: ErrorDetail


class Page(Model, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: the last page)."""

    items: list[T]
    next_cursor: str | None


class PageQuery(Model):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


def stamp(ts: int, utc_offset_min: int) -> Stamp:
    """``ts`` (Unix seconds) as the club reads it."""
    zone = dt.timezone(dt.timedelta(minutes=utc_offset_min))
    local = dt.datetime.fromtimestamp(ts, zone)
    y, m, d = core.gregorian_to_jalali(local.year, local.month, local.day)
    return Stamp(at=local.isoformat(), at_jalali=f"{y:04d}-{m:02d}-{d:02d} {local.hour:02d}:{local.minute:02d}")
