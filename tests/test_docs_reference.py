"""docs/rules-reference.md is complete, up to date and true.

- its generated sections are what ``python -m kimia.schema.reference`` renders from the schemas now,
  and they show every definition of both schemas, every field with a description;
- every field the code takes or gives is in ``kimia/schema/data.schema.json``: the serde structs
  and enums of the core (parsed from the Rust source, and asked of the compiled core, which names
  the fields it accepts when given an unknown one), the ``Decision`` of ``kimia/_core.pyi`` (read
  with ``ast``), the service's ``PurchaseRequest`` and the ``Admin`` calls for voucher templates and
  lotteries (read with ``dataclasses`` and ``inspect``);
- real inputs and outputs (a purchase, a member snapshot, a decision, receipts) are valid under the
  schema;
- the worked examples run (the service one on SQLite and on PostgreSQL).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kimia.service import Kimia
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import kimia
from kimia.schema import data_schema, rules_schema
from kimia.schema.reference import ROOT_NAME, main, render, sections

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "rules-reference.md"
DOC_TEXT = DOC.read_text(encoding="utf-8")
PYI = ROOT / "kimia" / "_core.pyi"
DATA = data_schema()
RULES = rules_schema()
DEFS: dict[str, dict[str, Any]] = DATA["$defs"]
REGISTRY: Registry[Any] = Registry().with_resource(RULES["$id"], Resource.from_contents(RULES))

#: Fields a definition documents that its code source does not have (see the schema's x-only).
NOT_IN_SOURCE = {"attribute", "service"}


def validator(name: str) -> Draft202012Validator:
    """A validator for ``$defs/name`` of the data schema."""
    return Draft202012Validator({"$schema": DATA["$schema"], "$defs": DEFS, "$ref": f"#/$defs/{name}"}, registry=REGISTRY)


def assert_valid(name: str, instance: Any) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(instance)]
    assert not errors, f"{name}: {errors}"


# --- the document -------------------------------------------------------------------------------


def test_the_reference_is_up_to_date() -> None:
    assert render(DOC_TEXT) == DOC_TEXT, "docs/rules-reference.md is out of date: run python -m kimia.schema.reference"


def test_the_generator_rewrites_a_stale_file_and_check_tells(tmp_path: Path) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text(re.sub(r"(<!-- generated: data Purchase BasketLine -->\n).*?(<!-- end generated -->)", r"\1\2", DOC_TEXT, flags=re.DOTALL), encoding="utf-8")
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == DOC_TEXT
    assert main([str(stale), "--check"]) == 0


def test_the_schemas_are_valid_and_their_names_do_not_clash() -> None:
    Draft202012Validator.check_schema(DATA)
    assert DATA["$schema"] == RULES["$schema"]
    # One anchor per definition in the reference.
    assert not set(DEFS) & (set(RULES["$defs"]) | {ROOT_NAME})


def test_every_definition_is_shown_once() -> None:
    shown: dict[str, list[str]] = {"rules": [], "data": []}
    for schema, names in sections(DOC_TEXT):
        shown[schema] += names
    for schema, expected in (("rules", [ROOT_NAME, *RULES["$defs"]]), ("data", list(DEFS))):
        assert sorted(shown[schema]) == sorted(set(shown[schema])), f"a {schema} definition is shown twice"
        missing = set(expected) - set(shown[schema])
        assert not missing, f"{schema} definitions not in docs/rules-reference.md (add them to a generated section): {sorted(missing)}"


def _section(name: str) -> str:
    m = re.search(r"^#### " + re.escape(name) + r"\n(.*?)(?=^#### |^<!-- end generated -->)", DOC_TEXT, re.DOTALL | re.MULTILINE)
    assert m, f"no section for {name}"
    return m.group(1)


def _objects() -> Iterator[tuple[str, dict[str, Any]]]:
    yield ROOT_NAME, RULES
    for defs in (RULES["$defs"], DEFS):
        for name, definition in defs.items():
            if "properties" in definition:
                yield name, definition


@pytest.mark.parametrize(("name", "definition"), list(_objects()), ids=[n for n, _ in _objects()])
def test_every_field_is_described_in_the_reference(name: str, definition: dict[str, Any]) -> None:
    text = _section(name)
    for field, node in definition["properties"].items():
        assert isinstance(node.get("description"), str) and node["description"].strip(), f"{name}.{field} has no description"
        assert re.search(r"^\| `" + re.escape(field) + r"` \|", text, re.MULTILINE), f"{name}.{field} is not in its table"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_inside_the_reference_resolve() -> None:
    prose = re.sub(r"^```.*?^```", "", DOC_TEXT, flags=re.DOTALL | re.MULTILINE)
    headings = [_slug(h) for h in re.findall(r"^#+ (.*)$", prose, re.MULTILINE)]
    anchors = set(headings)
    assert len(anchors) == len(headings), "two headings share an anchor"
    links = set(re.findall(r"\]\(#([^)]+)\)", DOC_TEXT))
    assert links and not links - anchors, f"broken links: {sorted(links - anchors)}"


def test_the_reference_is_linked_from_the_guide_and_the_readme() -> None:
    guide_top = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8").split("\n## ", 1)[0]
    assert "(rules-reference.md)" in guide_top
    assert "docs/rules-reference.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# --- the code, parsed -------------------------------------------------------------------------------

FIELD_RE = re.compile(r"((?:#\[[^\]]*\]\s*)*)(?:pub\s+)?([a-z_][a-z0-9_]*)\s*:\s*([A-Za-z_(]\w*)")


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


def _block(src: str, header: str) -> str:
    """The text between the braces that follow ``header`` (e.g. ``pub struct Purchase``)."""
    m = re.search(re.escape(header) + r"\s*\{", src)
    assert m, f"{header} not found"
    depth = 0
    for j in range(m.end() - 1, len(src)):
        depth += {"{": 1, "}": -1}.get(src[j], 0)
        if depth == 0:
            return src[m.end() : j]
    raise AssertionError(f"unbalanced braces after {header}")


def rust_fields(path: str, struct: str) -> dict[str, bool]:
    """Field name -> required (no serde default and not an Option) of a Rust struct."""
    body = _strip_comments(_block((ROOT / path).read_text(encoding="utf-8"), f"pub struct {struct}"))
    return {name: "default" not in attrs and ty != "Option" for attrs, name, ty in FIELD_RE.findall(body)}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def rust_variants(path: str, enum: str) -> dict[str, set[str]]:
    """Variant (snake case) -> its field names, of a Rust enum."""
    body = _strip_comments(_block((ROOT / path).read_text(encoding="utf-8"), f"pub enum {enum}"))
    body = re.sub(r"#\[[^\]]*\]", "", body) + ","
    return {snake(name): set(re.findall(r"([a-z_]\w*)\s*:", fields or "")) for name, fields in re.findall(r"([A-Z]\w*)\s*(?:\{([^}]*)\})?\s*(?:=\s*\d+\s*)?,", body)}


def pyi_function(name: str) -> ast.FunctionDef:
    tree = ast.parse(PYI.read_text(encoding="utf-8"))
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def pyi_properties(cls: str) -> set[str]:
    tree = ast.parse(PYI.read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    return {f.name for f in node.body if isinstance(f, ast.FunctionDef) and any(isinstance(d, ast.Name) and d.id == "property" for d in f.decorator_list)}


def _python(dotted: str) -> Any:
    module, _, attr = dotted.rpartition(".")
    try:
        obj: Any = importlib.import_module(module)
        return getattr(obj, attr)
    except ModuleNotFoundError:
        return getattr(_python(module), attr)


def source_fields(source: str) -> dict[str, bool]:
    """Field name -> required, of the code an ``x-source`` names."""
    kind, _, where = source.partition(":")
    if kind == "rust":
        path, struct = where.split("#")
        return rust_fields(path, struct)
    if kind == "rust-enum":
        path, enum = where.split("#")
        fields = set().union(*rust_variants(path, enum).values())
        return {"type": True, **dict.fromkeys(fields, False)}
    if kind == "rust-map":
        path, _ = where.split("#")
        keys = re.findall(r'serialize_entry\("(\w+)"', (ROOT / path).read_text(encoding="utf-8"))
        return dict.fromkeys(keys, True)
    if kind == "python-dataclass":
        fields = dataclasses.fields(_python(where))
        return {f.name: f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING for f in fields}
    if kind == "python-params":
        params = list(inspect.signature(_python(where)).parameters.values())[1:]  # without self
        return {p.name: p.default is inspect.Parameter.empty for p in params}
    if kind == "pyi-params":
        args = pyi_function(where).args
        return {a.arg: d is None for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)}
    raise AssertionError(f"unknown x-source {source}")


def undocumented(definition: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(fields in the code but not the schema, in the schema but not the code, required-ness differing)."""
    code = source_fields(definition["x-source"])
    documented = {f for f, node in definition["properties"].items() if node.get("x-only") not in NOT_IN_SOURCE}
    required = set(definition.get("required", []))
    differ = {f for f, req in code.items() if f in documented and req != (f in required)}
    return set(code) - documented, documented - set(code), differ


SOURCED = [n for n, d in DEFS.items() if "x-source" in d and not d["x-source"].startswith("rust-enum-names")]


@pytest.mark.parametrize("name", SOURCED)
def test_every_field_of_the_code_is_documented(name: str) -> None:
    missing, extra, differ = undocumented(DEFS[name])
    assert not missing, f"{name}: fields of {DEFS[name]['x-source']} missing from kimia/schema/data.schema.json: {sorted(missing)}"
    assert not extra, f"{name}: fields documented but not in {DEFS[name]['x-source']}: {sorted(extra)}"
    assert not differ, f"{name}: required/optional differs from {DEFS[name]['x-source']}: {sorted(differ)}"


def test_the_check_catches_a_field_added_to_the_code() -> None:
    """What the test above does when someone adds a field to the core's purchase and not to the schema."""
    definition = copy.deepcopy(DEFS["Purchase"])
    del definition["properties"]["marketer_id"]
    assert undocumented(definition)[0] - undocumented(DEFS["Purchase"])[0] == {"marketer_id"}
    assert rust_fields("core/src/model.rs", "Purchase")["amount_rial"] is True
    assert rust_fields("core/src/model.rs", "Purchase")["basket"] is False


def test_parsers_see_the_code() -> None:
    assert len(rust_fields("core/src/model.rs", "Decision")) >= 23
    assert rust_variants("core/src/value.rs", "ChargeSource") == {"club": {"id"}, "merchant": {"id"}, "org": {"id"}, "cash": set()}
    assert {"tier", "period_points", "period_end", "manual_tier"} <= set(source_fields("pyi-params:close_tier_period"))
    assert "op_id" in source_fields("rust-map:core/src/receipt.rs#Receipt")


@pytest.mark.parametrize("name", [n for n in SOURCED if DEFS[n]["x-source"].startswith("rust") and not DEFS[n].get("x-output")])
def test_what_the_core_does_with_unknown_fields_is_stated(name: str) -> None:
    path, item = DEFS[name]["x-source"].split(":", 1)[1].split("#")
    src = (ROOT / path).read_text(encoding="utf-8")
    denies = re.search(r"#\[serde\([^)]*deny_unknown_fields[^)]*\)\]\s*pub (?:struct|enum) " + item + r"\b", src)
    if denies:
        assert "Unknown fields are rejected" in DEFS[name]["description"] and "x-unknown-fields" not in DEFS[name]
    else:
        assert DEFS[name].get("x-unknown-fields") == "ignored", f"{name}: say x-unknown-fields: ignored"


def test_the_core_ignores_unknown_fields_of_nested_inputs() -> None:
    """What the reference says of BasketLine, AccountState, Lot, Voucher and DayStat."""
    member = {"member_id": 1, "accounts": [{"account": "member:1/points", "balance": 5, "x": 1}],
              "lots": [{"id": "1:0", "account": "member:1/points", "remaining": 5, "x": 1}],
              "history": [{"day": 1, "count": 1, "spend_rial": 1, "x": 1}], "vouchers": [{"code": "V", "x": 1}]}
    purchase = {**PURCHASE, "basket": [{"goods_id": "a", "amount_rial": 1000, "qty": 3}]}
    assert BOOK.evaluate(purchase, member, 0).amount_rial == 1000


ENUMS = [
    ("core/src/model.rs", "PaymentMethod", DEFS["Purchase"]["properties"]["payment_method"], "card"),
    ("core/src/model.rs", "Channel", DEFS["Purchase"]["properties"]["channel"], "pos"),
    ("core/src/model.rs", "PaymentMethod", DEFS["PurchaseRequest"]["properties"]["payment_method"], None),
    ("core/src/model.rs", "Channel", DEFS["PurchaseRequest"]["properties"]["channel"], None),
    ("core/src/model.rs", "DecisionKind", DEFS["Decision"]["properties"]["kind"], None),
    ("core/src/model.rs", "SplitRole", DEFS["SplitLeg"]["properties"]["role"], None),
    ("core/src/model.rs", "Funder", DEFS["VoucherTemplate"]["properties"]["funder"], None),
    ("core/src/account.rs", "Unit", DEFS["Posting"]["properties"]["unit"], None),
    ("core/src/tiers.rs", "TierReason", DEFS["TierResult"]["properties"]["reason"]["items"], None),
    ("core/src/value.rs", "ChargeSource", DEFS["ChargeSource"]["properties"]["type"], None),
]


@pytest.mark.parametrize(("path", "enum", "node", "default"), ENUMS, ids=[f"{e[1]}-{i}" for i, e in enumerate(ENUMS)])
def test_enums_match_the_code(path: str, enum: str, node: dict[str, Any], default: str | None) -> None:
    assert node["enum"] == list(rust_variants(path, enum))
    if default is not None:
        assert node["default"] == default
        assert re.search(r"#\[default\]\s*" + default.capitalize(), (ROOT / path).read_text(encoding="utf-8"))


def test_voucher_funder_is_a_funder_or_null() -> None:
    assert DEFS["Voucher"]["properties"]["funder"]["enum"] == [*rust_variants("core/src/model.rs", "Funder"), None]


# --- the compiled core, asked --------------------------------------------------------------------------

UNKNOWN = "__undocumented__"
MEMBER = {"member_id": 1}
BOOK = kimia.Rulebook({"club_id": 1})
PURCHASE = {"op_id": 1, "club_id": 1, "merchant_id": 2, "amount_rial": 1000}
TIERS = {"tiers": [{"name": "bronze"}]}


def _accepted(call: Any) -> set[str]:
    """The fields the core accepts, from the message it gives for an unknown one."""
    with pytest.raises(kimia.Rejected) as info:
        call()
    message = info.value.message_en
    assert f'unknown field "{UNKNOWN}"' in message, message
    return set(re.findall(r"\w+", message.split("expected one of:", 1)[1]))


CORE_INPUTS = {
    "Purchase": lambda: BOOK.evaluate({**PURCHASE, UNKNOWN: 1}, MEMBER, 0),
    "MemberSnapshot": lambda: kimia.Member({**MEMBER, UNKNOWN: 1}),
    "ConversionConfig": lambda: kimia.convert_points({"club_id": 1, UNKNOWN: 1}, MEMBER, op_id=1, now=0, points=1),
    "Ratio": lambda: kimia.convert_points({"club_id": 1, "default": {"points": 1, "rial": 1, UNKNOWN: 1}}, MEMBER, op_id=1, now=0, points=1),
    "VoucherPrice": lambda: kimia.buy_voucher(1, {"template_id": 1, UNKNOWN: 1}, MEMBER, op_id=1, now=0),
    "TierConfig": lambda: kimia.close_tier_period({**TIERS, UNKNOWN: 1}, tier=[], period_points=[], period_end=0),
    "TierSpec": lambda: kimia.close_tier_period({"tiers": [{"name": "a", UNKNOWN: 1}]}, tier=[], period_points=[], period_end=0),
    "ChargeSource": lambda: kimia.charge(MEMBER, op_id=1, now=0, account="member:1/gift_credit", amount=1, source={"type": "org", "id": 1, UNKNOWN: 1}),
}


@pytest.mark.parametrize("name", sorted(CORE_INPUTS))
def test_the_core_accepts_exactly_the_documented_fields(name: str) -> None:
    documented = set(DEFS[name]["properties"]) - ({"type"} if name == "ChargeSource" else set())
    assert _accepted(CORE_INPUTS[name]) == documented


def test_decision_attributes_and_dict_are_documented() -> None:
    props = DEFS["Decision"]["properties"]
    attributes = pyi_properties("Decision")
    assert attributes - set(props) == set(), "Decision attributes in kimia/_core.pyi not in the schema"
    attribute_only = {f for f, node in props.items() if node.get("x-only") == "attribute"}
    dict_only = {f for f, node in props.items() if node.get("x-only") == "dict"}
    assert set(props) - dict_only == attributes
    d = BOOK.evaluate(PURCHASE, MEMBER, 0)
    assert set(d.to_dict()) == set(props) - attribute_only
    for field in attributes:
        getattr(d, field)


# --- real inputs and outputs, validated -----------------------------------------------------------------

RICH_RULES = {
    "club_id": 12,
    "merchant_sets": [{"id": 1, "merchants": [2101]}],
    "settlement": {"club_owner_bp": 200, "marketer_bp": 100, "merchant_marketer_bp": 50, "fee_tariffs": [{"percent_bp": 40}]},
    "rules": [
        {"id": "points", "effects": [{"type": "points", "per_rial": 10_000, "points": 1, "expires_days": 30}]},
        {"id": "dairy", "conditions": [{"type": "goods_group", "ids": ["dairy"]}],
         "effects": [{"type": "discount", "percent_bp": 1000}, {"type": "lottery", "lottery_id": 3, "fixed": 2}],
         "budgets": [{"per": "member", "period": "month", "limit_count": 5}]},
        {"id": "club-credit", "effects": [{"type": "credit", "kind": "club", "percent_bp": 100, "spendable_at": 1}, {"type": "voucher", "template_id": 9}],
         "funding": {"club_owner": 5000, "marketer": 5000}},
        {"id": "referral", "effects": [{"type": "referral", "fixed": 10}]},
    ],
}
RICH_PURCHASE = {
    "op_id": 7, "club_id": 12, "club_path": [13, 12], "merchant_id": 2101, "merchant_groups": [21], "branch_id": 4,
    "business_type": "cafe", "marketer_id": 31, "enrolling_merchant_id": 2102, "amount_rial": 1_000_000,
    "basket": [{"goods_id": "milk", "group": "dairy", "quantity": 2, "amount_rial": 400_000},
               {"goods_id": "rice", "amount_rial": 600_000}],
    "payment_method": "mixed", "channel": "pcpos", "redeem_credit_rial": 50_000, "voucher_code": "V1",
}
RICH_MEMBER = {
    "member_id": 77, "tier": "gold", "groups": [5], "referrer_id": 78, "shared_group_id": 9, "purchase_count": 4,
    "merchant_purchase_count": 1, "last_purchase_at": 1_789_000_000,
    "history": [{"day": 20_700, "count": 1, "spend_rial": 300_000}],
    "accounts": [{"account": "member:77/merchant_credit@merchant:2101", "balance": 60_000},
                 {"account": "member:77/credit_line", "balance": 0, "credit_limit": 10_000}],
    "lots": [{"id": "1:0", "account": "member:77/merchant_credit@merchant:2101", "remaining": 60_000, "expires_at": 1_800_000_000}],
    "vouchers": [{"code": "V1", "discount_rial": 20_000, "cap_rial": 50_000, "merchants": [2101], "funder": "merchant"}],
    "budget_used": {"dairy|member:77|m:2026-09": 1},
}


def test_a_rich_purchase_member_and_decision_are_valid() -> None:
    book = kimia.Rulebook(RICH_RULES)
    assert_valid("Purchase", RICH_PURCHASE)
    assert_valid("MemberSnapshot", RICH_MEMBER)
    d = book.evaluate(RICH_PURCHASE, RICH_MEMBER, 1_790_000_000)
    out = d.to_dict()
    # The decision uses most of what the reference describes.
    assert out["split"] and out["lottery_entries"] and out["vouchers_issued"] and out["budget_use"] and out["lots_consumed"]
    assert {leg["role"] for leg in out["split"]} == {"platform_fee", "club_owner", "marketer", "merchant_marketer", "merchant"}
    assert {leg["role"]: leg["beneficiary_id"] for leg in out["split"]} == {
        "platform_fee": 0, "club_owner": 12, "marketer": 31, "merchant_marketer": 2102, "merchant": 2101}
    assert_valid("Decision", {**out, "deltas": [list(x) for x in d.deltas]})
    assert_valid("Explanation", d.explanation[0])
    after = kimia.apply(RICH_MEMBER, d)
    assert_valid("MemberSnapshot", after.to_dict())
    receipt, _ = d.receipt(7, RICH_MEMBER)
    assert_valid("Receipt", receipt)
    refund = kimia.reverse(d, after, op_id=8, now=1_790_000_100, refund_rial=100_000)
    assert_valid("Decision", refund.to_dict())


# --- the worked examples --------------------------------------------------------------------------------

EXAMPLE_RE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)\n```", re.DOTALL)
EXAMPLES = {m.group("name"): m.group("code") for m in EXAMPLE_RE.finditer(DOC_TEXT)}

#: Values of each example checked against the schema after it runs: (variable, definition).
EXAMPLE_SHAPES = {
    "convert_points": [("config", "ConversionConfig"), ("member", "MemberSnapshot")],
    "close_tier_period": [("config", "TierConfig"), ("out", "TierResult")],
    "buy_voucher": [("price", "VoucherPrice"), ("member", "MemberSnapshot")],
    "service": [("sale", "Receipt"), ("converted", "Receipt"), ("bought", "Receipt"), ("used", "Receipt")],
}


def test_the_reference_has_its_worked_examples() -> None:
    assert set(EXAMPLES) == set(EXAMPLE_SHAPES)


def _run(name: str, **given: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"example_{name}", **given}
    exec(compile(EXAMPLES[name], f"docs/rules-reference.md:{name}", "exec"), namespace)  # noqa: S102 - the doc's own code
    for variable, definition in EXAMPLE_SHAPES[name]:
        assert_valid(definition, namespace[variable])
    return namespace


@pytest.mark.parametrize("name", ["convert_points", "close_tier_period", "buy_voucher"])
def test_core_example_runs(name: str) -> None:
    _run(name)


def test_service_example_runs(db_url: str) -> None:
    ns = _run("service", url=db_url)
    with ns["assemble"](ns["Settings"].from_env(database_url=db_url)) as service, service.reading() as tx:
        row = tx.one("SELECT settings FROM clubs WHERE id = ?", (ns["club"],))
        settings = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    assert_valid("ClubSettings", settings)


def test_every_key_of_the_service_answers_is_documented(db_url: str, open_service: Callable[..., Kimia]) -> None:
    """Receipts of a quote, hold, completion, cancellation, refund, reversal and a repeat: each key
    is in the schema's Receipt (which allows no other), and each answer validates."""
    from kimia.service import Admin, Kimia, PurchaseRequest

    with open_service(db_url, clock=lambda: 1_790_000_000) as service:
        admin = Admin(service)
        # Spending needs no cardholder proof here: the answers, not verification, are under test.
        club = admin.create_club(admin.create_owner("مالک"), "باشگاه", settings={"verification": {"redeem": [], "bind": []}})
        shop = admin.create_merchant(club, "فروشگاه")
        admin.publish_rules(club, {"rules": [
            {"id": "credit", "effects": [{"type": "credit", "kind": "merchant", "percent_bp": 1000}]}]}, actor="test")
        member = service.enroll(club, idem_key="e", identifiers=[("mobile", "09121234567")])["member_id"]
        # A closed period gives the member a tier, which purchase-like answers carry.
        admin.update_settings(club, {"tiers": {"tiers": [{"name": "bronze", "rise_at": 0, "stay_at": 0}]}}, actor="test")
        service.close_period(club, 1_789_999_000, actor="test")

        def sale(key: str, **fields: Any) -> PurchaseRequest:
            return PurchaseRequest(idem_key=key, merchant_id=shop, member=member, **{"amount_rial": 1_000_000, **fields})

        first = service.purchase(sale("s1", reference="123456789012", transmission="0509120000", local_time="120000"))
        answers = [
            first,
            service.purchase(sale("s1", reference="123456789012", transmission="0509120000", local_time="120000")),
            service.quote(sale("q")),
        ]
        held = service.hold(sale("h1", redeem_credit_rial=50_000))
        answers += [held, service.complete_hold(shop, held["hold_id"], idem_key="c1")]
        admin.update_settings(club, {"conversion": {"default": {"points": 10, "rial": 1_000}}}, actor="test")
        service.adjust(club, member, idem_key="g", account_kind="points", delta=500, actor="test", reason="points to redeem")
        other = service.hold(sale("h2", redeem_credit_rial=10_000, redeem_points=100))
        cancelled = service.cancel_hold(shop, other["hold_id"], idem_key="c2")
        answers += [service.refund(shop, idem_key="r1", op_id=first["op_id"], amount_rial=100_000),
                    service.refund(shop, idem_key="r2", op_id=first["op_id"])]
    assert answers[1]["replayed"] is True and answers[2]["status"] == "quote" and held["status"] == "held"
    for answer in answers:
        assert_valid("Receipt", answer)
    receipt_fields = DEFS["Receipt"]["properties"]
    assert set(cancelled) <= set(receipt_fields) and cancelled["status"] == "cancelled" and cancelled["points_returned"] == 100
    seen = set().union(*answers) | set(cancelled)
    service_only = {f for f, node in receipt_fields.items() if node.get("x-only") == "service"}
    assert service_only - seen == {"vouchers"}, "a service-only receipt field no answer here has"
