"""Paying with points at checkout (SPEC R7, V1) through the service, on SQLite and PostgreSQL:
a purchase or a hold with ``redeem_points`` draws the member's point lots at their tier/group
conversion ratio in the same operation; short of points it is refused and changes nothing;
refunds, reversals and a cancelled hold give the points back; the batched path agrees; and two
purchases racing for the same points never both get them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import Rejected
from kimia.service import Kimia

from .builders import World, balance, dump, member_balances, points_of, rows, scalar
from .test_async_and_bulk import _one_batch


def pointed_member(world: World, *, soon: int = 200, late: int = 300, **enroll: Any) -> int:
    """A member holding ``soon`` points that expire in 10 days and ``late`` that expire in 100."""
    member = world.enroll(**enroll)
    for amount, days in ((soon, 10), (late, 100)):
        if amount:
            world.service.adjust(world.club_id, member, idem_key=world.key("grant"), account_kind="points", delta=amount,
                                 actor="test", reason="points to redeem", expires_days=days)
    return member


def point_lots(world: World, member: int) -> list[tuple[int, int | None]]:
    """(points, expires_at) the member holds in lots, summed per expiry, soonest first."""
    found = rows(world.service, "SELECT remaining, expires_at FROM lots WHERE account = ? AND remaining > 0", (f"member:{member}/points",))
    per_expiry: dict[int | None, int] = {}
    for remaining, expires in found:
        per_expiry[expires] = per_expiry.get(expires, 0) + int(remaining)
    return sorted(((n, e) for e, n in per_expiry.items()), key=lambda x: (x[1] is None, x[1] or 0))


def test_a_purchase_pays_with_points(world: World) -> None:
    service = world.service
    member = pointed_member(world)
    receipt = world.buy(member, 1_000_000, merchant="restaurant", redeem_points=300)
    # 5% food-court discount, then 300 points at the default 10 points = 1,000 rials.
    assert (receipt["discount_rial"], receipt["points_redeemed"], receipt["points_redeemed_rial"], receipt["payable_rial"]) == (50_000, 300, 30_000, 920_000)
    assert sum(leg["amount_rial"] for leg in receipt["split"]) == 920_000
    # Redeeming does not stop earning: 100 points on the purchase.
    assert receipt["points_earned"] == 100
    assert receipt["balance_points"] == 500 - 300 + 100 == points_of(service, member)
    assert receipt["explanation_fa"][0] == "پرداخت با ۳۰۰ امتیاز: ۳۰٬۰۰۰ ریال"
    assert receipt["explanation_en"][0] == "Paid with 300 points: 30,000 rials"
    # The soonest-expiring points went first; the club retired them and paid the merchant their value.
    now = world.clock.now
    assert point_lots(world, member) == [(200, now + 100 * 86_400), (100, now + 365 * 86_400)]
    assert balance(service, f"club:{world.club_id}/points_retired") == 300
    assert balance(service, f"merchant:{world.merchants['restaurant']}/credit_accepted") == 30_000
    # The quote says the same, without writing.
    before = dump(service)
    quote = service.quote(world.request(member, 100_000, merchant="restaurant", redeem_points=50))
    assert (quote["points_redeemed"], quote["points_redeemed_rial"], quote["payable_rial"]) == (50, 5_000, 90_000)
    assert dump(service) == before


def test_the_ratio_is_the_members_group_ratio(world: World) -> None:
    vip = pointed_member(world, groups=[world.member_group_id])
    receipt = world.buy(vip, 1_000_000, merchant="restaurant", redeem_points=300)
    # VIP members: 10 points = 3,000 rials.
    assert (receipt["points_redeemed"], receipt["points_redeemed_rial"], receipt["payable_rial"]) == (300, 90_000, 860_000)


def test_short_of_points_is_refused_and_changes_nothing(world: World) -> None:
    service = world.service
    member = pointed_member(world)
    before = dump(service)
    with pytest.raises(Rejected) as err:
        world.buy(member, 1_000_000, merchant="restaurant", redeem_points=501)
    assert (err.value.code, err.value.path) == ("insufficient_balance", "redeem_points")
    assert dump(service) == before
    # A purchase that needs fewer points than asked redeems only those.
    receipt = world.buy(member, 20_000, merchant="bookshop", redeem_points=501)
    assert (receipt["points_redeemed"], receipt["points_redeemed_rial"], receipt["payable_rial"]) == (200, 20_000, 0)


def test_a_club_without_a_ratio_refuses_redemption(world: World) -> None:
    member = pointed_member(world)
    world.admin.update_settings(world.club_id, {"conversion": {"by_tier": {"gold": {"points": 10, "rial": 2_000}}}}, actor="test", reason="gold only")
    before = dump(world.service)
    with pytest.raises(Rejected) as err:
        world.buy(member, 100_000, redeem_points=10)
    assert (err.value.code, err.value.path) == ("points_redemption_not_allowed", "redeem_points")
    assert err.value.message_fa == "پرداخت خرید با امتیاز برای این عضو مجاز نیست"
    with pytest.raises(Rejected) as err:
        world.buy(member, 100_000, redeem_points=-1)
    assert err.value.code == "amount_must_be_positive"
    assert dump(world.service) == before
    # Purchases without points need no ratio.
    assert world.buy(member, 100_000)["points_redeemed"] == 0


def test_the_key_covers_the_points(world: World) -> None:
    member = pointed_member(world)
    first = world.buy(member, 100_000, idem_key="same", redeem_points=100)
    assert world.buy(member, 100_000, idem_key="same", redeem_points=100) == {**first, "replayed": True}
    with pytest.raises(Rejected) as err:
        world.buy(member, 100_000, idem_key="same", redeem_points=200)
    assert err.value.code == "exists_with_different_request"
    assert points_of(world.service, member) == 500 - 100 + 10


def test_refunds_and_the_reversal_give_the_points_back(world: World) -> None:
    service = world.service
    member = pointed_member(world)
    lots_before = point_lots(world, member)
    bought = world.buy(member, 1_000_000, merchant="bookshop", redeem_points=400)
    assert (bought["points_redeemed"], bought["points_redeemed_rial"], bought["payable_rial"]) == (400, 40_000, 960_000)
    refund = service.refund(world.merchants["bookshop"], idem_key="refund-1", op_id=bought["op_id"], amount_rial=250_000)
    assert (refund["points_redeemed"], refund["points_redeemed_rial"]) == (-100, -10_000)
    assert refund["payable_rial"] == -240_000
    assert refund["explanation_en"][0] == "100 points given back (10,000 rials)"
    rest = service.refund(world.merchants["bookshop"], idem_key="refund-2", op_id=bought["op_id"])
    assert (rest["points_redeemed"], rest["points_redeemed_rial"]) == (-300, -30_000)
    # Every point redeemed is back, with its original expiry; the points earned were taken back.
    assert point_lots(world, member) == lots_before
    assert balance(service, f"club:{world.club_id}/points_retired") == 0
    assert balance(service, f"merchant:{world.merchants['bookshop']}/credit_accepted") == 0


def test_a_hold_reserves_points_completion_keeps_them_cancel_returns_them(world: World) -> None:
    service = world.service
    member = pointed_member(world)
    held = service.hold(world.request(member, 600_000, merchant="restaurant", redeem_points=250, idem_key="hold-1"))
    assert (held["points_redeemed"], held["points_redeemed_rial"], held["payable_rial"], held["points_earned"]) == (250, 25_000, 545_000, 0)
    # The points are held, nothing is earned yet.
    assert held["balance_points"] == 250
    assert member_balances(service, member) == {"points": 250, f"held_points@hold:{held['hold_id']}": 250}
    with pytest.raises(Rejected) as err:
        world.buy(member, 600_000, redeem_points=251)
    assert err.value.code == "insufficient_balance"
    done = service.complete_hold(world.merchants["restaurant"], held["hold_id"], idem_key="complete-1", reference="400000000001")
    assert (done["points_redeemed"], done["points_redeemed_rial"], done["payable_rial"], done["points_earned"]) == (250, 25_000, 545_000, 60)
    assert member_balances(service, member) == {"points": 310}
    assert balance(service, f"merchant:{world.merchants['restaurant']}/credit_accepted") == 25_000
    # Reversing the completed purchase gives the held points back.
    service.refund(world.merchants["restaurant"], idem_key="undo", op_id=done["op_id"])
    assert member_balances(service, member) == {"points": 500}

    other = pointed_member(world)
    lots_before = point_lots(world, other)
    held = service.hold(world.request(other, 600_000, merchant="restaurant", redeem_points=250))
    cancelled = service.cancel_hold(world.merchants["restaurant"], held["hold_id"], idem_key="cancel-1")
    assert cancelled["points_returned"] == 250
    assert member_balances(service, other) == {"points": 500}
    assert point_lots(world, other) == lots_before


def test_a_batch_redeems_points_like_single_purchases(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Three purchases of one member in one batch: the second draws what the first left, the
    third would overdraw and is refused alone; the batch is written in bulk."""
    member = pointed_member(world)
    caplog.set_level("INFO", logger="kimia.service.writer")
    answers = _one_batch(world, [world.request(member, 100_000, redeem_points=300),
                                 world.request(member, 100_000, redeem_points=200),
                                 world.request(member, 100_000, redeem_points=100)])
    assert [a["points_redeemed"] for a in answers[:2]] == [300, 200]
    assert [a["balance_points"] for a in answers[:2]] == [210, 20]
    assert isinstance(answers[2], Rejected) and answers[2].code == "insufficient_balance"
    assert not any("fell back" in r.getMessage() for r in caplog.records)
    # All 500 points are spent; what is left is what the two purchases earned.
    assert point_lots(world, member) == [(20, world.clock.now + 365 * 86_400)]


def _race(calls: list[Callable[[], dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Run the calls on threads released together: (answers, refusal codes)."""
    barrier = threading.Barrier(len(calls))
    answers: list[dict[str, Any]] = []
    refusals: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], dict[str, Any]]) -> None:
        barrier.wait()
        try:
            answer = call()
            with lock:
                answers.append(answer)
        except Rejected as exc:
            with lock:
                refusals.append(exc.code)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return answers, refusals


@pytest.mark.parametrize("writers", [1, 2])
def test_two_purchases_racing_for_the_same_points(world: World, db_url: str, make_service: Callable[..., Kimia], writers: int) -> None:
    """Two purchases (through one service, or two as two processes would be) each redeeming all of
    a member's points, released together, wave after wave: exactly one gets them."""
    services = [world.service] + [make_service(db_url, migrations="check") for _ in range(writers - 1)]
    for wave in range(8):
        member = pointed_member(world, soon=300, late=200)
        calls = [
            (lambda s=services[n % len(services)], n=n: s.purchase(world.request(member, 1_000_000, idem_key=f"race-{wave}-{n}", redeem_points=500)))
            for n in range(2)
        ]
        answers, refusals = _race(calls)
        assert len(answers) == 1 and refusals == ["insufficient_balance"], (answers, refusals)
        assert answers[0]["points_redeemed"] == 500
        assert points_of(world.service, member) == 100  # only the winner's earned points
        spent = scalar(world.service, "SELECT -SUM(amount) FROM journal WHERE account = ? AND memo = 'points_redeemed'", (f"member:{member}/points",))
        assert spent == 500
    assert world.service.check().ok
