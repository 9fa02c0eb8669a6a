"""The rules builder's form: a rule set (docs/rules.md) as form fields and back.

Every input is named by the dotted path of its value in the rule set's JSON
(``rules.0.effects.1.percent_bp``), the same path the API gives a draft's errors at (without its
``rule_set.`` prefix), so an error lands at its input. :data:`RULE_SET` describes every object the
rule language has; :func:`read` turns a posted form into the rule set, :func:`nodes` the rule set
into what the template draws (fields and groups, each with its path, value and error).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kimia.web.panel import fmt

WEEKDAYS = ("sat", "sun", "mon", "tue", "wed", "thu", "fri")
CREDIT_KINDS = ("merchant", "club", "virtual", "cashback", "gift", "welfare")
CHANNELS = ("pos", "pcpos", "app", "web", "api", "panel")
METHODS = ("card", "cash", "mixed", "credit")


@dataclass(frozen=True)
class F:
    """A field. Kinds: ``int`` (a whole number; rials may be typed with separators), ``str``,
    ``ints``/``strs`` (a list, written comma-separated), ``enum`` (one of ``options``), ``enums``
    (any of ``options``), ``bool`` (yes/no), ``map`` (``name=value, ...``), ``instant`` (a Jalali
    date and time, Unix seconds in the JSON), ``null_str`` (a string, or null when empty)."""

    name: str
    kind: str
    options: tuple[str, ...] = ()
    #: A required list is written ``[]`` when empty; other empty fields are left out.
    required: bool = False
    hint: str = ""


@dataclass(frozen=True)
class Obj:
    """An object: its fields, nested objects (``subs``) and lists (``lists``)."""

    fields: tuple[F, ...] = ()
    subs: tuple[tuple[str, Obj], ...] = ()
    #: (name, item): item is an Obj, or "condition" / "effect" (chosen by their type).
    lists: tuple[tuple[str, Any], ...] = ()


def _range(*before: F) -> tuple[F, ...]:
    return (*before, F("min", "int"), F("max", "int"))


IDS = (F("ids", "ints", required=True, hint="rules.hint.ids"),)
CONDITIONS: dict[str, tuple[F, ...]] = {
    "merchant": IDS, "merchant_group": IDS, "branch": IDS, "club": IDS,
    "goods": (F("ids", "strs", required=True, hint="rules.hint.strs"),),
    "goods_group": (F("ids", "strs", required=True, hint="rules.hint.strs"),),
    "member_group": IDS,
    "tier": (F("names", "strs", required=True, hint="rules.hint.strs"),),
    "days_since_last_purchase": _range(),
    "spend_in_window": _range(F("days", "int")),
    "purchases_in_window": _range(F("days", "int")),
    "points_held": _range(),
    "date_range": (F("from", "str", hint="rules.hint.date"), F("to", "str", hint="rules.hint.date"),
                   F("calendar", "enum", ("gregorian", "jalali"))),
    "hour_range": (F("from", "str", hint="rules.hint.hour"), F("to", "str", hint="rules.hint.hour")),
    "weekdays": (F("days", "enums", WEEKDAYS, required=True),),
    "amount": _range(),
    "nth_purchase": (F("n", "int"), F("at_merchant", "bool")),
    "first_purchase": (),
    "payment_method": (F("methods", "enums", METHODS, required=True), F("credit_kinds", "enums", (*CREDIT_KINDS, "credit_line"))),
    "channel": (F("channels", "enums", CHANNELS, required=True),),
    "all": (), "any": (), "not": (),
}
COMBINATORS = ("all", "any", "not")

_AMOUNT = (F("percent_bp", "int", hint="rules.hint.bp"), F("fixed_rial", "int"), F("cap_rial", "int"))
_RATE = (F("per_rial", "int"), F("points", "int"), F("fixed", "int"))
EFFECTS: dict[str, tuple[F, ...]] = {
    "discount": _AMOUNT,
    "points": (*_RATE, F("rounding", "enum", ("floor", "half_up", "ceil")),
               F("tier_multipliers_bp", "map", hint="rules.hint.tier_map"), F("group_multipliers_bp", "map", hint="rules.hint.group_map"),
               F("expires_days", "int"), F("pending_days", "int")),
    "credit": (F("kind", "enum", CREDIT_KINDS, required=True), *_AMOUNT, F("spendable_at", "int"), F("expires_days", "int"),
               F("pending_days", "int")),
    "lottery": (F("lottery_id", "int"), F("per_rial", "int"), F("entries", "int"), F("fixed", "int")),
    "voucher": (F("template_id", "int"),),
    "referral": _RATE,
    "credit_spend_discount": (*_AMOUNT, F("credit_kinds", "enums", (*CREDIT_KINDS, "credit_line"))),
}

NAME = Obj(fields=(F("fa", "str"), F("en", "str")))
SCOPE = Obj(fields=(F("clubs", "ints", hint="rules.hint.ids"), F("merchant_groups", "ints", hint="rules.hint.ids"),
                    F("merchants", "ints", hint="rules.hint.ids"), F("branches", "ints", hint="rules.hint.ids")))
FUNDERS = ("merchant", "club_owner", "platform", "marketer")
FUNDING = Obj(fields=tuple(F(f, "int", hint="rules.hint.bp") for f in FUNDERS))
BUDGET = Obj(fields=(F("per", "enum", ("rule", "member", "merchant"), required=True),
                     F("period", "enum", ("day", "month", "total"), required=True),
                     F("limit_rial", "int"), F("limit_count", "int"), F("fill", "enum", ("partial", "all_or_nothing"))))
RULE = Obj(
    fields=(F("id", "str"), F("enabled", "bool"), F("priority", "int"), F("stacking_group", "str"),
            F("valid_from", "instant", hint="rules.hint.instant"), F("valid_to", "instant", hint="rules.hint.instant")),
    subs=(("name", NAME), ("scope", SCOPE), ("funding", FUNDING)),
    lists=(("conditions", "condition"), ("effects", "effect"), ("budgets", BUDGET)))
STACKING_GROUP = Obj(fields=(F("name", "str"), F("mode", "enum", ("stackable", "exclusive", "first_match"), required=True)))
MERCHANT_SET = Obj(fields=(F("id", "int"), F("merchants", "ints", hint="rules.hint.ids"), F("merchant_groups", "ints", hint="rules.hint.ids")),
                   subs=(("name", NAME),))
FEE_TARIFF = Obj(fields=(F("business_type", "null_str"), F("percent_bp", "int", hint="rules.hint.bp"), F("fixed_rial", "int"),
                         F("cap_rial", "int")))
SETTLEMENT = Obj(fields=(F("club_owner_bp", "int", hint="rules.hint.bp"), F("marketer_bp", "int", hint="rules.hint.bp"),
                         F("merchant_marketer_bp", "int", hint="rules.hint.bp")),
                 lists=(("fee_tariffs", FEE_TARIFF),))
RULE_SET = Obj(fields=(F("point_value_rial", "int"),),
               subs=(("settlement", SETTLEMENT),),
               lists=(("stacking_groups", STACKING_GROUP), ("merchant_sets", MERCHANT_SET), ("rules", RULE)))
#: What the service sets itself (left out of a draft).
SERVICE_FIELDS = ("club_id", "version", "utc_offset_min")


def new_item(item: Any, kind: str = "") -> dict[str, Any]:
    """A fresh list item: a condition or effect of ``kind``, a rule, or an empty object."""
    if item == "condition":
        found = kind if kind in CONDITIONS else "amount"
        return {"type": found, "of": [] if found in ("all", "any") else {"type": "amount"}} if found in COMBINATORS else {"type": found}
    if item == "effect":
        return {"type": kind if kind in EFFECTS else "discount"}
    if item is RULE:
        return {"id": "", "name": {"fa": "", "en": ""}, "effects": [{"type": "discount"}]}
    if item is BUDGET:
        return {"per": "rule", "period": "month"}
    if item is STACKING_GROUP:
        return {"name": "", "mode": "stackable"}
    return {}


# --- form -> rule set ------------------------------------------------------------------------------


@dataclass
class Reading:
    """A form read: the rule set, and the fields that could not be read (path -> words key)."""

    form: Mapping[str, str]
    lists: Mapping[str, list[str]]
    utc_offset_min: int
    #: ``add:<list path>`` or ``remove:<item path>``, from the pressed button.
    action: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, path: str) -> str:
        return str(self.form.get(path, "")).strip()


def _number(text: str) -> int:
    cleaned = fmt.latin_digits(text).replace(",", "").replace("٬", "").replace("_", "").replace(" ", "")
    if not cleaned.lstrip("-").isdigit():
        raise ValueError(text)
    return int(cleaned)


def _split(text: str) -> list[str]:
    return [p.strip() for p in fmt.latin_digits(text).replace("،", ",").replace("\n", ",").split(",") if p.strip()]


def parse_instant(text: str, utc_offset_min: int) -> int:
    """``1405/09/15 14:30`` (or without the time: midnight) in the club's time zone, as Unix seconds."""
    parts = fmt.latin_digits(text).split()
    day = fmt.parse_jdate(parts[0]) if parts else fmt.parse_jdate("")
    hour, minute = 0, 0
    if len(parts) > 1:
        hm = parts[1].split(":")
        if len(hm) != 2 or not all(p.isdigit() for p in hm) or not (0 <= int(hm[0]) < 24 and 0 <= int(hm[1]) < 60):
            raise ValueError(text)
        hour, minute = int(hm[0]), int(hm[1])
    if len(parts) > 2:
        raise ValueError(text)
    return fmt.day_start(day, utc_offset_min) + hour * 3600 + minute * 60


def show_instant(ts: int, utc_offset_min: int, lang: str) -> str:
    local = fmt.local_time(ts, utc_offset_min)
    y, m, d = fmt.jalali(local.date())
    return fmt.digits(f"{y:04d}/{m:02d}/{d:02d} {local.hour:02d}:{local.minute:02d}", lang)


def _read_field(r: Reading, path: str, f: F, out: dict[str, Any]) -> None:
    if f.kind == "enums":
        chosen = [o for o in r.lists.get(path, []) if o in f.options]
        if chosen or f.required:
            out[f.name] = chosen
        return
    text = r.get(path)
    if f.kind == "null_str":
        out[f.name] = text or None
        return
    if not text:
        if f.kind in ("ints", "strs") and f.required:
            out[f.name] = []
        return
    try:
        if f.kind == "int":
            out[f.name] = _number(text)
        elif f.kind == "str":
            out[f.name] = text
        elif f.kind == "ints":
            out[f.name] = [_number(p) for p in _split(text)]
        elif f.kind == "strs":
            out[f.name] = _split(text)
        elif f.kind == "enum":
            if text not in f.options:
                raise ValueError(text)
            out[f.name] = text
        elif f.kind == "bool":
            if text not in ("true", "false"):
                raise ValueError(text)
            out[f.name] = text == "true"
        elif f.kind == "map":
            pairs = [p.split("=", 1) for p in _split(text)]
            if any(len(p) != 2 or not p[0].strip() for p in pairs):
                raise ValueError(text)
            out[f.name] = {k.strip(): _number(v) for k, v in pairs}
        elif f.kind == "instant":
            out[f.name] = parse_instant(text, r.utc_offset_min)
    except (ValueError, Exception):  # noqa: BLE001 - any unreadable value is shown at its field
        r.errors[path] = f"rules.bad.{f.kind}"


def _indices(r: Reading, prefix: str) -> list[int]:
    """The items of the list at ``prefix`` the form has (by their ``<prefix>.<i>.`` fields)."""
    found = set()
    start = prefix + "."
    for key in [*r.form.keys(), *r.lists.keys()]:
        if key.startswith(start):
            head = key[len(start):].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def _read_list(r: Reading, path: str, item: Any) -> list[Any]:
    items = []
    for i in _indices(r, path):
        at = f"{path}.{i}"
        if r.action == f"remove:{at}":
            continue
        items.append(_read_item(r, at, item))
    if r.action == f"add:{path}":
        items.append(new_item(item, r.get(f"new.{path}")))
    return items


def _read_item(r: Reading, path: str, item: Any) -> dict[str, Any]:
    if item == "condition":
        return read_condition(r, path)
    if item == "effect":
        kind = r.get(f"{path}.type")
        out: dict[str, Any] = {"type": kind}
        for f in EFFECTS.get(kind, ()):
            _read_field(r, f"{path}.{f.name}", f, out)
        return out
    return read_obj(r, path, item)


def read_condition(r: Reading, path: str) -> dict[str, Any]:
    kind = r.get(f"{path}.type")
    out: dict[str, Any] = {"type": kind}
    if kind in ("all", "any"):
        out["of"] = _read_list(r, f"{path}.of", "condition")
    elif kind == "not":
        out["of"] = read_condition(r, f"{path}.of") if r.get(f"{path}.of.type") else {"type": "amount"}
    for f in CONDITIONS.get(kind, ()):
        _read_field(r, f"{path}.{f.name}", f, out)
    return out


def read_obj(r: Reading, path: str, spec: Obj) -> dict[str, Any]:
    at = (lambda name: f"{path}.{name}") if path else (lambda name: name)
    out: dict[str, Any] = {}
    for f in spec.fields:
        _read_field(r, at(f.name), f, out)
    for name, sub in spec.subs:
        value = read_obj(r, at(name), sub)
        if value:
            out[name] = value
    for name, item in spec.lists:
        items = _read_list(r, at(name), item)
        if items or (name == "effects" and spec is RULE):
            out[name] = items
    return out


def read(form: Mapping[str, str], lists: Mapping[str, list[str]], *, utc_offset_min: int, action: str = "") -> Reading:
    """Read the posted form (``lists``: every name's values, for check boxes); ``reading.rule_set``."""
    return Reading(form, lists, utc_offset_min, action)


def rule_set_of(r: Reading) -> dict[str, Any]:
    return read_obj(r, "", RULE_SET)


def draft_of(body: dict[str, Any]) -> dict[str, Any]:
    """A stored rule set as a draft: without what the service sets itself."""
    return {k: v for k, v in body.items() if k not in SERVICE_FIELDS}


def to_json(rule_set: dict[str, Any]) -> str:
    return json.dumps(rule_set, ensure_ascii=False, indent=2)


# --- rule set -> what the template draws ---------------------------------------------------------


@dataclass
class Node:
    """A field (``kind`` of :class:`F`) or a group (``kind`` "group"/"condition"/"effect"/"list")."""

    kind: str
    path: str
    name: str
    value: Any = ""
    options: tuple[str, ...] = ()
    hint: str = ""
    error: str = ""
    children: list[Node] = field(default_factory=list)
    #: For a list: what a new item may be (condition or effect types), "" for a plain object.
    item: str = ""
    removable: bool = False
    #: Something under it has a value or an error (a folded part opens when it has).
    filled: bool = False

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)


def _text(f: F, value: Any, utc_offset_min: int, lang: str) -> Any:
    if value is None:
        return ""
    if f.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return fmt.digits(value, lang)
    if f.kind == "ints" and isinstance(value, list):
        return fmt.digits(", ".join(str(v) for v in value), lang)
    if f.kind in ("ints", "strs"):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
    if f.kind == "map":
        return ", ".join(f"{k}={fmt.digits(v, lang)}" for k, v in value.items()) if isinstance(value, dict) else json.dumps(value)
    if f.kind == "bool":
        return "true" if value is True else "false" if value is False else str(value)
    if f.kind == "enums":
        return list(value) if isinstance(value, list) else []
    if f.kind == "instant" and isinstance(value, int) and not isinstance(value, bool):
        return show_instant(value, utc_offset_min, lang)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass
class Drawing:
    utc_offset_min: int
    lang: str
    errors: dict[str, str]
    paths: set[str] = field(default_factory=set)

    def leaf(self, f: F, path: str, obj: Mapping[str, Any]) -> Node:
        self.paths.add(path)
        return Node(f.kind, path, f.name, _text(f, obj.get(f.name), self.utc_offset_min, self.lang), f.options, f.hint)

    def group(self, kind: str, path: str, name: str, **kw: Any) -> Node:
        self.paths.add(path)
        return Node(kind, path, name, **kw)


def _draw_obj(d: Drawing, path: str, spec: Obj, obj: Mapping[str, Any], node: Node) -> Node:
    at = (lambda name: f"{path}.{name}") if path else (lambda name: name)
    node.children += [d.leaf(f, at(f.name), obj) for f in spec.fields]
    for name, sub in spec.subs:
        value = obj.get(name)
        node.children.append(_draw_obj(d, at(name), sub, value if isinstance(value, dict) else {}, d.group("group", at(name), name)))
    for name, item in spec.lists:
        node.children.append(_draw_list(d, at(name), name, item, obj.get(name)))
    return node


def _draw_list(d: Drawing, path: str, name: str, item: Any, value: Any) -> Node:
    kinds = "condition" if item == "condition" else "effect" if item == "effect" else ""
    node = d.group("list", path, name, item=kinds,
                   options=tuple(CONDITIONS) if item == "condition" else tuple(EFFECTS) if item == "effect" else ())
    for i, one in enumerate(value if isinstance(value, list) else []):
        node.children.append(_draw_item(d, f"{path}.{i}", item, one if isinstance(one, dict) else {}))
    return node


def _draw_item(d: Drawing, path: str, item: Any, obj: Mapping[str, Any]) -> Node:
    if item == "condition":
        return draw_condition(d, path, obj)
    if item == "effect":
        kind = str(obj.get("type", ""))
        node = d.group("effect", path, kind, value=kind, options=tuple(EFFECTS), removable=True)
        node.children = [d.leaf(f, f"{path}.{f.name}", obj) for f in EFFECTS.get(kind, ())]
        d.paths.add(f"{path}.type")
        return node
    name = "rule" if item is RULE else "item"
    return _draw_obj(d, path, item, obj, d.group("group", path, name, removable=True))


def draw_condition(d: Drawing, path: str, obj: Mapping[str, Any], removable: bool = True) -> Node:
    kind = str(obj.get("type", ""))
    node = d.group("condition", path, kind, value=kind, options=tuple(CONDITIONS), removable=removable)
    d.paths.add(f"{path}.type")
    if kind in ("all", "any"):
        node.children.append(_draw_list(d, f"{path}.of", "of", "condition", obj.get("of")))
    elif kind == "not":
        inner = obj.get("of")
        node.children.append(draw_condition(d, f"{path}.of", inner if isinstance(inner, dict) else {"type": "amount"}, removable=False))
    node.children += [d.leaf(f, f"{path}.{f.name}", obj) for f in CONDITIONS.get(kind, ())]
    return node


def place(errors: Mapping[str, str], paths: set[str]) -> dict[str, str]:
    """Each error at its field, or at the nearest group drawn around it ("" for the whole form)."""
    placed: dict[str, str] = {}
    for path, message in errors.items():
        at = path
        while at and at not in paths:
            at = at.rsplit(".", 1)[0] if "." in at else ""
        placed[at] = f"{placed[at]} {message}".strip() if at in placed else message
    return placed


def nodes(rule_set: Mapping[str, Any], errors: Mapping[str, str], *, utc_offset_min: int, lang: str) -> tuple[Node, dict[str, str]]:
    """The rule set as the template draws it, and the errors placed at what is drawn."""
    d = Drawing(utc_offset_min, lang, dict(errors))
    root = _draw_obj(d, "", RULE_SET, rule_set, Node("group", "", "rule_set"))
    placed = place(errors, d.paths)

    def mark(node: Node) -> bool:
        node.error = placed.get(node.path, "") if node.path else ""
        below = [mark(child) for child in node.children]
        node.filled = bool(node.error) or any(below) or (node.kind not in ("group", "list", "condition", "effect") and bool(node.value))
        return node.filled

    mark(root)
    return root, placed


def labels() -> set[str]:
    """Every field name, condition and effect type and option the form shows (each has words)."""
    found: set[str] = set(CONDITIONS) | set(EFFECTS)
    objs = [RULE_SET]
    while objs:
        o = objs.pop()
        found |= {f.name for f in o.fields} | {n for n, _ in o.subs} | {n for n, _ in o.lists}
        for f in o.fields:
            found |= set(f.options)
        objs += [s for _, s in o.subs] + [i for _, i in o.lists if isinstance(i, Obj)]
    for fs in [*CONDITIONS.values(), *EFFECTS.values()]:
        found |= {f.name for f in fs} | {o for f in fs for o in f.options}
    return found


def today_text(utc_offset_min: int, now: int, lang: str) -> tuple[str, str]:
    """Now in the club's time zone as the publish form's date and time fields show it."""
    local = fmt.local_time(now, utc_offset_min)
    y, m, d = fmt.jalali(local.date())
    return fmt.digits(f"{y:04d}/{m:02d}/{d:02d}", lang), fmt.digits(f"{local.hour:02d}:{local.minute:02d}", lang)


def local_midnight(day: dt.date, utc_offset_min: int) -> int:
    return fmt.day_start(day, utc_offset_min)
