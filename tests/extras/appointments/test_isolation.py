"""Every appointments route, sent by club B's keys of every kind (and the platform key) naming club
A's things, is refused and changes nothing; and the extra imports nothing of kimia but the plugin
contract and the panel's formatting (the contract's rule for extras)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from kimia.extras import appointments
from web.conftest import Api

from .conftest import TOMORROW, setup_day

APPOINTMENT_TABLES = ("appointments_services", "appointments_slots", "appointments_bookings", "appointments_settings",
                      "appointments_requests", "audit_log", "outbox_events")
REFUSED = {401, 403, 404, 409, 422}


def fingerprint(api: Api) -> tuple[Any, ...]:
    with api.service.reading() as tx:
        counts = tuple(int(tx.one(f"SELECT COUNT(*) FROM {t}")[0]) for t in APPOINTMENT_TABLES)
        states = tuple(tuple(r) for r in tx.all("SELECT id, status, taken FROM appointments_slots ORDER BY id"))
        bookings = tuple(tuple(r) for r in tx.all("SELECT id, status, seat FROM appointments_bookings ORDER BY id"))
    return counts, states, bookings


def test_club_b_never_reads_or_changes_club_as_appointments(api: Api) -> None:
    day = setup_day(api)
    a_keys = api.keys_of(api.a)
    booking = api.post("/appointments/bookings", a_keys["member"], {"slot_id": day.slot_ids[0]}).json["id"]
    cafe = api.a.merchants["cafe"]
    probes: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
        ("GET", f"/appointments/bookings/{booking}", None, {}),
        ("GET", "/appointments/settings", None, {"merchant_id": cafe}),
        ("POST", "/appointments/settings", {"merchant_id": cafe, "cancel_before_hours": 1}, {}),
        ("POST", "/appointments/services", {"merchant_id": cafe, "name_fa": "x", "duration_min": 30}, {}),
        ("POST", "/appointments/slots", {"service_id": day.service_id, "from": TOMORROW, "start": "15:00"}, {}),
        ("POST", f"/appointments/slots/{day.slot_ids[1]}/close", {}, {}),
        ("POST", "/appointments/bookings", {"slot_id": day.slot_ids[1], "member": f"A:{api.service.account_number(api.members[api.b.club_id])}"}, {}),
        ("POST", f"/appointments/bookings/{booking}/cancel", {"reason": "x"}, {}),
        ("POST", f"/appointments/bookings/{booking}/confirm", {}, {}),
        ("POST", f"/appointments/bookings/{booking}/check-in", {}, {}),
        ("POST", f"/appointments/bookings/{booking}/no-show", {}, {}),
    ]
    lists = [("/appointments/services", {}), ("/appointments/slots", {"from": TOMORROW}), ("/appointments/bookings", {"day": TOMORROW}),
             ("/appointments/merchants", {}), ("/appointments/bookings", {"merchant_id": cafe}),
             ("/appointments/slots", {"merchant_id": cafe, "from": TOMORROW})]
    keys = {f"club B's {kind}": key for kind, key in api.keys_of(api.b).items()} | {"the platform": api.keys["platform"]}
    failures = []
    for who, key in keys.items():
        for method, path, body, query in probes:
            before = fingerprint(api)
            r = api.post(path, key, body) if method == "POST" else api.get(path, key, **query)
            if r.status_code not in REFUSED:
                failures.append(f"{method} {path} as {who}: {r.status_code}")
            if fingerprint(api) != before:
                failures.append(f"{method} {path} as {who}: changed club A's appointments")
        for path, query in lists:
            r = api.get(path, key, **query)
            if r.status_code == 200 and r.json.get("items"):
                failures.append(f"GET {path} {query} as {who}: listed {r.json['items']}")
            elif r.status_code not in REFUSED | {200, 400}:  # 400: the website must name a member
                failures.append(f"GET {path} {query} as {who}: {r.status_code}")
    assert not failures, "\n".join(failures)


def test_the_extra_imports_only_the_plugin_contract_and_the_panels_formatting() -> None:
    allowed = ("kimia.plugins", "kimia.web.panel.fmt", "kimia.extras.appointments")
    package = Path(appointments.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module + ("." + a.name if node.module == "kimia.web.panel" else "") for a in node.names]
            found += [f"{path.name}: {n}" for n in names if n.startswith("kimia") and not n.startswith(allowed)]
    assert not found, found
