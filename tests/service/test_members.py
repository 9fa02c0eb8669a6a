"""Members and identity (SPEC M1–M7): enrolment through every channel, identification by every
kind of identifier, card numbers never stored in clear, several cards per member, shared wallets,
referrals, and exactly-once enrolment."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from kimia.errors import Rejected
from kimia.identifiers import IdentifierError
from kimia.service import Kimia, MemberRef

from .builders import (
    World,
    bad_luhn_card,
    card_number,
    club_card,
    dump,
    member_balances,
    mobile,
    national_code,
    persian,
    points_of,
    row_counts,
    rows,
    scalar,
    all_text,
)


@pytest.mark.parametrize("via", ["pos", "panel", "app", "web", "api"])
def test_enrol_through_every_channel(world: World, via: str) -> None:
    """M1 at a POS (with the enrolling merchant), M2 in the panel, M3 through the app, site or API."""
    merchant = world.merchants["restaurant"] if via == "pos" else None
    result = world.service.enroll(world.club_id, idem_key=f"enrol-{via}", identifiers=[("mobile", mobile(7))],
                                  name_fa="مریم", via=via, merchant_id=merchant)
    member_id = result["member_id"]
    # Every member also gets a random 12-digit account number (never the sequential member id).
    mobile_id, account = result["identifiers"]
    assert mobile_id == {"kind": "mobile", "display": "+989120000007"}
    assert account["kind"] == "account" and len(account["display"]) == 12 and account["display"] != str(result["member_id"])
    assert rows(world.service, "SELECT club_id, name_fa, enrolled_via, enrolled_by_merchant_id, tier, purchase_count FROM members WHERE id = ?",
                (member_id,)) == [(world.club_id, "مریم", via, merchant, None, 0)]
    assert rows(world.service, "SELECT kind, member_id, status FROM operations WHERE idem_key = ?", (f"enrol-{via}",)) == [("enroll", member_id, "done")]
    # The member can buy straight away, named by the identifier they enrolled with.
    receipt = world.buy({"kind": "mobile", "value": mobile(7)}, 100_000)
    assert receipt["member_id"] == member_id


def test_unknown_channel_is_refused(world: World) -> None:
    with pytest.raises(Rejected) as err:
        world.service.enroll(world.club_id, idem_key="e", identifiers=[("mobile", mobile(1))], via="fax")
    assert err.value.code == "invalid_request"
    assert row_counts(world.service, ["members", "operations"]) == {"members": 0, "operations": 0}


def test_identify_by_every_kind_of_identifier(world: World) -> None:
    """M4: bank card, mobile, national code and club card, all at once in one club."""
    pan, code, card = card_number(11), national_code(11), club_card(11)
    member = world.enroll(identifiers=[("card", pan), ("mobile", mobile(11)), ("national_code", code), ("club_card", card)])
    other = world.enroll(identifiers=[("mobile", mobile(12))])
    service, club = world.service, world.club_id
    forms: list[Any] = [
        {"kind": "card", "value": pan},
        {"kind": "card", "value": f"{pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:]}"},
        {"kind": "card", "value": persian(f"{pan[:4]}-{pan[4:8]}-{pan[8:12]}-{pan[12:]}")},
        {"kind": "mobile", "value": mobile(11)},
        {"kind": "mobile", "value": persian(mobile(11))},
        {"kind": "mobile", "value": "+98 912 000 0011"},
        {"kind": "mobile", "value": "00989120000011"},
        {"kind": "national_code", "value": code},
        {"kind": "national_code", "value": persian(code)},
        {"kind": "club_card", "value": card},
        MemberRef("club_card", persian(card)),
        member,
        {"kind": "id", "value": str(member)},
    ]
    for form in forms:
        assert service.identify(club, form) == member, form
    assert service.identify(club, {"kind": "mobile", "value": mobile(12)}) == other
    # Every form also works for a purchase.
    for n, form in enumerate(forms):
        assert world.buy(form, 10_000, idem_key=f"by-form-{n}")["member_id"] == member
    with pytest.raises(Rejected) as err:
        service.identify(club, {"kind": "mobile", "value": mobile(13)})
    assert err.value.code == "unknown_member"


def test_member_without_any_card(world: World) -> None:
    """M4/N4: an account with no card at all; it is known by its account number, a random 12-digit
    number (not its sequential member id, which names no member)."""
    result = world.service.enroll(world.club_id, idem_key="cardless", identifiers=[], name_fa="بدون کارت", via="app")
    member = result["member_id"]
    [account] = result["identifiers"]
    number = account["display"]
    assert account["kind"] == "account" and len(number) == 12 and number.isdigit() and number != str(member)
    assert world.service.account_number(member) == number
    assert world.service.identify(world.club_id, {"kind": "account", "value": number}) == member
    assert world.service.identify(world.club_id, {"kind": "account", "value": persian(number)}) == member
    receipt = world.buy({"kind": "account", "value": number}, 500_000, merchant="restaurant")
    assert receipt["member_id"] == member
    assert receipt["points_earned"] == 50


def test_card_number_is_never_stored_in_clear(world: World, make_service: Callable[..., Kimia]) -> None:
    """A bank card is kept as a keyed hash plus a mask: the clear number is in no table."""
    service = world.service
    first, second, third = card_number(21), card_number(22), card_number(23, bin_prefix="627412")
    member = world.enroll(identifiers=[("card", first)])
    service.bind_identifier(world.club_id, member, "card", persian(second))
    other = world.enroll(identifiers=[("card", third), ("mobile", mobile(23))])
    service.charge(world.club_id, {"kind": "card", "value": first}, actor="test", reason="test-setup", idem_key="gift", kind="gift_credit", amount_rial=200_000,
                   source={"type": "club", "id": world.club_id}, expires_days=30)
    bought = world.buy({"kind": "card", "value": second}, 800_000, redeem_credit_rial=50_000, reference="998877665544")
    world.service.quote(world.request({"kind": "card", "value": first}, 300_000))
    held = service.hold(world.request({"kind": "card", "value": first}, 300_000, redeem_credit_rial=10_000))
    service.complete_hold(world.merchants["cafe"], held["hold_id"], idem_key="complete", reference="112233445566")
    service.refund(world.merchants["cafe"], idem_key="refund", op_id=bought["op_id"], amount_rial=100_000)
    world.buy({"kind": "card", "value": third}, 100_000)

    texts = all_text(service)
    assert texts, "the dump found no values at all"
    for pan in (first, second, third):
        for form in (pan, persian(pan), pan[6:12] + pan[12:]):
            leaks = [(table, column) for table, column, text in texts if form in text]
            assert not leaks, f"card number found in clear in {leaks}"
        # What is kept is the keyed hash (not a plain hash of the number) and a mask.
        assert hashlib.sha256(pan.encode()).hexdigest() not in {t for _, _, t in texts}
    displays = sorted(d for (d,) in rows(service, "SELECT display FROM member_identifiers WHERE kind = 'card'"))
    assert displays == sorted(f"************{p[-4:]}" for p in (first, second, third))  # the last 4 only
    assert service.identify(world.club_id, {"kind": "card", "value": second}) == member
    assert service.identify(world.club_id, {"kind": "card", "value": third}) == other

    # The hash is keyed: a service with another key cannot find the card.
    stranger = make_service(service.url, card_key=b"another-key-entirely", migrations="check")
    with pytest.raises(Rejected) as err:
        stranger.identify(world.club_id, {"kind": "card", "value": first})
    assert err.value.code == "unknown_member"

    # A rejected card number is not echoed back in the error either.
    bad = bad_luhn_card(24)
    with pytest.raises((IdentifierError, Rejected)) as bad_err:
        world.buy({"kind": "card", "value": bad}, 1_000)
    assert bad_err.value.code == "invalid_card_number_checksum"
    assert bad not in str(bad_err.value) and bad not in bad_err.value.message_fa


def test_several_cards_on_one_member(world: World) -> None:
    """M5: several bank cards bound to one club identity; all purchases land on that member."""
    service = world.service
    cards = [card_number(31), card_number(32), card_number(33, bin_prefix="589210")]
    member = world.enroll(identifiers=[("card", cards[0]), ("mobile", mobile(31))])
    bound = service.bind_identifier(world.club_id, member, "card", cards[1], actor="operator")
    assert {k: bound[k] for k in ("member_id", "kind", "display")} == {
        "member_id": member, "kind": "card", "display": f"************{cards[1][-4:]}"}
    service.bind_identifier(world.club_id, member, "card", cards[2])
    # Binding a card the member already has changes nothing.
    before = dump(service)
    service.bind_identifier(world.club_id, member, "card", cards[2])
    assert dump(service) == before
    total = 0
    for n, pan in enumerate(cards):
        receipt = world.buy({"kind": "card", "value": pan}, 250_000 * (n + 1), merchant="bookshop")
        assert receipt["member_id"] == member
        total += 25 * (n + 1)
    assert points_of(service, member) == total
    assert scalar(service, "SELECT purchase_count FROM members WHERE id = ?", (member,)) == 3
    assert scalar(service, "SELECT COUNT(*) FROM member_identifiers WHERE member_id = ? AND kind = 'card'", (member,)) == 3


def test_identifier_taken(world: World) -> None:
    service = world.service
    pan = card_number(41)
    owner = world.enroll(identifiers=[("card", pan), ("mobile", mobile(41)), ("national_code", national_code(41))])
    other = world.enroll(identifiers=[("mobile", mobile(42))])
    before = dump(service)
    for kind, value in (("card", pan), ("mobile", persian(mobile(41))), ("national_code", national_code(41))):
        with pytest.raises(Rejected) as err:
            service.enroll(world.club_id, idem_key=f"again-{kind}", identifiers=[("mobile", mobile(43)), (kind, value)])
        assert (err.value.code, err.value.path) == ("identifier_taken", kind)
        with pytest.raises(Rejected) as err:
            service.bind_identifier(world.club_id, other, kind, value)
        assert err.value.code == "identifier_taken"
    assert dump(service) == before
    assert service.identify(world.club_id, {"kind": "card", "value": pan}) == owner
    # The same identifier may belong to a member of another club.
    elsewhere = world.admin.create_club(world.owner_id, "باشگاه دیگر")
    second = world.enroll(identifiers=[("card", pan)], club_id=elsewhere)
    assert second != owner
    assert service.identify(elsewhere, {"kind": "card", "value": pan}) == second
    assert service.identify(world.club_id, {"kind": "card", "value": pan}) == owner


def test_sub_club_members_share_the_root_identity(world: World) -> None:
    """A member enrolled in a sub-club is known throughout its root club (identifiers are per root)."""
    member = world.enroll(identifiers=[("mobile", mobile(51))], club_id=world.sub_club_id)
    assert world.service.identify(world.club_id, {"kind": "mobile", "value": mobile(51)}) == member
    assert world.buy({"kind": "mobile", "value": mobile(51)}, 100_000, merchant="cafe")["member_id"] == member
    assert world.buy({"kind": "mobile", "value": mobile(51)}, 100_000, merchant="bookshop")["member_id"] == member
    with pytest.raises(Rejected) as err:
        world.service.enroll(world.club_id, idem_key="dup-root", identifiers=[("mobile", mobile(51))])
    assert err.value.code == "identifier_taken"


def test_shared_wallet_credit_is_spendable_by_every_member(world: World) -> None:
    """M5: a family wallet charged once is spent by two members; neither can overspend it."""
    service, club = world.service, world.club_id
    mother = world.enroll(identifiers=[("mobile", mobile(61)), ("card", card_number(61))])
    son = world.enroll(identifiers=[("mobile", mobile(62))])
    stranger = world.enroll(identifiers=[("mobile", mobile(63))])
    wallet = world.admin.create_shared_wallet(club, "خانواده رضایی", [mother, son])
    charged = service.charge(club, mother, actor="test", reason="test-setup", idem_key="family-gift", kind="gift_credit", amount_rial=300_000,
                             source={"type": "club", "id": club}, expires_days=90, shared_wallet=True)
    assert charged["balance_credit_rial"] == 300_000
    account = f"group:{wallet}/gift_credit"
    assert rows(service, "SELECT owner, balance FROM balances WHERE account = ?", (account,)) == [(f"group:{wallet}", 300_000)]

    by_son = world.buy({"kind": "mobile", "value": mobile(62)}, 400_000, merchant="bookshop", redeem_credit_rial=120_000)
    assert by_son["credit_used_rial"] == 120_000
    assert by_son["balance_credit_rial"] == 180_000 + 40_000  # the wallet's rest plus the son's own merchant credit
    by_mother = world.buy({"kind": "card", "value": card_number(61)}, 500_000, merchant="restaurant", redeem_credit_rial=180_000)
    assert by_mother["credit_used_rial"] == 180_000
    assert rows(service, "SELECT balance FROM balances WHERE account = ?", (account,)) == [(0,)]
    with pytest.raises(Rejected) as err:
        world.buy(mother, 100_000, merchant="restaurant", redeem_credit_rial=1_000)
    assert err.value.code == "insufficient_balance"
    with pytest.raises(Rejected) as err:  # the son's own credit is the bookshop's only
        world.buy(son, 100_000, merchant="restaurant", redeem_credit_rial=1_000)
    assert err.value.code == "credit_not_valid_at_merchant"
    # Someone outside the wallet never saw that credit.
    with pytest.raises(Rejected) as err:
        service.charge(club, stranger, actor="test", reason="test-setup", idem_key="stranger-wallet", kind="gift_credit", amount_rial=1_000,
                       source={"type": "club", "id": club}, shared_wallet=True)
    assert err.value.code == "invalid_request"


def test_referral_points_go_to_the_referrer(world: World) -> None:
    """M6: the introducer earns a point per 100,000 rials their referral spends; the referral keeps
    their own points, and a member with no referrer gives nobody anything."""
    service = world.service
    referrer = world.enroll(identifiers=[("mobile", mobile(71))])
    friend = world.enroll(identifiers=[("mobile", mobile(72))], referrer={"kind": "mobile", "value": persian(mobile(71))})
    loner = world.enroll(identifiers=[("mobile", mobile(73))])
    assert scalar(service, "SELECT referrer_id FROM members WHERE id = ?", (friend,)) == referrer
    receipt = world.buy(friend, 2_350_000, merchant="bookshop")
    assert "referral" in receipt["applied_rules"]
    assert receipt["points_earned"] == 235
    assert points_of(service, friend) == 235
    assert points_of(service, referrer) == 23
    world.buy(loner, 2_000_000, merchant="bookshop")
    assert points_of(service, referrer) == 23
    # The referrer's own purchases do not reward anyone.
    world.buy(referrer, 1_000_000, merchant="bookshop")
    assert points_of(service, referrer) == 23 + 100
    # A refund of the referral's purchase leaves the introducer's reward alone (by policy).
    service.refund(world.merchants["bookshop"], idem_key="friend-refund", op_id=receipt["op_id"])
    assert points_of(service, friend) == 0
    assert points_of(service, referrer) == 123
    with pytest.raises(Rejected) as err:
        world.enroll(identifiers=[("mobile", mobile(74))], referrer={"kind": "mobile", "value": mobile(75)})
    assert err.value.code == "unknown_member"


@pytest.mark.parametrize("method", ["card", "cash", "mixed"])
def test_every_payment_method_earns(world: World, method: str) -> None:
    """M7: club services work whatever the member pays with."""
    member = world.enroll()
    receipt = world.buy(member, 1_230_000, merchant="restaurant", payment_method=method)
    assert receipt["points_earned"] == 123
    assert receipt["discount_rial"] == 61_500
    assert sum(leg["amount_rial"] for leg in receipt["split"]) == receipt["payable_rial"] == 1_230_000 - 61_500
    assert member_balances(world.service, member)["points"] == 123


def test_enrolment_is_exactly_once(world: World) -> None:
    service = world.service
    first = service.enroll(world.club_id, idem_key="enrol-1", identifiers=[("mobile", mobile(81)), ("card", card_number(81))], name_fa="سارا")
    before = dump(service)
    again = service.enroll(world.club_id, idem_key="enrol-1", identifiers=[("mobile", persian(mobile(81))), ("card", card_number(81))], name_fa="سارا")
    assert again == {**first, "replayed": True}
    assert dump(service) == before
    with pytest.raises(Rejected) as err:
        service.enroll(world.club_id, idem_key="enrol-1", identifiers=[("mobile", mobile(82))], name_fa="سارا")
    assert err.value.code == "exists_with_different_request"
    assert dump(service) == before


def test_a_second_service_on_the_same_database_sees_the_members(world: World, make_service: Callable[..., Kimia]) -> None:
    member = world.enroll(identifiers=[("card", card_number(91))])
    other = make_service(world.service.url, migrations="check")
    assert other.identify(world.club_id, {"kind": "card", "value": card_number(91)}) == member
