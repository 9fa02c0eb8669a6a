"""C4: ``kill -9`` of a writer process under load loses no acknowledged operation.

A child process runs a ``Kimia`` service and several threads issuing purchases (keys
``r{round}-k{n}``). Each thread writes an ``attempt`` line (with the request) before it submits
and an ``ack`` line (with the operation id) after the answer came back, which the writer gives only
after COMMIT returned. The test kills the child with SIGKILL at a random moment under load, 20
rounds, on SQLite and on PostgreSQL, and after each round checks, with a fresh ``Kimia``:

- every acknowledged key is in ``operations`` exactly once, with the acknowledged operation id;
- nothing landed that was never attempted, and ``kimia check`` holds (SQLite: ``integrity_check``);
- re-submitting every attempted key with the same body (what a client does after a crash) changes
  nothing for the keys already landed, acknowledged or not (``replayed``, no new rows), and lands
  each in-flight key that did not land exactly once.

The figures (acknowledged, landed without an ack, in flight and lost) are printed as
``FIGURE C4 ...`` (run pytest with ``-s``). Power loss is not simulated (see reliability.md §2).
"""

from __future__ import annotations

from collections.abc import Callable

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kimia.app import assemble
from kimia.errors import Rejected
from kimia.service import Admin, Kimia, PurchaseRequest
from kimia.settings import Settings
from kimia.store.engine import sqlite_path

#: These tests are not about cardholder verification (test_verification.py and
#: test_cardholder.py are): the club lets members spend without a PIN, code or card.
OPEN_SPENDING: dict[str, object] = {"verification": {"redeem": [], "bind": []}}

ROUNDS = 20
CHILD_THREADS = 6
LOAD_S = (0.3, 0.8)
MEMBERS_PER_ROUND = 3
GIFT_RIAL = 10**9
#: Bounds on waiting for the child and on the whole test (it must stay well under pytest's 300 s).
READY_TIMEOUT_S = 30.0
TEST_BUDGET_S = 240.0

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

#: The child: one service, CHILD_THREADS threads submitting purchases until it is killed.
CHILD = textwrap.dedent(
    """
    import json, sys, threading
    from kimia.errors import Rejected
    from kimia.app import assemble
    from kimia.service import PurchaseRequest
    from kimia.settings import Settings

    url, config = sys.argv[1], json.loads(sys.argv[2])
    service = assemble(Settings.from_env(database_url=url, writer_max_batch=64))
    lock = threading.Lock()

    def emit(*item):
        line = json.dumps(item) + "\\n"
        with lock:  # one write + flush per line: lines never interleave
            sys.stdout.write(line)
            sys.stdout.flush()

    def request(n):
        return {
            "idem_key": config["prefix"] + str(n),
            "merchant_id": config["merchants"][n % len(config["merchants"])],
            "member": config["members"][(n // 2) % len(config["members"])],
            "amount_rial": 10_000 * (1 + n % 9),
            "redeem_credit_rial": (1 + n % 3) if n % 3 == 0 else 0,
        }

    def run(t):
        n = t
        while True:
            body = request(n)
            emit("attempt", body["idem_key"], body)
            try:
                answer = service.purchase(PurchaseRequest(**body))
            except Rejected as exc:
                emit("rejected", body["idem_key"], exc.code)
            else:
                emit("ack", body["idem_key"], answer["op_id"])
            n += config["threads"]

    for t in range(config["threads"]):
        threading.Thread(target=run, args=(t,), daemon=True).start()
    emit("ready")
    threading.Event().wait()
    """
)


@dataclass
class Round:
    attempts: dict[str, dict[str, Any]] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    raw_lines: int = 0


@dataclass
class Totals:
    rounds: int = 0
    attempted: int = 0
    acked: int = 0
    landed_without_ack: int = 0
    lost_in_flight: int = 0
    replayed_ok: int = 0
    landed_on_retry: int = 0
    load_s: list[float] = field(default_factory=list)


def make_club(service: Kimia) -> tuple[int, list[int]]:
    """An owner, a club, two merchants and a one-rule rule set (a point per 10,000 rials)."""
    admin = Admin(service)
    owner = admin.create_owner("مالک آزمون خرابی")
    club_id = admin.create_club(owner, "باشگاه آزمون خرابی", settings=OPEN_SPENDING)
    merchants = [admin.create_merchant(club_id, f"فروشگاه {i}") for i in (1, 2)]
    admin.publish_rules(club_id, RULES, actor="test")
    return club_id, merchants


def fund_members(service: Kimia, club_id: int, round_no: int) -> list[int]:
    """Fresh members for a round (so no member's lots pile up over the rounds), each with plenty of gift credit."""
    members = []
    for i in range(MEMBERS_PER_ROUND):
        n = round_no * MEMBERS_PER_ROUND + i
        member_id = int(service.enroll(club_id, idem_key=f"enrol-{n}", identifiers=[("mobile", f"0935{n:07d}")])["member_id"])
        service.charge(club_id, member_id, actor="test", reason="test-setup", idem_key=f"gift-{n}", kind="gift_credit", amount_rial=GIFT_RIAL,
                       source={"type": "club", "id": club_id})
        members.append(member_id)
    return members


def read_child(stream: Any, state: Round) -> None:
    """Collect the child's complete lines (a line cut by the kill is ignored)."""
    for raw in stream:
        if not raw.endswith(b"\n"):
            break
        state.raw_lines += 1
        item = json.loads(raw)
        if item[0] == "ready":
            state.ready.set()
        elif item[0] == "attempt":
            state.attempts[item[1]] = item[2]
        elif item[0] == "ack":
            state.acks[item[1]] = int(item[2])
        elif item[0] == "rejected":
            state.rejected[item[1]] = item[2]


def run_child(script: Path, url: str, config: dict[str, Any], load_s: float, stderr_path: Path) -> Round:
    state = Round()
    with open(stderr_path, "ab") as stderr:
        proc = subprocess.Popen([sys.executable, str(script), url, json.dumps(config)], stdout=subprocess.PIPE, stderr=stderr)
    assert proc.stdout is not None
    reader = threading.Thread(target=read_child, args=(proc.stdout, state), daemon=True)
    reader.start()
    try:
        if not state.ready.wait(READY_TIMEOUT_S):
            raise AssertionError(f"the writer child did not start within {READY_TIMEOUT_S} s: {stderr_path.read_text()[-2000:]}")
        time.sleep(load_s)
        assert proc.poll() is None, f"the writer child died on its own: {stderr_path.read_text()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)  # reaped: no zombie left behind
        reader.join(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return state


def wait_for_sessions_to_end(url: str) -> None:
    """PostgreSQL: wait until the killed child's backend is gone, so whatever it was committing
    has either committed or rolled back before we look (bounded)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    deadline = time.monotonic() + 20
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            if others is not None and others[0] == 0:
                return
            assert time.monotonic() < deadline, "the killed writer's PostgreSQL session did not end"
            time.sleep(0.02)


def operations_by_key(service: Kimia, club_id: int, prefix: str) -> dict[str, list[int]]:
    with service.reading() as tx:
        rows = tx.all("SELECT idem_key, id FROM operations WHERE club_id = ? AND idem_key LIKE ?", (club_id, prefix + "%"))
    found: dict[str, list[int]] = {}
    for key, op_id in rows:
        found.setdefault(key, []).append(int(op_id))
    return found


def fingerprint(service: Kimia) -> dict[str, Any]:
    """Everything a replay must leave alone: row counts of the value tables and every balance."""
    with service.reading() as tx:
        counts = {t: int(tx.one(f"SELECT COUNT(*) FROM {t}")[0]) for t in ("operations", "journal", "lots", "split_legs", "member_days")}
        balances = sorted((int(c), a, int(b)) for c, a, b in tx.all("SELECT club_id, account, balance FROM balances"))
        lots = int(tx.one("SELECT COALESCE(SUM(remaining), 0) FROM lots")[0])
    return {"counts": counts, "balances": balances, "lots_remaining": lots}


def resubmit(service: Kimia, bodies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Submit each body again (8 threads, so group commit keeps this fast)."""

    def one(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return body["idem_key"], service.purchase(PurchaseRequest(**body))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(one, bodies))


def verify_round(url: str, club_id: int, prefix: str, state: Round, totals: Totals) -> Kimia:
    """The checks after a kill; returns the (open) service used, for the next round's setup."""
    if not url.startswith("sqlite"):
        wait_for_sessions_to_end(url)
    else:
        path = sqlite_path(url)
        assert path is not None
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    service = assemble(Settings.from_env(database_url=url, migrations="upgrade", writer_max_batch=64))
    assert not state.rejected, f"purchases refused under load: {dict(list(state.rejected.items())[:5])}"
    assert set(state.acks) <= set(state.attempts)

    landed = operations_by_key(service, club_id, prefix)
    lost = {k: state.acks[k] for k in state.acks if k not in landed}
    assert not lost, f"{len(lost)} acknowledged operations are missing after the kill: {list(lost)[:10]}"
    for key, op_id in state.acks.items():
        assert landed[key] == [op_id], f"{key}: acknowledged as operation {op_id}, found {landed[key]}"
    assert set(landed) <= set(state.attempts), f"operations nobody attempted: {set(landed) - set(state.attempts)}"
    duplicates = {k: v for k, v in landed.items() if len(v) > 1}
    assert not duplicates, duplicates
    report = service.check()
    assert report.ok, report.summary()

    without_ack = sorted(set(landed) - set(state.acks))
    in_flight_lost = sorted(set(state.attempts) - set(landed))

    # A client retries everything it sent, with the same bodies: the landed keys replay and change nothing.
    before = fingerprint(service)
    landed_bodies = [state.attempts[k] for k in sorted(landed)]
    answers = resubmit(service, landed_bodies)
    for key, answer in answers.items():
        assert answer.get("replayed") is True, f"{key} landed before, yet the retry was not a replay"
        assert answer["op_id"] == landed[key][0], key
    assert fingerprint(service) == before, "replaying landed keys changed the books"

    # The in-flight keys that did not land now land, exactly once.
    retried = resubmit(service, [state.attempts[k] for k in in_flight_lost])
    assert all(not a.get("replayed") for a in retried.values()), "a key that had not landed was answered as a replay"
    again = resubmit(service, [state.attempts[k] for k in in_flight_lost])
    assert all(a.get("replayed") is True and a["op_id"] == retried[k]["op_id"] for k, a in again.items())
    final = operations_by_key(service, club_id, prefix)
    assert set(final) == set(state.attempts) and all(len(v) == 1 for v in final.values())
    report = service.check()
    assert report.ok, report.summary()

    totals.rounds += 1
    totals.attempted += len(state.attempts)
    totals.acked += len(state.acks)
    totals.landed_without_ack += len(without_ack)
    totals.lost_in_flight += len(in_flight_lost)
    totals.replayed_ok += len(answers)
    totals.landed_on_retry += len(retried)
    return service


def test_kill_9_under_load_loses_no_acknowledged_operation(db_url: str, tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    seed = int(os.environ.get("KIMIA_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    print(f"\nSEED={seed} (KIMIA_CRASH_SEED) backend={backend}")
    script = tmp_path / "crash_writer.py"
    script.write_text(CHILD, encoding="utf-8")
    stderr_path = tmp_path / "child.stderr"
    started = time.monotonic()
    totals = Totals()

    service = open_service(db_url, writer_max_batch=64)
    try:
        club_id, merchants = make_club(service)
        for round_no in range(ROUNDS):
            assert time.monotonic() - started < TEST_BUDGET_S, f"over the time budget after {round_no} rounds"
            members = fund_members(service, club_id, round_no)
            service.close()
            prefix = f"r{round_no}-k"
            config = {"prefix": prefix, "merchants": merchants, "members": members, "threads": CHILD_THREADS}
            load_s = rng.uniform(*LOAD_S)
            totals.load_s.append(load_s)
            state = run_child(script, db_url, config, load_s, stderr_path)
            service = verify_round(db_url, club_id, prefix, state, totals)
    finally:
        service.close()

    seconds = time.monotonic() - started
    print(
        f"FIGURE C4 backend={backend} rounds={totals.rounds} attempted={totals.attempted} acked={totals.acked} lost_acked=0 "
        f"committed_unacked={totals.landed_without_ack} in_flight_not_landed={totals.lost_in_flight} "
        f"retried_ok={totals.replayed_ok + totals.landed_on_retry} broken_invariants=0 secs={seconds:.1f} seed={seed}"
    )
    assert totals.rounds == ROUNDS
    assert totals.acked > 0, "the child never got an operation acknowledged: the kill tested nothing"
