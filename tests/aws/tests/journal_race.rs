//! The conditional writes of the journal stage on DynamoDB (moto_server), under a real race:
//! two deliveries of one journal message handled at the same time by two journal invocations
//! (tokio tasks on a multi-thread runtime, as two Lambda instances would) journal the invoice
//! once, with one entry; the one that loses fails on its condition and is handled as the stage
//! intends (it reads again and finds the invoice journaled, or defers the message).
//!
//! The first race is made certain: a store wrapper lets the two transactions reach DynamoDB only
//! when both invocations have read the invoice (every call still goes to the real table). The
//! second is left to timing, three deliveries at once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use common::*;
use ledgerpost_lambda::{Pipeline, SqsEvent};
use ledgerpost_pipeline::Ports;
use ledgerpost_pipeline::repository::{InvoiceRecord, StatusKey};
use ledgerpost_ports::{
    Index, Item, ItemKey, KeyQuery, QueryPage, Store, StoreError, StoredItem, TransactOp,
};

/// The store, except that the first two transactions wait for each other before they reach
/// DynamoDB: both journal invocations have then read the invoice in the same version, so the
/// race is certain instead of depending on timing. Every call goes to the real table; the
/// outcomes of the transactions are recorded.
struct RacingStore {
    inner: Arc<dyn Store>,
    gate: tokio::sync::Barrier,
    calls: AtomicUsize,
    /// Transactions that passed the gate together with the other one.
    raced: AtomicUsize,
    outcomes: Mutex<Vec<Outcome>>,
}

/// What DynamoDB answered to one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Written,
    ConditionFailed,
    Other(String),
}

#[async_trait]
impl Store for RacingStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<StoredItem>, StoreError> {
        self.inner.get(key).await
    }
    async fn put_if_absent(&self, item: Item) -> Result<u64, StoreError> {
        self.inner.put_if_absent(item).await
    }
    async fn put_if_version(&self, item: Item, version: u64) -> Result<u64, StoreError> {
        self.inner.put_if_version(item, version).await
    }
    async fn delete_if_version(&self, key: &ItemKey, version: u64) -> Result<(), StoreError> {
        self.inner.delete_if_version(key, version).await
    }
    async fn query(&self, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        self.inner.query(query).await
    }
    async fn query_index(&self, index: Index, query: &KeyQuery) -> Result<QueryPage, StoreError> {
        self.inner.query_index(index, query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < 2 {
            // A generous limit: should the second invocation never get here, the first goes on
            // and the test's count of raced transactions fails instead of hanging.
            if tokio::time::timeout(Duration::from_secs(60), self.gate.wait()).await.is_ok() {
                self.raced.fetch_add(1, Ordering::SeqCst);
            }
        }
        let outcome = self.inner.transact(ops).await;
        let recorded = match &outcome {
            Ok(()) => Outcome::Written,
            Err(StoreError::ConditionFailed { .. }) => Outcome::ConditionFailed,
            Err(e) => Outcome::Other(format!("{e:?}")),
        };
        self.outcomes.lock().unwrap_or_else(PoisonError::into_inner).push(recorded);
        outcome
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliveries_of_one_journal_message_at_once_journal_the_invoice_once() {
    // GIVEN two sales invoices ingested, their journal messages waiting on the journal queue
    let mut d = Deployment::new("race", 50).await;
    put(&d.env, "inbox/example1.xml", corpus(EXAMPLE1), "application/xml").await;
    put(&d.env, "inbox/example2.xml", corpus(EXAMPLE2), "application/xml").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while d.object_messages < 2 {
        let (_, failed) = d.deliver_once(Function::Ingest).await;
        assert!(failed.is_empty(), "{failed:?}");
        assert!(Instant::now() < deadline, "the S3 notifications did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received =
        [d.invoices("koksmaat", StatusKey::Received).await, d.invoices("nordic", StatusKey::Received).await];
    let [gated_invoice, free_invoice] = received.map(|mut r| {
        assert_eq!(r.len(), 1, "{r:#?}");
        r.remove(0)
    });
    let journal = &d.queues[&Function::Journal];
    let sqs = d.sqs().clone();
    let (journal_url, journal_arn) = (journal.url.clone(), journal.arn.clone());

    // Receives every journal message once more: SQS delivers a message again once its
    // visibility timeout is over (here: set to zero), with a new receipt handle.
    let deliver_again = |count: usize| {
        let (sqs, url, arn) = (sqs.clone(), journal_url.clone(), journal_arn.clone());
        async move {
            // By message id: a message made visible again may come back in the same pass.
            let mut messages = BTreeMap::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while messages.len() < count {
                let out = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .message_system_attribute_names(MessageSystemAttributeName::All)
                    .send()
                    .await
                    .expect("receive the journal messages");
                for message in out.messages() {
                    sqs.change_message_visibility()
                        .queue_url(&url)
                        .receipt_handle(message.receipt_handle().expect("a receipt handle"))
                        .visibility_timeout(0)
                        .send()
                        .await
                        .expect("make the message visible again");
                    let id = message.message_id().expect("a message id").to_owned();
                    messages.insert(id, message.clone());
                }
                assert!(Instant::now() < deadline, "the journal messages did not arrive: {messages:?}");
            }
            messages.values().map(|m| sqs_event(std::slice::from_ref(m), &arn)).collect::<Vec<SqsEvent>>()
        }
    };
    let body_of = |event: &SqsEvent| event.records[0].body.clone().unwrap_or_default();
    let first = deliver_again(2).await;
    let second = deliver_again(2).await;
    let handles = |events: &[SqsEvent]| -> BTreeSet<Option<String>> {
        events.iter().map(|e| e.records[0].receipt_handle.clone()).collect()
    };
    assert!(handles(&first).is_disjoint(&handles(&second)), "two deliveries have two receipt handles");
    let pick = |events: &[SqsEvent], invoice: &InvoiceRecord| -> SqsEvent {
        let found = events.iter().find(|e| body_of(e).contains(invoice.id.as_str()));
        found.unwrap_or_else(|| panic!("no journal message for {}", invoice.id)).clone()
    };

    // WHEN two journal invocations handle the two deliveries of the first invoice at the same
    // time, both having read it before either writes
    let racing = Arc::new(RacingStore {
        inner: Arc::new(d.env.clients.store()),
        gate: tokio::sync::Barrier::new(2),
        calls: AtomicUsize::new(0),
        raced: AtomicUsize::new(0),
        outcomes: Mutex::new(Vec::new()),
    });
    let ports = Ports { store: racing.clone(), ..d.pipeline.ports().clone() };
    let gated = Pipeline::new(ports, Arc::new(d.pipeline.config().clone()));
    let (a, b) = (pick(&first, &gated_invoice), pick(&second, &gated_invoice));
    let (pa, pb) = (gated.clone(), gated.clone());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { ledgerpost_lambda::journal(&pa, a).await }),
        tokio::spawn(async move { ledgerpost_lambda::journal(&pb, b).await }),
    );
    let responses = [ra.expect("the first invocation"), rb.expect("the second invocation")];

    // THEN both reached the transaction together, and the table refused one on its condition
    let outcomes = racing.outcomes.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(racing.raced.load(Ordering::SeqCst), 2, "the two transactions raced: {outcomes:?}");
    assert!(outcomes.contains(&Outcome::ConditionFailed), "one fails on its condition: {outcomes:?}");
    assert!(outcomes.contains(&Outcome::Written), "{outcomes:?}");
    assert!(outcomes.iter().all(|o| !matches!(o, Outcome::Other(_))), "{outcomes:?}");
    // (On DynamoDB the loser then reads again and finds the invoice journaled: two transactions.
    // moto does not isolate concurrent TransactWriteItems (it restores a table copy taken when a
    // refused transaction started, which can undo the winner), so a third attempt is allowed
    // here; either way the invoice must end journaled once, which is checked below.)
    // and each message is done, or reported failed to come back later (deferred)
    for response in &responses {
        assert!(response.batch_item_failures.len() <= 1, "{response:?}");
    }
    assert!(responses.iter().any(|r| r.batch_item_failures.is_empty()), "{responses:?}");

    // WHEN three deliveries of the second invoice are handled at once, without any gate
    let third = deliver_again(2).await;
    let events = [pick(&first, &free_invoice), pick(&second, &free_invoice), pick(&third, &free_invoice)];
    let handles: Vec<_> = events
        .into_iter()
        .map(|event| {
            let pipeline = d.pipeline.clone();
            tokio::spawn(async move { ledgerpost_lambda::journal(&pipeline, event).await })
        })
        .collect();
    for handle in handles {
        let response = handle.await.expect("an invocation");
        // A loser either finds the invoice journaled (done) or, if it lost every attempt,
        // reports the message failed to be retried later; never a second entry.
        assert!(response.batch_item_failures.len() <= 1, "{response:?}");
    }

    // AND once the deliveries left on the journal queue (a deferred one among them, if any)
    // come back and are handled, the queue is empty
    d.run_queues(2).await;

    // THEN each invoice is journaled once, with exactly one entry and one "journaled" event
    for invoice in [&gated_invoice, &free_invoice] {
        let stored = d
            .pipeline
            .repository()
            .invoice(&invoice.id)
            .await
            .expect("read the invoice")
            .expect("the invoice exists")
            .value;
        assert_eq!(stored.status_key(), StatusKey::Journaled, "{}", invoice.number);
        assert_eq!(d.entries(invoice).await, 1, "journal entries of {}", invoice.number);
        let journaled = stored.history.iter().filter(|e| e.what.starts_with("journaled on")).count();
        assert_eq!(journaled, 1, "{:#?}", stored.history);
    }
}
