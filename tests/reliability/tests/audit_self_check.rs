//! The audit must see a breach when there is one: each test here breaks one guarantee by hand
//! after a clean run and checks that the audit names it.

use std::time::Duration;

use ledgerpost_ports::{Bucket, ObjectKey, Queue};
use ledgerpost_reliability::audit::{Audit, Input, audit, send_until_quiet};
use ledgerpost_reliability::harness::CONFIG;
use ledgerpost_reliability::{Harness, corpus};

fn inputs() -> Vec<Input> {
    let example1 = corpus("ubl/valid/en16931__ubl-examples__ubl-tc434-example1.xml");
    vec![
        Input::new("a.xml", example1.clone()),
        Input::new("b.xml", corpus("ubl/invalid/en16931__Invoice-unit-UBL__BR-CO-10__test8.xml")),
    ]
}

async fn clean_run() -> (Harness, Vec<Input>) {
    let harness = Harness::new(CONFIG, 3);
    let pipeline = harness.pipeline();
    let inputs = inputs();
    for input in &inputs {
        harness.drop_file(&pipeline, &input.name, &input.bytes).await;
    }
    pipeline.drain(Duration::ZERO).await.expect("drain");
    send_until_quiet(&harness, &pipeline, 3).await;
    let audit = audit(&harness, &inputs, &[]).await;
    audit.assert_clean("clean run");
    assert_eq!((audit.document_emails, audit.rejected.len(), audit.journaled), (1, 1, 1));
    (harness, inputs)
}

fn names(audit: &Audit, words: &str) -> bool {
    audit.violations.iter().any(|v| v.contains(words))
}

#[tokio::test]
async fn a_second_email_of_a_document_is_a_duplicate() {
    let (harness, inputs) = clean_run().await;
    let outbox = harness.backend().mailer.messages().unwrap();
    let document = outbox
        .iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains("X-Ledgerpost-Batch"))
        .expect("a document e-mail");
    std::fs::copy(document, document.with_file_name("99999999T999999.999Z-copy.eml")).unwrap();
    let audit = audit(&harness, &inputs, &[]).await;
    assert_eq!(audit.duplicates, 1, "{:?}", audit.violations);
    assert!(names(&audit, "e-mailed 2 times"), "{:?}", audit.violations);
}

#[tokio::test]
async fn a_rejected_file_without_its_reason_is_lost() {
    let (harness, inputs) = clean_run().await;
    let bucket = harness.backend().bucket.clone();
    bucket.delete(&ObjectKey::parse("rejected/b.xml.reason.txt").unwrap()).await.unwrap();
    let audit = audit(&harness, &inputs, &[]).await;
    assert!(audit.lost >= 1 && names(&audit, "has no reason file"), "{:?}", audit.violations);
}

#[tokio::test]
async fn an_input_that_vanished_is_lost() {
    let (harness, mut inputs) = clean_run().await;
    inputs.push(Input::new("never-seen.xml", b"<x/>".to_vec()));
    let audit = audit(&harness, &inputs, &[]).await;
    assert!(names(&audit, "never-seen.xml is neither stored nor rejected"), "{:?}", audit.violations);
    assert_eq!(audit.lost, 1);
}

#[tokio::test]
async fn a_message_left_on_a_queue_and_an_extra_archive_copy_are_seen() {
    let (harness, inputs) = clean_run().await;
    harness.backend().queue.send("journal", r#"{"invoice":"x_1_y_z_0123456789abcdef"}"#).await.unwrap();
    harness
        .backend()
        .bucket
        .put(
            &ObjectKey::parse("archive/koksmaat/2015/copy.xml").unwrap(),
            b"<x/>".to_vec(),
            "application/xml",
        )
        .await
        .unwrap();
    let audit = audit(&harness, &inputs, &[]).await;
    assert!(names(&audit, "queue journal still holds"), "{:?}", audit.violations);
    assert!(names(&audit, "archive/ holds 2 objects for 1 invoices"), "{:?}", audit.violations);
}
