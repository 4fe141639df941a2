//! What a person may do with an invoice's matching state, as pure functions: each takes the
//! current [`InvoiceMatching`] and returns the next one (version raised) or a typed refusal, so the
//! actions stage only loads, calls and writes conditionally on the version it loaded.
//!
//! Line actions (match to a receipt or obligation, code by hand, undo, re-process, post as a
//! plain entry) are refused once the invoice is journaled; approve and reject are allowed only on a
//! journaled invoice that asks for approval and is not decided yet.
//!
//! A person may accept price and amount differences a profile would not (that is what manual
//! matching is for), but never invoice a receipt quantity or an obligation balance that is not
//! there (beyond the profile's tolerance), nor use a blocked obligation or another
//! administration's or supplier's master data.

use ledgerpost_ubl::model::{Invoice, Line};
use rust_decimal::Decimal;

use crate::fold::fold;
use crate::ids::{AccountCode, InvoiceId};
use crate::masterdata::{
    Coding, ConsumePlan, GoodsReceipt, MIN_SEARCH_TEXT_CHARS, MasterData, Obligation, TextRule,
};
use crate::matching::{
    Approval, Assignment, Explanation, InvoiceMatching, InvoiceStatus, Ledger, LineMatch, LineStatus,
    MatchContext, MatchError, check_obligation, check_receipt, document_sign, rematch_open_lines,
};
use crate::tolerance::Tolerance;

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error("invoice {0} is journaled and can no longer be changed")]
    Journaled(InvoiceId),
    #[error("invoice {0} is not journaled, so it cannot be approved or rejected")]
    NotJournaled(InvoiceId),
    #[error("invoice {0} does not require approval")]
    ApprovalNotRequired(InvoiceId),
    #[error("invoice {0} is already approved or rejected")]
    AlreadyDecided(InvoiceId),
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error("the invoice given is not the one this state belongs to (other kind or lines)")]
    InvoiceMismatch,
    #[error("invoice {invoice} has no line \"{line}\"")]
    UnknownLine { invoice: InvoiceId, line: String },
    #[error(
        "line id \"{line}\" occurs more than once on invoice {invoice}: post the invoice as a plain entry"
    )]
    AmbiguousLine { invoice: InvoiceId, line: String },
    #[error("line \"{line}\" is already processed: undo it first")]
    AlreadyProcessed { line: String },
    #[error("line \"{line}\" is not matched: there is nothing to undo")]
    NothingToUndo { line: String },
    #[error("every line is processed: there is nothing to post")]
    NothingToPost,
    #[error("{what} belongs to another administration")]
    OtherAdministration { what: String },
    #[error("{what} belongs to another supplier")]
    OtherSupplier { what: String },
    #[error("{what} is blocked")]
    Blocked { what: String },
    #[error("line \"{line}\" has no quantity to match to a receipt (or its numbers are too large)")]
    NoQuantity { line: String },
    #[error("{what}: only {available} is available, the line needs {wanted}")]
    NotAvailable { what: String, available: Decimal, wanted: Decimal },
    #[error("search text \"{0}\" is shorter than {MIN_SEARCH_TEXT_CHARS} characters")]
    SearchTextTooShort(String),
    #[error("search text \"{text}\" does not occur in line \"{line}\"'s item name or description")]
    SearchTextNotInLine { text: String, line: String },
    #[error(transparent)]
    Matching(#[from] MatchError),
}

/// Refuses a state that is journaled; checks the invoice belongs to it.
fn open_for_change(state: &InvoiceMatching, invoice: Option<&Invoice>) -> Result<(), ManualError> {
    if matches!(state.status, InvoiceStatus::Journaled { .. }) {
        return Err(ManualError::Journaled(state.invoice.clone()));
    }
    if let Some(invoice) = invoice {
        let same = state.kind == invoice.kind
            && state.lines.len() == invoice.lines.len()
            && state.lines.iter().zip(&invoice.lines).all(|(s, l)| s.line_id == l.id);
        if !same {
            return Err(ManualError::InvoiceMismatch);
        }
    }
    Ok(())
}

/// The position of a line by id, refusing unknown and ambiguous ids.
fn position(state: &InvoiceMatching, line_id: &str) -> Result<usize, ManualError> {
    let mut hits = state.lines.iter().enumerate().filter(|(_, l)| l.line_id == line_id).map(|(i, _)| i);
    let first = hits.next().ok_or_else(|| ManualError::UnknownLine {
        invoice: state.invoice.clone(),
        line: line_id.to_owned(),
    })?;
    if hits.next().is_some() {
        return Err(ManualError::AmbiguousLine { invoice: state.invoice.clone(), line: line_id.to_owned() });
    }
    Ok(first)
}

/// The position of a line that is still open for a decision.
fn open_line(state: &InvoiceMatching, line_id: &str) -> Result<usize, ManualError> {
    let i = position(state, line_id)?;
    if state.lines[i].is_processed() {
        return Err(ManualError::AlreadyProcessed { line: line_id.to_owned() });
    }
    Ok(i)
}

/// What the other lines already take from receipts and obligations.
fn others(state: &InvoiceMatching, except: usize) -> Ledger {
    Ledger::of_lines(state.lines.iter().enumerate().filter(|(i, _)| *i != except).map(|(_, l)| l))
}

fn decided(
    mut state: InvoiceMatching,
    i: usize,
    explanation: Explanation,
    assignment: Assignment,
    status: LineStatus,
) -> InvoiceMatching {
    let line = &mut state.lines[i];
    line.status = status;
    line.explanation = explanation;
    line.assignment = Some(assignment);
    line.by_hand = true;
    state.refresh_status();
    state.version += 1;
    state
}

/// Matches a line to a receipt line chosen by a person. Refused when the receipt is another
/// administration's or when the quantity is not available (beyond `tolerance`); price and amount
/// differences are accepted and recorded in the explanation.
pub fn match_to_receipt(
    state: &InvoiceMatching,
    invoice: &Invoice,
    line_id: &str,
    receipt: &GoodsReceipt,
    tolerance: Tolerance,
) -> Result<InvoiceMatching, ManualError> {
    open_for_change(state, Some(invoice))?;
    let i = open_line(state, line_id)?;
    if receipt.administration != state.administration {
        return Err(ManualError::OtherAdministration { what: receipt.key().to_string() });
    }
    let taken = others(state, i).receipt(&receipt.key());
    let line = &invoice.lines[i];
    let check = check_receipt(line, document_sign(state.kind), receipt, taken, tolerance)
        .ok_or_else(|| ManualError::NoQuantity { line: line_id.to_owned() })?;
    if !check.quantity_ok {
        let q = check.differences.quantity.as_ref();
        return Err(ManualError::NotAvailable {
            what: receipt.key().to_string(),
            available: q.map_or(Decimal::ZERO, |q| q.available),
            wanted: q.map_or(Decimal::ZERO, |q| q.invoiced),
        });
    }
    let explanation = check.explanation(receipt.key());
    Ok(decided(state.clone(), i, explanation, check.assignment, LineStatus::Matched))
}

/// Matches a line to an obligation chosen by a person. Refused when the obligation is blocked,
/// another administration's or another supplier's, or when its balance is not available (beyond
/// `tolerance`).
pub fn match_to_obligation(
    state: &InvoiceMatching,
    invoice: &Invoice,
    line_id: &str,
    obligation: &Obligation,
    tolerance: Tolerance,
) -> Result<InvoiceMatching, ManualError> {
    open_for_change(state, Some(invoice))?;
    let i = open_line(state, line_id)?;
    let what = obligation.key().to_string();
    if obligation.administration != state.administration {
        return Err(ManualError::OtherAdministration { what });
    }
    if obligation.supplier != state.supplier {
        return Err(ManualError::OtherSupplier { what });
    }
    if obligation.blocked {
        return Err(ManualError::Blocked { what });
    }
    let taken = others(state, i).obligation(&obligation.key());
    let check = check_obligation(&invoice.lines[i], document_sign(state.kind), obligation, taken, tolerance)
        .ok_or_else(|| ManualError::NoQuantity { line: line_id.to_owned() })?;
    if !check.ok {
        let (available, wanted) = match &check.explanation {
            Explanation::ObligationWithDifferences { available, amount, .. } => (*available, *amount),
            _ => (Decimal::ZERO, invoice.lines[i].net_amount.abs()),
        };
        return Err(ManualError::NotAvailable { what, available, wanted });
    }
    Ok(decided(state.clone(), i, check.explanation, check.assignment, LineStatus::Matched))
}

/// Codes a line by hand. With `rule_text`, also returns a new text rule of this supplier with that
/// search text and coding, for the store to keep; the text must occur in the line (so the rule
/// would have matched it) and be at least three characters long.
pub fn code_line(
    state: &InvoiceMatching,
    invoice: &Invoice,
    line_id: &str,
    coding: Coding,
    rule_text: Option<&str>,
) -> Result<(InvoiceMatching, Option<TextRule>), ManualError> {
    open_for_change(state, Some(invoice))?;
    let i = open_line(state, line_id)?;
    let rule = match rule_text.map(str::trim) {
        None => None,
        Some(text) => {
            let folded = fold(text);
            if folded.chars().count() < MIN_SEARCH_TEXT_CHARS {
                return Err(ManualError::SearchTextTooShort(text.to_owned()));
            }
            if !line_text_contains(&invoice.lines[i], &folded) {
                return Err(ManualError::SearchTextNotInLine {
                    text: text.to_owned(),
                    line: line_id.to_owned(),
                });
            }
            Some(TextRule {
                administration: state.administration.clone(),
                supplier: state.supplier.clone(),
                search_text: text.to_owned(),
                coding: coding.clone(),
            })
        }
    };
    let next =
        decided(state.clone(), i, Explanation::ManualEntry, Assignment::Coding(coding), LineStatus::Matched);
    Ok((next, rule))
}

fn line_text_contains(line: &Line, folded: &str) -> bool {
    fold(&line.item.name).contains(folded)
        || line.item.description.as_deref().is_some_and(|d| fold(d).contains(folded))
}

/// Undoes a line's match, coding or posting: the line waits for a person again.
pub fn undo(state: &InvoiceMatching, line_id: &str) -> Result<InvoiceMatching, ManualError> {
    open_for_change(state, None)?;
    let i = position(state, line_id)?;
    if !state.lines[i].is_processed() {
        return Err(ManualError::NothingToUndo { line: line_id.to_owned() });
    }
    let mut next = state.clone();
    next.lines[i] = LineMatch { by_hand: true, ..LineMatch::not_matched(line_id, Explanation::Undone) };
    next.refresh_status();
    next.version += 1;
    Ok(next)
}

/// Runs matching again for the lines that are not processed (master data or profile may have
/// changed); processed lines are kept, and what they take counts. The rejection of documents
/// without an order reference is not applied again: the invoice was accepted.
pub fn reprocess<M: MasterData + ?Sized>(
    state: &InvoiceMatching,
    invoice: &Invoice,
    ctx: &MatchContext<'_, M>,
) -> Result<InvoiceMatching, ManualError> {
    open_for_change(state, Some(invoice))?;
    if ctx.administration != &state.administration || ctx.supplier != &state.supplier {
        return Err(ManualError::InvoiceMismatch);
    }
    let mut next = state.clone();
    rematch_open_lines(&mut next, invoice, ctx)?;
    next.version += 1;
    Ok(next)
}

/// Posts every line that is not processed as a plain journal entry on `account` (typically the
/// administration's default expense account), so the invoice can be journaled.
pub fn post_as_plain_entry(
    state: &InvoiceMatching,
    account: &AccountCode,
) -> Result<InvoiceMatching, ManualError> {
    open_for_change(state, None)?;
    if state.lines.iter().all(LineMatch::is_processed) {
        return Err(ManualError::NothingToPost);
    }
    let mut next = state.clone();
    for line in next.lines.iter_mut().filter(|l| !l.is_processed()) {
        line.status = LineStatus::Posted;
        line.explanation = Explanation::PlainEntry;
        line.assignment = Some(Assignment::Coding(Coding::account(account.clone())));
        line.by_hand = true;
    }
    next.refresh_status();
    next.version += 1;
    Ok(next)
}

/// The journaled invoice's pending approval, or why there is none.
fn pending(state: &InvoiceMatching) -> Result<(), ManualError> {
    match &state.status {
        InvoiceStatus::Journaled { approval: Approval::Pending } => Ok(()),
        InvoiceStatus::Journaled { approval: Approval::NotRequired } => {
            Err(ManualError::ApprovalNotRequired(state.invoice.clone()))
        }
        InvoiceStatus::Journaled { .. } => Err(ManualError::AlreadyDecided(state.invoice.clone())),
        _ => Err(ManualError::NotJournaled(state.invoice.clone())),
    }
}

/// Approves a journaled invoice that waits for approval: it may now be sent.
pub fn approve(state: &InvoiceMatching) -> Result<InvoiceMatching, ManualError> {
    pending(state)?;
    let mut next = state.clone();
    next.status = InvoiceStatus::Journaled { approval: Approval::Approved };
    next.version += 1;
    Ok(next)
}

/// Rejects a journaled invoice that waits for approval. Its entry is never sent, and the returned
/// plan gives back the receipt quantities and obligation balances journaling consumed, so a
/// corrected invoice can match them; the store applies it with the new state.
pub fn reject(state: &InvoiceMatching, reason: &str) -> Result<(InvoiceMatching, ConsumePlan), ManualError> {
    pending(state)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ManualError::ReasonRequired);
    }
    let mut next = state.clone();
    next.status = InvoiceStatus::Journaled { approval: Approval::Rejected { reason: reason.to_owned() } };
    next.version += 1;
    let release = state.consumed.as_ref().map(ConsumePlan::reversed).unwrap_or_default();
    Ok((next, release))
}
