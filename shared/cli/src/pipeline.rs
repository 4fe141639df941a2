//! The pipeline subcommands on a working folder: `run`, `send`, `status`, `import` and the manual
//! actions. Each returns the text to print, so the tests read what a person would.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, bail};
use ledgerpost_domain::ids::{AccountCode, AdministrationId, InvoiceId};
use ledgerpost_domain::masterdata::{Coding, ObligationKey, ReceiptKey};
use ledgerpost_export::RunReport;
use ledgerpost_pipeline::actions::LineAction;
use ledgerpost_pipeline::repository::{BatchState, StatusKey};
use ledgerpost_pipeline::send::SendOptions;

use crate::local::Workspace;

/// How long a failed message stays hidden before the next `run` may try it again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// `ledgerpost run`: every file in the inbox through ingest, match and journal.
pub async fn run(ws: &Workspace) -> anyhow::Result<String> {
    let queued = ws.pipeline.enqueue_inbox().await?;
    // A spinner on the terminal only (indicatif hides it when stderr is not one).
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} message(s) handled  {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(120));
    let stats = ws
        .pipeline
        .drain_observed(RETRY_AFTER, &mut |h| {
            progress.inc(1);
            progress.set_message(format!("{}: {}", h.queue, h.summary));
        })
        .await?;
    progress.finish_and_clear();
    let mut out = format!("{queued} file(s) in {}\n", ws.inbox().display());
    for handled in &stats.handled {
        let _ = writeln!(out, "  {:<8} {}", handled.queue, handled.summary);
    }
    for failed in &stats.failures {
        let _ = writeln!(out, "  {:<8} FAILED {}", failed.queue, failed.summary);
    }
    if !stats.failures.is_empty() {
        let _ = writeln!(
            out,
            "Failed messages are tried again by a later run; after {} tries they are set aside and reported.",
            crate::local::MAX_RECEIVES
        );
    }
    Ok(out)
}

/// `ledgerpost send`: one send-batch run; prints its report.
pub async fn send(
    ws: &Workspace,
    dry_run: bool,
    administration: Option<&str>,
) -> anyhow::Result<(RunReport, String)> {
    let administration = administration.map(AdministrationId::parse).transpose()?;
    let report = ws.pipeline.send_batch(SendOptions { dry_run, administration }).await?;
    let mut out = report.render_text();
    if !dry_run {
        let _ = writeln!(out, "\nE-mails (and this report) are in {}", ws.outbox().display());
    }
    Ok((report, out))
}

/// `ledgerpost status`: per administration, how many invoices are where; batches in doubt;
/// rejected files not reported yet; the last run.
pub async fn status(ws: &Workspace) -> anyhow::Result<String> {
    let repo = ws.pipeline.repository();
    let mut out = String::new();
    for administration in &ws.pipeline.config().administrations {
        let _ = writeln!(out, "{} — {}", administration.id, administration.name);
        for (status, count) in repo.count_by_status(&administration.id).await? {
            if count > 0 {
                let _ = writeln!(out, "  {:<32} {count}", status.as_str());
            }
        }
        for waiting in repo.invoices_in_status(&administration.id, StatusKey::Manual).await? {
            let _ = writeln!(
                out,
                "    waits: {} {} of {} ({})",
                waiting.value.id, waiting.value.number, waiting.value.counterparty, waiting.value.issue_date
            );
        }
    }
    for batch in repo.batches_in_state(BatchState::InDoubt.as_str()).await? {
        let numbers: Vec<&str> = batch.value.documents.iter().map(|d| d.number.as_str()).collect();
        let _ = writeln!(
            out,
            "IN DOUBT batch {} ({} to {}, claimed {}): {} — check the mailbox, then `ledgerpost resolve {} --sent` or `--not-sent`",
            batch.value.id,
            batch.value.journal,
            batch.value.recipient,
            batch.value.claimed_at.format("%Y-%m-%d %H:%M UTC"),
            numbers.join(", "),
            batch.value.id
        );
    }
    let rejected = repo.unreported_rejections().await?;
    if !rejected.is_empty() {
        let _ = writeln!(out, "Rejected since the last report: {}", rejected.len());
        for file in rejected {
            let _ = writeln!(out, "  {}: {}", file.value.rejected_key, file.value.reason);
        }
    }
    match repo.latest_runs(1).await?.first() {
        Some(run) => {
            let _ = writeln!(
                out,
                "Last send run: {} at {}",
                run.id,
                run.finished_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
        None => out.push_str("No send run yet.\n"),
    }
    Ok(out)
}

/// What `ledgerpost import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    Receipts,
    Obligations,
    Rules,
}

pub async fn import(ws: &Workspace, kind: ImportKind, file: &std::path::Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let counts = match kind {
        ImportKind::Receipts => ws.pipeline.import_receipts(&bytes).await,
        ImportKind::Obligations => ws.pipeline.import_obligations(&bytes).await,
        ImportKind::Rules => ws.pipeline.import_rules(&bytes).await,
    }
    .with_context(|| format!("{} was not imported", file.display()))?;
    Ok(format!("{}: {} created, {} updated\n", file.display(), counts.created, counts.updated))
}

/// A manual action, as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    MatchReceipt {
        invoice: String,
        line: String,
        order: String,
        receipt_line: String,
    },
    MatchObligation {
        invoice: String,
        line: String,
        reference: String,
        supplier: String,
    },
    Code {
        invoice: String,
        line: String,
        account: String,
        vat_group: Option<String>,
        cost_centre: Option<String>,
        project: Option<String>,
        rule: Option<String>,
    },
    Undo {
        invoice: String,
        line: String,
    },
    Reprocess {
        invoice: String,
    },
    PostPlain {
        invoice: String,
        account: Option<String>,
    },
    Approve {
        invoice: String,
    },
    Reject {
        invoice: String,
        reason: String,
    },
    Resolve {
        batch: String,
        sent: bool,
    },
}

pub async fn action(ws: &Workspace, action: Action) -> anyhow::Result<String> {
    let p = &ws.pipeline;
    let id = |s: &str| InvoiceId::parse(s).map_err(anyhow::Error::from);
    let line_action = |invoice: &str, action: LineAction| {
        let invoice = id(invoice);
        async move {
            let invoice = invoice?;
            let result = p.line_action(&invoice, action).await?;
            Ok::<_, anyhow::Error>(format!(
                "{}: {} ({} line(s) open)\n",
                result.invoice, result.status, result.open_lines
            ))
        }
    };
    match action {
        Action::MatchReceipt { invoice, line, order, receipt_line } => {
            let record = p.repository().invoice(&id(&invoice)?).await?.context("no such invoice")?;
            let receipt = ReceiptKey {
                administration: record.value.administration,
                order_number: order,
                line_id: receipt_line,
            };
            line_action(&invoice, LineAction::MatchReceipt { line, receipt }).await
        }
        Action::MatchObligation { invoice, line, reference, supplier } => {
            let record = p.repository().invoice(&id(&invoice)?).await?.context("no such invoice")?;
            let obligation = ObligationKey {
                administration: record.value.administration,
                reference,
                supplier: ledgerpost_domain::ids::SupplierKey::parse(&supplier)?,
            };
            line_action(&invoice, LineAction::MatchObligation { line, obligation }).await
        }
        Action::Code { invoice, line, account, vat_group, cost_centre, project, rule } => {
            let coding = Coding { account: AccountCode::parse(&account)?, vat_group, cost_centre, project };
            line_action(&invoice, LineAction::Code { line, coding, rule_text: rule }).await
        }
        Action::Undo { invoice, line } => line_action(&invoice, LineAction::Undo { line }).await,
        Action::Reprocess { invoice } => line_action(&invoice, LineAction::Reprocess).await,
        Action::PostPlain { invoice, account } => {
            let account = account.as_deref().map(AccountCode::parse).transpose()?;
            line_action(&invoice, LineAction::PostAsPlainEntry { account }).await
        }
        Action::Approve { invoice } => {
            let result = p.approve(&id(&invoice)?).await?;
            Ok(format!("{}: {}\n", result.invoice, result.status))
        }
        Action::Reject { invoice, reason } => {
            if reason.trim().is_empty() {
                bail!("a rejection needs a reason");
            }
            let result = p.reject_invoice(&id(&invoice)?, &reason).await?;
            Ok(format!("{}: {}\n", result.invoice, result.status))
        }
        Action::Resolve { batch, sent } => {
            let record = p.resolve_batch(&batch, sent).await?;
            Ok(format!("batch {}: {}\n", record.id, record.state.as_str()))
        }
    }
}
