"""The voucher reads (kimia/service/voucher_views.py), on SQLite and PostgreSQL: offers for sale of
one club only, by page; a member's vouchers of one club tree with their state (active, used,
expired), filtered by state and by page."""

from __future__ import annotations

from collections.abc import Callable

from kimia.service import voucher_views

from .builders import World


def test_offers_are_the_clubs_own_for_sale_by_page(club: Callable[..., World]) -> None:
    a = club()
    b = club(n=2, name_fa="باشگاه دوم")
    a.admin.create_voucher_template(a.club_id, "هدیه", discount_rial=10_000, actor="test")  # no price: given by rules only
    credit = a.admin.create_voucher_template(a.club_id, "اعتباری", discount_bp=1_000, cap_rial=50_000, price_credit_rial=20_000,
                                             merchants=[a.merchants["cafe"]], actor="test")
    found = voucher_views.offers(a.service, a.club_id)
    assert [o.id for o in found] == [a.voucher_template_id, credit]
    assert found[1].merchant_ids == [a.merchants["cafe"]] and found[1].cap_rial == 50_000 and found[1].price_credit_rial == 20_000
    assert [o.id for o in voucher_views.offers(a.service, a.club_id, limit=1)] == [a.voucher_template_id]
    assert [o.id for o in voucher_views.offers(a.service, a.club_id, after_id=a.voucher_template_id)] == [credit]
    assert [o.id for o in voucher_views.offers(b.service, b.club_id)] == [b.voucher_template_id]


def test_a_members_vouchers_with_their_state_in_one_club_tree(club: Callable[..., World]) -> None:
    a = club()
    b = club(n=2, name_fa="باشگاه دوم")
    member = a.enroll()
    a.buy(member, 20_000_000)
    codes = [a.service.buy_voucher(a.club_id, member, a.voucher_template_id, idem_key=a.key("v"))["vouchers"][0] for _ in range(3)]
    a.buy(member, 500_000, merchant="bookshop", voucher_code=codes[0])
    tree = [a.club_id, a.sub_club_id]
    held = voucher_views.member_vouchers(a.service, tree, member)
    assert [(v.code, v.state) for v in held] == [(codes[0], "used"), (codes[1], "active"), (codes[2], "active")]
    assert held[0].used_op_id is not None and held[1].discount_rial == 100_000 and held[1].valid_to > held[1].valid_from
    assert [v.code for v in voucher_views.member_vouchers(a.service, tree, member, state="active")] == codes[1:]
    assert [v.code for v in voucher_views.member_vouchers(a.service, tree, member, state="used")] == codes[:1]
    assert [v.code for v in voucher_views.member_vouchers(a.service, tree, member, after_id=held[0].id, limit=1)] == codes[1:2]
    a.clock.advance(days=31)
    assert [v.state for v in voucher_views.member_vouchers(a.service, tree, member)] == ["used", "expired", "expired"]
    assert voucher_views.member_vouchers(a.service, tree, member, state="active") == []
    # Another club's tree holds none of them, whoever the member is.
    assert voucher_views.member_vouchers(b.service, [b.club_id, b.sub_club_id], member) == []
