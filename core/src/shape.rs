//! Shape errors of input data (rule sets, purchases, configurations), made readable: the deepest
//! path of the offending field, and the reason in English and in Persian.
//!
//! serde reports an error inside an internally tagged enum (an effect, a condition) at the enum,
//! because it buffers the object to find its `"type"` first: a float in `percent_bp` was blamed on
//! the effect. So on an error (never on the fast path) the input is read as a JSON value and
//! narrowed down: a key (or list item) is the culprit when leaving it out changes the error.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::errors::CoreError;
use crate::explain::persian_digits;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_text(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        ".".to_string()
    } else {
        out
    }
}

/// Deserialize from a JSON value; on failure, the path segments and serde's message.
fn attempt<T: DeserializeOwned>(doc: &Value) -> Result<T, (Vec<Seg>, String)> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let segs = e
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                _ => None,
            })
            .collect();
        (segs, e.into_inner().to_string())
    })
}

fn node_mut<'v>(doc: &'v mut Value, segs: &[Seg]) -> Option<&'v mut Value> {
    let mut node = doc;
    for seg in segs {
        node = match (seg, node) {
            (Seg::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (Seg::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn node<'v>(doc: &'v Value, segs: &[Seg]) -> Option<&'v Value> {
    let mut node = doc;
    for seg in segs {
        node = match (seg, node) {
            (Seg::Key(k), Value::Object(map)) => map.get(k)?,
            (Seg::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The children of the node at `segs` whose removal could explain the error.
fn children(doc: &Value, segs: &[Seg]) -> Vec<Seg> {
    match node(doc, segs) {
        // "type" picks the variant: leaving it out always changes the error, and a bad "type" is
        // already reported at its own path.
        Some(Value::Object(map)) => map.keys().filter(|k| *k != "type").map(|k| Seg::Key(k.clone())).collect(),
        Some(Value::Array(items)) => (0..items.len()).map(Seg::Index).collect(),
        _ => Vec::new(),
    }
}

fn without(doc: &Value, segs: &[Seg], child: &Seg) -> Option<Value> {
    let mut copy = doc.clone();
    match (node_mut(&mut copy, segs)?, child) {
        (Value::Object(map), Seg::Key(k)) => {
            map.remove(k);
        }
        (Value::Array(items), Seg::Index(i)) => {
            items.remove(*i);
        }
        _ => return None,
    }
    Some(copy)
}

/// Narrow the error `(segs, message)` of `doc` down to the deepest field that causes it.
fn deepen<T: DeserializeOwned>(doc: &Value, reported: Vec<Seg>, message: &str) -> Vec<Seg> {
    let mut segs = reported.clone();
    let missing = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`'));
    // Each step goes one level deeper, so the walk ends; the bound is a guard against surprises.
    for _ in 0..64 {
        if missing.is_some_and(|field| belongs_here::<T>(doc, &segs, field)) {
            break;
        }
        let culprit = children(doc, &segs).into_iter().find(|child| {
            without(doc, &segs, child).is_some_and(|candidate| match attempt::<T>(&candidate) {
                Ok(_) => true,
                Err((s, m)) => s != reported || m != message,
            })
        });
        match culprit {
            Some(child) => segs.push(child),
            None => break,
        }
    }
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        segs.push(Seg::Key(field.to_string()));
    }
    segs
}

/// Whether the missing `field` is one of the node's own fields (rather than of an object inside it):
/// given a value, the node's error is no longer that the field is missing nor that it is unknown.
fn belongs_here<T: DeserializeOwned>(doc: &Value, segs: &[Seg], field: &str) -> bool {
    let mut probe = doc.clone();
    match node_mut(&mut probe, segs) {
        Some(Value::Object(map)) if !map.contains_key(field) => {
            map.insert(field.to_string(), Value::Null);
        }
        _ => return false,
    }
    match attempt::<T>(&probe) {
        Ok(_) => true,
        Err((_, m)) => !m.starts_with(&format!("unknown field `{field}`")) && !m.starts_with(&format!("missing field `{field}`")),
    }
}

/// The path and the (English, Persian) reason of a shape error found in `doc`, or `None` when
/// `doc` reads without error (the caller then keeps the error it had).
pub fn explain_error<T: DeserializeOwned>(doc: &Value) -> Option<(String, String, String)> {
    let (segs, message) = attempt::<T>(doc).err()?;
    let segs = deepen::<T>(doc, segs, &message);
    let (segs, en, fa) = special_case(doc, &segs).unwrap_or_else(|| {
        let (en, fa) = describe(&message);
        (segs, en, fa)
    });
    Some((path_text(&segs), en, fa))
}

/// `code` at the deepest path of the shape error in `doc`; `fallback` when `doc` reads.
pub fn shape_error<T: DeserializeOwned>(doc: &Value, code: &'static str, fallback: CoreError) -> CoreError {
    match explain_error::<T>(doc) {
        Some((path, en, fa)) => CoreError::new(code).with_text("detail", en, fa).at(path),
        None => fallback,
    }
}

/// Mistakes common enough to deserve their own words, with the path to report.
fn special_case(doc: &Value, segs: &[Seg]) -> Option<(Vec<Seg>, String, String)> {
    // `not` given a list: serde reads a list as a tuple-like enum and talks of a "variant
    // identifier" inside it; the mistake is the list itself.
    let of = Seg::Key("of".to_string());
    let at = (0..segs.len()).find(|&i| {
        segs[i] == of
            && node(doc, &segs[..i]).and_then(|n| n.get("type")).and_then(Value::as_str) == Some("not")
            && node(doc, &segs[..=i]).is_some_and(Value::is_array)
    })?;
    Some((
        segs[..=at].to_vec(),
        "\"not\" takes one condition, not a list; to exclude any of several, write \
         {\"type\": \"not\", \"of\": {\"type\": \"any\", \"of\": [...]}}"
            .to_string(),
        "«not» یک شرط می‌گیرد، نه فهرستی از شرط‌ها؛ برای استثنا کردن چند شرط بنویسید \
         «{\"type\": \"not\", \"of\": {\"type\": \"any\", \"of\": [...]}}»"
            .to_string(),
    ))
}

/// Words between backticks in serde's message: "`a`, `b`" → ["a", "b"].
fn ticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn fa_list(items: &[&str]) -> String {
    items.iter().map(|i| format!("«{i}»")).collect::<Vec<_>>().join("، ")
}

/// serde's message (English, terse) as a sentence in each language.
pub fn describe(message: &str) -> (String, String) {
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        return (format!("the field \"{field}\" is required"), format!("فیلد «{field}» لازم است و داده نشده است"));
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let field = rest.trim_end_matches('`');
        return (format!("the field \"{field}\" is given twice"), format!("فیلد «{field}» دو بار آمده است"));
    }
    for (prefix, en_what, fa_what) in [("unknown field `", "field", "فیلد"), ("unknown variant `", "value", "مقدار")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let allowed = ticked(expected);
            if allowed.is_empty() {
                return (format!("unknown {en_what} \"{name}\": none is allowed here"), format!("{fa_what} «{name}» شناخته‌شده نیست و اینجا جایی ندارد"));
            }
            return (
                format!("unknown {en_what} \"{name}\"; expected one of: {}", allowed.join(", ")),
                format!("{fa_what} «{name}» شناخته‌شده نیست؛ یکی از این‌ها را بدهید: {}", fa_list(&allowed)),
            );
        }
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                let (found_en, found_fa) = unexpected(found);
                let (exp_en, exp_fa) = expected_shape(expected);
                return (format!("expected {exp_en}, found {found_en}"), format!("باید {exp_fa} باشد، اما {found_fa} آمده است"));
            }
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        if let Some((n, expected)) = rest.split_once(", expected ") {
            let (exp_en, exp_fa) = expected_shape(expected);
            return (
                format!("{n} items where {exp_en} is expected"),
                format!("{} قلم آمده، اما {exp_fa} لازم است", persian_digits(n)),
            );
        }
    }
    if let Some((text, _)) = message.split_once(" is not an integer id") {
        return (format!("{text} is not an integer id"), format!("«{}» شناسهٔ عددی نیست", text.trim_matches('"')));
    }
    if let Some((what, place)) = message.rsplit_once(" at line ") {
        let (line, column) = place.split_once(" column ").unwrap_or((place, "?"));
        return (
            format!("not valid JSON text: {what} at line {line} column {column}"),
            format!("متن «JSON» معتبر نیست (سطر {}، ستون {})", persian_digits(line), persian_digits(column)),
        );
    }
    (message.to_string(), format!("شکل داده نادرست است: «{message}»"))
}

/// serde's `Unexpected` ("floating point `1.5`", "string \"friday\"", "sequence") in words.
fn unexpected(found: &str) -> (String, String) {
    let value = ticked(found).first().copied().unwrap_or("").to_string();
    if found.starts_with("floating point") {
        return (format!("the fraction {value}"), format!("عدد اعشاری {}", persian_digits(&value.replace('.', "٫"))));
    }
    if found.starts_with("integer") {
        return (format!("the number {value}"), format!("عدد {}", persian_digits(&value)));
    }
    if found.starts_with("boolean") {
        return (value.clone(), format!("مقدار «{value}»"));
    }
    if let Some(text) = found.strip_prefix("string ") {
        let text = text.trim_matches('"');
        return (format!("the text \"{text}\""), format!("متن «{text}»"));
    }
    match found {
        "sequence" => ("a list".into(), "یک فهرست".into()),
        "map" => ("an object".into(), "یک شیء".into()),
        "unit value" | "null" => ("null".into(), "مقدار «null»".into()),
        other => (other.to_string(), format!("«{other}»")),
    }
}

/// serde's "expected ..." in words. Structs that callers build by hand are spelled out.
fn expected_shape(expected: &str) -> (String, String) {
    let ints = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "an integer id"];
    if ints.contains(&expected) {
        return ("a whole number".into(), "یک عدد صحیح".into());
    }
    let shapes: &[(&str, &str)] = &[
        ("struct Ratio", r#"{"points": 100, "rial": 1000}"#),
        ("struct VoucherPrice", r#"{"template_id": 1, "points": 500}"#),
        ("struct TierConfig", r#"{"tiers": [{"name": "bronze"}, {"name": "silver", "rise_at": 1000}]}"#),
        ("struct TierSpec", r#"{"name": "silver", "rise_at": 1000, "stay_at": 500}"#),
        ("struct Names", r#"{"en": "...", "fa": "..."}"#),
        ("struct Range", r#"{"min": 1, "max": 10}"#),
    ];
    if let Some((_, example)) = shapes.iter().find(|(name, _)| *name == expected) {
        return (format!("an object like {example}"), format!("شیئی مثل «{example}»"));
    }
    match expected {
        "a string" | "a borrowed string" => ("text".into(), "متن".into()),
        "a boolean" | "true or false" => ("true or false".into(), "«true» یا «false»".into()),
        "a sequence" => ("a list".into(), "یک فهرست".into()),
        "f64" | "f32" => ("a number".into(), "یک عدد".into()),
        "internally tagged enum Condition" => (r#"a condition: an object with a "type""#.into(), "یک شرط: شیئی با «type»".into()),
        "internally tagged enum Effect" => (r#"an effect: an object with a "type""#.into(), "یک اثر: شیئی با «type»".into()),
        "variant identifier" => ("one of the allowed names".into(), "یکی از نام‌های مجاز".into()),
        e if e.starts_with("internally tagged enum") => (r#"an object with a "type""#.into(), "شیئی با «type»".into()),
        e if e.starts_with("struct ") || e.starts_with("a map") => ("an object".into(), "یک شیء".into()),
        e if e.starts_with("one of ") || e.starts_with('`') => {
            let allowed = ticked(e);
            (format!("one of: {}", allowed.join(", ")), format!("یکی از {}", fa_list(&allowed)))
        }
        other => (other.to_string(), format!("«{other}»")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::spec::RuleSet;
    use serde_json::json;

    fn where_(doc: Value) -> (String, String, String) {
        explain_error::<RuleSet>(&doc).expect("the document is refused")
    }

    #[test]
    fn errors_inside_tagged_enums_name_the_field() {
        let rule = |effect: Value, condition: Value| json!({"club_id": 1, "rules": [{"id": "r", "conditions": [condition], "effects": [effect]}]});
        let ok_effect = json!({"type": "discount", "fixed_rial": 1});
        let ok_condition = json!({"type": "first_purchase"});
        let (path, en, fa) = where_(rule(json!({"type": "discount", "percent_bp": 12.5}), ok_condition.clone()));
        assert_eq!(path, "rules[0].effects[0].percent_bp");
        assert_eq!(en, "expected a whole number, found the fraction 12.5");
        assert_eq!(fa, "باید یک عدد صحیح باشد، اما عدد اعشاری ۱۲٫۵ آمده است");
        let (path, ..) = where_(rule(ok_effect.clone(), json!({"type": "weekdays", "days": ["sat", "friday"]})));
        assert_eq!(path, "rules[0].conditions[0].days[1]");
        let (path, ..) = where_(rule(ok_effect.clone(), json!({"type": "any", "of": [{"type": "first_purchase"}, {"type": "nth_purchase"}]})));
        assert_eq!(path, "rules[0].conditions[0].of[1].n");
        let (path, en, _) = where_(rule(ok_effect, json!({"type": "not", "of": [{"type": "first_purchase"}]})));
        assert_eq!(path, "rules[0].conditions[0].of");
        assert!(en.starts_with("\"not\" takes one condition"), "{en}");
    }
}
