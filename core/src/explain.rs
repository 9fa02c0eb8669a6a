//! Render explanation lines in English or Persian, as a receipt would say them: amounts with
//! thousands separators (150,000 · ۱۵۰٬۰۰۰), Persian digits in Persian, ordinals in words.

use crate::errors::{fill, lookup, Lang, CONDITIONS, EXPLANATIONS};
use crate::model::Explain;

/// Write ASCII digits as Persian digits (۰–۹).
pub fn persian_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) if c.is_ascii_digit() => char::from_u32(0x06F0 + d).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Digits of `n` in groups of three joined by `sep`, with a leading minus sign when negative.
fn grouped(n: i64, sep: char) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// An amount as English writes it: 150,000.
pub fn en_amount(n: i64) -> String {
    grouped(n, ',')
}

/// An amount as Persian writes it: ۱۵۰٬۰۰۰ (Persian digits, U+066C between thousands).
pub fn fa_amount(n: i64) -> String {
    persian_digits(&grouped(n, '\u{066C}'))
}

const ONES: [&str; 20] = [
    "", "یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نه", "ده", "یازده", "دوازده", "سیزده", "چهارده", "پانزده",
    "شانزده", "هفده", "هجده", "نوزده",
];
const TENS: [&str; 10] = ["", "", "بیست", "سی", "چهل", "پنجاه", "شصت", "هفتاد", "هشتاد", "نود"];
const HUNDREDS: [&str; 10] = ["", "صد", "دویست", "سیصد", "چهارصد", "پانصد", "ششصد", "هفتصد", "هشتصد", "نهصد"];

/// 1..=999 in Persian words ("بیست و یک").
fn fa_words(n: i64) -> String {
    let n = usize::try_from(n).unwrap_or(0);
    let mut parts = Vec::new();
    if n >= 100 {
        parts.push(HUNDREDS[n / 100]);
    }
    let rest = n % 100;
    if rest >= 20 {
        parts.push(TENS[rest / 10]);
        if rest % 10 > 0 {
            parts.push(ONES[rest % 10]);
        }
    } else if rest > 0 {
        parts.push(ONES[rest]);
    }
    parts.join(" و ")
}

/// The Persian ordinal adjective placed before a noun: "ششمین", "بیست و یکمین", "سی‌امین";
/// above 999, digits: "۱۲۰۰امین".
pub fn fa_ordinal(n: i64) -> String {
    if n == 1 {
        return "اولین".to_string();
    }
    if !(2..=999).contains(&n) {
        return format!("{}امین", persian_digits(&n.to_string()));
    }
    let words = fa_words(n);
    let ordinal = if let Some(stem) = words.strip_suffix("سه") {
        format!("{stem}سوم")
    } else if words.ends_with('ی') {
        format!("{words}\u{200C}ام")
    } else {
        format!("{words}م")
    };
    format!("{ordinal}ین")
}

/// The English ordinal: 1st, 2nd, 3rd, 4th, 11th, 22nd.
pub fn en_ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{}{suffix}", en_amount(n))
}

/// An account name (`member:42/cashback@set:1`) as a member reads it, in Persian.
pub fn fa_account(account: &str) -> String {
    let kind = account.split_once('/').map_or(account, |(_, k)| k).split('@').next().unwrap_or("");
    let name = match kind {
        "credit" => "اعتبار",
        "points" => "امتیاز",
        "merchant_credit" => "اعتبار فروشگاه",
        "club_credit" => "اعتبار باشگاه",
        "virtual_credit" => "اعتبار مجازی",
        "cashback" => "بازگشت وجه",
        "gift_credit" => "اعتبار کارت هدیه",
        "welfare_credit" => "اعتبار رفاهی",
        "lottery_entries" => "شانس قرعه‌کشی",
        "credit_line" => "خط اعتباری",
        "points_debt" => "بدهی امتیاز",
        "credit_debt" => "بدهی اعتبار",
        "held" => "مبلغ رزروشده",
        _ => return format!("«{account}»"),
    };
    name.to_string()
}

fn effects_text(e: &Explain, lang: Lang) -> String {
    let mut parts = Vec::new();
    let amount = |n: i64| if lang == Lang::En { en_amount(n) } else { fa_amount(n) };
    let entries = if e.entries == 1 { "{n} lottery entry" } else { "{n} lottery entries" };
    let (discount, points, credit, entries, referral) = match lang {
        Lang::En => ("{n} rials off", "{n} points", "{n} rials of credit", entries, "{n} points for the member who introduced you"),
        Lang::Fa => ("{n} ریال تخفیف", "{n} امتیاز", "{n} ریال اعتبار", "{n} شانس قرعه‌کشی", "{n} امتیاز برای معرف شما"),
    };
    for (template, n) in
        [(discount, e.discount_rial), (points, e.points), (credit, e.credit_rial), (entries, e.entries), (referral, e.referral_points)]
    {
        if n != 0 {
            parts.push(fill(template, &[("n", amount(n))]));
        }
    }
    if parts.is_empty() {
        parts.push(match lang {
            Lang::En => "a voucher".to_string(),
            Lang::Fa => "یک ووچر".to_string(),
        });
    }
    parts.join(if lang == Lang::En { ", " } else { "، " })
}

/// Whether a line is one of a rule that gave something (what a receipt prints).
pub fn gave(e: &Explain) -> bool {
    e.code == "applied" || e.code == "budget_partial"
}

/// The sentence for one explanation line.
pub fn render(e: &Explain, lang: Lang) -> String {
    let template = lookup(EXPLANATIONS, &e.code, lang).unwrap_or("{rule}: {code}");
    let rule = if lang == Lang::En { e.name_en.clone() } else { persian_digits(&e.name_fa) };
    let nth = e.n.map(|n| if lang == Lang::En { en_ordinal(n) } else { fa_ordinal(n) }).unwrap_or_default();
    let condition = e.condition.as_deref().and_then(|c| lookup(CONDITIONS, c, lang)).unwrap_or("");
    let condition = fill(condition, &[("nth", nth)]);
    let winner = e
        .winner
        .as_ref()
        .map(|(en, fa)| if lang == Lang::En { en.clone() } else { persian_digits(fa) })
        .unwrap_or_default();
    fill(
        template,
        &[("rule", rule), ("effects", effects_text(e, lang)), ("condition", condition), ("winner", winner), ("code", e.code.clone())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_ordinals() {
        assert_eq!(en_amount(150_000), "150,000");
        assert_eq!(en_amount(-1_234_567), "-1,234,567");
        assert_eq!(en_amount(999), "999");
        assert_eq!(fa_amount(150_000), "۱۵۰٬۰۰۰");
        assert_eq!(fa_amount(0), "۰");
        assert_eq!(fa_ordinal(1), "اولین");
        assert_eq!(fa_ordinal(3), "سومین");
        assert_eq!(fa_ordinal(6), "ششمین");
        assert_eq!(fa_ordinal(21), "بیست و یکمین");
        assert_eq!(fa_ordinal(23), "بیست و سومین");
        assert_eq!(fa_ordinal(30), "سی\u{200C}امین");
        assert_eq!(fa_ordinal(100), "صدمین");
        assert_eq!(fa_ordinal(1200), "۱۲۰۰امین");
        assert_eq!(en_ordinal(1), "1st");
        assert_eq!(en_ordinal(12), "12th");
        assert_eq!(en_ordinal(22), "22nd");
        assert_eq!(en_ordinal(1003), "1,003rd");
    }
}
