//! Master data the matching stage checks invoice lines against: goods receipts, obligations
//! (purchase commitments) and free-text coding rules; their CSV import; the [`MasterData`] port the
//! stores implement; and the [`ConsumePlan`] journaling hands to the store.
//!
//! The port offers lookups by key only ((administration, order number), (administration,
//! reference), (administration, supplier)), never a scan, so a DynamoDB adapter answers each with
//! one Query. [`InMemoryMasterData`] is the implementation for tests and the demo.
//!
//! CSV import is all-or-nothing: a file with any bad row is refused as a whole, with every bad row
//! and field listed, so a half-imported file never leaves the books out of step.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::fold::fold;
use crate::ids::{AccountCode, AdministrationId, SupplierKey};

/// How a line is booked when it is not matched to a receipt or an obligation: general-ledger
/// account, VAT group (the accounting software's VAT code), optional cost centre and project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Coding {
    pub account: AccountCode,
    pub vat_group: Option<String>,
    pub cost_centre: Option<String>,
    pub project: Option<String>,
}

impl Coding {
    /// A coding with an account only.
    pub fn account(account: AccountCode) -> Self {
        Coding { account, vat_group: None, cost_centre: None, project: None }
    }
}

/// Identifies a goods-receipt line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReceiptKey {
    pub administration: AdministrationId,
    pub order_number: String,
    pub line_id: String,
}

impl fmt::Display for ReceiptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "receipt {} line {}", self.order_number, self.line_id)
    }
}

/// A goods-receipt line: what was received against a purchase order line, and how much of it has
/// been invoiced so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodsReceipt {
    pub administration: AdministrationId,
    /// The purchase order number; invoices refer to it as their order reference (BT-13).
    pub order_number: String,
    /// The order line; invoices may refer to it as order line reference (BT-132).
    pub line_id: String,
    pub sellers_item_id: Option<String>,
    pub buyers_item_id: Option<String>,
    pub standard_item_id: Option<String>,
    pub quantity_received: Decimal,
    /// Invoiced so far, net of credit notes.
    pub quantity_invoiced: Decimal,
    pub unit_price: Decimal,
    /// The value of the received quantity.
    pub amount: Decimal,
    pub date: NaiveDate,
}

impl GoodsReceipt {
    pub fn key(&self) -> ReceiptKey {
        ReceiptKey {
            administration: self.administration.clone(),
            order_number: self.order_number.clone(),
            line_id: self.line_id.clone(),
        }
    }
}

/// Identifies an obligation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObligationKey {
    pub administration: AdministrationId,
    pub reference: String,
    pub supplier: SupplierKey,
}

impl fmt::Display for ObligationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "obligation {} of {}", self.reference, self.supplier)
    }
}

/// A purchase commitment of an administration to a supplier, consumed by that supplier's invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    pub administration: AdministrationId,
    /// Invoices refer to it as their order reference (BT-13).
    pub reference: String,
    pub supplier: SupplierKey,
    pub amount: Decimal,
    /// What has not been invoiced yet.
    pub open_balance: Decimal,
    /// A blocked obligation is never matched (it is reported).
    pub blocked: bool,
}

impl Obligation {
    pub fn key(&self) -> ObligationKey {
        ObligationKey {
            administration: self.administration.clone(),
            reference: self.reference.clone(),
            supplier: self.supplier.clone(),
        }
    }
}

/// Identifies a text rule: one coding per folded search text per supplier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleKey {
    pub administration: AdministrationId,
    pub supplier: SupplierKey,
    /// The search text folded (see [`crate::fold`]).
    pub folded: String,
}

/// A free-text rule: a line of this supplier whose item name or description contains the search
/// text (case- and accent-insensitive) is coded this way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextRule {
    pub administration: AdministrationId,
    pub supplier: SupplierKey,
    pub search_text: String,
    pub coding: Coding,
}

/// Search texts shorter than this (folded) would match almost any line and are refused.
pub const MIN_SEARCH_TEXT_CHARS: usize = 3;

impl TextRule {
    pub fn key(&self) -> RuleKey {
        RuleKey {
            administration: self.administration.clone(),
            supplier: self.supplier.clone(),
            folded: fold(&self.search_text),
        }
    }
}

/// A master-data store could not answer (the in-memory one always can).
#[derive(Debug, thiserror::Error)]
#[error("master data could not be read")]
pub struct MasterDataError {
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Master-data lookups, by key only. Keys are compared as given (trimmed by the caller).
pub trait MasterData {
    /// The receipt lines of a purchase order.
    fn receipts_for_order(
        &self,
        administration: &AdministrationId,
        order_number: &str,
    ) -> Result<Vec<GoodsReceipt>, MasterDataError>;
    /// The obligations with this reference (of any supplier).
    fn obligations_for_reference(
        &self,
        administration: &AdministrationId,
        reference: &str,
    ) -> Result<Vec<Obligation>, MasterDataError>;
    /// The text rules of a supplier.
    fn rules_for_supplier(
        &self,
        administration: &AdministrationId,
        supplier: &SupplierKey,
    ) -> Result<Vec<TextRule>, MasterDataError>;
}

/// What journaling an invoice consumes: receipt quantities and obligation balances, aggregated per
/// key, to be applied by the store in the same transaction as the entry and the status change.
///
/// Each item carries the value seen when the invoice was matched. The store applies an item only
/// if the current value is no worse for it than the one seen: for consumption (positive), the
/// invoiced quantity must not have grown (`current ≤ seen`) and the open balance must not have
/// shrunk (`current ≥ seen`); for a credit (negative), the reverse. The obligation must also still
/// be unblocked. Otherwise the transaction fails and the invoice is matched again.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumePlan {
    pub receipts: Vec<ReceiptConsumption>,
    pub obligations: Vec<ObligationConsumption>,
}

/// Adds `quantity` to a receipt line's invoiced quantity (negative for a credit note).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptConsumption {
    pub key: ReceiptKey,
    pub quantity: Decimal,
    pub invoiced_seen: Decimal,
}

/// Takes `amount` off an obligation's open balance (negative for a credit note: it is given back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationConsumption {
    pub key: ObligationKey,
    pub amount: Decimal,
    pub open_seen: Decimal,
}

impl ConsumePlan {
    pub fn is_empty(&self) -> bool {
        self.receipts.is_empty() && self.obligations.is_empty()
    }

    /// The plan that gives back what this one consumed (for a rejected invoice). The seen values
    /// are the ones after this plan was applied.
    pub fn reversed(&self) -> ConsumePlan {
        ConsumePlan {
            receipts: self
                .receipts
                .iter()
                .map(|r| ReceiptConsumption {
                    key: r.key.clone(),
                    quantity: -r.quantity,
                    invoiced_seen: r.invoiced_seen + r.quantity,
                })
                .collect(),
            obligations: self
                .obligations
                .iter()
                .map(|o| ObligationConsumption {
                    key: o.key.clone(),
                    amount: -o.amount,
                    open_seen: o.open_seen - o.amount,
                })
                .collect(),
        }
    }
}

/// Why a [`ConsumePlan`] could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("{0} does not exist")]
    Missing(String),
    #[error("{0} changed since the invoice was matched: match it again")]
    Changed(String),
    #[error("{0} is blocked")]
    Blocked(String),
}

/// In-memory master data, keyed exactly like the port's lookups.
#[derive(Debug, Clone, Default)]
pub struct InMemoryMasterData {
    receipts: BTreeMap<(AdministrationId, String), BTreeMap<String, GoodsReceipt>>,
    obligations: BTreeMap<(AdministrationId, String), BTreeMap<SupplierKey, Obligation>>,
    rules: BTreeMap<(AdministrationId, SupplierKey), BTreeMap<String, TextRule>>,
}

impl InMemoryMasterData {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a receipt line, replacing one with the same key.
    pub fn put_receipt(&mut self, receipt: GoodsReceipt) {
        let group = (receipt.administration.clone(), receipt.order_number.clone());
        self.receipts.entry(group).or_default().insert(receipt.line_id.clone(), receipt);
    }

    /// Adds an obligation, replacing one with the same key.
    pub fn put_obligation(&mut self, obligation: Obligation) {
        let group = (obligation.administration.clone(), obligation.reference.clone());
        self.obligations.entry(group).or_default().insert(obligation.supplier.clone(), obligation);
    }

    /// Adds a text rule, replacing one with the same key (same folded search text).
    pub fn put_rule(&mut self, rule: TextRule) {
        let key = rule.key();
        self.rules.entry((key.administration, key.supplier)).or_default().insert(key.folded, rule);
    }

    pub fn receipt(&self, key: &ReceiptKey) -> Option<&GoodsReceipt> {
        self.receipts.get(&(key.administration.clone(), key.order_number.clone()))?.get(&key.line_id)
    }

    pub fn obligation(&self, key: &ObligationKey) -> Option<&Obligation> {
        self.obligations.get(&(key.administration.clone(), key.reference.clone()))?.get(&key.supplier)
    }

    /// Applies a plan all or nothing, with the checks a store makes (see [`ConsumePlan`]).
    pub fn apply(&mut self, plan: &ConsumePlan) -> Result<(), ApplyError> {
        for r in &plan.receipts {
            let current = self.receipt(&r.key).ok_or_else(|| ApplyError::Missing(r.key.to_string()))?;
            let ok = if r.quantity >= Decimal::ZERO {
                current.quantity_invoiced <= r.invoiced_seen
            } else {
                current.quantity_invoiced >= r.invoiced_seen
            };
            if !ok {
                return Err(ApplyError::Changed(r.key.to_string()));
            }
        }
        for o in &plan.obligations {
            let current = self.obligation(&o.key).ok_or_else(|| ApplyError::Missing(o.key.to_string()))?;
            if current.blocked {
                return Err(ApplyError::Blocked(o.key.to_string()));
            }
            let ok = if o.amount >= Decimal::ZERO {
                current.open_balance >= o.open_seen
            } else {
                current.open_balance <= o.open_seen
            };
            if !ok {
                return Err(ApplyError::Changed(o.key.to_string()));
            }
        }
        for r in &plan.receipts {
            let group = (r.key.administration.clone(), r.key.order_number.clone());
            if let Some(receipt) = self.receipts.get_mut(&group).and_then(|g| g.get_mut(&r.key.line_id)) {
                receipt.quantity_invoiced += r.quantity;
            }
        }
        for o in &plan.obligations {
            let group = (o.key.administration.clone(), o.key.reference.clone());
            if let Some(obligation) =
                self.obligations.get_mut(&group).and_then(|g| g.get_mut(&o.key.supplier))
            {
                obligation.open_balance -= o.amount;
            }
        }
        Ok(())
    }
}

impl MasterData for InMemoryMasterData {
    fn receipts_for_order(
        &self,
        administration: &AdministrationId,
        order_number: &str,
    ) -> Result<Vec<GoodsReceipt>, MasterDataError> {
        let group = self.receipts.get(&(administration.clone(), order_number.to_owned()));
        Ok(group.map(|g| g.values().cloned().collect()).unwrap_or_default())
    }

    fn obligations_for_reference(
        &self,
        administration: &AdministrationId,
        reference: &str,
    ) -> Result<Vec<Obligation>, MasterDataError> {
        let group = self.obligations.get(&(administration.clone(), reference.to_owned()));
        Ok(group.map(|g| g.values().cloned().collect()).unwrap_or_default())
    }

    fn rules_for_supplier(
        &self,
        administration: &AdministrationId,
        supplier: &SupplierKey,
    ) -> Result<Vec<TextRule>, MasterDataError> {
        let group = self.rules.get(&(administration.clone(), supplier.clone()));
        Ok(group.map(|g| g.values().cloned().collect()).unwrap_or_default())
    }
}

// ---------------------------------------------------------------------------------------------
// CSV import
// ---------------------------------------------------------------------------------------------

/// Why a CSV file was refused. Nothing of a refused file is imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file could not be read")]
    Read(#[source] csv::Error),
    #[error("header row: {0}")]
    Header(String),
    #[error("{} bad row(s), nothing imported: {}", .0.len(), list(.0))]
    Rows(Vec<RowError>),
}

/// One bad row (`row` is the line in the file; the header is row 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    /// The column, when one field is at fault.
    pub column: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "row {}, {c}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

fn list(rows: &[RowError]) -> String {
    rows.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Reads a goods-receipt CSV file (UTF-8, comma-separated, header row required, columns in any
/// order; `?` marks a column that may be left out or empty):
///
/// | column | content |
/// |---|---|
/// | `administration` | administration id |
/// | `order_number` | purchase order number (the invoices' order reference, BT-13) |
/// | `line_id` | order line id (the invoices' order line reference, BT-132) |
/// | `sellers_item_id`? | the supplier's article number (BT-155) |
/// | `buyers_item_id`? | the buyer's article number (BT-156) |
/// | `standard_item_id`? | e.g. a GTIN (BT-157) |
/// | `quantity_received` | decimal ≥ 0, `.` as decimal separator |
/// | `quantity_invoiced`? | decimal ≥ 0, default 0 |
/// | `unit_price` | decimal ≥ 0 |
/// | `amount` | decimal ≥ 0: the value of the received quantity |
/// | `date` | receipt date, YYYY-MM-DD |
///
/// Each (administration, order_number, line_id) may appear once.
pub fn import_receipts<R: Read>(reader: R) -> Result<Vec<GoodsReceipt>, ImportError> {
    const COLUMNS: &[(&str, bool)] = &[
        ("administration", true),
        ("order_number", true),
        ("line_id", true),
        ("sellers_item_id", false),
        ("buyers_item_id", false),
        ("standard_item_id", false),
        ("quantity_received", true),
        ("quantity_invoiced", false),
        ("unit_price", true),
        ("amount", true),
        ("date", true),
    ];
    import(reader, COLUMNS, |row| {
        let receipt = GoodsReceipt {
            administration: row.parse("administration", AdministrationId::parse)?,
            order_number: row.required("order_number")?,
            line_id: row.required("line_id")?,
            sellers_item_id: row.optional("sellers_item_id"),
            buyers_item_id: row.optional("buyers_item_id"),
            standard_item_id: row.optional("standard_item_id"),
            quantity_received: row.non_negative("quantity_received")?,
            quantity_invoiced: match row.optional("quantity_invoiced") {
                None => Decimal::ZERO,
                Some(_) => row.non_negative("quantity_invoiced")?,
            },
            unit_price: row.non_negative("unit_price")?,
            amount: row.non_negative("amount")?,
            date: row.parse("date", |s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| format!("\"{s}\" is not a date (YYYY-MM-DD)"))
            })?,
        };
        let key = receipt.key();
        Ok((receipt, format!("{}|{}|{}", key.administration, key.order_number, key.line_id)))
    })
}

/// Reads an obligation CSV file (conventions as for [`import_receipts`]):
///
/// | column | content |
/// |---|---|
/// | `administration` | administration id |
/// | `reference` | the commitment's reference (the invoices' order reference, BT-13) |
/// | `supplier` | VAT id, or `scheme:endpoint` |
/// | `amount` | decimal ≥ 0: the committed amount (excluding VAT) |
/// | `open_balance` | decimal ≤ amount: what is not invoiced yet |
/// | `blocked`? | `true`/`false`, `yes`/`no`, `1`/`0`; empty or left out: false |
///
/// Each (administration, reference, supplier) may appear once.
pub fn import_obligations<R: Read>(reader: R) -> Result<Vec<Obligation>, ImportError> {
    const COLUMNS: &[(&str, bool)] = &[
        ("administration", true),
        ("reference", true),
        ("supplier", true),
        ("amount", true),
        ("open_balance", true),
        ("blocked", false),
    ];
    import(reader, COLUMNS, |row| {
        let amount = row.non_negative("amount")?;
        let open_balance = row.decimal("open_balance")?;
        if open_balance > amount {
            return row.fail("open_balance", format!("{open_balance} is more than the amount {amount}"));
        }
        let obligation = Obligation {
            administration: row.parse("administration", AdministrationId::parse)?,
            reference: row.required("reference")?,
            supplier: row.parse("supplier", SupplierKey::parse)?,
            amount,
            open_balance,
            blocked: match row.optional("blocked") {
                None => false,
                Some(_) => row.parse("blocked", parse_bool)?,
            },
        };
        let key = obligation.key();
        Ok((obligation, format!("{}|{}|{}", key.administration, key.reference, key.supplier)))
    })
}

/// Reads a text-rule CSV file (conventions as for [`import_receipts`]):
///
/// | column | content |
/// |---|---|
/// | `administration` | administration id |
/// | `supplier` | VAT id, or `scheme:endpoint` |
/// | `search_text` | text to find in a line's item name or description, at least 3 characters |
/// | `account` | general-ledger account |
/// | `vat_group` | the accounting software's VAT code |
/// | `cost_centre`? | |
/// | `project`? | |
///
/// Each (administration, supplier, search text) may appear once; search texts are compared
/// case- and accent-insensitively.
pub fn import_rules<R: Read>(reader: R) -> Result<Vec<TextRule>, ImportError> {
    const COLUMNS: &[(&str, bool)] = &[
        ("administration", true),
        ("supplier", true),
        ("search_text", true),
        ("account", true),
        ("vat_group", true),
        ("cost_centre", false),
        ("project", false),
    ];
    import(reader, COLUMNS, |row| {
        let search_text = row.required("search_text")?;
        if fold(&search_text).chars().count() < MIN_SEARCH_TEXT_CHARS {
            return row.fail(
                "search_text",
                format!("\"{search_text}\" is shorter than {MIN_SEARCH_TEXT_CHARS} characters"),
            );
        }
        let rule = TextRule {
            administration: row.parse("administration", AdministrationId::parse)?,
            supplier: row.parse("supplier", SupplierKey::parse)?,
            search_text,
            coding: Coding {
                account: row.parse("account", AccountCode::parse)?,
                vat_group: Some(row.required("vat_group")?),
                cost_centre: row.optional("cost_centre"),
                project: row.optional("project"),
            },
        };
        let key = rule.key();
        Ok((rule, format!("{}|{}|{}", key.administration, key.supplier, key.folded)))
    })
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("\"{s}\" is not true or false")),
    }
}

/// A decimal in plain notation: optional `-`, digits, optional `.` and digits.
fn parse_decimal(s: &str) -> Result<Decimal, String> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !int.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit())
        && !(digits.contains('.') && frac.is_empty());
    if !plain {
        let hint = if s.contains(',') { " (use '.' as the decimal separator)" } else { "" };
        return Err(format!("\"{s}\" is not a number{hint}"));
    }
    Decimal::from_str(s).map_err(|_| format!("\"{s}\" is too large"))
}

/// One data row being read. The first bad field ends the row (`Err(())`); the problem is kept.
struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<&'static str, usize>,
    line: u64,
    problems: Vec<RowError>,
}

impl Row<'_> {
    fn raw(&self, column: &'static str) -> &str {
        self.columns.get(column).and_then(|i| self.record.get(*i)).unwrap_or("")
    }

    /// Records a problem with a field; the row ends there.
    fn fail<T>(&mut self, column: &'static str, message: String) -> Result<T, ()> {
        self.problems.push(RowError { row: self.line, column: Some(column), message });
        Err(())
    }

    fn optional(&self, column: &'static str) -> Option<String> {
        Some(self.raw(column).to_owned()).filter(|s| !s.is_empty())
    }

    fn required(&mut self, column: &'static str) -> Result<String, ()> {
        match self.optional(column) {
            Some(v) => Ok(v),
            None => self.fail(column, "missing".into()),
        }
    }

    fn parse<T, E: fmt::Display>(
        &mut self,
        column: &'static str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ()> {
        let raw = self.required(column)?;
        match f(&raw) {
            Ok(value) => Ok(value),
            Err(e) => self.fail(column, e.to_string()),
        }
    }

    fn decimal(&mut self, column: &'static str) -> Result<Decimal, ()> {
        self.parse(column, parse_decimal)
    }

    fn non_negative(&mut self, column: &'static str) -> Result<Decimal, ()> {
        let value = self.decimal(column)?;
        if value.is_sign_negative() && !value.is_zero() {
            return self.fail(column, format!("{value} is negative"));
        }
        Ok(value)
    }
}

/// The shared import loop: header check, every row read, every problem collected, duplicates of
/// the per-row key refused, all or nothing.
fn import<T, R: Read>(
    reader: R,
    columns: &[(&'static str, bool)],
    read_row: impl Fn(&mut Row<'_>) -> Result<(T, String), ()>,
) -> Result<Vec<T>, ImportError> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(reader);
    let header = csv.headers().map_err(ImportError::Read)?.clone();
    let mut index = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let Some((known, _)) = columns.iter().find(|(c, _)| *c == name) else {
            let expected: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
            return Err(ImportError::Header(format!(
                "unknown column \"{name}\" (expected {})",
                expected.join(", ")
            )));
        };
        if index.insert(*known, i).is_some() {
            return Err(ImportError::Header(format!("column \"{name}\" appears twice")));
        }
    }
    let missing: Vec<&str> =
        columns.iter().filter(|(c, required)| *required && !index.contains_key(c)).map(|(c, _)| *c).collect();
    if !missing.is_empty() {
        return Err(ImportError::Header(format!("missing column(s) {}", missing.join(", "))));
    }

    let mut items = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let mut row = Row { record: &record, columns: &index, line, problems: Vec::new() };
                match read_row(&mut row) {
                    Ok((item, key)) => {
                        if let Some(first) = seen.insert(key, line) {
                            problems.push(RowError {
                                row: line,
                                column: None,
                                message: format!("same key as row {first}"),
                            });
                        } else {
                            items.push(item);
                        }
                    }
                    Err(()) => problems.append(&mut row.problems),
                }
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(ImportError::Read(e)),
                _ => {
                    let line = e.position().map_or(0, |p| p.line());
                    let message = match e.kind() {
                        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                            format!("{len} fields where the header has {expected_len}")
                        }
                        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
                        _ => e.to_string(),
                    };
                    problems.push(RowError { row: line, column: None, message });
                }
            },
        }
    }
    if problems.is_empty() { Ok(items) } else { Err(ImportError::Rows(problems)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn receipts_import() {
        let csv = "administration,order_number,line_id,sellers_item_id,quantity_received,quantity_invoiced,unit_price,amount,date\n\
                   acme,PO-1,1,ART-9,10,2,1.50,15.00,2024-03-01\n\
                   acme,PO-1,2,,5,,3,15,2024-03-02\n";
        let receipts = import_receipts(csv.as_bytes()).unwrap();
        assert_eq!(receipts.len(), 2);
        assert_eq!(receipts[0].sellers_item_id.as_deref(), Some("ART-9"));
        assert_eq!(receipts[0].quantity_invoiced, d("2"));
        assert_eq!(receipts[1].quantity_invoiced, Decimal::ZERO);
        assert_eq!(receipts[1].buyers_item_id, None);
    }

    #[test]
    fn import_is_all_or_nothing_and_lists_every_bad_row() {
        let csv = "administration,order_number,line_id,quantity_received,unit_price,amount,date\n\
                   acme,PO-1,1,10,1.50,15.00,2024-03-01\n\
                   acme,PO-1,2,ten,1.50,15.00,2024-03-01\n\
                   acme,PO-1,3,1,\"1,50\",1.50,2024-03-01\n\
                   acme,PO-1,1,10,1.50,15.00,2024-03-01\n\
                   acme,PO-1,4,1,1,1\n\
                   acme,PO-1,5,1,1,-1,2024-13-01\n";
        let err = import_receipts(csv.as_bytes()).unwrap_err();
        let ImportError::Rows(rows) = &err else { panic!("{err}") };
        let lines: Vec<u64> = rows.iter().map(|r| r.row).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7]);
        let text = err.to_string();
        assert!(text.starts_with("5 bad row(s), nothing imported: "), "{text}");
        assert!(text.contains("row 3, quantity_received: \"ten\" is not a number"), "{text}");
        assert!(
            text.contains("row 4, unit_price: \"1,50\" is not a number (use '.' as the decimal separator)"),
            "{text}"
        );
        assert!(text.contains("row 5: same key as row 2"), "{text}");
        assert!(text.contains("row 6: 6 fields where the header has 7"), "{text}");
        assert!(text.contains("row 7, amount: -1 is negative"), "{text}");
    }

    #[test]
    fn spreadsheet_exports_with_a_byte_order_mark_are_read() {
        let csv = "\u{feff}administration,supplier,search_text,account,vat_group\r\nacme,NL123456789B01,Koffie,4100,H21\r\n";
        assert_eq!(import_rules(csv.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn header_is_required_and_checked() {
        let err = import_receipts("acme,PO-1,1,10,1.50,15.00,2024-03-01\n".as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("header row: unknown column \"acme\""), "{err}");
        let err = import_obligations("administration,reference,supplier,amount\n".as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "header row: missing column(s) open_balance");
        let err = import_rules("".as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("header row: missing column(s) administration"), "{err}");
    }

    #[test]
    fn obligations_import() {
        let csv = "administration,reference,supplier,amount,open_balance,blocked\n\
                   acme,CONTRACT-7,NL123456789B01,1200.00,800.00,no\n\
                   acme,CONTRACT-8,0106:1234,500,500,YES\n\
                   acme,CONTRACT-9,NL123456789B01,100,150,\n\
                   acme,CONTRACT-10,NL123456789B01,100,50,maybe\n";
        let err = import_obligations(csv.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("row 4, open_balance: 150 is more than the amount 100"), "{err}");
        assert!(err.contains("row 5, blocked: \"maybe\" is not true or false"), "{err}");
        let ok: String = csv.lines().take(3).map(|l| format!("{l}\n")).collect();
        let obligations = import_obligations(ok.as_bytes()).unwrap();
        assert!(!obligations[0].blocked && obligations[1].blocked);
        assert_eq!(obligations[1].supplier.as_str(), "0106:1234");
    }

    #[test]
    fn rules_import() {
        let csv = "administration,supplier,search_text,account,vat_group,cost_centre,project\n\
                   acme,NL123456789B01,Koffie,4100,H21,KANTINE,\n\
                   acme,NL123456789B01,KOFFIE,4200,H21,,\n\
                   acme,NL123456789B01,ab,4200,H21,,\n\
                   acme,NL123456789B01,Thee,,H21,,\n";
        let err = import_rules(csv.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("row 3: same key as row 2"), "{err}");
        assert!(err.contains("row 4, search_text: \"ab\" is shorter than 3 characters"), "{err}");
        assert!(err.contains("row 5, account: missing"), "{err}");
        let ok: String = csv.lines().take(2).map(|l| format!("{l}\n")).collect();
        let rules = import_rules(ok.as_bytes()).unwrap();
        assert_eq!(rules[0].coding.cost_centre.as_deref(), Some("KANTINE"));
        assert_eq!(rules[0].coding.project, None);
    }

    #[test]
    fn in_memory_lookups_and_apply() {
        let admin = AdministrationId::parse("acme").unwrap();
        let mut md = InMemoryMasterData::new();
        let receipt = GoodsReceipt {
            administration: admin.clone(),
            order_number: "PO-1".into(),
            line_id: "1".into(),
            sellers_item_id: None,
            buyers_item_id: None,
            standard_item_id: None,
            quantity_received: d("10"),
            quantity_invoiced: d("0"),
            unit_price: d("1"),
            amount: d("10"),
            date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        };
        md.put_receipt(receipt.clone());
        assert_eq!(md.receipts_for_order(&admin, "PO-1").unwrap().len(), 1);
        assert!(md.receipts_for_order(&admin, "PO-2").unwrap().is_empty());
        let plan = ConsumePlan {
            receipts: vec![ReceiptConsumption {
                key: receipt.key(),
                quantity: d("4"),
                invoiced_seen: d("0"),
            }],
            obligations: vec![],
        };
        md.apply(&plan).unwrap();
        assert_eq!(md.receipt(&receipt.key()).unwrap().quantity_invoiced, d("4"));
        // Seen 0, now 4: consuming again on the old view is refused.
        assert!(matches!(md.apply(&plan), Err(ApplyError::Changed(_))));
        md.apply(&plan.reversed()).unwrap();
        assert_eq!(md.receipt(&receipt.key()).unwrap().quantity_invoiced, d("0"));
    }
}
