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
    ("rule_duplicate_id", "Rule id {rule} is used twice", "شناسه قانون {rule} تکراری است"),
    ("rule_empty_effects", "Rule {rule} has no effect", "قانون {rule} هیچ اثری ندارد"),
    ("rule_bad_funding", "Funding shares of rule {rule} must add up to 10000 basis points", "سهم‌های تأمین قانون {rule} باید جمعاً ۱۰۰۰۰ واحد پایه باشد"),
    ("rule_bad_value", "Invalid value in rule {rule}: {detail}", "مقدار نامعتبر در قانون {rule}: {detail}"),
    ("rule_bad_date", "Invalid date {date} in rule {rule}", "تاریخ نامعتبر {date} در قانون {rule}"),
    ("rule_unknown_set", "Rule {rule} names merchant set {set}, which is not defined", "قانون {rule} به مجموعه پذیرندگان {set} اشاره دارد که تعریف نشده است"),
    ("rule_unknown_stacking_group", "Rule {rule} names stacking group {group}, which is not defined", "قانون {rule} به گروه ترکیب {group} اشاره دارد که تعریف نشده است"),
    ("rule_too_many", "A rule set may hold at most {limit} rules", "مجموعه قوانین حداکثر {limit} قانون می‌تواند داشته باشد"),
    // --- operations ---
    ("amount_must_be_positive", "The amount must be a positive number of rials", "مبلغ باید یک عدد مثبت به ریال باشد"),
    ("amount_too_large", "The amount is larger than the allowed limit", "مبلغ از سقف مجاز بیشتر است"),
    ("insufficient_balance", "Not enough balance in {account}: needs {needed}, has {available}", "موجودی {account} کافی نیست: نیاز {needed}، موجود {available}"),
    ("lot_expired", "The credit or points being used have expired", "اعتبار یا امتیاز مورد استفاده منقضی شده است"),
    ("lot_not_found", "A lot used by this operation no longer exists", "بخشی از اعتبار مورد استفاده دیگر وجود ندارد"),
    ("credit_not_valid_at_merchant", "This credit cannot be spent at this merchant", "این اعتبار در این پذیرنده قابل استفاده نیست"),
    ("budget_exhausted", "The budget of rule {rule} is exhausted", "بودجه قانون {rule} تمام شده است"),
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
    ("unknown_account", "Unknown account {account}", "حساب ناشناخته {account}"),
    ("credit_limit_exceeded", "The credit line limit would be exceeded", "سقف خط اعتباری رد می‌شود"),
    ("invalid_tier_config", "Invalid tier configuration: {detail}", "پیکربندی طبقات نامعتبر است: {detail}"),
    ("invalid_input", "Invalid input: {detail}", "ورودی نامعتبر: {detail}"),
];

/// Why a rule did or did not give something; shown to members and merchants.
pub const EXPLANATIONS: &[(&str, &str, &str)] = &[
    ("applied", "Rule \"{rule}\" applied: {effects}", "قانون «{rule}» اعمال شد: {effects}"),
    ("not_in_scope", "Rule \"{rule}\" is not for this merchant", "قانون «{rule}» مربوط به این پذیرنده نیست"),
    ("outside_validity", "Rule \"{rule}\" is not active at this time", "قانون «{rule}» در این زمان فعال نیست"),
    ("condition_failed", "Rule \"{rule}\" did not apply: {condition}", "قانون «{rule}» اعمال نشد: {condition}"),
    ("lost_to_better_rule", "Rule \"{rule}\" gave way to the better rule \"{winner}\"", "قانون «{rule}» جای خود را به قانون بهتر «{winner}» داد"),
    ("after_first_match", "Rule \"{rule}\" was skipped: \"{winner}\" matched first", "قانون «{rule}» نادیده گرفته شد: قانون «{winner}» زودتر منطبق شد"),
    ("budget_exhausted", "Rule \"{rule}\" has used up its budget", "بودجه قانون «{rule}» تمام شده است"),
    ("nothing_to_give", "Rule \"{rule}\" matched but gave nothing for this amount", "قانون «{rule}» منطبق شد اما برای این مبلغ چیزی تعلق نگرفت"),
];

/// Readable names of conditions, for "did not apply" explanations.
pub const CONDITIONS: &[(&str, &str, &str)] = &[
    ("merchant", "not at one of the listed merchants", "پذیرنده جزو پذیرندگان تعیین‌شده نیست"),
    ("merchant_group", "the merchant is not in the listed groups", "پذیرنده عضو گروه‌های تعیین‌شده نیست"),
    ("branch", "not at one of the listed branches", "شعبه جزو شعبه‌های تعیین‌شده نیست"),
    ("club", "not in the listed club or sub-club", "در باشگاه یا زیرباشگاه تعیین‌شده نیست"),
    ("goods", "the basket has none of the listed goods", "سبد خرید هیچ‌یک از کالاهای تعیین‌شده را ندارد"),
    ("goods_group", "the basket has no goods of the listed groups", "سبد خرید کالایی از گروه‌های تعیین‌شده ندارد"),
    ("member_group", "the member is not in the listed groups", "عضو در گروه‌های تعیین‌شده نیست"),
    ("tier", "the member's tier is not one of the listed tiers", "طبقه عضو جزو طبقات تعیین‌شده نیست"),
    ("days_since_last_purchase", "the time since the last purchase is outside the range", "فاصله از آخرین خرید در بازه تعیین‌شده نیست"),
    ("spend_in_window", "the spending in the period is outside the range", "مبلغ خرید در دوره تعیین‌شده در بازه نیست"),
    ("purchases_in_window", "the number of purchases in the period is outside the range", "تعداد خرید در دوره تعیین‌شده در بازه نیست"),
    ("points_held", "the points held are outside the range", "امتیاز موجود در بازه تعیین‌شده نیست"),
    ("date_range", "outside the campaign dates", "خارج از تاریخ‌های کمپین"),
    ("hour_range", "outside the hours of the rule", "خارج از ساعات قانون"),
    ("weekdays", "not on the days of the rule", "در روزهای قانون نیست"),
    ("amount", "the purchase amount is outside the range", "مبلغ خرید در بازه تعیین‌شده نیست"),
    ("nth_purchase", "not the nth purchase", "این خرید، خرید nام نیست"),
    ("first_purchase", "not the member's first purchase", "اولین خرید عضو نیست"),
    ("payment_method", "not paid with the listed payment method", "با روش پرداخت تعیین‌شده پرداخت نشده است"),
    ("channel", "not through the listed channel", "از کانال تعیین‌شده انجام نشده است"),
    ("all", "not all of the conditions hold", "همه شرط‌ها برقرار نیست"),
    ("any", "none of the alternatives holds", "هیچ‌یک از حالت‌ها برقرار نیست"),
    ("not", "an excluded condition holds", "یک شرط استثنا برقرار است"),
];

/// A rejection: nothing was decided or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreError {
    pub code: &'static str,
    /// Dotted path of the offending field, e.g. `rules[3].effects[0].percent_bp`.
    pub path: Option<String>,
    pub params: Vec<(&'static str, String)>,
}

impl CoreError {
    pub fn new(code: &'static str) -> Self {
        debug_assert!(ERRORS.iter().any(|(c, _, _)| *c == code), "unlisted error code {code}");
        CoreError { code, path: None, params: Vec::new() }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn message(&self, lang: Lang) -> String {
        let template = lookup(ERRORS, self.code, lang).unwrap_or(self.code);
        fill(template, &self.params)
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
        assert!(e.message(Lang::Fa).contains("member:1/points"));
    }
}
