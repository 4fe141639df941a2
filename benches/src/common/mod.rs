//! What the benchmark binaries share: the corpus, the invoice generator, the configuration they
//! run with, measurement helpers (medians, peak memory, machine load) and the result lines that
//! `scripts/bench` gathers into one table.
//!
//! A result line is `BENCH<TAB>benchmark<TAB>figure<TAB>target<TAB>met`, where `met` is `yes`,
//! `no` or `-` (no target). Everything else a binary prints is for people.

#![allow(dead_code)]

pub mod generate;

use std::path::PathBuf;
use std::time::Duration;

/// The corpus folder (`ubl/valid`, `ubl/invalid`): `LEDGERPOST_CORPUS` or the shared folder beside
/// the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("LEDGERPOST_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ubl"))
}

/// A corpus file as text, e.g. `valid/peppol-bis3__examples__base-example.xml`.
pub fn corpus_text(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()))
}

/// The configuration every benchmark runs with: "buyer-as" buys (the buyer of the Peppol
/// examples), "koksmaat" sells (the seller of the EN 16931 examples). E-mail caps and rate are
/// set so one send-batch run sends everything ready.
pub const CONFIG: &str = r#"
[[administrations]]
id = "koksmaat"
name = "De Koksmaat"
vat_ids = ["NL8200.98.395.B.01"]
[administrations.accounts]
payables = "1600"
receivables = "1300"
goods_received_clearing = "1610"
obligations = "1620"
default_expense = "4999"
default_revenue = "8000"
rounding = "4990"
prepayments = "1650"
input_vat = { rates = { "21" = "1510", "6" = "1511" }, fallback = "1519" }
output_vat = { rates = { "21" = "1520", "6" = "1521" }, fallback = "1529" }

[[administrations]]
id = "buyer-as"
name = "Buyer AS"
vat_ids = ["SE4598375937"]
[administrations.accounts]
payables = "2400"
receivables = "1500"
goods_received_clearing = "2410"
obligations = "2420"
default_expense = "6999"
default_revenue = "3000"
rounding = "6990"
prepayments = "1650"
input_vat = { rates = { "25" = "2640" }, fallback = "2649" }
output_vat = { rates = { "25" = "2610" }, fallback = "2619" }

[validation]
max_file_bytes = 67108864

[export]
from = "ledgerpost@firm.example"
documents_per_email = 10
send_rate = 1000
[export.max_emails_per_run]
sales = 100000
purchases = 100000
[export.addresses]
sales = "sales@books.example"
credit_notes = "credits@books.example"
purchases = "purchases@books.example"
reports = "reports@firm.example"
"#;

/// The purchasing administration of [`CONFIG`].
pub const BUYER: &str = "buyer-as";

/// The median of some durations, in milliseconds.
pub fn median_ms(samples: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    match ms.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => ms[n / 2],
        n => (ms[n / 2 - 1] + ms[n / 2]) / 2.0,
    }
}

/// A field of `/proc/self/status` in kB (`VmHWM`, `VmRSS`), if the system has it.
pub fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident memory of this process so far, in MB (10^6 bytes).
pub fn peak_mb() -> f64 {
    status_kb("VmHWM").map_or(f64::NAN, |kb| kb as f64 * 1024.0 / 1e6)
}

/// CPU time this process has used so far, (user, system), from `/proc/self/stat` (in the
/// kernel's fixed 100 ticks per second).
pub fn cpu_times() -> (Duration, Duration) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (Duration::ZERO, Duration::ZERO);
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (Duration::from_millis(ticks(11) * 10), Duration::from_millis(ticks(12) * 10))
}

/// The machine's load average as `/proc/loadavg` gives it.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.trim().to_owned()).unwrap_or_else(|_| "?".into())
}

/// Prints one result line for the table.
pub fn result(benchmark: &str, figure: &str, target: &str, met: Option<bool>) {
    let met = match met {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    println!("BENCH\t{benchmark}\t{figure}\t{target}\t{met}");
}

/// Total instructions of a command run under callgrind, from its "Collected" summary line, or why
/// not (valgrind missing, the command failing).
pub fn callgrind_instructions(program: &std::path::Path, args: &[String]) -> Result<u64, String> {
    let output = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--callgrind-out-file=/dev/null")
        .arg(program)
        .args(args)
        .output()
        .map_err(|e| format!("valgrind could not be started: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("the run under callgrind failed: {}", stderr.lines().last().unwrap_or("")));
    }
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| "callgrind printed no instruction count".to_owned())
}

/// Instructions in millions, for printing.
pub fn mega(instructions: u64) -> f64 {
    instructions as f64 / 1e6
}
