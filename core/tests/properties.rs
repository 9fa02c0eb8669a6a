//! Property tests of the core's invariants (proptest):
//! splits add up exactly; every decision is balanced; no holder balance goes below its floor;
//! applying a purchase and then its reversal restores the member's value (points and credit the
//! purchase redeemed included); evaluation is deterministic.

use std::collections::BTreeMap;

use kimia_core::account::{AccountKey, Kind, Owner};
use kimia_core::ledger::{apply, reverse};
use kimia_core::model::{AccountState, Lot, MemberSnapshot, Purchase};
use kimia_core::money::split_largest_remainder;
use kimia_core::Rulebook;
use proptest::prelude::*;
use serde_json::json;

const NOW: i64 = 1_790_000_000;

fn book() -> Rulebook {
    let set = json!({
        "club_id": 1,
        "point_value_rial": 10,
        "merchant_sets": [{"id": 1, "merchants": [1, 2]}],
        "settlement": {"club_owner_bp": 250, "marketer_bp": 125, "merchant_marketer_bp": 60,
                       "fee_tariffs": [{"percent_bp": 37, "fixed_rial": 13, "cap_rial": 90000}]},
        "stacking_groups": [{"name": "x", "mode": "exclusive"}],
        "rules": [
            {"id": "pts", "effects": [{"type": "points", "per_rial": 7000, "points": 3, "rounding": "half_up",
                                        "tier_multipliers_bp": {"gold": 17500}, "expires_days": 30}],
             "funding": {"club_owner": 3333, "merchant": 6667}},
            {"id": "disc", "stacking_group": "x", "conditions": [{"type": "amount", "min": 1000}],
             "effects": [{"type": "discount", "percent_bp": 733, "cap_rial": 500000}],
             "funding": {"merchant": 5001, "club_owner": 2999, "platform": 2000}},
            {"id": "mc", "stacking_group": "x", "scope": {"merchants": [1]},
             "effects": [{"type": "credit", "kind": "merchant", "percent_bp": 911, "expires_days": 10}]},
            {"id": "cc", "effects": [{"type": "credit", "kind": "club", "percent_bp": 150, "spendable_at": 1}],
             "funding": {"club_owner": 10000}},
            {"id": "lot", "effects": [{"type": "lottery", "lottery_id": 4, "per_rial": 100000, "entries": 1}]},
            {"id": "spend", "effects": [{"type": "credit_spend_discount", "percent_bp": 300}]}
        ]
    });
    Rulebook::from_json(&set.to_string()).expect("the test rule set compiles")
}

fn member(points: i64, credit: i64, debt: i64, tier: bool) -> MemberSnapshot {
    let mut s = MemberSnapshot { member_id: 9, tier: tier.then(|| "gold".to_string()), ..MemberSnapshot::default() };
    let pts = AccountKey::plain(Owner::Member(9), Kind::Points);
    let cred = AccountKey::plain(Owner::Member(9), Kind::VirtualCredit);
    let debt_acc = AccountKey::plain(Owner::Member(9), Kind::PointsDebt);
    s.accounts.push(AccountState { account: pts, balance: points, credit_limit: 0 });
    s.accounts.push(AccountState { account: cred, balance: credit, credit_limit: 0 });
    s.accounts.push(AccountState { account: debt_acc, balance: -debt, credit_limit: 0 });
    if points > 0 {
        s.lots.push(Lot { id: "0:0".into(), account: pts, remaining: points, expires_at: Some(NOW + 86_400), pending_until: None });
    }
    if credit > 0 {
        // Two lots with different expiries, so the soonest-expiring-first order matters.
        let first = credit / 2;
        s.lots.push(Lot { id: "0:1".into(), account: cred, remaining: first, expires_at: Some(NOW + 3600), pending_until: None });
        s.lots.push(Lot { id: "0:2".into(), account: cred, remaining: credit - first, expires_at: None, pending_until: None });
    }
    s
}

/// A purchase redeeming `redeem` rials of credit and `points` points (at 7 points = 3 rials, or
/// 1 point = 2 rials for gold members: ratios that do not divide evenly).
fn purchase(amount: i64, merchant: i64, redeem: i64, points: i64, marketer: bool) -> Purchase {
    let conversion = serde_json::from_value(json!({
        "club_id": 1, "default": {"points": 7, "rial": 3}, "by_tier": {"gold": {"points": 1, "rial": 2}}
    }))
    .expect("a conversion config");
    Purchase {
        op_id: 100,
        club_id: 1,
        club_path: vec![],
        merchant_id: merchant,
        merchant_groups: vec![],
        branch_id: None,
        business_type: None,
        marketer_id: marketer.then_some(5),
        enrolling_merchant_id: Some(3),
        amount_rial: amount,
        basket: vec![],
        payment_method: Default::default(),
        channel: Default::default(),
        redeem_credit_rial: redeem,
        redeem_points: points,
        conversion: Some(conversion),
        voucher_code: None,
    }
}

/// What a member holds, independent of lot ids: balances, and lot amounts per (account, expiry).
/// Balances by account, and lot amounts by (account, expiry).
type Holdings = (BTreeMap<AccountKey, i64>, BTreeMap<(AccountKey, Option<i64>), i64>);

fn holdings(s: &MemberSnapshot) -> Holdings {
    let balances = s.accounts.iter().filter(|a| a.balance != 0).map(|a| (a.account, a.balance)).collect();
    let mut lots = BTreeMap::new();
    for l in s.lots.iter().filter(|l| l.remaining > 0) {
        *lots.entry((l.account, l.expires_at)).or_insert(0) += l.remaining;
    }
    (balances, lots)
}

fn lots_match_balances(s: &MemberSnapshot) -> bool {
    s.accounts.iter().filter(|a| a.account.kind.has_lots()).all(|a| {
        a.balance == s.lots.iter().filter(|l| l.account == a.account).map(|l| l.remaining).sum::<i64>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn splits_add_up_exactly(total in 0_i64..1_000_000_000_000, weights in prop::collection::vec(0_i64..1_000_000, 1..12)) {
        let parts = split_largest_remainder(total, &weights);
        prop_assert_eq!(parts.iter().sum::<i64>(), total);
        prop_assert!(parts.iter().all(|p| *p >= 0));
        let weight_sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
        if weight_sum > 0 {
            for (p, w) in parts.iter().zip(&weights) {
                // Each part is within one unit of its exact share.
                let exact = i128::from(total) * i128::from(*w);
                prop_assert!((i128::from(*p) * weight_sum - exact).abs() < weight_sum);
            }
        }
    }

    #[test]
    fn decisions_balance_and_respect_floors(
        amount in 1_i64..50_000_000,
        merchant in 1_i64..4,
        redeem in 0_i64..3_000_000,
        redeem_points in 0_i64..6000,
        points in 0_i64..5000,
        credit in 0_i64..2_000_000,
        debt in 0_i64..300,
        gold in any::<bool>(),
        marketer in any::<bool>(),
    ) {
        let book = book();
        let s = member(points, credit, debt, gold);
        let p = purchase(amount, merchant, redeem, redeem_points, marketer);
        match book.evaluate(&p, &s, NOW, true) {
            Ok(d) => {
                prop_assert!(d.is_balanced());
                prop_assert_eq!(d.payable_rial + d.discount_rial + d.credit_used_rial + d.points_redeemed_rial, amount);
                prop_assert!(d.points_redeemed <= redeem_points && d.points_redeemed <= points);
                prop_assert_eq!(d.split.iter().map(|l| l.amount_rial).sum::<i64>(), d.payable_rial);
                prop_assert!(d.payable_rial >= 0 && d.discount_rial >= 0 && d.credit_used_rial >= 0);
                // Deterministic: the same inputs give the same decision.
                prop_assert_eq!(&book.evaluate(&p, &s, NOW, true).expect("same again"), &d);
                let next = apply(&s, &d).expect("a fresh decision applies to its own snapshot");
                for a in &next.accounts {
                    if let Some(floor) = a.account.floor(a.credit_limit) {
                        prop_assert!(a.balance >= floor, "{} fell to {}", a.account, a.balance);
                    }
                }
                prop_assert!(lots_match_balances(&next));
            }
            Err(e) => {
                // The only refusals here are spending more credit or points than the member can
                // spend at this merchant, or too few points to be worth a rial.
                prop_assert!(redeem > 0 || redeem_points > 0, "unexpected rejection {e}");
                prop_assert!(e.code != "below_threshold" || (redeem_points < 3 && !gold), "{e}");
                prop_assert!(["insufficient_balance", "credit_not_valid_at_merchant", "lot_expired", "below_threshold"].contains(&e.code));
            }
        }
    }

    #[test]
    fn reversal_restores_the_member(
        amount in 1_i64..50_000_000,
        redeem in 0_i64..1_000_000,
        points in 0_i64..5000,
        redeem_share in 0_i64..=100,
        credit in 1_000_000_i64..2_000_000,
        gold in any::<bool>(),
        refunds in prop::collection::vec(1_i64..100, 0..3),
    ) {
        let book = book();
        let s = member(points, credit, 0, gold);
        // Points worth at least a rial, or none.
        let redeem_points = Some(points * redeem_share / 100).filter(|p| *p >= 3).unwrap_or(0);
        let d = book.evaluate(&purchase(amount, 1, redeem, redeem_points, true), &s, NOW, false).expect("enough credit and points");
        let mut now_s = apply(&s, &d).expect("applies");
        // Some partial refunds (percentages of what is left), then a reversal of the rest.
        let mut refunded = 0;
        let mut op = 200;
        for pct in refunds {
            let part = (amount - refunded) * pct / 100;
            if part == 0 || part >= amount - refunded {
                continue;
            }
            let r = reverse(&d, &now_s, op, NOW + 60, Some(part), refunded).expect("refund");
            prop_assert!(r.is_balanced());
            now_s = apply(&now_s, &r).expect("refund applies");
            refunded += part;
            op += 1;
        }
        let r = reverse(&d, &now_s, op, NOW + 120, None, refunded).expect("reversal");
        prop_assert!(r.is_balanced());
        let back = apply(&now_s, &r).expect("reversal applies");
        prop_assert_eq!(holdings(&back), holdings(&s));
        prop_assert_eq!(back.purchase_count, s.purchase_count);
        prop_assert!(reverse(&d, &back, op + 1, NOW + 180, None, amount).is_err());
        // The whole round trip nets every account to zero.
        let mut net: BTreeMap<AccountKey, i64> = BTreeMap::new();
        for dec in [&d, &r] {
            for (k, v) in dec.deltas() {
                *net.entry(k).or_insert(0) += v;
            }
        }
        if refunded == 0 {
            prop_assert!(net.values().all(|v| *v == 0), "{:?}", net);
        }
    }

    #[test]
    fn clawback_never_leaves_a_negative_holder_balance(amount in 10_000_i64..5_000_000, spend_share in 0_i64..=100) {
        let book = book();
        let s = member(0, 0, 0, false);
        let d = book.evaluate(&purchase(amount, 2, 0, 0, false), &s, NOW, false).expect("evaluates");
        let mut after = apply(&s, &d).expect("applies");
        // The member spends part of the points earned (a conversion or voucher elsewhere).
        let pts = AccountKey::plain(Owner::Member(9), Kind::Points);
        let spent = after.balance(&pts) * spend_share / 100;
        if spent > 0 {
            let spend = kimia_core::value::adjust(1, &after, 150, NOW + 10, pts, -spent, None).expect("spend");
            after = apply(&after, &spend).expect("spend applies");
        }
        let r = reverse(&d, &after, 300, NOW + 20, None, 0).expect("reversal");
        let back = apply(&after, &r).expect("reversal applies");
        prop_assert_eq!(back.balance(&pts), 0);
        prop_assert_eq!(back.balance(&AccountKey::plain(Owner::Member(9), Kind::PointsDebt)), -spent);
    }
}
