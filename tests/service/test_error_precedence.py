"""A purchase with several faults is refused for the most fundamental one: the one that comes first
in the error catalogue's precedence order (core/src/errors.rs, docs/errors.md).

Six faults, each turned on alone and in every combination (64 requests): the code given is always
the first of the turned-on faults' codes in catalogue order, and nothing is written."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import CATALOGUE, KimiaError, most_fundamental, reject
from kimia.service import MemberRef, PurchaseRequest

from .builders import VALUE_TABLES, World, dump, mobile

#: (the code a fault gives, how it changes a good purchase request's fields)
FAULTS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("missing_idempotency_key", lambda r: r.update(idem_key="")),
    ("amount_must_be_positive", lambda r: r.update(amount_rial=-1)),
    ("invalid_request", lambda r: r.update(payment_method="barter")),
    ("unknown_merchant", lambda r: r.update(merchant_id=987_654)),
    ("unknown_member", lambda r: r.update(member=MemberRef("mobile", mobile(9_999)))),
    ("insufficient_balance", lambda r: r.update(redeem_credit_rial=1_000_000)),
]


def test_the_faults_are_listed_in_precedence_order() -> None:
    order = [CATALOGUE[code].precedence for code, _ in FAULTS]
    assert order == sorted(order)


def test_most_fundamental_picks_by_catalogue_order() -> None:
    late, early = reject("insufficient_balance"), reject("unknown_member")
    assert most_fundamental([late, early]) is early
    assert most_fundamental([early, reject("unknown_member")]) is early  # the earliest found among equals


@pytest.mark.parametrize("shown", range(1, len(FAULTS) + 1))
def test_several_faults_give_the_most_fundamental(world: World, shown: int) -> None:
    w = world
    member = w.enroll(identifiers=[("mobile", mobile(1))])
    before = dump(w.service, VALUE_TABLES)
    for faults in itertools.combinations(FAULTS, shown):
        fields: dict[str, Any] = {"idem_key": w.key("precedence"), "merchant_id": w.merchants["cafe"], "member": member,
                                  "amount_rial": 200_000}
        for _, apply in faults:
            apply(fields)
        with pytest.raises(KimiaError) as refused:
            w.service.purchase(PurchaseRequest(**fields))
        # FAULTS is in precedence order and combinations keep it: the first is the most fundamental.
        assert refused.value.code == faults[0][0], [code for code, _ in faults]
    assert dump(w.service, VALUE_TABLES) == before
