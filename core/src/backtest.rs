//! The batch path: evaluate a rulebook over many historical purchases and total what it would
//! have cost ("what would this campaign have cost last quarter"). Columnar input, no explanations.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::account::{Kind, Owner};
use crate::errors::CoreError;
use crate::model::{Channel, Decision, MemberSnapshot, PaymentMethod, Posting, Purchase};
use crate::rules::compile::Rulebook;
use crate::rules::evaluate::Scratch;

/// Columnar purchases: one entry per purchase, all columns of equal length.
pub struct BatchInput<'a> {
    pub merchant_id: &'a [i64],
    /// One merchant group per purchase, or -1.
    pub merchant_group: &'a [i64],
    pub amount_rial: &'a [i64],
    pub at: &'a [i64],
    /// Index into `tier_names`, or -1.
    pub tier: &'a [i32],
    pub tier_names: &'a [String],
    /// Purchases the member made before this one (for first/nth purchase rules).
    pub purchase_count: &'a [i64],
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MerchantTotals {
    pub purchases: i64,
    pub amount_rial: i64,
    pub discount_rial: i64,
    pub points: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleTotals {
    pub uses: i64,
    pub discount_rial: i64,
    pub points: i64,
    pub credit_rial: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BacktestTotals {
    pub purchases: i64,
    pub rejected: i64,
    pub with_reward: i64,
    pub amount_rial: i64,
    pub discount_rial: i64,
    pub payable_rial: i64,
    pub points_issued: i64,
    pub credit_issued_rial: i64,
    pub lottery_entries: i64,
    pub vouchers_issued: i64,
    /// Rials of discount and credit borne by each funder kind ("merchant", "club_owner", ...).
    pub cost_by_funder: BTreeMap<String, i64>,
    pub points_by_funder: BTreeMap<String, i64>,
    pub per_merchant: BTreeMap<i64, MerchantTotals>,
    pub per_rule: BTreeMap<String, RuleTotals>,
}

/// FNV-1a: a fast hash for the batch's integer keys (SipHash's resistance to chosen keys is not
/// needed for ids from our own database).
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

const FUNDER_NAMES: [&str; 5] = ["merchant", "club_owner", "platform", "marketer", "other"];

fn funder_slot(owner: Owner) -> usize {
    match owner {
        Owner::Merchant(_) => 0,
        Owner::Club(_) => 1,
        Owner::Platform => 2,
        Owner::Marketer(_) => 3,
        _ => 4,
    }
}

/// Running totals of a backtest. Tallies are indexed by number and named only at the end: the
/// loop allocates nothing per posting.
struct Tally<'r> {
    totals: BacktestTotals,
    rule_index: std::collections::HashMap<&'r str, usize>,
    per_rule: Vec<RuleTotals>,
    cost_by_funder: [i64; 5],
    points_by_funder: [i64; 5],
    per_merchant: FastMap<i64, MerchantTotals>,
    /// The rules applied to the decision at hand, with their numbers, matched to postings by
    /// pointer (a posting's memo is the rule's own id, shared).
    applied: Vec<(*const u8, usize)>,
}

impl<'r> Tally<'r> {
    fn new(book: &'r Rulebook) -> Self {
        Tally {
            totals: BacktestTotals::default(),
            rule_index: book.rules.iter().enumerate().map(|(i, r)| (&*r.id, i)).collect(),
            per_rule: vec![RuleTotals::default(); book.rules.len()],
            cost_by_funder: [0; 5],
            points_by_funder: [0; 5],
            per_merchant: FastMap::default(),
            applied: Vec::with_capacity(8),
        }
    }

    /// Count one decided purchase at `merchant_id`.
    fn count(&mut self, d: &Decision, merchant_id: i64) {
        let totals = &mut self.totals;
        totals.amount_rial += d.amount_rial;
        totals.discount_rial += d.discount_rial;
        totals.payable_rial += d.payable_rial;
        totals.points_issued += d.points_earned;
        totals.vouchers_issued += i64::try_from(d.vouchers_issued.len()).unwrap_or(0);
        totals.lottery_entries += d.lottery_entries.iter().map(|l| l.entries).sum::<i64>();
        if !d.applied_rules.is_empty() {
            totals.with_reward += 1;
        }
        self.applied.clear();
        for rule in &d.applied_rules {
            if let Some(&r) = self.rule_index.get(&**rule) {
                self.per_rule[r].uses += 1;
                self.applied.push((rule.as_ptr(), r));
            }
        }
        for p in &d.postings {
            self.count_posting(p);
        }
        let m = self.per_merchant.entry(merchant_id).or_default();
        m.purchases += 1;
        m.amount_rial += d.amount_rial;
        m.discount_rial += d.discount_rial;
        m.points += d.points_earned;
    }

    /// A posting's cost to its funder, and its reward to the rule that made it.
    fn count_posting(&mut self, p: &Posting) {
        match p.from.kind {
            Kind::Expense => {
                self.cost_by_funder[funder_slot(p.from.owner)] += p.amount;
                if p.to.is_holder() {
                    self.totals.credit_issued_rial += p.amount;
                }
            }
            Kind::PointsIssued => self.points_by_funder[funder_slot(p.from.owner)] += p.amount,
            _ => {}
        }
        if let Some(&(_, r)) = self.applied.iter().find(|(ptr, _)| *ptr == p.memo.as_ptr()) {
            let r = &mut self.per_rule[r];
            match p.to.kind {
                Kind::DiscountGiven => r.discount_rial += p.amount,
                Kind::Points => r.points += p.amount,
                k if k.is_spendable_credit() => r.credit_rial += p.amount,
                _ => {}
            }
        }
    }

    /// The totals, with funders and rules named.
    fn finish(self, book: &Rulebook) -> BacktestTotals {
        let mut totals = self.totals;
        for (slot, name) in FUNDER_NAMES.iter().enumerate() {
            if self.cost_by_funder[slot] != 0 {
                totals.cost_by_funder.insert((*name).to_string(), self.cost_by_funder[slot]);
            }
            if self.points_by_funder[slot] != 0 {
                totals.points_by_funder.insert((*name).to_string(), self.points_by_funder[slot]);
            }
        }
        for (rule, t) in book.rules.iter().zip(self.per_rule) {
            if t.uses > 0 {
                totals.per_rule.insert(rule.id.to_string(), t);
            }
        }
        totals.per_merchant = self.per_merchant.into_iter().collect();
        totals
    }
}

/// The purchase the backtest replays, reused from one row to the next.
fn replayed_purchase(club_id: i64) -> Purchase {
    Purchase {
        op_id: 0,
        club_id,
        club_path: Vec::new(),
        merchant_id: 0,
        merchant_groups: Vec::with_capacity(1),
        branch_id: None,
        business_type: None,
        marketer_id: None,
        enrolling_merchant_id: None,
        amount_rial: 0,
        basket: Vec::new(),
        payment_method: PaymentMethod::Card,
        channel: Channel::Pos,
        redeem_credit_rial: 0,
        redeem_points: 0,
        conversion: None,
        voucher_code: None,
    }
}

impl Rulebook {
    pub fn backtest(&self, input: &BatchInput<'_>) -> Result<BacktestTotals, CoreError> {
        let n = input.merchant_id.len();
        let lengths = [input.merchant_group.len(), input.amount_rial.len(), input.at.len(), input.tier.len(), input.purchase_count.len()];
        if lengths.iter().any(|l| *l != n) {
            return Err(CoreError::new("invalid_input").with_text("detail", "batch columns differ in length", "ستون‌های ورودی هم‌طول نیستند"));
        }
        let mut tally = Tally::new(self);
        let mut scratch = Scratch::default();
        let mut d = Decision::empty(crate::model::DecisionKind::Purchase, 0, 1, 0);
        let mut snapshot = MemberSnapshot { member_id: 1, ..MemberSnapshot::default() };
        let mut purchase = replayed_purchase(self.club_id);
        for i in 0..n {
            purchase.op_id = i64::try_from(i).unwrap_or(i64::MAX);
            purchase.merchant_id = input.merchant_id[i];
            purchase.merchant_groups.clear();
            if input.merchant_group[i] >= 0 {
                purchase.merchant_groups.push(input.merchant_group[i]);
            }
            purchase.amount_rial = input.amount_rial[i];
            let tier = usize::try_from(input.tier[i]).ok().and_then(|t| input.tier_names.get(t));
            if snapshot.tier.as_ref() != tier {
                snapshot.tier = tier.cloned();
            }
            snapshot.purchase_count = input.purchase_count[i];
            tally.totals.purchases += 1;
            if self.evaluate_into(&purchase, &snapshot, input.at[i], false, &mut scratch, &mut d).is_err() {
                tally.totals.rejected += 1;
                continue;
            }
            // Budgets run down across the replayed purchases as they would live; a backtest knows
            // no members, so per-member budgets are not counted (each purchase finds them unused).
            for used in &d.budget_use {
                if !used.key.contains("|member:") {
                    *snapshot.budget_used.entry(used.key.clone()).or_insert(0) += used.amount;
                }
            }
            tally.count(&d, purchase.merchant_id);
        }
        Ok(tally.finish(self))
    }
}
