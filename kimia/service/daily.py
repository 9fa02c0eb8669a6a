"""The per-day aggregate behind the club dashboard (kimia.service.dashboard_views): ``club_days``.

``club_days`` holds, per club and local day, one row per *metric*: a count and an amount. It is
written by the posting path in the same transaction as the operations and journal legs it
counts (:func:`add_daily`, called by ``Run.flush`` and the period-end deductions), so the
dashboard reads a few thousand small rows instead of counting millions of operations.
:func:`recount` recomputes it from ``operations`` and ``journal`` (``kimia check`` compares the
two; :func:`rebuild_daily` replaces the table with the recount: the migration's backfill, the
benchmark's data generator).

Metrics (``metric`` column):

- ``op:<kind>``: operations of a kind written on the day (any status but void or rejected; not
  the markers kimia.service.ops writes: bind, refusal, timeout),
  count and ``amount_rial``: sales are ``op:purchase`` + ``op:completion``; a refund's or a
  reversal's amount is what it takes back (a reversed refund's is negative), so net sales are
  sales minus refunds minus reversals, each on its own day;
- ``h:<kind>``: the net change of members' and shared wallets' value of a kind (``points``,
  ``club_credit`` ...; merchant credit as ``h:merchant_credit@merchant:<id>``), legs and amount:
  summed over every day up to now it is the value outstanding (the club's liability), kept as
  well in the club's row of day 0 (``ALL_TIME``), so reading it is one row per kind;
- ``b:<kind>:<owner>:<op kind>``: the net change of the business side's accounts (``points_issued``,
  ``points_retired``, ``expense``, ``discount_given``, ``credit_accepted`` ...) by owner type and
  operation kind: points issued, redeemed and expired per day;
- ``g:<funder>:<kind>``: value granted to holders straight from a funder's account (owner type:
  club, merchant, platform, marketer, org; ``cash`` for value bought), by the holder's kind.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from collections.abc import Iterable, Sequence
from typing import Any

from kimia.service.host import Host
from kimia.service.sql import Tx

#: Operation statuses that are not operations (a void key is a marker; a refusal moves nothing).
_NOT_COUNTED = ("void", "rejected")
#: Operations that move no value and are written outside the posting path (kimia.service.ops):
#: a card bound, a refusal or a timeout remembered under its key.
_NOT_VALUE = ("bind", "refusal", "timeout")
_HOLDERS = ("member", "group")
#: Business-side account kinds worth a metric (cash and lottery entries are not).
_BUSINESS = frozenset({"points_issued", "points_retired", "expense", "credit_retired", "discount_given", "credit_accepted"})
_FUNDED = frozenset({"expense", "points_issued", "cash"})

Key = tuple[int, int, str]


_NOT_HELD = ("held", "held_points", "lottery_entries")


@lru_cache(maxsize=16_384)
def _classify(account: str) -> tuple[str | None, str | None, str | None]:
    """What a leg on ``account`` counts in: (its holder metric, or None; the prefix of its
    business metric, to which the operation's kind is added, or None; as the source of a
    posting, the funder it names, or None). ``member:42/merchant_credit@merchant:7`` gives
    (``h:merchant_credit@merchant:7``, None, None); ``club:1/expense`` (None, ``b:expense:club:``, ``club``)."""
    owner_text, _, rest = account.partition("/")
    kind, _, scope = rest.partition("@")
    owner = owner_text.partition(":")[0]
    if owner in _HOLDERS:
        if kind in _NOT_HELD:
            return None, None, None
        holder = f"h:{kind}@{scope}" if kind == "merchant_credit" and scope.startswith("merchant:") else f"h:{kind}"
        return holder, None, None
    business = f"b:{kind}:{owner}:" if kind in _BUSINESS else None
    funder = ("cash" if kind == "cash" else owner) if kind in _FUNDED else None
    return None, business, funder


def leg_metrics(out: dict[Key, list[int]], legs: Iterable[Sequence[Any]], kind_of: dict[int, str], day_of: dict[int, int]) -> None:
    """Add the metrics of journal legs to ``out``. ``legs``: (club, op id, seq, account, amount,
    ...) in posting order, a posting's two legs one after the other (from, then to)."""
    funder: str | None = None
    source = True
    for leg in legs:
        club, op_id, amount = leg[0], leg[1], leg[4]
        holder, business, names = _classify(leg[3])
        if holder is not None:
            cell = out[(club, day_of[op_id], holder)]
            cell[0] += 1
            cell[1] += amount
            if not source and funder is not None:  # value granted straight from a funder
                cell = out[(club, day_of[op_id], f"g:{funder}:{holder[2:].partition('@')[0]}")]
                cell[0] += 1
                cell[1] += amount
        elif business is not None:
            cell = out[(club, day_of[op_id], business + kind_of[op_id])]
            cell[0] += 1
            cell[1] += amount
        funder = names if source else None
        source = not source


def op_metrics(out: dict[Key, list[int]], ops: Iterable[tuple[int, int, str, str, int]]) -> None:
    """Add operations (club, day, kind, status, amount) to ``out``."""
    for club, day, kind, status, amount in ops:
        if status in _NOT_COUNTED or kind in _NOT_VALUE:
            continue
        cell = out[(int(club), int(day), f"op:{kind}")]
        cell[0] += 1
        cell[1] += int(amount)


def add_daily(tx: Tx, ops: Sequence[Sequence[Any]], legs: Sequence[Sequence[Any]]) -> None:
    """The posting path's part: add a run's operations rows (``posting.OPERATION_COLUMNS``) and
    journal legs to ``club_days`` in the writer's transaction (one upsert statement)."""
    out: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    kind_of = {int(r[0]): str(r[4]) for r in ops}
    day_of = {int(r[0]): int(r[15]) for r in ops}
    op_metrics(out, ((r[1], r[15], r[4], r[5], r[10]) for r in ops))
    leg_metrics(out, legs, kind_of, day_of)
    write_cells(tx, out)


#: The day of the all-time rows: each holder metric (``h:``) is also added to its club's row of
#: day 0, so the value outstanding is one row per kind, not a sum over every day.
ALL_TIME = 0


def with_totals(out: dict[Key, list[int]]) -> dict[Key, list[int]]:
    """``out`` with the all-time rows of its holder metrics added."""
    totals: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for (club, day, metric), (n, amount) in out.items():
        if metric.startswith("h:") and day != ALL_TIME:
            cell = totals[(club, ALL_TIME, metric)]
            cell[0] += n
            cell[1] += amount
    for key, (n, amount) in totals.items():
        cell = out[key]
        cell[0] += n
        cell[1] += amount
    return out


def write_cells(tx: Tx, out: dict[Key, list[int]]) -> None:
    rows = [(club, day, metric, n, amount) for (club, day, metric), (n, amount) in sorted(with_totals(out).items()) if n or amount]
    tx.insert_rows("club_days", ("club_id", "day", "metric", "count", "amount"), rows,
                   " ON CONFLICT (club_id, day, metric) DO UPDATE SET count = club_days.count + excluded.count,"
                   " amount = club_days.amount + excluded.amount")


def recount(tx: Tx, club_id: int | None = None) -> dict[Key, tuple[int, int]]:
    """``club_days`` as the operations and the journal say it should be (every club, or one)."""
    out: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    where, params = ("", ()) if club_id is None else (" WHERE club_id = ?", (club_id,))
    ph, kh = ",".join("?" * len(_NOT_COUNTED)), ",".join("?" * len(_NOT_VALUE))
    for row in tx.all(f"SELECT club_id, day, kind, COUNT(*), SUM(amount_rial) FROM operations{where}"
                      f"{' AND' if where else ' WHERE'} status NOT IN ({ph}) AND kind NOT IN ({kh}) GROUP BY club_id, day, kind",
                      (*params, *_NOT_COUNTED, *_NOT_VALUE)):
        cell = out[(int(row[0]), int(row[1]), f"op:{row[2]}")]
        cell[0] += int(row[3])
        cell[1] += int(row[4] or 0)
    kind_of: dict[int, str] = {}
    day_of: dict[int, int] = {}
    jwhere, jparams = ("", ()) if club_id is None else (" WHERE j.club_id = ?", (club_id,))
    cursor = tx.execute("SELECT j.club_id, j.op_id, j.seq, j.account, j.amount, o.kind, o.day FROM journal j"
                        f" JOIN operations o ON o.id = j.op_id{jwhere} ORDER BY j.op_id, j.seq, j.id", jparams)
    while rows := cursor.fetchmany(10_000):
        for r in rows:
            kind_of[int(r[1])] = str(r[5])
            day_of[int(r[1])] = int(r[6])
        # A chunk holds whole postings: two adjacent legs each, and an even chunk size.
        leg_metrics(out, rows, kind_of, day_of)
        kind_of.clear()
        day_of.clear()
    return {k: (v[0], v[1]) for k, v in with_totals(out).items() if v[0] or v[1]}


def stored(tx: Tx, club_id: int | None = None) -> dict[Key, tuple[int, int]]:
    where, params = ("", ()) if club_id is None else (" WHERE club_id = ?", (club_id,))
    return {(int(c), int(d), str(m)): (int(n), int(a)) for c, d, m, n, a in
            tx.all(f"SELECT club_id, day, metric, count, amount FROM club_days{where}", params) if int(n) or int(a)}


def check_daily(tx: Tx, add: Any, limit: int = 50) -> None:
    """``kimia check``: ``club_days`` equals its recount."""
    want, have = recount(tx), stored(tx)
    wrong = sorted(k for k in set(want) | set(have) if want.get(k, (0, 0)) != have.get(k, (0, 0)))
    for club, day, metric in wrong[:limit]:
        add(f"club_days {metric} of club {club} day {day} is {have.get((club, day, metric), (0, 0))},"
            f" a recount says {want.get((club, day, metric), (0, 0))}")


def rebuild_daily_tx(tx: Tx, club_id: int | None = None) -> int:
    """Replace ``club_days`` (every club's, or one club's) with its recount; returns the rows."""
    counted = recount(tx, club_id)
    if club_id is None:
        tx.execute("DELETE FROM club_days")
    else:
        tx.execute("DELETE FROM club_days WHERE club_id = ?", (club_id,))
    rows = [(c, d, m, n, a) for (c, d, m), (n, a) in sorted(counted.items())]
    for start in range(0, len(rows), 5_000):
        tx.insert_rows("club_days", ("club_id", "day", "metric", "count", "amount"), rows[start:start + 5_000])
    return len(rows)


def rebuild_daily(svc: Host, club_id: int | None = None) -> int:
    """``rebuild_daily_tx`` in a write transaction of ``svc``: returns the rows written."""
    return int(svc.write(lambda tx: rebuild_daily_tx(tx, club_id)))



__all__ = ["ALL_TIME", "Key", "add_daily", "check_daily", "leg_metrics", "op_metrics", "rebuild_daily", "rebuild_daily_tx", "recount", "stored", "write_cells"]
