"""Issue 14, item 2: every operation that posts rides one write path (kimia.service.posting) and
the group commit's runs hold postings of every kind.

The same script of operations (purchases, a hold and its completion, refunds, a reversal, value
operations, an operation that depends on another of the same run) is run on one club as a single
writer batch and on another club one operation at a time: the answers agree, the balances agree,
and the batch was one run (no fall-back to single operations).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import KimiaError
from kimia.service.sql import Tx

from .batching import together
from .builders import World, rows, scalar


def script(w: World, a: int, b: int, sale: dict[str, Any], hold_id: int) -> list[Callable[[], Any]]:
    """Operations of every posting kind; several depend on another of the same list."""
    cafe, restaurant = w.merchants["cafe"], w.merchants["restaurant"]
    service, club = w.service, w.club_id
    return [
        lambda: w.buy(a, 300_000, idem_key="p1", redeem_credit_rial=100_000, reference="555000000001"),
        lambda: service.refund(cafe, idem_key="r1", reference="555000000001", amount_rial=50_000),  # the sale just above
        lambda: service.refund(restaurant, idem_key="r0", op_id=sale["op_id"], amount_rial=40_000),
        lambda: w.buy(b, 200_000, idem_key="p2"),
        lambda: service.complete_hold(cafe, hold_id, idem_key="c1", reference="555000000002"),
        lambda: service.charge(club, a, idem_key="ch1", kind="gift_credit", amount_rial=70_000, source={"type": "club", "id": club},
                               actor="test", reason="gift"),
        lambda: w.buy(a, 150_000, idem_key="p3", redeem_credit_rial=120_000),  # spends the charge above
        lambda: service.adjust(club, b, idem_key="adj1", account_kind="points", delta=25, actor="test", reason="goodwill"),
        lambda: service.reverse_by_key(cafe, "never-sent", idem_key="rev1"),
        lambda: w.buy(b, 100_000, idem_key="never-sent"),  # voided just above
        lambda: service.hold(w.request(b, 90_000, idem_key="h2")),
        lambda: service.reverse_by_key(cafe, "h2", idem_key="rev2"),  # cancels the hold just above
        lambda: service.convert_points(club, b, 20, idem_key="conv1"),
        lambda: w.buy(a, 300_000, idem_key="p1", redeem_credit_rial=100_000, reference="555000000001"),  # a repeat
    ]


def setup(w: World) -> tuple[int, int, dict[str, Any], int]:
    a, b = w.enroll(), w.enroll()
    w.service.charge(w.club_id, a, idem_key="gift", kind="gift_credit", amount_rial=500_000, source={"type": "club", "id": w.club_id},
                     actor="test", reason="setup")
    w.service.adjust(w.club_id, b, idem_key="pts", account_kind="points", delta=100, actor="test", reason="setup")
    sale = w.buy(a, 400_000, merchant="restaurant", idem_key="p0")
    hold = w.service.hold(w.request(b, 250_000, idem_key="h1"))
    return a, b, sale, int(hold["hold_id"])


def shape(result: Any) -> Any:
    """An answer without what differs between two clubs (ids, references, codes)."""
    if isinstance(result, KimiaError):
        return ("refused", result.code)
    varying = {"op_id", "rrn", "hold_id", "original_op_id", "void_op_id", "vouchers", "member_id", "merchant_id", "split"}
    answer = {k: v for k, v in result.items() if k not in varying}
    answer["split"] = [(leg["role"], leg["amount_rial"]) for leg in result.get("split", [])]
    return answer


def balances(w: World, members: tuple[int, int]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i, member in enumerate(members):
        for account, balance in rows(w.service, "SELECT account, balance FROM balances WHERE owner = ? ORDER BY account",
                                     (f"member:{member}",)):
            out.append((i, account.split("/", 1)[1], balance))
    return out


def test_a_batch_of_every_posting_kind_is_one_run_and_agrees_with_one_at_a_time(
        club: Callable[..., World], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    together_world, alone_world = club(), club(n=2)
    a1, b1, sale1, hold1 = setup(together_world)
    a2, b2, sale2, hold2 = setup(alone_world)
    service = together_world.service

    caplog.set_level(logging.INFO, logger="kimia.service.writer")
    savepoints: list[str] = []
    savepoint = Tx.savepoint

    def counted(tx: Tx, name: str) -> None:
        savepoints.append(name)
        savepoint(tx, name)

    monkeypatch.setattr(Tx, "savepoint", counted)
    batches = service.writer.batches
    batched = together(service, script(together_world, a1, b1, sale1, hold1))
    monkeypatch.undo()
    assert service.writer.batches - batches == 2  # the batch, and the work that held the writer for it
    assert len(savepoints) == 2, f"the batch ran as {len(savepoints) - 1} runs, not one: {savepoints}"
    assert not [r for r in caplog.records if "fell back" in r.getMessage()], "the run fell back to single operations"

    alone = []
    for call in script(alone_world, a2, b2, sale2, hold2):
        try:
            alone.append(call())
        except KimiaError as exc:
            alone.append(exc)

    assert [shape(r) for r in batched] == [shape(r) for r in alone]
    assert batched[1]["original_op_id"] == batched[0]["op_id"]  # the refund found the sale of its own run
    assert shape(batched[9]) == ("refused", "already_reversed")
    assert batched[11]["status"] == "cancelled"
    assert batched[13] == {**batched[0], "replayed": True}
    assert balances(together_world, (a1, b1)) == balances(alone_world, (a2, b2))
    for w in (together_world, alone_world):
        kinds = rows(w.service, "SELECT kind, status, COUNT(*) FROM operations WHERE club_id = ? GROUP BY kind, status ORDER BY kind, status",
                     (w.club_id,))
        assert kinds == rows(together_world.service, "SELECT kind, status, COUNT(*) FROM operations WHERE club_id = ?"
                             " GROUP BY kind, status ORDER BY kind, status", (together_world.club_id,))
    assert scalar(service, "SELECT refunded_rial FROM operations WHERE id = ?", (batched[0]["op_id"],)) == 50_000
