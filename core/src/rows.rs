//! The rows a group of purchase decisions writes, computed in one pass.
//!
//! The service's bulk purchase path (kimia/service/bulk.py) decides a batch of purchases and then
//! writes them with one `executemany` per table. Turning decisions into those rows (journal legs,
//! balance changes summed per account, lots, split legs, budget use, counters) is pure bookkeeping,
//! done here so that the writer thread spends its time on I/O, not on Python loops.
//!
//! Clubs: a holder's value (a member's or a shared wallet's account) lives in the member's club;
//! every other account in the club of the operation (they differ across a meta-club).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::account::{AccountKey, Unit};
use crate::model::{Decision, SplitRole};

/// One decision of the batch and where it is written.
pub struct RowsItem<'a> {
    pub decision: &'a Decision,
    pub op_club: i64,
    pub member_club: i64,
}

// Each row is a tuple in the column order of the statement that writes it (bulk.py).

/// A journal leg: (club, op id, posting seq, account, signed amount, unit, memo, created_at).
pub type Leg = (i64, i64, i64, String, i64, &'static str, Arc<str>, i64);
/// A lot created: (lot id, club, owner, account, original, remaining, expires_at, pending_until).
pub type NewLot = (String, i64, String, String, i64, i64, Option<i64>, Option<i64>);

#[derive(Default)]
pub struct Rows {
    pub legs: Vec<Leg>,
    /// (club, account, owner, summed delta), non-zero only, ordered by (club, account).
    pub balances: Vec<(i64, String, String, i64)>,
    pub lots_created: Vec<NewLot>,
    /// (amount, lot id, club), one row per lot with the batch's draws from it summed:
    /// `remaining -= amount WHERE ... AND remaining >= amount` (one statement may not update a
    /// row twice, and the sum passes that check exactly when each draw in turn would).
    pub lots_consumed: Vec<(i64, String, i64)>,
    /// (club, op id, role, beneficiary, amount, day).
    pub splits: Vec<(i64, i64, &'static str, i64, i64, i64)>,
    /// (club, budget key, summed use, limit), ordered by (club, key).
    pub budgets: Vec<(i64, String, i64, i64)>,
    /// (purchases, points earned, latest purchase time or 0, member), ordered by member.
    pub counters: Vec<(i64, i64, i64, i64)>,
    /// (member, local day, purchases, spend), ordered by (member, day).
    pub days: Vec<(i64, i64, i64, i64)>,
    /// (member, merchant, purchases), ordered by (member, merchant).
    pub visits: Vec<(i64, i64, i64)>,
}

pub fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Rial => "rial",
        Unit::Point => "point",
        Unit::Entry => "entry",
    }
}

pub fn role_name(role: SplitRole) -> &'static str {
    match role {
        SplitRole::Merchant => "merchant",
        SplitRole::Marketer => "marketer",
        SplitRole::MerchantMarketer => "merchant_marketer",
        SplitRole::ClubOwner => "club_owner",
        SplitRole::PlatformFee => "platform_fee",
    }
}

/// The journal keeps memos to 120 characters.
const MEMO_CHARS: usize = 120;

fn memo(text: &Arc<str>) -> Arc<str> {
    match text.char_indices().nth(MEMO_CHARS) {
        Some((cut, _)) => Arc::from(&text[..cut]),
        None => text.clone(),
    }
}

pub fn batch_rows(items: &[RowsItem<'_>], now: i64) -> Rows {
    let mut rows = Rows::default();
    let mut balances: BTreeMap<(i64, AccountKey), i64> = BTreeMap::new();
    let mut budgets: BTreeMap<(i64, &str), (i64, i64)> = BTreeMap::new();
    let mut counters: BTreeMap<i64, (i64, i64, Option<i64>)> = BTreeMap::new();
    let mut days: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
    let mut visits: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    let mut drawn: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    let club_of = |account: &AccountKey, item: &RowsItem<'_>| if account.is_holder() { item.member_club } else { item.op_club };
    for item in items {
        let d = item.decision;
        for (seq, p) in d.postings.iter().enumerate() {
            let unit = unit_name(p.unit);
            let text = memo(&p.memo);
            rows.legs.push((club_of(&p.from, item), d.op_id, seq as i64, p.from.to_string(), -p.amount, unit, text.clone(), now));
            rows.legs.push((club_of(&p.to, item), d.op_id, seq as i64, p.to.to_string(), p.amount, unit, text, now));
            *balances.entry((club_of(&p.from, item), p.from)).or_insert(0) -= p.amount;
            *balances.entry((club_of(&p.to, item), p.to)).or_insert(0) += p.amount;
        }
        for used in &d.lots_consumed {
            *drawn.entry((used.lot_id.as_str(), item.member_club)).or_insert(0) += used.amount;
        }
        for lot in &d.lots_created {
            let (owner, account) = (lot.account.owner.to_string(), lot.account.to_string());
            rows.lots_created.push((lot.id.clone(), item.member_club, owner, account, lot.remaining, lot.remaining, lot.expires_at, lot.pending_until));
        }
        let c = &d.counters;
        for leg in &d.split {
            rows.splits.push((item.op_club, d.op_id, role_name(leg.role), leg.beneficiary_id, leg.amount_rial, c.day));
        }
        for used in &d.budget_use {
            let entry = budgets.entry((item.op_club, used.key.as_str())).or_insert((0, used.limit));
            entry.0 += used.amount;
        }
        let count = counters.entry(d.member_id).or_insert((0, 0, None));
        count.0 += c.purchases;
        count.1 += d.points_earned;
        if let Some(at) = c.last_purchase_at {
            count.2 = Some(count.2.map_or(at, |prev: i64| prev.max(at)));
        }
        let day = days.entry((d.member_id, c.day)).or_insert((0, 0));
        day.0 += c.purchases;
        day.1 += c.spend_rial;
        if let Some(merchant) = d.merchant_id {
            *visits.entry((d.member_id, merchant)).or_insert(0) += c.purchases;
        }
    }
    rows.balances = balances
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .map(|((club, account), delta)| (club, account.to_string(), account.owner.to_string(), delta))
        .collect();
    rows.budgets = budgets.into_iter().map(|((club, key), (amount, limit))| (club, key.to_string(), amount, limit)).collect();
    rows.lots_consumed = drawn.into_iter().map(|((lot, club), amount)| (amount, lot.to_string(), club)).collect();
    rows.counters = counters.into_iter().map(|(member, (n, points, last))| (n, points, last.unwrap_or(0), member)).collect();
    rows.days = days.into_iter().map(|((member, day), (n, spend))| (member, day, n, spend)).collect();
    rows.visits = visits.into_iter().map(|((member, merchant), n)| (member, merchant, n)).collect();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_is_cut_at_120_characters_not_bytes() {
        let long: Arc<str> = Arc::from("ب".repeat(130).as_str());
        assert_eq!(memo(&long).chars().count(), 120);
        let short: Arc<str> = Arc::from("خرید");
        assert_eq!(&*memo(&short), "خرید");
    }

    #[test]
    fn owner_is_the_text_before_the_slash() {
        let account: AccountKey = "member:42/merchant_credit@merchant:7".parse().expect("an account");
        assert_eq!(account.owner.to_string(), "member:42");
        let platform: AccountKey = "platform:0/cash".parse().expect("an account");
        assert_eq!(platform.owner.to_string(), "platform:0");
    }

    #[test]
    fn names_match_serde() {
        for unit in [Unit::Rial, Unit::Point, Unit::Entry] {
            assert_eq!(serde_json::to_value(unit).unwrap(), unit_name(unit));
        }
        for role in [SplitRole::Merchant, SplitRole::Marketer, SplitRole::MerchantMarketer, SplitRole::ClubOwner, SplitRole::PlatformFee] {
            assert_eq!(serde_json::to_value(role).unwrap(), role_name(role));
        }
    }
}
