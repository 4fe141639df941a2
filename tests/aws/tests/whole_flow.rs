//! The whole flow on the real AWS SDK against moto_server, driven the way Lambda drives it
//! (the deployment and the delivery are in `common`).
//!
//! - Corpus files (sales of two administrations, one with an embedded PDF and a name with
//!   spaces; a purchase coded by a text rule; a file breaking BR-CO-10, a duplicate and a file
//!   between strangers) are put into `inbox/` with the S3 client; S3's own notifications are
//!   received from the ingest queue and handed to the ingest handler, then the match and journal
//!   queues to theirs, until every queue is empty.
//! - send-batch runs on events/eventbridge-scheduled.json; the e-mails are read back from moto
//!   and parsed: recipients exactly the configured addresses, the attachments per journal as
//!   configured (XML as dropped, PDF rendered or embedded), the report's counts; the stored
//!   state is checked (sent, one journal entry each, `rejected/` with reason files, queues and
//!   dead-letter queues empty). A second run sends nothing again.
//! - With a cap of one sales e-mail per run, each run sends one and says how many wait, and
//!   the runs together send every document exactly once.

mod common;

use std::collections::BTreeSet;

use common::*;
use ledgerpost_pipeline::repository::StatusKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_files_are_ingested_journaled_and_mailed_through_the_real_services() {
    // GIVEN the deployment, with the text rule imported
    let mut d = Deployment::new("flow", 50).await;
    let example1 = corpus(EXAMPLE1);
    let example2 = corpus(EXAMPLE2);
    let peppol = corpus(PEPPOL_BASE);
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("example1.xml", example1.clone()),
        // A name with spaces: S3 notifies it as `inbox/example2+with+pdf.xml`.
        ("example2 with pdf.xml", example2.clone()),
        ("peppol-base.xml", peppol.clone()),
        ("br-co-10.xml", corpus(BR_CO_10)),
        ("example1-again.xml", example1.clone()),
        ("strangers-vat-z.xml", corpus(VAT_Z)),
    ];

    // WHEN the files are dropped into inbox/ and the functions consume their queues
    for (name, bytes) in &inputs {
        put(&d.env, &format!("inbox/{name}"), bytes.clone(), "application/xml").await;
    }
    d.run_queues(inputs.len()).await;

    // THEN the ingest handler had S3's test event (and acknowledged it) and one notification per file
    assert_eq!(d.test_events, 1, "S3 sends one test event when the notification is set up");
    assert_eq!(d.object_messages, inputs.len());
    // the file name with spaces arrived as S3 encodes it ('+' for a space), and the handler
    // decoded it: the invoice is stored and mailed below
    assert!(d.ingest_bodies.iter().any(|b| b.contains("example2+with+pdf.xml")), "{:?}", d.ingest_bodies);
    // the three documents of the administrations are journaled, each with one entry
    let mut journaled = Vec::new();
    for administration in ["koksmaat", "nordic", "buyer-as"] {
        journaled.extend(d.invoices(administration, StatusKey::Journaled).await);
    }
    let numbers: BTreeSet<&str> = journaled.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(numbers, BTreeSet::from(["12115118", "TOSL108", "Snippet1"]), "{journaled:#?}");
    for invoice in &journaled {
        assert_eq!(d.entries(invoice).await, 1, "journal entries of {}", invoice.number);
        let summary = invoice.journal.as_ref().expect("a journal summary");
        assert!(summary.total_debit > rust_decimal::Decimal::ZERO, "{summary:?}");
    }
    // the three refused files are under rejected/ with their reason files, the inbox is empty
    assert!(d.keys("inbox/").await.is_empty(), "{:?}", d.keys("inbox/").await);
    let rejected = d.keys("rejected/").await;
    for name in ["br-co-10.xml", "example1-again.xml", "strangers-vat-z.xml"] {
        assert!(rejected.contains(&format!("rejected/{name}")), "{name} in {rejected:?}");
        let reason = String::from_utf8(d.object(&format!("rejected/{name}.reason.txt")).await).unwrap();
        assert!(reason.contains("Reason:"), "{name}: {reason}");
    }
    assert_eq!(rejected.len(), 6, "{rejected:?}");
    let br_co_10 = String::from_utf8(d.object("rejected/br-co-10.xml.reason.txt").await).unwrap();
    assert!(br_co_10.contains("BR-CO-10"), "{br_co_10}");
    assert!(d.sent().is_empty(), "nothing is mailed before send-batch runs");

    // WHEN the daily schedule fires
    let summary = d.scheduled_run().await;

    // THEN one e-mail per document went to its journal's mailbox, and the report to its own
    let sent = d.sent();
    let documents: Vec<&SentEmail> = sent.iter().filter(|m| !m.is_report()).collect();
    let reports: Vec<&SentEmail> = sent.iter().filter(|m| m.is_report()).collect();
    assert_eq!(documents.len(), 3, "{sent:#?}");
    assert_eq!(summary.totals.emails_sent, 3, "{summary:?}");
    assert_eq!(summary.totals.documents_sent, 3, "{summary:?}");
    for email in &sent {
        // Recipients come from the configuration only, and the envelope is the To: header.
        assert_eq!(email.envelope_to, email.header_to, "{}", email.subject);
        assert_eq!(email.envelope_to.len(), 1, "{}", email.subject);
    }
    let by_number = |number: &str| -> &SentEmail {
        let mut found = documents.iter().filter(|m| m.subject.ends_with(number));
        let email = found.next().unwrap_or_else(|| panic!("no e-mail for {number}: {documents:#?}"));
        assert!(found.next().is_none(), "{number} sent twice");
        email
    };
    // sales: the XML as dropped and a PDF (rendered for example 1, the embedded one for example 2)
    let koksmaat = by_number("12115118");
    assert_eq!(koksmaat.envelope_to, [SALES_TO]);
    assert!(koksmaat.subject.starts_with("De Koksmaat"), "{}", koksmaat.subject);
    assert_eq!(koksmaat.names(), BTreeSet::from(["12115118.xml", "12115118.pdf"]));
    assert_eq!(koksmaat.attachment("12115118.xml"), example1.as_slice());
    assert!(koksmaat.attachment("12115118.pdf").starts_with(b"%PDF-"));
    let nordic = by_number("TOSL108");
    assert_eq!(nordic.envelope_to, [SALES_TO]);
    assert_eq!(nordic.names(), BTreeSet::from(["TOSL108.xml", "test.pdf"]));
    assert_eq!(nordic.attachment("TOSL108.xml"), example2.as_slice());
    assert_eq!(nordic.attachment("test.pdf"), embedded_document(&example2).as_slice());
    // purchases: the XML only, as configured
    let purchase = by_number("Snippet1");
    assert_eq!(purchase.envelope_to, [PURCHASES_TO]);
    assert_eq!(purchase.names(), BTreeSet::from(["Snippet1.xml"]));
    assert_eq!(purchase.attachment("Snippet1.xml"), peppol.as_slice());
    assert!(purchase.attachments.iter().all(|(_, t, _)| t == "application/xml"), "{:?}", purchase.names());
    // the report: to the reports address, with the counts and the rejected files
    let [report] = reports.as_slice() else { panic!("expected one report: {sent:#?}") };
    assert_eq!(report.envelope_to, [REPORTS_TO]);
    assert!(report.subject.contains("3 documents sent"), "{}", report.subject);
    assert!(report.subject.starts_with("ATTENTION:"), "rejected files need attention: {}", report.subject);
    assert_eq!(report.total("E-mails sent"), 3);
    assert_eq!(report.total("Documents sent"), 3);
    assert_eq!(report.total("Rejected files"), 3);
    assert_eq!(report.total("Waiting (cap reached)"), 0);
    assert_eq!(report.total("Errors"), 0);
    assert_eq!(report.total("Batches in doubt"), 0);
    for name in ["br-co-10.xml", "example1-again.xml", "strangers-vat-z.xml"] {
        assert!(
            report.text.contains(&format!("rejected/{name}")),
            "{name} not in the report:\n{}",
            report.text
        );
    }
    // and the state: every document sent, nothing left journaled-but-unsent, nothing on a queue
    let mut sent_invoices = Vec::new();
    for administration in ["koksmaat", "nordic", "buyer-as"] {
        assert!(d.invoices(administration, StatusKey::Journaled).await.is_empty(), "{administration}");
        sent_invoices.extend(d.invoices(administration, StatusKey::Sent).await);
    }
    assert_eq!(sent_invoices.len(), 3, "{sent_invoices:#?}");
    for invoice in &sent_invoices {
        assert_eq!(d.entries(invoice).await, 1, "journal entries of {}", invoice.number);
    }
    assert!(d.depths().await.iter().all(|(_, n)| *n == 0), "{:?}", d.depths().await);

    // WHEN the schedule fires again
    let again = d.scheduled_run().await;

    // THEN nothing is sent twice: only a report, which no longer lists the rejected files
    assert_eq!((again.totals.emails_sent, again.totals.documents_sent), (0, 0), "{again:?}");
    let sent = d.sent();
    assert_eq!(sent.iter().filter(|m| !m.is_report()).count(), 3, "{sent:#?}");
    let last = sent.iter().rfind(|m| m.is_report()).expect("a second report");
    assert_eq!(sent.iter().filter(|m| m.is_report()).count(), 2);
    assert_eq!((last.total("E-mails sent"), last.total("Rejected files")), (0, 0), "{}", last.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_of_sales_emails_holds_and_the_next_runs_send_the_rest_once() {
    // GIVEN a cap of one sales e-mail per run, and three sales invoices of two administrations
    let mut d = Deployment::new("caps", 1).await;
    let example1 = corpus(EXAMPLE1);
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("S-2025-001.xml", renumbered(&example1, "12115118", "S-2025-001")),
        ("S-2025-002.xml", renumbered(&example1, "12115118", "S-2025-002")),
        ("nordic TOSL108.xml", corpus(EXAMPLE2)),
    ];
    for (name, bytes) in &inputs {
        put(&d.env, &format!("inbox/{name}"), bytes.clone(), "application/xml").await;
    }
    d.run_queues(inputs.len()).await;
    let expected = BTreeSet::from(["S-2025-001", "S-2025-002", "TOSL108"]);

    // WHEN the schedule fires run after run
    let mut per_run = Vec::new();
    for run in 1..=4 {
        let before = d.sent().len();
        let summary = d.scheduled_run().await;
        let sent = d.sent();
        let new: Vec<&SentEmail> = sent[before..].iter().collect();
        let documents: Vec<&&SentEmail> = new.iter().filter(|m| !m.is_report()).collect();
        let [report] = new.iter().filter(|m| m.is_report()).collect::<Vec<_>>()[..] else {
            panic!("run {run}: expected one report: {new:#?}")
        };
        // THEN each run sends at most the cap, and its report says how many wait
        let waiting = 3u64.saturating_sub(run);
        assert_eq!(documents.len(), usize::from(run <= 3), "run {run}: {new:#?}");
        assert_eq!(summary.totals.emails_sent, documents.len() as u64, "run {run}: {summary:?}");
        assert_eq!(summary.totals.waiting_for_cap, waiting, "run {run}: {summary:?}");
        assert_eq!(report.total("E-mails sent"), documents.len() as u64, "run {run}");
        assert_eq!(report.total("Waiting (cap reached)"), waiting, "run {run}:\n{}", report.text);
        for email in &documents {
            assert_eq!(email.envelope_to, [SALES_TO]);
            assert_eq!(email.attachments.len(), 2, "XML and PDF: {:?}", email.names());
        }
        per_run.push(documents.iter().map(|m| m.subject.clone()).collect::<Vec<_>>());
    }

    // AND over the runs every document was sent exactly once
    let subjects: Vec<String> = per_run.concat();
    let mut numbers = Vec::new();
    for subject in &subjects {
        let number = expected.iter().find(|n| subject.ends_with(*n)).unwrap_or_else(|| panic!("{subject}"));
        numbers.push(*number);
    }
    numbers.sort();
    assert_eq!(numbers, expected.iter().copied().collect::<Vec<_>>(), "{per_run:?}");
    for administration in ["koksmaat", "nordic"] {
        assert!(d.invoices(administration, StatusKey::Journaled).await.is_empty(), "{administration}");
    }
    let sent =
        [d.invoices("koksmaat", StatusKey::Sent).await, d.invoices("nordic", StatusKey::Sent).await].concat();
    assert_eq!(sent.len(), 3, "{sent:#?}");
}
