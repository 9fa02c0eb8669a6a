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
    // The common case fits in i64; 128-bit division is several times slower.
    if let Some(product) = amount.checked_mul(numerator) {
        let quotient = product / denominator;
        let remainder = product % denominator;
        return match rounding {
            Rounding::Floor => quotient,
            Rounding::Ceil => quotient + i64::from(remainder > 0),
            Rounding::HalfUp => quotient + i64::from(remainder > 0 && remainder >= denominator - remainder),
        };
    }
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

/// Most parts `split_into` handles without allocating.
pub const MAX_SPLIT_PARTS: usize = 8;

/// `split_largest_remainder` into a caller's buffer (no allocation), for at most
/// `MAX_SPLIT_PARTS` weights; same rounding rule, same result.
pub fn split_into(total: i64, weights: &[i64], out: &mut [i64]) {
    assert!(weights.len() <= MAX_SPLIT_PARTS && out.len() >= weights.len());
    match weights.len() {
        0 => {}
        1 => out[0] = total,
        n => {
            let weight_sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
            if weight_sum == 0 {
                out[..n].fill(0);
                out[n - 1] = total;
                return;
            }
            let mut remainders = [(0_i128, 0_usize); MAX_SPLIT_PARTS];
            let mut given = 0;
            for (i, w) in weights.iter().enumerate() {
                let exact = i128::from(total) * i128::from(*w);
                out[i] = i64::try_from(exact / weight_sum).expect("part fits in i64");
                given += out[i];
                remainders[i] = (exact % weight_sum, i);
            }
            let remainders = &mut remainders[..n];
            remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut left = total - given;
            for (_, i) in remainders.iter().filter(|(_, i)| weights[*i] > 0) {
                if left == 0 {
                    break;
                }
                out[*i] += 1;
                left -= 1;
            }
            debug_assert_eq!(left, 0);
        }
    }
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
    fn split_into_agrees_with_the_allocating_split() {
        let mut out = [0_i64; MAX_SPLIT_PARTS];
        for total in [0_i64, 1, 7, 10, 99_999, 1_000_003] {
            for weights in [&[10_000][..], &[3333, 3333, 3334], &[0, 5], &[0, 0], &[7000, 2000, 1000], &[1, 1, 1, 1, 1, 1, 1, 1]] {
                split_into(total, weights, &mut out);
                assert_eq!(&out[..weights.len()], split_largest_remainder(total, weights).as_slice());
            }
        }
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
