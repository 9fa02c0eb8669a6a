"""The delivery worker: it reads the outbox (kimia.service.outbox) and delivers every event to every
target of every notification channel, at least once, with retries and exponential back-off.

One pass (:meth:`Worker.step`):

1. **fan-out**: the oldest events not yet dispatched (a bounded batch, read through the partial
   index ``ix_outbox_events_waiting``) are asked of each channel (``targets(event, services)``,
   outside any write); their delivery rows (``pending``, unique per event, channel and target,
   ``ON CONFLICT DO NOTHING``) and ``dispatched_at`` are written in one write transaction. Two
   workers fanning out the same event make the same rows once;
2. **claim**: deliveries due (``pending``, ``next_at <= now``) whose lease has run out get a lease
   (``lease_until = now + lease``) in one write: another worker leaves them alone meanwhile;
3. **deliver**, outside any transaction, a few at a time (``concurrency``):
   ``channel.deliver(Delivery, services)``; the outcomes are written as they come, a write per
   ``RECORD_EVERY`` outcomes or ``RECORD_S`` seconds: ``sent`` (``sent_at``), or ``attempts + 1`` and ``next_at = now +
   min(cap, base · 2^(attempts-1))`` with up to 20 % jitter and ``last_error`` (short), or
   ``failed`` after ``max_attempts`` or a ``DeliveryFailed(retry=False)``.

A worker killed between delivering and writing the outcome leaves the lease to run out: the
delivery is made again, with the same event id (at least once; receivers drop repeats by it).
Failed deliveries stay in the table; :func:`retry_delivery` puts one back (the panel's button).

Periodic tasks (``kimia_register_periodic_tasks``) run every ``every_s`` seconds of the worker's
clock; the built-in :func:`expiring_task` warns of value about to expire (``value.expiring``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import kimia._core as core
from kimia.errors import reject
from kimia.extras.notifications.channels import SinkChannel
from kimia.plugins.types import Delivery, DeliveryFailed, Event, NotificationChannel, PeriodicTask
from kimia.service import audit, outbox
from kimia.service.sql import Tx

if TYPE_CHECKING:
    from kimia.service.api import Kimia

log = logging.getLogger(__name__)

#: Events fanned out per pass, deliveries claimed per pass.
FANOUT_BATCH = 200
CLAIM_BATCH = 100
#: How long a claimed delivery is left to its worker before another may take it (seconds).
LEASE_S = 60
#: Back-off: the first retry after ``BASE_S``, doubling, at most ``CAP_S`` apart.
BASE_S = 30
CAP_S = 3600
#: Deliveries made at once by one worker, and how often their outcomes are written (outcomes, s).
CONCURRENCY = 4
RECORD_EVERY = 20
RECORD_S = 0.5
#: The longest ``last_error`` kept (a channel's reason, never a secret: channels say what failed).
MAX_ERROR = 300
#: The club setting with the expiry warning window in days (``clubs.settings``), and its default.
WARNING_SETTING = "expiry_warning_days"
DEFAULT_WARNING_DAYS = 7
#: Lots looked at per write of the expiry task (soonest first), and pages per club and run.
EXPIRY_SCAN = 1000
EXPIRY_PAGES = 100


def backoff_s(attempts: int, *, base_s: int = BASE_S, cap_s: int = CAP_S, rng: random.Random | None = None) -> int:
    """Seconds before the next attempt after ``attempts`` failed ones: ``min(cap, base · 2^(attempts-1))``
    plus up to 20 % jitter (so deliveries failing together do not retry together)."""
    delay = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return int(delay + int((rng or random).random() * delay * 0.2))


def _event_of(row: Sequence[Any]) -> Event:
    uid, name, club_id, member_id, payload, at = row
    return Event(str(uid), str(name), int(club_id), None if member_id is None else int(member_id),
                 payload if isinstance(payload, dict) else json.loads(payload), int(at))


def events_of(tx: Tx, rows: Sequence[Sequence[Any]]) -> list[Event]:
    """Events from outbox rows (uid, event, club, member, payload, created_at), each
    ``operation.committed`` with its operation's receipt summary (kimia.service.outbox.with_summary)."""
    events = [_event_of(row) for row in rows]
    outbox.with_summary(tx, [(e.event, cast(dict[str, Any], e.payload)) for e in events])
    return events


def _short(error: BaseException) -> str:
    text = error.reason if isinstance(error, DeliveryFailed) else f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR]


@dataclass
class Pass:
    """What one pass did."""

    dispatched: int = 0
    created: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    tasks: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.dispatched or self.delivered or self.retried or self.failed)


class Worker:
    """Delivers the outbox of one service (``Kimia``) through its channels (see the module)."""

    def __init__(self, service: Kimia, *, channels: Sequence[NotificationChannel] | None = None,
                 tasks: Sequence[PeriodicTask] | None = None, lease_s: int = LEASE_S, base_s: int = BASE_S, cap_s: int = CAP_S,
                 max_attempts: int | None = None, fanout_batch: int = FANOUT_BATCH, claim_batch: int = CLAIM_BATCH,
                 concurrency: int = CONCURRENCY) -> None:
        self.service = service
        self.services = service.plugin_services
        hook = service.plugins.hook
        if channels is None:
            channels = [c for found in hook.kimia_register_notification_channels() for c in found]
            if service.settings.notify_sink:  # the development channel (KIMIA_NOTIFY_SINK)
                channels = [*channels, SinkChannel(service.settings.notify_sink)]
        self.channels = list(channels)
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"two notification channels share a name: {names}")
        self.by_name = {c.name: c for c in self.channels}
        #: The built-in expiry warnings, then the plugins' tasks.
        self.tasks = list(tasks if tasks is not None
                          else [expiring_task(service), *(t for found in hook.kimia_register_periodic_tasks() for t in found)])
        self.lease_s, self.base_s, self.cap_s = lease_s, base_s, cap_s
        self.max_attempts = max_attempts if max_attempts is not None else service.settings.notify_max_attempts
        self.fanout_batch, self.claim_batch, self.concurrency = fanout_batch, claim_batch, concurrency
        self._last_run: dict[str, int] = {}
        self._rng = random.Random()

    # --- one pass -----------------------------------------------------------------------------

    def step(self) -> Pass:
        """One pass: fan out, claim, deliver, and the periodic tasks that are due."""
        done = Pass()
        done.tasks = self.run_tasks()
        done.dispatched, done.created = self.fan_out()
        claimed = self.claim()
        if claimed:
            done.delivered, done.retried, done.failed = self.deliver(claimed)
        return done

    def fan_out(self) -> tuple[int, int]:
        """(events dispatched, deliveries made: a delivery another worker made already counts) of
        the oldest waiting events."""
        with self.service.reading() as tx:
            rows = tx.all("SELECT id, uid, event, club_id, member_id, payload, created_at FROM outbox_events"
                          " WHERE dispatched_at IS NULL ORDER BY id LIMIT ?", (self.fanout_batch,))
            events = events_of(tx, [row[1:] for row in rows])
        if not rows:
            return 0, 0
        now = self.service.clock()
        ready: list[int] = []
        deliveries: list[tuple[Any, ...]] = []
        for row, event in zip(rows, events):
            try:
                targets = [(c.name, t) for c in self.channels for t in dict.fromkeys(c.targets(event, self.services))]
            except Exception:
                log.exception("a channel's targets failed for event %s; it is tried again on the next pass", event.id)
                continue
            ready.append(int(row[0]))
            deliveries.extend((int(row[0]), event.club_id, name, str(target)[:200], "pending", 0, now, 0, now) for name, target in targets)

        def write(tx: Tx) -> None:
            if deliveries:
                tx.insert_rows("outbox_deliveries", ("event_id", "club_id", "channel", "target", "status", "attempts", "next_at",
                                                     "lease_until", "created_at"), deliveries,
                               " ON CONFLICT (event_id, channel, target) DO NOTHING")
            in_ids, params = tx.among("id", ready)
            tx.execute(f"UPDATE outbox_events SET dispatched_at = ? WHERE {in_ids} AND dispatched_at IS NULL", (now, *params))

        if not ready:
            return 0, 0
        self.service.write(write)
        return len(ready), len(deliveries)

    def claim(self) -> list[tuple[Any, ...]]:
        """Lease the due deliveries (a bounded batch): (id, channel, target, attempts, Event) each."""
        now = self.service.clock()

        def write(tx: Tx) -> list[tuple[Any, ...]]:
            ids = [int(r[0]) for r in tx.all(
                tx.lock("SELECT id FROM outbox_deliveries WHERE status = 'pending' AND next_at <= ? AND lease_until <= ?"
                        " ORDER BY next_at, id LIMIT ?") + ("" if tx.sqlite else " SKIP LOCKED"),
                (now, now, self.claim_batch))]
            if not ids:
                return []
            by_id, id_params = tx.among("id", ids)
            tx.execute(f"UPDATE outbox_deliveries SET lease_until = ? WHERE {by_id}", (now + self.lease_s, *id_params))
            in_ids, params = tx.among("d.id", ids)
            found = tx.all(
                "SELECT d.id, d.channel, d.target, d.attempts, e.uid, e.event, e.club_id, e.member_id, e.payload, e.created_at"
                f" FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id WHERE {in_ids} ORDER BY d.next_at, d.id", params)
            return [(*r[:4], event) for r, event in zip(found, events_of(tx, [r[4:] for r in found]))]

        return list(self.service.write(write))

    def deliver_one(self, claimed: tuple[Any, ...]) -> tuple[int, str, int, str | None]:
        """Deliver one claimed delivery (outside any transaction): its outcome (id, status,
        next_at, error)."""
        delivery_id, channel_name, target, attempts, event = claimed
        attempt = int(attempts) + 1
        channel = self.by_name.get(channel_name)
        try:
            if channel is None:
                raise DeliveryFailed(f"no channel {channel_name!r} in this worker")
            channel.deliver(Delivery(event, channel_name, target, attempt), self.services)
        except Exception as exc:
            retry = not (isinstance(exc, DeliveryFailed) and not exc.retry) and attempt < self.max_attempts
            if not isinstance(exc, DeliveryFailed):
                log.warning("delivery %s (%s) failed: %s", delivery_id, channel_name, _short(exc))
            next_at = self.service.clock() + backoff_s(attempt, base_s=self.base_s, cap_s=self.cap_s, rng=self._rng)
            return (int(delivery_id), "pending" if retry else "failed", next_at, _short(exc))
        return (int(delivery_id), "sent", 0, None)

    def record(self, outcomes: list[tuple[int, str, int, str | None]]) -> None:
        """Write outcomes in one write: sent, or the next attempt's time and the error, or failed."""
        if not outcomes:
            return
        now = self.service.clock()

        def write(tx: Tx) -> None:
            sent = [(now, i) for i, status, _, _ in outcomes if status == "sent"]
            if sent:
                tx.executemany("UPDATE outbox_deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1, lease_until = 0,"
                               " last_error = NULL WHERE id = ? AND status = 'pending'", sent)
            others = [(status, next_at, error, i) for i, status, next_at, error in outcomes if status != "sent"]
            if others:
                tx.executemany("UPDATE outbox_deliveries SET status = ?, next_at = ?, last_error = ?, attempts = attempts + 1,"
                               " lease_until = 0 WHERE id = ? AND status = 'pending'", others)

        self.service.write(write)

    def deliver(self, claimed: list[tuple[Any, ...]]) -> tuple[int, int, int]:
        """Deliver claimed deliveries, ``concurrency`` at a time (a channel may wait on a gateway),
        writing their outcomes as they come, every ``RECORD_EVERY`` outcomes or ``RECORD_S``
        seconds, so a worker killed mid-batch repeats little: (sent, to retry, failed)."""
        done: list[tuple[int, str, int, str | None]] = []
        pending: list[tuple[int, str, int, str | None]] = []
        last = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="kimia-deliver") as pool:
            for outcome in pool.map(self.deliver_one, claimed):
                pending.append(outcome)
                if len(pending) >= RECORD_EVERY or time.monotonic() - last >= RECORD_S:
                    self.record(pending)
                    done.extend(pending)
                    pending, last = [], time.monotonic()
        self.record(pending)
        done.extend(pending)
        sent_n = sum(1 for o in done if o[1] == "sent")
        failed_n = sum(1 for o in done if o[1] == "failed")
        return sent_n, len(done) - sent_n - failed_n, failed_n

    def run_tasks(self, *, force: bool = False) -> int:
        """Run the periodic tasks that are due (each every ``every_s`` s; all at a worker's start)."""
        ran = 0
        for task in self.tasks:
            now = self.service.clock()
            last = self._last_run.get(task.name)
            if not force and last is not None and now - last < task.every_s:
                continue
            self._last_run[task.name] = now
            try:
                task.run(self.services, now)
            except Exception:
                log.exception("periodic task %s failed", task.name)
            ran += 1
        return ran

    # --- the loop -----------------------------------------------------------------------------

    def run(self, *, once: bool = False, interval_s: float = 1.0, stop: threading.Event | None = None) -> Pass:
        """Passes until ``stop`` is set (or one pass with ``once``; then until nothing is left
        to do now). Busy passes follow each other at once; an idle one waits ``interval_s``."""
        stop = stop or threading.Event()
        total = Pass()
        while not stop.is_set():
            done = self.step()
            for name in ("dispatched", "created", "delivered", "retried", "failed", "tasks"):
                setattr(total, name, getattr(total, name) + getattr(done, name))
            if once and not done.busy:
                break
            if not done.busy:
                stop.wait(interval_s)
        return total


def status_counts(service: Kimia) -> dict[str, int]:
    """Deliveries per status, and the events still waiting to be fanned out (``waiting``)."""
    with service.reading() as tx:
        counts = {str(s): int(n) for s, n in tx.all("SELECT status, COUNT(*) FROM outbox_deliveries GROUP BY status")}
        waiting = int(tx.one("SELECT COUNT(*) FROM outbox_events WHERE dispatched_at IS NULL")[0])
        events = int(tx.one("SELECT COUNT(*) FROM outbox_events")[0])
    return {"events": events, "waiting": waiting, **{s: counts.get(s, 0) for s in ("pending", "sent", "failed")}}


def retry_delivery(service: Kimia, club_id: int | None, delivery_id: int, *, actor: str, reason: str) -> dict[str, Any]:
    """Put a failed delivery back (``pending``, due now, attempts kept), with an audit row
    (``notifications.retry``). ``club_id`` is the caller's club (None: the platform): another
    club's delivery is ``unknown_delivery``; one not failed is ``delivery_not_retryable``."""
    if not reason or not reason.strip():
        raise reject("reason_required", path="reason")

    def work(tx: Tx) -> dict[str, Any]:
        row = tx.one(tx.lock("SELECT club_id, status, channel, target, event_id FROM outbox_deliveries WHERE id = ?"), (delivery_id,))
        if row is None or (club_id is not None and int(row[0]) != club_id):
            raise reject("unknown_delivery", path="delivery_id")
        if row[1] != "failed":
            raise reject("delivery_not_retryable", path="delivery_id")
        now = service.clock()
        tx.execute("UPDATE outbox_deliveries SET status = 'pending', next_at = ?, lease_until = 0 WHERE id = ?", (now, delivery_id))
        payload = {"delivery_id": delivery_id, "channel": row[2], "event_id": int(row[4])}
        audit.append(tx, club_id=int(row[0]), actor=actor, action="notifications.retry", reason=reason.strip(), payload=payload, at=now)
        return {"delivery_id": delivery_id, "status": "pending", "next_at": now}

    result: dict[str, Any] = service.write(work)
    return result


# --- the built-in periodic task: value about to expire ---------------------------------------------


Lot = tuple[str, int, str, int, int]


def expiring_lots(tx: Tx, club_id: int, now: int, window_s: int, limit: int = EXPIRY_SCAN,
                  after: tuple[int, str] | None = None) -> tuple[list[Lot], tuple[int, str] | None]:
    """(lot id, member id, kind, remaining, expires_at) of a club's members' lots expiring within
    ``window_s``, soonest first, ``limit`` lots looked at from ``after`` (a page's last (expires_at,
    id)), through ``ix_lots_expiry`` (club, expires_at); and where the next page starts (None: no
    more). Shared wallets' lots and lottery entries are left out."""
    since = ""
    params: tuple[Any, ...] = ()
    if after is not None:
        since, params = " AND (expires_at > ? OR (expires_at = ? AND id > ?))", (after[0], after[0], after[1])
    rows = tx.all("SELECT id, owner, account, remaining, expires_at FROM lots WHERE club_id = ? AND expires_at > ? AND expires_at <= ?"
                  f" AND remaining > 0{since} ORDER BY expires_at, id LIMIT ?", (club_id, now, now + window_s, *params, limit))
    out = []
    for (lot_id, owner, _account, remaining, expires), kind in zip(rows, core.kinds_of([str(r[2]) for r in rows])):
        if not str(owner).startswith("member:") or kind == "lottery_entries":
            continue
        out.append((str(lot_id), int(str(owner)[7:]), str(kind), int(remaining), int(expires)))
    return out, ((int(rows[-1][4]), str(rows[-1][0])) if len(rows) == limit else None)


def warn_expiring(service: Kimia, now: int, *, page: int = EXPIRY_SCAN, max_pages: int = EXPIRY_PAGES) -> int:
    """For every root club, a page of its lots at a time (one write each, so a club with many lots
    never holds the writer long): ``value.expiring`` (key ``lot:<id>``: once per lot) for its
    members' lots expiring within its warning window (``expiry_warning_days`` in the club's
    settings, default 7); once a page committed, ``kimia_value_expiring`` for each lot warned of
    for the first time. Nothing when notifications are off (the outbox is what remembers a lot
    was warned of). Returns the lots warned of."""
    if not service.notifications:
        return 0
    with service.reading() as tx:
        clubs = [(int(i), s) for i, s in tx.all("SELECT id, settings FROM clubs WHERE parent_id IS NULL ORDER BY id")]
    warned = 0
    for club_id, settings in clubs:
        config = settings if isinstance(settings, dict) else json.loads(settings or "{}")
        days = config.get(WARNING_SETTING, DEFAULT_WARNING_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
            continue

        def work(tx: Tx, club_id: int, days: int, after: tuple[int, str] | None) -> tuple[list[Lot], tuple[int, str] | None]:
            new = []
            lots, following = expiring_lots(tx, club_id, now, days * 86_400, page, after)
            for lot in lots:
                lot_id, member_id, kind, remaining, expires = lot
                tx.execute("INSERT INTO outbox_events (uid, event, club_id, member_id, payload, created_at) VALUES (?,?,?,?,?,?)"
                           " ON CONFLICT (uid) DO NOTHING",
                           outbox.row(event="value.expiring", club_id=club_id, key=f"lot:{lot_id}", member_id=member_id, at=now,
                                      payload={"lot_id": lot_id, "member_id": member_id, "kind": kind, "amount": remaining,
                                               "expires_at": expires}))
                if tx.rowcount() == 1:
                    new.append(lot)
            return new, following

        after: tuple[int, str] | None = None
        for _ in range(max_pages):
            new, after = service.write(partial(work, club_id=club_id, days=days, after=after))
            for _lot_id, member_id, kind, remaining, expires in new:
                warned += 1
                service.run_after_commit("kimia_value_expiring", club_id=club_id, member_id=member_id, kind=kind, amount=remaining,
                                         expires_at=expires)
            if after is None:
                break
    return warned


def expiring_task(service: Kimia, every_s: int = 3600) -> PeriodicTask:
    """The periodic task warning of value about to expire (:func:`warn_expiring`), hourly."""

    def run(_services: Any, now: int) -> None:
        warn_expiring(service, now)

    return PeriodicTask("value_expiring", every_s, run)


__all__ = ["BASE_S", "CAP_S", "LEASE_S", "Pass", "Worker", "backoff_s", "expiring_lots", "expiring_task", "retry_delivery",
           "status_counts", "warn_expiring"]
