"""The event-loop entry of the service (``Kimia.purchase_async``, ``Writer.submit_async``) and the
bulk purchase path's batch-wide reads: members resolved per kind of reference, budgets loaded once
and their use carried from one purchase of the batch to the next."""

from __future__ import annotations

from collections.abc import Callable

import asyncio
import threading
import time
from typing import Any

import pytest

from kimia.errors import KimiaError, Rejected
from kimia.service import Kimia
from kimia.service.api import Deadline
from kimia.service.sql import Tx
from kimia.service.writer import Writer

from .builders import World, card_number, dump, mobile, rows, scalar


def test_purchase_async_answers_like_purchase(world: World) -> None:
    member = world.enroll()
    req = world.request(member, 500_000)

    async def main() -> dict[str, Any]:
        return await world.service.purchase_async(req)

    first = asyncio.run(main())
    again = world.service.purchase(req)
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == first
    assert scalar(world.service, "SELECT COUNT(*) FROM operations WHERE idem_key = ?", (req.idem_key,)) == 1


def test_purchase_async_rejects_with_codes_and_changes_nothing(world: World) -> None:
    member = world.enroll()
    before = dump(world.service)

    async def main() -> list[str]:
        codes = []
        for req in (world.request(member, -5), world.request({"kind": "mobile", "value": "123"}, 1_000),
                    world.request(987_654, 1_000), world.request(member, 1_000, redeem_credit_rial=10**9)):
            with pytest.raises(KimiaError) as err:
                await world.service.purchase_async(req)
            codes.append(err.value.code)
        return codes

    assert asyncio.run(main()) == ["amount_must_be_positive", "invalid_mobile", "unknown_member", "insufficient_balance"]
    assert dump(world.service) == before


def test_purchase_async_past_its_deadline_is_not_posted(world: World) -> None:
    member = world.enroll()
    before = dump(world.service)

    async def main() -> None:
        await world.service.purchase_async(world.request(member, 1_000), Deadline(time.monotonic() - 1))

    with pytest.raises(Rejected) as err:
        asyncio.run(main())
    assert err.value.code == "service_unavailable"
    assert dump(world.service) == before


def test_many_loop_purchases_share_commits(world: World) -> None:
    members = [world.enroll() for _ in range(4)]
    batches = world.service.writer.batches

    async def main() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(world.service.purchase_async(world.request(members[i % 4], 100_000 + i)) for i in range(40))))

    answers = asyncio.run(main())
    assert len({a["op_id"] for a in answers}) == 40
    assert world.service.writer.batches - batches < 40  # they were grouped
    assert scalar(world.service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'") == 40


def test_a_batch_resolves_every_kind_of_reference(world: World) -> None:
    card = card_number(77)
    by_card = world.enroll(identifiers=[("card", card)])
    by_mobile = world.enroll(identifiers=[("mobile", mobile(77))])
    by_id = world.enroll()
    refs: list[Any] = [{"kind": "card", "value": card}, {"kind": "mobile", "value": mobile(77)}, by_id,
                       {"kind": "account", "value": world.service.account_number(by_id)}, {"kind": "mobile", "value": mobile(78)}]

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(world.service.purchase_async(world.request(r, 10_000)) for r in refs), return_exceptions=True))

    answers = asyncio.run(main())
    assert [a["member_id"] for a in answers[:4]] == [by_card, by_mobile, by_id, by_id]
    assert isinstance(answers[4], Rejected) and answers[4].code == "unknown_member"


def _one_batch(world: World, requests: list[Any]) -> list[Any]:
    """Run ``requests`` as one batch: the writer is held until all of them are queued."""
    gate = threading.Event()
    entered = threading.Event()

    def hold_the_writer(tx: Tx) -> None:
        entered.set()
        gate.wait(30)

    blocker = threading.Thread(target=world.service.write, args=(hold_the_writer,))
    blocker.start()
    assert entered.wait(30)

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(world.service.purchase_async(r)) for r in requests]
        while world.service.writer._queue.qsize() < len(requests):
            await asyncio.sleep(0.001)
        gate.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    answers = asyncio.run(main())
    blocker.join(30)
    return answers


def test_a_budget_is_shared_across_one_batch(world: World) -> None:
    """Three purchases of one batch against a budget of two uses: two get the reward, one does
    not, and the batch is written in bulk (the budget is never overdrawn)."""
    world.publish([{
        "id": "first-two", "name": {"en": "First two", "fa": "دو خرید اول"},
        "effects": [{"type": "discount", "fixed_rial": 7_000}],
        "budgets": [{"per": "rule", "period": "total", "limit_count": 2}],
    }])
    members = [world.enroll() for _ in range(3)]
    answers = _one_batch(world, [world.request(m, 100_000) for m in members])
    got = ["first-two" in a["applied_rules"] for a in answers]
    assert got == [True, True, False]
    assert scalar(world.service, "SELECT used FROM budget_usage WHERE key = ?", ("first-two|rule|total",)) == 2


def test_one_batch_draws_one_lot_for_several_purchases(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Three redemptions of one member in one batch: the first two draw from the same lots (one
    update per lot carries both draws), the third would overdraw and is refused alone, and the
    batch is written in bulk, not one by one."""
    service, club_id = world.service, world.club_id
    member = world.enroll()
    soon = service.charge(club_id, member, actor="test", reason="test-setup", idem_key="soon", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": club_id}, expires_days=10)
    late = service.charge(club_id, member, actor="test", reason="test-setup", idem_key="late", kind="gift_credit", amount_rial=50_000, source={"type": "club", "id": club_id}, expires_days=60)
    caplog.set_level("INFO", logger="kimia.service.writer")
    answers = _one_batch(world, [world.request(member, 500_000, redeem_credit_rial=60_000),
                                 world.request(member, 500_000, redeem_credit_rial=70_000),
                                 world.request(member, 500_000, redeem_credit_rial=30_000)])
    assert [a["credit_used_rial"] for a in answers[:2]] == [60_000, 70_000]
    assert isinstance(answers[2], Rejected) and answers[2].code == "insufficient_balance"
    assert not any("fell back" in r.getMessage() for r in caplog.records)
    lots = dict(rows(service, "SELECT id, remaining FROM lots WHERE owner = ? AND account LIKE ?", (f"member:{member}", "%credit%")))
    assert lots[f"{soon['op_id']}:0"] == 0 and lots[f"{late['op_id']}:0"] == 20_000
    assert service.check().ok


def test_writer_submit_async_delivers_results_and_errors(sqlite_url: str, open_service: Callable[..., Kimia]) -> None:
    service = open_service(sqlite_url)
    try:
        async def main() -> tuple[Any, BaseException | None]:
            ok = await service.writer.submit_async(lambda tx: 41 + 1)
            try:
                await service.writer.submit_async(lambda tx: 1 // 0)
            except ZeroDivisionError as exc:
                return ok, exc
            return ok, None

        ok, error = asyncio.run(main())
        assert ok == 42 and isinstance(error, ZeroDivisionError)
    finally:
        service.close()


def test_a_thread_caller_times_out_but_the_writer_goes_on(sqlite_url: str) -> None:
    import sqlite3

    writer = Writer(lambda: sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))
    try:
        with pytest.raises(TimeoutError):
            writer.submit(lambda tx: time.sleep(0.3), timeout_s=0.05)
        assert writer.submit(lambda tx: "next") == "next"
    finally:
        writer.close()


def test_an_answer_for_a_closed_loop_is_dropped(sqlite_url: str) -> None:
    import sqlite3

    writer = Writer(lambda: sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))
    gate = threading.Event()
    try:
        async def main() -> None:
            writer.submit_async(lambda tx: gate.wait(30))

        asyncio.run(main())  # the loop closes before the operation ran
        gate.set()
        assert writer.submit(lambda tx: "still serving") == "still serving"
    finally:
        writer.close()


def _busy_writer(max_wait_s: float) -> tuple[Writer, threading.Event, threading.Thread]:
    """A writer whose thread is held inside an operation, so the test can call ``_collect`` itself."""
    import sqlite3

    writer = Writer(lambda: sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))
    # Set past the 10 ms a caller may configure: the generous bound keeps these tests free of timing.
    writer._max_wait_s = max_wait_s
    running, gate = threading.Event(), threading.Event()

    def hold(tx: Tx) -> None:
        running.set()
        gate.wait(30)

    caller = threading.Thread(target=writer.submit, args=(hold,))
    caller.start()
    assert running.wait(10)
    return writer, gate, caller


def _item(name: str) -> Any:
    return (name, None)


def _names(batch: list[Any]) -> list[str]:
    return [item[0] for item in batch]


def _later(writer: Writer, item: Any, delay_s: float) -> threading.Thread:
    def put() -> None:
        time.sleep(delay_s)
        writer._queue.put(item)

    t = threading.Thread(target=put)
    t.start()
    return t


def test_the_writer_waits_for_as_many_operations_as_its_last_batch_carried() -> None:
    writer, gate, caller = _busy_writer(max_wait_s=2.0)
    try:
        writer._last_size = 3
        writer._queue.put(_item("a"))
        late = _later(writer, _item("b"), 0.05)
        batch, stop = writer._collect(_item("first"))
        late.join()
        assert _names(batch) == ["first", "a", "b"] and not stop
        assert writer._last_size == 3
    finally:
        gate.set()
        caller.join()
        writer.close()


def test_a_lone_caller_is_not_kept_waiting_for_company() -> None:
    writer, gate, caller = _busy_writer(max_wait_s=2.0)
    try:
        writer._last_size = 1
        late = _later(writer, _item("b"), 0.05)
        batch, _ = writer._collect(_item("first"))
        assert _names(batch) == ["first"]
        late.join()
        second = writer._queue.get()
        assert second is not None
        batch, _ = writer._collect(second)
        assert _names(batch) == ["b"]
    finally:
        gate.set()
        caller.join()
        writer.close()


def test_the_wait_is_bounded_and_the_next_batch_expects_what_came() -> None:
    writer, gate, caller = _busy_writer(max_wait_s=0.02)  # within what a caller may configure
    try:
        writer._last_size = 16
        writer._queue.put(_item("a"))
        batch, _ = writer._collect(_item("first"))
        assert _names(batch) == ["first", "a"]  # nothing more came within 20 ms
        assert writer._last_size == 2
    finally:
        gate.set()
        caller.join()
        writer.close()
