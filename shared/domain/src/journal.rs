//! The double-entry journal entry of an invoice: balanced to the cent, reconciled to the
//! invoice's own totals, with amounts as decimals.
//!
//! **Purchase** (invoice): debit each line's account (goods-received clearing for a line matched to
//! a receipt, the obligations account for a line matched to an obligation, the coding's account
//! for a line coded by a rule or a person, or posted as a plain entry), debit input VAT per rate,
//! credit the supplier payable with the payable amount. **Sales** (invoice): debit the receivable,
//! credit revenue per line and output VAT per rate.
//!
//! **Net lines are grouped**: invoice lines booked alike (same account, VAT group, cost centre and
//! project, same VAT category and rate, same side) make one journal line with their sum, so an
//! entry has as many lines as the invoice has distinct bookings, whatever its number of lines: an
//! invoice of 30,000 lines on three accounts is an entry of a handful of lines, which one store
//! transaction can hold. Nothing an accountant books by is merged: a line on another account, cost
//! centre, project, VAT code or rate stays apart, and debits and credits are never netted (a
//! returned item stays a credit next to the goods' debit). A group of one invoice line reads as
//! before (`invoice_line`, "F1 line 3: Chairs"); a larger one names its count and its first
//! lines. The invoice and its matching state keep every line.
//!
//! **Credit notes** carry positive amounts and book the other way round. Every amount is signed
//! (×−1 for a credit note) and posted on its natural side when positive and on the other side when
//! negative, so no line ever has a negative debit or credit. This also handles negative invoices
//! and single negative lines (a discount line is credited on a purchase).
//!
//! **VAT** per rate is the sum of the document's VAT breakdown (BT-117) for that rate, never
//! recomputed, so the entry agrees exactly with the invoice's TaxTotal.
//!
//! **Payable** is LegalMonetaryTotal/PayableAmount (BT-115). PrepaidAmount (BT-113) is booked to
//! the prepayments account (what was paid before clears it) and PayableRoundingAmount (BT-114) to
//! the rounding account, on the sides that make `Σ lines + VAT + rounding = payable + prepaid`.
//!
//! **Document-level allowances and charges** (BG-20/21) are spread over the lines of the same VAT
//! category (code and rate) in proportion to the lines' net amounts (their absolute values, so a
//! negative line never gets a share larger than the whole), each share rounded to the cent and the
//! last line taking the remainder so the shares add up to the allowance exactly. Spreading (rather
//! than one separate line) keeps every account's cost or revenue net of the discount, and keeps the
//! net booked per VAT category equal to the category's taxable amount (BT-116). The allowances and
//! charges of a category are netted first and spread once, to round only once. A category with no
//! line (or only zero lines) is booked as one line on the default expense or revenue account.
//!
//! Any arithmetic overflow refuses the entry; an entry that does not balance or reconcile (the
//! invoice's totals do not add up) is refused too, never produced.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use ledgerpost_ubl::model::{DocumentKind, Invoice, VatCategory};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cents;
use crate::config::Administration;
use crate::ids::{AccountCode, AdministrationId, InvoiceId};
use crate::masterdata::{Coding, ConsumePlan};
use crate::matching::{Approval, Assignment, InvoiceMatching, InvoiceStatus, document_sign};

/// Purchase (the administration is the buyer) or sales (the seller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Purchase,
    Sales,
}

/// What a journal line books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// An invoice line (with its share of document allowances and charges), or document
    /// allowances and charges of a category without lines.
    Net,
    Vat,
    /// The payable (purchase) or receivable (sales).
    Counterparty,
    Prepaid,
    Rounding,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalLine {
    pub account: AccountCode,
    pub debit: Decimal,
    pub credit: Decimal,
    pub description: String,
    pub role: Role,
    /// The invoice line booked, when a net line books exactly one (see the module documentation).
    pub invoice_line: Option<String>,
    /// How many invoice lines a net line books (0 for the other lines, and for allowances and
    /// charges of a category without lines).
    #[serde(default)]
    pub invoice_line_count: u32,
    /// The VAT category code (BT-151, upper case) of the invoice lines a net line books.
    #[serde(default)]
    pub vat_category: Option<String>,
    /// The VAT rate of the line's category (net lines) or of the VAT booked (VAT lines).
    pub vat_rate: Option<Decimal>,
    pub vat_group: Option<String>,
    pub cost_centre: Option<String>,
    pub project: Option<String>,
}

impl JournalLine {
    /// Debit minus credit.
    pub fn balance(&self) -> Decimal {
        self.debit - self.credit
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub invoice: InvoiceId,
    pub administration: AdministrationId,
    pub direction: Direction,
    pub kind: DocumentKind,
    /// BT-1.
    pub number: String,
    /// BT-5: every amount is in this currency.
    pub currency: String,
    pub booking_date: NaiveDate,
    pub lines: Vec<JournalLine>,
}

/// Why an entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("invoice {invoice} is not ready for the journal: {why}")]
    NotReady { invoice: InvoiceId, why: &'static str },
    #[error("the matching state is for other lines than the invoice has")]
    InvoiceMismatch,
    #[error("the invoice's amounts are too large to add up")]
    Overflow,
    #[error("the invoice does not add up: debit {debit}, credit {credit}")]
    Unbalanced { debit: Decimal, credit: Decimal },
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
}

/// An entry that disagrees with its invoice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: the entry books {entry}, the invoice says {invoice}")]
pub struct ReconcileError {
    pub what: &'static str,
    pub entry: Decimal,
    pub invoice: Decimal,
}

impl JournalEntry {
    pub fn total_debit(&self) -> Decimal {
        self.lines.iter().map(|l| l.debit).sum()
    }

    pub fn total_credit(&self) -> Decimal {
        self.lines.iter().map(|l| l.credit).sum()
    }

    pub fn is_balanced(&self) -> bool {
        self.total_debit() == self.total_credit()
    }

    /// The signed total of one role, as the invoice states it: positive for an invoice's natural
    /// side (debit for purchase net, VAT and rounding; credit for the payable and prepaid; sales the
    /// other way round), and negated back for a credit note.
    pub fn role_total(&self, role: Role) -> Decimal {
        let sum: Decimal = self.lines.iter().filter(|l| l.role == role).map(JournalLine::balance).sum();
        sum * natural_sign(self.direction, role) * document_sign(self.kind)
    }

    /// Checks the entry against its invoice, to the cent: balanced; payable (BT-115), VAT total
    /// (BT-110, and the breakdown's BT-117 sum), net (BT-109), prepaid (BT-113) and rounding
    /// (BT-114) each as the invoice states them.
    pub fn reconcile(&self, invoice: &Invoice) -> Result<(), ReconcileError> {
        let check = |what, entry: Decimal, invoice: Decimal| {
            if entry == invoice { Ok(()) } else { Err(ReconcileError { what, entry, invoice }) }
        };
        check("debit against credit", self.total_debit(), self.total_credit())?;
        let totals = &invoice.totals;
        check("payable amount", self.role_total(Role::Counterparty), totals.payable)?;
        let breakdown: Decimal = invoice.vat_breakdown.iter().map(|s| s.tax_amount).sum();
        check("VAT breakdown", self.role_total(Role::Vat), breakdown)?;
        if let Some(tax_total) = invoice.tax_total {
            check("VAT total", self.role_total(Role::Vat), tax_total)?;
        }
        check("net amount", self.role_total(Role::Net), totals.tax_exclusive)?;
        check("prepaid amount", self.role_total(Role::Prepaid), totals.prepaid.unwrap_or_default())?;
        check("rounding amount", self.role_total(Role::Rounding), totals.rounding.unwrap_or_default())?;
        Ok(())
    }
}

/// +1 when a role's natural side for a (non-credit) invoice is debit, −1 when credit.
fn natural_sign(direction: Direction, role: Role) -> Decimal {
    let purchase_debit = matches!(role, Role::Net | Role::Vat | Role::Rounding);
    if purchase_debit == (direction == Direction::Purchase) { Decimal::ONE } else { Decimal::NEGATIVE_ONE }
}

/// How one invoice line is booked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LineBooking {
    pub account: AccountCode,
    pub vat_group: Option<String>,
    pub cost_centre: Option<String>,
    pub project: Option<String>,
}

impl From<Coding> for LineBooking {
    fn from(c: Coding) -> Self {
        LineBooking {
            account: c.account,
            vat_group: c.vat_group,
            cost_centre: c.cost_centre,
            project: c.project,
        }
    }
}

impl LineBooking {
    fn on(account: &AccountCode) -> Self {
        LineBooking { account: account.clone(), vat_group: None, cost_centre: None, project: None }
    }
}

/// A journaled purchase: the entry, what it consumes, and the invoice's new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournaledPurchase {
    pub entry: JournalEntry,
    /// Journaled, with what the entry consumes ([`JournaledPurchase::consume`]).
    pub state: InvoiceMatching,
}

impl JournaledPurchase {
    /// What the entry consumes of receipts and obligations: kept once, in the new state (for a
    /// 30,000-line invoice a second copy was megabytes).
    pub fn consume(&self) -> &ConsumePlan {
        const NOTHING: &ConsumePlan = &ConsumePlan { receipts: Vec::new(), obligations: Vec::new() };
        self.state.consumed.as_ref().unwrap_or(NOTHING)
    }
}

/// Journals a purchase invoice or credit note whose lines are all processed. The store applies
/// the entry, the consumption and the new state (journaled; approval pending where the profile
/// asks for it) in one conditional transaction. Booked on `posting_date`, else the issue date.
pub fn journal_purchase(
    invoice: &Invoice,
    state: &InvoiceMatching,
    administration: &Administration,
    posting_date: Option<NaiveDate>,
) -> Result<JournaledPurchase, JournalError> {
    match state.status() {
        InvoiceStatus::AllLinesProcessed => {}
        InvoiceStatus::WaitingForManualProcessing => {
            return Err(JournalError::NotReady {
                invoice: state.invoice().clone(),
                why: "lines wait for manual processing",
            });
        }
        InvoiceStatus::Journaled { .. } => {
            return Err(JournalError::NotReady {
                invoice: state.invoice().clone(),
                why: "it is journaled already",
            });
        }
    }
    let same_lines = state.kind() == invoice.kind
        && state.lines().len() == invoice.lines.len()
        && state.lines().iter().zip(&invoice.lines).all(|(s, l)| s.line_id == l.id);
    if !same_lines {
        return Err(JournalError::InvoiceMismatch);
    }
    let accounts = &administration.accounts;
    let bookings = state
        .lines()
        .iter()
        .map(|line| match &line.assignment {
            Some(Assignment::Receipt { .. }) => Ok(LineBooking::on(&accounts.goods_received_clearing)),
            Some(Assignment::Obligation { .. }) => Ok(LineBooking::on(&accounts.obligations)),
            Some(Assignment::Coding(coding)) => Ok(LineBooking::from(coding.clone())),
            None => Err(JournalError::NotReady {
                invoice: state.invoice().clone(),
                why: "a line is not processed",
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let entry = build_entry(
        invoice,
        state.invoice().clone(),
        administration,
        Direction::Purchase,
        &bookings,
        posting_date.unwrap_or(invoice.issue_date),
    )?;
    let consume = state.consume_plan();
    let mut next = state.clone();
    next.status = InvoiceStatus::Journaled {
        approval: if state.approval_required() { Approval::Pending } else { Approval::NotRequired },
    };
    next.consumed = Some(consume);
    next.version += 1;
    Ok(JournaledPurchase { entry, state: next })
}

/// Journals a sales invoice or credit note: every line on the default revenue account. Booked on
/// `posting_date`, else the issue date.
pub fn journal_sales(
    invoice: &Invoice,
    invoice_id: InvoiceId,
    administration: &Administration,
    posting_date: Option<NaiveDate>,
) -> Result<JournalEntry, JournalError> {
    let bookings = vec![LineBooking::on(&administration.accounts.default_revenue); invoice.lines.len()];
    build_entry(
        invoice,
        invoice_id,
        administration,
        Direction::Sales,
        &bookings,
        posting_date.unwrap_or(invoice.issue_date),
    )
}

/// The VAT category as a key: code (upper case) and rate (normalised; none counts as 0).
fn category_key(category: &VatCategory) -> (String, Decimal) {
    (category.code.trim().to_ascii_uppercase(), category.rate.unwrap_or_default().normalize())
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, JournalError> {
    a.checked_add(b).ok_or(JournalError::Overflow)
}

/// Builds and checks the entry; `bookings` has one element per invoice line.
pub fn build_entry(
    invoice: &Invoice,
    invoice_id: InvoiceId,
    administration: &Administration,
    direction: Direction,
    bookings: &[LineBooking],
    booking_date: NaiveDate,
) -> Result<JournalEntry, JournalError> {
    if bookings.len() != invoice.lines.len() {
        return Err(JournalError::InvoiceMismatch);
    }
    let accounts = &administration.accounts;
    let number = invoice.number.trim();
    let mut entry = JournalEntry {
        invoice: invoice_id,
        administration: administration.id.clone(),
        direction,
        kind: invoice.kind,
        number: number.to_owned(),
        currency: invoice.currency.clone(),
        booking_date,
        lines: Vec::new(),
    };
    let sign = document_sign(invoice.kind);
    let mut post = |role: Role, amount: Decimal, line: JournalLine| -> Result<(), JournalError> {
        let signed = amount
            .checked_mul(sign)
            .and_then(|a| a.checked_mul(natural_sign(direction, role)))
            .ok_or(JournalError::Overflow)?;
        if signed.is_zero() {
            return Ok(());
        }
        let (debit, credit) =
            if signed > Decimal::ZERO { (signed, Decimal::ZERO) } else { (Decimal::ZERO, -signed) };
        entry.lines.push(JournalLine { debit, credit, role, ..line });
        Ok(())
    };
    let template = |account: &AccountCode, description: String| JournalLine {
        account: account.clone(),
        debit: Decimal::ZERO,
        credit: Decimal::ZERO,
        description,
        role: Role::Net,
        invoice_line: None,
        invoice_line_count: 0,
        vat_category: None,
        vat_rate: None,
        vat_group: None,
        cost_centre: None,
        project: None,
    };

    // Net per line, with the spread document allowances and charges, summed per booking.
    let (nets, unspread) = spread_document_amounts(invoice)?;
    let natural = sign.checked_mul(natural_sign(direction, Role::Net)).ok_or(JournalError::Overflow)?;
    for group in group_lines(invoice, bookings, &nets, natural)? {
        let first = &invoice.lines[group.named[0]];
        let description = group.description(number, invoice);
        post(
            Role::Net,
            group.amount,
            JournalLine {
                invoice_line: (group.count == 1).then(|| first.id.clone()),
                invoice_line_count: group.count,
                vat_category: Some(group.key.category.clone().into_owned()),
                vat_rate: first.vat.rate,
                vat_group: group.key.booking.vat_group.clone(),
                cost_centre: group.key.booking.cost_centre.clone(),
                project: group.key.booking.project.clone(),
                ..template(&group.key.booking.account, description)
            },
        )?;
    }
    let fallback = match direction {
        Direction::Purchase => &accounts.default_expense,
        Direction::Sales => &accounts.default_revenue,
    };
    for (rate, amount, reasons) in unspread {
        let description = format!("{number} allowances and charges: {reasons}");
        post(Role::Net, amount, JournalLine { vat_rate: rate, ..template(fallback, description) })?;
    }

    // VAT per rate, from the breakdown.
    let vat_accounts = match direction {
        Direction::Purchase => &accounts.input_vat,
        Direction::Sales => &accounts.output_vat,
    };
    let mut per_rate: BTreeMap<Option<Decimal>, Decimal> = BTreeMap::new();
    for subtotal in &invoice.vat_breakdown {
        let slot = per_rate.entry(subtotal.category.rate.map(|r| r.normalize())).or_default();
        *slot = add(*slot, subtotal.tax_amount)?;
    }
    for (rate, amount) in per_rate {
        let label = rate.map_or_else(|| "without rate".to_owned(), |r| format!("{r}%"));
        let description = format!("{number} VAT {label}");
        post(
            Role::Vat,
            amount,
            JournalLine { vat_rate: rate, ..template(vat_accounts.account_for(rate), description) },
        )?;
    }

    // Counterparty, prepaid, rounding.
    let (counter_account, other) = match direction {
        Direction::Purchase => (&accounts.payables, &invoice.seller),
        Direction::Sales => (&accounts.receivables, &invoice.buyer),
    };
    let totals = &invoice.totals;
    post(
        Role::Counterparty,
        totals.payable,
        template(counter_account, format!("{number} {}", other.display_name().trim())),
    )?;
    if let Some(prepaid) = totals.prepaid {
        post(Role::Prepaid, prepaid, template(&accounts.prepayments, format!("{number} prepaid")))?;
    }
    if let Some(rounding) = totals.rounding {
        post(Role::Rounding, rounding, template(&accounts.rounding, format!("{number} rounding")))?;
    }

    let debit = entry.lines.iter().try_fold(Decimal::ZERO, |s, l| add(s, l.debit))?;
    let credit = entry.lines.iter().try_fold(Decimal::ZERO, |s, l| add(s, l.credit))?;
    if debit != credit {
        return Err(JournalError::Unbalanced { debit, credit });
    }
    entry.reconcile(invoice)?;
    Ok(entry)
}

/// What invoice lines must share to be booked on one journal line.
#[derive(PartialEq, Eq, Hash)]
struct GroupKey<'a> {
    booking: &'a LineBooking,
    /// VAT category code, trimmed and upper case.
    category: Cow<'a, str>,
    /// VAT rate, normalised (none stays apart from 0).
    rate: Option<Decimal>,
    /// Debit (true) or credit side.
    debit: bool,
}

/// Invoice lines booked together.
struct LineGroup<'a> {
    key: GroupKey<'a>,
    /// Signed as the invoice states it (the side is applied when posted).
    amount: Decimal,
    count: u32,
    /// Positions of the first lines (at most [`NAMED_LINES`]) and of the last, for the description.
    named: Vec<usize>,
    last: usize,
}

/// How many line ids a group's description lists before "…".
const NAMED_LINES: usize = 3;

impl LineGroup<'_> {
    fn description(&self, number: &str, invoice: &Invoice) -> String {
        let id = |i: usize| invoice.lines[i].id.trim();
        if self.count == 1 {
            let line = &invoice.lines[self.last];
            return format!("{number} line {}: {}", id(self.last), line.item.name.trim());
        }
        let mut ids: Vec<&str> = self.named.iter().map(|&i| id(i)).collect();
        let unnamed = self.count as usize - self.named.len();
        if unnamed > 1 {
            return format!("{number} {} lines: {} … {}", self.count, ids.join(", "), id(self.last));
        }
        if unnamed == 1 {
            ids.push(id(self.last));
        }
        format!("{number} lines {}", ids.join(", "))
    }
}

/// The net lines grouped by booking (see the module documentation), in the order of each group's
/// first line. `natural` turns an invoice-signed amount into debit (positive) or credit; a line of
/// zero is not booked.
fn group_lines<'a>(
    invoice: &'a Invoice,
    bookings: &'a [LineBooking],
    nets: &[Decimal],
    natural: Decimal,
) -> Result<Vec<LineGroup<'a>>, JournalError> {
    let mut groups: Vec<LineGroup<'a>> = Vec::new();
    let mut index: HashMap<GroupKey<'a>, usize> = HashMap::new();
    for (i, ((line, booking), &net)) in invoice.lines.iter().zip(bookings).zip(nets).enumerate() {
        let posted = net.checked_mul(natural).ok_or(JournalError::Overflow)?;
        if posted.is_zero() {
            continue;
        }
        let code = line.vat.code.trim();
        let category = if code.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(code.to_ascii_uppercase())
        } else {
            Cow::Borrowed(code)
        };
        let key = GroupKey {
            booking,
            category,
            rate: line.vat.rate.map(|r| r.normalize()),
            debit: posted > Decimal::ZERO,
        };
        match index.get(&key) {
            Some(&g) => {
                let group = &mut groups[g];
                group.amount = add(group.amount, net)?;
                group.count = group.count.saturating_add(1);
                if group.named.len() < NAMED_LINES {
                    group.named.push(i);
                }
                group.last = i;
            }
            None => {
                index.insert(
                    GroupKey {
                        booking: key.booking,
                        category: key.category.clone(),
                        rate: key.rate,
                        debit: key.debit,
                    },
                    groups.len(),
                );
                groups.push(LineGroup { key, amount: net, count: 1, named: vec![i], last: i });
            }
        }
    }
    Ok(groups)
}

/// Each line's net amount plus its share of the document allowances and charges of its VAT
/// category, and, for categories without a line to carry them, (rate, amount, reasons).
pub(crate) type Spread = (Vec<Decimal>, Vec<(Option<Decimal>, Decimal, String)>);

/// The netted document allowances and charges of one VAT category.
#[derive(Default)]
struct Adjustment {
    amount: Decimal,
    rate: Option<Decimal>,
    reasons: Vec<String>,
}

pub(crate) fn spread_document_amounts(invoice: &Invoice) -> Result<Spread, JournalError> {
    let mut nets: Vec<Decimal> = invoice.lines.iter().map(|l| l.net_amount).collect();
    // Charges minus allowances per category (none when the allowance names no category), with
    // the rate and the reasons for a description.
    let mut per_category: BTreeMap<Option<(String, Decimal)>, Adjustment> = BTreeMap::new();
    for ac in &invoice.allowances_charges {
        let signed = if ac.is_charge { ac.amount } else { -ac.amount };
        let slot = per_category.entry(ac.vat.as_ref().map(category_key)).or_insert_with(|| Adjustment {
            rate: ac.vat.as_ref().and_then(|v| v.rate),
            ..Adjustment::default()
        });
        slot.amount = add(slot.amount, signed)?;
        let kind = if ac.is_charge { "charge" } else { "allowance" };
        let reason = ac.reason.as_deref().or(ac.reason_code.as_deref()).unwrap_or("").trim();
        slot.reasons.push(if reason.is_empty() { kind.to_owned() } else { format!("{kind} {reason}") });
    }
    let mut unspread = Vec::new();
    // Each line's category, worked out once for all the categories to spread.
    let mut line_categories: Option<Vec<(String, Decimal)>> = None;
    for (category, Adjustment { amount, rate, reasons }) in per_category {
        if amount.is_zero() {
            continue;
        }
        let members: Vec<usize> = match &category {
            Some(key) => {
                let of_lines = line_categories
                    .get_or_insert_with(|| invoice.lines.iter().map(|l| category_key(&l.vat)).collect());
                (0..invoice.lines.len()).filter(|i| &of_lines[*i] == key).collect()
            }
            None => Vec::new(),
        };
        let weight_total =
            members.iter().try_fold(Decimal::ZERO, |s, i| add(s, invoice.lines[*i].net_amount.abs()))?;
        if weight_total.is_zero() {
            unspread.push((rate, amount, reasons.join(", ")));
            continue;
        }
        let mut given = Decimal::ZERO;
        for (n, &i) in members.iter().enumerate() {
            let share = if n + 1 == members.len() {
                amount - given
            } else {
                let weight = invoice.lines[i].net_amount.abs();
                cents(
                    amount
                        .checked_mul(weight)
                        .and_then(|x| x.checked_div(weight_total))
                        .ok_or(JournalError::Overflow)?,
                )
            };
            given = add(given, share)?;
            nets[i] = add(nets[i], share)?;
        }
    }
    Ok((nets, unspread))
}
