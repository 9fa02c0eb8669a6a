//! Accounts of the double-entry journal.
//!
//! An account is named by owner, kind and scope, and written as text like
//! `member:42/merchant_credit@merchant:7` or `club:1/expense`. The text form is
//! what the database stores and what Python sees.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Member(i64),
    /// A shared wallet of several members or cards (a family), SPEC M5.
    Group(i64),
    Merchant(i64),
    Club(i64),
    Marketer(i64),
    /// An organisation charging its staff's welfare credit (SPEC V3).
    Org(i64),
    Platform,
}

/// The unit an account counts in. Postings never mix units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Rial,
    Point,
    Entry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    // --- a holder's value (lots, never negative) ---
    Points,
    MerchantCredit,
    ClubCredit,
    VirtualCredit,
    Cashback,
    GiftCredit,
    WelfareCredit,
    LotteryEntries,
    // --- a holder's value without lots ---
    /// A credit line (SPEC V2): may go negative down to the account's limit.
    CreditLine,
    /// Points owed back after a reversal of points already spent (clawback).
    PointsDebt,
    /// Credit owed back after a reversal of credit already spent (clawback).
    CreditDebt,
    /// Value held for a pending redemption (hold → complete / cancel).
    Held,
    /// Points held for a pending redemption (hold → complete / cancel).
    HeldPoints,
    // --- sources and sinks on the business side (may be negative) ---
    /// Rials a funder spends on discounts and credit it grants.
    Expense,
    /// Points a funder issues.
    PointsIssued,
    /// Points given back to the club (conversion to credit, voucher purchase, expiry).
    PointsRetired,
    /// Rial value given back to the issuer (voucher purchase with credit, expiry).
    CreditRetired,
    /// Lottery entries issued.
    EntriesIssued,
    /// Discount a merchant gave at the till, to be funded by its funders.
    DiscountGiven,
    /// Credit a merchant accepted as payment, to be settled by the issuer.
    CreditAccepted,
    /// Money from outside (a charge paid in cash or by card, a credit-line repayment).
    Cash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    None,
    Merchant(i64),
    /// A merchant set defined in the rulebook (club credit spendable there).
    Set(i64),
    Lottery(i64),
    /// A hold, named by its operation number.
    Hold(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey {
    pub owner: Owner,
    pub kind: Kind,
    pub scope: Scope,
}

const KINDS: &[(Kind, &str, Unit)] = &[
    (Kind::Points, "points", Unit::Point),
    (Kind::MerchantCredit, "merchant_credit", Unit::Rial),
    (Kind::ClubCredit, "club_credit", Unit::Rial),
    (Kind::VirtualCredit, "virtual_credit", Unit::Rial),
    (Kind::Cashback, "cashback", Unit::Rial),
    (Kind::GiftCredit, "gift_credit", Unit::Rial),
    (Kind::WelfareCredit, "welfare_credit", Unit::Rial),
    (Kind::LotteryEntries, "lottery_entries", Unit::Entry),
    (Kind::CreditLine, "credit_line", Unit::Rial),
    (Kind::PointsDebt, "points_debt", Unit::Point),
    (Kind::CreditDebt, "credit_debt", Unit::Rial),
    (Kind::Held, "held", Unit::Rial),
    (Kind::HeldPoints, "held_points", Unit::Point),
    (Kind::Expense, "expense", Unit::Rial),
    (Kind::PointsIssued, "points_issued", Unit::Point),
    (Kind::PointsRetired, "points_retired", Unit::Point),
    (Kind::CreditRetired, "credit_retired", Unit::Rial),
    (Kind::EntriesIssued, "entries_issued", Unit::Entry),
    (Kind::DiscountGiven, "discount_given", Unit::Rial),
    (Kind::CreditAccepted, "credit_accepted", Unit::Rial),
    (Kind::Cash, "cash", Unit::Rial),
];

impl Kind {
    /// Every kind, in the order of the table above.
    pub const ALL: [Kind; KINDS.len()] = {
        let mut all = [Kind::Points; KINDS.len()];
        let mut i = 0;
        while i < KINDS.len() {
            all[i] = KINDS[i].0;
            i += 1;
        }
        all
    };

    pub fn name(self) -> &'static str {
        KINDS.iter().find(|(k, _, _)| *k == self).map_or("?", |(_, n, _)| n)
    }

    pub fn unit(self) -> Unit {
        KINDS.iter().find(|(k, _, _)| *k == self).map_or(Unit::Rial, |(_, _, u)| *u)
    }

    fn parse(text: &str) -> Option<Kind> {
        KINDS.iter().find(|(_, n, _)| *n == text).map(|(k, _, _)| *k)
    }

    /// Value a holder owns in lots: earned with an expiry, spent soonest-expiring first.
    pub fn has_lots(self) -> bool {
        matches!(
            self,
            Kind::Points
                | Kind::MerchantCredit
                | Kind::ClubCredit
                | Kind::VirtualCredit
                | Kind::Cashback
                | Kind::GiftCredit
                | Kind::WelfareCredit
                | Kind::LotteryEntries
        )
    }

    /// Rial credit a holder holds in lots (a receipt's credit balance): spendable credit less the
    /// credit line, which is a limit, not a balance.
    pub fn is_credit_held(self) -> bool {
        self.is_spendable_credit() && self.has_lots()
    }

    /// Rial credit a holder may pay with at a purchase (scope permitting).
    pub fn is_spendable_credit(self) -> bool {
        matches!(
            self,
            Kind::MerchantCredit
                | Kind::ClubCredit
                | Kind::VirtualCredit
                | Kind::Cashback
                | Kind::GiftCredit
                | Kind::WelfareCredit
                | Kind::CreditLine
        )
    }
}

impl Owner {
    /// The owner's type as the account text names it (`member`, `club`, ...).
    pub fn type_name(self) -> &'static str {
        match self {
            Owner::Member(_) => "member",
            Owner::Group(_) => "group",
            Owner::Merchant(_) => "merchant",
            Owner::Club(_) => "club",
            Owner::Marketer(_) => "marketer",
            Owner::Org(_) => "org",
            Owner::Platform => "platform",
        }
    }

    /// The owner's id (0 for the platform, as its text `platform:0` says).
    pub fn id(self) -> i64 {
        match self {
            Owner::Member(id) | Owner::Group(id) | Owner::Merchant(id) | Owner::Club(id) | Owner::Marketer(id) | Owner::Org(id) => id,
            Owner::Platform => 0,
        }
    }
}

/// `member:42`: the owner part of an account's text (the `owner` column of balances and lots).
impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.type_name(), self.id())
    }
}

impl Scope {
    /// `merchant:7`, `set:2`, ...: the part of an account's text after `@` (`None`: no scope).
    pub fn text(self) -> Option<String> {
        (self != Scope::None).then(|| self.to_string())
    }
}

/// `merchant:7`, `set:2`, ...; nothing for `Scope::None`.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::None => Ok(()),
            Scope::Merchant(id) => write!(f, "merchant:{id}"),
            Scope::Set(id) => write!(f, "set:{id}"),
            Scope::Lottery(id) => write!(f, "lottery:{id}"),
            Scope::Hold(id) => write!(f, "hold:{id}"),
        }
    }
}

impl AccountKey {
    pub const fn new(owner: Owner, kind: Kind, scope: Scope) -> Self {
        AccountKey { owner, kind, scope }
    }

    pub const fn plain(owner: Owner, kind: Kind) -> Self {
        AccountKey { owner, kind, scope: Scope::None }
    }

    pub fn unit(&self) -> Unit {
        self.kind.unit()
    }

    /// Whether this account belongs to a holder (a member or a shared group).
    pub fn is_holder(&self) -> bool {
        matches!(self.owner, Owner::Member(_) | Owner::Group(_))
    }

    /// The lowest balance this account may reach given its limit (credit lines), or `None` if unbounded.
    ///
    /// Holder accounts never go negative, except a credit line (down to its limit) and the two debt
    /// accounts, which exist to be negative (they record what the holder owes after a clawback).
    /// Business-side accounts are sources and sinks and are unbounded.
    pub fn floor(&self, credit_limit: i64) -> Option<i64> {
        if !self.is_holder() {
            return None;
        }
        match self.kind {
            Kind::CreditLine => Some(-credit_limit),
            // Debts exist to be negative; a holder's cash account is money from outside (a gift card
            // bought, a credit line repaid), a source like the business side's.
            Kind::PointsDebt | Kind::CreditDebt | Kind::Cash => None,
            _ => Some(0),
        }
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.kind.name())?;
        if self.scope != Scope::None {
            write!(f, "@{}", self.scope)?;
        }
        Ok(())
    }
}

fn split_pair(text: &str) -> Option<(&str, i64)> {
    let (name, id) = text.split_once(':')?;
    Some((name, id.parse().ok()?))
}

impl FromStr for AccountKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not an account: {text:?}");
        let (owner_text, rest) = text.split_once('/').ok_or_else(bad)?;
        let (kind_text, scope_text) = match rest.split_once('@') {
            Some((k, s)) => (k, Some(s)),
            None => (rest, None),
        };
        let (owner_name, owner_id) = split_pair(owner_text).ok_or_else(bad)?;
        let owner = match owner_name {
            "member" => Owner::Member(owner_id),
            "group" => Owner::Group(owner_id),
            "merchant" => Owner::Merchant(owner_id),
            "club" => Owner::Club(owner_id),
            "marketer" => Owner::Marketer(owner_id),
            "org" => Owner::Org(owner_id),
            "platform" => Owner::Platform,
            _ => return Err(bad()),
        };
        let kind = Kind::parse(kind_text).ok_or_else(bad)?;
        let scope = match scope_text {
            None => Scope::None,
            Some(s) => match split_pair(s).ok_or_else(bad)? {
                ("merchant", id) => Scope::Merchant(id),
                ("set", id) => Scope::Set(id),
                ("lottery", id) => Scope::Lottery(id),
                ("hold", id) => Scope::Hold(id),
                _ => return Err(bad()),
            },
        };
        Ok(AccountKey { owner, kind, scope })
    }
}

impl Serialize for AccountKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AccountKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        for text in [
            "member:42/merchant_credit@merchant:7",
            "member:42/points",
            "club:1/expense",
            "group:3/club_credit@set:2",
            "platform:0/cash",
            "member:1/lottery_entries@lottery:9",
            "member:1/held@hold:77",
            "member:1/held_points@hold:77",
        ] {
            let key: AccountKey = text.parse().expect("parses");
            assert_eq!(key.to_string(), text);
        }
        assert!("member:x/points".parse::<AccountKey>().is_err());
        assert!("member:1/nonsense".parse::<AccountKey>().is_err());
    }
}
