"""A club's rule sets (docs/rules.md): validate a draft, dry-run it on a sample purchase, backtest it,
publish it to take effect at a time, list the versions, read one, compare two.

A rule set is the root club's (every purchase in its tree uses it): a key of the root club manages
it; a sub-club's management key reads it. A draft is sent as ``rule_set`` (the JSON of
docs/rules.md); the service sets its ``club_id``, ``version`` and ``utc_offset_min`` itself. Errors
in a draft are answered at their path in the request (``rule_set.rules.0.effects.1.percent_bp``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from kimia.errors import KimiaError, reject
from kimia.service import rulesets
from kimia.service.admin import Admin
from kimia.service.requests import PurchaseRequest
from kimia.web.api.endpoint import Ctx, endpoint
from kimia.web.api.models import BasketLine, MemberRefIn, Model, Page, PageQuery, Rial, Stamp
from kimia.web.api.paging import after_id, next_cursor
from kimia.web.api.routes.purchases import ReceiptOut

MANAGERS = {"management"}
RULE_SET = Field(description="A rule set as docs/rules.md describes it; version and utc_offset_min are set by the service,"
                                 " and club_id, when given, must be the club's")


def at_body(error: KimiaError) -> KimiaError:
    """A draft's error at its path in the request (under ``rule_set``)."""
    path = rulesets.dotted(error.path)
    return type(error)(error.code, error.message_en, error.message_fa, f"rule_set.{path}" if path else "rule_set", error.params)


def rules_club(ctx: Ctx, *, write: bool = False) -> int:
    """The club whose rule set the caller manages: its root club; changing it takes a key of the root."""
    ctx.require("management", action="manage rule sets")
    root = ctx.root()
    if write and ctx.club_id != root:
        raise reject("forbidden", action="change the rule set of the parent club")
    return root


def draft(club: int, rule_set: dict[str, Any] | None) -> dict[str, Any] | None:
    """A draft of ``club``'s rule set: one naming another club (``club_id``) is refused, not moved over."""
    if rule_set is not None and "club_id" in rule_set and rule_set["club_id"] != club:
        raise reject("foreign_reference", path="rule_set.club_id", kind="club", id=rule_set["club_id"])
    return rule_set


def the_draft(club: int, rule_set: dict[str, Any]) -> dict[str, Any]:
    found = draft(club, rule_set)
    assert found is not None
    return found


# --- validate ------------------------------------------------------------------------------------


class RuleSetIn(Model):
    rule_set: dict[str, Any] = RULE_SET


class RuleErrorOut(Model):
    code: str = Field(description="A stable code from docs/errors.md")
    message_en: str
    message_fa: str
    path: str | None = Field(description="The offending field in the request, dotted (rule_set.rules.0.effects.1.percent_bp)")
    params: dict[str, str]


class ValidationOut(Model):
    ok: bool = Field(description="True when the rule set would publish as it is")
    errors: list[RuleErrorOut] = Field(description="Every error found (each rule is checked on its own), empty when ok")


def error_out(error: KimiaError) -> RuleErrorOut:
    moved = at_body(error)
    return RuleErrorOut(code=moved.code, message_en=moved.message_en, message_fa=moved.message_fa, path=moved.path,
                        params={k: str(v) for k, v in moved.params.items()})


@endpoint("POST", "/rules/validate", tag="rules", access=MANAGERS, body=RuleSetIn, answer=ValidationOut, idempotency="service")
def validate(ctx: Ctx, body: RuleSetIn) -> ValidationOut:
    """Check a draft rule set: every error, each with its code, its message in Persian and English and its path.

    The core stops at a rule set's first error, so each rule is also checked on its own: the answer
    lists the errors of every rule (at most 100). Ids the rules name (merchants, groups, lotteries,
    ...) must be the club's, and tiers the club's tiers; these are checked once the set compiles.
    Nothing is written, so nothing is kept under the Idempotency-Key (a retry checks again)."""
    club = rules_club(ctx)
    errors = rulesets.validate(ctx.svc, club, the_draft(club, body.rule_set))
    return ValidationOut(ok=not errors, errors=[error_out(e) for e in errors])


# --- dry run -------------------------------------------------------------------------------------


class SampleMemberIn(Model):
    """A made-up member: only a tier, member groups and a purchase count, no balances or history."""

    tier: str | None = Field(default=None, max_length=50)
    groups: list[int] = Field(default_factory=list, max_length=100, description="Member group ids")
    purchase_count: int = Field(default=0, ge=0, le=10**9, description="Purchases before this one")


class DryRunIn(Model):
    rule_set: dict[str, Any] = RULE_SET
    merchant_id: int = Field(ge=1)
    branch_id: int | None = Field(default=None, ge=1)
    member: MemberRefIn | None = Field(default=None, description="A real member, as they are now (or give sample_member)")
    sample_member: SampleMemberIn | None = Field(default=None, description="A made-up member (or give member)")
    amount_rial: Rial = Field(description="The whole purchase in rials, before any discount")
    basket: list[BasketLine] = Field(default_factory=list, max_length=500)
    payment_method: Literal["card", "cash", "mixed", "credit"] = "card"
    channel: Literal["pos", "pcpos", "app", "web", "api", "panel"] = "api"
    redeem_credit_rial: Rial = 0
    redeem_points: int = Field(default=0, ge=0, le=10**12)
    voucher_code: str | None = Field(default=None, max_length=64)


class DryRunOut(ReceiptOut):
    explanation: list[dict[str, Any]] = Field(default_factory=list, description="Every rule's outcome, as the core explains it")


@endpoint("POST", "/rules/dry-run", tag="rules", access=MANAGERS, body=DryRunIn, answer=DryRunOut, idempotency="service")
def dry_run(ctx: Ctx, body: DryRunIn) -> DryRunOut:
    """What a sample purchase would get under a draft rule set, with the explanation of every rule in Persian and English.

    The member is a real one of the club as they are now (``member``) or a made-up one
    (``sample_member``). Nothing is written, so nothing is kept under the Idempotency-Key."""
    club = rules_club(ctx)
    if (body.member is None) == (body.sample_member is None):
        raise reject("field_invalid", path="member", detail="give exactly one of member and sample_member")
    merchant_id = ctx.merchant(body.merchant_id)
    member: Any = body.member.model_dump() if body.member else {"kind": "id", "value": "0"}
    req = PurchaseRequest(idem_key="dry-run", merchant_id=merchant_id, member=member, amount_rial=body.amount_rial,
                          basket=[line.model_dump() for line in body.basket], payment_method=body.payment_method,
                          channel=body.channel, redeem_credit_rial=body.redeem_credit_rial, redeem_points=body.redeem_points,
                          voucher_code=body.voucher_code, branch_id=body.branch_id, actor=ctx.actor)
    sample = body.sample_member
    made_up = rulesets.SampleMember(sample.tier, tuple(sample.groups), sample.purchase_count) if sample else None
    rule_set = the_draft(club, body.rule_set)
    try:
        answer = rulesets.dry_run(ctx.svc, club, rule_set, req, made_up)
    except KimiaError as error:
        raise at_body(error) if error.code.startswith("rule_") or error.code == "foreign_reference" else error
    return DryRunOut.model_validate(answer)


# --- backtest ------------------------------------------------------------------------------------


class BacktestIn(Model):
    rule_set: dict[str, Any] | None = Field(default=None, description="A draft to run; null: the rule set in effect")
    days: int = Field(default=90, ge=1, le=365, description="How many days back to take purchases")


class BacktestTotals(Model):
    purchases: int
    with_reward: int
    rejected: int = Field(description="Purchases the core refused")
    amount_rial: int
    discount_rial: int
    payable_rial: int
    points_issued: int
    credit_issued_rial: int
    lottery_entries: int
    vouchers_issued: int


class FunderLine(Model):
    funder: str
    cost_rial: int
    points: int


class MerchantLine(Model):
    merchant_id: int
    name: str
    purchases: int
    amount_rial: int
    discount_rial: int
    points: int


class RuleLine(Model):
    rule_id: str
    name: str
    uses: int
    discount_rial: int
    points: int
    credit_rial: int


class BacktestOut(Model):
    club_id: int
    version: int = Field(description="The version run (0: the draft sent)")
    rule_count: int
    days: int
    totals: BacktestTotals
    funders: list[FunderLine]
    merchants: list[MerchantLine]
    rules: list[RuleLine] = Field(description="Most used first")


def backtest_out(run: rulesets.Backtest) -> BacktestOut:
    """The CLI's ``kimia backtest`` tables, as JSON."""
    r = run.result
    totals = BacktestTotals(**{name: int(r[name]) for name in BacktestTotals.model_fields})
    funders = sorted(set(r["cost_by_funder"]) | set(r["points_by_funder"]))
    return BacktestOut(
        club_id=run.club_id, version=run.version, rule_count=run.rule_count, days=run.days, totals=totals,
        funders=[FunderLine(funder=f, cost_rial=int(r["cost_by_funder"].get(f, 0)), points=int(r["points_by_funder"].get(f, 0)))
                 for f in funders],
        merchants=[MerchantLine(merchant_id=int(m), name=run.merchant_names.get(int(m), ""), purchases=int(t["purchases"]),
                                amount_rial=int(t["amount_rial"]), discount_rial=int(t["discount_rial"]), points=int(t["points"]))
                   for m, t in sorted(r["per_merchant"].items(), key=lambda kv: int(kv[0]))],
        rules=[RuleLine(rule_id=i, name=run.rule_names.get(i, ""), uses=int(t["uses"]), discount_rial=int(t["discount_rial"]),
                        points=int(t["points"]), credit_rial=int(t["credit_rial"]))
               for i, t in sorted(r["per_rule"].items(), key=lambda kv: (-int(kv[1]["uses"]), kv[0]))])


@endpoint("POST", "/rules/backtest", tag="rules", access=MANAGERS, body=BacktestIn, answer=BacktestOut)
def backtest(ctx: Ctx, body: BacktestIn) -> BacktestOut:
    """Run a rule set (a draft, or the one in effect) over the club's purchases of the last ``days`` days.

    The totals are those ``kimia backtest`` prints: each purchase is replayed with its merchant,
    merchant group, amount and time, the member's current tier and purchase count; rules on member
    groups, history, baskets, channels or sub-clubs do not fire here. Nothing is written; the
    answer is kept under the Idempotency-Key (a backtest may take a while)."""
    club = rules_club(ctx)
    rule_set = draft(club, body.rule_set)
    try:
        run = rulesets.backtest(ctx.svc, club, days=body.days, body=rule_set)
    except KimiaError as error:
        raise at_body(error) if error.code.startswith("rule_") or error.code == "foreign_reference" else error
    return backtest_out(run)


# --- publish and versions ------------------------------------------------------------------------


class PublishIn(Model):
    rule_set: dict[str, Any] = RULE_SET
    effective_from: str | None = Field(default=None, max_length=40, description=(
        "ISO 8601 with its UTC offset (2026-12-07T00:00:00+03:30): when the version takes effect; default now"))
    reason: str = Field(default="", max_length=500, description="Why, for the audit log")


class VersionOut(Model):
    version: int
    effective: Stamp = Field(description="When the version takes (or took) effect")
    in_effect: bool = Field(description="The version purchases use now")
    created_by: str
    created: Stamp
    rule_count: int


class VersionBodyOut(VersionOut):
    rule_set: dict[str, Any] = Field(description="The rule set as stored (completed by the service)")


class DiffOut(Model):
    a: int
    b: int
    added: list[str] = Field(description="Ids of rules in b and not in a")
    removed: list[str] = Field(description="Ids of rules in a and not in b")
    changed: list[str] = Field(description="Ids of rules in both that differ")
    fields_changed: list[str] = Field(description="The rule set's own fields that differ (settlement, stacking_groups, ...)")


def parse_time(text: str, path: str) -> int:
    """An ISO 8601 time with its UTC offset as Unix seconds (``field_invalid`` otherwise)."""
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise reject("field_invalid", path=path, detail="an ISO 8601 time such as 2026-12-07T00:00:00+03:30") from None
    if at.tzinfo is None:
        raise reject("field_invalid", path=path, detail="the time needs its UTC offset (+03:30)")
    return int(at.timestamp())


def version_out(ctx: Ctx, v: rulesets.Version) -> VersionOut:
    return VersionOut(version=v.version, effective=ctx.stamp(v.effective_from), in_effect=v.in_effect, created_by=v.created_by,
                      created=ctx.stamp(v.created_at), rule_count=v.rule_count)


def _version(ctx: Ctx, club: int, version: int) -> rulesets.Version:
    found = rulesets.versions(ctx.svc, club, after_id=0, limit=1, version=version)
    if not found:
        raise reject("not_found", path="version")
    return found[0]


@endpoint("POST", "/rules", tag="rules", access=MANAGERS, body=PublishIn, answer=VersionOut, status=201)
def publish(ctx: Ctx, body: PublishIn) -> VersionOut:
    """Publish a new version of the club's rule set, to take effect at ``effective_from`` (default: now).

    A version with a later effective time is stored and listed but not used until its time; from
    then on every purchase uses it. The newest version whose time has come is the one in effect (a
    version published later with an earlier time supersedes one still waiting). A time more than
    five minutes in the past is refused. Refused with the draft's first error at its path."""
    club = rules_club(ctx, write=True)
    effective = parse_time(body.effective_from, "effective_from") if body.effective_from else None
    rule_set = the_draft(club, body.rule_set)
    try:
        version = Admin(ctx.svc).publish_rules(club, rulesets.normalized(rule_set), actor=ctx.actor, reason=body.reason,
                                               effective_from=effective)
    except KimiaError as error:
        raise at_body(error) if error.path and error.path != "effective_from" else error
    return version_out(ctx, _version(ctx, club, version))


@endpoint("GET", "/rules/versions", tag="rules", access=MANAGERS, query=PageQuery, answer=Page[VersionOut])
def versions(ctx: Ctx, query: PageQuery) -> Page[VersionOut]:
    """The versions of the club's rule set, oldest first: when each takes effect, who published it, how many rules."""
    rows = rulesets.versions(ctx.svc, rules_club(ctx), after_id=after_id(query.cursor), limit=query.limit)
    return Page[VersionOut](items=[version_out(ctx, v) for v in rows], next_cursor=next_cursor(rows, query.limit, lambda v: v.id))


@endpoint("GET", "/rules/versions/<int:version>", tag="rules", access=MANAGERS, answer=VersionBodyOut)
def version(ctx: Ctx, version: int) -> VersionBodyOut:
    """One version of the club's rule set, with its body as stored."""
    club = rules_club(ctx)
    found = _version(ctx, club, version)
    return VersionBodyOut(**version_out(ctx, found).model_dump(), rule_set=rulesets.version_body(ctx.svc, club, version))


@endpoint("GET", "/rules/versions/<int:a>/diff/<int:b>", tag="rules", access=MANAGERS, answer=DiffOut)
def diff(ctx: Ctx, a: int, b: int) -> DiffOut:
    """What changed from version ``a`` to version ``b``: rules added, removed and changed (by id), and the set's own fields."""
    club = rules_club(ctx)
    change = rulesets.diff(rulesets.version_body(ctx.svc, club, a, path="a"), rulesets.version_body(ctx.svc, club, b, path="b"))
    return DiffOut(a=a, b=b, added=change.added, removed=change.removed, changed=change.changed, fields_changed=change.fields_changed)
