"""The messages extra's reads and writes, each through ``Services.read`` / ``Services.write`` (one
transaction in kimia's write path, audit rows with it). Every function is scoped to one club: a
caller naming another club's webhook, recipient or delivery gets ``not_found`` /
``unknown_delivery``, never its data.

The deliveries are kimia's outbox (``outbox_deliveries`` with ``outbox_events``, migration 0016),
read and retried here with plain SQL: a retry sets a failed delivery back to ``pending`` with
``next_at`` now (the delivery worker picks it up), with an audit row.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimia.plugins.types import Db, Refusal, Services

from . import templates as tpl

#: How many rows a list answers at most, and by default.
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
STATUSES = ("pending", "sent", "failed")
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z")
_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+\Z")
_URL = re.compile(r"https?://[^\s/?#@]+(:\d+)?([/?#]\S*)?\Z", re.I)
#: The purpose a webhook's secret is sealed under (``Services.seal``).
SECRET_PURPOSE = "messages.webhook"


def _flag(value: Any) -> bool:
    return bool(int(value or 0))


# --- the club's language and its templates -------------------------------------------------------


def club_lang(db: Db, club_id: int) -> str:
    row = db.one("SELECT lang FROM messages_clubs WHERE club_id = ?", (club_id,))
    return str(row[0]) if row else "fa"


def club_name(db: Db, club_id: int, lang: str) -> str:
    row = db.one("SELECT name_fa, name_en FROM clubs WHERE id = ?", (club_id,))
    if row is None:
        return ""
    return str((row[0] if lang == "fa" else row[1]) or row[0] or "")


def details(db: Db, event: str, payload: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """What a message names that its event carries only by id: a voucher's name and expiry, a
    lottery's name (read from kimia's tables in the message's language)."""
    found: dict[str, Any] = {}
    voucher = payload.get("voucher_id")
    if event == "voucher.issued" and isinstance(voucher, int):
        row = db.one("SELECT t.name_fa, t.name_en, v.valid_to FROM vouchers v JOIN voucher_templates t ON t.id = v.template_id"
                     " WHERE v.id = ?", (voucher,))
        if row is not None:
            found["title"] = (row[1] if lang == "en" and row[1] else row[0]) or ""
            found["expires_at"] = row[2]
    lottery = payload.get("lottery_id")
    if event in ("lottery.won", "lottery.drawn") and isinstance(lottery, int):
        row = db.one("SELECT name_fa, name_en FROM lotteries WHERE id = ?", (lottery,))
        if row is not None:
            found["lottery"] = (row[1] if lang == "en" and row[1] else row[0]) or ""
    return found


@dataclass(frozen=True)
class Text:
    event: str
    lang: str
    text: str
    enabled: bool
    custom: bool
    updated_by: str | None
    updated_at: int | None


def texts(db: Db, club_id: int) -> dict[tuple[str, str], Text]:
    """Every event's text in both languages: the club's, else the default (not sent)."""
    rows = {(str(e), str(lang)): r for e, lang, *r in db.all(
        "SELECT event, lang, body, enabled, updated_by, updated_at FROM messages_templates WHERE club_id = ?", (club_id,))}
    out: dict[tuple[str, str], Text] = {}
    for event, spec in tpl.EVENTS.items():
        for lang in tpl.LANGS:
            row = rows.get((event, lang))
            if row is None:
                out[(event, lang)] = Text(event, lang, spec.default(lang), False, False, None, None)
            else:
                body, enabled, by, at = row
                out[(event, lang)] = Text(event, lang, str(body), _flag(enabled), str(body) != spec.default(lang),
                                          str(by), int(at))
    return out


def text_of(db: Db, club_id: int, event: str, lang: str) -> Text:
    return texts(db, club_id)[(event, lang)]


def save_text(services: Services, *, club_id: int, actor: str, event: str, lang: str, text: str | None,
              enabled: bool | None) -> Text:
    """Set a club's text (``template_invalid`` if it does not parse: nothing is written) and/or
    whether it is sent, with an audit row."""
    tpl.template_of(event)
    tpl.check_lang(lang)
    checked = tpl.validate(event, text) if text is not None else None

    def work(db: Db) -> Text:
        now_text = text_of(db, club_id, event, lang)
        body = checked if checked is not None else now_text.text
        on = now_text.enabled if enabled is None else enabled
        now = services.now()
        db.execute(
            "INSERT INTO messages_templates (club_id, event, lang, body, enabled, updated_by, updated_at) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT (club_id, event, lang) DO UPDATE SET body = excluded.body, enabled = excluded.enabled,"
            " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (club_id, event, lang, body, int(on), actor, now))
        db.audit(club_id=club_id, actor=actor, action="messages.template", reason="message template changed",
                 payload={"event": event, "lang": lang, "enabled": on, "text": body})
        return text_of(db, club_id, event, lang)

    return services.write(work)


def save_texts(services: Services, *, club_id: int, actor: str, event: str, texts: Mapping[str, str], enabled: bool,
               idem_key: str | None) -> bool:
    """Set a club's texts of one event (both languages) and whether they are sent, in one write
    keyed by ``idem_key``: False when that key was used already (nothing written again). Every
    text is checked before anything is written."""
    tpl.template_of(event)
    checked = {tpl.check_lang(lang): tpl.validate(event, text) for lang, text in texts.items()}

    def work(db: Db) -> bool:
        now = services.now()
        if claim(db, club_id=club_id, action="template", idem_key=idem_key, now=now) is not None:
            return False
        for lang, body in checked.items():
            db.execute(
                "INSERT INTO messages_templates (club_id, event, lang, body, enabled, updated_by, updated_at) VALUES (?,?,?,?,?,?,?)"
                " ON CONFLICT (club_id, event, lang) DO UPDATE SET body = excluded.body, enabled = excluded.enabled,"
                " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (club_id, event, lang, body, int(enabled), actor, now))
        db.audit(club_id=club_id, actor=actor, action="messages.template", reason="message template changed",
                 payload={"event": event, "enabled": enabled, "texts": checked})
        return True

    return services.write(work)


def save_lang(services: Services, *, club_id: int, actor: str, lang: str, idem_key: str | None = None) -> str:
    tpl.check_lang(lang, "language")

    def work(db: Db) -> str:
        if claim(db, club_id=club_id, action="language", idem_key=idem_key, now=services.now()) is not None:
            return club_lang(db, club_id)
        db.execute("INSERT INTO messages_clubs (club_id, lang, updated_by, updated_at) VALUES (?,?,?,?)"
                   " ON CONFLICT (club_id) DO UPDATE SET lang = excluded.lang, updated_by = excluded.updated_by,"
                   " updated_at = excluded.updated_at", (club_id, lang, actor, services.now()))
        db.audit(club_id=club_id, actor=actor, action="messages.language", reason="messages language changed",
                 payload={"lang": lang})
        return lang

    return services.write(work)


# --- idempotency of the writes a form or a call makes -------------------------------------------


def claim(db: Db, *, club_id: int, action: str, idem_key: str | None, now: int) -> int | None:
    """Record ``idem_key`` for ``action``: None the first time (go on, then :func:`settle`), else
    the ``ref`` the first one stored (answer it again)."""
    if not idem_key:
        return None
    key = f"{club_id}:{action}:{idem_key}"[:250]
    if db.execute("INSERT INTO messages_actions (club_id, action, ref, idem_key, created_at) VALUES (?,?,?,?,?)"
                  " ON CONFLICT (idem_key) DO NOTHING", (club_id, action, 0, key, now)):
        return None
    row = db.one("SELECT ref FROM messages_actions WHERE idem_key = ?", (key,))
    return int(row[0]) if row else 0


def settle(db: Db, *, club_id: int, action: str, idem_key: str | None, ref: int) -> None:
    if idem_key:
        db.execute("UPDATE messages_actions SET ref = ? WHERE idem_key = ?", (ref, f"{club_id}:{action}:{idem_key}"[:250]))


# --- events a webhook or a recipient asks for ------------------------------------------------------


def parse_events(value: Any, path: str = "events") -> list[str]:
    """A list of event names (or ``*``: every event), from a JSON list or a text of names."""
    if value is None or value == "" or value == []:
        raise Refusal("field_required", path=path)
    items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value))
    names = sorted({str(i).strip() for i in items if str(i).strip()})
    if not names:
        raise Refusal("field_required", path=path)
    for name in names:
        if name != "*" and not _EVENT_NAME.match(name):
            raise Refusal("field_invalid", path=path, detail=f"not an event name: {name[:60]}")
    return ["*"] if "*" in names else names


def wants(events: str, event: str) -> bool:
    names = events.split(",")
    return "*" in names or event in names


# --- webhooks -----------------------------------------------------------------------------------------


def webhook_json(row: tuple[Any, ...]) -> dict[str, Any]:
    wid, url, events, active, created_by, created_at, disabled_at, disabled_reason = row
    return {"id": int(wid), "url": str(url), "events": str(events).split(","), "active": _flag(active),
            "created_by": str(created_by), "created_at": int(created_at),
            "disabled_at": int(disabled_at) if disabled_at is not None else None,
            "disabled_reason": disabled_reason}


_WEBHOOK = "SELECT id, url, events, active, created_by, created_at, disabled_at, disabled_reason FROM messages_webhooks"


def webhooks(services: Services, club_id: int) -> list[dict[str, Any]]:
    return services.read(lambda db: [webhook_json(r) for r in db.all(_WEBHOOK + " WHERE club_id = ? ORDER BY id DESC",
                                                                      (club_id,))])


def webhook(db: Db, club_id: int, webhook_id: int) -> tuple[Any, ...]:
    row = db.one(_WEBHOOK + " WHERE id = ? AND club_id = ?", (webhook_id, club_id))
    if row is None:
        raise Refusal("not_found", path="webhook_id", what="webhook")
    return row


def check_url(url: Any) -> str:
    text = str(url or "").strip()
    if not text:
        raise Refusal("field_required", path="url")
    if len(text) > 500 or not _URL.match(text):
        raise Refusal("field_invalid", path="url", detail="an http:// or https:// address")
    return text


def add_webhook(services: Services, *, club_id: int, actor: str, url: Any, events: Any,
                idem_key: str) -> tuple[dict[str, Any], str | None]:
    """Register an endpoint; (it, its signing secret) the first time, (it, None) for a repeat of
    the same key: the secret is shown once."""
    checked_url = check_url(url)
    names = parse_events(events)
    secret = secrets.token_hex(32)
    sealed = services.seal(SECRET_PURPOSE, secret)
    key = f"{club_id}:{idem_key}"[:250]

    def work(db: Db) -> tuple[dict[str, Any], str | None]:
        now = services.now()
        inserted = db.execute(
            "INSERT INTO messages_webhooks (club_id, url, events, active, secret, created_by, created_at, idem_key)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (idem_key) DO NOTHING",
            (club_id, checked_url, ",".join(names), 1, sealed, actor, now, key))
        row = db.one(_WEBHOOK + " WHERE idem_key = ?", (key,))
        assert row is not None
        if not inserted:
            return webhook_json(row), None
        db.audit(club_id=club_id, actor=actor, action="messages.webhook_add", reason="webhook endpoint registered",
                 payload={"webhook": int(row[0]), "url": checked_url, "events": names})
        return webhook_json(row), secret

    return services.write(work)


def disable_webhook(services: Services, *, club_id: int, actor: str, webhook_id: int, reason: str) -> dict[str, Any]:
    def work(db: Db) -> dict[str, Any]:
        row = webhook(db, club_id, webhook_id)
        if _flag(row[3]):
            db.execute("UPDATE messages_webhooks SET active = 0, disabled_at = ?, disabled_reason = ? WHERE id = ?",
                       (services.now(), reason[:200], webhook_id))
            db.audit(club_id=club_id, actor=actor, action="messages.webhook_disable", reason=reason,
                     payload={"webhook": webhook_id})
        return webhook_json(webhook(db, club_id, webhook_id))

    return services.write(work)


def test_webhook(services: Services, *, club_id: int, actor: str, webhook_id: int, idem_key: str) -> str:
    """Put a ``webhook.test`` event for one endpoint in the outbox; its event id."""
    def work(db: Db) -> str:
        webhook(db, club_id, webhook_id)
        uid = db.emit("webhook.test", club_id=club_id, key=f"{webhook_id}:{idem_key}"[:120],
                      payload={"endpoint_id": webhook_id, "message": "a test event from kimia", "by": actor})
        return uid

    return services.write(work)


# --- e-mail recipients ----------------------------------------------------------------------------------


def recipient_json(row: tuple[Any, ...]) -> dict[str, Any]:
    rid, email, events, active, created_by, created_at = row
    return {"id": int(rid), "email": str(email), "events": str(events).split(","), "active": _flag(active),
            "created_by": str(created_by), "created_at": int(created_at)}


_RECIPIENT = "SELECT id, email, events, active, created_by, created_at FROM messages_recipients"


def recipients(services: Services, club_id: int) -> list[dict[str, Any]]:
    return services.read(lambda db: [recipient_json(r) for r in db.all(
        _RECIPIENT + " WHERE club_id = ? AND active = 1 ORDER BY id", (club_id,))])


def add_recipient(services: Services, *, club_id: int, actor: str, email: Any, events: Any, idem_key: str) -> dict[str, Any]:
    address = str(email or "").strip()
    if not address:
        raise Refusal("field_required", path="email")
    if len(address) > 254 or not _EMAIL.match(address):
        raise Refusal("field_invalid", path="email", detail="an e-mail address")
    names = parse_events(events)
    key = f"{club_id}:{idem_key}"[:250]

    def work(db: Db) -> dict[str, Any]:
        inserted = db.execute(
            "INSERT INTO messages_recipients (club_id, email, events, active, created_by, created_at, idem_key)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT (idem_key) DO NOTHING",
            (club_id, address, ",".join(names), 1, actor, services.now(), key))
        row = db.one(_RECIPIENT + " WHERE idem_key = ?", (key,))
        assert row is not None
        if inserted:
            db.audit(club_id=club_id, actor=actor, action="messages.recipient_add", reason="e-mail recipient added",
                     payload={"recipient": int(row[0]), "email": address, "events": names})
        return recipient_json(row)

    return services.write(work)


def remove_recipient(services: Services, *, club_id: int, actor: str, recipient_id: int) -> None:
    def work(db: Db) -> None:
        row = db.one(_RECIPIENT + " WHERE id = ? AND club_id = ?", (recipient_id, club_id))
        if row is None:
            raise Refusal("not_found", path="recipient_id", what="recipient")
        if _flag(row[3]):
            db.execute("UPDATE messages_recipients SET active = 0 WHERE id = ?", (recipient_id,))
            db.audit(club_id=club_id, actor=actor, action="messages.recipient_remove", reason="e-mail recipient removed",
                     payload={"recipient": recipient_id, "email": row[1]})

    services.write(work)


# --- deliveries ------------------------------------------------------------------------------------------

_DELIVERY = ("SELECT d.id, e.uid, e.event, d.channel, d.target, d.status, d.attempts, d.next_at, d.last_error, d.sent_at,"
             " d.created_at, e.member_id FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id")


def mask_target(channel: str, target: str) -> str:
    """A mobile with its middle hidden (+98912***4567); other targets as they are."""
    if channel == "sms" and len(target) > 8:
        return target[:6] + "***" + target[-4:]
    return target


def delivery_json(row: tuple[Any, ...]) -> dict[str, Any]:
    did, uid, event, channel, target, status, attempts, next_at, last_error, sent_at, created_at, member_id = row
    return {"id": int(did), "event_id": str(uid), "event": str(event), "channel": str(channel),
            "target": mask_target(str(channel), str(target)), "status": str(status), "attempts": int(attempts),
            "next_at": int(next_at), "last_error": last_error, "sent_at": int(sent_at) if sent_at is not None else None,
            "created_at": int(created_at), "member_id": int(member_id) if member_id is not None else None}


def check_status(status: str | None) -> str | None:
    if status in (None, ""):
        return None
    if status not in STATUSES:
        raise Refusal("field_invalid", path="status", detail="pending, sent or failed")
    return status


def check_limit(value: str | None) -> int:
    if value in (None, ""):
        return DEFAULT_LIMIT
    assert value is not None
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise Refusal("field_invalid", path="limit", detail=f"a number from 1 to {MAX_LIMIT}")
    return int(value)


def check_cursor(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    assert value is not None
    if not value.isdigit():
        raise Refusal("invalid_cursor", path="cursor")
    return int(value)


def deliveries(services: Services, club_id: int, *, status: str | None, limit: int,
               before: int | None) -> tuple[list[dict[str, Any]], str | None]:
    """The club's deliveries, newest first; (a page, the cursor of the next one or None)."""
    sql = _DELIVERY + " WHERE d.club_id = ?"
    params: list[Any] = [club_id]
    if status:
        sql += " AND d.status = ?"
        params.append(status)
    if before is not None:
        sql += " AND d.id < ?"
        params.append(before)
    sql += " ORDER BY d.id DESC LIMIT ?"
    params.append(limit)
    rows = services.read(lambda db: db.all(sql, params))
    items = [delivery_json(r) for r in rows]
    return items, (str(items[-1]["id"]) if len(items) == limit and items else None)


def delivery(db: Db, club_id: int, delivery_id: int) -> dict[str, Any]:
    row = db.one(_DELIVERY + " WHERE d.id = ? AND d.club_id = ?", (delivery_id, club_id))
    if row is None:
        raise Refusal("unknown_delivery", path="delivery_id")
    return delivery_json(row)


def retry(services: Services, *, club_id: int, actor: str, delivery_id: int, reason: str,
          idem_key: str | None) -> dict[str, Any]:
    """Send a failed delivery again: ``pending``, due now, its attempts kept (one more try, as the
    delivery worker's own ``retry_delivery``), with an audit row (``delivery_not_retryable`` unless it failed). A repeat of the same key answers the
    delivery as it is now, and writes nothing."""
    why = reason.strip()
    if not why:
        raise Refusal("reason_required", path="reason")

    def work(db: Db) -> dict[str, Any]:
        now = services.now()
        found = delivery(db, club_id, delivery_id)
        if claim(db, club_id=club_id, action="retry", idem_key=idem_key, now=now) is not None:
            return found
        if found["status"] != "failed":
            raise Refusal("delivery_not_retryable", path="delivery_id")
        db.execute("UPDATE outbox_deliveries SET status = 'pending', next_at = ?, lease_until = 0"
                   " WHERE id = ? AND club_id = ? AND status = 'failed'", (now, delivery_id, club_id))
        settle(db, club_id=club_id, action="retry", idem_key=idem_key, ref=delivery_id)
        db.audit(club_id=club_id, actor=actor, action="messages.retry", reason=why,
                 payload={"delivery": delivery_id, "event_id": found["event_id"], "channel": found["channel"],
                          "attempts": found["attempts"], "last_error": found["last_error"]})
        return delivery(db, club_id, delivery_id)

    return services.write(work)


def failed_counts(services: Services) -> list[dict[str, Any]]:
    """Every club's deliveries by status (the platform operator's page), clubs with failures first."""
    rows = services.read(lambda db: db.all(
        "SELECT c.id, c.name_fa, c.name_en, d.status, COUNT(*) FROM outbox_deliveries d JOIN clubs c ON c.id = d.club_id"
        " GROUP BY c.id, c.name_fa, c.name_en, d.status"))
    clubs: dict[int, dict[str, Any]] = {}
    for cid, name_fa, name_en, status, n in rows:
        entry = clubs.setdefault(int(cid), {"club_id": int(cid), "name_fa": name_fa, "name_en": name_en,
                                            "pending": 0, "sent": 0, "failed": 0})
        if status in STATUSES:
            entry[str(status)] = int(n)
    return sorted(clubs.values(), key=lambda c: (-c["failed"], c["club_id"]))


def event_payload(text: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
