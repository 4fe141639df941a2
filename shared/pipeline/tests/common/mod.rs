//! The test harness: a fresh pipeline on the local adapters in a temporary folder, a fixed clock,
//! no sleeping, and `drain()` to run every stage until the queues are empty.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ledgerpost_domain::config::Config;
use ledgerpost_local::{FixedClock, LocalBackend, QueueSpec};
use ledgerpost_pipeline::worker::DrainStats;
use ledgerpost_pipeline::{NoSleep, Pipeline, Ports, queues};
use ledgerpost_ports::{Bucket, Mailer, ObjectKey};

/// Two administrations that the corpus invoices name: "koksmaat" is the seller of the EN 16931
/// examples (sales), "buyer-as" the buyer of the Peppol examples (purchases).
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

[export]
from = "ledgerpost@firm.example"
send_rate = 1000
[export.addresses]
sales = "sales@books.example"
credit_notes = "credits@books.example"
purchases = "purchases@books.example"
reports = "reports@firm.example"
"#;

pub struct TestPipeline {
    pub dir: tempfile::TempDir,
    pub backend: LocalBackend,
    pub pipeline: Pipeline,
    pub clock: Arc<FixedClock>,
    pub sleeper: Arc<NoSleep>,
}

pub fn queue_specs() -> Vec<QueueSpec> {
    queues::ALL.iter().map(|q| QueueSpec::new(*q, 3)).collect()
}

/// A fresh pipeline with `config` on the local adapters, the clock at 2025-03-01 06:00 UTC.
pub fn spawn_pipeline_with(config: &str) -> TestPipeline {
    spawn_pipeline_with_mailer(config, None)
}

pub fn spawn_pipeline_with_mailer(config: &str, mailer: Option<Arc<dyn Mailer>>) -> TestPipeline {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap()));
    let backend = LocalBackend::open(dir.path(), clock.clone(), queue_specs()).expect("local backend");
    let sleeper = Arc::new(NoSleep::default());
    let ports = Ports {
        bucket: backend.bucket.clone(),
        queue: backend.queue.clone(),
        store: backend.store.clone(),
        mailer: mailer.unwrap_or_else(|| backend.mailer.clone()),
        clock: clock.clone(),
        lease: backend.lease.clone(),
        sleeper: sleeper.clone(),
    };
    let config = Arc::new(Config::from_toml_str(config).expect("test config"));
    let pipeline = Pipeline::new(ports, config);
    TestPipeline { dir, backend, pipeline, clock, sleeper }
}

pub fn spawn_pipeline() -> TestPipeline {
    spawn_pipeline_with(CONFIG)
}

impl TestPipeline {
    /// Puts a file in the inbox and sends its ingest message, as S3 would.
    pub async fn drop_file(&self, name: &str, bytes: &[u8]) -> ObjectKey {
        let key = ObjectKey::parse(format!("inbox/{name}")).unwrap();
        self.backend.bucket.put(&key, bytes.to_vec(), "application/xml").await.unwrap();
        self.pipeline.enqueue_ingest(&key).await.unwrap();
        key
    }

    /// Runs every stage until the queues are empty.
    pub async fn drain(&self) -> DrainStats {
        self.pipeline.drain(Duration::ZERO).await.expect("drain")
    }

    pub async fn exists(&self, key: &str) -> bool {
        self.backend.bucket.head(&ObjectKey::parse(key).unwrap()).await.unwrap().is_some()
    }

    pub async fn read(&self, key: &str) -> Vec<u8> {
        self.backend.bucket.get(&ObjectKey::parse(key).unwrap(), u64::MAX).await.unwrap()
    }

    /// The `.eml` files written so far, oldest first.
    pub fn outbox(&self) -> Vec<PathBuf> {
        self.backend.mailer.messages().unwrap()
    }
}

pub fn corpus(name: &str) -> Vec<u8> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/ubl")).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()))
}

/// A sales invoice of "koksmaat" (EN 16931 example 1, EUPL-1.2) with another number and date.
pub fn sales_invoice(number: &str, date: &str) -> Vec<u8> {
    let text = String::from_utf8(corpus("valid/en16931__ubl-examples__ubl-tc434-example1.xml")).unwrap();
    text.replace("<cbc:ID>12115118</cbc:ID>", &format!("<cbc:ID>{number}</cbc:ID>"))
        .replace(
            "<cbc:IssueDate>2015-01-09</cbc:IssueDate>",
            &format!("<cbc:IssueDate>{date}</cbc:IssueDate>"),
        )
        .replace("<cbc:DueDate>2015-01-09</cbc:DueDate>", &format!("<cbc:DueDate>{date}</cbc:DueDate>"))
        .into_bytes()
}

/// A purchase invoice of "buyer-as" (Peppol BIS base example) with another number.
pub fn purchase_invoice(number: &str) -> Vec<u8> {
    let text = String::from_utf8(corpus("valid/peppol-bis3__examples__base-example.xml")).unwrap();
    text.replacen("<cbc:ID>Snippet1</cbc:ID>", &format!("<cbc:ID>{number}</cbc:ID>"), 1).into_bytes()
}
