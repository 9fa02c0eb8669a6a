//! kimia's decision core.
//!
//! A pure crate: no I/O, no clock, no database. The Python layer loads data, calls the core to
//! decide, and writes the decision in one database transaction. The PyO3 bindings live in
//! `python.rs` behind the `python` feature.

pub mod account;
pub mod backtest;
pub mod calendar;
pub mod errors;
pub mod explain;
pub mod ledger;
pub mod model;
pub mod money;
pub mod receipt;
pub mod redeem;
pub mod rows;
pub mod rules;
pub mod shape;
pub mod split;
pub mod tiers;
pub mod value;

#[cfg(feature = "python")]
mod pyde;
#[cfg(feature = "python")]
mod python;

pub use account::{AccountKey, Kind, Owner, Scope, Unit};
pub use errors::{error_codes, CoreError, ErrorSpec, Lang, CATALOGUE};
pub use ledger::{apply, reverse};
pub use model::{Decision, MemberSnapshot, Purchase};
pub use rules::compile::Rulebook;
