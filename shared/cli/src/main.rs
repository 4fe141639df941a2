//! `ledgerpost`: the local command. Thin: parses arguments and calls the subcommands.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ledgerpost_cli::local::Workspace;
use ledgerpost_cli::pipeline::{Action, ImportKind};
use ledgerpost_cli::{demo, pipeline, validate};
use ledgerpost_ubl::rules::Ruleset;
use ledgerpost_ubl::xml::Limits;

#[derive(Parser)]
#[command(
    name = "ledgerpost",
    version,
    about = "E-invoice hub: validate, match, journal and deliver UBL invoices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate UBL invoices and credit notes against the official EN 16931 (and Peppol) rules.
    Validate {
        /// Rule sets: en16931, or peppol (EN 16931 and Peppol BIS Billing 3.0 together).
        #[arg(long, default_value = "en16931")]
        ruleset: Ruleset,
        /// One JSON object per line per file.
        #[arg(long)]
        json: bool,
        /// Largest accepted file, in bytes.
        #[arg(long, default_value_t = Limits::default().max_bytes)]
        max_bytes: usize,
        /// Files or folders (searched recursively for .xml files).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Create a working folder with example data and run the whole pipeline in it.
    Demo {
        #[arg(long, default_value = "ledgerpost-demo")]
        out: PathBuf,
    },
    /// Take every file in the inbox through ingest, matching and the journal.
    Run(Folder),
    /// Send the day's batches (or show what would be sent) and the report.
    Send {
        #[command(flatten)]
        folder: Folder,
        /// Select and report only: nothing is sent or marked.
        #[arg(long)]
        dry_run: bool,
        /// Only this administration.
        #[arg(long)]
        administration: Option<String>,
    },
    /// What is where: invoices per status, batches in doubt, rejected files, the last run.
    Status(Folder),
    /// Import master data from CSV (all or nothing).
    Import {
        #[command(flatten)]
        folder: Folder,
        kind: ImportKind,
        file: PathBuf,
    },
    /// Match a purchase line to a goods-receipt line by hand.
    MatchReceipt {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
        line: String,
        #[arg(long)]
        order: String,
        #[arg(long)]
        receipt_line: String,
    },
    /// Match a purchase line to an obligation by hand.
    MatchObligation {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
        line: String,
        #[arg(long)]
        reference: String,
        /// The supplier's VAT id or scheme:endpoint.
        #[arg(long)]
        supplier: String,
    },
    /// Code a purchase line by hand (optionally keeping a free-text rule for next time).
    Code {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
        line: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        vat_group: Option<String>,
        #[arg(long)]
        cost_centre: Option<String>,
        #[arg(long)]
        project: Option<String>,
        /// Keep a rule with this search text for the supplier's next invoices.
        #[arg(long)]
        rule: Option<String>,
    },
    /// Undo a line's match or coding.
    Undo {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
        line: String,
    },
    /// Match the open lines again against the current master data.
    Reprocess {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
    },
    /// Post every open line as a plain entry (default: the default expense account).
    PostPlain {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
        #[arg(long)]
        account: Option<String>,
    },
    /// Approve a journaled invoice waiting for approval.
    Approve {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
    },
    /// Reject a journaled invoice waiting for approval: it is never sent.
    Reject {
        #[command(flatten)]
        folder: Folder,
        invoice: String,
        #[arg(long)]
        reason: String,
    },
    /// Resolve a batch in doubt after checking the receiving mailbox.
    Resolve {
        #[command(flatten)]
        folder: Folder,
        batch: String,
        /// It arrived: mark its documents sent.
        #[arg(long, conflicts_with = "not_sent", required_unless_present = "not_sent")]
        sent: bool,
        /// It did not arrive: its documents go out with the next run.
        #[arg(long)]
        not_sent: bool,
    },
}

/// The working folder and its configuration.
#[derive(Args)]
struct Folder {
    /// The working folder (data under DIR/data).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// The configuration (default: DIR/ledgerpost.toml).
    #[arg(long)]
    config: Option<PathBuf>,
}

impl Folder {
    fn open(&self) -> anyhow::Result<Workspace> {
        Workspace::open(&self.dir, self.config.as_deref())
    }
}

/// Runs a pipeline subcommand on a single-threaded runtime and prints its text.
fn block(work: impl std::future::Future<Output = anyhow::Result<String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ledgerpost: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(work) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ledgerpost: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn act(folder: Folder, action: Action) -> ExitCode {
    block(async move { pipeline::action(&folder.open()?, action).await })
}

fn main() -> ExitCode {
    ledgerpost_pipeline::process::tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match cli.command {
        Command::Validate { ruleset, json, max_bytes, paths } => {
            let files = match validate::collect_files(&paths) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("ledgerpost validate: {e}");
                    return ExitCode::from(2);
                }
            };
            let limits = Limits { max_bytes, ..Limits::default() };
            let mut out = std::io::stdout().lock();
            let mut all_valid = true;
            for f in &files {
                let r = validate::check_file(f, ruleset, &limits);
                all_valid &= r.valid;
                if validate::write_result(&mut out, &r, json).is_err() {
                    return ExitCode::from(2);
                }
            }
            let _ = out.flush();
            if all_valid { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Command::Demo { out } => block(async move { Ok(demo::demo(&out).await?.text) }),
        Command::Run(folder) => block(async move { pipeline::run(&folder.open()?).await }),
        Command::Send { folder, dry_run, administration } => {
            block(
                async move { Ok(pipeline::send(&folder.open()?, dry_run, administration.as_deref()).await?.1) },
            )
        }
        Command::Status(folder) => block(async move { pipeline::status(&folder.open()?).await }),
        Command::Import { folder, kind, file } => {
            block(async move { pipeline::import(&folder.open()?, kind, &file).await })
        }
        Command::MatchReceipt { folder, invoice, line, order, receipt_line } => {
            act(folder, Action::MatchReceipt { invoice, line, order, receipt_line })
        }
        Command::MatchObligation { folder, invoice, line, reference, supplier } => {
            act(folder, Action::MatchObligation { invoice, line, reference, supplier })
        }
        Command::Code { folder, invoice, line, account, vat_group, cost_centre, project, rule } => {
            act(folder, Action::Code { invoice, line, account, vat_group, cost_centre, project, rule })
        }
        Command::Undo { folder, invoice, line } => act(folder, Action::Undo { invoice, line }),
        Command::Reprocess { folder, invoice } => act(folder, Action::Reprocess { invoice }),
        Command::PostPlain { folder, invoice, account } => {
            act(folder, Action::PostPlain { invoice, account })
        }
        Command::Approve { folder, invoice } => act(folder, Action::Approve { invoice }),
        Command::Reject { folder, invoice, reason } => act(folder, Action::Reject { invoice, reason }),
        Command::Resolve { folder, batch, sent, not_sent: _ } => act(folder, Action::Resolve { batch, sent }),
    }
}
