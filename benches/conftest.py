"""Shared, session-wide inputs of the benchmarks: rulebooks, zen-engine decisions and purchases.

Everything here is built once, outside any timed code. Run with:
    KIMIA_RELEASE=1 bash scripts/setup.sh && .venv/bin/python -m pytest benches -q --benchmark-columns=min,median,mean,ops
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest
import tables

import kimia

# Benchmarks build throwaway databases: development mode lets them hash cards with the development
# key (a service refuses to start without KIMIA_CARD_HASH_KEY otherwise); the bench scripts they
# start inherit it.
os.environ.setdefault("KIMIA_DEV_MODE", "1")

if TYPE_CHECKING:
    import zen
    from zen import EvaluateBatchRequest

#: Purchases every cross-engine comparison decides (the same ones for every engine).
COMPARE_PURCHASES = 20_000
#: Rows of the large batch calls.
MILLION = 1_000_000


class Inputs:
    """Rulebooks, zen-engine decisions, evaluators and purchases per table size, each built once."""

    @cache
    def rulebook(self, n: int) -> kimia.Rulebook:
        book = kimia.Rulebook(tables.kimia_rule_set(n))
        assert len(book) == n
        return book

    @cache
    def zen_engine(self, n: int) -> zen.ZenEngine:
        """An engine whose loader serves the n-rule decision under the key "rules" (compiled once, cached)."""
        import zen  # only the comparisons need zen-engine (a dev dependency)

        return zen.ZenEngine({"loader": {"type": "static", "content": {"rules": tables.zen_decision(n)}}})

    @cache
    def zen_decision(self, n: int) -> zen.ZenDecision:
        """The same decision through `create_decision` (much slower per call than the loader path)."""
        return self.zen_engine(n).create_decision(json.dumps(tables.zen_decision(n)))

    @cache
    def plain(self, n: int) -> tables.PlainEvaluator:
        return tables.PlainEvaluator(tables.rules(n))

    @cache
    def purchases(self, n: int) -> tables.Purchases:
        """The comparison purchases for the n-rule table (the same for every engine)."""
        return tables.purchases(n, COMPARE_PURCHASES, seed=7)

    @cache
    def zen_contexts(self, n: int) -> list[dict[str, Any]]:
        p = self.purchases(n)
        return [p.zen_context(i) for i in range(len(p))]

    @cache
    def zen_requests(self, n: int) -> list[EvaluateBatchRequest]:
        """The same contexts as requests of `ZenEngine.evaluate_batch`."""
        return [{"key": "rules", "context": c} for c in self.zen_contexts(n)]

    @cache
    def plain_args(self, n: int) -> list[tuple[int, int, int, str | None, int, int, int]]:
        p = self.purchases(n)
        return [p.plain_args(i) for i in range(len(p))]

    @cache
    def kimia_calls(self, n: int) -> list[tuple[dict[str, Any], kimia.Member, int]]:
        """(purchase dict, prebuilt member, now) per comparison purchase; members shared by (tier, count)."""
        p = self.purchases(n)
        members: dict[tuple[int, int], kimia.Member] = {}
        calls = []
        for i in range(len(p)):
            key = (p.tier[i], p.purchase_count[i])
            if key not in members:
                members[key] = kimia.Member(p.kimia_member(i))
            calls.append((p.kimia_purchase(i), members[key], p.at[i]))
        return calls


@pytest.fixture(scope="session")
def inputs() -> Inputs:
    return Inputs()


@pytest.fixture(scope="session")
def million_purchases() -> tables.Purchases:
    return tables.purchases(1_000, MILLION, seed=13)
