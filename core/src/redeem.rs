//! Paying with points at a purchase (SPEC R7, V1).
//!
//! A purchase may carry `redeem_points`: points the member spends on it, priced at the member's
//! conversion ratio (the same `ConversionConfig::ratio_for` that `convert_points` uses: the best
//! ratio of their groups, else their tier's, else the club's default). The points leave the member
//! for the club's `points_retired` (as in a conversion) and their rial value is paid to the
//! merchant by the club, `club:C/expense` → `merchant:M/credit_accepted` (as if the points had been
//! converted to credit and that credit spent here), so the card pays that much less.
//!
//! Rounding: the rial value is floored, and only the fewest points worth that value are drawn, so
//! the member never gives up more than the rials they get, and the rounding they lose is less than
//! one rial and less than one point's value. The points are also capped by what is left to pay (at
//! most the points whose whole value fits in it): a member asking for more than the purchase needs
//! redeems just what it needs. Short of points is `insufficient_balance`; no ratio (or a zero one)
//! is `points_redemption_not_allowed`; fewer points than the club's `min_points`, or too few to be
//! worth one rial, is `below_threshold`.

use crate::account::{AccountKey, Kind, Owner};
use crate::errors::{CoreError, Lang};
use crate::explain::{en_amount, fa_amount};
use crate::model::{draw_lots, Decision, MemberSnapshot, Purchase, MAX_AMOUNT};
use crate::money::{mul_div, Rounding};
use crate::value::Ratio;

/// The memo of the postings of a redemption.
pub const MEMO: &str = "points_redeemed";

/// `(points, rial)` actually redeemed when the member asks for `want` points and `left` rials are
/// still to pay: the rial value floored, then the fewest points worth it.
pub fn priced(want: i64, left: i64, ratio: Ratio) -> (i64, i64) {
    let fits = mul_div(left.max(0), ratio.points, ratio.rial, Rounding::Floor);
    let rial = mul_div(want.min(fits), ratio.rial, ratio.points, Rounding::Floor);
    (mul_div(rial, ratio.points, ratio.rial, Rounding::Ceil), rial)
}

/// Redeem the purchase's points within the `left` rials still to pay; returns the rials they paid.
/// Writes the draws, the postings and the totals into `d`; on a rejection `d` is left as it was.
pub fn redeem_points(p: &Purchase, s: &MemberSnapshot, left: i64, d: &mut Decision) -> Result<i64, CoreError> {
    let want = p.redeem_points;
    if want == 0 {
        return Ok(0);
    }
    if want < 0 {
        return Err(CoreError::new("amount_must_be_positive").at("redeem_points"));
    }
    if want > MAX_AMOUNT {
        return Err(CoreError::new("amount_too_large").at("redeem_points"));
    }
    let not_allowed = || CoreError::new("points_redemption_not_allowed").at("redeem_points");
    let config = p.conversion.as_ref().ok_or_else(not_allowed)?;
    let ratio = config.ratio_for(s).filter(|r| r.points > 0 && r.rial > 0).ok_or_else(not_allowed)?;
    if want < config.min_points {
        return Err(CoreError::new("below_threshold").with("threshold", config.min_points).at("redeem_points"));
    }
    if mul_div(want, ratio.rial, ratio.points, Rounding::Floor) == 0 {
        let one_rial = mul_div(1, ratio.points, ratio.rial, Rounding::Ceil);
        return Err(CoreError::new("below_threshold").with("threshold", one_rial).at("redeem_points"));
    }
    let (points, rial) = priced(want, left, ratio);
    if points == 0 {
        // Nothing is left to pay, or less than one point's value: the card pays it.
        return Ok(0);
    }
    let account = AccountKey::plain(Owner::Member(s.member_id), Kind::Points);
    let lots = s.lots.iter().filter(|l| l.account == account && l.spendable(d.now));
    let uses = draw_lots(lots, points, |_| false);
    let available: i64 = uses.iter().map(|u| u.amount).sum();
    if available < points {
        return Err(CoreError::new("insufficient_balance")
            .with("account", "points")
            .with("needed", points)
            .with("available", available)
            .at("redeem_points"));
    }
    d.lots_consumed.extend(uses);
    let club = Owner::Club(config.club_id);
    d.post(account, AccountKey::plain(club, Kind::PointsRetired), points, MEMO);
    d.post(AccountKey::plain(club, Kind::Expense), AccountKey::plain(Owner::Merchant(p.merchant_id), Kind::CreditAccepted), rial, MEMO);
    d.points_redeemed = points;
    d.points_redeemed_rial = rial;
    Ok(rial)
}

/// The receipt line of the points a decision redeemed (or, negative, gave back), if any.
pub fn receipt_line(d: &Decision, lang: Lang) -> Option<String> {
    let (points, rial) = (d.points_redeemed.abs(), d.points_redeemed_rial.abs());
    // Written as a receipt says amounts: grouped thousands, Persian digits in Persian.
    Some(match (d.points_redeemed.signum(), lang) {
        (0, _) => return None,
        (1, Lang::En) => format!("Paid with {} points: {} rials", en_amount(points), en_amount(rial)),
        (1, Lang::Fa) => format!("پرداخت با {} امتیاز: {} ریال", fa_amount(points), fa_amount(rial)),
        (_, Lang::En) => format!("{} points given back ({} rials)", en_amount(points), en_amount(rial)),
        (_, Lang::Fa) => format!("{} امتیاز بازگردانده شد ({} ریال)", fa_amount(points), fa_amount(rial)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(points: i64, rial: i64) -> Ratio {
        Ratio { points, rial }
    }

    #[test]
    fn priced_floors_the_rials_and_draws_only_the_points_worth_them() {
        // 10 points = 1,000 rials: 100 rials a point, exact.
        assert_eq!(priced(500, 1_000_000, ratio(10, 1_000)), (500, 50_000));
        // Capped by what is left to pay: 123 rials buy one whole point; the card pays 23.
        assert_eq!(priced(500, 123, ratio(10, 1_000)), (1, 100));
        assert_eq!(priced(500, 99, ratio(10, 1_000)), (0, 0));
        // 3 points = 1 rial: 10 points are worth 3.33 rials; 3 rials take 9 points, one stays.
        assert_eq!(priced(10, 1_000, ratio(3, 1)), (9, 3));
        // 3 points = 7 rials: 5 points are worth 11.67 rials; 11 rials need 5 points (4 give 9.33).
        assert_eq!(priced(5, 1_000, ratio(3, 7)), (5, 11));
        for want in 0..200 {
            for left in [0, 1, 7, 50, 10_000] {
                for r in [ratio(3, 7), ratio(10, 1_000), ratio(7, 3), ratio(1, 1)] {
                    let (points, rial) = priced(want, left, r);
                    assert!(points <= want && rial <= left);
                    // The member loses less than a point's value and less than a rial.
                    let lost = i128::from(points) * i128::from(r.rial) - i128::from(rial) * i128::from(r.points);
                    assert!(lost >= 0 && lost < i128::from(r.rial).min(i128::from(r.points)), "{want} {left} {r:?}");
                }
            }
        }
    }

    #[test]
    fn receipt_lines_in_both_languages() {
        let mut d = Decision::empty(crate::model::DecisionKind::Purchase, 1, 2, 0);
        assert_eq!(receipt_line(&d, Lang::En), None);
        d.points_redeemed = 300;
        d.points_redeemed_rial = 30_000;
        assert_eq!(receipt_line(&d, Lang::En).as_deref(), Some("Paid with 300 points: 30,000 rials"));
        assert_eq!(receipt_line(&d, Lang::Fa).as_deref(), Some("پرداخت با ۳۰۰ امتیاز: ۳۰٬۰۰۰ ریال"));
        d.points_redeemed = -300;
        d.points_redeemed_rial = -30_000;
        assert_eq!(receipt_line(&d, Lang::En).as_deref(), Some("300 points given back (30,000 rials)"));
        assert_eq!(receipt_line(&d, Lang::Fa).as_deref(), Some("۳۰۰ امتیاز بازگردانده شد (۳۰٬۰۰۰ ریال)"));
    }
}
