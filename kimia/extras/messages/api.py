"""The messages extra's API routes (management keys), under ``/api/v1/messages``."""

from __future__ import annotations

import csv
import io
from typing import Any

from kimia.plugins.types import ApiCall, ApiRoute, RawAnswer, Refusal
from kimia.web.panel import fmt

from . import store
from . import templates as tpl

MANAGEMENT = frozenset({"management"})


def _club(call: ApiCall) -> int:
    if call.caller.club_id is None:
        raise Refusal("forbidden", action="manage a club's messages")
    return call.caller.club_id


def _stamp(ts: int | None, offset: int) -> dict[str, str] | None:
    if ts is None:
        return None
    local = fmt.local_time(ts, offset)
    return {"at": local.isoformat(), "jalali": fmt.jdatetime(ts, offset, "en")}


def _text_json(text: store.Text, offset: int) -> dict[str, Any]:
    return {"event": text.event, "lang": text.lang, "text": text.text, "enabled": text.enabled, "custom": text.custom,
            "updated_by": text.updated_by, "updated_at": _stamp(text.updated_at, offset),
            "placeholders": list(tpl.EVENTS[text.event].placeholders)}


def list_templates(call: ApiCall) -> Any:
    club = _club(call)
    offset = call.services.utc_offset_min(club)
    lang, found = call.services.read(lambda db: (store.club_lang(db, club), store.texts(db, club)))
    return {"language": lang, "items": [
        {"event": event, "title": {"fa": spec.title_fa, "en": spec.title_en}, "placeholders": list(spec.placeholders),
         "texts": {la: _text_json(found[(event, la)], offset) for la in tpl.LANGS}}
        for event, spec in tpl.EVENTS.items()]}


def _preview(call: ApiCall, club: int, event: str, lang: str, text: str) -> str:
    return tpl.render(text, tpl.sample_values(event, lang, call.services.now(), call.services.utc_offset_min(club)),
                      tpl.EVENTS[event].placeholders)


def get_template(call: ApiCall) -> Any:
    club = _club(call)
    event, lang = str(call.params["event"]), tpl.check_lang(str(call.params["lang"]))
    tpl.template_of(event)
    text = call.services.read(lambda db: store.text_of(db, club, event, lang))
    return {**_text_json(text, call.services.utc_offset_min(club)), "preview": _preview(call, club, event, lang, text.text)}


def put_template(call: ApiCall) -> Any:
    club = _club(call)
    event, lang = str(call.params["event"]), str(call.params["lang"])
    tpl.template_of(event)
    tpl.check_lang(lang)
    text = call.body.get("text")
    enabled = call.body.get("enabled")
    if text is None and enabled is None:
        raise Refusal("field_required", path="text")
    if text is not None and not isinstance(text, str):
        raise Refusal("field_invalid", path="text", detail="a text")
    if enabled is not None and not isinstance(enabled, bool):
        raise Refusal("field_invalid", path="enabled", detail="true or false")
    saved = store.save_text(call.services, club_id=club, actor=call.caller.actor, event=event, lang=lang, text=text,
                            enabled=enabled)
    return {**_text_json(saved, call.services.utc_offset_min(club)), "preview": _preview(call, club, event, lang, saved.text)}


def put_language(call: ApiCall) -> Any:
    club = _club(call)
    value = call.body.get("language")
    if value is None:
        raise Refusal("field_required", path="language")
    return {"language": store.save_lang(call.services, club_id=club, actor=call.caller.actor, lang=str(value))}


def _webhook_out(hook: dict[str, Any], offset: int) -> dict[str, Any]:
    return {**hook, "created_at": _stamp(hook["created_at"], offset), "disabled_at": _stamp(hook["disabled_at"], offset)}


def list_webhooks(call: ApiCall) -> Any:
    club = _club(call)
    offset = call.services.utc_offset_min(club)
    return {"items": [_webhook_out(h, offset) for h in store.webhooks(call.services, club)], "next_cursor": None}


def add_webhook(call: ApiCall) -> Any:
    club = _club(call)
    if call.idem_key is None:
        raise Refusal("field_required", path="Idempotency-Key")
    hook, secret = store.add_webhook(call.services, club_id=club, actor=call.caller.actor, url=call.body.get("url"),
                                     events=call.body.get("events"), idem_key=call.idem_key)
    return {**_webhook_out(hook, call.services.utc_offset_min(club)), "secret": secret}


def delete_webhook(call: ApiCall) -> Any:
    club = _club(call)
    store.disable_webhook(call.services, club_id=club, actor=call.caller.actor, webhook_id=int(call.params["webhook_id"]),
                          reason="disabled through the API")
    return None


def _delivery_out(d: dict[str, Any], offset: int) -> dict[str, Any]:
    return {**d, "next_at": _stamp(d["next_at"], offset) if d["status"] == "pending" else None,
            "sent_at": _stamp(d["sent_at"], offset), "created_at": _stamp(d["created_at"], offset)}


def list_deliveries(call: ApiCall) -> Any:
    club = _club(call)
    status = store.check_status(call.query.get("status"))
    limit = store.check_limit(call.query.get("limit"))
    before = store.check_cursor(call.query.get("cursor"))
    items, cursor = store.deliveries(call.services, club, status=status, limit=limit, before=before)
    offset = call.services.utc_offset_min(club)
    if call.query.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "event_id", "event", "channel", "target", "status", "attempts", "last_error", "created_at",
                         "created_jalali", "sent_at"])
        for d in items:
            created = _stamp(d["created_at"], offset) or {}
            sent = _stamp(d["sent_at"], offset) or {}
            writer.writerow([d["id"], d["event_id"], d["event"], d["channel"], d["target"], d["status"], d["attempts"],
                             d["last_error"] or "", created.get("at", ""), created.get("jalali", ""), sent.get("at", "")])
        return RawAnswer(out.getvalue(), filename="deliveries.csv")
    return {"items": [_delivery_out(d, offset) for d in items], "next_cursor": cursor}


def retry_delivery(call: ApiCall) -> Any:
    club = _club(call)
    reason = call.body.get("reason")
    found = store.retry(call.services, club_id=club, actor=call.caller.actor, delivery_id=int(call.params["delivery_id"]),
                        reason=str(reason or ""), idem_key=call.idem_key)
    return _delivery_out(found, call.services.utc_offset_min(club))


def routes() -> list[ApiRoute]:
    tag = "messages"
    return [
        ApiRoute("GET", "/messages/templates", list_templates, MANAGEMENT, "The club's message templates, both languages", tag),
        ApiRoute("GET", "/messages/templates/<event>/<lang>", get_template, MANAGEMENT,
                 "One message template with a preview", tag),
        ApiRoute("PUT", "/messages/templates/<event>/<lang>", put_template, MANAGEMENT,
                 "Change a message template's text or whether it is sent", tag),
        ApiRoute("PUT", "/messages/language", put_language, MANAGEMENT, "The language members' messages are sent in", tag),
        ApiRoute("GET", "/messages/webhooks", list_webhooks, MANAGEMENT, "The club's webhook endpoints", tag),
        ApiRoute("POST", "/messages/webhooks", add_webhook, MANAGEMENT,
                 "Register a webhook endpoint (its signing secret is answered once)", tag, status=201,
                 secret_fields=("secret",)),
        ApiRoute("DELETE", "/messages/webhooks/<int:webhook_id>", delete_webhook, MANAGEMENT, "Disable a webhook endpoint", tag,
                 status=204),
        ApiRoute("GET", "/messages/deliveries", list_deliveries, MANAGEMENT,
                 "The club's notification deliveries, newest first (?status=, CSV with ?format=csv)", tag),
        ApiRoute("POST", "/messages/deliveries/<int:delivery_id>/retry", retry_delivery, MANAGEMENT,
                 "Send a failed delivery again", tag),
    ]
