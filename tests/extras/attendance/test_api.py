"""The attendance API routes: happy paths, refusals with code and path, idempotent replays,
another club's things answered 404, CSV. On SQLite and PostgreSQL (the ``api`` world: clubs A and
B, keys of every kind; ``merchant`` is an integration key bound to the club's cafe)."""

from __future__ import annotations

from typing import Any

from service.builders import FakeClock
from web.conftest import Api, api, clock, count, refused  # noqa: F401  (fixtures)


def keys(api: Api, world: Any = None) -> dict[str, str]:  # noqa: F811
    return api.keys_of(world or api.a)


def register(api: Api, key: str, code: str, name: str, merchant_id: int | None = None, **kw: Any) -> Any:  # noqa: F811
    body: dict[str, Any] = {"code": code, "name": name}
    if merchant_id is not None:
        body["merchant_id"] = merchant_id
    return api.post("/attendance/staff", key, body, **kw)


def test_staff_are_registered_listed_and_disabled(api: Api) -> None:  # noqa: F811
    a, cafe = keys(api), api.a.merchants["cafe"]
    first = register(api, a["management"], "6037991234567893", "مریم", cafe, idem="reg-1")
    assert first.status_code == 201, first.json
    staff = first.json
    assert staff["name"] == "مریم" and staff["code_last4"] == "7893" and staff["active"] is True and staff["merchant_id"] == cafe
    assert "at_jalali" in staff["created_at"] and "6037991234567893" not in first.get_data(as_text=True)
    again = register(api, a["management"], "6037991234567893", "مریم", cafe, idem="reg-1")
    assert again.json == staff and again.headers.get("Idempotent-Replayed") == "true"
    assert count(api, "attendance_staff") == 1
    # The merchant's own key registers at its merchant without naming it.
    own = register(api, a["merchant"], "12", "علی")
    assert own.status_code == 201 and own.json["merchant_id"] == cafe
    listed = api.get("/attendance/staff", a["management"], merchant_id=cafe)
    assert [s["name"] for s in listed.json["items"]] == ["مریم", "علی"] and listed.json["next_cursor"] is None
    paged = api.get("/attendance/staff", a["management"], limit=1)
    assert len(paged.json["items"]) == 1 and paged.json["next_cursor"]
    rest = api.get("/attendance/staff", a["management"], limit=1, cursor=paged.json["next_cursor"])
    assert [s["name"] for s in rest.json["items"]] == ["علی"]
    assert [s["name"] for s in api.get("/attendance/staff", a["merchant"]).json["items"]] == ["مریم", "علی"]
    off = api.post(f"/attendance/staff/{staff['id']}/disable", a["merchant"], {"reason": "left"})
    assert off.status_code == 200 and off.json["active"] is False
    on = api.post(f"/attendance/staff/{staff['id']}/enable", a["management"], {})
    assert on.json["active"] is True
    with api.service.reading() as tx:
        audit = tx.all("SELECT action, actor, reason FROM audit_log WHERE action LIKE 'attendance.%' ORDER BY id")
    assert [r[0] for r in audit] == ["attendance.staff_register", "attendance.staff_register", "attendance.staff_disable",
                                     "attendance.staff_enable"] and audit[2][2] == "left"


def test_staff_refusals(api: Api) -> None:  # noqa: F811
    a, b, cafe = keys(api), keys(api, api.b), api.a.merchants["cafe"]
    register(api, a["management"], "4521", "مریم", cafe)
    before = count(api, "attendance_staff")
    refused(register(api, a["management"], "4521", "دیگری", cafe), 409, "staff_code_taken", "code")
    refused(register(api, a["management"], "", "x", cafe), 400, "field_required", "code")
    refused(register(api, a["management"], "!!", "x", cafe), 400, "field_invalid", "code")
    refused(register(api, a["management"], "5555", "", cafe), 400, "field_required", "name")
    refused(register(api, a["management"], "5555", "x"), 400, "field_required", "merchant_id")
    refused(register(api, a["management"], "5555", "x", api.b.merchants["cafe"]), 404, "unknown_merchant", "merchant_id")
    refused(register(api, a["merchant"], "5555", "x", api.a.merchants["restaurant"]), 404, "unknown_merchant", "merchant_id")
    refused(register(api, a["integration"], "5555", "x", cafe), 403, "forbidden")
    assert register(api, a["member"], "5555", "x", cafe).status_code == 403
    assert count(api, "attendance_staff") == before
    staff_id = api.get("/attendance/staff", a["management"]).json["items"][0]["id"]
    refused(api.post(f"/attendance/staff/{staff_id}/disable", b["management"], {}), 404, "not_found", "staff_id")
    refused(api.post(f"/attendance/staff/{staff_id}/disable", b["merchant"], {}), 404, "not_found", "staff_id")
    assert api.get("/attendance/staff", b["management"]).json["items"] == []
    refused(api.get("/attendance/staff", b["management"], merchant_id=cafe), 404, "unknown_merchant")


def test_clock_records_corrections_and_report(api: Api, clock: FakeClock) -> None:  # noqa: F811
    a, b, cafe = keys(api), keys(api, api.b), api.a.merchants["cafe"]
    register(api, a["management"], "4521", "مریم", cafe)
    clock.advance(hours=1)
    first = api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "in"}, idem="in-1")
    assert first.status_code == 200, first.json
    assert first.json["direction"] == "in" and first.json["staff"]["name"] == "مریم" and first.json["source"] == "api"
    again = api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "in"}, idem="in-1")
    assert again.json == first.json and count(api, "attendance_records") == 1
    refused(api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "in"}), 409, "already_clocked_in", "code")
    refused(api.post("/attendance/clock", a["merchant"], {"code": "0000", "direction": "in"}), 404, "unknown_staff", "code")
    refused(api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "up"}), 400, "field_invalid", "direction")
    refused(api.post("/attendance/clock", a["management"], {"code": "4521", "direction": "out"}), 403, "forbidden")
    refused(api.post("/attendance/clock", b["merchant"], {"code": "4521", "direction": "out"}), 404, "unknown_staff")
    clock.advance(hours=8, minutes=30)
    out = api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "out"})
    assert out.status_code == 200
    refused(api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "out"}), 409, "not_clocked_in", "code")
    assert count(api, "attendance_records") == 2
    with api.service.reading() as tx:  # each clock is an outbox event (webhooks), written with it
        events = tx.all("SELECT uid, payload FROM outbox_events WHERE event = 'attendance.clocked' ORDER BY id")
    assert [uid for uid, _ in events] == [f"attendance.clocked:{api.a.club_id}:{first.json['id']}",
                                          f"attendance.clocked:{api.a.club_id}:{out.json['id']}"]

    listed = api.get("/attendance/records", a["management"], merchant_id=cafe)
    assert [r["direction"] for r in listed.json["items"]] == ["in", "out"]
    assert api.get("/attendance/records", a["merchant"]).json["items"] == listed.json["items"]
    assert api.get("/attendance/records", b["management"]).json["items"] == []
    refused(api.get("/attendance/records", b["management"], merchant_id=cafe), 404, "unknown_merchant")
    refused(api.get("/attendance/records", a["management"], **{"from": "2026-13-40"}), 400, "field_invalid", "from")

    report = api.get("/attendance/report", a["management"], merchant_id=cafe)
    person = report.json["items"][0]
    assert person["name"] == "مریم" and person["days_present"] == 1 and person["minutes"] == 510 and person["open_records"] == 0

    # A correction: the clock-out was 30 minutes late; replace it (void + new), with a reason.
    out_id = out.json["id"]
    before_audit = count(api, "audit_log")
    refused(api.post("/attendance/corrections", a["merchant"], {"record_id": out_id, "at": out.json["at"]["at"]}), 422,
            "reason_required", "reason")
    refused(api.post("/attendance/corrections", b["management"], {"record_id": out_id, "reason": "x"}), 404, "not_found", "record_id")
    refused(api.post("/attendance/corrections", a["management"], {"reason": "x"}), 400, "field_required", "record_id")
    earlier = out.json["at"]["at"].replace("T", " ")
    fixed = api.post("/attendance/corrections", a["merchant"],
                     {"record_id": out_id, "at": _minus_30(out.json["at"]["at"]), "reason": "forgot to clock out"}, idem="fix-1")
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["voided"]["id"] == out_id and fixed.json["voided"]["voided"]["reason"] == "forgot to clock out"
    assert fixed.json["added"]["corrects"] == out_id and fixed.json["added"]["kind"] == "correction" and earlier
    replay = api.post("/attendance/corrections", a["merchant"],
                      {"record_id": out_id, "at": _minus_30(out.json["at"]["at"]), "reason": "forgot to clock out"}, idem="fix-1")
    assert replay.json == fixed.json and count(api, "attendance_records") == 4 and count(api, "audit_log") == before_audit + 1
    with api.service.reading() as tx:
        audit = tx.one("SELECT actor, reason FROM audit_log WHERE action = 'attendance.correct'")
    assert audit[1] == "forgot to clock out" and audit[0]
    refused(api.post("/attendance/corrections", a["merchant"], {"record_id": out_id, "reason": "again"}), 400, "invalid_request",
            "record_id")
    report = api.get("/attendance/report", a["merchant"]).json["items"][0]
    assert report["minutes"] == 480 and report["open_records"] == 0
    csv = api.get("/attendance/report", a["management"], merchant_id=cafe, format="csv")
    text = csv.get_data(as_text=True)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv.headers.get("Content-Disposition", "")
    assert text.splitlines()[0].lstrip("\ufeff").startswith("merchant_id,merchant,staff_id,name")
    assert ",مریم,4521," in text and ",480,8.00,0" in text

    # Add a missing clock-in for a person, then void it alone.
    staff_id = person["staff_id"]
    missing = api.post("/attendance/corrections", a["management"],
                       {"staff_id": staff_id, "direction": "in", "at": _minus_30(first.json["at"]["at"]), "reason": "paper sheet"})
    assert missing.status_code == 200 and missing.json["voided"] is None and missing.json["added"]["direction"] == "in"
    refused(api.post("/attendance/corrections", a["management"], {"staff_id": staff_id, "at": first.json["at"]["at"], "reason": "x"}),
            400, "field_required", "direction")
    refused(api.post("/attendance/corrections", b["management"],
                     {"staff_id": staff_id, "direction": "in", "at": first.json["at"]["at"], "reason": "x"}), 404, "not_found", "staff_id")
    gone = api.post("/attendance/corrections", a["management"], {"record_id": missing.json["added"]["id"], "reason": "wrong"})
    assert gone.json["added"] is None and gone.json["voided"]["voided"] is not None
    late = api.post("/attendance/corrections", a["management"],
                    {"staff_id": staff_id, "direction": "out", "at": "2100-01-01T00:00:00+03:30", "reason": "x"})
    refused(late, 400, "field_invalid", "at")


def _minus_30(iso: str) -> str:
    import datetime as dt

    return (dt.datetime.fromisoformat(iso) - dt.timedelta(minutes=30)).isoformat()


def test_a_forgotten_clock_out_is_an_open_record_and_does_not_block_the_next_day(api: Api, clock: FakeClock) -> None:  # noqa: F811
    a, cafe = keys(api), api.a.merchants["cafe"]
    register(api, a["management"], "4521", "مریم", cafe)
    assert api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "in"}).status_code == 200
    clock.advance(days=1)
    assert api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "in"}).status_code == 200
    clock.advance(hours=2)
    assert api.post("/attendance/clock", a["merchant"], {"code": "4521", "direction": "out"}).status_code == 200
    listed = api.get("/attendance/records", a["merchant"])
    first_day = listed.json["from"]
    report = api.get("/attendance/report", a["merchant"], **{"from": _day_before(first_day)}).json["items"][0]
    assert report["days_present"] == 2 and report["minutes"] == 120 and report["open_records"] == 1
    jalali = api.get("/attendance/report", a["merchant"], **{"from": "1300/01/01", "to": "1300/01/02"})
    assert jalali.status_code == 200 and jalali.json["items"][0]["days_present"] == 0
    refused(api.get("/attendance/report", a["merchant"], format="xml"), 400, "field_invalid", "format")
    refused(api.get("/attendance/report", a["merchant"], **{"from": "2026-02-02", "to": "2026-01-01"}), 400, "field_invalid", "to")
    refused(api.get("/attendance/records", a["merchant"], cursor="nonsense"), 400, "invalid_cursor", "cursor")


def _day_before(iso_day: str) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(iso_day) - dt.timedelta(days=1)).isoformat()
