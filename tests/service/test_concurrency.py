"""C1: many threads redeeming from one member's balance never spend a rial twice.

The research note (reliability.md, C1) measured what naive read-modify-write does on our exact
stack: 16 threads × 500 one-unit redemptions against 5,000 spent 7,353–7,500 units twice. These
tests drive the real service (group-commit writer, one savepoint per operation, answers after
COMMIT) the same way, on SQLite and on PostgreSQL:

- ``test_sixteen_threads_redeem_one_balance``: 16 threads, 10,000 purchases each redeeming 1 rial
  of gift credit against 5,000 rials: exactly 5,000 accepted, the rest refused with
  ``insufficient_balance``; every "balance after" a receipt reports is seen exactly once.
- ``test_same_keys_retried_concurrently``: every key is submitted by two threads at once: never
  more than one operation per key, and both answers for a key are the same answer.
- ``test_two_services_race_for_one_balance``: two ``Kimia`` instances (two writer threads, two
  connections: like two processes) on one database: still no double spend (``BEGIN IMMEDIATE`` on
  SQLite, the member row lock on PostgreSQL).
- ``test_same_keys_through_two_services``: a client retrying a key through another process while
  the first attempt is in flight: nothing lands twice, and every submission gets the answer (the
  original, its replay, or the same refusal), never a raw database error.

Concurrent purchases share group commits, so these also drive the bulk purchase path
(``kimia.service.bulk``). Each prints a grep-able ``FIGURE C1 ...`` line (pytest ``-s``).
"""

from __future__ import annotations

from collections.abc import Callable

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kimia.errors import Rejected
from kimia.service import Admin, Kimia, PurchaseRequest

#: These tests are not about cardholder verification (test_verification.py and
#: test_cardholder.py are): the club lets members spend without a PIN, code or card.
OPEN_SPENDING: dict[str, object] = {"verification": {"redeem": [], "bind": []}}

THREADS = 16
MAX_BATCH = 64
#: Rials of gift credit the racing member holds, and how many 1-rial redemptions race for it.
INITIAL_RIAL = 5_000
ATTEMPTS = 10_000
#: The credit is charged as several lots with different expiries, so draws cross lot boundaries.
LOT_EXPIRIES_DAYS: tuple[int | None, ...] = (30, 60, 90, 120, None)
#: A purchase amount that earns nothing under the rule set below (1 point per 10,000 rials).
AMOUNT_RIAL = 1_000
#: A bound on every race, well above what it needs on 2 cores (a stuck writer must fail the test).
RACE_TIMEOUT_S = 100.0

RULES: dict[str, Any] = {
    "rules": [
        {
            "id": "points",
            "name": {"en": "A point per 10,000 rials", "fa": "یک امتیاز به ازای هر ۱۰٬۰۰۰ ریال"},
            "effects": [{"type": "points", "per_rial": 10_000, "points": 1, "expires_days": 365}],
            "funding": {"club_owner": 10_000},
        }
    ]
}


@dataclass
class Club:
    club_id: int
    merchant_id: int
    members: int = 0


def make_club(service: Kimia) -> Club:
    """An owner, a club with one merchant, and a one-rule rule set (points only)."""
    admin = Admin(service)
    owner = admin.create_owner("مالک آزمون همروندی")
    club_id = admin.create_club(owner, "باشگاه همروندی", settings=OPEN_SPENDING)
    merchant_id = admin.create_merchant(club_id, "فروشگاه همروندی")
    admin.publish_rules(club_id, RULES, actor="test")
    return Club(club_id, merchant_id)


def enroll_funded(service: Kimia, club: Club, rial: int) -> int:
    """A new member holding ``rial`` of gift credit, spread over lots of different expiries."""
    club.members += 1
    n = club.members
    member_id = int(service.enroll(club.club_id, idem_key=f"enrol-{n}", identifiers=[("mobile", f"0912{n:07d}")])["member_id"])
    parts = len(LOT_EXPIRIES_DAYS)
    for i, days in enumerate(LOT_EXPIRIES_DAYS):
        amount = rial // parts + (1 if i < rial % parts else 0)
        if amount:
            service.charge(club.club_id, member_id, actor="test", reason="test-setup", idem_key=f"fund-{n}-{i}", kind="gift_credit", amount_rial=amount,
                           source={"type": "club", "id": club.club_id}, expires_days=days)
    assert member_credit(service, member_id) == rial
    return member_id


def redeem_one(club: Club, member_id: int, key: str) -> PurchaseRequest:
    return PurchaseRequest(idem_key=key, merchant_id=club.merchant_id, member=member_id, amount_rial=AMOUNT_RIAL, redeem_credit_rial=1)


def member_balances(service: Kimia, member_id: int) -> dict[str, int]:
    with service.reading() as tx:
        return {a: int(b) for a, b in tx.all("SELECT account, balance FROM balances WHERE owner = ?", (f"member:{member_id}",))}


def member_credit(service: Kimia, member_id: int) -> int:
    return member_balances(service, member_id).get(f"member:{member_id}/gift_credit", 0)


@dataclass
class Outcomes:
    """What every submission got back: (key, receipt or rejection code, which service answered)."""

    accepted: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    rejected: list[tuple[str, str, int]] = field(default_factory=list)
    errors: list[tuple[str, BaseException]] = field(default_factory=list)
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)

    def codes(self) -> Counter[str]:
        return Counter(code for _, code, _ in self.rejected)

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else 0.0


def race(services: list[Kimia], work: list[list[PurchaseRequest]]) -> Outcomes:
    """Run ``work[t]`` on thread t (service ``t % len(services)``), all threads released at once."""
    out = Outcomes()
    lock = threading.Lock()
    barrier = threading.Barrier(len(work))

    def run(t: int) -> None:
        service = services[t % len(services)]
        accepted: list[tuple[str, dict[str, Any], int]] = []
        rejected: list[tuple[str, str, int]] = []
        errors: list[tuple[str, BaseException]] = []
        latencies: list[float] = []
        barrier.wait()
        for req in work[t]:
            started = time.monotonic()
            try:
                accepted.append((req.idem_key, service.purchase(req), t % len(services)))
            except Rejected as exc:
                rejected.append((req.idem_key, exc.code, t % len(services)))
            except BaseException as exc:  # any other failure is a finding, reported below
                errors.append((req.idem_key, exc))
            latencies.append(time.monotonic() - started)
        with lock:
            out.accepted.extend(accepted)
            out.rejected.extend(rejected)
            out.errors.extend(errors)
            out.latencies_s.extend(latencies)

    threads = [threading.Thread(target=run, args=(t,), name=f"racer-{t}", daemon=True) for t in range(len(work))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, RACE_TIMEOUT_S - (time.monotonic() - started)))
    out.seconds = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), f"the race did not finish within {RACE_TIMEOUT_S} s"
    return out


def operations_by_key(service: Kimia, club: Club, prefix: str) -> dict[str, list[int]]:
    with service.reading() as tx:
        rows = tx.all("SELECT idem_key, id FROM operations WHERE club_id = ? AND idem_key LIKE ?", (club.club_id, prefix + "%"))
    by_key: dict[str, list[int]] = {}
    for key, op_id in rows:
        by_key.setdefault(key, []).append(int(op_id))
    return by_key


def assert_spent_exactly(service: Kimia, club: Club, member_id: int, initial: int, out: Outcomes, prefix: str) -> None:
    """The shared conclusion of every race: ``initial`` accepted, nothing spent twice, books balanced."""
    assert not out.errors, f"{len(out.errors)} submissions failed unexpectedly, e.g. {out.errors[:3]!r}"
    accepted_keys = {key for key, _, _ in out.accepted}
    assert len(out.accepted) - initial == 0, f"double-spent {len(out.accepted) - initial} rials"
    assert out.codes() == Counter({"insufficient_balance": len(out.rejected)}), out.codes()
    assert sum(r["credit_used_rial"] for _, r, _ in out.accepted) == initial
    assert all(r["credit_used_rial"] == 1 and r["payable_rial"] == AMOUNT_RIAL - 1 for _, r, _ in out.accepted)
    # Each accepted purchase saw a different balance: the "balance after" of the receipts are
    # exactly initial-1, ..., 1, 0 (two operations reading the same balance would repeat one).
    assert sorted(r["balance_credit_rial"] for _, r, _ in out.accepted) == list(range(initial))

    balances = member_balances(service, member_id)
    assert balances[f"member:{member_id}/gift_credit"] == 0
    assert all(b >= 0 for b in balances.values()), balances
    with service.reading() as tx:
        lots = tx.all("SELECT remaining FROM lots WHERE owner = ? AND account = ?", (f"member:{member_id}", f"member:{member_id}/gift_credit"))
        spent = tx.one(
            "SELECT COALESCE(SUM(amount), 0) FROM journal WHERE account = ? AND memo = 'credit_spent' AND amount < 0",
            (f"member:{member_id}/gift_credit",),
        )[0]
    assert lots and all(int(r) == 0 for (r,) in lots), lots
    assert -int(spent) == initial

    by_key = operations_by_key(service, club, prefix)
    assert set(by_key) == accepted_keys, "operations rows differ from the acknowledged purchases"
    assert all(len(ids) == 1 for ids in by_key.values())
    assert {ids[0] for ids in by_key.values()} == {r["op_id"] for _, r, _ in out.accepted}
    report = service.check()
    assert report.ok, report.summary()


def figure(name: str, service: Kimia, out: Outcomes, initial: int, attempts: int, accepted: int | None = None, **extra: Any) -> None:
    """Print the grep-able figure; ``accepted`` counts distinct accepted operations (default: answers)."""
    backend = "sqlite" if service.sqlite else "postgresql"
    more = " ".join(f"{k}={v}" for k, v in extra.items())
    accepted = len(out.accepted) if accepted is None else accepted
    print(
        f"\nFIGURE C1 {name} backend={backend} clients={THREADS} attempts={attempts} balance={initial} "
        f"accepted={accepted} refused={len(out.rejected)} double_spent={accepted - initial} "
        f"errors={len(out.errors)} secs={out.seconds:.1f} p99_ms={out.p99_ms():.0f} {more}".rstrip()
    )


def test_sixteen_threads_redeem_one_balance(db_url: str, open_service: Callable[..., Kimia]) -> None:
    service = open_service(db_url, writer_max_batch=MAX_BATCH)
    try:
        club = make_club(service)
        member_id = enroll_funded(service, club, INITIAL_RIAL)
        requests = [redeem_one(club, member_id, f"hot-{n}") for n in range(ATTEMPTS)]
        work = [requests[t::THREADS] for t in range(THREADS)]
        batches_before = service.writer.batches
        out = race([service], work)
        batches = service.writer.batches - batches_before
        figure("hot_balance", service, out, INITIAL_RIAL, ATTEMPTS, batches=batches)
        assert len(out.accepted) + len(out.rejected) + len(out.errors) == ATTEMPTS
        assert not any(r.get("replayed") for _, r, _ in out.accepted)
        assert_spent_exactly(service, club, member_id, INITIAL_RIAL, out, "hot-")
        # Group commit really grouped: far fewer commits than operations.
        assert batches < ATTEMPTS
    finally:
        service.close()


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "replayed"}


def test_same_keys_retried_concurrently(db_url: str, open_service: Callable[..., Kimia]) -> None:
    """Threads t and t+8 submit the same keys in the same order, so each key races itself."""
    initial, keys = 2_000, 5_000
    service = open_service(db_url, writer_max_batch=MAX_BATCH)
    try:
        club = make_club(service)
        member_id = enroll_funded(service, club, initial)
        requests = [redeem_one(club, member_id, f"dup-{n}") for n in range(keys)]
        pairs = THREADS // 2
        work = [requests[t % pairs :: pairs] for t in range(THREADS)]
        out = race([service], work)
        assert not out.errors, out.errors[:3]
        assert len(out.accepted) + len(out.rejected) == 2 * keys

        answers, accepted_keys = check_pairs(out, keys)

        by_key = operations_by_key(service, club, "dup-")
        more_than_one = {k: v for k, v in by_key.items() if len(v) > 1}
        assert not more_than_one, f"keys with several operations: {more_than_one}"
        assert set(by_key) == accepted_keys
        assert len(accepted_keys) == initial, f"{len(accepted_keys) - initial} rials double-spent"
        assert member_credit(service, member_id) == 0
        originals = [r for _, r, _ in out.accepted if not r.get("replayed")]
        assert sorted(r["balance_credit_rial"] for r in originals) == list(range(initial))

        # A late, sequential retry of every key changes nothing and answers the same again.
        journal_before = journal_size(service)
        for key, (first, _) in list(answers.items())[:200]:
            req = redeem_one(club, member_id, key)
            if isinstance(first, str):
                try:
                    service.purchase(req)
                    raise AssertionError(f"{key} was refused, then accepted on a retry with no new credit")
                except Rejected as exc:
                    assert exc.code == first
            else:
                again = service.purchase(req)
                assert again["replayed"] is True and comparable(again) == comparable(first)
        assert journal_size(service) == journal_before
        figure("same_keys", service, out, initial, 2 * keys, accepted=len(accepted_keys), keys=keys,
               answers_accepted=len(out.accepted), replayed=len(out.accepted) - len(originals))
        report = service.check()
        assert report.ok, report.summary()
    finally:
        service.close()


def journal_size(service: Kimia) -> tuple[int, int]:
    with service.reading() as tx:
        legs = int(tx.one("SELECT COUNT(*) FROM journal")[0])
        ops = int(tx.one("SELECT COUNT(*) FROM operations")[0])
    return legs, ops


def check_pairs(out: Outcomes, keys: int) -> tuple[dict[str, list[Any]], set[str]]:
    """Both answers for each key are the same answer (one of them a replay); returns the answers
    (receipts or refusal codes) by key, and the accepted keys."""
    answers: dict[str, list[Any]] = {}
    for key, receipt, _ in out.accepted:
        answers.setdefault(key, []).append(receipt)
    for key, code, _ in out.rejected:
        answers.setdefault(key, []).append(code)
    assert len(answers) == keys and all(len(a) == 2 for a in answers.values())
    accepted_keys = set()
    for key, (first, second) in answers.items():
        if isinstance(first, str) or isinstance(second, str):
            assert first == second == "insufficient_balance", (key, first, second)
            continue
        accepted_keys.add(key)
        # One answer is the original, the other its replay; otherwise they are the same answer.
        assert sorted([bool(first.get("replayed")), bool(second.get("replayed"))]) == [False, True], key
        assert comparable(first) == comparable(second), key
    return answers, accepted_keys


def test_same_keys_through_two_services(db_url: str, open_service: Callable[..., Kimia]) -> None:
    """A client retrying a key against another process while the first attempt is still running:
    threads 2k and 2k+1 submit the same keys, one through each of two services. Nothing may land
    twice, and each submission must get the answer (the original or its replay) or a refusal,
    never a raw database error."""
    initial, keys = 100, 300
    first = open_service(db_url, writer_max_batch=MAX_BATCH)
    second: Kimia | None = None
    try:
        club = make_club(first)
        member_id = enroll_funded(first, club, initial)
        second = open_service(db_url, writer_max_batch=MAX_BATCH, migrations="check")
        requests = [redeem_one(club, member_id, f"both-{n}") for n in range(keys)]
        pairs = THREADS // 2
        work = [requests[t // 2 :: pairs] for t in range(THREADS)]  # thread t uses service t % 2
        out = race([first, second], work)
        by_key = operations_by_key(first, club, "both-")
        errors = Counter(type(exc).__name__ for _, exc in out.errors)
        figure("same_keys_two_services", first, out, initial, 2 * keys, accepted=len(by_key), keys=keys, errors_by_type=dict(errors))
        # Safety first: never two operations for one key, never more spent than held.
        assert all(len(ids) == 1 for ids in by_key.values()), {k: v for k, v in by_key.items() if len(v) > 1}
        assert len(by_key) == initial and member_credit(first, member_id) == 0
        report = first.check()
        assert report.ok, report.summary()
        # Then the contract: every submission got the answer (the original or its replay, or the
        # same refusal twice), never a raw database error, never a refusal for a key that landed.
        answers: dict[str, list[Any]] = {}
        for key, receipt, _ in out.accepted:
            answers.setdefault(key, []).append("accepted")
        for key, code, _ in out.rejected:
            answers.setdefault(key, []).append(code)
        refused_yet_landed = sorted(k for k, a in answers.items() if k in by_key and any(x != "accepted" for x in a))
        assert not out.errors and not refused_yet_landed, (
            f"of {2 * keys} submissions, {len(out.errors)} failed with a database error instead of the answer or its replay "
            f"({dict(errors)}), and {len(refused_yet_landed)} keys that landed were also answered with a refusal "
            f"(e.g. {[(k, answers[k]) for k in refused_yet_landed[:3]]}); first error: {out.errors[0][1] if out.errors else None!r}"
        )
        assert check_pairs(out, keys)[1] == set(by_key)
    finally:
        if second is not None:
            second.close()
        first.close()


def test_two_services_race_for_one_balance(db_url: str, open_service: Callable[..., Kimia]) -> None:
    """Two writers (two services, as two processes would have) redeem from one balance."""
    initial, attempts = 1_000, 3_000
    first = open_service(db_url, writer_max_batch=MAX_BATCH)
    second: Kimia | None = None
    try:
        club = make_club(first)
        member_id = enroll_funded(first, club, initial)
        second = open_service(db_url, writer_max_batch=MAX_BATCH, migrations="check")
        requests = [redeem_one(club, member_id, f"two-{n}") for n in range(attempts)]
        work = [requests[t::THREADS] for t in range(THREADS)]
        out = race([first, second], work)
        per_service = Counter(s for _, _, s in out.accepted)
        figure("two_services", first, out, initial, attempts, accepted_by_service=dict(sorted(per_service.items())),
               batches=(first.writer.batches, second.writer.batches))
        assert_spent_exactly(first, club, member_id, initial, out, "two-")
        # Both writers really took part in the race. (Which one wins the balance is not fair on
        # SQLite: a writer waiting in the busy handler can be starved by one that commits and
        # begins again at once, so the split of the accepted purchases is only printed.)
        assert first.writer.batches > 0 and second.writer.batches > 0
        report = second.check()
        assert report.ok, report.summary()
    finally:
        if second is not None:
            second.close()
        first.close()
