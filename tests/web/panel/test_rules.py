"""The rules builder (kimia/web/panel/pages/rules.py): versions, the form and its JSON, errors at
their fields, dry run, backtest, publish with a Jalali effective date, and the difference of two
versions, in Persian and English, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from typing import Any

from flask.testing import FlaskClient

from kimia.web.panel import fmt
from kimia.web.panel import rules_form as rf
from service.builders import FakeClock, World

from ..conftest import count
from .conftest import Panel, csrf_of, page

PERSIAN_DIGITS = re.compile("[۰-۹]")
JALALI = re.compile("۱۴۰[۰-۹]/[۰-۹]{2}/[۰-۹]{2}")
EDIT = "/panel/rules/edit"


class FormReader(HTMLParser):
    """The values a browser would send for the form ``form_id`` (buttons left out)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.disabled = False
        self._select: str | None = None
        self._first_option: str | None = None
        self._chosen = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "fieldset" and "disabled" in a:
            self.disabled = True
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            else:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._first_option, self._chosen = a.get("name"), None, False
        elif tag == "option" and self._select is not None:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a and not self._chosen:
                self.fields.append((self._select, a.get("value", "")))
                self._chosen = True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "select" and self._select is not None:
            if not self._chosen and self._first_option is not None:
                self.fields.append((self._select, self._first_option))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text))
            self._textarea = None
        elif tag == "form":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data


def form_of(html: str, form_id: str = "rules-form") -> list[tuple[str, str]]:
    reader = FormReader(form_id)
    reader.feed(html)
    return reader.fields


def json_of(html: str) -> Any:
    """The rule set in the builder's JSON textarea."""
    return json.loads(dict(form_of(html))["json"])


def send(client: FlaskClient, fields: list[tuple[str, str]], do: str, **changes: str) -> tuple[int, str]:
    """Press the button ``do`` with the form as the page drew it (``changes`` typed in first)."""
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    for name, value in changes.items():
        data[name] = [value]
    data["do"] = [do]
    r = client.post(EDIT, data=data)
    return r.status_code, r.get_data(as_text=True)


def errors_in(html: str) -> list[str]:
    """Every error the page shows (for a failing test's message)."""
    return re.findall(r'class="error"[^>]*>([^<]+)<', html)


def open_builder(client: FlaskClient, query: str = "") -> tuple[int, str]:
    return page(client, EDIT + query)


def load(client: FlaskClient, rule_set: dict[str, Any]) -> str:
    """Put ``rule_set`` in the builder through its JSON side."""
    _, html = open_builder(client)
    status, html = send(client, form_of(html), "update_json", json=json.dumps(rule_set, ensure_ascii=False))
    assert status in (200, 422), html[-2000:]
    return html


def at_field(html: str, name: str) -> str:
    """The error shown at the input (or group) ``name``, or ""."""
    for pattern in (rf'name="{re.escape(name)}"[^>]*aria-invalid="true"[^<]*>\s*(?:<small class="hint">[^<]*</small>\s*)?<small class="error"[^>]*>([^<]+)<',
                    rf'name="{re.escape(name)}"[^>]*aria-invalid="true"[^>]*>(?:\s*<option[^>]*>[^<]*</option>)*\s*</select>\s*<small class="error"[^>]*>([^<]+)<',
                    rf'id="g-{re.escape(name)}"[^>]*>\s*<(?:legend|h4)>.*?</(?:legend|h4)>\s*(?:<div class="rs-head">.*?</div>\s*)?<p class="error" role="alert">([^<]+)<'):
        found = re.search(pattern, html, re.S)
        if found:
            return found.group(1)
    return ""


def every_kind(w: World, valid_from: int) -> dict[str, Any]:
    """A rule set of club ``w`` with every condition and effect the engine has."""
    ids = {"merchant": w.merchants["cafe"], "group": w.merchant_group_id, "branch": w.branches["cafe-north"]}
    conditions = [
        {"type": "merchant", "ids": [ids["merchant"]]}, {"type": "merchant_group", "ids": [ids["group"]]},
        {"type": "branch", "ids": [ids["branch"]]}, {"type": "club", "ids": [w.club_id, w.sub_club_id]},
        {"type": "goods", "ids": ["6260100200301"]}, {"type": "goods_group", "ids": ["dairy", "bakery"]},
        {"type": "member_group", "ids": [w.member_group_id]}, {"type": "tier", "names": ["gold", "silver"]},
        {"type": "days_since_last_purchase", "min": 60}, {"type": "spend_in_window", "days": 30, "min": 10_000_000},
        {"type": "purchases_in_window", "days": 90, "max": 0}, {"type": "points_held", "min": 1000, "max": 4999},
        {"type": "date_range", "from": "1405-09-25", "to": "1405-10-05", "calendar": "jalali"},
        {"type": "hour_range", "from": "22:00", "to": "02:00"}, {"type": "weekdays", "days": ["wed", "thu", "fri"]},
        {"type": "amount", "min": 500_000, "max": 90_000_000}, {"type": "nth_purchase", "n": 5, "at_merchant": True},
        {"type": "first_purchase"}, {"type": "payment_method", "methods": ["card", "credit"], "credit_kinds": ["merchant", "club"]},
        {"type": "channel", "channels": ["pos", "pcpos"]},
        {"type": "any", "of": [{"type": "tier", "names": ["gold"]}, {"type": "spend_in_window", "days": 30, "min": 20_000_000}]},
        {"type": "not", "of": {"type": "merchant", "ids": [ids["merchant"]]}},
        {"type": "all", "of": [{"type": "weekdays", "days": ["fri"]}, {"type": "hour_range", "from": "10:00", "to": "14:00"}]},
    ]
    effects = [
        {"type": "discount", "percent_bp": 1500, "cap_rial": 300_000},
        {"type": "points", "per_rial": 10_000, "points": 1, "fixed": 5, "rounding": "half_up",
         "tier_multipliers_bp": {"silver": 15_000, "gold": 20_000}, "group_multipliers_bp": {str(w.member_group_id): 20_000},
         "expires_days": 365, "pending_days": 7},
        {"type": "credit", "kind": "club", "fixed_rial": 50_000, "spendable_at": 1, "expires_days": 30},
        {"type": "credit", "kind": "cashback", "percent_bp": 200, "cap_rial": 1_000_000, "expires_days": 90, "pending_days": 7},
        {"type": "lottery", "lottery_id": w.lottery_id, "per_rial": 1_000_000, "entries": 1},
        {"type": "voucher", "template_id": w.voucher_template_id},
        {"type": "referral", "per_rial": 100_000, "points": 1},
        {"type": "credit_spend_discount", "percent_bp": 500, "credit_kinds": ["merchant"]},
    ]
    more_credit = [{"type": "credit", "kind": k, "percent_bp": 100} for k in ("merchant", "virtual", "gift", "welfare")]
    return {
        "point_value_rial": 100,
        "settlement": {"club_owner_bp": 150, "marketer_bp": 50, "merchant_marketer_bp": 25,
                       "fee_tariffs": [{"business_type": "cafe", "percent_bp": 40, "cap_rial": 150_000},
                                       {"business_type": None, "percent_bp": 30, "fixed_rial": 0}]},
        "stacking_groups": [{"name": "yalda", "mode": "exclusive"}, {"name": "welcome", "mode": "first_match"}],
        "merchant_sets": [{"id": 1, "name": {"en": "Food court", "fa": "فودکورت"}, "merchants": [ids["merchant"]],
                           "merchant_groups": [ids["group"]]}],
        "rules": [
            {"id": "conditions", "name": {"fa": "همهٔ شرط‌ها", "en": "Every condition"}, "enabled": True, "priority": 10,
             "stacking_group": "yalda", "valid_from": valid_from, "valid_to": valid_from + 86_400 * 30,
             "scope": {"clubs": [w.club_id], "merchant_groups": [ids["group"]], "merchants": [ids["merchant"]], "branches": [ids["branch"]]},
             "conditions": conditions, "effects": effects[:2], "funding": {"merchant": 6000, "club_owner": 4000},
             "budgets": [{"per": "rule", "period": "month", "limit_rial": 100_000_000, "fill": "all_or_nothing"},
                         {"per": "member", "period": "day", "limit_count": 1}]},
            {"id": "effects", "name": {"fa": "همهٔ اثرها", "en": "Every effect"}, "enabled": False, "stacking_group": "welcome",
             "effects": effects[2:], "funding": {"club_owner": 5000, "platform": 2500, "marketer": 2500},
             "budgets": [{"per": "merchant", "period": "total", "limit_rial": 5_000_000}]},
            {"id": "credits", "effects": more_credit},
        ],
    }


def test_the_versions_page_in_persian_and_english(panel: Panel) -> None:
    admin = panel.client("admin")
    status, html = page(admin, "/panel/rules")
    assert status == 200
    assert "نسخهٔ جاری: نسخهٔ ۱" in html and JALALI.search(html) and "food-court-5" in html
    assert "فودکورت: ۵٪ تخفیف" in html and "test" in html  # who published it
    status, html = page(admin, "/panel/rules?lang=en")
    assert status == 200 and "In effect: Version 1" in html and "Food court: 5% off" in html
    assert JALALI.search(html) is None and re.search(r"14\d\d/\d\d/\d\d", html)  # Jalali dates in English too


def test_the_builder_opens_with_the_rules_in_effect(panel: Panel) -> None:
    admin = panel.client("admin")
    status, html = open_builder(admin)
    assert status == 200 and 'name="rules.1.id" id="f-rules.1.id" value="food-court-5"' in html
    assert json_of(html)["rules"][1]["id"] == "food-court-5"
    assert "club_id" not in json_of(html)  # what the service sets itself stays out of the draft
    assert 'value="۵۰۰"' in html  # numbers in the page's digits
    status, html = open_builder(admin, "?lang=en")
    assert status == 200 and "Rules builder" in html and 'value="500"' in html


def test_round_trip_json_to_form_to_json_with_every_condition_and_effect(panel: Panel, clock: FakeClock) -> None:
    admin = panel.client("admin")
    rule_set = every_kind(panel.a, clock() - clock() % 60 + 3600)
    types = {c["type"] for c in rule_set["rules"][0]["conditions"]}
    assert types == set(rf.CONDITIONS)  # the test covers every condition the form knows
    assert {e["type"] for r in rule_set["rules"] for e in r["effects"]} == set(rf.EFFECTS)
    assert {e.get("kind") for r in rule_set["rules"] for e in r["effects"]} - {None} == set(rf.CREDIT_KINDS)
    for lang in ("fa", "en"):
        admin.get(f"/panel/rules?lang={lang}")
        html = load(admin, rule_set)
        assert json_of(html) == rule_set  # JSON -> form -> JSON, both sides drawn from the server
        fields = form_of(html)
        assert ("rules.0.conditions.21.of.type", "merchant") in fields  # a nested condition has its own inputs
        assert ("rules.0.conditions.14.days", "thu") in fields
        status, html = send(admin, [f for f in fields if f[0] != "json"] + [("json", "{}")], "update")
        assert status == 200, errors_in(html)
        assert json_of(html) == rule_set  # form -> JSON (the JSON side was blank)
        assert 'id="rules-valid"' in html  # and it is a rule set that would publish
        assert form_of(html) == fields or json_of(html) == rule_set


def test_editing_the_form_updates_the_json_and_rows_are_added_and_removed(panel: Panel) -> None:
    admin = panel.client("admin")
    _, html = open_builder(admin)
    rules = len(json_of(html)["rules"])
    status, html = send(admin, form_of(html), "add:rules")
    assert status == 200 and f'name="rules.{rules}.id"' in html
    fields = form_of(html)
    status, html = send(admin, fields, f"add:rules.{rules}.conditions", **{f"new.rules.{rules}.conditions": "amount"})
    assert f'name="rules.{rules}.conditions.0.min"' in html
    typed = {f"rules.{rules}.id": "big-spender", f"rules.{rules}.name.fa": "خرید بالای یک میلیون: ۱۰٪ امتیاز",
             f"rules.{rules}.name.en": "10% points over 1,000,000", f"rules.{rules}.conditions.0.min": "۱٬۰۰۰٬۰۰۰",
             f"rules.{rules}.effects.0.type": "points", f"rules.{rules}.funding.club_owner": "10000"}
    status, html = send(admin, form_of(html), "update", **typed)  # the effect's type changed: its fields are redrawn
    assert f'name="rules.{rules}.effects.0.per_rial"' in html
    typed = {f"rules.{rules}.effects.0.per_rial": "10", f"rules.{rules}.effects.0.points": "1"}
    status, html = send(admin, form_of(html), "update", **typed)
    assert status == 200, errors_in(html)
    new = json_of(html)["rules"][rules]
    assert new == {"id": "big-spender", "name": {"fa": "خرید بالای یک میلیون: ۱۰٪ امتیاز", "en": "10% points over 1,000,000"},
                   "conditions": [{"type": "amount", "min": 1_000_000}], "effects": [{"type": "points", "per_rial": 10, "points": 1}],
                   "funding": {"club_owner": 10000}}
    status, html = send(admin, form_of(html), f"remove:rules.{rules}.conditions.0")
    assert "conditions" not in json_of(html)["rules"][rules]
    status, html = send(admin, form_of(html), "remove:rules.0")
    assert [r["id"] for r in json_of(html)["rules"]][-1] == "big-spender" and len(json_of(html)["rules"]) == rules


def test_an_invalid_value_shows_at_its_field_and_nothing_is_published(panel: Panel) -> None:
    admin = panel.client("admin")
    _, html = open_builder(admin)
    before = count(panel.api, "rule_sets")
    audit = count(panel.api, "audit_log")
    fields = form_of(html)
    status, html = send(admin, fields, "publish", **{"rules.1.effects.0.percent_bp": "20000", "pub_reason": "یلدا"})
    assert status == 422
    message = at_field(html, "rules.1.effects.0.percent_bp")
    assert message and "food-court-5" in message and PERSIAN_DIGITS.search(message), message
    assert "rules[1].effects[0].percent_bp" not in html and "rules.1.effects.0.percent_bp</code>" in html  # listed beside the JSON
    assert count(panel.api, "rule_sets") == before and count(panel.api, "audit_log") == audit
    # A value the form cannot read is shown at its field before anything is sent.
    status, html = send(admin, fields, "publish", **{"rules.0.effects.0.per_rial": "ده هزار", "pub_reason": "x"})
    assert status == 422 and at_field(html, "rules.0.effects.0.per_rial") == "یک عدد صحیح بنویسید."
    assert count(panel.api, "rule_sets") == before
    # An error with no input of its own (the funding does not add up) is shown at its group, in English too.
    admin.get("/panel/rules?lang=en")
    status, html = send(admin, form_of(open_builder(admin)[1]), "validate", **{"rules.1.funding.merchant": "1"})
    assert status == 422 and "funding" in at_field(html, "rules.1.funding").lower()
    # Bad JSON: the JSON side says so, and the form keeps the draft.
    status, html = send(admin, fields, "update_json", json="{not json")
    assert status == 422 and "cannot be read" in html and 'value="food-court-5"' in html
    assert count(panel.api, "rule_sets") == before


def test_a_dry_run_shows_the_decision_and_the_persian_explanation(panel: Panel) -> None:
    admin = panel.client("admin")
    _, html = open_builder(admin)
    cafe = panel.a.merchants["cafe"]
    status, html = send(admin, form_of(html), "dry_run", dry_merchant=str(cafe), dry_amount="۲٬۰۰۰٬۰۰۰", dry_tier="gold",
                        dry_basket="milk-1l|dairy|4|400000\nrice|grocery|1|1600000")
    assert status == 200, errors_in(html)
    assert 'id="dry-result"' in html and "۱۰۰٬۰۰۰ ریال" in html  # food court: 5% capped at 100,000
    explanation = re.search(r'id="dry-explanation">(.*?)</ul>', html, re.S)
    assert explanation and "فودکورت: ۵٪ تخفیف" in explanation.group(1) and "امتیاز" in explanation.group(1)
    assert count(panel.api, "operations") == count(panel.api, "operations")  # nothing written (see below)
    ops = count(panel.api, "operations")
    admin.get("/panel/rules?lang=en")
    status, html = send(admin, form_of(html), "dry_run", dry_member=str(panel.api.members[panel.a.club_id]))
    assert status == 200 and "Food court: 5% off" in html and "100,000 rials" in html
    assert count(panel.api, "operations") == ops
    # A merchant of another club is refused at the merchant's field.
    status, html = send(admin, form_of(html), "dry_run", dry_merchant=str(panel.b.merchants["cafe"]), dry_member="")
    assert status == 422 and 'name="dry_merchant"' in html and "invalid" in html


def test_a_backtest_compares_totals_and_draws_a_chart(panel: Panel, clock: FakeClock) -> None:
    w = panel.a
    member = {"kind": "id", "value": str(panel.api.members[w.club_id])}
    clock.advance(days=-5)
    for day in range(5):
        w.buy(member, 1_200_000 + 100_000 * day, merchant="cafe")
        w.buy(member, 700_000, merchant="bookshop")
        clock.advance(days=1)
    admin = panel.client("admin")
    _, html = open_builder(admin)
    fields = form_of(html)
    status, html = send(admin, fields, "backtest", bt_days="۷", **{"rules.1.effects.0.percent_bp": "1000"})
    assert status == 200, errors_in(html)
    table = re.search(r'<table class="rs-bt">(.*?)</table>', html, re.S)
    assert table and "خریدها" in table.group(1) and "<td class=\"num\">۱۰</td>" in table.group(1)
    assert "قوانین جاری" in table.group(1) and "(نسخهٔ ۱)" in table.group(1)
    assert '<svg class="chart"' in html and html.count("<rect class=\"s2\"") == 7  # a bar of the draft per day
    assert "باشگاه‌دار" in html  # cost per funder
    status, html = send(admin, fields, "backtest", bt_days="400")
    assert status == 422 and at_field(html, "bt_days")


def _jalali(ts: int, offset: int) -> str:
    y, m, d = fmt.jalali(fmt.local_time(ts, offset).date())
    return f"{y:04d}/{m:02d}/{d:02d}"


def test_publish_with_a_future_jalali_date_waits_then_serves(panel: Panel, clock: FakeClock) -> None:
    admin = panel.client("admin")
    _, html = open_builder(admin)
    tomorrow = fmt.digits(_jalali(clock() + 86_400, 210), "fa")
    fields = form_of(html)
    before = count(panel.api, "rule_sets")
    status, html = send(admin, fields, "publish", pub_date=tomorrow, pub_time="۰۸:۳۰", pub_reason="کمپین یلدا",
                        **{"rules.1.effects.0.percent_bp": "700"})
    assert status == 302 and "notice=rules.scheduled" in html + str(status) or status == 302
    # The same form sent again (a double click) publishes nothing more.
    send(admin, fields, "publish", pub_date=tomorrow, pub_time="۰۸:۳۰", pub_reason="کمپین یلدا", **{"rules.1.effects.0.percent_bp": "700"})
    assert count(panel.api, "rule_sets") == before + 1
    with panel.service.reading() as tx:
        version, effective, created_by = tx.one("SELECT version, effective_from, created_by FROM rule_sets WHERE club_id = ?"
                                                 " ORDER BY version DESC LIMIT 1", (panel.a.club_id,))
        actor, reason = tx.one("SELECT actor, reason FROM audit_log WHERE action = 'publish_rules' ORDER BY id DESC LIMIT 1")
    assert version == 2 and created_by == actor == f"panel:{panel.login_of('admin')}" and reason == "کمپین یلدا"
    local = fmt.local_time(int(effective), 210)
    assert (local.hour, local.minute) == (8, 30) and _jalali(int(effective), 210) == fmt.latin_digits(tomorrow)
    status, html = page(admin, "/panel/rules?notice=rules.scheduled")
    assert "از زمان تعیین‌شده اجرا می‌شود" in html and 'id="pending"' in html and "نسخهٔ جاری: نسخهٔ ۱" in html
    with panel.service.reading() as tx:
        assert panel.service.caches.rulebook(tx, panel.a.club_id, now=clock()).version == 1
    clock.set(int(effective) + 1)
    panel.service.caches.clear()
    admin = panel.client("admin")  # the session has been idle for a day
    status, html = page(admin, "/panel/rules")
    assert "نسخهٔ جاری: نسخهٔ ۲" in html and 'id="pending"' not in html
    # Now (no date): in effect at once.
    _, html = open_builder(admin)
    status, _ = send(admin, form_of(html), "publish", pub_date="", pub_reason="now")
    status, html = page(admin, "/panel/rules?notice=rules.published")
    assert "نسخهٔ جاری: نسخهٔ ۳" in html and "از همین حالا اجرا می‌شود" in html


def test_publish_needs_a_reason_and_a_real_jalali_date(panel: Panel) -> None:
    admin = panel.client("admin")
    _, html = open_builder(admin)
    before = count(panel.api, "rule_sets")
    status, html = send(admin, form_of(html), "publish", pub_reason="")
    assert status == 422 and at_field(html, "pub_reason")
    status, html = send(admin, form_of(html), "publish", pub_date="1405/13/40", pub_reason="x")
    assert status == 422 and at_field(html, "pub_date")
    assert count(panel.api, "rule_sets") == before


def test_the_difference_of_two_versions(panel: Panel) -> None:
    w = panel.a
    w.publish([{"id": "big-basket", "name": {"fa": "خرید بزرگ", "en": "Big basket"}, "conditions": [{"type": "amount", "min": 1_000_000}],
                "effects": [{"type": "discount", "percent_bp": 200}]}])
    body = w.rules()
    body["rules"] = [r for r in body["rules"] if r["id"] != "referral"]
    body["rules"][1]["effects"][0]["percent_bp"] = 700
    body["point_value_rial"] = 50
    w.admin.publish_rules(w.club_id, body, actor="test", reason="diff")
    admin = panel.client("admin")
    status, html = page(admin, "/panel/rules/diff?a=1&b=3")
    assert status == 200
    assert re.search(r'id="diff-added".*big-basket.*خرید بزرگ', html, re.S)
    assert re.search(r'id="diff-removed".*referral', html, re.S)
    changed = re.search(r'id="diff-changed"(.*?)</section>', html, re.S)
    assert changed and "food-court-5" in changed.group(1) and "effects.0.percent_bp" in changed.group(1)
    assert "<bdi>۵۰۰</bdi>" in changed.group(1) and "<bdi>۷۰۰</bdi>" in changed.group(1)
    assert re.search(r'id="diff-fields".*ارزش هر امتیاز', html, re.S)
    status, html = page(admin, "/panel/rules/diff?a=2&b=3&lang=en")
    assert status == 200 and "Rules removed" in html and "Rules added" not in html and "<bdi>100</bdi>" in html
    status, _ = page(admin, "/panel/rules/diff?a=1&b=99")
    assert status == 404
    # Club B has only its own version 1: it cannot read club A's version 3.
    status, _ = page(panel.client("admin", panel.b), "/panel/rules/diff?a=1&b=3")
    assert status == 404


def test_read_only_staff_see_the_builder_but_cannot_post(panel: Panel) -> None:
    reader = panel.client("read_only")
    status, html = open_builder(reader)
    assert status == 200 and "فقط می‌توانید قوانین را ببینید" in html and '<fieldset class="plain" disabled>' in html
    before = count(panel.api, "rule_sets")
    r = reader.post(EDIT, data={"csrf_token": csrf_of(html), "do": "publish", "pub_reason": "x", "form_key": "k" * 16})
    assert r.status_code == 403
    assert count(panel.api, "rule_sets") == before
    support = panel.client("support")
    assert page(support, "/panel/rules")[0] == 200
    assert support.post(EDIT, data={"csrf_token": csrf_of(page(support, "/panel/rules")[1]), "do": "update"}).status_code == 403
    assert page(panel.client("merchant"), "/panel/rules")[0] == 403


def test_a_marketer_publishes(panel: Panel) -> None:
    marketer = panel.client("marketer")
    _, html = open_builder(marketer)
    status, _ = send(marketer, form_of(html), "publish", pub_reason="بازاریابی")
    assert status == 302
    with panel.service.reading() as tx:
        assert tx.one("SELECT created_by FROM rule_sets WHERE club_id = ? ORDER BY version DESC LIMIT 1",
                      (panel.a.club_id,))[0] == f"panel:{panel.login_of('marketer')}"


def test_a_dry_run_shows_credits_vouchers_and_entries(panel: Panel) -> None:
    w = panel.a
    admin = panel.client("admin")
    html = load(admin, {"rules": [{"id": "gifts", "name": {"fa": "هدیه‌ها", "en": "Gifts"}, "effects": [
        {"type": "credit", "kind": "cashback", "percent_bp": 300, "expires_days": 90, "pending_days": 7},
        {"type": "voucher", "template_id": w.voucher_template_id},
        {"type": "lottery", "lottery_id": w.lottery_id, "per_rial": 1_000_000, "entries": 1}], "funding": {"club_owner": 10000}}]})
    status, html = send(admin, form_of(html), "dry_run", dry_merchant=str(w.merchants["bookshop"]), dry_amount="3000000")
    assert status == 200, errors_in(html)
    result = re.search(r'id="dry-result"(.*?)</section>', html, re.S)
    assert result, errors_in(html)
    text = result.group(1)
    assert "اعتبار: بازگشت وجه" in text and "۹۰٬۰۰۰ ریال" in text and "انقضا:" in text and JALALI.search(text)
    assert f"از الگوی {fmt.digits(w.voucher_template_id, 'fa')}" in text
    assert f"قرعه‌کشی {fmt.digits(w.lottery_id, 'fa')}" in text and "هدیه‌ها" in text


def test_every_field_type_and_option_of_the_form_has_words_in_both_languages() -> None:
    from kimia.web.panel.i18n import MESSAGES
    import kimia.web.panel.pages.rules  # noqa: F401  (its words)

    for name in rf.labels():
        assert any(f"rules.{kind}.{name}" in MESSAGES for kind in ("f", "o", "c", "e")), name
    for kind in rf.CONDITIONS:
        assert f"rules.c.{kind}" in MESSAGES
    for kind in rf.EFFECTS:
        assert f"rules.e.{kind}" in MESSAGES
    for spec in [*rf.CONDITIONS.values(), *rf.EFFECTS.values()]:
        for f in spec:
            assert f"rules.f.{f.name}" in MESSAGES and all(f"rules.o.{o}" in MESSAGES for o in f.options), f
