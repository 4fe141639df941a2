//! Every file in events/ is read with the `aws_lambda_events` types (or as the manual payload it
//! is) and run through its handler on a pipeline over the local adapters, in the order of a day:
//! S3's test event, the invoice's notification, the match and journal batches, a manual action,
//! a manual dry run and the scheduled run.
//!
//! The fixtures name administration "acme-bv" and invoice INV-2025-0042 of supplier
//! NL123456789B01; the pipeline here is the demo's with its buyer renamed "acme-bv", and the file
//! behind the notification is a demo purchase with that supplier and number, so the invoice id
//! the ingest stage derives is the one in the match and journal fixtures.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;
use ledgerpost_domain::ids::AdministrationId;
use ledgerpost_lambda::actions::ActionFailureKind;
use ledgerpost_lambda::send_batch::Trigger;
use ledgerpost_lambda::{EventBridgeEvent, SqsBatchResponse, SqsEvent};
use ledgerpost_pipeline::messages::InvoiceMessage;
use ledgerpost_pipeline::queues;
use ledgerpost_pipeline::repository::StatusKey;
use ledgerpost_ports::Queue;
use serde::de::DeserializeOwned;

const FILES: &[&str] = &[
    "sqs-s3-test-event.json",
    "sqs-s3-object-created.json",
    "sqs-match-batch.json",
    "sqs-journal-batch.json",
    "actions-approve.json",
    "send-batch-manual.json",
    "eventbridge-scheduled.json",
];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read<T: DeserializeOwned>(name: &str) -> T {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn failed(response: &SqsBatchResponse) -> BTreeSet<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

fn message_ids(event: &SqsEvent) -> Vec<String> {
    event.records.iter().map(|r| r.message_id.clone().unwrap()).collect()
}

#[test]
fn every_file_in_events_is_run_here() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(on_disk, FILES.iter().map(|f| f.to_string()).collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn every_event_runs_through_its_handler() {
    let t = spawn_pipeline_with(&DEMO_CONFIG.replace("id = \"provide\"", "id = \"acme-bv\""));
    let acme = AdministrationId::parse("acme-bv").unwrap();
    let p = &t.pipeline;

    // S3's test event: acknowledged, nothing done.
    let event: SqsEvent = read("sqs-s3-test-event.json");
    assert!(failed(&ledgerpost_lambda::ingest(p, event).await).is_empty());
    assert!(t.backend.queue.receive(queues::MATCH, 10, std::time::Duration::ZERO).await.unwrap().is_empty());

    // The notification of "inbox/Supplier Invoice 2025-0042 (EUR).xml" (URL-encoded, + for spaces).
    let invoice = demo_text("inbox/BL-20250601.xml").replace("NL809163160B01", "NL123456789B01").replacen(
        "<cbc:ID>20250601</cbc:ID>",
        "<cbc:ID>INV-2025-0042</cbc:ID>",
        1,
    );
    t.put("inbox/Supplier Invoice 2025-0042 (EUR).xml", invoice.into_bytes()).await;
    let event: SqsEvent = read("sqs-s3-object-created.json");
    assert!(failed(&ledgerpost_lambda::ingest(p, event).await).is_empty());
    let stored = p.repository().invoices_in_status(&acme, StatusKey::Received).await.unwrap();
    let [stored] = stored.as_slice() else { panic!("one invoice stored: {stored:?}") };
    assert!(!t.exists("inbox/Supplier Invoice 2025-0042 (EUR).xml").await);

    // The match batch: the first message is that invoice; the other two name invoices that do not
    // exist here, so they are poison and reported failed (never acknowledged).
    let event: SqsEvent = read("sqs-match-batch.json");
    let ids = message_ids(&event);
    let first = InvoiceMessage::parse(event.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(first.invoice, stored.value.id, "the fixtures' invoice id is the one ingest derives");
    let response = ledgerpost_lambda::match_lines(p, event).await;
    assert_eq!(failed(&response), ids[1..].iter().cloned().collect());
    // No rule knows the line: it waits for a person.
    assert_eq!(p.repository().invoices_in_status(&acme, StatusKey::Manual).await.unwrap().len(), 1);

    // The journal batch: that invoice is not ready (acknowledged, nothing to do); the sales
    // invoice of the second message does not exist.
    let event: SqsEvent = read("sqs-journal-batch.json");
    let ids = message_ids(&event);
    let response = ledgerpost_lambda::journal(p, event).await;
    assert_eq!(failed(&response), BTreeSet::from([ids[1].clone()]));

    // A manual approval of an invoice that is not journaled: a typed refusal.
    let payload: serde_json::Value = read("actions-approve.json");
    let refusal = ledgerpost_lambda::actions(p, payload).await.unwrap_err();
    assert_eq!(refusal.kind, ActionFailureKind::Refused, "{refusal:?}");
    assert!(refusal.message.contains("not journaled"), "{}", refusal.message);

    // The manual dry run of acme-bv: the counts, nothing sent.
    let payload: serde_json::Value = read("send-batch-manual.json");
    let summary = ledgerpost_lambda::send_batch(p, payload).await.unwrap();
    assert_eq!((summary.trigger, summary.dry_run), (Trigger::Manual, true));
    assert_eq!(summary.administration.as_deref(), Some("acme-bv"));
    assert_eq!((summary.totals.documents_sent, summary.totals.waiting_for_manual), (0, 1));
    assert!(t.outbox().is_empty());

    // The daily schedule: a real run; nothing is ready to send, the report goes out.
    let event: EventBridgeEvent = read("eventbridge-scheduled.json");
    assert_eq!(event.detail_type, "Scheduled Event");
    let payload: serde_json::Value = read("eventbridge-scheduled.json");
    let summary = ledgerpost_lambda::send_batch(p, payload).await.unwrap();
    assert_eq!((summary.trigger, summary.dry_run), (Trigger::Schedule, false));
    assert_eq!((summary.totals.documents_sent, summary.totals.waiting_for_manual), (0, 1));
    assert_eq!(t.outbox().len(), 1, "the report");
}
