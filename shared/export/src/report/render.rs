//! The report as plain text, HTML, a one-line summary and a subject.
//!
//! Both long forms have the same order: the run, the totals, what needs attention (batches in
//! doubt first, then errors, rejected files and run errors), then per administration an overview
//! of its journals, one table per journal with the documents worth naming, and the invoices
//! waiting for manual processing. Errors and batches in doubt are never cut; plain skipped
//! documents are listed up to [`MAX_LISTED_SKIPPED`] per journal, the rest counted.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

use super::{AdministrationReport, DocumentRef, JournalReport, RunReport, Totals};
use crate::text::{escape_html, html_cell, single_line, truncate_chars};

/// Most plain skipped documents listed per journal (the rest is counted).
pub const MAX_LISTED_SKIPPED: usize = 200;

/// Longest party name shown in a table, in characters.
const MAX_PARTY_CHARS: usize = 60;

const DRY_RUN_NOTE: &str = "DRY RUN: nothing was sent; the counts are what would have been sent.";
const IN_DOUBT_NOTE: &str = "Claimed for sending but never marked sent: the e-mail may or may not have \
    gone out. It is not sent again automatically. Check the receiving mailbox, then mark the batch \
    sent or release it.";

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn duration(report: &RunReport) -> String {
    let secs = (report.finished - report.started).num_seconds().max(0);
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Untrusted text for a plain text cell: one line.
fn clean(text: &str) -> String {
    single_line(text)
}

fn party(document: &DocumentRef) -> String {
    truncate_chars(&clean(document.party.as_deref().unwrap_or("")), MAX_PARTY_CHARS)
}

/// The totals as (label, value, is an alarm) rows, in report order.
fn total_rows(t: &Totals, dry_run: bool) -> Vec<(&'static str, u64, bool)> {
    let (emails, documents) =
        if dry_run { ("E-mails to send", "Documents to send") } else { ("E-mails sent", "Documents sent") };
    vec![
        (emails, t.emails_sent, false),
        (documents, t.documents_sent, false),
        ("Waiting (cap reached)", t.waiting_for_cap, false),
        ("Skipped", t.skipped, false),
        ("Errors", t.errors, true),
        ("Batches in doubt", t.in_doubt_batches, true),
        ("Rejected files", t.rejected_files, true),
        ("Waiting for manual processing", t.waiting_for_manual, false),
    ]
}

/// One error row: (administration, journal, document, party, file, reason).
struct ErrorRow {
    place: String,
    document: String,
    party: String,
    file: String,
    reason: String,
}

fn error_rows(report: &RunReport) -> Vec<ErrorRow> {
    let mut rows = Vec::new();
    for administration in &report.administrations {
        for journal in &administration.journals {
            let place = format!("{} / {}", clean(&administration.id), journal.journal.label());
            for error in &journal.errors {
                rows.push(ErrorRow {
                    place: place.clone(),
                    document: error.document.as_ref().map(|d| clean(&d.number)).unwrap_or_default(),
                    party: error.document.as_ref().map(party).unwrap_or_default(),
                    file: clean(error.file.as_deref().unwrap_or("")),
                    reason: clean(&error.reason),
                });
            }
            for skip in journal.skipped.iter().filter(|s| s.reason.is_error()) {
                rows.push(ErrorRow {
                    place: place.clone(),
                    document: clean(&skip.document.number),
                    party: party(&skip.document),
                    file: String::new(),
                    reason: skip.reason.describe(),
                });
            }
        }
    }
    for error in &report.errors {
        rows.push(ErrorRow {
            place: "run".to_owned(),
            document: String::new(),
            party: String::new(),
            file: String::new(),
            reason: clean(error),
        });
    }
    rows
}

/// The journal overview as rows of cells: journal, e-mails, documents, waiting, skipped, errors,
/// in doubt.
fn overview_rows(administration: &AdministrationReport) -> Vec<Vec<String>> {
    administration
        .journals
        .iter()
        .map(|j| {
            vec![
                j.journal.label().to_owned(),
                j.emails_sent.to_string(),
                j.documents_sent.to_string(),
                j.waiting_for_cap.to_string(),
                j.plain_skips().count().to_string(),
                j.error_count().to_string(),
                j.in_doubt.len().to_string(),
            ]
        })
        .collect()
}

fn overview_headers(dry_run: bool) -> [&'static str; 7] {
    let (emails, documents) = if dry_run { ("To send", "Documents") } else { ("E-mails", "Documents") };
    ["Journal", emails, documents, "Waiting (cap)", "Skipped", "Errors", "In doubt"]
}

/// The documents of one journal worth naming, as (status, number, party, date, detail) rows:
/// errors, batches in doubt, then plain skips (up to [`MAX_LISTED_SKIPPED`]); and how many plain
/// skips were left out.
fn journal_rows(journal: &JournalReport) -> (Vec<[String; 5]>, usize) {
    let mut rows = Vec::new();
    for error in &journal.errors {
        let (number, party_name, issued) = match &error.document {
            Some(d) => (clean(&d.number), party(d), date(d.issue_date)),
            None => Default::default(),
        };
        let detail = match error.file.as_deref().map(clean).filter(|f| !f.is_empty()) {
            Some(file) => format!("{} (file: {file})", clean(&error.reason)),
            None => clean(&error.reason),
        };
        rows.push(["ERROR".to_owned(), number, party_name, issued, detail]);
    }
    for skip in journal.skipped.iter().filter(|s| s.reason.is_error()) {
        let d = &skip.document;
        rows.push([
            "ERROR".to_owned(),
            clean(&d.number),
            party(d),
            date(d.issue_date),
            skip.reason.describe(),
        ]);
    }
    for batch in &journal.in_doubt {
        for d in &batch.documents {
            let detail = format!("batch {} claimed {}", clean(&batch.batch_id), when(batch.claimed_at));
            rows.push(["IN DOUBT".to_owned(), clean(&d.number), party(d), date(d.issue_date), detail]);
        }
    }
    let plain: Vec<_> = journal.plain_skips().collect();
    for skip in plain.iter().take(MAX_LISTED_SKIPPED) {
        let d = &skip.document;
        rows.push([
            "skipped".to_owned(),
            clean(&d.number),
            party(d),
            date(d.issue_date),
            skip.reason.describe(),
        ]);
    }
    (rows, plain.len().saturating_sub(MAX_LISTED_SKIPPED))
}

/// Writes a text table: columns padded to their widest cell (the last one is not padded),
/// `numeric` columns right-aligned.
fn text_table(out: &mut String, indent: &str, headers: &[&str], rows: &[Vec<String>], numeric: &[usize]) {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::from(indent);
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
            let last = i + 1 == cells.len();
            if i > 0 {
                text.push_str("  ");
            }
            if numeric.contains(&i) {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                if !last {
                    text.push_str(&" ".repeat(pad));
                }
            }
        }
        text.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(headers.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

impl RunReport {
    /// One line for logs and the command line, e.g. `run 2025-03-01-a: 3 e-mails, 5 documents
    /// sent; 2 waiting (cap); 1 skipped; 1 error; 1 batch in doubt; 0 rejected files; 0 waiting
    /// for manual processing`.
    pub fn summary(&self) -> String {
        let t = self.totals();
        let verb = if self.dry_run { "to send" } else { "sent" };
        let mut line = format!(
            "run {}{}: {}, {} {verb}; {} waiting (cap); {} skipped; {}; {} in doubt; {}; {} waiting for manual processing",
            clean(&self.run_id),
            if self.dry_run { " (dry run)" } else { "" },
            plural(t.emails_sent, "e-mail", "e-mails"),
            plural(t.documents_sent, "document", "documents"),
            t.waiting_for_cap,
            t.skipped,
            plural(t.errors, "error", "errors"),
            plural(t.in_doubt_batches, "batch", "batches"),
            plural(t.rejected_files, "rejected file", "rejected files"),
            t.waiting_for_manual,
        );
        if let Some(filter) = &self.administration_filter {
            let _ = write!(line, " [administration {}]", clean(filter));
        }
        line
    }

    /// The report e-mail's subject: the date, the documents sent and, first, whether something
    /// needs attention.
    pub fn subject(&self) -> String {
        let t = self.totals();
        let mut subject = String::new();
        if t.needs_attention() {
            subject.push_str("ATTENTION: ");
        }
        if self.dry_run {
            subject.push_str("[dry run] ");
        }
        let _ = write!(
            subject,
            "ledgerpost run report {}: {} {}",
            self.started.format("%Y-%m-%d"),
            plural(t.documents_sent, "document", "documents"),
            if self.dry_run { "to send" } else { "sent" },
        );
        if t.errors > 0 {
            let _ = write!(subject, ", {}", plural(t.errors, "error", "errors"));
        }
        if t.in_doubt_batches > 0 {
            let _ = write!(subject, ", {} in doubt", plural(t.in_doubt_batches, "batch", "batches"));
        }
        if t.rejected_files > 0 {
            let _ = write!(subject, ", {}", plural(t.rejected_files, "rejected file", "rejected files"));
        }
        subject
    }

    /// The report as plain text.
    pub fn render_text(&self) -> String {
        let t = self.totals();
        let mut out = String::new();
        let _ = writeln!(out, "ledgerpost run report");
        if self.dry_run {
            let _ = writeln!(out, "{DRY_RUN_NOTE}");
        }
        let _ = writeln!(out);
        let filter = self.administration_filter.as_deref().map(clean).unwrap_or_else(|| "all".to_owned());
        let meta = [
            ("Run", clean(&self.run_id)),
            ("Started", when(self.started)),
            ("Finished", format!("{} ({})", when(self.finished), duration(self))),
            ("Administrations", filter),
        ];
        for (label, value) in meta {
            let _ = writeln!(out, "{label:<16} {value}");
        }

        let _ = writeln!(out, "\nTOTALS");
        for (label, value, alarm) in total_rows(&t, self.dry_run) {
            let flag = if alarm && value > 0 { "  <<" } else { "" };
            let _ = writeln!(out, "  {label:<30} {value:>6}{flag}");
        }

        if t.needs_attention() {
            let _ = writeln!(out, "\nNEEDS ATTENTION");
            self.text_in_doubt(&mut out);
            let errors = error_rows(self);
            if !errors.is_empty() {
                let _ = writeln!(out, "\n  Errors ({})", errors.len());
                let rows: Vec<Vec<String>> = errors
                    .into_iter()
                    .map(|e| vec![e.place, e.document, e.party, e.file, e.reason])
                    .collect();
                text_table(&mut out, "    ", &["Where", "Document", "Party", "File", "Reason"], &rows, &[]);
            }
            if !self.rejected_files.is_empty() {
                let _ =
                    writeln!(out, "\n  Rejected files since the last run ({})", self.rejected_files.len());
                let rows: Vec<Vec<String>> = self
                    .rejected_files
                    .iter()
                    .map(|r| vec![when(r.at), clean(&r.key), clean(&r.reason)])
                    .collect();
                text_table(&mut out, "    ", &["When", "File", "Reason"], &rows, &[]);
            }
        }

        for administration in &self.administrations {
            self.text_administration(&mut out, administration);
        }
        if self.administrations.is_empty() {
            let _ = writeln!(out, "\nNo administration was processed.");
        }
        out
    }

    fn text_in_doubt(&self, out: &mut String) {
        let batches: Vec<_> = self
            .administrations
            .iter()
            .flat_map(|a| a.journals.iter().flat_map(move |j| j.in_doubt.iter().map(move |b| (a, j, b))))
            .collect();
        if batches.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n  Batches in doubt ({})", batches.len());
        let _ = writeln!(out, "    {IN_DOUBT_NOTE}");
        for (administration, journal, batch) in batches {
            let _ = writeln!(
                out,
                "    {} / {}: batch {}, claimed {}, {}",
                clean(&administration.id),
                journal.journal.label(),
                clean(&batch.batch_id),
                when(batch.claimed_at),
                plural(batch.documents.len() as u64, "document", "documents"),
            );
            for d in &batch.documents {
                let parts = [clean(&d.number), party(d), date(d.issue_date)];
                let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| !p.is_empty()).collect();
                let _ = writeln!(out, "      - {}", parts.join("  "));
            }
        }
    }

    fn text_administration(&self, out: &mut String, administration: &AdministrationReport) {
        let _ = writeln!(out, "\nADMINISTRATION {}", clean(&administration.title()));
        if administration.journals.is_empty() {
            let _ = writeln!(out, "  Nothing to send.");
        } else {
            text_table(
                out,
                "  ",
                &overview_headers(self.dry_run),
                &overview_rows(administration),
                &[1, 2, 3, 4, 5, 6],
            );
        }
        for journal in &administration.journals {
            let (rows, more) = journal_rows(journal);
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n  {}", journal.journal.label());
            let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
            text_table(out, "    ", &["Status", "Document", "Party", "Date", "Detail"], &rows, &[]);
            if more > 0 {
                let _ = writeln!(out, "    ... and {} more skipped", more);
            }
        }
        if !administration.waiting_for_manual.is_empty() {
            let _ = writeln!(
                out,
                "\n  Waiting for manual processing ({})",
                administration.waiting_for_manual.len()
            );
            let rows: Vec<Vec<String>> = administration
                .waiting_for_manual
                .iter()
                .map(|m| {
                    vec![
                        clean(&m.number),
                        truncate_chars(&clean(&m.supplier), MAX_PARTY_CHARS),
                        date(m.issue_date),
                        m.unmatched_lines.to_string(),
                    ]
                })
                .collect();
            text_table(out, "    ", &["Invoice", "Supplier", "Date", "Unmatched lines"], &rows, &[3]);
        }
    }

    /// The report as an HTML document (inline styles only, as mail clients drop style sheets).
    pub fn render_html(&self) -> String {
        let t = self.totals();
        let mut out = String::new();
        let title = if self.dry_run { "ledgerpost run report (dry run)" } else { "ledgerpost run report" };
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;margin:16px\">\n\
             <h1 style=\"font-size:20px;margin:0 0 8px\">{title}</h1>\n"
        );
        if self.dry_run {
            let _ = writeln!(
                out,
                "<p style=\"background:#fff4ce;border:1px solid #e0b000;padding:6px 10px\"><b>{}</b></p>",
                escape_html(DRY_RUN_NOTE)
            );
        }
        let filter = self.administration_filter.as_deref().map(html_cell).unwrap_or_else(|| "all".to_owned());
        let _ = writeln!(
            out,
            "<p style=\"color:#555;margin:0 0 12px\">Run <b>{}</b> &middot; started {} &middot; finished {} ({}) &middot; administrations: {filter}</p>",
            html_cell(&self.run_id),
            when(self.started),
            when(self.finished),
            duration(self),
        );

        // Totals first.
        let _ = writeln!(out, "<h2 style=\"font-size:16px;margin:12px 0 6px\">Totals</h2>");
        let _ = writeln!(out, "<table style=\"border-collapse:collapse\"><tr>");
        for (label, value, alarm) in total_rows(&t, self.dry_run) {
            let style = if alarm && value > 0 {
                "background:#fde7e9;border:1px solid #c50f1f;color:#a00"
            } else {
                "background:#f3f3f3;border:1px solid #ccc"
            };
            let _ = writeln!(
                out,
                "<td style=\"{style};padding:6px 10px;text-align:center;min-width:80px\">\
                 <div style=\"font-size:20px;font-weight:bold\">{value}</div>\
                 <div style=\"font-size:12px\">{label}</div></td>"
            );
        }
        let _ = writeln!(out, "</tr></table>");

        if t.needs_attention() {
            self.html_attention(&mut out);
        }
        for administration in &self.administrations {
            self.html_administration(&mut out, administration);
        }
        if self.administrations.is_empty() {
            let _ = writeln!(out, "<p>No administration was processed.</p>");
        }
        let _ = writeln!(out, "</body></html>");
        out
    }

    fn html_attention(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "<div style=\"border:2px solid #c50f1f;background:#fff8f8;padding:8px 12px;margin:14px 0\">\n\
             <h2 style=\"font-size:16px;color:#a00;margin:4px 0 8px\">Needs attention</h2>"
        );
        let batches: Vec<_> = self
            .administrations
            .iter()
            .flat_map(|a| a.journals.iter().flat_map(move |j| j.in_doubt.iter().map(move |b| (a, j, b))))
            .collect();
        if !batches.is_empty() {
            let _ = writeln!(
                out,
                "<h3 style=\"font-size:14px;margin:8px 0 4px\">Batches in doubt ({})</h3>\n<p style=\"margin:0 0 6px\">{}</p>",
                batches.len(),
                escape_html(IN_DOUBT_NOTE)
            );
            let rows: Vec<Vec<String>> = batches
                .iter()
                .map(|(a, j, b)| {
                    let documents: Vec<String> = b
                        .documents
                        .iter()
                        .map(|d| {
                            let who = party(d);
                            let mut text = html_cell(&d.number);
                            if !who.is_empty() {
                                let _ = write!(text, " ({})", escape_html(&who));
                            }
                            if let Some(issued) = d.issue_date {
                                let _ = write!(text, " {issued}");
                            }
                            text
                        })
                        .collect();
                    vec![
                        html_cell(&a.id),
                        j.journal.label().to_owned(),
                        html_cell(&b.batch_id),
                        when(b.claimed_at),
                        documents.join("<br>"),
                    ]
                })
                .collect();
            html_table(out, &["Administration", "Journal", "Batch", "Claimed", "Documents"], &rows, &[]);
        }
        let errors = error_rows(self);
        if !errors.is_empty() {
            let _ = writeln!(
                out,
                "<h3 style=\"font-size:14px;margin:10px 0 4px\">Errors ({})</h3>",
                errors.len()
            );
            let rows: Vec<Vec<String>> = errors
                .into_iter()
                .map(|e| {
                    [e.place, e.document, e.party, e.file, e.reason].iter().map(|c| escape_html(c)).collect()
                })
                .collect();
            html_table(out, &["Where", "Document", "Party", "File", "Reason"], &rows, &[]);
        }
        if !self.rejected_files.is_empty() {
            let _ = writeln!(
                out,
                "<h3 style=\"font-size:14px;margin:10px 0 4px\">Rejected files since the last run ({})</h3>",
                self.rejected_files.len()
            );
            let rows: Vec<Vec<String>> = self
                .rejected_files
                .iter()
                .map(|r| vec![when(r.at), html_cell(&r.key), html_cell(&r.reason)])
                .collect();
            html_table(out, &["When", "File", "Reason"], &rows, &[]);
        }
        let _ = writeln!(out, "</div>");
    }

    fn html_administration(&self, out: &mut String, administration: &AdministrationReport) {
        let _ = writeln!(
            out,
            "<h2 style=\"font-size:16px;margin:18px 0 6px;border-bottom:1px solid #ccc\">{}</h2>",
            html_cell(&administration.title())
        );
        if administration.journals.is_empty() {
            let _ = writeln!(out, "<p>Nothing to send.</p>");
        } else {
            html_table(
                out,
                &overview_headers(self.dry_run),
                &overview_rows(administration),
                &[1, 2, 3, 4, 5, 6],
            );
        }
        for journal in &administration.journals {
            let (rows, more) = journal_rows(journal);
            let _ = writeln!(
                out,
                "<h3 style=\"font-size:14px;margin:12px 0 4px\">{} &middot; {} {}, {} {}</h3>",
                journal.journal.label(),
                plural(u64::from(journal.emails_sent), "e-mail", "e-mails"),
                if self.dry_run { "to send" } else { "sent" },
                plural(u64::from(journal.documents_sent), "document", "documents"),
                if journal.waiting_for_cap > 0 {
                    format!("&middot; {} waiting for the next run (cap reached)", journal.waiting_for_cap)
                } else {
                    String::new()
                },
            );
            if rows.is_empty() {
                let _ = writeln!(out, "<p style=\"margin:0 0 6px;color:#555\">No document to mention.</p>");
                continue;
            }
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .map(|[status, number, party_name, issued, detail]| {
                    let status = match status.as_str() {
                        "ERROR" => "<b style=\"color:#a00\">ERROR</b>".to_owned(),
                        "IN DOUBT" => "<b style=\"color:#b35c00\">IN DOUBT</b>".to_owned(),
                        other => escape_html(other),
                    };
                    vec![status, escape_html(&number), escape_html(&party_name), issued, escape_html(&detail)]
                })
                .collect();
            html_table(out, &["Status", "Document", "Party", "Date", "Detail"], &rows, &[]);
            if more > 0 {
                let _ = writeln!(out, "<p style=\"margin:2px 0;color:#555\">... and {more} more skipped</p>");
            }
        }
        if !administration.waiting_for_manual.is_empty() {
            let _ = writeln!(
                out,
                "<h3 style=\"font-size:14px;margin:12px 0 4px\">Waiting for manual processing ({})</h3>",
                administration.waiting_for_manual.len()
            );
            let rows: Vec<Vec<String>> = administration
                .waiting_for_manual
                .iter()
                .map(|m| {
                    vec![
                        html_cell(&m.number),
                        escape_html(&truncate_chars(&clean(&m.supplier), MAX_PARTY_CHARS)),
                        date(m.issue_date),
                        m.unmatched_lines.to_string(),
                    ]
                })
                .collect();
            html_table(out, &["Invoice", "Supplier", "Date", "Unmatched lines"], &rows, &[3]);
        }
    }
}

/// Writes an HTML table; `rows` hold already escaped HTML, `numeric` columns are right-aligned.
fn html_table(out: &mut String, headers: &[&str], rows: &[Vec<String>], numeric: &[usize]) {
    const CELL: &str = "border:1px solid #ccc;padding:3px 8px;vertical-align:top";
    let align = |i: usize| if numeric.contains(&i) { "text-align:right" } else { "text-align:left" };
    let _ = writeln!(
        out,
        "<table style=\"border-collapse:collapse;margin:2px 0 8px\">\n<tr style=\"background:#f3f3f3\">"
    );
    for (i, header) in headers.iter().enumerate() {
        let _ = write!(out, "<th style=\"{CELL};{}\">{}</th>", align(i), escape_html(header));
    }
    let _ = writeln!(out, "</tr>");
    for row in rows {
        let _ = write!(out, "<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(out, "<td style=\"{CELL};{}\">{cell}</td>", align(i));
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(out, "</table>");
}
