"""The panel's benchmark: member search, the dashboard and the member page of a club of 1,000,000
members and 5,000,000 operations (benches/bigworld.py), on SQLite and PostgreSQL, each beside a
same-run reference.

For each database it signs in as the club's admin through the sign-in form, like a person, and
times a few hundred requests per page with varied inputs, one after another (one client):

- ``search``: ``/panel/members?q=`` with a mobile (local form, some in Persian digits), a national
  code, a bank card's last four digits, a club card number, a member id, and the first letters
  of a first or last name (some typed with the Arabic ي/ك);
- ``dashboard``: ``/panel/dashboard`` over the last 30 days;
- ``member``: ``/panel/members/<id>`` of the members with the most operations (thousands) and of
  members with few;
- the references: ``/healthz`` (the web stack alone) and the sign-in page (a panel page through
  the layout, no database).

Twice: through a real HTTP server (gunicorn with kimia.web.gunicorn_conf, as tests/web/live.py
starts it; one keep-alive connection) and in-process through Flask's test client. It prints p50,
p95 and p99 per page and database, with the targets (search p95 <= 50 ms, dashboard p95 <= 300
ms, member page p95 <= 100 ms: reported, not asserted) and the references of the same run: the
machine's speed moves 3-4x from one run to the next, so read a figure beside its reference.

    .venv/bin/python benches/panel_bench.py --database sqlite:////tmp/bench/big.db --reuse
    KIMIA_TEST_PG_URL=$(bash scripts/pg.sh) .venv/bin/python benches/panel_bench.py --database pg --reuse
    .venv/bin/python benches/panel_bench.py --members 2000 --operations 10000 --requests 20   # a quick one

``--reuse`` keeps a built world between runs (building one takes minutes); the schema is brought up
to date on it first (a later migration's backfill runs then, as in production).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("KIMIA_DEV_MODE", "1")

import bigworld  # noqa: E402
from bigworld import WorldInfo  # noqa: E402

from kimia.app import assemble  # noqa: E402
from kimia.settings import Settings  # noqa: E402

#: p95 targets of issue 16, in milliseconds.
TARGETS_MS = {"search": 50.0, "dashboard": 300.0, "member": 100.0}
#: Where each page is (the members and dashboard helpers' pages; ``{id}`` is a member id).
SEARCH_PATH = "/panel/members"
DASHBOARD_PATH = "/panel/dashboard"
DASHBOARD_QUERY = {"days": "30"}
MEMBER_PATH = "/panel/members/{id}"
SIGNIN_PATH = "/panel/login"
COOKIE = "kimia_panel"
WARMUP = 10
_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_LETTERS = str.maketrans({"ی": "ي", "ک": "ك"})


@dataclass
class Timing:
    page: str
    mode: str
    samples_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    #: The page's first request of the run (caches cold), not among the samples.
    first_ms: float = float("nan")

    def add(self, ms: float, status: int) -> None:
        self.samples_ms.append(ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def pct(self, p: float) -> float:
        data = sorted(self.samples_ms)
        if not data:
            return float("nan")
        k = min(len(data) - 1, max(0, int(round(p / 100 * len(data) + 0.5)) - 1))
        return data[k]

    @property
    def ok(self) -> bool:
        return set(self.statuses) <= {200}


# --- inputs -------------------------------------------------------------------------------------------


def search_inputs(info: WorldInfo, n: int, rng: random.Random) -> list[str]:
    """``n`` things a person types in the search box, varied over every way of finding a member."""
    makers: list[Callable[[], str]] = []
    if info.mobiles:
        makers.append(lambda: rng.choice(info.mobiles))
        makers.append(lambda: rng.choice(info.mobiles).translate(_PERSIAN))
    if info.national_codes:
        makers.append(lambda: rng.choice(info.national_codes))
    if info.card_last4:
        makers.append(lambda: rng.choice(info.card_last4))
    if info.club_cards:
        makers.append(lambda: rng.choice(info.club_cards))
    if info.heavy_members or info.light_members:
        makers.append(lambda: str(rng.choice(info.heavy_members + info.light_members)))
    if info.names:
        def name_prefix() -> str:
            words = rng.choice(info.names).split()
            word = rng.choice(words)
            prefix = word[:rng.randint(2, max(2, min(5, len(word))))]
            return prefix.translate(_ARABIC_LETTERS) if rng.random() < 0.3 else prefix

        def full_name() -> str:
            first, *rest = rng.choice(info.names).split()
            return f"{first} {rest[0][:3]}" if rest else first

        makers += [name_prefix, name_prefix, full_name]
    return [rng.choice(makers)() for _ in range(n)]


def member_ids(info: WorldInfo, n: int, rng: random.Random) -> list[int]:
    """Half members with thousands of operations, half with few."""
    heavy, light = info.heavy_members or info.light_members, info.light_members or info.heavy_members
    return [rng.choice(heavy if k % 2 == 0 else light) for k in range(n)]


def requests_of(info: WorldInfo, n: int, seed: int = 7) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {
        "healthz (ref)": ["/healthz"] * n,
        "sign-in page (ref)": [SIGNIN_PATH] * n,
        "search": [f"{SEARCH_PATH}?{urlencode({'q': q})}" for q in search_inputs(info, n, rng)],
        "dashboard": [f"{DASHBOARD_PATH}?{urlencode(DASHBOARD_QUERY)}"] * n,
        "member": [MEMBER_PATH.format(id=m) for m in member_ids(info, n, rng)],
    }


# --- clients ------------------------------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


class HttpClient:
    """One keep-alive connection to the server, carrying the panel's cookies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict[str, str] | None = None, *, cookies: bool = True) -> tuple[int, str, dict[str, str]]:
        headers = {"Accept-Language": "fa"}
        if cookies and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and cookies:
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, text, dict(response.getheaders())

    def get(self, path: str, *, cookies: bool = True) -> int:
        return self.request("GET", path, cookies=cookies)[0]

    def close(self) -> None:
        self.conn.close()


class FlaskClient:
    """Flask's test client in this process (no network, no server): the same requests."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.anonymous = app.test_client()

    def request(self, method: str, path: str, body: dict[str, str] | None = None, *, cookies: bool = True) -> tuple[int, str, dict[str, str]]:
        client = self.client if cookies else self.anonymous
        response = client.open(path, method=method, data=body, headers={"Accept-Language": "fa"})
        return response.status_code, response.get_data(as_text=True), dict(response.headers)

    def get(self, path: str, *, cookies: bool = True) -> int:
        return self.request("GET", path, cookies=cookies)[0]

    def close(self) -> None:
        pass


def sign_in(client: HttpClient | FlaskClient, info: WorldInfo) -> None:
    """Through the sign-in form, as a person: its token, then the login and password."""
    status, page, _ = client.request("GET", SIGNIN_PATH)
    found = _TOKEN.search(page)
    if status != 200 or found is None:
        raise RuntimeError(f"the sign-in page answered {status} without a form token")
    status, _, headers = client.request("POST", SIGNIN_PATH, {"csrf_token": found.group(1), "login": info.admin_login,
                                                              "password": info.admin_password})
    if status != 302:
        raise RuntimeError(f"signing in answered {status}, not a redirect")


def measure(client: HttpClient | FlaskClient, mode: str, work: dict[str, list[str]]) -> list[Timing]:
    """Each page's requests in turn (a warm-up first, untimed); the references are interleaved
    with the pages so that they see the same machine."""
    out = {page: Timing(page, mode) for page in work}
    for page, paths in work.items():
        for n, path in enumerate(paths[:WARMUP]):
            started = time.perf_counter()
            client.get(path, cookies=not page.startswith("sign-in"))
            if n == 0:
                out[page].first_ms = (time.perf_counter() - started) * 1000
    rounds = max(len(paths) for paths in work.values())
    for k in range(rounds):
        for page, paths in work.items():
            if k >= len(paths):
                continue
            started = time.perf_counter()
            status = client.get(paths[k], cookies=not page.startswith("sign-in"))
            out[page].add((time.perf_counter() - started) * 1000, status)
    return list(out.values())


# --- the runs -------------------------------------------------------------------------------------------


def world_for(url: str, members: int, operations: int, reuse: bool, say: Callable[[str], None]) -> WorldInfo:
    info = WorldInfo.load(url) if reuse else None
    if info is not None and (info.members, info.operations) == (members, operations):
        say(f"reusing the world at {url} ({info.members:,} members, {info.operations:,} operations, built in {info.load_s:.0f} s)")
        started = time.perf_counter()
        with assemble(Settings.from_env({}, database_url=url, migrations="upgrade", dev_mode=True)):
            pass
        say(f"  schema brought up to date in {time.perf_counter() - started:.1f} s")
        return info
    return bigworld.build(url, members=members, operations=operations, say=say)


@contextmanager
def server(url: str, log: Path) -> Iterator[int]:
    from web.live import Server

    with Server(url, log, env={"KIMIA_WEB_SECURE_COOKIES": "0", "KIMIA_WEB_THREADS": "4"}) as running:
        yield running.port


def run(url: str, *, members: int, operations: int, requests: int, reuse: bool = True, http_server: bool = True,
        in_process: bool = True, pages: list[str] | None = None, say: Callable[[str], None] = print) -> list[Timing]:
    """Build (or reuse) the world on ``url`` and time every page (or ``pages``); returns the timings."""
    info = world_for(url, members, operations, reuse, say)
    work = {page: paths for page, paths in requests_of(info, requests).items() if pages is None or page in pages or "(ref)" in page}
    timings: list[Timing] = []
    if http_server:
        log = Path("/tmp") / f"panel-bench-{os.getpid()}.log"
        with server(url, log) as port:
            client = HttpClient(port)
            try:
                sign_in(client, info)
                timings += measure(client, "http", work)
            finally:
                client.close()
    if in_process:
        from kimia.web import create_app

        app = create_app(Settings.from_env({}, database_url=url, dev_mode=True, web_secure_cookies=False))
        try:
            flask_client = FlaskClient(app)
            sign_in(flask_client, info)
            timings += measure(flask_client, "in-process", work)
        finally:
            service = app.extensions.get("kimia")
            close = getattr(service, "close", None)
            if callable(close):
                close()
    return timings


def profile(url: str, page: str, requests: int, top: int = 30) -> None:
    """cProfile over ``requests`` of ``page`` in-process (after a warm-up): where its time goes."""
    import cProfile
    import pstats

    from kimia.web import create_app

    info = WorldInfo.load(url)
    if info is None:
        raise SystemExit(f"no world at {url}")
    paths = requests_of(info, requests)[page]
    app = create_app(Settings.from_env({}, database_url=url, dev_mode=True, web_secure_cookies=False))
    client = FlaskClient(app)
    sign_in(client, info)
    for path in paths[:WARMUP]:
        client.get(path)
    profiler = cProfile.Profile()
    profiler.enable()
    for path in paths:
        client.get(path)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    app.extensions["kimia"].close()


def table(database: str, timings: list[Timing]) -> str:
    lines = [f"{'database':<11}{'mode':<12}{'page':<20}{'n':>5}{'first':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'target p95':>12}  statuses"]
    for t in timings:
        target = TARGETS_MS.get(t.page)
        verdict = "" if target is None else f"{target:>7.0f} {'--' if not t.ok else 'ok' if t.pct(95) <= target else 'MISS'}"
        statuses = ",".join(f"{s}x{c}" for s, c in sorted(t.statuses.items()))
        lines.append(f"{database:<11}{t.mode:<12}{t.page:<20}{len(t.samples_ms):>5}{t.first_ms:>8.0f}{t.pct(50):>9.1f}{t.pct(95):>9.1f}{t.pct(99):>9.1f}"
                     f"{verdict:>12}  {statuses}")
    return "\n".join(lines)


def pg_url(name: str = "kimia_bigworld") -> str:
    base = os.environ.get("KIMIA_TEST_PG_URL", "")
    if not base:
        raise SystemExit("PostgreSQL: set KIMIA_TEST_PG_URL (KIMIA_TEST_PG_URL=$(bash scripts/pg.sh))")
    return base.rsplit("/", 1)[0] + "/" + name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", action="append", default=[],
                        help="sqlite (a file under /tmp/bench), pg (a database on KIMIA_TEST_PG_URL's server) or a URL; repeat for both")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--operations", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per page")
    parser.add_argument("--reuse", action="store_true", help="keep a built world of the same size between runs")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn run")
    parser.add_argument("--no-in-process", action="store_true", help="skip the Flask test client run")
    parser.add_argument("--pages", default="search,dashboard,member", help="the pages to time (the references always)")
    parser.add_argument("--profile", choices=("search", "dashboard", "member"), help="profile one page in-process instead")
    args = parser.parse_args(argv)
    size = f"{args.members // 1000}k-{args.operations // 1000}k"
    results = []
    for database in args.database or ["sqlite"]:
        url = (f"sqlite:////tmp/bench/world-{size}.db" if database == "sqlite" else pg_url(f"kimia_world_{size.replace('-', '_')}")
               if database in ("pg", "postgresql") else database)
        name = "sqlite" if url.startswith("sqlite") else "postgresql"
        if args.profile:
            profile(url, args.profile, args.requests)
            continue
        timings = run(url, members=args.members, operations=args.operations, requests=args.requests, reuse=args.reuse,
                      http_server=not args.no_http, in_process=not args.no_in_process, pages=args.pages.split(","))
        results.append((name, timings))
        print(table(name, timings), flush=True)
    print()
    print(f"{args.members:,} members, {args.operations:,} operations, {args.requests} timed requests per page, one client")
    for name, timings in results:
        print(table(name, timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
