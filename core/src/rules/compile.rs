//! Compile a rule set once into a frozen, thread-safe `Rulebook`.
//!
//! Compilation validates every rule (a bad rule is a `CoreError` with a stable code and the path of
//! the field), turns dates and hours into numbers, and indexes rules by merchant and merchant group
//! so that a purchase only visits rules that could match it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::calendar;
use crate::errors::CoreError;
use crate::model::{Channel, Funder, PaymentMethod};
use crate::money::BP_ONE;
use crate::rules::spec::{
    Budget, Calendar, Condition, Effect, MerchantSet, Range, Rule, RuleSet, Scope, Settlement, SpentCredit, StackingMode, Weekday,
};

/// Most rules one rule set may hold (a limit on everything).
pub const MAX_RULES: usize = 100_000;
/// Most effects one rule may have.
pub const MAX_EFFECTS: usize = 8;

#[derive(Clone, Debug)]
pub(crate) enum Cond {
    Merchant(Vec<i64>),
    MerchantGroup(Vec<i64>),
    Branch(Vec<i64>),
    Club(Vec<i64>),
    Goods(Vec<String>),
    GoodsGroup(Vec<String>),
    MemberGroup(Vec<i64>),
    Tier(Vec<String>),
    DaysSince(Range),
    Spend { days: i64, range: Range },
    Count { days: i64, range: Range },
    PointsHeld(Range),
    Dates { from_day: Option<i64>, to_day: Option<i64> },
    Hours { from_s: i64, to_s: i64 },
    Weekdays(u8),
    Amount(Range),
    Nth { n: i64, at_merchant: bool },
    First,
    /// Declared methods; `credit` is judged from what the purchase redeems, of the kinds in the
    /// mask (see `spent_mask`).
    Payment { methods: Vec<PaymentMethod>, credit_kinds: u8 },
    Channel(Vec<Channel>),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Cond::Merchant(_) => "merchant",
            Cond::MerchantGroup(_) => "merchant_group",
            Cond::Branch(_) => "branch",
            Cond::Club(_) => "club",
            Cond::Goods(_) => "goods",
            Cond::GoodsGroup(_) => "goods_group",
            Cond::MemberGroup(_) => "member_group",
            Cond::Tier(_) => "tier",
            Cond::DaysSince(_) => "days_since_last_purchase",
            Cond::Spend { .. } => "spend_in_window",
            Cond::Count { .. } => "purchases_in_window",
            Cond::PointsHeld(_) => "points_held",
            Cond::Dates { .. } => "date_range",
            Cond::Hours { .. } => "hour_range",
            Cond::Weekdays(_) => "weekdays",
            Cond::Amount(_) => "amount",
            Cond::Nth { .. } => "nth_purchase",
            Cond::First => "first_purchase",
            Cond::Payment { .. } => "payment_method",
            Cond::Channel(_) => "channel",
            Cond::All(_) => "all",
            Cond::Any(_) => "any",
            Cond::Not(_) => "not",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledRule {
    pub id: Arc<str>,
    pub name_en: Arc<str>,
    pub name_fa: Arc<str>,
    pub priority: i64,
    pub group: usize,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    pub enabled: bool,
    pub scope: Scope,
    pub conds: Vec<Cond>,
    /// Goods ids and goods groups whose basket lines form the base of percentage effects.
    pub line_goods: Vec<String>,
    pub line_groups: Vec<String>,
    pub effects: Vec<Effect>,
    /// (funder, basis points), adding up to 10000.
    pub funding: Vec<(Funder, i64)>,
    /// The basis points of `funding`, in the same order (the split's weights).
    pub funding_weights: Vec<i64>,
    pub budgets: Vec<Budget>,
}

/// A compiled, immutable rule set. Cheap to share between threads (`Arc<Rulebook>`).
#[derive(Debug)]
pub struct Rulebook {
    pub club_id: i64,
    pub version: i64,
    pub utc_offset_min: i32,
    pub point_value_rial: i64,
    pub settlement: Settlement,
    pub(crate) merchant_sets: HashMap<i64, MerchantSet>,
    pub(crate) group_modes: Vec<(String, StackingMode)>,
    /// Sorted by (stacking group, priority descending, position in the rule set).
    pub(crate) rules: Vec<CompiledRule>,
    by_merchant: HashMap<i64, Vec<u32>>,
    by_group: HashMap<i64, Vec<u32>>,
    global: Vec<u32>,
}

/// Credit kinds as a bit mask (bit = the kind's position); none listed means every kind.
pub(crate) fn spent_mask(kinds: &[SpentCredit]) -> u8 {
    if kinds.is_empty() {
        return u8::MAX;
    }
    kinds.iter().fold(0, |mask, k| mask | (1 << (*k as u8)))
}

fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort();
    v.dedup();
    v
}

/// `rule_bad_value` at `path`, with the reason in English and in Persian.
fn bad(rule: &str, path: String, en: impl Into<String>, fa: impl Into<String>) -> CoreError {
    CoreError::new("rule_bad_value").with("rule", rule).with_text("detail", en, fa).at(path)
}

fn check_range(rule: &str, path: &str, min: Option<i64>, max: Option<i64>) -> Result<Range, CoreError> {
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            return Err(bad(rule, format!("{path}.min"), "min is greater than max", "«min» از «max» بزرگ‌تر است"));
        }
    }
    Ok(Range { min, max })
}

fn parse_hhmm(rule: &str, path: &str, text: &str) -> Result<i64, CoreError> {
    let parsed = text.split_once(':').and_then(|(h, m)| Some((h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)));
    match parsed {
        Some((h, m)) if (0..=24).contains(&h) && (0..60).contains(&m) && h * 3600 + m * 60 <= 86_400 => Ok(h * 3600 + m * 60),
        _ => Err(bad(
            rule,
            path.to_string(),
            format!("{text:?} is not a time HH:MM"),
            format!("«{text}» ساعتی به شکل ساعت:دقیقه (مثل «08:30») نیست"),
        )),
    }
}

fn compile_cond(rule: &str, path: &str, c: &Condition) -> Result<Cond, CoreError> {
    let window = |days: i64| {
        if (1..=3660).contains(&days) {
            Ok(days)
        } else {
            Err(bad(rule, format!("{path}.days"), "days must be between 1 and 3660", "تعداد روزها باید بین ۱ و ۳٬۶۶۰ باشد"))
        }
    };
    Ok(match c {
        Condition::Merchant { ids } => Cond::Merchant(sorted(ids)),
        Condition::MerchantGroup { ids } => Cond::MerchantGroup(sorted(ids)),
        Condition::Branch { ids } => Cond::Branch(sorted(ids)),
        Condition::Club { ids } => Cond::Club(sorted(ids)),
        Condition::Goods { ids } => Cond::Goods(sorted(ids)),
        Condition::GoodsGroup { ids } => Cond::GoodsGroup(sorted(ids)),
        Condition::MemberGroup { ids } => Cond::MemberGroup(sorted(ids)),
        Condition::Tier { names } => Cond::Tier(sorted(names)),
        Condition::DaysSinceLastPurchase { min, max } => Cond::DaysSince(check_range(rule, path, *min, *max)?),
        Condition::SpendInWindow { days, min, max } => {
            Cond::Spend { days: window(*days)?, range: check_range(rule, path, *min, *max)? }
        }
        Condition::PurchasesInWindow { days, min, max } => {
            Cond::Count { days: window(*days)?, range: check_range(rule, path, *min, *max)? }
        }
        Condition::PointsHeld { min, max } => Cond::PointsHeld(check_range(rule, path, *min, *max)?),
        Condition::DateRange { from, to, calendar } => compile_dates(rule, path, from, to, *calendar == Calendar::Jalali)?,
        Condition::HourRange { from, to } => Cond::Hours {
            from_s: parse_hhmm(rule, &format!("{path}.from"), from)?,
            to_s: parse_hhmm(rule, &format!("{path}.to"), to)?,
        },
        Condition::Weekdays { days } => Cond::Weekdays(weekday_mask(days)),
        Condition::Amount { min, max } => Cond::Amount(check_range(rule, path, *min, *max)?),
        Condition::NthPurchase { n, at_merchant } => {
            if !(1..=1_000_000).contains(n) {
                return Err(bad(rule, format!("{path}.n"), "n must be between 1 and 1000000", "«n» باید بین ۱ و ۱٬۰۰۰٬۰۰۰ باشد"));
            }
            Cond::Nth { n: *n, at_merchant: *at_merchant }
        }
        Condition::FirstPurchase {} => Cond::First,
        Condition::PaymentMethod { methods, credit_kinds } => {
            if !credit_kinds.is_empty() && !methods.contains(&PaymentMethod::Credit) {
                return Err(bad(
                    rule,
                    format!("{path}.credit_kinds"),
                    "credit_kinds needs \"credit\" among the methods",
                    "«credit_kinds» فقط همراه روش «credit» در «methods» معنا دارد",
                ));
            }
            Cond::Payment { methods: methods.clone(), credit_kinds: spent_mask(credit_kinds) }
        }
        Condition::Channel { channels } => Cond::Channel(channels.clone()),
        Condition::All { of } => Cond::All(compile_list(rule, &format!("{path}.of"), of)?),
        Condition::Any { of } => Cond::Any(compile_list(rule, &format!("{path}.of"), of)?),
        Condition::Not { of } => Cond::Not(Box::new(compile_cond(rule, &format!("{path}.of"), of)?)),
    })
}

/// A date range, its ends read in the Jalali or the Gregorian calendar.
fn compile_dates(rule: &str, path: &str, from: &Option<String>, to: &Option<String>, jalali: bool) -> Result<Cond, CoreError> {
    let day = |text: &Option<String>, field: &str| -> Result<Option<i64>, CoreError> {
        match text {
            None => Ok(None),
            Some(t) => calendar::parse_day(t, jalali)
                .map(Some)
                .ok_or_else(|| CoreError::new("rule_bad_date").with("rule", rule).with("date", t).at(format!("{path}.{field}"))),
        }
    };
    let (from_day, to_day) = (day(from, "from")?, day(to, "to")?);
    if let (Some(f), Some(t)) = (from_day, to_day) {
        if f > t {
            return Err(bad(rule, format!("{path}.to"), "the end date is before the start date", "تاریخ پایان پیش از تاریخ شروع است"));
        }
    }
    Ok(Cond::Dates { from_day, to_day })
}

/// One bit per weekday, Saturday first (the Iranian week).
fn weekday_mask(days: &[Weekday]) -> u8 {
    days.iter().fold(0_u8, |mask, d| {
        let bit = match d {
            Weekday::Sat => 0,
            Weekday::Sun => 1,
            Weekday::Mon => 2,
            Weekday::Tue => 3,
            Weekday::Wed => 4,
            Weekday::Thu => 5,
            Weekday::Fri => 6,
        };
        mask | (1 << bit)
    })
}

fn compile_list(rule: &str, path: &str, list: &[Condition]) -> Result<Vec<Cond>, CoreError> {
    list.iter().enumerate().map(|(i, c)| compile_cond(rule, &format!("{path}[{i}]"), c)).collect()
}

fn check_amount(rule: &str, path: &str, percent_bp: i64, fixed_rial: i64, cap_rial: Option<i64>) -> Result<(), CoreError> {
    if !(0..=BP_ONE).contains(&percent_bp) {
        return Err(bad(
            rule,
            format!("{path}.percent_bp"),
            "percent_bp must be between 0 and 10000",
            "«percent_bp» باید بین ۰ و ۱۰٬۰۰۰ واحد پایه (صفر تا صد درصد) باشد",
        ));
    }
    if fixed_rial < 0 {
        return Err(bad(rule, format!("{path}.fixed_rial"), "amounts must not be negative", NEGATIVE_FA));
    }
    if cap_rial.is_some_and(|c| c < 0) {
        return Err(bad(rule, format!("{path}.cap_rial"), "amounts must not be negative", NEGATIVE_FA));
    }
    if percent_bp == 0 && fixed_rial == 0 {
        return Err(bad(rule, path.to_string(), "give a percent_bp or a fixed_rial", "یکی از «percent_bp» یا «fixed_rial» را بدهید"));
    }
    Ok(())
}

const NEGATIVE_FA: &str = "مبلغ‌ها نباید منفی باشند";

/// A rate effect: `amount` (named `amount_field`) for every `per_rial`, plus `fixed`.
fn check_rate(rule: &str, path: &str, per_rial: i64, (amount_field, amount): (&str, i64), fixed: i64) -> Result<(), CoreError> {
    for (field, value) in [("per_rial", per_rial), (amount_field, amount), ("fixed", fixed)] {
        if value < 0 {
            return Err(bad(rule, format!("{path}.{field}"), "amounts must not be negative", NEGATIVE_FA));
        }
    }
    if amount > 0 && per_rial == 0 {
        return Err(bad(
            rule,
            format!("{path}.per_rial"),
            "per_rial must be positive when a rate is given",
            "وقتی نرخی داده شده، «per_rial» باید مثبت باشد",
        ));
    }
    if amount == 0 && fixed == 0 {
        return Err(bad(rule, path.to_string(), "give a rate or a fixed number", "یک نرخ یا یک عدد ثابت («fixed») بدهید"));
    }
    Ok(())
}

fn check_effect(rule: &str, path: &str, effect: &Effect, sets: &HashMap<i64, MerchantSet>) -> Result<(), CoreError> {
    let days = |d: &Option<i64>, field: &str| match d {
        Some(v) if !(0..=36_600).contains(v) => {
            Err(bad(rule, format!("{path}.{field}"), "days must be between 0 and 36600", "تعداد روزها باید بین ۰ و ۳۶٬۶۰۰ باشد"))
        }
        _ => Ok(()),
    };
    match effect {
        Effect::Discount { percent_bp, fixed_rial, cap_rial } | Effect::CreditSpendDiscount { percent_bp, fixed_rial, cap_rial, .. } => {
            check_amount(rule, path, *percent_bp, *fixed_rial, *cap_rial)
        }
        Effect::Points { per_rial, points, fixed, tier_multipliers_bp, group_multipliers_bp, expires_days, pending_days, .. } => {
            check_rate(rule, path, *per_rial, ("points", *points), *fixed)?;
            if tier_multipliers_bp.values().chain(group_multipliers_bp.values()).any(|m| !(0..=1_000_000).contains(m)) {
                let field = if tier_multipliers_bp.values().any(|m| !(0..=1_000_000).contains(m)) { "tier_multipliers_bp" } else { "group_multipliers_bp" };
                return Err(bad(
                    rule,
                    format!("{path}.{field}"),
                    "multipliers must be between 0 and 1000000 bp",
                    "ضریب‌ها باید بین ۰ و ۱٬۰۰۰٬۰۰۰ واحد پایه باشند",
                ));
            }
            days(expires_days, "expires_days")?;
            days(pending_days, "pending_days")
        }
        Effect::Credit { kind, percent_bp, fixed_rial, cap_rial, spendable_at, expires_days, pending_days } => {
            check_amount(rule, path, *percent_bp, *fixed_rial, *cap_rial)?;
            days(expires_days, "expires_days")?;
            days(pending_days, "pending_days")?;
            match (kind, spendable_at) {
                (crate::rules::spec::CreditKind::Merchant, Some(_)) => Err(bad(
                    rule,
                    format!("{path}.spendable_at"),
                    "merchant credit is spendable only at the merchant that gave it; spendable_at is for other credit kinds",
                    "اعتبار فروشگاه فقط در همان فروشگاهی خرج می‌شود که آن را داده است؛ «spendable_at» برای انواع دیگر اعتبار است",
                )),
                (crate::rules::spec::CreditKind::Club, None) => {
                    Err(bad(
                    rule,
                    format!("{path}.spendable_at"),
                    "club credit needs spendable_at (a merchant set id)",
                    "اعتبار باشگاه به «spendable_at» (شناسهٔ یک مجموعهٔ پذیرندگان) نیاز دارد",
                ))
                }
                (_, Some(set)) if !sets.contains_key(set) => Err(CoreError::new("rule_unknown_set")
                    .with("rule", rule)
                    .with("set", set)
                    .at(format!("{path}.spendable_at"))),
                _ => Ok(()),
            }
        }
        Effect::Lottery { per_rial, entries, fixed, .. } => check_rate(rule, path, *per_rial, ("entries", *entries), *fixed),
        Effect::Referral { per_rial, points, fixed } => check_rate(rule, path, *per_rial, ("points", *points), *fixed),
        Effect::Voucher { .. } => Ok(()),
    }
}

fn check_budget(rule: &str, path: &str, b: &Budget) -> Result<(), CoreError> {
    let (en, fa) = ("give exactly one of limit_rial or limit_count, not negative", "دقیقاً یکی از «limit_rial» یا «limit_count» را بدهید، و نه منفی");
    match (b.limit_rial, b.limit_count) {
        (Some(r), None) if r < 0 => Err(bad(rule, format!("{path}.limit_rial"), en, fa)),
        (None, Some(c)) if c < 0 => Err(bad(rule, format!("{path}.limit_count"), en, fa)),
        (None, Some(_)) if b.fill.is_some() => Err(bad(
            rule,
            format!("{path}.fill"),
            "fill is for rial budgets (limit_rial): a use is counted whole",
            "«fill» فقط برای بودجهٔ ریالی («limit_rial») است؛ هر بار استفاده کامل شمرده می‌شود",
        )),
        (Some(_), None) | (None, Some(_)) => Ok(()),
        _ => Err(bad(rule, path.to_string(), en, fa)),
    }
}

fn top_level_lines(conds: &[Condition]) -> (Vec<String>, Vec<String>) {
    let mut goods = Vec::new();
    let mut groups = Vec::new();
    for c in conds {
        match c {
            Condition::Goods { ids } => goods.extend(ids.iter().cloned()),
            Condition::GoodsGroup { ids } => groups.extend(ids.iter().cloned()),
            _ => {}
        }
    }
    (sorted(&goods), sorted(&groups))
}

fn compile_rule(set: &RuleSet, group_index: &HashMap<&str, usize>, position: usize, rule: &Rule) -> Result<CompiledRule, CoreError> {
    let id = rule.id.as_str();
    let path = format!("rules[{position}]");
    if id.is_empty() || id.chars().count() > 100 {
        return Err(bad(id, format!("{path}.id"), "id must be 1 to 100 characters", "شناسه باید ۱ تا ۱۰۰ نویسه باشد"));
    }
    if rule.effects.is_empty() {
        return Err(CoreError::new("rule_empty_effects").with("rule", id).at(format!("{path}.effects")));
    }
    if rule.effects.len() > MAX_EFFECTS {
        return Err(bad(
            id,
            format!("{path}.effects"),
            format!("a rule has at most {MAX_EFFECTS} effects"),
            format!("هر قانون حداکثر {} اثر دارد", crate::explain::fa_amount(MAX_EFFECTS as i64)),
        ));
    }
    let sets: HashMap<i64, MerchantSet> = set.merchant_sets.iter().map(|s| (s.id, s.clone())).collect();
    for (i, effect) in rule.effects.iter().enumerate() {
        check_effect(id, &format!("{path}.effects[{i}]"), effect, &sets)?;
    }
    let funding: Vec<(Funder, i64)> =
        if rule.funding.is_empty() { vec![(Funder::Merchant, BP_ONE)] } else { rule.funding.iter().map(|(f, bp)| (*f, *bp)).collect() };
    if funding.len() > crate::money::MAX_SPLIT_PARTS
        || funding.iter().any(|(_, bp)| *bp < 0)
        || funding.iter().map(|(_, bp)| bp).sum::<i64>() != BP_ONE
    {
        return Err(CoreError::new("rule_bad_funding").with("rule", id).at(format!("{path}.funding")));
    }
    for (i, b) in rule.budgets.iter().enumerate() {
        check_budget(id, &format!("{path}.budgets[{i}]"), b)?;
    }
    if let (Some(from), Some(to)) = (rule.valid_from, rule.valid_to) {
        if from > to {
            return Err(bad(id, format!("{path}.valid_to"), "valid_to is before valid_from", "«valid_to» پیش از «valid_from» است"));
        }
    }
    let group = match &rule.stacking_group {
        None => 0,
        Some(name) => *group_index.get(name.as_str()).ok_or_else(|| {
            CoreError::new("rule_unknown_stacking_group").with("rule", id).with("group", name).at(format!("{path}.stacking_group"))
        })?,
    };
    let (line_goods, line_groups) = top_level_lines(&rule.conditions);
    let name_en: Arc<str> = if rule.name.en.is_empty() { Arc::from(id) } else { Arc::from(rule.name.en.as_str()) };
    let name_fa: Arc<str> = if rule.name.fa.is_empty() { name_en.clone() } else { Arc::from(rule.name.fa.as_str()) };
    Ok(CompiledRule {
        id: Arc::from(id),
        name_en,
        name_fa,
        priority: rule.priority,
        group,
        valid_from: rule.valid_from,
        valid_to: rule.valid_to,
        enabled: rule.enabled,
        scope: Scope {
            clubs: sorted(&rule.scope.clubs),
            merchant_groups: sorted(&rule.scope.merchant_groups),
            merchants: sorted(&rule.scope.merchants),
            branches: sorted(&rule.scope.branches),
        },
        conds: compile_list(id, &format!("{path}.conditions"), &rule.conditions)?,
        line_goods,
        line_groups,
        effects: rule.effects.clone(),
        funding_weights: funding.iter().map(|(_, bp)| *bp).collect(),
        funding,
        budgets: rule.budgets.clone(),
    })
}

fn set_error(field: &str, en: &str, fa: &str) -> CoreError {
    CoreError::new("rule_set_bad_value").with_text("detail", en, fa).at(field.to_string())
}

/// The rule set's own values: point value, time zone, settlement shares and fee tariffs, and
/// unique merchant set ids and stacking group names.
fn check_set(set: &RuleSet) -> Result<(), CoreError> {
    if set.point_value_rial < 0 {
        return Err(set_error("point_value_rial", "point_value_rial must not be negative", "«point_value_rial» نباید منفی باشد"));
    }
    if !(-720..=840).contains(&set.utc_offset_min) {
        return Err(set_error("utc_offset_min", "utc_offset_min must be between -720 and 840", "«utc_offset_min» باید بین منفی ۷۲۰ و ۸۴۰ دقیقه باشد"));
    }
    check_settlement(&set.settlement)?;
    let mut set_ids = HashSet::new();
    for (i, m) in set.merchant_sets.iter().enumerate() {
        if !set_ids.insert(m.id) {
            return Err(set_error(&format!("merchant_sets[{i}].id"), "merchant set ids must be unique", "شناسهٔ مجموعه‌های پذیرندگان باید یکتا باشد"));
        }
    }
    let mut group_names = HashSet::new();
    for (i, g) in set.stacking_groups.iter().enumerate() {
        if !group_names.insert(g.name.as_str()) {
            return Err(set_error(&format!("stacking_groups[{i}].name"), "stacking group names must be unique", "نام گروه‌های ترکیب باید یکتا باشد"));
        }
    }
    Ok(())
}

/// Settlement shares of at most 100% in total, and one valid fee tariff per business type.
fn check_settlement(s: &Settlement) -> Result<(), CoreError> {
    let shares = [s.club_owner_bp, s.marketer_bp, s.merchant_marketer_bp];
    let fields = ["club_owner_bp", "marketer_bp", "merchant_marketer_bp"];
    let (en, fa) = ("settlement shares must be 0..10000 bp in total", "سهم‌های تسویه روی هم باید بین ۰ و ۱۰٬۰۰۰ واحد پایه باشد");
    if let Some(i) = shares.iter().position(|bp| *bp < 0) {
        return Err(set_error(&format!("settlement.{}", fields[i]), en, fa));
    }
    if shares.iter().sum::<i64>() > BP_ONE {
        return Err(set_error("settlement", en, fa));
    }
    let mut tariff_types = HashSet::new();
    for (i, t) in s.fee_tariffs.iter().enumerate() {
        let wrong = [
            ("percent_bp", !(0..=BP_ONE).contains(&t.percent_bp)),
            ("fixed_rial", t.fixed_rial < 0),
            ("cap_rial", t.cap_rial.is_some_and(|c| c < 0)),
        ];
        if let Some((field, _)) = wrong.iter().find(|(_, w)| *w) {
            return Err(set_error(
                &format!("settlement.fee_tariffs[{i}].{field}"),
                "a fee is 0..10000 bp plus a non-negative fixed amount and cap",
                "کارمزد باید بین ۰ و ۱۰٬۰۰۰ واحد پایه باشد، با مبلغ ثابت و سقف نامنفی",
            ));
        }
        if !tariff_types.insert(t.business_type.clone()) {
            return Err(set_error(&format!("settlement.fee_tariffs[{i}].business_type"), "one tariff per business type", "برای هر نوع کسب‌وکار فقط یک تعرفه"));
        }
    }
    Ok(())
}

/// The stacking groups and their modes, `default` first (stackable unless the set says otherwise).
fn group_modes_of(set: &RuleSet) -> Vec<(String, StackingMode)> {
    let mut group_modes = vec![("default".to_string(), StackingMode::Stackable)];
    for g in &set.stacking_groups {
        if g.name == "default" {
            group_modes[0].1 = g.mode;
        } else {
            group_modes.push((g.name.clone(), g.mode));
        }
    }
    group_modes
}

/// Rule numbers indexed by the merchants and merchant groups their scope names; the rest are global.
type RuleIndex = (HashMap<i64, Vec<u32>>, HashMap<i64, Vec<u32>>, Vec<u32>);

fn index_rules(rules: &[CompiledRule]) -> RuleIndex {
    let mut by_merchant: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut by_group: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut global = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let index = u32::try_from(i).expect("rule count is bounded by MAX_RULES");
        if !rule.scope.merchants.is_empty() {
            for m in &rule.scope.merchants {
                by_merchant.entry(*m).or_default().push(index);
            }
        } else if !rule.scope.merchant_groups.is_empty() {
            for g in &rule.scope.merchant_groups {
                by_group.entry(*g).or_default().push(index);
            }
        } else {
            global.push(index);
        }
    }
    (by_merchant, by_group, global)
}

impl Rulebook {
    /// Parse and compile a rule set given as JSON text.
    pub fn from_json(text: &str) -> Result<Rulebook, CoreError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let set: RuleSet = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let (en, fa) = crate::shape::describe(&e.into_inner().to_string());
            let plain = CoreError::new("rule_invalid_json").with_text("detail", en, fa).at(path);
            // Only on an error: read the text again as a value to find the deepest path.
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(doc) => crate::shape::shape_error::<RuleSet>(&doc, "rule_invalid_json", plain),
                Err(_) => plain,
            }
        })?;
        Rulebook::compile(&set)
    }

    pub fn compile(set: &RuleSet) -> Result<Rulebook, CoreError> {
        if set.rules.len() > MAX_RULES {
            return Err(CoreError::new("rule_too_many").with("limit", MAX_RULES).at("rules"));
        }
        check_set(set)?;
        let group_modes = group_modes_of(set);
        let group_index: HashMap<&str, usize> = group_modes.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect();
        let mut seen = HashSet::new();
        let mut rules = Vec::with_capacity(set.rules.len());
        for (position, rule) in set.rules.iter().enumerate() {
            if !seen.insert(rule.id.as_str()) {
                return Err(CoreError::new("rule_duplicate_id").with("rule", &rule.id).at(format!("rules[{position}].id")));
            }
            rules.push((position, compile_rule(set, &group_index, position, rule)?));
        }
        rules.sort_by(|(pa, a), (pb, b)| a.group.cmp(&b.group).then(b.priority.cmp(&a.priority)).then(pa.cmp(pb)));
        let rules: Vec<CompiledRule> = rules.into_iter().map(|(_, r)| r).collect();
        let (by_merchant, by_group, global) = index_rules(&rules);
        Ok(Rulebook {
            club_id: set.club_id,
            version: set.version,
            utc_offset_min: set.utc_offset_min,
            point_value_rial: set.point_value_rial,
            settlement: set.settlement.clone(),
            merchant_sets: set.merchant_sets.iter().map(|s| (s.id, s.clone())).collect(),
            group_modes,
            rules,
            by_merchant,
            by_group,
            global,
        })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether any rule has a budget (if none, the service need not load budget use).
    pub fn has_budgets(&self) -> bool {
        self.rules.iter().any(|r| !r.budgets.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rules that could match a purchase at this merchant, in evaluation order, without duplicates.
    pub(crate) fn candidates(&self, merchant_id: i64, merchant_groups: &[i64], out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.global);
        if let Some(list) = self.by_merchant.get(&merchant_id) {
            out.extend_from_slice(list);
        }
        for g in merchant_groups {
            if let Some(list) = self.by_group.get(g) {
                out.extend_from_slice(list);
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// The merchant sets a merchant belongs to (where club credit of those sets is spendable).
    pub fn merchant_sets_for(&self, merchant_id: i64, merchant_groups: &[i64]) -> Vec<i64> {
        let mut ids: Vec<i64> =
            self.merchant_sets.keys().copied().filter(|id| self.merchant_in_set(*id, merchant_id, merchant_groups)).collect();
        ids.sort_unstable();
        ids
    }

    /// Whether a merchant belongs to a merchant set (where club credit of that set is spendable).
    pub fn merchant_in_set(&self, set_id: i64, merchant_id: i64, merchant_groups: &[i64]) -> bool {
        self.merchant_sets.get(&set_id).is_some_and(|s| {
            s.merchants.contains(&merchant_id) || merchant_groups.iter().any(|g| s.merchant_groups.contains(g))
        })
    }
}
