//! The fault scenarios of `faults.rs` against moto_server: the AWS adapters (S3 bucket, SQS
//! queues with a real redrive policy to a dead-letter queue, DynamoDB single table and lease,
//! SESv2 raw mailer) with the real AWS SDK, on the same scenario machinery
//! (`ledgerpost_reliability::scenarios`) and the same audit.
//!
//! How the moto world differs from a data folder:
//! - **Resources per run.** Each scenario run creates its bucket, table, six queues (three stage
//!   queues, each with a dead-letter queue after `MAX_RECEIVES` receives) and the SES identity
//!   of the configuration's sender, under fresh names. A few moto_servers of their own are
//!   shared out one per run and emptied (`/moto-api/reset`) before it: moto keeps every item
//!   ever written for its `data.json`, which is where the sent e-mails are read back, so a server
//!   that only grew would make each read slower than the last.
//! - **No copies.** Moto's state cannot be copied, so a fault run prepares its resources again:
//!   the stages before the faulty one run without faults in fresh resources.
//! - **A restart** is new SDK clients and adapters over the same resources (a Lambda cold start).
//! - **Time.** The pipeline's clock is the fixed clock of the local table (it drives the send
//!   lease, a DynamoDB item); SQS visibility timeouts run on real time, so the drains receive
//!   with a zero visibility timeout, as the local table does: a failed delivery is visible again
//!   at once and moves to the dead-letter queue on the receive after its last allowed one.
//!
//! The table is the local one with fewer rows where each run costs real requests: every stage
//! (ingest, match-lines, journal, send-batch: claim, send, mark) gets a crash, a failure and a
//! lost reply at every call, on the smallest document set (`Documents::Tiny`: a sales invoice
//! with an embedded PDF, a purchase coded by a text rule, a duplicate by content); the other
//! shuffles run in the local table only.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ledgerpost_aws_tests::{Moto, TestEnv};
use ledgerpost_domain::config::Config;
use ledgerpost_pipeline::{NoSleep, Ports};
use ledgerpost_ports::{FixedClock, StoreLease};
use ledgerpost_reliability::harness::start_time;
use ledgerpost_reliability::scenarios::{Documents, Kind, Scenario, Stage, run_table};
use ledgerpost_reliability::{Backend, Mode, Order, SentEmail, World};
use mail_parser::MessageParser;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// moto_servers of this test's own; as many scenario runs at the same time.
const MOTO_SERVERS: usize = 3;

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
        name: "(a+b) twice and shuffled, seed 42",
        documents: Documents::Mixed,
        kind: Kind::Chaos { duplicate: true, order: Order::Shuffled(42) },
    },
    Scenario {
        name: "(c) crash at every call of ingest",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Ingest, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of ingest",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Ingest, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of ingest",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Ingest, mode: Mode::LostReply },
    },
    Scenario {
        name: "(c) crash at every call of match-lines",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Match, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of match-lines",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Match, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of match-lines",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Match, mode: Mode::LostReply },
    },
    Scenario {
        name: "(c) crash at every call of journal",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Journal, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of journal",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Journal, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of journal",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Journal, mode: Mode::LostReply },
    },
    Scenario {
        name: "(c) crash at every call of send-batch",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Send, mode: Mode::Crash },
    },
    Scenario {
        name: "(c) failure at every call of send-batch",
        documents: Documents::Tiny,
        kind: Kind::AtEveryCall { stage: Stage::Send, mode: Mode::Fail },
    },
    Scenario {
        name: "(c) lost reply at every call of send-batch",
        documents: Documents::Tiny,
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
        name: "(e) poison messages to the SQS dead-letter queues, in a batch of good ones",
        documents: Documents::Mixed,
        kind: Kind::Poison,
    },
];

/// The servers not in use by a run.
struct Pool {
    idle: Mutex<Vec<Arc<Moto>>>,
    free: Arc<Semaphore>,
}

/// One server lent to one run; back in the pool when dropped.
struct Lent {
    pool: Arc<Pool>,
    moto: Option<Arc<Moto>>,
    // (released after `drop` has put the server back)
    _permit: OwnedSemaphorePermit,
}

impl Lent {
    fn moto(&self) -> &Arc<Moto> {
        self.moto.as_ref().expect("lent until dropped")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(moto) = self.moto.take() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(moto);
        }
    }
}

#[derive(Clone)]
struct MotoWorld {
    pool: Arc<Pool>,
}

impl MotoWorld {
    async fn start(servers: usize) -> MotoWorld {
        let starting: Vec<_> = (0..servers).map(|_| tokio::task::spawn_blocking(Moto::start)).collect();
        let mut idle = Vec::new();
        for server in starting {
            idle.push(Arc::new(server.await.expect("start a moto_server")));
        }
        MotoWorld { pool: Arc::new(Pool { idle: Mutex::new(idle), free: Arc::new(Semaphore::new(servers)) }) }
    }

    async fn lend(&self) -> Lent {
        let permit = self.pool.free.clone().acquire_owned().await.expect("the pool is never closed");
        let moto = self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let moto = moto.expect("a permit means an idle server");
        let lent = Lent { pool: self.pool.clone(), moto: Some(moto), _permit: permit };
        let server = lent.moto().clone();
        tokio::task::spawn_blocking(move || server.reset()).await.expect("reset moto");
        lent
    }
}

/// One run's resources on a lent server, and the adapters of the process running now.
struct MotoEnv {
    lent: Lent,
    env: TestEnv,
    clock: Arc<FixedClock>,
    sleeper: Arc<NoSleep>,
    config: Arc<Config>,
    ports: Ports,
}

impl MotoEnv {
    /// Adapters over the resources, as a process (a Lambda cold start) builds them.
    async fn open(&self) -> Ports {
        let clients = ledgerpost_aws_tests::clients(self.env.settings().clone()).await;
        Self::ports_of(&clients, &self.clock, &self.sleeper)
    }

    fn ports_of(
        clients: &ledgerpost_aws::AwsClients,
        clock: &Arc<FixedClock>,
        sleeper: &Arc<NoSleep>,
    ) -> Ports {
        let store: Arc<dyn ledgerpost_ports::Store> = Arc::new(clients.store());
        Ports {
            bucket: Arc::new(clients.bucket()),
            queue: Arc::new(clients.queue()),
            lease: Arc::new(StoreLease::new(store.clone(), clock.clone())),
            store,
            mailer: Arc::new(clients.mailer()),
            clock: clock.clone(),
            sleeper: sleeper.clone(),
        }
    }
}

#[async_trait]
impl Backend for MotoEnv {
    fn clock(&self) -> &Arc<FixedClock> {
        &self.clock
    }

    fn config(&self) -> &Arc<Config> {
        &self.config
    }

    fn ports(&self) -> Ports {
        self.ports.clone()
    }

    async fn restart(&mut self) {
        self.ports = self.open().await;
    }

    async fn second_process(&self) -> Ports {
        self.open().await
    }

    /// What SES was given, from moto's `data.json` (this server holds this run only). Moto
    /// records as destinations the envelope recipients followed by the addresses of the
    /// message's To/Cc/Bcc headers; the envelope is what comes before those.
    async fn sent_emails(&self) -> Vec<SentEmail> {
        let server = self.lent.moto().clone();
        let sent =
            tokio::task::spawn_blocking(move || server.sent_raw_emails()).await.expect("read moto's data");
        let parser = MessageParser::default();
        sent.iter()
            .map(|message| {
                let text = |field: &str| message.get(field).and_then(|v| v.as_str()).unwrap_or_default();
                let raw = text("raw_data").as_bytes().to_vec();
                let destinations: Vec<String> = message
                    .get("destinations")
                    .and_then(|d| d.as_array())
                    .map(|d| d.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                let in_headers = parser.parse_headers(&raw).map_or(0, |headers| {
                    [headers.to(), headers.cc(), headers.bcc()]
                        .into_iter()
                        .flatten()
                        .map(|address| address.iter().filter(|a| a.address().is_some()).count())
                        .sum()
                });
                let envelope = destinations.len().saturating_sub(in_headers);
                SentEmail {
                    label: format!("SES message {}", text("id")),
                    envelope_to: destinations[..envelope].to_vec(),
                    raw,
                }
            })
            .collect()
    }

    /// A receive with a zero visibility timeout: what a consumer would get now.
    async fn waiting(&self, queue: &str) -> Vec<String> {
        self.ports
            .queue
            .receive(queue, 10, Duration::ZERO)
            .await
            .expect("receive")
            .into_iter()
            .map(|m| m.body)
            .collect()
    }
}

#[async_trait]
impl World for MotoWorld {
    type Env = MotoEnv;
    /// Never made: moto's state is not copied.
    type Snapshot = std::convert::Infallible;

    async fn fresh(&self, config: &str, max_receives: u32) -> MotoEnv {
        let parsed = Arc::new(Config::from_toml_str(config).expect("the test configuration"));
        let lent = self.lend().await;
        let env = TestEnv::on(lent.moto().clone(), "rel").await;
        tokio::join!(
            env.create_bucket(),
            env.create_table(),
            env.create_queues(max_receives),
            // The pipeline sends from the configuration's address; SES refuses any other.
            env.verify_identity(parsed.export.from.as_str()),
        );
        let clock = Arc::new(FixedClock::new(start_time()));
        let sleeper = Arc::new(NoSleep::default());
        let ports = MotoEnv::ports_of(&env.clients, &clock, &sleeper);
        MotoEnv { lent, env, clock, sleeper, config: parsed, ports }
    }

    async fn snapshot(&self, env: MotoEnv) -> Result<Self::Snapshot, MotoEnv> {
        Err(env)
    }

    async fn open_copy(&self, snapshot: &Self::Snapshot) -> MotoEnv {
        match *snapshot {}
    }

    fn parallel_runs(&self) -> usize {
        MOTO_SERVERS
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliability_scenarios_on_moto() {
    let started = Instant::now();
    let world = MotoWorld::start(MOTO_SERVERS).await;
    let totals = run_table(&world, SCENARIOS, "reliability on moto").await;
    eprintln!("the moto table took {:?} for {} scenario runs", started.elapsed(), totals.runs);
}
