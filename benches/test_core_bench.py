"""Benchmarks of kimia's decision core from Python, against zen-engine and plain Python.

Not part of the normal test run (pytest's testpaths is tests/). Run with a release build:
    KIMIA_RELEASE=1 bash scripts/setup.sh
    .venv/bin/python -m pytest benches -q --benchmark-columns=min,median,mean,ops

Every function also runs with --benchmark-disable (each benchmarked call then runs once).
What each benchmark measures, and the targets, are in docs/benchmarks.md.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import tables

import kimia

if TYPE_CHECKING:
    from conftest import Inputs
    from pytest_benchmark.fixture import BenchmarkFixture

MILLION = 1_000_000
COMPARE_SIZES = (1_000, 10_000)
TIER_CONFIG = {
    "tiers": [
        {"name": "bronze", "rise_at": 0, "stay_at": 0},
        {"name": "silver", "rise_at": 5_000, "stay_at": 3_000, "grace_periods": 1, "deduct_bp": 1_000},
        {"name": "gold", "rise_at": 20_000, "stay_at": 12_000, "grace_periods": 1, "deduct_bp": 2_000},
    ]
}


# Single decisions ------------------------------------------------------------------------------


@pytest.mark.parametrize("explain", [False, True], ids=["plain", "explain"])
@pytest.mark.parametrize("n", tables.SIZES)
def test_evaluate(benchmark: BenchmarkFixture, inputs: Inputs, n: int, explain: bool) -> None:
    """One `Rulebook.evaluate` call from Python: dict purchase in, prebuilt `kimia.Member`, Decision out."""
    book = inputs.rulebook(n)
    purchase, member_data, now = tables.representative(n)
    member = kimia.Member(member_data)
    benchmark.group = "evaluate (one call from Python)"
    decision = benchmark(book.evaluate, purchase, member, now, explain=explain)
    assert decision.applied_rules
    assert bool(decision.explanation) == explain


# Large batches ---------------------------------------------------------------------------------


def test_backtest_million(benchmark: BenchmarkFixture, inputs: Inputs, million_purchases: tables.Purchases) -> None:
    """`Rulebook.backtest` of 1,000,000 purchases against the 1,000-rule table (columns built beforehand)."""
    book = inputs.rulebook(1_000)
    columns = million_purchases.backtest_columns()
    benchmark.group = "batches of 1,000,000"
    benchmark.extra_info["rows"] = MILLION
    pedantic: Callable[..., Any] = benchmark.pedantic  # untyped in pytest-benchmark
    totals = pedantic(book.backtest, kwargs=columns, rounds=3, iterations=1)
    assert totals["purchases"] == MILLION and totals["rejected"] == 0


@pytest.fixture(scope="module")
def tier_columns() -> dict[str, Any]:
    rng = random.Random(11)
    return {
        "tier": [rng.randrange(3) for _ in range(MILLION)],
        "period_points": [rng.randrange(30_000) for _ in range(MILLION)],
        "grace_used": [rng.randrange(2) for _ in range(MILLION)],
        "frozen_until": [tables.START + 2 * tables.SPAN_S if rng.randrange(100) == 0 else 0 for _ in range(MILLION)],
        "manual_tier": [2 if rng.randrange(200) == 0 else -1 for _ in range(MILLION)],
        "period_end": tables.START + tables.SPAN_S,
    }


def test_close_tier_period_million(benchmark: BenchmarkFixture, tier_columns: dict[str, Any]) -> None:
    """`kimia.close_tier_period` of 1,000,000 members: Python lists in, Python lists out."""
    benchmark.group = "batches of 1,000,000"
    benchmark.extra_info["rows"] = MILLION
    pedantic: Callable[..., Any] = benchmark.pedantic  # untyped in pytest-benchmark
    out = pedantic(kimia.close_tier_period, args=(TIER_CONFIG,), kwargs=tier_columns, rounds=5, iterations=1)
    assert len(out["tier"]) == MILLION and set(out["reason"]) <= {"stay", "up", "down", "grace", "frozen", "manual"}


# The same purchases through every engine ---------------------------------------------------------


def _kimia_batch(inputs: Inputs, n: int) -> Callable[[], Any]:
    book, columns = inputs.rulebook(n), inputs.purchases(n).backtest_columns()
    return lambda: book.backtest(**columns)


def _kimia_single(inputs: Inputs, n: int) -> Callable[[], Any]:
    book, calls = inputs.rulebook(n), inputs.kimia_calls(n)
    evaluate = book.evaluate
    return lambda: [evaluate(p, m, now, explain=False) for p, m, now in calls]


def _zen_loop(inputs: Inputs, n: int) -> Callable[[], Any]:
    engine, contexts = inputs.zen_engine(n), inputs.zen_contexts(n)
    evaluate = engine.evaluate
    return lambda: [evaluate("rules", c) for c in contexts]


def _zen_batch(inputs: Inputs, n: int) -> Callable[[], Any]:
    engine, requests = inputs.zen_engine(n), inputs.zen_requests(n)
    return lambda: engine.evaluate_batch(requests)


def _plain(inputs: Inputs, n: int) -> Callable[[], Any]:
    evaluator, args = inputs.plain(n), inputs.plain_args(n)
    matches = evaluator.matches
    return lambda: [matches(*a) for a in args]


PATHS: dict[str, Callable[[Inputs, int], Callable[[], Any]]] = {
    "kimia-backtest": _kimia_batch,
    "kimia-single-calls": _kimia_single,
    "zen-evaluate-loop": _zen_loop,
    "zen-evaluate-batch": _zen_batch,
    "plain-python": _plain,
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("n", COMPARE_SIZES)
def test_same_purchases(benchmark: BenchmarkFixture, inputs: Inputs, n: int, path: str) -> None:
    """20,000 purchases decided on the n-rule table by each engine (one round = all 20,000)."""
    run = PATHS[path](inputs, n)
    run()  # warm-up: zen-engine's loader compiles the decision on first use, plain Python fills its index
    benchmark.group = f"20,000 purchases, {n} rules"
    benchmark.extra_info["decisions"] = len(inputs.purchases(n))
    pedantic: Callable[..., Any] = benchmark.pedantic  # untyped in pytest-benchmark
    pedantic(run, rounds=5, iterations=1)


# The report ------------------------------------------------------------------------------------


def _rate(run: Callable[[], Any], count: int, repeat: int = 3) -> float:
    """Decisions per second of the best of `repeat` runs (after one warm-up run)."""
    run()
    best = min(_timed(run) for _ in range(repeat))
    return count / best


def _timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _median_call_us(inputs: Inputs, n: int, explain: bool) -> float:
    book, calls = inputs.rulebook(n), inputs.kimia_calls(n)
    evaluate, clock = book.evaluate, time.perf_counter_ns
    spans = []
    for p, m, now in calls:
        t0 = clock()
        evaluate(p, m, now, explain=explain)
        spans.append(clock() - t0)
    return statistics.median(spans) / 1_000


def test_ratios_report(inputs: Inputs, capsys: pytest.CaptureFixture[str]) -> None:
    """kimia batch, kimia single calls, zen-engine and plain Python on the same table and purchases.

    First a real check that the three engines evaluate the same table: kimia's totals (backtest and
    single calls) equal the plain-Python evaluator's, kimia applies the rules plain Python finds
    rewarding, and zen-engine's matched rows and outputs equal plain Python's on 1,000 purchases.
    Then decisions/s of each path, measured once (best of three runs after a warm-up), printed side
    by side with the ratios.
    """
    n = 1_000
    p = inputs.purchases(n)
    count = len(p)
    book, evaluator = inputs.rulebook(n), inputs.plain(n)

    expected = tables.Totals()
    matches = [evaluator.matches(*a) for a in inputs.plain_args(n)]
    for i, m in enumerate(matches):
        evaluator.add(expected, p.amount_rial[i], m)
    assert expected.discount > 0 and expected.points > 0 and expected.credit > 0 and expected.entries > 0

    totals = book.backtest(**p.backtest_columns())
    assert totals["purchases"] == count and totals["rejected"] == 0
    got = (totals["discount_rial"], totals["points_issued"], totals["credit_issued_rial"], totals["lottery_entries"])
    assert got == expected.as_tuple(), "kimia backtest and plain Python disagree"

    decisions = [book.evaluate(pur, mem, now, explain=False) for pur, mem, now in inputs.kimia_calls(n)]
    single = (sum(d.discount_rial for d in decisions), sum(d.points_earned for d in decisions))
    assert single == (expected.discount, expected.points), "kimia single calls and plain Python disagree"

    sample = random.Random(3).sample(range(count), 1_000)
    engine, contexts = inputs.zen_engine(n), inputs.zen_contexts(n)
    for i in sample:
        rewarding = [rule_id for rule_id, reward in matches[i] if not reward.is_empty()]
        assert decisions[i].applied_rules == rewarding, f"purchase {i}: kimia applied other rules"
        zen_rows = tables.zen_matches(engine.evaluate("rules", contexts[i])["result"])
        assert zen_rows == matches[i], f"purchase {i}: zen-engine matched other rows or outputs"
    assert sum(len(matches[i]) for i in sample) > 1_000

    rates = {
        "kimia batch (Rulebook.backtest)": _rate(_kimia_batch(inputs, n), count),
        "kimia single calls from Python": _rate(_kimia_single(inputs, n), count),
        "zen-engine ZenEngine.evaluate loop": _rate(_zen_loop(inputs, n), count),
        "zen-engine ZenEngine.evaluate_batch": _rate(_zen_batch(inputs, n), count),
        "plain Python loop": _rate(_plain(inputs, n), count),
    }
    zen_best = max(rates["zen-engine ZenEngine.evaluate loop"], rates["zen-engine ZenEngine.evaluate_batch"])
    plain_rate = rates["plain Python loop"]
    median_us = _median_call_us(inputs, n, explain=False)
    median_explain_us = _median_call_us(inputs, n, explain=True)
    batch = rates["kimia batch (Rulebook.backtest)"]

    width = max(len(k) for k in rates)
    lines = [
        "",
        f"Decisions/s on the {n:,}-rule table over the same {count:,} purchases (one core)",
        f"{'path':<{width}}  {'decisions/s':>12}  {'× zen (best)':>12}  {'× plain Python':>14}",
    ]
    for name, rate in rates.items():
        lines.append(f"{name:<{width}}  {rate:>12,.0f}  {rate / zen_best:>11.1f}×  {rate / plain_rate:>13.1f}×")
    lines += [
        f"median single call (Rulebook.evaluate, explain=False): {median_us:.2f} µs;"
        f" explain=True: {median_explain_us:.2f} µs",
        "targets: batch ≥ 1,000,000/s: {}; single call ≤ 5 µs median: {}; batch ≥ 20× zen-engine: {} ({:.1f}×)".format(
            _verdict(batch >= 1_000_000), _verdict(median_us <= 5.0), _verdict(batch >= 20 * zen_best), batch / zen_best
        ),
        "",
    ]
    with capsys.disabled():
        print("\n".join(lines))


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"
