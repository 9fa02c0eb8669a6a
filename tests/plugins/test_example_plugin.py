"""The example third-party package (examples/kimia-example-plugin) installed as an operator would:
built with pip (offline: no index, the environment's setuptools) into a folder that is put on
``PYTHONPATH`` of kimia's own processes, so it is found through its ``kimia`` entry point without
being installed in the shared environment. Then, each in a process of its own:

- ``kimia plugins --json`` lists it, with what it registers;
- ``kimia init`` makes its tables;
- ``kimia terminal serve`` answers its 0200 / 99 over real TCP (MAC'd), a repeat the same and
  written once, a refusal with its response code; a purchase through the same host reaches its
  ``kimia_operation_committed``;
- the web application, over real HTTP, serves its API route to a key (with idempotency, CSV and
  its place in ``/api/v1/openapi.json``) and its panel page, with its menu entry, to a signed-in
  user.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import inspect

from kimia.app import assemble
from kimia.plugins import make_plugin_manager
from kimia.service import apikeys, staff
from kimia.settings import Settings
from kimia.store.engine import make_engine
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request
from kimia.terminal.response_codes import DEFAULT_RESPONSE, RESPONSE_FOR_ERROR
from kimia.world import WorldBuilder, points_rule

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "kimia-example-plugin"
KIMIA = str(Path(sys.executable).with_name("kimia"))
KEK = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
MAC_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
TID, MID, MOBILE = "T0000099", "M00000000000099", "09121234567"
PASSWORD = "a long test password 1405"

#: The web application in a process of its own: werkzeug's server on a free port (printed), until
#: SIGTERM, when the application is closed (its plugins told kimia_shutdown).
WEB = """
import signal, sys, threading
from werkzeug.serving import make_server
from kimia.web import create_app
app = create_app()
server = make_server("127.0.0.1", 0, app, threaded=True)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print("port", server.server_port, flush=True)
server.serve_forever()
app.extensions["kimia"].close()
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example built and installed into a folder of its own (never the shared environment)."""
    import setuptools

    major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
    assert (major, minor) >= (70, 1), "building the example offline needs setuptools>=70.1 (pyproject.toml, dev)"
    base = tmp_path_factory.mktemp("example")
    source, target = base / "source", base / "site"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PIP_NO_INDEX": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (target / "kimia_example" / "plugin.py").exists() and list(target.glob("kimia_example_plugin-0.1.0.dist-info"))
    return target


def environment(installed: Path, db_url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIMIA_")}
    env.update({"PYTHONPATH": str(installed), "KIMIA_DATABASE_URL": db_url, "KIMIA_DEV_MODE": "1", "KIMIA_TERMINAL_KEK": KEK,
                "KIMIA_WEB_SECURE_COOKIES": "0", **more})
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([KIMIA, *args], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, f"kimia {' '.join(args)}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def build_world(db_url: str) -> dict[str, Any]:
    """A club with a merchant, a MAC-keyed terminal, a member, a management key and an admin (made
    by this process, which does not load the example)."""
    settings = Settings.from_env({}, database_url=db_url, dev_mode=True)
    os.environ["KIMIA_TERMINAL_KEK"] = KEK
    with assemble(settings, plugins=make_plugin_manager(load_entry_points=False)) as service:
        b = WorldBuilder(service)
        shop = b.shop("مالک", "باشگاه نمونه", "گل‌فروشی", settings={"verification": {"redeem": [], "bind": []}})
        b.terminal(shop.merchant_id, TID, MID, mac_key=MAC_KEY)
        b.publish(shop.club_id, {"rules": [points_rule(rule_id="base")]}, actor="test")
        b.member(shop.club_id, [("mobile", MOBILE)], idem_key="m-1")
        key = apikeys.create(service, kind="management", club_id=shop.club_id, actor="test")[1]
        staff.create_user(service, login="admin1", name="مدیر", role="admin", password=PASSWORD, actor="test", club_id=shop.club_id)
        return {"club": shop.club_id, "merchant": shop.merchant_id, "key": key}


def rows(db_url: str, sql: str) -> list[Any]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]
    finally:
        engine.dispose()


def log_file(folder: Path, name: str) -> Any:
    """Where a process's standard error goes (a file: a pipe nobody reads could fill and block it)."""
    return open(folder.parent / f"{name}.log", "w+", encoding="utf-8")


def started(proc: subprocess.Popen[str], marker: str) -> str:
    """The first line of ``proc``'s output holding ``marker`` (the process failed if none)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return line
    proc.wait(10)
    raise AssertionError(f"the process ended without '{marker}' (its standard error is in the test's folder)")


async def at_terminal(port: int) -> dict[str, Any]:
    terminal = TerminalIdentity(TID, MID, MAC_KEY)
    conn = await Connection.open("127.0.0.1", port)
    try:
        wrap = request(terminal, "0200", "990000", items=[("GW", "3")])
        first = await conn.send(wrap, terminal, timeout_s=20)
        again = await conn.send(wrap, terminal, timeout_s=20)  # the same message again: a repeat
        refused = await conn.send(request(terminal, "0200", "990000", items=[("GW", "0")]), terminal, timeout_s=20)
        missing = await conn.send(request(terminal, "0200", "990000"), terminal, timeout_s=20)
        bought = await conn.send(request(terminal, "0200", "000000", amount_rial=250_000, items=[(tlv.MK, f"M:{MOBILE}")]),
                                 terminal, timeout_s=20)
    finally:
        await conn.close()
    return {"first": first, "again": again, "refused": refused, "missing": missing, "bought": bought}


def test_the_example_package_installs_and_works_in_every_process(installed: Path, db_url: str) -> None:
    env = environment(installed, db_url)

    # kimia plugins: it is found through its entry point, with what it registers.
    listed = json.loads(run(env, "plugins", "--json").stdout)["plugins"]
    example = next(p for p in listed if p["name"] == "example")
    assert example["origin"] == "entry point" and example["distribution"] == "kimia-example-plugin 0.1.0"
    assert {"kimia_startup", "kimia_shutdown", "kimia_operation_committed", "kimia_register_schema"} <= set(example["hooks"])
    assert example["terminal_operations"] == [{"name": "example.gift_wrap", "mtis": ["0200"], "processing_codes": ["99"]}]
    assert {(r["method"], r["path"]) for r in example["api_routes"]} == {("GET", "/api/v1/example/gift-wraps"),
                                                                           ("POST", "/api/v1/example/gift-wraps")}
    assert example["pages"][0]["path"] == "/panel/example/gift-wraps" and example["pages"][0]["menu"]["en"] == "Gift wraps"
    assert example["schema"] == {"name": "example", "migrations": ["0001"], "tables": ["example_wraps", "example_purchases"]}
    assert "example" in run(env, "plugins").stdout  # the text form too

    # kimia init: its tables, after kimia's own.
    assert "plugins' tables: up to date" in run(env, "init").stdout
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"example_wraps", "example_purchases", "members"} <= tables
    world = build_world(db_url)

    # The terminal host, with the example's operation, over real TCP.
    with log_file(installed, "terminal") as log, \
            subprocess.Popen([KIMIA, "terminal", "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=log, text=True, env=env) as host:
        try:
            port = int(started(host, "kimia terminal host on").split(" on ", 1)[1].split()[0].rsplit(":", 1)[1])
            answers = asyncio.run(at_terminal(port))
        finally:
            host.send_signal(signal.SIGINT)
            host.wait(30)
    first, again = answers["first"], answers["again"]
    assert first.response_code == "00" and first.fields.get("11") == again.fields.get("11")
    items = tlv.decode_tlv(first.get_bytes("48") or b"")
    assert ("GW", "3") in items and any(t == "RL" and "بسته‌بندی هدیه: ۳ عدد" in v for t, v in items)
    assert again.response_code == "00" and tlv.decode_tlv(again.get_bytes("48") or b"") == items
    # Refused with the response codes of their catalogue codes (docs/terminal-protocol.md, section 6).
    assert answers["refused"].response_code == RESPONSE_FOR_ERROR.get("field_invalid", DEFAULT_RESPONSE)
    assert answers["missing"].response_code == RESPONSE_FOR_ERROR.get("field_required", DEFAULT_RESPONSE)
    assert answers["bought"].response_code == "00"
    assert rows(db_url, "SELECT merchant_id, wraps, today FROM example_wraps") == [(world["merchant"], 3, 3)]  # written once
    assert len(rows(db_url, "SELECT op_id FROM example_purchases")) == 1  # its kimia_operation_committed saw the purchase

    # The web application, over real HTTP.
    with log_file(installed, "web") as log, \
            subprocess.Popen([sys.executable, "-c", WEB], stdout=subprocess.PIPE, stderr=log, text=True, env=env) as web:
        try:
            base = f"http://127.0.0.1:{int(started(web, 'port').split()[1])}"
            check_web(base, world)
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(30)
    assert rows(db_url, "SELECT wraps FROM example_wraps ORDER BY id") == [(3,), (2,), (4,)]


def check_web(base: str, world: dict[str, Any]) -> None:
    key = {"Authorization": f"Bearer {world['key']}"}
    listed = requests.get(f"{base}/api/v1/example/gift-wraps", headers=key, timeout=20)
    assert listed.status_code == 200, listed.text
    assert [i["wraps"] for i in listed.json()["items"]] == [3] and listed.json()["purchases_seen"] == 1
    body = {"merchant_id": world["merchant"], "wraps": 2}
    added = requests.post(f"{base}/api/v1/example/gift-wraps", json=body, headers={**key, "Idempotency-Key": "gw-1"}, timeout=20)
    replay = requests.post(f"{base}/api/v1/example/gift-wraps", json=body, headers={**key, "Idempotency-Key": "gw-1"}, timeout=20)
    assert added.status_code == 200 and added.json()["wraps"] == 2 and added.json()["today"] == 5
    assert replay.json() == added.json() and replay.headers.get("Idempotent-Replayed") == "true"
    refused = requests.post(f"{base}/api/v1/example/gift-wraps", json={"merchant_id": world["merchant"] + 999, "wraps": 1},
                            headers={**key, "Idempotency-Key": "gw-2"}, timeout=20)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    csv = requests.get(f"{base}/api/v1/example/gift-wraps?format=csv", headers=key, timeout=20)
    assert csv.headers["Content-Type"].startswith("text/csv") and csv.text.startswith("id,merchant_id,wraps,at\n")
    assert requests.get(f"{base}/api/v1/example/gift-wraps", timeout=20).status_code == 401

    doc = requests.get(f"{base}/api/v1/openapi.json", timeout=20).json()
    op = doc["paths"]["/api/v1/example/gift-wraps"]["post"]
    assert op["summary"] == "Note gift wraps at a merchant" and op["tags"] == ["example"] and op["x-kimia-plugin"] == "example"
    assert op["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"

    session = requests.Session()
    login = session.get(f"{base}/panel/login", timeout=20)
    from web.panel.conftest import csrf_of

    signed = session.post(f"{base}/panel/login", data={"login": "admin1", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
                          allow_redirects=False, timeout=20)
    assert signed.status_code == 302, signed.text[-2000:]
    page = session.get(f"{base}/panel/example/gift-wraps", timeout=20)
    assert page.status_code == 200 and "بسته‌بندی هدیه" in page.text and "۳" in page.text
    assert 'href="/panel/example/gift-wraps"' in page.text  # its menu entry
    english = session.get(f"{base}/panel/example/gift-wraps?lang=en", timeout=20).text
    assert "Gift wraps" in english and "Purchases seen: 1" in english
    form_key = english.split('name="form_key" value="', 1)[1].split('"', 1)[0]
    posted = session.post(f"{base}/panel/example/gift-wraps", data={"merchant_id": str(world["merchant"]), "wraps": "4",
                          "form_key": form_key, "csrf_token": csrf_of(english)}, allow_redirects=False, timeout=20)
    assert posted.status_code in (302, 303), posted.text[-2000:]
    bad = session.post(f"{base}/panel/example/gift-wraps?lang=en", data={"merchant_id": str(world["merchant"]), "wraps": "x",
                       "form_key": form_key, "csrf_token": csrf_of(english)}, timeout=20)
    assert bad.status_code == 200 and 'aria-invalid="true"' in bad.text
