//! Matching cost as master data grows: receipt lines, obligations and text rules at 1,000, 10,000
//! and 100,000 rows each in the local store (SQLite), imported through the pipeline's CSV imports.
//! The groups the lookups read stay the same size (5 receipt lines per order, one obligation per
//! reference, 10 rules per supplier); what grows is the number of orders, references and suppliers,
//! as it does in a growing administration.
//!
//! 200 purchases of 5 lines each (a third matched to receipts, a third to obligations, a third by
//! text rules, keys spread over the whole store) are ingested, then timed per invoice line:
//! - lookup + match: `Repository::master_data_for` (the two index queries) and the domain's
//!   `match_invoice`, read-only, median of 5 passes after one to warm the caches;
//! - the match stage: `Pipeline::match_lines` (reads the invoice, looks up, matches, writes the
//!   matching state and the status, sends the journal message), once.
//!
//! `matching-scale [--sizes 1000,10000,100000] [--callgrind]`: with `--callgrind`, the
//! instructions of the lookup + match pass are counted too (a child process on the same store
//! under valgrind), which the machine's load does not change. Target: per-line cost flat (within
//! ±20 % of the smallest size).

#[path = "../common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::generate::{InvoiceSpec, LineSpec, PurchaseTemplate, Seller, money};
use common::{BUYER, CONFIG, median_ms, result};
use ledgerpost_domain::config::Config;
use ledgerpost_domain::ids::InvoiceId;
use ledgerpost_domain::matching::{LineStatus, MatchContext, MatchOutcome, match_invoice};
use ledgerpost_local::{FixedClock, LocalBackend, QueueSpec};
use ledgerpost_pipeline::ingest::IngestOutcome;
use ledgerpost_pipeline::matching::MatchStageOutcome;
use ledgerpost_pipeline::{NoSleep, Pipeline, Ports, queues};
use ledgerpost_ports::ObjectKey;

const KEYWORDS: [&str; 10] = [
    "coffee beans",
    "printer paper",
    "cleaning service",
    "office chairs",
    "software licence",
    "freight",
    "consulting hours",
    "catering",
    "electricity",
    "travel expenses",
];
const LINES_PER_ORDER: usize = 5;
const RULES_PER_SUPPLIER: usize = KEYWORDS.len();
const INVOICES: usize = 200;

/// Receipt line `j` of order `k`, and the invoice line that matches it.
fn order_line(k: usize, j: usize) -> LineSpec {
    LineSpec {
        id: j.to_string(),
        quantity: 1 + ((k + j) % 7) as i64,
        price_cents: 250 + ((k * 31 + j * 17) % 30_000) as i64,
        name: format!("Article {k}-{j}"),
        description: "Description of item".into(),
        order_line: format!("L{j}"),
    }
}

struct Store {
    rows: usize,
}

impl Store {
    fn orders(&self) -> usize {
        self.rows / LINES_PER_ORDER
    }
    fn suppliers(&self) -> usize {
        self.rows / RULES_PER_SUPPLIER
    }
    /// The order, obligation or supplier invoice `i` uses: spread over the whole key range.
    fn spread(&self, i: usize, range: usize) -> usize {
        (i * 7919 + 13) % range
    }

    fn csv(&self) -> (String, String, String) {
        let mut receipts =
            String::from("administration,order_number,line_id,quantity_received,unit_price,amount,date\n");
        for k in 0..self.orders() {
            for j in 1..=LINES_PER_ORDER {
                let l = order_line(k, j);
                let _ = writeln!(
                    receipts,
                    "{BUYER},PO-{k:06},{},{},{},{},2025-01-15",
                    l.order_line,
                    l.quantity,
                    money(l.price_cents),
                    money(l.amount_cents())
                );
            }
        }
        let mut obligations = String::from("administration,reference,supplier,amount,open_balance\n");
        for k in 0..self.rows {
            let supplier = Seller::numbered(k % self.suppliers()).vat;
            let _ = writeln!(obligations, "{BUYER},CT-{k:06},{supplier},1000000.00,1000000.00");
        }
        let mut rules = String::from("administration,supplier,search_text,account,vat_group\n");
        for s in 0..self.suppliers() {
            let supplier = Seller::numbered(s).vat;
            for (r, keyword) in KEYWORDS.iter().enumerate() {
                let _ = writeln!(rules, "{BUYER},{supplier},{keyword},{},H25", 6100 + r);
            }
        }
        (receipts, obligations, rules)
    }

    /// Measured invoice `i`: a third on receipts, a third on obligations, a third on rules.
    fn invoice(&self, i: usize, template: &PurchaseTemplate) -> String {
        let number = format!("M-{i:04}");
        let (order, seller, lines) = match i % 3 {
            0 => {
                let k = self.spread(i, self.orders());
                let lines: Vec<LineSpec> = (1..=LINES_PER_ORDER).map(|j| order_line(k, j)).collect();
                (Some(format!("PO-{k:06}")), Seller::numbered(k % self.suppliers()), lines)
            }
            1 => {
                let k = self.spread(i, self.rows);
                let lines = (1..=5).map(|j| order_line(k, j)).collect();
                (Some(format!("CT-{k:06}")), Seller::numbered(k % self.suppliers()), lines)
            }
            _ => {
                let s = self.spread(i, self.suppliers());
                let lines = (1..=5)
                    .map(|j| LineSpec {
                        name: format!("{} batch {i}-{j}", KEYWORDS[(i + j) % KEYWORDS.len()]),
                        ..order_line(s, j)
                    })
                    .collect();
                (None, Seller::numbered(s), lines)
            }
        };
        template.render(&InvoiceSpec {
            number: &number,
            issue_date: "2025-02-14",
            seller: &seller,
            order_reference: order.as_deref(),
            lines: &lines,
        })
    }
}

fn open(dir: &Path) -> (LocalBackend, Pipeline) {
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap()));
    let specs: Vec<QueueSpec> = queues::ALL.iter().map(|q| QueueSpec::new(*q, 3)).collect();
    let backend = LocalBackend::open(dir, clock.clone(), specs).expect("local backend");
    let ports = Ports {
        bucket: backend.bucket.clone(),
        queue: backend.queue.clone(),
        store: backend.store.clone(),
        mailer: backend.mailer.clone(),
        clock,
        lease: backend.lease.clone(),
        sleeper: Arc::new(NoSleep::default()),
    };
    let config = Arc::new(Config::from_toml_str(CONFIG).expect("the benchmark configuration"));
    let pipeline = Pipeline::new(ports, config);
    (backend, pipeline)
}

/// One read-only pass over the invoices: time of the lookups and of the matching, and the lines
/// matched. With `run` false, only what is not timed (the records and documents) is done.
async fn lookup_and_match(
    pipeline: &Pipeline,
    ids: &[InvoiceId],
    run: bool,
) -> (Duration, Duration, usize, usize) {
    let repo = pipeline.repository();
    let mut lookup = Duration::ZERO;
    let mut matching = Duration::ZERO;
    let (mut lines, mut matched) = (0, 0);
    let administration =
        pipeline.config().administrations.iter().find(|a| a.id.as_str() == BUYER).expect("buyer-as");
    for id in ids {
        let record = repo.invoice(id).await.expect("read").expect("the invoice").value;
        let invoice = repo.invoice_document(&record).await.expect("its lines");
        if !run {
            continue;
        }
        let t = Instant::now();
        let snapshot = repo
            .master_data_for(&administration.id, record.order_reference.as_deref(), &record.supplier)
            .await
            .expect("master data");
        lookup += t.elapsed();
        let profile = administration.purchase_profile(&record.supplier_keys);
        let t = Instant::now();
        let ctx = MatchContext {
            administration: &administration.id,
            supplier: &record.supplier,
            profile: &profile,
            master_data: &snapshot,
        };
        let outcome = match_invoice(&invoice, id.clone(), &ctx).expect("matching");
        matching += t.elapsed();
        let MatchOutcome::Processed(state) = outcome else { panic!("rejected") };
        lines += state.lines().len();
        matched += state.lines().iter().filter(|l| l.status == LineStatus::Matched).count();
    }
    (lookup, matching, lines, matched)
}

struct Row {
    rows: usize,
    import: Duration,
    db_mb: f64,
    lookup_us: f64,
    match_us: f64,
    stage_us: f64,
    lines: usize,
    matched: usize,
    instructions_per_line: Option<f64>,
}

async fn measure(rows: usize, callgrind: bool) -> Row {
    let temp = tempfile::tempdir().expect("temp dir");
    let (_backend, pipeline) = open(temp.path());
    let store = Store { rows };
    let (receipts, obligations, rules) = store.csv();
    let t = Instant::now();
    pipeline.import_receipts(receipts.as_bytes()).await.expect("receipts import");
    pipeline.import_obligations(obligations.as_bytes()).await.expect("obligations import");
    pipeline.import_rules(rules.as_bytes()).await.expect("rules import");
    let import = t.elapsed();

    let template = PurchaseTemplate::load();
    let mut ids = Vec::new();
    for i in 0..INVOICES {
        let key = ObjectKey::parse(format!("inbox/m-{i:04}.xml")).expect("key");
        pipeline
            .ports()
            .bucket
            .put(&key, store.invoice(i, &template).into_bytes(), "application/xml")
            .await
            .expect("put");
        match pipeline.ingest(&key).await.expect("ingest") {
            IngestOutcome::Accepted { invoices } => ids.extend(invoices),
            other => panic!("invoice {i} not accepted: {other:?}"),
        }
    }
    std::fs::write(temp.path().join("ids.txt"), ids.iter().map(|id| format!("{id}\n")).collect::<String>())
        .expect("ids");

    let mut lookups = Vec::new();
    let mut matches = Vec::new();
    let (mut lines, mut matched) = (0, 0);
    // One pass to warm SQLite's page cache, then five measured.
    lookup_and_match(&pipeline, &ids, true).await;
    for _ in 0..5 {
        let (l, m, n, ok) = lookup_and_match(&pipeline, &ids, true).await;
        lookups.push(l);
        matches.push(m);
        (lines, matched) = (n, ok);
    }

    let instructions_per_line = if callgrind {
        let exe = std::env::current_exe().expect("own path");
        let dir = temp.path().display().to_string();
        let count =
            |stage: &str| common::callgrind_instructions(&exe, &["count".into(), dir.clone(), stage.into()]);
        match (count("base"), count("run")) {
            (Ok(base), Ok(run)) => Some((run - base) as f64 / lines as f64),
            (a, b) => {
                println!(
                    "instructions not counted: {}",
                    [a, b].into_iter().find_map(Result::err).unwrap_or_default()
                );
                None
            }
        }
    } else {
        None
    };

    let mut stage = Duration::ZERO;
    for id in &ids {
        let t = Instant::now();
        let outcome = pipeline.match_lines(id).await.expect("match stage");
        stage += t.elapsed();
        assert_eq!(outcome, MatchStageOutcome::ToJournal, "every line of {id} matches");
    }
    let db_mb = std::fs::metadata(temp.path().join(LocalBackend::DATABASE_FILE))
        .map_or(f64::NAN, |m| m.len() as f64 / 1e6);
    let per_line_us = |ms: f64| ms * 1e3 / lines as f64;
    Row {
        rows,
        import,
        db_mb,
        lookup_us: per_line_us(median_ms(&lookups)),
        match_us: per_line_us(median_ms(&matches)),
        stage_us: stage.as_secs_f64() * 1e6 / lines as f64,
        lines,
        matched,
        instructions_per_line,
    }
}

/// Under callgrind: the read-only pass on a store prepared by [`measure`].
async fn count(dir: &Path, stage: &str) {
    let (_backend, pipeline) = open(dir);
    let ids: Vec<InvoiceId> = std::fs::read_to_string(dir.join("ids.txt"))
        .expect("ids")
        .lines()
        .map(|l| InvoiceId::parse(l).expect("an invoice id"))
        .collect();
    // Warm up SQLite's page cache and the allocator the same way in both stages.
    lookup_and_match(&pipeline, &ids, false).await;
    lookup_and_match(&pipeline, &ids, stage == "run").await;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a tokio runtime");
    if args.first().map(String::as_str) == Some("count") {
        runtime.block_on(count(&PathBuf::from(&args[1]), &args[2]));
        return;
    }
    let mut sizes = vec![1_000usize, 10_000, 100_000];
    let mut callgrind = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sizes" => {
                sizes = it
                    .next()
                    .expect("--sizes N,N,…")
                    .split(',')
                    .map(|s| s.trim().parse().expect("a row count"))
                    .collect();
            }
            "--callgrind" => callgrind = true,
            other => panic!("unknown argument {other}"),
        }
    }
    println!("== matching as master data grows (load average {})", common::loadavg());
    let mut rows = Vec::new();
    for &size in &sizes {
        let row = runtime.block_on(measure(size, callgrind));
        println!(
            "{:>7} rows each: import {:.1} s ({:.0} rows/s), db {:.0} MB; per line: lookup {:.1} µs + match {:.1} µs, match stage {:.1} µs{}; {}/{} lines matched",
            row.rows,
            row.import.as_secs_f64(),
            (3 * row.rows) as f64 / row.import.as_secs_f64(),
            row.db_mb,
            row.lookup_us,
            row.match_us,
            row.stage_us,
            row.instructions_per_line
                .map_or(String::new(), |i| format!(", lookup + match {:.0} k instructions", i / 1e3)),
            row.matched,
            row.lines
        );
        rows.push(row);
    }
    let flat = |f: &dyn Fn(&Row) -> f64| rows.iter().all(|r| (f(r) / f(&rows[0]) - 1.0).abs() <= 0.2);
    let show = |f: &dyn Fn(&Row) -> f64, unit: &str| {
        rows.iter().map(|r| format!("{}k {:.1} {unit}", r.rows / 1000, f(r))).collect::<Vec<_>>().join(", ")
    };
    let target = "flat (within ±20 % of the smallest)";
    let lookup_match = |r: &Row| r.lookup_us + r.match_us;
    result(
        "matching vs master data: lookup + match per line",
        &show(&lookup_match, "µs"),
        target,
        Some(flat(&lookup_match)),
    );
    let stage = |r: &Row| r.stage_us;
    result("matching vs master data: match stage per line", &show(&stage, "µs"), target, Some(flat(&stage)));
    if rows.iter().all(|r| r.instructions_per_line.is_some()) {
        let ins = |r: &Row| r.instructions_per_line.unwrap_or(f64::NAN) / 1e3;
        result(
            "matching vs master data: lookup + match instructions per line",
            &show(&ins, "k"),
            target,
            Some(flat(&ins)),
        );
    }
    for r in &rows {
        result(
            &format!("matching vs master data: import of {}k rows each (setup)", r.rows / 1000),
            &format!(
                "{:.1} s, {:.0} rows/s",
                r.import.as_secs_f64(),
                (3 * r.rows) as f64 / r.import.as_secs_f64()
            ),
            "",
            None,
        );
    }
    println!("== load average after: {}", common::loadavg());
}
