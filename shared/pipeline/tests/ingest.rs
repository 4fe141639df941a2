//! The ingest stage on the local adapters: corpus invoices stored and passed on, every kind of
//! refusal moved to rejected/ with a reason, duplicates named, redelivery and crashes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use common::*;
use ledgerpost_domain::journal::Direction;
use ledgerpost_pipeline::ingest::IngestOutcome;
use ledgerpost_pipeline::repository::{SendState, Status};
use ledgerpost_pipeline::{Pipeline, Ports};
use ledgerpost_ports::{Bucket, BucketError, Cursor, ObjectKey, ObjectMeta, ObjectPage, Queue};

#[tokio::test]
async fn a_corpus_sales_invoice_is_stored_archived_and_journaled() {
    let t = spawn_pipeline();
    let key =
        t.drop_file("example1.xml", &corpus("valid/en16931__ubl-examples__ubl-tc434-example1.xml")).await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);

    // THEN the inbox is empty, the original is archived byte for byte, the invoice journaled
    assert!(!t.exists(key.as_str()).await);
    let repo = t.pipeline.repository();
    let ids = repo
        .invoices_in_status(&"koksmaat".parse_admin(), ledgerpost_pipeline::repository::StatusKey::Journaled)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    let record = &ids[0].value;
    assert_eq!(record.direction, Direction::Sales);
    assert_eq!(record.number, "12115118");
    assert_eq!(record.status, Status::Journaled);
    assert_eq!(record.send, SendState::Ready);
    assert_eq!(
        t.read(&record.file.archive_key).await,
        corpus("valid/en16931__ubl-examples__ubl-tc434-example1.xml")
    );
    let entry = repo.entry(&record.id).await.unwrap().expect("an entry");
    assert!(entry.is_balanced());
    assert_eq!(entry.role_total(ledgerpost_domain::journal::Role::Counterparty).to_string(), "250.33");
    // The lines came back whole from their chunk.
    let invoice = repo.invoice_document(record).await.unwrap();
    assert_eq!(invoice.lines.len(), record.line_count as usize);
    assert!(invoice.lines.len() > 5);
}

#[tokio::test]
async fn embedded_attachments_are_kept_with_safe_names() {
    let t = spawn_pipeline();
    // (example 2, its seller made De Koksmaat)
    let file = String::from_utf8(corpus("valid/en16931__ubl-examples__ubl-tc434-example2.xml")).unwrap();
    t.drop_file("example2.xml", file.replace("NO123456789MVA", "NL820098395B01").as_bytes()).await;
    let stats = t.drain().await;
    assert!(
        stats.failures.is_empty()
            && t.pipeline.repository().unreported_rejections().await.unwrap().is_empty()
    );
    let all = t
        .pipeline
        .repository()
        .invoices_in_status(&"koksmaat".parse_admin(), ledgerpost_pipeline::repository::StatusKey::Journaled)
        .await
        .unwrap();
    let record = &all[0].value;
    assert_eq!(record.attachments.len(), 1, "{:?}", record.attachments);
    let attachment = &record.attachments[0];
    // (numbered by its position among the document references: the first one has no file)
    assert_eq!(attachment.key, format!("attachments/koksmaat/{}/02-test.pdf", record.id));
    assert!(attachment.is_pdf());
    assert!(!attachment.filename.contains('/'));
    assert_eq!(t.read(&attachment.key).await.len() as u64, attachment.size);
    // The stored header does not carry the base64 text again.
    let header_key = ledgerpost_pipeline::repository::InvoiceRecord::header_key(&record.id);
    let header = t.pipeline.repository().store().get(&header_key).await.unwrap().expect("a header item");
    assert!(header.item.body.len() < 20_000, "{} bytes", header.item.body.len());
}

#[tokio::test]
async fn refused_files_move_to_rejected_with_a_reason_and_are_recorded() {
    let t = spawn_pipeline();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("scan.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n".to_vec(), "cannot be read as an XML e-invoice"),
        (
            "bomb.xml",
            b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><Invoice>&a;</Invoice>".to_vec(),
            "DOCTYPE",
        ),
        ("order-note.xml", b"<note><to>me</to></note>".to_vec(), "not a UBL Invoice"),
        ("br-co-10.xml", corpus("invalid/en16931__Invoice-unit-UBL__BR-CO-10__test8.xml"), "BR-CO-10"),
        // A valid invoice between two companies that are not ours.
        (
            "strangers.xml",
            corpus("valid/peppol-bis3__examples__vat-category-Z.xml"),
            "neither the buyer nor the seller",
        ),
        (
            "truncated.xml",
            corpus("valid/peppol-bis3__examples__base-example.xml")[..2000].to_vec(),
            "malformed",
        ),
    ];
    for (name, bytes, _) in &cases {
        t.drop_file(name, bytes).await;
    }
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    for (name, bytes, expected) in &cases {
        assert!(!t.exists(&format!("inbox/{name}")).await, "{name} still in the inbox");
        assert_eq!(&t.read(&format!("rejected/{name}")).await, bytes, "{name} kept unchanged");
        let reason = String::from_utf8(t.read(&format!("rejected/{name}.reason.txt")).await).unwrap();
        assert!(reason.to_lowercase().contains(&expected.to_lowercase()), "{name}: {reason}");
        assert!(reason.contains("What to do:"), "{name}: {reason}");
    }
    let rejected = t.pipeline.repository().unreported_rejections().await.unwrap();
    assert_eq!(rejected.len(), cases.len());
    let br = rejected.iter().find(|r| r.value.source_key == "inbox/br-co-10.xml").unwrap();
    assert!(br.value.findings.iter().any(|f| f.rule == "BR-CO-10"));
}

#[tokio::test]
async fn a_file_over_the_size_cap_is_rejected_unread() {
    let config = CONFIG.replace("[export]", "[validation]\nmax_file_bytes = 1000\n\n[export]");
    let t = spawn_pipeline_with(&config);
    t.drop_file("big.xml", &corpus("valid/en16931__ubl-examples__ubl-tc434-example1.xml")).await;
    t.drain().await;
    let reason = String::from_utf8(t.read("rejected/big.xml.reason.txt").await).unwrap();
    assert!(reason.contains("over the limit of 1000 bytes"), "{reason}");
}

#[tokio::test]
async fn duplicates_by_content_and_by_number_name_the_original() {
    let t = spawn_pipeline();
    let original = sales_invoice("2025-001", "2025-02-01");
    t.drop_file("a.xml", &original).await;
    t.drain().await;

    // GIVEN the same file again under another name, and the same number with other content
    t.drop_file("a-again.xml", &original).await;
    let changed = String::from_utf8(original.clone())
        .unwrap()
        .replace("Delivery terms", "Delivery terms!")
        .into_bytes();
    t.drop_file("a-changed.xml", &changed).await;
    // AND the same number in another year (numbering restarts yearly): a different invoice
    t.drop_file("next-year.xml", &sales_invoice("2025-001", "2026-01-05")).await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);

    let again = String::from_utf8(t.read("rejected/a-again.xml.reason.txt").await).unwrap();
    assert!(again.contains("same file"), "{again}");
    assert!(again.contains("invoice 2025-001 of ODIN 59 dated 2025-02-01"), "{again}");
    assert!(again.contains("inbox/a.xml"), "{again}");
    let changed = String::from_utf8(t.read("rejected/a-changed.xml.reason.txt").await).unwrap();
    assert!(changed.contains("Duplicate: De Koksmaat already has invoice 2025-001"), "{changed}");
    assert!(changed.contains("invoice 2025-001 of ODIN 59 dated 2025-02-01"), "{changed}");
    assert!(!t.exists("rejected/next-year.xml").await);
    let journaled = t
        .pipeline
        .repository()
        .invoices_in_status(&"koksmaat".parse_admin(), ledgerpost_pipeline::repository::StatusKey::Journaled)
        .await
        .unwrap();
    assert_eq!(journaled.len(), 2);
}

#[tokio::test]
async fn the_same_message_twice_stores_once() {
    let t = spawn_pipeline();
    let key = t.drop_file("a.xml", &sales_invoice("2025-002", "2025-02-01")).await;
    // GIVEN the notification delivered twice (S3 and SQS may)
    t.pipeline.enqueue_ingest(&key).await.unwrap();
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    assert!(stats.handled.iter().any(|h| h.summary.contains("done before")), "{:?}", stats.handled);
    let all = t
        .pipeline
        .repository()
        .invoices_in_status(&"koksmaat".parse_admin(), ledgerpost_pipeline::repository::StatusKey::Journaled)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert!(t.pipeline.repository().unreported_rejections().await.unwrap().is_empty());
}

/// A bucket whose `delete` fails the first `failures` times: a crash after the invoice was
/// stored and passed on, before the inbox object was removed.
struct CrashingBucket {
    inner: Arc<dyn Bucket>,
    failures: AtomicUsize,
}

#[async_trait]
impl Bucket for CrashingBucket {
    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError> {
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> Result<Vec<u8>, BucketError> {
        self.inner.get(key, max_bytes).await
    }
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BucketError> {
        self.inner.head(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<ObjectPage, BucketError> {
        self.inner.list(prefix, after, limit).await
    }
    async fn move_object(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BucketError> {
        self.inner.move_object(from, to).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), BucketError> {
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(BucketError::unavailable("simulated crash", "the process died here"));
        }
        self.inner.delete(key).await
    }
}

#[tokio::test]
async fn a_crash_between_steps_is_finished_by_the_redelivery() {
    let t = spawn_pipeline();
    let crashing =
        Arc::new(CrashingBucket { inner: t.backend.bucket.clone(), failures: AtomicUsize::new(1) });
    let ports = Ports { bucket: crashing, ..t.pipeline.ports().clone() };
    let pipeline = Pipeline::new(ports, Arc::new(t.pipeline.config().clone()));
    let key = t.drop_file("a.xml", &purchase_invoice("P-1")).await;

    // WHEN the first attempt dies after storing the invoice and sending the match message
    let first = pipeline.ingest(&key).await;
    assert!(first.is_err());
    assert!(t.exists(key.as_str()).await, "the object is still in the inbox");
    // THEN the redelivery finishes the work: not a duplicate, stored once
    let second = pipeline.ingest(&key).await.unwrap();
    assert!(matches!(second, IngestOutcome::Accepted { .. }), "{second:?}");
    assert!(!t.exists(key.as_str()).await);
    // Two match messages are on the queue; matching twice changes nothing.
    let stats = pipeline.drain(std::time::Duration::ZERO).await.unwrap();
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let waiting = t
        .pipeline
        .repository()
        .invoices_in_status(&"buyer-as".parse_admin(), ledgerpost_pipeline::repository::StatusKey::Manual)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert!(t.pipeline.repository().unreported_rejections().await.unwrap().is_empty());
    assert!(t.backend.queue.receive("match", 10, std::time::Duration::ZERO).await.unwrap().is_empty());
}

trait ParseAdmin {
    fn parse_admin(&self) -> ledgerpost_domain::ids::AdministrationId;
}

impl ParseAdmin for str {
    fn parse_admin(&self) -> ledgerpost_domain::ids::AdministrationId {
        ledgerpost_domain::ids::AdministrationId::parse(self).unwrap()
    }
}

#[tokio::test]
async fn an_unreadable_amount_is_named_in_the_reason_not_only_as_a_runtime_error() {
    // Regression: "1e400" and "12,50" stop the official rules with XSLT-RUNTIME-ERROR; the
    // one-line reason (the one the report shows) named only that pseudo rule.
    let t = spawn_pipeline();
    let with = |number: &str, from: &str, to: &str| {
        String::from_utf8(sales_invoice(number, "2025-02-01")).unwrap().replacen(from, to, 1).into_bytes()
    };
    let cases = [
        (
            "e400.xml",
            with(
                "2025-400",
                "<cbc:PayableAmount currencyID=\"EUR\">250.33</cbc:PayableAmount>",
                "<cbc:PayableAmount currencyID=\"EUR\">1e400</cbc:PayableAmount>",
            ),
            "\"1e400\" at /Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount is not a valid number",
        ),
        (
            "comma.xml",
            with(
                "2025-401",
                "<cbc:PriceAmount currencyID=\"EUR\">9.95</cbc:PriceAmount>",
                "<cbc:PriceAmount currencyID=\"EUR\">12,50</cbc:PriceAmount>",
            ),
            "\"12,50\" at /Invoice/cac:InvoiceLine[1]/cac:Price/cbc:PriceAmount is not a valid number",
        ),
    ];
    for (name, bytes, _) in &cases {
        t.drop_file(name, bytes).await;
    }
    t.drain().await;
    let rejected = t.pipeline.repository().unreported_rejections().await.unwrap();
    for (name, _, expected) in &cases {
        let r = rejected.iter().find(|r| r.value.source_key == format!("inbox/{name}")).unwrap();
        assert!(r.value.reason.contains(expected), "{name}: {}", r.value.reason);
        assert!(r.value.reason.contains("XSLT-RUNTIME-ERROR"), "{name}: {}", r.value.reason);
    }
}
