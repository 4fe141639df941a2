//! The local pipeline's throughput: N invoices (10,000 by default) generated from corpus templates
//! through ingest → match → journal → send-batch on the local adapters (folder bucket, SQLite
//! store and queues, .eml outbox) in a temporary folder, as `ledgerpost run` and `ledgerpost send`
//! run them: one process, one stage at a time.
//!
//! The mix, by invoice number modulo 20: 10 % sales (EN 16931 example 1 of De Koksmaat), 35 %
//! purchases whose lines match goods receipts of their order (every fifth with a freight line
//! coded by a text rule), 20 % matched to an obligation, 25 % coded by the supplier's text rules,
//! 10 % with no order reference and no rule (they wait for a person). 100 suppliers, 1–5 lines
//! each. Receipts, obligations and rules are imported first through the pipeline's CSV imports.
//!
//! Timed: putting the files in `inbox/` (setup), then `enqueue_inbox`, the stages until every
//! queue is empty (the loop of `Pipeline::drain`, timed per queue), and one send-batch run (10
//! documents per e-mail, XML and a rendered PDF each; the sending rate is not waited for).
//!
//! `pipeline-throughput [--invoices N] [--workers N] [--keep DIR]`. With `--workers 2` two such
//! loops run at once on a two-thread runtime (as two Lambda instances would; the local runner has
//! one), sharing the adapters. Target: 10,000 invoices in under 10 s on 2 cores.

#[path = "../common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::generate::{InvoiceSpec, LineSpec, PurchaseTemplate, SalesTemplate, Seller, money};
use common::{BUYER, CONFIG, peak_mb, result};
use ledgerpost_domain::config::Config;
use ledgerpost_domain::ids::AdministrationId;
use ledgerpost_local::{FixedClock, LocalBackend, QueueSpec, SqliteQueue};
use ledgerpost_pipeline::repository::StatusKey;
use ledgerpost_pipeline::send::SendOptions;
use ledgerpost_pipeline::{NoSleep, Pipeline, Ports, queues};
use ledgerpost_ports::{Bucket, ObjectKey, Queue};

/// The text rules every supplier has, one coding each.
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

const SUPPLIERS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sales,
    Receipt,
    Obligation,
    TextRule,
    Unmatched,
}

fn kind(i: usize) -> Kind {
    match i % 20 {
        0..=1 => Kind::Sales,
        2..=8 => Kind::Receipt,
        9..=12 => Kind::Obligation,
        13..=17 => Kind::TextRule,
        _ => Kind::Unmatched,
    }
}

/// The lines of purchase `i`.
fn lines(i: usize, kind: Kind) -> Vec<LineSpec> {
    let count = 1 + i % 5;
    let mut lines: Vec<LineSpec> = (1..=count)
        .map(|j| {
            let name = match kind {
                Kind::TextRule => format!("{} batch {i}-{j}", KEYWORDS[(i + j) % KEYWORDS.len()]),
                Kind::Unmatched => format!("Unlisted article {i}-{j}"),
                _ => format!("Article {i}-{j}"),
            };
            LineSpec {
                id: j.to_string(),
                quantity: 1 + ((i + j) % 5) as i64,
                price_cents: 500 + ((i * 13 + j * 7) % 20_000) as i64,
                name,
                description: "Description of item".into(),
                order_line: format!("L{j}"),
            }
        })
        .collect();
    if kind == Kind::Receipt && i % 5 == 0 {
        lines.push(LineSpec {
            id: (count + 1).to_string(),
            quantity: 1,
            price_cents: 4_500,
            name: "Freight and handling".into(),
            description: "Transport".into(),
            order_line: "FREIGHT".into(),
        });
    }
    lines
}

fn date(i: usize) -> String {
    format!("2025-02-{:02}", 1 + i % 27)
}

/// The master data CSV files the mix needs: receipts, obligations, rules.
fn master_data(n: usize) -> (String, String, String) {
    let mut receipts =
        String::from("administration,order_number,line_id,quantity_received,unit_price,amount,date\n");
    let mut obligations = String::from("administration,reference,supplier,amount,open_balance\n");
    let mut rules = String::from("administration,supplier,search_text,account,vat_group\n");
    for i in 0..n {
        let k = kind(i);
        match k {
            Kind::Receipt => {
                for line in lines(i, k).iter().filter(|l| l.order_line != "FREIGHT") {
                    let _ = writeln!(
                        receipts,
                        "{BUYER},PO-{i:05},{},{},{},{},2025-01-15",
                        line.order_line,
                        line.quantity,
                        money(line.price_cents),
                        money(line.amount_cents())
                    );
                }
            }
            Kind::Obligation => {
                let net: i64 = lines(i, k).iter().map(LineSpec::amount_cents).sum();
                let amount = money(net + 10_000);
                let supplier = Seller::numbered(i % SUPPLIERS).vat;
                let _ = writeln!(obligations, "{BUYER},CT-{i:05},{supplier},{amount},{amount}");
            }
            _ => {}
        }
    }
    for s in 0..SUPPLIERS {
        let supplier = Seller::numbered(s).vat;
        for (r, keyword) in KEYWORDS.iter().enumerate() {
            let _ = writeln!(rules, "{BUYER},{supplier},{keyword},{},H25", 6100 + r);
        }
    }
    (receipts, obligations, rules)
}

/// The UBL text of invoice `i`.
fn invoice(i: usize, purchase: &PurchaseTemplate, sales: &SalesTemplate) -> String {
    let k = kind(i);
    let number = format!("INV-{i:05}");
    if k == Kind::Sales {
        return sales.render(&number, &date(i));
    }
    let order = match k {
        Kind::Receipt => Some(format!("PO-{i:05}")),
        Kind::Obligation => Some(format!("CT-{i:05}")),
        _ => None,
    };
    let seller = Seller::numbered(i % SUPPLIERS);
    purchase.render(&InvoiceSpec {
        number: &number,
        issue_date: &date(i),
        seller: &seller,
        order_reference: order.as_deref(),
        lines: &lines(i, k),
    })
}

/// What one stage worker did.
#[derive(Default)]
struct WorkerStats {
    per_queue: [Duration; 3],
    handled: [usize; 3],
    failures: Vec<String>,
}

/// The loop of `Pipeline::drain` (receive up to 10 per queue in turn, handle, delete), timed per
/// queue. With several workers, one stops only when it finds nothing and no other is handling a
/// message (which may send the next stage's message).
async fn stage_worker(pipeline: Pipeline, queue: Arc<SqliteQueue>, busy: Arc<AtomicUsize>) -> WorkerStats {
    let mut stats = WorkerStats::default();
    loop {
        let mut any = false;
        for (q, name) in queues::ALL.iter().enumerate() {
            let t = Instant::now();
            busy.fetch_add(1, Ordering::SeqCst);
            let messages = queue
                .receive(name, ledgerpost_ports::queue::MAX_RECEIVE_BATCH, Duration::from_secs(30))
                .await
                .expect("receive");
            for message in messages {
                any = true;
                match pipeline.handle(name, &message.body).await {
                    Ok(_) => {
                        queue.delete(name, &message.receipt).await.expect("delete");
                        stats.handled[q] += 1;
                    }
                    Err(e) => stats.failures.push(format!("{name}: {e}")),
                }
            }
            busy.fetch_sub(1, Ordering::SeqCst);
            stats.per_queue[q] += t.elapsed();
        }
        if !any {
            if busy.load(Ordering::SeqCst) == 0 {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

struct Args {
    invoices: usize,
    workers: usize,
    keep: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut out = Args { invoices: 10_000, workers: 1, keep: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--invoices" => out.invoices = it.next().and_then(|n| n.parse().ok()).expect("--invoices N"),
            "--workers" => out.workers = it.next().and_then(|n| n.parse().ok()).expect("--workers N"),
            "--keep" => out.keep = Some(it.next().expect("--keep DIR").into()),
            other => panic!("unknown argument {other}"),
        }
    }
    out
}

fn main() {
    // As the functions and the `ledgerpost` command start.
    ledgerpost_pipeline::process::tune_allocator();
    let args = args();
    let runtime = if args.workers > 1 {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.workers).enable_time().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_time().build()
    }
    .expect("a tokio runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let n = args.invoices;
    let workers = args.workers;
    println!(
        "== local pipeline, {n} invoices, {workers} stage worker(s) (load average {})",
        common::loadavg()
    );
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = args.keep.clone().unwrap_or_else(|| temp.path().to_owned());
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap()));
    let specs: Vec<QueueSpec> = queues::ALL.iter().map(|q| QueueSpec::new(*q, 3)).collect();
    let backend = LocalBackend::open(&dir, clock.clone(), specs).expect("local backend");
    let ports = Ports {
        bucket: backend.bucket.clone(),
        queue: backend.queue.clone(),
        store: backend.store.clone(),
        mailer: backend.mailer.clone(),
        clock: clock.clone(),
        lease: backend.lease.clone(),
        sleeper: Arc::new(NoSleep::default()),
    };
    let config = Arc::new(Config::from_toml_str(CONFIG).expect("the benchmark configuration"));
    let pipeline = Pipeline::new(ports, config);

    // Master data through the pipeline's imports.
    let t = Instant::now();
    let (receipts, obligations, rules) = master_data(n);
    let r = pipeline.import_receipts(receipts.as_bytes()).await.expect("receipts import");
    let o = pipeline.import_obligations(obligations.as_bytes()).await.expect("obligations import");
    let x = pipeline.import_rules(rules.as_bytes()).await.expect("rules import");
    let import_time = t.elapsed();
    let rows = r.created + o.created + x.created;
    println!(
        "master data: {} receipt lines, {} obligations, {} rules imported in {:.2} s",
        r.created,
        o.created,
        x.created,
        import_time.as_secs_f64()
    );

    // The files, in the inbox.
    let purchase = PurchaseTemplate::load();
    let sales = SalesTemplate::load();
    let t = Instant::now();
    let mut bytes = 0usize;
    for i in 0..n {
        let xml = invoice(i, &purchase, &sales);
        bytes += xml.len();
        let key = ObjectKey::parse(format!("inbox/inv-{i:05}.xml")).expect("key");
        backend.bucket.put(&key, xml.into_bytes(), "application/xml").await.expect("inbox put");
    }
    println!(
        "{n} files ({:.1} MB) generated and put in inbox/ in {:.2} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // ingest → match → journal, as Pipeline::drain does it, timed per queue.
    let start = Instant::now();
    let cpu_start = common::cpu_times();
    let queued = pipeline.enqueue_inbox().await.expect("enqueue inbox");
    let enqueue_time = start.elapsed();
    assert_eq!(queued, n);
    let busy = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..args.workers)
        .map(|_| tokio::spawn(stage_worker(pipeline.clone(), backend.queue.clone(), busy.clone())))
        .collect();
    let mut per_queue = [Duration::ZERO; 3];
    let mut handled = [0usize; 3];
    let mut failures = Vec::new();
    for worker in tasks {
        let done = worker.await.expect("a stage worker");
        for q in 0..3 {
            per_queue[q] += done.per_queue[q];
            handled[q] += done.handled[q];
        }
        failures.extend(done.failures);
    }

    let t = Instant::now();
    let report = pipeline.send_batch(SendOptions::default()).await.expect("send-batch");
    let send_time = t.elapsed();
    let total = start.elapsed();
    let (user, system) = common::cpu_times();
    let (user, system) = (user.saturating_sub(cpu_start.0), system.saturating_sub(cpu_start.1));
    let cpu = user + system;
    let peak = peak_mb();

    // What happened, checked.
    let mut emails = 0;
    let mut documents = 0;
    let mut send_errors = 0;
    for a in &report.administrations {
        for j in &a.journals {
            emails += j.emails_sent;
            documents += j.documents_sent;
            send_errors += j.errors.len();
        }
    }
    let unmatched = (0..n).filter(|i| kind(*i) == Kind::Unmatched).count();
    let buyer = AdministrationId::parse(BUYER).expect("id");
    let counts = pipeline.repository().count_by_status(&buyer).await.expect("counts");
    let count_of = |key: StatusKey| counts.iter().find(|(s, _)| *s == key).map_or(0, |(_, c)| *c);
    println!(
        "handled: ingest {}, match {}, journal {}; failures {}; buyer-as: {} sent, {} waiting for a person",
        handled[0],
        handled[1],
        handled[2],
        failures.len(),
        count_of(StatusKey::Sent),
        count_of(StatusKey::Manual)
    );
    for f in failures.iter().take(5) {
        println!("  failure: {f}");
    }
    println!(
        "send-batch: {emails} e-mails, {documents} documents, {send_errors} document errors, {} report e-mail",
        if report.dry_run { 0 } else { 1 }
    );
    let expected_documents = n - unmatched;
    let complete = failures.is_empty() && documents as usize == expected_documents && send_errors == 0;
    if !complete {
        println!("INCOMPLETE: expected {expected_documents} documents sent");
    }

    let secs = total.as_secs_f64();
    println!(
        "timed: enqueue {:.2} s, ingest {:.2} s, match {:.2} s, journal {:.2} s, send-batch {:.2} s; total {secs:.2} s (CPU: {:.2} s user, {:.2} s system), {:.0} invoices/s, peak {peak:.0} MB",
        enqueue_time.as_secs_f64(),
        per_queue[0].as_secs_f64(),
        per_queue[1].as_secs_f64(),
        per_queue[2].as_secs_f64(),
        send_time.as_secs_f64(),
        user.as_secs_f64(),
        system.as_secs_f64(),
        n as f64 / secs
    );
    let label = if workers > 1 { format!(", {workers} stage workers") } else { String::new() };
    let per_invoice_ms = |d: Duration, count: usize| d.as_secs_f64() * 1e3 / count.max(1) as f64;
    result(
        &format!("pipeline {n} invoices{label}: total (ingest → match → journal → send-batch)"),
        &format!(
            "{secs:.1} s ({:.1} s CPU, of it {:.1} s system), {:.0} invoices/s{}",
            cpu.as_secs_f64(),
            system.as_secs_f64(),
            n as f64 / secs,
            if complete { "" } else { " (INCOMPLETE)" }
        ),
        ">= 1,000 invoices/s (10,000 in < 10 s)",
        Some(n as f64 / secs >= 1000.0 && complete),
    );
    result(
        &format!("pipeline {n} invoices{label}: per stage (summed over workers)"),
        &format!(
            "ingest {:.2} ms, match {:.2} ms, journal {:.2} ms per message; send-batch {:.2} s ({emails} e-mails, {:.2} ms per document)",
            per_invoice_ms(per_queue[0], handled[0]),
            per_invoice_ms(per_queue[1], handled[1]),
            per_invoice_ms(per_queue[2], handled[2]),
            send_time.as_secs_f64(),
            per_invoice_ms(send_time, documents as usize)
        ),
        "",
        None,
    );
    result(&format!("pipeline {n} invoices{label}: peak memory"), &format!("{peak:.0} MB"), "", None);
    result(
        &format!("pipeline {n} invoices{label}: master data import (setup)"),
        &format!("{rows} rows in {:.2} s", import_time.as_secs_f64()),
        "",
        None,
    );
    println!("== load average after: {}", common::loadavg());
}
