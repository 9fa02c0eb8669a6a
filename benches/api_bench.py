"""The JSON API benchmark: durable purchases per second and latency of POST /api/v1/purchases under
gunicorn, against the terminal host's purchase-only rate in the same run.

For each database (SQLite, and PostgreSQL when ``KIMIA_TEST_PG_URL`` is set: a fresh database on
that server), on one demo club (kimia.terminal.simulator.setup_demo: 32 terminals, 500 members):

1. gunicorn serving ``kimia.web.wsgi:app`` with kimia/web/gunicorn_conf.py, for each worker model
   of ``--models`` (``WORKERSxTHREADS``; default ``1x32`` and ``2x16``), driven by Debian's ``wrk``
   with benches/api_bench.lua: 32 connections, POST /purchases with a unique Idempotency-Key per
   request and a rotating member (by card). Durable purchases are counted from the database after
   the run (operations the API's key made), not from wrk (whose count includes errors; the Lua
   script counts non-2xx answers);
2. ``GET /healthz`` under the same server with the same connections: the web stack's own ceiling
   (no key, no database);
3. the terminal host's purchase-only rate, 32 terminals (benches/test_terminal_bench.py's own
   host process and simulator run).

It prints durable purchases/s, p50 and p99 for each, the server's CPU per request, and the ratio
API / terminal host (target >= 0.5 on SQLite with p99 <= 50 ms: reported, not asserted).

    KIMIA_RELEASE=1 bash scripts/setup.sh; apt-get install -y wrk
    KIMIA_TEST_PG_URL=$(bash scripts/pg.sh) .venv/bin/python benches/api_bench.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cpu import process_cpu_s
from test_terminal_bench import PG_URL, fresh_database, server_process

from kimia.app import assemble
from kimia.service import apikeys
from kimia.settings import Settings
from kimia.terminal.simulator import DemoSetup, setup_demo, simulate

# The benchmark hashes its made-up cards with the development key (as the tests and the demo do).
os.environ.setdefault("KIMIA_DEV_MODE", "1")
HERE = Path(__file__).resolve().parent
LUA = HERE / "api_bench.lua"
CONNECTIONS = 32
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_pids(master: int) -> list[int]:
    """gunicorn's master and its workers (the processes whose CPU the server spends)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *(int(c) for c in children)]


@contextlib.contextmanager
def gunicorn(url: str, workers: int, threads: int, log: Path) -> Iterator[tuple[int, int]]:
    """gunicorn on a free port over ``url``; yields (port, master pid); stopped with SIGTERM."""
    port = free_port()
    env = dict(os.environ, KIMIA_DATABASE_URL=url, KIMIA_WEB_BIND=f"127.0.0.1:{port}", KIMIA_WEB_WORKERS=str(workers),
               KIMIA_WEB_THREADS=str(threads), KIMIA_WEB_ACCESS_LOG="", KIMIA_DEV_MODE=os.environ.get("KIMIA_DEV_MODE", "1"))
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:kimia.web.gunicorn_conf", "kimia.web.wsgi:app"]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.5 * workers)  # every worker booted, not only the first to answer
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _healthy(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def wrk(port: int, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    """One wrk run (2 threads, 32 connections) with the Lua script; its ``kimia-bench`` line."""
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(LUA),
            f"http://127.0.0.1:{port}/api/v1/purchases"]
    out = subprocess.run(argv, env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("kimia-bench "))
    result: dict[str, Any] = json.loads(line.split(" ", 1)[1])
    return result


def api_purchases(url: str, key_id: int) -> int:
    """Purchases made through the API with the benchmark's key and kept (durable)."""
    with assemble(Settings.from_env(database_url=url)) as service, service.reading() as tx:
        return int(tx.one("SELECT COUNT(*) FROM operations WHERE kind = 'purchase' AND status = 'done' AND idem_key LIKE ?",
                          (f"api:{key_id}:%",))[0])


def run_api(db: str, url: str, demo: DemoSetup, model: tuple[int, int], seconds: float, log: Path) -> list[dict[str, Any]]:
    with assemble(Settings.from_env(database_url=url)) as service:
        row, token = apikeys.create(service, kind="integration", club_id=demo.club_id, actor="bench", rate_per_min=1_000_000)
    cards = [m for m in demo.members if m.isdigit() and len(m) >= 16]
    env = {"KIMIA_BENCH_KEY": token, "KIMIA_BENCH_MERCHANT": str(demo.merchant_id), "KIMIA_BENCH_MEMBERS": ",".join(cards),
           "KIMIA_BENCH_RUN": uuid.uuid4().hex[:8]}
    workers, threads = model
    label = f"API {workers}x{threads}"
    rows = []
    with gunicorn(url, workers, threads, log) as (port, master):
        pids = server_pids(master)
        before_db, before_cpu = api_purchases(url, row.id), sum(process_cpu_s(p) for p in pids)
        result = wrk(port, seconds, env)
        cpu = sum(process_cpu_s(p) for p in pids) - before_cpu
        durable = api_purchases(url, row.id) - before_db
        rows.append(_row(db, f"{label} purchases", durable / result["duration_s"], result, cpu / max(1, result["requests"])))
        cpu0 = sum(process_cpu_s(p) for p in pids)
        health = wrk(port, min(seconds, 5.0), {**env, "KIMIA_BENCH_MODE": "healthz"})
        cpu = sum(process_cpu_s(p) for p in pids) - cpu0
        rows.append(_row(db, f"{label} /healthz", health["requests"] / health["duration_s"], health, cpu / max(1, health["requests"])))
    return rows


def _row(db: str, what: str, per_s: float, result: dict[str, Any], cpu_s_per_request: float | None) -> dict[str, Any]:
    return {"database": db, "what": what, "per_s": per_s, "p50": result["p50_ms"], "p99": result["p99_ms"],
            "non2xx": result.get("non2xx", 0) + result.get("socket_errors", 0), "cpu_us": None if cpu_s_per_request is None else cpu_s_per_request * 1e6}


def run_terminal(db: str, url: str, demo: DemoSetup, seconds: float, queue: Path) -> dict[str, Any]:
    """The terminal host's purchase-only rate, 32 terminals (as benches/test_terminal_bench.py)."""
    with server_process(url) as (port, pid):
        cpu0 = process_cpu_s(pid)
        report = asyncio.run(simulate("127.0.0.1", port, terminals=demo.terminals[:CONNECTIONS], members=demo.members, duration_s=seconds,
                                      mix={"purchase": 1.0}, timeout_s=10.0, retries=1, queue_path=queue, seed=CONNECTIONS))
        cpu = process_cpu_s(pid) - cpu0
    lat = report.latency()
    return {"database": db, "what": "terminal host purchases", "per_s": report.throughput, "p50": lat["p50"], "p99": lat["p99"],
            "non2xx": report.mismatches + report.timeouts, "cpu_us": cpu / max(1, report.answered) * 1e6}


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'database':<10} {'what':<26} {'durable/s (or req/s)':>20} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'server CPU us/req':>17}"
    lines = [head, "-" * len(head)]
    for r in rows:
        cpu = "" if r["cpu_us"] is None else f"{r['cpu_us']:,.0f}"
        lines.append(f"{r['database']:<10} {r['what']:<26} {r['per_s']:>20,.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['non2xx']:>6} {cpu:>17}")
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for db in dict.fromkeys(r["database"] for r in rows):
        host = next((r for r in rows if r["database"] == db and r["what"] == "terminal host purchases"), None)
        for r in rows:
            if host is None or r["database"] != db or not r["what"].endswith(" purchases") or r is host:
                continue
            ratio = r["per_s"] / max(1.0, host["per_s"])
            met = ratio >= TARGET_RATIO and r["p99"] <= TARGET_P99_MS
            lines.append(f"{db}: {r['what']} / terminal host purchase-only = {ratio:.2f}x, p99 {r['p99']:.1f} ms"
                         + (f" -> target (>= {TARGET_RATIO}x, p99 <= {TARGET_P99_MS:g} ms) {'met' if met else 'NOT met'}" if db == "sqlite" else ""))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("KIMIA_BENCH_SECONDS", "10")))
    parser.add_argument("--models", default="1x32,2x16", help="gunicorn worker models WORKERSxTHREADS, comma-separated")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    models = [tuple(int(n) for n in m.split("x")) for m in args.models.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kimia-api-bench-") as tmp:
        for db in args.databases.split(","):
            if db == "postgres" and not PG_URL:
                print("postgres: not run (KIMIA_TEST_PG_URL is not set: bash scripts/pg.sh)")
                continue
            with fresh_database(db, Path(tmp)) as url:
                with assemble(Settings.from_env(database_url=url, migrations="upgrade")) as service:
                    demo = setup_demo(service, terminals=CONNECTIONS, members=500, seed=1)
                rows.append(run_terminal(db, url, demo, args.seconds, Path(tmp) / f"{db}-saf.sqlite"))
                for workers, threads in models:
                    rows.extend(run_api(db, url, demo, (workers, threads), args.seconds, Path(tmp) / "gunicorn.log"))
                with assemble(Settings.from_env(database_url=url)) as service:
                    check = service.check()
                if not check.ok:
                    print(check.summary())
                    return 1
    print(f"API benchmark: wrk, {CONNECTIONS} connections, {args.seconds:g} s per run, {os.cpu_count()} CPU(s), "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(table(rows))
    print("\n".join(ratios(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
