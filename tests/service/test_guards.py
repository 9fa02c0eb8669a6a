"""Issue 12, item 17: the guards that are the last line of defence when the core's view is stale,
each shown to stop what it is there to stop (a mutation that flips or removes one fails here).

- the floor check when a withdrawal is written (kimia/service/posting.py): a credit line never
  ends below its limit, even if the member's snapshot said the limit was higher;
- the request-hash comparison of one idempotency key used twice in one batch
  (kimia/service/bulk.py): the second, different request is refused, not given the first's receipt;
- the lots guard of the bulk write: two members of one shared wallet spending it in one batch
  cannot both spend it.
"""

from __future__ import annotations

from typing import Any

import pytest

import kimia.service.bulk as bulk
from kimia.errors import KimiaError
from kimia.service import Admin

from .batching import together
from .builders import VALUE_TABLES, World, balance, dump, rows, scalar


def test_the_floor_check_stops_a_withdrawal_decided_on_a_stale_snapshot(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    service = world.service
    member = world.enroll()
    service.set_credit_limit(world.club_id, member, 100_000, actor="staff", reason="new customer")
    load_snapshots = bulk._snapshots

    def stale(*args: Any, **kwargs: Any) -> tuple[dict[int, dict[str, Any]], list[list[Any]]]:
        """The snapshot says the credit line's limit is 400,000 (the database says 100,000)."""
        snapshots, extra = load_snapshots(*args, **kwargs)
        for snapshot in snapshots.values():
            for account in snapshot["accounts"]:
                if account["account"].endswith("/credit_line"):
                    account["credit_limit"] = 400_000
        return snapshots, extra

    # Purchases read their members' snapshots in bulk (kimia/service/bulk.py), alone or together.
    monkeypatch.setattr(bulk, "_snapshots", stale)
    before = dump(service, VALUE_TABLES)
    with pytest.raises(KimiaError) as err:
        world.buy(member, 500_000, redeem_credit_rial=300_000)
    assert err.value.code == "insufficient_balance" and err.value.params["account"] == f"member:{member}/credit_line"
    assert dump(service, VALUE_TABLES) == before
    # Within the limit the same stale view does no harm: the write agrees with the database.
    world.buy(member, 500_000, redeem_credit_rial=100_000)
    assert balance(service, f"member:{member}/credit_line") == -100_000


def test_one_key_twice_in_one_batch_with_another_request_is_refused(world: World) -> None:
    member = world.enroll()
    first, same, basket, amount = together(world.service, [
        lambda: world.buy(member, 200_000, idem_key="twice"),
        lambda: world.buy(member, 200_000, idem_key="twice"),
        lambda: world.buy(member, 200_000, idem_key="twice", basket=[{"sku": "6260100200301", "qty": 1, "amount_rial": 200_000}]),
        lambda: world.buy(member, 300_000, idem_key="twice"),
    ])
    assert isinstance(first, dict) and same == {**first, "replayed": True}
    assert world.buy(member, 200_000, idem_key="twice") == same  # later, from the stored receipt
    assert isinstance(basket, KimiaError) and basket.code == "exists_with_different_request"
    assert isinstance(amount, KimiaError) and amount.code == "exists_with_different_amount"
    assert scalar(world.service, "SELECT COUNT(*) FROM operations WHERE idem_key = 'twice'") == 1
    assert scalar(world.service, "SELECT purchase_count FROM members WHERE id = ?", (member,)) == 1


def test_two_members_of_one_wallet_cannot_both_spend_it_in_one_batch(world: World) -> None:
    service = world.service
    a, b = world.enroll(), world.enroll()
    wallet = Admin(service).create_shared_wallet(world.club_id, "خانواده", [a, b])
    service.charge(world.club_id, a, idem_key="family", kind="gift_credit", amount_rial=60_000,
                   source={"type": "club", "id": world.club_id}, shared_wallet=True, actor="test", reason="gift")
    spent = together(service, [lambda: world.buy(a, 100_000, redeem_credit_rial=60_000),
                               lambda: world.buy(b, 100_000, redeem_credit_rial=60_000)])
    assert isinstance(spent[0], dict) and spent[0]["credit_used_rial"] == 60_000
    assert isinstance(spent[1], KimiaError) and spent[1].code == "insufficient_balance"
    assert balance(service, f"group:{wallet}/gift_credit") == 0
    assert rows(service, "SELECT remaining FROM lots WHERE owner = ?", (f"group:{wallet}",)) == [(0,)]
    assert scalar(service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'") == 1
