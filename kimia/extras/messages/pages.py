"""The messages extra's panel pages: templates (with a preview), webhooks, e-mail recipients, the
club's deliveries with retry, and the platform operator's failed-delivery counts.

Reading is open to the club's admin, marketer, support and read-only staff; editing templates to
the admin and marketer; webhooks and recipients to the admin; retrying a delivery to the admin and
support. Every write is POST → redirect → GET, keyed by the form's ``form_key`` (a double submit
is one write); bad input is shown at its field and changes nothing.
"""

from __future__ import annotations

from typing import Any

from kimia.plugins.types import MenuEntry, PageCall, PanelPage, Refusal

from . import store
from . import templates as tpl

READERS = frozenset({"admin", "marketer", "support", "read_only"})
EDITORS = frozenset({"admin", "marketer"})
ADMIN = frozenset({"admin"})
RETRIERS = frozenset({"admin", "support"})
PLATFORM = frozenset({"platform"})
#: Notices a redirect may ask the next page to show (``?notice=``).
NOTICES = frozenset({"saved", "language", "webhook_disabled", "webhook_tested", "recipient_added", "recipient_removed",
                     "retried", "repeat"})


def _club(call: PageCall) -> int:
    if call.caller.club_id is None:
        raise Refusal("not_found", what="club")
    return call.caller.club_id


def _notice(call: PageCall) -> str | None:
    notice = call.query.get("notice", "")
    return f"messages.notice_{notice}" if notice in NOTICES else None


def _tabs(call: PageCall, current: str) -> list[dict[str, Any]]:
    role = call.caller.kind
    tabs = [("templates", READERS), ("deliveries", READERS), ("webhooks", ADMIN), ("recipients", ADMIN)]
    return [{"name": name, "url": call.url_for(f"panel.messages.{name}"), "current": name == current}
            for name, roles in tabs if role in roles]


# --- templates ----------------------------------------------------------------------------------------


def templates_page(call: PageCall) -> Any:
    club = _club(call)
    services = call.services
    lang, texts = services.read(lambda db: (store.club_lang(db, club), store.texts(db, club)))
    now, offset = services.now(), services.utc_offset_min(club)
    events = []
    for event, spec in tpl.EVENTS.items():
        events.append({"event": event, "spec": spec, "texts": [
            {"lang": la, "text": texts[(event, la)],
             "preview": tpl.render(texts[(event, la)].text, tpl.sample_values(event, la, now, offset), spec.placeholders)}
            for la in tpl.LANGS]})
    return call.render("messages/templates.html", tabs=_tabs(call, "templates"), events=events, language=lang,
                       can_edit=call.caller.kind in EDITORS, notice=_notice(call), form_key=call.form_key(),
                       errors={})


def language_page(call: PageCall) -> Any:
    club = _club(call)
    store.save_lang(call.services, club_id=club, actor=call.caller.actor, lang=call.form.get("language", ""),
                    idem_key=call.posted_form_key())
    return call.redirect(call.url_for("panel.messages.templates", notice="language"))


def template_page(call: PageCall) -> Any:
    club = _club(call)
    event = str(call.params["event"])
    spec = tpl.template_of(event)
    services = call.services
    current = services.read(lambda db: {la: store.text_of(db, club, event, la) for la in tpl.LANGS})
    posted = {la: call.form.get(f"text_{la}", current[la].text) for la in tpl.LANGS} if call.method == "POST" \
        else {la: current[la].text for la in tpl.LANGS}
    enabled = (call.form.get("enabled") == "1") if call.method == "POST" else current["fa"].enabled or current["en"].enabled
    errors: dict[str, str] = {}
    if call.method == "POST":
        for la in tpl.LANGS:
            try:
                tpl.validate(event, posted[la])
            except Refusal as exc:
                for path, message in call.errors_of(exc).items():
                    errors[f"{path}_{la}" if path == "text" else path] = message
        if not errors and call.form.get("do") != "preview":
            key = call.posted_form_key()
            saved = store.save_texts(services, club_id=club, actor=call.caller.actor, event=event,
                                     texts={la: posted[la] for la in tpl.LANGS}, enabled=enabled, idem_key=key)
            return call.redirect(call.url_for("panel.messages.templates", notice="saved" if saved else "repeat"))
    now, offset = services.now(), services.utc_offset_min(club)
    previews = {}
    for la in tpl.LANGS:
        try:
            previews[la] = tpl.render(posted[la], tpl.sample_values(event, la, now, offset), spec.placeholders)
        except Refusal:
            previews[la] = ""
    return call.render("messages/template.html", tabs=_tabs(call, "templates"), spec=spec, texts=posted, current=current,
                       enabled=enabled, previews=previews, errors=errors, form_key=call.form.get("form_key") or call.form_key(),
                       status=422 if errors else 200)


# --- webhooks ------------------------------------------------------------------------------------------


def webhooks_page(call: PageCall) -> Any:
    club = _club(call)
    errors: dict[str, str] = {}
    made: dict[str, Any] | None = None
    repeat = False
    form = {"url": "", "events": "*"}
    if call.method == "POST":
        form = {"url": call.form.get("url", ""), "events": call.form.get("events", "")}
        try:
            hook, secret = store.add_webhook(call.services, club_id=club, actor=call.caller.actor, url=form["url"],
                                             events=form["events"], idem_key=call.posted_form_key())
            if secret is None:
                repeat = True
            else:
                made = {"hook": hook, "secret": secret}
            form = {"url": "", "events": "*"}
        except Exception as exc:  # a Refusal, or kimia's error for one raised inside Services.write
            errors = call.errors_of(exc)  # anything else than a refusal is raised again
    return call.render("messages/webhooks.html", tabs=_tabs(call, "webhooks"), hooks=store.webhooks(call.services, club),
                       made=made, errors=errors, form=form, form_key=call.form_key(), events=list(tpl.EVENTS),
                       notice="messages.notice_repeat" if repeat else _notice(call), status=422 if errors else 200)


def webhook_disable_page(call: PageCall) -> Any:
    club = _club(call)
    store.disable_webhook(call.services, club_id=club, actor=call.caller.actor, webhook_id=int(call.params["webhook_id"]),
                          reason="disabled in the panel")
    return call.redirect(call.url_for("panel.messages.webhooks", notice="webhook_disabled"))


def webhook_test_page(call: PageCall) -> Any:
    club = _club(call)
    store.test_webhook(call.services, club_id=club, actor=call.caller.actor, webhook_id=int(call.params["webhook_id"]),
                       idem_key=call.posted_form_key())
    return call.redirect(call.url_for("panel.messages.webhooks", notice="webhook_tested"))


# --- e-mail recipients -------------------------------------------------------------------------------------


def recipients_page(call: PageCall) -> Any:
    club = _club(call)
    errors: dict[str, str] = {}
    form = {"email": "", "events": "lottery.drawn"}
    if call.method == "POST":
        form = {"email": call.form.get("email", ""), "events": call.form.get("events", "")}
        try:
            store.add_recipient(call.services, club_id=club, actor=call.caller.actor, email=form["email"], events=form["events"],
                                idem_key=call.posted_form_key())
            return call.redirect(call.url_for("panel.messages.recipients", notice="recipient_added"))
        except Exception as exc:  # a Refusal, or kimia's error for one raised inside Services.write
            errors = call.errors_of(exc)  # anything else than a refusal is raised again
    return call.render("messages/recipients.html", tabs=_tabs(call, "recipients"), people=store.recipients(call.services, club),
                       errors=errors, form=form, form_key=call.form_key(), events=list(tpl.EVENTS), notice=_notice(call),
                       status=422 if errors else 200)


def recipient_remove_page(call: PageCall) -> Any:
    club = _club(call)
    store.remove_recipient(call.services, club_id=club, actor=call.caller.actor, recipient_id=int(call.params["recipient_id"]))
    return call.redirect(call.url_for("panel.messages.recipients", notice="recipient_removed"))


# --- deliveries -------------------------------------------------------------------------------------------------


def deliveries_page(call: PageCall, errors: dict[str, str] | None = None, status_code: int = 200) -> Any:
    club = _club(call)
    status = call.query.get("status") or None
    if status not in (None, *store.STATUSES):
        status = None
    before = call.query.get("cursor")
    items, cursor = store.deliveries(call.services, club, status=status, limit=store.DEFAULT_LIMIT,
                                     before=int(before) if before and before.isdigit() else None)
    next_url = call.url_for("panel.messages.deliveries", status=status or "", cursor=cursor) if cursor else None
    return call.render("messages/deliveries.html", tabs=_tabs(call, "deliveries"), items=items, chosen=status,
                       statuses=store.STATUSES, next_url=next_url, can_retry=call.caller.kind in RETRIERS,
                       errors=errors or {}, form_key=call.form_key(), notice=_notice(call), status=status_code)


def retry_page(call: PageCall) -> Any:
    club = _club(call)
    delivery_id = int(call.params["delivery_id"])
    try:
        store.retry(call.services, club_id=club, actor=call.caller.actor, delivery_id=delivery_id,
                    reason=call.form.get("reason", ""), idem_key=call.posted_form_key())
    except Exception as exc:  # a Refusal, or kimia's error for one raised inside Services.write
        if getattr(exc, "code", None) in ("unknown_delivery", "not_found"):
            raise
        found = call.errors_of(exc)  # anything else than a refusal is raised again
        shown = {f"{k}.{delivery_id}": v for k, v in found.items()}
        shown.update({"": v for k, v in found.items() if k != "reason"})  # the row may show no form any more
        return deliveries_page(call, shown, 422)
    return call.redirect(call.url_for("panel.messages.deliveries", notice="retried"))


def platform_page(call: PageCall) -> Any:
    return call.render("messages/platform.html", clubs=store.failed_counts(call.services))


def pages() -> list[PanelPage]:
    return [
        PanelPage("panel", "/messages", "templates", templates_page, READERS, menu=MenuEntry("پیام‌ها", "Messages", 300)),
        PanelPage("panel", "/messages/language", "language", language_page, EDITORS, methods=("POST",)),
        PanelPage("panel", "/messages/templates/<event>", "template", template_page, EDITORS, methods=("GET", "POST")),
        PanelPage("panel", "/messages/webhooks", "webhooks", webhooks_page, ADMIN, methods=("GET", "POST")),
        PanelPage("panel", "/messages/webhooks/<int:webhook_id>/disable", "webhook_disable", webhook_disable_page, ADMIN,
                  methods=("POST",)),
        PanelPage("panel", "/messages/webhooks/<int:webhook_id>/test", "webhook_test", webhook_test_page, ADMIN,
                  methods=("POST",)),
        PanelPage("panel", "/messages/recipients", "recipients", recipients_page, ADMIN, methods=("GET", "POST")),
        PanelPage("panel", "/messages/recipients/<int:recipient_id>/remove", "recipient_remove", recipient_remove_page, ADMIN,
                  methods=("POST",)),
        PanelPage("panel", "/messages/deliveries", "deliveries", deliveries_page, READERS,
                  menu=MenuEntry("ارسال پیام‌ها", "Deliveries", 310)),
        PanelPage("panel", "/messages/deliveries/<int:delivery_id>/retry", "retry", retry_page, RETRIERS, methods=("POST",)),
        PanelPage("panel", "/messages/platform", "platform", platform_page, PLATFORM,
                  menu=MenuEntry("ارسال‌های ناموفق", "Failed deliveries", 310)),
    ]
