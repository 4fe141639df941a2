//! The handlers on a pipeline over the local adapters: partial batch failure with good and bad
//! messages mixed, poison messages reported on every delivery until they are dead letters,
//! send-batch on the schedule and by hand, and the manual actions.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use ledgerpost_domain::ids::{AdministrationId, InvoiceId};
use ledgerpost_lambda::actions::{ActionFailureKind, ActionResponse, ImportKind};
use ledgerpost_lambda::send_batch::{SendBatchFailureKind, Trigger};
use ledgerpost_pipeline::queues;
use ledgerpost_pipeline::repository::StatusKey;
use ledgerpost_ports::{Bucket, BucketError, ObjectKey, ObjectMeta, ObjectPage};
use serde_json::json;

fn admin(id: &str) -> AdministrationId {
    AdministrationId::parse(id).unwrap()
}

async fn ids_in(t: &TestPipeline, administration: &str, status: StatusKey) -> Vec<InvoiceId> {
    let records = t.pipeline.repository().invoices_in_status(&admin(administration), status).await.unwrap();
    records.into_iter().map(|r| r.value.id).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The bucket, except that reading a key with "flaky" in it fails as S3 does when it throttles.
struct FlakyBucket(Arc<dyn Bucket>);

#[async_trait]
impl Bucket for FlakyBucket {
    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError> {
        self.0.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> Result<Vec<u8>, BucketError> {
        if key.as_str().contains("flaky") {
            return Err(BucketError::unavailable(
                format!("GetObject {key}"),
                "SlowDown: please reduce your request rate",
            ));
        }
        self.0.get(key, max_bytes).await
    }
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BucketError> {
        self.0.head(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        after: Option<&ledgerpost_ports::Cursor>,
        max: usize,
    ) -> Result<ObjectPage, BucketError> {
        self.0.list(prefix, after, max).await
    }
    async fn move_object(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BucketError> {
        self.0.move_object(from, to).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), BucketError> {
        self.0.delete(key).await
    }
}

#[tokio::test]
async fn a_mixed_ingest_batch_reports_exactly_the_failed_messages() {
    let t = spawn_pipeline_wrapping(DEMO_CONFIG, |bucket| Arc::new(FlakyBucket(bucket)));
    t.pipeline.import_rules(demo("rules.csv").as_slice()).await.unwrap();
    t.put("inbox/BL 20250601.xml", demo("inbox/BL-20250601.xml")).await;
    t.put("inbox/KM-2025-0101.xml", demo("inbox/KM-2025-0101.xml")).await;
    t.put("inbox/KM-2025-0103-wrong-total.xml", demo("inbox/KM-2025-0103-wrong-total.xml")).await;
    t.put("inbox/flaky.xml", demo("inbox/KM-2025-0102.xml")).await;
    t.put("archive/elsewhere.xml", demo("inbox/KM-2025-0102.xml")).await;

    // WHEN one batch holds good messages, expected refusals and two bad ones
    let event = batch(vec![
        record("purchase", &s3_notification("inbox%2FBL+20250601.xml")),
        record("sales", &s3_notification("inbox/KM-2025-0101.xml")),
        record("test-event", S3_TEST_EVENT),
        record("outside-inbox", &s3_notification("archive/elsewhere.xml")),
        record("wrong-total", &s3_notification("inbox/KM-2025-0103-wrong-total.xml")),
        record("gone", &s3_notification("inbox/processed-before.xml")),
        record("not-json", "this is not an S3 notification"),
        record("throttled", &s3_notification("inbox/flaky.xml")),
    ]);
    let response = ledgerpost_lambda::ingest(&t.pipeline, event).await;

    // THEN only the poison message and the throttled one are reported, and only they come back
    let failed: BTreeSet<String> =
        response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, set(&["not-json", "throttled"]));
    // the good files are stored and passed on, the wrong total is rejected (a result, not a failure),
    // the object outside inbox/ is left alone
    assert_eq!(ids_in(&t, "provide", StatusKey::Received).await.len(), 1);
    assert!(t.exists("rejected/KM-2025-0103-wrong-total.xml").await);
    assert!(!t.exists("inbox/BL 20250601.xml").await);
    assert!(t.exists("archive/elsewhere.xml").await);
    assert!(t.exists("inbox/flaky.xml").await);

    // AND the next stages, through their handlers, finish both invoices
    assert!(t.drain().await.is_empty());
    assert_eq!(ids_in(&t, "provide", StatusKey::Journaled).await.len(), 1);
    assert_eq!(ids_in(&t, "koksmaat", StatusKey::Journaled).await.len(), 1);
}

#[tokio::test]
async fn a_mixed_stage_batch_acknowledges_the_good_and_reports_the_bad() {
    let t = spawn_pipeline();
    t.put("inbox/KM-2025-0101.xml", demo("inbox/KM-2025-0101.xml")).await;
    t.put("inbox/BL-20250604.xml", demo("inbox/BL-20250604.xml")).await;
    t.pipeline.enqueue_inbox().await.unwrap();
    let p = &t.pipeline;
    t.deliver(queues::INGEST, |e| ledgerpost_lambda::ingest(p, e)).await;
    let sales = ids_in(&t, "koksmaat", StatusKey::Received).await.remove(0);
    let purchase = ids_in(&t, "provide", StatusKey::Received).await.remove(0);
    let missing = "provide_2025_nl809163160b01_nope_0123456789abcdef";

    // WHEN the journal function gets a ready sales invoice, a purchase that is not matched yet,
    // an invoice that does not exist, and a message that is not one
    let event = batch(vec![
        record("ready", &json!({"invoice": sales, "posting_date": "2025-06-09"}).to_string()),
        record("not-ready", &json!({"invoice": purchase}).to_string()),
        record("missing", &json!({"invoice": missing}).to_string()),
        record("garbage", r#"{"invoice": 42}"#),
    ]);
    let response = ledgerpost_lambda::journal(&t.pipeline, event).await;

    // THEN the last two are reported failed; the sales invoice is journaled on the posting date
    let failed: BTreeSet<String> =
        response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, set(&["missing", "garbage"]));
    assert_eq!(ids_in(&t, "koksmaat", StatusKey::Journaled).await, std::slice::from_ref(&sales));
    let entry = t.pipeline.repository().entry(&sales).await.unwrap().unwrap();
    assert_eq!(entry.booking_date.to_string(), "2025-06-09");
}

#[tokio::test]
async fn a_poison_message_is_reported_on_every_delivery_until_it_is_a_dead_letter() {
    let t = spawn_pipeline();
    // GIVEN a match message whose invoice row does not exist (nothing will ever make it work)
    let poison = json!({"invoice": "provide_2025_nl809163160b01_gone_0123456789abcdef"}).to_string();
    t.send(queues::MATCH, &poison).await;
    let p = &t.pipeline;

    // WHEN the match function gets it again and again
    for delivery in 1..=MAX_RECEIVES {
        let result = t.deliver(queues::MATCH, |e| ledgerpost_lambda::match_lines(p, e)).await;
        // THEN it is never acknowledged
        assert_eq!(result.received.len(), 1, "delivery {delivery}");
        assert_eq!(result.failed, set(&[result.received[0].id.as_str()]), "delivery {delivery}");
    }
    // AND after the receive limit the queue sets it aside as a dead letter, for the report
    let after = t.deliver(queues::MATCH, |e| ledgerpost_lambda::match_lines(p, e)).await;
    assert!(after.received.is_empty());
    let dead = t.dead_letters(queues::MATCH).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, poison);
}

#[tokio::test]
async fn a_record_without_a_body_or_id_fails_rather_than_vanishes() {
    let t = spawn_pipeline();
    let mut no_body = record("no-body", "");
    no_body.body = None;
    let mut no_id = record("", "not json");
    no_id.message_id = None;
    let response = ledgerpost_lambda::match_lines(&t.pipeline, batch(vec![no_body, no_id])).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    // An empty identifier makes Lambda fail the whole batch: retried, never dropped.
    assert_eq!(failed, ["no-body", ""]);
}

/// Sales and purchases of the demo, through ingest, match and journal.
async fn journaled_demo(t: &TestPipeline) {
    t.pipeline.import_rules(demo("rules.csv").as_slice()).await.unwrap();
    for name in ["KM-2025-0101.xml", "KM-2025-0102.xml", "BL-20250601.xml"] {
        t.put(&format!("inbox/{name}"), demo(&format!("inbox/{name}"))).await;
        t.send(queues::INGEST, &s3_notification(&format!("inbox/{name}"))).await;
    }
    assert!(t.drain().await.is_empty());
    assert_eq!(ids_in(t, "koksmaat", StatusKey::Journaled).await.len(), 2);
    assert_eq!(ids_in(t, "provide", StatusKey::Journaled).await.len(), 1);
}

#[tokio::test]
async fn send_batch_runs_by_hand_as_a_dry_run_then_on_the_schedule() {
    let t = spawn_pipeline();
    journaled_demo(&t).await;

    // WHEN it is invoked by hand, as a dry run of one administration
    let dry =
        ledgerpost_lambda::send_batch(&t.pipeline, json!({"administration": "koksmaat", "dry_run": true}))
            .await
            .unwrap();
    // THEN it counts what it would send, and sends and stores nothing
    assert_eq!(
        (dry.trigger, dry.dry_run, dry.administration.as_deref()),
        (Trigger::Manual, true, Some("koksmaat"))
    );
    assert_eq!(dry.totals.documents_sent, 2);
    assert!(t.outbox().is_empty());

    // WHEN the daily schedule fires
    let scheduled = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2025-06-10T05:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/ledgerpost-daily"], "detail": {}
    });
    let run = ledgerpost_lambda::send_batch(&t.pipeline, scheduled.clone()).await.unwrap();
    // THEN every journaled document goes out, one per e-mail, plus the report
    assert_eq!((run.trigger, run.dry_run), (Trigger::Schedule, false));
    assert_eq!((run.totals.emails_sent, run.totals.documents_sent), (3, 3));
    assert!(!run.needs_attention, "{run:?}");
    let sales = run.journals.iter().find(|j| j.administration == "koksmaat").unwrap();
    assert_eq!(sales.documents_sent, 2);
    assert_eq!(t.outbox().len(), 4);
    let summary = serde_json::to_value(&run).unwrap();
    assert_eq!(summary["trigger"], "schedule");
    assert_eq!(summary["totals"]["documents_sent"], 3);

    // AND a second run finds nothing left to send
    let again = ledgerpost_lambda::send_batch(&t.pipeline, scheduled).await.unwrap();
    assert_eq!(again.totals.documents_sent, 0);
}

#[tokio::test]
async fn send_batch_refuses_what_it_cannot_run_with_a_typed_error() {
    let t = spawn_pipeline();
    let unknown =
        ledgerpost_lambda::send_batch(&t.pipeline, json!({"administration": "acme-bv"})).await.unwrap_err();
    assert_eq!(
        unknown.kind,
        SendBatchFailureKind::UnknownAdministration { administration: "acme-bv".into() }
    );
    let bad = ledgerpost_lambda::send_batch(&t.pipeline, json!({"dry_run": 1})).await.unwrap_err();
    assert_eq!(bad.kind, SendBatchFailureKind::BadRequest);
    assert!(t.outbox().is_empty());
}

#[tokio::test]
async fn an_invoice_waiting_for_approval_is_approved_by_the_actions_function() {
    let config = DEMO_CONFIG
        .replace("[administrations.purchase]\n", "[administrations.purchase]\napproval_required = true\n");
    assert_ne!(config, DEMO_CONFIG);
    let t = spawn_pipeline_with(&config);
    t.put("imports/rules.csv", demo("rules.csv")).await;
    let imported = ledgerpost_lambda::actions(
        &t.pipeline,
        json!({"action": "import", "kind": "rules", "key": "imports/rules.csv"}),
    )
    .await
    .unwrap();
    assert_eq!(
        imported,
        ActionResponse::Imported {
            kind: ImportKind::Rules,
            key: Some("imports/rules.csv".into()),
            created: 1,
            updated: 0
        }
    );
    t.put("inbox/BL-20250601.xml", demo("inbox/BL-20250601.xml")).await;
    t.send(queues::INGEST, &s3_notification("inbox/BL-20250601.xml")).await;
    assert!(t.drain().await.is_empty());
    let id = ids_in(&t, "provide", StatusKey::ApprovalPending).await.remove(0);

    // WHEN a person approves it
    let response = ledgerpost_lambda::actions(&t.pipeline, json!({"action": "approve", "invoice_id": id}))
        .await
        .unwrap();
    // THEN the answer is the invoice's new state, and the next run sends it
    let ActionResponse::Invoice { invoice_id, status, open_lines } = response else { panic!("{response:?}") };
    assert_eq!((invoice_id, status.as_str(), open_lines), (id.clone(), "Approved", 0));
    let run = ledgerpost_lambda::send_batch(&t.pipeline, json!({})).await.unwrap();
    assert_eq!(run.totals.documents_sent, 1);

    // AND approving again, or an invoice that does not exist, is a typed refusal
    let again = ledgerpost_lambda::actions(&t.pipeline, json!({"action": "approve", "invoice_id": id}))
        .await
        .unwrap_err();
    assert_eq!(again.kind, ActionFailureKind::Refused, "{again:?}");
    let nobody = "provide_2025_nl809163160b01_nope_0123456789abcdef";
    let missing = ledgerpost_lambda::actions(&t.pipeline, json!({"action": "approve", "invoice_id": nobody}))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ActionFailureKind::UnknownInvoice { invoice_id: nobody.into() });
    assert_eq!(serde_json::to_value(&missing).unwrap()["error"], "unknown_invoice");
}

#[tokio::test]
async fn master_data_is_imported_from_the_bucket_or_refused_with_the_reason() {
    let t = spawn_pipeline();
    let import = |kind: &str, key: &str| {
        ledgerpost_lambda::actions(&t.pipeline, json!({"action": "import", "kind": kind, "key": key}))
    };
    t.put("imports/receipts.csv", demo("receipts.csv")).await;
    t.put("imports/obligations.csv", demo("obligations.csv")).await;
    t.put("imports/broken.csv", b"administration,order_number\nprovide,PO-1\n".to_vec()).await;
    t.put("config/receipts.csv", demo("receipts.csv")).await;

    let receipts = import("receipts", "imports/receipts.csv").await.unwrap();
    assert_eq!(
        receipts,
        ActionResponse::Imported {
            kind: ImportKind::Receipts,
            key: Some("imports/receipts.csv".into()),
            created: 1,
            updated: 0
        }
    );
    let obligations = import("obligations", "imports/obligations.csv").await.unwrap();
    assert!(matches!(obligations, ActionResponse::Imported { created: 1, .. }), "{obligations:?}");

    let broken = import("receipts", "imports/broken.csv").await.unwrap_err();
    assert_eq!(broken.kind, ActionFailureKind::ImportRefused);
    assert!(broken.message.contains("header"), "{}", broken.message);
    let missing = import("rules", "imports/none.csv").await.unwrap_err();
    assert_eq!(missing.kind, ActionFailureKind::NotFound { key: "imports/none.csv".into() });
    let outside = import("receipts", "config/receipts.csv").await.unwrap_err();
    assert_eq!(outside.kind, ActionFailureKind::BadRequest);
    assert!(outside.message.contains("imports/"), "{}", outside.message);
}

#[tokio::test]
async fn a_line_coded_by_hand_keeps_a_rule_and_the_invoice_goes_on_to_the_journal() {
    let t = spawn_pipeline();
    t.put("inbox/BL-20250604.xml", demo("inbox/BL-20250604.xml")).await;
    t.send(queues::INGEST, &s3_notification("inbox/BL-20250604.xml")).await;
    assert!(t.drain().await.is_empty());
    let id = ids_in(&t, "provide", StatusKey::Manual).await.remove(0);

    let request = json!({"action": "code_line", "invoice_id": id, "line": "1",
        "coding": {"account": "4620", "vat_group": "H21", "cost_centre": "IT", "project": null},
        "rule_text": "maatwerk koppeling"});
    let response = ledgerpost_lambda::actions(&t.pipeline, request).await.unwrap();
    assert!(matches!(response, ActionResponse::Invoice { open_lines: 0, .. }), "{response:?}");
    assert!(t.drain().await.is_empty());
    assert_eq!(ids_in(&t, "provide", StatusKey::Journaled).await, std::slice::from_ref(&id));

    // The rule is kept: adding it again only updates it.
    let rule = json!({"action": "add_rule", "administration": "provide", "supplier": "NL809163160B01",
        "search_text": "Maatwerk koppeling", "coding": {"account": "4620", "vat_group": "H21", "cost_centre": null, "project": null}});
    let added = ledgerpost_lambda::actions(&t.pipeline, rule).await.unwrap();
    assert_eq!(
        added,
        ActionResponse::Imported { kind: ImportKind::Rules, key: None, created: 0, updated: 1 }
    );
    // A journaled invoice can no longer be changed.
    let undo = json!({"action": "undo", "invoice_id": id, "line": "1"});
    let refused = ledgerpost_lambda::actions(&t.pipeline, undo).await.unwrap_err();
    assert_eq!(refused.kind, ActionFailureKind::Refused, "{refused:?}");
}
