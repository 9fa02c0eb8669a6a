//! The batch path: evaluate a rulebook over many historical purchases and total what it would
//! have cost ("what would this campaign have cost last quarter"). Columnar input, no explanations.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::account::{Kind, Owner};
use crate::errors::CoreError;
use crate::model::{Channel, MemberSnapshot, PaymentMethod, Purchase};
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

fn funder_name(owner: Owner) -> &'static str {
    match owner {
        Owner::Merchant(_) => "merchant",
        Owner::Club(_) => "club_owner",
        Owner::Platform => "platform",
        Owner::Marketer(_) => "marketer",
        _ => "other",
    }
}

impl Rulebook {
    pub fn backtest(&self, input: &BatchInput<'_>) -> Result<BacktestTotals, CoreError> {
        let n = input.merchant_id.len();
        let lengths = [input.merchant_group.len(), input.amount_rial.len(), input.at.len(), input.tier.len(), input.purchase_count.len()];
        if lengths.iter().any(|l| *l != n) {
            return Err(CoreError::new("invalid_input").with("detail", "batch columns differ in length"));
        }
        let mut totals = BacktestTotals::default();
        let mut scratch = Scratch::default();
        let mut snapshot = MemberSnapshot { member_id: 1, ..MemberSnapshot::default() };
        let mut purchase = Purchase {
            op_id: 0,
            club_id: self.club_id,
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
            voucher_code: None,
        };
        for i in 0..n {
            purchase.op_id = i64::try_from(i).unwrap_or(i64::MAX);
            purchase.merchant_id = input.merchant_id[i];
            purchase.merchant_groups.clear();
            if input.merchant_group[i] >= 0 {
                purchase.merchant_groups.push(input.merchant_group[i]);
            }
            purchase.amount_rial = input.amount_rial[i];
            snapshot.tier = usize::try_from(input.tier[i]).ok().and_then(|t| input.tier_names.get(t)).cloned();
            snapshot.purchase_count = input.purchase_count[i];
            totals.purchases += 1;
            let d = match self.evaluate_with(&purchase, &snapshot, input.at[i], false, &mut scratch) {
                Ok(d) => d,
                Err(_) => {
                    totals.rejected += 1;
                    continue;
                }
            };
            totals.amount_rial += d.amount_rial;
            totals.discount_rial += d.discount_rial;
            totals.payable_rial += d.payable_rial;
            totals.points_issued += d.points_earned;
            totals.vouchers_issued += i64::try_from(d.vouchers_issued.len()).unwrap_or(0);
            totals.lottery_entries += d.lottery_entries.iter().map(|l| l.entries).sum::<i64>();
            if !d.applied_rules.is_empty() {
                totals.with_reward += 1;
            }
            for p in &d.postings {
                match p.from.kind {
                    Kind::Expense => {
                        *totals.cost_by_funder.entry(funder_name(p.from.owner).to_string()).or_insert(0) += p.amount;
                        if p.to.is_holder() {
                            totals.credit_issued_rial += p.amount;
                        }
                    }
                    Kind::PointsIssued => *totals.points_by_funder.entry(funder_name(p.from.owner).to_string()).or_insert(0) += p.amount,
                    _ => {}
                }
                if !p.memo.is_empty() && d.applied_rules.contains(&p.memo) {
                    let r = totals.per_rule.entry(p.memo.to_string()).or_default();
                    match p.to.kind {
                        Kind::DiscountGiven => r.discount_rial += p.amount,
                        Kind::Points => r.points += p.amount,
                        k if k.is_spendable_credit() => r.credit_rial += p.amount,
                        _ => {}
                    }
                }
            }
            for rule in &d.applied_rules {
                match totals.per_rule.get_mut(&**rule) {
                    Some(r) => r.uses += 1,
                    None => {
                        totals.per_rule.insert(rule.to_string(), RuleTotals { uses: 1, ..RuleTotals::default() });
                    }
                }
            }
            let m = totals.per_merchant.entry(purchase.merchant_id).or_default();
            m.purchases += 1;
            m.amount_rial += d.amount_rial;
            m.discount_rial += d.discount_rial;
            m.points += d.points_earned;
        }
        Ok(totals)
    }
}
