//! `ledgerpost demo`: a working folder with an example configuration (two administrations),
//! master data and sample invoices, run through ingest → match → journal → send-batch in a few
//! seconds, with no network. The data is embedded from `demo/` (see its README for where each
//! file comes from and its license).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use ledgerpost_export::RunReport;
use ledgerpost_pipeline::repository::StatusKey;
use ledgerpost_pipeline::send::SendOptions;
use ledgerpost_ports::{Bucket, ObjectKey};

use crate::local::{CONFIG_FILE, Workspace};

pub const CONFIG: &str = include_str!("../demo/ledgerpost.toml");
pub const RECEIPTS: &str = include_str!("../demo/receipts.csv");
pub const OBLIGATIONS: &str = include_str!("../demo/obligations.csv");
pub const RULES: &str = include_str!("../demo/rules.csv");

/// The sample files, in the order they are dropped (the original before its duplicate).
pub const INBOX: &[(&str, &str)] = &[
    ("KM-2025-0101.xml", include_str!("../demo/inbox/KM-2025-0101.xml")),
    ("KM-2025-0102.xml", include_str!("../demo/inbox/KM-2025-0102.xml")),
    ("KM-2025-0103-wrong-total.xml", include_str!("../demo/inbox/KM-2025-0103-wrong-total.xml")),
    ("BL-20250601.xml", include_str!("../demo/inbox/BL-20250601.xml")),
    ("BL-20250602.xml", include_str!("../demo/inbox/BL-20250602.xml")),
    ("BL-20250603.xml", include_str!("../demo/inbox/BL-20250603.xml")),
    ("BL-20250604.xml", include_str!("../demo/inbox/BL-20250604.xml")),
    ("BL-20250601-sent-again.xml", include_str!("../demo/inbox/BL-20250601-sent-again.xml")),
];

/// What the demo did.
pub struct DemoOutcome {
    pub dir: PathBuf,
    pub report: RunReport,
    pub report_file: PathBuf,
    pub outbox: PathBuf,
    /// What `ledgerpost demo` prints.
    pub text: String,
}

/// Creates the working folder `out` (which must not hold a demo yet) and runs the demo in it.
pub async fn demo(out: &Path) -> anyhow::Result<DemoOutcome> {
    if out.join(CONFIG_FILE).exists() || out.join("data").exists() {
        bail!("{} already holds a ledgerpost folder: remove it or choose another --out", out.display());
    }
    let master = out.join("master-data");
    std::fs::create_dir_all(&master).with_context(|| format!("cannot create {}", master.display()))?;
    std::fs::write(out.join(CONFIG_FILE), CONFIG)?;
    for (name, text) in [("receipts.csv", RECEIPTS), ("obligations.csv", OBLIGATIONS), ("rules.csv", RULES)] {
        std::fs::write(master.join(name), text)?;
    }
    let ws = Workspace::open(out, None)?;
    let mut text = format!("ledgerpost demo in {}\n\n", out.display());
    for (kind, file) in [
        (crate::pipeline::ImportKind::Receipts, "receipts.csv"),
        (crate::pipeline::ImportKind::Obligations, "obligations.csv"),
        (crate::pipeline::ImportKind::Rules, "rules.csv"),
    ] {
        text.push_str(&crate::pipeline::import(&ws, kind, &master.join(file)).await?);
    }
    for (name, content) in INBOX {
        let key = ObjectKey::parse(format!("inbox/{name}"))?;
        ws.backend.bucket.put(&key, content.as_bytes().to_vec(), "application/xml").await?;
        ws.pipeline.enqueue_ingest(&key).await?;
    }
    let stats = ws.pipeline.drain(Duration::ZERO).await?;
    let _ = writeln!(text, "\n{} file(s) dropped in {}:", INBOX.len(), ws.inbox().display());
    for handled in stats.handled.iter().filter(|h| h.queue == "ingest") {
        let _ = writeln!(text, "  {}", handled.summary);
    }
    for failed in &stats.failures {
        let _ = writeln!(text, "  FAILED ({}): {}", failed.queue, failed.summary);
    }
    let report = ws.pipeline.send_batch(SendOptions::default()).await?;
    let report_file = out.join("report.txt");
    std::fs::write(&report_file, report.render_text())?;

    let totals = report.totals();
    let _ = writeln!(
        text,
        "\nsend-batch: {} e-mail(s) with {} document(s); {} rejected file(s); {} invoice(s) wait for manual processing.",
        totals.emails_sent, totals.documents_sent, totals.rejected_files, totals.waiting_for_manual
    );
    let _ =
        writeln!(text, "\nThe e-mails (.eml, open them with any mail program): {}", ws.outbox().display());
    let _ =
        writeln!(text, "The run report: {} (also e-mailed to the reports address)", report_file.display());
    let _ = writeln!(text, "Rejected files, each with a .reason.txt: {}", ws.rejected().display());
    for administration in &ws.pipeline.config().administrations {
        for waiting in
            ws.pipeline.repository().invoices_in_status(&administration.id, StatusKey::Manual).await?
        {
            let _ = writeln!(
                text,
                "\nInvoice {} of {} waits for manual processing. Finish it with\n  ledgerpost post-plain --dir {} {}\n  ledgerpost run --dir {}\n  ledgerpost send --dir {}",
                waiting.value.number,
                waiting.value.counterparty,
                out.display(),
                waiting.value.id,
                out.display(),
                out.display()
            );
        }
    }
    Ok(DemoOutcome { dir: out.to_path_buf(), report, report_file, outbox: ws.outbox(), text })
}
