"""Cardholder verification in the service (issue 13, item 9), on SQLite and PostgreSQL: the club's
``verification`` setting, the PIN (hash, lockout, reset), one-time codes (expiry, single use,
attempts), card binding (proof, operation row, audit row, the member's club), account numbers
instead of member ids, and the settings' validation."""

from __future__ import annotations

from collections.abc import Callable

import re
from pathlib import Path
from typing import Any

import pytest

from kimia.errors import KimiaError, Rejected
from kimia.service import Kimia
from kimia.service.verify import FileNotifier, Proof

from .builders import World, card_number, mobile, rows, scalar

DEFAULT = {"redeem": ["card_present", "pin", "otp"], "bind": ["pin", "otp"]}


@pytest.fixture
def sms(tmp_path: Path) -> FileNotifier:
    return FileNotifier(tmp_path / "sms.jsonl")


@pytest.fixture
def guarded(world: World, sms: FileNotifier) -> World:
    """The test club with the default verification (the builders open it for the other tests)."""
    world.admin.update_settings(world.club_id, {"verification": DEFAULT}, actor="test")
    world.service.notifier = sms
    return world


def funded(w: World) -> int:
    member = w.enroll(identifiers=[("mobile", mobile(5)), ("card", card_number(5))])
    w.service.charge(w.club_id, member, idem_key="gift", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": w.club_id},
                     actor="test", reason="gift")
    return member


def code_of(sms: FileNotifier) -> str:
    found = re.search(r"\d{6}", sms.messages()[-1]["text_en"])
    assert found is not None
    return found.group()


def refused(call: Any) -> str:
    with pytest.raises(KimiaError) as err:
        call()
    return err.value.code


def test_spending_by_a_guessable_reference_needs_a_proof(guarded: World) -> None:
    w = guarded
    member = funded(w)
    by_mobile = {"kind": "mobile", "value": mobile(5)}
    by_id = member  # the API's own member id (a trusted caller's reference) is no proof either
    for ref in (by_mobile, by_id):
        assert refused(lambda: w.buy(ref, 200_000, redeem_credit_rial=10_000)) == "verification_required"
        assert refused(lambda: w.service.hold(w.request(ref, 200_000, redeem_points=100))) == "verification_required"
    # A card counts only when read at a terminal (pos, pcpos), not typed into the app.
    card = {"kind": "card", "value": card_number(5)}
    assert refused(lambda: w.buy(card, 200_000, redeem_credit_rial=10_000, channel="app")) == "verification_required"
    assert w.buy(card, 200_000, redeem_credit_rial=10_000, channel="pos")["credit_used_rial"] == 10_000
    # Earning needs nothing.
    assert w.buy(by_mobile, 200_000)["credit_used_rial"] == 0
    # A club may ask for nothing (or only some proofs).
    w.admin.update_settings(w.club_id, {"verification": {"redeem": []}}, actor="test")
    assert w.buy(by_mobile, 200_000, redeem_credit_rial=10_000)["credit_used_rial"] == 10_000


def test_the_pin_is_hashed_checked_and_locked_after_five_failures(guarded: World) -> None:
    w = guarded
    member = funded(w)
    ref = {"kind": "mobile", "value": mobile(5)}
    w.service.set_pin(w.club_id, member, "2468", actor="operator:ali", reason="asked at the desk")
    stored = scalar(w.service, "SELECT pin_hash FROM member_pins WHERE member_id = ?", (member,))
    # scrypt$n$r$p$salt$digest: a random salt and a digest, no field the PIN itself (the hex of a
    # random salt may contain "2468" by chance, so the fields are checked, not the whole text)
    parts = stored.split("$")
    assert parts[0] == "scrypt" and len(parts) == 6 and len(parts[4]) == 32 and len(parts[5]) == 64
    assert "2468" not in parts[:4]
    assert rows(w.service, "SELECT actor, action FROM audit_log WHERE action = 'set_pin'") == [("operator:ali", "set_pin")]
    assert w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(pin="2468"))["credit_used_rial"] == 10_000
    codes = [refused(lambda: w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(pin="1111"))) for _ in range(5)]
    assert codes == ["pin_incorrect"] * 4 + ["pin_locked"]
    assert refused(lambda: w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(pin="2468"))) == "pin_locked"
    w.clock.advance(minutes=16)
    assert w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(pin="2468"))["credit_used_rial"] == 10_000
    with pytest.raises(Rejected):
        w.service.set_pin(w.club_id, member, "12", actor="operator:ali")  # 4 to 12 digits


def test_a_one_time_code_is_short_lived_single_use_and_limited(guarded: World, sms: FileNotifier) -> None:
    w = guarded
    funded(w)
    ref = {"kind": "mobile", "value": mobile(5)}
    sent = w.service.request_code(w.club_id, ref)
    assert sent["sent"] and mobile(5)[-2:] in sent["mobile"] and "*" in sent["mobile"]
    code = code_of(sms)
    assert sms.messages()[-1]["mobile"].endswith(mobile(5)[-8:])
    assert w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(otp=code))["credit_used_rial"] == 10_000
    assert refused(lambda: w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(otp=code))) == "otp_invalid"
    # One code a minute; an expired code is refused.
    assert refused(lambda: w.service.request_code(w.club_id, ref)) == "code_too_soon"
    w.clock.advance(minutes=1, seconds=1)
    w.service.request_code(w.club_id, ref)
    late = code_of(sms)
    w.clock.advance(minutes=5, seconds=1)
    assert refused(lambda: w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(otp=late))) == "otp_invalid"
    # Five wrong tries use a code up.
    w.service.request_code(w.club_id, ref)
    good = code_of(sms)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        assert refused(lambda: w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(otp=wrong))) == "otp_invalid"
    assert refused(lambda: w.buy(ref, 200_000, redeem_credit_rial=10_000, proof=Proof(otp=good))) == "otp_invalid"
    # A member without a mobile cannot be sent one.
    cardless = w.enroll(identifiers=[("card", card_number(6))])
    assert refused(lambda: w.service.request_code(w.club_id, cardless)) == "no_mobile"


def test_binding_a_card_needs_the_member_writes_an_operation_and_an_audit_row(guarded: World, sms: FileNotifier) -> None:
    w = guarded
    member = funded(w)
    new_card = card_number(7)
    assert refused(lambda: w.service.bind_identifier(w.club_id, member, "card", new_card)) == "verification_required"
    w.service.request_code(w.club_id, member)
    bound = w.service.bind_identifier(w.club_id, member, "card", new_card, idem_key="bind-1", proof=Proof(otp=code_of(sms)), merchant_id=w.merchants["cafe"])
    assert bound["member_id"] == member
    assert rows(w.service, "SELECT kind, status, member_id, merchant_id FROM operations WHERE idem_key = 'bind-1'") == [
        ("bind", "done", member, w.merchants["cafe"])]
    [(actor, payload)] = rows(w.service, "SELECT actor, payload FROM audit_log WHERE action = 'bind_identifier'")
    assert actor == f"merchant:{w.merchants['cafe']}" and new_card not in str(payload)
    # An operator binds as themselves, audited.
    w.service.bind_identifier(w.club_id, member, "card", card_number(8), actor="operator:sara")
    assert scalar(w.service, "SELECT COUNT(*) FROM audit_log WHERE action = 'bind_identifier' AND actor = 'operator:sara'") == 1


def test_members_get_random_account_numbers_and_ids_name_no_one(guarded: World) -> None:
    w = guarded
    first, second = w.enroll(), w.enroll()
    numbers = [w.service.account_number(m) for m in (first, second)]
    assert all(n is not None and len(n) == 12 for n in numbers) and numbers[0] != numbers[1]
    assert w.service.identify(w.club_id, {"kind": "account", "value": numbers[1]}) == second
    assert refused(lambda: w.service.identify(w.club_id, {"kind": "account", "value": str(second)})) == "unknown_member"
    # A development club may allow member ids as accounts.
    w.admin.update_settings(w.club_id, {"verification": {**DEFAULT, "member_id_refs": True}}, actor="test")
    assert w.service.identify(w.club_id, {"kind": "account", "value": str(second)}) == second


@pytest.mark.parametrize("bad", [
    {"redeem": ["fingerprint"]}, {"bind": ["card_present"]}, {"redeem": "pin"}, {"spend": []}, {"member_id_refs": "yes"}, [],
])
def test_invalid_verification_settings_are_refused(world: World, bad: Any) -> None:
    before = scalar(world.service, "SELECT settings FROM clubs WHERE id = ?", (world.club_id,))
    with pytest.raises(Rejected) as err:
        world.admin.update_settings(world.club_id, {"verification": bad}, actor="test")
    assert err.value.code == "invalid_request" and (err.value.path or "").startswith("verification")
    assert scalar(world.service, "SELECT settings FROM clubs WHERE id = ?", (world.club_id,)) == before


def test_a_club_without_the_setting_asks_for_a_proof(service: Kimia, clock: Any) -> None:
    from kimia.service import Admin

    admin = Admin(service)
    club = admin.create_club(admin.create_owner("مالک"), "باشگاه تازه")
    merchant = admin.create_merchant(club, "فروشگاه")
    member = int(service.enroll(club, idem_key="e", identifiers=[("mobile", mobile(9))])["member_id"])
    service.charge(club, member, idem_key="c", kind="gift_credit", amount_rial=50_000, source={"type": "club", "id": club},
                   actor="test", reason="gift")
    from kimia.service import PurchaseRequest

    req = PurchaseRequest(idem_key="p", merchant_id=merchant, member={"kind": "mobile", "value": mobile(9)}, amount_rial=100_000,
                          redeem_credit_rial=10_000, channel="pos")
    assert refused(lambda: service.purchase(req)) == "verification_required"
    assert scalar(service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'") == 0


def test_the_set_pin_command_reads_the_pin_from_standard_input(tmp_path: Path, open_service: Callable[..., Kimia]) -> None:
    from click.testing import CliRunner

    from kimia.cli import main
    from kimia.service import Admin

    url = f"sqlite:///{tmp_path / 'k.db'}"
    with open_service(url) as service:
        admin = Admin(service)
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه")
        member = int(service.enroll(club, idem_key="e", identifiers=[("mobile", mobile(3))])["member_id"])
        account = service.account_number(member)
    result = CliRunner().invoke(main, ["--database", url, "set-pin", "--club", str(club), "--member", str(account)], input="135790\n",
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "135790" not in result.output
    with open_service(url) as service:
        stored = scalar(service, "SELECT pin_hash FROM member_pins WHERE member_id = ?", (member,))
        assert stored.startswith("scrypt$")
        assert rows(service, "SELECT action FROM audit_log WHERE action = 'set_pin'") == [("set_pin",)]
