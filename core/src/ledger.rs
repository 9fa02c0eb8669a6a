//! Apply a decision to a member snapshot (all-or-nothing), and compute compensating decisions
//! for refunds and reversals.
//!
//! Clawback policy (when a reversal takes back value the member already spent): the member's
//! account gives what it still holds, the lots of the reversed operation first, then other lots
//! soonest-expiring first; the rest is recorded as a debt (`points_debt` / `credit_debt`, the only
//! holder accounts allowed below zero), which the member's next earnings repay before anything
//! reaches their balance. No holder balance ever goes negative, and nothing is lost: the debt is
//! in the journal. Lottery entries already drawn are not clawed back (a draw is final); referral
//! rewards stay with the introducer.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::account::{AccountKey, Kind, Scope, Unit};
use crate::errors::CoreError;
use crate::model::{
    draw_lots, lot_id, AccountState, BudgetUse, CounterDelta, DayStat, Decision, DecisionKind, Lot, LotUse, MemberSnapshot, SplitLeg,
    SplitRole,
};

/// Apply `d` to `s`; returns the new snapshot, or a rejection and no change.
pub fn apply(s: &MemberSnapshot, d: &Decision) -> Result<MemberSnapshot, CoreError> {
    if d.member_id != s.member_id {
        return Err(CoreError::new("wrong_member"));
    }
    if !d.is_balanced() {
        return Err(CoreError::new("decision_unbalanced"));
    }
    let mut next = s.clone();
    apply_draws(&mut next, d)?;
    next.lots.retain(|l| l.remaining > 0);
    next.lots.extend(d.lots_created.iter().filter(|l| s.owns(&l.account)).cloned());
    apply_balances(&mut next, s, d)?;
    apply_budgets(&mut next, d)?;
    apply_vouchers(&mut next, d)?;
    apply_counters(&mut next, d);
    Ok(next)
}

/// Lots drawn: each must still exist and hold enough; at a purchase or hold it must also be
/// unexpired and valid at the merchant.
fn apply_draws(next: &mut MemberSnapshot, d: &Decision) -> Result<(), CoreError> {
    for used in &d.lots_consumed {
        let lot = next.lots.iter_mut().find(|l| l.id == used.lot_id).ok_or_else(|| CoreError::new("lot_not_found"))?;
        if d.kind == DecisionKind::Purchase || d.kind == DecisionKind::Hold {
            if let (Scope::Merchant(m), Some(here)) = (lot.account.scope, d.merchant_id) {
                if m != here {
                    return Err(CoreError::new("credit_not_valid_at_merchant"));
                }
            }
            if lot.expires_at.is_some_and(|e| e <= d.now) {
                return Err(CoreError::new("lot_expired"));
            }
        }
        if lot.remaining < used.amount {
            return Err(CoreError::new("insufficient_balance")
                .with("account", lot.account)
                .with("needed", used.amount)
                .with("available", lot.remaining));
        }
        lot.remaining -= used.amount;
    }
    Ok(())
}

/// Balances of the accounts `s` owns, with each account's floor checked after the whole decision.
fn apply_balances(next: &mut MemberSnapshot, s: &MemberSnapshot, d: &Decision) -> Result<(), CoreError> {
    for (account, delta) in d.deltas() {
        if !s.owns(&account) {
            continue;
        }
        let state = match next.accounts.iter_mut().position(|a| a.account == account) {
            Some(i) => &mut next.accounts[i],
            None => {
                next.accounts.push(AccountState { account, balance: 0, credit_limit: 0 });
                next.accounts.last_mut().expect("just pushed")
            }
        };
        state.balance += delta;
        if let Some(floor) = account.floor(state.credit_limit) {
            if state.balance < floor {
                let code = if account.kind == Kind::CreditLine { "credit_limit_exceeded" } else { "insufficient_balance" };
                return Err(CoreError::new(code)
                    .with("account", account)
                    .with("needed", -delta)
                    .with("available", state.balance - delta - floor));
            }
        }
    }
    Ok(())
}

fn apply_budgets(next: &mut MemberSnapshot, d: &Decision) -> Result<(), CoreError> {
    for (i, b) in d.budget_use.iter().enumerate() {
        let used = next.budget_used.entry(b.key.clone()).or_insert(0);
        if b.amount > 0 && *used + b.amount > b.limit {
            return Err(CoreError::new("budget_exhausted")
                .with("rule", b.key.split('|').next().unwrap_or(""))
                .with("budget", &b.key)
                .at(format!("budget_use[{i}]")));
        }
        *used = (*used + b.amount).max(0);
    }
    Ok(())
}

fn apply_vouchers(next: &mut MemberSnapshot, d: &Decision) -> Result<(), CoreError> {
    if let Some(code) = &d.voucher_used {
        let v = next.vouchers.iter_mut().find(|v| &v.code == code).ok_or_else(|| CoreError::new("voucher_not_found"))?;
        if v.used {
            return Err(CoreError::new("voucher_already_used"));
        }
        v.used = true;
    }
    if let Some(code) = &d.voucher_restored {
        if let Some(v) = next.vouchers.iter_mut().find(|v| &v.code == code) {
            v.used = false;
        }
    }
    Ok(())
}

fn apply_counters(next: &mut MemberSnapshot, d: &Decision) {
    let c = d.counters;
    if c.purchases == 0 && c.spend_rial == 0 {
        return;
    }
    next.purchase_count = (next.purchase_count + c.purchases).max(0);
    next.merchant_purchase_count = (next.merchant_purchase_count + c.purchases).max(0);
    if let Some(at) = c.last_purchase_at {
        next.last_purchase_at = Some(next.last_purchase_at.map_or(at, |l| l.max(at)));
    }
    match next.history.iter_mut().find(|h| h.day == c.day) {
        Some(h) => {
            h.count = (h.count + c.purchases).max(0);
            h.spend_rial = (h.spend_rial + c.spend_rial).max(0);
        }
        None if c.purchases > 0 || c.spend_rial > 0 => {
            next.history.push(DayStat { day: c.day, count: c.purchases.max(0), spend_rial: c.spend_rial.max(0) })
        }
        None => {}
    }
}

/// The slice (before, after] of a purchase of `total` rials that one refund takes back.
#[derive(Clone, Copy)]
struct Slice {
    before: i64,
    after: i64,
    total: i64,
}

impl Slice {
    /// The part of `x` that belongs to this slice: summing it over successive partial refunds
    /// gives exactly `x` once the whole purchase is refunded.
    fn of(self, x: i64) -> i64 {
        let at = |n: i64| i64::try_from(i128::from(x) * i128::from(n) / i128::from(self.total)).expect("slice fits");
        at(self.after) - at(self.before)
    }
}

/// Working copy of a member's value while a reversal is computed.
struct Holdings {
    balances: BTreeMap<AccountKey, i64>,
    lots: Vec<Lot>,
    /// `"{op}:"`: the lots of the reversed operation, drawn back before any other.
    own_prefix: String,
}

impl Holdings {
    fn new(s: &MemberSnapshot, original_op: i64) -> Self {
        Holdings {
            balances: s.accounts.iter().map(|a| (a.account, a.balance)).collect(),
            lots: s.lots.clone(),
            own_prefix: format!("{original_op}:"),
        }
    }

    /// Take up to `amount` from `account`, the reversed operation's own lots first.
    fn take(&mut self, account: AccountKey, amount: i64, used: &mut Vec<LotUse>) -> i64 {
        let balance = self.balances.entry(account).or_insert(0);
        let taken = amount.min((*balance).max(0));
        *balance -= taken;
        if account.kind.has_lots() {
            let own = |l: &Lot| l.id.starts_with(&self.own_prefix);
            let uses = draw_lots(self.lots.iter().filter(|l| l.account == account), taken, own);
            for u in &uses {
                if let Some(lot) = self.lots.iter_mut().find(|l| l.account == account && l.id == u.lot_id) {
                    lot.remaining -= u.amount;
                }
            }
            used.extend(uses);
        }
        taken
    }

    /// Move `amount` from the holder's `to` back to `from`: what `to` still holds goes back, the
    /// rest becomes the holder's debt (clawback).
    fn take_back(&mut self, d: &mut Decision, to: AccountKey, from: AccountKey, amount: i64, memo: &Arc<str>) {
        let mut used = Vec::new();
        let taken = self.take(to, amount, &mut used);
        d.lots_consumed.extend(used);
        d.post_memo(to, from, taken, memo);
        let owed = amount - taken;
        let debt = match to.unit() {
            Unit::Point => Some(Kind::PointsDebt),
            Unit::Rial => Some(Kind::CreditDebt),
            Unit::Entry => None,
        };
        if let (Some(debt_kind), true) = (debt, owed > 0) {
            d.post(AccountKey::plain(to.owner, debt_kind), from, owed, "clawback");
        }
    }
}

/// The rials a refund takes back: `refund_rial`, or everything not yet refunded.
fn refund_amount(original: &Decision, refund_rial: Option<i64>, refunded_before_rial: i64) -> Result<i64, CoreError> {
    let remaining = original.amount_rial - refunded_before_rial;
    if original.amount_rial <= 0 || remaining <= 0 {
        return Err(CoreError::new("nothing_to_reverse"));
    }
    let refund = refund_rial.unwrap_or(remaining);
    if refund <= 0 {
        return Err(CoreError::new("amount_must_be_positive").at("refund_rial"));
    }
    if refund > remaining {
        return Err(CoreError::new("refund_exceeds_purchase"));
    }
    Ok(refund)
}

/// What a refund's own postings give back, for its totals.
#[derive(Default)]
struct Returned {
    credit_rial: i64,
    points_redeemed: i64,
    points_redeemed_rial: i64,
    points_earned: i64,
    discount_rial: i64,
}

/// A refund of `refund_rial` (or, with `None`, a reversal of everything not yet refunded) of the
/// purchase decided as `original`. `refunded_before_rial` is what earlier refunds already took back.
pub fn reverse(
    original: &Decision,
    s: &MemberSnapshot,
    op_id: i64,
    now: i64,
    refund_rial: Option<i64>,
    refunded_before_rial: i64,
) -> Result<Decision, CoreError> {
    if original.member_id != s.member_id {
        return Err(CoreError::new("wrong_member"));
    }
    let refund = refund_amount(original, refund_rial, refunded_before_rial)?;
    let part = Slice { before: refunded_before_rial, after: refunded_before_rial + refund, total: original.amount_rial };
    let kind = if refund_rial.is_none() { DecisionKind::Reversal } else { DecisionKind::Refund };
    let mut d = Decision::empty(kind, op_id, s.member_id, now);
    d.merchant_id = original.merchant_id;
    d.amount_rial = -refund;
    let mut back = restore_spent(original, part, &mut d);
    undo_postings(original, s, part, &mut d, &mut back);
    // The refund's totals are what its own postings move, so each refund is consistent with itself;
    // over successive refunds every posting, and so every total, adds up to the original exactly.
    d.discount_rial = -back.discount_rial;
    d.credit_used_rial = -back.credit_rial;
    d.points_earned = -back.points_earned;
    d.points_redeemed = -back.points_redeemed;
    d.points_redeemed_rial = -back.points_redeemed_rial;
    d.payable_rial = d.amount_rial - d.discount_rial - d.credit_used_rial - d.points_redeemed_rial;
    d.split = refund_split(original, part, d.payable_rial);
    d.budget_use = original
        .budget_use
        .iter()
        .map(|b| BudgetUse { key: b.key.clone(), amount: -part.of(b.amount), limit: b.limit })
        .filter(|b| b.amount != 0)
        .collect();
    let whole_done = part.after == part.total;
    d.counters = CounterDelta {
        purchases: if whole_done { -original.counters.purchases } else { 0 },
        spend_rial: -part.of(original.counters.spend_rial),
        day: original.counters.day,
        last_purchase_at: None,
    };
    if whole_done {
        d.voucher_restored = original.voucher_used.clone();
    }
    debug_assert!(d.is_balanced());
    Ok(d)
}

/// Credit and points the member spent (directly, or through a completed hold) come back as new
/// lots with the original expiry: spent credit from the merchant's accepted credit, redeemed
/// points from the club's retired points (their rial value is taken back from the merchant by
/// `undo_postings`).
fn restore_spent(original: &Decision, part: Slice, d: &mut Decision) -> Returned {
    let mut restored: BTreeMap<AccountKey, i64> = BTreeMap::new();
    for used in original.lots_consumed.iter().chain(original.held_lots.iter()) {
        let back = part.of(used.amount);
        if back > 0 {
            *restored.entry(used.account).or_insert(0) += back;
            d.restore_lot(used, back);
        }
    }
    let accepted = original.postings.iter().find(|p| p.to.kind == Kind::CreditAccepted).map(|p| p.to);
    let retired = original.postings.iter().find(|p| p.to.kind == Kind::PointsRetired).map(|p| p.to);
    let mut back = Returned::default();
    for (account, amount) in &restored {
        if account.unit() == Unit::Point {
            if let Some(from) = retired {
                d.post(from, *account, *amount, "restore_redeemed_points");
                back.points_redeemed += amount;
            }
        } else if let Some(to) = accepted {
            d.post(to, *account, *amount, "restore_spent_credit");
            back.credit_rial += amount;
        }
    }
    back
}

/// Every other posting of the purchase goes back by this slice: earned value from the member
/// (what was already spent becomes a debt), funding to its funders.
fn undo_postings(original: &Decision, s: &MemberSnapshot, part: Slice, d: &mut Decision, back: &mut Returned) {
    let drawn: Vec<AccountKey> = original.lots_consumed.iter().chain(original.held_lots.iter()).map(|u| u.account).collect();
    let mut h = Holdings::new(s, original.op_id);
    let memo: Arc<str> = Arc::from("reversal");
    for posting in &original.postings {
        let amount = part.of(posting.amount);
        // Spending from lots is undone by `restore_spent`, lot by lot (even when this slice
        // restored nothing of an account, its rounding is caught up by a later refund); the hold's
        // transit accounts are left alone.
        if amount == 0 || drawn.contains(&posting.from) || matches!(posting.from.kind, Kind::Held | Kind::HeldPoints) {
            continue;
        }
        let (from, to) = (posting.from, posting.to);
        if s.owns(&to) {
            h.take_back(d, to, from, amount, &memo);
            if from.kind == Kind::PointsIssued {
                back.points_earned += amount;
            }
        } else if to.is_holder() {
            // Another holder's reward (referral) stays with them, by policy.
            continue;
        } else {
            d.post(to, from, amount, "reversal");
            match (from.kind, to.kind) {
                (_, Kind::DiscountGiven) => back.discount_rial += amount,
                // The club paid the merchant the redeemed points' value.
                (Kind::Expense, Kind::CreditAccepted) => back.points_redeemed_rial += amount,
                (_, Kind::CreditAccepted) => back.credit_rial += amount, // a credit line, which has no lots
                _ => {}
            }
        }
    }
}

/// The refund's split legs: each leg sliced on its own; the few rials of rounding between their
/// sum and the refund's payable go to the merchant's leg (they cancel out over the refunds of one
/// purchase).
fn refund_split(original: &Decision, part: Slice, payable_rial: i64) -> Vec<SplitLeg> {
    let mut split: Vec<SplitLeg> = original
        .split
        .iter()
        .map(|l| SplitLeg { role: l.role, beneficiary_id: l.beneficiary_id, amount_rial: -part.of(l.amount_rial) })
        .collect();
    let rounding = payable_rial - split.iter().map(|l| l.amount_rial).sum::<i64>();
    if rounding != 0 {
        let merchant = split.iter().position(|l| l.role == SplitRole::Merchant).or(split.len().checked_sub(1));
        match merchant {
            Some(i) => split[i].amount_rial += rounding,
            // A purchase paid entirely with credit has no legs; its rounding still belongs to the merchant.
            None => split.push(SplitLeg {
                role: SplitRole::Merchant,
                beneficiary_id: original.merchant_id.unwrap_or(0),
                amount_rial: rounding,
            }),
        }
    }
    split.retain(|l| l.amount_rial != 0);
    split
}

fn is_credit_spend(p: &crate::model::Posting, member_id: i64) -> bool {
    let holder = match p.from.owner {
        crate::account::Owner::Member(id) => id == member_id,
        crate::account::Owner::Group(_) => true,
        _ => false,
    };
    holder && p.to.kind == Kind::CreditAccepted
}

/// Points a purchase redeems: the member's points retired by the club (crate::redeem).
fn is_points_redemption(p: &crate::model::Posting, member_id: i64) -> bool {
    p.from == AccountKey::plain(crate::account::Owner::Member(member_id), Kind::Points) && p.to.kind == Kind::PointsRetired
}

fn held_account(member_id: i64, hold_op: i64) -> AccountKey {
    AccountKey::new(crate::account::Owner::Member(member_id), Kind::Held, Scope::Hold(hold_op))
}

fn held_points_account(member_id: i64, hold_op: i64) -> AccountKey {
    AccountKey::new(crate::account::Owner::Member(member_id), Kind::HeldPoints, Scope::Hold(hold_op))
}

/// The account a hold keeps a purchase's posting in, if that posting spends the member's value.
fn held_for(p: &crate::model::Posting, member_id: i64, hold_op: i64) -> Option<AccountKey> {
    if is_credit_spend(p, member_id) {
        Some(held_account(member_id, hold_op))
    } else if is_points_redemption(p, member_id) {
        Some(held_points_account(member_id, hold_op))
    } else {
        None
    }
}

/// A hold: the credit and the points a purchase would spend move into the member's held accounts
/// (named by the hold's operation), so they are reserved before the bank sale. Nothing else
/// happens yet.
pub fn hold(purchase: &Decision) -> Decision {
    let mut d = Decision::empty(DecisionKind::Hold, purchase.op_id, purchase.member_id, purchase.now);
    d.merchant_id = purchase.merchant_id;
    d.amount_rial = purchase.amount_rial;
    d.credit_used_rial = purchase.credit_used_rial;
    d.points_redeemed = purchase.points_redeemed;
    d.points_redeemed_rial = purchase.points_redeemed_rial;
    d.discount_rial = purchase.discount_rial;
    d.payable_rial = purchase.payable_rial;
    for p in &purchase.postings {
        if let Some(held) = held_for(p, purchase.member_id, purchase.op_id) {
            d.post_memo(p.from, held, p.amount, &p.memo);
        }
    }
    d.lots_consumed = purchase.lots_consumed.clone();
    d.split = Vec::new();
    d
}

/// Completion of a hold (the bank sale went through): the held credit goes to the merchant, the
/// held points to the club, and everything else the purchase decided (discount funding, earnings, split, counters, budgets) is
/// written now, under the completion's operation.
pub fn complete_hold(purchase: &Decision, op_id: i64, now: i64) -> Decision {
    let mut d = purchase.clone();
    d.op_id = op_id;
    d.now = now;
    d.held_lots = std::mem::take(&mut d.lots_consumed);
    let mut postings = Vec::with_capacity(d.postings.len());
    for p in &purchase.postings {
        match held_for(p, purchase.member_id, purchase.op_id) {
            Some(held) => postings.push(crate::model::Posting { from: held, ..p.clone() }),
            None => postings.push(p.clone()),
        }
    }
    d.postings = postings;
    // Lots earned are named after the completing operation.
    for (n, lot) in d.lots_created.iter_mut().enumerate() {
        lot.id = lot_id(op_id, n);
    }
    d
}

/// Cancellation of a hold: the held credit and points return to the accounts they came from, as
/// new lots with the original expiries.
pub fn cancel_hold(hold_decision: &Decision, op_id: i64, now: i64) -> Decision {
    let mut d = Decision::empty(DecisionKind::Reversal, op_id, hold_decision.member_id, now);
    d.merchant_id = hold_decision.merchant_id;
    for p in &hold_decision.postings {
        // Every posting of a hold moves value into one of its held accounts.
        d.post_memo(p.to, p.from, p.amount, &p.memo);
    }
    for used in &hold_decision.lots_consumed {
        d.restore_lot(used, used.amount);
    }
    d
}

/// The exact inverse of a whole decision (a terminal's reversal of a refund, for instance): every
/// posting goes back, the lots it drew return with their expiries, the lots it created are drawn
/// back (its own first; what was already spent becomes a debt, as in `reverse`), and its totals,
/// split legs, budgets and counters are negated.
pub fn invert(original: &Decision, s: &MemberSnapshot, op_id: i64, now: i64) -> Result<Decision, CoreError> {
    if original.member_id != s.member_id {
        return Err(CoreError::new("wrong_member"));
    }
    let mut d = Decision::empty(DecisionKind::Reversal, op_id, s.member_id, now);
    d.merchant_id = original.merchant_id;
    d.amount_rial = -original.amount_rial;
    d.discount_rial = -original.discount_rial;
    d.credit_used_rial = -original.credit_used_rial;
    d.points_redeemed = -original.points_redeemed;
    d.points_redeemed_rial = -original.points_redeemed_rial;
    d.payable_rial = -original.payable_rial;
    d.points_earned = -original.points_earned;
    for used in &original.lots_consumed {
        d.restore_lot(used, used.amount);
    }
    let mut h = Holdings::new(s, original.op_id);
    for p in &original.postings {
        if s.owns(&p.to) && p.to.floor(s.credit_limit(&p.to)).is_some() {
            h.take_back(&mut d, p.to, p.from, p.amount, &p.memo);
        } else {
            d.post_memo(p.to, p.from, p.amount, &p.memo);
        }
    }
    d.split = original
        .split
        .iter()
        .map(|l| SplitLeg { role: l.role, beneficiary_id: l.beneficiary_id, amount_rial: -l.amount_rial })
        .collect();
    d.budget_use = original.budget_use.iter().map(|b| BudgetUse { key: b.key.clone(), amount: -b.amount, limit: b.limit }).collect();
    d.counters = CounterDelta {
        purchases: -original.counters.purchases,
        spend_rial: -original.counters.spend_rial,
        day: original.counters.day,
        last_purchase_at: None,
    };
    d.voucher_used = original.voucher_restored.clone();
    d.voucher_restored = original.voucher_used.clone();
    debug_assert!(d.is_balanced());
    Ok(d)
}
