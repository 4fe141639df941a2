//! send-batch on the local adapters: caps across runs, delay and start date, ZIP content, missing
//! attachments, throttling, in doubt after a crash between claim and send, overlapping runs, dry
//! run, and the report (mailed, stored, rejected files listed once).

mod common;

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use common::*;
use ledgerpost_export::RunReport;
use ledgerpost_pipeline::repository::{SendState, StatusKey};
use ledgerpost_pipeline::send::{LEASE_NAME, SendError, SendOptions};
use ledgerpost_ports::{Lease, MailError, MailMessageId, Mailer, OutgoingEmail};
use mail_parser::MimeHeaders;

fn admin(id: &str) -> ledgerpost_domain::ids::AdministrationId {
    ledgerpost_domain::ids::AdministrationId::parse(id).unwrap()
}

/// Drops `n` sales invoices of koksmaat dated `date` and runs the stages.
async fn seed_sales(t: &TestPipeline, n: usize, date: &str) {
    for i in 0..n {
        t.drop_file(&format!("s-{date}-{i:03}.xml"), &sales_invoice(&format!("S-{date}-{i:03}"), date)).await;
    }
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
}

async fn run(t: &TestPipeline) -> RunReport {
    t.pipeline.send_batch(SendOptions::default()).await.expect("a run")
}

fn sales(report: &RunReport) -> &ledgerpost_export::report::JournalReport {
    report
        .administrations
        .iter()
        .find(|a| a.id == "koksmaat")
        .unwrap()
        .journal(ledgerpost_export::Journal::Sales)
        .unwrap()
}

/// The parsed e-mails in the outbox whose subject does not start with the report's.
fn document_emails(t: &TestPipeline) -> Vec<Vec<u8>> {
    t.outbox()
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .filter(|raw| {
            let message = mail_parser::MessageParser::default().parse(raw).unwrap();
            message.header_raw("X-Ledgerpost-Batch").is_some()
        })
        .collect()
}

fn attachments(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let message = mail_parser::MessageParser::default().parse(raw).unwrap();
    message
        .attachments()
        .map(|a| (a.attachment_name().unwrap_or_default().to_owned(), a.contents().to_vec()))
        .collect()
}

#[tokio::test]
async fn caps_hold_per_run_and_the_rest_waits() {
    let t = spawn_pipeline();
    seed_sales(&t, 120, "2025-02-01").await;

    let first = run(&t).await;
    assert_eq!(
        (sales(&first).emails_sent, sales(&first).documents_sent, sales(&first).waiting_for_cap),
        (50, 50, 70)
    );
    let second = run(&t).await;
    assert_eq!((sales(&second).emails_sent, sales(&second).waiting_for_cap), (50, 20));
    let third = run(&t).await;
    assert_eq!((sales(&third).emails_sent, sales(&third).waiting_for_cap), (20, 0));
    let fourth = run(&t).await;
    assert_eq!(sales(&fourth).emails_sent, 0);

    // 120 document e-mails, each sent once, and one report per run.
    let emails = document_emails(&t);
    assert_eq!(emails.len(), 120);
    assert_eq!(t.outbox().len(), 124);
    let sent = t.pipeline.repository().invoices_in_status(&admin("koksmaat"), StatusKey::Sent).await.unwrap();
    assert_eq!(sent.len(), 120);
    assert!(sent.iter().all(|r| matches!(r.value.send, SendState::Sent { .. })));
    // The first report says how many wait; each run is stored.
    assert!(first.render_text().contains("70"), "{}", first.render_text());
    assert_eq!(t.pipeline.repository().latest_runs(10).await.unwrap().len(), 4);
    // Every document e-mail went to the sales mailbox with the XML and a rendered PDF.
    let one = attachments(&emails[0]);
    let names: Vec<&str> = one.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with(".xml") && names[1].ends_with(".pdf"), "{names:?}");
    assert!(one[1].1.starts_with(b"%PDF"));
    let raw = String::from_utf8_lossy(&emails[0]);
    assert!(raw.contains("X-Ledgerpost-Envelope-To: sales@books.example"), "{raw:.400}");
}

#[tokio::test]
async fn delay_and_start_date_decide_what_goes_out() {
    let config =
        CONFIG.replace("send_rate = 1000", "send_rate = 1000\ndelay_days = 5\nstart_date = 2025-01-01");
    let t = spawn_pipeline_with(&config);
    seed_sales(&t, 1, "2024-12-31").await; // before the start date: never
    seed_sales(&t, 1, "2025-02-27").await; // delay passes on 2025-03-04
    seed_sales(&t, 1, "2025-02-20").await; // goes out now (clock: 2025-03-01)

    let report = run(&t).await;
    let s = sales(&report);
    assert_eq!(s.emails_sent, 1);
    let reasons: Vec<String> = s.skipped.iter().map(|k| k.reason.describe()).collect();
    assert!(reasons.iter().any(|r| r.contains("before the export start date")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("2025-03-04")), "{reasons:?}");

    // WHEN three days pass THEN the delayed one goes; the old one never does
    t.clock.advance(TimeDelta::days(3));
    let report = run(&t).await;
    assert_eq!(sales(&report).emails_sent, 1);
    assert_eq!(document_emails(&t).len(), 2);
}

#[tokio::test]
async fn several_documents_per_email_as_one_zip() {
    let config = CONFIG.replace(
        "send_rate = 1000",
        "send_rate = 1000\ndocuments_per_email = 3\nzip = true\n[export.attachments]\nsales = \"xml\"",
    );
    let t = spawn_pipeline_with(&config);
    seed_sales(&t, 4, "2025-02-01").await;
    let report = run(&t).await;
    assert_eq!((sales(&report).emails_sent, sales(&report).documents_sent), (2, 4));

    let emails = document_emails(&t);
    let first = attachments(&emails[0]);
    assert_eq!(first.len(), 1);
    assert!(first[0].0.ends_with(".zip"), "{}", first[0].0);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first[0].1.clone())).unwrap();
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        names.push(name.clone());
        let mut content = String::new();
        entry.read_to_string(&mut content).unwrap();
        assert!(content.contains("<Invoice"), "{name}");
    }
    assert_eq!(names, ["S-2025-02-01-000.xml", "S-2025-02-01-001.xml", "S-2025-02-01-002.xml"]);
}

#[tokio::test]
async fn a_document_without_any_attachment_is_an_error_and_not_sent() {
    let config = CONFIG.replace(
        "send_rate = 1000",
        "send_rate = 1000\nrender_pdf_when_missing = false\n[export.attachments]\nsales = \"pdf\"",
    );
    let t = spawn_pipeline_with(&config);
    seed_sales(&t, 1, "2025-02-01").await;
    let report = run(&t).await;
    let s = sales(&report);
    assert_eq!(s.emails_sent, 0);
    assert_eq!(s.error_count(), 1);
    assert!(report.render_text().contains("S-2025-02-01-000"), "{}", report.render_text());
    assert!(document_emails(&t).is_empty());
    let ready =
        t.pipeline.repository().invoices_in_status(&admin("koksmaat"), StatusKey::Journaled).await.unwrap();
    assert_eq!(ready[0].value.send, SendState::Ready);
}

/// What the scripted mailer does with the next message.
#[derive(Debug, Clone, Copy)]
enum Then {
    Throttle,
    InDoubt,
    Panic,
}

/// A mailer that fails on purpose, as scripted, then hands messages to the outbox.
struct ScriptedMailer {
    inner: Arc<dyn Mailer>,
    script: Mutex<VecDeque<Then>>,
}

#[async_trait]
impl Mailer for ScriptedMailer {
    async fn send_raw(&self, email: &OutgoingEmail) -> Result<MailMessageId, MailError> {
        let next = self.script.lock().unwrap().pop_front();
        match next {
            None => self.inner.send_raw(email).await,
            Some(Then::Throttle) => Err(MailError::Throttled {
                context: "maximum sending rate exceeded".into(),
                retry_after: None,
                source: "429".into(),
            }),
            Some(Then::InDoubt) => {
                Err(MailError::InDoubt { context: "timeout after DATA".into(), source: "timeout".into() })
            }
            Some(Then::Panic) => panic!("the sender dies between claim and send"),
        }
    }
}

fn scripted(t: &TestPipeline, script: &[Then]) -> ledgerpost_pipeline::Pipeline {
    let mailer = Arc::new(ScriptedMailer {
        inner: t.backend.mailer.clone(),
        script: Mutex::new(script.iter().copied().collect()),
    });
    let ports = ledgerpost_pipeline::Ports { mailer, ..t.pipeline.ports().clone() };
    ledgerpost_pipeline::Pipeline::new(ports, Arc::new(t.pipeline.config().clone()))
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_and_sends_once() {
    let t = spawn_pipeline();
    seed_sales(&t, 1, "2025-02-01").await;
    let pipeline = scripted(&t, &[Then::Throttle, Then::Throttle]);
    let report = pipeline.send_batch(SendOptions::default()).await.unwrap();
    assert_eq!(sales(&report).emails_sent, 1);
    assert_eq!(document_emails(&t).len(), 1);
    let waits = t.sleeper.asked();
    assert!(waits.contains(&Duration::from_secs(1)) && waits.contains(&Duration::from_secs(2)), "{waits:?}");
}

#[tokio::test]
async fn a_crash_between_claim_and_send_leaves_the_batch_in_doubt_never_resent() {
    let t = spawn_pipeline();
    seed_sales(&t, 2, "2025-02-01").await;
    // GIVEN a run whose sender dies after claiming the first batch
    let dying = scripted(&t, &[Then::Panic]);
    let crashed = tokio::spawn(async move { dying.send_batch(SendOptions::default()).await }).await;
    assert!(crashed.is_err(), "the run died");
    assert!(document_emails(&t).is_empty());

    // WHEN the next run comes before the dead run's lease expired THEN it is refused
    assert!(matches!(t.pipeline.send_batch(SendOptions::default()).await, Err(SendError::Overlap { .. })));
    // WHEN it comes after
    t.clock.advance(TimeDelta::minutes(16));
    let report = run(&t).await;
    // THEN the claimed batch is in doubt with its document, and only the other document is sent
    let s = sales(&report);
    assert_eq!(s.in_doubt.len(), 1);
    assert_eq!(s.in_doubt[0].documents.len(), 1);
    assert_eq!(s.emails_sent, 1);
    assert!(report.render_text().to_lowercase().contains("doubt"));
    let in_doubt_number = s.in_doubt[0].documents[0].number.clone();
    // AND later runs list it again but never send it
    let again = run(&t).await;
    assert_eq!(sales(&again).in_doubt.len(), 1);
    assert_eq!(sales(&again).emails_sent, 0);
    assert_eq!(document_emails(&t).len(), 1);

    // WHEN a person checked and found it was not sent THEN the next run sends it
    let batch = sales(&again).in_doubt[0].batch_id.clone();
    t.pipeline.resolve_batch(&batch, false).await.unwrap();
    let last = run(&t).await;
    assert_eq!((sales(&last).emails_sent, sales(&last).in_doubt.len()), (1, 0));
    let emails = document_emails(&t);
    assert_eq!(emails.len(), 2);
    assert!(String::from_utf8_lossy(&emails[1]).contains(&in_doubt_number));
}

#[tokio::test]
async fn an_unknown_mail_outcome_is_in_doubt_at_once() {
    let t = spawn_pipeline();
    seed_sales(&t, 1, "2025-02-01").await;
    let pipeline = scripted(&t, &[Then::InDoubt]);
    let report = pipeline.send_batch(SendOptions::default()).await.unwrap();
    assert_eq!((sales(&report).emails_sent, sales(&report).in_doubt.len()), (0, 1));
    let next = run(&t).await;
    assert_eq!((sales(&next).emails_sent, sales(&next).in_doubt.len()), (0, 1));
    assert!(document_emails(&t).is_empty());
}

#[tokio::test]
async fn overlapping_runs_cannot_both_send() {
    let t = spawn_pipeline();
    seed_sales(&t, 3, "2025-02-01").await;
    // GIVEN the scheduled run holds the lease
    let scheduled = t.backend.lease.acquire(LEASE_NAME, "scheduled", Duration::from_secs(900)).await.unwrap();
    // WHEN a manual run starts THEN it is refused, naming the other run
    let err = t.pipeline.send_batch(SendOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("scheduled"), "{err}");
    assert!(t.outbox().is_empty());
    t.backend.lease.release(scheduled).await.unwrap();
    assert_eq!(sales(&run(&t).await).emails_sent, 3);
}

#[tokio::test]
async fn a_dry_run_selects_and_reports_but_sends_and_marks_nothing() {
    let t = spawn_pipeline();
    seed_sales(&t, 3, "2025-02-01").await;
    t.drop_file("junk.xml", b"not xml at all").await;
    t.drain().await;
    let dry = t.pipeline.send_batch(SendOptions { dry_run: true, administration: None }).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(sales(&dry).emails_sent, 3);
    assert_eq!(dry.rejected_files.len(), 1);
    assert!(t.outbox().is_empty(), "nothing sent, no report mailed");
    assert!(t.pipeline.repository().latest_runs(5).await.unwrap().is_empty(), "nothing stored");
    let ready =
        t.pipeline.repository().invoices_in_status(&admin("koksmaat"), StatusKey::Journaled).await.unwrap();
    assert_eq!(ready.len(), 3);

    // The real run then sends the same and lists the rejected file once.
    let real = run(&t).await;
    assert_eq!((sales(&real).emails_sent, real.rejected_files.len()), (3, 1));
    assert!(real.rejected_files[0].key.starts_with("rejected/junk.xml"));
    let after = run(&t).await;
    assert!(after.rejected_files.is_empty());
    // The report went to the reports address.
    let reports: Vec<_> = t
        .outbox()
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter(|m| m.contains("X-Ledgerpost-Envelope-To: reports@firm.example"))
        .collect();
    assert_eq!(reports.len(), 2);
}

#[tokio::test]
async fn a_run_for_one_administration_leaves_the_others() {
    let t = spawn_pipeline();
    seed_sales(&t, 1, "2025-02-01").await;
    let report = t
        .pipeline
        .send_batch(SendOptions { dry_run: false, administration: Some(admin("buyer-as")) })
        .await
        .unwrap();
    assert!(report.administrations.iter().all(|a| a.id == "buyer-as"));
    assert!(document_emails(&t).is_empty());
}
