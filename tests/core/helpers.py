"""Shared helpers of the decision-core tests (plain functions; fixtures are in conftest.py).

Times are Tehran wall-clock times (UTC+03:30, the club's ``utc_offset_min`` of 210) turned into
Unix seconds, because the core reads local dates, hours and weekdays at the club's offset.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from typing import Any

import kimia

TEHRAN_OFFSET_MIN = 210
DAY = 86_400
CLUB = 1
MEMBER = 42
CAFE = 101  # merchant in group 10, in merchant set 1
BAKERY = 102  # merchant in merchant set 1
SHOE_SHOP = 103  # merchant in group 10 (so in set 1 through its group)
GARAGE = 104  # merchant in no set

PERSIAN_LETTERS = re.compile(r"[\u0600-\u06FF]")
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ASCII_DIGIT = re.compile(r"[0-9]")
LATIN_LETTER = re.compile(r"[A-Za-z]")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> int:
    """Unix seconds of a Tehran wall-clock time."""
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - TEHRAN_OFFSET_MIN * 60


def local_day(now: int) -> int:
    """The club's local day number (days since 1970-01-01 in Tehran) of an instant."""
    return (now + TEHRAN_OFFSET_MIN * 60) // DAY


def to_persian_digits(text: str) -> str:
    return "".join(PERSIAN_DIGITS[int(c)] if c.isascii() and c.isdigit() else c for c in text)


def ruleset(rules: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "club_id": CLUB,
        "version": 1,
        "utc_offset_min": TEHRAN_OFFSET_MIN,
        "merchant_sets": [{"id": 1, "name": {"en": "Food court", "fa": "فودکورت"}, "merchants": [CAFE, BAKERY], "merchant_groups": [10]}],
        "rules": rules,
    }
    data.update(settings)
    return data


def book(rules: list[dict[str, Any]], **settings: Any) -> kimia.Rulebook:
    return kimia.Rulebook(ruleset(rules, **settings))


def rule(rule_id: str, *effects: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A rule with English and Persian names and the given effects (a 1,000-rial discount by default)."""
    data: dict[str, Any] = {
        "id": rule_id,
        "name": {"en": f"Rule {rule_id}", "fa": f"قانون {rule_id}"},
        "effects": list(effects) or [{"type": "discount", "fixed_rial": 1_000}],
    }
    data.update(fields)
    return data


def purchase(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"op_id": 1, "club_id": CLUB, "merchant_id": CAFE, "merchant_groups": [10], "amount_rial": 1_000_000}
    data.update(fields)
    return data


def member(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"member_id": MEMBER}
    data.update(fields)
    return data


def lot(lot_id: str, account: str, remaining: int, expires_at: int | None = None, pending_until: int | None = None) -> dict[str, Any]:
    return {"id": lot_id, "account": account, "remaining": remaining, "expires_at": expires_at, "pending_until": pending_until}


def holding(*lots: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A member snapshot holding these lots, with account balances equal to their sums."""
    totals: dict[str, int] = {}
    for item in lots:
        totals[item["account"]] = totals.get(item["account"], 0) + item["remaining"]
    data = member(**extra)
    data["lots"] = list(lots)
    data["accounts"] = [{"account": a, "balance": b} for a, b in totals.items()] + list(extra.get("accounts", []))
    return data


def lines(decision: kimia.Decision) -> dict[str, dict[str, Any]]:
    """Explanation lines by rule id (each rule has exactly one line)."""
    out: dict[str, dict[str, Any]] = {}
    for line in decision.explanation:
        assert line["rule_id"] not in out, f"two explanation lines for {line['rule_id']}"
        out[line["rule_id"]] = line
    return out


def codes(decision: kimia.Decision) -> dict[str, str]:
    return {rule_id: line["code"] for rule_id, line in lines(decision).items()}


def deltas(decision: kimia.Decision) -> dict[str, int]:
    return dict(decision.deltas)


def postings(decision: kimia.Decision, memo: str | None = None) -> list[tuple[str, str, int]]:
    return [(p["from"], p["to"], p["amount"]) for p in decision.postings if memo is None or p["memo"] == memo]


def _fragments(template: str) -> list[str]:
    return [f for f in PLACEHOLDER.split(template) if f.strip()]


_EXPLAIN = {code: (en, fa) for code, en, fa in kimia.explanation_codes()[0]}
_CONDITIONS = {code: (en, fa) for code, en, fa in kimia.explanation_codes()[1]}


def check_line(line: dict[str, Any], code: str, *, condition: str | None = None, winner: str | None = None) -> None:
    """An explanation line has this code and readable English and Persian messages.

    English: every literal part of the code's English template, the rule's English name (and the
    condition's or winner's words). Persian: Persian text, the Persian template's parts, Persian
    digits only (no ASCII digit survives) and the rule's Persian name with Persian digits.
    """
    assert line["code"] == code, line
    en, fa = line["message_en"], line["message_fa"]
    en_template, fa_template = _EXPLAIN[code]
    for fragment in _fragments(en_template):
        assert fragment in en, (fragment, en)
    for fragment in _fragments(fa_template):
        assert to_persian_digits(fragment) in fa, (fragment, fa)
    assert line["name_en"] in en
    assert to_persian_digits(line["name_fa"]) in fa
    assert PERSIAN_LETTERS.search(fa), fa
    assert not ASCII_DIGIT.search(fa), f"ASCII digit in Persian message: {fa}"
    if any(line[k] for k in ("discount_rial", "points", "credit_rial", "entries", "referral_points")):
        assert any(d in fa for d in PERSIAN_DIGITS), fa
    # Persian reads wholly in Persian: no Latin letter outside the names the club chose.
    names = [to_persian_digits(line["name_fa"])] + ([to_persian_digits(line["winner"][1])] if line.get("winner") else [])
    bare = fa
    for name in names:
        bare = bare.replace(name, "")
    assert not LATIN_LETTER.search(bare), f"Latin letter in Persian message: {fa}"
    if condition is not None:
        assert line["condition"] == condition
        cond_en, cond_fa = _CONDITIONS[condition]
        for fragment in _fragments(cond_en):
            assert fragment in en, (fragment, en)
        for fragment in _fragments(cond_fa):
            assert to_persian_digits(fragment) in fa, (fragment, fa)
    if winner is not None:
        assert line["winner"] is not None and line["winner"][0] == f"Rule {winner}"
        assert f'"Rule {winner}"' in en
        assert to_persian_digits(f"قانون {winner}") in fa


def assert_decision_sane(decision: kimia.Decision) -> None:
    """Invariants every purchase decision must keep."""
    assert decision.is_balanced()
    if decision.kind == "purchase":
        paid_otherwise = decision.discount_rial + decision.credit_used_rial + decision.points_redeemed_rial
        assert decision.payable_rial + paid_otherwise == decision.amount_rial
        assert decision.payable_rial >= 0 and decision.discount_rial >= 0 and decision.credit_used_rial >= 0
        assert decision.points_redeemed >= 0 and decision.points_redeemed_rial >= 0
        if decision.payable_rial > 0:
            assert sum(leg["amount_rial"] for leg in decision.split) == decision.payable_rial
        else:
            assert decision.split == []
    for p in decision.postings:
        assert p["amount"] > 0


def apply_all(start: kimia.Member | dict[str, Any], decisions: Iterable[kimia.Decision]) -> kimia.Member:
    m = start if isinstance(start, kimia.Member) else kimia.Member(start)
    for d in decisions:
        m = kimia.apply(m, d)
    return m


def rejected(code: str, call: Callable[[], Any]) -> kimia.KimiaError:
    """Run ``call`` and return the KimiaError it raises, after checking its code."""
    try:
        call()
    except kimia.KimiaError as e:
        assert e.code == code, f"expected {code}, got {e.code}: {e}"
        return e
    raise AssertionError(f"expected {code}, nothing was raised")
