"""The demo: compile the sample club's rules and show explained decisions for a few purchases.

Run with ``python -m kimia.demo`` (``./scripts/run.sh`` does it for you).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import kimia
from kimia.samples import demo_rules

TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))


def _at(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    """Unix seconds of a Tehran wall-clock time."""
    return calendar.timegm(dt.datetime(year, month, day, hour, minute, tzinfo=TEHRAN).utctimetuple())


def _show(title: str, decision: kimia.Decision, member: kimia.Member) -> None:
    print(f"\n── {title}")
    print(
        f"   amount {decision.amount_rial:,} · discount {decision.discount_rial:,} · "
        f"credit used {decision.credit_used_rial:,} · to pay {decision.payable_rial:,} rial · "
        f"points {decision.points_earned:+}"
    )
    for line_fa, line_en in zip(decision.explain("fa"), decision.explain("en")):
        print(f"   • {line_fa}\n     {line_en}")
    legs = ", ".join(f"{leg['role']} {leg['amount_rial']:,}" for leg in decision.split)
    print(f"   split: {legs}")
    print(f"   member now: {member.points} points, {len(member.to_dict()['lots'])} lots")


def main() -> None:
    book = kimia.Rulebook(demo_rules())
    print(f"kimia {kimia.__version__} — demo club, {len(book)} rules compiled")
    member: kimia.Member = kimia.Member({"member_id": 42, "tier": "silver", "referrer_id": 7})
    base: dict[str, Any] = {"club_id": 1, "merchant_id": 101, "merchant_groups": [10], "marketer_id": 3}
    purchases: list[tuple[str, dict[str, Any], int]] = [
        ("First purchase at the café, 4:30 pm", {"op_id": 1, "amount_rial": 850_000}, _at(2026, 12, 17, 16, 30)),
        (
            "Coffee beans from the cash register (PC-POS basket)",
            {
                "op_id": 2,
                "amount_rial": 1_200_000,
                "channel": "pcpos",
                "basket": [
                    {"goods_id": "beans-1kg", "group": "coffee-beans", "quantity": 1, "amount_rial": 900_000},
                    {"goods_id": "cup", "group": "merch", "quantity": 2, "amount_rial": 300_000},
                ],
            },
            _at(2026, 12, 18, 11, 0),
        ),
        (
            "Paying part with the welcome credit",
            {"op_id": 3, "amount_rial": 400_000, "redeem_credit_rial": 50_000},
            _at(2026, 12, 19, 12, 0),
        ),
    ]
    for title, fields, now in purchases:
        decision = book.evaluate({**base, **fields}, member, now)
        member = kimia.apply(member, decision)
        _show(title, decision, member)
    refund = kimia.reverse(decision, member, op_id=4, now=_at(2026, 12, 19, 18, 0))
    member = kimia.apply(member, refund)
    _show("The last purchase reversed", refund, member)


if __name__ == "__main__":
    main()
