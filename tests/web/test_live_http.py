"""The JSON API over real HTTP: gunicorn in its own process (tests/web/live.py), many clients at
once on threads, on SQLite and PostgreSQL.

- Concurrent redemptions from one balance never spend more than it holds, and exactly what was
  acknowledged.
- One Idempotency-Key sent by several clients at once is one operation with one answer.
- A server killed with SIGKILL mid-load loses no acknowledged purchase, and the clients' retries
  with the same keys make each purchase exactly once.

Short by default (seconds per test); ``KIMIA_LIVE_LONG=1`` runs more clients for longer.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kimia.app import assemble
from kimia.service.api import Kimia
from kimia.settings import Settings
from service.builders import member_balances, rows, scalar

from .live import LiveWorld, Server, call, prepare, purchase_body

LONG = os.environ.get("KIMIA_LIVE_LONG", "") not in ("", "0")
#: Purchases each of the crash test's 8 clients makes; the server is killed a third of the way in.
CRASH_PURCHASES = 100 if LONG else 15
CLIENTS = 16
PURCHASES = "/api/v1/purchases"


def run_clients(n: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` on ``n`` threads started together; their results in order (an exception re-raised)."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    gate = threading.Barrier(n)

    def one(i: int) -> None:
        try:
            gate.wait()
            results[i] = work(i)
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def service_of() -> Iterator[Callable[[str], Kimia]]:
    opened: list[Kimia] = []

    def open_(url: str) -> Kimia:
        opened.append(assemble(Settings.from_env(database_url=url)))
        return opened[-1]

    yield open_
    for service in opened:
        service.close()


def credit_of(service: Kimia, member: int) -> int:
    return sum(v for k, v in member_balances(service, member).items() if "credit" in k)


def test_concurrent_redemptions_from_one_balance_never_double_spend(db_url: str, tmp_path: Path,
                                                                      service_of: Callable[[str], Kimia]) -> None:
    world = prepare(db_url, credit_rial=1_000_000)
    member = world.members[0]
    per_client = 4 if LONG else 2
    # 16 clients x 2 tries x 150,000 rial = 4.8 M asked of 1 M: most must be refused.
    with Server(db_url, tmp_path / "gunicorn.log") as server:
        def redeem(i: int) -> list[tuple[int, Any]]:
            body = purchase_body(world, member, 400_000, redeem_credit_rial=150_000)
            return [call(server.port, "POST", PURCHASES, key=world.key, body=body, idem=f"redeem-{i}-{j}") for j in range(per_client)]

        answers = [a for client in run_clients(CLIENTS, redeem) for a in client]
    statuses = {status for status, _ in answers}
    assert statuses <= {201, 422}, answers
    refused = [a for s, a in answers if s == 422]
    assert all(a["error"]["code"] == "insufficient_balance" for a in refused), refused
    spent = sum(a["credit_used_rial"] for s, a in answers if s == 201)
    assert 0 < spent <= world.credit_rial
    service = service_of(db_url)
    left = credit_of(service, member)
    assert left >= 0 and spent == world.credit_rial - left, (spent, left)
    acked = sum(1 for s, _ in answers if s == 201)
    assert scalar(service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase' AND status = 'done' AND member_id = ?", (member,)) == acked
    assert service.check().ok


def test_one_idempotency_key_from_eight_clients_at_once_is_one_operation(db_url: str, tmp_path: Path,
                                                                          service_of: Callable[[str], Kimia]) -> None:
    world = prepare(db_url)
    body = purchase_body(world, world.members[0], 750_000)
    with Server(db_url, tmp_path / "gunicorn.log") as server:
        answers = run_clients(8, lambda i: call(server.port, "POST", PURCHASES, key=world.key, body=body, idem="same-key"))
    assert {status for status, _ in answers} == {201}, answers
    first = answers[0][1]
    for _, answer in answers:
        assert {k: v for k, v in answer.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}
    assert sum(1 for _, a in answers if not a["replayed"]) == 1
    service = service_of(db_url)
    assert scalar(service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'") == 1
    assert scalar(service, "SELECT COUNT(*) FROM operations WHERE idem_key = ?", (f"api:{world.key_id}:same-key",)) == 1
    assert service.check().ok


class CrashClient:
    """A client making ``n`` purchases with its own keys; a purchase that gets no answer (the
    server is gone) is retried with the same key until it is answered."""

    def __init__(self, world: LiveWorld, index: int, port: int, n: int) -> None:
        self.world, self.index, self.port, self.n = world, index, port, n
        self.acked: dict[str, int] = {}  # key -> op_id, answered 201
        self.unanswered: set[str] = set()  # keys that went without an answer at least once
        self.acked_before_kill: set[str] = set()

    def run(self, killed: threading.Event, deadline: float) -> None:
        member = self.world.members[self.index % len(self.world.members)]
        for j in range(self.n):
            key = f"crash-{self.index}-{j}"
            body = purchase_body(self.world, member, 100_000 + 1_000 * j)
            while True:
                try:
                    status, answer = call(self.port, "POST", PURCHASES, key=self.world.key, body=body, idem=key, timeout_s=20)
                except OSError:
                    self.unanswered.add(key)
                    assert time.monotonic() < deadline, f"{key}: no answer before the deadline"
                    time.sleep(0.05)
                    continue
                assert status == 201, (key, status, answer)
                self.acked[key] = answer["op_id"]
                if not killed.is_set():
                    self.acked_before_kill.add(key)
                break


def test_a_server_killed_mid_load_loses_no_acknowledged_purchase(db_url: str, tmp_path: Path,
                                                                 service_of: Callable[[str], Kimia]) -> None:
    world = prepare(db_url, members=8)
    server = Server(db_url, tmp_path / "gunicorn.log").start()
    clients = [CrashClient(world, i, server.port, CRASH_PURCHASES) for i in range(8)]
    killed = threading.Event()
    deadline = time.monotonic() + 120
    try:
        threads = [threading.Thread(target=c.run, args=(killed, deadline)) for c in clients]
        for t in threads:
            t.start()
        while sum(len(c.acked) for c in clients) < len(clients) * CRASH_PURCHASES // 3:
            time.sleep(0.005)
        # Marked first: an answer read after this may have been acknowledged after the kill, never before.
        before = {k for c in clients for k in c.acked_before_kill}
        killed.set()
        server.kill9()
        time.sleep(0.3)  # the clients find the server gone
        server.start()  # the same port: the clients retry against it
        for t in threads:
            t.join(timeout=150)
        assert not any(t.is_alive() for t in threads)
    finally:
        server.stop()
    acked = {k: op for c in clients for k, op in c.acked.items()}
    assert before and any(c.unanswered for c in clients)  # the kill came mid-load: some purchases went unanswered
    assert len(acked) == 8 * CRASH_PURCHASES  # every client got every purchase answered in the end
    service = service_of(db_url)
    stored = {str(k).rsplit(":", 1)[1]: int(op) for k, op in rows(service, "SELECT idem_key, id FROM operations WHERE kind = 'purchase'")}
    assert before <= set(stored), sorted(before - set(stored))[:5]  # 0 acknowledged before the kill lost
    assert stored == acked  # each key posted once: one operation each, the one its answer named
    assert service.check().ok


def test_kimia_web_gunicorn_serves_and_stops_gracefully(db_url: str, tmp_path: Path, service_of: Callable[[str], Kimia]) -> None:
    world = prepare(db_url)
    kimia = str(Path(sys.executable).with_name("kimia"))
    access = tmp_path / "access.log"
    server = Server(db_url, tmp_path / "gunicorn.log", env={"KIMIA_WEB_ACCESS_LOG": str(access)},
                    argv=[kimia, "--database", db_url, "web", "gunicorn", "--bind", "127.0.0.1:{port}", "--threads", "4"])
    server.start()
    try:
        status, answer = call(server.port, "POST", PURCHASES, key=world.key, body=purchase_body(world, world.members[0], 500_000), idem="cli-1")
        assert status == 201 and answer["kind"] == "purchase"
        assert call(server.port, "GET", "/api/v1/api-keys?cursor=secret-cursor", key=world.key)[0] == 403
    finally:
        assert server.proc is not None
        server.stop()
    assert server.proc.returncode == 0  # SIGTERM: a graceful stop, the worker's service closed
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Worker exiting" in log and "Traceback" not in log
    lines = access.read_text()
    assert '"POST /api/v1/purchases" 201' in lines and '"GET /api/v1/api-keys" 403' in lines
    assert "secret-cursor" not in lines and world.key not in lines and "500000" not in lines  # no query strings, keys or bodies
    service = service_of(db_url)
    assert scalar(service, "SELECT COUNT(*) FROM operations WHERE idem_key = ?", (f"api:{world.key_id}:cli-1",)) == 1
