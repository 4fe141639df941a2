//! The ingest stage: one object in `inbox/` becomes stored invoices (and one message to the next
//! stage each), master data, or a file under `rejected/` with a reason a person understands.
//!
//! Steps, each safe to repeat (a redelivered message, or a crash between two steps, is finished
//! by the next delivery):
//! 1. read the object with the size cap; gone → an earlier delivery finished it, nothing to do;
//! 2. the file's sha256: content seen before under another key (or seen and finished) → a
//!    duplicate, rejected naming the original;
//! 3. parse (hardened XML) and detect: UBL Invoice / CreditNote, or Order / ReceiptAdvice
//!    (master data), anything else rejected;
//! 4. invoices: the typed model, the administration (buyer → purchase, seller → sales; when both
//!    parties are administrations, one document for each), the official rules of that
//!    administration's rule set (fatal → rejected with the findings; warnings kept), the
//!    duplicate check on (administration, supplier, number, issue year), the purchase profile's
//!    order-reference requirement;
//! 5. keep the original under `archive/` and each embedded attachment under `attachments/`;
//! 6. record the file (`FILE#sha256`), store the invoice lines and the invoice;
//! 7. one message to the match queue (purchase) or the journal queue (sales);
//! 8. delete the inbox object (the archive holds it), mark the file record complete.
//!
//! A refused file is moved, never deleted: the reason file `rejected/<name>.reason.txt` is
//! written and the rejection recorded first, the move is last.

mod orders;
mod reject;

use chrono::Datelike;
use ledgerpost_domain::config::Administration;
use ledgerpost_domain::ids::{AdministrationId, InvoiceId, SupplierKey};
use ledgerpost_domain::journal::Direction;
use ledgerpost_domain::masterdata::{GoodsReceipt, Obligation};
use ledgerpost_domain::matching::Approval;
use ledgerpost_ports::{BucketError, ObjectKey, TransactOp};
use ledgerpost_ubl::model::{Attachment, Invoice, Party};
use ledgerpost_ubl::rules::{self, Finding, Flag};
use ledgerpost_ubl::xml::{Document, Limits};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

pub use orders::{
    MasterDocumentKind, NS_ORDER, NS_RECEIPT_ADVICE, ParsedOrder, ParsedReceiptAdvice, master_document_kind,
    parse_order, parse_receipt_advice,
};
pub use reject::Refusal;

use crate::error::StageError;
use crate::messages::InvoiceMessage;
use crate::repository::{
    DocumentItems, FileInfo, FileOutcome, FileRecord, InvoiceRecord, OrderLinePrice, Repository, SendState,
    Status, StoredAttachment, StoredOrder,
};
use crate::{Pipeline, queues};

/// Where an ingested file went.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// Stored as these invoices; one message went to the next stage for each.
    Accepted { invoices: Vec<InvoiceId> },
    /// Read into master data.
    MasterData { what: String },
    /// Moved to `rejected/`.
    Rejected { rejected_key: ObjectKey, reason: String },
    /// The object is gone: an earlier delivery finished it.
    AlreadyDone,
    /// Not an inbox object: left alone.
    Ignored { why: String },
}

/// The prefix the stage reads from.
pub const INBOX: &str = "inbox/";

/// One administration's view of an invoice.
struct Target<'a> {
    administration: &'a Administration,
    direction: Direction,
    id: InvoiceId,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The key a seller is filed under: VAT id, else electronic address, else its legal or other
/// party identifier (`LEGAL:<id>` / `ID:<id>`).
pub fn seller_key(party: &Party) -> Option<SupplierKey> {
    if let Some(key) = SupplierKey::for_party(party) {
        return Some(key);
    }
    let legal = party.legal_id.as_ref().and_then(|l| SupplierKey::from_endpoint("LEGAL", &l.value).ok());
    legal.or_else(|| party.identifiers.iter().find_map(|i| SupplierKey::from_endpoint("ID", &i.value).ok()))
}

/// A party as a person would recognise it: name, VAT id, endpoint.
pub(crate) fn describe_party(party: &Party) -> String {
    let mut parts = Vec::new();
    let name = party.display_name();
    parts.push(if name.is_empty() { "(no name)".to_owned() } else { format!("\"{name}\"") });
    if let Some(vat) = &party.vat_id {
        parts.push(format!("VAT id {vat}"));
    }
    if let Some(e) = &party.endpoint {
        parts.push(format!("endpoint {}:{}", e.scheme.as_deref().unwrap_or("?"), e.value));
    }
    if party.vat_id.is_none() && party.endpoint.is_none() {
        parts.push("no VAT id and no endpoint".to_owned());
    }
    parts.join(", ")
}

impl Pipeline {
    /// Runs the ingest stage on one object key.
    pub async fn ingest(&self, key: &ObjectKey) -> Result<IngestOutcome, StageError> {
        if !key.as_str().starts_with(INBOX) {
            tracing::warn!(%key, "ingest ignores objects outside inbox/");
            return Ok(IngestOutcome::Ignored { why: format!("{key} is not under {INBOX}") });
        }
        let cap = self.config().validation.max_file_bytes;
        let bytes = match self.ports().bucket.get(key, cap).await {
            Ok(bytes) => bytes,
            Err(BucketError::NotFound { .. }) => return Ok(IngestOutcome::AlreadyDone),
            Err(BucketError::TooLarge { size, limit, .. }) => {
                let refusal = Refusal::new(
                    format!("the file is {size} bytes, over the limit of {limit} bytes"),
                    "Files this large are not read at all. Ask the sender for the invoice without oversized \
                     attachments, or raise validation.max_file_bytes in the configuration.",
                );
                return self.reject(key, None, refusal).await;
            }
            Err(e) => return Err(e.into()),
        };
        let sha = sha256_hex(&bytes);
        let seen = self.repository().file(&sha).await?;
        if let Some(seen) = &seen
            && (seen.value.completed || seen.value.source_key != key.as_str())
        {
            let refusal = self.duplicate_file(&seen.value).await?;
            return self.reject(key, Some(&sha), refusal).await;
        }

        let limits = Limits { max_bytes: usize::try_from(cap).unwrap_or(usize::MAX), ..Limits::default() };
        let tree = match Document::parse(&bytes, &limits) {
            Ok(tree) => tree,
            Err(e) => {
                let refusal = Refusal::new(
                    format!("the file cannot be read as an XML e-invoice: {e}"),
                    "Only UBL 2.1 invoices and credit notes (EN 16931 / Peppol BIS Billing 3.0) are accepted, \
                     as XML. A PDF or a scan is not an e-invoice: ask the sender for the UBL file.",
                );
                return self.reject(key, Some(&sha), refusal).await;
            }
        };
        if ledgerpost_ubl::document_kind(&tree).is_some() {
            return self.ingest_invoice(key, &bytes, &sha, &tree).await;
        }
        match master_document_kind(&tree) {
            Some(MasterDocumentKind::Order) => self.ingest_order(key, &bytes, &sha, &tree).await,
            Some(MasterDocumentKind::ReceiptAdvice) => {
                self.ingest_receipt_advice(key, &bytes, &sha, &tree).await
            }
            None => {
                let root = tree.root();
                let ns = tree.namespace(root);
                let refusal = Refusal::new(
                    format!(
                        "the file is XML but not a UBL Invoice, CreditNote, Order or ReceiptAdvice: its root element is <{}>{}",
                        tree.local_name(root),
                        if ns.is_empty() {
                            " without namespace".to_owned()
                        } else {
                            format!(" in namespace {ns}")
                        }
                    ),
                    "Only UBL 2.1 invoices and credit notes (and UBL orders and receipt advices for master data) \
                     are accepted.",
                );
                self.reject(key, Some(&sha), refusal).await
            }
        }
    }

    /// The refusal for content seen before.
    async fn duplicate_file(&self, seen: &FileRecord) -> Result<Refusal, StageError> {
        let original = match &seen.outcome {
            FileOutcome::Invoices { ids } => match ids.first() {
                Some(id) => match self.repository().invoice(id).await? {
                    Some(inv) => describe_original(&inv.value),
                    None => format!("invoice {id}"),
                },
                None => "an earlier file".to_owned(),
            },
            FileOutcome::MasterData { what } => what.clone(),
        };
        Ok(Refusal::new(
            format!(
                "the same file (same content, sha256 {}) was received before: {original}",
                &seen.sha256[..16]
            ),
            format!(
                "It arrived first as {} on {}. Nothing needs to be done if this was sent twice by mistake.",
                seen.source_key,
                seen.at.format("%Y-%m-%d %H:%M UTC")
            ),
        )
        .with_original(original))
    }

    async fn ingest_invoice(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        sha: &str,
        tree: &Document,
    ) -> Result<IngestOutcome, StageError> {
        let model = Invoice::from_document(tree);
        let targets: Vec<(&Administration, Direction)> = match &model {
            Ok(invoice) => self
                .config()
                .administrations
                .iter()
                .flat_map(|a| {
                    let buyer = a.is_party(&invoice.buyer).then_some((a, Direction::Purchase));
                    let seller = a.is_party(&invoice.seller).then_some((a, Direction::Sales));
                    buyer.into_iter().chain(seller)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        // The strictest rule set any target asks for.
        let ruleset = targets
            .iter()
            .map(|(a, _)| self.config().validation.ruleset_for(&a.id))
            .chain(targets.is_empty().then_some(self.config().validation.default_ruleset))
            .map(ubl_ruleset)
            .max_by_key(|r| matches!(r, rules::Ruleset::Peppol))
            .unwrap_or_default();
        let report = rules::validate(tree, ruleset);
        if !report.is_valid() {
            let fatal: Vec<Finding> =
                report.findings.iter().filter(|f| f.flag == Flag::Fatal).cloned().collect();
            let ids: Vec<&str> = report.fatal_ids().into_iter().collect();
            let broken = format!(
                "the invoice breaks {} official rule(s) of {}: {}",
                ids.len(),
                ruleset_name(ruleset),
                ids.join(", ")
            );
            // A value the rules cannot even read ("1e400", "12,50") stops the official validator
            // with XSLT-RUNTIME-ERROR, which names nothing a person can fix: the model's reading
            // names the value and where it is, so it leads the reason.
            let reason = match &model {
                Err(e) if ids.contains(&rules::RUNTIME_ERROR_ID) => {
                    format!("the invoice cannot be read: {e}; {broken}")
                }
                _ => broken,
            };
            let refusal = Refusal::new(
                reason,
                "Ask the sender for a corrected invoice; each rule below says what is wrong and where.",
            )
            .with_findings(fatal);
            return self.reject(key, Some(sha), refusal).await;
        }
        let invoice = match model {
            Ok(invoice) => invoice,
            Err(e) => {
                let refusal = Refusal::new(
                    format!("the invoice cannot be read: {e}"),
                    "Ask the sender for a corrected invoice.",
                );
                return self.reject(key, Some(sha), refusal).await;
            }
        };
        if targets.is_empty() {
            let refusal = Refusal::new(
                "neither the buyer nor the seller is one of the administrations in the configuration"
                    .to_owned(),
                format!(
                    "Buyer: {}. Seller: {}. If this invoice is for one of the companies, add its VAT id or \
                     endpoint id to that administration in the configuration and drop the file again.",
                    describe_party(&invoice.buyer),
                    describe_party(&invoice.seller)
                ),
            );
            return self.reject(key, Some(sha), refusal).await;
        }
        let Some(supplier) = seller_key(&invoice.seller) else {
            let refusal = Refusal::new(
                "the seller has no VAT id, electronic address or legal identifier to file the invoice under"
                    .to_owned(),
                format!(
                    "Seller: {}. Ask the sender for an invoice that identifies the seller.",
                    describe_party(&invoice.seller)
                ),
            );
            return self.reject(key, Some(sha), refusal).await;
        };
        let mut resolved = Vec::new();
        for (administration, direction) in targets {
            let id = match InvoiceId::derive(
                &administration.id,
                &supplier,
                &invoice.number,
                invoice.issue_date.year(),
            ) {
                Ok(id) => id,
                Err(e) => {
                    let refusal = Refusal::new(
                        format!("the invoice number cannot be used: {e}"),
                        "Ask the sender for a corrected invoice.",
                    );
                    return self.reject(key, Some(sha), refusal).await;
                }
            };
            if direction == Direction::Purchase {
                let keys = SupplierKey::candidates(&invoice.seller);
                let profile = administration.purchase_profile(&keys);
                let has_reference = invoice.order_reference.as_deref().is_some_and(|r| !r.trim().is_empty());
                if profile.reject_without_order_reference && !has_reference {
                    let refusal = Refusal::new(
                        format!(
                            "the purchase profile of this supplier for {} requires an order reference (BT-13), and the invoice has none",
                            administration.name
                        ),
                        "Ask the supplier for an invoice that names your purchase order number.",
                    );
                    return self.reject(key, Some(sha), refusal).await;
                }
            }
            resolved.push(Target { administration, direction, id });
        }

        // Duplicates by number: the same id already stored from another file.
        for target in &resolved {
            if let Some(existing) = self.repository().invoice(&target.id).await?
                && !(existing.value.file.sha256 == sha && existing.value.file.source_key == key.as_str())
            {
                let original = describe_original(&existing.value);
                let refusal = Refusal::new(
                    format!(
                        "duplicate: {} already has invoice {} of this supplier dated in {}: {original}",
                        target.administration.name,
                        invoice.number.trim(),
                        invoice.issue_date.year()
                    ),
                    format!(
                        "The original arrived as {} on {} and is kept as {}. If this is a different invoice, \
                         the supplier must give it another number.",
                        existing.value.file.source_key,
                        existing.value.received_at.format("%Y-%m-%d %H:%M UTC"),
                        existing.value.file.archive_key
                    ),
                )
                .with_original(original);
                return self.reject(key, Some(sha), refusal).await;
            }
        }

        // Embedded attachments: each must decode, else the file is refused whole.
        let mut decoded = Vec::new();
        for (n, reference) in invoice.attachments.iter().enumerate() {
            match reference.decode() {
                Ok(Some(content)) => {
                    let Some(attachment @ Attachment::Embedded { mime_code, .. }) = &reference.attachment
                    else {
                        continue;
                    };
                    let name = attachment.safe_filename(&reference.id);
                    decoded.push((n, name, mime_code.clone(), content));
                }
                Ok(None) => {}
                Err(e) => {
                    let refusal = Refusal::new(
                        format!("an embedded attachment cannot be read: {e}"),
                        "Ask the sender for the invoice with its attachments intact.",
                    );
                    return self.reject(key, Some(sha), refusal).await;
                }
            }
        }

        // Record the file first: a concurrent delivery of the same content under another key
        // finds it and is refused as a duplicate.
        let ids: Vec<InvoiceId> = resolved.iter().map(|t| t.id.clone()).collect();
        let file = FileRecord {
            sha256: sha.to_owned(),
            source_key: key.as_str().to_owned(),
            at: self.now(),
            outcome: FileOutcome::Invoices { ids: ids.clone() },
            completed: false,
        };
        if let Some(other) = self.repository().create_file(&file).await?
            && other.value.source_key != key.as_str()
        {
            let refusal = self.duplicate_file(&other.value).await?;
            return self.reject(key, Some(sha), refusal).await;
        }

        let warnings: Vec<Finding> = report.findings.into_iter().filter(|f| f.flag != Flag::Fatal).collect();
        // The same document for every administration the invoice is for.
        let document = DocumentItems::of(&invoice)?;
        for target in &resolved {
            let archive_key = archive_key(&target.administration.id, &invoice, &target.id)?;
            self.ports().bucket.put(&archive_key, bytes.to_vec(), "application/xml").await?;
            let mut attachments = Vec::new();
            for (n, name, mime, content) in &decoded {
                let attachment_key = ObjectKey::parse(format!(
                    "attachments/{}/{}/{:02}-{name}",
                    target.administration.id,
                    target.id,
                    n + 1
                ))
                .map_err(|e| StageError::Unexpected(e.into()))?;
                self.ports().bucket.put(&attachment_key, content.clone(), mime).await?;
                attachments.push(StoredAttachment {
                    key: attachment_key.into_string(),
                    filename: name.clone(),
                    mime_code: mime.clone(),
                    size: content.len() as u64,
                });
            }
            let record = self.new_record(
                target,
                &invoice,
                &supplier,
                sha,
                key,
                bytes.len(),
                archive_key,
                attachments,
                warnings.clone(),
                document.line_chunks.len() as u32,
            )?;
            if self.repository().create_invoice(&record, &document).await? {
                tracing::info!(invoice = %target.id, direction = ?target.direction, "invoice stored");
            }
            let queue = match target.direction {
                Direction::Purchase => queues::MATCH,
                Direction::Sales => queues::JOURNAL,
            };
            self.ports().queue.send(queue, &InvoiceMessage::new(target.id.clone()).body()).await?;
        }
        self.finish(key, sha).await?;
        Ok(IngestOutcome::Accepted { invoices: ids })
    }

    #[allow(clippy::too_many_arguments)]
    fn new_record(
        &self,
        target: &Target<'_>,
        invoice: &Invoice,
        supplier: &SupplierKey,
        sha: &str,
        key: &ObjectKey,
        size: usize,
        archive_key: ObjectKey,
        attachments: Vec<StoredAttachment>,
        warnings: Vec<Finding>,
        line_chunks: u32,
    ) -> Result<InvoiceRecord, StageError> {
        let counterparty = match target.direction {
            Direction::Purchase => invoice.seller.display_name(),
            Direction::Sales => invoice.buyer.display_name(),
        };
        let now = self.now();
        let mut record = InvoiceRecord {
            id: target.id.clone(),
            administration: target.administration.id.clone(),
            direction: target.direction,
            kind: invoice.kind,
            number: invoice.number.trim().to_owned(),
            issue_date: invoice.issue_date,
            currency: invoice.currency.clone(),
            payable: invoice.totals.payable,
            supplier: supplier.clone(),
            supplier_keys: SupplierKey::candidates(&invoice.seller),
            counterparty: counterparty.to_owned(),
            order_reference: invoice
                .order_reference
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            file: FileInfo {
                sha256: sha.to_owned(),
                source_key: key.as_str().to_owned(),
                archive_key: archive_key.into_string(),
                size: size as u64,
            },
            attachments,
            warnings,
            line_count: invoice.lines.len() as u32,
            line_chunks,
            status: Status::Received,
            approval: Approval::NotRequired,
            send: SendState::NotReady,
            matching: None,
            journal: None,
            received_at: now,
            history: Vec::new(),
        };
        record.log(now, format!("received as {key}"));
        Ok(record)
    }

    /// The last steps of an accepted file: the inbox object goes (the archive keeps it), the
    /// file record is marked complete.
    async fn finish(&self, key: &ObjectKey, sha: &str) -> Result<(), StageError> {
        self.ports().bucket.delete(key).await?;
        if let Some(file) = self.repository().file(sha).await?
            && !file.value.completed
        {
            let mut done = file.value.clone();
            done.completed = true;
            match self.repository().update_file(&done, file.version).await {
                Ok(_) => {}
                Err(StageError::Store(e)) if e.is_condition_failed() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The administration a master-data document belongs to, by one of its parties.
    fn administration_of(&self, party: &Party) -> Option<&Administration> {
        self.config().administrations.iter().find(|a| a.is_party(party))
    }

    async fn ingest_order(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        sha: &str,
        tree: &Document,
    ) -> Result<IngestOutcome, StageError> {
        let order = match parse_order(tree) {
            Ok(order) => order,
            Err(e) => {
                let refusal = Refusal::new(
                    format!("the UBL order cannot be read: {e}"),
                    "Correct the order and drop it again.",
                );
                return self.reject(key, Some(sha), refusal).await;
            }
        };
        let Some(administration) = self.administration_of(&order.buyer) else {
            let refusal = Refusal::new(
                format!(
                    "the buyer of order {} is none of the administrations in the configuration",
                    order.number
                ),
                format!("Buyer: {}.", describe_party(&order.buyer)),
            );
            return self.reject(key, Some(sha), refusal).await;
        };
        let Some(supplier) = seller_key(&order.seller) else {
            let refusal = Refusal::new(
                format!("the seller of order {} has no VAT id or electronic address", order.number),
                format!("Seller: {}. Obligations are kept per supplier.", describe_party(&order.seller)),
            );
            return self.reject(key, Some(sha), refusal).await;
        };
        let what = format!("order {} of {} for {}", order.number, supplier, administration.name);
        let file = FileRecord {
            sha256: sha.to_owned(),
            source_key: key.as_str().to_owned(),
            at: self.now(),
            outcome: FileOutcome::MasterData { what: what.clone() },
            completed: false,
        };
        if let Some(other) = self.repository().create_file(&file).await?
            && other.value.source_key != key.as_str()
        {
            let refusal = self.duplicate_file(&other.value).await?;
            return self.reject(key, Some(sha), refusal).await;
        }
        let repo = self.repository();
        let stored = StoredOrder {
            administration: administration.id.clone(),
            order_number: order.number.clone(),
            supplier: supplier.clone(),
            issue_date: order.issue_date,
            lines: order
                .lines
                .iter()
                .map(|l| OrderLinePrice {
                    line_id: l.id.clone(),
                    sellers_item_id: l.sellers_item_id.clone(),
                    buyers_item_id: l.buyers_item_id.clone(),
                    standard_item_id: l.standard_item_id.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    amount: l.amount,
                })
                .collect(),
        };
        let obligation = Obligation {
            administration: administration.id.clone(),
            reference: order.number.clone(),
            supplier: supplier.clone(),
            amount: order.net_total,
            open_balance: order.net_total,
            blocked: false,
        };
        let current_order = repo.order(&administration.id, &order.number).await?;
        let current_obligation = repo.obligation(&obligation.key()).await?;
        if current_order.as_ref().is_some_and(|o| o.value == stored) {
            // Already applied by an earlier delivery.
        } else {
            let mut next_obligation = obligation.clone();
            if let Some(current) = &current_obligation {
                // A changed order: what was consumed stays consumed.
                let consumed = current.value.amount - current.value.open_balance;
                next_obligation.open_balance = (obligation.amount - consumed).max(Decimal::ZERO);
                next_obligation.blocked = current.value.blocked;
            }
            let ops = vec![
                Repository::order_op(&stored, current_order.as_ref().map(|o| o.version))?,
                Repository::obligation_op(&next_obligation, current_obligation.as_ref().map(|o| o.version))?,
            ];
            repo.transact(ops).await.map_err(conflict_is_deferred)?;
        }
        let archive = ObjectKey::parse(format!(
            "archive/{}/orders/{}-{}",
            administration.id,
            &sha[..16],
            key.file_name()
        ))
        .map_err(|e| StageError::Unexpected(e.into()))?;
        self.ports().bucket.put(&archive, bytes.to_vec(), "application/xml").await?;
        self.finish(key, sha).await?;
        Ok(IngestOutcome::MasterData { what })
    }

    async fn ingest_receipt_advice(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        sha: &str,
        tree: &Document,
    ) -> Result<IngestOutcome, StageError> {
        let advice = match parse_receipt_advice(tree) {
            Ok(advice) => advice,
            Err(e) => {
                let refusal = Refusal::new(
                    format!("the UBL receipt advice cannot be read: {e}"),
                    "Correct it and drop it again.",
                );
                return self.reject(key, Some(sha), refusal).await;
            }
        };
        let Some(administration) = self.administration_of(&advice.customer) else {
            let refusal = Refusal::new(
                format!(
                    "the receiving party of receipt advice {} is none of the administrations in the configuration",
                    advice.number
                ),
                format!("Delivery customer: {}.", describe_party(&advice.customer)),
            );
            return self.reject(key, Some(sha), refusal).await;
        };
        let repo = self.repository();
        let Some(order) = repo.order(&administration.id, &advice.order_number).await? else {
            // The order may still be on its way (messages arrive in any order): try again later;
            // after the queue's receive limit it is a dead letter, listed in the report.
            return Err(StageError::Deferred(format!(
                "receipt advice {} refers to order {}, which has not been received yet",
                advice.number, advice.order_number
            )));
        };
        let what = format!(
            "receipt advice {} of order {} for {}",
            advice.number, advice.order_number, administration.name
        );
        let file = FileRecord {
            sha256: sha.to_owned(),
            source_key: key.as_str().to_owned(),
            at: self.now(),
            outcome: FileOutcome::MasterData { what: what.clone() },
            completed: false,
        };
        if let Some(other) = repo.create_file(&file).await?
            && other.value.source_key != key.as_str()
        {
            let refusal = self.duplicate_file(&other.value).await?;
            return self.reject(key, Some(sha), refusal).await;
        }
        let mut receipts: Vec<GoodsReceipt> = Vec::new();
        for line in &advice.lines {
            let priced =
                order.value.lines.iter().find(|o| Some(&o.line_id) == line.order_line_id.as_ref()).or_else(
                    || {
                        order.value.lines.iter().find(|o| {
                            let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
                            same(&o.sellers_item_id, &line.sellers_item_id)
                                || same(&o.buyers_item_id, &line.buyers_item_id)
                                || same(&o.standard_item_id, &line.standard_item_id)
                        })
                    },
                );
            let Some(priced) = priced else {
                let refusal = Refusal::new(
                    format!("receipt line {} matches no line of order {}", line.id, advice.order_number),
                    "Each receipt line must name its order line (OrderLineReference/LineID) or the same item id.",
                );
                return self.reject(key, Some(sha), refusal).await;
            };
            let value = (priced.unit_price * line.quantity).round_dp(2);
            match receipts.iter_mut().find(|r| r.line_id == priced.line_id) {
                Some(existing) => {
                    existing.quantity_received += line.quantity;
                    existing.amount += value;
                }
                None => receipts.push(GoodsReceipt {
                    administration: administration.id.clone(),
                    order_number: advice.order_number.clone(),
                    line_id: priced.line_id.clone(),
                    sellers_item_id: priced.sellers_item_id.clone().or(line.sellers_item_id.clone()),
                    buyers_item_id: priced.buyers_item_id.clone().or(line.buyers_item_id.clone()),
                    standard_item_id: priced.standard_item_id.clone().or(line.standard_item_id.clone()),
                    quantity_received: line.quantity,
                    quantity_invoiced: Decimal::ZERO,
                    unit_price: priced.unit_price,
                    amount: value,
                    date: advice.issue_date,
                }),
            }
        }
        // One transaction: a marker item (so the same advice is never added twice), the receipt
        // lines (added to earlier deliveries of the same order line), and the order's obligation
        // reduced by what arrived.
        let marker = ledgerpost_ports::Item::new(
            ledgerpost_ports::ItemKey::new(
                format!("RECEIPTADVICE#{}#{}", administration.id, crate::repository::esc(&advice.number)),
                "RECEIPTADVICE",
            ),
            serde_json::json!({ "order": advice.order_number, "sha256": sha }),
        );
        let mut ops = vec![TransactOp::Put(marker)];
        let mut received_value = Decimal::ZERO;
        for receipt in &receipts {
            received_value += receipt.amount;
            match repo.receipt(&receipt.key()).await? {
                None => ops.push(Repository::receipt_op(receipt, None)?),
                Some(current) => {
                    let mut next = current.value.clone();
                    next.quantity_received += receipt.quantity_received;
                    next.amount += receipt.amount;
                    ops.push(Repository::receipt_op(&next, Some(current.version))?);
                }
            }
        }
        let obligation_key = ledgerpost_domain::masterdata::ObligationKey {
            administration: administration.id.clone(),
            reference: advice.order_number.clone(),
            supplier: order.value.supplier.clone(),
        };
        if let Some(current) = repo.obligation(&obligation_key).await? {
            let mut next = current.value.clone();
            next.open_balance = (next.open_balance - received_value).max(Decimal::ZERO);
            ops.push(Repository::obligation_op(&next, Some(current.version))?);
        }
        match repo.transact(ops).await {
            Ok(()) => {}
            // The marker exists: an earlier delivery applied this advice.
            Err(ledgerpost_ports::StoreError::ConditionFailed { op: Some(0), .. }) => {}
            Err(e) => return Err(conflict_is_deferred(e)),
        }
        let archive = ObjectKey::parse(format!(
            "archive/{}/receipts/{}-{}",
            administration.id,
            &sha[..16],
            key.file_name()
        ))
        .map_err(|e| StageError::Unexpected(e.into()))?;
        self.ports().bucket.put(&archive, bytes.to_vec(), "application/xml").await?;
        self.finish(key, sha).await?;
        Ok(IngestOutcome::MasterData { what })
    }
}

/// A failed condition on master data means another writer got there first: retry later.
fn conflict_is_deferred(e: ledgerpost_ports::StoreError) -> StageError {
    if e.is_condition_failed() {
        StageError::Deferred(format!("master data changed meanwhile ({e})"))
    } else {
        e.into()
    }
}

fn ubl_ruleset(r: ledgerpost_domain::config::Ruleset) -> rules::Ruleset {
    match r {
        ledgerpost_domain::config::Ruleset::En16931 => rules::Ruleset::En16931,
        ledgerpost_domain::config::Ruleset::Peppol => rules::Ruleset::Peppol,
    }
}

fn ruleset_name(r: rules::Ruleset) -> &'static str {
    match r {
        rules::Ruleset::En16931 => "EN 16931",
        rules::Ruleset::Peppol => "EN 16931 and Peppol BIS Billing 3.0",
    }
}

/// `archive/<administration>/<issue year>/<invoice id>.xml`.
fn archive_key(
    administration: &AdministrationId,
    invoice: &Invoice,
    id: &InvoiceId,
) -> Result<ObjectKey, StageError> {
    ObjectKey::parse(format!("archive/{administration}/{}/{id}.xml", invoice.issue_date.year()))
        .map_err(|e| StageError::Unexpected(e.into()))
}

/// An earlier document, as a person would name it.
pub(crate) fn describe_original(record: &InvoiceRecord) -> String {
    let kind = match record.kind {
        ledgerpost_ubl::model::DocumentKind::Invoice => "invoice",
        ledgerpost_ubl::model::DocumentKind::CreditNote => "credit note",
    };
    format!(
        "{kind} {} of {} dated {} ({} {}), received {}",
        record.number,
        record.counterparty,
        record.issue_date,
        record.currency,
        record.payable,
        record.received_at.format("%Y-%m-%d %H:%M UTC")
    )
}
