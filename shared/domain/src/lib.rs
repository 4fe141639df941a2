//! ledgerpost's pure domain: what happens to an invoice between "read and validated" and
//! "journaled and approved", without any AWS, database or runtime.
//!
//! A tour, in the order an invoice meets it:
//! - [`config`]: the one TOML document (administrations, accounts, purchase profiles, validation,
//!   export), checked once at start-up with the failing field named.
//! - [`ids`]: validated identifiers; [`ids::InvoiceId`] is the deterministic duplicate key.
//! - [`masterdata`]: goods receipts, obligations and text rules, their CSV import, the
//!   [`masterdata::MasterData`] lookup port (by key, never a scan) and an in-memory store.
//! - [`tolerance`]: how far an invoiced amount may be from the expected one.
//! - [`matching`]: each purchase line against receipts, obligations, then text rules, giving a
//!   line status and explanation and the invoice's [`matching::InvoiceMatching`] state.
//! - [`manual`]: what a person may do with that state (match, code, undo, re-process, post as a
//!   plain entry, approve, reject), each refusing clearly what is not allowed.
//! - [`suggest`]: codings proposed for an unmatched line from the supplier's history.
//! - [`journal`]: the balanced double-entry entry per invoice, reconciled to the invoice's totals,
//!   and the consumption of receipts and obligations it implies.
//!
//! Money and quantities are `rust_decimal::Decimal` throughout; nothing here panics on untrusted
//! amounts (arithmetic that could overflow is checked).

pub mod config;
pub mod fold;
pub mod ids;
pub mod journal;
pub mod manual;
pub mod masterdata;
pub mod matching;
pub mod suggest;
pub mod tolerance;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds to the cent, halves away from zero (the commercial rounding of EN 16931 examples).
pub(crate) fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}
