"""The terminal host benchmark: durable purchases per second and latency over real TCP.

The simulator (``kimia.terminal.simulator``) drives the ISO 8583 host running in its own process
on the same machine, with 1, 8 and 32 virtual terminals, on SQLite and on PostgreSQL (a fresh
database on the server of ``KIMIA_TEST_PG_URL``, started by ``scripts/pg.sh``). A durable purchase
is a 0200 answered 00: the host answers only after the group commit returned. Printed beside the
codec's own rate (encode + decode of a typical 0200 with ``kimia.terminal.codec``, pyiso8583
underneath) measured in the same run.

Not part of the normal test run. Run with:
    KIMIA_TEST_PG_URL=$(bash scripts/pg.sh) .venv/bin/python -m pytest benches/test_terminal_bench.py -q -s

``KIMIA_BENCH_SECONDS`` (default 5) sets the length of each run. The targets of the issue are
reported, not asserted: at least 2,500 durable purchases/s on SQLite with 32 terminals, p99 at most
50 ms.

Each run also prints the CPU time spent per answer by the host process and by the simulator (this
process), and the ceiling they imply on this machine, the lower of: one core for the host
(``10⁶ / host`` answers per second: its Python runs under one GIL; a conservative bound, since
SQLite's own work runs outside it) and the machine's cores shared by both
(``cpus × 10⁶ / (host + simulator)``). It says whether a missed target is the host's cost, the
simulator's, or waiting.

Two ceilings of the machine are measured in the same run (``benches/ceilings.py``): the bare
pyiso8583 echo over asyncio with a minimal client (the issue's own anchor: no kimia, no database),
and a row ``no db``: the same host and simulator with every purchase answered at once from one
stored receipt, what kimia's host and simulator cost without the database (not durable; a bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ceilings import HOST_SERVER, echo_rate, typical_0200
from cpu import own_cpu_s, process_cpu_s

from kimia.app import assemble
from kimia.settings import Settings
from kimia.terminal.codec import decode, encode
from kimia.terminal.dialect import KIMIA_V1
from kimia.terminal.simulator import DEFAULT_MIX, SimulationReport, setup_demo, simulate

SECONDS = float(os.environ.get("KIMIA_BENCH_SECONDS", "5"))
TERMINALS = (1, 8, 32)
PG_URL = os.environ.get("KIMIA_TEST_PG_URL", "")
TARGET_PER_S = 2_500
TARGET_P99_MS = 50.0

def codec_rate(seconds: float = 1.0) -> float:
    """Messages per second of encode + decode of a typical 0200 (``ceilings.typical_0200``)."""
    msg = typical_0200()
    n = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(200):
            decode(encode(msg, KIMIA_V1), KIMIA_V1)
        n += 200
        if time.perf_counter() >= deadline:
            return n / (time.perf_counter() - started)


@contextlib.contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/bench.db"
        return
    import psycopg

    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres"
    name = "kimia_tbench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def server_process(url: str, *options: str) -> Iterator[tuple[int, int]]:
    """The terminal host in its own process (its own GIL, like production); yields its port and pid.
    ``options``: ``"no-db"`` for the host with its database taken out (``ceilings.HOST_SERVER``)."""
    with subprocess.Popen([sys.executable, "-c", HOST_SERVER, url, *options], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        try:
            line = proc.stdout.readline()
            if not line.strip().isdigit():
                raise RuntimeError(f"the terminal host did not start (said {line!r})")
            yield int(line), proc.pid
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def row(db: str, terminals: int, mix: str, report: SimulationReport, codec: float, host_cpu_s: float, sim_cpu_s: float) -> dict[str, Any]:
    lat = report.latency()
    answered = max(1, report.answered)
    host_us, sim_us = host_cpu_s / answered * 1e6, sim_cpu_s / answered * 1e6
    return {
        "database": db, "terminals": terminals, "mix": mix, "per_s": report.throughput, "answers_per_s": report.answers_per_s,
        "p50": lat["p50"], "p99": lat["p99"], "max": lat["max"], "mismatches": report.mismatches,
        "timeouts": report.timeouts, "codec": codec, "host_us": host_us, "sim_us": sim_us,
        "ceiling": min(1e6 / max(1.0, host_us), (os.cpu_count() or 1) * 1e6 / max(1.0, host_us + sim_us)),
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'database':<10} {'terminals':>9} {'mix':<9} {'durable purchases/s':>19} {'answers/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
            f" {'max ms':>7} {'mismatch':>8} {'timeouts':>8} {'codec enc+dec msg/s':>19}"
            f" {'host CPU us/answer':>18} {'sim CPU us/answer':>17} {'CPU ceiling answers/s':>21}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['database']:<10} {'':>9} {'':<9} {r['skipped']}")
            continue
        lines.append(
            f"{r['database']:<10} {r['terminals']:>9} {r['mix']:<9} {r['per_s']:>19,.0f} {r['answers_per_s']:>9,.0f} {r['p50']:>7.2f}"
            f" {r['p99']:>7.2f} {r['max']:>7.2f} {r['mismatches']:>8} {r['timeouts']:>8} {r['codec']:>19,.0f}"
            f" {r['host_us']:>18,.0f} {r['sim_us']:>17,.0f} {r['ceiling']:>21,.0f}"
        )
    return "\n".join(lines)


def drive(port: int, pid: int, demo: Any, terminals: int, mix: dict[str, float], queue: Path) -> tuple[SimulationReport, float, float]:
    """One simulator run against the host ``pid`` on ``port``: its report and both CPU times."""
    host0, sim0 = process_cpu_s(pid), own_cpu_s()
    report = asyncio.run(simulate(
        "127.0.0.1", port, terminals=demo.terminals[:terminals], members=demo.members, duration_s=SECONDS,
        mix=mix, timeout_s=10.0, retries=1, queue_path=queue, seed=terminals,
    ))
    return report, process_cpu_s(pid) - host0, own_cpu_s() - sim0


def test_terminal_host_throughput_and_latency(tmp_path: Path) -> None:
    codec = codec_rate()
    echo = {n: echo_rate(n, min(SECONDS, 3.0)) for n in (8, max(TERMINALS))}
    rows: list[dict[str, Any]] = []
    for db in ("sqlite", "postgres"):
        if db == "postgres" and not PG_URL:
            rows.append({"database": db, "skipped": "not run: KIMIA_TEST_PG_URL is not set (bash scripts/pg.sh)"})
            continue
        with fresh_database(db, tmp_path) as url:
            with assemble(Settings.from_env(database_url=url, migrations="upgrade")) as service:
                demo = setup_demo(service, terminals=max(TERMINALS), members=500, seed=1)
            queue = tmp_path / f"{db}-saf.sqlite"  # one file: STANs go on across the runs
            with server_process(url) as (port, pid):
                runs: list[tuple[int, str, dict[str, float]]] = [(n, "purchase", {"purchase": 1.0}) for n in TERMINALS]
                runs.append((max(TERMINALS), "default", dict(DEFAULT_MIX)))
                for n, label, mix in runs:
                    report, host_cpu, sim_cpu = drive(port, pid, demo, n, mix, queue)
                    assert report.mismatches == 0, report.format()
                    assert report.queue_leftovers == 0, report.format()
                    rows.append(row(db, n, label, report, codec, host_cpu, sim_cpu))
            if db == "sqlite":
                # The same host with its database taken out (benches/ceilings.py): not durable, a bound.
                with server_process(url, "no-db") as (port, pid):
                    n = max(TERMINALS)
                    report, host_cpu, sim_cpu = drive(port, pid, demo, n, {"purchase": 1.0}, queue)
                    rows.append(row("no db", n, "purchase", report, codec, host_cpu, sim_cpu))
            with assemble(Settings.from_env(database_url=url)) as service:
                check = service.check()
            assert check.ok, check.summary()
    print()
    print(f"terminal host benchmark: {SECONDS:g} s per run, host in its own process, {os.cpu_count()} CPU(s)")
    print(table(rows))
    print("'no db': the same host answering every purchase at once with one stored receipt (not durable;"
          " what the host and the simulator cost without the database)")
    print("echo ceiling (asyncio + pyiso8583 over loopback, no kimia, no database, minimal client): "
          + ", ".join(f"{rate:,.0f} round trips/s with {n} terminals" for n, rate in echo.items()))
    sqlite32 = next((r for r in rows if r.get("database") == "sqlite" and r.get("terminals") == 32 and r.get("mix") == "purchase"), None)
    if sqlite32 is not None:
        met = sqlite32["per_s"] >= TARGET_PER_S and sqlite32["p99"] <= TARGET_P99_MS
        print(f"target (SQLite, 32 terminals): >= {TARGET_PER_S:,} durable purchases/s and p99 <= {TARGET_P99_MS:g} ms:"
              f" {sqlite32['per_s']:,.0f}/s, p99 {sqlite32['p99']:.1f} ms -> {'met' if met else 'NOT met'}")
