//! Fault injection on the local adapters, as one table of scenarios.
//!
//! The scenarios themselves are in `ledgerpost_reliability::scenarios` (shared with the same
//! table against moto_server, `faults_on_moto.rs`); here they run on a data folder with SQLite
//! and the `.eml` outbox, where every state can be copied: the fault rows start from a copy of
//! the folder taken just before their stage. The crash rows iterate N over every port call of
//! their stage (counted in a fault-free run of that stage), so that every step boundary gets a
//! crash, a failure and a lost reply.

use ledgerpost_reliability::scenarios::{Documents, Kind, Scenario, Stage, run_table};
use ledgerpost_reliability::{LocalWorld, Mode, Order};

/// Fault runs at the same time.
const PARALLEL_RUNS: usize = 4;

const SCENARIOS: &[Scenario] = &[
    Scenario { name: "no fault (the reference)", documents: Documents::Mixed, kind: Kind::Plain },
    Scenario {
        name: "(a) every message delivered twice",
        documents: Documents::Mixed,
        kind: Kind::Chaos { duplicate: true, order: Order::AsSent },
    },
    Scenario {
        name: "(b) newest first: a journal message before the second ingest delivery",
        documents: Documents::Mixed,
        kind: Kind::Chaos { duplicate: true, order: Order::NewestFirst },
    },
    Scenario {
        name: "(b) shuffled deliveries, seed 7",
        documents: Documents::Mixed,
        kind: Kind::Chaos { duplicate: false, order: Order::Shuffled(7) },
    },
    Scenario {
        name: "(a+b) twice and shuffled, seed 42",
        documents: Documents::Mixed,
        kind: Kind::Chaos { duplicate: true, order: Order::Shuffled(42) },
    },
    Scenario {
        name: "(a+b) twice and shuffled, seed 2025",
        documents: Documents::Mixed,
        kind: Kind::Chaos { duplicate: true, order: Order::Shuffled(2025) },
    },
    Scenario {
        name: "(c) crash at every call of ingest",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Ingest, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of ingest",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Ingest, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of ingest",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Ingest, mode: Mode::LostReply },
    },
    Scenario {
        name: "(c) crash at every call of match-lines",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Match, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of match-lines",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Match, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of match-lines",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Match, mode: Mode::LostReply },
    },
    Scenario {
        name: "(c) crash at every call of journal",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Journal, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of journal",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Journal, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of journal",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Journal, mode: Mode::LostReply },
    },
    Scenario {
        name: "(c) crash at every call of send-batch",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Send, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of send-batch",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Send, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of send-batch",
        documents: Documents::Small,
        kind: Kind::AtEveryCall { stage: Stage::Send, mode: Mode::LostReply },
    },
    Scenario {
        name: "(d) scheduled and manual run at once, two processes",
        documents: Documents::Sales,
        kind: Kind::OverlappingRuns { two_processes: true, cap: 3 },
    },
    Scenario {
        name: "(d) scheduled and manual run at once, one process",
        documents: Documents::Sales,
        kind: Kind::OverlappingRuns { two_processes: false, cap: 3 },
    },
    Scenario {
        name: "(e) poison messages in a batch of good ones",
        documents: Documents::Mixed,
        kind: Kind::Poison,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliability_scenarios() {
    run_table(&LocalWorld { parallel: PARALLEL_RUNS }, SCENARIOS, "reliability").await;
}
