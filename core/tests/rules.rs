//! The rules' behaviour in `cargo test`: representative cases of the Python tables
//! (tests/core/test_rules_*.py) ported beside them, so a change to the evaluator fails here without
//! Python, and proptest properties of every decision over generated rule sets: it balances, the
//! discount never exceeds the amount, what is paid adds up to the amount, no holder account ends
//! below its floor, evaluation is deterministic, percentage rewards grow with the amount, and a
//! member can spend exactly the credit `Rulebook::spendable_credit` says.

use kimia_core::account::{AccountKey, Kind, Owner, Scope};
use kimia_core::calendar::days_from_civil;
use kimia_core::ledger::apply;
use kimia_core::model::{AccountState, Decision, Lot, MemberSnapshot, Purchase};
use kimia_core::Rulebook;
use proptest::prelude::*;
use serde_json::{json, Value};

const TEHRAN_OFFSET_MIN: i64 = 210;
const DAY: i64 = 86_400;
const MEMBER: i64 = 42;
const CAFE: i64 = 101; // in merchant group 10, in merchant set 1
const BAKERY: i64 = 102; // in merchant set 1
const GARAGE: i64 = 104; // in no set

/// Unix seconds of a Tehran wall-clock time.
fn at(y: i64, m: i64, d: i64, hour: i64, minute: i64) -> i64 {
    days_from_civil(y, m, d) * DAY + hour * 3600 + minute * 60 - TEHRAN_OFFSET_MIN * 60
}

fn now() -> i64 {
    at(2026, 12, 17, 11, 0)
}

fn book_with(rules: Value, settings: Value) -> Rulebook {
    let mut set = json!({
        "club_id": 1,
        "version": 1,
        "utc_offset_min": TEHRAN_OFFSET_MIN,
        "merchant_sets": [{"id": 1, "name": {"en": "Food court", "fa": "فودکورت"}, "merchants": [CAFE, BAKERY], "merchant_groups": [10]}],
        "rules": rules,
    });
    if let (Some(set), Some(extra)) = (set.as_object_mut(), settings.as_object()) {
        set.extend(extra.clone());
    }
    Rulebook::from_json(&set.to_string()).expect("the test rule set compiles")
}

fn book(rules: Value) -> Rulebook {
    book_with(rules, json!({}))
}

/// A rule with the given effects and extra fields (conditions, scope, stacking, budgets...).
fn rule(id: &str, effects: Value, fields: Value) -> Value {
    let mut r = json!({"id": id, "name": {"en": format!("Rule {id}"), "fa": format!("قانون {id}")}, "effects": effects});
    if let (Some(r), Some(extra)) = (r.as_object_mut(), fields.as_object()) {
        r.extend(extra.clone());
    }
    r
}

fn discount(fixed_rial: i64) -> Value {
    json!([{"type": "discount", "fixed_rial": fixed_rial}])
}

fn purchase(fields: Value) -> Purchase {
    let mut p = json!({"op_id": 1, "club_id": 1, "merchant_id": CAFE, "merchant_groups": [10], "amount_rial": 1_000_000});
    if let (Some(p), Some(extra)) = (p.as_object_mut(), fields.as_object()) {
        p.extend(extra.clone());
    }
    serde_json::from_value(p).expect("a purchase")
}

fn member(fields: Value) -> MemberSnapshot {
    let mut m = json!({"member_id": MEMBER});
    if let (Some(m), Some(extra)) = (m.as_object_mut(), fields.as_object()) {
        m.extend(extra.clone());
    }
    serde_json::from_value(m).expect("a member snapshot")
}

fn account(text: &str) -> AccountKey {
    text.parse().expect("an account")
}

/// A member holding these lots `(id, account, remaining, expires_at)`, balances matching them.
fn holding(lots: &[(&str, &str, i64, Option<i64>)]) -> MemberSnapshot {
    let mut s = member(json!({}));
    for (id, text, remaining, expires_at) in lots {
        let key = account(text);
        s.lots.push(Lot { id: (*id).into(), account: key, remaining: *remaining, expires_at: *expires_at, pending_until: None });
        match s.accounts.iter_mut().find(|a| a.account == key) {
            Some(a) => a.balance += remaining,
            None => s.accounts.push(AccountState { account: key, balance: *remaining, credit_limit: 0 }),
        }
    }
    s
}

fn decide(b: &Rulebook, p: &Purchase, s: &MemberSnapshot, at: i64) -> Decision {
    let d = b.evaluate(p, s, at, true).expect("the purchase is decided");
    assert!(d.is_balanced(), "unbalanced: {d:?}");
    d
}

/// The explanation code of each rule, by rule id.
fn code_of(d: &Decision, rule_id: &str) -> String {
    d.explanation.iter().find(|e| e.rule_id == rule_id).map(|e| e.code.clone()).unwrap_or_default()
}

fn applies(b: &Rulebook, p: &Purchase, s: &MemberSnapshot, at: i64) -> bool {
    decide(b, p, s, at).applied_rules.iter().any(|r| &**r == "r")
}

// --- effects: discounts, points, caps (test_rules_rewards.py R6, R7) ----------------------------

#[test]
fn discount_percent_fixed_and_caps() {
    // (effect, amount, discount): the R6 table.
    let cases = [
        (json!({"percent_bp": 1500}), 1_000_000, 150_000),
        (json!({"percent_bp": 1500}), 999_999, 149_999),
        (json!({"percent_bp": 1500, "cap_rial": 300_000}), 3_000_000, 300_000),
        (json!({"fixed_rial": 50_000}), 1_000_000, 50_000),
        (json!({"percent_bp": 1000, "fixed_rial": 5_000}), 1_000_000, 105_000),
        (json!({"percent_bp": 1000, "fixed_rial": 5_000, "cap_rial": 100_000}), 1_000_000, 100_000),
        (json!({"fixed_rial": 2_000_000}), 1_000_000, 1_000_000),
        (json!({"percent_bp": 10_000}), 123_457, 123_457),
        (json!({"percent_bp": 1000, "cap_rial": 0}), 1_000_000, 0),
    ];
    for (effect, amount, expected) in cases {
        let mut e = effect.clone();
        e["type"] = json!("discount");
        let b = book(json!([rule("r", json!([e]), json!({}))]));
        let d = decide(&b, &purchase(json!({"amount_rial": amount})), &member(json!({})), now());
        assert_eq!((d.discount_rial, d.payable_rial), (expected, amount - expected), "{effect}");
        let code = if expected > 0 { "applied" } else { "nothing_to_give" };
        assert_eq!(code_of(&d, "r"), code, "{effect}");
        if expected > 0 {
            let cafe = Owner::Merchant(CAFE);
            let posted: Vec<_> = d.postings.iter().map(|p| (p.from, p.to, p.amount)).collect();
            assert_eq!(posted, [(AccountKey::plain(cafe, Kind::Expense), AccountKey::plain(cafe, Kind::DiscountGiven), expected)]);
        }
    }
}

#[test]
fn stacked_discounts_never_exceed_the_amount() {
    let b = book(json!([
        rule("big", discount(700_000), json!({"priority": 10})),
        rule("small", discount(700_000), json!({})),
        rule("more", json!([{"type": "discount", "percent_bp": 5000}]), json!({})),
    ]));
    let d = decide(&b, &purchase(json!({})), &member(json!({})), now());
    assert_eq!((d.discount_rial, d.payable_rial), (1_000_000, 0));
    let given = |id: &str| d.explanation.iter().find(|e| e.rule_id == id).map(|e| e.discount_rial);
    assert_eq!((given("big"), given("small"), given("more")), (Some(700_000), Some(300_000), Some(0)));
    assert!(d.split.is_empty());
}

#[test]
fn points_rounding() {
    // (rounding, amount, points) at one point per 10,000 rials: the R7 table.
    let cases = [
        ("floor", 15_000, 1),
        ("half_up", 15_000, 2),
        ("ceil", 15_000, 2),
        ("floor", 14_999, 1),
        ("half_up", 14_999, 1),
        ("ceil", 14_999, 2),
        ("half_up", 20_000, 2),
        ("floor", 9_999, 0),
        ("ceil", 1, 1),
        ("half_up", 5_000, 1),
    ];
    for (rounding, amount, points) in cases {
        let b = book(json!([rule("r", json!([{"type": "points", "per_rial": 10_000, "points": 1, "rounding": rounding}]), json!({}))]));
        let d = decide(&b, &purchase(json!({"amount_rial": amount})), &member(json!({})), now());
        assert_eq!(d.points_earned, points, "{rounding} {amount}");
        assert_eq!(d.deltas().get(&account("member:42/points")).copied().unwrap_or(0), points);
    }
}

#[test]
fn points_tier_and_group_multipliers_highest_wins() {
    let effect = json!([{"type": "points", "per_rial": 10_000, "points": 1,
                         "tier_multipliers_bp": {"silver": 15_000, "gold": 20_000, "basic": 5_000},
                         "group_multipliers_bp": {"3": 25_000, "4": 12_000}}]);
    let b = book(json!([rule("r", effect, json!({}))]));
    let cases = [
        (json!({}), 100),
        (json!({"tier": "silver"}), 150),
        (json!({"tier": "gold"}), 200),
        (json!({"tier": "bronze"}), 100),
        (json!({"tier": "basic"}), 50),
        (json!({"groups": [3]}), 250),
        (json!({"tier": "gold", "groups": [3]}), 250),
        (json!({"tier": "silver", "groups": [4]}), 150),
        (json!({"groups": [4, 3]}), 250),
    ];
    for (fields, points) in cases {
        assert_eq!(decide(&b, &purchase(json!({})), &member(fields.clone()), now()).points_earned, points, "{fields}");
    }
}

#[test]
fn credit_is_scoped_and_lands_in_a_lot_with_its_expiry() {
    let b = book(json!([
        rule("mc", json!([{"type": "credit", "kind": "merchant", "percent_bp": 500, "expires_days": 30}]), json!({})),
        rule("cc", json!([{"type": "credit", "kind": "club", "fixed_rial": 7_000, "spendable_at": 1}]), json!({})),
    ]));
    let d = decide(&b, &purchase(json!({})), &member(json!({})), now());
    let lots: Vec<_> = d.lots_created.iter().map(|l| (l.account.to_string(), l.remaining, l.expires_at)).collect();
    assert_eq!(
        lots,
        [
            (format!("member:42/merchant_credit@merchant:{CAFE}"), 50_000, Some(now() + 30 * DAY)),
            ("member:42/club_credit@set:1".to_string(), 7_000, None),
        ]
    );
    assert_eq!(d.lots_created.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["1:0", "1:1"]);
}

// --- conditions and scope (test_rules_scope.py, test_rules_member.py, test_rules_purchase.py) ---

#[test]
fn scope_by_merchant_group_branch_and_club_path() {
    // (scope, purchase fields, applies): the R1 table.
    let cases = [
        (json!({"merchants": [CAFE]}), json!({}), true),
        (json!({"merchants": [CAFE]}), json!({"merchant_id": BAKERY}), false),
        (json!({"merchant_groups": [10]}), json!({"merchant_groups": [11, 10]}), true),
        (json!({"merchant_groups": [10]}), json!({"merchant_groups": []}), false),
        (json!({"branches": [5]}), json!({"branch_id": 5}), true),
        (json!({"branches": [5]}), json!({}), false),
        (json!({"clubs": [2]}), json!({"club_id": 3, "club_path": [3, 2, 1]}), true),
        (json!({"clubs": [4]}), json!({"club_id": 3, "club_path": [3, 2, 1]}), false),
        (json!({"clubs": [3]}), json!({"club_id": 1, "club_path": [1]}), false),
        (json!({"merchants": [CAFE], "merchant_groups": [10]}), json!({"merchant_groups": []}), false),
    ];
    for (scope, fields, expected) in cases {
        let b = book(json!([rule("r", discount(1_000), json!({"scope": scope}))]));
        let d = decide(&b, &purchase(fields.clone()), &member(json!({})), now());
        assert_eq!(d.applied_rules.len() == 1, expected, "{scope} {fields}");
        if !expected {
            // A rule scoped to other merchants is not even a candidate (the index skips it);
            // one the index visits is explained.
            assert!(["", "not_in_scope"].contains(&code_of(&d, "r").as_str()), "{scope} {fields}");
        }
    }
}

#[test]
fn member_conditions() {
    let day = (now() + TEHRAN_OFFSET_MIN * 60) / DAY;
    let history = json!([{"day": day, "count": 1, "spend_rial": 100_000}, {"day": day - 6, "count": 2, "spend_rial": 300_000}]);
    // (condition, member fields, applies)
    let cases = [
        (json!({"type": "member_group", "ids": [5, 6]}), json!({"groups": [6]}), true),
        (json!({"type": "member_group", "ids": [5]}), json!({"groups": [4]}), false),
        (json!({"type": "tier", "names": ["gold", "platinum"]}), json!({"tier": "gold"}), true),
        (json!({"type": "tier", "names": ["gold"]}), json!({}), false),
        (json!({"type": "days_since_last_purchase", "min": 30}), json!({"last_purchase_at": now() - 45 * DAY}), true),
        (json!({"type": "days_since_last_purchase", "min": 30}), json!({"last_purchase_at": now() - 29 * DAY}), false),
        (json!({"type": "days_since_last_purchase", "min": 0}), json!({}), false),
        (json!({"type": "spend_in_window", "days": 7, "min": 400_000}), json!({"history": history}), true),
        (json!({"type": "spend_in_window", "days": 7, "min": 400_001}), json!({"history": history}), false),
        (json!({"type": "spend_in_window", "days": 1, "min": 100_000, "max": 100_000}), json!({"history": history}), true),
        (json!({"type": "purchases_in_window", "days": 7, "min": 3, "max": 3}), json!({"history": history}), true),
        (json!({"type": "purchases_in_window", "days": 6, "min": 2}), json!({"history": history}), false),
        (json!({"type": "points_held", "min": 500}), json!({"accounts": [{"account": "member:42/points", "balance": 500}]}), true),
        (json!({"type": "points_held", "min": 500}), json!({"accounts": [{"account": "member:42/points", "balance": 499}]}), false),
        (json!({"type": "first_purchase"}), json!({}), true),
        (json!({"type": "first_purchase"}), json!({"purchase_count": 1}), false),
        (json!({"type": "nth_purchase", "n": 3}), json!({"purchase_count": 2}), true),
        (json!({"type": "nth_purchase", "n": 3}), json!({"purchase_count": 3}), false),
    ];
    for (condition, fields, expected) in cases {
        let b = book(json!([rule("r", discount(1_000), json!({"conditions": [condition]}))]));
        assert_eq!(applies(&b, &purchase(json!({})), &member(fields.clone()), now()), expected, "{condition} {fields}");
    }
}

#[test]
fn purchase_conditions_and_combinators() {
    let cases = [
        (json!({"type": "amount", "min": 500_000}), json!({"amount_rial": 500_000}), true),
        (json!({"type": "amount", "min": 500_000}), json!({"amount_rial": 499_999}), false),
        (json!({"type": "amount", "max": 2_000_000}), json!({"amount_rial": 2_000_001}), false),
        (json!({"type": "payment_method", "methods": ["cash"]}), json!({"payment_method": "cash"}), true),
        (json!({"type": "payment_method", "methods": ["cash"]}), json!({}), false),
        (json!({"type": "channel", "channels": ["app"]}), json!({"channel": "app"}), true),
        (json!({"type": "club", "ids": [2]}), json!({"club_id": 3, "club_path": [3, 2, 1]}), true),
        (json!({"type": "club", "ids": [2]}), json!({"club_id": 1, "club_path": [1]}), false),
        (json!({"type": "not", "of": {"type": "merchant", "ids": [CAFE]}}), json!({}), false),
        (json!({"type": "any", "of": [{"type": "merchant", "ids": [BAKERY]}, {"type": "merchant_group", "ids": [10]}]}), json!({}), true),
        (json!({"type": "all", "of": [{"type": "merchant", "ids": [CAFE]}, {"type": "amount", "min": 2_000_000}]}), json!({}), false),
    ];
    for (condition, fields, expected) in cases {
        let b = book(json!([rule("r", discount(1_000), json!({"conditions": [condition]}))]));
        let d = decide(&b, &purchase(fields.clone()), &member(json!({})), now());
        assert_eq!(d.applied_rules.len() == 1, expected, "{condition} {fields}");
        if !expected {
            assert_eq!(code_of(&d, "r"), "condition_failed");
        }
    }
}

#[test]
fn basket_lines_are_the_base_of_goods_rules() {
    let basket = json!([
        {"goods_id": "cup", "group": "cups", "amount_rial": 300_000},
        {"goods_id": "beans-250g", "group": "coffee-beans", "amount_rial": 250_000},
        {"goods_id": "beans-1kg", "group": "coffee-beans", "amount_rial": 900_000},
    ]);
    let fields = json!({"amount_rial": 1_450_000, "basket": basket});
    let cases = [
        (json!([{"type": "goods_group", "ids": ["coffee-beans"]}]), json!({"type": "discount", "percent_bp": 1000}), 115_000),
        (json!([{"type": "goods", "ids": ["cup"]}]), json!({"type": "discount", "percent_bp": 1000}), 30_000),
        (json!([]), json!({"type": "discount", "percent_bp": 1000}), 145_000),
        (json!([{"type": "goods", "ids": ["cup"]}]), json!({"type": "discount", "fixed_rial": 7_000}), 7_000),
    ];
    for (conditions, effect, expected) in cases {
        let b = book(json!([rule("r", json!([effect]), json!({"conditions": conditions}))]));
        assert_eq!(decide(&b, &purchase(fields.clone()), &member(json!({})), now()).discount_rial, expected, "{conditions}");
    }
    let b = book(json!([rule("r", discount(1), json!({}))]));
    let wrong = purchase(json!({"amount_rial": 1_000_000, "basket": basket}));
    assert_eq!(b.evaluate(&wrong, &member(json!({})), now(), false).expect_err("the basket must add up").code, "basket_mismatch");
}

// --- time windows (test_rules_time.py) --------------------------------------------------------

#[test]
fn hour_ranges_by_tehran_clock() {
    // (from, to, (hour, minute), applies): the R4 table; `to` is exclusive and ranges may wrap.
    let cases = [
        ("16:00", "19:00", (15, 59), false),
        ("16:00", "19:00", (16, 0), true),
        ("16:00", "19:00", (19, 0), false),
        ("22:00", "02:00", (23, 59), true),
        ("22:00", "02:00", (0, 0), true),
        ("22:00", "02:00", (2, 0), false),
        ("22:00", "02:00", (12, 0), false),
        ("20:00", "24:00", (23, 59), true),
        ("20:00", "24:00", (0, 30), false),
        ("08:00", "08:00", (3, 0), true),
    ];
    for (from, to, (h, m), expected) in cases {
        let b = book(json!([rule("r", discount(1_000), json!({"conditions": [{"type": "hour_range", "from": from, "to": to}]}))]));
        assert_eq!(applies(&b, &purchase(json!({})), &member(json!({})), at(2026, 12, 17, h, m)), expected, "{from}-{to} at {h}:{m}");
    }
}

#[test]
fn date_ranges_end_at_tehran_midnight_in_either_calendar() {
    let gregorian = json!({"type": "date_range", "from": "2026-12-01", "to": "2026-12-31"});
    // 1405-09-25 .. 1405-10-05 is 2026-12-16 .. 2026-12-26 (Yalda inside).
    let jalali = json!({"type": "date_range", "from": "1405-09-25", "to": "1405-10-05", "calendar": "jalali"});
    let cases = [
        (&gregorian, at(2026, 12, 1, 0, 0), true),
        (&gregorian, at(2026, 11, 30, 23, 59), false),
        (&gregorian, at(2026, 12, 31, 23, 59), true),
        (&gregorian, at(2027, 1, 1, 0, 0), false),
        (&jalali, at(2026, 12, 15, 23, 59), false),
        (&jalali, at(2026, 12, 16, 0, 0), true),
        (&jalali, at(2026, 12, 26, 23, 59), true),
        (&jalali, at(2026, 12, 27, 0, 0), false),
    ];
    for (condition, when, expected) in cases {
        let b = book(json!([rule("r", discount(1_000), json!({"conditions": [condition]}))]));
        assert_eq!(applies(&b, &purchase(json!({})), &member(json!({})), when), expected, "{condition} at {when}");
    }
}

#[test]
fn weekdays_are_tehran_weekdays_and_validity_bounds_a_rule() {
    // 2026-12-18 is a Friday; at 00:30 in Tehran it is still Thursday in UTC.
    let friday = book(json!([rule("r", discount(1_000), json!({"conditions": [{"type": "weekdays", "days": ["fri"]}]}))]));
    assert!(applies(&friday, &purchase(json!({})), &member(json!({})), at(2026, 12, 18, 0, 30)));
    assert!(!applies(&friday, &purchase(json!({})), &member(json!({})), at(2026, 12, 17, 23, 30)));
    let valid = book(json!([
        rule("r", discount(1_000), json!({"valid_from": now() - 10, "valid_to": now() + 10})),
        rule("off", discount(1_000), json!({"enabled": false})),
    ]));
    let d = decide(&valid, &purchase(json!({})), &member(json!({})), now());
    assert_eq!((code_of(&d, "r").as_str(), code_of(&d, "off").as_str()), ("applied", "outside_validity"));
    assert_eq!(code_of(&decide(&valid, &purchase(json!({})), &member(json!({})), now() + 11), "r"), "outside_validity");
}

// --- stacking and budgets (test_rules_stacking.py) --------------------------------------------

fn campaigns() -> Value {
    json!({"stacking_groups": [{"name": "campaigns", "mode": "exclusive"}, {"name": "welcome", "mode": "first_match"}]})
}

#[test]
fn exclusive_group_keeps_the_best_value_whatever_the_order() {
    let rules = [
        rule("fixed-50k", discount(50_000), json!({"stacking_group": "campaigns", "priority": 10})),
        rule("points-1-per-1000", json!([{"type": "points", "per_rial": 1_000, "points": 1}]), json!({"stacking_group": "campaigns", "priority": 5})),
        rule("credit-8pc", json!([{"type": "credit", "kind": "merchant", "percent_bp": 800}]), json!({"stacking_group": "campaigns"})),
    ];
    for (point_value, winner) in [(100, "points-1-per-1000"), (1, "credit-8pc"), (60, "credit-8pc"), (81, "points-1-per-1000")] {
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut settings = campaigns();
            settings["point_value_rial"] = json!(point_value);
            let b = book_with(Value::Array(order.iter().map(|i| rules[*i].clone()).collect()), settings);
            let d = decide(&b, &purchase(json!({})), &member(json!({})), now());
            assert_eq!(d.applied_rules.iter().map(|r| &**r).collect::<Vec<_>>(), [winner], "{point_value} {order:?}");
            for line in d.explanation.iter().filter(|l| l.rule_id != winner) {
                assert_eq!(line.code, "lost_to_better_rule");
                assert_eq!(line.winner.as_ref().map(|w| w.0.as_str()), Some(format!("Rule {winner}").as_str()));
            }
        }
    }
}

#[test]
fn exclusive_tie_keeps_the_earlier_rule() {
    let b = book_with(
        json!([
            rule("low", discount(30_000), json!({"stacking_group": "campaigns", "priority": 1})),
            rule("high", discount(30_000), json!({"stacking_group": "campaigns", "priority": 9})),
        ]),
        campaigns(),
    );
    let d = decide(&b, &purchase(json!({})), &member(json!({})), now());
    assert_eq!(d.applied_rules.iter().map(|r| &**r).collect::<Vec<_>>(), ["high"]);
    assert_eq!(code_of(&d, "low"), "lost_to_better_rule");
}

#[test]
fn first_match_takes_the_highest_priority_rule_that_applies() {
    let b = book_with(
        json!([
            rule("w10", discount(1), json!({"stacking_group": "welcome", "priority": 10})),
            rule("w30", discount(300), json!({"stacking_group": "welcome", "priority": 30, "conditions": [{"type": "first_purchase"}]})),
            rule("w20", discount(200), json!({"stacking_group": "welcome", "priority": 20})),
            rule("stackable", json!([{"type": "points", "fixed": 1}]), json!({})),
        ]),
        campaigns(),
    );
    let d = decide(&b, &purchase(json!({})), &member(json!({"purchase_count": 3})), now());
    assert_eq!((d.discount_rial, d.points_earned), (200, 1));
    assert_eq!((code_of(&d, "w30").as_str(), code_of(&d, "w10").as_str()), ("condition_failed", "after_first_match"));
    let d = decide(&b, &purchase(json!({})), &member(json!({})), now());
    assert_eq!(d.discount_rial, 300);
    assert_eq!(code_of(&d, "w20"), "after_first_match");
}

#[test]
fn count_and_rial_budgets() {
    // (budget, used so far, applies) with a 100,000-rial discount: the budget table.
    let cases = [
        (json!({"per": "member", "period": "day", "limit_count": 2}), 1, true),
        (json!({"per": "member", "period": "day", "limit_count": 2}), 2, false),
        (json!({"per": "rule", "period": "total", "limit_rial": 150_000, "fill": "all_or_nothing"}), 50_000, true),
        (json!({"per": "rule", "period": "total", "limit_rial": 150_000, "fill": "all_or_nothing"}), 50_001, false),
        (json!({"per": "rule", "period": "total", "limit_rial": 150_000}), 150_000, false),
        (json!({"per": "rule", "period": "total", "limit_rial": 100_000}), 0, true),
    ];
    for (budget, used, expected) in cases {
        let b = book(json!([rule("r", json!([{"type": "discount", "percent_bp": 1000}]), json!({"budgets": [budget]}))]));
        let p = purchase(json!({}));
        let key = b.budget_keys(&p, MEMBER, now())[0].clone();
        let s = member(json!({"budget_used": {key.clone(): used}}));
        let d = decide(&b, &p, &s, now());
        if expected {
            assert_eq!((code_of(&d, "r").as_str(), d.discount_rial), ("applied", 100_000), "{budget}");
            let after = apply(&s, &d).expect("applies");
            let step = if budget.get("limit_count").is_some() { 1 } else { 100_000 };
            assert_eq!(after.budget_used[&key], used + step);
        } else {
            assert_eq!((code_of(&d, "r").as_str(), d.discount_rial), ("budget_exhausted", 0), "{budget}");
            assert!(d.budget_use.is_empty());
        }
    }
}

#[test]
fn partial_budget_gives_what_is_left_scaled_and_floored() {
    // 180,000 of a 200,000 monthly cashback cap used: a 40,000 reward gives 20,000.
    let cap = json!({"per": "rule", "period": "month", "limit_rial": 200_000});
    let b = book(json!([rule("cb", json!([{"type": "credit", "kind": "cashback", "percent_bp": 400}]), json!({"budgets": [cap]}))]));
    let p = purchase(json!({}));
    let key = b.budget_keys(&p, MEMBER, now())[0].clone();
    let d = decide(&b, &p, &member(json!({"budget_used": {key: 180_000}})), now());
    assert_eq!((code_of(&d, "cb").as_str(), d.lots_created[0].remaining, d.budget_use[0].amount), ("budget_partial", 20_000, 20_000));
    // A discount plus points under two partial budgets: the tighter decides, each part halved.
    let budgets = json!([{"per": "rule", "period": "total", "limit_rial": 1_000_000}, {"per": "member", "period": "day", "limit_rial": 50_000}]);
    let effects = json!([{"type": "discount", "fixed_rial": 60_000}, {"type": "points", "fixed": 400}]);
    let b = book_with(json!([rule("r", effects, json!({"budgets": budgets}))]), json!({"point_value_rial": 100}));
    let d = decide(&b, &purchase(json!({})), &member(json!({})), now());
    assert_eq!((d.discount_rial, d.points_earned), (30_000, 200));
    assert_eq!(d.budget_use.iter().map(|u| u.amount).collect::<Vec<_>>(), [50_000, 50_000]);
    // A credit-spend discount is capped by the budget once the credit spent is known.
    let budget = json!([{"per": "rule", "period": "total", "limit_rial": 5_000}]);
    let b = book(json!([rule("pwc", json!([{"type": "credit_spend_discount", "percent_bp": 1000}]), json!({"budgets": budget}))]));
    let wallet = holding(&[("0:0", "member:42/virtual_credit", 100_000, None)]);
    let d = decide(&b, &purchase(json!({"redeem_credit_rial": 100_000})), &wallet, now());
    assert_eq!((d.discount_rial, d.budget_use[0].amount, code_of(&d, "pwc").as_str()), (5_000, 5_000, "budget_partial"));
}

// --- paying with credit ------------------------------------------------------------------------

#[test]
fn credit_is_drawn_soonest_expiring_first_and_only_where_valid() {
    let s = holding(&[
        ("5:0", "member:42/virtual_credit", 40_000, None),
        ("6:0", "member:42/cashback", 30_000, Some(now() + DAY)),
        ("7:0", &format!("member:42/merchant_credit@merchant:{BAKERY}"), 50_000, Some(now() + 60)),
    ]);
    let b = book(json!([]));
    let d = decide(&b, &purchase(json!({"redeem_credit_rial": 50_000})), &s, now());
    let drawn: Vec<_> = d.lots_consumed.iter().map(|u| (u.lot_id.as_str(), u.amount)).collect();
    assert_eq!(drawn, [("6:0", 30_000), ("5:0", 20_000)]);
    assert_eq!((d.credit_used_rial, d.payable_rial), (50_000, 950_000));
    assert_eq!(b.spendable_credit(&s, CAFE, &[10], now()), 70_000);
    assert_eq!(b.spendable_credit(&s, BAKERY, &[], now()), 120_000);
    let refused = b.evaluate(&purchase(json!({"redeem_credit_rial": 100_000})), &s, now(), false).expect_err("only 70,000 here");
    assert_eq!(refused.code, "credit_not_valid_at_merchant");
    // Club credit of merchant set 1 is spendable at the cafe (by its group), not at the garage.
    let set = holding(&[("8:0", "member:42/club_credit@set:1", 10_000, None)]);
    assert_eq!(b.spendable_credit(&set, CAFE, &[10], now()), 10_000);
    assert_eq!(b.spendable_credit(&set, GARAGE, &[], now()), 0);
}

#[test]
fn a_credit_line_lends_up_to_its_limit_after_the_lots() {
    let mut s = holding(&[("5:0", "member:42/gift_credit", 10_000, None)]);
    s.accounts.push(AccountState { account: account("member:42/credit_line"), balance: -20_000, credit_limit: 50_000 });
    let b = book(json!([]));
    assert_eq!(b.spendable_credit(&s, CAFE, &[10], now()), 40_000);
    let d = decide(&b, &purchase(json!({"redeem_credit_rial": 40_000})), &s, now());
    let after = apply(&s, &d).expect("within the limit");
    assert_eq!(after.balance(&account("member:42/credit_line")), -50_000);
    // The line lends only what the lots leave to pay.
    let d = decide(&b, &purchase(json!({"redeem_credit_rial": 25_000})), &s, now());
    assert_eq!(apply(&s, &d).expect("within the limit").balance(&account("member:42/credit_line")), -35_000);
    let over = b.evaluate(&purchase(json!({"redeem_credit_rial": 40_001})), &s, now(), false).expect_err("over the limit");
    assert_eq!(over.code, "insufficient_balance");
}

// --- properties over generated rule sets -------------------------------------------------------

/// A generated rule: (kind of effect, percent in basis points, fixed part, cap, stacking group).
fn arb_rule() -> impl Strategy<Value = (u8, i64, i64, Option<i64>, u8)> {
    (0_u8..4, 0_i64..=10_000, 0_i64..200_000, prop::option::of(0_i64..500_000), 0_u8..3)
}

fn generated_book(rules: &[(u8, i64, i64, Option<i64>, u8)], point_value_rial: i64) -> Rulebook {
    let groups = ["default", "campaigns", "welcome"];
    let list: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, (kind, percent_bp, fixed, cap, group))| {
            let effect = match kind {
                0 => json!({"type": "discount", "percent_bp": percent_bp, "fixed_rial": fixed, "cap_rial": cap}),
                1 => json!({"type": "points", "per_rial": 1_000 + fixed, "points": 1 + percent_bp / 1000, "rounding": "half_up"}),
                2 => json!({"type": "credit", "kind": "cashback", "percent_bp": percent_bp, "cap_rial": cap, "expires_days": 30}),
                _ => json!({"type": "credit_spend_discount", "percent_bp": percent_bp / 4}),
            };
            rule(&format!("g{i}"), json!([effect]), json!({"stacking_group": groups[*group as usize], "funding": {"merchant": 6000, "club_owner": 4000}}))
        })
        .collect();
    let mut settings = campaigns();
    settings["point_value_rial"] = json!(point_value_rial);
    book_with(Value::Array(list), settings)
}

/// A member holding points, a credit debt, virtual credit in two lots and merchant credit elsewhere.
fn generated_member(credit: i64, debt: i64) -> MemberSnapshot {
    let half = credit / 2;
    let mut s = holding(&[
        ("1:0", "member:42/virtual_credit", half, Some(now() + DAY)),
        ("1:1", "member:42/virtual_credit", credit - half, None),
        ("1:2", &format!("member:42/merchant_credit@merchant:{BAKERY}"), 25_000, None),
        ("1:3", "member:42/points", 700, None),
    ]);
    s.accounts.push(AccountState { account: AccountKey::plain(Owner::Member(MEMBER), Kind::CreditDebt), balance: -debt, credit_limit: 0 });
    s.lots.retain(|l| l.remaining > 0);
    s
}

fn holder_floors_hold(s: &MemberSnapshot) -> bool {
    s.accounts.iter().all(|a| a.account.floor(a.credit_limit).is_none_or(|floor| a.balance >= floor))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_decision_balances_adds_up_and_keeps_floors(
        rules in prop::collection::vec(arb_rule(), 0..6),
        amount in 1_i64..20_000_000,
        redeem in 0_i64..300_000,
        credit in 0_i64..200_000,
        debt in 0_i64..50_000,
        point_value in 0_i64..200,
    ) {
        let b = generated_book(&rules, point_value);
        let s = generated_member(credit, debt);
        let p = purchase(json!({"amount_rial": amount, "redeem_credit_rial": redeem}));
        match b.evaluate(&p, &s, now(), true) {
            Ok(d) => {
                prop_assert!(d.is_balanced());
                prop_assert!(d.discount_rial >= 0 && d.discount_rial <= amount);
                prop_assert!(d.payable_rial >= 0 && d.credit_used_rial >= 0);
                prop_assert_eq!(d.payable_rial + d.discount_rial + d.credit_used_rial + d.points_redeemed_rial, amount);
                prop_assert_eq!(d.split.iter().map(|l| l.amount_rial).sum::<i64>(), d.payable_rial);
                prop_assert_eq!(&b.evaluate(&p, &s, now(), true).expect("the same again"), &d);
                let next = apply(&s, &d).expect("a fresh decision applies to its own snapshot");
                prop_assert!(holder_floors_hold(&next));
            }
            Err(e) => {
                // The only refusal: more credit than can be spent here.
                prop_assert!(redeem > b.spendable_credit(&s, CAFE, &[10], now()), "unexpected {}", e);
            }
        }
    }

    #[test]
    fn a_member_can_spend_exactly_the_spendable_credit(credit in 0_i64..200_000, limit in 0_i64..50_000, used in 0_i64..50_000) {
        let b = book(json!([]));
        let mut s = generated_member(credit, 0);
        s.accounts.push(AccountState { account: account("member:42/credit_line"), balance: -used, credit_limit: limit });
        let spendable = b.spendable_credit(&s, CAFE, &[10], now());
        prop_assert_eq!(spendable, credit + (limit - used).max(0));
        let amount = spendable + 1_000;
        let all = b.evaluate(&purchase(json!({"amount_rial": amount, "redeem_credit_rial": spendable})), &s, now(), false);
        prop_assert_eq!(all.expect("all of it can be spent").credit_used_rial, spendable);
        let more = b.evaluate(&purchase(json!({"amount_rial": amount, "redeem_credit_rial": spendable + 1})), &s, now(), false);
        prop_assert!(more.is_err());
    }

    #[test]
    fn percentage_rewards_grow_with_the_amount(percent_bp in 0_i64..=10_000, cap in prop::option::of(0_i64..500_000), per_rial in 1_i64..50_000, small in 1_i64..10_000_000, extra in 0_i64..10_000_000) {
        let b = book(json!([
            rule("d", json!([{"type": "discount", "percent_bp": percent_bp, "cap_rial": cap}]), json!({})),
            rule("p", json!([{"type": "points", "per_rial": per_rial, "points": 1}]), json!({})),
            rule("c", json!([{"type": "credit", "kind": "cashback", "percent_bp": percent_bp}]), json!({})),
        ]));
        let s = member(json!({}));
        let low = decide(&b, &purchase(json!({"amount_rial": small})), &s, now());
        let high = decide(&b, &purchase(json!({"amount_rial": small + extra})), &s, now());
        prop_assert!(low.discount_rial <= high.discount_rial);
        prop_assert!(low.points_earned <= high.points_earned);
        let cashback = |d: &Decision| d.lots_created.iter().filter(|l| l.account.kind == Kind::Cashback).map(|l| l.remaining).sum::<i64>();
        prop_assert!(cashback(&low) <= cashback(&high));
    }
}

#[test]
fn scope_text_is_what_the_account_names() {
    // The classification the Python layer asks of the core (core.account_info) reads the same text.
    let key = account("member:42/merchant_credit@merchant:7");
    assert_eq!((key.owner.to_string(), key.kind.name(), key.scope.text()), ("member:42".to_string(), "merchant_credit", Some("merchant:7".to_string())));
    assert!(key.is_holder() && key.kind.is_credit_held() && key.floor(0) == Some(0));
    assert_eq!(account("member:42/credit_line").floor(500), Some(-500));
    assert!(!account("member:42/credit_line").kind.is_credit_held());
    assert_eq!(account("club:1/expense").floor(0), None);
    assert_eq!(AccountKey::new(Owner::Platform, Kind::Cash, Scope::None).owner.to_string(), "platform:0");
}
