//! The settlement split of a payment (SPEC S1–S7, C6).
//!
//! What the member pays by card or cash (`payable_rial`) is divided as follows:
//! 1. the platform fee of the merchant's business type (percent + fixed, capped, never more than
//!    the payment) comes off the top;
//! 2. the rest is divided by basis points among club owner, marketer and merchant-marketer, the
//!    merchant keeping the remainder of 10000 bp, with largest-remainder rounding in the fixed
//!    order [club owner, marketer, merchant-marketer, merchant].
//!
//! With no marketer on the purchase, the marketer share goes to the club owner; with no enrolling
//! merchant (or the merchant itself), the merchant-marketer share stays with the merchant. Zero legs
//! are left out. The legs always add up to exactly `payable_rial`.

use crate::model::{Purchase, SplitLeg, SplitRole};
use crate::money::{percent_bp, split_into, BP_ONE};
use crate::rules::compile::Rulebook;

pub fn split_payment(book: &Rulebook, p: &Purchase, payable_rial: i64, legs: &mut Vec<SplitLeg>) {
    legs.clear();
    if payable_rial <= 0 {
        return;
    }
    let s = &book.settlement;
    let tariff = s
        .fee_tariffs
        .iter()
        .find(|t| t.business_type.is_some() && t.business_type == p.business_type)
        .or_else(|| s.fee_tariffs.iter().find(|t| t.business_type.is_none()));
    let fee = tariff.map_or(0, |t| {
        let raw = percent_bp(payable_rial, t.percent_bp).saturating_add(t.fixed_rial);
        t.cap_rial.map_or(raw, |cap| raw.min(cap)).clamp(0, payable_rial)
    });
    let rest = payable_rial - fee;

    let (club_bp, marketer_bp) = match p.marketer_id {
        Some(_) => (s.club_owner_bp, s.marketer_bp),
        None => (s.club_owner_bp + s.marketer_bp, 0),
    };
    let enrolling = p.enrolling_merchant_id.filter(|m| *m != p.merchant_id);
    let mm_bp = if enrolling.is_some() { s.merchant_marketer_bp } else { 0 };
    let merchant_bp = BP_ONE - club_bp - marketer_bp - mm_bp;
    let mut parts = [0_i64; 4];
    split_into(rest, &[club_bp, marketer_bp, mm_bp, merchant_bp], &mut parts);

    let mut push = |role, beneficiary_id, amount_rial| {
        if amount_rial > 0 {
            legs.push(SplitLeg { role, beneficiary_id, amount_rial });
        }
    };
    push(SplitRole::PlatformFee, 0, fee);
    push(SplitRole::ClubOwner, book.club_id, parts[0]);
    push(SplitRole::Marketer, p.marketer_id.unwrap_or(0), parts[1]);
    push(SplitRole::MerchantMarketer, enrolling.unwrap_or(0), parts[2]);
    push(SplitRole::Merchant, p.merchant_id, parts[3]);
    debug_assert_eq!(legs.iter().map(|l| l.amount_rial).sum::<i64>(), payable_rial);
}
