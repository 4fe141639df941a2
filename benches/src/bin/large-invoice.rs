//! Large invoices: 1,000, 4,000 and 30,000 lines generated from the Peppol BIS base example, each
//! measured in a child process of its own (so one size's allocations do not raise another's peak):
//! parse, validate (EN 16931), parse + validate, typed model, and, as a purchase matched line by
//! line to goods receipts of its order, match and journal; peak memory (VmHWM) after the first
//! pass (one invoice) and after all of them.
//!
//! `large-invoice [--sizes 1000,4000,30000] [--callgrind]`: with `--callgrind` the instructions of
//! parse + validate and of the whole chain are counted too (valgrind), which the machine's load
//! does not change, for the sizes up to 4,000 lines (larger ones take minutes under valgrind).
//! For profiles: `large-invoice write LINES FILE` writes the generated invoice, and
//! `large-invoice instructions FILE LINES base|pv|chain` runs one pass of the chain on it.
//!
//! Targets: 4k lines parse + validate ≤ 20 ms; 30k lines parse + validate + model + match +
//! journal ≤ 0.3 s with peak ≤ 150 MB; cost linear in lines (ms per 1k lines within ±20 %).

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::generate::{LineSpec, PurchaseTemplate, large_purchase, money};
use common::{BUYER, CONFIG, median_ms, peak_mb, result};
use ledgerpost_domain::config::{Administration, Config};
use ledgerpost_domain::ids::{AdministrationId, InvoiceId, SupplierKey};
use ledgerpost_domain::journal::journal_purchase;
use ledgerpost_domain::masterdata::{GoodsReceipt, InMemoryMasterData};
use ledgerpost_domain::matching::{InvoiceStatus, MatchContext, MatchOutcome, match_invoice};
use ledgerpost_ubl::model::Invoice;
use ledgerpost_ubl::rules::{Ruleset, validate};
use ledgerpost_ubl::xml::{Document, Limits};
use rust_decimal::Decimal;

/// Larger invoices take minutes under valgrind: their instructions are not counted.
const CALLGRIND_MAX_LINES: usize = 4000;

const LIMITS: Limits = Limits { max_bytes: 64 * 1024 * 1024, max_depth: 128 };

fn main() {
    // As the functions and the `ledgerpost` command start.
    ledgerpost_pipeline::process::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("child") => child(Path::new(&args[1]), args[2].parse().expect("lines")),
        Some("write") => {
            let lines = args[1].parse().expect("lines");
            let (xml, _) = large_purchase(&PurchaseTemplate::load(), lines);
            std::fs::write(&args[2], xml).expect("write the invoice");
        }
        Some("instructions") => instructions(Path::new(&args[1]), args[2].parse().expect("lines"), &args[3]),
        _ => parent(&args),
    }
}

/// What the measured chain works with, prepared before any timing.
struct Setup {
    bytes: Vec<u8>,
    administration: Administration,
    master_data: InMemoryMasterData,
}

fn setup(path: &Path, lines: usize) -> Setup {
    let bytes = std::fs::read(path).expect("the generated invoice");
    let config = Config::from_toml_str(CONFIG).expect("the benchmark configuration");
    let admin_id = AdministrationId::parse(BUYER).expect("administration id");
    let administration = config.administration(&admin_id).expect("buyer-as").clone();
    let mut master_data = InMemoryMasterData::new();
    for n in 1..=lines {
        master_data.put_receipt(receipt(&admin_id, "PO-LARGE", &LineSpec::numbered(n)));
    }
    // Compile the rule set once, outside every measurement.
    let small = common::corpus_text(common::generate::PURCHASE_TEMPLATE);
    let doc = Document::parse(small.as_bytes(), &LIMITS).expect("the template parses");
    let _ = validate(&doc, Ruleset::En16931);
    Setup { bytes, administration, master_data }
}

/// The goods-receipt line an invoice line matches without differences.
fn receipt(admin: &AdministrationId, order: &str, line: &LineSpec) -> GoodsReceipt {
    let d = |s: String| s.parse::<Decimal>().expect("decimal");
    GoodsReceipt {
        administration: admin.clone(),
        order_number: order.to_owned(),
        line_id: line.order_line.clone(),
        sellers_item_id: None,
        buyers_item_id: None,
        standard_item_id: None,
        quantity_received: Decimal::from(line.quantity),
        quantity_invoiced: Decimal::ZERO,
        unit_price: d(money(line.price_cents)),
        amount: d(money(line.amount_cents())),
        date: NaiveDate::from_ymd_opt(2025, 2, 1).expect("date"),
    }
}

/// Times of one pass of the chain.
#[derive(Default)]
struct Pass {
    parse: Duration,
    validate: Duration,
    model: Duration,
    matching: Duration,
    journal: Duration,
    /// Peak memory (VmHWM, MB) after each step.
    peaks: Vec<(&'static str, f64)>,
}

/// Parse → validate → model → (tree dropped) → match → journal, as the pipeline does it, checking
/// that the invoice is valid, every line matched and the entry balanced.
fn chain(s: &Setup, upto_validate: bool) -> Pass {
    let mut pass = Pass::default();
    let t = Instant::now();
    let doc = Document::parse(&s.bytes, &LIMITS).expect("the generated invoice parses");
    pass.parse = t.elapsed();
    pass.peaks.push(("parse", peak_mb()));
    let t = Instant::now();
    let report = validate(&doc, Ruleset::En16931);
    pass.validate = t.elapsed();
    pass.peaks.push(("validate", peak_mb()));
    if !report.is_valid() {
        eprintln!("the generated invoice is not valid: fatal {:?}", report.fatal_ids());
        std::process::exit(2);
    }
    drop(report);
    if upto_validate {
        return pass;
    }
    let t = Instant::now();
    let invoice = Invoice::from_document(&doc).expect("the generated invoice reads as a model");
    pass.model = t.elapsed();
    pass.peaks.push(("model", peak_mb()));
    drop(doc);
    let supplier = ledgerpost_pipeline::ingest::seller_key(&invoice.seller).expect("seller key");
    let keys = SupplierKey::candidates(&invoice.seller);
    let profile = s.administration.purchase_profile(&keys);
    let id = InvoiceId::derive(&s.administration.id, &supplier, &invoice.number, 2025).expect("id");

    let t = Instant::now();
    let ctx = MatchContext {
        administration: &s.administration.id,
        supplier: &supplier,
        profile: &profile,
        master_data: &s.master_data,
    };
    let outcome = match_invoice(&invoice, id, &ctx).expect("matching");
    pass.matching = t.elapsed();
    pass.peaks.push(("match", peak_mb()));
    let MatchOutcome::Processed(state) = outcome else { panic!("rejected without order reference") };
    assert_eq!(*state.status(), InvoiceStatus::AllLinesProcessed, "every line matches its receipt");

    let t = Instant::now();
    let journaled = journal_purchase(&invoice, &state, &s.administration, None).expect("journal");
    pass.journal = t.elapsed();
    pass.peaks.push(("journal", peak_mb()));
    assert!(journaled.entry.is_balanced());
    assert_eq!(journaled.consume().receipts.len(), invoice.lines.len());
    pass
}

fn child(path: &Path, lines: usize) {
    let s = setup(path, lines);
    let base_mb = peak_mb();
    let reps = match lines {
        0..=2000 => 15,
        2001..=10000 => 7,
        _ => 3,
    };
    let passes: Vec<Pass> = (0..reps).map(|_| chain(&s, false)).collect();
    let pv: Vec<Duration> = passes.iter().map(|p| p.parse + p.validate).collect();
    let all: Vec<Duration> =
        passes.iter().map(|p| p.parse + p.validate + p.model + p.matching + p.journal).collect();
    let pick = |f: fn(&Pass) -> Duration| median_ms(&passes.iter().map(f).collect::<Vec<_>>());
    let steps: Vec<String> =
        passes[0].peaks.iter().map(|(stage, mb)| format!("after {stage} {mb:.0}")).collect();
    println!("PEAKS base {base_mb:.0}, {}", steps.join(", "));
    println!(
        "CHILD parse={} validate={} pv={} model={} match={} journal={} chain={} peak={} peak_one={} passes={} base={}",
        pick(|p| p.parse),
        pick(|p| p.validate),
        median_ms(&pv),
        pick(|p| p.model),
        pick(|p| p.matching),
        pick(|p| p.journal),
        median_ms(&all),
        peak_mb(),
        // The high-water mark is monotonic: after the first pass it is one invoice's peak.
        passes[0].peaks.last().map_or(f64::NAN, |(_, mb)| *mb),
        reps,
        base_mb
    );
}

/// One pass for counting instructions: `base` (setup only), `pv` (setup, parse, validate),
/// `chain` (setup and the whole chain).
fn instructions(path: &Path, lines: usize, stage: &str) {
    let s = setup(path, lines);
    match stage {
        "base" => {}
        "pv" => {
            chain(&s, true);
        }
        "chain" => {
            chain(&s, false);
        }
        other => panic!("unknown stage {other}"),
    }
}

fn parent(args: &[String]) {
    let mut sizes = vec![1000usize, 4000, 30000];
    let mut callgrind = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sizes" => {
                sizes = it
                    .next()
                    .expect("--sizes N,N,…")
                    .split(',')
                    .map(|s| s.trim().parse().expect("a line count"))
                    .collect();
            }
            "--callgrind" => callgrind = true,
            other => panic!("unknown argument {other}"),
        }
    }
    println!("== large invoices (load average {})", common::loadavg());
    let exe = std::env::current_exe().expect("own path");
    let dir = tempfile::tempdir().expect("temp dir");
    let template = PurchaseTemplate::load();
    let mut rows: Vec<(usize, f64, BTreeMap<String, f64>)> = Vec::new();
    for &lines in &sizes {
        let (xml, _) = large_purchase(&template, lines);
        let path: PathBuf = dir.path().join(format!("large-{lines}.xml"));
        std::fs::write(&path, &xml).expect("write the generated invoice");
        let mb = xml.len() as f64 / 1e6;
        drop(xml);
        let out = Command::new(&exe)
            .arg("child")
            .arg(&path)
            .arg(lines.to_string())
            .output()
            .expect("run the measuring child");
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            panic!("the child for {lines} lines failed");
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find_map(|l| l.strip_prefix("CHILD ")).expect("the child's figures");
        if let Some(peaks) = text.lines().find_map(|l| l.strip_prefix("PEAKS ")) {
            println!("{lines} lines: peak memory (VmHWM, MB) {peaks}");
        }
        let figures: BTreeMap<String, f64> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.parse().unwrap_or(f64::NAN)))
            .collect();
        rows.push((lines, mb, figures));
    }

    println!(
        "{:>7} {:>8} {:>9} {:>11} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "lines",
        "file MB",
        "parse ms",
        "validate ms",
        "p+v ms",
        "model ms",
        "match ms",
        "journal ms",
        "chain ms",
        "peak MB",
        "p+v ms/1k"
    );
    for (lines, mb, f) in &rows {
        println!(
            "{lines:>7} {mb:>8.2} {:>9.2} {:>11.2} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>10.2} {:>10.1} {:>10.2}",
            f["parse"],
            f["validate"],
            f["pv"],
            f["model"],
            f["match"],
            f["journal"],
            f["chain"],
            f["peak"],
            f["pv"] / (*lines as f64 / 1000.0)
        );
    }
    println!(
        "(chain = parse + validate + model + match + journal; peak = VmHWM of the child, including the file read into memory and the master data)"
    );

    let per_1k = |key: &str| -> Vec<(usize, f64)> {
        rows.iter().map(|(lines, _, f)| (*lines, f[key] / (*lines as f64 / 1000.0))).collect()
    };
    for (lines, mb, f) in &rows {
        let size = format!("{}k lines", lines / 1000);
        result(&format!("large invoice {size}"), &format!("{mb:.1} MB file"), "", None);
        let target_pv = (*lines == 4000).then_some(20.0);
        result(
            &format!("large invoice {size}: parse + validate"),
            &format!("{:.1} ms (parse {:.1}, validate {:.1})", f["pv"], f["parse"], f["validate"]),
            target_pv.map_or(String::new(), |t| format!("<= {t} ms")).as_str(),
            target_pv.map(|t| f["pv"] <= t),
        );
        result(&format!("large invoice {size}: model"), &format!("{:.1} ms", f["model"]), "", None);
        let chain_target = (*lines == 30000).then_some(300.0);
        result(
            &format!("large invoice {size}: match + journal"),
            &format!(
                "{:.1} ms (match {:.1}, journal {:.1})",
                f["match"] + f["journal"],
                f["match"],
                f["journal"]
            ),
            "",
            None,
        );
        result(
            &format!("large invoice {size}: parse + validate + model + match + journal"),
            &format!("{:.1} ms", f["chain"]),
            chain_target.map_or(String::new(), |t| format!("<= {t} ms")).as_str(),
            chain_target.map(|t| f["chain"] <= t),
        );
        // The target is for one invoice through the chain; a process that reads the same invoice
        // again and again (the timing passes) shows what the allocator keeps on top.
        let peak_target = (*lines == 30000).then_some(150.0);
        result(
            &format!("large invoice {size}: peak memory"),
            &format!(
                "{:.1} MB for one invoice; {:.1} MB after {} in one process",
                f["peak_one"], f["peak"], f["passes"]
            ),
            peak_target.map_or(String::new(), |t| format!("<= {t} MB")).as_str(),
            peak_target.map(|t| f["peak_one"] <= t),
        );
    }
    for (key, label) in [("pv", "parse + validate"), ("chain", "whole chain")] {
        let costs = per_1k(key);
        let first = costs[0].1;
        let shown: Vec<String> =
            costs.iter().map(|(lines, ms)| format!("{}k {ms:.2}", lines / 1000)).collect();
        let linear = costs.iter().all(|(_, ms)| (ms / first - 1.0).abs() <= 0.2);
        result(
            &format!("large invoices: {label} ms per 1k lines"),
            &shown.join(", "),
            "linear (within ±20 % of the smallest)",
            Some(linear),
        );
    }

    if callgrind {
        for (lines, _, _) in rows.iter().filter(|(lines, _, _)| *lines <= CALLGRIND_MAX_LINES) {
            let path = dir.path().join(format!("large-{lines}.xml"));
            let count = |stage: &str| {
                common::callgrind_instructions(
                    &exe,
                    &["instructions".into(), path.display().to_string(), lines.to_string(), stage.into()],
                )
            };
            match (count("base"), count("pv"), count("chain")) {
                (Ok(base), Ok(pv), Ok(all)) => {
                    let size = format!("{}k lines", lines / 1000);
                    let per_1k = |n: u64| common::mega(n) / (*lines as f64 / 1000.0);
                    println!(
                        "{size}: parse + validate {:.1} M instructions ({:.1} M per 1k lines), whole chain {:.1} M ({:.1} M per 1k lines)",
                        common::mega(pv - base),
                        per_1k(pv - base),
                        common::mega(all - base),
                        per_1k(all - base)
                    );
                    result(
                        &format!("large invoice {size}: parse + validate, instructions"),
                        &format!(
                            "{:.0} M ({:.1} M per 1k lines)",
                            common::mega(pv - base),
                            per_1k(pv - base)
                        ),
                        "",
                        None,
                    );
                    result(
                        &format!("large invoice {size}: whole chain, instructions"),
                        &format!(
                            "{:.0} M ({:.1} M per 1k lines)",
                            common::mega(all - base),
                            per_1k(all - base)
                        ),
                        "",
                        None,
                    );
                }
                (a, b, c) => {
                    let why = [a, b, c].into_iter().find_map(Result::err).unwrap_or_default();
                    println!("instructions for {lines} lines not counted: {why}");
                }
            }
        }
    }
    println!("== load average after: {}", common::loadavg());
}
