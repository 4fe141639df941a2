//! Every file in events/ deserialises into the type its function will take, so the fixtures
//! keep the shapes AWS sends. (Running them through the handlers is for the function crates.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use ledgerpost_aws::{S3Notification, parse_notification};
use ledgerpost_domain::ids::{AdministrationId, InvoiceId};
use ledgerpost_pipeline::messages::{InvoiceMessage, ingest_keys};
use serde::Deserialize;
use serde::de::DeserializeOwned;

fn events_dir() -> PathBuf {
    ledgerpost_aws_tests::workspace_root().join("events")
}

fn read<T: DeserializeOwned>(name: &str) -> T {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The manual payload of send-batch (provisional: the pipeline's `SendOptions` has these two
/// fields but no serde shape yet).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBatchRequest {
    administration: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// The manual payload of actions (provisional; one example action).
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum ActionRequest {
    Approve { invoice_id: String },
}

const FILES: &[&str] = &[
    "sqs-s3-object-created.json",
    "sqs-s3-test-event.json",
    "sqs-match-batch.json",
    "sqs-journal-batch.json",
    "eventbridge-scheduled.json",
    "send-batch-manual.json",
    "actions-approve.json",
];

#[test]
fn every_file_in_events_is_checked_here() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(on_disk, FILES.iter().map(|f| f.to_string()).collect::<BTreeSet<_>>());
}

#[test]
fn the_s3_notification_in_sqs_is_an_aws_shaped_object_created_event() {
    let event: SqsEvent = read("sqs-s3-object-created.json");
    let [record] = event.records.as_slice() else { panic!("one record") };
    assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    let body = record.body.as_deref().unwrap();
    // The body has every field real S3 sends, so even the strict aws_lambda_events type reads it…
    let strict: S3Event = serde_json::from_str(body).unwrap();
    assert_eq!(strict.records[0].event_name.as_deref(), Some("ObjectCreated:Put"));
    // …and the tolerant parser that ingest uses decodes the key.
    let S3Notification::Records(events) = parse_notification(body).unwrap() else { panic!("records") };
    assert_eq!(events[0].object_key().unwrap().as_str(), "inbox/Supplier Invoice 2025-0042 (EUR).xml");
    assert_eq!(events[0].size, Some(18733));
}

#[test]
fn the_s3_test_event_in_sqs_is_recognised() {
    let event: SqsEvent = read("sqs-s3-test-event.json");
    let body = event.records[0].body.as_deref().unwrap();
    assert!(matches!(parse_notification(body).unwrap(), S3Notification::Test { .. }));
}

#[test]
fn stage_batches_carry_the_pipelines_invoice_messages() {
    for (file, queue, count) in
        [("sqs-match-batch.json", "MatchQueue", 3), ("sqs-journal-batch.json", "JournalQueue", 2)]
    {
        let event: SqsEvent = read(file);
        assert_eq!(event.records.len(), count, "{file}");
        let mut ids = BTreeSet::new();
        for record in &event.records {
            assert!(record.event_source_arn.as_deref().unwrap().contains(queue), "{file}");
            assert!(ids.insert(record.message_id.clone().unwrap()), "{file}: message ids are unique");
            let message = InvoiceMessage::parse(record.body.as_deref().unwrap()).unwrap();
            // The message round-trips: the fixture is exactly what the pipeline writes.
            assert_eq!(message.body(), record.body.as_deref().unwrap(), "{file}");
        }
    }
}

#[test]
fn the_pipeline_reads_the_same_keys_from_the_s3_fixtures() {
    let created: SqsEvent = read("sqs-s3-object-created.json");
    let keys = ingest_keys(created.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["inbox/Supplier Invoice 2025-0042 (EUR).xml"]
    );
    let test: SqsEvent = read("sqs-s3-test-event.json");
    assert!(ingest_keys(test.records[0].body.as_deref().unwrap()).unwrap().is_empty());
}

#[test]
fn the_scheduled_event_is_an_eventbridge_scheduled_event() {
    let event: EventBridgeEvent = read("eventbridge-scheduled.json");
    assert_eq!((event.detail_type.as_str(), event.source.as_str()), ("Scheduled Event", "aws.events"));
    assert_eq!(event.detail, serde_json::json!({}));
    assert!(event.resources.unwrap()[0].starts_with("arn:aws:events:"));
}

#[test]
fn manual_payloads_parse() {
    let request: SendBatchRequest = read("send-batch-manual.json");
    assert_eq!((request.administration.as_deref(), request.dry_run), (Some("acme-bv"), true));
    assert!(AdministrationId::parse("acme-bv").is_ok());
    let ActionRequest::Approve { invoice_id } = read("actions-approve.json");
    // The id is a real invoice id: the one of the first match message.
    assert!(InvoiceId::parse(&invoice_id).is_ok(), "{invoice_id}");
    let first_match: SqsEvent = read("sqs-match-batch.json");
    let message = InvoiceMessage::parse(first_match.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(message.invoice.as_str(), invoice_id);
}
