//! Benchmarks of the decision core (criterion): `cargo bench --manifest-path core/Cargo.toml --bench decide`.
//!
//! A realistic club rule table of N rules is generated here (see `rule_set`): a handful of club-wide
//! rules, and per merchant a few rules (discount above an amount, points per amount with tier
//! multipliers, merchant credit on a weekday/hour window, lottery entries). The same kind of table
//! is built in Python by `benches/tables.py` for the pytest-benchmark suite.
//!
//! - `evaluate/{N}` and `evaluate_explain/{N}`: one decision, without and with the explanation;
//! - `batch/{N}`: 10,000 prebuilt purchases decided in a loop with one `Scratch` (elements/s);
//! - `tier_close/1000000`: a tier period close of 1,000,000 members;
//! - `backtest/1000000`: a backtest of 1,000,000 purchases against the 1,000-rule table.
//!
//! Targets (docs/benchmarks.md): batch ≥ 1,000,000 decisions/s at 1,000 rules on one core; tier close
//! of 1,000,000 members ≤ 0.5 s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use kimia_core::backtest::BatchInput;
use kimia_core::model::{Channel, MemberSnapshot, PaymentMethod, Purchase};
use kimia_core::rules::evaluate::Scratch;
use kimia_core::tiers::{close_period, TierConfig, TierInput, TierSpec};
use kimia_core::Rulebook;
use serde_json::{json, Value};

const CLUB_ID: i64 = 1;
/// 2025-03-01 00:00 in Tehran (UTC+03:30), a Saturday.
const START: i64 = 1_740_774_600;
/// Purchases fall within four weeks from `START`.
const SPAN_S: i64 = 28 * 86_400;
const MERCHANT_GROUPS: i64 = 20;
const TIER_NAMES: [&str; 3] = ["bronze", "silver", "gold"];
const WEEKDAYS: [&str; 7] = ["sat", "sun", "mon", "tue", "wed", "thu", "fri"];
/// Club-wide rules in every table (see `club_wide_rules`).
const CLUB_WIDE: usize = 6;
/// Rules each merchant gets in one round (discount, points, credit window, lottery).
const PER_MERCHANT: usize = 4;
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// A small deterministic generator (SplitMix64), so every run decides the same purchases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> i64 {
        i64::try_from(self.next() % n).expect("n fits in i64")
    }
}

/// Merchants in a table of `n` rules: 2,000 from 1,000 rules up, else as many as the merchant rules fill.
fn merchant_count(n: usize) -> i64 {
    let count = if n >= 1_000 { 2_000 } else { (n.saturating_sub(CLUB_WIDE) / PER_MERCHANT).max(1) };
    i64::try_from(count).expect("merchant count fits in i64")
}

/// Merchants that have rules of their own (merchant ids `1..=active`).
fn active_merchants(n: usize) -> i64 {
    let groups = n.saturating_sub(CLUB_WIDE).div_ceil(PER_MERCHANT).max(1);
    i64::try_from(groups).expect("fits in i64").min(merchant_count(n))
}

fn merchant_group(merchant: i64) -> i64 {
    merchant % MERCHANT_GROUPS + 1
}

fn tier_multipliers() -> Value {
    json!({"silver": 12_500, "gold": 15_000})
}

/// The handful of rules that apply anywhere in the club.
fn club_wide_rules() -> Vec<Value> {
    vec![
        json!({"id": "club_points", "name": {"en": "Club points", "fa": "امتیاز باشگاه"},
               "effects": [{"type": "points", "per_rial": 20_000, "points": 1,
                            "tier_multipliers_bp": tier_multipliers(), "expires_days": 365}],
               "funding": {"club_owner": 10_000}}),
        json!({"id": "welcome", "name": {"en": "Welcome", "fa": "خوش‌آمد"},
               "conditions": [{"type": "first_purchase"}],
               "effects": [{"type": "points", "fixed": 500}],
               "funding": {"club_owner": 10_000}}),
        json!({"id": "every_tenth", "name": {"en": "Every tenth purchase", "fa": "هر ده خرید"},
               "conditions": [{"type": "nth_purchase", "n": 10}],
               "effects": [{"type": "discount", "percent_bp": 500, "cap_rial": 500_000}],
               "funding": {"club_owner": 5_000, "merchant": 5_000}}),
        json!({"id": "big_basket_lottery", "name": {"en": "Big basket lottery", "fa": "قرعه‌کشی خرید بزرگ"},
               "conditions": [{"type": "amount", "min": 5_000_000}],
               "effects": [{"type": "lottery", "lottery_id": 1, "per_rial": 1_000_000, "entries": 1}]}),
        json!({"id": "group_friday", "name": {"en": "Friday at restaurants", "fa": "جمعه‌های رستوران"},
               "scope": {"merchant_groups": [3]},
               "conditions": [{"type": "weekdays", "days": ["fri"]}],
               "effects": [{"type": "discount", "percent_bp": 1_000, "cap_rial": 300_000}]}),
        json!({"id": "gold_cashback", "name": {"en": "Gold cashback", "fa": "بازگشت وجه طلایی"},
               "conditions": [{"type": "tier", "names": ["gold"]}],
               "effects": [{"type": "credit", "kind": "cashback", "percent_bp": 100, "cap_rial": 100_000}],
               "funding": {"club_owner": 10_000}}),
    ]
}

/// The `i`-th merchant rule: merchant `(i / 4) % merchants + 1`, kind `i % 4`, varied by merchant and round.
fn merchant_rule(i: usize, merchants: i64) -> Value {
    let slot = i64::try_from(i / PER_MERCHANT).expect("fits in i64");
    let m = slot % merchants + 1;
    let round = slot / merchants;
    let id = format!("m{m}_r{round}_k{}", i % PER_MERCHANT);
    let scope = json!({"merchants": [m]});
    match i % PER_MERCHANT {
        0 => json!({"id": id, "scope": scope,
                    "conditions": [{"type": "amount", "min": 1_000_000 + (m % 5) * 500_000 + round * 1_000_000}],
                    "effects": [{"type": "discount", "percent_bp": 300 + (m % 5) * 100, "cap_rial": 1_000_000}]}),
        1 => json!({"id": id, "scope": scope,
                    "effects": [{"type": "points", "per_rial": 10_000, "points": 1 + (m + round) % 3,
                                 "tier_multipliers_bp": tier_multipliers(), "expires_days": 180}]}),
        2 => {
            let first = usize::try_from((m + round) % 7).expect("small");
            let days: Vec<&str> = (0..3).map(|d| WEEKDAYS[(first + d * 2) % 7]).collect();
            let from_h = 9 + (m + round) % 8;
            json!({"id": id, "scope": scope,
                   "conditions": [{"type": "weekdays", "days": days},
                                  {"type": "hour_range", "from": format!("{from_h:02}:00"), "to": format!("{:02}:30", from_h + 4)}],
                   "effects": [{"type": "credit", "kind": "merchant", "percent_bp": 200, "cap_rial": 200_000, "expires_days": 30}]})
        }
        _ => json!({"id": id, "scope": scope,
                    "conditions": [{"type": "amount", "min": 500_000}],
                    "effects": [{"type": "lottery", "lottery_id": 1_000 + m, "per_rial": 500_000, "entries": 1}]}),
    }
}

/// A club rule set of `n` rules (at least `CLUB_WIDE`), as the JSON a club would save.
fn rule_set(n: usize) -> Value {
    let merchants = merchant_count(n);
    let mut rules = club_wide_rules();
    rules.truncate(n);
    rules.extend((0..n.saturating_sub(CLUB_WIDE)).map(|i| merchant_rule(i, merchants)));
    json!({
        "club_id": CLUB_ID,
        "version": 1,
        "utc_offset_min": 210,
        "point_value_rial": 1_000,
        "settlement": {"club_owner_bp": 200, "marketer_bp": 100,
                       "fee_tariffs": [{"percent_bp": 30, "fixed_rial": 1_000, "cap_rial": 50_000}]},
        "rules": rules,
    })
}

fn rulebook(n: usize) -> Rulebook {
    let book = Rulebook::from_json(&rule_set(n).to_string()).expect("the generated rule set compiles");
    assert_eq!(book.len(), n);
    book
}

fn purchase(op_id: i64, merchant: i64, amount_rial: i64) -> Purchase {
    Purchase {
        op_id,
        club_id: CLUB_ID,
        club_path: Vec::new(),
        merchant_id: merchant,
        merchant_groups: vec![merchant_group(merchant)],
        branch_id: None,
        business_type: None,
        marketer_id: None,
        enrolling_merchant_id: None,
        amount_rial,
        basket: Vec::new(),
        payment_method: PaymentMethod::Card,
        channel: Channel::Pos,
        redeem_credit_rial: 0,
        redeem_points: 0,
        conversion: None,
        voucher_code: None,
    }
}

fn member(tier: i64, purchase_count: i64) -> MemberSnapshot {
    MemberSnapshot {
        member_id: 1,
        tier: usize::try_from(tier).ok().map(|t| TIER_NAMES[t].to_string()),
        purchase_count,
        ..MemberSnapshot::default()
    }
}

/// Purchase columns, as the backtest takes them.
struct Columns {
    merchant_id: Vec<i64>,
    merchant_group: Vec<i64>,
    amount_rial: Vec<i64>,
    at: Vec<i64>,
    tier: Vec<i32>,
    purchase_count: Vec<i64>,
}

/// `count` purchases: half at merchants with rules of their own, half at any merchant of the club.
fn purchases(n_rules: usize, count: usize, seed: u64) -> Columns {
    let mut rng = Rng(seed);
    let (all, active) = (merchant_count(n_rules), active_merchants(n_rules));
    let mut c = Columns {
        merchant_id: Vec::with_capacity(count),
        merchant_group: Vec::with_capacity(count),
        amount_rial: Vec::with_capacity(count),
        at: Vec::with_capacity(count),
        tier: Vec::with_capacity(count),
        purchase_count: Vec::with_capacity(count),
    };
    for _ in 0..count {
        let pool = if rng.below(2) == 0 { active } else { all };
        let m = rng.below(u64::try_from(pool).expect("positive")) + 1;
        c.merchant_id.push(m);
        c.merchant_group.push(merchant_group(m));
        c.amount_rial.push(50_000 + rng.below(400) * 25_000 + rng.below(10_000));
        c.at.push(START + rng.below(SPAN_S.unsigned_abs()));
        c.tier.push(i32::try_from(rng.below(4)).expect("small") - 1);
        c.purchase_count.push(rng.below(40));
    }
    c
}

/// A purchase at a merchant with rules of its own, on a Sunday at 11:30, by a gold member whose
/// tenth purchase it is: most of the candidate rules match.
fn representative() -> (Purchase, MemberSnapshot, i64) {
    (purchase(1, 1, 3_456_789), member(2, 9), START + 86_400 + 11 * 3_600 + 1_800)
}

fn bench_evaluate(c: &mut Criterion) {
    let (p, s, now) = representative();
    for (name, explain) in [("evaluate", false), ("evaluate_explain", true)] {
        let mut group = c.benchmark_group(name);
        group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
        for n in SIZES {
            let book = rulebook(n);
            let d = book.evaluate(&p, &s, now, explain).expect("the representative purchase is decided");
            assert!(!d.applied_rules.is_empty());
            group.bench_with_input(BenchmarkId::from_parameter(n), &book, |b, book| {
                b.iter(|| book.evaluate(black_box(&p), black_box(&s), black_box(now), explain).expect("decided"));
            });
        }
        group.finish();
    }
}

fn bench_batch(c: &mut Criterion) {
    const BATCH: usize = 10_000;
    let mut group = c.benchmark_group("batch");
    group.sample_size(40).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(u64::try_from(BATCH).expect("fits")));
    for n in SIZES {
        let book = rulebook(n);
        let cols = purchases(n, BATCH, 7);
        let work: Vec<(Purchase, MemberSnapshot, i64)> = (0..BATCH)
            .map(|i| {
                let op = i64::try_from(i).expect("fits");
                let p = purchase(op, cols.merchant_id[i], cols.amount_rial[i]);
                (p, member(i64::from(cols.tier[i]), cols.purchase_count[i]), cols.at[i])
            })
            .collect();
        group.bench_with_input(BenchmarkId::from_parameter(n), &work, |b, work| {
            let mut scratch = Scratch::default();
            b.iter(|| {
                let mut given = 0_i64;
                for (p, s, at) in work {
                    let d = book.evaluate_with(p, s, *at, false, &mut scratch).expect("decided");
                    given += d.discount_rial + d.points_earned;
                }
                black_box(given)
            });
        });
    }
    group.finish();
}

fn bench_large(c: &mut Criterion) {
    const MEMBERS: usize = 1_000_000;
    const PURCHASES: usize = 1_000_000;
    let mut group = c.benchmark_group("tier_close");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(u64::try_from(MEMBERS).expect("fits")));
    let spec = |name: &str, rise_at, stay_at, grace_periods, deduct_bp| TierSpec { name: name.into(), rise_at, stay_at, grace_periods, deduct_bp };
    let config = TierConfig {
        tiers: vec![spec("bronze", 0, 0, 0, 0), spec("silver", 5_000, 3_000, 1, 1_000), spec("gold", 20_000, 12_000, 1, 2_000)],
    };
    let mut rng = Rng(11);
    let tier: Vec<i32> = (0..MEMBERS).map(|_| i32::try_from(rng.below(3)).expect("small")).collect();
    let period_points: Vec<i64> = (0..MEMBERS).map(|_| rng.below(30_000)).collect();
    let grace_used: Vec<i32> = (0..MEMBERS).map(|_| i32::try_from(rng.below(2)).expect("small")).collect();
    let frozen_until: Vec<i64> = (0..MEMBERS).map(|_| if rng.below(100) == 0 { START + SPAN_S * 2 } else { 0 }).collect();
    let manual_tier: Vec<i32> = (0..MEMBERS).map(|_| if rng.below(200) == 0 { 2 } else { -1 }).collect();
    let input = TierInput { tier: &tier, period_points: &period_points, grace_used: &grace_used, frozen_until: &frozen_until, manual_tier: &manual_tier };
    group.bench_function(BenchmarkId::from_parameter(MEMBERS), |b| {
        b.iter(|| close_period(&config, black_box(&input), START + SPAN_S).expect("closes"));
    });
    group.finish();

    // About 2 s an iteration: ten single-iteration samples.
    let mut group = c.benchmark_group("backtest");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(25));
    group.throughput(Throughput::Elements(u64::try_from(PURCHASES).expect("fits")));
    let book = rulebook(1_000);
    let cols = purchases(1_000, PURCHASES, 13);
    let tier_names: Vec<String> = TIER_NAMES.iter().map(|t| t.to_string()).collect();
    let input = BatchInput {
        merchant_id: &cols.merchant_id,
        merchant_group: &cols.merchant_group,
        amount_rial: &cols.amount_rial,
        at: &cols.at,
        tier: &cols.tier,
        tier_names: &tier_names,
        purchase_count: &cols.purchase_count,
    };
    group.bench_function(BenchmarkId::from_parameter(PURCHASES), |b| {
        b.iter(|| {
            let totals = book.backtest(black_box(&input)).expect("backtest runs");
            assert_eq!(totals.rejected, 0);
            totals.discount_rial
        });
    });
    group.finish();
}

criterion_group!(benches, bench_evaluate, bench_batch, bench_large);
criterion_main!(benches);
