"""Message templates: defaults, rendering by plain substitution, refusals of a bad text, Persian
digits and Jalali dates."""

from __future__ import annotations

import pytest

from kimia.extras.messages import store
from kimia.extras.messages import templates as tpl
from kimia.plugins.types import Refusal

from .conftest import Api

NOW = 1_796_000_000  # 1405/09/... in Tehran


def test_every_event_has_both_defaults_and_they_parse() -> None:
    assert set(tpl.EVENTS) >= {"operation.committed", "value.expiring", "tier.changed", "voucher.issued", "lottery.won",
                               "appointment.reminder"}
    for event, spec in tpl.EVENTS.items():
        for lang in tpl.LANGS:
            assert tpl.validate(event, spec.default(lang)) == spec.default(lang)
            assert "{" not in tpl.render(spec.default(lang), tpl.sample_values(event, lang, NOW, 210), spec.placeholders)


def test_rendering_is_plain_substitution_with_literal_braces() -> None:
    allowed = ("member_name",)
    assert tpl.render("سلام {member_name} {{کد}}", {"member_name": "مریم"}, allowed) == "سلام مریم {کد}"
    for bad, detail in [("{unknown}", "unknown placeholder {unknown}"), ("{member_name", "not closed"),
                        ("member_name}", "was not opened"), ("{member_name.__class__}", "unknown placeholder"),
                        ("{{member_name}", "was not opened"), ("{}", "unknown placeholder {}")]:
        with pytest.raises(Refusal) as refused:
            tpl.parse(bad, allowed)
        assert refused.value.code == "template_invalid" and refused.value.path == "text"
        assert detail in refused.value.params["detail"], (bad, refused.value.params)


def test_values_in_persian_digits_and_jalali_dates_and_in_english() -> None:
    payload = {"amount_rial": 1_250_000, "points_earned": 125, "expires_at": NOW, "kind": "points", "amount": 800}
    fa = tpl.values_of("value.expiring", payload, "fa", utc_offset_min=210)
    en = tpl.values_of("value.expiring", payload, "en", utc_offset_min=210)
    assert fa["amount"] == "۸۰۰" and fa["kind"] == "امتیاز" and fa["expires_on"].startswith("۱۴۰۵/")
    assert en["amount"] == "800" and en["kind"] == "points" and en["expires_on"].startswith("1405/")
    credit = tpl.values_of("value.expiring", {"kind": "credit", "amount": 500_000, "expires_at": NOW}, "fa", utc_offset_min=210)
    assert credit["amount"] == "۵۰۰٬۰۰۰ ریال" and credit["kind"] == "اعتبار"
    nested = tpl.values_of("operation.committed", {"balances": {"points": 3400, "credit": 20_000}}, "en", utc_offset_min=210)
    assert nested["points_balance"] == "3,400" and nested["credit_balance"] == "20,000 rials"
    outbox = {"amount_rial": 400_000, "kind": "purchase", "summary": {"points_earned": 40, "balance_points": 40,
                                                                      "balance_credit_rial": 0}}
    told = tpl.values_of("operation.committed", outbox, "fa", utc_offset_min=210)  # the outbox's payload, as it is written
    assert (told["amount"], told["points"], told["points_balance"], told["credit_balance"]) == ("۴۰۰٬۰۰۰ ریال", "۴۰", "۴۰", "۰ ریال")
    receipt = tpl.values_of("operation.committed", payload, "fa", utc_offset_min=210)
    assert receipt["amount"] == "۱٬۲۵۰٬۰۰۰ ریال" and receipt["points"] == "۱۲۵"
    starts = tpl.values_of("appointment.reminder", {"starts_at": NOW, "service": "کوتاهی مو"}, "fa", utc_offset_min=210)
    assert starts["starts_at"].startswith("۱۴۰۵/") and ":" in starts["starts_at"] and starts["service"] == "کوتاهی مو"


def test_a_club_edits_its_text_over_the_default_and_a_bad_one_changes_nothing(api: Api) -> None:
    services = api.service.plugin_services
    club = api.a.club_id
    before = services.read(lambda db: store.text_of(db, club, "tier.changed", "fa"))
    assert before.custom is False and before.enabled is False and before.text == tpl.EVENTS["tier.changed"].default_fa
    saved = store.save_text(services, club_id=club, actor="admin-1", event="tier.changed", lang="fa",
                            text="سطح {member_name} شد {to_tier}", enabled=True)
    assert saved.custom and saved.enabled and saved.updated_by == "admin-1"
    other = services.read(lambda db: store.text_of(db, api.b.club_id, "tier.changed", "fa"))
    assert other.custom is False  # club B still has the default
    with pytest.raises(Refusal) as refused:
        store.save_text(services, club_id=club, actor="admin-1", event="tier.changed", lang="fa", text="{voucher}", enabled=None)
    assert refused.value.code == "template_invalid"
    with pytest.raises(Refusal) as refused:
        store.save_text(services, club_id=club, actor="admin-1", event="tier.changed", lang="fa", text="  ", enabled=None)
    assert refused.value.code == "field_required"
    with pytest.raises(Refusal) as refused:
        store.save_text(services, club_id=club, actor="admin-1", event="tier.changed", lang="fa", text="x" * 1001, enabled=None)
    assert refused.value.code == "field_invalid"
    with pytest.raises(Refusal) as refused:
        store.save_text(services, club_id=club, actor="admin-1", event="tier.changed", lang="de", text="x", enabled=None)
    assert refused.value.code == "field_invalid" and refused.value.path == "lang"
    with pytest.raises(Refusal) as refused:
        store.save_text(services, club_id=club, actor="admin-1", event="no.such", lang="fa", text="x", enabled=None)
    assert refused.value.code == "not_found"
    assert services.read(lambda db: store.text_of(db, club, "tier.changed", "fa")) == saved
    with api.service.reading() as tx:
        audits = tx.all("SELECT actor, reason FROM audit_log WHERE action = 'messages.template'")
    assert audits == [("admin-1", "message template changed")]
