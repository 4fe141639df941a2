//! Ports that misbehave on purpose.
//!
//! [`FaultPlan`] numbers every call a pipeline makes to its bucket, queue, store (the lease too:
//! [`faulty_ports`] builds it on the faulty store) and mailer, across the whole run, and injects
//! one fault at call N. Iterating N over every call of a stage puts a fault at every step
//! boundary of that stage: after the read, after each write, between the claim and the send of a
//! batch, between the send and the mark. Three kinds of fault ([`Mode`]):
//!
//! - [`Mode::Crash`]: the call panics before it reaches the adapter: the process dies there.
//!   The test restarts (new adapters and pipeline over the same data folder) and redelivers.
//! - [`Mode::Fail`]: the call fails before it reaches the adapter, with the port's "unavailable"
//!   error: nothing was done, and the stage sees an error it should survive.
//! - [`Mode::LostReply`]: the call reaches the adapter and takes effect, then fails as if the
//!   reply was lost on the way back (a DynamoDB or S3 timeout after the write). For the mailer
//!   this is the "in doubt" answer: the message went out, the sender cannot know.
//!
//! [`ChaosQueue`] delivers every message twice and/or out of order; [`GatedMailer`] keeps a run
//! inside its first e-mail until another run has had its go, so that two runs truly overlap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use ledgerpost_pipeline::Ports;
use ledgerpost_ports::{
    Bucket, BucketError, Cursor, Index, Item, ItemKey, KeyQuery, MailError, MailMessageId, Mailer, MessageId,
    ObjectKey, ObjectMeta, ObjectPage, QueryPage, Queue, QueueError, ReceiptHandle, ReceivedMessage, Store,
    StoreError, StoreLease, StoredItem, TransactOp,
};

/// What happens at the faulty call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Panic before the call: the process dies.
    Crash,
    /// Fail before the call: nothing done.
    Fail,
    /// Do the call, then fail: the effect is there, the caller does not know.
    LostReply,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Crash, Mode::Fail, Mode::LostReply];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Crash => "crash",
            Mode::Fail => "fail",
            Mode::LostReply => "lost reply",
        }
    }
}

/// The panic payload of an injected crash (so the panic hook can keep quiet about it).
#[derive(Debug, Clone)]
pub struct InjectedCrash {
    pub call: usize,
    pub what: &'static str,
}

/// Silences the default panic message for injected crashes (they are expected, and there are
/// hundreds); every other panic is reported as usual.
pub fn quiet_injected_crashes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<InjectedCrash>().is_none() {
                default(info);
            }
        }));
    });
}

/// Where and how one fault is injected, and the log of the calls made.
#[derive(Debug, Default)]
pub struct FaultPlan {
    calls: AtomicUsize,
    trigger: Mutex<Option<(usize, Mode)>>,
    log: Mutex<Vec<&'static str>>,
    fired: Mutex<Option<(usize, &'static str, Mode)>>,
}

impl FaultPlan {
    /// Counts and logs calls, injects nothing.
    pub fn counting() -> Arc<Self> {
        Arc::new(FaultPlan::default())
    }

    /// Injects `mode` at call `n` (the first call is 1).
    pub fn at(n: usize, mode: Mode) -> Arc<Self> {
        let plan = FaultPlan::default();
        *plan.trigger.lock().unwrap_or_else(PoisonError::into_inner) = Some((n, mode));
        Arc::new(plan)
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The calls made so far, in order, e.g. `["queue.receive", "bucket.get", …]`.
    pub fn log(&self) -> Vec<&'static str> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The fault injected, if the run got that far: (call number, call, mode).
    pub fn fired(&self) -> Option<(usize, &'static str, Mode)> {
        *self.fired.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one call; the mode when it is the faulty one.
    fn tick(&self, what: &'static str) -> Option<Mode> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.log.lock().unwrap_or_else(PoisonError::into_inner).push(what);
        let trigger = *self.trigger.lock().unwrap_or_else(PoisonError::into_inner);
        match trigger {
            Some((at, mode)) if at == n => {
                *self.fired.lock().unwrap_or_else(PoisonError::into_inner) = Some((n, what, mode));
                if mode == Mode::Crash {
                    std::panic::panic_any(InjectedCrash { call: n, what });
                }
                Some(mode)
            }
            _ => None,
        }
    }
}

const CONTEXT: &str = "injected fault";

fn source(what: &'static str) -> String {
    format!("ledgerpost-reliability injected a fault at {what}")
}

/// Runs `call` around the plan's verdict for `what`.
macro_rules! faulty {
    ($plan:expr, $what:literal, $err:expr, $call:expr) => {{
        match $plan.tick($what) {
            None => $call,
            Some(Mode::Fail) => Err($err(source($what))),
            Some(Mode::LostReply) => {
                let _ = $call;
                Err($err(source($what)))
            }
            // (tick panicked)
            Some(Mode::Crash) => unreachable!(),
        }
    }};
}

/// The ports of `ports` wrapped by one plan; the lease is rebuilt on the faulty store.
pub fn faulty_ports(ports: Ports, plan: &Arc<FaultPlan>) -> Ports {
    let store: Arc<dyn Store> = Arc::new(FaultyStore { inner: ports.store.clone(), plan: plan.clone() });
    Ports {
        bucket: Arc::new(FaultyBucket { inner: ports.bucket.clone(), plan: plan.clone() }),
        queue: Arc::new(FaultyQueue { inner: ports.queue.clone(), plan: plan.clone() }),
        lease: Arc::new(StoreLease::new(store.clone(), ports.clock.clone())),
        store,
        mailer: Arc::new(FaultyMailer { inner: ports.mailer.clone(), plan: plan.clone() }),
        clock: ports.clock,
        sleeper: ports.sleeper,
    }
}

pub struct FaultyBucket {
    inner: Arc<dyn Bucket>,
    plan: Arc<FaultPlan>,
}

fn bucket_err(s: String) -> BucketError {
    BucketError::unavailable(CONTEXT, s)
}

#[async_trait]
impl Bucket for FaultyBucket {
    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError> {
        faulty!(self.plan, "bucket.put", bucket_err, self.inner.put(key, bytes, content_type).await)
    }
    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> Result<Vec<u8>, BucketError> {
        faulty!(self.plan, "bucket.get", bucket_err, self.inner.get(key, max_bytes).await)
    }
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BucketError> {
        faulty!(self.plan, "bucket.head", bucket_err, self.inner.head(key).await)
    }
    async fn list(
        &self,
        prefix: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<ObjectPage, BucketError> {
        faulty!(self.plan, "bucket.list", bucket_err, self.inner.list(prefix, after, limit).await)
    }
    async fn move_object(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BucketError> {
        faulty!(self.plan, "bucket.move", bucket_err, self.inner.move_object(from, to).await)
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), BucketError> {
        faulty!(self.plan, "bucket.delete", bucket_err, self.inner.delete(key).await)
    }
}

pub struct FaultyQueue {
    inner: Arc<dyn Queue>,
    plan: Arc<FaultPlan>,
}

fn queue_err(s: String) -> QueueError {
    QueueError::unavailable(CONTEXT, s)
}

#[async_trait]
impl Queue for FaultyQueue {
    async fn send(&self, queue: &str, body: &str) -> Result<MessageId, QueueError> {
        faulty!(self.plan, "queue.send", queue_err, self.inner.send(queue, body).await)
    }
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        faulty!(self.plan, "queue.receive", queue_err, self.inner.receive(queue, max, visibility).await)
    }
    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        faulty!(self.plan, "queue.delete", queue_err, self.inner.delete(queue, receipt).await)
    }
    async fn dead_letters(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        faulty!(
            self.plan,
            "queue.dead_letters",
            queue_err,
            self.inner.dead_letters(queue, max, visibility).await
        )
    }
    async fn delete_dead_letter(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        faulty!(
            self.plan,
            "queue.delete_dead_letter",
            queue_err,
            self.inner.delete_dead_letter(queue, receipt).await
        )
    }
}

pub struct FaultyStore {
    inner: Arc<dyn Store>,
    plan: Arc<FaultPlan>,
}

fn store_err(s: String) -> StoreError {
    StoreError::unavailable(CONTEXT, s)
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<StoredItem>, StoreError> {
        faulty!(self.plan, "store.get", store_err, self.inner.get(key).await)
    }
    async fn put_if_absent(&self, item: Item) -> Result<u64, StoreError> {
        faulty!(self.plan, "store.put_if_absent", store_err, self.inner.put_if_absent(item).await)
    }
    async fn put_if_version(&self, item: Item, version: u64) -> Result<u64, StoreError> {
        faulty!(self.plan, "store.put_if_version", store_err, self.inner.put_if_version(item, version).await)
    }
    async fn delete_if_version(&self, key: &ItemKey, version: u64) -> Result<(), StoreError> {
        faulty!(
            self.plan,
            "store.delete_if_version",
            store_err,
            self.inner.delete_if_version(key, version).await
        )
    }
    async fn query(&self, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        faulty!(self.plan, "store.query", store_err, self.inner.query(query).await)
    }
    async fn query_index(&self, index: Index, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        faulty!(self.plan, "store.query_index", store_err, self.inner.query_index(index, query).await)
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        faulty!(self.plan, "store.transact", store_err, self.inner.transact(ops).await)
    }
}

pub struct FaultyMailer {
    inner: Arc<dyn Mailer>,
    plan: Arc<FaultPlan>,
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send_raw(&self, email: &ledgerpost_ports::OutgoingEmail) -> Result<MailMessageId, MailError> {
        match self.plan.tick("mailer.send") {
            None => self.inner.send_raw(email).await,
            // Nothing was handed over: a plain "unavailable", which the sender may retry.
            Some(Mode::Fail) => {
                Err(MailError::Unavailable { context: CONTEXT.into(), source: source("mailer.send").into() })
            }
            // Handed over, answer lost: the outcome is unknown to the sender.
            Some(Mode::LostReply) => {
                let _ = self.inner.send_raw(email).await;
                Err(MailError::InDoubt { context: CONTEXT.into(), source: source("mailer.send").into() })
            }
            Some(Mode::Crash) => unreachable!(),
        }
    }
}

/// The order a [`ChaosQueue`] delivers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As the queue does (oldest first, in batches).
    AsSent,
    /// Newest first, one message per receive: a message sent while handling another is handled
    /// before the older ones still waiting (e.g. a journal message before the second delivery of
    /// the ingest message that caused it).
    NewestFirst,
    /// A pseudo-random waiting message per receive, from this seed.
    Shuffled(u64),
}

/// A queue that delivers every message twice (`duplicate`) and/or in another [`Order`]. Messages
/// not yet released wait in memory: a scenario with this queue does not restart.
pub struct ChaosQueue {
    inner: Arc<dyn Queue>,
    duplicate: bool,
    order: Order,
    waiting: Mutex<HashMap<String, Vec<String>>>,
    rng: Mutex<u64>,
    held: AtomicUsize,
}

impl ChaosQueue {
    pub fn new(inner: Arc<dyn Queue>, duplicate: bool, order: Order) -> Arc<Self> {
        let seed = match order {
            Order::Shuffled(seed) => seed,
            _ => 1,
        };
        Arc::new(ChaosQueue {
            inner,
            duplicate,
            order,
            waiting: Mutex::new(HashMap::new()),
            rng: Mutex::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            held: AtomicUsize::new(0),
        })
    }

    /// xorshift64*: enough to shuffle, no dependency.
    fn next(&self) -> u64 {
        let mut state = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let mut x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[async_trait]
impl Queue for ChaosQueue {
    async fn send(&self, queue: &str, body: &str) -> Result<MessageId, QueueError> {
        let copies = if self.duplicate { 2 } else { 1 };
        if self.order == Order::AsSent {
            let mut id = None;
            for _ in 0..copies {
                id = Some(self.inner.send(queue, body).await?);
            }
            return Ok(id.unwrap_or_else(|| MessageId::new("none")));
        }
        ledgerpost_ports::queue::check_body(body)?;
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let list = waiting.entry(queue.to_owned()).or_default();
        for _ in 0..copies {
            list.push(body.to_owned());
        }
        let n = self.held.fetch_add(1, Ordering::SeqCst);
        Ok(MessageId::new(format!("held-{n}")))
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if self.order == Order::AsSent {
            return self.inner.receive(queue, max, visibility).await;
        }
        let next = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            match waiting.get_mut(queue) {
                Some(list) if !list.is_empty() => {
                    let i = match self.order {
                        Order::NewestFirst => list.len() - 1,
                        Order::Shuffled(_) => (self.next() % list.len() as u64) as usize,
                        Order::AsSent => 0,
                    };
                    Some(list.remove(i))
                }
                _ => None,
            }
        };
        if let Some(body) = next {
            self.inner.send(queue, &body).await?;
        }
        // One at a time, so the order chosen here is the order handled.
        self.inner.receive(queue, max.min(1), visibility).await
    }

    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.inner.delete(queue, receipt).await
    }

    async fn dead_letters(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.dead_letters(queue, max, visibility).await
    }

    async fn delete_dead_letter(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.inner.delete_dead_letter(queue, receipt).await
    }
}

/// Shared by the mailers of two runs: how many runs have returned (with a report or refused).
#[derive(Debug, Default)]
pub struct Gate {
    finished: AtomicUsize,
}

impl Gate {
    pub fn new() -> Arc<Self> {
        Arc::new(Gate::default())
    }

    /// One run returned.
    pub fn finished(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// A mailer that, on its first message, waits (up to a few seconds) until another run has
/// returned: the run that got the lease holds it while the other one starts, so the two really
/// overlap. If both runs could hold the lease at once, both wait and the test sees it.
pub struct GatedMailer {
    inner: Arc<dyn Mailer>,
    gate: Arc<Gate>,
    first: AtomicUsize,
}

impl GatedMailer {
    pub fn new(inner: Arc<dyn Mailer>, gate: Arc<Gate>) -> Arc<Self> {
        Arc::new(GatedMailer { inner, gate, first: AtomicUsize::new(0) })
    }
}

#[async_trait]
impl Mailer for GatedMailer {
    async fn send_raw(&self, email: &ledgerpost_ports::OutgoingEmail) -> Result<MailMessageId, MailError> {
        if self.first.fetch_add(1, Ordering::SeqCst) == 0 {
            for _ in 0..300 {
                if self.gate.finished.load(Ordering::SeqCst) > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.inner.send_raw(email).await
    }
}
