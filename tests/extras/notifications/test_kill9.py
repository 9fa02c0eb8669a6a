"""At least once under ``kill -9`` (issue 17): a real worker process (``kimia notify run``)
delivering the outbox to the file sink (``KIMIA_NOTIFY_SINK``: a line per delivery, a little pause
each) is killed with SIGKILL mid-run, several times, and started again: in the end every event was
delivered, and every line, a repeat included, carries an event id of the outbox.

Short by default (a few hundred events, 3 kills); ``KIMIA_KILL9_LONG=1`` runs thousands and 10
kills."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from kimia.service import Kimia
from tests.service.batching import together
from tests.service.builders import FakeClock, build_club, rows

LONG = os.environ.get("KIMIA_KILL9_LONG") == "1"
MEMBERS, KILLS = (600, 10) if LONG else (100, 3)


def _worker(db_url: str, sink: Path, log: Path) -> subprocess.Popen[bytes]:
    kimia = str(Path(sys.executable).parent / "kimia")
    env = {**os.environ, "KIMIA_DATABASE_URL": db_url, "KIMIA_DEV_MODE": "1", "KIMIA_NOTIFY_SINK": f"file:{sink}"}
    with log.open("ab") as out:
        return subprocess.Popen([kimia, "notify", "run", "--interval-ms", "20", "--lease-s", "1", "--concurrency", "2"], env=env,
                                stdout=out, stderr=out)


def _lines(sink: Path) -> list[str]:
    return sink.read_text().splitlines() if sink.exists() else []


def test_every_event_is_delivered_at_least_once_across_kill_9(db_url: str, open_service: Callable[..., Kimia], tmp_path: Path) -> None:
    clock = FakeClock(int(time.time()))
    service = open_service(db_url, clock=clock)
    w = build_club(service, clock)
    members = [w.enroll() for _ in range(MEMBERS)]
    # Purchases committed in groups, as under load: their events are written a run at a time.
    for start in range(0, len(members), 16):
        together(service, [lambda m=m: w.buy(m, 250_000) for m in members[start:start + 16]])
    uids = {uid for (uid,) in rows(service, "SELECT uid FROM outbox_events")}
    service.close()
    assert len(uids) >= 3 * MEMBERS

    sink, log = tmp_path / "sink.txt", tmp_path / "worker.log"
    rng = random.Random(17)
    killed_mid_run = 0
    for _ in range(KILLS):
        if {line.split()[0] for line in _lines(sink)} >= uids:
            break  # all delivered already
        worker = _worker(db_url, sink, log)
        try:
            before = len(_lines(sink))
            deadline = time.monotonic() + 60
            while len(_lines(sink)) == before and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.01)  # until it delivers
            time.sleep(rng.uniform(0.02, 0.15))
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        delivered = {line.split()[0] for line in _lines(sink)}
        killed_mid_run += delivered < uids
        time.sleep(1.1)  # its leases run out
    assert killed_mid_run >= 1, "every kill came after the work was done: nothing was tested"

    worker = _worker(db_url, sink, log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if {line.split()[0] for line in _lines(sink)} >= uids:
                break
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    lines = _lines(sink)
    seen = Counter(line.split()[0] for line in lines)
    print(f"\nkill -9: {KILLS} kills, {len(uids)} events, {len(lines)} deliveries ({len(lines) - len(set(seen))} repeats)")
    assert set(seen) == uids, log.read_text()[-2000:]  # every event, and only events of the outbox
    for line in lines:  # a repeat is the same event, with its own id
        uid, event, channel, attempt = line.split()
        assert uid.startswith(event + ":") and channel == "sink" and int(attempt) >= 1
    service = open_service(db_url, clock=clock)
    try:
        assert rows(service, "SELECT status, COUNT(*) FROM outbox_deliveries GROUP BY status") == [("sent", len(uids))]
        assert rows(service, "SELECT COUNT(*) FROM outbox_events WHERE dispatched_at IS NULL") == [(0,)]
    finally:
        service.close()
