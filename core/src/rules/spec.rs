//! The rule language: plain, JSON-serialisable data (documented in docs/rules.md
//! with a JSON Schema). A rule set is compiled into a `Rulebook` once per version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Channel, Funder, PaymentMethod};
use crate::money::Rounding;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Names {
    #[serde(default)]
    pub en: String,
    #[serde(default)]
    pub fa: String,
}

/// A whole club's rule set: the rules plus the club-level settings they refer to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub club_id: i64,
    #[serde(default)]
    pub version: i64,
    /// Offset of the club's local time from UTC in minutes (Iran: 210).
    #[serde(default = "tehran_offset")]
    pub utc_offset_min: i32,
    /// Rial value of one point, used to compare rewards ("best wins") and to cost budgets.
    #[serde(default = "one")]
    pub point_value_rial: i64,
    #[serde(default)]
    pub merchant_sets: Vec<MerchantSet>,
    #[serde(default)]
    pub stacking_groups: Vec<StackingGroup>,
    #[serde(default)]
    pub settlement: Settlement,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

fn tehran_offset() -> i32 {
    210
}

fn one() -> i64 {
    1
}

fn yes() -> bool {
    true
}

/// A boolean that must be a real boolean: a Python dict's `"false"` or `0` is refused rather than
/// read by truthiness.
fn strict_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("true or false")
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// A map keyed by ids, read from JSON (keys are strings there) or from Python (keys are ints).
fn id_map<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<i64, i64>, D::Error> {
    struct Key(i64);
    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D2: serde::Deserializer<'de>>(d: D2) -> Result<Key, D2::Error> {
            struct KeyVisitor;
            impl serde::de::Visitor<'_> for KeyVisitor {
                type Value = Key;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an integer id")
                }
                fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Key, E> {
                    Ok(Key(v))
                }
                fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Key, E> {
                    i64::try_from(v).map(Key).map_err(E::custom)
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                    v.trim().parse().map(Key).map_err(|_| E::custom(format!("{v:?} is not an integer id")))
                }
            }
            d.deserialize_any(KeyVisitor)
        }
    }
    struct MapVisitor;
    impl<'de> serde::de::Visitor<'de> for MapVisitor {
        type Value = BTreeMap<i64, i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map from integer ids to integers")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((Key(k), v)) = map.next_entry::<Key, i64>()? {
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(MapVisitor)
}

/// Merchants where a club credit may be spent (SPEC R9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSet {
    pub id: i64,
    #[serde(default)]
    pub name: Names,
    #[serde(default)]
    pub merchants: Vec<i64>,
    #[serde(default)]
    pub merchant_groups: Vec<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StackingMode {
    /// Every matching rule applies.
    #[default]
    Stackable,
    /// Only the matching rule worth most to the member applies.
    Exclusive,
    /// Only the first matching rule by priority applies.
    FirstMatch,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackingGroup {
    pub name: String,
    pub mode: StackingMode,
}

/// How each payment is split among its beneficiaries (SPEC S1–S5, C6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    #[serde(default)]
    pub club_owner_bp: i64,
    #[serde(default)]
    pub marketer_bp: i64,
    #[serde(default)]
    pub merchant_marketer_bp: i64,
    /// Fee tariffs per business type; the one with `business_type: null` is the default.
    #[serde(default)]
    pub fee_tariffs: Vec<FeeTariff>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeTariff {
    #[serde(default)]
    pub business_type: Option<String>,
    #[serde(default)]
    pub percent_bp: i64,
    #[serde(default)]
    pub fixed_rial: i64,
    #[serde(default)]
    pub cap_rial: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    #[serde(default)]
    pub name: Names,
    #[serde(default = "yes", deserialize_with = "strict_bool")]
    pub enabled: bool,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub stacking_group: Option<String>,
    #[serde(default)]
    pub valid_from: Option<i64>,
    #[serde(default)]
    pub valid_to: Option<i64>,
    #[serde(default)]
    pub scope: Scope,
    /// All must hold; use `any`/`not` to combine otherwise.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub effects: Vec<Effect>,
    /// Who bears the cost, in basis points adding up to 10000. Default: the merchant alone.
    #[serde(default)]
    pub funding: BTreeMap<Funder, i64>,
    #[serde(default)]
    pub budgets: Vec<Budget>,
}

/// Where a rule applies (SPEC R1). Empty lists mean "anywhere in the club".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The club or sub-clubs (a purchase in a sub-club is also in its parents).
    #[serde(default)]
    pub clubs: Vec<i64>,
    #[serde(default)]
    pub merchant_groups: Vec<i64>,
    #[serde(default)]
    pub merchants: Vec<i64>,
    #[serde(default)]
    pub branches: Vec<i64>,
}

/// A range with optional ends, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

impl Range {
    pub fn contains(&self, value: i64) -> bool {
        self.min.is_none_or(|m| value >= m) && self.max.is_none_or(|m| value <= m)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Calendar {
    #[default]
    Gregorian,
    Jalali,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Sat,
    Sun,
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
}

/// Conditions, freely combined (SPEC R1–R5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    Merchant { ids: Vec<i64> },
    MerchantGroup { ids: Vec<i64> },
    Branch { ids: Vec<i64> },
    Club { ids: Vec<i64> },
    /// Basket lines with these goods ids; the rule's percentage effects then apply to those lines only.
    Goods { ids: Vec<String> },
    GoodsGroup { ids: Vec<String> },
    MemberGroup { ids: Vec<i64> },
    Tier { names: Vec<String> },
    /// Recency: whole days since the member's last purchase (no purchase yet: never matches).
    DaysSinceLastPurchase { #[serde(default)] min: Option<i64>, #[serde(default)] max: Option<i64> },
    /// Monetary: rials spent in the last `days` days (today included, this purchase excluded).
    SpendInWindow { days: i64, #[serde(default)] min: Option<i64>, #[serde(default)] max: Option<i64> },
    /// Frequency: purchases in the last `days` days (this purchase excluded).
    PurchasesInWindow { days: i64, #[serde(default)] min: Option<i64>, #[serde(default)] max: Option<i64> },
    PointsHeld { #[serde(default)] min: Option<i64>, #[serde(default)] max: Option<i64> },
    /// Inclusive local dates "YYYY-MM-DD", in the Gregorian or Jalali calendar.
    DateRange { from: Option<String>, to: Option<String>, #[serde(default)] calendar: Calendar },
    /// Local time of day "HH:MM", from inclusive, to exclusive; wraps past midnight when from > to.
    HourRange { from: String, to: String },
    Weekdays { days: Vec<Weekday> },
    Amount { #[serde(default)] min: Option<i64>, #[serde(default)] max: Option<i64> },
    /// Every nth purchase (this purchase's number is divisible by n); `at_merchant` counts here only.
    NthPurchase { n: i64, #[serde(default, deserialize_with = "strict_bool")] at_merchant: bool },
    FirstPurchase {},
    /// How the purchase was paid. `credit` holds when the purchase redeems credit (of one of
    /// `credit_kinds`, when given), whatever method the caller declared.
    PaymentMethod { methods: Vec<PaymentMethod>, #[serde(default)] credit_kinds: Vec<SpentCredit> },
    Channel { channels: Vec<Channel> },
    All { of: Vec<Condition> },
    Any { of: Vec<Condition> },
    Not { of: Box<Condition> },
}

impl Condition {
    pub fn name(&self) -> &'static str {
        match self {
            Condition::Merchant { .. } => "merchant",
            Condition::MerchantGroup { .. } => "merchant_group",
            Condition::Branch { .. } => "branch",
            Condition::Club { .. } => "club",
            Condition::Goods { .. } => "goods",
            Condition::GoodsGroup { .. } => "goods_group",
            Condition::MemberGroup { .. } => "member_group",
            Condition::Tier { .. } => "tier",
            Condition::DaysSinceLastPurchase { .. } => "days_since_last_purchase",
            Condition::SpendInWindow { .. } => "spend_in_window",
            Condition::PurchasesInWindow { .. } => "purchases_in_window",
            Condition::PointsHeld { .. } => "points_held",
            Condition::DateRange { .. } => "date_range",
            Condition::HourRange { .. } => "hour_range",
            Condition::Weekdays { .. } => "weekdays",
            Condition::Amount { .. } => "amount",
            Condition::NthPurchase { .. } => "nth_purchase",
            Condition::FirstPurchase {} => "first_purchase",
            Condition::PaymentMethod { .. } => "payment_method",
            Condition::Channel { .. } => "channel",
            Condition::All { .. } => "all",
            Condition::Any { .. } => "any",
            Condition::Not { .. } => "not",
        }
    }
}

/// A percentage of the base (basis points) or a fixed amount, optionally capped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    #[serde(default)]
    pub percent_bp: i64,
    #[serde(default)]
    pub fixed_rial: i64,
    #[serde(default)]
    pub cap_rial: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    #[default]
    Merchant,
    Club,
    Virtual,
    Cashback,
    Gift,
    Welfare,
}

/// Credit a member can pay with, by kind (the `credit` effect's kinds plus a credit line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpentCredit {
    Merchant,
    Club,
    Virtual,
    Cashback,
    Gift,
    Welfare,
    CreditLine,
}

/// Rewards (SPEC R6–R13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Cash discount at the till (R6).
    Discount {
        #[serde(default)]
        percent_bp: i64,
        #[serde(default)]
        fixed_rial: i64,
        #[serde(default)]
        cap_rial: Option<i64>,
    },
    /// `points` for every `per_rial` of the base (R7), rounded by `rounding`, times a multiplier in
    /// basis points per tier and per member group (the highest applicable multiplier wins).
    Points {
        #[serde(default)]
        per_rial: i64,
        #[serde(default)]
        points: i64,
        #[serde(default)]
        fixed: i64,
        #[serde(default)]
        rounding: Rounding,
        #[serde(default)]
        tier_multipliers_bp: BTreeMap<String, i64>,
        #[serde(default, deserialize_with = "id_map")]
        group_multipliers_bp: BTreeMap<i64, i64>,
        #[serde(default)]
        expires_days: Option<i64>,
        #[serde(default)]
        pending_days: Option<i64>,
    },
    /// Credit granted to the member (R8 merchant, R9 club, R11 virtual, R12 cashback, V4 gift).
    /// Club credit needs `spendable_at` (a merchant set id); merchant credit is spendable only here.
    Credit {
        kind: CreditKind,
        #[serde(default)]
        percent_bp: i64,
        #[serde(default)]
        fixed_rial: i64,
        #[serde(default)]
        cap_rial: Option<i64>,
        #[serde(default)]
        spendable_at: Option<i64>,
        #[serde(default)]
        expires_days: Option<i64>,
        #[serde(default)]
        pending_days: Option<i64>,
    },
    /// Lottery entries (R10): `entries` per `per_rial` of the base, plus `fixed`.
    Lottery {
        lottery_id: i64,
        #[serde(default)]
        per_rial: i64,
        #[serde(default)]
        entries: i64,
        #[serde(default)]
        fixed: i64,
    },
    /// Issue a voucher from a template (V5).
    Voucher { template_id: i64 },
    /// Points to the member who introduced this one (M6).
    Referral {
        #[serde(default)]
        per_rial: i64,
        #[serde(default)]
        points: i64,
        #[serde(default)]
        fixed: i64,
    },
    /// An extra discount on the part paid with credit (R13); with `credit_kinds`, on the part paid
    /// with credit of those kinds only.
    CreditSpendDiscount {
        #[serde(default)]
        percent_bp: i64,
        #[serde(default)]
        fixed_rial: i64,
        #[serde(default)]
        cap_rial: Option<i64>,
        #[serde(default)]
        credit_kinds: Vec<SpentCredit>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPer {
    Rule,
    Member,
    Merchant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Day,
    Month,
    Total,
}

/// What a rial budget does with a reward larger than the room it has left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BudgetFill {
    /// Give what the budget has left, scaled down (a cap "200,000 a month" gives its last 20,000).
    #[default]
    Partial,
    /// Give the whole reward or nothing.
    AllOrNothing,
}

/// A cap on what a rule may give: in rials of cost, or in number of uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub per: BudgetPer,
    pub period: BudgetPeriod,
    #[serde(default)]
    pub limit_rial: Option<i64>,
    #[serde(default)]
    pub limit_count: Option<i64>,
    /// Rial budgets only; default `partial`. A use is whole, so a count budget has no fill.
    #[serde(default)]
    pub fill: Option<BudgetFill>,
}
