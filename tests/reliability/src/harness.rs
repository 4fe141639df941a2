//! A pipeline on the local adapters in a temporary data folder (the bucket folder, the SQLite
//! file with the store and the queues, the `.eml` outbox), with a fixed clock and no sleeping.
//!
//! Unlike the pipeline crate's own test helper, a [`Harness`] can be restarted over the same
//! folder (what a crashed process finds when it comes back) and turned into a [`Snapshot`] that
//! later scenarios copy instead of running the same stages again. It is the local
//! [`Backend`]; [`LocalWorld`] makes harnesses for the scenario table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ledgerpost_domain::config::Config;
use ledgerpost_local::{FixedClock, LocalBackend, QueueSpec};
use ledgerpost_pipeline::worker::Handled;
use ledgerpost_pipeline::{NoSleep, Pipeline, Ports, queues};
use ledgerpost_ports::{Bucket, ObjectKey, QueueError, Retryable};

use crate::backend::{Backend, SentEmail, World};

/// The corpus of real UBL files (and the official verdicts) beside the repository.
pub const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

/// When every scenario starts: 2025-03-01 06:00 UTC.
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).single().expect("a valid start time")
}

/// One corpus file, e.g. `ubl/valid/peppol-bis3__examples__base-example.xml`. Panics with what is
/// missing: the tests are meaningless without the corpus.
pub fn corpus(relative: &str) -> Vec<u8> {
    let path = Path::new(CORPUS_DIR).join(relative);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "corpus file {} is missing ({e}): the corpus must sit beside the repository as shared/corpus",
            path.display()
        )
    })
}

/// Every file of a corpus folder (e.g. `ubl/valid`), sorted by name, as (name, bytes).
pub fn corpus_files(relative: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(CORPUS_DIR).join(relative);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "corpus folder {} is missing ({e}): the corpus must sit beside the repository as shared/corpus",
            dir.display()
        )
    });
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("a readable corpus folder").path();
            let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name").to_owned();
            let bytes = std::fs::read(&path).expect("a readable corpus file");
            (name, bytes)
        })
        .filter(|(name, _)| name.ends_with(".xml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus folder {} holds no .xml file", dir.display());
    files
}

/// Three administrations that the corpus invoices name as they are:
/// - `koksmaat` (NL8200.98.395.B.01) sells in the EN 16931 examples 1, 10 and guide example 1;
/// - `buyer-as` (SE4598375937) buys in the Peppol BIS examples and snippets;
/// - `nordic` (NO123456789MVA) sells in the EN 16931 examples 2 and guide example 2 (with a PDF).
///
/// Every other party of the corpus is a stranger: those files are rejected with a reason.
pub const CONFIG: &str = r#"
[[administrations]]
id = "koksmaat"
name = "De Koksmaat"
vat_ids = ["NL8200.98.395.B.01"]
[administrations.accounts]
payables = "1600"
receivables = "1300"
goods_received_clearing = "1610"
obligations = "1620"
default_expense = "4999"
default_revenue = "8000"
rounding = "4990"
prepayments = "1650"
input_vat = { rates = { "21" = "1510", "6" = "1511" }, fallback = "1519" }
output_vat = { rates = { "21" = "1520", "6" = "1521" }, fallback = "1529" }

[[administrations]]
id = "buyer-as"
name = "Buyer AS"
vat_ids = ["SE4598375937"]
[administrations.accounts]
payables = "2400"
receivables = "1500"
goods_received_clearing = "2410"
obligations = "2420"
default_expense = "6999"
default_revenue = "3000"
rounding = "6990"
prepayments = "1650"
input_vat = { rates = { "25" = "2640" }, fallback = "2649" }
output_vat = { rates = { "25" = "2610" }, fallback = "2619" }

[[administrations]]
id = "nordic"
name = "Nordic Seller AS"
vat_ids = ["NO123456789MVA"]
[administrations.accounts]
payables = "2400"
receivables = "1500"
goods_received_clearing = "2410"
obligations = "2420"
default_expense = "6999"
default_revenue = "3000"
rounding = "6990"
prepayments = "1650"
input_vat = { rates = { "25" = "2640" }, fallback = "2649" }
output_vat = { rates = { "25" = "2610" }, fallback = "2619" }

[export]
from = "ledgerpost@firm.example"
send_rate = 1000
[export.max_emails_per_run]
sales = 50
purchases = 50
[export.addresses]
sales = "sales@books.example"
credit_notes = "credits@books.example"
purchases = "purchases@books.example"
reports = "reports@firm.example"
"#;

/// A text rule that codes both lines of the Peppol examples of supplier GB1232434 ("item name"),
/// so that those purchases are matched, journaled and sent without a person.
pub const RULES: &str = "administration,supplier,search_text,account,vat_group,cost_centre,project\n\
                         buyer-as,GB1232434,item name,6100,H25,KITCHEN,\n";

/// [`CONFIG`] with other caps of e-mails per run.
pub fn config_with_caps(sales: u32, purchases: u32) -> String {
    CONFIG.replace("sales = 50\npurchases = 50", &format!("sales = {sales}\npurchases = {purchases}"))
}

/// A pipeline's data folder with its adapters open, as one process sees it.
pub struct Harness {
    dir: tempfile::TempDir,
    pub clock: Arc<FixedClock>,
    pub sleeper: Arc<NoSleep>,
    pub config: Arc<Config>,
    config_text: String,
    max_receives: u32,
    backend: Option<LocalBackend>,
}

/// A closed data folder to start scenarios from (see [`Harness::snapshot`]).
pub struct Snapshot {
    dir: tempfile::TempDir,
    config_text: String,
    max_receives: u32,
    now: chrono::DateTime<Utc>,
}

fn queue_specs(max_receives: u32) -> Vec<QueueSpec> {
    queues::ALL.iter().map(|q| QueueSpec::new(*q, max_receives)).collect()
}

impl Harness {
    /// A fresh data folder with `config`; a message becomes a dead letter after `max_receives`.
    pub fn new(config: &str, max_receives: u32) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        Self::open_in(dir, config, max_receives, start_time())
    }

    fn open_in(dir: tempfile::TempDir, config: &str, max_receives: u32, now: chrono::DateTime<Utc>) -> Self {
        let config_text = config.to_owned();
        let parsed = Arc::new(Config::from_toml_str(config).expect("the test configuration"));
        let clock = Arc::new(FixedClock::new(now));
        let mut harness = Harness {
            dir,
            clock,
            sleeper: Arc::new(NoSleep::default()),
            config: parsed,
            config_text,
            max_receives,
            backend: None,
        };
        harness.restart();
        harness
    }

    /// A copy of a snapshot's folder, opened.
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        copy_dir(snapshot.dir.path(), dir.path()).expect("copy the snapshot");
        Self::open_in(dir, &snapshot.config_text, snapshot.max_receives, snapshot.now)
    }

    /// Closes the adapters and keeps the folder as a snapshot.
    pub fn snapshot(mut self) -> Snapshot {
        self.backend = None;
        Snapshot {
            dir: self.dir,
            config_text: self.config_text,
            max_receives: self.max_receives,
            now: self.clock.now_utc(),
        }
    }

    /// Drops the adapters and opens new ones over the same folder: a process that died (or was
    /// stopped) and started again. Only what reached the disk is left.
    pub fn restart(&mut self) {
        self.backend = None;
        let backend = LocalBackend::open(self.dir.path(), self.clock.clone(), queue_specs(self.max_receives))
            .expect("open the local adapters");
        self.backend = Some(backend);
    }

    /// Another process over the same folder (its own SQLite connection), sharing the clock.
    pub fn second_process(&self) -> LocalBackend {
        LocalBackend::open(self.dir.path(), self.clock.clone(), queue_specs(self.max_receives))
            .expect("open the local adapters a second time")
    }

    pub fn backend(&self) -> &LocalBackend {
        self.backend.as_ref().expect("the adapters are open")
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The folder that holds the bucket's objects.
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join("bucket")
    }

    /// The plain ports of the open adapters.
    pub fn ports(&self) -> Ports {
        Self::ports_of(self.backend(), &self.clock, &self.sleeper)
    }

    /// The plain ports of another set of adapters (see [`Harness::second_process`]).
    pub fn ports_of(backend: &LocalBackend, clock: &Arc<FixedClock>, sleeper: &Arc<NoSleep>) -> Ports {
        Ports {
            bucket: backend.bucket.clone(),
            queue: backend.queue.clone(),
            store: backend.store.clone(),
            mailer: backend.mailer.clone(),
            clock: clock.clone(),
            lease: backend.lease.clone(),
            sleeper: sleeper.clone(),
        }
    }

    /// A pipeline on the plain ports.
    pub fn pipeline(&self) -> Pipeline {
        self.pipeline_on(self.ports())
    }

    /// A pipeline on other ports (wrapped ones), with this harness's configuration.
    pub fn pipeline_on(&self, ports: Ports) -> Pipeline {
        Pipeline::new(ports, self.config.clone())
    }

    /// Puts a file into `inbox/` without any message (the bucket alone).
    pub async fn put_inbox(&self, name: &str, bytes: &[u8]) -> ObjectKey {
        let key = ObjectKey::parse(format!("inbox/{name}")).expect("a valid inbox key");
        self.backend().bucket.put(&key, bytes.to_vec(), "application/xml").await.expect("put into the inbox");
        key
    }

    /// Puts a file into `inbox/` and sends its ingest message through `pipeline`'s queue, as S3
    /// would notify.
    pub async fn drop_file(&self, pipeline: &Pipeline, name: &str, bytes: &[u8]) -> ObjectKey {
        let key = self.put_inbox(name, bytes).await;
        pipeline.enqueue_ingest(&key).await.expect("send the ingest message");
        key
    }
}

#[async_trait::async_trait]
impl Backend for Harness {
    fn clock(&self) -> &Arc<FixedClock> {
        &self.clock
    }

    fn config(&self) -> &Arc<Config> {
        &self.config
    }

    fn ports(&self) -> Ports {
        Harness::ports(self)
    }

    async fn restart(&mut self) {
        Harness::restart(self);
    }

    async fn second_process(&self) -> Ports {
        Harness::ports_of(&Harness::second_process(self), &self.clock, &self.sleeper)
    }

    /// The outbox `.eml` files; the envelope is in the header the outbox puts in front.
    async fn sent_emails(&self) -> Vec<SentEmail> {
        let mut sent = Vec::new();
        for path in self.backend().mailer.messages().expect("read the outbox") {
            let raw = std::fs::read(&path).expect("read an e-mail");
            let envelope_to = mail_parser::MessageParser::default()
                .parse_headers(&raw)
                .and_then(|m| m.header_raw("X-Ledgerpost-Envelope-To").map(str::to_owned))
                .map(|to| to.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect())
                .unwrap_or_default();
            sent.push(SentEmail { label: path.display().to_string(), envelope_to, raw });
        }
        sent
    }

    /// What a receive returns now (hidden a second of the fixed clock, which does not move).
    async fn waiting(&self, queue: &str) -> Vec<String> {
        use ledgerpost_ports::Queue;
        self.backend()
            .queue
            .receive(queue, 10, Duration::from_secs(1))
            .await
            .expect("receive")
            .into_iter()
            .map(|m| m.body)
            .collect()
    }
}

/// Harnesses in temporary data folders; a snapshot is a closed copy of a folder.
#[derive(Debug, Clone, Copy)]
pub struct LocalWorld {
    /// Scenario runs at the same time (each has its own folder; they wait on the disk more
    /// than on the processor).
    pub parallel: usize,
}

#[async_trait::async_trait]
impl World for LocalWorld {
    type Env = Harness;
    type Snapshot = Snapshot;

    async fn fresh(&self, config: &str, max_receives: u32) -> Harness {
        Harness::new(config, max_receives)
    }

    async fn snapshot(&self, env: Harness) -> Result<Snapshot, Harness> {
        Ok(env.snapshot())
    }

    async fn open_copy(&self, snapshot: &Snapshot) -> Harness {
        Harness::from_snapshot(snapshot)
    }

    fn parallel_runs(&self) -> usize {
        self.parallel
    }
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<Utc>;
}

impl NowUtc for FixedClock {
    fn now_utc(&self) -> chrono::DateTime<Utc> {
        ledgerpost_ports::Clock::now(self)
    }
}

/// What one queue's drain did.
#[derive(Debug, Default)]
pub struct QueueDrain {
    pub handled: Vec<Handled>,
    pub failures: Vec<Handled>,
}

/// Receives and handles the messages of ONE queue until none is visible (the pipeline's own
/// `drain` takes every queue in turn). A message is deleted only when its stage succeeded.
pub async fn drain_queue(pipeline: &Pipeline, queue: &str) -> Result<QueueDrain, QueueError> {
    let mut out = QueueDrain::default();
    loop {
        let messages = pipeline
            .ports()
            .queue
            .receive(queue, ledgerpost_ports::queue::MAX_RECEIVE_BATCH, Duration::ZERO)
            .await?;
        if messages.is_empty() {
            return Ok(out);
        }
        for message in messages {
            match pipeline.handle(queue, &message.body).await {
                Ok(summary) => {
                    pipeline.ports().queue.delete(queue, &message.receipt).await?;
                    out.handled.push(Handled { queue: queue.to_owned(), summary });
                }
                Err(e) => {
                    let retry = if e.is_retryable() { "will be retried" } else { "will not succeed" };
                    out.failures.push(Handled { queue: queue.to_owned(), summary: format!("{e} ({retry})") });
                }
            }
        }
    }
}

/// Copies a folder tree (files and folders only).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A sales invoice of `koksmaat` with `lines` lines of 1.00 EUR at 21 % VAT, totals right: EN
/// 16931 example 1's header (its parties) with generated lines and totals. About 600 bytes per
/// line; written line by line into `out`, so a very large one need not be held in memory.
pub fn write_many_lines_invoice(
    out: &mut impl std::io::Write,
    number: &str,
    lines: u64,
) -> std::io::Result<()> {
    let example = String::from_utf8(corpus("ubl/valid/en16931__ubl-examples__ubl-tc434-example1.xml"))
        .expect("a UTF-8 corpus file");
    let header_end = example.find("<cac:TaxTotal>").expect("example 1 has a TaxTotal");
    let header =
        example[..header_end].replacen("<cbc:ID>12115118</cbc:ID>", &format!("<cbc:ID>{number}</cbc:ID>"), 1);
    out.write_all(header.as_bytes())?;
    let cents = lines * 100;
    let tax_cents = (cents * 21 + 50) / 100;
    let amount = |c: u64| format!("{}.{:02}", c / 100, c % 100);
    write!(
        out,
        "<cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">{tax}</cbc:TaxAmount><cac:TaxSubtotal>\
         <cbc:TaxableAmount currencyID=\"EUR\">{net}</cbc:TaxableAmount><cbc:TaxAmount currencyID=\"EUR\">{tax}</cbc:TaxAmount>\
         <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>\
         </cac:TaxSubtotal></cac:TaxTotal>\n<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID=\"EUR\">{net}</cbc:LineExtensionAmount>\
         <cbc:TaxExclusiveAmount currencyID=\"EUR\">{net}</cbc:TaxExclusiveAmount><cbc:TaxInclusiveAmount currencyID=\"EUR\">{gross}</cbc:TaxInclusiveAmount>\
         <cbc:PayableAmount currencyID=\"EUR\">{gross}</cbc:PayableAmount></cac:LegalMonetaryTotal>\n",
        tax = amount(tax_cents),
        net = amount(cents),
        gross = amount(cents + tax_cents),
    )?;
    for n in 1..=lines {
        writeln!(
            out,
            "<cac:InvoiceLine><cbc:ID>{n}</cbc:ID><cbc:InvoicedQuantity unitCode=\"EA\">1</cbc:InvoicedQuantity>\
             <cbc:LineExtensionAmount currencyID=\"EUR\">1.00</cbc:LineExtensionAmount><cac:Item><cbc:Name>Item {n}</cbc:Name>\
             <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>\
             </cac:Item><cac:Price><cbc:PriceAmount currencyID=\"EUR\">1.00</cbc:PriceAmount></cac:Price></cac:InvoiceLine>"
        )?;
    }
    out.write_all(b"</Invoice>\n")
}

/// [`write_many_lines_invoice`] into memory.
pub fn many_lines_invoice(number: &str, lines: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_many_lines_invoice(&mut out, number, lines).expect("writing to memory cannot fail");
    out
}
