"""docs/rules.md and kimia/schema/rules.schema.json agree with the rule language of the core.

- every worked example in the guide (a ```json block after ``<!-- example: NAME -->``) is valid
  under the JSON Schema, compiles with ``kimia.Rulebook`` and gives the outcome the guide states;
- every other ```json snippet of the guide is valid for what it shows (a condition, an effect, …)
  and compiles inside a minimal rule set;
- the schema and ``kimia.Rulebook`` give the same verdict on a set of invalid and tricky rule sets;
- the schema's fields, required fields and enums match the serde types in core/src/rules/spec.rs
  (parsed here from the Rust source), and every condition, effect, explanation and ``rule_*`` error
  code is documented.
"""

from __future__ import annotations

import calendar
import copy
import datetime
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import kimia
from kimia.schema import rules_schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "rules.md"
SPEC_RS = ROOT / "core" / "src" / "rules" / "spec.rs"
MODEL_RS = ROOT / "core" / "src" / "model.rs"
MONEY_RS = ROOT / "core" / "src" / "money.rs"
ACCOUNT_RS = ROOT / "core" / "src" / "account.rs"
DEMO = ROOT / "kimia" / "samples" / "demo_rules.json"

DOC_TEXT = DOCS.read_text(encoding="utf-8")
SCHEMA = rules_schema()
VALIDATOR = Draft202012Validator(SCHEMA)

EXAMPLE_RE = re.compile(r"<!-- example: (?P<name>[^>]+?) -->\s*\n```json\n(?P<body>.*?)\n```", re.DOTALL)
JSON_BLOCK_RE = re.compile(r"```json\n(?P<body>.*?)\n```", re.DOTALL)


def tehran(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> int:
    """Unix seconds of a Tehran local time (UTC+03:30)."""
    return calendar.timegm(datetime.datetime(y, m, d, hh, mm).timetuple()) - 210 * 60


def examples() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for m in EXAMPLE_RE.finditer(DOC_TEXT):
        name = m.group("name").strip()
        assert name not in found, f"duplicate example name {name!r}"
        found[name] = json.loads(m.group("body"))
    return found


EXAMPLES = examples()


def sub_validator(name: str) -> Draft202012Validator:
    """A validator for one definition of the schema (``$defs/name``)."""
    return Draft202012Validator({"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{name}"})


def errors_of(instance: Any, validator: Draft202012Validator = VALIDATOR) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def compile_both(rule_set: dict[str, Any]) -> kimia.Rulebook:
    """Compile from a dict and from JSON text (the two paths into the core); both must agree."""
    book = kimia.Rulebook(rule_set)
    kimia.Rulebook(json.dumps(rule_set, ensure_ascii=False))
    return book


# --- the schema itself --------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_rules_schema_returns_a_fresh_copy() -> None:
    a = rules_schema()
    a["title"] = "changed"
    assert rules_schema()["title"] != "changed"


def _walk(node: Any, path: str = "#") -> Any:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_every_property_has_a_description_and_objects_are_closed() -> None:
    for path, node in _walk(SCHEMA):
        props = node.get("properties")
        if not isinstance(props, dict) or node.get("type") != "object":
            continue  # if/then/anyOf fragments only narrow properties declared elsewhere
        assert node.get("additionalProperties") is False, f"{path} must set additionalProperties: false"
        for name, prop in props.items():
            assert isinstance(prop.get("description"), str) and prop["description"], f"{path}/properties/{name} has no description"


def test_amounts_are_integers() -> None:
    """No property is a JSON number: every amount, id and ratio is an integer."""
    for path, node in _walk(SCHEMA):
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        assert "number" not in types, path


# --- the Rust side, parsed ----------------------------------------------------------------


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


def _block(src: str, header: str) -> str:
    """The text between the braces that follow ``header`` (e.g. ``pub enum Condition``)."""
    m = re.search(re.escape(header) + r"\s*\{", src)
    assert m, f"{header} not found"
    depth, i = 0, m.end() - 1
    for j in range(i, len(src)):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return src[i + 1 : j]
    raise AssertionError(f"unbalanced braces after {header}")


FIELD_RE = re.compile(r"((?:#\[[^\]]*\]\s*)*)(?:pub\s+)?([a-z_][a-z0-9_]*)\s*:\s*([A-Za-z_]\w*)")


def _fields(body: str) -> dict[str, bool]:
    """Field name -> required (no serde default and not an Option)."""
    out: dict[str, bool] = {}
    for attrs, name, ty in FIELD_RE.findall(_strip_comments(body)):
        out[name] = "default" not in attrs and ty != "Option"
    return out


def _variants(body: str) -> dict[str, dict[str, bool] | None]:
    """Variant name -> its fields (None for a unit variant)."""
    body = _strip_comments(body)
    out: dict[str, dict[str, bool] | None] = {}
    head = re.compile(r"\s*(?:#\[[^\]]*\]\s*)*([A-Z]\w*)\s*")
    i = 0
    while i < len(body):
        m = head.match(body, i)
        if not m:
            i += 1
            continue
        name, i = m.group(1), m.end()
        fields: dict[str, bool] | None = None
        if i < len(body) and body[i] in "{(":
            open_c, close_c = body[i], "}" if body[i] == "{" else ")"
            depth, j = 0, i
            while True:
                if body[j] == open_c:
                    depth += 1
                elif body[j] == close_c:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            fields = _fields(body[i + 1 : j]) if open_c == "{" else {}
            i = j + 1
        out[name] = fields
        while i < len(body) and body[i] in ", \n\t":
            i += 1
    return out


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


SPEC_SRC = SPEC_RS.read_text(encoding="utf-8")
RUST_CONDITIONS = {snake(n): f for n, f in _variants(_block(SPEC_SRC, "pub enum Condition")).items()}
RUST_EFFECTS = {snake(n): f for n, f in _variants(_block(SPEC_SRC, "pub enum Effect")).items()}


def _tagged_defs(union: str) -> dict[str, dict[str, Any]]:
    """Discriminator value -> definition, for the oneOf of $defs/Condition or $defs/Effect."""
    out: dict[str, dict[str, Any]] = {}
    for alt in SCHEMA["$defs"][union]["oneOf"]:
        definition = SCHEMA["$defs"][alt["$ref"].rsplit("/", 1)[1]]
        tag = definition["properties"]["type"]["const"]
        assert tag not in out
        out[tag] = definition
    return out


SCHEMA_CONDITIONS = _tagged_defs("Condition")
SCHEMA_EFFECTS = _tagged_defs("Effect")


def test_rust_parser_sees_the_whole_language() -> None:
    assert len(RUST_CONDITIONS) == 23 and "days_since_last_purchase" in RUST_CONDITIONS
    assert len(RUST_EFFECTS) == 7 and "credit_spend_discount" in RUST_EFFECTS
    # Condition::name() spells the same tags (used in explanations).
    names = set(re.findall(r'Condition::\w+ \{[^}]*\} => "(\w+)"', SPEC_SRC))
    assert names == set(RUST_CONDITIONS)


@pytest.mark.parametrize(("union", "rust", "schema"), [
    ("condition", RUST_CONDITIONS, SCHEMA_CONDITIONS),
    ("effect", RUST_EFFECTS, SCHEMA_EFFECTS),
])
def test_every_tag_is_in_the_schema_and_the_guide(union: str, rust: dict[str, Any], schema: dict[str, Any]) -> None:
    assert set(schema) == set(rust), f"{union} tags differ between spec.rs and the schema"
    for tag in rust:
        assert f"`{tag}`" in DOC_TEXT, f"{union} {tag!r} is not documented in docs/rules.md"
        assert f'"type": "{tag}"' in DOC_TEXT, f"{union} {tag!r} has no JSON example in docs/rules.md"


@pytest.mark.parametrize("tag", sorted(RUST_CONDITIONS))
def test_condition_fields_match_spec(tag: str) -> None:
    _check_fields(SCHEMA_CONDITIONS[tag], RUST_CONDITIONS[tag] or {}, extra={"type"})


@pytest.mark.parametrize("tag", sorted(RUST_EFFECTS))
def test_effect_fields_match_spec(tag: str) -> None:
    _check_fields(SCHEMA_EFFECTS[tag], RUST_EFFECTS[tag] or {}, extra={"type"})


STRUCTS = ["RuleSet", "Names", "MerchantSet", "StackingGroup", "Settlement", "FeeTariff", "Rule", "Scope", "Budget"]


@pytest.mark.parametrize("struct", STRUCTS)
def test_struct_fields_match_spec(struct: str) -> None:
    assert re.search(r"#\[serde\(deny_unknown_fields\)\]\s*pub struct " + struct + r"\b", SPEC_SRC), struct
    definition = SCHEMA if struct == "RuleSet" else SCHEMA["$defs"][struct]
    _check_fields(definition, _fields(_block(SPEC_SRC, f"pub struct {struct}")))


def _check_fields(definition: dict[str, Any], rust: dict[str, bool], extra: frozenset[str] | set[str] = frozenset()) -> None:
    assert definition["additionalProperties"] is False
    assert set(definition["properties"]) == set(rust) | set(extra)
    required = {name for name, req in rust.items() if req} | set(extra)
    assert set(definition.get("required", [])) == required
    for name, req in rust.items():
        if not req and "$ref" not in definition["properties"][name]:
            assert "default" in definition["properties"][name], f"optional field {name} has no documented default"


def _rust_enum(path: Path, name: str) -> tuple[list[str], str | None]:
    src = path.read_text(encoding="utf-8")
    body = _block(src, f"pub enum {name}")
    values = [snake(v) for v in _variants(body)]
    default = re.search(r"#\[default\]\s*(\w+)", _strip_comments(body))
    return values, snake(default.group(1)) if default else None


D = SCHEMA["$defs"]
ENUMS = [
    (SPEC_RS, "StackingMode", D["StackingGroup"]["properties"]["mode"]),
    (SPEC_RS, "Calendar", D["DateRangeCondition"]["properties"]["calendar"]),
    (SPEC_RS, "Weekday", D["WeekdaysCondition"]["properties"]["days"]["items"]),
    (SPEC_RS, "CreditKind", D["CreditEffect"]["properties"]["kind"]),
    (SPEC_RS, "BudgetPer", D["Budget"]["properties"]["per"]),
    (SPEC_RS, "BudgetPeriod", D["Budget"]["properties"]["period"]),
    (MODEL_RS, "PaymentMethod", D["PaymentMethodCondition"]["properties"]["methods"]["items"]),
    (MODEL_RS, "Channel", D["ChannelCondition"]["properties"]["channels"]["items"]),
    (MODEL_RS, "Funder", D["Rule"]["properties"]["funding"]["propertyNames"]),
    (MONEY_RS, "Rounding", D["PointsEffect"]["properties"]["rounding"]),
]


@pytest.mark.parametrize(("path", "name", "node"), ENUMS, ids=[e[1] for e in ENUMS])
def test_enums_match_rust(path: Path, name: str, node: dict[str, Any]) -> None:
    values, default = _rust_enum(path, name)
    assert node["enum"] == values
    if "default" in node and default is not None:
        assert node["default"] == default


def test_enum_values_asked_for() -> None:
    assert D["PaymentMethodCondition"]["properties"]["methods"]["items"]["enum"] == ["card", "cash", "mixed", "credit"]
    assert D["ChannelCondition"]["properties"]["channels"]["items"]["enum"] == ["pos", "pcpos", "app", "web", "api", "panel"]
    assert D["WeekdaysCondition"]["properties"]["days"]["items"]["enum"] == ["sat", "sun", "mon", "tue", "wed", "thu", "fri"]
    assert D["CreditEffect"]["properties"]["kind"]["enum"] == ["merchant", "club", "virtual", "cashback", "gift", "welfare"]
    assert D["Rule"]["properties"]["funding"]["propertyNames"]["enum"] == ["merchant", "club_owner", "platform", "marketer"]


# --- the guide's tables -------------------------------------------------------------------


def test_rule_error_codes_are_documented() -> None:
    codes = [(c, en, fa) for c, en, fa in kimia.error_codes() if c.startswith("rule_")]
    assert len(codes) >= 9
    for code, en, fa in codes:
        row = re.search(r"^\| `" + code + r"` \|.*$", DOC_TEXT, re.MULTILINE)
        assert row, f"{code} is not in the rule error table of docs/rules.md"
        assert row.group(0).endswith(f"| {en} | {fa} |"), f"{code}: templates differ from errors.rs"


def test_explanation_tables_are_copied_exactly() -> None:
    explanations, conditions = kimia.explanation_codes()
    for code, en, fa in [*explanations, *conditions]:
        assert f"| `{code}` | {en} | {fa} |" in DOC_TEXT, f"explanation {code} differs from errors.rs"
    assert {c for c, _, _ in conditions} == set(RUST_CONDITIONS)


def test_account_kinds_are_documented() -> None:
    kinds = re.findall(r'\(Kind::\w+, "(\w+)", Unit::\w+\)', ACCOUNT_RS.read_text(encoding="utf-8"))
    assert len(kinds) >= 20
    for kind in kinds:
        assert re.search(r"^\| `" + kind + r"` \|", DOC_TEXT, re.MULTILINE), f"account kind {kind} is not documented"


def test_budget_key_format_is_documented() -> None:
    assert "`{rule}|{who}|{period}`" in DOC_TEXT
    for part in ("`d:DAY`", "`m:YYYY-MM`", "`total`", "`member:ID`", "`merchant:ID`", "Rulebook.budget_keys"):
        assert part in DOC_TEXT


# --- the worked examples ------------------------------------------------------------------


def test_the_guide_has_the_six_worked_examples() -> None:
    assert set(EXAMPLES) == set(SCENARIOS)
    assert len(EXAMPLES) >= 6


def _scenario_cafe(book: kimia.Rulebook) -> None:
    p = {"op_id": 1, "club_id": 12, "merchant_id": 2101, "merchant_groups": [21], "business_type": "cafe",
         "amount_rial": 1_500_000, "channel": "pos"}
    d = book.evaluate(p, {"member_id": 77}, tehran(2026, 1, 3, 17, 30))  # a Saturday
    assert (d.discount_rial, d.points_earned, d.payable_rial) == (300_000, 150, 1_200_000)
    assert [(leg["role"], leg["amount_rial"]) for leg in d.split] == [
        ("platform_fee", 4_800), ("club_owner", 23_904), ("merchant", 1_171_296)]
    late = book.evaluate(p, {"member_id": 77}, tehran(2026, 1, 3, 19, 0))
    assert late.applied_rules == ["base-points"]
    assert '"Café happy hour: 20% off" does not apply: it is not running at this hour' in late.explain("en")
    assert "طرح «ساعت خوش کافه: ۲۰٪ تخفیف» شامل این خرید نمی‌شود: در این ساعت برقرار نیست" in late.explain("fa")


def _scenario_yalda(book: kimia.Rulebook) -> None:
    p = {"op_id": 2, "club_id": 12, "merchant_id": 3001, "amount_rial": 5_000_000}
    gold = {"member_id": 77, "tier": "gold"}
    yalda_night = tehran(*kimia.jalali_to_gregorian(1405, 9, 30), 20, 0)
    d = book.evaluate(p, gold, yalda_night)
    assert (d.discount_rial, d.points_earned) == (500_000, 500)
    assert sorted(d.applied_rules) == ["base-points", "yalda-discount"]
    assert ('"Yalda: triple points for gold members" was not given: the better offer '
            '"Yalda: 10% off purchases from 2,000,000 rials" was') in d.explain("en")
    small = book.evaluate(dict(p, amount_rial=1_000_000), gold, yalda_night)
    assert (small.discount_rial, small.points_earned) == (0, 400)
    after = book.evaluate(p, gold, tehran(*kimia.jalali_to_gregorian(1405, 10, 6), 20, 0))
    assert after.applied_rules == ["base-points"]


def _scenario_dairy(book: kimia.Rulebook) -> None:
    p = {"op_id": 3, "club_id": 12, "merchant_id": 3101, "merchant_groups": [31], "amount_rial": 1_000_000,
         "channel": "pcpos", "basket": [
             {"goods_id": "milk-1l", "group": "dairy", "quantity": 4, "amount_rial": 400_000},
             {"goods_id": "rice-5kg", "group": "grocery", "amount_rial": 600_000}]}
    now = tehran(2026, 1, 3)
    assert book.evaluate(p, {"member_id": 77}, now).points_earned == 140
    assert book.evaluate(p, {"member_id": 77, "tier": "gold"}, now).points_earned == 160
    assert book.evaluate(dict(p, channel="pos"), {"member_id": 77}, now).points_earned == 100


def _scenario_fifth(book: kimia.Rulebook) -> None:
    p = {"op_id": 4, "club_id": 12, "merchant_id": 4100, "amount_rial": 800_000}
    now = tehran(2026, 1, 20)
    assert book.has_budgets
    assert book.budget_keys(p, 77, now) == ["fifth-visit|rule|m:1404-10", "fifth-visit|member:77|m:1404-10"]
    d = book.evaluate(p, {"member_id": 77, "purchase_count": 20, "merchant_purchase_count": 4}, now)
    assert d.discount_rial == 200_000
    assert sorted((x["from"], x["to"], x["amount"]) for x in d.postings) == [
        ("club:12/expense", "merchant:4100/discount_given", 100_000),
        ("merchant:4100/expense", "merchant:4100/discount_given", 100_000)]
    assert d.budget_use == [
        {"key": "fifth-visit|rule|m:1404-10", "amount": 200_000, "limit": 100_000_000},
        {"key": "fifth-visit|member:77|m:1404-10", "amount": 1, "limit": 1}]
    used = {"member_id": 77, "merchant_purchase_count": 9, "budget_used": {"fifth-visit|member:77|m:1404-10": 1}}
    tenth = book.evaluate(p, used, now)
    assert tenth.discount_rial == 0
    assert tenth.explanation[0]["code"] == "budget_exhausted"
    assert "بودجهٔ طرح «هر پنجمین مراجعه: ۲۰۰٬۰۰۰ ریال تخفیف» تمام شده است" in tenth.explain("fa")
    # The monthly rial budget fills partially: the last 100,000 of it is given.
    nearly = {"member_id": 78, "merchant_purchase_count": 4, "budget_used": {"fifth-visit|rule|m:1404-10": 99_900_000}}
    last = book.evaluate(p, nearly, now)
    assert last.discount_rial == 100_000
    assert last.budget_use[0] == {"key": "fifth-visit|rule|m:1404-10", "amount": 100_000, "limit": 100_000_000}
    assert last.explain("fa") == ["هر پنجمین مراجعه: ۲۰۰٬۰۰۰ ریال تخفیف: ۱۰۰٬۰۰۰ ریال تخفیف، یعنی همهٔ باقی‌ماندهٔ بودجهٔ این طرح"]


def _scenario_gold(book: kimia.Rulebook) -> None:
    now = tehran(2026, 1, 20)
    p = {"op_id": 5, "club_id": 12, "merchant_id": 2101, "amount_rial": 1_000_100, "payment_method": "card"}
    d = book.evaluate(p, {"member_id": 77, "tier": "gold"}, now)
    assert [(x["from"], x["to"], x["amount"]) for x in d.postings] == [
        ("merchant:2101/expense", "member:77/cashback", 15_002),
        ("club:12/expense", "member:77/cashback", 15_001)]
    (lot,) = d.lots_created
    assert (lot["remaining"], lot["pending_until"], lot["expires_at"]) == (30_003, now + 7 * 86_400, now + 90 * 86_400)
    assert book.evaluate(dict(p, payment_method="cash"), {"member_id": 77, "tier": "gold"}, now).applied_rules == []


def _scenario_club_credit(book: kimia.Rulebook) -> None:
    now = tehran(2026, 1, 20)
    earn = {"op_id": 6, "club_id": 12, "merchant_id": 3101, "merchant_groups": [31], "amount_rial": 2_000_000}
    d = book.evaluate(earn, {"member_id": 77}, now)
    assert [(x["from"], x["to"], x["amount"]) for x in d.postings] == [("club:12/expense", "member:77/club_credit@set:1", 100_000)]
    assert d.lots_created[0]["expires_at"] == now + 30 * 86_400
    member = kimia.apply({"member_id": 77}, d)
    assert member.balance("member:77/club_credit@set:1") == 100_000
    spend = {"op_id": 7, "club_id": 12, "merchant_id": 5003, "merchant_groups": [50], "amount_rial": 600_000,
             "redeem_credit_rial": 100_000, "payment_method": "mixed"}
    d2 = book.evaluate(spend, member, now + 3600)
    assert (d2.credit_used_rial, d2.discount_rial, d2.payable_rial) == (100_000, 10_000, 490_000)
    assert ("member:77/club_credit@set:1", "merchant:5003/credit_accepted", 100_000) in [
        (x["from"], x["to"], x["amount"]) for x in d2.postings]
    with pytest.raises(kimia.Rejected) as err:
        book.evaluate(dict(spend, op_id=8, merchant_id=2101, merchant_groups=[21]), member, now + 3600)
    assert (err.value.code, err.value.path) == ("credit_not_valid_at_merchant", "redeem_credit_rial")
    assert book.merchant_sets_for(5001, []) == [1] and book.merchant_sets_for(3101, [31]) == []


SCENARIOS: dict[str, Callable[[kimia.Rulebook], None]] = {
    "cafe happy hour": _scenario_cafe,
    "yalda jalali campaign exclusive with another": _scenario_yalda,
    "goods group double points from pc-pos": _scenario_dairy,
    "every 5th purchase with a monthly budget": _scenario_fifth,
    "gold tier cashback funded 50/50": _scenario_gold,
    "club credit spendable at a merchant set": _scenario_club_credit,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_worked_example(name: str) -> None:
    example = EXAMPLES[name]
    assert errors_of(example) == []
    book = compile_both(example)
    assert book.club_id == example["club_id"] and len(book) == len(example["rules"])
    # One plain purchase, anywhere in the club: the decision is balanced and adds up.
    purchase = {"op_id": 1, "club_id": example["club_id"], "merchant_id": 1, "amount_rial": 1_000_000}
    d = book.evaluate(purchase, {"member_id": 1}, tehran(2026, 3, 1))
    assert d.is_balanced()
    assert d.payable_rial + d.discount_rial + d.credit_used_rial == 1_000_000
    SCENARIOS[name](book)


def test_demo_rules_sample_matches_the_schema() -> None:
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    assert errors_of(demo) == []
    compile_both(demo)


# --- every other JSON snippet of the guide ------------------------------------------------

DUMMY_EFFECT = {"type": "discount", "percent_bp": 100}


def _classify(snippet: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(schema definition, a minimal rule set using the snippet) for one JSON block of the guide."""
    sets = [{"id": i} for i in range(1, 10)]
    if "club_id" in snippet:
        return "", snippet
    if "id" in snippet and "effects" in snippet:
        return "Rule", {"club_id": 1, "rules": [snippet]}
    tag = snippet.get("type")
    if tag in RUST_CONDITIONS:
        return "Condition", {"club_id": 1, "rules": [{"id": "r", "conditions": [snippet], "effects": [DUMMY_EFFECT]}]}
    if tag in RUST_EFFECTS:
        return "Effect", {"club_id": 1, "merchant_sets": sets, "rules": [{"id": "r", "effects": [snippet]}]}
    if "per" in snippet and "period" in snippet:
        return "Budget", {"club_id": 1, "rules": [{"id": "r", "effects": [DUMMY_EFFECT], "budgets": [snippet]}]}
    if "fee_tariffs" in snippet or "club_owner_bp" in snippet:
        return "Settlement", {"club_id": 1, "settlement": snippet}
    if "id" in snippet and ("merchants" in snippet or "merchant_groups" in snippet):
        return "MerchantSet", {"club_id": 1, "merchant_sets": [snippet]}
    raise AssertionError(f"unclassified JSON block in docs/rules.md: {snippet}")


SNIPPETS = [json.loads(m.group("body")) for m in JSON_BLOCK_RE.finditer(DOC_TEXT)]


def test_the_guide_has_snippets() -> None:
    assert len(SNIPPETS) >= 40


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_json_snippet_is_valid_and_compiles(index: int) -> None:
    snippet = SNIPPETS[index]
    definition, rule_set = _classify(snippet)
    if definition:
        assert errors_of(snippet, sub_validator(definition)) == []
    assert errors_of(rule_set) == []
    compile_both(rule_set)


# --- same verdict from the schema and the core --------------------------------------------


def rule_set(**rule: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"id": "r", "effects": [DUMMY_EFFECT]}
    r.update(rule)
    return {"club_id": 1, "rules": [r]}


def with_top(**fields: Any) -> dict[str, Any]:
    rs = rule_set()
    rs.update(fields)
    return rs


INVALID: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("unknown top-level field", with_top(rules_v2=[]), "rule_invalid_json", "rules_v2"),
    ("missing club_id", {"rules": []}, "rule_invalid_json", None),
    ("unknown field in a rule", rule_set(prio=1), "rule_invalid_json", "rules[0].prio"),
    ("unknown condition type", rule_set(conditions=[{"type": "birthday"}]), "rule_invalid_json", "rules[0].conditions[0].type"),
    ("condition without type", rule_set(conditions=[{"ids": [1]}]), "rule_invalid_json", "rules[0].conditions[0].type"),
    ("unknown field in a condition", rule_set(conditions=[{"type": "merchant", "ids": [1], "mode": "any"}]), "rule_invalid_json", "rules[0].conditions[0].mode"),
    ("field on first_purchase", rule_set(conditions=[{"type": "first_purchase", "n": 1}]), "rule_invalid_json", "rules[0].conditions[0].n"),
    ("missing ids", rule_set(conditions=[{"type": "merchant_group"}]), "rule_invalid_json", "rules[0].conditions[0].ids"),
    ("unknown effect type", rule_set(effects=[{"type": "cashback", "percent_bp": 100}]), "rule_invalid_json", "rules[0].effects[0].type"),
    ("unknown field in an effect", rule_set(effects=[{"type": "discount", "percent": 10}]), "rule_invalid_json", "rules[0].effects[0].percent"),
    ("lottery min_entries does not exist", rule_set(effects=[{"type": "lottery", "lottery_id": 1, "fixed": 1, "min_entries": 1}]), "rule_invalid_json", "rules[0].effects[0].min_entries"),
    ("percent_bp 20000", rule_set(effects=[{"type": "discount", "percent_bp": 20000}]), "rule_bad_value", "rules[0].effects[0].percent_bp"),
    ("percent_bp negative", rule_set(effects=[{"type": "credit", "kind": "gift", "percent_bp": -1}]), "rule_bad_value", "rules[0].effects[0].percent_bp"),
    ("float amount", rule_set(effects=[{"type": "discount", "percent_bp": 100.5}]), "rule_invalid_json", "rules[0].effects[0].percent_bp"),
    ("missing effects", {"club_id": 1, "rules": [{"id": "r"}]}, "rule_invalid_json", "rules[0].effects"),
    ("empty effects", rule_set(effects=[]), "rule_empty_effects", "rules[0].effects"),
    ("discount of nothing", rule_set(effects=[{"type": "discount"}]), "rule_bad_value", "rules[0].effects[0]"),
    ("negative fixed_rial", rule_set(effects=[{"type": "discount", "fixed_rial": -5}]), "rule_bad_value", "rules[0].effects[0].fixed_rial"),
    ("negative cap", rule_set(effects=[{"type": "discount", "percent_bp": 5, "cap_rial": -1}]), "rule_bad_value", "rules[0].effects[0].cap_rial"),
    ("points rate without per_rial", rule_set(effects=[{"type": "points", "points": 1}]), "rule_bad_value", "rules[0].effects[0].per_rial"),
    ("points of nothing", rule_set(effects=[{"type": "points", "per_rial": 1000}]), "rule_bad_value", "rules[0].effects[0]"),
    ("referral of nothing", rule_set(effects=[{"type": "referral"}]), "rule_bad_value", "rules[0].effects[0]"),
    ("lottery without id", rule_set(effects=[{"type": "lottery", "fixed": 1}]), "rule_invalid_json", "rules[0].effects[0].lottery_id"),
    ("multiplier too big", rule_set(effects=[{"type": "points", "fixed": 1, "tier_multipliers_bp": {"gold": 2_000_000}}]), "rule_bad_value", "rules[0].effects[0].tier_multipliers_bp"),
    ("expires_days too big", rule_set(effects=[{"type": "points", "fixed": 1, "expires_days": 40_000}]), "rule_bad_value", "rules[0].effects[0].expires_days"),
    ("pending_days negative", rule_set(effects=[{"type": "credit", "kind": "gift", "fixed_rial": 1, "pending_days": -1}]), "rule_bad_value", "rules[0].effects[0].pending_days"),
    ("club credit without a set", rule_set(effects=[{"type": "credit", "kind": "club", "fixed_rial": 1}]), "rule_bad_value", "rules[0].effects[0].spendable_at"),
    ("club credit with a null set", rule_set(effects=[{"type": "credit", "kind": "club", "fixed_rial": 1, "spendable_at": None}]), "rule_bad_value", "rules[0].effects[0].spendable_at"),
    ("credit without kind", rule_set(effects=[{"type": "credit", "fixed_rial": 1}]), "rule_invalid_json", "rules[0].effects[0].kind"),
    ("unknown credit kind", rule_set(effects=[{"type": "credit", "kind": "bonus", "fixed_rial": 1}]), "rule_invalid_json", "rules[0].effects[0].kind"),
    ("nth 0", rule_set(conditions=[{"type": "nth_purchase", "n": 0}]), "rule_bad_value", "rules[0].conditions[0].n"),
    ("nested nth 0", rule_set(conditions=[{"type": "any", "of": [{"type": "nth_purchase", "n": 0}]}]), "rule_bad_value", "rules[0].conditions[0].of[0].n"),
    ("window of 0 days", rule_set(conditions=[{"type": "not", "of": {"type": "spend_in_window", "days": 0}}]), "rule_bad_value", "rules[0].conditions[0].of.days"),
    ("window without days", rule_set(conditions=[{"type": "purchases_in_window", "min": 1}]), "rule_invalid_json", "rules[0].conditions[0].days"),
    ("not with a list", rule_set(conditions=[{"type": "not", "of": [{"type": "first_purchase"}]}]), "rule_invalid_json", "rules[0].conditions[0].of"),
    ("hour 25:00", rule_set(conditions=[{"type": "hour_range", "from": "25:00", "to": "02:00"}]), "rule_bad_value", "rules[0].conditions[0].from"),
    ("hour 24:30", rule_set(conditions=[{"type": "hour_range", "from": "20:00", "to": "24:30"}]), "rule_bad_value", "rules[0].conditions[0].to"),
    ("month 13", rule_set(conditions=[{"type": "date_range", "from": "2026-13-01"}]), "rule_bad_date", "rules[0].conditions[0].from"),
    ("unknown calendar", rule_set(conditions=[{"type": "date_range", "calendar": "hijri"}]), "rule_invalid_json", "rules[0].conditions[0].calendar"),
    ("weekday monday", rule_set(conditions=[{"type": "weekdays", "days": ["monday"]}]), "rule_invalid_json", "rules[0].conditions[0].days[0]"),
    ("unknown channel", rule_set(conditions=[{"type": "channel", "channels": ["ussd"]}]), "rule_invalid_json", "rules[0].conditions[0].channels[0]"),
    ("unknown payment method", rule_set(conditions=[{"type": "payment_method", "methods": ["cheque"]}]), "rule_invalid_json", "rules[0].conditions[0].methods[0]"),
    ("funding share above 10000", rule_set(funding={"merchant": 20_000, "club_owner": -10_000}), "rule_bad_funding", "rules[0].funding"),
    ("unknown funder", rule_set(funding={"bank": 10_000}), "rule_invalid_json", "rules[0].funding.bank"),
    ("budget with both limits", rule_set(budgets=[{"per": "rule", "period": "day", "limit_rial": 1, "limit_count": 1}]), "rule_bad_value", "rules[0].budgets[0]"),
    ("budget with no limit", rule_set(budgets=[{"per": "rule", "period": "day"}]), "rule_bad_value", "rules[0].budgets[0]"),
    ("budget negative", rule_set(budgets=[{"per": "member", "period": "total", "limit_count": -1}]), "rule_bad_value", "rules[0].budgets[0].limit_count"),
    ("budget per week", rule_set(budgets=[{"per": "rule", "period": "week", "limit_count": 1}]), "rule_invalid_json", "rules[0].budgets[0].period"),
    ("empty id", rule_set(id=""), "rule_bad_value", "rules[0].id"),
    ("id of 101 characters", rule_set(id="x" * 101), "rule_bad_value", "rules[0].id"),
    ("stacking group without mode", with_top(stacking_groups=[{"name": "a"}]), "rule_invalid_json", "stacking_groups[0].mode"),
    ("unknown stacking mode", with_top(stacking_groups=[{"name": "a", "mode": "best"}]), "rule_invalid_json", "stacking_groups[0].mode"),
    ("merchant set without id", with_top(merchant_sets=[{"merchants": [1]}]), "rule_invalid_json", "merchant_sets[0].id"),
    ("unknown field in names", rule_set(name={"en": "a", "ar": "b"}), "rule_invalid_json", "rules[0].name.ar"),
    ("unknown field in scope", rule_set(scope={"stores": [1]}), "rule_invalid_json", "rules[0].scope.stores"),
    ("unknown field in a tariff", with_top(settlement={"fee_tariffs": [{"percent": 1}]}), "rule_invalid_json", "settlement.fee_tariffs[0].percent"),
    ("utc offset 900", with_top(utc_offset_min=900), "rule_set_bad_value", "utc_offset_min"),
    ("negative point value", with_top(point_value_rial=-1), "rule_set_bad_value", "point_value_rial"),
    ("settlement share 20000", with_top(settlement={"club_owner_bp": 20_000}), "rule_set_bad_value", "settlement"),
]


@pytest.mark.parametrize(("label", "bad", "code", "path"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_rule_sets_are_rejected_by_both(label: str, bad: dict[str, Any], code: str, path: str | None) -> None:
    assert errors_of(bad), f"the schema accepts {label}"
    for given in (bad, json.dumps(bad)):
        with pytest.raises(kimia.RuleError) as err:
            kimia.Rulebook(given)
        assert err.value.code == code, f"{label}: {err.value}"
        if path is not None:
            assert err.value.path == path, f"{label}: {err.value}"


VALID_EDGES: list[tuple[str, dict[str, Any]]] = [
    ("empty rule set", {"club_id": 1}),
    ("null optional fields", rule_set(stacking_group=None, valid_from=None, valid_to=None,
                                      effects=[{"type": "discount", "percent_bp": 1, "cap_rial": None}],
                                      conditions=[{"type": "amount", "min": None, "max": None},
                                                  {"type": "date_range", "from": None, "to": None}])),
    ("open date range", rule_set(conditions=[{"type": "date_range", "to": "1405-12-29", "calendar": "jalali"}])),
    ("hours to 24:00 and wrapping", rule_set(conditions=[{"type": "hour_range", "from": "18:00", "to": "24:00"},
                                                        {"type": "hour_range", "from": "22:00", "to": "02:00"}])),
    ("min equals max", rule_set(conditions=[{"type": "points_held", "min": 5, "max": 5}])),
    ("limits at the edges", rule_set(effects=[{"type": "discount", "percent_bp": 10_000},
                                              {"type": "points", "fixed": 1, "expires_days": 36_600, "pending_days": 0,
                                               "tier_multipliers_bp": {"gold": 1_000_000, "none": 0}}],
                                     conditions=[{"type": "nth_purchase", "n": 1_000_000},
                                                 {"type": "spend_in_window", "days": 3660}])),
    ("the default stacking group by name", rule_set(stacking_group="default")),
    ("budget with the other limit null", rule_set(budgets=[{"per": "merchant", "period": "day", "limit_rial": 0, "limit_count": None}])),
    ("a 100-character id", rule_set(id="x" * 100)),
    ("funding by all four", rule_set(funding={"merchant": 2500, "club_owner": 2500, "platform": 2500, "marketer": 2500})),
    ("settlement shares summing to 10000", with_top(settlement={"club_owner_bp": 5000, "marketer_bp": 3000, "merchant_marketer_bp": 2000})),
    ("empty condition lists", rule_set(conditions=[{"type": "all", "of": []}, {"type": "merchant", "ids": []}])),
]


@pytest.mark.parametrize(("label", "good"), VALID_EDGES, ids=[c[0] for c in VALID_EDGES])
def test_valid_edge_cases_are_accepted_by_both(label: str, good: dict[str, Any]) -> None:
    assert errors_of(good) == []
    compile_both(good)


# Checks that need more than one field: the schema cannot make them, the core does (documented).
CROSS_FIELD: list[tuple[str, dict[str, Any], str]] = [
    ("funding adding up to 5000", rule_set(funding={"merchant": 5000}), "rule_bad_funding"),
    ("min above max", rule_set(conditions=[{"type": "amount", "min": 10, "max": 5}]), "rule_bad_value"),
    ("dates reversed", rule_set(conditions=[{"type": "date_range", "from": "2026-02-01", "to": "2026-01-01"}]), "rule_bad_value"),
    ("30 February", rule_set(conditions=[{"type": "date_range", "from": "2026-02-30"}]), "rule_bad_date"),
    ("31 Mehr (Jalali months 7-12 have 30 days)", rule_set(conditions=[{"type": "date_range", "to": "1405-07-31", "calendar": "jalali"}]), "rule_bad_date"),
    ("valid_to before valid_from", rule_set(valid_from=100, valid_to=50), "rule_bad_value"),
    ("undeclared stacking group", rule_set(stacking_group="yalda"), "rule_unknown_stacking_group"),
    ("undefined merchant set", rule_set(effects=[{"type": "credit", "kind": "club", "fixed_rial": 1, "spendable_at": 9}]), "rule_unknown_set"),
    ("duplicate rule ids", {"club_id": 1, "rules": [rule_set()["rules"][0], rule_set()["rules"][0]]}, "rule_duplicate_id"),
    ("settlement shares above 10000", with_top(settlement={"club_owner_bp": 6000, "marketer_bp": 6000}), "rule_set_bad_value"),
]


@pytest.mark.parametrize(("label", "rs", "code"), CROSS_FIELD, ids=[c[0] for c in CROSS_FIELD])
def test_cross_field_checks_are_left_to_the_core(label: str, rs: dict[str, Any], code: str) -> None:
    assert errors_of(rs) == []
    with pytest.raises(kimia.RuleError) as err:
        kimia.Rulebook(rs)
    assert err.value.code == code
    assert f"`{code}`" in DOC_TEXT


def test_too_many_rules() -> None:
    assert SCHEMA["properties"]["rules"]["maxItems"] == 100_000
    many = {"club_id": 1, "rules": [{"id": "r", "effects": [DUMMY_EFFECT]}] * 100_001}
    with pytest.raises(kimia.RuleError) as err:
        kimia.Rulebook(many)
    assert (err.value.code, err.value.path) == ("rule_too_many", "rules")


def test_group_multipliers_in_json() -> None:
    rs = rule_set(effects=[{"type": "points", "fixed": 1, "group_multipliers_bp": {"7": 20_000}}])
    assert errors_of(rs) == []
    kimia.Rulebook(json.dumps(rs))


def test_group_multipliers_from_python_dicts() -> None:
    rs = rule_set(effects=[{"type": "points", "per_rial": 10_000, "points": 1, "group_multipliers_bp": {7: 20_000}}])
    book = kimia.Rulebook(copy.deepcopy(rs))
    d = book.evaluate({"op_id": 1, "club_id": 1, "merchant_id": 1, "amount_rial": 100_000}, {"member_id": 1, "groups": [7]}, 0)
    assert d.points_earned == 20


def test_booleans_must_be_booleans_in_json() -> None:
    rs = rule_set(enabled="false")
    assert errors_of(rs)
    with pytest.raises(kimia.RuleError) as err:
        kimia.Rulebook(json.dumps(rs))
    assert (err.value.code, err.value.path) == ("rule_invalid_json", "rules[0].enabled")


def test_booleans_must_be_booleans_in_python_dicts() -> None:
    with pytest.raises(kimia.RuleError):
        kimia.Rulebook(rule_set(enabled="false"))


def test_a_persian_id_of_60_letters_is_allowed() -> None:
    """Rule ids are limited to 100 characters, not bytes."""
    assert len(kimia.Rulebook(rule_set(id="ق" * 60))) == 1
