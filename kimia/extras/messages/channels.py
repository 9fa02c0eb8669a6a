"""The notification channels of the messages extra: SMS to members, e-mail to the addresses a club
chose, and webhooks signed with HMAC-SHA256. The delivery worker asks each for an event's
``targets`` and calls ``deliver`` with retries (``DeliveryFailed``; ``retry=False`` gives up).

Each channel reads its configuration through ``Services.setting`` when it delivers (``sms``,
``sms_token``, ``smtp_url``, ``smtp_from``), so a test or a plugin may also hand one a gateway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import smtplib
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Protocol

from kimia.plugins.types import Db, Delivery, DeliveryFailed, Event, Services

from . import store
from . import templates as tpl

#: How long one HTTP or SMTP exchange may take (seconds).
TIMEOUT_S = 10.0


# --- the text of a message ------------------------------------------------------------------------------


def compose(event: Event, services: Services, *, member_name: str = "") -> tuple[str, str, str, bool]:
    """(language, title, text, enabled) of ``event`` for its club: the club's messages language,
    its template (or the default) rendered with the event's values; an event without a template
    is told as its name and payload."""
    spec = tpl.EVENTS.get(event.event)

    def read(db: Db) -> tuple[str, str, store.Text | None, dict[str, Any]]:
        lang = store.club_lang(db, event.club_id)
        chosen = store.text_of(db, event.club_id, event.event, lang) if spec else None
        return lang, store.club_name(db, event.club_id, lang), chosen, store.details(db, event.event, event.payload, lang)

    lang, name, chosen, details = services.read(read)
    if spec is None or chosen is None:
        lines = [f"{k}: {v}" for k, v in sorted(event.payload.items())]
        return lang, f"{name}: {event.event}", "\n".join([f"{name}: {event.event}", *lines]), True
    merchant = str(event.payload.get("merchant", "") or "")
    merchant_id = event.payload.get("merchant_id")
    if isinstance(merchant_id, int):
        try:
            info = services.merchant(merchant_id)
            merchant = info.name_fa if lang == "fa" else (info.name_en or info.name_fa)
        except Exception:  # a merchant gone: the message without its name
            pass
    values = tpl.values_of(event.event, {"at": event.at, **details, **event.payload}, lang,
                           utc_offset_min=services.utc_offset_min(event.club_id), member_name=member_name,
                           club_name=name, merchant_name=merchant)
    return lang, f"{name}: {spec.title(lang)}", tpl.render(chosen.text, values, spec.placeholders), chosen.enabled


def _member_name(event: Event, services: Services) -> str:
    if event.member_id is None:
        return ""
    try:
        return services.member(event.club_id, event.member_id).name
    except Exception:
        return ""


# --- SMS ----------------------------------------------------------------------------------------------------


class SmsGateway(Protocol):
    """Where text messages go. ``id`` is the delivery's stable id: a gateway may drop repeats by it."""

    def send(self, mobile: str, text: str, *, id: str = "", club_id: int = 0, lang: str = "fa") -> None: ...


class ConsoleSms:
    """Each message on standard error: development and demonstrations only."""

    def send(self, mobile: str, text: str, *, id: str = "", club_id: int = 0, lang: str = "fa") -> None:
        print(f"[kimia sms] club {club_id} to {mobile}: {text}", file=sys.stderr, flush=True)


class FileSms:
    """Each message as one JSON line of a file (created 0600), like the one-time codes' file
    notifier (``KIMIA_NOTIFY=file:...``): for development and for a relay that sends them."""

    _lock = threading.Lock()

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def send(self, mobile: str, text: str, *, id: str = "", club_id: int = 0, lang: str = "fa") -> None:
        line = json.dumps({"club_id": club_id, "mobile": mobile, "text": text, "lang": lang, "id": id}, ensure_ascii=False)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(line + "\n")

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer like any other: not followed


_OPENER = urllib.request.build_opener(_NoRedirect)


def public_address(url: str, services: Services) -> None:
    """Refuse (``retry=False``) a webhook whose host resolves to a loopback, private, link-local,
    multicast or reserved address: a club must not make kimia call into the operator's own network
    (server-side request forgery). Development mode (``KIMIA_DEV_MODE``, the tests' local
    receivers) allows them. A host that does not resolve now is tried again later."""
    if (services.setting("dev_mode") or "").lower() in ("true", "1"):
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise DeliveryFailed(f"{host} does not resolve: {str(exc)[:80]}") from None
    for address in found:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise DeliveryFailed(f"{host} is a private or reserved address ({ip}): not called", retry=False)


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float = TIMEOUT_S) -> int:
    """POST ``body``; the HTTP status (a redirect is not followed). ``DeliveryFailed`` (retry) when
    there is no answer."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "kimia", **headers})
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"no answer from {urllib.parse.urlsplit(url).netloc}: {str(reason)[:120]}") from None


class HttpSms:
    """An SMS gateway over HTTP: ``POST {to, text, id}`` as JSON with ``Authorization: Bearer
    <token>``. 2xx: sent; 429, 5xx and no answer: tried again later; any other answer: given up."""

    def __init__(self, url: str, token: str | None = None, timeout: float = TIMEOUT_S) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, mobile: str, text: str, *, id: str = "", club_id: int = 0, lang: str = "fa") -> None:
        body = json.dumps({"to": mobile, "text": text, "id": id}, ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        status = post_json(self.url, body, headers, self.timeout)
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            raise DeliveryFailed(f"SMS gateway answered {status}")
        raise DeliveryFailed(f"SMS gateway refused the message ({status})", retry=False)


def sms_gateway(setting: str | None, token: str | None) -> SmsGateway:
    """The gateway ``KIMIA_SMS`` names: ``file:<path>``, an ``http(s)://`` address, else the console."""
    if setting and setting.startswith("file:"):
        return FileSms(setting[5:])
    if setting and setting.startswith(("http://", "https://")):
        return HttpSms(setting, token)
    return ConsoleSms()


class SmsChannel:
    """Text messages to members: an event with a member and a template the club turned on goes to
    the member's mobile, in the club's messages language."""

    name = "sms"

    def __init__(self, gateway: SmsGateway | None = None) -> None:
        self.gateway = gateway

    def _gateway(self, services: Services) -> SmsGateway:
        return self.gateway or sms_gateway(services.setting("sms"), services.setting("sms_token"))

    def targets(self, event: Event, services: Services) -> list[str]:
        if event.member_id is None or event.event not in tpl.MEMBER_EVENTS or not tpl.applies(event.event, event.payload):
            return []
        enabled = services.read(lambda db: store.text_of(db, event.club_id, event.event, store.club_lang(db, event.club_id)).enabled)
        if not enabled:
            return []
        try:
            mobile = services.member(event.club_id, event.member_id).mobile
        except Exception:
            return []
        return [mobile] if mobile else []

    def deliver(self, delivery: Delivery, services: Services) -> None:
        event = delivery.event
        lang, _, text, enabled = compose(event, services, member_name=_member_name(event, services))
        if not enabled:
            raise DeliveryFailed("the club turned this message off", retry=False)
        self._gateway(services).send(delivery.target, text, id=event.id, club_id=event.club_id, lang=lang)


# --- e-mail -------------------------------------------------------------------------------------------------


class SmtpSettings:
    """``smtp://[user:password@]host:port`` (STARTTLS when offered) or ``smtps://`` (TLS)."""

    def __init__(self, url: str, sender: str | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.user = urllib.parse.unquote(parts.username) if parts.username else None
        self.password = urllib.parse.unquote(parts.password) if parts.password else None
        self.sender = sender or "kimia@localhost"


def send_mail(smtp: SmtpSettings, to: str, subject: str, body: str, message_id: str) -> None:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    try:
        client: smtplib.SMTP = (smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT_S, context=ssl.create_default_context())
                                if smtp.tls else smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_S))
        with client:
            client.ehlo()
            if not smtp.tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.user:
                client.login(smtp.user, smtp.password or "")
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryFailed(f"the mail server refused {to} ({codes[0] if codes else '?'})",
                             retry=any(400 <= c < 500 for c in codes)) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"the mail server answered {exc.smtp_code}", retry=exc.smtp_code < 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"no mail server at {smtp.host}:{smtp.port}: {str(exc)[:120]}") from None


class EmailChannel:
    """E-mail to the addresses a club chose for an event (``messages_recipients``): the subject is
    the club's name and the event's title, the body its template in the club's language."""

    name = "email"

    def __init__(self, smtp: SmtpSettings | None = None) -> None:
        self.smtp = smtp

    def targets(self, event: Event, services: Services) -> list[str]:
        if event.event == "webhook.test":  # for the one webhook it names
            return []
        rows = services.read(lambda db: db.all("SELECT email, events FROM messages_recipients WHERE club_id = ? AND active = 1"
                                               " ORDER BY id", (event.club_id,)))
        return sorted({str(email) for email, events in rows if store.wants(str(events), event.event)})

    def deliver(self, delivery: Delivery, services: Services) -> None:
        smtp = self.smtp
        if smtp is None:
            url = services.setting("smtp_url")
            if not url:
                raise DeliveryFailed("no mail server is configured (KIMIA_SMTP_URL)")
            smtp = SmtpSettings(url, services.setting("smtp_from"))
        event = delivery.event
        _, subject, text, _ = compose(event, services, member_name=_member_name(event, services))
        digest = hashlib.sha256(f"{event.id}|{delivery.target}".encode()).hexdigest()[:32]
        send_mail(smtp, delivery.target, subject, text, f"<{digest}@kimia>")


# --- webhooks -------------------------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``, the ``Kimia-Signature`` header."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def webhook_body(event: Event) -> bytes:
    created = dt.datetime.fromtimestamp(event.at, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps({"id": event.id, "event": event.event, "club_id": event.club_id, "member_id": event.member_id,
                       "created_at": created, "data": dict(event.payload)}, ensure_ascii=False, sort_keys=True).encode()


class WebhookChannel:
    """Signed POSTs to the endpoints a club registered for an event (a ``webhook.test`` event to the
    one endpoint it names). 2xx: sent; 410: the endpoint is disabled and the delivery given up;
    anything else: tried again later."""

    name = "webhook"

    def targets(self, event: Event, services: Services) -> list[str]:
        if event.event == "webhook.test":
            wanted = event.payload.get("endpoint_id")
            row = services.read(lambda db: db.one("SELECT id FROM messages_webhooks WHERE id = ? AND club_id = ? AND active = 1",
                                                  (wanted, event.club_id)))
            return [str(row[0])] if row else []
        rows = services.read(lambda db: db.all("SELECT id, events FROM messages_webhooks WHERE club_id = ? AND active = 1"
                                               " ORDER BY id", (event.club_id,)))
        return [str(wid) for wid, events in rows if store.wants(str(events), event.event)]

    def deliver(self, delivery: Delivery, services: Services) -> None:
        event = delivery.event
        row = services.read(lambda db: db.one("SELECT url, secret, active FROM messages_webhooks WHERE id = ? AND club_id = ?",
                                              (int(delivery.target), event.club_id)))
        if row is None or not int(row[2]):
            raise DeliveryFailed("the webhook endpoint is disabled", retry=False)
        url, sealed = str(row[0]), str(row[1])
        public_address(url, services)
        secret = services.unseal(store.SECRET_PURPOSE, sealed)
        body = webhook_body(event)
        stamp = int(time.time())  # the wall clock: receivers compare it with theirs
        status = post_json(url, body, {"Kimia-Event-Id": event.id, "Kimia-Timestamp": str(stamp),
                                       "Kimia-Signature": signature(secret, stamp, body)})
        if 200 <= status < 300:
            return
        if status == 410:
            target = int(delivery.target)

            def gone(db: Db) -> None:
                if db.execute("UPDATE messages_webhooks SET active = 0, disabled_at = ?, disabled_reason = ?"
                              " WHERE id = ? AND club_id = ? AND active = 1",
                              (services.now(), "410 Gone", target, event.club_id)):
                    db.audit(club_id=event.club_id, actor="kimia", action="messages.webhook_disable",
                             reason="the endpoint answered 410 Gone", payload={"webhook": target})

            services.write(gone)
            raise DeliveryFailed("the endpoint answered 410 Gone: disabled", retry=False)
        raise DeliveryFailed(f"the endpoint answered {status}")
