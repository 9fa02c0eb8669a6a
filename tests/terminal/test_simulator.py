"""The simulator's store-and-forward file (``kimia.terminal.simulator.StoreAndForward``): what is
queued survives the process, answers are never lost to the in-memory shortcut for empty queues,
and STAN blocks never repeat. (The simulator against a real host is in test_server_faults.py.)"""

from __future__ import annotations

from pathlib import Path

from kimia.terminal.client import TerminalIdentity
from kimia.terminal.codec import Message
from kimia.terminal.simulator import StoreAndForward

A = TerminalIdentity("T0000001", "M00000000000001")
B = TerminalIdentity("T0000002", "M00000000000001")


def advice(stan: str) -> Message:
    return Message("0220", {"3": "000000", "4": "000000050000", "11": stan, "41": A.terminal_id, "42": A.merchant_id, "48": b"\x01"})


def test_a_queue_seen_empty_still_sees_what_is_pushed_later(tmp_path: Path) -> None:
    q = StoreAndForward(tmp_path / "saf.sqlite")
    try:
        assert q.pending(A) == [] and q.pending(A) == []  # the second answer comes from memory
        first = q.push(A, "completion", advice("000001"))
        q.push(A, "completion", advice("000002"))
        items = q.pending(A)
        assert [i.id for i in items] == [first, first + 1]
        assert items[0].message == advice("000001")  # bytes fields round-trip too
        assert q.pending(B) == []
        q.attempted(first)
        q.remove(first)
        assert [(i.message.stan, i.attempts) for i in q.pending(A)] == [("000002", 0)]
        q.remove(first + 1)
        assert q.pending(A) == [] and q.count() == 0
        q.push(A, "reversal", advice("000003"))
        assert [i.kind for i in q.pending(A)] == ["reversal"]
    finally:
        q.close()


def test_queued_items_and_stans_survive_the_process(tmp_path: Path) -> None:
    path = tmp_path / "saf.sqlite"
    q = StoreAndForward(path)
    q.push(A, "completion", advice("000007"))
    first_block = q.reserve_stans(A)
    q.close()

    again = StoreAndForward(path)
    try:
        assert [i.message.stan for i in again.pending(A)] == ["000007"]
        assert again.reserve_stans(A) > first_block  # a new run never reuses a reserved STAN
        assert again.count([A, B]) == 1
    finally:
        again.close()
