//! `ledgerpost demo` end to end: which invoices were sent, in how many e-mails, with which
//! attachments, and what the report says.

use ledgerpost_cli::demo;
use mail_parser::{MessageParser, MimeHeaders};

struct Sent {
    to: String,
    subject: String,
    batch: Option<String>,
    attachments: Vec<(String, Vec<u8>)>,
}

fn outbox(dir: &std::path::Path) -> Vec<Sent> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            let text = String::from_utf8_lossy(&raw).into_owned();
            let to = text
                .lines()
                .find_map(|l| l.strip_prefix("X-Ledgerpost-Envelope-To: "))
                .unwrap_or_default()
                .trim()
                .to_owned();
            let message = MessageParser::default().parse(&raw).unwrap();
            Sent {
                to,
                subject: message.subject().unwrap_or_default().to_owned(),
                batch: message.header_raw("X-Ledgerpost-Batch").map(|b| b.trim().to_owned()),
                attachments: message
                    .attachments()
                    .map(|a| (a.attachment_name().unwrap_or_default().to_owned(), a.contents().to_vec()))
                    .collect(),
            }
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn the_demo_sends_what_it_should_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let outcome = demo::demo(&out).await.expect("the demo runs");

    // The report: 5 e-mails with 5 documents (2 sales, 3 purchases), 2 rejected files, 1 invoice
    // waiting for a person, no errors and nothing in doubt.
    let totals = outcome.report.totals();
    assert_eq!(totals.emails_sent, 5);
    assert_eq!(totals.documents_sent, 5);
    assert_eq!(totals.rejected_files, 2);
    assert_eq!(totals.waiting_for_manual, 1);
    assert_eq!((totals.errors, totals.in_doubt_batches, totals.waiting_for_cap), (0, 0, 0));
    let by_admin = |id: &str, journal| {
        outcome
            .report
            .administrations
            .iter()
            .find(|a| a.id == id)
            .unwrap()
            .journal(journal)
            .unwrap()
            .emails_sent
    };
    assert_eq!(by_admin("koksmaat", ledgerpost_export::Journal::Sales), 2);
    assert_eq!(by_admin("provide", ledgerpost_export::Journal::Purchases), 3);
    let waiting =
        &outcome.report.administrations.iter().find(|a| a.id == "provide").unwrap().waiting_for_manual;
    assert_eq!(waiting[0].number, "20250604");
    let rejected: Vec<&str> = outcome.report.rejected_files.iter().map(|r| r.key.as_str()).collect();
    assert!(rejected.contains(&"rejected/KM-2025-0103-wrong-total.xml"), "{rejected:?}");
    assert!(rejected.contains(&"rejected/BL-20250601-sent-again.xml"), "{rejected:?}");
    let text = std::fs::read_to_string(&outcome.report_file).unwrap();
    assert!(text.contains("BR-CO-16"), "{text}");

    // The e-mails: one per document to the journal's mailbox, each with the XML and a PDF, plus
    // the report to the reports address.
    let sent = outbox(&outcome.outbox);
    assert_eq!(sent.len(), 6);
    let documents: Vec<&Sent> = sent.iter().filter(|s| s.batch.is_some()).collect();
    assert_eq!(documents.len(), 5);
    let to_sales: Vec<&&Sent> = documents.iter().filter(|s| s.to == "sales-journal@books.example").collect();
    let to_purchases: Vec<&&Sent> =
        documents.iter().filter(|s| s.to == "purchase-journal@books.example").collect();
    assert_eq!((to_sales.len(), to_purchases.len()), (2, 3));
    let mut numbers: Vec<String> = Vec::new();
    for email in &documents {
        let names: Vec<&str> = email.attachments.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 2, "{}: {names:?}", email.subject);
        assert!(names[0].ends_with(".xml") && names[1].ends_with(".pdf"), "{names:?}");
        assert!(String::from_utf8_lossy(&email.attachments[0].1).contains("<Invoice"));
        assert!(email.attachments[1].1.starts_with(b"%PDF"));
        numbers.push(names[0].trim_end_matches(".xml").to_owned());
    }
    numbers.sort();
    assert_eq!(numbers, ["20250601", "20250602", "20250603", "KM-2025-0101", "KM-2025-0102"]);
    let report = sent.iter().find(|s| s.batch.is_none()).unwrap();
    assert_eq!(report.to, "finance@firm.example");

    assert!(outcome.text.contains("waits for manual processing"), "{}", outcome.text);

    // A second demo in the same folder is refused rather than mixed in.
    assert!(demo::demo(&out).await.is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn after_the_demo_a_person_finishes_the_waiting_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    demo::demo(&out).await.unwrap();
    let ws = ledgerpost_cli::local::Workspace::open(&out, None).unwrap();
    let status = ledgerpost_cli::pipeline::status(&ws).await.unwrap();
    let id = status
        .lines()
        .find_map(|l| l.trim().strip_prefix("waits: "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let action = ledgerpost_cli::pipeline::Action::PostPlain { invoice: id, account: None };
    ledgerpost_cli::pipeline::action(&ws, action).await.unwrap();
    ledgerpost_cli::pipeline::run(&ws).await.unwrap();
    let (report, _) = ledgerpost_cli::pipeline::send(&ws, false, None).await.unwrap();
    assert_eq!((report.totals().emails_sent, report.totals().waiting_for_manual), (1, 0));
    assert_eq!(report.totals().rejected_files, 0, "rejected files are reported once");
}
