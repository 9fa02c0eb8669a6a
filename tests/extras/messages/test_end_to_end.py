"""A purchase through the API reaches the member as a text and a receiver as a signed webhook: the
outbox row written with the purchase, the delivery worker's fan-out (which adds the receipt's
summary), the club's template in Persian, the SMS channel and the webhook channel — the whole path,
with the parts each helper built apart."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from kimia.extras.messages.channels import FileSms, SmsChannel, WebhookChannel
from kimia.extras.notifications.worker import Worker

from .conftest import Api, Receiver


def test_a_purchase_is_texted_to_the_member_and_posted_to_the_club_s_webhook(api: Api, receiver: Receiver, tmp_path: Path) -> None:
    key = api.keys_of(api.a)["management"]
    assert api.put("/messages/templates/operation.committed/fa", key, {"enabled": True}).status_code == 200
    hook = api.post("/messages/webhooks", key, {"url": receiver.url, "events": ["operation.committed"]}).json
    member = api.members[api.a.club_id]
    sale = api.post("/purchases", api.keys_of(api.a)["integration"],
                    {"merchant_id": api.a.merchants["cafe"], "member": {"kind": "id", "value": str(member)}, "amount_rial": 1_250_000})
    assert sale.status_code == 201, sale.json
    texts = FileSms(tmp_path / "sms.jsonl")
    worker = Worker(api.service, channels=[SmsChannel(texts), WebhookChannel()], tasks=[])
    worker.run(once=True)
    worker.run(once=True)

    sent = [m for m in texts.messages() if m["id"].startswith("operation.committed:")]
    assert len(sent) == 1 and sent[0]["lang"] == "fa"
    assert "۱٬۲۵۰٬۰۰۰" in sent[0]["text"] and "1250000" not in sent[0]["text"], sent[0]["text"]
    # (The member's enrolment is an operation too, still waiting in the outbox when the webhook was
    # added: the endpoint gets it as well. The purchase is the one this test follows.)
    posted = [r for r in receiver.requests if json.loads(r["body"])["data"].get("op_id") == sale.json["op_id"]]
    assert len(posted) == 1
    body = json.loads(posted[0]["body"])
    assert body["data"]["op_id"] == sale.json["op_id"] and body["data"]["amount_rial"] == 1_250_000
    assert "summary" in body["data"], body["data"]  # the worker added the stored receipt's summary
    headers = posted[0]["headers"]
    assert headers["Kimia-Event-Id"] == body["id"] == sent[0]["id"]
    secret = hook["secret"].encode()
    expected = hmac.new(secret, f"{headers['Kimia-Timestamp']}.".encode() + posted[0]["body"], hashlib.sha256).hexdigest()
    assert headers["Kimia-Signature"] == f"v1={expected}"
    with api.service.reading() as tx:
        states = tx.all("SELECT d.channel, d.status FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id"
                        " WHERE e.uid = ?", (body["id"],))
    assert sorted(tuple(s) for s in states) == [("sms", "sent"), ("webhook", "sent")]
