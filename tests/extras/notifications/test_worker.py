"""The delivery worker (issue 17, notifications): fan-out of the outbox to every channel's
targets, leases, retries with exponential back-off, failures kept and retried by hand (audited),
the built-in expiry task, and ``kimia notify run`` / ``status``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from kimia.cli import main
from kimia.errors import KimiaError
from kimia.extras.notifications.worker import Worker, backoff_s, retry_delivery, status_counts
from kimia.plugins import make_plugin_manager
from kimia.plugins.types import Delivery, DeliveryFailed, Event, Services
from kimia.service import Kimia
from tests.service.builders import FakeClock, World, build_club, rows


class Channel:
    """A channel of the tests: targets members with a mobile-ish id; fails as it is told."""

    def __init__(self, name: str = "test", events: tuple[str, ...] = ("operation.committed", "member.enrolled")) -> None:
        self.name = name
        self.events = events
        self.delivered: list[Delivery] = []
        self.fail: Callable[[Delivery], BaseException | None] = lambda d: None

    def targets(self, event: Event, services: Services) -> list[str]:
        if event.event not in self.events or event.member_id is None:
            return []
        return [f"member-{event.member_id}", f"member-{event.member_id}"]  # a repeated target is one delivery

    def deliver(self, delivery: Delivery, services: Services) -> None:
        error = self.fail(delivery)
        if error is not None:
            raise error
        self.delivered.append(delivery)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(db_url: str, clock: FakeClock, open_service: Callable[..., Kimia]) -> Iterator[World]:
    service = open_service(db_url, clock=clock, plugins=make_plugin_manager(load_entry_points=False))
    try:
        yield build_club(service, clock)
    finally:
        service.close()


def deliveries(service: Kimia) -> list[tuple[Any, ...]]:
    return rows(service, "SELECT d.id, e.uid, d.channel, d.target, d.status, d.attempts, d.next_at, d.last_error"
                         " FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id ORDER BY d.id")


def test_every_event_goes_to_every_target_of_every_channel_once(world: World) -> None:
    service = world.service
    a, b = Channel("a"), Channel("b", events=("member.enrolled",))
    worker = Worker(service, channels=[a, b], tasks=[])
    member = world.enroll()
    world.buy(member, 400_000)
    done = worker.run(once=True)
    assert done.dispatched == 3 and done.delivered == 4 and done.failed == 0  # enrolled, and two operations (enrol, purchase)
    assert sorted((d.channel, d.event.event, d.target, d.attempt) for d in a.delivered + b.delivered) == [
        ("a", "member.enrolled", f"member-{member}", 1), ("a", "operation.committed", f"member-{member}", 1),
        ("a", "operation.committed", f"member-{member}", 1), ("b", "member.enrolled", f"member-{member}", 1)]
    op_ids = [op for (op,) in rows(service, "SELECT id FROM operations ORDER BY id")]
    assert {d.event.id for d in a.delivered} == {f"member.enrolled:{world.club_id}:member:{member}",
                                                  *(f"operation.committed:{world.club_id}:op:{op}" for op in op_ids)}
    assert status_counts(service) == {"events": 3, "waiting": 0, "pending": 0, "sent": 4, "failed": 0}
    bought = next(d.event.payload for d in a.delivered if d.event.payload.get("kind") == "purchase")
    assert bought["amount_rial"] == 400_000 and bought["summary"]["points_earned"] == 40  # the receipt's summary, added on reading
    # Nothing left: another pass and another worker deliver nothing again.
    assert Worker(service, channels=[a, b], tasks=[]).run(once=True).delivered == 0
    assert len(a.delivered) + len(b.delivered) == 4


def test_a_failing_delivery_is_retried_with_back_off_then_marked_failed(world: World, clock: FakeClock) -> None:
    service = world.service
    channel = Channel(events=("member.enrolled",))
    channel.fail = lambda d: RuntimeError("gateway said 503")
    worker = Worker(service, channels=[channel], tasks=[], base_s=30, cap_s=100, max_attempts=3)
    world.enroll()
    start = clock.now
    worker.run(once=True)
    (d,) = deliveries(service)
    assert d[4:6] == ("pending", 1) and start + 30 <= d[6] <= start + 36 and d[7] == "RuntimeError: gateway said 503"
    assert worker.run(once=True).delivered == 0  # not due yet
    clock.now = d[6]
    worker.run(once=True)
    (d,) = deliveries(service)
    assert d[4:6] == ("pending", 2) and clock.now + 60 <= d[6] <= clock.now + 72  # doubled
    clock.now = d[6]
    worker.run(once=True)
    (d,) = deliveries(service)
    assert d[4:6] == ("failed", 3)  # max attempts
    assert status_counts(service)["failed"] == 1
    for n, delay in ((1, 30), (2, 60), (3, 100), (4, 100), (9, 100)):
        assert delay <= backoff_s(n, base_s=30, cap_s=100) <= delay * 1.2

def test_a_delivery_that_can_never_go_fails_at_once_and_is_retried_by_hand_with_an_audit_row(world: World, clock: FakeClock) -> None:
    service = world.service
    channel = Channel(events=("member.enrolled",))
    channel.fail = lambda d: DeliveryFailed("no such mobile", retry=False)
    worker = Worker(service, channels=[channel], tasks=[])
    world.enroll()
    worker.run(once=True)
    ((delivery_id, *_, status, attempts, _next, error),) = deliveries(service)
    assert (status, attempts, error) == ("failed", 1, "no such mobile")
    with pytest.raises(KimiaError) as refused:
        retry_delivery(service, world.club_id + 1000, delivery_id, actor="support", reason="fixed")
    assert refused.value.code == "unknown_delivery"  # another club's: not found
    with pytest.raises(KimiaError) as refused:
        retry_delivery(service, world.club_id, delivery_id, actor="support", reason=" ")
    assert refused.value.code == "reason_required"
    channel.fail = lambda d: None
    answer = retry_delivery(service, world.club_id, delivery_id, actor="support", reason="mobile fixed")
    assert answer == {"delivery_id": delivery_id, "status": "pending", "next_at": clock.now}
    with pytest.raises(KimiaError) as refused:
        retry_delivery(service, world.club_id, delivery_id, actor="support", reason="twice")
    assert refused.value.code == "delivery_not_retryable"
    worker.run(once=True)
    assert deliveries(service)[0][4:6] == ("sent", 2) and channel.delivered[0].attempt == 2
    (audit,) = rows(service, "SELECT actor, action, reason, payload FROM audit_log WHERE action = 'notifications.retry'")
    assert audit[:3] == ("support", "notifications.retry", "mobile fixed")
    payload = audit[3] if isinstance(audit[3], dict) else json.loads(audit[3])
    assert payload["delivery_id"] == delivery_id and payload["channel"] == "test"


def test_a_claimed_delivery_is_left_to_its_worker_until_its_lease_runs_out(world: World, clock: FakeClock) -> None:
    service = world.service
    channel = Channel(events=("member.enrolled",))
    first = Worker(service, channels=[channel], tasks=[], lease_s=60)
    world.enroll()
    first.fan_out()
    claimed = first.claim()  # ... and then the worker dies before delivering
    assert len(claimed) == 1
    second = Worker(service, channels=[channel], tasks=[], lease_s=60)
    assert second.claim() == []
    clock.advance(seconds=61)
    assert second.run(once=True).delivered == 1
    assert [d.event.id for d in channel.delivered] == [claimed[0][4].id]


def test_a_channel_whose_targets_fail_leaves_the_event_for_the_next_pass(world: World, caplog: pytest.LogCaptureFixture) -> None:
    service = world.service
    channel = Channel(events=("member.enrolled",))
    broken = True

    def targets(event: Event, services: Services) -> list[str]:
        if broken:
            raise RuntimeError("directory down")
        return Channel.targets(channel, event, services)

    channel.targets = targets  # type: ignore[method-assign]
    world.enroll()
    worker = Worker(service, channels=[channel], tasks=[])
    worker.step()
    assert status_counts(service)["waiting"] == 2 and "directory down" in caplog.text  # enrolled, and the enrolment operation
    broken = False
    assert worker.run(once=True).delivered == 1


def test_kimia_notify_run_and_status(db_url: str, clock: FakeClock, open_service: Callable[..., Kimia], tmp_path: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    now = FakeClock(int(time.time()))  # the command runs on the wall clock
    service = open_service(db_url, clock=now)
    w = build_club(service, now)
    member = w.enroll()
    w.buy(member, 300_000)
    service.close()
    sink = tmp_path / "sink.txt"
    monkeypatch.setenv("KIMIA_NOTIFY_SINK", f"file:{sink}")
    runner = CliRunner()
    result = runner.invoke(main, ["--database", db_url, "notify", "status", "--json"], catch_exceptions=False)
    assert json.loads(result.output) == {"events": 3, "waiting": 3, "pending": 0, "sent": 0, "failed": 0}
    result = runner.invoke(main, ["--database", db_url, "notify", "run", "--once", "--interval-ms", "10"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sent 3" in result.output
    lines = sink.read_text().splitlines()
    assert sorted(line.split()[1] for line in lines) == ["member.enrolled", "operation.committed", "operation.committed"]
    result = runner.invoke(main, ["--database", db_url, "notify", "status"], catch_exceptions=False)
    assert "sent     3" in result.output and "waiting  0" in result.output


def test_kimia_notify_retry_puts_a_failed_delivery_back(world: World, db_url: str) -> None:
    service = world.service
    channel = Channel(events=("member.enrolled",))
    channel.fail = lambda d: DeliveryFailed("unreachable", retry=False)
    world.enroll()
    Worker(service, channels=[channel], tasks=[]).run(once=True)
    ((delivery_id, *_rest),) = deliveries(service)
    result = CliRunner().invoke(main, ["--database", db_url, "notify", "retry", str(delivery_id), "--reason", "number fixed"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and f"delivery {delivery_id} is pending again" in result.output
    assert deliveries(service)[0][4] == "pending"
    assert rows(service, "SELECT reason FROM audit_log WHERE action = 'notifications.retry'") == [("number fixed",)]
