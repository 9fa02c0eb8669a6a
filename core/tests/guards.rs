//! The core's value guards, each pinned by exact examples so that `cargo test` alone fails when
//! one is flipped or removed (issue 12, item 17): the floor check when a decision is applied, the
//! order lots are drawn in, the rounding of split legs over partial refunds, the balance check of
//! a decision, and the bound on a refund.

use std::sync::Arc;

use kimia_core::account::{AccountKey, Kind, Owner, Unit};
use kimia_core::ledger::{apply, reverse};
use kimia_core::model::{AccountState, Decision, DecisionKind, Lot, MemberSnapshot, Posting, Purchase, SplitLeg, SplitRole};
use kimia_core::money::split_into;
use kimia_core::value::adjust;
use kimia_core::Rulebook;
use serde_json::json;

const NOW: i64 = 1_790_000_000;
const DAY: i64 = 86_400;
const MEMBER: i64 = 9;

fn points() -> AccountKey {
    AccountKey::plain(Owner::Member(MEMBER), Kind::Points)
}

fn credit() -> AccountKey {
    AccountKey::plain(Owner::Member(MEMBER), Kind::VirtualCredit)
}

fn lot(id: &str, account: AccountKey, remaining: i64, expires_at: Option<i64>) -> Lot {
    Lot { id: id.into(), account, remaining, expires_at, pending_until: None }
}

/// A member holding `lots`, with balances that match them, and a credit line of `limit`.
fn member(lots: Vec<Lot>, limit: i64) -> MemberSnapshot {
    let mut s = MemberSnapshot { member_id: MEMBER, ..MemberSnapshot::default() };
    for l in &lots {
        match s.accounts.iter_mut().find(|a| a.account == l.account) {
            Some(a) => a.balance += l.remaining,
            None => s.accounts.push(AccountState { account: l.account, balance: l.remaining, credit_limit: 0 }),
        }
    }
    let line = AccountKey::plain(Owner::Member(MEMBER), Kind::CreditLine);
    s.accounts.push(AccountState { account: line, balance: 0, credit_limit: limit });
    s.lots = lots;
    s
}

/// A decision moving `amount` from `from` to `to` and nothing else (what a stale or buggy caller
/// might hand to `apply`).
fn moving(from: AccountKey, to: AccountKey, amount: i64) -> Decision {
    let mut d = Decision::empty(DecisionKind::Adjustment, 50, MEMBER, NOW);
    d.postings.push(Posting { from, to, amount, unit: from.unit(), memo: Arc::from("test") });
    d
}

fn book() -> Rulebook {
    let set = json!({
        "club_id": 1,
        "settlement": {"club_owner_bp": 250, "marketer_bp": 125, "merchant_marketer_bp": 60,
                       "fee_tariffs": [{"percent_bp": 37, "fixed_rial": 13, "cap_rial": 90000}]},
        "rules": [
            {"id": "pts", "effects": [{"type": "points", "per_rial": 10000, "points": 1}], "funding": {"club_owner": 10000}},
            {"id": "disc", "effects": [{"type": "discount", "percent_bp": 733}], "funding": {"merchant": 5001, "club_owner": 4999}}
        ]
    });
    Rulebook::from_json(&set.to_string()).expect("the test rule set compiles")
}

fn purchase(amount: i64, redeem: i64) -> Purchase {
    Purchase {
        op_id: 100,
        club_id: 1,
        club_path: vec![],
        merchant_id: 2,
        merchant_groups: vec![],
        branch_id: None,
        business_type: None,
        marketer_id: Some(5),
        enrolling_merchant_id: Some(3),
        amount_rial: amount,
        basket: vec![],
        payment_method: Default::default(),
        channel: Default::default(),
        redeem_credit_rial: redeem,
        redeem_points: 0,
        conversion: None,
        voucher_code: None,
    }
}

// --- the floor check of `apply` ------------------------------------------------------------------

#[test]
fn apply_lets_a_holder_reach_its_floor_and_not_one_unit_below() {
    let s = member(vec![lot("1:0", points(), 100, None)], 1_000);
    let retired = AccountKey::plain(Owner::Club(1), Kind::PointsRetired);
    let all = apply(&s, &moving(points(), retired, 100)).expect("the whole balance may be spent");
    assert_eq!(all.balance(&points()), 0);
    let err = apply(&s, &moving(points(), retired, 101)).expect_err("one point more than held");
    assert_eq!(err.code, "insufficient_balance");

    let line = AccountKey::plain(Owner::Member(MEMBER), Kind::CreditLine);
    let accepted = AccountKey::plain(Owner::Merchant(2), Kind::CreditAccepted);
    assert_eq!(apply(&s, &moving(line, accepted, 1_000)).expect("down to the limit").balance(&line), -1_000);
    assert_eq!(apply(&s, &moving(line, accepted, 1_001)).expect_err("past the limit").code, "credit_limit_exceeded");
    // A business account has no floor.
    let issued = AccountKey::plain(Owner::Club(1), Kind::PointsIssued);
    assert!(apply(&s, &moving(issued, points(), 5)).is_ok());
}

// --- the order lots are drawn in -------------------------------------------------------------------

#[test]
fn a_withdrawal_draws_the_soonest_expiring_lot_first_and_a_lot_without_expiry_last() {
    let s = member(vec![
        lot("1:0", points(), 100, None),
        lot("2:0", points(), 100, Some(NOW + 3 * DAY)),
        lot("3:0", points(), 100, Some(NOW + DAY)),
        lot("4:0", points(), 100, Some(NOW + DAY)),
    ], 0);
    let d = adjust(1, &s, 60, NOW, points(), -250, None).expect("enough points");
    let drawn: Vec<(&str, i64)> = d.lots_consumed.iter().map(|u| (u.lot_id.as_str(), u.amount)).collect();
    // Same expiry: the older lot (lower id) first.
    assert_eq!(drawn, vec![("3:0", 100), ("4:0", 100), ("2:0", 50)]);
}

#[test]
fn a_purchase_spends_the_soonest_expiring_credit_first() {
    let s = member(vec![
        lot("1:0", credit(), 30_000, None),
        lot("2:0", credit(), 30_000, Some(NOW + 10 * DAY)),
        lot("3:0", credit(), 30_000, Some(NOW + DAY)),
    ], 0);
    let d = book().evaluate(&purchase(500_000, 45_000), &s, NOW, false).expect("enough credit");
    let drawn: Vec<(&str, i64)> = d.lots_consumed.iter().map(|u| (u.lot_id.as_str(), u.amount)).collect();
    assert_eq!(drawn, vec![("3:0", 30_000), ("2:0", 15_000)]);
}

// --- split rounding ----------------------------------------------------------------------------------

#[test]
fn split_parts_take_the_largest_remainders_in_order() {
    let mut out = [0_i64; 4];
    split_into(10, &[1, 1, 1], &mut out);
    assert_eq!(out[..3], [4, 3, 3]);
    split_into(7, &[5000, 3000, 2000], &mut out);
    assert_eq!(out[..3], [4, 2, 1]); // exact 3.5, 2.1, 1.4: the half goes to the first
    split_into(9_999, &[250, 125, 60, 9565], &mut out);
    assert_eq!(out, [250, 125, 60, 9564]); // exact 249.975, 124.9875, 59.994, 9564.04...
}

#[test]
fn the_split_legs_of_partial_refunds_add_up_to_the_purchase_s_per_role() {
    let s = member(vec![], 0);
    let d = book().evaluate(&purchase(1_000_003, 0), &s, NOW, false).expect("evaluates");
    assert!(d.split.len() >= 4);
    let mut now_s = apply(&s, &d).expect("applies");
    let mut refunded = 0;
    let mut totals: Vec<(SplitRole, i64)> = d.split.iter().map(|l| (l.role, 0)).collect();
    for (op, part) in [(201, 333_333), (202, 333_335), (203, 1)] {
        let r = reverse(&d, &now_s, op, NOW + 60, Some(part), refunded).expect("refund");
        assert!(r.is_balanced(), "refund {op}");
        assert_eq!(r.split.iter().map(|l| l.amount_rial).sum::<i64>(), r.payable_rial);
        for leg in &r.split {
            totals.iter_mut().find(|(role, _)| *role == leg.role).expect("a role of the purchase").1 += leg.amount_rial;
        }
        now_s = apply(&now_s, &r).expect("applies");
        refunded += part;
    }
    let r = reverse(&d, &now_s, 204, NOW + 120, None, refunded).expect("the rest");
    for leg in &r.split {
        totals.iter_mut().find(|(role, _)| *role == leg.role).expect("a role of the purchase").1 += leg.amount_rial;
    }
    let original: Vec<(SplitRole, i64)> = d.split.iter().map(|l| (l.role, -l.amount_rial)).collect();
    assert_eq!(totals, original);
}

// --- the balance check of a decision -------------------------------------------------------------------

#[test]
fn an_unbalanced_decision_is_refused_and_changes_nothing() {
    let s = member(vec![lot("1:0", points(), 100, None)], 0);
    // Points leave the member and rials arrive somewhere: each posting moves one amount, but the
    // units do not net to zero.
    let mut mixed = moving(points(), AccountKey::plain(Owner::Club(1), Kind::PointsRetired), 10);
    mixed.postings[0].to = AccountKey::plain(Owner::Club(1), Kind::CreditRetired);
    mixed.postings[0].unit = Unit::Point;
    assert!(!mixed.is_balanced());
    assert_eq!(apply(&s, &mixed).expect_err("unbalanced").code, "decision_unbalanced");
    // Split legs that do not add up to what the member pays.
    let mut short = moving(points(), AccountKey::plain(Owner::Club(1), Kind::PointsRetired), 10);
    short.payable_rial = 1_000;
    short.split.push(SplitLeg { role: SplitRole::Merchant, beneficiary_id: 2, amount_rial: 999 });
    assert!(!short.is_balanced());
    assert_eq!(apply(&s, &short).expect_err("split short").code, "decision_unbalanced");
    short.split[0].amount_rial = 1_000;
    assert!(short.is_balanced());
}

// --- the bound on a refund -------------------------------------------------------------------------------

#[test]
fn a_refund_takes_back_at_most_what_is_left_of_the_purchase() {
    let s = member(vec![], 0);
    let d = book().evaluate(&purchase(100_000, 0), &s, NOW, false).expect("evaluates");
    let after = apply(&s, &d).expect("applies");
    assert_eq!(reverse(&d, &after, 201, NOW, Some(100_001), 0).expect_err("more than paid").code, "refund_exceeds_purchase");
    assert_eq!(reverse(&d, &after, 201, NOW, Some(40_001), 60_000).expect_err("more than left").code, "refund_exceeds_purchase");
    let rest = reverse(&d, &after, 201, NOW, Some(40_000), 60_000).expect("exactly what is left");
    assert_eq!(rest.amount_rial, -40_000);
    assert_eq!(reverse(&d, &after, 202, NOW, None, 100_000).expect_err("nothing left").code, "nothing_to_reverse");
    assert_eq!(reverse(&d, &after, 202, NOW, Some(0), 0).expect_err("zero").code, "amount_must_be_positive");
}
