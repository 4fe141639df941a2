//! The queues, persisted in the SQLite file beside the store.
//!
//! Persisting (rather than keeping messages in memory) is what lets `ledgerpost run` and
//! `ledgerpost send`, two processes, share the queues, and what keeps messages across a
//! restart; for a purely in-process queue open the [`SqliteDb`] in memory.
//!
//! The behaviour is SQS's, so code that works here works there:
//! - a received message is hidden until `visible_at` (now + visibility timeout); if it is not
//!   deleted by then it is delivered again with a higher receive count;
//! - a visible message already received `max_receives` times is moved to the dead-letter list
//!   on the next receive instead of being delivered (SQS `maxReceiveCount`);
//! - the receipt handle names the delivery (`<seq>:<receive count>`): deleting with the
//!   receipt of an older delivery does nothing, and the message comes back.
//!
//! Messages are delivered oldest first. Times come from the injected clock, so tests move a
//! fixed clock instead of sleeping.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerpost_ports::queue::{check_body, check_receive};
use ledgerpost_ports::{Clock, MessageId, Queue, QueueError, ReceiptHandle, ReceivedMessage};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::LocalError;
use crate::db::{SqliteDb, is_busy};

/// A queue and how many receives a message gets before it becomes a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub max_receives: u32,
}

impl QueueSpec {
    pub fn new(name: impl Into<String>, max_receives: u32) -> Self {
        QueueSpec { name: name.into(), max_receives }
    }
}

/// The configured queues, in a [`SqliteDb`].
#[derive(Clone)]
pub struct SqliteQueue {
    db: SqliteDb,
    clock: Arc<dyn Clock>,
    max_receives: HashMap<String, u32>,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue").field("max_receives", &self.max_receives).finish_non_exhaustive()
    }
}

impl SqliteQueue {
    /// The queues named in `queues`; each needs a name and at least one receive.
    pub fn new(
        db: SqliteDb,
        clock: Arc<dyn Clock>,
        queues: impl IntoIterator<Item = QueueSpec>,
    ) -> Result<Self, LocalError> {
        let mut max_receives = HashMap::new();
        for spec in queues {
            if spec.name.is_empty() || spec.max_receives == 0 {
                return Err(LocalError::Config(format!(
                    "queue {:?}: a queue needs a name and max_receives of at least 1",
                    spec.name
                )));
            }
            if max_receives.insert(spec.name.clone(), spec.max_receives).is_some() {
                return Err(LocalError::Config(format!("queue {:?} is configured twice", spec.name)));
            }
        }
        Ok(SqliteQueue { db, clock, max_receives })
    }

    fn max_receives(&self, queue: &str) -> Result<u32, QueueError> {
        self.max_receives
            .get(queue)
            .copied()
            .ok_or_else(|| QueueError::UnknownQueue { name: queue.to_owned() })
    }

    fn now_millis(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    fn send_sync(&self, queue: &str, body: &str) -> Result<MessageId, QueueError> {
        self.max_receives(queue)?;
        check_body(body)?;
        let now = self.now_millis();
        let seq: i64 = self
            .db
            .with(|c| {
                c.prepare_cached(
                    "INSERT INTO queue_messages (queue, body, sent_at, visible_at, receive_count)
                     VALUES (?1, ?2, ?3, ?3, 0) RETURNING seq",
                )?
                .query_row(params![queue, body, now], |row| row.get(0))
            })
            .map_err(sql_error(format!("send to {queue}")))?;
        Ok(message_id(seq))
    }

    fn receive_sync(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let max_receives = self.max_receives(queue)?;
        check_receive(max, visibility)?;
        let now = self.now_millis();
        let hidden_until = now.saturating_add(millis(visibility));
        let failed = sql_error(format!("receive from {queue}"));
        self.db.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&failed)?;
            let mut delivered = Vec::new();
            // Each round looks past the messages already seen (a zero visibility timeout leaves
            // them visible), and dead letters found on the way are moved aside.
            let mut seen = 0;
            while delivered.len() < max {
                let candidates = visible(&tx, queue, false, now, seen, max - delivered.len()).map_err(&failed)?;
                if candidates.is_empty() {
                    break;
                }
                for row in candidates {
                    seen = row.seq;
                    if row.receive_count >= i64::from(max_receives) {
                        tx.prepare_cached(
                            "UPDATE queue_messages SET dead_at = ?2, visible_at = ?2 WHERE seq = ?1",
                        )
                        .and_then(|mut s| s.execute(params![row.seq, now]))
                        .map_err(&failed)?;
                        tracing::warn!(queue, message_id = %message_id(row.seq), receive_count = row.receive_count,
                            "message moved to the dead-letter list");
                        continue;
                    }
                    let count = row.receive_count + 1;
                    tx.prepare_cached(
                        "UPDATE queue_messages SET receive_count = ?2, visible_at = ?3 WHERE seq = ?1",
                    )
                    .and_then(|mut s| s.execute(params![row.seq, count, hidden_until]))
                    .map_err(&failed)?;
                    delivered.push(row.into_message(Some(count)));
                }
            }
            tx.commit().map_err(&failed)?;
            Ok(delivered)
        })
    }

    fn delete_sync(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.max_receives(queue)?;
        let (seq, count) = parse_receipt(receipt)?;
        let Some(count) = count else {
            return Err(QueueError::invalid("this receipt is a dead letter's: use delete_dead_letter"));
        };
        let deleted = self
            .db
            .with(|c| {
                c.prepare_cached(
                    "DELETE FROM queue_messages
                     WHERE seq = ?1 AND queue = ?2 AND receive_count = ?3 AND dead_at IS NULL",
                )?
                .execute(params![seq, queue, count])
            })
            .map_err(sql_error(format!("delete from {queue}")))?;
        if deleted == 0 {
            tracing::debug!(
                queue,
                receipt = receipt.as_str(),
                "receipt deleted nothing: gone or delivered again"
            );
        }
        Ok(())
    }

    fn dead_letters_sync(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.max_receives(queue)?;
        check_receive(max, visibility)?;
        let now = self.now_millis();
        let hidden_until = now.saturating_add(millis(visibility));
        let failed = sql_error(format!("list dead letters of {queue}"));
        self.db.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&failed)?;
            let rows = visible(&tx, queue, true, now, 0, max).map_err(&failed)?;
            let mut letters = Vec::with_capacity(rows.len());
            for row in rows {
                tx.execute(
                    "UPDATE queue_messages SET visible_at = ?2 WHERE seq = ?1",
                    params![row.seq, hidden_until],
                )
                .map_err(&failed)?;
                letters.push(row.into_message(None));
            }
            tx.commit().map_err(&failed)?;
            Ok(letters)
        })
    }

    fn delete_dead_letter_sync(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.max_receives(queue)?;
        let (seq, count) = parse_receipt(receipt)?;
        if count.is_some() {
            return Err(QueueError::invalid("this receipt is a delivery's, not a dead letter's"));
        }
        self.db
            .with(|c| {
                c.execute(
                    "DELETE FROM queue_messages WHERE seq = ?1 AND queue = ?2 AND dead_at IS NOT NULL",
                    params![seq, queue],
                )
            })
            .map_err(sql_error(format!("delete dead letter of {queue}")))?;
        Ok(())
    }
}

/// A message row as read for delivery.
struct Row {
    seq: i64,
    body: String,
    sent_at: i64,
    receive_count: i64,
}

impl Row {
    /// This row as delivery number `delivery`, or as a dead letter (`None`).
    fn into_message(self, delivery: Option<i64>) -> ReceivedMessage {
        let (receive_count, tag) = match delivery {
            Some(count) => (count, count.to_string()),
            None => (self.receive_count, "dead".to_owned()),
        };
        ReceivedMessage {
            id: message_id(self.seq),
            body: self.body,
            receipt: ReceiptHandle::new(format!("{}:{tag}", self.seq)),
            receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
            sent_at: DateTime::<Utc>::from_timestamp_millis(self.sent_at),
        }
    }
}

const VISIBLE_SQL: &str = "SELECT seq, body, sent_at, receive_count FROM queue_messages
     WHERE queue = ?1 AND dead_at IS NULL AND visible_at <= ?2 AND seq > ?3 ORDER BY seq LIMIT ?4";
const VISIBLE_DEAD_SQL: &str = "SELECT seq, body, sent_at, receive_count FROM queue_messages
     WHERE queue = ?1 AND dead_at IS NOT NULL AND visible_at <= ?2 AND seq > ?3 ORDER BY seq LIMIT ?4";

/// Up to `max` visible messages of the queue (or of its dead-letter list) after message
/// `after_seq`, oldest first.
fn visible(
    c: &Connection,
    queue: &str,
    dead: bool,
    now: i64,
    after_seq: i64,
    max: usize,
) -> rusqlite::Result<Vec<Row>> {
    let sql = if dead { VISIBLE_DEAD_SQL } else { VISIBLE_SQL };
    let mut statement = c.prepare_cached(sql)?;
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![queue, now, after_seq, limit], |row| {
        Ok(Row { seq: row.get(0)?, body: row.get(1)?, sent_at: row.get(2)?, receive_count: row.get(3)? })
    })?;
    rows.collect()
}

fn message_id(seq: i64) -> MessageId {
    MessageId::new(format!("local-{seq}"))
}

/// `<seq>:<receive count>` for a delivery, `<seq>:dead` for a dead letter.
fn parse_receipt(receipt: &ReceiptHandle) -> Result<(i64, Option<i64>), QueueError> {
    let bad = || QueueError::invalid(format!("{:?} is not a receipt of this queue", receipt.as_str()));
    let (seq, tag) = receipt.as_str().split_once(':').ok_or_else(bad)?;
    let seq = seq.parse().map_err(|_| bad())?;
    let count = if tag == "dead" { None } else { Some(tag.parse().map_err(|_| bad())?) };
    Ok((seq, count))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn sql_error(context: String) -> impl Fn(rusqlite::Error) -> QueueError {
    move |err| {
        if is_busy(&err) {
            QueueError::unavailable(context.clone(), err)
        } else {
            QueueError::backend(context.clone(), err)
        }
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, queue: &str, body: &str) -> Result<MessageId, QueueError> {
        self.send_sync(queue, body)
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.receive_sync(queue, max, visibility)
    }

    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.delete_sync(queue, receipt)
    }

    async fn dead_letters(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.dead_letters_sync(queue, max, visibility)
    }

    async fn delete_dead_letter(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        self.delete_dead_letter_sync(queue, receipt)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use ledgerpost_ports::FixedClock;

    use super::*;

    const VISIBILITY: Duration = Duration::from_secs(30);

    fn queue_with(clock: Arc<FixedClock>, max_receives: u32) -> SqliteQueue {
        let db = SqliteDb::open_in_memory().unwrap();
        SqliteQueue::new(db, clock, [QueueSpec::new("ingest", max_receives), QueueSpec::new("match", 5)])
            .unwrap()
    }

    fn clock() -> Arc<FixedClock> {
        Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()))
    }

    #[test]
    fn a_receive_walks_the_queue_in_order_without_sorting() {
        // Sorting would read every waiting message of the queue on every receive.
        let queue = queue_with(clock(), 5);
        let plan: Vec<String> = queue
            .db
            .with(|c| {
                let mut statement = c.prepare(&format!("EXPLAIN QUERY PLAN {VISIBLE_SQL}"))?;
                let rows = statement.query_map(params!["ingest", 0, 0, 10], |row| row.get::<_, String>(3))?;
                rows.collect()
            })
            .unwrap();
        let plan = plan.join(" | ");
        assert!(plan.contains("USING INDEX queue_pending"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[tokio::test]
    async fn a_received_message_is_hidden_until_its_timeout_then_redelivered() {
        let clock = clock();
        let queue = queue_with(clock.clone(), 5);
        let id = queue.send("ingest", r#"{"key":"inbox/a.xml"}"#).await.unwrap();

        let first = queue.receive("ingest", 10, VISIBILITY).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!((&first[0].id, first[0].receive_count), (&id, 1));
        assert_eq!(first[0].sent_at, Some(clock.now()));
        // Hidden while being worked on
        clock.advance(TimeDelta::seconds(29));
        assert!(queue.receive("ingest", 10, VISIBILITY).await.unwrap().is_empty());
        // GIVEN the consumer died: after the timeout it comes back, counted
        clock.advance(TimeDelta::seconds(1));
        let second = queue.receive("ingest", 10, VISIBILITY).await.unwrap();
        assert_eq!((second.len(), second[0].receive_count), (1, 2));
        assert_eq!(second[0].body, r#"{"key":"inbox/a.xml"}"#);

        // The first delivery's receipt no longer deletes it…
        queue.delete("ingest", &first[0].receipt).await.unwrap();
        clock.advance(TimeDelta::seconds(30));
        let third = queue.receive("ingest", 10, VISIBILITY).await.unwrap();
        assert_eq!(third[0].receive_count, 3);
        // …the current one does, and deleting twice is fine.
        queue.delete("ingest", &third[0].receipt).await.unwrap();
        queue.delete("ingest", &third[0].receipt).await.unwrap();
        clock.advance(TimeDelta::hours(1));
        assert!(queue.receive("ingest", 10, VISIBILITY).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn after_max_receives_a_message_becomes_a_dead_letter() {
        // GIVEN a poison message on a queue that allows 3 receives
        let clock = clock();
        let queue = queue_with(clock.clone(), 3);
        let poison = queue.send("ingest", "poison").await.unwrap();
        for expected in 1..=3 {
            let got = queue.receive("ingest", 1, VISIBILITY).await.unwrap();
            assert_eq!(got[0].receive_count, expected);
            clock.advance(TimeDelta::seconds(31)); // the consumer fails each time
        }
        let healthy = queue.send("ingest", "healthy").await.unwrap();

        // WHEN the queue is read again THEN the poison message is not delivered a 4th time
        let got = queue.receive("ingest", 10, VISIBILITY).await.unwrap();
        assert_eq!(got.iter().map(|m| &m.id).collect::<Vec<_>>(), [&healthy]);

        // AND it is on the dead-letter list, once per listing, until deleted
        let dead = queue.dead_letters("ingest", 10, VISIBILITY).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!((&dead[0].id, dead[0].body.as_str(), dead[0].receive_count), (&poison, "poison", 3));
        assert!(queue.dead_letters("ingest", 10, VISIBILITY).await.unwrap().is_empty());
        assert!(queue.dead_letters("match", 10, VISIBILITY).await.unwrap().is_empty());
        clock.advance(TimeDelta::seconds(31));
        assert_eq!(queue.dead_letters("ingest", 10, Duration::ZERO).await.unwrap().len(), 1);
        // A dead letter's receipt is not a delivery's.
        assert!(queue.delete("ingest", &dead[0].receipt).await.is_err());
        queue.delete_dead_letter("ingest", &dead[0].receipt).await.unwrap();
        assert!(queue.dead_letters("ingest", 10, Duration::ZERO).await.unwrap().is_empty());
        // Dead letters are never delivered again.
        clock.advance(TimeDelta::hours(1));
        let got = queue.receive("ingest", 10, VISIBILITY).await.unwrap();
        assert_eq!(got.iter().map(|m| &m.id).collect::<Vec<_>>(), [&healthy]);
    }

    #[tokio::test]
    async fn batches_are_capped_and_oldest_first() {
        let clock = clock();
        let queue = queue_with(clock.clone(), 5);
        for i in 0..12 {
            queue.send("match", &format!("m{i}")).await.unwrap();
        }
        assert!(queue.send("ingest", "").await.is_err());
        assert!(matches!(queue.send("nope", "x").await, Err(QueueError::UnknownQueue { .. })));
        assert!(matches!(
            queue.receive("match", 11, VISIBILITY).await,
            Err(QueueError::InvalidRequest { .. })
        ));
        assert!(queue.receive("match", 0, VISIBILITY).await.is_err());
        let first = queue.receive("match", 10, VISIBILITY).await.unwrap();
        let bodies: Vec<_> = first.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"]);
        assert_eq!(queue.receive("match", 10, VISIBILITY).await.unwrap().len(), 2);
        // Queues are separate.
        assert!(queue.receive("ingest", 10, VISIBILITY).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_zero_visibility_timeout_delivers_each_message_once_per_receive() {
        let clock = clock();
        let queue = queue_with(clock.clone(), 5);
        queue.send("ingest", "a").await.unwrap();
        queue.send("ingest", "b").await.unwrap();
        let got = queue.receive("ingest", 10, Duration::ZERO).await.unwrap();
        assert_eq!(
            got.iter().map(|m| (m.body.as_str(), m.receive_count)).collect::<Vec<_>>(),
            [("a", 1), ("b", 1)]
        );
        let again = queue.receive("ingest", 10, Duration::ZERO).await.unwrap();
        assert_eq!(again.iter().map(|m| m.receive_count).collect::<Vec<_>>(), [2, 2]);
    }

    #[test]
    fn two_processes_share_the_queue_and_never_receive_the_same_delivery() {
        // GIVEN two queue handles on the same file (as `ledgerpost run` and `ledgerpost send`)
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queues.db");
        let clock: Arc<dyn Clock> = Arc::new(ledgerpost_ports::SystemClock);
        let open =
            || SqliteQueue::new(SqliteDb::open(&path).unwrap(), clock.clone(), [QueueSpec::new("q", 5)]);
        let (a, b) = (open().unwrap(), open().unwrap());
        for i in 0..100 {
            a.send_sync("q", &i.to_string()).unwrap();
        }
        // WHEN both receive concurrently
        let consume = |queue: SqliteQueue| {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let batch = queue.receive_sync("q", 3, Duration::from_secs(600)).unwrap();
                    if batch.is_empty() {
                        break got;
                    }
                    got.extend(batch.into_iter().map(|m| m.body));
                }
            })
        };
        let (ta, tb) = (consume(a), consume(b));
        let mut all = ta.join().unwrap();
        all.extend(tb.join().unwrap());
        // THEN every message is delivered once in all
        all.sort_by_key(|body| body.parse::<u32>().unwrap());
        assert_eq!(all, (0..100).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn bad_configuration_is_refused() {
        let db = SqliteDb::open_in_memory().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ledgerpost_ports::SystemClock);
        assert!(SqliteQueue::new(db.clone(), clock.clone(), [QueueSpec::new("q", 0)]).is_err());
        assert!(SqliteQueue::new(db, clock, [QueueSpec::new("q", 1), QueueSpec::new("q", 2)]).is_err());
    }
}
