//! The test harness: a fresh pipeline on the local adapters in a temporary folder (fixed clock, no
//! sleeping), the demo data of `ledgerpost demo` (shared/cli/demo) as input, and [`deliver`], which
//! plays Lambda's SQS event source over the local queue: it receives a batch, hands it to a
//! handler as an `SqsEvent`, and deletes exactly the messages the handler did not report as
//! failed. A failed message is received again (zero visibility timeout) until the queue's receive
//! limit makes it a dead letter, as SQS does with `maxReceiveCount`.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ledgerpost_domain::config::Config;
use ledgerpost_lambda::{SqsBatchResponse, SqsEvent, SqsMessage};
use ledgerpost_local::{FixedClock, FolderBucket, LocalBackend, QueueSpec};
use ledgerpost_pipeline::{NoSleep, Pipeline, Ports, queues};
use ledgerpost_ports::{Bucket, ObjectKey, Queue, ReceivedMessage};

/// Receives before a message becomes a dead letter (the template's `MaxReceiveCount` is 5).
pub const MAX_RECEIVES: u32 = 3;

/// The demo configuration: "koksmaat" sells, "provide" buys from Bluem BV (NL809163160B01).
pub const DEMO_CONFIG: &str = include_str!("../../../cli/demo/ledgerpost.toml");

/// A file of the demo folder (`inbox/BL-20250601.xml`, `rules.csv`, …).
pub fn demo(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cli/demo").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("demo file {}: {e}", path.display()))
}

/// A demo file as text.
pub fn demo_text(name: &str) -> String {
    String::from_utf8(demo(name)).expect("demo files are UTF-8")
}

pub struct TestPipeline {
    pub dir: tempfile::TempDir,
    pub backend: LocalBackend,
    pub pipeline: Pipeline,
    pub clock: Arc<FixedClock>,
}

/// A fresh pipeline with `config`, the clock at 2025-06-10 06:00 UTC (after the demo invoices).
pub fn spawn_pipeline_with(config: &str) -> TestPipeline {
    spawn_pipeline_wrapping(config, |bucket| bucket)
}

/// The same, with the bucket port wrapped (to inject faults).
pub fn spawn_pipeline_wrapping(
    config: &str,
    wrap: impl FnOnce(Arc<dyn Bucket>) -> Arc<dyn Bucket>,
) -> TestPipeline {
    ledgerpost_lambda::logging::init_test_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 6, 10, 6, 0, 0).unwrap()));
    let specs = queues::ALL.iter().map(|q| QueueSpec::new(*q, MAX_RECEIVES));
    let backend = LocalBackend::open(dir.path(), clock.clone(), specs).expect("local backend");
    let bucket: Arc<FolderBucket> = backend.bucket.clone();
    let ports = Ports {
        bucket: wrap(bucket),
        queue: backend.queue.clone(),
        store: backend.store.clone(),
        mailer: backend.mailer.clone(),
        clock: clock.clone(),
        lease: backend.lease.clone(),
        sleeper: Arc::new(NoSleep::default()),
    };
    let config = Arc::new(Config::from_toml_str(config).expect("test config"));
    TestPipeline { dir, backend, pipeline: Pipeline::new(ports, config), clock }
}

pub fn spawn_pipeline() -> TestPipeline {
    spawn_pipeline_with(DEMO_CONFIG)
}

/// What one delivery did.
#[derive(Debug)]
pub struct Delivery {
    pub received: Vec<ReceivedMessage>,
    /// The ids the handler reported as failed.
    pub failed: BTreeSet<String>,
}

impl TestPipeline {
    /// Puts an object in the bucket (through the unwrapped adapter).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        let key = ObjectKey::parse(key).unwrap();
        self.backend.bucket.put(&key, bytes, "application/octet-stream").await.unwrap();
    }

    pub async fn exists(&self, key: &str) -> bool {
        self.backend.bucket.head(&ObjectKey::parse(key).unwrap()).await.unwrap().is_some()
    }

    /// Sends a message body to a queue, as S3 or another stage would.
    pub async fn send(&self, queue: &str, body: &str) {
        self.backend.queue.send(queue, body).await.unwrap();
    }

    /// One batch of `queue` (up to ten messages) through `handler`, acknowledged as Lambda does.
    pub async fn deliver<F, Fut>(&self, queue: &str, handler: F) -> Delivery
    where
        F: FnOnce(SqsEvent) -> Fut,
        Fut: Future<Output = SqsBatchResponse>,
    {
        let received = self.backend.queue.receive(queue, 10, Duration::ZERO).await.unwrap();
        let response = handler(sqs_event(queue, &received)).await;
        let failed: BTreeSet<String> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        for message in &received {
            if !failed.contains(message.id.as_str()) {
                self.backend.queue.delete(queue, &message.receipt).await.unwrap();
            }
        }
        Delivery { received, failed }
    }

    /// Runs the three SQS functions over their queues until every queue is empty (failed
    /// messages come back until they are dead letters). Returns every id reported failed.
    pub async fn drain(&self) -> BTreeSet<String> {
        let p = &self.pipeline;
        let mut failed = BTreeSet::new();
        loop {
            let ingest = self.deliver(queues::INGEST, |e| ledgerpost_lambda::ingest(p, e)).await;
            let matching = self.deliver(queues::MATCH, |e| ledgerpost_lambda::match_lines(p, e)).await;
            let journal = self.deliver(queues::JOURNAL, |e| ledgerpost_lambda::journal(p, e)).await;
            if ingest.received.is_empty() && matching.received.is_empty() && journal.received.is_empty() {
                return failed;
            }
            failed.extend(ingest.failed.into_iter().chain(matching.failed).chain(journal.failed));
        }
    }

    /// The dead letters of `queue` (peeked, not removed).
    pub async fn dead_letters(&self, queue: &str) -> Vec<ReceivedMessage> {
        self.backend.queue.dead_letters(queue, 10, Duration::ZERO).await.unwrap()
    }

    /// The `.eml` files written so far.
    pub fn outbox(&self) -> Vec<PathBuf> {
        self.backend.mailer.messages().unwrap()
    }
}

/// Local messages as the SQS event Lambda would deliver.
pub fn sqs_event(queue: &str, messages: &[ReceivedMessage]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = Some(m.id.as_str().to_owned());
            record.receipt_handle = Some(m.receipt.as_str().to_owned());
            record.body = Some(m.body.clone());
            record.attributes.insert("ApproximateReceiveCount".into(), m.receive_count.to_string());
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(format!("arn:aws:sqs:eu-west-1:123456789012:{queue}"));
            record.aws_region = Some("eu-west-1".into());
            record
        })
        .collect();
    event
}

/// An SQS record with `id` and `body`, for batches built by hand.
pub fn record(id: &str, body: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(id.to_owned());
    record.body = Some(body.to_owned());
    record.attributes.insert("ApproximateReceiveCount".into(), "1".into());
    record.event_source = Some("aws:sqs".into());
    record
}

pub fn batch(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// The body S3 sends for a new object, as moto_server sends it: no `userIdentity`,
/// `requestParameters`, `responseElements` or `sequencer`; the key URL-encoded, `+` for a space.
pub fn s3_notification(encoded_key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
        "eventTime": "2025-06-10T05:59:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "inbox",
               "bucket": {"name": "ledgerpost-docs", "arn": "arn:aws:s3:::ledgerpost-docs"},
               "object": {"key": encoded_key, "size": 1234, "eTag": "a8b594bf8dcca656fb1eb1b66344940a"}}
    }]})
    .to_string()
}

/// The body of S3's test event.
pub const S3_TEST_EVENT: &str = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2025-06-10T05:00:00.000Z","Bucket":"ledgerpost-docs","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;
