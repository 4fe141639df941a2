//! `ledgerpost`: the local command. Thin: parses arguments and calls the subcommands.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ledgerpost_cli::validate;
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
}

fn main() -> ExitCode {
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
    }
}
