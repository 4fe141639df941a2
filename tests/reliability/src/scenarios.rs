//! The fault scenarios, written once over a [`World`]: the local table (`tests/faults.rs`) and
//! the moto table (`tests/faults_on_moto.rs`) are lists of [`Scenario`]s run by [`run_table`].
//!
//! Every scenario starts from fresh resources (or a copy of resources prepared for it) with
//! invoices from the corpus, injects its faults, lets the pipeline recover the way it would in
//! production (redelivery, a restart over the same resources, the next day's send run), and then:
//! - the audit ([`crate::audit`]) checks the guarantees: stored once, journaled at most once,
//!   e-mailed at most once, nothing lost, what cannot be decided reported "in doubt";
//! - the outcome is compared with the same documents run without any fault: the same invoices
//!   in the same state (a document sent there may here only be "in doubt", listed for a person),
//!   the same files rejected.
//!
//! The rows "at every call" iterate N over every port call of their stage (counted in a
//! fault-free run of that stage), so that every step boundary gets a crash, a failure or a lost
//! reply.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use ledgerpost_pipeline::send::{SendError, SendOptions};
use ledgerpost_pipeline::{Pipeline, Ports, queues};

use crate::audit::{Audit, Fate, Input, Poison, audit, send_until_quiet};
use crate::backend::{Backend, World};
use crate::faults::{Gate, InjectedCrash, faulty_ports, quiet_injected_crashes};
use crate::harness::{CONFIG, RULES, config_with_caps, corpus, drain_queue};
use crate::{ChaosQueue, FaultPlan, GatedMailer, Mode, Order};

/// Receives before a message becomes a dead letter (the redrive policy's maxReceiveCount on SQS).
pub const MAX_RECEIVES: u32 = 3;

/// A stage whose port calls are faulted one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Ingest,
    Match,
    Journal,
    Send,
}

/// The documents a scenario starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Documents {
    /// Three files, for the fault rows where every run costs real requests (moto): a sales
    /// invoice with an embedded PDF, a purchase coded by a text rule, and the first file again
    /// under another name (a duplicate by content, rejected under `rejected/`).
    Tiny,
    /// Five files touching every path of every stage: a sales invoice, a sales invoice with an
    /// embedded PDF, a purchase coded by a text rule, a file breaking BR-CO-10, and the first
    /// file again under another name (a duplicate by content).
    Small,
    /// The small set plus more of the corpus: purchases and a purchase credit note of the Peppol
    /// examples, a negative invoice, a zero-rated invoice between strangers, more invalid files.
    Mixed,
    /// Eight sales invoices (EN 16931 example 1 renumbered), for the caps.
    Sales,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// No fault: the scenario checks the reference itself.
    Plain,
    /// Every queue message delivered twice and/or in another order.
    Chaos { duplicate: bool, order: Order },
    /// A fault at every port call of one stage, then a restart (crash) and redelivery.
    AtEveryCall { stage: Stage, mode: Mode },
    /// A scheduled and a manual send run started together, from two processes or one.
    OverlappingRuns { two_processes: bool, cap: u32 },
    /// Messages no stage can handle, sent ahead of good ones in the same receive batch.
    Poison,
}

/// One row of a table.
pub struct Scenario {
    pub name: &'static str,
    pub documents: Documents,
    pub kind: Kind,
}

fn valid(name: &str) -> Vec<u8> {
    corpus(&format!("ubl/valid/{name}"))
}

fn invalid(name: &str) -> Vec<u8> {
    corpus(&format!("ubl/invalid/{name}"))
}

/// A corpus file with its first `<cbc:ID>` (the invoice number, BT-1) replaced.
fn renumbered(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).expect("a UTF-8 corpus file");
    let from = format!("<cbc:ID>{from}</cbc:ID>");
    assert!(text.contains(&from), "the corpus file has no {from}");
    text.replacen(&from, &format!("<cbc:ID>{to}</cbc:ID>"), 1).into_bytes()
}

/// The input files of a document set.
pub fn inputs(documents: Documents) -> Vec<Input> {
    let example1 = valid("en16931__ubl-examples__ubl-tc434-example1.xml");
    let small = vec![
        Input::new("example1.xml", example1.clone()),
        Input::new("example2-with-pdf.xml", valid("en16931__ubl-examples__ubl-tc434-example2.xml")),
        Input::new("peppol-base.xml", valid("peppol-bis3__examples__base-example.xml")),
        Input::new("br-co-10.xml", invalid("en16931__Invoice-unit-UBL__BR-CO-10__test8.xml")),
        Input::new("example1-again.xml", example1.clone()),
    ];
    match documents {
        Documents::Tiny => {
            vec![small[1].clone(), small[2].clone(), Input::new("example2-again.xml", small[1].bytes.clone())]
        }
        Documents::Small => small,
        Documents::Mixed => {
            let mut all = small;
            all.extend([
                Input::new(
                    "peppol-allowance.xml",
                    renumbered(&valid("peppol-bis3__examples__Allowance-example.xml"), "Snippet1", "ALLOW-1"),
                ),
                Input::new(
                    "peppol-sales-order.xml",
                    renumbered(&valid("peppol-bis3__examples__sales-order-example.xml"), "Snippet1", "SO-1"),
                ),
                Input::new(
                    "peppol-credit-note.xml",
                    renumbered(
                        &valid("peppol-bis3__examples__base-creditnote-correction.xml"),
                        "Snippet1",
                        "CN-1",
                    ),
                ),
                Input::new(
                    "peppol-negative.xml",
                    valid("peppol-bis3__examples__base-negative-inv-correction.xml"),
                ),
                Input::new("strangers-vat-z.xml", valid("peppol-bis3__examples__vat-category-Z.xml")),
                Input::new("example1-2016.xml", renumbered(&example1, "12115118", "12115119")),
                Input::new("br-16.xml", invalid("en16931__Invoice-unit-UBL__BR-16__test2.xml")),
                Input::new("br-co-15.xml", invalid("en16931__CreditNote-unit-UBL__BR-CO-15-2__test3.xml")),
            ]);
            all
        }
        Documents::Sales => (1..=8)
            .map(|n| {
                Input::new(
                    format!("sales-{n}.xml"),
                    renumbered(&example1, "12115118", &format!("S-2025-{n:03}")),
                )
            })
            .collect(),
    }
}

fn config_for(kind: &Kind) -> String {
    match kind {
        Kind::OverlappingRuns { cap, .. } => config_with_caps(*cap, *cap),
        _ => CONFIG.to_owned(),
    }
}

/// Puts a file into `inbox/` and sends its ingest message through `pipeline`'s queue, as S3
/// would notify.
pub async fn drop_file<B: Backend + ?Sized>(env: &B, pipeline: &Pipeline, input: &Input) {
    let key = ledgerpost_ports::ObjectKey::parse(format!("inbox/{}", input.name)).expect("a valid inbox key");
    env.ports().bucket.put(&key, input.bytes.clone(), "application/xml").await.expect("put into the inbox");
    pipeline.enqueue_ingest(&key).await.expect("send the ingest message");
}

/// Fresh resources with the text rules and the inputs in the inbox, their ingest messages sent
/// through the queue of `wrap(plain ports)`; returns the backend and that pipeline.
async fn seeded<W: World>(
    world: &W,
    config: &str,
    documents: Documents,
    wrap: impl Fn(Ports) -> Ports,
) -> (W::Env, Pipeline) {
    let env = world.fresh(config, MAX_RECEIVES).await;
    env.pipeline().import_rules(RULES.as_bytes()).await.expect("import the text rules");
    let pipeline = env.pipeline_on(wrap(env.ports()));
    for input in inputs(documents) {
        drop_file(&env, &pipeline, &input).await;
    }
    (env, pipeline)
}

/// The totals over every scenario run, for the summary line.
#[derive(Debug, Default)]
pub struct Totals {
    pub runs: usize,
    pub documents_in: usize,
    pub journaled: usize,
    pub emails: usize,
    pub duplicates: usize,
    pub lost: usize,
}

impl Totals {
    fn add(&mut self, inputs: usize, audit: &Audit) {
        self.runs += 1;
        self.documents_in += inputs;
        self.journaled += audit.journaled;
        self.emails += audit.document_emails;
        self.duplicates += audit.duplicates;
        self.lost += audit.lost;
    }

    /// `<label>: scenarios N, documents in …, journaled …, e-mails sent …, duplicates 0, lost 0`.
    pub fn line(&self, label: &str) -> String {
        format!(
            "{label}: scenarios {}, documents in {}, journaled {}, e-mails sent {}, duplicates {}, lost {}",
            self.runs, self.documents_in, self.journaled, self.emails, self.duplicates, self.lost
        )
    }
}

/// What must be the same as in the fault-free run: invoices and their fates (sent there may be
/// in doubt here), and per content what was stored and what rejected.
fn compare(name: &str, reference: &Audit, got: &Audit, inputs: &[Input], in_doubt_allowed: bool) {
    let ids = |a: &Audit| a.fates.keys().cloned().collect::<Vec<_>>();
    assert_eq!(ids(got), ids(reference), "{name}: not the same invoices as without faults");
    for (id, expected) in &reference.fates {
        let fate = &got.fates[id];
        let ok = fate == expected || (in_doubt_allowed && *expected == Fate::Sent && *fate == Fate::InDoubt);
        assert!(ok, "{name}: invoice {id} ended {fate:?}, without faults {expected:?}");
    }
    if !in_doubt_allowed {
        assert!(got.in_doubt.is_empty(), "{name}: in doubt without any send fault: {:?}", got.in_doubt);
    }
    let by_content = |a: &Audit| {
        let mut groups: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for input in inputs {
            let group = inputs.iter().find(|i| i.bytes == input.bytes).map(|i| i.name.as_str()).unwrap_or("");
            let entry = groups.entry(group).or_default();
            entry.0 += usize::from(a.stored_from.contains_key(&input.name));
            entry.1 += usize::from(a.rejected.contains_key(&input.name));
        }
        groups
    };
    assert_eq!(by_content(got), by_content(reference), "{name}: stored / rejected per content differ");
}

/// The fault-free outcome of a set of documents, checked for exercising what it must (documents
/// sent, rejected, stored from each path).
async fn checked_reference<W: World>(world: &W, documents: Documents) -> (Audit, Vec<Input>) {
    let (audit, inputs) = reference(world, documents, CONFIG).await;
    let with_attachments = audit.invoices.values().filter(|r| !r.attachments.is_empty()).count();
    match documents {
        Documents::Mixed => assert!(
            audit.document_emails >= 8 && audit.rejected.len() >= 4,
            "{:?} / {:?}",
            audit.fates,
            audit.rejected
        ),
        Documents::Small => {
            assert_eq!(audit.rejected.len(), 2, "{:?}", audit.rejected);
            assert!(with_attachments > 0);
        }
        Documents::Tiny => {
            assert_eq!((audit.rejected.len(), audit.document_emails), (1, 2), "{:?}", audit.fates);
            assert!(with_attachments > 0);
        }
        Documents::Sales => {}
    }
    (audit, inputs)
}

/// The fault-free outcome of a set of documents.
async fn reference<W: World>(world: &W, documents: Documents, config: &str) -> (Audit, Vec<Input>) {
    let (env, pipeline) = seeded(world, config, documents, |p| p).await;
    let stats = pipeline.drain(Duration::ZERO).await.expect("drain");
    assert!(stats.failures.is_empty(), "reference {documents:?}: {:?}", stats.failures);
    send_until_quiet(&env, &pipeline, 10).await;
    let inputs = inputs(documents);
    let audit = audit(&env, &inputs, &[]).await;
    audit.assert_clean(&format!("reference {documents:?}"));
    (audit, inputs)
}

async fn run_stage(pipeline: Pipeline, stage: Stage) -> Result<(), String> {
    match stage {
        Stage::Ingest => drain_queue(&pipeline, queues::INGEST).await.map(drop).map_err(|e| e.to_string()),
        Stage::Match => drain_queue(&pipeline, queues::MATCH).await.map(drop).map_err(|e| e.to_string()),
        Stage::Journal => drain_queue(&pipeline, queues::JOURNAL).await.map(drop).map_err(|e| e.to_string()),
        Stage::Send => pipeline.send_batch(SendOptions::default()).await.map(drop).map_err(|e| e.to_string()),
    }
}

/// Resources just before `stage`: the earlier stages run without faults.
async fn before<W: World>(world: &W, stage: Stage, documents: Documents) -> W::Env {
    let (env, pipeline) = seeded(world, CONFIG, documents, |p| p).await;
    let earlier: &[Stage] = match stage {
        Stage::Ingest => &[],
        Stage::Match => &[Stage::Ingest],
        Stage::Journal => &[Stage::Ingest, Stage::Match],
        Stage::Send => &[Stage::Ingest, Stage::Match, Stage::Journal],
    };
    for s in earlier {
        run_stage(pipeline.clone(), *s).await.expect("a stage without faults");
    }
    env.clock().advance(TimeDelta::minutes(1));
    env
}

/// How a fault run gets its resources just before the stage.
enum Start<W: World> {
    /// A copy of a snapshot.
    Copy(Arc<W::Snapshot>),
    /// The earlier stages run again in fresh resources (a world that cannot copy).
    Replay { documents: Documents },
}

impl<W: World> Start<W> {
    async fn open(&self, world: &W, stage: Stage) -> W::Env {
        match self {
            Start::Copy(snapshot) => world.open_copy(snapshot).await,
            Start::Replay { documents } => before(world, stage, *documents).await,
        }
    }
}

impl<W: World> Clone for Start<W> {
    fn clone(&self) -> Self {
        match self {
            Start::Copy(snapshot) => Start::Copy(snapshot.clone()),
            Start::Replay { documents } => Start::Replay { documents: *documents },
        }
    }
}

/// One scenario run with a fault at call `n` of `stage`; returns the audit.
async fn fault_at<W: World>(
    world: &W,
    start: &Start<W>,
    stage: Stage,
    mode: Mode,
    n: usize,
    inputs: &[Input],
) -> (Audit, String) {
    let mut env = start.open(world, stage).await;
    let plan = FaultPlan::at(n, mode);
    let pipeline = env.pipeline_on(faulty_ports(env.ports(), &plan));
    let outcome = tokio::spawn(run_stage(pipeline, stage)).await;
    let (call, what, _) =
        plan.fired().unwrap_or_else(|| panic!("{stage:?} call {n}: the fault was not reached"));
    match (mode, outcome) {
        (Mode::Crash, Err(join)) if join.is_panic() => {
            let payload = join.into_panic();
            assert!(payload.downcast_ref::<InjectedCrash>().is_some(), "{stage:?} call {n}: another panic");
            // The process died: start again over what reached the resources.
            env.restart().await;
        }
        (Mode::Crash, other) => panic!("{stage:?} call {n}: expected the injected crash, got {other:?}"),
        (_, Err(join)) => {
            panic!("{stage:?} call {n} ({what}): a {} made the stage panic: {join}", mode.name())
        }
        (_, Ok(_)) => {}
    }
    // Production recovers by itself: redelivery after the visibility timeout (zero here), and
    // the next send run (the next day: well after the lease of a run that died has expired).
    env.clock().advance(TimeDelta::minutes(16));
    let pipeline = env.pipeline();
    let stats = pipeline.drain(Duration::ZERO).await.expect("drain after the fault");
    send_until_quiet(&env, &pipeline, 10).await;
    let label = format!("{stage:?} {} at call {call} ({what})", mode.name());
    let audit = audit(&env, inputs, &[]).await;
    if !audit.violations.is_empty() || !stats.failures.is_empty() {
        eprintln!("{label}: failures after the fault: {:?}", stats.failures);
    }
    (audit, label)
}

async fn chaos<W: World>(
    world: &W,
    documents: Documents,
    duplicate: bool,
    order: Order,
) -> (Audit, Vec<String>) {
    let (env, pipeline) = seeded(world, CONFIG, documents, |p| Ports {
        queue: ChaosQueue::new(p.queue.clone(), duplicate, order),
        ..p
    })
    .await;
    let stats = pipeline.drain(Duration::ZERO).await.expect("drain");
    assert!(stats.failures.is_empty(), "{documents:?} {order:?}: {:?}", stats.failures);
    send_until_quiet(&env, &pipeline, 10).await;
    // And the send run delivered twice, too: nothing more goes.
    if duplicate {
        assert_eq!(send_until_quiet(&env, &pipeline, 1).await, 0, "a second run sent again");
    }
    let handled = stats.handled.iter().map(|h| format!("{}: {}", h.queue, h.summary)).collect();
    (audit(&env, &inputs(documents), &[]).await, handled)
}

async fn overlapping<W: World>(world: &W, two_processes: bool, cap: u32) -> Audit {
    let config = config_with_caps(cap, cap);
    let (env, pipeline) = seeded(world, &config, Documents::Sales, |p| p).await;
    pipeline.drain(Duration::ZERO).await.expect("drain");
    let second = if two_processes { Some(env.second_process().await) } else { None };
    let gate = Gate::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let gated =
        |ports: Ports| Ports { mailer: GatedMailer::new(ports.mailer.clone(), gate.clone()), ..ports };
    let scheduled = env.pipeline_on(gated(env.ports()));
    let manual = match second {
        Some(ports) => env.pipeline_on(gated(ports)),
        None => env.pipeline_on(gated(env.ports())),
    };
    let start = |p: Pipeline, gate: Arc<Gate>, barrier: Arc<tokio::sync::Barrier>| async move {
        barrier.wait().await;
        let result = p.send_batch(SendOptions::default()).await;
        gate.finished();
        result
    };
    let a = tokio::spawn(start(scheduled, gate.clone(), barrier.clone()));
    let b = tokio::spawn(start(manual, gate.clone(), barrier.clone()));
    let (a, b) = (a.await.expect("the scheduled run"), b.await.expect("the manual run"));
    let (winner, refused) = match (a, b) {
        (Ok(report), Err(e)) | (Err(e), Ok(report)) => (report, e),
        (a, b) => panic!("exactly one of two overlapping runs may send: {a:?} / {b:?}"),
    };
    assert!(matches!(refused, SendError::Overlap { .. }), "the other run: {refused}");
    assert!(refused.to_string().contains("another send-batch run"), "{refused}");
    let sent: u32 = winner.administrations.iter().flat_map(|a| &a.journals).map(|j| j.emails_sent).sum();
    assert_eq!(sent, cap, "the run that got the lease sends up to its cap");
    send_until_quiet(&env, &env.pipeline(), 10).await;
    let audit = audit(&env, &inputs(Documents::Sales), &[]).await;
    assert_eq!(audit.document_emails, 8, "every document once, over several runs");
    assert!(audit.runs.len() >= 8usize.div_ceil(cap as usize));
    audit
}

async fn poison<W: World>(world: &W) -> (Audit, Vec<Poison>) {
    let env = world.fresh(CONFIG, MAX_RECEIVES).await;
    env.pipeline().import_rules(RULES.as_bytes()).await.expect("import the text rules");
    let pipeline = env.pipeline();
    // GIVEN messages that can never succeed, first in their queues' receive batches
    let poison = vec![
        // a match message whose invoice row is missing
        Poison {
            queue: queues::MATCH,
            body: r#"{"invoice":"buyer-as_2025_gb1232434_missing-1_0123456789abcdef"}"#.into(),
        },
        Poison {
            queue: queues::JOURNAL,
            body: r#"{"invoice":"koksmaat_2025_nl820098395b01_gone_fedcba9876543210"}"#.into(),
        },
        Poison { queue: queues::INGEST, body: r#"{"key":"../../etc/passwd"}"#.into() },
        Poison { queue: queues::MATCH, body: "not JSON at all".into() },
    ];
    for p in &poison {
        pipeline.ports().queue.send(p.queue, &p.body).await.expect("send a poison message");
    }
    let inputs = inputs(Documents::Mixed);
    for input in &inputs {
        drop_file(&env, &pipeline, input).await;
    }
    let stats = pipeline.drain(Duration::ZERO).await.expect("drain");
    // THEN each failed MAX_RECEIVES times and was set aside; everything else went through
    assert_eq!(stats.failures.len(), poison.len() * MAX_RECEIVES as usize, "{:?}", stats.failures);
    for queue in queues::ALL {
        let dead =
            pipeline.ports().queue.dead_letters(queue, 10, Duration::ZERO).await.expect("dead letters");
        let mut bodies: Vec<&str> = dead.iter().map(|d| d.body.as_str()).collect();
        let mut expected: Vec<&str> =
            poison.iter().filter(|p| p.queue == queue).map(|p| p.body.as_str()).collect();
        bodies.sort_unstable();
        expected.sort_unstable();
        assert_eq!(bodies, expected, "dead letters on {queue}: {dead:?}");
        assert!(dead.iter().all(|d| d.receive_count == MAX_RECEIVES), "{dead:?}");
    }
    send_until_quiet(&env, &pipeline, 10).await;
    let audit = audit(&env, &inputs, &poison).await;
    // AND the next report lists each, with the number of tries
    let first = &audit.runs[0];
    for p in &poison {
        assert!(
            first
                .errors
                .iter()
                .any(|e| e.contains(&p.body) && e.contains(&format!("failed {MAX_RECEIVES} times"))),
            "the first report does not list {p:?}: {:?}",
            first.errors
        );
    }
    // and lists them once: a later report does not repeat them
    assert!(audit.runs[1..].iter().all(|r| r.errors.iter().all(|e| !e.contains("set aside"))));
    (audit, poison)
}

/// Runs every scenario of `table` in `world`, checks each, and prints the summary line
/// `<label>: scenarios N, …` straight to the process's stdout (so it shows without
/// `--nocapture`). Returns the totals.
pub async fn run_table<W: World + Clone>(world: &W, table: &[Scenario], label: &str) -> Totals {
    quiet_injected_crashes();
    let mut totals = Totals::default();
    // The fault-free outcomes the rows compare with, per document set, made when first needed.
    let mut references: BTreeMap<Documents, (Audit, Vec<Input>)> = BTreeMap::new();
    for scenario in table {
        let compared = match scenario.kind {
            Kind::OverlappingRuns { .. } => None,
            Kind::AtEveryCall { .. } => Some(scenario.documents),
            _ => Some(Documents::Mixed),
        };
        if let Some(documents) = compared
            && !references.contains_key(&documents)
        {
            references.insert(documents, checked_reference(world, documents).await);
        }
    }
    let mut starts: BTreeMap<Stage, Start<W>> = BTreeMap::new();

    for scenario in table {
        let name = scenario.name;
        let documents = scenario.documents;
        match scenario.kind {
            Kind::Plain => {
                let (audit, inputs) = reference(world, documents, &config_for(&scenario.kind)).await;
                compare(name, &references[&Documents::Mixed].0, &audit, &inputs, false);
                totals.add(inputs.len(), &audit);
            }
            Kind::Chaos { duplicate, order } => {
                let (audit, handled) = chaos(world, documents, duplicate, order).await;
                audit.assert_clean(name);
                let (mixed, mixed_inputs) = &references[&Documents::Mixed];
                compare(name, mixed, &audit, mixed_inputs, false);
                if order == Order::NewestFirst {
                    // The reorder the row is about did happen.
                    let journaled = handled.iter().position(|h| h.starts_with("journal:"));
                    let late_ingest =
                        handled.iter().rposition(|h| h.starts_with("ingest:") && h.contains("done before"));
                    assert!(
                        matches!((journaled, late_ingest), (Some(j), Some(i)) if j < i),
                        "{name}: no journal message before a second ingest delivery: {handled:#?}"
                    );
                }
                totals.add(mixed_inputs.len(), &audit);
            }
            Kind::AtEveryCall { stage, mode } => {
                // Resources just before the stage: kept as the snapshot every fault run copies,
                // where the world can copy; otherwise every fault run prepares its own.
                let (start, counting) = match starts.get(&stage) {
                    Some(start) => (start.clone(), start.open(world, stage).await),
                    None => match world.snapshot(before(world, stage, documents).await).await {
                        Ok(snapshot) => {
                            let start = Start::Copy(Arc::new(snapshot));
                            let counting = start.open(world, stage).await;
                            (start, counting)
                        }
                        Err(env) => (Start::Replay { documents }, env),
                    },
                };
                starts.insert(stage, start.clone());
                // Count the calls of the stage without faults.
                let plan = FaultPlan::counting();
                run_stage(counting.pipeline_on(faulty_ports(counting.ports(), &plan)), stage)
                    .await
                    .expect("the stage without faults");
                drop(counting);
                let calls = plan.calls();
                assert!(calls > 3, "{name}: only {calls} calls: {:?}", plan.log());
                eprintln!("{name}: {calls} fault runs");
                // Each fault point has resources of its own: run a few at once, check in order.
                let slots = Arc::new(tokio::sync::Semaphore::new(world.parallel_runs()));
                let mut runs = Vec::new();
                for n in 1..=calls {
                    let (world, start, slots, inputs) =
                        (world.clone(), start.clone(), slots.clone(), references[&documents].1.clone());
                    runs.push(tokio::spawn(async move {
                        let _slot = slots.acquire_owned().await.expect("the semaphore is never closed");
                        fault_at(&world, &start, stage, mode, n, &inputs).await
                    }));
                }
                for run in runs {
                    let (audit, label) = run.await.expect("a fault run");
                    let label = format!("{name}: {label}");
                    audit.assert_clean(&label);
                    let (reference, inputs) = &references[&documents];
                    compare(&label, reference, &audit, inputs, stage == Stage::Send);
                    totals.add(inputs.len(), &audit);
                }
            }
            Kind::OverlappingRuns { two_processes, cap } => {
                let audit = overlapping(world, two_processes, cap).await;
                audit.assert_clean(name);
                totals.add(8, &audit);
            }
            Kind::Poison => {
                let (audit, poison) = poison(world).await;
                audit.assert_clean(name);
                let (mixed, mixed_inputs) = &references[&Documents::Mixed];
                compare(name, mixed, &audit, mixed_inputs, false);
                totals.add(mixed_inputs.len() + poison.len(), &audit);
            }
        }
    }
    assert_eq!((totals.duplicates, totals.lost), (0, 0));
    let line = format!("{}\n", totals.line(label));
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush()).expect("write the summary");
    totals
}
