//! # ledgerpost-pipeline
//!
//! The four stages of ledgerpost and the manual actions, written over the ports only: no AWS, no
//! SQLite. The same code runs in the Lambda functions (with the AWS adapters) and in one process
//! (`ledgerpost run`, with `ledgerpost-local`). A tour:
//!
//! - [`Pipeline`] holds the ports ([`Ports`]: bucket, queue, store, mailer, clock, lease, and a
//!   sleeper for backoff) and the checked configuration, and is what every stage is a method of.
//! - [`repository`]: how the state is kept as items of the single table, the key design, and
//!   every read and conditional write (master data lookups by index, never a scan).
//! - [`ingest`]: an object in `inbox/` becomes a stored invoice (or master data from a UBL Order or
//!   ReceiptAdvice), or a file under `rejected/` with a reason a person understands.
//! - [`matching`]: the purchase lines against receipts, obligations and text rules.
//! - [`journal`]: the balanced entry, the consumed master data and the status, in one transaction.
//! - [`send`]: the daily batches: selection by index, caps, claim-then-send-then-mark, in-doubt
//!   batches, the run report.
//! - [`actions`]: what a person does (manual matching and coding, re-process, plain entry,
//!   approve, reject, resolve a batch in doubt, import master data).
//! - [`worker`]: one message to its stage, and [`Pipeline::drain`] for one machine and the tests.
//!
//! Every stage is idempotent: messages arrive at least once, late or out of order; each state
//! change is a conditional write on the version read, and a redelivered message finds the work
//! done (or half done, and finishes it).

pub mod actions;
pub mod error;
pub mod ingest;
pub mod journal;
pub mod matching;
pub mod messages;
pub mod process;
pub mod repository;
pub mod send;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ledgerpost_domain::config::Config;
use ledgerpost_ports::{Bucket, Clock, Lease, Mailer, Queue, Store};

pub use error::StageError;
pub use repository::Repository;

/// The queue names, mapped by each adapter to its resource.
pub mod queues {
    pub const INGEST: &str = "ingest";
    pub const MATCH: &str = "match";
    pub const JOURNAL: &str = "journal";
    pub const ALL: [&str; 3] = [INGEST, MATCH, JOURNAL];
}

/// Waits, for retry backoff and the sending rate. Tests use [`NoSleep`], so they never wait.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: Duration);
}

/// Waits with tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Does not wait; remembers how long it was asked to.
#[derive(Debug, Default)]
pub struct NoSleep {
    asked: std::sync::Mutex<Vec<Duration>>,
}

impl NoSleep {
    /// Every duration asked for so far.
    pub fn asked(&self) -> Vec<Duration> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Sleeper for NoSleep {
    async fn sleep(&self, duration: Duration) {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(duration);
        }
    }
}

/// The ports a pipeline runs on, chosen at run time (cloud or one machine).
#[derive(Clone)]
pub struct Ports {
    pub bucket: Arc<dyn Bucket>,
    pub queue: Arc<dyn Queue>,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub lease: Arc<dyn Lease>,
    pub sleeper: Arc<dyn Sleeper>,
}

/// The stages, over one set of ports and one configuration.
#[derive(Clone)]
pub struct Pipeline {
    ports: Ports,
    config: Arc<Config>,
    repo: Repository,
}

impl Pipeline {
    pub fn new(ports: Ports, config: Arc<Config>) -> Self {
        let repo = Repository::new(ports.store.clone());
        Pipeline { ports, config, repo }
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ports.clock.now()
    }

    fn administration(
        &self,
        id: &ledgerpost_domain::ids::AdministrationId,
    ) -> Option<&ledgerpost_domain::config::Administration> {
        self.config.administrations.iter().find(|a| &a.id == id)
    }
}

/// A fresh identifier: a time stamp for reading and sorting, then 8 random hex digits.
pub(crate) fn fresh_id(prefix: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    hasher.write_u32(std::process::id());
    format!("{prefix}{}-{:08x}", now.format("%Y%m%dT%H%M%S"), hasher.finish() as u32)
}
