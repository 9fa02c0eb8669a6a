//! Evaluate one purchase against a compiled rulebook: the whole decision, exact and explained.
//!
//! Order of work: validate the purchase → visit candidate rules (index) → scope, validity,
//! conditions → what each rule would give → budgets → stacking → discount, voucher, credit spent,
//! credit-spend discounts → postings, lots, split, counters. No I/O, no clock.

use crate::account::{AccountKey, Kind, Owner, Scope};
use crate::calendar::{self, Local};
use crate::errors::CoreError;
use std::sync::Arc;

use crate::model::{
    draw_lots, BudgetUse, CounterDelta, Decision, DecisionKind, Explain, Funder, Lot, LotUse, LotteryEntry, MemberSnapshot, PaymentMethod,
    Purchase, VoucherIssue, MAX_AMOUNT,
};
use crate::money::{mul_div, percent_bp, split_into, Rounding, BP_ONE, MAX_SPLIT_PARTS};
use crate::rules::compile::{CompiledRule, Cond, Rulebook};
use crate::rules::compile::spent_mask;
use crate::rules::spec::{BudgetFill, BudgetPer, BudgetPeriod, CreditKind, Effect, SpentCredit, StackingMode};
use crate::split::split_payment;

/// Facts about the purchase and member, computed once per evaluation.
struct Ctx<'a> {
    p: &'a Purchase,
    s: &'a MemberSnapshot,
    local: Local,
    points: i64,
    /// The credit kinds the purchase redeems (`spent_mask` bits): what pays "with credit".
    redeemed: u8,
}

/// A credit a rule grants: kind, merchant set, amount, expiry days, pending days.
type CreditGrant = (CreditKind, Option<i64>, i64, Option<i64>, Option<i64>);


/// What one rule would give.
#[derive(Default)]
struct Grant {
    discount: i64,
    credits: Vec<CreditGrant>,
    /// Points of each points effect, with that effect's expiry and pending days (one lot each).
    points: Vec<(i64, Option<i64>, Option<i64>)>,
    /// The most a credit-spend discount could give (on the credit the member asked to spend), so a
    /// rial budget covers it before it is known exactly.
    spend_discount_max: i64,
    lottery: Vec<(i64, i64)>,
    vouchers: Vec<i64>,
    referral_points: i64,
    has_spend_discount: bool,
}

impl Grant {
    fn credit_total(&self) -> i64 {
        self.credits.iter().map(|c| c.2).sum()
    }

    fn points_total(&self) -> i64 {
        self.points.iter().map(|p| p.0).sum()
    }

    fn is_empty(&self) -> bool {
        self.discount == 0
            && self.credit_total() == 0
            && self.points_total() == 0
            && self.lottery.iter().all(|l| l.1 == 0)
            && self.vouchers.is_empty()
            && self.referral_points == 0
            && !self.has_spend_discount
    }

    /// Rial value to the member, used to pick the best rule and to cost budgets.
    fn value(&self, point_value_rial: i64) -> i64 {
        self.discount + self.credit_total() + (self.points_total() + self.referral_points).saturating_mul(point_value_rial)
    }

    /// The most this grant can cost once credit-spend discounts are known (for rial budgets).
    fn max_cost(&self, point_value_rial: i64) -> i64 {
        self.value(point_value_rial) + self.spend_discount_max
    }

    /// Scale the costed parts down by `room / value`, each floored, so the grant costs at most
    /// `room`; lottery entries and vouchers cost nothing and stay whole.
    fn scale(&mut self, room: i64, value: i64) {
        let part = |x: i64| mul_div(x, room, value, Rounding::Floor);
        self.discount = part(self.discount);
        for c in &mut self.credits {
            c.2 = part(c.2);
        }
        for p in &mut self.points {
            p.0 = part(p.0);
        }
        self.referral_points = part(self.referral_points);
    }
}

fn contains<T: Ord>(sorted: &[T], item: &T) -> bool {
    sorted.binary_search(item).is_ok()
}

fn window(ctx: &Ctx<'_>, days: i64) -> (i64, i64) {
    let first_day = ctx.local.day - days + 1;
    ctx.s.history.iter().filter(|d| d.day >= first_day && d.day <= ctx.local.day).fold((0, 0), |(c, s), d| (c + d.count, s + d.spend_rial))
}

fn holds(c: &Cond, ctx: &Ctx<'_>, utc_offset_min: i32) -> bool {
    let p = ctx.p;
    match c {
        Cond::Merchant(ids) => contains(ids, &p.merchant_id),
        Cond::MerchantGroup(ids) => p.merchant_groups.iter().any(|g| contains(ids, g)),
        Cond::Branch(ids) => p.branch_id.is_some_and(|b| contains(ids, &b)),
        Cond::Club(ids) => contains(ids, &p.club_id) || p.club_path.iter().any(|c| contains(ids, c)),
        Cond::Goods(ids) => p.basket.iter().any(|l| contains(ids, &l.goods_id)),
        Cond::GoodsGroup(ids) => p.basket.iter().any(|l| contains(ids, &l.group)),
        Cond::MemberGroup(ids) => ctx.s.groups.iter().any(|g| contains(ids, g)),
        Cond::Tier(names) => ctx.s.tier.as_ref().is_some_and(|t| contains(names, t)),
        Cond::DaysSince(range) => {
            ctx.s.last_purchase_at.is_some_and(|last| range.contains(ctx.local.day - calendar::local(last, utc_offset_min).day))
        }
        Cond::Spend { days, range } => range.contains(window(ctx, *days).1),
        Cond::Count { days, range } => range.contains(window(ctx, *days).0),
        Cond::PointsHeld(range) => range.contains(ctx.points),
        Cond::Dates { from_day, to_day } => {
            from_day.is_none_or(|f| ctx.local.day >= f) && to_day.is_none_or(|t| ctx.local.day <= t)
        }
        Cond::Hours { from_s, to_s } => {
            let t = ctx.local.second_of_day;
            match from_s.cmp(to_s) {
                std::cmp::Ordering::Less => t >= *from_s && t < *to_s,
                std::cmp::Ordering::Greater => t >= *from_s || t < *to_s,
                std::cmp::Ordering::Equal => true,
            }
        }
        Cond::Weekdays(mask) => mask & (1 << ctx.local.weekday) != 0,
        Cond::Amount(range) => range.contains(p.amount_rial),
        Cond::Nth { n, at_merchant } => {
            let number = if *at_merchant { ctx.s.merchant_purchase_count } else { ctx.s.purchase_count } + 1;
            number % n == 0
        }
        Cond::First => ctx.s.purchase_count == 0,
        Cond::Payment { methods, credit_kinds } => methods.iter().any(|m| match m {
            // Paying with credit is a fact of the purchase, not something the caller declares.
            PaymentMethod::Credit => ctx.redeemed & credit_kinds != 0,
            other => *other == p.payment_method,
        }),
        Cond::Channel(channels) => channels.contains(&p.channel),
        Cond::All(list) => list.iter().all(|c| holds(c, ctx, utc_offset_min)),
        Cond::Any(list) => list.iter().any(|c| holds(c, ctx, utc_offset_min)),
        Cond::Not(inner) => !holds(inner, ctx, utc_offset_min),
    }
}

fn in_scope(rule: &CompiledRule, p: &Purchase) -> bool {
    let s = &rule.scope;
    (s.merchants.is_empty() || contains(&s.merchants, &p.merchant_id))
        && (s.merchant_groups.is_empty() || p.merchant_groups.iter().any(|g| contains(&s.merchant_groups, g)))
        && (s.branches.is_empty() || p.branch_id.is_some_and(|b| contains(&s.branches, &b)))
        && (s.clubs.is_empty() || contains(&s.clubs, &p.club_id) || p.club_path.iter().any(|c| contains(&s.clubs, c)))
}

fn base_amount(rule: &CompiledRule, p: &Purchase) -> i64 {
    if rule.line_goods.is_empty() && rule.line_groups.is_empty() {
        return p.amount_rial;
    }
    p.basket
        .iter()
        .filter(|l| contains(&rule.line_goods, &l.goods_id) || contains(&rule.line_groups, &l.group))
        .map(|l| l.amount_rial)
        .sum()
}

fn amount_of(base: i64, percent: i64, fixed: i64, cap: Option<i64>) -> i64 {
    let v = percent_bp(base, percent).saturating_add(fixed);
    cap.map_or(v, |c| v.min(c))
}

fn rate(base: i64, per_rial: i64, amount: i64, fixed: i64, rounding: Rounding) -> i64 {
    let by_rate = if per_rial > 0 && amount > 0 { mul_div(base, amount, per_rial, rounding) } else { 0 };
    by_rate.saturating_add(fixed)
}

fn grant_of(rule: &CompiledRule, ctx: &Ctx<'_>) -> Grant {
    let base = base_amount(rule, ctx.p);
    let mut g = Grant::default();
    for effect in &rule.effects {
        match effect {
            Effect::Discount { percent_bp, fixed_rial, cap_rial } => g.discount += amount_of(base, *percent_bp, *fixed_rial, *cap_rial),
            Effect::Points {
                per_rial,
                points,
                fixed,
                rounding,
                tier_multipliers_bp,
                group_multipliers_bp,
                expires_days,
                pending_days,
            } => {
                let plain = rate(base, *per_rial, *points, *fixed, *rounding);
                let tier_m = ctx.s.tier.as_ref().and_then(|t| tier_multipliers_bp.get(t)).copied();
                let group_m = ctx.s.groups.iter().filter_map(|gid| group_multipliers_bp.get(gid)).copied().max();
                let multiplier = match (tier_m, group_m) {
                    (None, None) => BP_ONE,
                    (a, b) => a.unwrap_or(0).max(b.unwrap_or(0)),
                };
                g.points.push((mul_div(plain, multiplier, BP_ONE, *rounding), *expires_days, *pending_days));
            }
            Effect::Credit { kind, percent_bp, fixed_rial, cap_rial, spendable_at, expires_days, pending_days } => {
                let amount = amount_of(base, *percent_bp, *fixed_rial, *cap_rial);
                g.credits.push((*kind, *spendable_at, amount, *expires_days, *pending_days));
            }
            Effect::Lottery { lottery_id, per_rial, entries, fixed } => {
                g.lottery.push((*lottery_id, rate(base, *per_rial, *entries, *fixed, Rounding::Floor)));
            }
            Effect::Voucher { template_id } => g.vouchers.push(*template_id),
            Effect::Referral { per_rial, points, fixed } => {
                if ctx.s.referrer_id.is_some() {
                    g.referral_points += rate(base, *per_rial, *points, *fixed, Rounding::Floor);
                }
            }
            Effect::CreditSpendDiscount { percent_bp, fixed_rial, cap_rial, credit_kinds } => {
                if ctx.p.redeem_credit_rial > 0 && ctx.redeemed & spent_mask(credit_kinds) != 0 {
                    g.has_spend_discount = true;
                    g.spend_discount_max += amount_of(ctx.p.redeem_credit_rial.min(ctx.p.amount_rial), *percent_bp, *fixed_rial, *cap_rial);
                }
            }
        }
    }
    g
}

fn budget_period_key(period: BudgetPeriod, local_day: i64) -> String {
    match period {
        BudgetPeriod::Day => format!("d:{local_day}"),
        BudgetPeriod::Month => {
            // Iranian businesses budget by the Jalali (solar) month.
            let (y, m, d) = calendar::civil_from_days(local_day);
            let (jy, jm, _) = calendar::gregorian_to_jalali(y, m, d);
            format!("m:{jy:04}-{jm:02}")
        }
        BudgetPeriod::Total => "total".to_string(),
    }
}

/// How a budget counts: uses, or rials given whole or in part.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counts {
    Uses,
    Rials(BudgetFill),
}

/// The budget keys a rule uses for this purchase, with their limits and what they count.
fn budget_keys(rule: &CompiledRule, p: &Purchase, member_id: i64, local_day: i64) -> Vec<(String, i64, Counts)> {
    rule.budgets
        .iter()
        .map(|b| {
            let who = match b.per {
                BudgetPer::Rule => "rule".to_string(),
                BudgetPer::Member => format!("member:{member_id}"),
                BudgetPer::Merchant => format!("merchant:{}", p.merchant_id),
            };
            let key = format!("{}|{}|{}", rule.id, who, budget_period_key(b.period, local_day));
            match (b.limit_rial, b.limit_count) {
                (_, Some(count)) => (key, count, Counts::Uses),
                (limit, None) => (key, limit.unwrap_or(0), Counts::Rials(b.fill.unwrap_or_default())),
            }
        })
        .collect()
}

fn funder_owner(funder: Funder, p: &Purchase, club_id: i64) -> Owner {
    match funder {
        Funder::Merchant => Owner::Merchant(p.merchant_id),
        Funder::ClubOwner => Owner::Club(club_id),
        Funder::Platform => Owner::Platform,
        // A marketer funds only when the purchase names one; otherwise the club owner stands in.
        Funder::Marketer => p.marketer_id.map_or(Owner::Club(club_id), Owner::Marketer),
    }
}

fn explain_line(rule: &CompiledRule, code: &str) -> Explain {
    Explain {
        rule_id: rule.id.to_string(),
        name_en: rule.name_en.to_string(),
        name_fa: rule.name_fa.to_string(),
        code: code.to_string(),
        condition: None,
        winner: None,
        n: None,
        discount_rial: 0,
        points: 0,
        credit_rial: 0,
        entries: 0,
        referral_points: 0,
    }
}

/// Everything decided about one applied rule, kept until postings are written.
struct Applied<'r> {
    rule: &'r CompiledRule,
    grant: Grant,
    budget: Vec<(String, i64, Counts)>,
    /// What partial-fill budgets leave for this rule's cost (`i64::MAX`: no such limit).
    room: i64,
    /// A budget gave only part of the reward.
    partial: bool,
}

/// Whether a rule's budgets let it give `grant`, and how much of it: `None` if exhausted, else the
/// rials partial-fill budgets leave (the grant is scaled down to them when it costs more).
fn fit_budgets(budget: &[(String, i64, Counts)], used: &std::collections::BTreeMap<String, i64>, grant: &mut Grant, pv: i64) -> Option<(i64, bool)> {
    let cost = grant.max_cost(pv);
    let mut room = i64::MAX;
    for (key, limit, counts) in budget {
        let left = limit.saturating_sub(used.get(key).copied().unwrap_or(0));
        match counts {
            Counts::Uses if left < 1 => return None,
            Counts::Rials(BudgetFill::AllOrNothing) if cost > left => return None,
            Counts::Rials(BudgetFill::Partial) => room = room.min(left),
            _ => {}
        }
    }
    let value = grant.value(pv);
    if cost <= room {
        return Some((room, false));
    }
    if room <= 0 {
        return None;
    }
    if value > room {
        grant.scale(room, value);
        let kept = grant.lottery.iter().any(|l| l.1 > 0) || !grant.vouchers.is_empty() || grant.has_spend_discount;
        if grant.value(pv) == 0 && !kept {
            return None;
        }
        return Some((room, true));
    }
    // Only a credit-spend discount may go past the room: it is capped when it is known.
    Some((room, false))
}

/// Why a rule gave nothing: an explanation code, or the condition that failed.
enum Skip<'r> {
    Code(&'static str),
    Condition(&'r Cond),
}

impl Skip<'_> {
    fn line(&self, rule: &CompiledRule) -> Explain {
        match self {
            Skip::Code(code) => explain_line(rule, code),
            Skip::Condition(failed) => {
                let mut line = explain_line(rule, "condition_failed");
                line.condition = Some(failed.name().to_string());
                if let Cond::Nth { n, .. } = failed {
                    line.n = Some(*n);
                }
                line
            }
        }
    }
}

/// Reusable buffers, so the batch path does not allocate per purchase for the index walk.
#[derive(Default)]
pub struct Scratch {
    candidates: Vec<u32>,
}

/// Validate a purchase before anything is decided.
pub fn check_purchase(p: &Purchase) -> Result<(), CoreError> {
    if p.amount_rial <= 0 {
        return Err(CoreError::new("amount_must_be_positive").at("amount_rial"));
    }
    if p.amount_rial > MAX_AMOUNT || p.redeem_credit_rial > MAX_AMOUNT {
        return Err(CoreError::new("amount_too_large").at("amount_rial"));
    }
    if p.redeem_credit_rial < 0 {
        return Err(CoreError::new("amount_must_be_positive").at("redeem_credit_rial"));
    }
    if !p.basket.is_empty() {
        if p.basket.len() > 1000 {
            return Err(CoreError::new("invalid_input").with_text("detail", "at most 1000 basket lines", "سبد خرید حداکثر ۱٬۰۰۰ قلم دارد").at("basket"));
        }
        for (i, line) in p.basket.iter().enumerate() {
            if line.amount_rial < 0 || line.amount_rial > MAX_AMOUNT || line.quantity <= 0 {
                return Err(CoreError::new("amount_must_be_positive").at(format!("basket[{i}]")));
            }
        }
        let total: i64 = p.basket.iter().map(|l| l.amount_rial).sum();
        if total != p.amount_rial {
            return Err(CoreError::new("basket_mismatch").with("basket", total).with("amount", p.amount_rial).at("basket"));
        }
    }
    Ok(())
}

impl Rulebook {
    /// Decide a purchase. `explain` adds the per-rule explanation (skip it on the batch path).
    pub fn evaluate(&self, p: &Purchase, s: &MemberSnapshot, now: i64, explain: bool) -> Result<Decision, CoreError> {
        self.evaluate_with(p, s, now, explain, &mut Scratch::default())
    }

    pub fn evaluate_with(
        &self,
        p: &Purchase,
        s: &MemberSnapshot,
        now: i64,
        explain: bool,
        scratch: &mut Scratch,
    ) -> Result<Decision, CoreError> {
        let mut decision = Decision::empty(DecisionKind::Purchase, p.op_id, s.member_id, now);
        self.evaluate_into(p, s, now, explain, scratch, &mut decision)?;
        Ok(decision)
    }

    /// Decide a purchase into `out`, reusing its buffers (the batch path decides many purchases
    /// into one `Decision`). On a rejection `out` holds nothing meaningful.
    pub fn evaluate_into(
        &self,
        p: &Purchase,
        s: &MemberSnapshot,
        now: i64,
        explain: bool,
        scratch: &mut Scratch,
        decision: &mut Decision,
    ) -> Result<(), CoreError> {
        check_purchase(p)?;
        let redeemed = if p.redeem_credit_rial > 0 { self.redeemed_kinds(p, s, now) } else { 0 };
        let ctx = Ctx { p, s, local: calendar::local(now, self.utc_offset_min), points: s.points(), redeemed };
        decision.reset(DecisionKind::Purchase, p.op_id, s.member_id, now);
        decision.merchant_id = Some(p.merchant_id);
        decision.amount_rial = p.amount_rial;

        let applied = self.select_rules(&ctx, explain, scratch, decision);
        self.write_effects(&ctx, applied, explain, decision)?;
        split_payment(self, p, decision.payable_rial, &mut decision.split);
        decision.counters =
            CounterDelta { purchases: 1, spend_rial: p.amount_rial, day: ctx.local.day, last_purchase_at: Some(now) };
        debug_assert!(decision.is_balanced());
        Ok(())
    }

    /// Visit candidate rules and pick the ones that apply, honouring budgets and stacking.
    fn select_rules<'r>(&'r self, ctx: &Ctx<'_>, explain: bool, scratch: &mut Scratch, decision: &mut Decision) -> Vec<Applied<'r>> {
        self.candidates(ctx.p.merchant_id, &ctx.p.merchant_groups, &mut scratch.candidates);
        let mut applied: Vec<Applied<'r>> = Vec::new();
        let mut losers: Vec<(&'r CompiledRule, usize)> = Vec::new();
        let mut group_start = 0; // index into `applied` where the current stacking group begins
        let mut current_group = usize::MAX;
        for &index in &scratch.candidates {
            let rule = &self.rules[index as usize];
            if rule.group != current_group {
                current_group = rule.group;
                group_start = applied.len();
            }
            let mode = self.group_modes[rule.group].1;
            if mode == StackingMode::FirstMatch && applied.len() > group_start {
                if explain {
                    let mut line = explain_line(rule, "after_first_match");
                    let w = applied[group_start].rule;
                    line.winner = Some((w.name_en.to_string(), w.name_fa.to_string()));
                    decision.explanation.push(line);
                }
                continue;
            }
            let candidate = match self.consider(rule, ctx, decision.now) {
                Ok(candidate) => candidate,
                Err(skip) => {
                    if explain {
                        decision.explanation.push(skip.line(rule));
                    }
                    continue;
                }
            };
            if mode == StackingMode::Exclusive && applied.len() > group_start {
                let best = &applied[group_start];
                let better = candidate.grant.value(self.point_value_rial) > best.grant.value(self.point_value_rial);
                // Named after the group's final winner, once the whole group has been seen.
                losers.push((if better { best.rule } else { rule }, group_start));
                if better {
                    applied[group_start] = candidate;
                }
                continue;
            }
            applied.push(candidate);
        }
        if explain {
            for (loser, slot) in losers {
                let winner = applied[slot].rule;
                let mut line = explain_line(loser, "lost_to_better_rule");
                line.winner = Some((winner.name_en.to_string(), winner.name_fa.to_string()));
                decision.explanation.push(line);
            }
        }
        applied
    }

    /// A rule on its own, before stacking: what it gives within its budgets, or why it gives nothing
    /// (validity, scope, a condition, an empty reward, an exhausted budget, in that order).
    fn consider<'r>(&self, rule: &'r CompiledRule, ctx: &Ctx<'_>, now: i64) -> Result<Applied<'r>, Skip<'r>> {
        if !rule.enabled || rule.valid_from.is_some_and(|f| now < f) || rule.valid_to.is_some_and(|t| now > t) {
            return Err(Skip::Code("outside_validity"));
        }
        if !in_scope(rule, ctx.p) {
            return Err(Skip::Code("not_in_scope"));
        }
        if let Some(failed) = rule.conds.iter().find(|c| !holds(c, ctx, self.utc_offset_min)) {
            return Err(Skip::Condition(failed));
        }
        let mut grant = grant_of(rule, ctx);
        if grant.is_empty() {
            return Err(Skip::Code("nothing_to_give"));
        }
        let budget = budget_keys(rule, ctx.p, ctx.s.member_id, ctx.local.day);
        let (room, partial) = fit_budgets(&budget, &ctx.s.budget_used, &mut grant, self.point_value_rial).ok_or(Skip::Code("budget_exhausted"))?;
        Ok(Applied { rule, grant, budget, room, partial })
    }

    /// Turn the applied rules into discount, credit spending, postings, lots and budget use.
    fn write_effects(&self, ctx: &Ctx<'_>, mut applied: Vec<Applied<'_>>, explain: bool, d: &mut Decision) -> Result<(), CoreError> {
        let p = ctx.p;
        let mut left = self.pay(ctx, &mut applied, d)?;
        if d.credit_used_rial > 0 {
            left = self.spend_discounts(&mut applied, left, d);
        }
        d.payable_rial = left;
        debug_assert_eq!(d.payable_rial + d.discount_rial + d.credit_used_rial + d.points_redeemed_rial, p.amount_rial);
        for a in &applied {
            self.write_rule(ctx, a, explain, d);
        }
        Ok(())
    }

    /// How the purchase is paid before the card: cash discounts (capped so the total never exceeds
    /// the amount), the voucher, points at the member's conversion ratio (crate::redeem), then
    /// credit, soonest-expiring lots first. Returns what is left to pay.
    fn pay(&self, ctx: &Ctx<'_>, applied: &mut [Applied<'_>], d: &mut Decision) -> Result<i64, CoreError> {
        let p = ctx.p;
        let mut left = p.amount_rial;
        for a in applied.iter_mut() {
            a.grant.discount = a.grant.discount.min(left);
            left -= a.grant.discount;
        }
        left -= self.voucher_discount(ctx, left, d)?;
        d.discount_rial = p.amount_rial - left;
        left -= crate::redeem::redeem_points(p, ctx.s, left, d)?;
        let want = p.redeem_credit_rial.min(left);
        if want > 0 {
            self.draw_credit(ctx, want, d)?;
        }
        Ok(left - d.credit_used_rial)
    }

    /// Discounts on the part paid with credit (R13) of each effect's kinds, within what is `left`
    /// to pay and what the rule's partial-fill budgets leave. Returns what is left to pay.
    fn spend_discounts(&self, applied: &mut [Applied<'_>], mut left: i64, d: &mut Decision) -> i64 {
        for a in applied.iter_mut() {
            for effect in &a.rule.effects {
                if let Effect::CreditSpendDiscount { percent_bp, fixed_rial, cap_rial, credit_kinds } = effect {
                    let base = credit_used_of(d, spent_mask(credit_kinds));
                    if base == 0 {
                        continue;
                    }
                    let full = amount_of(base, *percent_bp, *fixed_rial, *cap_rial).min(left);
                    let room = a.room.saturating_sub(a.grant.value(self.point_value_rial)).max(0);
                    let extra = full.min(room);
                    a.partial |= extra < full;
                    a.grant.discount += extra;
                    left -= extra;
                    d.discount_rial += extra;
                }
            }
        }
        left
    }

    /// Postings, lots, entries, vouchers and budget use of one applied rule. A rule whose only
    /// effect was a credit-spend discount that came to nothing (the credit paid everything already
    /// discounted) gave nothing.
    fn write_rule(&self, ctx: &Ctx<'_>, a: &Applied<'_>, explain: bool, d: &mut Decision) {
        let (rule, g) = (a.rule, &a.grant);
        let gave = g.discount > 0
            || g.points_total() > 0
            || g.credit_total() > 0
            || g.lottery.iter().any(|l| l.1 > 0)
            || !g.vouchers.is_empty()
            || (g.referral_points > 0 && ctx.s.referrer_id.is_some());
        if !gave {
            if explain {
                d.explanation.push(explain_line(rule, "nothing_to_give"));
            }
            return;
        }
        let funding = Funding::of(rule, ctx.p, self.club_id);
        let merchant_discount = AccountKey::plain(Owner::Merchant(ctx.p.merchant_id), Kind::DiscountGiven);
        funding.fund(d, merchant_discount, g.discount, Kind::Expense);
        self.write_credits(ctx, g, &funding, d);
        self.write_points(ctx, g, &funding, d);
        for (lottery_id, entries) in &g.lottery {
            if *entries > 0 {
                let account = AccountKey::new(Owner::Member(ctx.s.member_id), Kind::LotteryEntries, Scope::Lottery(*lottery_id));
                let source = AccountKey::new(Owner::Club(self.club_id), Kind::EntriesIssued, Scope::Lottery(*lottery_id));
                d.post_memo(source, account, *entries, &rule.id);
                d.add_lot(account, *entries, None, None);
                d.lottery_entries.push(LotteryEntry { lottery_id: *lottery_id, entries: *entries });
            }
        }
        for template_id in &g.vouchers {
            d.vouchers_issued.push(VoucherIssue { template_id: *template_id, rule_id: rule.id.to_string() });
        }
        let cost = g.value(self.point_value_rial);
        for (key, limit, counts) in &a.budget {
            d.budget_use.push(BudgetUse { key: key.clone(), amount: if *counts == Counts::Uses { 1 } else { cost }, limit: *limit });
        }
        d.applied_rules.push(rule.id.clone());
        if explain {
            let mut line = explain_line(rule, if a.partial { "budget_partial" } else { "applied" });
            line.discount_rial = g.discount;
            line.points = g.points_total();
            line.referral_points = g.referral_points;
            line.credit_rial = g.credit_total();
            line.entries = g.lottery.iter().map(|l| l.1).sum();
            d.explanation.push(line);
        }
    }

    /// The credit a rule grants: each grant into its account (scoped to the merchant or the set),
    /// after repaying the member's credit debt.
    fn write_credits(&self, ctx: &Ctx<'_>, g: &Grant, funding: &Funding<'_>, d: &mut Decision) {
        let member = Owner::Member(ctx.s.member_id);
        for (kind, set, amount, expires_days, pending_days) in &g.credits {
            let (kind, scope) = match kind {
                CreditKind::Merchant => (Kind::MerchantCredit, Scope::Merchant(ctx.p.merchant_id)),
                CreditKind::Club => (Kind::ClubCredit, set.map_or(Scope::None, Scope::Set)),
                CreditKind::Virtual => (Kind::VirtualCredit, set.map_or(Scope::None, Scope::Set)),
                CreditKind::Cashback => (Kind::Cashback, set.map_or(Scope::None, Scope::Set)),
                CreditKind::Gift => (Kind::GiftCredit, set.map_or(Scope::None, Scope::Set)),
                CreditKind::Welfare => (Kind::WelfareCredit, set.map_or(Scope::None, Scope::Set)),
            };
            let account = AccountKey::new(member, kind, scope);
            let to_lot = repay_debt(ctx.s, d, AccountKey::plain(member, Kind::CreditDebt), *amount, Kind::Expense, funding);
            funding.fund(d, account, to_lot, Kind::Expense);
            add_lot_in_days(d, account, to_lot, *expires_days, *pending_days);
        }
    }

    /// The points a rule grants (after repaying the member's points debt), and the referrer's.
    fn write_points(&self, ctx: &Ctx<'_>, g: &Grant, funding: &Funding<'_>, d: &mut Decision) {
        let member = Owner::Member(ctx.s.member_id);
        for (points, expires_days, pending_days) in &g.points {
            if *points > 0 {
                let account = AccountKey::plain(member, Kind::Points);
                let to_lot = repay_debt(ctx.s, d, AccountKey::plain(member, Kind::PointsDebt), *points, Kind::PointsIssued, funding);
                funding.fund(d, account, to_lot, Kind::PointsIssued);
                add_lot_in_days(d, account, to_lot, *expires_days, *pending_days);
                d.points_earned += *points;
            }
        }
        if let (true, Some(referrer)) = (g.referral_points > 0, ctx.s.referrer_id) {
            let account = AccountKey::plain(Owner::Member(referrer), Kind::Points);
            funding.fund(d, account, g.referral_points, Kind::PointsIssued);
            d.add_lot(account, g.referral_points, None, None);
        }
    }

    fn voucher_discount(&self, ctx: &Ctx<'_>, left: i64, d: &mut Decision) -> Result<i64, CoreError> {
        let Some(code) = &ctx.p.voucher_code else { return Ok(0) };
        let v = ctx.s.vouchers.iter().find(|v| &v.code == code).ok_or_else(|| CoreError::new("voucher_not_found").at("voucher_code"))?;
        if v.used {
            return Err(CoreError::new("voucher_already_used").at("voucher_code"));
        }
        if v.valid_from.is_some_and(|f| d.now < f) || v.valid_to.is_some_and(|t| d.now > t) {
            return Err(CoreError::new("voucher_not_active").at("voucher_code"));
        }
        if !v.merchants.is_empty() && !v.merchants.contains(&ctx.p.merchant_id) {
            return Err(CoreError::new("voucher_not_valid_at_merchant").at("voucher_code"));
        }
        let amount = amount_of(ctx.p.amount_rial, v.discount_bp, v.discount_rial, v.cap_rial).min(left);
        let funder = funder_owner(v.funder.unwrap_or(Funder::ClubOwner), ctx.p, self.club_id);
        d.post(
            AccountKey::plain(funder, Kind::Expense),
            AccountKey::plain(Owner::Merchant(ctx.p.merchant_id), Kind::DiscountGiven),
            amount,
            "voucher",
        );
        d.voucher_used = Some(code.clone());
        Ok(amount)
    }

    /// Whether a holder's credit account may be spent at a merchant (in these merchant groups).
    pub(crate) fn credit_valid_at(&self, account: &AccountKey, merchant_id: i64, merchant_groups: &[i64]) -> bool {
        match account.scope {
            Scope::None => true,
            Scope::Merchant(m) => m == merchant_id,
            Scope::Set(set) => self.merchant_in_set(set, merchant_id, merchant_groups),
            Scope::Lottery(_) | Scope::Hold(_) => false,
        }
    }

    /// The member's credit lots spendable now at this merchant.
    fn credit_lots<'s>(&'s self, s: &'s MemberSnapshot, merchant_id: i64, merchant_groups: &'s [i64], now: i64) -> impl Iterator<Item = &'s Lot> + 's {
        s.lots.iter().filter(move |l| {
            s.owns(&l.account) && l.account.kind.is_spendable_credit() && self.credit_valid_at(&l.account, merchant_id, merchant_groups) && l.spendable(now)
        })
    }

    /// The member's credit lines with what each may still lend (zero or more).
    fn credit_lines<'s>(s: &'s MemberSnapshot) -> impl Iterator<Item = (AccountKey, i64)> + 's {
        s.accounts.iter().filter(|a| a.account.kind == Kind::CreditLine && s.owns(&a.account)).map(|a| (a.account, (a.balance + a.credit_limit).max(0)))
    }

    /// The rial credit a member can spend at a merchant now: their lots (and their shared wallet's)
    /// spendable there, and what their credit lines may still lend. What a purchase may draw at
    /// most, and what a balance inquiry answers.
    pub fn spendable_credit(&self, s: &MemberSnapshot, merchant_id: i64, merchant_groups: &[i64], now: i64) -> i64 {
        let lots: i64 = self.credit_lots(s, merchant_id, merchant_groups, now).map(|l| l.remaining).sum();
        lots + Self::credit_lines(s).map(|(_, room)| room).sum::<i64>()
    }

    /// The credit a purchase would draw for `want` rials, in order: soonest-expiring lots valid
    /// here (`model::draw_lots`), then credit lines. Returns the lots' draws and the lines' parts,
    /// which fall short of `want` only when the member cannot spend that much here.
    fn credit_sources(&self, s: &MemberSnapshot, p: &Purchase, now: i64, want: i64) -> (Vec<LotUse>, Vec<(AccountKey, i64)>) {
        let uses = draw_lots(self.credit_lots(s, p.merchant_id, &p.merchant_groups, now), want, |_| false);
        let mut need = want - uses.iter().map(|u| u.amount).sum::<i64>();
        let mut lines = Vec::new();
        for (account, room) in Self::credit_lines(s) {
            let part = room.min(need);
            if part > 0 {
                need -= part;
                lines.push((account, part));
            }
        }
        (uses, lines)
    }

    /// The kinds of credit the purchase redeems (drawn as `draw_credit` will draw them).
    fn redeemed_kinds(&self, p: &Purchase, s: &MemberSnapshot, now: i64) -> u8 {
        let (uses, lines) = self.credit_sources(s, p, now, p.redeem_credit_rial.min(p.amount_rial));
        let parts = uses.iter().map(|u| (u.account, u.amount)).chain(lines);
        parts.filter(|(_, part)| *part > 0).filter_map(|(account, _)| spent_kind(account.kind)).fold(0_u8, |mask, kind| mask | (1 << (kind as u8)))
    }

    fn draw_credit(&self, ctx: &Ctx<'_>, want: i64, d: &mut Decision) -> Result<(), CoreError> {
        let merchant_accept = AccountKey::plain(Owner::Merchant(ctx.p.merchant_id), Kind::CreditAccepted);
        let (uses, lines) = self.credit_sources(ctx.s, ctx.p, d.now, want);
        let available = uses.iter().map(|u| u.amount).sum::<i64>() + lines.iter().map(|l| l.1).sum::<i64>();
        if available < want {
            return Err(self.credit_refusal(ctx, want, available, d.now));
        }
        for used in uses {
            d.post(used.account, merchant_accept, used.amount, "credit_spent");
            d.lots_consumed.push(used);
        }
        for (account, part) in lines {
            d.post(account, merchant_accept, part, "credit_line_spent");
        }
        d.credit_used_rial = want;
        Ok(())
    }

    /// Why the member cannot spend `want` here, named so they can act on it: the credit exists but
    /// not here, or has expired, or is not enough.
    fn credit_refusal(&self, ctx: &Ctx<'_>, want: i64, available: i64, now: i64) -> CoreError {
        let s = ctx.s;
        let credit = |l: &&Lot| s.owns(&l.account) && l.account.kind.is_spendable_credit();
        let owned_anywhere: i64 = s.lots.iter().filter(credit).filter(|l| l.spendable(now)).map(|l| l.remaining).sum();
        let valid_here = |l: &&Lot| self.credit_valid_at(&l.account, ctx.p.merchant_id, &ctx.p.merchant_groups);
        let owned_unexpired_or_not: i64 = s.lots.iter().filter(credit).filter(valid_here).map(|l| l.remaining).sum();
        let code = if owned_anywhere >= want {
            "credit_not_valid_at_merchant"
        } else if owned_unexpired_or_not >= want {
            "lot_expired"
        } else {
            "insufficient_balance"
        };
        CoreError::new(code).with("account", "credit").with("needed", want).with("available", available).at("redeem_credit_rial")
    }

    /// The budget keys a purchase may touch, so the service can load their use before evaluating.
    pub fn budget_keys(&self, p: &Purchase, member_id: i64, now: i64) -> Vec<String> {
        let day = calendar::local(now, self.utc_offset_min).day;
        let mut candidates = Vec::new();
        self.candidates(p.merchant_id, &p.merchant_groups, &mut candidates);
        candidates.iter().flat_map(|i| budget_keys(&self.rules[*i as usize], p, member_id, day).into_iter().map(|k| k.0)).collect()
    }
}

/// The credit kind a member pays with from an account of this kind.
fn spent_kind(kind: Kind) -> Option<SpentCredit> {
    Some(match kind {
        Kind::MerchantCredit => SpentCredit::Merchant,
        Kind::ClubCredit => SpentCredit::Club,
        Kind::VirtualCredit => SpentCredit::Virtual,
        Kind::Cashback => SpentCredit::Cashback,
        Kind::GiftCredit => SpentCredit::Gift,
        Kind::WelfareCredit => SpentCredit::Welfare,
        Kind::CreditLine => SpentCredit::CreditLine,
        _ => return None,
    })
}

/// The credit this decision spent from accounts of the kinds in `mask`.
fn credit_used_of(d: &Decision, mask: u8) -> i64 {
    d.postings
        .iter()
        .filter(|p| p.to.kind == Kind::CreditAccepted)
        .filter(|p| spent_kind(p.from.kind).is_some_and(|k| mask & (1 << (k as u8)) != 0))
        .map(|p| p.amount)
        .sum()
}

/// Who funds one rule's effects, and in what shares.
struct Funding<'r> {
    funders: [Owner; MAX_SPLIT_PARTS],
    weights: &'r [i64],
    memo: &'r Arc<str>,
}

impl<'r> Funding<'r> {
    fn of(rule: &'r CompiledRule, p: &Purchase, club_id: i64) -> Self {
        let mut funders = [Owner::Platform; MAX_SPLIT_PARTS];
        for (slot, (f, _)) in funders.iter_mut().zip(&rule.funding) {
            *slot = funder_owner(*f, p, club_id);
        }
        Funding { funders, weights: &rule.funding_weights, memo: &rule.id }
    }

    /// Post `amount` to `to` from each funder's `source_kind` account, split by the funding shares.
    fn fund(&self, d: &mut Decision, to: AccountKey, amount: i64, source_kind: Kind) {
        let mut parts = [0_i64; MAX_SPLIT_PARTS];
        split_into(amount, self.weights, &mut parts);
        for (funder, part) in self.funders[..self.weights.len()].iter().zip(parts) {
            d.post_memo(AccountKey::plain(*funder, source_kind), to, part, self.memo);
        }
    }
}

/// Pay back what a member owes after a clawback before anything new reaches their balance.
/// Returns the part left for the member's own account.
fn repay_debt(s: &MemberSnapshot, d: &mut Decision, debt_account: AccountKey, amount: i64, source_kind: Kind, funding: &Funding<'_>) -> i64 {
    let owed_before = -s.balance(&debt_account).min(0);
    let repaid_here: i64 = d.postings.iter().filter(|p| p.to == debt_account).map(|p| p.amount).sum();
    let repay = (owed_before - repaid_here).clamp(0, amount);
    if repay > 0 {
        funding.fund(d, debt_account, repay, source_kind);
    }
    amount - repay
}

/// A new lot expiring, and pending, so many days from the decision's time.
fn add_lot_in_days(d: &mut Decision, account: AccountKey, amount: i64, expires_days: Option<i64>, pending_days: Option<i64>) {
    let expires_at = expires_days.map(|days| d.now + days * 86_400);
    let pending_until = pending_days.filter(|days| *days > 0).map(|days| d.now + days * 86_400);
    d.add_lot(account, amount, expires_at, pending_until);
}
