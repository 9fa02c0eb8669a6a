"""The messages extra's API routes (management keys): templates, webhooks, deliveries and retry;
idempotent replays, refusals with their code and path, another club's things are 404, CSV."""

from __future__ import annotations

from kimia.plugins.types import Event

from .conftest import Api, add_delivery, emit
from web.conftest import count, refused


def _key(api: Api, club: str = "a", kind: str = "management") -> str:
    return api.keys_of(api.a if club == "a" else api.b)[kind]


def _failed(api: Api, key: str = "op-1", world: str = "a") -> tuple[Event, int]:
    club = (api.a if world == "a" else api.b).club_id
    event = emit(api.service, "operation.committed", club, key, {"kind": "purchase", "amount_rial": 10}, member_id=None)
    return event, add_delivery(api.service, event, "webhook", "1")


def test_templates_are_listed_read_and_changed(api: Api) -> None:
    key = _key(api)
    listed = api.get("/messages/templates", key)
    assert listed.status_code == 200 and listed.json["language"] == "fa"
    receipt = next(i for i in listed.json["items"] if i["event"] == "operation.committed")
    assert receipt["texts"]["fa"]["enabled"] is False and "{amount}" in receipt["texts"]["fa"]["text"]
    one = api.get("/messages/templates/tier.changed/en", key)
    assert one.status_code == 200 and "Gold" in one.json["preview"] and one.json["custom"] is False
    put = api.put("/messages/templates/tier.changed/en", key, {"text": "Now {to_tier}, {member_name}!", "enabled": True})
    assert put.status_code == 200 and put.json["text"] == "Now {to_tier}, {member_name}!" and put.json["enabled"] is True
    assert put.json["preview"] == "Now Gold, Maryam Rezaei!" and put.json["updated_at"]["jalali"].startswith("14")
    again = api.put("/messages/templates/tier.changed/en", key, {"text": "Now {to_tier}, {member_name}!", "enabled": True})
    assert again.status_code == 200 and again.json["text"] == put.json["text"]
    assert api.get("/messages/templates/tier.changed/en", _key(api, "b")).json["custom"] is False
    lang = api.put("/messages/language", key, {"language": "en"})
    assert lang.status_code == 200 and api.get("/messages/templates", key).json["language"] == "en"


def test_template_refusals_change_nothing(api: Api) -> None:
    key = _key(api)
    rows = count(api, "messages_templates")
    refused(api.put("/messages/templates/tier.changed/fa", key, {"text": "سطح {nope}"}), 422, "template_invalid", "text")
    refused(api.put("/messages/templates/tier.changed/fa", key, {"text": "سطح {to_tier"}), 422, "template_invalid", "text")
    refused(api.put("/messages/templates/tier.changed/fa", key, {}), 400, "field_required", "text")
    refused(api.put("/messages/templates/tier.changed/fa", key, {"enabled": "yes"}), 400, "field_invalid", "enabled")
    refused(api.put("/messages/templates/tier.changed/fa", key, {"text": 5}), 400, "field_invalid", "text")
    refused(api.put("/messages/templates/nope/fa", key, {"text": "x"}), 404, "not_found", "event")
    refused(api.get("/messages/templates/tier.changed/de", key), 400, "field_invalid", "lang")
    refused(api.put("/messages/language", key, {"language": "de"}), 400, "field_invalid", "language")
    refused(api.put("/messages/language", key, {}), 400, "field_required", "language")
    assert count(api, "messages_templates") == rows
    for kind in ("integration", "member"):
        assert api.get("/messages/templates", _key(api, kind=kind)).status_code == 403
    assert api.get("/messages/templates", api.keys["platform"]).status_code == 403


def test_webhooks_add_once_list_and_disable(api: Api) -> None:
    key = _key(api)
    first = api.post("/messages/webhooks", key, {"url": "https://hooks.example.ir/kimia", "events": ["operation.committed"]},
                     idem="wh-1")
    assert first.status_code == 201 and len(first.json["secret"]) == 64 and first.json["active"] is True
    replay = api.post("/messages/webhooks", key, {"url": "https://hooks.example.ir/kimia", "events": ["operation.committed"]},
                      idem="wh-1")
    # The secret is shown once: the API never keeps it, so the replay answers it as null.
    assert replay.json == {**first.json, "secret": None} and count(api, "messages_webhooks") == 1
    with api.service.reading() as tx:
        kept = [str(r[0]) for r in tx.all("SELECT response FROM api_requests")]
    assert not any(first.json["secret"] in r for r in kept)
    listed = api.get("/messages/webhooks", key).json["items"]
    assert [h["id"] for h in listed] == [first.json["id"]] and "secret" not in listed[0]
    assert api.get("/messages/webhooks", _key(api, "b")).json["items"] == []
    refused(api.post("/messages/webhooks", key, {"url": "ftp://x.ir", "events": "*"}), 400, "field_invalid", "url")
    refused(api.post("/messages/webhooks", key, {"events": "*"}), 400, "field_required", "url")
    refused(api.post("/messages/webhooks", key, {"url": "https://x.ir"}), 400, "field_required", "events")
    refused(api.post("/messages/webhooks", key, {"url": "https://x.ir", "events": ["Not An Event"]}), 400, "field_invalid", "events")
    assert count(api, "messages_webhooks") == 1
    refused(api.delete(f"/messages/webhooks/{first.json['id']}", _key(api, "b")), 404, "not_found", "webhook_id")
    gone = api.delete(f"/messages/webhooks/{first.json['id']}", key)
    assert gone.status_code == 204
    assert api.get("/messages/webhooks", key).json["items"][0]["active"] is False
    assert api.delete(f"/messages/webhooks/{first.json['id']}", key).status_code == 204  # disabling twice is one change
    with api.service.reading() as tx:
        assert tx.one("SELECT COUNT(*) FROM audit_log WHERE action = 'messages.webhook_disable'")[0] == 1


def test_deliveries_are_listed_newest_first_filtered_paged_and_as_csv(api: Api) -> None:
    key = _key(api)
    event, failed = _failed(api)
    sent = add_delivery(api.service, event, "sms", "+989121234567", status="sent", last_error=None)
    _failed(api, "op-b", "b")
    everything = api.get("/messages/deliveries", key).json
    assert [d["id"] for d in everything["items"]] == [sent, failed] and everything["next_cursor"] is None
    assert everything["items"][0]["target"] == "+98912***4567" and everything["items"][0]["sent_at"]["jalali"]
    only = api.get("/messages/deliveries", key, status="failed").json["items"]
    assert [d["id"] for d in only] == [failed] and only[0]["last_error"] == "the endpoint answered 500"
    page = api.get("/messages/deliveries", key, limit=1).json
    assert [d["id"] for d in page["items"]] == [sent] and page["next_cursor"]
    rest = api.get("/messages/deliveries", key, limit=1, cursor=page["next_cursor"]).json
    assert [d["id"] for d in rest["items"]] == [failed]
    refused(api.get("/messages/deliveries", key, status="lost"), 400, "field_invalid", "status")
    refused(api.get("/messages/deliveries", key, limit=500), 400, "field_invalid", "limit")
    refused(api.get("/messages/deliveries", key, cursor="abc"), 400, "invalid_cursor", "cursor")
    csv = api.get("/messages/deliveries", key, format="csv")
    text = csv.get_data(as_text=True)
    assert csv.headers["Content-Type"].startswith("text/csv") and text.splitlines()[0].startswith("id,event_id,event")
    assert "the endpoint answered 500" in text and len(text.splitlines()) == 3


def test_a_failed_delivery_is_retried_once_with_an_audit_row(api: Api) -> None:
    key = _key(api)
    _, failed = _failed(api)
    refused(api.post(f"/messages/deliveries/{failed}/retry", key, {}), 422, "reason_required", "reason")
    refused(api.post(f"/messages/deliveries/{failed}/retry", _key(api, "b"), {"reason": "x"}), 404, "unknown_delivery")
    first = api.post(f"/messages/deliveries/{failed}/retry", key, {"reason": "the receiver is back"}, idem="r-1")
    assert first.status_code == 200 and first.json["status"] == "pending" and first.json["attempts"] == 8
    replay = api.post(f"/messages/deliveries/{failed}/retry", key, {"reason": "the receiver is back"}, idem="r-1")
    assert replay.json == first.json
    refused(api.post(f"/messages/deliveries/{failed}/retry", key, {"reason": "again"}), 409, "delivery_not_retryable", "delivery_id")
    with api.service.reading() as tx:
        row = tx.one("SELECT status, next_at, lease_until FROM outbox_deliveries WHERE id = ?", (failed,))
        audits = tx.all("SELECT actor, reason FROM audit_log WHERE action = 'messages.retry'")
    assert row[0] == "pending" and row[1] == api.service.clock() and row[2] == 0
    assert len(audits) == 1 and audits[0][1] == "the receiver is back" and audits[0][0]
    refused(api.post("/messages/deliveries/999999/retry", key, {"reason": "x"}), 404, "unknown_delivery", "delivery_id")
