//! The run report of send-batch: what one run sent, what waits, what was skipped and why, what
//! failed, and what is in doubt, per administration and journal.
//!
//! [`RunReport`] is plain data (serde, so the run can be stored and read back) that the send-batch
//! driver fills in as it goes ([`RunReport::administration_mut`], [`AdministrationReport::journal_mut`]).
//! It renders as:
//! - [`RunReport::render_text`]: the plain text part of the report e-mail;
//! - [`RunReport::render_html`]: the HTML part, for an accountant to read at a glance: totals
//!   first, then a framed "needs attention" block (batches in doubt, errors, rejected files), then
//!   one overview per administration and one table per journal;
//! - [`RunReport::summary`]: one line for logs and the command line;
//! - [`RunReport::subject`]: the report e-mail's subject.
//!
//! Texts that come from invoices or files (numbers, party names, file keys, reasons) are
//! untrusted: every rendering passes them through [`single_line`](crate::single_line) (no line
//! breaks, no control characters, so no terminal escape sequences in a log), and the HTML escapes
//! them as well.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

mod render;
#[cfg(test)]
mod tests;

pub use render::MAX_LISTED_SKIPPED;

/// The journals a document is sent under, each to its own mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Journal {
    Sales,
    CreditNotes,
    Purchases,
}

impl Journal {
    pub const ALL: [Journal; 3] = [Journal::Sales, Journal::CreditNotes, Journal::Purchases];

    /// The journal's name for people ("Credit notes").
    pub fn label(self) -> &'static str {
        match self {
            Journal::Sales => "Sales",
            Journal::CreditNotes => "Credit notes",
            Journal::Purchases => "Purchases",
        }
    }
}

impl std::fmt::Display for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A document as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// The stored invoice's id.
    pub id: String,
    /// The invoice number (BT-1).
    pub number: String,
    /// The other party: the customer of a sales document, the supplier of a purchase document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// The invoice date (BT-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<NaiveDate>,
}

impl DocumentRef {
    pub fn new(id: impl Into<String>, number: impl Into<String>) -> Self {
        DocumentRef { id: id.into(), number: number.into(), party: None, issue_date: None }
    }

    pub fn party(mut self, party: impl Into<String>) -> Self {
        self.party = Some(party.into());
        self
    }

    pub fn issue_date(mut self, date: NaiveDate) -> Self {
        self.issue_date = Some(date);
        self
    }
}

/// Why a document was not sent in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// Dated before the export's start date: never sent.
    BeforeStartDate,
    /// The delay after the invoice date has not passed; it goes out from `until`.
    DelayNotPassed { until: NaiveDate },
    /// The administration requires approval and the document is not approved (yet).
    NotApproved,
    /// Neither a PDF nor the XML could be attached: not sent, and an error.
    NoAttachment,
}

impl SkipReason {
    /// Whether the skip is an error a person must act on ([`SkipReason::NoAttachment`]).
    pub fn is_error(self) -> bool {
        matches!(self, SkipReason::NoAttachment)
    }

    /// The reason in words.
    pub fn describe(self) -> String {
        match self {
            SkipReason::BeforeStartDate => "dated before the export start date (never sent)".to_owned(),
            SkipReason::DelayNotPassed { until } => format!("delay not passed: goes out from {until}"),
            SkipReason::NotApproved => "waiting for approval".to_owned(),
            SkipReason::NoAttachment => "no attachment (neither a PDF nor the XML): not sent".to_owned(),
        }
    }
}

/// A document not sent in this run, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedDocument {
    pub document: DocumentRef,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// A document (or file) that failed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentRef>,
    /// The file concerned (a storage key or an attachment name), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub reason: String,
}

/// A batch claimed for sending but never marked sent: the sender stopped in between, so the
/// e-mail may or may not have gone out. It is never sent again automatically; a person checks
/// the receiving mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InDoubtBatch {
    pub batch_id: String,
    pub documents: Vec<DocumentRef>,
    pub claimed_at: DateTime<Utc>,
}

/// One journal of one administration in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalReport {
    pub journal: Journal,
    /// E-mails sent (in a dry run: that would have been sent).
    #[serde(default)]
    pub emails_sent: u32,
    /// Documents in those e-mails.
    #[serde(default)]
    pub documents_sent: u32,
    /// Documents ready to send but left for the next run because the cap was reached.
    #[serde(default)]
    pub waiting_for_cap: u32,
    #[serde(default)]
    pub skipped: Vec<SkippedDocument>,
    #[serde(default)]
    pub errors: Vec<DocumentError>,
    #[serde(default)]
    pub in_doubt: Vec<InDoubtBatch>,
}

impl JournalReport {
    pub fn new(journal: Journal) -> Self {
        JournalReport {
            journal,
            emails_sent: 0,
            documents_sent: 0,
            waiting_for_cap: 0,
            skipped: Vec::new(),
            errors: Vec::new(),
            in_doubt: Vec::new(),
        }
    }

    /// Skipped documents that are not errors.
    pub fn plain_skips(&self) -> impl Iterator<Item = &SkippedDocument> {
        self.skipped.iter().filter(|s| !s.reason.is_error())
    }

    /// Errors, counting skipped documents without any attachment.
    pub fn error_count(&self) -> u64 {
        self.errors.len() as u64 + self.skipped.iter().filter(|s| s.reason.is_error()).count() as u64
    }

    /// Whether nothing happened and nothing waits.
    pub fn is_empty(&self) -> bool {
        self.emails_sent == 0
            && self.documents_sent == 0
            && self.waiting_for_cap == 0
            && self.skipped.is_empty()
            && self.errors.is_empty()
            && self.in_doubt.is_empty()
    }

    fn add_to(&self, totals: &mut Totals) {
        totals.emails_sent += u64::from(self.emails_sent);
        totals.documents_sent += u64::from(self.documents_sent);
        totals.waiting_for_cap += u64::from(self.waiting_for_cap);
        totals.skipped += self.plain_skips().count() as u64;
        totals.errors += self.error_count();
        totals.in_doubt_batches += self.in_doubt.len() as u64;
        totals.in_doubt_documents += self.in_doubt.iter().map(|b| b.documents.len() as u64).sum::<u64>();
    }
}

/// A purchase invoice whose lines are not all matched: it waits for a person (the actions
/// function) before it can be journaled and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualInvoice {
    pub invoice_id: String,
    pub number: String,
    pub supplier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<NaiveDate>,
    pub unmatched_lines: u32,
}

/// One administration (company) in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdministrationReport {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub journals: Vec<JournalReport>,
    #[serde(default)]
    pub waiting_for_manual: Vec<ManualInvoice>,
}

impl AdministrationReport {
    pub fn new(id: impl Into<String>) -> Self {
        AdministrationReport {
            id: id.into(),
            name: None,
            journals: Vec::new(),
            waiting_for_manual: Vec::new(),
        }
    }

    /// The report of `journal`, added (in [`Journal::ALL`] order) when missing.
    pub fn journal_mut(&mut self, journal: Journal) -> &mut JournalReport {
        let index = match self.journals.iter().position(|j| j.journal == journal) {
            Some(index) => index,
            None => {
                let at =
                    self.journals.iter().position(|j| j.journal > journal).unwrap_or(self.journals.len());
                self.journals.insert(at, JournalReport::new(journal));
                at
            }
        };
        &mut self.journals[index]
    }

    /// The report of `journal`, if any.
    pub fn journal(&self, journal: Journal) -> Option<&JournalReport> {
        self.journals.iter().find(|j| j.journal == journal)
    }

    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for journal in &self.journals {
            journal.add_to(&mut totals);
        }
        totals.waiting_for_manual += self.waiting_for_manual.len() as u64;
        totals
    }

    /// The administration's name for people: "id — name", or the id.
    pub fn title(&self) -> String {
        match self.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) if name != self.id => format!("{} — {name}", self.id),
            _ => self.id.clone(),
        }
    }
}

/// A file that ingest could not accept, moved under `rejected/` since the previous run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedFile {
    /// Its storage key under `rejected/`.
    pub key: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Counts over a whole run or one administration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub emails_sent: u64,
    pub documents_sent: u64,
    pub waiting_for_cap: u64,
    /// Skipped documents that are not errors.
    pub skipped: u64,
    /// Document errors, documents without attachment, and run errors.
    pub errors: u64,
    pub in_doubt_batches: u64,
    pub in_doubt_documents: u64,
    pub rejected_files: u64,
    pub waiting_for_manual: u64,
}

impl Totals {
    /// Whether a person has something to do: errors, batches in doubt or rejected files.
    pub fn needs_attention(&self) -> bool {
        self.errors > 0 || self.in_doubt_batches > 0 || self.rejected_files > 0
    }
}

/// The report of one send-batch run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// Nothing was sent: the counts are what would have been sent.
    pub dry_run: bool,
    /// The run was limited to this administration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administration_filter: Option<String>,
    #[serde(default)]
    pub administrations: Vec<AdministrationReport>,
    #[serde(default)]
    pub rejected_files: Vec<RejectedFile>,
    /// Failures not tied to one document (an administration that could not be read, another run
    /// holding the lease, ...).
    #[serde(default)]
    pub errors: Vec<String>,
}

impl RunReport {
    /// An empty report; `finished` starts equal to `started`.
    pub fn new(run_id: impl Into<String>, started: DateTime<Utc>, dry_run: bool) -> Self {
        RunReport {
            run_id: run_id.into(),
            started,
            finished: started,
            dry_run,
            administration_filter: None,
            administrations: Vec::new(),
            rejected_files: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The report of administration `id`, added at the end when missing.
    pub fn administration_mut(&mut self, id: &str) -> &mut AdministrationReport {
        let index = match self.administrations.iter().position(|a| a.id == id) {
            Some(index) => index,
            None => {
                self.administrations.push(AdministrationReport::new(id));
                self.administrations.len() - 1
            }
        };
        &mut self.administrations[index]
    }

    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for administration in &self.administrations {
            let t = administration.totals();
            totals.emails_sent += t.emails_sent;
            totals.documents_sent += t.documents_sent;
            totals.waiting_for_cap += t.waiting_for_cap;
            totals.skipped += t.skipped;
            totals.errors += t.errors;
            totals.in_doubt_batches += t.in_doubt_batches;
            totals.in_doubt_documents += t.in_doubt_documents;
            totals.waiting_for_manual += t.waiting_for_manual;
        }
        totals.errors += self.errors.len() as u64;
        totals.rejected_files += self.rejected_files.len() as u64;
        totals
    }

    /// Whether a person has something to do (see [`Totals::needs_attention`]).
    pub fn needs_attention(&self) -> bool {
        self.totals().needs_attention()
    }
}
