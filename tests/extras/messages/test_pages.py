"""The messages extra's panel pages: both languages, roles, CSRF, double submits landing once, bad
input shown at its field and changing nothing, audit rows with actor and reason."""

from __future__ import annotations

import re
from typing import Any

from web.conftest import count
from web.panel.conftest import Panel, csrf_of, page, post

from .helpers import add_delivery, emit


def _form_key(html: str) -> str:
    found = re.search(r'name="form_key" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _audits(panel: Panel, action: str) -> list[tuple[Any, ...]]:
    with panel.service.reading() as tx:
        return [tuple(r) for r in tx.all("SELECT actor, reason FROM audit_log WHERE action = ? ORDER BY id", (action,))]


def test_the_templates_page_in_persian_and_english(panel: Panel) -> None:
    client = panel.client("marketer")
    status, fa = page(client, "/panel/messages")
    assert status == 200 and 'dir="rtl"' in fa and "رسید خرید" in fa and "یادآوری نوبت" in fa and "خاموش" in fa
    assert "۱٬۲۵۰٬۰۰۰ ریال" in fa and "مریم رضایی" in fa  # the preview, Persian digits
    assert 'href="/panel/messages/templates/operation.committed"' in fa
    status, en = page(client, "/panel/messages?lang=en")
    assert status == 200 and 'dir="ltr"' in en and "Purchase receipt" in en and "1,250,000 rials" in en
    assert 'href="/panel/messages"' in en and "Messages" in en  # the menu entry
    status, ro = page(panel.client("read_only"), "/panel/messages")
    assert status == 200 and "/panel/messages/templates/" not in ro and 'name="language"' not in ro
    assert page(panel.client("read_only"), "/panel/messages/templates/tier.changed")[0] == 403
    assert page(panel.client("merchant"), "/panel/messages")[0] == 403


def test_editing_a_template_lands_once_and_a_bad_text_changes_nothing(panel: Panel) -> None:
    client = panel.client("marketer")
    status, form = page(client, "/panel/messages/templates/tier.changed")
    assert status == 200 and "{to_tier}" in form
    key = _form_key(form)
    token = csrf_of(form)
    rows = count(panel.api, "messages_templates")
    bad = client.post("/panel/messages/templates/tier.changed", data={
        "csrf_token": token, "form_key": key, "text_fa": "سطح {tier", "text_en": "Tier {nope}", "enabled": "1", "do": "save"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "قالب پیام درست نیست" in html and html.count('aria-invalid="true"') == 2
    assert count(panel.api, "messages_templates") == rows and _audits(panel, "messages.template") == []
    preview = client.post("/panel/messages/templates/tier.changed", data={
        "csrf_token": token, "form_key": key, "text_fa": "سطح تازه: {to_tier}", "text_en": "New: {to_tier}", "do": "preview"})
    assert preview.status_code == 200 and "سطح تازه: طلایی" in preview.get_data(as_text=True)
    assert count(panel.api, "messages_templates") == rows
    data = {"csrf_token": token, "form_key": key, "text_fa": "سطح تازه: {to_tier}", "text_en": "New: {to_tier}", "enabled": "1",
            "do": "save"}
    first = client.post("/panel/messages/templates/tier.changed", data=data)
    second = client.post("/panel/messages/templates/tier.changed", data=data)
    assert first.status_code == second.status_code == 302 and "notice=saved" in first.headers["Location"]
    assert "notice=repeat" in second.headers["Location"]
    assert count(panel.api, "messages_templates") == rows + 2
    [(actor, reason)] = _audits(panel, "messages.template")
    assert reason == "message template changed" and panel.login_of("marketer") in actor, actor
    after = page(client, "/panel/messages?lang=en")[1]
    assert "New: {to_tier}" in after and "Edited" in after
    assert client.post("/panel/messages/templates/tier.changed", data={k: v for k, v in data.items() if k != "csrf_token"}).status_code == 403


def test_the_language_of_members_messages(panel: Panel) -> None:
    client = panel.client("admin")
    html = page(client, "/panel/messages")[1]
    data = {"csrf_token": csrf_of(html), "form_key": _form_key(html), "language": "en"}
    assert client.post("/panel/messages/language", data=data).status_code == 302
    assert client.post("/panel/messages/language", data=data).status_code == 302  # a double submit: one change
    assert 'value="en" selected' in page(client, "/panel/messages")[1]
    bad = post(client, "/panel/messages/language", {"language": "de", "form_key": "another-key-1"})
    assert bad.status_code == 400 and len(_audits(panel, "messages.language")) == 1


def test_a_webhook_is_added_once_its_secret_shown_once_then_tested_and_disabled(panel: Panel) -> None:
    client = panel.client("admin")
    status, html = page(client, "/panel/messages/webhooks")
    assert status == 200 and "وب‌هوک" in html
    key, token = _form_key(html), csrf_of(html)
    bad = client.post("/panel/messages/webhooks", data={"csrf_token": token, "form_key": key, "url": "ftp://x.ir", "events": "*"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert count(panel.api, "messages_webhooks") == 0
    data = {"csrf_token": token, "form_key": key, "url": "https://hooks.example.ir/k", "events": "operation.committed, tier.changed"}
    first = client.post("/panel/messages/webhooks?lang=en", data=data).get_data(as_text=True)
    secret = re.search(r'class="secret-value" dir="ltr">([0-9a-f]{64})<', first)
    assert secret and "shown only this once" in first
    second = client.post("/panel/messages/webhooks?lang=en", data=data).get_data(as_text=True)
    assert "secret-value" not in second and "nothing was done twice" in second
    assert count(panel.api, "messages_webhooks") == 1 and len(_audits(panel, "messages.webhook_add")) == 1
    assert secret.group(1) not in page(client, "/panel/messages/webhooks")[1]
    with panel.service.reading() as tx:
        hook = int(tx.one("SELECT id FROM messages_webhooks")[0])
    events = count(panel.api, "outbox_events")
    for _ in range(2):
        assert post(client, f"/panel/messages/webhooks/{hook}/test", {"form_key": "test-key-1"}).status_code == 302
    assert count(panel.api, "outbox_events") == events + 1
    assert post(client, f"/panel/messages/webhooks/{hook}/disable", {}).status_code == 302
    assert "badge bad" in page(client, "/panel/messages/webhooks")[1]
    assert post(panel.client("admin", panel.b), f"/panel/messages/webhooks/{hook}/disable", {}).status_code == 404
    assert page(panel.client("marketer"), "/panel/messages/webhooks")[0] == 403


def test_email_recipients_are_added_and_removed(panel: Panel) -> None:
    client = panel.client("admin")
    html = page(client, "/panel/messages/recipients")[1]
    key, token = _form_key(html), csrf_of(html)
    bad = client.post("/panel/messages/recipients", data={"csrf_token": token, "form_key": key, "email": "not-an-address",
                                                          "events": "lottery.drawn"})
    assert bad.status_code == 422 and "این فیلد معتبر نیست" in bad.get_data(as_text=True)
    data = {"csrf_token": token, "form_key": key, "email": "owner@example.ir", "events": "lottery.drawn"}
    assert client.post("/panel/messages/recipients", data=data).status_code == 302
    assert client.post("/panel/messages/recipients", data=data).status_code == 302
    assert count(panel.api, "messages_recipients") == 1
    shown = page(client, "/panel/messages/recipients?lang=en")[1]
    assert "owner@example.ir" in shown and "lottery.drawn" in shown
    with panel.service.reading() as tx:
        rid = int(tx.one("SELECT id FROM messages_recipients")[0])
    assert post(client, f"/panel/messages/recipients/{rid}/remove", {}).status_code == 302
    assert "owner@example.ir" not in page(client, "/panel/messages/recipients")[1]
    assert [a for a, _ in _audits(panel, "messages.recipient_remove")]


def test_deliveries_are_listed_and_a_failed_one_retried_once_with_its_reason(panel: Panel) -> None:
    club = panel.a.club_id
    event = emit(panel.service, "operation.committed", club, "op-1", {"kind": "purchase"})
    failed = add_delivery(panel.service, event, "webhook", "1", last_error="the endpoint answered 503")
    sent = add_delivery(panel.service, event, "sms", "+989121234567", status="sent", last_error=None)
    support = panel.client("support")
    status, fa = page(support, "/panel/messages/deliveries")
    assert status == 200 and "ناموفق" in fa and "the endpoint answered 503" in fa and "+98912***4567" in fa
    assert f"/panel/messages/deliveries/{failed}/retry" in fa and f"/panel/messages/deliveries/{sent}/retry" not in fa
    en = page(support, "/panel/messages/deliveries?status=failed&lang=en")[1]
    assert "Failed" in en and "+98912***4567" not in en
    key, token = _form_key(fa), csrf_of(fa)
    missing = support.post(f"/panel/messages/deliveries/{failed}/retry", data={"csrf_token": token, "form_key": key + "x", "reason": " "})
    assert missing.status_code == 422 and "needs a reason" in missing.get_data(as_text=True)  # English, as chosen last
    data = {"csrf_token": token, "form_key": key, "reason": "the receiver is back"}
    assert support.post(f"/panel/messages/deliveries/{failed}/retry", data=data).status_code == 302
    assert support.post(f"/panel/messages/deliveries/{failed}/retry", data=data).status_code == 302  # a double submit
    audits = _audits(panel, "messages.retry")
    assert len(audits) == 1 and audits[0][1] == "the receiver is back"
    with panel.service.reading() as tx:
        assert tx.one("SELECT status FROM outbox_deliveries WHERE id = ?", (failed,))[0] == "pending"
    again = support.post(f"/panel/messages/deliveries/{failed}/retry", data={**data, "form_key": key + "-2"})
    assert again.status_code == 422 and "Only a failed delivery can be sent again" in again.get_data(as_text=True)
    read_only = page(panel.client("read_only"), "/panel/messages/deliveries")
    assert read_only[0] == 200 and "/retry" not in read_only[1]
    assert post(panel.client("marketer"), f"/panel/messages/deliveries/{failed}/retry", {"reason": "x"}).status_code == 403
    assert post(panel.client("support", panel.b), f"/panel/messages/deliveries/{failed}/retry",
                {"reason": "x", "form_key": "abcdefgh1"}).status_code == 404
    platform = panel.client("platform")
    status, counts = page(platform, "/panel/messages/platform?lang=en")
    assert status == 200 and "failed deliveries" in counts and f'<small class="muted">{club}</small>' in counts


def test_every_word_the_pages_name_exists_in_both_languages(panel: Panel) -> None:
    from pathlib import Path

    from kimia.extras.messages import pages
    from kimia.extras.messages.words import WORDS
    from kimia.web.panel.i18n import MESSAGES

    folder = Path(pages.__file__).parent / "templates"
    keys = {k for path in folder.rglob("*.html") for k in re.findall(r"""_\(\s*['"]([a-z0-9_.]+)['"]\s*[,)]""", path.read_text())}
    keys |= {f"messages.notice_{n}" for n in pages.NOTICES} | {f"messages.status_{s}" for s in ("pending", "sent", "failed")}
    keys |= {f"messages.tab_{t}" for t in ("templates", "deliveries", "webhooks", "recipients")}
    assert not [k for k in keys if k not in MESSAGES]
    assert all(fa and en and fa != en for fa, en in WORDS.values())
