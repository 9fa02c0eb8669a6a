"""The rules builder (SPEC R1-R14; docs/rules.md): the published rule set and its versions, the
builder (a form for every condition and effect, the JSON beside it, errors at their fields), a dry
run on a sample purchase, a backtest against the rule set in effect with a chart per day,
publishing with a Jalali effective date, and the difference between two versions.

Reads are for every club role; changing or running a rule set is the marketers' (admin,
marketer). Everything goes through the JSON API's rule handlers (kimia/web/api/routes/rules.py)
or the service functions they call, acting as the viewer (``v.ctx()``). The draft lives in the
form (its fields, and the JSON in a hidden field), never in the database, until it is published.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import rules_views, rulesets
from kimia.service.requests import PurchaseRequest
from kimia.web.api.dispatch import parse_model
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import merchants as merchant_routes
from kimia.web.api.routes import rules as api
from kimia.web.panel import charts, fmt, i18n
from kimia.web.panel import rules_form as rf
from kimia.web.panel.access import CLUB_READ, MARKETING, PANEL, Viewer, message_of, posted_form_key
from kimia.web.panel.site import render

#: The parties of a settlement split (the receipt's ``split``), with words ``rules.role.<role>``.
SPLIT_ROLES = ("platform_fee", "club_owner", "marketer", "merchant", "merchant_marketer")
NOTICES = ("rules.published", "rules.scheduled", "rules.already")
#: How long a second press of "publish" with the same draft is taken as the same publication.
REPUBLISH_WINDOW_S = 600


# --- the rule set and its versions ---------------------------------------------------------------


def _versions(v: Viewer) -> list[rulesets.Version]:
    ctx = v.ctx()
    club = api.rules_club(ctx)
    found: list[rulesets.Version] = []
    after = 0
    while True:
        page = rulesets.versions(ctx.svc, club, after_id=after, limit=200)
        found += page
        if len(page) < 200:
            return found
        after = page[-1].id


@PANEL.page("/rules", roles=CLUB_READ, menu=("nav.rules", 30))
def index(v: Viewer) -> Any:
    """The rule set in effect, the versions waiting for their time, and every earlier version."""
    ctx = v.ctx()
    versions = _versions(v)
    now = ctx.svc.clock()
    current = next((x for x in versions if x.in_effect), None)
    body = rulesets.version_body(ctx.svc, api.rules_club(ctx), current.version) if current else {}
    pending = [x for x in versions if x.effective_from > now and not x.in_effect]
    notice = request.args.get("notice")
    return render("panel/rules/index.html", versions=list(reversed(versions)), current=current, rules=body.get("rules", []),
                  pending=pending, now=now, notice=notice if notice in NOTICES else None, can_edit=v.can(MARKETING))


# --- the builder -----------------------------------------------------------------------------------


def _start_draft(v: Viewer) -> dict[str, Any]:
    """The draft the builder opens with: ``?from=<version>``, else the version in effect, else empty."""
    ctx = v.ctx()
    club = api.rules_club(ctx)
    wanted = request.args.get("from", "")
    if wanted.isdigit():
        return rf.draft_of(rulesets.version_body(ctx.svc, club, int(wanted), path="from"))
    current = next((x for x in _versions(v) if x.in_effect), None)
    return rf.draft_of(rulesets.version_body(ctx.svc, club, current.version)) if current else {"rules": []}


def _page(v: Viewer, draft: dict[str, Any], *, errors: dict[str, str] | None = None, json_text: str | None = None,
          json_error: str = "", status: int = 200, **values: Any) -> Any:
    errors = errors or {}
    own = {p: m for p, m in errors.items() if p.startswith(("dry_", "bt_", "pub_"))}
    tree, placed = rf.nodes(draft, {p: m for p, m in errors.items() if p not in own}, utc_offset_min=v.utc_offset_min, lang=v.lang)
    placed.update(own)
    text = rf.to_json(draft)
    now = v.ctx().svc.clock()
    day, hour = rf.today_text(v.utc_offset_min, now, v.lang)
    merchants = merchant_routes.list_merchants(v.ctx(), PageQuery(limit=200)).items
    form = {"dry_amount": "", "dry_count": "0", "dry_payment": "card", "dry_channel": "pos", "bt_days": "30",
            "pub_date": day, "pub_time": hour, "dry_time": f"{day} {hour}"}
    form.update({k: val for k, val in request.form.items() if k.startswith(("dry_", "bt_", "pub_"))})
    json_errors = [(p, m) for p, m in errors.items() if p not in own]
    return render("panel/rules/edit.html", status=status, tree=tree, errors=placed, json_errors=json_errors,
                  json_text=text if json_text is None else json_text, draft_json=text, json_error=json_error,
                  form=form, merchants=merchants, can_edit=v.can(MARKETING), **values)


@PANEL.page("/rules/edit", roles=CLUB_READ)
def edit(v: Viewer) -> Any:
    """The builder with the rule set in effect (or ``?from=<version>``) as its draft."""
    return _page(v, _start_draft(v))


def _api_errors(v: Viewer, error: KimiaError) -> dict[str, str]:
    """A refusal of the API's handler at the builder's field: a draft's path without ``rule_set.``."""
    path = error.path or ""
    if path == "rule_set":
        path = ""
    elif path.startswith("rule_set."):
        path = path[len("rule_set."):]
    else:
        path = _FORM_PATHS.get(path.split(".", 1)[0], path)
    return {path: message_of(error, v.lang)}


#: The dry run's, backtest's and publish's own fields, by the API body's field they fill.
_FORM_PATHS = {"merchant_id": "dry_merchant", "member": "dry_member", "sample_member": "dry_tier", "amount_rial": "dry_amount",
               "basket": "dry_basket", "payment_method": "dry_payment", "channel": "dry_channel", "days": "bt_days",
               "effective_from": "pub_date", "reason": "pub_reason", "groups": "dry_groups", "purchase_count": "dry_count",
               "tier": "dry_tier", "now": "dry_time"}


@PANEL.page("/rules/edit", roles=MARKETING, methods=("POST",))
def edit_post(v: Viewer) -> Any:
    """One step of the builder (the pressed button's ``do``): update from the form or from the
    JSON, add or remove a rule or a row, validate, dry-run, backtest or publish."""
    do = request.form.get("do", "update")
    action = do if do.startswith(("add:", "remove:")) else ""
    if do == "update_json":
        try:
            loaded = json.loads(request.form.get("json", ""))
            if not isinstance(loaded, dict):
                raise ValueError("not an object")
        except ValueError as bad:
            old = _hidden_draft()
            return _page(v, old, json_text=request.form.get("json", ""), json_error=i18n.text("rules.bad_json", v.lang, detail=str(bad)),
                         status=422)
        draft = rf.draft_of(loaded)
        return _page(v, draft, errors=_validate(v, draft), json_text=None)
    reading = rf.read(request.form, request.form.to_dict(flat=False), utc_offset_min=v.utc_offset_min, action=action)
    draft = rf.rule_set_of(reading)
    if reading.errors:
        words = {p: i18n.text(k, v.lang) for p, k in reading.errors.items()}
        return _page(v, draft, errors=words, status=422)
    if action:
        return _page(v, draft)
    if do == "validate" or do == "update":
        errors = _validate(v, draft)
        return _page(v, draft, errors=errors, checked=not errors, status=422 if errors else 200)
    if do == "dry_run":
        return _dry_run(v, draft)
    if do == "backtest":
        return _backtest(v, draft)
    if do == "publish":
        return _publish(v, draft)
    raise reject("field_invalid", path="do", detail="update, update_json, validate, dry_run, backtest, publish, add:..., remove:...")


def _hidden_draft() -> dict[str, Any]:
    try:
        loaded = json.loads(request.form.get("draft", "") or "{}")
    except ValueError:
        return {"rules": []}
    return loaded if isinstance(loaded, dict) else {"rules": []}


def _validate(v: Viewer, draft: dict[str, Any]) -> dict[str, str]:
    """Every error of the draft (the API's validate), each at its field."""
    answer = api.validate(v.ctx(), api.RuleSetIn(rule_set=draft))
    errors: dict[str, str] = {}
    for e in answer.errors:
        path = (e.path or "").removeprefix("rule_set").removeprefix(".")
        message = e.message_fa if v.lang == "fa" else e.message_en
        errors[path] = f"{errors[path]} {message}".strip() if path in errors else message
    return errors


def _basket(text: str) -> list[dict[str, Any]]:
    """Basket lines as the terminal's BL TLV writes them, one a line: goods_id|group|quantity|amount_rial."""
    lines = []
    for i, row in enumerate(x for x in fmt.latin_digits(text).splitlines() if x.strip()):
        parts = [p.strip() for p in row.split("|")]
        if len(parts) != 4:
            raise reject("field_invalid", path=f"basket.{i}", detail="goods_id|group|quantity|amount_rial")
        lines.append({"goods_id": parts[0], "group": parts[1], "quantity": parts[2],
                      "amount_rial": parts[3].replace(",", "").replace("٬", "")})
    return lines


def _dry_run(v: Viewer, draft: dict[str, Any]) -> Any:
    """The API's dry run, at the moment the form names (default now)."""
    f = request.form
    ctx = v.ctx()
    try:
        club = api.rules_club(ctx)
        member_text = fmt.normalize(f.get("dry_member", ""))
        body: dict[str, Any] = {
            "rule_set": draft, "merchant_id": fmt.latin_digits(f.get("dry_merchant", "")) or None,
            "amount_rial": fmt.latin_digits(f.get("dry_amount", "")).replace(",", "").replace("٬", "") or None,
            "basket": _basket(f.get("dry_basket", "")), "payment_method": f.get("dry_payment", "card"),
            "channel": f.get("dry_channel", "pos")}
        if member_text:
            body["member"] = {"kind": "mobile" if member_text.startswith("09") else "id", "value": member_text}
        else:
            groups = [g for g in fmt.latin_digits(f.get("dry_groups", "")).replace("،", ",").split(",") if g.strip()]
            body["sample_member"] = {"tier": f.get("dry_tier", "").strip() or None, "groups": [g.strip() for g in groups],
                                     "purchase_count": fmt.latin_digits(f.get("dry_count", "0")).strip() or 0}
        model = parse_model(api.DryRunIn, body)
        at = rf.parse_instant(f.get("dry_time", ""), v.utc_offset_min) if f.get("dry_time", "").strip() else None
    except ValueError:
        return _page(v, draft, errors={"dry_time": i18n.text("rules.bad.instant", v.lang)}, status=422)
    except KimiaError as error:
        return _page(v, draft, errors=_api_errors(v, error), status=422)
    try:
        merchant_id = ctx.merchant(model.merchant_id)
        member: Any = model.member.model_dump() if model.member else {"kind": "id", "value": "0"}
        req = PurchaseRequest(idem_key="dry-run", merchant_id=merchant_id, member=member, amount_rial=model.amount_rial,
                              basket=[line.model_dump() for line in model.basket], payment_method=model.payment_method,
                              channel=model.channel, branch_id=model.branch_id, actor=ctx.actor)
        sample = model.sample_member
        made_up = rulesets.SampleMember(sample.tier, tuple(sample.groups), sample.purchase_count) if sample else None
        answer = rulesets.dry_run(ctx.svc, club, api.the_draft(club, draft), req, made_up, now=at)
    except KimiaError as error:
        moved = api.at_body(error) if error.code.startswith("rule_") or error.code == "foreign_reference" else error
        return _page(v, draft, errors=_api_errors(v, moved), status=422)
    result = api.DryRunOut.model_validate(answer)
    lines = result.explanation_fa if v.lang == "fa" else result.explanation_en
    extra = result.model_extra or {}
    return _page(v, draft, dry=result, dry_lines=lines, dry_extra=extra, dry_at=at or ctx.svc.clock(), section="dry", roles=SPLIT_ROLES,
                 credit_kinds=rf.CREDIT_KINDS)


def _backtest(v: Viewer, draft: dict[str, Any]) -> Any:
    """The draft and the rule set in effect over the last N days: totals, cost per funder, a chart per day."""
    ctx = v.ctx()
    days_text = fmt.latin_digits(request.form.get("bt_days", "30")).strip()
    if not days_text.isdigit() or not 1 <= int(days_text) <= 365:
        return _page(v, draft, errors={"bt_days": i18n.text("rules.bad.days", v.lang)}, status=422)
    try:
        club = api.rules_club(ctx)
        run = rules_views.compare(ctx.svc, club, api.the_draft(club, rulesets.normalized(draft)), days=int(days_text))
    except KimiaError as error:
        if error.code.startswith("rule_") or error.code == "foreign_reference":
            error = api.at_body(error)
        return _page(v, draft, errors=_api_errors(v, error), status=422)
    new = api.backtest_out(run.new)
    old = api.backtest_out(run.old) if run.old else None
    labels = _day_labels([fmt.local_time(d.start, v.utc_offset_min).date() for d in run.daily], v.lang)
    series = [charts.Series(i18n.text("rules.bt.old", v.lang), [d.cost_old for d in run.daily]),
              charts.Series(i18n.text("rules.bt.new", v.lang), [d.cost_new for d in run.daily])]
    chart = charts.bars(i18n.text("rules.bt.chart", v.lang), labels, series, v.lang)
    funders = sorted({f.funder for f in new.funders} | {f.funder for f in (old.funders if old else [])})
    cost = {f: ({x.funder: x.cost_rial for x in old.funders}.get(f, 0) if old else 0,
                {x.funder: x.cost_rial for x in new.funders}.get(f, 0)) for f in funders}
    names = {str(r.get("id")): rule_name(r, v.lang) for r in draft.get("rules", []) if isinstance(r, dict)}
    return _page(v, draft, bt_new=new, bt_old=old, bt_names=names, bt_old_version=run.old_version, bt_chart=chart, bt_legend=charts.legend(series),
                 bt_funders=cost, section="backtest")


def _day_labels(days: list[dt.date], lang: str) -> list[str]:
    """A chart's days: the day of the month, with the month's name on the first and on each month's 1st."""
    out = []
    for i, day in enumerate(days):
        label = fmt.jday_label(day, lang)
        out.append(label if i == 0 or fmt.jalali(day)[2] == 1 else label.split(" ", 1)[0])
    return out


def _effective(v: Viewer) -> int | None:
    """The publish form's Jalali date and time in the club's time zone (None: now)."""
    day_text = request.form.get("pub_date", "").strip()
    hour_text = fmt.latin_digits(request.form.get("pub_time", "").strip()) or "00:00"
    if not day_text:
        return None
    day = fmt.parse_jdate(day_text, "pub_date")
    parts = hour_text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not (0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60):
        raise reject("field_invalid", path="pub_time", detail="HH:MM")
    return fmt.day_start(day, v.utc_offset_min) + int(parts[0]) * 3600 + int(parts[1]) * 60


def _same_as_last(v: Viewer, club: int, draft: dict[str, Any], effective: int | None) -> bool:
    """The draft was just published by this person (the same form sent twice)."""
    ctx = v.ctx()
    versions = _versions(v)
    if not versions:
        return False
    last = versions[-1]
    now = ctx.svc.clock()
    if last.created_by != v.actor or last.created_at < now - REPUBLISH_WINDOW_S:
        return False
    if effective is not None and abs(last.effective_from - max(effective, last.created_at)) > 60:
        return False
    stored = rf.draft_of(rulesets.version_body(ctx.svc, club, last.version))
    mine = rulesets.normalized(draft)
    if "settlement" not in mine:
        stored.pop("settlement", None)
    return json.dumps(stored, sort_keys=True, default=str) == json.dumps(json.loads(json.dumps(mine)), sort_keys=True, default=str)


def _publish(v: Viewer, draft: dict[str, Any]) -> Any:
    """Publish the draft to take effect at the form's Jalali date and time (default now)."""
    try:
        posted_form_key()
        effective = _effective(v)
        reason = request.form.get("pub_reason", "").strip()
        if not reason:
            raise reject("reason_required", path="pub_reason")
        ctx = v.ctx(idem_key=posted_form_key())
        club = api.rules_club(ctx, write=True)
        if _same_as_last(v, club, draft, effective):
            return redirect(url_for("panel.rules.index", notice="rules.already"))
        iso = None
        if effective is not None:
            zone = dt.timezone(dt.timedelta(minutes=v.utc_offset_min))
            iso = dt.datetime.fromtimestamp(effective, zone).isoformat()
        body = parse_model(api.PublishIn, {"rule_set": draft, "effective_from": iso, "reason": reason})
        version = api.publish(ctx, body)
    except KimiaError as error:
        errors = _api_errors(v, error)
        if error.path is None and error.code not in ("forbidden",):
            errors = {"pub_reason" if error.code == "reason_required" else "": message_of(error, v.lang)}
        return _page(v, draft, errors=errors, status=422, section="publish")
    return redirect(url_for("panel.rules.index", notice="rules.published" if version.in_effect else "rules.scheduled"))


# --- the difference between two versions ---------------------------------------------------------


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON value by its dotted path (lists by index)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, x in value.items():
            out.update(_flat(x, f"{path}.{k}" if path else str(k)))
        return out
    if isinstance(value, list) and value and any(isinstance(x, (dict, list)) for x in value):
        out = {}
        for i, x in enumerate(value):
            out.update(_flat(x, f"{path}.{i}" if path else str(i)))
        return out
    return {path: value}


def _show(value: Any, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return fmt.number(value, lang)
    return value if isinstance(value, str) else fmt.digits(json.dumps(value, ensure_ascii=False), lang)


def changes(a: Any, b: Any, lang: str) -> list[tuple[str, str, str]]:
    """(field, before, after) for every leaf that differs, numbers in the page's digits."""
    fa, fb = _flat(a), _flat(b)
    return [(k, _show(fa.get(k), lang), _show(fb.get(k), lang)) for k in sorted(set(fa) | set(fb), key=lambda k: (k.split(".")[0], k))
            if fa.get(k) != fb.get(k)]


@PANEL.page("/rules/diff", roles=CLUB_READ)
def diff(v: Viewer) -> Any:
    """What changed from version ``a`` to version ``b`` (default: the two newest)."""
    ctx = v.ctx()
    club = api.rules_club(ctx)
    versions = _versions(v)
    numbers = [x.version for x in versions]
    a_text, b_text = fmt.latin_digits(request.args.get("a", "")), fmt.latin_digits(request.args.get("b", ""))
    b = int(b_text) if b_text.isdigit() else (numbers[-1] if numbers else 0)
    a = int(a_text) if a_text.isdigit() else (numbers[-2] if len(numbers) > 1 else b)
    if not numbers:
        return render("panel/rules/diff.html", versions=versions, a=0, b=0, change=None)
    change = api.diff(ctx, a, b)
    body_a = rulesets.version_body(ctx.svc, club, a, path="a")
    body_b = rulesets.version_body(ctx.svc, club, b, path="b")
    rules_a = {str(r.get("id")): r for r in body_a.get("rules", [])}
    rules_b = {str(r.get("id")): r for r in body_b.get("rules", [])}
    changed = [(i, rules_b[i], changes(rules_a[i], rules_b[i], v.lang)) for i in change.changed]
    fields = [(k, changes(body_a.get(k), body_b.get(k), v.lang)) for k in change.fields_changed]
    return render("panel/rules/diff.html", versions=versions, a=a, b=b, change=change, added=[rules_b[i] for i in change.added],
                  removed=[rules_a[i] for i in change.removed], changed=changed, fields=fields)


def rule_name(rule: dict[str, Any], lang: str) -> str:
    names = rule.get("name") or {}
    return str(names.get(lang) or names.get("en") or rule.get("id", ""))


i18n.add({
    "nav.rules": ("قوانین و طرح‌ها", "Rules"),
    "rules.title": ("قوانین باشگاه", "The club's rules"),
    "rules.in_effect": ("نسخهٔ جاری", "In effect"),
    "rules.none": ("هنوز مجموعه قوانینی منتشر نشده است.", "No rule set has been published yet."),
    "rules.version": ("نسخه", "Version"),
    "rules.version_n": ("نسخهٔ {n}", "Version {n}"),
    "rules.versions": ("نسخه‌ها", "Versions"),
    "rules.pending": ("نسخه‌های در انتظار", "Versions waiting for their time"),
    "rules.pending_badge": ("در انتظار", "Pending"),
    "rules.current_badge": ("جاری", "In effect"),
    "rules.past_badge": ("قبلی", "Earlier"),
    "rules.effective": ("اجرا از", "Effective from"),
    "rules.published_by": ("منتشرکننده", "Published by"),
    "rules.published_at": ("زمان انتشار", "Published"),
    "rules.rule_count": ("تعداد قانون", "Rules"),
    "rules.open_builder": ("ویرایش در سازندهٔ قوانین", "Open in the builder"),
    "rules.start_from": ("شروع از این نسخه", "Start from this version"),
    "rules.compare": ("مقایسه", "Compare"),
    "rules.compare_prev": ("تفاوت با نسخهٔ قبل", "Changes from the one before"),
    "rules.published": ("مجموعه قوانین منتشر شد و از همین حالا اجرا می‌شود.", "The rule set is published and in effect now."),
    "rules.scheduled": ("مجموعه قوانین منتشر شد و از زمان تعیین‌شده اجرا می‌شود.", "The rule set is published and waits for its time."),
    "rules.already": ("این پیش‌نویس همین حالا منتشر شده بود؛ دوباره منتشر نشد.", "This draft was just published; it was not published again."),
    "rules.rules_now": ("قوانین نسخهٔ جاری", "The rules in effect"),
    "rules.rule_id": ("شناسه", "Id"),
    "rules.builder": ("سازندهٔ قوانین", "Rules builder"),
    "rules.builder_intro": ("پیش‌نویس فقط در همین فرم نگه داشته می‌شود تا وقتی منتشرش کنید. هر تغییر در فرم یا JSON را با «به‌روزرسانی» به طرف دیگر ببرید.",
                            "The draft lives in this form until you publish it. Press “Update” to carry a change in the form or the JSON to the other side."),
    "rules.read_only": ("شما فقط می‌توانید قوانین را ببینید؛ تغییر و انتشار با مدیر یا بازاریاب باشگاه است.",
                        "You may look at the rules; changing and publishing them is for the club's admin or marketer."),
    "rules.form": ("فرم", "Form"),
    "rules.json": ("متن JSON", "JSON"),
    "rules.update": ("به‌روزرسانی از فرم", "Update from the form"),
    "rules.update_json": ("به‌روزرسانی از JSON", "Update from the JSON"),
    "rules.validate": ("بررسی", "Check"),
    "rules.valid": ("پیش‌نویس درست است و قابل انتشار.", "The draft is valid and can be published."),
    "rules.has_errors": ("پیش‌نویس خطا دارد؛ خطاها کنار هر فیلد آمده‌اند.", "The draft has errors; each is shown at its field."),
    "rules.errors": ("خطاها", "Errors"),
    "rules.bad_json": ("JSON خوانا نیست: {detail}", "The JSON cannot be read: {detail}"),
    "rules.add_rule": ("افزودن قانون", "Add a rule"),
    "rules.remove": ("حذف", "Remove"),
    "rules.add": ("افزودن", "Add"),
    "rules.add_condition": ("افزودن شرط", "Add a condition"),
    "rules.add_effect": ("افزودن اثر", "Add an effect"),
    "rules.rule": ("قانون", "Rule"),
    "rules.item": ("مورد", "Item"),
    "rules.more": ("محدوده، تأمین هزینه، بودجه و اعتبار زمانی", "Scope, funding, budgets and validity"),
    "rules.rule_set": ("تنظیمات مجموعه", "The rule set"),
    "rules.condition": ("شرط", "Condition"),
    "rules.effect": ("اثر", "Effect"),
    "rules.type": ("نوع", "Type"),
    "rules.default": ("(پیش‌فرض)", "(default)"),
    "rules.yes": ("بله", "Yes"),
    "rules.no": ("خیر", "No"),
    "rules.hint.ids": ("شناسه‌ها را با کاما جدا کنید", "Ids, separated by commas"),
    "rules.hint.strs": ("با کاما جدا کنید", "Separated by commas"),
    "rules.hint.bp": ("واحد ده‌هزارم: ۱۰۰۰ یعنی ۱۰٪", "Basis points: 1000 is 10%"),
    "rules.hint.date": ("مثل ۱۴۰۵-۰۹-۲۵", "Such as 1405-09-25"),
    "rules.hint.hour": ("ساعت محلی، مثل ۱۶:۰۰", "Local time, such as 16:00"),
    "rules.hint.instant": ("تاریخ شمسی و ساعت، مثل ۱۴۰۵/۰۹/۱۵ ۰۸:۰۰", "Jalali date and time, such as 1405/09/15 08:00"),
    "rules.hint.tier_map": ("مثل gold=20000, silver=15000", "Such as gold=20000, silver=15000"),
    "rules.hint.group_map": ("شناسهٔ گروه=ضریب، مثل 7=20000", "Group id=multiplier, such as 7=20000"),
    "rules.bad.int": ("یک عدد صحیح بنویسید.", "Write a whole number."),
    "rules.bad.ints": ("شناسه‌ها باید عدد باشند و با کاما جدا شوند.", "Ids must be numbers separated by commas."),
    "rules.bad.strs": ("مقدار نامعتبر است.", "Invalid value."),
    "rules.bad.str": ("مقدار نامعتبر است.", "Invalid value."),
    "rules.bad.null_str": ("مقدار نامعتبر است.", "Invalid value."),
    "rules.bad.enum": ("یکی از گزینه‌ها را انتخاب کنید.", "Choose one of the options."),
    "rules.bad.enums": ("یکی از گزینه‌ها را انتخاب کنید.", "Choose among the options."),
    "rules.bad.bool": ("بله یا خیر را انتخاب کنید.", "Choose yes or no."),
    "rules.bad.map": ("به شکل نام=عدد و با کاما جدا بنویسید.", "Write name=number pairs separated by commas."),
    "rules.bad.instant": ("تاریخ شمسی و ساعت را مثل ۱۴۰۵/۰۹/۱۵ ۰۸:۰۰ بنویسید.", "Write a Jalali date and time such as 1405/09/15 08:00."),
    "rules.bad.days": ("تعداد روز باید از ۱ تا ۳۶۵ باشد.", "The number of days must be 1 to 365."),
    "rules.dry": ("آزمایش روی یک خرید نمونه", "Dry run on a sample purchase"),
    "rules.dry_intro": ("ببینید این پیش‌نویس به یک خرید چه می‌دهد؛ چیزی ثبت نمی‌شود.", "See what this draft gives a purchase; nothing is written."),
    "rules.dry_merchant": ("پذیرنده", "Merchant"),
    "rules.dry_member": ("عضو (شناسه یا شمارهٔ همراه)", "Member (id or mobile)"),
    "rules.dry_member_hint": ("خالی بگذارید تا یک عضو نمونه با مشخصات زیر در نظر گرفته شود", "Leave empty for a made-up member as below"),
    "rules.dry_tier": ("سطح عضو نمونه", "Sample member's tier"),
    "rules.dry_groups": ("گروه‌های عضو نمونه", "Sample member's groups"),
    "rules.dry_count": ("تعداد خریدهای قبلی", "Earlier purchases"),
    "rules.dry_amount": ("مبلغ خرید (ریال)", "Amount (rials)"),
    "rules.dry_basket": ("اقلام سبد", "Basket lines"),
    "rules.dry_basket_hint": ("هر قلم در یک سطر: کد کالا|گروه|تعداد|مبلغ", "One a line: goods_id|group|quantity|amount"),
    "rules.dry_payment": ("روش پرداخت", "Payment"),
    "rules.dry_channel": ("کانال", "Channel"),
    "rules.dry_time": ("زمان خرید", "Time of purchase"),
    "rules.dry_run": ("آزمایش کن", "Dry run"),
    "rules.decision": ("نتیجه", "The decision"),
    "rules.d.amount": ("مبلغ خرید", "Amount"),
    "rules.d.discount": ("تخفیف", "Discount"),
    "rules.d.payable": ("قابل پرداخت", "To pay"),
    "rules.d.points": ("امتیاز", "Points"),
    "rules.d.credit": ("اعتبار", "Credit"),
    "rules.d.entries": ("شانس قرعه‌کشی", "Lottery entries"),
    "rules.d.voucher": ("ووچر", "Voucher"),
    "rules.d.template": ("از الگوی {id}", "From template {id}"),
    "rules.d.expires": ("انقضا:", "Expires"),
    "rules.d.pending": ("قابل استفاده از", "Usable from"),
    "rules.d.applied": ("قوانین اعمال‌شده", "Rules applied"),
    "rules.d.split": ("تسهیم", "Split"),
    "rules.d.explain": ("توضیح", "Explanation"),
    "rules.d.lottery": ("قرعه‌کشی {id}", "Lottery {id}"),
    "rules.d.role": ("ذی‌نفع", "Beneficiary"),
    "rules.role.platform_fee": ("کارمزد سکو", "Platform fee"),
    "rules.role.club_owner": ("باشگاه‌دار", "Club owner"),
    "rules.role.marketer": ("بازاریاب", "Marketer"),
    "rules.role.merchant": ("پذیرنده", "Merchant"),
    "rules.role.merchant_marketer": ("پذیرندهٔ معرف", "Enrolling merchant"),
    "rules.bt": ("آزمون روی خریدهای گذشته", "Backtest on past purchases"),
    "rules.bt_intro": ("پیش‌نویس و قوانین جاری روی خریدهای واقعی روزهای اخیر اجرا می‌شوند؛ چیزی ثبت نمی‌شود.",
                       "The draft and the rules in effect replay the club's recent purchases; nothing is written."),
    "rules.bt_days": ("تعداد روز", "Days"),
    "rules.bt_run": ("اجرای آزمون", "Run the backtest"),
    "rules.bt.old": ("قوانین جاری", "Rules in effect"),
    "rules.bt.new": ("پیش‌نویس", "Draft"),
    "rules.bt.chart": ("هزینهٔ پاداش‌ها در هر روز (ریال)", "Cost of rewards per day (rials)"),
    "rules.bt.what": ("شاخص", "Figure"),
    "rules.bt.purchases": ("خریدها", "Purchases"),
    "rules.bt.with_reward": ("خرید با پاداش", "With a reward"),
    "rules.bt.amount": ("مبلغ خریدها", "Amount"),
    "rules.bt.discount": ("تخفیف", "Discount"),
    "rules.bt.points": ("امتیاز صادرشده", "Points issued"),
    "rules.bt.credit": ("اعتبار صادرشده", "Credit issued"),
    "rules.bt.entries": ("شانس قرعه‌کشی", "Lottery entries"),
    "rules.bt.vouchers": ("ووچر", "Vouchers"),
    "rules.bt.funders": ("هزینه به تفکیک تأمین‌کننده", "Cost per funder"),
    "rules.bt.funder": ("تأمین‌کننده", "Funder"),
    "rules.bt.rules": ("قوانین پیش‌نویس", "The draft's rules"),
    "rules.bt.uses": ("دفعات", "Uses"),
    "rules.bt.no_old": ("قانون جاری‌ای برای مقایسه نیست.", "No rules in effect to compare with."),
    "rules.bt.note": ("در نمودار هر روز جداگانه اجرا شده است؛ بودجه‌های روزانه و ماهانه در جمع کل دقیق‌ترند.",
                      "The chart replays each day on its own; the totals count budgets across days."),
    "rules.pub": ("انتشار", "Publish"),
    "rules.pub_intro": ("نسخهٔ تازه از زمانی که تعیین می‌کنید اجرا می‌شود؛ تا آن زمان نسخهٔ جاری می‌ماند.",
                        "The new version takes effect at the time you set; until then the one in effect stays."),
    "rules.pub_date": ("تاریخ اجرا", "Effective date"),
    "rules.pub_time": ("ساعت اجرا", "Effective time"),
    "rules.pub_reason": ("دلیل انتشار", "Why"),
    "rules.pub_go": ("انتشار نسخهٔ تازه", "Publish a new version"),
    "rules.pub_confirm": ("این پیش‌نویس به‌عنوان نسخهٔ تازهٔ قوانین منتشر شود؟", "Publish this draft as the new version of the rules?"),
    "rules.diff": ("تفاوت نسخه‌ها", "Compare versions"),
    "rules.diff_from": ("از نسخه", "From version"),
    "rules.diff_to": ("تا نسخه", "To version"),
    "rules.diff_added": ("قوانین افزوده", "Rules added"),
    "rules.diff_removed": ("قوانین حذف‌شده", "Rules removed"),
    "rules.diff_changed": ("قوانین تغییرکرده", "Rules changed"),
    "rules.diff_fields": ("تنظیمات تغییرکردهٔ مجموعه", "The rule set's own settings changed"),
    "rules.diff_field": ("فیلد", "Field"),
    "rules.diff_before": ("قبل", "Before"),
    "rules.diff_after": ("بعد", "After"),
    "rules.diff_same": ("این دو نسخه تفاوتی ندارند.", "The two versions are the same."),
    "rules.diff_none": ("برای مقایسه دست‌کم دو نسخه لازم است.", "Comparing needs two versions."),
})

i18n.add({f"rules.c.{k}": v for k, v in {
    "merchant": ("پذیرنده", "Merchant"), "merchant_group": ("گروه پذیرندگان", "Merchant group"), "branch": ("شعبه", "Branch"),
    "club": ("باشگاه یا زیرباشگاه", "Club or sub-club"), "goods": ("کالا", "Goods"), "goods_group": ("گروه کالا", "Goods group"),
    "member_group": ("گروه اعضا", "Member group"), "tier": ("سطح عضویت", "Tier"),
    "days_since_last_purchase": ("روز از آخرین خرید", "Days since the last purchase"),
    "spend_in_window": ("مبلغ خرید در بازهٔ اخیر", "Spend in recent days"),
    "purchases_in_window": ("تعداد خرید در بازهٔ اخیر", "Purchases in recent days"), "points_held": ("موجودی امتیاز", "Points held"),
    "date_range": ("بازهٔ تاریخ", "Date range"), "hour_range": ("بازهٔ ساعت", "Hours"), "weekdays": ("روزهای هفته", "Weekdays"),
    "amount": ("مبلغ خرید", "Purchase amount"), "nth_purchase": ("خرید nام", "Every nth purchase"),
    "first_purchase": ("اولین خرید", "First purchase"), "payment_method": ("روش پرداخت", "Payment method"),
    "channel": ("کانال خرید", "Channel"), "all": ("همهٔ این شرط‌ها", "All of these"), "any": ("دست‌کم یکی از این شرط‌ها", "Any of these"),
    "not": ("نه این شرط", "Not this"),
}.items()})

i18n.add({f"rules.e.{k}": v for k, v in {
    "discount": ("تخفیف نقدی", "Cash discount"), "points": ("امتیاز", "Points"), "credit": ("اعتبار", "Credit"),
    "lottery": ("شانس قرعه‌کشی", "Lottery entries"), "voucher": ("ووچر", "Voucher"), "referral": ("امتیاز معرف", "Referral points"),
    "credit_spend_discount": ("تخفیف پرداخت با اعتبار", "Discount for paying with credit"),
}.items()})

i18n.add({f"rules.f.{k}": v for k, v in {
    "point_value_rial": ("ارزش هر امتیاز (ریال)", "Value of a point (rials)"), "settlement": ("تسهیم و کارمزد", "Settlement and fees"),
    "stacking_groups": ("گروه‌های ترکیب", "Stacking groups"), "merchant_sets": ("مجموعه‌های پذیرندگان", "Merchant sets"),
    "rules": ("قوانین", "Rules"), "club_owner_bp": ("سهم باشگاه‌دار", "Club owner's share"), "marketer_bp": ("سهم بازاریاب", "Marketer's share"),
    "merchant_marketer_bp": ("سهم پذیرندهٔ معرف", "Enrolling merchant's share"), "fee_tariffs": ("تعرفه‌های کارمزد", "Fee tariffs"),
    "business_type": ("نوع کسب‌وکار", "Business type"), "percent_bp": ("درصد", "Percent"), "fixed_rial": ("مبلغ ثابت (ریال)", "Fixed (rials)"),
    "cap_rial": ("سقف (ریال)", "Cap (rials)"), "name": ("نام", "Name"), "mode": ("شیوهٔ ترکیب", "Mode"), "id": ("شناسه", "Id"),
    "merchants": ("پذیرندگان", "Merchants"), "merchant_groups": ("گروه‌های پذیرندگان", "Merchant groups"), "fa": ("نام فارسی", "Persian name"),
    "en": ("نام انگلیسی", "English name"), "enabled": ("فعال", "Enabled"), "priority": ("اولویت", "Priority"),
    "stacking_group": ("گروه ترکیب", "Stacking group"), "valid_from": ("معتبر از", "Valid from"), "valid_to": ("معتبر تا", "Valid to"),
    "scope": ("محدوده", "Scope"), "funding": ("تأمین هزینه", "Funding"), "conditions": ("شرط‌ها", "Conditions"),
    "effects": ("اثرها", "Effects"), "budgets": ("بودجه‌ها", "Budgets"), "clubs": ("باشگاه‌ها", "Clubs"), "branches": ("شعبه‌ها", "Branches"),
    "merchant": ("پذیرنده", "Merchant"), "club_owner": ("باشگاه‌دار", "Club owner"), "platform": ("سکو", "Platform"),
    "marketer": ("بازاریاب", "Marketer"), "per": ("به ازای", "Per"), "period": ("دوره", "Period"),
    "limit_rial": ("سقف ریالی", "Limit (rials)"), "limit_count": ("سقف دفعات", "Limit (uses)"), "fill": ("وقتی بودجه کم است", "When short"),
    "ids": ("شناسه‌ها", "Ids"), "names": ("نام‌ها", "Names"), "min": ("حداقل", "Minimum"), "max": ("حداکثر", "Maximum"),
    "days": ("روزها", "Days"), "from": ("از", "From"), "to": ("تا", "To"), "calendar": ("تقویم", "Calendar"), "n": ("عدد n", "n"),
    "at_merchant": ("فقط خریدهای همین پذیرنده", "At this merchant only"), "methods": ("روش‌ها", "Methods"),
    "credit_kinds": ("نوع‌های اعتبار", "Credit kinds"), "channels": ("کانال‌ها", "Channels"), "per_rial": ("به ازای هر (ریال)", "Per (rials)"),
    "points": ("امتیاز", "Points"), "fixed": ("ثابت", "Fixed"), "rounding": ("گرد کردن", "Rounding"),
    "tier_multipliers_bp": ("ضریب هر سطح", "Multiplier per tier"), "group_multipliers_bp": ("ضریب هر گروه اعضا", "Multiplier per member group"),
    "expires_days": ("انقضا پس از (روز)", "Expires after (days)"), "pending_days": ("قابل استفاده پس از (روز)", "Usable after (days)"),
    "kind": ("نوع اعتبار", "Credit kind"), "spendable_at": ("قابل خرج در مجموعهٔ", "Spendable at set"),
    "lottery_id": ("شناسهٔ قرعه‌کشی", "Lottery id"), "entries": ("شانس", "Entries"), "template_id": ("شناسهٔ الگوی ووچر", "Voucher template id"),
    "of": ("شرط‌های درونی", "Inner conditions"),
}.items()})

i18n.add({f"rules.o.{k}": v for k, v in {
    "gregorian": ("میلادی", "Gregorian"), "jalali": ("شمسی", "Jalali"), "sat": ("شنبه", "Sat"), "sun": ("یکشنبه", "Sun"),
    "mon": ("دوشنبه", "Mon"), "tue": ("سه‌شنبه", "Tue"), "wed": ("چهارشنبه", "Wed"), "thu": ("پنجشنبه", "Thu"), "fri": ("جمعه", "Fri"),
    "card": ("کارت", "Card"), "cash": ("نقد", "Cash"), "mixed": ("کارت و نقد", "Card and cash"), "credit": ("اعتبار", "Credit"),
    "merchant": ("پذیرنده", "Merchant"), "club": ("باشگاه", "Club"), "virtual": ("مجازی", "Virtual"), "cashback": ("بازگشت وجه", "Cashback"),
    "gift": ("هدیه", "Gift"), "welfare": ("رفاهی", "Welfare"), "credit_line": ("خط اعتباری", "Credit line"),
    "pos": ("کارتخوان", "Card reader"), "pcpos": ("صندوق فروشگاه", "Cash register"), "app": ("اپ", "App"), "web": ("وب", "Web"),
    "api": ("رابط برنامه‌نویسی (API)", "API"), "panel": ("پنل", "Panel"), "floor": ("به پایین", "Down"), "half_up": ("به نزدیک‌ترین", "Nearest"),
    "ceil": ("به بالا", "Up"), "rule": ("کل قانون", "The whole rule"), "member": ("هر عضو", "Each member"),
    "day": ("روز", "Day"), "month": ("ماه", "Month"), "total": ("کل دوره", "All time"), "partial": ("باقی‌مانده داده شود", "Give what is left"),
    "all_or_nothing": ("یا همه یا هیچ", "All or nothing"), "stackable": ("همه با هم", "Stackable"), "exclusive": ("فقط بهترین", "Exclusive"),
    "first_match": ("اولین قانون منطبق", "First match"),
}.items()})
