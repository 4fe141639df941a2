//! The send-batch stage: the day's e-mails to the accounting software's mailboxes, and the run
//! report.
//!
//! For each administration and journal (sales invoices, credit notes, purchases):
//! - **selection** by index, never a scan: `gsi1 = SEND#<adm>#<journal>#ready` holds exactly the
//!   journaled (and, where required, approved) documents not yet sent, in issue-date order.
//!   Documents dated before the start date are skipped (and reported); those whose delay has not
//!   passed wait;
//! - **attachments** per journal (xml, pdf or both): the original XML from the archive; the PDFs
//!   the invoice embedded, else one rendered from the invoice when configured. A document with
//!   no attachment at all is not sent and is an error in the report;
//! - **batches** of N documents per e-mail, plain or as one ZIP; at most the cap of e-mails per run
//!   for sales (sales invoices and credit notes together) and for purchases; what is left waits;
//! - **at most once**: a batch is claimed (one transaction: the batch item and every document's
//!   send state, each on its version) before it is handed to the mailer, and marked sent after. A
//!   batch found claimed by a later run was left by a run that stopped in between: it may or may
//!   not have gone out, so it is never sent again automatically; it becomes "in doubt" and every
//!   report lists it with its documents until a person resolves it ([`Pipeline::resolve_batch`]).
//!   A mailer answer of "throttled" or "unavailable" (nothing sent) is retried with backoff; an
//!   unknown outcome is in doubt at once; a refusal releases the documents and is an error;
//! - **no overlap**: the run holds the `send-batch` lease; a second run at the same time is
//!   refused, so the caps hold across a scheduled and a manual run;
//! - **dry run**: the same selection and report, nothing claimed, sent, marked or stored;
//! - the **report** (the export crate's `RunReport`): also rejected files not reported before,
//!   invoices waiting for a person, and dead letters; e-mailed to the reports address and stored
//!   as the run.
//!
//! Recipients come only from the configuration.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use ledgerpost_domain::config::{Administration, AttachmentKind};
use ledgerpost_domain::ids::{AdministrationId, InvoiceId};
use ledgerpost_export::report::{
    DocumentError, DocumentRef, InDoubtBatch, JournalReport, ManualInvoice, RejectedFile as ReportedFile,
    SkippedDocument,
};
use ledgerpost_export::{Email, Mailbox, RunReport, SkipReason};
use ledgerpost_ports::{
    EnvelopeAddress, Index, KeyQuery, LeaseError, LeaseGrant, MailError, ObjectKey, OutgoingEmail, TransactOp,
};
use ledgerpost_ubl::model::Invoice;

use crate::error::StageError;
use crate::repository::{
    BatchDocument, BatchRecord, BatchState, InvoiceRecord, Journal, RunRecord, SendState, StatusKey,
    Versioned, send_index_pk, versioned,
};
use crate::{Pipeline, fresh_id, queues};

/// The lease that keeps runs from overlapping.
pub const LEASE_NAME: &str = "send-batch";
/// How long a run holds the lease before renewing it (renewed after every e-mail).
pub const LEASE_TTL: Duration = Duration::from_secs(15 * 60);
/// Attempts per e-mail when the mail service throttles or is unreachable.
pub const SEND_ATTEMPTS: u32 = 5;
/// Most documents in one e-mail: one batch is claimed in one transaction.
pub const MAX_DOCUMENTS_PER_EMAIL: usize = ledgerpost_ports::store::MAX_TRANSACT_OPS - 1;
/// Index items read per page while selecting.
const SELECTION_PAGE: usize = 100;

/// Renders a PDF of an invoice that embeds none.
pub trait PdfRenderer: Send + Sync {
    fn render(&self, invoice: &Invoice) -> Result<Vec<u8>, String>;
}

/// The export crate's rendition.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExportPdf;

impl PdfRenderer for ExportPdf {
    fn render(&self, invoice: &Invoice) -> Result<Vec<u8>, String> {
        ledgerpost_export::render_invoice(invoice).map_err(|e| e.to_string())
    }
}

/// How a run is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Select and report only.
    pub dry_run: bool,
    /// Only this administration.
    pub administration: Option<AdministrationId>,
}

/// Why a run did not take place.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("another send-batch run ({by}) is in progress until {until}; try again later")]
    Overlap { by: String, until: DateTime<Utc> },
    #[error("no administration {0} in the configuration")]
    UnknownAdministration(AdministrationId),
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error(transparent)]
    Stage(#[from] StageError),
}

/// A document selected for sending, with its files.
struct Prepared {
    record: Versioned<InvoiceRecord>,
    files: Vec<(String, String, Vec<u8>)>,
}

fn report_journal(journal: Journal) -> ledgerpost_export::Journal {
    match journal {
        Journal::Sales => ledgerpost_export::Journal::Sales,
        Journal::CreditNotes => ledgerpost_export::Journal::CreditNotes,
        Journal::Purchases => ledgerpost_export::Journal::Purchases,
    }
}

fn document_ref(record: &InvoiceRecord) -> DocumentRef {
    DocumentRef::new(record.id.as_str(), record.number.clone())
        .party(record.counterparty.clone())
        .issue_date(record.issue_date)
}

fn batch_document_ref(d: &BatchDocument) -> DocumentRef {
    DocumentRef::new(d.invoice.as_str(), d.number.clone())
        .party(d.counterparty.clone())
        .issue_date(d.issue_date)
}

impl Pipeline {
    fn address_for(&self, journal: Journal) -> &ledgerpost_domain::ids::EmailAddress {
        let addresses = &self.config().export.addresses;
        match journal {
            Journal::Sales => &addresses.sales,
            Journal::CreditNotes => &addresses.credit_notes,
            Journal::Purchases => &addresses.purchases,
        }
    }

    fn attachment_kind(&self, journal: Journal) -> AttachmentKind {
        let attachments = &self.config().export.attachments;
        match journal {
            Journal::Sales => attachments.sales,
            Journal::CreditNotes => attachments.credit_notes,
            Journal::Purchases => attachments.purchases,
        }
    }

    /// Runs send-batch once (see the module documentation). The report is returned in every
    /// case; it is mailed and stored unless this is a dry run.
    pub async fn send_batch(&self, options: SendOptions) -> Result<RunReport, SendError> {
        self.send_batch_with(options, &ExportPdf).await
    }

    /// [`Pipeline::send_batch`] with another PDF renderer.
    pub async fn send_batch_with(
        &self,
        options: SendOptions,
        pdf: &dyn PdfRenderer,
    ) -> Result<RunReport, SendError> {
        let started = self.now();
        let run_id = fresh_id("run-", started);
        let administrations: Vec<&Administration> = match &options.administration {
            Some(id) => {
                vec![self.administration(id).ok_or_else(|| SendError::UnknownAdministration(id.clone()))?]
            }
            None => self.config().administrations.iter().collect(),
        };
        let mut report = RunReport::new(run_id.clone(), started, options.dry_run);
        report.administration_filter = options.administration.as_ref().map(|a| a.to_string());
        let mut lease = if options.dry_run {
            None
        } else {
            match self.ports().lease.acquire(LEASE_NAME, &run_id, LEASE_TTL).await {
                Ok(grant) => Some(grant),
                Err(LeaseError::Held { by, until, .. }) => return Err(SendError::Overlap { by, until }),
                Err(e) => return Err(e.into()),
            }
        };
        let result = self.run(&options, &administrations, &run_id, &mut report, &mut lease, pdf).await;
        if let Err(e) = &result {
            report.errors.push(format!("the run stopped early: {e}"));
        }
        report.finished = self.now();
        let finish = self.finish_run(&options, &run_id, &mut report).await;
        if let Some(grant) = lease
            && let Err(e) = self.ports().lease.release(grant).await
        {
            tracing::warn!(error = %e, "the send lease could not be released; it expires by itself");
        }
        finish?;
        Ok(report)
    }

    async fn run(
        &self,
        options: &SendOptions,
        administrations: &[&Administration],
        run_id: &str,
        report: &mut RunReport,
        lease: &mut Option<LeaseGrant>,
        pdf: &dyn PdfRenderer,
    ) -> Result<(), StageError> {
        self.collect_in_doubt(options, administrations, report).await?;
        let export = &self.config().export;
        let per_email = export.documents_per_email as usize;
        if per_email > MAX_DOCUMENTS_PER_EMAIL {
            report.errors.push(format!(
                "export.documents_per_email is {per_email}; at most {MAX_DOCUMENTS_PER_EMAIL} documents fit one e-mail batch: nothing was sent"
            ));
            return Ok(());
        }
        let mut sales_left = export.max_emails_per_run.sales as usize;
        let mut purchases_left = export.max_emails_per_run.purchases as usize;
        let today = self.ports().clock.today();
        for administration in administrations {
            let admin_report = report.administration_mut(administration.id.as_str());
            admin_report.name = Some(administration.name.clone());
            for journal in Journal::ALL {
                let left = if journal.is_sales_side() { &mut sales_left } else { &mut purchases_left };
                let mut journal_report = std::mem::replace(
                    report
                        .administration_mut(administration.id.as_str())
                        .journal_mut(report_journal(journal)),
                    JournalReport::new(report_journal(journal)),
                );
                let outcome = self
                    .send_journal(
                        options,
                        administration,
                        journal,
                        today,
                        run_id,
                        left,
                        &mut journal_report,
                        lease,
                        pdf,
                    )
                    .await;
                *report.administration_mut(administration.id.as_str()).journal_mut(report_journal(journal)) =
                    journal_report;
                outcome?;
            }
            let waiting = self.waiting_for_manual(&administration.id).await?;
            report.administration_mut(administration.id.as_str()).waiting_for_manual = waiting;
        }
        Ok(())
    }

    /// Batches left claimed by a run that stopped become in doubt; every batch in doubt is listed.
    async fn collect_in_doubt(
        &self,
        options: &SendOptions,
        administrations: &[&Administration],
        report: &mut RunReport,
    ) -> Result<(), StageError> {
        let repo = self.repository();
        let wanted = |b: &BatchRecord| administrations.iter().any(|a| a.id == b.administration);
        for claimed in repo.batches_in_state(BatchState::Claimed.as_str()).await? {
            if !wanted(&claimed.value) {
                continue;
            }
            // Read it again: the index may be behind.
            let Some(current) = repo.batch(&claimed.value.id).await? else { continue };
            if current.value.state != BatchState::Claimed {
                continue;
            }
            if !options.dry_run {
                let mut next = current.value.clone();
                next.state = BatchState::InDoubt;
                next.note = Some("claimed by a run that stopped before marking it sent".into());
                match repo.store().put_if_version(next.to_item()?, current.version).await {
                    Ok(_) => {}
                    Err(e) if e.is_condition_failed() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            push_in_doubt(report, &current.value);
        }
        for in_doubt in repo.batches_in_state(BatchState::InDoubt.as_str()).await? {
            if wanted(&in_doubt.value) && !already_listed(report, &in_doubt.value.id) {
                push_in_doubt(report, &in_doubt.value);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_journal(
        &self,
        options: &SendOptions,
        administration: &Administration,
        journal: Journal,
        today: NaiveDate,
        run_id: &str,
        left: &mut usize,
        out: &mut JournalReport,
        lease: &mut Option<LeaseGrant>,
        pdf: &dyn PdfRenderer,
    ) -> Result<(), StageError> {
        let export = &self.config().export;
        let repo = self.repository();
        // Selection: the index page by page, keeping only the ids of what may go. The records
        // and their files are read again one batch at a time, so a run's memory does not grow
        // with the number of documents it sends.
        let mut eligible: Vec<InvoiceId> = Vec::new();
        let mut query =
            KeyQuery::new(send_index_pk(&administration.id, journal, "ready")).limit(SELECTION_PAGE);
        loop {
            let page = repo.store().query_index(Index::Gsi1, &query).await?;
            for item in &page.items {
                let record: Versioned<InvoiceRecord> = versioned(item)?;
                let doc = document_ref(&record.value);
                if export.start_date.is_some_and(|start| record.value.issue_date < start) {
                    out.skipped.push(SkippedDocument { document: doc, reason: SkipReason::BeforeStartDate });
                    continue;
                }
                let until = record
                    .value
                    .issue_date
                    .checked_add_days(Days::new(u64::from(export.delay_days)))
                    .unwrap_or(NaiveDate::MAX);
                if until > today {
                    out.skipped.push(SkippedDocument {
                        document: doc,
                        reason: SkipReason::DelayNotPassed { until },
                    });
                    continue;
                }
                eligible.push(record.value.id);
            }
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => break,
            }
        }
        if journal == Journal::Purchases {
            for pending in repo.invoices_in_status(&administration.id, StatusKey::ApprovalPending).await? {
                out.skipped.push(SkippedDocument {
                    document: document_ref(&pending.value),
                    reason: SkipReason::NotApproved,
                });
            }
        }
        let per_email = export.documents_per_email as usize;
        // Errors of the preparation are listed before those of the sending, as when every
        // document was prepared first.
        let errors_before = out.errors.len();
        let mut preparation_errors = Vec::new();
        let mut pending = eligible.into_iter();
        loop {
            // The next batch: documents in index order, each with its files; a document without
            // any is an error and takes no place in a batch.
            let mut batch: Vec<Prepared> = Vec::with_capacity(per_email);
            while batch.len() < per_email {
                let Some(id) = pending.next() else { break };
                // Read now: the claim writes on this version, so a change since is caught there.
                let Some(record) = repo.invoice(&id).await? else { continue };
                match self.files_for(&record.value, journal, pdf).await {
                    Ok(files) if files.is_empty() => out.skipped.push(SkippedDocument {
                        document: document_ref(&record.value),
                        reason: SkipReason::NoAttachment,
                    }),
                    Ok(files) => batch.push(Prepared { record, files }),
                    Err(reason) => preparation_errors.push(DocumentError {
                        document: Some(document_ref(&record.value)),
                        file: None,
                        reason,
                    }),
                }
            }
            if batch.is_empty() {
                break;
            }
            if *left == 0 {
                out.waiting_for_cap += batch.len() as u32;
                continue;
            }
            *left -= 1;
            if options.dry_run {
                out.emails_sent += 1;
                out.documents_sent += batch.len() as u32;
                continue;
            }
            if let Some(grant) = lease.as_ref() {
                match self.ports().lease.renew(grant, LEASE_TTL).await {
                    Ok(renewed) => *lease = Some(renewed),
                    Err(e) => {
                        insert_errors(out, errors_before, preparation_errors);
                        return Err(StageError::Unexpected(anyhow::anyhow!("the send lease was lost: {e}")));
                    }
                }
            }
            let sent = self.send_one(administration, journal, run_id, batch, out).await;
            if sent.is_err() {
                insert_errors(out, errors_before, preparation_errors);
                return sent;
            }
            let rate = export.send_rate.to_string().parse::<f64>().unwrap_or(1.0);
            if rate > 0.0 {
                self.ports().sleeper.sleep(Duration::from_secs_f64(1.0 / rate)).await;
            }
        }
        insert_errors(out, errors_before, preparation_errors);
        Ok(())
    }

    /// The files of one document for `journal`, or an error for the report.
    async fn files_for(
        &self,
        record: &InvoiceRecord,
        journal: Journal,
        pdf: &dyn PdfRenderer,
    ) -> Result<Vec<(String, String, Vec<u8>)>, String> {
        let kind = self.attachment_kind(journal);
        let base = ledgerpost_export::safe_filename(&record.number, "invoice");
        let mut files = Vec::new();
        let read = |key: String| async move {
            let key = ObjectKey::parse(key).map_err(|e| e.to_string())?;
            self.ports().bucket.get(&key, u64::MAX).await.map_err(|e| format!("{key}: {e}"))
        };
        if matches!(kind, AttachmentKind::Xml | AttachmentKind::Both) {
            match read(record.file.archive_key.clone()).await {
                Ok(bytes) => files.push((format!("{base}.xml"), "application/xml".to_owned(), bytes)),
                Err(e) => tracing::warn!(invoice = %record.id, error = %e, "the archived XML is missing"),
            }
        }
        if matches!(kind, AttachmentKind::Pdf | AttachmentKind::Both) {
            let embedded: Vec<_> = record.attachments.iter().filter(|a| a.is_pdf()).collect();
            for attachment in &embedded {
                match read(attachment.key.clone()).await {
                    Ok(bytes) => {
                        files.push((attachment.filename.clone(), "application/pdf".to_owned(), bytes))
                    }
                    Err(e) => tracing::warn!(invoice = %record.id, error = %e, "an embedded PDF is missing"),
                }
            }
            if embedded.is_empty() && self.config().export.render_pdf_when_missing {
                let invoice = self.repository().invoice_document(record).await.map_err(|e| e.to_string())?;
                match pdf.render(&invoice) {
                    Ok(bytes) => files.push((format!("{base}.pdf"), "application/pdf".to_owned(), bytes)),
                    Err(e) => {
                        tracing::warn!(invoice = %record.id, error = %e, "the PDF could not be rendered")
                    }
                }
            }
        }
        Ok(files)
    }

    /// Claims, sends and marks one batch.
    async fn send_one(
        &self,
        administration: &Administration,
        journal: Journal,
        run_id: &str,
        batch: Vec<Prepared>,
        out: &mut JournalReport,
    ) -> Result<(), StageError> {
        let repo = self.repository();
        let now = self.now();
        let batch_id = fresh_id(&format!("{}-{}-", administration.id, journal.as_str()), now);
        let recipient = self.address_for(journal).clone();
        let numbers: Vec<&str> = batch.iter().map(|d| d.record.value.number.as_str()).collect();
        let subject = format!(
            "{} — {} {}",
            administration.name,
            report_journal(journal).label().to_lowercase(),
            numbers.join(", ")
        );
        let raw = match self.compose(&batch_id, &recipient, &subject, &batch, now) {
            Ok(raw) => raw,
            Err(reason) => {
                for document in &batch {
                    out.errors.push(DocumentError {
                        document: Some(document_ref(&document.record.value)),
                        file: None,
                        reason: reason.clone(),
                    });
                }
                return Ok(());
            }
        };
        let documents: Vec<BatchDocument> = batch
            .iter()
            .map(|d| BatchDocument {
                invoice: d.record.value.id.clone(),
                number: d.record.value.number.clone(),
                counterparty: d.record.value.counterparty.clone(),
                issue_date: d.record.value.issue_date,
                files: d.files.iter().map(|f| f.0.clone()).collect(),
            })
            .collect();
        let mut record = BatchRecord {
            id: batch_id.clone(),
            run: run_id.to_owned(),
            administration: administration.id.clone(),
            journal,
            state: BatchState::Claimed,
            documents,
            recipient: recipient.to_string(),
            subject: subject.clone(),
            claimed_at: now,
            sent_at: None,
            message_id: None,
            note: None,
        };

        // Claim: the batch and every document's send state, each on the version read now.
        let mut claim = vec![TransactOp::Put(record.to_item()?)];
        let mut claimed = Vec::new();
        for document in &batch {
            // Read when the batch was put together, after the selection.
            let current = &document.record;
            if current.value.send != SendState::Ready {
                out.errors.push(DocumentError {
                    document: Some(document_ref(&current.value)),
                    file: None,
                    reason: "its send state changed while the run was selecting: left for the next run"
                        .into(),
                });
                return Ok(());
            }
            let mut next = current.value.clone();
            next.send = SendState::Claimed { batch: batch_id.clone() };
            claim.push(TransactOp::Update { item: next.to_item()?, version: current.version });
            claimed.push(Versioned { value: next, version: current.version + 1 });
        }
        match repo.transact(claim).await {
            Ok(()) => {}
            Err(e) if e.is_condition_failed() => {
                for document in &batch {
                    out.errors.push(DocumentError {
                        document: Some(document_ref(&document.record.value)),
                        file: None,
                        reason: "changed while being claimed: left for the next run".into(),
                    });
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }

        // Send, retrying only what certainly did not go out.
        let from = EnvelopeAddress::parse(self.config().export.from.as_str())
            .map_err(|e| StageError::Unexpected(e.into()))?;
        let to = EnvelopeAddress::parse(recipient.as_str()).map_err(|e| StageError::Unexpected(e.into()))?;
        let email = OutgoingEmail { from, to: vec![to], raw };
        let outcome = self.send_with_backoff(&email).await;
        let now = self.now();
        match outcome {
            Ok(message_id) => {
                record.state = BatchState::Sent;
                record.sent_at = Some(now);
                record.message_id = Some(message_id.to_string());
                let mut mark = vec![TransactOp::Update { item: record.to_item()?, version: 1 }];
                for document in &claimed {
                    let mut next = document.value.clone();
                    next.send = SendState::Sent { batch: batch_id.clone(), at: now };
                    next.log(now, format!("sent to {recipient} in batch {batch_id}"));
                    mark.push(TransactOp::Update { item: next.to_item()?, version: document.version });
                }
                match repo.transact(mark).await {
                    Ok(()) => {
                        out.emails_sent += 1;
                        out.documents_sent += batch.len() as u32;
                    }
                    Err(e) => {
                        // Sent, but not marked: the next run finds it claimed and lists it in doubt.
                        tracing::error!(batch = %batch_id, error = %e, "sent but not marked");
                        out.in_doubt.push(in_doubt_entry(&record));
                    }
                }
            }
            Err(MailError::InDoubt { context, .. }) => {
                record.state = BatchState::InDoubt;
                record.note = Some(format!("the mail service's answer is unknown: {context}"));
                match repo.store().put_if_version(record.to_item()?, 1).await {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(batch = %batch_id, error = %e, "in doubt, and not marked so; the next run will")
                    }
                }
                out.in_doubt.push(in_doubt_entry(&record));
            }
            Err(e) => {
                // Certainly not sent: the documents are ready again.
                record.state = BatchState::Released;
                record.note = Some(format!("not sent: {e}"));
                let mut release = vec![TransactOp::Update { item: record.to_item()?, version: 1 }];
                for document in &claimed {
                    let mut next = document.value.clone();
                    next.send = SendState::Ready;
                    release.push(TransactOp::Update { item: next.to_item()?, version: document.version });
                }
                if let Err(store) = repo.transact(release).await {
                    tracing::error!(batch = %batch_id, error = %store, "not sent, and the claim could not be released");
                }
                for document in &batch {
                    out.errors.push(DocumentError {
                        document: Some(document_ref(&document.record.value)),
                        file: None,
                        reason: format!("not sent ({e}); it goes out with a later run"),
                    });
                }
            }
        }
        Ok(())
    }

    async fn send_with_backoff(
        &self,
        email: &OutgoingEmail,
    ) -> Result<ledgerpost_ports::MailMessageId, MailError> {
        let mut wait = Duration::from_secs(1);
        let mut attempt = 1;
        loop {
            match self.ports().mailer.send_raw(email).await {
                Ok(id) => return Ok(id),
                Err(MailError::Throttled { retry_after, .. }) if attempt < SEND_ATTEMPTS => {
                    self.ports().sleeper.sleep(retry_after.unwrap_or(wait).max(wait)).await;
                }
                Err(MailError::Unavailable { .. }) if attempt < SEND_ATTEMPTS => {
                    self.ports().sleeper.sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
            wait *= 2;
        }
    }

    /// The raw e-mail of one batch.
    fn compose(
        &self,
        batch_id: &str,
        recipient: &ledgerpost_domain::ids::EmailAddress,
        subject: &str,
        batch: &[Prepared],
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, String> {
        let from = Mailbox::new(self.config().export.from.as_str())
            .map_err(|e| e.to_string())?
            .with_name("ledgerpost");
        let to = Mailbox::new(recipient.as_str()).map_err(|e| e.to_string())?;
        let mut text = format!("{} document(s), batch {batch_id}:\n\n", batch.len());
        for document in batch {
            let r = &document.record.value;
            text.push_str(&format!(
                "- {} {} of {} dated {}, {} {}: {}\n",
                match r.kind {
                    ledgerpost_ubl::model::DocumentKind::Invoice => "invoice",
                    ledgerpost_ubl::model::DocumentKind::CreditNote => "credit note",
                },
                r.number,
                ledgerpost_export::single_line(&r.counterparty),
                r.issue_date,
                r.currency,
                r.payable,
                document.files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut email = Email::new(from, vec![to], now).subject(subject).text(text).batch(batch_id);
        if self.config().export.zip {
            let files = batch
                .iter()
                .flat_map(|d| d.files.iter().map(|(name, _, bytes)| (name.as_str(), bytes.as_slice())));
            let zipped = ledgerpost_export::zip_files(files).map_err(|e| e.to_string())?;
            email = email.attach(ledgerpost_export::Attachment::new(
                format!("{batch_id}.zip"),
                "application/zip",
                zipped.bytes,
            ));
        } else {
            for document in batch {
                for (name, content_type, bytes) in &document.files {
                    email = email.attach(ledgerpost_export::Attachment::new(
                        name.clone(),
                        content_type.clone(),
                        bytes.clone(),
                    ));
                }
            }
        }
        email.to_bytes().map_err(|e| e.to_string())
    }

    async fn waiting_for_manual(
        &self,
        administration: &AdministrationId,
    ) -> Result<Vec<ManualInvoice>, StageError> {
        let mut waiting = Vec::new();
        for record in self.repository().invoices_in_status(administration, StatusKey::Manual).await? {
            let open = match self.repository().matching(&record.value).await? {
                Some(state) => state.lines().iter().filter(|l| !l.is_processed()).count() as u32,
                None => record.value.line_count,
            };
            waiting.push(ManualInvoice {
                invoice_id: record.value.id.to_string(),
                number: record.value.number.clone(),
                supplier: record.value.counterparty.clone(),
                issue_date: Some(record.value.issue_date),
                unmatched_lines: open,
            });
        }
        Ok(waiting)
    }

    /// Rejected files and dead letters into the report; then (not in a dry run) the report is
    /// mailed and stored, and what it listed is marked reported.
    async fn finish_run(
        &self,
        options: &SendOptions,
        run_id: &str,
        report: &mut RunReport,
    ) -> Result<(), StageError> {
        let repo = self.repository();
        let rejected = repo.unreported_rejections().await?;
        for file in &rejected {
            report.rejected_files.push(ReportedFile {
                key: file.value.rejected_key.clone(),
                reason: file.value.reason.clone(),
                at: file.value.at,
            });
        }
        let mut dead = Vec::new();
        for queue in queues::ALL {
            let visibility = if options.dry_run { Duration::ZERO } else { Duration::from_secs(300) };
            loop {
                let letters = self.ports().queue.dead_letters(queue, 10, visibility).await?;
                if letters.is_empty() || options.dry_run {
                    for letter in &letters {
                        report.errors.push(dead_letter_text(queue, letter));
                    }
                    break;
                }
                for letter in letters {
                    report.errors.push(dead_letter_text(queue, &letter));
                    dead.push((queue, letter));
                }
            }
        }
        if options.dry_run {
            return Ok(());
        }
        let text = report.render_text();
        let html = report.render_html();
        let from = Mailbox::new(self.config().export.from.as_str())
            .map_err(|e| StageError::Unexpected(anyhow::anyhow!("{e}")))?
            .with_name("ledgerpost");
        let to_address = &self.config().export.addresses.reports;
        let to =
            Mailbox::new(to_address.as_str()).map_err(|e| StageError::Unexpected(anyhow::anyhow!("{e}")))?;
        let raw = Email::new(from, vec![to], report.finished)
            .subject(report.subject())
            .text(text.clone())
            .html(html)
            .to_bytes()
            .map_err(|e| StageError::Unexpected(anyhow::anyhow!("the report e-mail: {e}")))?;
        let email = OutgoingEmail {
            from: EnvelopeAddress::parse(self.config().export.from.as_str())
                .map_err(|e| StageError::Unexpected(e.into()))?,
            to: vec![
                EnvelopeAddress::parse(to_address.as_str()).map_err(|e| StageError::Unexpected(e.into()))?,
            ],
            raw,
        };
        if let Err(e) = self.send_with_backoff(&email).await {
            // The report is stored all the same; the next run's report still lists what matters.
            tracing::error!(error = %e, "the report e-mail was not sent");
        }
        let record = RunRecord {
            id: run_id.to_owned(),
            started_at: report.started,
            finished_at: report.finished,
            dry_run: false,
            report_text: text,
            report: serde_json::to_value(&*report).map_err(|e| StageError::Unexpected(e.into()))?,
        };
        repo.save_run(&record).await?;
        for file in &rejected {
            repo.mark_rejection_reported(file, run_id).await?;
        }
        for (queue, letter) in dead {
            self.ports().queue.delete_dead_letter(queue, &letter.receipt).await?;
        }
        Ok(())
    }
}

fn dead_letter_text(queue: &str, letter: &ledgerpost_ports::ReceivedMessage) -> String {
    format!(
        "a message on the {queue} queue failed {} times and was set aside (kept in the run record): {}",
        letter.receive_count,
        ledgerpost_export::single_line(&letter.body.chars().take(300).collect::<String>())
    )
}

/// Puts `errors` into the report's errors at `at`.
fn insert_errors(out: &mut JournalReport, at: usize, errors: Vec<DocumentError>) {
    let later = out.errors.split_off(at);
    out.errors.extend(errors);
    out.errors.extend(later);
}

fn in_doubt_entry(batch: &BatchRecord) -> InDoubtBatch {
    InDoubtBatch {
        batch_id: batch.id.clone(),
        documents: batch.documents.iter().map(batch_document_ref).collect(),
        claimed_at: batch.claimed_at,
    }
}

fn push_in_doubt(report: &mut RunReport, batch: &BatchRecord) {
    report
        .administration_mut(batch.administration.as_str())
        .journal_mut(report_journal(batch.journal))
        .in_doubt
        .push(in_doubt_entry(batch));
}

fn already_listed(report: &RunReport, batch_id: &str) -> bool {
    report
        .administrations
        .iter()
        .flat_map(|a| &a.journals)
        .flat_map(|j| &j.in_doubt)
        .any(|b| b.batch_id == batch_id)
}

/// Shared by tests: the PDF renderer that always fails (no PDF can be made).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPdf;

impl PdfRenderer for NoPdf {
    fn render(&self, _invoice: &Invoice) -> Result<Vec<u8>, String> {
        Err("no PDF renderer".into())
    }
}
