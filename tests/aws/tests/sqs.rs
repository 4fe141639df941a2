//! The queue port on SQS (moto_server), mirroring the SQLite queue's tests. SQS counts time in
//! whole seconds, so the visibility tests wait about a second where the local tests move a
//! fixed clock.

use std::collections::BTreeSet;
use std::time::Duration;

use ledgerpost_aws::{QUEUE_INGEST, QUEUE_MATCH, SqsQueue};
use ledgerpost_aws_tests::TestEnv;
use ledgerpost_ports::{Queue, QueueError};

const SECOND: Duration = Duration::from_secs(1);
/// A little more than a second: long enough for a 1 s visibility timeout to run out.
const PAST_A_SECOND: Duration = Duration::from_millis(1300);

async fn queue_env(tag: &str, max_receive_count: u32) -> (TestEnv, SqsQueue) {
    let env = TestEnv::new(tag).await;
    env.create_queues(max_receive_count).await;
    let queue = env.clients.queue();
    (env, queue)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_received_message_is_hidden_until_its_timeout_then_redelivered() {
    let (_env, queue) = queue_env("sqs-visibility", 5).await;
    let id = queue.send(QUEUE_INGEST, r#"{"key":"inbox/a.xml"}"#).await.unwrap();

    let first = queue.receive(QUEUE_INGEST, 10, SECOND).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((&first[0].id, first[0].receive_count), (&id, 1));
    assert!(first[0].sent_at.is_some());
    // Hidden while being worked on.
    assert!(queue.receive(QUEUE_INGEST, 10, SECOND).await.unwrap().is_empty());

    // GIVEN the consumer died: after the timeout it comes back, counted
    tokio::time::sleep(PAST_A_SECOND).await;
    let second = queue.receive(QUEUE_INGEST, 10, SECOND).await.unwrap();
    assert_eq!((second.len(), second[0].receive_count), (1, 2));
    assert_eq!((&second[0].id, second[0].body.as_str()), (&id, r#"{"key":"inbox/a.xml"}"#));

    // The current receipt deletes it, and deleting twice is fine.
    queue.delete(QUEUE_INGEST, &second[0].receipt).await.unwrap();
    queue.delete(QUEUE_INGEST, &second[0].receipt).await.unwrap();
    tokio::time::sleep(PAST_A_SECOND).await;
    assert!(queue.receive(QUEUE_INGEST, 10, SECOND).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_max_receives_a_message_goes_to_the_dead_letter_queue() {
    // GIVEN a poison message on a queue whose redrive policy allows 2 receives
    let (_env, queue) = queue_env("sqs-redrive", 2).await;
    let poison = queue.send(QUEUE_INGEST, "poison").await.unwrap();
    for expected in 1..=2 {
        // (a zero visibility timeout: the consumer "fails" at once)
        let got = queue.receive(QUEUE_INGEST, 1, Duration::ZERO).await.unwrap();
        assert_eq!((&got[0].id, got[0].receive_count), (&poison, expected));
    }
    let healthy = queue.send(QUEUE_INGEST, "healthy").await.unwrap();

    // WHEN the queue is read again THEN the poison message is not delivered a 3rd time
    let got = queue.receive(QUEUE_INGEST, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(got.iter().map(|m| &m.id).collect::<Vec<_>>(), [&healthy]);

    // AND it is in the dead-letter queue of the redrive policy, once per listing
    let dead = queue.dead_letters(QUEUE_INGEST, 10, SECOND).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((&dead[0].id, dead[0].body.as_str()), (&poison, "poison"));
    assert!(queue.dead_letters(QUEUE_INGEST, 10, SECOND).await.unwrap().is_empty());
    assert!(queue.dead_letters(QUEUE_MATCH, 10, SECOND).await.unwrap().is_empty());
    tokio::time::sleep(PAST_A_SECOND).await;
    let again = queue.dead_letters(QUEUE_INGEST, 10, Duration::ZERO).await.unwrap();
    assert_eq!(again.len(), 1);
    queue.delete_dead_letter(QUEUE_INGEST, &again[0].receipt).await.unwrap();
    assert!(queue.dead_letters(QUEUE_INGEST, 10, Duration::ZERO).await.unwrap().is_empty());
    // Dead letters are never delivered again on the source queue.
    queue.delete(QUEUE_INGEST, &got[0].receipt).await.unwrap();
    assert!(queue.receive(QUEUE_INGEST, 10, Duration::ZERO).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_send_receive_and_delete_ten_at_a_time() {
    let (_env, queue) = queue_env("sqs-batch", 5).await;
    let bodies: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    let mut refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    refs.insert(5, "");
    let sent = queue.send_batch(QUEUE_MATCH, &refs).await.unwrap();
    assert_eq!(sent.len(), 13);
    assert!(matches!(sent[5], Err(QueueError::InvalidRequest { .. })), "the empty body is refused alone");
    assert_eq!(sent.iter().filter(|r| r.is_ok()).count(), 12);

    let first = queue.receive(QUEUE_MATCH, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(first.len(), 10);
    let mut received = first.clone();
    loop {
        let more = queue.receive(QUEUE_MATCH, 10, Duration::from_secs(30)).await.unwrap();
        if more.is_empty() {
            break;
        }
        received.extend(more);
    }
    let got: BTreeSet<&str> = received.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(got, bodies.iter().map(String::as_str).collect::<BTreeSet<_>>());

    let receipts: Vec<_> = received.iter().map(|m| m.receipt.clone()).collect();
    let deleted = queue.delete_batch(QUEUE_MATCH, &receipts).await.unwrap();
    assert_eq!(deleted.len(), 12);
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
    // Queues are separate, and the request limits hold as on the local queue.
    assert!(queue.receive(QUEUE_INGEST, 10, Duration::ZERO).await.unwrap().is_empty());
    assert!(matches!(queue.receive(QUEUE_MATCH, 11, SECOND).await, Err(QueueError::InvalidRequest { .. })));
    assert!(matches!(queue.receive(QUEUE_MATCH, 0, SECOND).await, Err(QueueError::InvalidRequest { .. })));
    assert!(matches!(queue.send(QUEUE_MATCH, "").await, Err(QueueError::InvalidRequest { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_are_configured_by_url_or_name_and_unknown_ones_are_refused() {
    let env = TestEnv::new("sqs-config").await;
    let (url, _) = env.create_queue_with_dlq("by-url", 3).await;
    env.create_queue_with_dlq("by-name", 3).await;
    let queue = SqsQueue::new(
        env.clients.sqs.clone(),
        [("url", url.as_str()), ("name", "by-name"), ("dlq", "by-name-dlq"), ("missing", "no-such-queue")],
    );
    assert_eq!(queue.url("url").await.unwrap(), url);
    assert!(queue.url("name").await.unwrap().ends_with("/by-name"));
    assert!(queue.dead_letter_url("url").await.unwrap().ends_with("/by-url-dlq"));
    queue.send("url", "a").await.unwrap();
    queue.send("name", "b").await.unwrap();
    assert_eq!(queue.receive("name", 10, SECOND).await.unwrap()[0].body, "b");

    assert!(matches!(queue.send("nope", "x").await, Err(QueueError::UnknownQueue { .. })));
    // A queue without a redrive policy has no dead letters to read.
    assert!(matches!(queue.dead_letters("dlq", 10, SECOND).await, Err(QueueError::InvalidRequest { .. })));
    // A configured queue that does not exist fails clearly, with the SDK error kept.
    let err = queue.send("missing", "x").await.unwrap_err();
    assert!(matches!(err, QueueError::Backend { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}
