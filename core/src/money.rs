//! Integer money. Rials and points are `i64`; ratios are basis points (1/10,000).
//!
//! Every division names its rounding rule, and every split adds up exactly to
//! what it splits (largest remainder).

/// Basis points in one whole (100%).
pub const BP_ONE: i64 = 10_000;

/// How a fractional result is turned into an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Toward zero for positive amounts: the member never gets a fraction they did not earn.
    #[default]
    Floor,
    /// Half away from zero (0.5 → 1).
    HalfUp,
    /// Up to the next whole unit.
    Ceil,
}

/// `amount * numerator / denominator` rounded by `rounding`, computed in i128 so it cannot overflow.
/// `denominator` must be positive; `amount` and `numerator` must be non-negative.
pub fn mul_div(amount: i64, numerator: i64, denominator: i64, rounding: Rounding) -> i64 {
    debug_assert!(denominator > 0);
    debug_assert!(amount >= 0 && numerator >= 0);
    let product = i128::from(amount) * i128::from(numerator);
    let den = i128::from(denominator);
    let quotient = product / den;
    let remainder = product % den;
    let rounded = match rounding {
        Rounding::Floor => quotient,
        Rounding::Ceil => quotient + i128::from(remainder > 0),
        Rounding::HalfUp => quotient + i128::from(remainder * 2 >= den && remainder > 0),
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// `amount * bp / 10_000`, floored.
pub fn percent_bp(amount: i64, bp: i64) -> i64 {
    mul_div(amount, bp, BP_ONE, Rounding::Floor)
}

/// Split `total` among `weights` so that the parts add up to exactly `total`.
///
/// Rounding rule ("largest remainder", Hamilton's method): each part first gets
/// the floor of its exact share; the units left over go one each to the parts
/// with the largest fractional remainders, ties broken by the lower index (the
/// earlier beneficiary in the list). Zero weights get zero. If every weight is
/// zero the whole amount goes to the last part, so nothing is ever lost.
pub fn split_largest_remainder(total: i64, weights: &[i64]) -> Vec<i64> {
    assert!(total >= 0, "split of a negative amount");
    assert!(weights.iter().all(|w| *w >= 0), "negative split weight");
    if weights.is_empty() {
        return Vec::new();
    }
    let weight_sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    let mut parts = vec![0_i64; weights.len()];
    if weight_sum == 0 {
        if let Some(last) = parts.last_mut() {
            *last = total;
        }
        return parts;
    }
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    let mut given: i64 = 0;
    for (index, weight) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(*weight);
        let floor = exact / weight_sum;
        parts[index] = i64::try_from(floor).expect("part fits in i64");
        given += parts[index];
        remainders.push((exact % weight_sum, index));
    }
    // Largest remainder first; on equal remainders the lower index wins.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total - given;
    for (_, index) in remainders.iter().filter(|(_, i)| weights[*i] > 0) {
        if left == 0 {
            break;
        }
        parts[*index] += 1;
        left -= 1;
    }
    debug_assert_eq!(left, 0);
    debug_assert_eq!(parts.iter().sum::<i64>(), total);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_adds_up_and_prefers_largest_remainder() {
        assert_eq!(split_largest_remainder(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(split_largest_remainder(10, &[7000, 2000, 1000]), vec![7, 2, 1]);
        assert_eq!(split_largest_remainder(1, &[0, 5]), vec![0, 1]);
        assert_eq!(split_largest_remainder(7, &[0, 0]), vec![0, 7]);
        assert_eq!(split_largest_remainder(99_999, &[3333, 3333, 3334]).iter().sum::<i64>(), 99_999);
    }

    #[test]
    fn rounding_rules() {
        assert_eq!(mul_div(15, 1, 10, Rounding::Floor), 1);
        assert_eq!(mul_div(15, 1, 10, Rounding::HalfUp), 2);
        assert_eq!(mul_div(14, 1, 10, Rounding::HalfUp), 1);
        assert_eq!(mul_div(11, 1, 10, Rounding::Ceil), 2);
        assert_eq!(mul_div(10, 1, 10, Rounding::Ceil), 1);
        assert_eq!(percent_bp(1_000_000, 250), 25_000);
    }
}
