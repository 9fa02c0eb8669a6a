//! Value operations outside a purchase: points → credit (V1), buying a voucher (V5), charging
//! credit (V2 credit line repayment, V3 welfare, V4 gift cards), manual adjustments and expiry.
//! Each returns a balanced `Decision` that `ledger::apply` writes all-or-nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::account::{AccountKey, Kind, Owner, Scope, Unit};
use crate::errors::CoreError;
use crate::model::{draw_lots, Decision, DecisionKind, LotUse, MemberSnapshot, VoucherIssue, MAX_AMOUNT};
use crate::money::{mul_div, Rounding};

/// Points → credit ratio: `rial` rials for every `points` points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    pub points: i64,
    pub rial: i64,
}

/// Conversion settings of a club (V1): ratios differ per member group and tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionConfig {
    pub club_id: i64,
    #[serde(default)]
    pub default: Option<Ratio>,
    #[serde(default)]
    pub by_tier: BTreeMap<String, Ratio>,
    #[serde(default)]
    pub by_group: BTreeMap<i64, Ratio>,
    #[serde(default)]
    pub min_points: i64,
    #[serde(default)]
    pub expires_days: Option<i64>,
}

impl ConversionConfig {
    /// The ratio for a member: the best of their groups' ratios, else their tier's, else the default.
    pub fn ratio_for(&self, s: &MemberSnapshot) -> Option<Ratio> {
        let value = |r: &Ratio| (i128::from(r.rial) * 1_000_000) / i128::from(r.points.max(1));
        let group = s.groups.iter().filter_map(|g| self.by_group.get(g)).max_by_key(|r| value(r)).copied();
        group.or_else(|| s.tier.as_ref().and_then(|t| self.by_tier.get(t)).copied()).or(self.default)
    }
}

/// Draw `amount` from the member's spendable lots of the accounts `accept` takes (`model::draw_lots`);
/// the parts drawn, summed per account.
fn draw(s: &MemberSnapshot, d: &mut Decision, accept: impl Fn(&AccountKey) -> bool, amount: i64) -> Result<BTreeMap<AccountKey, i64>, CoreError> {
    let lots = s.lots.iter().filter(|l| s.owns(&l.account) && accept(&l.account) && l.spendable(d.now));
    let uses = draw_lots(lots, amount, |_| false);
    let available: i64 = uses.iter().map(|u| u.amount).sum();
    if available < amount {
        return Err(CoreError::new("insufficient_balance").with("account", "balance").with("needed", amount).with("available", available));
    }
    let mut per_account = BTreeMap::new();
    for used in &uses {
        *per_account.entry(used.account).or_insert(0) += used.amount;
    }
    d.lots_consumed.extend(uses);
    Ok(per_account)
}

fn check_amount(amount: i64, field: &str) -> Result<(), CoreError> {
    if amount <= 0 {
        return Err(CoreError::new("amount_must_be_positive").at(field));
    }
    if amount > MAX_AMOUNT {
        return Err(CoreError::new("amount_too_large").at(field));
    }
    Ok(())
}

fn new_lot(d: &mut Decision, account: AccountKey, amount: i64, expires_days: Option<i64>) {
    let expires_at = expires_days.map(|days| d.now + days * 86_400);
    d.add_lot(account, amount, expires_at, None);
}

/// Convert points to virtual credit at the member's ratio (V1).
pub fn convert_points(config: &ConversionConfig, s: &MemberSnapshot, op_id: i64, now: i64, points: i64) -> Result<Decision, CoreError> {
    check_amount(points, "points")?;
    let ratio = config.ratio_for(s).filter(|r| r.points > 0 && r.rial > 0).ok_or_else(|| CoreError::new("conversion_not_allowed"))?;
    if points < config.min_points {
        return Err(CoreError::new("below_threshold").with("threshold", config.min_points).at("points"));
    }
    let rial = mul_div(points, ratio.rial, ratio.points, Rounding::Floor);
    if rial <= 0 {
        return Err(CoreError::new("below_threshold").with("threshold", ratio.points).at("points"));
    }
    let mut d = Decision::empty(DecisionKind::Conversion, op_id, s.member_id, now);
    let club = Owner::Club(config.club_id);
    for (account, amount) in draw(s, &mut d, |a| a.kind == Kind::Points, points)? {
        d.post(account, AccountKey::plain(club, Kind::PointsRetired), amount, "conversion");
    }
    let credit = AccountKey::plain(Owner::Member(s.member_id), Kind::VirtualCredit);
    d.post(AccountKey::plain(club, Kind::Expense), credit, rial, "conversion");
    new_lot(&mut d, credit, rial, config.expires_days);
    Ok(d)
}

/// How a voucher is paid for (V5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherPrice {
    pub template_id: i64,
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub credit_rial: i64,
    /// The member must hold at least this much (points or credit) to buy.
    #[serde(default)]
    pub min_balance: i64,
}

pub fn buy_voucher(club_id: i64, price: &VoucherPrice, s: &MemberSnapshot, op_id: i64, now: i64) -> Result<Decision, CoreError> {
    let mut d = Decision::empty(DecisionKind::VoucherPurchase, op_id, s.member_id, now);
    let club = Owner::Club(club_id);
    let (amount, is_points) = match (price.points, price.credit_rial) {
        (p, 0) if p > 0 => (p, true),
        (0, c) if c > 0 => (c, false),
        _ => return Err(CoreError::new("invalid_input").with_text("detail", "a voucher costs points or credit, not both", "بهای ووچر یا امتیاز است یا اعتبار، نه هر دو").at("price")),
    };
    let accept = move |a: &AccountKey| if is_points { a.kind == Kind::Points } else { a.kind.is_spendable_credit() && a.kind.has_lots() && a.scope == Scope::None };
    let held: i64 = s.lots.iter().filter(|l| s.owns(&l.account) && accept(&l.account) && l.spendable(now)).map(|l| l.remaining).sum();
    if held < price.min_balance.max(amount) {
        return Err(CoreError::new("below_threshold").with("threshold", price.min_balance.max(amount)));
    }
    let sink = if is_points { Kind::PointsRetired } else { Kind::CreditRetired };
    for (account, part) in draw(s, &mut d, accept, amount)? {
        d.post(account, AccountKey::plain(club, sink), part, "voucher_purchase");
    }
    d.vouchers_issued.push(VoucherIssue { template_id: price.template_id, rule_id: String::new() });
    Ok(d)
}

/// Who pays for a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChargeSource {
    Club { id: i64 },
    Merchant { id: i64 },
    Org { id: i64 },
    /// The member pays in money (a gift card bought, a credit line repaid).
    Cash,
}

/// Charge a member's account: welfare credit from an organisation (V3), a gift card (V4), credit
/// bought with money, or a credit-line repayment (V2).
pub fn charge(s: &MemberSnapshot, op_id: i64, now: i64, account: AccountKey, amount: i64, source: ChargeSource, expires_days: Option<i64>) -> Result<Decision, CoreError> {
    check_amount(amount, "amount")?;
    if !s.owns(&account) || account.unit() != Unit::Rial || !(account.kind.has_lots() || account.kind == Kind::CreditLine) {
        return Err(CoreError::new("unknown_account").with("account", account));
    }
    let from_owner = match source {
        ChargeSource::Club { id } => Owner::Club(id),
        ChargeSource::Merchant { id } => Owner::Merchant(id),
        ChargeSource::Org { id } => Owner::Org(id),
        ChargeSource::Cash => account.owner,
    };
    let from = AccountKey::plain(from_owner, if matches!(source, ChargeSource::Cash) { Kind::Cash } else { Kind::Expense });
    let mut d = Decision::empty(DecisionKind::Charge, op_id, s.member_id, now);
    d.post(from, account, amount, "charge");
    if account.kind.has_lots() {
        new_lot(&mut d, account, amount, expires_days);
    }
    Ok(d)
}

/// A manual adjustment of a member's account by staff (the reason is kept by the service's audit log).
pub fn adjust(club_id: i64, s: &MemberSnapshot, op_id: i64, now: i64, account: AccountKey, delta: i64, expires_days: Option<i64>) -> Result<Decision, CoreError> {
    if delta == 0 {
        return Err(CoreError::new("amount_must_be_positive").at("delta"));
    }
    if delta.abs() > MAX_AMOUNT {
        return Err(CoreError::new("amount_too_large").at("delta"));
    }
    if !s.owns(&account) || !account.kind.has_lots() {
        return Err(CoreError::new("unknown_account").with("account", account));
    }
    let club = Owner::Club(club_id);
    let (source, sink) = match account.unit() {
        Unit::Point => (Kind::PointsIssued, Kind::PointsRetired),
        Unit::Rial => (Kind::Expense, Kind::CreditRetired),
        Unit::Entry => (Kind::EntriesIssued, Kind::EntriesIssued),
    };
    let source_scope = if account.unit() == Unit::Entry { account.scope } else { Scope::None };
    let mut d = Decision::empty(DecisionKind::Adjustment, op_id, s.member_id, now);
    if delta > 0 {
        d.post(AccountKey::new(club, source, source_scope), account, delta, "adjustment");
        new_lot(&mut d, account, delta, expires_days);
    } else {
        for (acc, part) in draw(s, &mut d, |a| *a == account, -delta)? {
            d.post(acc, AccountKey::new(club, sink, source_scope), part, "adjustment");
        }
    }
    Ok(d)
}

/// Retire every lot of the member that has expired by `now` (the expiry sweep).
pub fn expire(club_id: i64, s: &MemberSnapshot, op_id: i64, now: i64) -> Decision {
    let mut d = Decision::empty(DecisionKind::Expiry, op_id, s.member_id, now);
    let club = Owner::Club(club_id);
    for lot in s.lots.iter().filter(|l| s.owns(&l.account) && l.remaining > 0 && l.expires_at.is_some_and(|e| e <= now)) {
        let sink = match lot.account.unit() {
            Unit::Point => AccountKey::plain(club, Kind::PointsRetired),
            Unit::Rial => AccountKey::plain(club, Kind::CreditRetired),
            Unit::Entry => AccountKey::new(club, Kind::EntriesIssued, lot.account.scope),
        };
        d.lots_consumed.push(LotUse { lot_id: lot.id.clone(), account: lot.account, amount: lot.remaining, expires_at: lot.expires_at });
        d.post(lot.account, sink, lot.remaining, "expiry");
    }
    d
}
