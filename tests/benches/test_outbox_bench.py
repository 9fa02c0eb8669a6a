"""The outbox A/B benchmark in a short form (benches/outbox_ab.py): a few rounds each way on both
databases; it checks the arms did what they say (an ``operation.committed`` row for every purchase
of the on arm, none for the off arm's), never the timing."""

from __future__ import annotations

import sys
from pathlib import Path

from kimia.app import assemble
from kimia.settings import Settings
from service.builders import rows

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))

import outbox_ab  # noqa: E402


def test_the_ab_runs_both_arms(db_url: str) -> None:
    result = outbox_ab.ab(db_url, callers=4, per_caller=5, rounds=2)
    assert result.on.purchases == result.off.purchases == 40 and result.on.rate > 0 and result.off.rate > 0 and result.ratio > 0
    with assemble(Settings.from_env({}, database_url=db_url, dev_mode=True)) as svc:
        purchases = rows(svc, "SELECT o.idem_key, e.uid FROM operations o LEFT JOIN outbox_events e"
                              " ON e.uid = 'operation.committed:' || CAST(o.club_id AS TEXT) || ':op:' || CAST(o.id AS TEXT)"
                              " WHERE o.kind = 'purchase'")
    on = [uid for key, uid in purchases if "-on-" in key]
    off = [uid for key, uid in purchases if "-off-" in key]
    assert len(on) == len(off) == 40 + 4 * 1
    assert all(on) and not any(off)
