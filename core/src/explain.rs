//! Render explanation lines in English or Persian (with Persian digits).

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

fn effects_text(e: &Explain, lang: Lang) -> String {
    let mut parts = Vec::new();
    let (discount, points, credit, entries, referral) = match lang {
        Lang::En => ("discount {n} rial", "{n} points", "credit {n} rial", "{n} lottery entries", "{n} points to the introducer"),
        Lang::Fa => ("تخفیف {n} ریال", "{n} امتیاز", "اعتبار {n} ریال", "{n} شانس قرعه‌کشی", "{n} امتیاز برای معرف"),
    };
    for (template, n) in
        [(discount, e.discount_rial), (points, e.points), (credit, e.credit_rial), (entries, e.entries), (referral, e.referral_points)]
    {
        if n != 0 {
            parts.push(fill(template, &[("n", n.to_string())]));
        }
    }
    if parts.is_empty() {
        parts.push(match lang {
            Lang::En => "a voucher".to_string(),
            Lang::Fa => "ووچر".to_string(),
        });
    }
    parts.join(if lang == Lang::En { ", " } else { "، " })
}

/// The sentence for one explanation line.
pub fn render(e: &Explain, lang: Lang) -> String {
    let template = lookup(EXPLANATIONS, &e.code, lang).unwrap_or("{rule}: {code}");
    let rule = if lang == Lang::En { e.name_en.clone() } else { e.name_fa.clone() };
    let condition = e.condition.as_deref().and_then(|c| lookup(CONDITIONS, c, lang)).unwrap_or("").to_string();
    let winner = e.winner.as_ref().map(|(en, fa)| if lang == Lang::En { en.clone() } else { fa.clone() }).unwrap_or_default();
    let text = fill(
        template,
        &[
            ("rule", rule),
            ("effects", effects_text(e, lang)),
            ("condition", condition),
            ("winner", winner),
            ("code", e.code.clone()),
        ],
    );
    if lang == Lang::Fa {
        persian_digits(&text)
    } else {
        text
    }
}
