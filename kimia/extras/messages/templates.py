"""Message templates: built-in defaults in Persian and English per event, a club's own edits over
them, the placeholders each event offers, and rendering by plain substitution.

A club's text never runs code: ``{name}`` is replaced by a placeholder's value, ``{{`` and ``}}``
are literal braces, and anything else (an unknown placeholder, a brace left open) is refused with
``template_invalid`` naming what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimia.plugins.types import Refusal
from kimia.web.panel import fmt

LANGS = ("fa", "en")
#: The longest template a club may save (characters).
MAX_TEXT = 1000
_NAME = re.compile(r"[a-z_]+\Z")


@dataclass(frozen=True)
class EventTemplate:
    """An event members (or club owners) are told about: its title, its placeholders and the
    default texts."""

    event: str
    title_fa: str
    title_en: str
    placeholders: tuple[str, ...]
    default_fa: str
    default_en: str

    def default(self, lang: str) -> str:
        return self.default_fa if lang == "fa" else self.default_en

    def title(self, lang: str) -> str:
        return self.title_fa if lang == "fa" else self.title_en


_COMMON = ("member_name", "club_name")

#: Every event with a template, in the order the panel lists them.
EVENTS: dict[str, EventTemplate] = {t.event: t for t in (
    EventTemplate(
        "operation.committed", "رسید خرید", "Purchase receipt",
        (*_COMMON, "merchant_name", "amount", "points", "points_balance", "credit_balance", "date"),
        "{member_name} عزیز، خرید {amount} از {merchant_name} ثبت شد. امتیاز این خرید: {points}؛ مانده امتیاز: {points_balance}. {club_name}",
        "Dear {member_name}, your purchase of {amount} at {merchant_name} is recorded. Points earned: {points}; points balance: {points_balance}. {club_name}",
    ),
    EventTemplate(
        "value.expiring", "اعتبار رو به انقضا", "Value about to expire",
        (*_COMMON, "amount", "kind", "expires_on"),
        "{member_name} عزیز، {amount} {kind} شما در {club_name} در تاریخ {expires_on} منقضی می‌شود.",
        "Dear {member_name}, {amount} of your {kind} at {club_name} expires on {expires_on}.",
    ),
    EventTemplate(
        "tier.changed", "تغییر سطح", "Tier changed",
        (*_COMMON, "from_tier", "to_tier"),
        "{member_name} عزیز، سطح شما در {club_name} از {from_tier} به {to_tier} تغییر کرد.",
        "Dear {member_name}, your tier at {club_name} changed from {from_tier} to {to_tier}.",
    ),
    EventTemplate(
        "voucher.issued", "صدور ووچر", "Voucher issued",
        (*_COMMON, "voucher", "expires_on"),
        "{member_name} عزیز، ووچر «{voucher}» برای شما صادر شد؛ تا {expires_on} معتبر است. {club_name}",
        "Dear {member_name}, the voucher \"{voucher}\" was issued to you; it is valid until {expires_on}. {club_name}",
    ),
    EventTemplate(
        "lottery.won", "برنده قرعه‌کشی", "Lottery win",
        (*_COMMON, "lottery", "prize"),
        "تبریک {member_name}! شما برنده «{prize}» در قرعه‌کشی «{lottery}» {club_name} شدید.",
        "Congratulations {member_name}! You won \"{prize}\" in the lottery \"{lottery}\" of {club_name}.",
    ),
    EventTemplate(
        "appointment.reminder", "یادآوری نوبت", "Appointment reminder",
        (*_COMMON, "service", "merchant_name", "starts_at"),
        "{member_name} عزیز، نوبت {service} شما در {merchant_name} در {starts_at} است. {club_name}",
        "Dear {member_name}, your {service} appointment at {merchant_name} is at {starts_at}. {club_name}",
    ),
    EventTemplate(
        "lottery.drawn", "قرعه‌کشی انجام شد (برای باشگاه‌دار)", "Lottery drawn (for the club owner)",
        ("club_name", "lottery", "winners"),
        "قرعه‌کشی «{lottery}» در {club_name} انجام شد؛ تعداد برندگان: {winners}.",
        "The lottery \"{lottery}\" of {club_name} was drawn; winners: {winners}.",
    ),
)}

#: Events told to members (by SMS); the rest go to the club's e-mail recipients only.
MEMBER_EVENTS = frozenset(e for e in EVENTS if e != "lottery.drawn")

#: Values shown in the panel's preview.
SAMPLE: dict[str, dict[str, Any]] = {
    "fa": {"member_name": "مریم رضایی", "club_name": "باشگاه نمونه", "merchant_name": "کافه نمونه", "from_tier": "نقره‌ای",
           "to_tier": "طلایی", "voucher": "قهوهٔ رایگان", "lottery": "قرعه‌کشی پاییز", "prize": "سفر به کیش",
           "service": "کوتاهی مو", "kind": "امتیاز"},
    "en": {"member_name": "Maryam Rezaei", "club_name": "Sample club", "merchant_name": "Sample cafe", "from_tier": "Silver",
           "to_tier": "Gold", "voucher": "A free coffee", "lottery": "Autumn lottery", "prize": "A trip to Kish",
           "service": "Haircut", "kind": "points"},
}


def template_of(event: str, path: str = "event") -> EventTemplate:
    found = EVENTS.get(event)
    if found is None:
        raise Refusal("not_found", path=path, what="message template")
    return found


def check_lang(lang: str, path: str = "lang") -> str:
    if lang not in LANGS:
        raise Refusal("field_invalid", path=path, detail="fa or en")
    return lang


def parse(text: str, allowed: tuple[str, ...] | frozenset[str]) -> list[tuple[bool, str]]:
    """``text`` as pieces: (False, literal text) and (True, placeholder name); ``template_invalid``
    for an unknown placeholder or a brace left open."""
    pieces: list[tuple[bool, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif c == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif c == "{":
            end = text.find("}", i + 1)
            name = text[i + 1:end] if end != -1 else ""
            if end == -1 or "{" in name:
                raise Refusal("template_invalid", path="text", detail=f"a brace opened at character {i + 1} is not closed")
            if not _NAME.match(name) or name not in allowed:
                raise Refusal("template_invalid", path="text",
                              detail=f"unknown placeholder {{{name}}}; this message may use " + ", ".join("{" + a + "}" for a in allowed))
            if literal:
                pieces.append((False, "".join(literal)))
                literal = []
            pieces.append((True, name))
            i = end + 1
        elif c == "}":
            raise Refusal("template_invalid", path="text", detail=f"a brace closed at character {i + 1} was not opened")
        else:
            literal.append(c)
            i += 1
    if literal:
        pieces.append((False, "".join(literal)))
    return pieces


def validate(event: str, text: str) -> str:
    """A club's text for ``event``, checked (``field_required``, ``field_invalid``, ``template_invalid``)."""
    cleaned = text.replace("\r\n", "\n").strip()
    if not cleaned:
        raise Refusal("field_required", path="text")
    if len(cleaned) > MAX_TEXT:
        raise Refusal("field_invalid", path="text", detail=f"at most {MAX_TEXT} characters")
    parse(cleaned, template_of(event).placeholders)
    return cleaned


def render(text: str, values: Mapping[str, Any], allowed: tuple[str, ...] | frozenset[str]) -> str:
    """``text`` with each placeholder replaced by its value (empty when the event lacks it)."""
    return "".join(str(values.get(piece, "") or "") if is_name else piece for is_name, piece in parse(text, allowed))


def _pick(payload: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` the payload has, at its top or in its ``summary`` (an operation's
    receipt summary) or ``balances``."""
    for name in names:
        if payload.get(name) is not None:
            return payload[name]
        for inner in ("summary", "balances"):
            nested = payload.get(inner)
            if isinstance(nested, Mapping) and nested.get(name) is not None:
                return nested[name]
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def values_of(event: str, payload: Mapping[str, Any], lang: str, *, utc_offset_min: int, member_name: str = "",
              club_name: str = "", merchant_name: str = "") -> dict[str, str]:
    """The placeholders' values for one event, formatted for ``lang`` (Persian digits, Jalali
    dates): amounts in rials, dates in the club's time zone. The payload fields read are listed
    in the module's documentation (``operation.committed``: amount_rial, points_earned,
    balance_points, balance_credit_rial, merchant_id; ``value.expiring``: kind, amount, expires_at;
    ``tier.changed``: from_tier, to_tier; ``voucher.issued``: title, expires_at (looked up from
    voucher_id when the event lacks them); ``lottery.won``: lottery (its name, looked up from
    lottery_id), prize; ``lottery.drawn``: lottery, winners; ``appointment.reminder``: service,
    merchant or merchant_id, starts_at)."""
    out: dict[str, str] = {"member_name": member_name, "club_name": club_name, "merchant_name": merchant_name}

    def num(value: Any) -> str:
        n = _int(value)
        return fmt.number(n, lang) if n is not None else ("" if value is None else fmt.digits(value, lang))

    def money(value: Any) -> str:
        n = _int(value)
        return fmt.money(n, lang) if n is not None else ""

    def day(value: Any) -> str:
        n = _int(value)
        return fmt.jdate(n, utc_offset_min, lang) if n is not None else ""

    out["amount"] = money(_pick(payload, "amount_rial"))
    out["points"] = num(_pick(payload, "points_earned", "points"))
    balances = payload.get("balances") if isinstance(payload.get("balances"), Mapping) else {}
    assert isinstance(balances, Mapping)
    points_after = _pick(payload, "balance_points", "points_balance", "points_after")
    credit_after = _pick(payload, "balance_credit_rial", "credit_balance", "credit_after")
    out["points_balance"] = num(points_after if points_after is not None else balances.get("points"))
    out["credit_balance"] = money(credit_after if credit_after is not None else balances.get("credit"))
    at = _int(_pick(payload, "at", "created_at"))
    out["date"] = day(at) if at is not None else ""
    out["expires_on"] = day(_pick(payload, "expires_at"))
    out["from_tier"] = str(_pick(payload, "from_tier") or "—")
    out["to_tier"] = str(_pick(payload, "to_tier") or "—")
    out["voucher"] = str(_pick(payload, "title", "voucher", "voucher_title") or "")
    out["lottery"] = str(_pick(payload, "lottery", "lottery_title", "title") or "")
    out["prize"] = str(_pick(payload, "prize") or "")
    winners = _pick(payload, "winners")
    out["winners"] = num(len(winners) if isinstance(winners, list) else winners)
    out["service"] = str(_pick(payload, "service", "service_name") or "")
    starts = _int(_pick(payload, "starts_at"))
    out["starts_at"] = fmt.jdatetime(starts, utc_offset_min, lang) if starts is not None else ""
    if event == "value.expiring":
        kind = str(_pick(payload, "kind") or "points")
        amount = _pick(payload, "amount")
        if kind == "points":
            out["amount"], out["kind"] = num(amount), ("امتیاز" if lang == "fa" else "points")
        else:
            out["amount"], out["kind"] = money(amount), ("اعتبار" if lang == "fa" else "credit")
    return out


def sample_values(event: str, lang: str, now: int, utc_offset_min: int) -> dict[str, str]:
    """Values for the preview: sample names and numbers, dates a week from ``now``."""
    payload = {"amount_rial": 1_250_000, "points_earned": 125, "points_balance": 3_400, "credit_balance": 500_000,
               "expires_at": now + 7 * 86_400, "starts_at": now + 86_400 + 3_600, "winners": [1, 2, 3], "at": now,
               "kind": "points", "amount": 800, **{k: v for k, v in SAMPLE[lang].items() if k not in ("member_name", "club_name", "merchant_name")}}
    sample = SAMPLE[lang]
    return values_of(event, payload, lang, utc_offset_min=utc_offset_min, member_name=sample["member_name"],
                     club_name=sample["club_name"], merchant_name=sample["merchant_name"])


def applies(event: str, payload: Mapping[str, Any]) -> bool:
    """Whether an event of this name is one a template speaks for (the receipt: purchases only)."""
    if event not in EVENTS:
        return False
    if event == "operation.committed":
        return payload.get("kind") == "purchase"
    return True
