//! Line matching of purchase invoices and credit notes: each line against goods receipts, then
//! obligations, then the supplier's free-text rules, giving each a status and an explanation.
//!
//! For one invoice the master data is read with at most three key lookups (receipts of the order,
//! obligations of the reference, rules of the supplier), then every line is matched in memory. The
//! receipts are indexed once by each kind of item id, so a line looks its candidates up by key
//! instead of comparing itself with every receipt line of the order: matching costs grow with the
//! lines, not with lines × receipts.
//!
//! **Signs.** A credit note carries positive quantities and amounts, but undoes invoicing: every
//! line quantity and amount is multiplied by the document's sign (+1 invoice, −1 credit note)
//! before matching, and a line with a negative signed quantity *credits*: it can give back at most
//! what was invoiced of a receipt (`quantity_invoiced`), and at most what was consumed of an
//! obligation (`amount − open_balance`); its consumption is negative (invoiced quantity goes down,
//! open balance goes up). A negative line on an invoice is treated the same way, so a correction
//! invoice with negative lines behaves like a credit note.
//!
//! **Receipts.** A receipt line is a candidate when it belongs to the invoice's order (BT-13) and
//! has the same item: seller's item id (BT-155), buyer's item id (BT-156), standard id (BT-157,
//! value only), or order line reference (BT-132) equal to the receipt's line id; ids compare
//! trimmed and case-insensitively. Its *available* quantity is `received − invoiced` for
//! invoicing, `invoiced` for crediting, less what earlier lines of the same invoice took. Checks:
//! - quantity: invoicing less than available is normal (partial invoicing; the rest stays open).
//!   Invoicing more is a quantity difference, accepted only within tolerance, comparing the
//!   receipt value of the two quantities, and never when nothing is available: a quantity already
//!   invoiced cannot be invoiced twice;
//! - amount: the line amount against the receipt value of the invoiced quantity
//!   (`amount × quantity / received`, rounded to the cent), within tolerance;
//! - price: the invoice's unit price (BT-146 / BT-149) against the receipt's unit price, compared
//!   at the coarser of their precisions (at least cents); reported, not checked.
//!
//! **Obligations.** An obligation with the invoice's order reference as reference and the invoice's
//! supplier. An obligation is consumed by several invoices, so a line amount up to the available
//! open balance matches without differences; more is a difference accepted within tolerance of
//! the open balance (again never when nothing is open). A blocked obligation is reported, not
//! matched. The line amount compared and consumed is its net amount (BT-131).
//!
//! **Stops.** When a receipt or obligation candidate exists but fails its checks, the line is not
//! matched and the search stops there: coding it by a text rule instead would leave the receipt
//! or obligation open and book the goods twice. A person decides (see [`crate::manual`]).
//!
//! **Text rules.** A rule matches when its folded search text occurs in the folded item name or
//! description (see [`crate::fold`]). The longest search text wins; equally long winners with
//! different codings are a tie, reported and not matched.
//!
//! Amounts too large to compute with never match.

use std::collections::{BTreeMap, HashMap};

use ledgerpost_ubl::model::{DocumentKind, Invoice, Line};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cents;
use crate::config::PurchaseProfile;
use crate::fold::fold;
use crate::ids::{AccountCode, AdministrationId, InvoiceId, SupplierKey};
use crate::masterdata::{
    Coding, ConsumePlan, GoodsReceipt, MasterData, MasterDataError, Obligation, ObligationConsumption,
    ObligationKey, ReceiptConsumption, ReceiptKey, TextRule,
};
use crate::tolerance::Tolerance;

/// The status of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineStatus {
    /// Matched to a receipt or obligation, or coded (by a rule or a person).
    Matched,
    /// Waits for a person.
    NotMatched,
    /// Posted as a plain journal entry on the account a person chose.
    Posted,
}

/// Why a line has its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Explanation {
    ReceiptWithoutDifferences {
        receipt: ReceiptKey,
    },
    /// Matched when every checked difference is within tolerance; not matched otherwise.
    ReceiptWithDifferences {
        receipt: ReceiptKey,
        differences: ReceiptDifferences,
    },
    ObligationWithoutDifferences {
        obligation: ObligationKey,
    },
    /// The line amount exceeds the available open balance: matched within tolerance, else not.
    ObligationWithDifferences {
        obligation: ObligationKey,
        available: Decimal,
        amount: Decimal,
    },
    ObligationBlocked {
        obligation: ObligationKey,
    },
    TextRule {
        search_text: String,
        account: AccountCode,
    },
    /// Equally long search texts with different codings.
    RuleTie {
        candidates: Vec<RuleCandidate>,
    },
    /// Coded, or matched to a receipt or obligation, by a person.
    ManualEntry,
    /// Posted as a plain journal entry by a person.
    PlainEntry,
    /// A person undid the line's match.
    Undone,
    /// The document has no order reference and no text rule matched.
    NoOrderReference,
    NoCandidate,
}

/// A rule in a tie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCandidate {
    pub search_text: String,
    pub coding: Coding,
}

/// The differences found against a receipt line; `None` means no difference of that kind.
/// Quantities and amounts are in the line's direction (positive for invoicing and crediting).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReceiptDifferences {
    /// More invoiced (or credited) than available.
    pub quantity: Option<QuantityDifference>,
    /// Unit prices differ (reported only).
    pub price: Option<PriceDifference>,
    /// The line amount differs from the receipt value of its quantity.
    pub amount: Option<AmountDifference>,
}

impl ReceiptDifferences {
    pub fn is_empty(&self) -> bool {
        self.quantity.is_none() && self.price.is_none() && self.amount.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantityDifference {
    pub available: Decimal,
    pub invoiced: Decimal,
    pub within_tolerance: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceDifference {
    pub receipt: Decimal,
    pub invoice: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountDifference {
    pub expected: Decimal,
    pub invoiced: Decimal,
    pub within_tolerance: bool,
}

/// What a processed line is booked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Assignment {
    /// `quantity` is added to the receipt's invoiced quantity (negative when crediting);
    /// `invoiced_seen` is the receipt's invoiced quantity when it was read.
    Receipt { key: ReceiptKey, quantity: Decimal, invoiced_seen: Decimal },
    /// `amount` is taken off the open balance (negative when crediting).
    Obligation { key: ObligationKey, amount: Decimal, open_seen: Decimal },
    /// Booked on this coding (text rule, manual coding, plain entry).
    Coding(Coding),
}

/// The matching result of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineMatch {
    /// BT-126.
    pub line_id: String,
    pub status: LineStatus,
    pub explanation: Explanation,
    /// Set when the line is matched or posted.
    pub assignment: Option<Assignment>,
    /// A person decided this line.
    pub by_hand: bool,
}

impl LineMatch {
    pub(crate) fn not_matched(line_id: &str, explanation: Explanation) -> Self {
        LineMatch {
            line_id: line_id.to_owned(),
            status: LineStatus::NotMatched,
            explanation,
            assignment: None,
            by_hand: false,
        }
    }

    fn matched(line_id: &str, explanation: Explanation, assignment: Assignment) -> Self {
        LineMatch {
            line_id: line_id.to_owned(),
            status: LineStatus::Matched,
            explanation,
            assignment: Some(assignment),
            by_hand: false,
        }
    }

    pub fn is_processed(&self) -> bool {
        self.status != LineStatus::NotMatched
    }
}

/// Where an invoice is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvoiceStatus {
    /// Some line is not matched.
    WaitingForManualProcessing,
    /// Every line is matched or posted: on to the journal.
    AllLinesProcessed,
    /// The entry is made; the invoice can no longer be changed.
    Journaled { approval: Approval },
}

/// Approval of a journaled invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    NotRequired,
    Pending,
    Approved,
    Rejected { reason: String },
}

/// The matching state of one purchase invoice or credit note: what the manual actions work on and
/// what the journal books. Its fields change only through [`match_invoice`], the actions in
/// [`crate::manual`] and [`crate::journal::journal_purchase`]; each change raises `version` (for
/// the store's conditional write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceMatching {
    pub(crate) invoice: InvoiceId,
    pub(crate) administration: AdministrationId,
    pub(crate) supplier: SupplierKey,
    pub(crate) kind: DocumentKind,
    pub(crate) order_reference: Option<String>,
    pub(crate) approval_required: bool,
    pub(crate) lines: Vec<LineMatch>,
    pub(crate) status: InvoiceStatus,
    pub(crate) consumed: Option<ConsumePlan>,
    pub(crate) version: u64,
}

impl InvoiceMatching {
    pub fn invoice(&self) -> &InvoiceId {
        &self.invoice
    }
    pub fn administration(&self) -> &AdministrationId {
        &self.administration
    }
    pub fn supplier(&self) -> &SupplierKey {
        &self.supplier
    }
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }
    pub fn order_reference(&self) -> Option<&str> {
        self.order_reference.as_deref()
    }
    pub fn approval_required(&self) -> bool {
        self.approval_required
    }
    pub fn lines(&self) -> &[LineMatch] {
        &self.lines
    }
    pub fn status(&self) -> &InvoiceStatus {
        &self.status
    }
    /// What journaling consumed (set once journaled).
    pub fn consumed(&self) -> Option<&ConsumePlan> {
        self.consumed.as_ref()
    }
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets the status from the lines (for a state that is not journaled).
    pub(crate) fn refresh_status(&mut self) {
        self.status = if self.lines.iter().all(LineMatch::is_processed) {
            InvoiceStatus::AllLinesProcessed
        } else {
            InvoiceStatus::WaitingForManualProcessing
        };
    }

    /// What journaling the matched lines consumes, aggregated per receipt line and obligation.
    pub fn consume_plan(&self) -> ConsumePlan {
        let mut receipts: BTreeMap<ReceiptKey, (Decimal, Decimal)> = BTreeMap::new();
        let mut obligations: BTreeMap<ObligationKey, (Decimal, Decimal)> = BTreeMap::new();
        for line in &self.lines {
            match &line.assignment {
                Some(Assignment::Receipt { key, quantity, invoiced_seen }) => {
                    receipts.entry(key.clone()).or_insert((Decimal::ZERO, *invoiced_seen)).0 += quantity;
                }
                Some(Assignment::Obligation { key, amount, open_seen }) => {
                    obligations.entry(key.clone()).or_insert((Decimal::ZERO, *open_seen)).0 += amount;
                }
                _ => {}
            }
        }
        ConsumePlan {
            receipts: receipts
                .into_iter()
                .map(|(key, (quantity, invoiced_seen))| ReceiptConsumption { key, quantity, invoiced_seen })
                .collect(),
            obligations: obligations
                .into_iter()
                .map(|(key, (amount, open_seen))| ObligationConsumption { key, amount, open_seen })
                .collect(),
        }
    }
}

/// Who and what an invoice is matched for.
pub struct MatchContext<'a, M: MasterData + ?Sized> {
    pub administration: &'a AdministrationId,
    pub supplier: &'a SupplierKey,
    pub profile: &'a PurchaseProfile,
    pub master_data: &'a M,
}

/// The result of matching a document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(clippy::large_enum_variant, reason = "one value per invoice, moved once: boxing buys nothing")]
pub enum MatchOutcome {
    /// Lines matched as far as possible; see the state's status.
    Processed(InvoiceMatching),
    /// The profile rejects documents without an order reference (BT-13).
    RejectedWithoutOrderReference,
}

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    MasterData(#[from] MasterDataError),
}

/// +1 for an invoice, −1 for a credit note.
pub(crate) fn document_sign(kind: DocumentKind) -> Decimal {
    match kind {
        DocumentKind::Invoice => Decimal::ONE,
        DocumentKind::CreditNote => Decimal::NEGATIVE_ONE,
    }
}

/// The trimmed order reference, if any.
pub(crate) fn order_reference(invoice: &Invoice) -> Option<String> {
    invoice.order_reference.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned)
}

/// Matches every line of a purchase invoice or credit note (see the module documentation).
pub fn match_invoice<M: MasterData + ?Sized>(
    invoice: &Invoice,
    invoice_id: InvoiceId,
    ctx: &MatchContext<'_, M>,
) -> Result<MatchOutcome, MatchError> {
    let order_reference = order_reference(invoice);
    if order_reference.is_none() && ctx.profile.reject_without_order_reference {
        return Ok(MatchOutcome::RejectedWithoutOrderReference);
    }
    let mut state = InvoiceMatching {
        invoice: invoice_id,
        administration: ctx.administration.clone(),
        supplier: ctx.supplier.clone(),
        kind: invoice.kind,
        order_reference,
        approval_required: ctx.profile.approval_required,
        lines: invoice
            .lines
            .iter()
            .map(|l| LineMatch::not_matched(&l.id, Explanation::NoCandidate))
            .collect(),
        status: InvoiceStatus::WaitingForManualProcessing,
        consumed: None,
        version: 0,
    };
    rematch_open_lines(&mut state, invoice, ctx)?;
    Ok(MatchOutcome::Processed(state))
}

/// Matches the lines of `state` that are not processed, counting what processed lines already take
/// from receipts and obligations. Used by [`match_invoice`] and by re-processing.
pub(crate) fn rematch_open_lines<M: MasterData + ?Sized>(
    state: &mut InvoiceMatching,
    invoice: &Invoice,
    ctx: &MatchContext<'_, M>,
) -> Result<(), MatchError> {
    let candidates = Candidates::fetch(state.order_reference.as_deref(), ctx)?;
    let mut ledger = Ledger::default();
    for line in state.lines.iter().filter(|l| l.is_processed()) {
        ledger.record(line.assignment.as_ref());
    }
    let mut taken = Taken::new(&candidates, &ledger);
    let sign = document_sign(state.kind);
    let mut found = Vec::new();
    for (line_match, line) in state.lines.iter_mut().zip(&invoice.lines) {
        if line_match.is_processed() {
            continue;
        }
        let (result, took) = match_line(line, sign, &candidates, &taken, &mut found, ctx.profile.tolerance);
        taken.record(&candidates, took, result.assignment.as_ref());
        *line_match = result;
    }
    state.refresh_status();
    Ok(())
}

/// Receipt positions (in the order the master data gave them) by normalised item id.
type IdIndex = HashMap<String, Vec<usize>>;

/// Master data for one invoice, read once, with the receipts indexed by every id a line may
/// name them by.
struct Candidates {
    has_order_reference: bool,
    receipts: Vec<GoodsReceipt>,
    /// BT-155 against the receipt's seller's item id.
    by_sellers_id: IdIndex,
    /// BT-156 against the receipt's buyer's item id.
    by_buyers_id: IdIndex,
    /// BT-157 (value) against the receipt's standard item id.
    by_standard_id: IdIndex,
    /// BT-132 against the receipt's order line.
    by_line_id: IdIndex,
    /// Each receipt's slot in [`Taken`]: the first receipt with the same key, so what one line
    /// takes counts for every receipt under that key, as the per-key [`Ledger`] does.
    slot: Vec<usize>,
    /// The first obligation of the reference that is the invoice's supplier's.
    obligation: Option<Obligation>,
    rules: Vec<(TextRule, String)>,
}

impl Candidates {
    fn fetch<M: MasterData + ?Sized>(
        order_reference: Option<&str>,
        ctx: &MatchContext<'_, M>,
    ) -> Result<Self, MasterDataError> {
        let (receipts, obligations) = match order_reference {
            Some(reference) => (
                ctx.master_data.receipts_for_order(ctx.administration, reference)?,
                ctx.master_data.obligations_for_reference(ctx.administration, reference)?,
            ),
            None => (Vec::new(), Vec::new()),
        };
        let rules = ctx
            .master_data
            .rules_for_supplier(ctx.administration, ctx.supplier)?
            .into_iter()
            .map(|r| {
                let folded = fold(&r.search_text);
                (r, folded)
            })
            .filter(|(_, folded)| !folded.is_empty())
            .collect();
        let obligation = obligations.into_iter().find(|o| &o.supplier == ctx.supplier);
        let mut candidates = Candidates {
            has_order_reference: order_reference.is_some(),
            by_sellers_id: HashMap::new(),
            by_buyers_id: HashMap::new(),
            by_standard_id: HashMap::new(),
            by_line_id: HashMap::new(),
            slot: Vec::with_capacity(receipts.len()),
            receipts: Vec::new(),
            obligation,
            rules,
        };
        let mut first_of_key: HashMap<(&AdministrationId, &str, &str), usize> = HashMap::new();
        for (i, r) in receipts.iter().enumerate() {
            let index = |map: &mut IdIndex, id: Option<&str>| {
                if let Some(key) = id_key(id) {
                    map.entry(key).or_default().push(i);
                }
            };
            index(&mut candidates.by_sellers_id, r.sellers_item_id.as_deref());
            index(&mut candidates.by_buyers_id, r.buyers_item_id.as_deref());
            index(&mut candidates.by_standard_id, r.standard_item_id.as_deref());
            index(&mut candidates.by_line_id, Some(&r.line_id));
            let key = (&r.administration, r.order_number.as_str(), r.line_id.as_str());
            candidates.slot.push(*first_of_key.entry(key).or_insert(i));
        }
        drop(first_of_key);
        candidates.receipts = receipts;
        Ok(candidates)
    }

    /// The positions of the receipts with the same item as `line` (see [`same_item`]), ascending
    /// and each once, into `found`.
    fn receipts_for(&self, line: &Line, found: &mut Vec<usize>) {
        found.clear();
        if self.receipts.is_empty() {
            return;
        }
        let item = &line.item;
        let ids = [
            (&self.by_sellers_id, item.sellers_id.as_deref()),
            (&self.by_buyers_id, item.buyers_id.as_deref()),
            (&self.by_standard_id, item.standard_id.as_ref().map(|i| i.value.as_str())),
            (&self.by_line_id, line.order_line_reference.as_deref()),
        ];
        let mut lists = 0;
        for (index, id) in ids {
            if let Some(positions) = id_key(id).and_then(|key| index.get(&key)) {
                found.extend_from_slice(positions);
                lists += 1;
            }
        }
        // One list is ascending and unique already; several may overlap (the same receipt found
        // by two ids) and must keep the master data's order, which decides among candidates.
        if lists > 1 {
            found.sort_unstable();
            found.dedup();
        }
    }
}

/// The normalised form of an item id: trimmed and ASCII lower case, as [`same_id`] compares;
/// `None` for a missing or blank id, which matches nothing.
fn id_key(id: Option<&str>) -> Option<String> {
    let id = id?.trim();
    (!id.is_empty()).then(|| id.to_ascii_lowercase())
}

/// What the invoice's lines take from its candidates, by receipt position (see
/// [`Candidates::slot`]) and for its obligation: the [`Ledger`] of one matching run, without a
/// key built or looked up per line.
struct Taken {
    receipts: Vec<Decimal>,
    obligation: Decimal,
}

/// Which candidate a line was matched to.
enum Took {
    Receipt(usize),
    Obligation,
}

impl Taken {
    /// Starts from what processed lines take (`ledger`).
    fn new(candidates: &Candidates, ledger: &Ledger) -> Self {
        let receipts = if ledger.receipts.is_empty() {
            vec![Decimal::ZERO; candidates.receipts.len()]
        } else {
            candidates.receipts.iter().map(|r| ledger.receipt(&r.key())).collect()
        };
        let obligation =
            candidates.obligation.as_ref().map_or(Decimal::ZERO, |o| ledger.obligation(&o.key()));
        Taken { receipts, obligation }
    }

    fn receipt(&self, candidates: &Candidates, position: usize) -> Decimal {
        self.receipts[candidates.slot[position]]
    }

    /// Adds what a line just matched to candidate `took` takes.
    fn record(&mut self, candidates: &Candidates, took: Option<Took>, assignment: Option<&Assignment>) {
        match (took, assignment) {
            (Some(Took::Receipt(position)), Some(Assignment::Receipt { quantity, .. })) => {
                self.receipts[candidates.slot[position]] += quantity;
            }
            (Some(Took::Obligation), Some(Assignment::Obligation { amount, .. })) => {
                self.obligation += amount;
            }
            _ => {}
        }
    }
}

/// What earlier lines of the same invoice take from receipts and obligations.
#[derive(Default)]
pub(crate) struct Ledger {
    receipts: BTreeMap<ReceiptKey, Decimal>,
    obligations: BTreeMap<ObligationKey, Decimal>,
}

impl Ledger {
    pub(crate) fn of_lines<'a>(lines: impl IntoIterator<Item = &'a LineMatch>) -> Self {
        let mut ledger = Ledger::default();
        for line in lines {
            ledger.record(line.assignment.as_ref());
        }
        ledger
    }

    pub(crate) fn record(&mut self, assignment: Option<&Assignment>) {
        match assignment {
            Some(Assignment::Receipt { key, quantity, .. }) => {
                *self.receipts.entry(key.clone()).or_default() += quantity;
            }
            Some(Assignment::Obligation { key, amount, .. }) => {
                *self.obligations.entry(key.clone()).or_default() += amount;
            }
            _ => {}
        }
    }

    pub(crate) fn receipt(&self, key: &ReceiptKey) -> Decimal {
        self.receipts.get(key).copied().unwrap_or_default()
    }

    pub(crate) fn obligation(&self, key: &ObligationKey) -> Decimal {
        self.obligations.get(key).copied().unwrap_or_default()
    }
}

/// Matches one line: receipts, then the obligation, then text rules. Returns the result and the
/// candidate it was matched to (for [`Taken`]). `found` is scratch space for the receipt lookup.
fn match_line(
    line: &Line,
    sign: Decimal,
    candidates: &Candidates,
    taken: &Taken,
    found: &mut Vec<usize>,
    tolerance: Tolerance,
) -> (LineMatch, Option<Took>) {
    candidates.receipts_for(line, found);
    if let Some((result, position)) = match_receipt(line, sign, candidates, found, taken, tolerance) {
        return (result, Some(Took::Receipt(position)));
    }
    let obligation = candidates.obligation.as_ref();
    if let Some(result) =
        obligation.and_then(|o| match_obligation(line, sign, o, taken.obligation, tolerance))
    {
        return (result, Some(Took::Obligation));
    }
    let result = match_rule(line, &candidates.rules).unwrap_or_else(|| {
        let why = if candidates.has_order_reference {
            Explanation::NoCandidate
        } else {
            Explanation::NoOrderReference
        };
        LineMatch::not_matched(&line.id, why)
    });
    (result, None)
}

/// Whether two item ids are the same: trimmed, ASCII case-insensitive, never blank. Matching
/// compares through [`id_key`], which agrees with this; kept as the definition the tests check
/// the index against.
#[cfg(test)]
pub(crate) fn same_id(a: Option<&str>, b: Option<&str>) -> bool {
    match (a.map(str::trim), b.map(str::trim)) {
        (Some(a), Some(b)) => !a.is_empty() && a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// Whether a receipt line is for the line's item (see the module documentation).
#[cfg(test)]
pub(crate) fn same_item(line: &Line, receipt: &GoodsReceipt) -> bool {
    let item = &line.item;
    same_id(item.sellers_id.as_deref(), receipt.sellers_item_id.as_deref())
        || same_id(item.buyers_id.as_deref(), receipt.buyers_item_id.as_deref())
        || same_id(item.standard_id.as_ref().map(|i| i.value.as_str()), receipt.standard_item_id.as_deref())
        || same_id(line.order_line_reference.as_deref(), Some(&receipt.line_id))
}

/// A receipt line checked against an invoice line.
pub(crate) struct ReceiptCheck {
    pub(crate) differences: ReceiptDifferences,
    pub(crate) quantity_ok: bool,
    pub(crate) amount_ok: bool,
    pub(crate) assignment: Assignment,
}

impl ReceiptCheck {
    pub(crate) fn explanation(&self, receipt: ReceiptKey) -> Explanation {
        if self.differences.is_empty() {
            Explanation::ReceiptWithoutDifferences { receipt }
        } else {
            Explanation::ReceiptWithDifferences { receipt, differences: self.differences.clone() }
        }
    }
}

/// The receipt value of `quantity` units: its amount pro rata, to the cent.
fn receipt_value(receipt: &GoodsReceipt, quantity: Decimal) -> Option<Decimal> {
    let value = if receipt.quantity_received.is_zero() {
        receipt.unit_price.checked_mul(quantity)?
    } else {
        receipt.amount.checked_mul(quantity)?.checked_div(receipt.quantity_received)?
    };
    Some(cents(value))
}

/// The invoice line's net unit price (BT-146 / BT-149).
fn unit_price(line: &Line) -> Option<Decimal> {
    let base = line.price.base_quantity.filter(|b| !b.is_zero()).unwrap_or(Decimal::ONE);
    line.price.amount.checked_div(base)
}

fn prices_differ(a: Decimal, b: Decimal) -> bool {
    let scale = a.scale().min(b.scale()).max(2);
    let round =
        |x: Decimal| x.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    round(a.abs()) != round(b.abs())
}

/// Checks a line against one receipt line; `None` when the line has no quantity or the numbers are
/// too large to compute with.
pub(crate) fn check_receipt(
    line: &Line,
    sign: Decimal,
    receipt: &GoodsReceipt,
    taken: Decimal,
    tolerance: Tolerance,
) -> Option<ReceiptCheck> {
    let quantity = line.quantity.checked_mul(sign)?;
    if quantity.is_zero() {
        return None;
    }
    let direction = if quantity > Decimal::ZERO { Decimal::ONE } else { Decimal::NEGATIVE_ONE };
    let invoiced_now = receipt.quantity_invoiced.checked_add(taken)?;
    let available = if direction > Decimal::ZERO {
        receipt.quantity_received.checked_sub(invoiced_now)?
    } else {
        invoiced_now
    }
    .max(Decimal::ZERO);
    let wanted = quantity.abs();

    let mut differences = ReceiptDifferences::default();
    let mut quantity_ok = true;
    if wanted > available {
        quantity_ok = available > Decimal::ZERO
            && tolerance.allows(receipt_value(receipt, available)?, receipt_value(receipt, wanted)?);
        differences.quantity =
            Some(QuantityDifference { available, invoiced: wanted, within_tolerance: quantity_ok });
    }
    let expected = receipt_value(receipt, wanted)?;
    let actual = line.net_amount.checked_mul(sign)?.checked_mul(direction)?;
    let amount_ok = tolerance.allows(expected, actual);
    if expected != actual {
        differences.amount =
            Some(AmountDifference { expected, invoiced: actual, within_tolerance: amount_ok });
    }
    if let Some(price) = unit_price(line)
        && prices_differ(price, receipt.unit_price)
    {
        differences.price = Some(PriceDifference { receipt: receipt.unit_price, invoice: price });
    }
    Some(ReceiptCheck {
        differences,
        quantity_ok,
        amount_ok,
        assignment: Assignment::Receipt {
            key: receipt.key(),
            quantity,
            invoiced_seen: receipt.quantity_invoiced,
        },
    })
}

/// Matches a line to the first of its receipt candidates (`found`, in the master data's order)
/// that is within tolerance without differences, else the first within tolerance, else reports
/// the first one. Returns the result and the receipt's position; `None` without a candidate.
fn match_receipt(
    line: &Line,
    sign: Decimal,
    candidates: &Candidates,
    found: &[usize],
    taken: &Taken,
    tolerance: Tolerance,
) -> Option<(LineMatch, usize)> {
    let ok = |c: &ReceiptCheck| c.quantity_ok && c.amount_ok;
    let mut first_ok: Option<(usize, ReceiptCheck)> = None;
    let mut first_refused: Option<(usize, ReceiptCheck)> = None;
    let mut best = None;
    for &position in found {
        let receipt = &candidates.receipts[position];
        let Some(check) = check_receipt(line, sign, receipt, taken.receipt(candidates, position), tolerance)
        else {
            continue;
        };
        if ok(&check) {
            // No later candidate can beat one without differences.
            if check.differences.is_empty() {
                best = Some((position, check));
                break;
            }
            if first_ok.is_none() {
                first_ok = Some((position, check));
            }
        } else if first_refused.is_none() {
            first_refused = Some((position, check));
        }
    }
    let (position, check) = best.or(first_ok).or(first_refused)?;
    let explanation = check.explanation(candidates.receipts[position].key());
    let result = if ok(&check) {
        LineMatch::matched(&line.id, explanation, check.assignment)
    } else {
        LineMatch::not_matched(&line.id, explanation)
    };
    Some((result, position))
}

/// An obligation checked against an invoice line.
pub(crate) struct ObligationCheck {
    pub(crate) explanation: Explanation,
    pub(crate) ok: bool,
    pub(crate) assignment: Assignment,
}

/// Checks a line against an obligation; `None` when the numbers are too large to compute with.
pub(crate) fn check_obligation(
    line: &Line,
    sign: Decimal,
    obligation: &Obligation,
    taken: Decimal,
    tolerance: Tolerance,
) -> Option<ObligationCheck> {
    let key = obligation.key();
    let assignment_amount = line.net_amount.checked_mul(sign)?;
    let assignment = Assignment::Obligation {
        key: key.clone(),
        amount: assignment_amount,
        open_seen: obligation.open_balance,
    };
    if obligation.blocked {
        return Some(ObligationCheck {
            explanation: Explanation::ObligationBlocked { obligation: key },
            ok: false,
            assignment,
        });
    }
    let open_now = obligation.open_balance.checked_sub(taken)?;
    let available = if assignment_amount >= Decimal::ZERO {
        open_now
    } else {
        obligation.amount.checked_sub(open_now)?
    }
    .max(Decimal::ZERO);
    let amount = assignment_amount.abs();
    if amount <= available {
        return Some(ObligationCheck {
            explanation: Explanation::ObligationWithoutDifferences { obligation: key },
            ok: true,
            assignment,
        });
    }
    let ok = available > Decimal::ZERO && tolerance.allows(available, amount);
    Some(ObligationCheck {
        explanation: Explanation::ObligationWithDifferences { obligation: key, available, amount },
        ok,
        assignment,
    })
}

fn match_obligation(
    line: &Line,
    sign: Decimal,
    obligation: &Obligation,
    taken: Decimal,
    tolerance: Tolerance,
) -> Option<LineMatch> {
    let check = check_obligation(line, sign, obligation, taken, tolerance)?;
    Some(if check.ok {
        LineMatch::matched(&line.id, check.explanation, check.assignment)
    } else {
        LineMatch::not_matched(&line.id, check.explanation)
    })
}

pub(crate) fn match_rule(line: &Line, rules: &[(TextRule, String)]) -> Option<LineMatch> {
    let name = fold(&line.item.name);
    let description = line.item.description.as_deref().map(fold).unwrap_or_default();
    let hits: Vec<(&TextRule, usize)> = rules
        .iter()
        .filter(|(_, folded)| name.contains(folded.as_str()) || description.contains(folded.as_str()))
        .map(|(rule, folded)| (rule, folded.chars().count()))
        .collect();
    let longest = hits.iter().map(|(_, len)| *len).max()?;
    let winners: Vec<&TextRule> = hits.iter().filter(|(_, len)| *len == longest).map(|(r, _)| *r).collect();
    let first = winners[0];
    if winners.iter().all(|r| r.coding == first.coding) {
        return Some(LineMatch::matched(
            &line.id,
            Explanation::TextRule {
                search_text: first.search_text.clone(),
                account: first.coding.account.clone(),
            },
            Assignment::Coding(first.coding.clone()),
        ));
    }
    let candidates = winners
        .iter()
        .map(|r| RuleCandidate { search_text: r.search_text.clone(), coding: r.coding.clone() })
        .collect();
    Some(LineMatch::not_matched(&line.id, Explanation::RuleTie { candidates }))
}
