//! The records kept as item bodies, and how each is keyed and indexed (see the module above for
//! the whole key design).

use chrono::{DateTime, NaiveDate, Utc};
use ledgerpost_domain::ids::{AdministrationId, InvoiceId, SupplierKey};
use ledgerpost_domain::journal::Direction;
use ledgerpost_domain::matching::{Approval, InvoiceMatching};
use ledgerpost_ports::{Index, Item, ItemKey};
use ledgerpost_ubl::model::{DocumentKind, Line};
use ledgerpost_ubl::rules::Finding;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{esc, to_body};
use crate::error::StageError;

/// The journals documents are delivered to, each with its own mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Journal {
    /// Sales invoices.
    Sales,
    /// Sales credit notes.
    CreditNotes,
    /// Purchase invoices and credit notes.
    Purchases,
}

impl Journal {
    pub const ALL: [Journal; 3] = [Journal::Sales, Journal::CreditNotes, Journal::Purchases];

    pub fn of(direction: Direction, kind: DocumentKind) -> Journal {
        match (direction, kind) {
            (Direction::Purchase, _) => Journal::Purchases,
            (Direction::Sales, DocumentKind::Invoice) => Journal::Sales,
            (Direction::Sales, DocumentKind::CreditNote) => Journal::CreditNotes,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Journal::Sales => "sales",
            Journal::CreditNotes => "credit-notes",
            Journal::Purchases => "purchases",
        }
    }

    /// The caps are per sales (sales invoices and credit notes together) and per purchases.
    pub fn is_sales_side(self) -> bool {
        !matches!(self, Journal::Purchases)
    }
}

impl std::fmt::Display for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an invoice is in the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// Stored by ingest; waits for the match stage (purchase) or the journal stage (sales).
    Received,
    /// Some line is not matched: a person decides.
    WaitingForManualProcessing,
    /// Every line is processed: waits for the journal stage.
    ToJournal,
    /// The entry is made; nothing about the invoice changes any more but approval and sending.
    Journaled,
    /// A stage could not go on (the entry does not add up, the profile refuses the document):
    /// a person decides.
    Failed { reason: String },
}

/// Whether and how an invoice has been e-mailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "send", rename_all = "kebab-case")]
pub enum SendState {
    /// Not journaled yet, or waiting for approval.
    NotReady,
    /// May be sent (once its date, the start date and the delay allow).
    Ready,
    /// Part of a batch being sent, or of a batch in doubt.
    Claimed {
        batch: String,
    },
    Sent {
        batch: String,
        at: DateTime<Utc>,
    },
    /// Never sent (approval rejected).
    Withheld {
        reason: String,
    },
}

/// The status index's partitions (`gsi2`): what `ledgerpost status` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusKey {
    Received,
    Manual,
    ToJournal,
    Failed,
    ApprovalPending,
    Journaled,
    Sending,
    Sent,
    Withheld,
}

impl StatusKey {
    pub const ALL: [StatusKey; 9] = [
        StatusKey::Received,
        StatusKey::Manual,
        StatusKey::ToJournal,
        StatusKey::Failed,
        StatusKey::ApprovalPending,
        StatusKey::Journaled,
        StatusKey::Sending,
        StatusKey::Sent,
        StatusKey::Withheld,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatusKey::Received => "received",
            StatusKey::Manual => "waiting-for-manual-processing",
            StatusKey::ToJournal => "to-journal",
            StatusKey::Failed => "failed",
            StatusKey::ApprovalPending => "waiting-for-approval",
            StatusKey::Journaled => "journaled",
            StatusKey::Sending => "sending-or-in-doubt",
            StatusKey::Sent => "sent",
            StatusKey::Withheld => "withheld",
        }
    }
}

pub(crate) fn status_index_pk(administration: &AdministrationId, status: StatusKey) -> String {
    format!("STATUS#{administration}#{}", status.as_str())
}

/// The send index partition of one administration, journal and send state.
pub fn send_index_pk(administration: &AdministrationId, journal: Journal, state: &str) -> String {
    format!("SEND#{administration}#{}#{state}", journal.as_str())
}

/// The original file an invoice was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub sha256: String,
    /// The inbox key it arrived under.
    pub source_key: String,
    /// Where the original XML is kept.
    pub archive_key: String,
    pub size: u64,
}

/// An embedded attachment, kept in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttachment {
    pub key: String,
    /// The sanitised file name.
    pub filename: String,
    pub mime_code: String,
    pub size: u64,
}

impl StoredAttachment {
    pub fn is_pdf(&self) -> bool {
        self.mime_code.trim().eq_ignore_ascii_case("application/pdf")
    }
}

/// The matching state of a purchase invoice without its lines, and where the lines are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMatching {
    pub state: Value,
    pub generation: String,
    pub chunks: u32,
}

impl StoredMatching {
    /// The same line chunks under the header of `state`, whose lines did not change (approval,
    /// journaling).
    pub(crate) fn with_state(&self, state: &InvoiceMatching) -> Result<StoredMatching, StageError> {
        Ok(StoredMatching { state: super::matching_header(state)?.0, ..self.clone() })
    }
}

/// What the journal stage booked, in short (the entry itself is its own items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalSummary {
    pub booking_date: NaiveDate,
    pub total_debit: Decimal,
    pub lines: usize,
    pub at: DateTime<Utc>,
}

/// One thing that happened to an invoice, for people reading its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub what: String,
}

/// An invoice or credit note (`INV#<id>` / `META`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub id: InvoiceId,
    pub administration: AdministrationId,
    pub direction: Direction,
    pub kind: DocumentKind,
    /// BT-1.
    pub number: String,
    pub issue_date: NaiveDate,
    pub currency: String,
    /// BT-115.
    pub payable: Decimal,
    /// The seller's key: with the number and year, what makes the invoice unique.
    pub supplier: SupplierKey,
    /// Every key the seller is known by (for the purchase profile).
    pub supplier_keys: Vec<SupplierKey>,
    /// The other party's name.
    pub counterparty: String,
    pub order_reference: Option<String>,
    pub file: FileInfo,
    pub attachments: Vec<StoredAttachment>,
    /// Warnings of the official rules (fatal findings reject the file).
    pub warnings: Vec<Finding>,
    pub line_count: u32,
    pub line_chunks: u32,
    pub status: Status,
    pub approval: Approval,
    pub send: SendState,
    pub matching: Option<StoredMatching>,
    pub journal: Option<JournalSummary>,
    pub received_at: DateTime<Utc>,
    pub history: Vec<Event>,
}

impl InvoiceRecord {
    pub fn pk(id: &InvoiceId) -> String {
        format!("INV#{id}")
    }

    pub fn key(id: &InvoiceId) -> ItemKey {
        ItemKey::new(Self::pk(id), "META")
    }

    /// The invoice as read, without its lines: an item of its own, written once at ingest, so
    /// that the record the stages rewrite stays small.
    pub fn header_key(id: &InvoiceId) -> ItemKey {
        ItemKey::new(Self::pk(id), "HEADER")
    }

    pub fn journal(&self) -> Journal {
        Journal::of(self.direction, self.kind)
    }

    /// The partition of the status index the invoice is in.
    pub fn status_key(&self) -> StatusKey {
        match &self.status {
            Status::Received => StatusKey::Received,
            Status::WaitingForManualProcessing => StatusKey::Manual,
            Status::ToJournal => StatusKey::ToJournal,
            Status::Failed { .. } => StatusKey::Failed,
            Status::Journaled => match (&self.approval, &self.send) {
                (Approval::Pending, _) => StatusKey::ApprovalPending,
                (_, SendState::Withheld { .. }) | (Approval::Rejected { .. }, _) => StatusKey::Withheld,
                (_, SendState::Sent { .. }) => StatusKey::Sent,
                (_, SendState::Claimed { .. }) => StatusKey::Sending,
                _ => StatusKey::Journaled,
            },
        }
    }

    /// The send state as an index partition name, for the states that are indexed.
    fn send_index_state(&self) -> Option<&'static str> {
        match self.send {
            SendState::Ready => Some("ready"),
            SendState::Claimed { .. } => Some("claimed"),
            SendState::Sent { .. } => Some("sent"),
            SendState::NotReady | SendState::Withheld { .. } => None,
        }
    }

    /// The sort key in both indexes: issue date, then id.
    pub fn date_sort_key(&self) -> String {
        format!("{}#{}", self.issue_date.format("%Y-%m-%d"), self.id)
    }

    pub fn to_item(&self) -> Result<Item, StageError> {
        let mut item = Item::new(Self::key(&self.id), to_body(self)?).with_index(
            Index::Gsi2,
            status_index_pk(&self.administration, self.status_key()),
            self.date_sort_key(),
        );
        if let Some(state) = self.send_index_state() {
            item = item.with_index(
                Index::Gsi1,
                send_index_pk(&self.administration, self.journal(), state),
                self.date_sort_key(),
            );
        }
        Ok(item)
    }

    pub fn log(&mut self, at: DateTime<Utc>, what: impl Into<String>) {
        self.history.push(Event { at, what: what.into() });
    }
}

/// A chunk of invoice lines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LinesChunk {
    pub lines: Vec<Line>,
}

/// A chunk of any JSON values (matching lines, entry lines).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ValuesChunk {
    pub values: Vec<Value>,
}

/// What became of a file, by its content (`FILE#<sha256>` / `FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub sha256: String,
    /// The inbox key it first arrived under.
    pub source_key: String,
    pub at: DateTime<Utc>,
    pub outcome: FileOutcome,
    /// Every step of ingest is done (the inbox object is gone). Until then a delivery of the same
    /// object under the same key finishes the work instead of calling it a duplicate.
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum FileOutcome {
    /// Accepted as these invoices (two when both parties are administrations).
    Invoices { ids: Vec<InvoiceId> },
    /// Accepted as master data (a UBL Order or ReceiptAdvice).
    MasterData { what: String },
}

impl FileRecord {
    pub fn key(sha256: &str) -> ItemKey {
        ItemKey::new(format!("FILE#{sha256}"), "FILE")
    }
}

pub(crate) const REJECTED_UNREPORTED: &str = "REJECTED#UNREPORTED";

/// A file moved to `rejected/` (`REJECTED#<id>` / `REJECTED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedFile {
    pub id: String,
    pub source_key: String,
    pub rejected_key: String,
    pub reason_key: String,
    /// One line, for the report.
    pub reason: String,
    /// The official rules' fatal findings, when that is why.
    pub findings: Vec<Finding>,
    /// The document this one duplicates, when that is why.
    pub original: Option<String>,
    pub at: DateTime<Utc>,
    /// The run whose report listed it.
    pub reported_in: Option<String>,
}

impl RejectedFile {
    pub fn key(id: &str) -> ItemKey {
        ItemKey::new(format!("REJECTED#{id}"), "REJECTED")
    }

    pub fn to_item(&self) -> Result<Item, StageError> {
        let mut item = Item::new(Self::key(&self.id), to_body(self)?);
        if self.reported_in.is_none() {
            item = item.with_index(
                Index::Gsi1,
                REJECTED_UNREPORTED,
                format!("{}#{}", self.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), self.id),
            );
        }
        Ok(item)
    }
}

/// The state of an e-mail batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BatchState {
    /// Claimed by a run, about to be sent. Found like this by a later run, it is in doubt.
    Claimed,
    Sent,
    /// May or may not have been sent: a person checks, then resolves it.
    InDoubt,
    /// Certainly not sent (the mail service refused); its documents are ready again.
    Released,
}

impl BatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Claimed => "claimed",
            BatchState::Sent => "sent",
            BatchState::InDoubt => "in-doubt",
            BatchState::Released => "released",
        }
    }
}

/// A document in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchDocument {
    pub invoice: InvoiceId,
    pub number: String,
    pub counterparty: String,
    pub issue_date: NaiveDate,
    /// The attachment file names sent with it.
    pub files: Vec<String>,
}

/// One e-mail of a run (`BATCH#<id>` / `BATCH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub id: String,
    pub run: String,
    pub administration: AdministrationId,
    pub journal: Journal,
    pub state: BatchState,
    pub documents: Vec<BatchDocument>,
    pub recipient: String,
    pub subject: String,
    pub claimed_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
    pub note: Option<String>,
}

impl BatchRecord {
    pub fn key(id: &str) -> ItemKey {
        ItemKey::new(format!("BATCH#{id}"), "BATCH")
    }

    pub fn to_item(&self) -> Result<Item, StageError> {
        let mut item = Item::new(Self::key(&self.id), to_body(self)?);
        if matches!(self.state, BatchState::Claimed | BatchState::InDoubt) {
            item = item.with_index(
                Index::Gsi1,
                format!("BATCHES#{}", self.state.as_str()),
                format!("{}#{}", self.claimed_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), self.id),
            );
        }
        Ok(item)
    }
}

pub(crate) const RUNS_INDEX: &str = "RUNS";

/// A send-batch run and its report (`RUN#<id>` / `RUN`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub dry_run: bool,
    /// The report's text, as mailed.
    pub report_text: String,
    /// The report's data.
    pub report: Value,
}

impl RunRecord {
    pub fn key(id: &str) -> ItemKey {
        ItemKey::new(format!("RUN#{id}"), "RUN")
    }

    pub fn to_item(&self) -> Result<Item, StageError> {
        Ok(Item::new(Self::key(&self.id), to_body(self)?).with_index(
            Index::Gsi1,
            RUNS_INDEX,
            format!("{}#{}", self.started_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), self.id),
        ))
    }
}

/// Keys of master data, for the items in [`super::masterdata`].
pub(crate) fn order_index_pk(administration: &AdministrationId, order: &str) -> String {
    format!("ORDER#{administration}#{}", esc(order))
}

pub(crate) fn supplier_index_pk(administration: &AdministrationId, supplier: &SupplierKey) -> String {
    format!("SUPPLIER#{administration}#{}", esc(supplier.as_str()))
}
