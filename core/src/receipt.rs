//! The receipt of a decision: what the caller (a terminal, a till, an app) is answered and what is
//! stored as the operation's response, so that a retry is answered the same bytes of meaning.
//!
//! It is built here, once, as the structure the Python service returns and as its JSON text: a
//! receipt is made for every purchase inside the writer's batch, and building it field by field
//! in Python (each field a crossing) then encoding it again cost more than deciding the purchase.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::account::{AccountKey, Kind, Owner};
use crate::errors::Lang;
use crate::explain::{gave, render};
use crate::model::{Decision, MemberSnapshot};

/// What a receipt shows of a member's balances after `decision`: their points, and the rial credit they can spend, over the accounts they hold (their own and their
/// shared wallet's; a referrer paid by the same purchase does not count). A credit line is not
/// counted: it is a limit, not a balance.
pub fn holder_balances(member: &MemberSnapshot, decision: &Decision) -> (i64, i64) {
    let points_account = AccountKey::plain(Owner::Member(member.member_id), Kind::Points);
    let (mut points, mut credit) = (0, 0);
    let mut count = |account: &AccountKey, amount: i64| {
        if *account == points_account {
            points += amount;
        } else if member.owns(account) && account.kind.is_credit_held() {
            credit += amount;
        }
    };
    for a in &member.accounts {
        count(&a.account, a.balance);
    }
    for (account, delta) in decision.deltas() {
        count(&account, delta);
    }
    (points, credit)
}

/// A decision's receipt given the member's balances after it. `extra` fields (a terminal's RRN and
/// first transmission time) follow the decision's own, in the order given.
pub struct Receipt<'a> {
    pub decision: &'a Decision,
    pub op_id: i64,
    pub status: &'a str,
    /// The member's points after the decision.
    pub balance_points: i64,
    /// The member's spendable credit after the decision (own accounts and shared wallet).
    pub balance_credit_rial: i64,
    pub extra: &'a [(String, String)],
    /// The receipt lines: the points redeemed and the rules that gave something, rendered once
    /// (in Persian, in English).
    explanation: (Vec<String>, Vec<String>),
}

impl<'a> Receipt<'a> {
    pub fn new(decision: &'a Decision, op_id: i64, status: &'a str, balance_points: i64, balance_credit_rial: i64, extra: &'a [(String, String)]) -> Self {
        // The points paid with (or given back) first, then the lines of the rules that gave something.
        let explain = |lang| {
            crate::redeem::receipt_line(decision, lang)
                .into_iter()
                .chain(decision.explanation.iter().filter(|e| gave(e)).map(|e| render(e, lang)))
                .collect()
        };
        Receipt { decision, op_id, status, balance_points, balance_credit_rial, extra, explanation: (explain(Lang::Fa), explain(Lang::En)) }
    }
}

impl Serialize for Receipt<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.decision;
        let mut map = serializer.serialize_map(Some(19 + self.extra.len()))?;
        map.serialize_entry("op_id", &self.op_id)?;
        map.serialize_entry("status", self.status)?;
        map.serialize_entry("kind", &d.kind)?;
        map.serialize_entry("member_id", &d.member_id)?;
        map.serialize_entry("merchant_id", &d.merchant_id)?;
        map.serialize_entry("amount_rial", &d.amount_rial)?;
        map.serialize_entry("discount_rial", &d.discount_rial)?;
        map.serialize_entry("credit_used_rial", &d.credit_used_rial)?;
        map.serialize_entry("points_redeemed", &d.points_redeemed)?;
        map.serialize_entry("points_redeemed_rial", &d.points_redeemed_rial)?;
        map.serialize_entry("payable_rial", &d.payable_rial)?;
        map.serialize_entry("points_earned", &d.points_earned)?;
        map.serialize_entry("applied_rules", &d.applied_rules)?;
        map.serialize_entry("lottery_entries", &d.lottery_entries)?;
        map.serialize_entry("split", &d.split)?;
        map.serialize_entry("balance_points", &self.balance_points)?;
        map.serialize_entry("balance_credit_rial", &self.balance_credit_rial)?;
        map.serialize_entry("explanation_fa", &self.explanation.0)?;
        map.serialize_entry("explanation_en", &self.explanation.1)?;
        for (key, value) in self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DecisionKind, LotteryEntry, SplitLeg, SplitRole};

    fn purchase() -> Decision {
        let mut d = Decision::empty(DecisionKind::Purchase, 7, 3, 1_700_000_000);
        d.merchant_id = Some(2);
        d.amount_rial = 250_000;
        d.payable_rial = 250_000;
        d.points_earned = 25;
        d.split = vec![SplitLeg { role: SplitRole::Merchant, beneficiary_id: 2, amount_rial: 250_000 }];
        d.lottery_entries = vec![LotteryEntry { lottery_id: 1, entries: 2 }];
        d
    }

    #[test]
    fn holder_balances_count_own_and_shared_wallet_credit_after_the_decision() {
        let member: MemberSnapshot = serde_json::from_value(serde_json::json!({
            "member_id": 3,
            "shared_group_id": 9,
            "accounts": [
                {"account": "member:3/points", "balance": 20},
                {"account": "member:3/cashback", "balance": 5000},
                {"account": "group:9/gift_credit", "balance": 2000},
                {"account": "group:8/gift_credit", "balance": 700},
                {"account": "member:3/credit_line", "balance": -300, "credit_limit": 1000},
                {"account": "member:4/cashback", "balance": 900}
            ]
        }))
        .unwrap();
        let mut d = purchase();
        d.postings = vec![crate::model::Posting {
            from: "club:1/points_issued".parse().unwrap(),
            to: "member:3/points".parse().unwrap(),
            amount: 100,
            unit: crate::account::Unit::Point,
            memo: "pts".into(),
        }];
        assert_eq!(holder_balances(&member, &d), (120, 7000));
    }

    #[test]
    fn fields_in_order_then_the_extra_ones() {
        let d = purchase();
        let extra = [("rrn".to_string(), "000000000007".to_string())];
        let receipt = Receipt::new(&d, 7, "done", 75, 50_000, &extra);
        let text = serde_json::to_string(&receipt).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(text.ends_with(r#","rrn":"000000000007"}"#), "{text}");
        assert!(text.starts_with(r#"{"op_id":7,"status":"done","kind":"purchase","member_id":3,"merchant_id":2,"#), "{text}");
        assert_eq!(value["split"][0]["role"], "merchant");
        assert_eq!(value["lottery_entries"][0]["entries"], 2);
        assert_eq!(value["balance_points"], 75);
        assert_eq!(value["explanation_fa"], serde_json::json!([]));
    }
}
