"""The daily settlement file (SPEC S1–S7) and ``kimia check``: the file's lines add up exactly to
the day's payments less its refunds, with the beneficiaries' Shebas; and check finds a balance, a
journal leg, a lot, a split leg or a budget that was changed behind the service's back."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from .builders import World, execute, mobile, rows, scalar, sheba


def parse(text: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    lines = list(csv.DictReader(io.StringIO(text)))
    assert lines[-1]["role"] == "total"
    return lines[:-1], lines[-1]


def legs_of(receipts: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    totals: Counter[tuple[str, int]] = Counter()
    for receipt in receipts:
        for leg in receipt.get("split", []):
            totals[(leg["role"], leg["beneficiary_id"])] += leg["amount_rial"]
    return totals


def test_settlement_file_adds_up_to_the_days_payments(world: World) -> None:
    service, club, clock = world.service, world.club_id, world.clock
    member = world.enroll()
    enrolled_at_restaurant = service.enroll(club, idem_key="pos", identifiers=[("mobile", mobile(9))], via="pos",
                                            merchant_id=world.merchants["restaurant"])["member_id"]
    service.charge(club, member, actor="test", reason="test-setup", idem_key="gift", kind="gift_credit", amount_rial=500_000, source={"type": "club", "id": club})
    service.set_credit_limit(club, member, 2_000_000, actor="operator", reason="corporate account")

    day1 = clock.local_day()
    first: list[dict[str, Any]] = []  # every operation of day 1 that moves money
    p1 = world.buy(member, 1_234_567, merchant="cafe")
    p2 = world.buy(member, 2_000_000, merchant="restaurant", payment_method="cash")
    p3 = world.buy(member, 3_333_333, merchant="bookshop", payment_method="mixed", redeem_credit_rial=200_000)
    p4 = world.buy(enrolled_at_restaurant, 999_999, merchant="cafe")
    p5 = world.buy(member, 500_000, merchant="restaurant")
    p6 = world.buy(member, 700_000, merchant="cafe")
    first += [p1, p2, p3, p4, p5, p6]
    first.append(service.refund(world.merchants["restaurant"], idem_key="refund-p5", op_id=p5["op_id"], amount_rial=123_456))
    first.append(service.refund(world.merchants["cafe"], idem_key="reverse-p6", op_id=p6["op_id"]))
    h1 = service.hold(world.request(member, 800_000, merchant="restaurant", redeem_credit_rial=50_000))
    first.append(service.complete_hold(world.merchants["restaurant"], h1["hold_id"], idem_key="complete-h1", reference="700000000001"))
    h2 = service.hold(world.request(member, 600_000, merchant="cafe", redeem_credit_rial=30_000))
    on_credit = world.buy(member, 400_000, merchant="bookshop", redeem_credit_rial=400_000)  # nothing to settle
    assert on_credit["payable_rial"] == 0 and on_credit["split"] == []
    world.clock.advance(hours=13)  # 23:00 in Tehran, still day 1
    first.append(world.buy(member, 250_000, merchant="restaurant"))

    clock.advance(hours=2)  # 01:00 the next day
    day2 = clock.local_day()
    assert day2 == day1 + 1
    second: list[dict[str, Any]] = []
    second.append(world.buy(member, 450_000, merchant="cafe"))
    second.append(service.refund(world.merchants["cafe"], idem_key="refund-p1", op_id=p1["op_id"], amount_rial=200_000))  # a day-1 purchase
    second.append(service.complete_hold(world.merchants["cafe"], h2["hold_id"], idem_key="complete-h2", reference="700000000002"))  # a day-1 hold

    owner_sheba, marketer_sheba = sheba(101), sheba(102)
    merchant_sheba = {world.merchants["cafe"]: sheba(103), world.merchants["restaurant"]: sheba(104), world.merchants["bookshop"]: sheba(105)}
    for day, receipts in ((day1, first), (day2, second)):
        lines, total = parse(service.settlement(club, day))
        expected = legs_of(receipts)
        assert {(line["role"], int(line["beneficiary_id"])): int(line["amount_rial"]) for line in lines} == dict(expected)
        assert sum(int(line["amount_rial"]) for line in lines) == int(total["amount_rial"])
        assert int(total["amount_rial"]) == sum(r["payable_rial"] for r in receipts)
        assert int(total["legs"]) == sum(len(r["split"]) for r in receipts)
        assert int(total["amount_rial"]) == scalar(
            service, "SELECT SUM(amount_rial) FROM split_legs WHERE club_id = ? AND day = ?", (club, day))
        for line in lines:
            assert line["club_id"] == str(club) and line["day"] == str(day)
            role, beneficiary = line["role"], int(line["beneficiary_id"])
            if role in ("merchant", "merchant_marketer"):
                assert line["sheba"] == merchant_sheba[beneficiary]
            elif role == "club_owner":
                assert (beneficiary, line["sheba"], line["name"]) == (club, owner_sheba, "شرکت 1")
            elif role == "marketer":
                assert (beneficiary, line["sheba"]) == (world.marketer_id, marketer_sheba)
            else:
                assert (role, line["sheba"]) == ("platform_fee", "")
        roles = {line["role"] for line in lines}
        assert {"merchant", "club_owner", "platform_fee"} <= roles
    # Day 1 has every kind of beneficiary, including the merchant that enrolled a member.
    lines, _ = parse(service.settlement(club, day1))
    assert {line["role"] for line in lines} == {"platform_fee", "club_owner", "marketer", "merchant_marketer", "merchant"}
    # The sub-club's merchant is settled in its root club's file; a day without payments is empty.
    assert any(int(line["beneficiary_id"]) == world.merchants["bookshop"] for line in lines)
    assert parse(service.settlement(world.sub_club_id, day1))[0] == lines
    empty, total = parse(service.settlement(club, day1 - 5))
    assert empty == [] and total["amount_rial"] == "0"


def test_every_split_adds_up_to_its_payment(world: World) -> None:
    """S7: integer rials, every split exactly its payable amount, whatever the amount."""
    member = world.enroll()
    for n, amount in enumerate([1, 7, 99, 10_001, 123_457, 9_999_999, 77_777_777_777]):
        for merchant in ("cafe", "restaurant", "bookshop"):
            receipt = world.buy(member, amount, merchant=merchant, idem_key=f"s7-{n}-{merchant}")
            assert sum(leg["amount_rial"] for leg in receipt["split"]) == receipt["payable_rial"]
            assert all(isinstance(leg["amount_rial"], int) and leg["amount_rial"] > 0 for leg in receipt["split"])
    bad = rows(world.service, "SELECT o.id FROM operations o LEFT JOIN split_legs s ON s.op_id = o.id WHERE o.kind = 'purchase'"
                              " GROUP BY o.id, o.amount_rial HAVING COALESCE(SUM(s.amount_rial), 0) > o.amount_rial")
    assert bad == []


# --- kimia check ------------------------------------------------------------------------------------


def busy_club(world: World) -> dict[str, int]:
    """Some of everything: purchases with credit, a refund, a hold, a conversion, a voucher."""
    service, club = world.service, world.club_id
    member = world.enroll(groups=[world.member_group_id])
    service.charge(club, member, actor="test", reason="test-setup", idem_key="gift", kind="gift_credit", amount_rial=300_000, source={"type": "club", "id": club}, expires_days=30)
    bought = world.buy(member, 2_000_000, merchant="bookshop", redeem_credit_rial=100_000)
    service.refund(world.merchants["bookshop"], idem_key="refund", op_id=bought["op_id"], amount_rial=500_000)
    held = service.hold(world.request(member, 300_000, merchant="cafe", redeem_credit_rial=20_000))
    service.complete_hold(world.merchants["cafe"], held["hold_id"], idem_key="complete")
    service.convert_points(club, member, 40, idem_key="convert")
    service.buy_voucher(club, member, world.voucher_template_id, idem_key="voucher")
    return {"member": member, "purchase": bought["op_id"]}


Corruption = tuple[str, tuple[Any, ...], str, tuple[Any, ...], str]


def corruptions(world: World, ids: dict[str, int]) -> dict[str, Corruption]:
    """name -> (break statement, params, restore statement, params, what check must say)."""
    points = f"member:{ids['member']}/points"
    leg = scalar(world.service, "SELECT id FROM journal WHERE account = ? ORDER BY id LIMIT 1", (points,))
    lot = scalar(world.service, "SELECT id FROM lots WHERE account = ? AND remaining > 1 ORDER BY id LIMIT 1", (points,))
    split = scalar(world.service, "SELECT id FROM split_legs WHERE op_id = ? ORDER BY id LIMIT 1", (ids["purchase"],))
    held = scalar(world.service, "SELECT balance FROM balances WHERE account = ?", (points,))
    return {
        "balance": ("UPDATE balances SET balance = balance + 1 WHERE account = ?", (points,),
                    "UPDATE balances SET balance = balance - 1 WHERE account = ?", (points,),
                    f"balance of {points} (club {world.club_id}) is {held + 1}, the journal says {held}"),
        "balance below floor": ("UPDATE balances SET balance = -5 WHERE account = ?", (points,),
                                "UPDATE balances SET balance = ? WHERE account = ?", (held, points),
                                f"{points} (club {world.club_id}) is -5, below its floor 0"),
        "journal leg": ("UPDATE journal SET amount = amount + 7 WHERE id = ?", (leg,),
                        "UPDATE journal SET amount = amount - 7 WHERE id = ?", (leg,),
                        "sums to 7, not 0"),
        "lot": ("UPDATE lots SET remaining = remaining - 1 WHERE id = ?", (lot,),
                "UPDATE lots SET remaining = remaining + 1 WHERE id = ?", (lot,),
                f"lots of {points} (club {world.club_id}) hold {held - 1}, the balance is {held}"),
        "split leg": ("UPDATE split_legs SET amount_rial = amount_rial + 3 WHERE id = ?", (split,),
                      "UPDATE split_legs SET amount_rial = amount_rial - 3 WHERE id = ?", (split,),
                      f"split legs of operation {ids['purchase']} add up to"),
        "budget": ("INSERT INTO budget_usage (club_id, key, used) VALUES (?, ?, ?)", (world.club_id, "points-base|rule|total", -1),
                   "DELETE FROM budget_usage WHERE key = ?", ("points-base|rule|total",),
                   "budget points-base|rule|total of club"),
    }


@pytest.mark.parametrize("name", ["balance", "balance below floor", "journal leg", "lot", "split leg", "budget"])
def test_check_finds_what_was_changed_behind_its_back(world: World, name: str) -> None:
    service = world.service
    ids = busy_club(world)
    report = service.check()
    assert report.ok, report.summary()
    assert report.summary().startswith("ok: ") and report.operations > 0 and report.legs > 0 and report.lots > 0
    breaking, params, restore, restore_params, says = corruptions(world, ids)[name]
    assert execute(service, breaking, params) == 1
    report = service.check()
    assert not report.ok
    assert any(says in problem for problem in report.problems), report.summary()
    assert report.summary().startswith("FAILED")
    assert execute(service, restore, restore_params) == 1
    report = service.check()
    assert report.ok, report.summary()


def test_check_finds_a_journal_entry_that_lost_a_leg(world: World) -> None:
    ids = busy_club(world)
    service = world.service
    leg = rows(service, "SELECT id, club_id, op_id, seq, account, amount, unit, memo, created_at FROM journal WHERE op_id = ? ORDER BY id LIMIT 1",
               (ids["purchase"],))[0]
    execute(service, "DELETE FROM journal WHERE id = ?", (leg[0],))
    report = service.check()
    assert f"entry of operation {ids['purchase']} has 1 legs, not 2" in report.problems
    assert any(p.startswith(f"entry {ids['purchase']}/{leg[3]} ") for p in report.problems)
    execute(service, "INSERT INTO journal (id, club_id, op_id, seq, account, amount, unit, memo, created_at) VALUES (?,?,?,?,?,?,?,?,?)", leg)
    assert service.check().ok


def test_check_counts_what_it_checked(club: Callable[..., World]) -> None:
    world = club(publish=False)
    report = world.service.check()
    assert report.ok and (report.operations, report.legs, report.accounts, report.lots) == (0, 0, 0, 0)
    world.publish()
    world.buy(world.enroll(), 1_000_000)
    report = world.service.check()
    assert report.ok and report.operations == 2 and report.legs > 0 and report.accounts > 0 and report.lots == 2
