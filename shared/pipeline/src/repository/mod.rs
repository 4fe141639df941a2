//! How ledgerpost's state is kept as items of the one [`Store`] table (DynamoDB, or SQLite on one
//! machine), and every read and conditional write the stages make on it.
//!
//! # Key design
//!
//! Every key component that comes from outside (order numbers, references, supplier keys, line
//! ids) is escaped (`%` → `%25`, `#` → `%23`), so `#` only ever separates components.
//!
//! | item | `pk` | `sk` | `gsi1` (pk / sk) | `gsi2` (pk / sk) |
//! |---|---|---|---|---|
//! | invoice | `INV#<id>` | `META` | `SEND#<adm>#<journal>#<send state>` / `<issue date>#<id>`, once journaled | `STATUS#<adm>#<status>` / `<issue date>#<id>` |
//! | invoice header (the document without lines) | `INV#<id>` | `HEADER` | | |
//! | invoice lines | `INV#<id>` | `LINES#<nnnn>` | | |
//! | matching lines | `INV#<id>` | `MATCH#<gen>#<nnnn>` | | |
//! | journal entry | `INV#<id>` | `ENTRY`, `ENTRY#<nnnn>` | | |
//! | file seen | `FILE#<sha256>` | `FILE` | | |
//! | rejected file | `REJECTED#<id>` | `REJECTED` | `REJECTED#UNREPORTED` / `<at>#<id>`, until a report lists it | |
//! | goods receipt line | `RECEIPT#<adm>#<order>#<line>` | `RECEIPT` | `ORDER#<adm>#<order>` / `RECEIPT#<line>` | |
//! | obligation | `OBLIGATION#<adm>#<ref>#<supplier>` | `OBLIGATION` | `ORDER#<adm>#<ref>` / `OBLIGATION#<supplier>` | `SUPPLIER#<adm>#<supplier>` / `OBLIGATION#<ref>` |
//! | text rule | `RULE#<adm>#<supplier>#<hash of folded text>` | `RULE` | | `SUPPLIER#<adm>#<supplier>` / `RULE#<hash>` |
//! | UBL order (prices for receipt advices) | `ORDER#<adm>#<order>` | `ORDER` | | |
//! | e-mail batch | `BATCH#<id>` | `BATCH` | `BATCHES#<state>` / `<claimed at>#<id>` while claimed or in doubt | |
//! | run | `RUN#<id>` | `RUN` | `RUNS` / `<started at>#<id>` | |
//! | send lease | `LEASE#send-batch` | `LEASE` | (the ports crate's `StoreLease`) | |
//!
//! Access paths, each one `GetItem` or one `Query`, never a scan:
//! - an invoice, its lines, its matching lines, its entry: `Query pk = INV#<id>` by sort-key prefix;
//! - the duplicate checks: `GetItem INV#<id>` (the id is derived from administration, supplier,
//!   number and issue year, so the same invoice always lands on the same key) and `GetItem
//!   FILE#<sha256>`;
//! - matching candidates: `Query gsi1 ORDER#<adm>#<order reference>` (receipt lines and
//!   obligations of one order) and `Query gsi2 SUPPLIER#<adm>#<supplier>` (text rules);
//! - send-batch selection: `Query gsi1 SEND#<adm>#<journal>#ready`, in issue-date order, so the
//!   delay cut-off ends the query early;
//! - the report: `Query gsi1 REJECTED#UNREPORTED`, `Query gsi1 BATCHES#claimed` (a batch left
//!   claimed by a run that died is in doubt), `Query gsi2 STATUS#<adm>#<status>` (what waits).
//!
//! Indexes are eventually consistent: a stage finds candidates there, then reads the item itself
//! (strongly consistent) and writes conditionally on the version it read.
//!
//! # Sizes
//!
//! Items stay under 400 KB: invoice lines, matching lines and journal-entry lines are split into
//! chunks of at most [`CHUNK_BYTES`] of JSON. The invoice document (header and lines) never
//! changes after ingest, so its items are written before the invoice item that makes them
//! visible; the invoice item, read and rewritten by every stage, holds only the pipeline's state.
//! Matching lines change with every manual action: each version is written under a new generation (`MATCH#<gen>#…`) and the
//! invoice item is switched to it by its conditional write; the previous generation is deleted
//! afterwards (a crash leaves unreferenced chunks, never a half state).

mod chunks;
mod masterdata;
mod records;

use std::sync::Arc;

use ledgerpost_domain::ids::{AdministrationId, InvoiceId, SupplierKey};
use ledgerpost_domain::matching::InvoiceMatching;
use ledgerpost_ports::{Body, Index, Item, ItemKey, KeyQuery, Store, StoreError, StoredItem, TransactOp};
use ledgerpost_ubl::model::{Attachment, Invoice};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use chunks::{CHUNK_BYTES, chunk_bodies};
pub use masterdata::{ImportCounts, MasterDataSnapshot, OrderLinePrice, StoreMasterData, StoredOrder};
pub use records::*;

use crate::error::StageError;

/// Escapes a key component: `%` → `%25`, `#` → `%23`.
pub fn esc(component: &str) -> String {
    component.replace('%', "%25").replace('#', "%23")
}

/// The items an invoice document is kept in, serialized once for every administration it is for.
pub struct DocumentItems {
    /// The invoice without its lines and with embedded attachments emptied (they are in the
    /// bucket).
    pub header: Body,
    /// The lines, in chunks that fit an item.
    pub line_chunks: Vec<Body>,
}

impl DocumentItems {
    pub fn of(invoice: &Invoice) -> Result<Self, StageError> {
        let mut header = invoice.clone();
        header.lines = Vec::new();
        for reference in &mut header.attachments {
            if let Some(Attachment::Embedded { base64, .. }) = &mut reference.attachment {
                base64.clear();
            }
        }
        Ok(DocumentItems { header: to_body(&header)?, line_chunks: to_chunks("lines", &invoice.lines)? })
    }
}

/// Takes the `lines` out of a record's JSON object (they go to chunk items).
fn take_lines(value: &mut Value) -> Vec<Value> {
    match value {
        Value::Object(map) => match map.remove("lines") {
            Some(Value::Array(lines)) => lines,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A matching state as kept in the invoice record, and its lines apart (they go to chunk items).
pub(crate) fn matching_header(state: &InvoiceMatching) -> Result<(Value, Vec<Value>), StageError> {
    let mut header = to_value(state)?;
    let lines = take_lines(&mut header);
    Ok((header, lines))
}

/// A value read from the store with the version to write on.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// The stages' access to the store.
#[derive(Clone)]
pub struct Repository {
    store: Arc<dyn Store>,
}

fn unserialisable(e: serde_json::Error) -> StageError {
    StageError::corrupt("a record could not be serialised", e)
}

pub(crate) fn to_body<T: Serialize>(value: &T) -> Result<Body, StageError> {
    Body::of(value).map_err(unserialisable)
}

/// A record as a JSON tree, for the states kept apart from their lines (matching, entry).
fn to_value<T: Serialize>(value: &T) -> Result<Value, StageError> {
    serde_json::to_value(value).map_err(unserialisable)
}

/// The chunk bodies of `values` (each `{"<field>": [...]}`), see [`chunk_bodies`].
pub(crate) fn to_chunks<T: Serialize>(field: &str, values: &[T]) -> Result<Vec<Body>, StageError> {
    chunk_bodies(field, values, CHUNK_BYTES).map_err(unserialisable)
}

pub(crate) fn from_body<T: DeserializeOwned>(stored: &StoredItem) -> Result<T, StageError> {
    stored.item.body.read().map_err(|e| StageError::corrupt(format!("item {}", stored.item.key), e))
}

pub(crate) fn versioned<T: DeserializeOwned>(stored: &StoredItem) -> Result<Versioned<T>, StageError> {
    Ok(Versioned { value: from_body(stored)?, version: stored.version })
}

impl Repository {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Repository { store }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Reads one item as `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &ItemKey) -> Result<Option<Versioned<T>>, StageError> {
        match self.store.get(key).await? {
            None => Ok(None),
            Some(stored) => versioned(&stored).map(Some),
        }
    }

    /// Every item of a partition whose sort key starts with `prefix`, all pages.
    pub async fn query_all(&self, pk: &str, prefix: &str) -> Result<Vec<StoredItem>, StageError> {
        let mut query = KeyQuery::new(pk).sk_prefix(prefix);
        let mut items = Vec::new();
        loop {
            let page = self.store.query(&query).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => return Ok(items),
            }
        }
    }

    /// Every item of an index partition whose index sort key starts with `prefix`, all pages.
    pub async fn query_index_all(
        &self,
        index: Index,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<StoredItem>, StageError> {
        let mut query = KeyQuery::new(pk).sk_prefix(prefix);
        let mut items = Vec::new();
        loop {
            let page = self.store.query_index(index, &query).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => return Ok(items),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Invoices
    // -----------------------------------------------------------------------------------------

    pub async fn invoice(&self, id: &InvoiceId) -> Result<Option<Versioned<InvoiceRecord>>, StageError> {
        self.get(&InvoiceRecord::key(id)).await
    }

    /// The invoice as read at ingest: its header item and the lines from their chunks.
    pub async fn invoice_document(&self, record: &InvoiceRecord) -> Result<Invoice, StageError> {
        let Some(header) = self.get::<Invoice>(&InvoiceRecord::header_key(&record.id)).await? else {
            return Err(StageError::Corrupt {
                what: format!("invoice {} has no header item", record.id),
                source: None,
            });
        };
        let mut invoice = header.value;
        let chunks = self.query_all(&InvoiceRecord::pk(&record.id), "LINES#").await?;
        if chunks.len() != record.line_chunks as usize {
            return Err(StageError::Corrupt {
                what: format!(
                    "invoice {} has {} line chunks, its record says {}",
                    record.id,
                    chunks.len(),
                    record.line_chunks
                ),
                source: None,
            });
        }
        for chunk in &chunks {
            let lines: Vec<ledgerpost_ubl::model::Line> = from_body::<LinesChunk>(chunk)?.lines;
            invoice.lines.extend(lines);
        }
        Ok(invoice)
    }

    /// Writes the header and line chunks of a new invoice (idempotent: items already there are
    /// left as they are, since the document never changes), then creates the invoice item.
    /// Returns `false` when an invoice item already exists under the key.
    pub async fn create_invoice(
        &self,
        record: &InvoiceRecord,
        document: &DocumentItems,
    ) -> Result<bool, StageError> {
        let pk = InvoiceRecord::pk(&record.id);
        if document.line_chunks.len() != record.line_chunks as usize {
            return Err(StageError::Unexpected(anyhow::anyhow!(
                "line chunk count mismatch for {}",
                record.id
            )));
        }
        let header = Item::new(InvoiceRecord::header_key(&record.id), document.header.clone());
        let chunks =
            document.line_chunks.iter().enumerate().map(|(n, chunk)| {
                Item::new(ItemKey::new(pk.clone(), format!("LINES#{n:04}")), chunk.clone())
            });
        for item in std::iter::once(header).chain(chunks) {
            match self.store.put_if_absent(item).await {
                Ok(_) => {}
                Err(e) if e.is_condition_failed() => {}
                Err(e) => return Err(e.into()),
            }
        }
        match self.store.put_if_absent(record.to_item()?).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_condition_failed() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the invoice item if it is still at `version`.
    pub async fn update_invoice(&self, record: &InvoiceRecord, version: u64) -> Result<u64, StageError> {
        Ok(self.store.put_if_version(record.to_item()?, version).await?)
    }

    /// The matching state of a purchase invoice, with its lines.
    pub async fn matching(&self, record: &InvoiceRecord) -> Result<Option<InvoiceMatching>, StageError> {
        let Some(stored) = &record.matching else { return Ok(None) };
        let prefix = format!("MATCH#{}#", stored.generation);
        let chunks = self.query_all(&InvoiceRecord::pk(&record.id), &prefix).await?;
        if chunks.len() != stored.chunks as usize {
            return Err(StageError::Corrupt {
                what: format!(
                    "invoice {}: matching generation {} is incomplete",
                    record.id, stored.generation
                ),
                source: None,
            });
        }
        let mut lines = Vec::new();
        for chunk in &chunks {
            lines.extend(from_body::<ValuesChunk>(chunk)?.values);
        }
        let mut state = stored.state.clone();
        if let Value::Object(map) = &mut state {
            map.insert("lines".into(), Value::Array(lines));
        }
        serde_json::from_value(state)
            .map(Some)
            .map_err(|e| StageError::corrupt(format!("matching state of invoice {}", record.id), e))
    }

    /// Writes the lines of a matching state under a new generation and returns the reference to
    /// put in the invoice record. Nothing refers to the chunks until the record is written.
    pub async fn write_matching(
        &self,
        id: &InvoiceId,
        state: &InvoiceMatching,
        generation: &str,
    ) -> Result<StoredMatching, StageError> {
        let (value, lines) = matching_header(state)?;
        let chunks = to_chunks("values", &lines)?;
        let count = chunks.len() as u32;
        let pk = InvoiceRecord::pk(id);
        for (n, chunk) in chunks.into_iter().enumerate() {
            let item = Item::new(ItemKey::new(pk.clone(), format!("MATCH#{generation}#{n:04}")), chunk);
            match self.store.put_if_absent(item).await {
                Ok(_) => {}
                // A retried attempt with the same generation wrote the same chunk.
                Err(e) if e.is_condition_failed() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(StoredMatching { state: value, generation: generation.to_owned(), chunks: count })
    }

    /// Deletes the chunks of a matching generation no longer referred to (best effort).
    pub async fn drop_matching_generation(&self, id: &InvoiceId, generation: &str) {
        let prefix = format!("MATCH#{generation}#");
        if let Ok(items) = self.query_all(&InvoiceRecord::pk(id), &prefix).await {
            for item in items {
                if let Err(e) = self.store.delete_if_version(&item.item.key, item.version).await {
                    tracing::debug!(error = %e, key = %item.item.key, "old matching chunk left behind");
                }
            }
        }
    }

    /// The journal entry of an invoice, if it has one.
    pub async fn entry(
        &self,
        id: &InvoiceId,
    ) -> Result<Option<ledgerpost_domain::journal::JournalEntry>, StageError> {
        let items = self.query_all(&InvoiceRecord::pk(id), "ENTRY").await?;
        let Some(header) = items.iter().find(|i| i.item.key.sk == "ENTRY") else { return Ok(None) };
        let mut value: Value = from_body(header)?;
        let mut lines = Vec::new();
        for chunk in items.iter().filter(|i| i.item.key.sk.starts_with("ENTRY#")) {
            lines.extend(from_body::<ValuesChunk>(chunk)?.values);
        }
        if let Value::Object(map) = &mut value {
            map.insert("lines".into(), Value::Array(lines));
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| StageError::corrupt(format!("journal entry of invoice {id}"), e))
    }

    /// The operations that create a journal entry: a header item and its line chunks.
    pub fn entry_ops(
        &self,
        entry: &ledgerpost_domain::journal::JournalEntry,
    ) -> Result<Vec<TransactOp>, StageError> {
        let mut value = to_value(entry)?;
        let lines = take_lines(&mut value);
        let pk = InvoiceRecord::pk(&entry.invoice);
        let mut ops = vec![TransactOp::Put(Item::new(ItemKey::new(pk.clone(), "ENTRY"), value))];
        for (n, chunk) in to_chunks("values", &lines)?.into_iter().enumerate() {
            ops.push(TransactOp::Put(Item::new(ItemKey::new(pk.clone(), format!("ENTRY#{n:04}")), chunk)));
        }
        Ok(ops)
    }

    /// Invoices of an administration in one status, oldest first.
    pub async fn invoices_in_status(
        &self,
        administration: &AdministrationId,
        status: StatusKey,
    ) -> Result<Vec<Versioned<InvoiceRecord>>, StageError> {
        let items = self.query_index_all(Index::Gsi2, &status_index_pk(administration, status), "").await?;
        items.iter().map(versioned).collect()
    }

    // -----------------------------------------------------------------------------------------
    // Files and rejections
    // -----------------------------------------------------------------------------------------

    pub async fn file(&self, sha256: &str) -> Result<Option<Versioned<FileRecord>>, StageError> {
        self.get(&FileRecord::key(sha256)).await
    }

    /// Records a file, or returns the record already there.
    pub async fn create_file(
        &self,
        record: &FileRecord,
    ) -> Result<Option<Versioned<FileRecord>>, StageError> {
        let item = Item::new(FileRecord::key(&record.sha256), to_body(record)?);
        match self.store.put_if_absent(item).await {
            Ok(_) => Ok(None),
            Err(e) if e.is_condition_failed() => self.file(&record.sha256).await,
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_file(&self, record: &FileRecord, version: u64) -> Result<u64, StageError> {
        let item = Item::new(FileRecord::key(&record.sha256), to_body(record)?);
        Ok(self.store.put_if_version(item, version).await?)
    }

    /// Records a rejected file for the next report (once: a redelivery finds it there).
    pub async fn record_rejection(&self, rejected: &RejectedFile) -> Result<(), StageError> {
        match self.store.put_if_absent(rejected.to_item()?).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_condition_failed() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Rejected files no report has listed yet, oldest first.
    pub async fn unreported_rejections(&self) -> Result<Vec<Versioned<RejectedFile>>, StageError> {
        let items = self.query_index_all(Index::Gsi1, REJECTED_UNREPORTED, "").await?;
        items.iter().map(versioned).collect()
    }

    /// Marks a rejection as listed by a run (it leaves the unreported index).
    pub async fn mark_rejection_reported(
        &self,
        rejected: &Versioned<RejectedFile>,
        run: &str,
    ) -> Result<(), StageError> {
        let mut value = rejected.value.clone();
        value.reported_in = Some(run.to_owned());
        match self.store.put_if_version(value.to_item()?, rejected.version).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_condition_failed() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Batches and runs
    // -----------------------------------------------------------------------------------------

    pub async fn batch(&self, id: &str) -> Result<Option<Versioned<BatchRecord>>, StageError> {
        self.get(&BatchRecord::key(id)).await
    }

    /// Batches in one state (claimed, in doubt), oldest first.
    pub async fn batches_in_state(&self, state: &str) -> Result<Vec<Versioned<BatchRecord>>, StageError> {
        let items = self.query_index_all(Index::Gsi1, &format!("BATCHES#{state}"), "").await?;
        items.iter().map(versioned).collect()
    }

    pub async fn save_run(&self, run: &RunRecord) -> Result<(), StageError> {
        match self.store.put_if_absent(run.to_item()?).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_condition_failed() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The latest runs, newest first.
    pub async fn latest_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StageError> {
        let page = self
            .store
            .query_index(Index::Gsi1, &KeyQuery::new(RUNS_INDEX).descending().limit(limit.max(1)))
            .await?;
        page.items.iter().map(from_body).collect()
    }

    /// Commits a transaction, passing a failed condition through as it is.
    pub async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.store.transact(ops).await
    }

    /// All invoices of an administration's status index, any status: for the status command.
    pub async fn count_by_status(
        &self,
        administration: &AdministrationId,
    ) -> Result<Vec<(StatusKey, usize)>, StageError> {
        let mut counts = Vec::new();
        for status in StatusKey::ALL {
            let items =
                self.query_index_all(Index::Gsi2, &status_index_pk(administration, status), "").await?;
            counts.push((status, items.len()));
        }
        Ok(counts)
    }

    /// The supplier key as a key component, for callers building their own lookups.
    pub fn supplier_component(supplier: &SupplierKey) -> String {
        esc(supplier.as_str())
    }
}
