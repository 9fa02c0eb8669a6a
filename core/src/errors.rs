//! Stable result codes with English and Persian message templates.
//!
//! A rejection is plain data: a snake_case `code`, the `path` of the offending
//! field when there is one, and named parameters that fill the templates.
//! `error_codes()` lists every code, so docs and tests can enumerate them.

use std::fmt;

/// (code, English template, Persian template). `{name}` is filled from the params.
pub const ERRORS: &[(&str, &str, &str)] = &[
    // --- rules (raised by Rulebook compilation; `path` names the field) ---
    ("rule_invalid_json", "The rule set is not valid: {detail}", "مجموعه قوانین معتبر نیست: {detail}"),
    ("rule_duplicate_id", "Rule id {rule} is used twice", "شناسه قانون «{rule}» تکراری است"),
    ("rule_empty_effects", "Rule {rule} has no effect", "قانون «{rule}» هیچ اثری ندارد"),
    ("rule_bad_funding", "Funding shares of rule {rule} must add up to 10000 basis points", "سهم‌های تأمین هزینه قانون «{rule}» باید روی هم ۱۰٬۰۰۰ واحد پایه (صد درصد) شود"),
    ("rule_bad_value", "Invalid value in rule {rule}: {detail}", "مقدار نامعتبر در قانون «{rule}»: {detail}"),
    ("rule_set_bad_value", "Invalid value in the rule set: {detail}", "مقدار نامعتبر در مجموعه قوانین: {detail}"),
    ("rule_bad_date", "Invalid date {date} in rule {rule}", "تاریخ «{date}» در قانون «{rule}» وجود ندارد"),
    ("rule_unknown_set", "Rule {rule} names merchant set {set}, which is not defined", "قانون «{rule}» به مجموعه پذیرندگان {set} اشاره دارد که تعریف نشده است"),
    ("rule_unknown_stacking_group", "Rule {rule} names stacking group {group}, which is not defined", "قانون «{rule}» به گروه ترکیب «{group}» اشاره دارد که تعریف نشده است"),
    ("rule_too_many", "A rule set may hold at most {limit} rules", "مجموعه قوانین حداکثر {limit} قانون می‌تواند داشته باشد"),
    // --- operations ---
    ("amount_must_be_positive", "The amount must be a positive number of rials", "مبلغ باید یک عدد مثبت به ریال باشد"),
    ("amount_too_large", "The amount is larger than the allowed limit", "مبلغ از سقف مجاز بیشتر است"),
    ("insufficient_balance", "Not enough balance in {account}: needs {needed}, has {available}", "موجودی {account} کافی نیست: نیاز {needed}، موجود {available}"),
    ("lot_expired", "The credit or points being used have expired", "اعتبار یا امتیاز مورد استفاده منقضی شده است"),
    ("lot_not_found", "A lot used by this operation no longer exists", "بخشی از اعتبار مورد استفاده دیگر وجود ندارد"),
    ("credit_not_valid_at_merchant", "This credit cannot be spent at this merchant", "این اعتبار در این پذیرنده قابل استفاده نیست"),
    ("budget_exhausted", "The budget {budget} of rule {rule} is exhausted", "بودجه «{budget}» قانون «{rule}» تمام شده است"),
    ("basket_mismatch", "The basket lines add up to {basket}, not to the purchase amount {amount}", "جمع اقلام سبد {basket} است و با مبلغ خرید {amount} برابر نیست"),
    ("wrong_member", "The decision belongs to another member", "این تصمیم متعلق به عضو دیگری است"),
    ("decision_unbalanced", "A journal entry does not sum to zero", "یک سند حسابداری تراز نیست"),
    ("nothing_to_reverse", "There is nothing left to refund or reverse", "چیزی برای برگشت باقی نمانده است"),
    ("refund_exceeds_purchase", "The refund is larger than what is left of the purchase", "مبلغ برگشت از باقی‌مانده خرید بیشتر است"),
    ("conversion_not_allowed", "Points cannot be converted to credit for this member", "تبدیل امتیاز به اعتبار برای این عضو مجاز نیست"),
    ("points_redemption_not_allowed", "Points cannot be used to pay for a purchase for this member", "پرداخت خرید با امتیاز برای این عضو مجاز نیست"),
    ("below_threshold", "At least {threshold} is needed for this", "برای این کار حداقل {threshold} لازم است"),
    ("voucher_not_found", "No such voucher", "چنین ووچری وجود ندارد"),
    ("voucher_not_active", "This voucher is not valid now", "این ووچر در این زمان معتبر نیست"),
    ("voucher_already_used", "This voucher has already been used", "این ووچر قبلاً استفاده شده است"),
    ("voucher_not_valid_at_merchant", "This voucher cannot be used at this merchant", "این ووچر در این پذیرنده قابل استفاده نیست"),
    ("unknown_account", "Unknown account {account}", "حساب ناشناخته: {account}"),
    ("credit_limit_exceeded", "The credit line limit would be exceeded", "سقف خط اعتباری رد می‌شود"),
    ("invalid_tier_config", "Invalid tier configuration: {detail}", "پیکربندی طبقات نامعتبر است: {detail}"),
    ("invalid_input", "Invalid input: {detail}", "ورودی نامعتبر: {detail}"),
];

/// Why a rule did or did not give something; shown to members and merchants, so worded as a
/// receipt would say it (an offer, not a "rule applied").
pub const EXPLANATIONS: &[(&str, &str, &str)] = &[
    ("applied", "{rule}: {effects}", "{rule}: {effects}"),
    ("budget_partial", "{rule}: {effects}, all that was left of its budget", "{rule}: {effects}، یعنی همهٔ باقی‌ماندهٔ بودجهٔ این طرح"),
    ("not_in_scope", "\"{rule}\" does not apply at this shop", "طرح «{rule}» شامل این فروشگاه نمی‌شود"),
    ("outside_validity", "\"{rule}\" is not running at this time", "طرح «{rule}» در این زمان برقرار نیست"),
    ("condition_failed", "\"{rule}\" does not apply: {condition}", "طرح «{rule}» شامل این خرید نمی‌شود: {condition}"),
    ("lost_to_better_rule", "\"{rule}\" was not given: the better offer \"{winner}\" was", "به جای طرح «{rule}»، طرح بهتر «{winner}» اعمال شد"),
    ("after_first_match", "\"{rule}\" was not given: \"{winner}\" came first", "طرح «{rule}» اعمال نشد، چون طرح «{winner}» پیش از آن اعمال شد"),
    ("budget_exhausted", "\"{rule}\" has used up its budget", "بودجهٔ طرح «{rule}» تمام شده است"),
    ("nothing_to_give", "\"{rule}\" gives nothing on this purchase", "طرح «{rule}» برای این خرید چیزی به همراه ندارد"),
];

/// Why a condition did not hold, for "does not apply" lines. `{nth}` is an ordinal ("6th", "ششمین").
pub const CONDITIONS: &[(&str, &str, &str)] = &[
    ("merchant", "only at certain shops", "فقط در فروشگاه‌های مشخصی برقرار است"),
    ("merchant_group", "only at certain kinds of shop", "فقط در گروه‌های مشخصی از فروشگاه‌ها برقرار است"),
    ("branch", "only at certain branches", "فقط در شعبه‌های مشخصی برقرار است"),
    ("club", "only in certain clubs", "فقط در باشگاه‌های مشخصی برقرار است"),
    ("goods", "only for certain goods, and this purchase has none of them", "فقط برای کالاهای مشخصی است و این خرید هیچ‌یک از آن‌ها را ندارد"),
    ("goods_group", "only for certain kinds of goods, and this purchase has none of them", "فقط برای گروه‌های مشخصی از کالاهاست و این خرید کالایی از آن‌ها ندارد"),
    ("member_group", "only for certain groups of members", "فقط برای گروه‌های مشخصی از اعضاست"),
    ("tier", "only for members of certain levels", "فقط برای اعضای سطح‌های مشخصی است"),
    ("days_since_last_purchase", "it depends on the days since your last purchase", "به فاصلهٔ زمانی از آخرین خرید شما بستگی دارد"),
    ("spend_in_window", "it depends on what you spent recently", "به مبلغ خریدهای اخیر شما بستگی دارد"),
    ("purchases_in_window", "it depends on how many purchases you made recently", "به تعداد خریدهای اخیر شما بستگی دارد"),
    ("points_held", "it depends on the points you hold", "به امتیازی که دارید بستگی دارد"),
    ("date_range", "it is not running on this date", "در این تاریخ برقرار نیست"),
    ("hour_range", "it is not running at this hour", "در این ساعت برقرار نیست"),
    ("weekdays", "it is not running on this day of the week", "در این روز هفته برقرار نیست"),
    ("amount", "it is not for a purchase of this amount", "برای خریدی با این مبلغ نیست"),
    ("nth_purchase", "only every {nth} purchase gets it", "فقط هر {nth} خرید شامل آن می‌شود"),
    ("first_purchase", "only a first purchase gets it", "فقط برای اولین خرید است"),
    ("payment_method", "it is not for this way of paying", "برای این روش پرداخت نیست"),
    ("channel", "it is not for purchases made this way", "برای خرید از این راه نیست"),
    ("all", "not all of its conditions are met", "همهٔ شرط‌های آن برقرار نیست"),
    ("any", "none of its conditions is met", "هیچ‌یک از شرط‌های آن برقرار نیست"),
    ("not", "it excludes this purchase", "این خرید از آن مستثناست"),
];

/// A rejection: nothing was decided or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreError {
    pub code: &'static str,
    /// Dotted path of the offending field, e.g. `rules[3].effects[0].percent_bp`.
    pub path: Option<String>,
    pub params: Vec<(&'static str, String)>,
    /// Persian wording of params that are phrases (a `detail`), so a Persian message holds no
    /// English; params without an entry here are values, written with Persian digits.
    pub params_fa: Vec<(&'static str, String)>,
}

/// Params that name something the user wrote (a rule id, a group name): quoted as they are in
/// Persian, never re-written with Persian digits.
const LITERAL_PARAMS: &[&str] = &["rule", "group", "budget"];

impl CoreError {
    pub fn new(code: &'static str) -> Self {
        debug_assert!(ERRORS.iter().any(|(c, _, _)| *c == code), "unlisted error code {code}");
        CoreError { code, path: None, params: Vec::new(), params_fa: Vec::new() }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// A param that is a phrase: its English and its Persian wording.
    pub fn with_text(mut self, name: &'static str, en: impl Into<String>, fa: impl Into<String>) -> Self {
        self.params.push((name, en.into()));
        self.params_fa.push((name, fa.into()));
        self
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn message(&self, lang: Lang) -> String {
        let template = lookup(ERRORS, self.code, lang).unwrap_or(self.code);
        match lang {
            Lang::En => {
                let params: Vec<(&'static str, String)> = self.params.iter().map(|(n, v)| (*n, en_value(n, v))).collect();
                fill(template, &params)
            }
            Lang::Fa => {
                let params: Vec<(&'static str, String)> = self
                    .params
                    .iter()
                    .map(|(name, value)| match self.params_fa.iter().find(|(n, _)| n == name) {
                        Some((_, fa)) => (*name, fa.clone()),
                        None => (*name, fa_value(name, value)),
                    })
                    .collect();
                fill(template, &params)
            }
        }
    }
}

/// A param as English shows it: amounts with thousands separators.
fn en_value(name: &str, value: &str) -> String {
    match value.parse::<i64>() {
        Ok(n) if !LITERAL_PARAMS.contains(&name) => crate::explain::en_amount(n),
        _ => value.to_string(),
    }
}

/// A param as Persian shows it: numbers in Persian digits with the Persian thousands separator,
/// account names in words, names the user chose as they are.
fn fa_value(name: &str, value: &str) -> String {
    if LITERAL_PARAMS.contains(&name) {
        return value.to_string();
    }
    if name == "account" {
        return crate::explain::fa_account(value);
    }
    match value.parse::<i64>() {
        Ok(n) => crate::explain::fa_amount(n),
        Err(_) => crate::explain::persian_digits(value),
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message(Lang::En))?;
        if let Some(path) = &self.path {
            write!(f, " (at {path})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CoreError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Fa,
}

pub fn lookup(table: &[(&'static str, &'static str, &'static str)], code: &str, lang: Lang) -> Option<&'static str> {
    table.iter().find(|(c, _, _)| *c == code).map(|(_, en, fa)| match lang {
        Lang::En => *en,
        Lang::Fa => *fa,
    })
}

/// Fill `{name}` placeholders; unknown placeholders stay as they are.
pub fn fill<S: AsRef<str>>(template: &str, params: &[(&'static str, S)]) -> String {
    let mut out = template.to_string();
    for (name, value) in params {
        out = out.replace(&format!("{{{name}}}"), value.as_ref());
    }
    out
}

/// Every error code, in table order.
pub fn error_codes() -> Vec<&'static str> {
    ERRORS.iter().map(|(c, _, _)| *c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_messages_and_is_unique() {
        for table in [ERRORS, EXPLANATIONS, CONDITIONS] {
            let mut seen = std::collections::HashSet::new();
            for (code, en, fa) in table {
                assert!(seen.insert(*code), "duplicate {code}");
                assert!(!en.is_empty() && !fa.is_empty());
                assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            }
        }
        let e = CoreError::new("insufficient_balance").with("account", "member:1/points").with("needed", 5).with("available", 3);
        assert_eq!(e.message(Lang::En), "Not enough balance in member:1/points: needs 5, has 3");
        assert_eq!(e.message(Lang::Fa), "موجودی امتیاز کافی نیست: نیاز ۵، موجود ۳");
        let e = CoreError::new("insufficient_balance").with("account", "credit").with("needed", 150_000).with("available", 2_500);
        assert_eq!(e.message(Lang::En), "Not enough balance in credit: needs 150,000, has 2,500");
        assert_eq!(e.message(Lang::Fa), "موجودی اعتبار کافی نیست: نیاز ۱۵۰٬۰۰۰، موجود ۲٬۵۰۰");
    }
}
