//! Tier period close for a whole club in one call over columnar input (SPEC V6–V11).
//!
//! For each member, in precedence order:
//! 1. a manual tier (`manual_tier >= 0`) is honoured (reason `manual`);
//! 2. a frozen member (`frozen_until > period_end`) stays (reason `frozen`);
//! 3. rise: the highest tier whose `rise_at` the period's points reach, if above the current one
//!    (reason `up`; several tiers at once are allowed);
//! 4. stay: the period's points reach the current tier's `stay_at` (reason `stay`);
//! 5. grace ("breathing"): a member below `stay_at` stays while they have grace periods left
//!    (reason `grace`; the count of grace periods used goes up by one);
//! 6. fall: to the highest lower tier whose `stay_at` the points reach, at least one step down
//!    (reason `down`); the lowest tier never falls.
//!
//! A member who rises or stays by points gets their grace count reset. At period end the points
//! deduction of the member's (new) tier is computed: a share of the period's points in basis
//! points (V9). Tiers are given in rank order, lowest first.

use serde::{Deserialize, Serialize};

use crate::errors::CoreError;
use crate::money::{percent_bp, BP_ONE};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub name: String,
    /// Period points needed to rise into this tier.
    #[serde(default)]
    pub rise_at: i64,
    /// Period points needed to stay in this tier.
    #[serde(default)]
    pub stay_at: i64,
    /// Grace periods a member below `stay_at` may keep this tier.
    #[serde(default)]
    pub grace_periods: i64,
    /// Share of the period's points deducted at period end, in basis points.
    #[serde(default)]
    pub deduct_bp: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub tiers: Vec<TierSpec>,
}

impl TierConfig {
    pub fn check(&self) -> Result<(), CoreError> {
        let bad = |en: &str, fa: &str| Err(CoreError::new("invalid_tier_config").with_text("detail", en, fa));
        if self.tiers.is_empty() || self.tiers.len() > 100 {
            return bad("between 1 and 100 tiers", "بین ۱ و ۱۰۰ طبقه لازم است");
        }
        for (i, t) in self.tiers.iter().enumerate() {
            if t.rise_at < 0 || t.stay_at < 0 || t.grace_periods < 0 || !(0..=BP_ONE).contains(&t.deduct_bp) {
                return bad(
                    &format!("tier {} has a negative threshold or a deduction outside 0..10000", t.name),
                    &format!("طبقهٔ «{}» آستانهٔ منفی یا کسری بیرون از ۰ تا ۱۰٬۰۰۰ واحد پایه دارد", t.name),
                );
            }
            if i > 0 && t.rise_at < self.tiers[i - 1].rise_at {
                return bad("rise_at must not decrease from one tier to the next", "«rise_at» نباید از یک طبقه به طبقهٔ بعد کم شود");
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
#[serde(rename_all = "snake_case")]
pub enum TierReason {
    Stay = 0,
    Up = 1,
    Down = 2,
    Grace = 3,
    Frozen = 4,
    Manual = 5,
}

pub const REASONS: [&str; 6] = ["stay", "up", "down", "grace", "frozen", "manual"];

/// Columnar input: one entry per member, all columns of equal length.
pub struct TierInput<'a> {
    pub tier: &'a [i32],
    pub period_points: &'a [i64],
    pub grace_used: &'a [i32],
    pub frozen_until: &'a [i64],
    pub manual_tier: &'a [i32],
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct TierOutput {
    pub tier: Vec<i32>,
    pub reason: Vec<u8>,
    pub grace_used: Vec<i32>,
    pub deducted_points: Vec<i64>,
}

pub fn close_period(config: &TierConfig, input: &TierInput<'_>, period_end: i64) -> Result<TierOutput, CoreError> {
    config.check()?;
    let n = input.tier.len();
    if [input.period_points.len(), input.grace_used.len(), input.frozen_until.len(), input.manual_tier.len()].iter().any(|l| *l != n) {
        return Err(CoreError::new("invalid_input").with_text("detail", "tier columns differ in length", "ستون‌های طبقه‌بندی هم‌طول نیستند"));
    }
    let top = i32::try_from(config.tiers.len() - 1).expect("at most 100 tiers");
    let tiers = &config.tiers;
    let mut out = TierOutput {
        tier: Vec::with_capacity(n),
        reason: Vec::with_capacity(n),
        grace_used: Vec::with_capacity(n),
        deducted_points: Vec::with_capacity(n),
    };
    for i in 0..n {
        let current = input.tier[i].clamp(0, top);
        let points = input.period_points[i];
        let grace = input.grace_used[i].max(0);
        let (tier, reason, grace) = if input.manual_tier[i] >= 0 {
            (input.manual_tier[i].min(top), TierReason::Manual, grace)
        } else if input.frozen_until[i] > period_end {
            (current, TierReason::Frozen, grace)
        } else {
            let highest = (0..=top).rev().find(|t| points >= tiers[*t as usize].rise_at).unwrap_or(0);
            if highest > current {
                (highest, TierReason::Up, 0)
            } else if points >= tiers[current as usize].stay_at {
                (current, TierReason::Stay, 0)
            } else if i64::from(grace) < tiers[current as usize].grace_periods {
                (current, TierReason::Grace, grace + 1)
            } else if current == 0 {
                (0, TierReason::Stay, 0)
            } else {
                let lower = (0..current).rev().find(|t| points >= tiers[*t as usize].stay_at).unwrap_or(0);
                (lower, TierReason::Down, 0)
            }
        };
        out.tier.push(tier);
        out.reason.push(reason as u8);
        out.grace_used.push(grace);
        out.deducted_points.push(percent_bp(points.max(0), tiers[tier as usize].deduct_bp));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TierConfig {
        let t = |name: &str, rise_at, stay_at, grace_periods, deduct_bp| TierSpec { name: name.into(), rise_at, stay_at, grace_periods, deduct_bp };
        TierConfig { tiers: vec![t("bronze", 0, 0, 0, 0), t("silver", 1000, 500, 1, 1000), t("gold", 5000, 3000, 0, 2000)] }
    }

    #[test]
    fn moves_with_reasons() {
        let input = TierInput {
            tier: &[0, 1, 1, 2, 2, 1, 0],
            period_points: &[6000, 600, 100, 100, 100, 100, 0],
            grace_used: &[0, 0, 0, 0, 0, 1, 0],
            frozen_until: &[0, 0, 0, 0, 999, 0, 0],
            manual_tier: &[-1, -1, -1, -1, -1, -1, 2],
        };
        let out = close_period(&config(), &input, 100).expect("closes");
        assert_eq!(out.tier, vec![2, 1, 1, 0, 2, 0, 2]);
        assert_eq!(out.reason, vec![1, 0, 3, 2, 4, 2, 5]);
        assert_eq!(out.grace_used, vec![0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(out.deducted_points[0], 1200);
    }
}
