"""The messages extra's channels against local fakes: an SMS gateway over HTTP that fails the first
times, the file and console sinks, a local SMTP server, and a webhook receiver that verifies the
signature and drops repeats by event id."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from kimia.extras.messages import channels, store
from kimia.extras.messages.channels import EmailChannel, FileSms, HttpSms, SmsChannel, SmtpSettings, WebhookChannel
from kimia.plugins.types import DeliveryFailed, Refusal

from .conftest import Api, Mailbox, Receiver, add_delivery, delivery, emit, free_port


def _purchase(api: Api, key: str = "op-1", **extra: Any) -> Any:
    club = api.a.club_id
    member = api.members[club]
    payload = {"kind": "purchase", "op_id": 1, "member_id": member, "merchant_id": api.a.merchants["cafe"],
               "amount_rial": 1_250_000, "points_earned": 125, "points_balance": 3400, **extra}
    return emit(api.service, "operation.committed", club, key, payload, member_id=member)


def _enable(api: Api, event: str = "operation.committed", lang: str = "fa") -> None:
    store.save_text(api.service.plugin_services, club_id=api.a.club_id, actor="test", event=event, lang=lang, text=None,
                    enabled=True)


# --- SMS -----------------------------------------------------------------------------------------------------


def test_sms_targets_the_members_mobile_only_when_the_club_turned_the_message_on(api: Api) -> None:
    services = api.service.plugin_services
    channel = SmsChannel()
    event = _purchase(api)
    assert channel.targets(event, services) == []  # every message is off until the club turns it on
    _enable(api)
    mobile = services.member(api.a.club_id, api.members[api.a.club_id]).mobile
    assert mobile and channel.targets(event, services) == [mobile]
    refund = emit(api.service, "operation.committed", api.a.club_id, "op-2", {"kind": "refund"}, member_id=api.members[api.a.club_id])
    assert channel.targets(refund, services) == []  # the receipt template speaks for purchases only
    no_member = emit(api.service, "lottery.drawn", api.a.club_id, "l-1", {"lottery": "x", "winners": [1]})
    assert channel.targets(no_member, services) == []


def test_sms_over_http_retries_429_and_5xx_then_sends_with_the_token(api: Api, receiver: Receiver) -> None:
    services = api.service.plugin_services
    _enable(api)
    event = _purchase(api)
    mobile = channels.SmsChannel().targets(event, services)[0]
    channel = SmsChannel(HttpSms(receiver.url, "tok-123"))
    receiver.answers = [500, 429, 503]
    for attempt in (1, 2, 3):
        with pytest.raises(DeliveryFailed) as failed:
            channel.deliver(delivery(event, "sms", mobile, attempt), services)
        assert failed.value.retry is True and "tok-123" not in failed.value.reason
    channel.deliver(delivery(event, "sms", mobile, 4), services)
    assert len(receiver.requests) == 4
    last = receiver.requests[-1]
    body = json.loads(last["body"])
    assert last["headers"]["Authorization"] == "Bearer tok-123"
    assert body["to"] == mobile and body["id"] == event.id
    assert "۱٬۲۵۰٬۰۰۰ ریال" in body["text"] and "۱۲۵" in body["text"] and "عضو 1 عزیز" in body["text"]
    assert "از کافه" in body["text"] and "باشگاه کیمیا" in body["text"]  # the merchant's and club's Persian names


def test_sms_over_http_gives_up_on_another_4xx_and_retries_when_nobody_answers(api: Api, receiver: Receiver) -> None:
    services = api.service.plugin_services
    _enable(api)
    event = _purchase(api)
    receiver.answers = [400]
    with pytest.raises(DeliveryFailed) as failed:
        SmsChannel(HttpSms(receiver.url, "t")).deliver(delivery(event, "sms", "+989120000000"), services)
    assert failed.value.retry is False
    with pytest.raises(DeliveryFailed) as failed:
        SmsChannel(HttpSms(f"http://127.0.0.1:{free_port()}/none", "t", timeout=2)).deliver(delivery(event, "sms", "+98912"), services)
    assert failed.value.retry is True and "no answer" in failed.value.reason


def test_sms_file_sink_in_english_when_the_club_chose_english(api: Api, tmp_path: Any, capsys: Any) -> None:
    services = api.service.plugin_services
    store.save_lang(services, club_id=api.a.club_id, actor="test", lang="en")
    _enable(api, lang="en")
    event = _purchase(api)
    sink = FileSms(tmp_path / "sms.jsonl")
    SmsChannel(sink).deliver(delivery(event, "sms", "+989120000001"), services)
    [line] = sink.messages()
    assert line["mobile"] == "+989120000001" and line["lang"] == "en" and line["id"] == event.id
    assert "1,250,000 rials" in line["text"] and "125" in line["text"]
    assert (tmp_path / "sms.jsonl").stat().st_mode & 0o777 == 0o600
    channels.ConsoleSms().send("+98912", "hello", id="x", club_id=1)
    assert "hello" in capsys.readouterr().err


def test_a_message_the_club_turned_off_after_fan_out_is_given_up(api: Api) -> None:
    event = _purchase(api)
    with pytest.raises(DeliveryFailed) as failed:
        SmsChannel(FileSms("/nonexistent/never")).deliver(delivery(event, "sms", "+98912"), api.service.plugin_services)
    assert failed.value.retry is False


def test_the_gateway_is_chosen_by_the_setting() -> None:
    assert isinstance(channels.sms_gateway("file:/tmp/x", None), FileSms)
    assert isinstance(channels.sms_gateway("https://sms.example/send", "t"), HttpSms)
    assert isinstance(channels.sms_gateway(None, None), channels.ConsoleSms)


# --- e-mail --------------------------------------------------------------------------------------------------


def test_email_goes_to_the_recipients_of_the_event_over_smtp(api: Api, smtp_server: Mailbox) -> None:
    services = api.service.plugin_services
    club = api.a.club_id
    store.add_recipient(services, club_id=club, actor="test", email="owner@example.ir", events="lottery.drawn", idem_key="r1")
    store.add_recipient(services, club_id=club, actor="test", email="all@example.ir", events="*", idem_key="r2")
    drawn = emit(api.service, "lottery.drawn", club, "lot-1", {"lottery": "قرعه‌کشی پاییز", "winners": [1, 2, 3]})
    channel = EmailChannel(SmtpSettings(f"smtp://user:pw@{smtp_server.host}:{smtp_server.port}", "club@example.ir"))
    assert channel.targets(drawn, services) == ["all@example.ir", "owner@example.ir"]
    enrolled = emit(api.service, "member.enrolled", club, "m-1", {"via": "pos"}, member_id=api.members[club])
    assert channel.targets(enrolled, services) == ["all@example.ir"]
    assert EmailChannel().targets(emit(api.service, "member.enrolled", api.b.club_id, "m-2", {}), services) == []
    channel.deliver(delivery(drawn, "email", "owner@example.ir"), services)
    [mail] = smtp_server.messages
    text = mail["data"].decode()
    assert mail["to"] == ["owner@example.ir"] and mail["from"] == "club@example.ir" and mail["auth"]
    from email import message_from_bytes, policy
    parsed = message_from_bytes(mail["data"], policy=policy.default)
    assert "قرعه‌کشی" in str(parsed["Subject"]) and "باشگاه کیمیا" in str(parsed["Subject"])
    assert "قرعه‌کشی پاییز" in parsed.get_content() and "۳" in parsed.get_content() and text
    channel.deliver(delivery(enrolled, "email", "all@example.ir"), services)  # no template: the event and its payload
    assert "member.enrolled" in message_from_bytes(smtp_server.messages[-1]["data"], policy=policy.default).get_content()


def test_email_refused_recipients_give_up_and_a_missing_server_retries(api: Api, smtp_server: Mailbox) -> None:
    services = api.service.plugin_services
    event = emit(api.service, "lottery.drawn", api.a.club_id, "lot-2", {"lottery": "x", "winners": []})
    smtp_server.refuse = 550
    channel = EmailChannel(SmtpSettings(f"smtp://{smtp_server.host}:{smtp_server.port}"))
    with pytest.raises(DeliveryFailed) as failed:
        channel.deliver(delivery(event, "email", "nobody@example.ir"), services)
    assert failed.value.retry is False
    smtp_server.refuse = 451
    with pytest.raises(DeliveryFailed) as failed:
        channel.deliver(delivery(event, "email", "later@example.ir"), services)
    assert failed.value.retry is True
    with pytest.raises(DeliveryFailed) as failed:
        EmailChannel(SmtpSettings(f"smtp://127.0.0.1:{free_port()}")).deliver(delivery(event, "email", "a@b.ir"), services)
    assert failed.value.retry is True
    with pytest.raises(DeliveryFailed, match="KIMIA_SMTP_URL"):
        EmailChannel().deliver(delivery(event, "email", "a@b.ir"), services)  # the tests' settings name no server


# --- webhooks ----------------------------------------------------------------------------------------------------


class VerifyingReceiver:
    """What a club's receiver does: check the signature, drop repeats by event id."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen: set[str] = set()
        self.accepted: list[dict[str, Any]] = []

    def take(self, request: dict[str, Any]) -> bool:
        headers, body = request["headers"], request["body"]
        stamp = headers["Kimia-Timestamp"]
        wanted = "v1=" + hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(wanted, headers["Kimia-Signature"]), "a bad signature"
        data = json.loads(body)
        assert data["id"] == headers["Kimia-Event-Id"]
        if data["id"] in self.seen:
            return False
        self.seen.add(data["id"])
        self.accepted.append(data)
        return True


def test_webhooks_are_signed_and_a_repeat_carries_the_same_event_id(api: Api, receiver: Receiver) -> None:
    services = api.service.plugin_services
    club = api.a.club_id
    hook, secret = store.add_webhook(services, club_id=club, actor="test", url=receiver.url,
                                     events=["operation.committed", "member.enrolled"], idem_key="w1")
    assert secret and len(secret) == 64
    with api.service.reading() as tx:
        sealed = tx.one("SELECT secret FROM messages_webhooks WHERE id = ?", (hook["id"],))[0]
    assert secret not in sealed  # stored sealed
    other, _ = store.add_webhook(services, club_id=club, actor="test", url=receiver.url, events="tier.changed", idem_key="w2")
    channel = WebhookChannel()
    event = _purchase(api, "op-9")
    assert channel.targets(event, services) == [str(hook["id"])]
    assert channel.targets(emit(api.service, "operation.committed", api.b.club_id, "op-9", {"kind": "purchase"}), services) == []
    receiver.answers = [502]
    with pytest.raises(DeliveryFailed) as failed:
        channel.deliver(delivery(event, "webhook", str(hook["id"])), services)
    assert failed.value.retry is True
    channel.deliver(delivery(event, "webhook", str(hook["id"]), 2), services)
    channel.deliver(delivery(event, "webhook", str(hook["id"]), 3), services)  # at least once: a repeat after a crash
    verify = VerifyingReceiver(secret)
    taken = [verify.take(r) for r in receiver.requests]
    assert taken == [True, False, False]  # the first (answered 502) was taken, repeats dropped by id
    data = verify.accepted[0]
    assert data["event"] == "operation.committed" and data["club_id"] == club and data["id"] == event.id
    assert data["data"]["amount_rial"] == 1_250_000 and data["created_at"].endswith("Z")
    assert other["id"] != hook["id"]


def test_a_410_disables_the_endpoint_and_gives_up(api: Api, receiver: Receiver) -> None:
    services = api.service.plugin_services
    hook, _ = store.add_webhook(services, club_id=api.a.club_id, actor="test", url=receiver.url, events="*", idem_key="w3")
    event = _purchase(api, "op-10")
    receiver.answers = [410]
    with pytest.raises(DeliveryFailed) as failed:
        WebhookChannel().deliver(delivery(event, "webhook", str(hook["id"])), services)
    assert failed.value.retry is False
    [now] = store.webhooks(services, api.a.club_id)
    assert now["active"] is False and now["disabled_reason"] == "410 Gone"
    assert WebhookChannel().targets(event, services) == []
    with pytest.raises(DeliveryFailed) as failed:
        WebhookChannel().deliver(delivery(event, "webhook", str(hook["id"])), services)
    assert failed.value.retry is False


def test_a_test_event_goes_to_the_one_endpoint_it_names(api: Api, receiver: Receiver) -> None:
    services = api.service.plugin_services
    club = api.a.club_id
    first, secret = store.add_webhook(services, club_id=club, actor="test", url=receiver.url, events="tier.changed", idem_key="w4")
    store.add_webhook(services, club_id=club, actor="test", url=receiver.url, events="*", idem_key="w5")
    uid = store.test_webhook(services, club_id=club, actor="admin", webhook_id=first["id"], idem_key="t1")
    from .conftest import event_of
    event = event_of(api.service, uid)
    assert WebhookChannel().targets(event, services) == [str(first["id"])]
    store.add_recipient(services, club_id=club, actor="test", email="all@example.ir", events="*", idem_key="r9")
    assert EmailChannel().targets(event, services) == [] and SmsChannel().targets(event, services) == []
    WebhookChannel().deliver(delivery(event, "webhook", str(first["id"])), services)
    assert secret and VerifyingReceiver(secret).take(receiver.requests[0])


def test_only_http_addresses_are_taken(api: Api) -> None:
    services = api.service.plugin_services
    for url in ("ftp://example.ir/x", "javascript:alert(1)", "file:///etc/passwd", "http//x"):
        with pytest.raises(Refusal) as refused:
            store.add_webhook(services, club_id=api.a.club_id, actor="test", url=url, events="*", idem_key=url)
        assert refused.value.code == "field_invalid" and refused.value.path == "url"
    assert store.webhooks(services, api.a.club_id) == []


def test_a_delivery_row_the_worker_would_keep(api: Api) -> None:
    event = _purchase(api, "op-11")
    found = add_delivery(api.service, event, "sms", "+989120000000")
    items, _ = store.deliveries(api.service.plugin_services, api.a.club_id, status="failed", limit=10, before=None)
    assert [d["id"] for d in items] == [found] and items[0]["target"] == "+98912***0000"


def test_the_built_in_plugin_registers_the_three_channels() -> None:
    from kimia.plugins import make_plugin_manager

    pm = make_plugin_manager(load_entry_points=False)
    names = [c.name for found in pm.hook.kimia_register_notification_channels() for c in found]
    assert {"sms", "email", "webhook"} <= set(names) and len(names) == len(set(names))


def test_the_channels_read_their_settings_through_the_services(db_url: str, receiver: Receiver, smtp_server: Mailbox) -> None:
    from conftest import assembled
    from service.builders import FakeClock, build_club, mobile

    clock = FakeClock()
    svc = assembled(db_url, clock=clock, sms=receiver.url, sms_token="from-settings",
                    smtp_url=f"smtp://{smtp_server.host}:{smtp_server.port}", smtp_from="club@example.ir")
    try:
        world = build_club(svc, clock)
        member = world.enroll(identifiers=[("mobile", mobile(3_000_001))], name_fa="سارا")
        services = svc.plugin_services
        assert services.setting("sms_token") == "from-settings" and services.setting("card_key") is None
        assert services.setting("database_url") is None and services.setting("smtp_from") == "club@example.ir"
        store.save_text(services, club_id=world.club_id, actor="test", event="tier.changed", lang="fa", text=None, enabled=True)
        event = emit(svc, "tier.changed", world.club_id, "t-1", {"from_tier": "نقره‌ای", "to_tier": "طلایی"}, member_id=member)
        [target] = SmsChannel().targets(event, services)
        SmsChannel().deliver(delivery(event, "sms", target), services)
        [sent] = receiver.requests
        assert sent["headers"]["Authorization"] == "Bearer from-settings"
        assert "از نقره‌ای به طلایی" in json.loads(sent["body"])["text"]
        EmailChannel().deliver(delivery(event, "email", "owner@example.ir"), services)
        assert smtp_server.messages[0]["from"] == "club@example.ir"
    finally:
        svc.close()


def test_a_voucher_and_a_lottery_are_named_in_the_message_from_their_ids(api: Api, tmp_path: Any) -> None:
    """The outbox's events carry a voucher's and a lottery's id: the message names them."""
    services = api.service.plugin_services
    club, member = api.a.club_id, api.members[api.a.club_id]
    for event in ("voucher.issued", "lottery.won"):
        _enable(api, event)
    expires = api.service.clock() + 30 * 86_400
    voucher = services.write(lambda db: db.insert("vouchers", {
        "club_id": club, "code": "MSG-TEST-1", "template_id": api.a.voucher_template_id, "member_id": member, "issued_op_id": 0,
        "valid_from": api.service.clock(), "valid_to": expires}))
    issued = emit(api.service, "voucher.issued", club, f"voucher:{voucher}", {"voucher_id": voucher, "code": "MSG-TEST-1"},
                  member_id=member)
    won = emit(api.service, "lottery.won", club, "lottery:1:rank:1", {"lottery_id": api.a.lottery_id, "rank": 1, "prize": "سکه طلا",
                                                                      "member_id": member}, member_id=member)
    sink = FileSms(tmp_path / "sms.jsonl")
    for event in (issued, won):
        [target] = SmsChannel().targets(event, services)
        SmsChannel(sink).deliver(delivery(event, "sms", target), services)
    first, second = (m["text"] for m in sink.messages())
    assert "«ووچر ۱۰۰ هزار ریالی»" in first and "MSG-TEST-1" not in first
    from kimia.web.panel import fmt
    assert fmt.jdate(expires, api.service.plugin_services.utc_offset_min(club), "fa") in first
    assert "«سکه طلا»" in second and "«قرعه‌کشی نوروز»" in second


class _Settings:
    def __init__(self, dev_mode: bool) -> None:
        self.dev_mode = dev_mode

    def setting(self, name: str) -> str | None:
        return str(self.dev_mode) if name == "dev_mode" else None


def test_a_webhook_into_the_operator_s_own_network_is_never_called_outside_development() -> None:
    from kimia.extras.messages.channels import public_address
    from kimia.plugins.types import DeliveryFailed

    production = _Settings(False)
    for url in ("http://127.0.0.1:8000/hook", "https://10.1.2.3/x", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/x", "http://192.168.1.10/x", "http://localhost/x"):
        with pytest.raises(DeliveryFailed) as refused:
            public_address(url, production)  # type: ignore[arg-type]
        assert refused.value.retry is False, url
    public_address("https://93.184.216.34/hook", production)  # type: ignore[arg-type]  # a public address
    public_address("http://127.0.0.1:8000/hook", _Settings(True))  # type: ignore[arg-type]  # development: local receivers
