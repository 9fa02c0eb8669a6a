"""The audit log (who, when, what, why) of every manual action, newest first, filtered by action
and actor and read in pages, with the hash chain's check (what ``kimia check`` verifies) at the
top. A club's admin and read-only staff read their club tree's rows (the API's read, GET
/audit-log); the platform operator reads every club's."""

from __future__ import annotations

import json
from typing import Any

from flask import request, url_for

from kimia.service import backoffice_views as views
from kimia.service import offers_views
from kimia.web.panel import fmt, i18n
from kimia.web.panel.access import PANEL, Viewer, service
from kimia.web.panel.site import render

AUDIT_READERS = frozenset({"admin", "read_only", "platform"})
PAGE = 50
#: The longest payload summary a row shows (the whole payload is in its title).
SUMMARY = 160

i18n.add({
    "nav.audit": ("گزارش ممیزی", "Audit log"),
    "audit.title": ("گزارش ممیزی", "Audit log"),
    "audit.intro": ("هر اقدام دستی با انجام‌دهنده، زمان و دلیلش ثبت می‌شود؛ گزارش فقط افزودنی و زنجیره‌ای است و ویرایش هر سطر زنجیره را می‌شکند.",
                    "Every manual action is kept with who, when and why; the log is append-only and chained, so editing any row "
                    "breaks the chain."),
    "audit.chain_ok": ("زنجیرهٔ گزارش ممیزی سالم است.", "The audit log's chain holds."),
    "audit.chain_rows": ("{n} سطر بررسی شد؛ سرِ زنجیره: {head}", "{n} rows checked; chain head: {head}"),
    "audit.chain_broken": ("زنجیرهٔ گزارش ممیزی شکسته است: سطرهایی بیرون از کیمیا ویرایش، حذف یا افزوده شده‌اند.",
                           "The audit log's chain is broken: rows were edited, deleted or inserted outside kimia."),
    "audit.action": ("اقدام", "Action"),
    "audit.actor": ("انجام‌دهنده", "Actor"),
    "audit.club": ("باشگاه", "Club"),
    "audit.when": ("زمان", "When"),
    "audit.details": ("جزئیات", "Details"),
    "audit.filter": ("پالایش", "Filter"),
    "audit.clear": ("همه", "All"),
    "audit.none": ("سطری با این پالایش نیست.", "No row matches."),
    "audit.platform": ("سکو", "Platform"),
})

#: What the log's actions mean, for people (an action not here shows its code).
ACTIONS: dict[str, tuple[str, str]] = {
    "adjust": ("اصلاح دستی حساب", "Manual adjustment"),
    "charge": ("شارژ اعتبار", "Credit charged"),
    "set_credit_limit": ("تعیین سقف اعتبار", "Credit limit set"),
    "expire_sweep": ("انقضای امتیاز و اعتبار", "Expiry sweep"),
    "move_tier": ("انتقال دستی طبقه", "Tier moved by hand"),
    "update_settings": ("تغییر تنظیمات باشگاه", "Club settings changed"),
    "publish_rules": ("انتشار قاعده‌ها", "Rules published"),
    "create_voucher_template": ("ساخت قالب ووچر", "Voucher template created"),
    "open_lottery": ("ساخت قرعه‌کشی", "Lottery opened"),
    "draw_lottery": ("قرعه‌کشی", "Lottery drawn"),
    "bind_identifier": ("اتصال شناسه", "Identifier bound"),
    "set_pin": ("تعیین رمز کارت", "PIN set"),
    "create_club": ("ساخت باشگاه", "Club created"),
    "create_owner": ("ساخت مالک", "Owner created"),
    "create_merchant": ("ساخت پذیرنده", "Merchant created"),
    "create_branch": ("ساخت شعبه", "Branch created"),
    "create_terminal": ("ساخت پایانه", "Terminal created"),
    "create_marketer": ("ساخت بازاریاب", "Marketer created"),
    "create_merchant_group": ("ساخت گروه پذیرنده", "Merchant group created"),
    "create_member_group": ("ساخت گروه اعضا", "Member group created"),
    "create_shared_wallet": ("ساخت کیف پول مشترک", "Shared wallet created"),
    "create_meta_club": ("ساخت فراباشگاه", "Meta-club created"),
    "set_fee_tariff": ("تعیین کارمزد", "Fee tariff set"),
    "api_key_created": ("ساخت کلید API", "API key created"),
    "api_key_revoked": ("ابطال کلید API", "API key revoked"),
    "panel_user_created": ("ساخت کاربر پنل", "Panel user created"),
    "panel_user_disabled": ("غیرفعال‌کردن کاربر پنل", "Panel user disabled"),
    "panel_user_enabled": ("فعال‌کردن کاربر پنل", "Panel user enabled"),
    "panel_password_set": ("تعیین گذرواژهٔ پنل", "Panel password set"),
}
i18n.add({f"audit.action.{k}": pair for k, pair in ACTIONS.items()})


def _summary(payload: Any) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)
    return text if len(text) <= SUMMARY else text[:SUMMARY - 1] + "…"


@PANEL.page("/audit", roles=AUDIT_READERS, menu=("nav.audit", 80))
def audit_log(v: Viewer) -> Any:
    """Rows of the audit log, newest first, PAGE at a time (``before`` an id), by action and actor."""
    action = fmt.normalize(request.args.get("action", ""))[:50] or None
    actor = request.args.get("actor", "").strip()[:100] or None
    before_text = fmt.latin_digits(request.args.get("before", "")).strip()
    before = int(before_text) if before_text.isdigit() and len(before_text) < 19 else 0
    svc = service()
    if v.role == "platform":
        rows = offers_views.platform_audit_log(svc, before_id=before, limit=PAGE + 1, action=action, actor=actor)
    else:
        ctx = v.ctx()
        ctx.require("management", action="read the audit log")
        rows = views.audit_log(svc, ctx.root(), before_id=before, limit=PAGE + 1, action=action, actor=actor)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    args: dict[str, Any] = {k: val for k, val in (("action", action), ("actor", actor)) if val}
    next_url = url_for("panel.audit.audit_log", before=rows[-1].id, **args) if more and rows else None
    chain = offers_views.audit_chain(svc) if not before else None
    return render("panel/audit/audit.html", rows=[(r, _summary(r.payload), json.dumps(r.payload, ensure_ascii=False)) for r in rows],
                  chain=chain, actions=ACTIONS, action=action or "", actor=actor or "", next_url=next_url, platform=v.role == "platform")
