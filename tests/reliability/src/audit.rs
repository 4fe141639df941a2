//! Reads back everything a scenario left and checks the guarantees of the design:
//!
//! - **stored once**: every invoice is one item, archived once (the `archive/` objects are
//!   exactly the invoices' archive keys) with its attachments once;
//! - **journaled at most once**: no invoice's history says "journaled" twice, and every
//!   journaled invoice has one balanced entry;
//! - **e-mailed at most once**: the e-mails handed over (the outbox `.eml` files, or the raw
//!   messages SES was given), read as a person would (the batch header, the envelope, the
//!   document list in the body), name each invoice at most once, and
//!   an invoice e-mailed is never "ready" to go again;
//! - **nothing lost**: every input file is stored or under `rejected/` (once, with a reason file
//!   a person can read, and listed in a stored run report); every poison message is listed in a
//!   report; nothing waits on a queue or on a dead-letter list; no invoice is marked sent
//!   without its e-mail;
//! - **in doubt**: every document of a batch that was claimed and not marked sent is listed "in
//!   doubt" in the latest report, and is never e-mailed twice;
//! - **caps**: no stored run sent more e-mails than the caps.
//!
//! Each breach is one line in [`Audit::violations`]. The audit reads through a [`Backend`], so
//! the same checks run on the local adapters and on moto_server.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ledgerpost_export::RunReport;
use ledgerpost_pipeline::Pipeline;
use ledgerpost_pipeline::queues;
use ledgerpost_pipeline::repository::{BatchState, InvoiceRecord, Journal, SendState, StatusKey};
use ledgerpost_ports::{Bucket, ObjectKey};
use mail_parser::MessageParser;

use crate::backend::Backend;

/// A file dropped into the inbox.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Input {
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        Input { name: name.into(), bytes }
    }
}

/// A message sent straight to a queue that no stage can ever handle.
#[derive(Debug, Clone)]
pub struct Poison {
    pub queue: &'static str,
    pub body: String,
}

/// What became of one invoice, as compared between a scenario and its fault-free reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    /// Still in this pipeline status (received, waiting for a person, failed, …).
    Status(&'static str),
    /// Journaled and not (yet) sent.
    Journaled,
    /// E-mailed once and marked sent.
    Sent,
    /// Claimed by a batch that may or may not have gone out: listed in doubt, never resent.
    InDoubt,
}

/// Everything read back, and the breaches found.
#[derive(Debug, Default)]
pub struct Audit {
    /// Invoices by id.
    pub invoices: BTreeMap<String, InvoiceRecord>,
    pub fates: BTreeMap<String, Fate>,
    /// Input file name → its reason text, for the rejected inputs.
    pub rejected: BTreeMap<String, String>,
    /// Input file name → the invoice ids stored from it.
    pub stored_from: BTreeMap<String, Vec<String>>,
    /// Invoice id → how many document e-mails name it.
    pub emailed: BTreeMap<String, usize>,
    pub document_emails: usize,
    pub report_emails: usize,
    pub journaled: usize,
    /// Invoices whose batch is claimed or in doubt.
    pub in_doubt: BTreeSet<String>,
    /// The stored run reports, oldest first.
    pub runs: Vec<RunReport>,
    pub duplicates: usize,
    pub lost: usize,
    pub violations: Vec<String>,
}

impl Audit {
    fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    fn duplicate(&mut self, text: String) {
        self.duplicates += 1;
        self.violations.push(text);
    }

    fn lost(&mut self, text: String) {
        self.lost += 1;
        self.violations.push(text);
    }

    /// Panics with every breach, naming the scenario.
    pub fn assert_clean(&self, scenario: &str) {
        assert!(
            self.violations.is_empty(),
            "scenario {scenario}: {} breach(es):\n- {}",
            self.violations.len(),
            self.violations.join("\n- ")
        );
    }

    /// Every line of every stored report's general errors.
    pub fn report_errors(&self) -> Vec<&str> {
        self.runs.iter().flat_map(|r| r.errors.iter().map(String::as_str)).collect()
    }
}

async fn list_all(bucket: &dyn Bucket, prefix: &str) -> Vec<ObjectKey> {
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = bucket.list(prefix, after.as_ref(), 1000).await.expect("list the bucket");
        keys.extend(page.objects.into_iter().map(|o| o.key));
        match page.next {
            Some(next) => after = Some(next),
            None => return keys,
        }
    }
}

/// Reads back the state of `env` after a scenario fed it `inputs` and `poison`.
pub async fn audit<B: Backend + ?Sized>(env: &B, inputs: &[Input], poison: &[Poison]) -> Audit {
    let pipeline = env.pipeline();
    let mut audit = Audit::default();
    let repo = pipeline.repository();
    let bucket = pipeline.ports().bucket.clone();
    let config = pipeline.config().clone();

    // Invoices, by the status index of every administration.
    for administration in &config.administrations {
        for status in StatusKey::ALL {
            let records = repo.invoices_in_status(&administration.id, status).await.expect("read the index");
            for record in records {
                let id = record.value.id.as_str().to_owned();
                if audit.invoices.insert(id.clone(), record.value).is_some() {
                    audit.duplicate(format!("invoice {id} is stored twice"));
                }
            }
        }
    }
    let ids: Vec<String> = audit.invoices.keys().cloned().collect();

    // Runs, oldest first.
    let mut runs = repo.latest_runs(1000).await.expect("read the runs");
    runs.reverse();
    for run in &runs {
        match serde_json::from_value::<RunReport>(run.report.clone()) {
            Ok(report) => audit.runs.push(report),
            Err(e) => audit.violation(format!("run {} has an unreadable report: {e}", run.id)),
        }
    }

    // The e-mails handed over (the outbox, or what SES was given), as a person reads them.
    let addresses = &config.export.addresses;
    let parser = MessageParser::default();
    for sent in env.sent_emails().await {
        let Some(message) = parser.parse(&sent.raw) else {
            audit.violation(format!("{} is not an e-mail", sent.label));
            continue;
        };
        let envelope_to = sent.envelope_to.join(", ");
        let Some(batch_id) = message.header_raw(ledgerpost_export::email::BATCH_HEADER).map(str::trim) else {
            audit.report_emails += 1;
            if envelope_to != addresses.reports.as_str() {
                audit.violation(format!("a report e-mail went to {envelope_to:?}"));
            }
            continue;
        };
        audit.document_emails += 1;
        let Some(batch) = repo.batch(batch_id).await.expect("read a batch") else {
            audit.violation(format!("an e-mail names batch {batch_id}, which is not stored"));
            continue;
        };
        let expected_to = match batch.value.journal {
            Journal::Sales => &addresses.sales,
            Journal::CreditNotes => &addresses.credit_notes,
            Journal::Purchases => &addresses.purchases,
        };
        if envelope_to != expected_to.as_str() {
            audit.violation(format!("batch {batch_id} went to {envelope_to:?}, not {expected_to}"));
        }
        let body = message.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
        for document in &batch.value.documents {
            if !body.contains(&document.number) {
                audit.violation(format!("the e-mail of batch {batch_id} does not list {}", document.number));
            }
            *audit.emailed.entry(document.invoice.as_str().to_owned()).or_default() += 1;
        }
    }
    let emailed_twice: Vec<(String, usize)> =
        audit.emailed.iter().filter(|(_, n)| **n > 1).map(|(id, n)| (id.clone(), *n)).collect();
    for (id, n) in emailed_twice {
        audit.duplicate(format!("invoice {id} was e-mailed {n} times"));
    }

    // Each invoice: journaled at most once, sent ⇔ e-mailed, in doubt reported.
    let latest = audit.runs.last().cloned();
    for id in &ids {
        let record = audit.invoices[id].clone();
        let journal_events = record.history.iter().filter(|e| e.what.starts_with("journaled on")).count();
        if journal_events > 1 {
            audit.duplicate(format!("invoice {id} was journaled {journal_events} times"));
        }
        let entry = repo.entry(&record.id).await.expect("read an entry");
        if record.journal.is_some() {
            audit.journaled += 1;
            match &entry {
                Some(entry) if entry.is_balanced() => {}
                Some(_) => audit.violation(format!("the entry of invoice {id} does not balance")),
                None => audit.lost(format!("invoice {id} is journaled but has no entry")),
            }
            if journal_events != 1 {
                audit.violation(format!("invoice {id} is journaled with {journal_events} journal events"));
            }
        } else if entry.is_some() {
            audit.violation(format!("invoice {id} has an entry but is not journaled"));
        }
        let emailed = audit.emailed.get(id).copied().unwrap_or(0);
        let fate = match &record.send {
            SendState::Sent { batch, .. } => {
                if emailed == 0 {
                    audit.lost(format!(
                        "invoice {id} is marked sent in batch {batch}, but no e-mail names it"
                    ));
                }
                Fate::Sent
            }
            SendState::Claimed { batch } => {
                match repo.batch(batch).await.expect("read a batch") {
                    Some(b) if matches!(b.value.state, BatchState::Claimed | BatchState::InDoubt) => {}
                    other => audit.violation(format!(
                        "invoice {id} is claimed by batch {batch} in state {:?}",
                        other.map(|b| b.value.state)
                    )),
                }
                audit.in_doubt.insert(id.clone());
                let listed = latest.as_ref().is_some_and(|report| {
                    report
                        .administrations
                        .iter()
                        .flat_map(|a| &a.journals)
                        .flat_map(|j| &j.in_doubt)
                        .any(|b| b.batch_id == *batch && b.documents.iter().any(|d| d.id == *id))
                });
                if !listed {
                    audit.lost(format!(
                        "invoice {id} is claimed by batch {batch} but the latest report does not list it in doubt"
                    ));
                }
                Fate::InDoubt
            }
            SendState::Ready | SendState::NotReady | SendState::Withheld { .. } => {
                if emailed > 0 {
                    audit.duplicate(format!(
                        "invoice {id} was e-mailed but is {:?}: it could go out again",
                        record.send
                    ));
                }
                match record.status_key() {
                    StatusKey::Journaled => Fate::Journaled,
                    // Every queue is drained: an invoice still waiting for a stage never gets
                    // its message (a person's waiting states are fine).
                    stuck @ (StatusKey::Received | StatusKey::ToJournal) => {
                        audit.lost(format!(
                            "invoice {id} is stuck in {}: no stage will pick it up",
                            stuck.as_str()
                        ));
                        Fate::Status(stuck.as_str())
                    }
                    other => Fate::Status(other.as_str()),
                }
            }
        };
        audit.fates.insert(id.clone(), fate);
    }

    // Stored once: the archive and attachment objects are exactly those of the invoices.
    let expected_archive: BTreeSet<String> =
        audit.invoices.values().map(|r| r.file.archive_key.clone()).collect();
    let archive: Vec<String> = list_all(bucket.as_ref(), "archive/")
        .await
        .into_iter()
        .map(ObjectKey::into_string)
        .filter(|k| !k.contains("/orders/") && !k.contains("/receipts/"))
        .collect();
    if archive.len() != expected_archive.len() || archive.iter().any(|k| !expected_archive.contains(k)) {
        audit.duplicate(format!(
            "archive/ holds {} objects for {} invoices: {archive:?}",
            archive.len(),
            expected_archive.len()
        ));
    }
    let expected_attachments: BTreeSet<String> =
        audit.invoices.values().flat_map(|r| r.attachments.iter().map(|a| a.key.clone())).collect();
    let attachments: Vec<String> =
        list_all(bucket.as_ref(), "attachments/").await.into_iter().map(ObjectKey::into_string).collect();
    if attachments.len() != expected_attachments.len()
        || attachments.iter().any(|k| !expected_attachments.contains(k))
    {
        audit.duplicate(format!(
            "attachments/ holds {attachments:?}, the invoices name {expected_attachments:?}"
        ));
    }

    // Nothing left in the inbox.
    let inbox = list_all(bucket.as_ref(), "inbox/").await;
    if !inbox.is_empty() {
        audit.violation(format!("the inbox still holds {inbox:?}"));
    }

    // Every input: stored, or rejected once with a reason a person can read.
    let rejected_objects: Vec<ObjectKey> = list_all(bucket.as_ref(), "rejected/").await;
    let reason_keys: BTreeSet<&str> =
        rejected_objects.iter().map(ObjectKey::as_str).filter(|k| k.ends_with(".reason.txt")).collect();
    let reported: BTreeSet<String> =
        audit.runs.iter().flat_map(|r| r.rejected_files.iter().map(|f| f.key.clone())).collect();
    let mut rejected_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut reasons = BTreeMap::new();
    let mut late = Vec::new();
    for key in rejected_objects.iter().filter(|k| !k.as_str().ends_with(".reason.txt")) {
        let file_name = key.file_name();
        let size = bucket.size(key).await.expect("the size of a rejected file").unwrap_or(0);
        let candidates: Vec<&Input> = inputs
            .iter()
            .filter(|i| {
                (file_name == i.name || file_name.ends_with(&format!("-{}", i.name)))
                    && i.bytes.len() as u64 == size
            })
            .collect();
        // (read only when an input of that name and size exists: a rejected file may be huge)
        let input = if candidates.is_empty() {
            None
        } else {
            let content = bucket.get(key, size).await.expect("read a rejected file");
            candidates.into_iter().find(|i| i.bytes == content)
        };
        let Some(input) = input else {
            audit.violation(format!("{key} is under rejected/ but matches no input unchanged"));
            continue;
        };
        rejected_of.entry(input.name.clone()).or_default().push(key.as_str().to_owned());
        let reason_key = format!("{key}.reason.txt");
        if !reason_keys.contains(reason_key.as_str()) {
            audit.lost(format!("{key} has no reason file"));
            continue;
        }
        let reason = bucket
            .get(&ObjectKey::parse(reason_key.clone()).expect("a reason key"), u64::MAX)
            .await
            .expect("read a reason file");
        let reason = String::from_utf8(reason).unwrap_or_default();
        if !(reason.contains("Reason:") && reason.contains("What to do:")) {
            audit.violation(format!("{reason_key} is not a reason a person can act on:\n{reason}"));
        }
        if !reported.contains(key.as_str()) {
            late.push(key.as_str().to_owned());
        }
        reasons.insert(input.name.clone(), reason);
    }
    for key in late {
        audit.lost(format!("{key} was rejected but no stored report lists it"));
    }
    for record in audit.invoices.values() {
        if let Some(name) = record.file.source_key.strip_prefix("inbox/") {
            audit.stored_from.entry(name.to_owned()).or_default().push(record.id.as_str().to_owned());
        }
    }
    for input in inputs {
        let stored = audit.stored_from.contains_key(&input.name);
        let rejected = rejected_of.get(&input.name).map(Vec::len).unwrap_or(0);
        match (stored, rejected) {
            (true, 0) | (false, 1) => {}
            (false, 0) => audit.lost(format!("input {} is neither stored nor rejected", input.name)),
            (true, _) => audit.duplicate(format!("input {} is both stored and rejected", input.name)),
            (false, n) => audit.duplicate(format!("input {} is rejected {n} times", input.name)),
        }
    }
    audit.rejected = reasons;

    // Poison messages are reported; nothing else became a dead letter or still waits.
    let errors: Vec<String> = audit.report_errors().into_iter().map(str::to_owned).collect();
    for p in poison {
        let listed =
            errors.iter().any(|e| e.contains(&format!("on the {} queue", p.queue)) && e.contains(&p.body));
        if !listed {
            audit.lost(format!("the poison message {} on {} is in no report", p.body, p.queue));
        }
    }
    for e in &errors {
        if e.contains("was set aside") && !poison.iter().any(|p| e.contains(&p.body)) {
            audit.lost(format!("a good message became a dead letter: {e}"));
        }
    }
    for queue in queues::ALL {
        let waiting = env.waiting(queue).await;
        if !waiting.is_empty() {
            audit.violation(format!("queue {queue} still holds {waiting:?}"));
        }
        // A dead letter still listed after the last run was never taken off by a report.
        let dead =
            pipeline.ports().queue.dead_letters(queue, 10, Duration::ZERO).await.expect("dead letters");
        if !dead.is_empty() {
            let bodies: Vec<&str> = dead.iter().map(|d| d.body.as_str()).collect();
            audit.violation(format!("the dead letters of {queue} still hold {bodies:?} after the last run"));
        }
    }

    // Caps per stored run.
    let caps = config.export.max_emails_per_run;
    for report in &audit.runs.clone() {
        let (mut sales, mut purchases) = (0u64, 0u64);
        for administration in &report.administrations {
            for journal in &administration.journals {
                match journal.journal {
                    ledgerpost_export::Journal::Purchases => purchases += u64::from(journal.emails_sent),
                    _ => sales += u64::from(journal.emails_sent),
                }
            }
        }
        if sales > u64::from(caps.sales) || purchases > u64::from(caps.purchases) {
            audit.violation(format!(
                "run {} sent {sales} sales and {purchases} purchase e-mails, caps {} and {}",
                report.run_id, caps.sales, caps.purchases
            ));
        }
    }
    audit
}

/// Runs send-batch again (a minute later each time) until a run sends nothing, as the daily
/// schedule would; at most `max_runs`. Returns the e-mails sent.
pub async fn send_until_quiet<B: Backend + ?Sized>(env: &B, pipeline: &Pipeline, max_runs: usize) -> u32 {
    let mut total = 0;
    for _ in 0..max_runs {
        env.clock().advance(chrono::TimeDelta::minutes(1));
        let report = pipeline
            .send_batch(ledgerpost_pipeline::send::SendOptions::default())
            .await
            .expect("a send-batch run");
        let sent: u32 = report.administrations.iter().flat_map(|a| &a.journals).map(|j| j.emails_sent).sum();
        total += sent;
        if sent == 0 {
            break;
        }
    }
    total
}
