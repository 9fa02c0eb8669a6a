"""A club's rule sets as its back office manages them: validate a draft (every error at its path),
dry-run it on a sample purchase, backtest it over past purchases, list the versions and compare
two of them. Nothing here writes: ``Admin.publish_rules`` publishes a version, to take effect at
a time (``effective_from``); ``Caches.rulebook`` uses the newest whose time has come.

A rule set belongs to a root club (purchases anywhere in its tree use it). The service completes a
draft as ``Admin.publish_rules`` does before compiling it (:func:`complete_body`): the club's id,
its time zone, the version number, and the settlement shares and fee tariffs when absent.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kimia._core as core
from kimia.errors import KimiaError, RuleError, reject
from kimia.service import tenancy
from kimia.service.host import Host
from kimia.service.purchases import decide_purchase
from kimia.service.reports import BacktestColumns, BacktestSource, backtest_columns, backtest_source
from kimia.service.requests import PurchaseRequest, purchase_input, receipt_of, validate_purchase
from kimia.service.sql import Tx

#: At most this many errors are reported for one draft (each rule is compiled alone to find them).
MAX_ERRORS = 100
#: A version may take effect up to this long before it is published (the caller's clock may lag);
#: it then takes effect when it is published.
PAST_TOLERANCE_S = 300


def normalized(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a rule set read from JSON, with the member-group ids keying ``group_multipliers_bp``
    as integers again (JSON keys are strings; the core wants ids). Other keys are left for the
    core to refuse at their path."""
    body = copy.deepcopy(body)
    for rule in body.get("rules", []) if isinstance(body.get("rules"), list) else []:
        for effect in rule.get("effects", []) if isinstance(rule, dict) and isinstance(rule.get("effects"), list) else []:
            multipliers = effect.get("group_multipliers_bp") if isinstance(effect, dict) else None
            if isinstance(multipliers, dict):
                effect["group_multipliers_bp"] = {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in multipliers.items()}
    return body


def dotted(path: str | None) -> str | None:
    """The core's path (``rules[3].effects[0].percent_bp``) as the API writes one (``rules.3.effects.0.percent_bp``)."""
    return re.sub(r"\[(\d+)\]", r".\1", path) if path else path


def complete_body(body: dict[str, Any], *, club_id: int, version: int, utc_offset_min: int, club_settings: dict[str, Any],
                  fee_tariffs: list[dict[str, Any]]) -> dict[str, Any]:
    """``body`` as the service compiles and stores it: the club's id, version and time zone set, and
    the club's settlement shares with the platform's fee tariffs when the body has no settlement."""
    full = {**body, "club_id": club_id, "version": version, "utc_offset_min": utc_offset_min}
    if "settlement" not in body:
        settlement = dict(club_settings.get("settlement", {}))
        settlement["fee_tariffs"] = fee_tariffs
        full["settlement"] = settlement
    return full


@dataclass(frozen=True)
class ClubFacts:
    """What completing a draft of a club reads."""

    club_id: int
    utc_offset_min: int
    settings: dict[str, Any]
    fee_tariffs: list[dict[str, Any]]
    next_version: int


def _json(value: Any) -> Any:
    return value if isinstance(value, (dict, list)) or value is None else json.loads(value)


def club_facts(tx: Tx, club_id: int) -> ClubFacts:
    row = tx.one("SELECT utc_offset_min, settings FROM clubs WHERE id = ?", (club_id,))
    if row is None:
        raise reject("unknown_club")
    tariffs = [{"business_type": t[0], "percent_bp": int(t[1]), "fixed_rial": int(t[2]), "cap_rial": None if t[3] is None else int(t[3])}
               for t in tx.all("SELECT business_type, percent_bp, fixed_rial, cap_rial FROM fee_tariffs ORDER BY id")]
    top = tx.one("SELECT COALESCE(MAX(version), 0) FROM rule_sets WHERE club_id = ?", (club_id,))
    return ClubFacts(club_id, int(row[0]), _json(row[1]) or {}, tariffs, int(top[0]) + 1)


def completed(svc: Host, club_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """A draft completed as it would be published next (kimia.service.admin.Admin.publish_rules)."""
    with svc.reading() as tx:
        facts = club_facts(tx, club_id)
    return complete_body(body, club_id=club_id, version=facts.next_version, utc_offset_min=facts.utc_offset_min,
                         club_settings=facts.settings, fee_tariffs=facts.fee_tariffs)


# --- validate ------------------------------------------------------------------------------------


def compile_errors(full: dict[str, Any]) -> list[KimiaError]:
    """Every compile error of a completed rule set the core finds, each at its path.

    The core stops at its first error, so when the whole set fails, its own fields are compiled
    without rules, then each rule alone beside them (its path moved back to its place); an error
    only the whole shows (two rules with one id, too many rules) is kept as the core gave it."""
    try:
        core.Rulebook(full)
        return []
    except RuleError as whole:
        first = whole
    rules = full.get("rules")
    if not isinstance(rules, list) or first.code == "rule_too_many":
        return [first]  # nothing to find rule by rule
    found: list[KimiaError] = []
    try:
        core.Rulebook({**full, "rules": []})
    except RuleError as own:
        found.append(own)
    for i, rule in enumerate(rules):
        if len(found) >= MAX_ERRORS:
            break
        try:
            core.Rulebook({**full, "rules": [rule]})
        except RuleError as alone:
            if alone.path and alone.path.startswith("rules[0]"):
                found.append(_moved(alone, f"rules[{i}]" + alone.path[len("rules[0]"):]))
    if not any((e.code, e.path) == (first.code, first.path) for e in found):
        found.insert(0, first)
    return found


def _moved(error: KimiaError, path: str | None) -> KimiaError:
    """``error`` at another path (same class, code, messages and params)."""
    return type(error)(error.code, error.message_en, error.message_fa, path, error.params)


def reference_errors(svc: Host, club_id: int, body: dict[str, Any]) -> list[KimiaError]:
    """Every id the rule set names that is not the club's (nor shared with it), and every tier
    it names that the club does not have (once it has tiers)."""
    found: list[KimiaError] = []
    with svc.reading() as tx:
        for ref in tenancy.rule_refs(body):
            try:
                tenancy.check_refs(tx, club_id, [ref])
            except KimiaError as error:
                found.append(error)
            if len(found) >= MAX_ERRORS:
                return found
        facts = club_facts(tx, club_id)
    tiers = (facts.settings.get("tiers") or {}).get("tiers")
    if tiers:
        names = {str(t.get("name")) for t in tiers}
        found += [reject("foreign_reference", path=path, kind="tier", id=name)
                  for name, path in tenancy.rule_tiers(body) if name not in names]
    return found[:MAX_ERRORS]


def validate(svc: Host, club_id: int, body: dict[str, Any]) -> list[KimiaError]:
    """Every error of a draft rule set of ``club_id`` (none: it would publish), paths as the core
    gives them (``rules[0].effects[1].percent_bp``); ids and tiers are checked once it compiles."""
    body = normalized(body)
    errors = compile_errors(completed(svc, club_id, body))
    return errors or reference_errors(svc, club_id, body)


def compiled(svc: Host, club_id: int, body: dict[str, Any]) -> core.Rulebook:
    """A draft compiled as it would be published; its first error raised otherwise."""
    errors = validate(svc, club_id, body)
    if errors:
        raise errors[0]
    return core.Rulebook(completed(svc, club_id, normalized(body)))


# --- dry run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleMember:
    """A member made up for a dry run: only what rules can ask of a member without a history."""

    tier: str | None = None
    groups: tuple[int, ...] = ()
    purchase_count: int = 0


def dry_run(svc: Host, club_id: int, body: dict[str, Any], req: PurchaseRequest,
            sample: SampleMember | None = None, *, now: int | None = None) -> dict[str, Any]:
    """What ``req`` would get under the draft ``body`` (the receipt and the explanation of every
    rule), nothing written. The member is ``req.member`` as they are now, or ``sample`` (made up:
    no balances, no history). The merchant must be of the club's tree. ``now``: the moment the
    purchase is made at (default: now; the panel's builder tries a rule at another hour or day)."""
    book = compiled(svc, club_id, body)
    validate_purchase(req)
    now = svc.clock() if now is None else now
    with svc.reading() as tx:
        merchant = svc.caches.merchant(tx, req.merchant_id)
        if merchant.root_club_id != club_id or not merchant.active:
            raise reject("unknown_merchant", path="merchant_id")
        if sample is None:
            decision, snapshot, _, _ = decide_purchase(svc, tx, req, 0, now, book=book)
        else:
            snapshot = {"member_id": 0, "tier": sample.tier, "groups": list(sample.groups), "purchase_count": sample.purchase_count}
            decision = book.evaluate(purchase_input(merchant, req, 0, None), snapshot, now)
    return {**receipt_of(decision, snapshot, 0, "dry_run"), "explanation": decision.explanation,
            "credits": credits_of(decision.lots_created), "vouchers_issued": list(decision.vouchers_issued)}


def credits_of(lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The credit lots a decision creates (not its points): kind, rials, when they expire and
    become spendable (``member:7/club_credit@set:1`` is kind ``club``)."""
    out = []
    for lot in lots:
        kind = str(lot["account"]).split("/", 1)[-1].split("@", 1)[0]
        if kind == "points":
            continue
        out.append({"kind": kind.removesuffix("_credit"), "amount_rial": int(lot["remaining"]),
                    "expires_at": lot.get("expires_at"), "pending_until": lot.get("pending_until")})
    return out


# --- backtest ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    """A backtest's totals as ``Rulebook.backtest`` gives them, with what they were run on."""

    club_id: int
    version: int  # 0: a draft
    rule_count: int
    days: int
    result: dict[str, Any]
    merchant_names: dict[int, str]
    rule_names: dict[str, str]


def backtest_plan(svc: Host, club_id: int, *, days: int, body: dict[str, Any] | None = None) -> tuple[BacktestSource, core.Rulebook]:
    """What a backtest of the root club of ``club_id`` reads (and how many purchases), and the
    rule set it runs: the draft ``body``, else the version in effect now (``no_rules`` if none)."""
    now = svc.clock()
    with svc.reading() as tx:
        root = int(svc.caches.root_club(tx, club_id))
    if body is not None:
        book = compiled(svc, root, body)
        rule_set: tuple[int, dict[str, Any]] | None = (0, body)
    else:
        with svc.reading() as tx:
            book = svc.caches.rulebook(tx, root, now=now)
            row = tx.one("SELECT body FROM rule_sets WHERE club_id = ? AND version = ?", (root, book.version))
        if row is None:
            raise reject("no_rules", club=root)
        rule_set = (book.version, _json(row[0]))
    with svc.reading() as tx:
        source = backtest_source(tx, root, now - days * 86_400, rule_set)
    if source is None:
        raise reject("no_rules", club=root)
    return source, book


def run_backtest(svc: Host, source: BacktestSource, book: core.Rulebook, days: int,
                 progress: Callable[[int], Any] = lambda rows: None) -> Backtest:
    """Replay every purchase of ``source`` through ``book`` (see ``backtest_columns`` for what a
    purchase carries); ``progress(rows)`` as they are read."""
    with svc.reading() as tx:
        columns: BacktestColumns = backtest_columns(tx, source, progress=progress)
    result = book.backtest(**columns.arguments(source.tier_names))
    return Backtest(source.root, source.version, len(book), days, result, columns.merchant_names, source.rule_names())


def backtest(svc: Host, club_id: int, *, days: int, body: dict[str, Any] | None = None) -> Backtest:
    """Totals of a rule set (a draft, else the one in effect) over the club's last ``days`` days of purchases."""
    source, book = backtest_plan(svc, club_id, days=days, body=body)
    return run_backtest(svc, source, book, days)


# --- versions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    id: int
    version: int
    effective_from: int
    created_by: str
    created_at: int
    rule_count: int
    in_effect: bool


def versions(svc: Host, club_id: int, *, after_id: int, limit: int, version: int | None = None) -> list[Version]:
    """The club's rule set versions, oldest first, after the row ``after_id`` (only ``version``, if given)."""
    now = svc.clock()
    only, params = ("", ()) if version is None else (" AND version = ?", (version,))
    with svc.reading() as tx:
        current = svc.caches.rulebook(tx, club_id, now=now).version
        rows = tx.all("SELECT id, version, effective_from, created_by, created_at, body FROM rule_sets WHERE club_id = ? AND id > ?"
                      f"{only} ORDER BY id LIMIT ?", (club_id, after_id, *params, limit))
    return [Version(int(r[0]), int(r[1]), int(r[2]), str(r[3]), int(r[4]), len((_json(r[5]) or {}).get("rules", [])), int(r[1]) == current)
            for r in rows]


def version_body(svc: Host, club_id: int, version: int, path: str = "version") -> dict[str, Any]:
    """The stored body of one version of the club's rule set (``not_found`` if it has none such)."""
    with svc.reading() as tx:
        row = tx.one("SELECT body FROM rule_sets WHERE club_id = ? AND version = ?", (club_id, version))
    if row is None:
        raise reject("not_found", path=path)
    body: dict[str, Any] = _json(row[0])
    return body


@dataclass(frozen=True)
class Diff:
    added: list[str]
    removed: list[str]
    changed: list[str]
    #: The rule set's own fields (settlement, stacking groups, merchant sets, ...) that differ.
    fields_changed: list[str]


def diff(a: dict[str, Any], b: dict[str, Any]) -> Diff:
    """What changed from rule set ``a`` to ``b``: rules (by id) added, removed or changed, in
    ``b``'s order (removed: in ``a``'s), and the set's own fields that differ (not its version)."""
    rules_a = {str(r.get("id")): r for r in a.get("rules", []) if isinstance(r, dict)}
    rules_b = {str(r.get("id")): r for r in b.get("rules", []) if isinstance(r, dict)}
    fields = sorted(k for k in set(a) | set(b) if k not in ("rules", "version") and a.get(k) != b.get(k))
    return Diff(added=[i for i in rules_b if i not in rules_a], removed=[i for i in rules_a if i not in rules_b],
                changed=[i for i in rules_b if i in rules_a and rules_a[i] != rules_b[i]], fields_changed=fields)
