use chrono::TimeZone;

use super::*;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, h, m, s).single().unwrap_or_default()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 2, d).unwrap_or_default()
}

const EVIL: &str = "<script>alert('x')</script>\r\nBcc: evil@x.example\u{1b}[31m";

fn sample() -> RunReport {
    let mut report = RunReport::new("2025-03-01-0800", at(8, 0, 0), false);
    report.finished = at(8, 1, 12);
    let acme = report.administration_mut("acme");
    acme.name = Some("ACME BV".to_owned());
    let sales = acme.journal_mut(Journal::Sales);
    sales.emails_sent = 3;
    sales.documents_sent = 5;
    sales.waiting_for_cap = 2;
    sales.skipped.push(SkippedDocument {
        document: DocumentRef::new("s-1", "INV-10").party("Customer One").issue_date(day(27)),
        reason: SkipReason::DelayNotPassed { until: NaiveDate::from_ymd_opt(2025, 3, 4).unwrap_or_default() },
    });
    sales.skipped.push(SkippedDocument {
        document: DocumentRef::new("s-2", "INV-11").party(EVIL),
        reason: SkipReason::NoAttachment,
    });
    sales.in_doubt.push(InDoubtBatch {
        batch_id: "b-7".to_owned(),
        documents: vec![
            DocumentRef::new("s-3", "INV-7").party("Customer Two"),
            DocumentRef::new("s-4", "INV-8").issue_date(day(20)),
        ],
        claimed_at: at(7, 59, 0),
    });
    let purchases = acme.journal_mut(Journal::Purchases);
    purchases.emails_sent = 1;
    purchases.documents_sent = 1;
    purchases.skipped.push(SkippedDocument {
        document: DocumentRef::new("p-1", "F-2025-1").party("Supplier"),
        reason: SkipReason::NotApproved,
    });
    purchases.skipped.push(SkippedDocument {
        document: DocumentRef::new("p-2", "F-2024-9").party("Supplier"),
        reason: SkipReason::BeforeStartDate,
    });
    purchases.errors.push(DocumentError {
        document: Some(DocumentRef::new("p-3", "F-77").party(EVIL)),
        file: Some("inbox/f-77.xml".to_owned()),
        reason: "the embedded PDF is not valid base64".to_owned(),
    });
    acme.waiting_for_manual.push(ManualInvoice {
        invoice_id: "p-9".to_owned(),
        number: "F-99".to_owned(),
        supplier: EVIL.to_owned(),
        issue_date: Some(day(14)),
        unmatched_lines: 2,
    });
    report.administration_mut("beta").journal_mut(Journal::CreditNotes).documents_sent = 0;
    report.rejected_files.push(RejectedFile {
        key: "rejected/2025/bad.xml".to_owned(),
        reason: "not a UBL Invoice or CreditNote: the root element is <html>".to_owned(),
        at: at(6, 0, 0),
    });
    report
}

#[test]
fn totals_add_up_and_no_attachment_counts_as_an_error() {
    let report = sample();
    let t = report.totals();
    assert_eq!(
        t,
        Totals {
            emails_sent: 4,
            documents_sent: 6,
            waiting_for_cap: 2,
            skipped: 3,
            errors: 2,
            in_doubt_batches: 1,
            in_doubt_documents: 2,
            rejected_files: 1,
            waiting_for_manual: 1,
        }
    );
    assert!(report.needs_attention());
    let mut quiet = RunReport::new("r", at(8, 0, 0), false);
    quiet.administration_mut("a").journal_mut(Journal::Sales).documents_sent = 1;
    assert!(!quiet.needs_attention());
    quiet.errors.push("the store did not answer".to_owned());
    assert!(quiet.needs_attention());
}

#[test]
fn journals_are_kept_in_order() {
    let mut administration = AdministrationReport::new("a");
    administration.journal_mut(Journal::Purchases);
    administration.journal_mut(Journal::Sales);
    administration.journal_mut(Journal::CreditNotes);
    administration.journal_mut(Journal::Sales).emails_sent = 1;
    let order: Vec<_> = administration.journals.iter().map(|j| j.journal).collect();
    assert_eq!(order, Journal::ALL);
    assert_eq!(administration.journal(Journal::Sales).map(|j| j.emails_sent), Some(1));
}

#[test]
fn the_report_round_trips_through_json() {
    let report = sample();
    let json = serde_json::to_string_pretty(&report).unwrap();
    let back: RunReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let value = serde_json::to_value(&report).unwrap();
    let skip = &value["administrations"][0]["journals"][0]["skipped"][0];
    assert_eq!(skip["reason"], "delay_not_passed");
    assert_eq!(skip["until"], "2025-03-04");
    assert_eq!(value["administrations"][0]["journals"][1]["journal"], "purchases");
    assert_eq!(value["administrations"][1]["journals"][0]["journal"], "credit_notes");
    assert_eq!(value["started"], "2025-03-01T08:00:00Z");
    // Older or partial records read with defaults.
    let minimal: RunReport = serde_json::from_str(
        r#"{"run_id":"r","started":"2025-03-01T08:00:00Z","finished":"2025-03-01T08:00:00Z","dry_run":true}"#,
    )
    .unwrap();
    assert!(minimal.administrations.is_empty() && minimal.dry_run);
}

#[test]
fn summary_is_one_clean_line() {
    let report = sample();
    assert_eq!(
        report.summary(),
        "run 2025-03-01-0800: 4 e-mails, 6 documents sent; 2 waiting (cap); 3 skipped; 2 errors; \
         1 batch in doubt; 1 rejected file; 1 waiting for manual processing"
    );
    let mut dry = RunReport::new("x\r\n\u{1b}[2Jy", at(8, 0, 0), true);
    dry.administration_filter = Some("acme\nbeta".to_owned());
    let summary = dry.summary();
    assert!(!summary.chars().any(char::is_control), "{summary:?}");
    assert_eq!(
        summary,
        "run x [2Jy (dry run): 0 e-mails, 0 documents to send; 0 waiting (cap); 0 skipped; 0 errors; \
         0 batches in doubt; 0 rejected files; 0 waiting for manual processing [administration acme beta]"
    );
}

#[test]
fn subject_says_what_needs_attention() {
    assert_eq!(
        sample().subject(),
        "ATTENTION: ledgerpost run report 2025-03-01: 6 documents sent, 2 errors, 1 batch in doubt, 1 rejected file"
    );
    let quiet = RunReport::new("r", at(8, 0, 0), true);
    assert_eq!(quiet.subject(), "[dry run] ledgerpost run report 2025-03-01: 0 documents to send");
}

#[test]
fn html_escapes_invoice_text_and_puts_problems_first() {
    let html = sample().render_html();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Bcc: evil@x.example [31m"));
    assert!(!html.contains('\u{1b}') && !html.contains('\r'));
    let position = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
    assert!(position(">Totals<") < position("Needs attention"));
    assert!(position("Needs attention") < position("Batches in doubt (1)"));
    assert!(position("Batches in doubt (1)") < position("Errors (2)"));
    assert!(position("Errors (2)") < position("Rejected files since the last run (1)"));
    assert!(position("Rejected files since the last run (1)") < position("acme — ACME BV"));
    assert!(position("acme — ACME BV") < position(">beta<"));
    for needle in [
        "INV-7 (Customer Two)",
        "b-7",
        "inbox/f-77.xml",
        "the embedded PDF is not valid base64",
        "delay not passed: goes out from 2025-03-04",
        "waiting for approval",
        "dated before the export start date",
        "no attachment (neither a PDF nor the XML): not sent",
        "2 waiting for the next run (cap reached)",
        "Waiting for manual processing (1)",
        "F-99",
        "rejected/2025/bad.xml",
        "the root element is &lt;html&gt;",
    ] {
        assert!(html.contains(needle), "{needle} missing from\n{html}");
    }
    // Every opened table is closed.
    assert_eq!(html.matches("<table").count(), html.matches("</table>").count());
    assert_eq!(html.matches("<tr").count(), html.matches("</tr>").count());
}

#[test]
fn text_has_no_control_characters_and_keeps_rows_on_one_line() {
    let text = sample().render_text();
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
    // The hostile name stays inside its row: no line starts with "Bcc".
    assert!(!text.lines().any(|l| l.trim_start().starts_with("Bcc")), "{text}");
    let position =
        |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} missing from\n{text}"));
    assert!(position("TOTALS") < position("NEEDS ATTENTION"));
    assert!(position("Batches in doubt (1)") < position("Errors (2)"));
    assert!(position("Errors (2)") < position("ADMINISTRATION acme — ACME BV"));
    assert!(text.contains("  Errors                              2  <<"), "{text}");
    assert!(text.contains("\n      - INV-7  Customer Two\n"), "{text}");
    assert!(text.contains("Finished         2025-03-01 08:01:12 UTC (1m 12s)"), "{text}");
    // The journal overview: numbers right-aligned under their headers.
    assert!(
        text.contains("\n  Journal    E-mails  Documents  Waiting (cap)  Skipped  Errors  In doubt\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  Sales            3          5              2        1       1         1\n"),
        "{text}"
    );
    assert!(text.contains("\n      - INV-8  2025-02-20\n"), "{text}");
    assert!(!text.lines().any(|l| l.ends_with(' ')), "{text}");
}

#[test]
fn long_skip_lists_are_cut_but_errors_are_not() {
    let mut report = RunReport::new("r", at(8, 0, 0), false);
    let sales = report.administration_mut("a").journal_mut(Journal::Sales);
    for i in 0..(MAX_LISTED_SKIPPED + 5) {
        sales.skipped.push(SkippedDocument {
            document: DocumentRef::new(format!("s{i}"), format!("SKIP-{i}")),
            reason: SkipReason::NotApproved,
        });
        sales.errors.push(DocumentError { document: None, file: None, reason: format!("failure {i}") });
    }
    let text = report.render_text();
    assert!(text.contains("... and 5 more skipped"));
    assert!(!text.contains(&format!("SKIP-{}", MAX_LISTED_SKIPPED)));
    assert!(text.contains(&format!("failure {}", MAX_LISTED_SKIPPED + 4)));
    let html = report.render_html();
    assert!(html.contains("... and 5 more skipped"));
    assert_eq!(report.totals().skipped, (MAX_LISTED_SKIPPED + 5) as u64);
}

#[test]
fn an_empty_run_renders() {
    let report = RunReport::new("r", at(8, 0, 0), false);
    assert!(report.render_text().contains("No administration was processed."));
    assert!(report.render_html().contains("No administration was processed."));
    assert!(!report.render_html().contains("Needs attention"));
}

#[test]
fn the_report_travels_as_an_email() {
    use mail_parser::MessageParser;

    use crate::email::{Email, Mailbox};

    let report = sample();
    let raw = Email::new(
        Mailbox::new("ledgerpost@firm.example").unwrap(),
        vec![Mailbox::new("reports@firm.example").unwrap()],
        report.finished,
    )
    .subject(report.subject())
    .text(report.render_text())
    .html(report.render_html())
    .to_bytes()
    .unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(message.subject(), Some(report.subject().as_str()));
    let html = message.body_html(0).unwrap_or_default();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
    let text = message.body_text(0).unwrap_or_default();
    assert!(text.contains("NEEDS ATTENTION"));
    assert!(message.bcc().is_none());
}
