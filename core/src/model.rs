//! Plain data that crosses the boundary: a purchase, a member snapshot, and the
//! decision the core makes about them. All amounts are integers (rials, points,
//! entries); all instants are Unix seconds passed in by the caller.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::account::{AccountKey, Kind, Owner, Unit};

/// Upper bound on any single amount: 10^15 rials (far above any real purchase), so
/// that sums of many amounts stay far from `i64::MAX`.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    #[default]
    Card,
    Cash,
    /// Part card, part cash (SPEC M7).
    Mixed,
    /// Paid entirely with club credit.
    Credit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Pos,
    Pcpos,
    App,
    Web,
    Api,
    Panel,
}

/// One line of a PC-POS basket (SPEC CH4, R2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketLine {
    pub goods_id: String,
    #[serde(default)]
    pub group: String,
    #[serde(default = "one")]
    pub quantity: i64,
    pub amount_rial: i64,
}

fn one() -> i64 {
    1
}

/// A purchase as the service sees it after resolving the terminal to its merchant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purchase {
    /// The operation number the service assigned (names the lots and holds it creates).
    pub op_id: i64,
    pub club_id: i64,
    /// The club and every sub-club above it, innermost first (SPEC C2).
    #[serde(default)]
    pub club_path: Vec<i64>,
    pub merchant_id: i64,
    #[serde(default)]
    pub merchant_groups: Vec<i64>,
    #[serde(default)]
    pub branch_id: Option<i64>,
    /// The merchant's business type, for the fee tariff (SPEC C6).
    #[serde(default)]
    pub business_type: Option<String>,
    /// The marketer credited for this merchant (split share S3).
    #[serde(default)]
    pub marketer_id: Option<i64>,
    /// The merchant that enrolled this member, when it is another merchant (split share S4).
    #[serde(default)]
    pub enrolling_merchant_id: Option<i64>,
    pub amount_rial: i64,
    #[serde(default)]
    pub basket: Vec<BasketLine>,
    #[serde(default)]
    pub payment_method: PaymentMethod,
    #[serde(default)]
    pub channel: Channel,
    /// Rials of credit the member wants to pay with (0: none). Drawn soonest-expiring first.
    #[serde(default)]
    pub redeem_credit_rial: i64,
    /// Points the member wants to pay with (0: none), at their conversion ratio (see `redeem`).
    #[serde(default)]
    pub redeem_points: i64,
    /// The club's conversion settings (V1), which price the points redeemed; the service passes
    /// them only when `redeem_points` is set.
    #[serde(default)]
    pub conversion: Option<crate::value::ConversionConfig>,
    /// A voucher to use with this purchase.
    #[serde(default)]
    pub voucher_code: Option<String>,
}

/// A lot: value earned at one time, with its own expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    /// `"{op_id}:{n}"`: the operation that created it and its index there.
    pub id: String,
    pub account: AccountKey,
    pub remaining: i64,
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Not spendable before this instant (earned points pending a return window).
    #[serde(default)]
    pub pending_until: Option<i64>,
}

impl Lot {
    pub fn spendable(&self, now: i64) -> bool {
        self.remaining > 0 && self.expires_at.is_none_or(|e| e > now) && self.pending_until.is_none_or(|p| p <= now)
    }

    /// Order of spending: soonest-expiring first, never-expiring last, then oldest id.
    pub fn spend_order(&self) -> (i64, &str) {
        (self.expires_at.unwrap_or(i64::MAX), self.id.as_str())
    }
}

/// Draw up to `amount` from `lots` (the caller picks them: which accounts, spendable now or not),
/// the lots `first` prefers before all others, then in `Lot::spend_order`. Every draw of the core
/// goes through here, so value is always spent in one order. The draws add up to `amount`, or to
/// everything the lots hold when that is less.
pub fn draw_lots<'l>(lots: impl IntoIterator<Item = &'l Lot>, amount: i64, first: impl Fn(&Lot) -> bool) -> Vec<LotUse> {
    let mut order: Vec<&Lot> = lots.into_iter().filter(|l| l.remaining > 0).collect();
    order.sort_by(|a, b| first(b).cmp(&first(a)).then_with(|| a.spend_order().cmp(&b.spend_order())));
    let mut need = amount.max(0);
    let mut uses = Vec::new();
    for lot in order {
        if need == 0 {
            break;
        }
        let take = lot.remaining.min(need);
        need -= take;
        uses.push(LotUse { lot_id: lot.id.clone(), account: lot.account, amount: take, expires_at: lot.expires_at });
    }
    uses
}

/// `"{op_id}:{seq}"`, the id of a decision's `seq`-th new lot, built without the formatting
/// machinery (one per lot on the hot path).
pub fn lot_id(op_id: i64, seq: usize) -> String {
    fn digits(mut n: u64, buf: &mut [u8; 20]) -> usize {
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + u8::try_from(n % 10).unwrap_or(0);
            n /= 10;
            if n == 0 {
                return i;
            }
        }
    }
    let mut id = String::with_capacity(24);
    let mut buf = [0_u8; 20];
    if op_id < 0 {
        id.push('-');
    }
    let start = digits(op_id.unsigned_abs(), &mut buf);
    id.extend(buf[start..].iter().map(|b| char::from(*b)));
    id.push(':');
    let start = digits(seq as u64, &mut buf);
    id.extend(buf[start..].iter().map(|b| char::from(*b)));
    id
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub account: AccountKey,
    pub balance: i64,
    /// For a credit line: how far below zero it may go.
    #[serde(default)]
    pub credit_limit: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    pub code: String,
    /// Fixed rial discount, or percent in basis points of the purchase, capped.
    #[serde(default)]
    pub discount_rial: i64,
    #[serde(default)]
    pub discount_bp: i64,
    #[serde(default)]
    pub cap_rial: Option<i64>,
    #[serde(default)]
    pub valid_from: Option<i64>,
    #[serde(default)]
    pub valid_to: Option<i64>,
    /// Empty: any merchant of the club.
    #[serde(default)]
    pub merchants: Vec<i64>,
    #[serde(default)]
    pub used: bool,
    /// Who bears the voucher's discount.
    #[serde(default)]
    pub funder: Option<Funder>,
}

/// One day of a member's purchase history (for recency, frequency and monetary segments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStat {
    /// Local day number (days since 1970-01-01 in the club's time zone).
    pub day: i64,
    pub count: i64,
    pub spend_rial: i64,
}

/// Everything the core needs to know about a member to decide a purchase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MemberSnapshot {
    pub member_id: i64,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub groups: Vec<i64>,
    /// The member who introduced this one (SPEC M6).
    #[serde(default)]
    pub referrer_id: Option<i64>,
    /// The shared wallet this member spends from too (SPEC M5).
    #[serde(default)]
    pub shared_group_id: Option<i64>,
    #[serde(default)]
    pub purchase_count: i64,
    /// Purchases at the merchant of the purchase being decided (for "every nth purchase here").
    #[serde(default)]
    pub merchant_purchase_count: i64,
    #[serde(default)]
    pub last_purchase_at: Option<i64>,
    /// Recent days with purchases, any order (the service keeps about a year).
    #[serde(default)]
    pub history: Vec<DayStat>,
    #[serde(default)]
    pub accounts: Vec<AccountState>,
    #[serde(default)]
    pub lots: Vec<Lot>,
    #[serde(default)]
    pub vouchers: Vec<Voucher>,
    /// Budget use so far, by budget key (see `Rulebook::budget_keys`).
    #[serde(default)]
    pub budget_used: BTreeMap<String, i64>,
}

impl MemberSnapshot {
    pub fn balance(&self, account: &AccountKey) -> i64 {
        self.accounts.iter().find(|a| a.account == *account).map_or(0, |a| a.balance)
    }

    pub fn credit_limit(&self, account: &AccountKey) -> i64 {
        self.accounts.iter().find(|a| a.account == *account).map_or(0, |a| a.credit_limit)
    }

    pub fn points(&self) -> i64 {
        self.balance(&AccountKey::plain(Owner::Member(self.member_id), Kind::Points))
    }

    /// The rial credit the member holds in lots, their own and their shared wallet's, wherever it
    /// may be spent (a receipt's credit balance). A credit line is a limit, not credit held.
    pub fn credit_held(&self) -> i64 {
        self.accounts.iter().filter(|a| self.owns(&a.account) && a.account.kind.is_credit_held()).map(|a| a.balance).sum()
    }

    /// Whether an account's value belongs to this member (their own or their shared wallet's).
    pub fn owns(&self, account: &AccountKey) -> bool {
        match account.owner {
            Owner::Member(id) => id == self.member_id,
            Owner::Group(id) => Some(id) == self.shared_group_id,
            _ => false,
        }
    }
}

/// Who bears the cost of an effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Funder {
    Merchant,
    ClubOwner,
    Platform,
    Marketer,
}

/// One movement of value: `amount` leaves `from` and arrives in `to`.
/// A posting is a balanced journal entry by construction (−amount, +amount, same unit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub from: AccountKey,
    pub to: AccountKey,
    pub amount: i64,
    pub unit: Unit,
    /// Which rule or step produced it (for the journal's memo and the explanation).
    pub memo: Arc<str>,
}

/// A part of a lot drawn by a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotUse {
    pub lot_id: String,
    pub account: AccountKey,
    pub amount: i64,
    /// Kept so a reversal can restore the value with its original expiry.
    pub expires_at: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitRole {
    Merchant,
    Marketer,
    MerchantMarketer,
    ClubOwner,
    PlatformFee,
}

/// One beneficiary's part of a payment (SPEC S1–S5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitLeg {
    pub role: SplitRole,
    /// Merchant, marketer or club id; 0 for the platform.
    pub beneficiary_id: i64,
    pub amount_rial: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotteryEntry {
    pub lottery_id: i64,
    pub entries: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherIssue {
    pub template_id: i64,
    pub rule_id: String,
}

/// One line of the explanation: a code and the numbers behind it. Messages in Persian and English
/// are rendered on demand (`explain::render`), so the batch path never formats text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explain {
    pub rule_id: String,
    pub name_en: String,
    pub name_fa: String,
    /// One of `errors::EXPLANATIONS`.
    pub code: String,
    /// For `condition_failed`: one of `errors::CONDITIONS`.
    #[serde(default)]
    pub condition: Option<String>,
    /// For `lost_to_better_rule` / `after_first_match`: the winning rule's name (en, fa).
    #[serde(default)]
    pub winner: Option<(String, String)>,
    /// For a failed `nth_purchase`: its `n`, so the line can say which purchase qualifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<i64>,
    #[serde(default)]
    pub discount_rial: i64,
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub credit_rial: i64,
    #[serde(default)]
    pub entries: i64,
    /// Points given to the member who introduced this one.
    #[serde(default)]
    pub referral_points: i64,
}

/// Use of a budget by a decision (negative in a reversal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetUse {
    pub key: String,
    pub amount: i64,
    pub limit: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Purchase,
    Refund,
    Reversal,
    Conversion,
    VoucherPurchase,
    Charge,
    Expiry,
    Adjustment,
    Hold,
}

/// Counters a decision moves (purchase count, spend per day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CounterDelta {
    pub purchases: i64,
    pub spend_rial: i64,
    pub day: i64,
    /// Set on a purchase: becomes the member's last purchase time.
    pub last_purchase_at: Option<i64>,
}

/// The whole outcome of one operation, decided by the core and written by the service in one
/// database transaction. Applying it to the snapshot it was decided on is all-or-nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub kind: DecisionKind,
    pub op_id: i64,
    pub member_id: i64,
    pub merchant_id: Option<i64>,
    pub now: i64,
    pub amount_rial: i64,
    pub discount_rial: i64,
    pub credit_used_rial: i64,
    /// Points the member paid with (negative in a refund: the points given back).
    #[serde(default)]
    pub points_redeemed: i64,
    /// The rial value of `points_redeemed` at the member's conversion ratio.
    #[serde(default)]
    pub points_redeemed_rial: i64,
    /// What the member pays by card or cash: amount − discount − credit used − points' value.
    pub payable_rial: i64,
    pub points_earned: i64,
    pub postings: Vec<Posting>,
    pub lots_created: Vec<Lot>,
    pub lots_consumed: Vec<LotUse>,
    /// On the completion of a hold: the lots the hold drew, so a reversal can restore them.
    #[serde(default)]
    pub held_lots: Vec<LotUse>,
    pub split: Vec<SplitLeg>,
    pub lottery_entries: Vec<LotteryEntry>,
    pub vouchers_issued: Vec<VoucherIssue>,
    pub voucher_used: Option<String>,
    pub budget_use: Vec<BudgetUse>,
    /// A reversal gives a used voucher back.
    pub voucher_restored: Option<String>,
    pub counters: CounterDelta,
    pub explanation: Vec<Explain>,
    /// The rules that applied, in order.
    pub applied_rules: Vec<Arc<str>>,
}

impl Decision {
    pub fn empty(kind: DecisionKind, op_id: i64, member_id: i64, now: i64) -> Self {
        Decision {
            kind,
            op_id,
            member_id,
            merchant_id: None,
            now,
            amount_rial: 0,
            discount_rial: 0,
            credit_used_rial: 0,
            points_redeemed: 0,
            points_redeemed_rial: 0,
            payable_rial: 0,
            points_earned: 0,
            postings: Vec::new(),
            lots_created: Vec::new(),
            lots_consumed: Vec::new(),
            held_lots: Vec::new(),
            split: Vec::new(),
            lottery_entries: Vec::new(),
            vouchers_issued: Vec::new(),
            voucher_used: None,
            budget_use: Vec::new(),
            voucher_restored: None,
            counters: CounterDelta::default(),
            explanation: Vec::new(),
            applied_rules: Vec::new(),
        }
    }

    /// Empty this decision for reuse, keeping its buffers' capacity.
    pub fn reset(&mut self, kind: DecisionKind, op_id: i64, member_id: i64, now: i64) {
        self.kind = kind;
        self.op_id = op_id;
        self.member_id = member_id;
        self.merchant_id = None;
        self.now = now;
        self.amount_rial = 0;
        self.discount_rial = 0;
        self.credit_used_rial = 0;
        self.points_redeemed = 0;
        self.points_redeemed_rial = 0;
        self.payable_rial = 0;
        self.points_earned = 0;
        self.postings.clear();
        self.lots_created.clear();
        self.lots_consumed.clear();
        self.held_lots.clear();
        self.split.clear();
        self.lottery_entries.clear();
        self.vouchers_issued.clear();
        self.voucher_used = None;
        self.voucher_restored = None;
        self.budget_use.clear();
        self.counters = CounterDelta::default();
        self.explanation.clear();
        self.applied_rules.clear();
    }

    /// Append a posting unless it is zero. Panics on a negative amount or mixed units, which would
    /// be a bug in the core, never the caller's input.
    pub fn post(&mut self, from: AccountKey, to: AccountKey, amount: i64, memo: &str) {
        if amount > 0 {
            self.post_memo(from, to, amount, &Arc::from(memo));
        }
    }

    /// Like `post`, sharing the memo text (a rule id) instead of copying it.
    pub fn post_memo(&mut self, from: AccountKey, to: AccountKey, amount: i64, memo: &Arc<str>) {
        assert!(amount >= 0, "negative posting");
        assert_eq!(from.unit(), to.unit(), "posting mixes units: {from} -> {to}");
        if amount > 0 {
            self.postings.push(Posting { from, to, amount, unit: from.unit(), memo: memo.clone() });
        }
    }

    /// A new lot of `amount` in `account`, named after this decision's operation. Nothing for a
    /// zero amount.
    pub fn add_lot(&mut self, account: AccountKey, amount: i64, expires_at: Option<i64>, pending_until: Option<i64>) {
        if amount > 0 {
            let id = lot_id(self.op_id, self.lots_created.len());
            self.lots_created.push(Lot { id, account, remaining: amount, expires_at, pending_until });
        }
    }

    /// Give back `amount` of a draw as a new lot with the drawn lot's expiry (a refund, a
    /// reversal, a cancelled hold): the one way the core restores value it drew.
    pub fn restore_lot(&mut self, used: &LotUse, amount: i64) {
        self.add_lot(used.account, amount, used.expires_at, None);
    }

    /// Net change of every account this decision touches.
    pub fn deltas(&self) -> BTreeMap<AccountKey, i64> {
        let mut deltas = BTreeMap::new();
        for p in &self.postings {
            *deltas.entry(p.from).or_insert(0) -= p.amount;
            *deltas.entry(p.to).or_insert(0) += p.amount;
        }
        deltas
    }

    /// Invariant: every unit nets to zero across the decision.
    pub fn is_balanced(&self) -> bool {
        let mut per_unit: BTreeMap<Unit, i128> = BTreeMap::new();
        for (account, delta) in self.deltas() {
            *per_unit.entry(account.unit()).or_insert(0) += i128::from(delta);
        }
        per_unit.values().all(|v| *v == 0)
            && self.split.iter().map(|l| l.amount_rial).sum::<i64>() == if self.split.is_empty() { 0 } else { self.payable_rial }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(id: &str, remaining: i64, expires_at: Option<i64>) -> Lot {
        Lot { id: id.into(), account: AccountKey::plain(Owner::Member(1), Kind::Points), remaining, expires_at, pending_until: None }
    }

    #[test]
    fn lot_ids() {
        assert_eq!(lot_id(0, 0), "0:0");
        assert_eq!(lot_id(1234567890123, 42), "1234567890123:42");
        assert_eq!(lot_id(-5, 1), "-5:1");
        assert_eq!(lot_id(i64::MIN, u32::MAX as usize), format!("{}:{}", i64::MIN, u32::MAX));
    }

    #[test]
    fn draws_soonest_expiring_first_preferred_before_all() {
        let lots = [lot("1:0", 5, None), lot("2:0", 5, Some(100)), lot("3:0", 5, Some(50)), lot("4:0", 0, Some(1))];
        let ids = |uses: &[LotUse]| uses.iter().map(|u| (u.lot_id.clone(), u.amount)).collect::<Vec<_>>();
        assert_eq!(ids(&draw_lots(&lots, 7, |_| false)), [("3:0".to_string(), 5), ("2:0".to_string(), 2)]);
        assert_eq!(ids(&draw_lots(&lots, 7, |l| l.id.starts_with("1:"))), [("1:0".to_string(), 5), ("3:0".to_string(), 2)]);
        // Short: everything the lots hold.
        assert_eq!(draw_lots(&lots, 100, |_| false).iter().map(|u| u.amount).sum::<i64>(), 15);
        assert!(draw_lots(&lots, 0, |_| false).is_empty());
    }

    #[test]
    fn restored_lots_keep_the_drawn_expiry_and_are_named_after_the_operation() {
        let mut d = Decision::empty(DecisionKind::Refund, 9, 1, 0);
        let used = LotUse { lot_id: "3:0".into(), account: AccountKey::plain(Owner::Member(1), Kind::Points), amount: 5, expires_at: Some(50) };
        d.restore_lot(&used, 3);
        d.restore_lot(&used, 0);
        d.restore_lot(&used, 2);
        assert_eq!(d.lots_created.iter().map(|l| (l.id.as_str(), l.remaining, l.expires_at)).collect::<Vec<_>>(), [("9:0", 3, Some(50)), ("9:1", 2, Some(50))]);
    }
}
