//! The queue port on SQS.
//!
//! Each logical queue (`ingest`, `match`, `journal`) is configured as a queue URL (what
//! CloudFormation's `!Ref` gives, so no extra call is needed) or a queue name, which is turned
//! into a URL with GetQueueUrl on first use. Its dead letters are in the queue that its redrive
//! policy names (`deadLetterTargetArn`), found with GetQueueAttributes + GetQueueUrl on first
//! use. Both are resolved once per process and kept ([`tokio::sync::OnceCell`]); concurrent
//! first uses wait for one resolution.
//!
//! A dead letter's `receive_count` is how many times its own queue delivered it, as the port
//! (and the run report: "failed 3 times") means it: the redrive policy's `maxReceiveCount`,
//! which is what moved it. SQS's `ApproximateReceiveCount` goes on counting the receives on the
//! dead-letter queue too (the report's own reads among them), so it is not used there.
//!
//! Receives return at once (`WaitTimeSeconds = 0`), as the port says; the Lambda event source
//! does the long polling in production. Visibility timeouts are whole seconds on SQS, so a
//! fraction of a second is rounded up.
//!
//! Besides the port, [`SqsQueue::send_batch`] and [`SqsQueue::delete_batch`] use the batch
//! calls (10 entries per request) and report each entry's own outcome.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, Utc};
use ledgerpost_ports::queue::{check_body, check_receive};
use ledgerpost_ports::{MessageId, Queue, QueueError, ReceiptHandle, ReceivedMessage};
use tokio::sync::OnceCell;

use crate::error::{describe, is_throttling_code, is_transient};

/// Most entries in one SendMessageBatch / DeleteMessageBatch request.
const MAX_BATCH_ENTRIES: usize = 10;
/// Most bytes of bodies in one SendMessageBatch request (kept at SQS's long-standing limit).
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// One configured queue and what is learnt about it on first use.
#[derive(Debug)]
struct QueueRef {
    /// A URL or a name, as configured.
    configured: String,
    url: OnceCell<String>,
    dead_letters: OnceCell<DeadLetterQueue>,
}

/// Where a queue's dead letters go, from its redrive policy.
#[derive(Debug)]
struct DeadLetterQueue {
    url: String,
    /// Deliveries on the source queue before a message is moved (`maxReceiveCount`).
    max_receive_count: Option<u32>,
}

/// SQS as the queue port, with logical names mapped to queues.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queues: std::sync::Arc<HashMap<String, QueueRef>>,
}

impl SqsQueue {
    /// `queues` maps each logical name to a queue URL (`https://…`) or a queue name.
    pub fn new<N: Into<String>, Q: Into<String>>(
        client: Client,
        queues: impl IntoIterator<Item = (N, Q)>,
    ) -> Self {
        let queues = queues
            .into_iter()
            .map(|(name, configured)| {
                let queue = QueueRef {
                    configured: configured.into(),
                    url: OnceCell::new(),
                    dead_letters: OnceCell::new(),
                };
                (name.into(), queue)
            })
            .collect();
        SqsQueue { client, queues: std::sync::Arc::new(queues) }
    }

    fn queue_ref(&self, queue: &str) -> Result<&QueueRef, QueueError> {
        self.queues.get(queue).ok_or_else(|| QueueError::UnknownQueue { name: queue.to_owned() })
    }

    /// The URL of the logical queue `queue`.
    pub async fn url(&self, queue: &str) -> Result<&str, QueueError> {
        let entry = self.queue_ref(queue)?;
        let url = entry
            .url
            .get_or_try_init(|| async {
                if is_url(&entry.configured) {
                    return Ok(entry.configured.clone());
                }
                self.queue_url(&entry.configured, None).await
            })
            .await?;
        Ok(url)
    }

    /// The URL of the dead-letter queue of `queue`, from its redrive policy.
    pub async fn dead_letter_url(&self, queue: &str) -> Result<&str, QueueError> {
        Ok(&self.dead_letter_queue(queue).await?.url)
    }

    async fn dead_letter_queue(&self, queue: &str) -> Result<&DeadLetterQueue, QueueError> {
        let url = self.url(queue).await?;
        let entry = self.queue_ref(queue)?;
        let dead = entry
            .dead_letters
            .get_or_try_init(|| async {
                let output = self
                    .client
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(QueueAttributeName::RedrivePolicy)
                    .send()
                    .await
                    .map_err(|err| sdk_error(format!("read the redrive policy of {queue}"), err))?;
                let policy = output
                    .attributes()
                    .and_then(|attributes| attributes.get(&QueueAttributeName::RedrivePolicy))
                    .ok_or_else(|| {
                        QueueError::invalid(format!(
                            "queue {queue} has no redrive policy, so no dead-letter queue"
                        ))
                    })?;
                let (arn, max_receive_count) = redrive_policy(policy).map_err(|reason| {
                    QueueError::invalid(format!("queue {queue} has an unreadable redrive policy: {reason}"))
                })?;
                let (account, name) = arn_account_and_name(&arn).ok_or_else(|| {
                    QueueError::invalid(format!("queue {queue}: {arn:?} is not an SQS queue ARN"))
                })?;
                let url = self.queue_url(name, Some(account)).await?;
                Ok::<_, QueueError>(DeadLetterQueue { url, max_receive_count })
            })
            .await?;
        Ok(dead)
    }

    async fn queue_url(&self, name: &str, owner: Option<&str>) -> Result<String, QueueError> {
        let output = self
            .client
            .get_queue_url()
            .queue_name(name)
            .set_queue_owner_aws_account_id(owner.map(str::to_owned))
            .send()
            .await
            .map_err(|err| sdk_error(format!("find the URL of queue {name:?}"), err))?;
        output.queue_url().map(str::to_owned).ok_or_else(|| {
            QueueError::backend(format!("find the URL of queue {name:?}"), "SQS returned no URL")
        })
    }

    async fn receive_from(
        &self,
        url: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        check_receive(max, visibility)?;
        let output = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max as i32)
            .visibility_timeout(seconds(visibility))
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|err| sdk_error(format!("receive from {url}"), err))?;
        output.messages().iter().map(received).collect()
    }

    async fn delete_from(&self, url: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        match self.client.delete_message().queue_url(url).receipt_handle(receipt.as_str()).send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ReceiptHandleIsInvalid") => {
                Err(QueueError::invalid(format!("{:?} is not a receipt of {url}", receipt.as_str())))
            }
            Err(err) => Err(sdk_error(format!("delete from {url}"), err)),
        }
    }

    /// Sends every body (each checked as [`Queue::send`] does) in batches of up to 10; the
    /// result has one entry per body, in order. The outer error is for a request that failed
    /// as a whole before any entry was judged.
    pub async fn send_batch(
        &self,
        queue: &str,
        bodies: &[&str],
    ) -> Result<Vec<Result<MessageId, QueueError>>, QueueError> {
        let url = self.url(queue).await?;
        let mut results: Vec<Option<Result<MessageId, QueueError>>> =
            (0..bodies.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            match check_body(body) {
                Ok(()) => pending.push(i),
                Err(err) => results[i] = Some(Err(err)),
            }
        }
        for chunk in batches(&pending, |i| bodies[i].len()) {
            let entries = chunk
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(bodies[i]).build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| QueueError::backend("build a send batch", err))?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| sdk_error(format!("send a batch to {queue}"), err))?;
            for ok in output.successful() {
                if let Some(slot) = entry_slot(&mut results, ok.id()) {
                    *slot = Some(Ok(MessageId::new(ok.message_id())));
                }
            }
            record_failed(&mut results, queue, output.failed());
        }
        Ok(unreported_as_errors(results, "send a batch"))
    }

    /// Deletes deliveries in batches of up to 10; one result per receipt, in order.
    pub async fn delete_batch(
        &self,
        queue: &str,
        receipts: &[ReceiptHandle],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let url = self.url(queue).await?;
        let mut results: Vec<Option<Result<(), QueueError>>> = (0..receipts.len()).map(|_| None).collect();
        let all: Vec<usize> = (0..receipts.len()).collect();
        for chunk in all.chunks(MAX_BATCH_ENTRIES) {
            let entries = chunk
                .iter()
                .map(|&i| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipts[i].as_str())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| QueueError::backend("build a delete batch", err))?;
            let output = self
                .client
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| sdk_error(format!("delete a batch from {queue}"), err))?;
            for ok in output.successful() {
                if let Some(slot) = entry_slot(&mut results, ok.id()) {
                    *slot = Some(Ok(()));
                }
            }
            record_failed(&mut results, queue, output.failed());
        }
        Ok(unreported_as_errors(results, "delete a batch"))
    }
}

/// Splits entry positions into batches of at most 10 entries and [`MAX_BATCH_BYTES`].
fn batches(positions: &[usize], size_of: impl Fn(usize) -> usize) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in positions {
        let size = size_of(i);
        let full = batches
            .last()
            .is_none_or(|batch| batch.len() == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES);
        if full {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(batch) = batches.last_mut() {
            batch.push(i);
        }
    }
    batches
}

fn entry_slot<'a, T>(results: &'a mut [Option<T>], id: &str) -> Option<&'a mut Option<T>> {
    id.parse::<usize>().ok().and_then(|i| results.get_mut(i))
}

/// Puts each failed entry of a batch answer into its slot (send and delete answer alike).
fn record_failed<T>(
    results: &mut [Option<Result<T, QueueError>>],
    queue: &str,
    failed: &[BatchResultErrorEntry],
) {
    for entry in failed {
        if let Some(slot) = entry_slot(results, entry.id()) {
            *slot = Some(Err(batch_entry_error(queue, entry.code(), entry.message(), entry.sender_fault())));
        }
    }
}

/// The results in order; an entry SQS answered nothing about is an error, never a silent success.
fn unreported_as_errors<T>(
    results: Vec<Option<Result<T, QueueError>>>,
    what: &str,
) -> Vec<Result<T, QueueError>> {
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Err(QueueError::backend(what, "SQS did not report this entry")))
        })
        .collect()
}

fn batch_entry_error(queue: &str, code: &str, message: Option<&str>, sender_fault: bool) -> QueueError {
    let context = format!("{queue}: {code}: {}", message.unwrap_or_default());
    if sender_fault && !is_throttling_code(Some(code)) {
        QueueError::invalid(context)
    } else {
        QueueError::unavailable(context.clone(), context)
    }
}

fn is_url(configured: &str) -> bool {
    configured.starts_with("https://") || configured.starts_with("http://")
}

/// The `deadLetterTargetArn` of a redrive policy (JSON), and its `maxReceiveCount` (a number,
/// or a string as CloudFormation and the console write it).
fn redrive_policy(policy: &str) -> Result<(String, Option<u32>), String> {
    let value: serde_json::Value = serde_json::from_str(policy).map_err(|err| err.to_string())?;
    let arn = value
        .get("deadLetterTargetArn")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "no deadLetterTargetArn".to_owned())?;
    let max_receive_count = match value.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok((arn, max_receive_count))
}

/// `arn:aws:sqs:eu-west-1:123456789012:name` → (`123456789012`, `name`).
fn arn_account_and_name(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sqs", _, account, name] if !account.is_empty() && !name.is_empty() => {
            Some((account, name))
        }
        _ => None,
    }
}

/// Whole seconds for SQS, rounded up.
fn seconds(duration: Duration) -> i32 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(whole).unwrap_or(i32::MAX)
}

fn received(message: &Message) -> Result<ReceivedMessage, QueueError> {
    let missing =
        |what: &str| QueueError::backend("receive", format!("SQS returned a message without {what}"));
    let attribute = |name: MessageSystemAttributeName| message.attributes().and_then(|a| a.get(&name));
    let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|count| count.parse().ok())
        .unwrap_or(1);
    let sent_at = attribute(MessageSystemAttributeName::SentTimestamp)
        .and_then(|millis| millis.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    Ok(ReceivedMessage {
        id: MessageId::new(message.message_id().ok_or_else(|| missing("an id"))?),
        body: message.body().unwrap_or_default().to_owned(),
        receipt: ReceiptHandle::new(message.receipt_handle().ok_or_else(|| missing("a receipt handle"))?),
        receive_count,
        sent_at,
    })
}

fn sdk_error<E>(context: String, err: SdkError<E, HttpResponse>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = format!("{context}: {}", describe(&err));
    if is_transient(&err) { QueueError::unavailable(context, err) } else { QueueError::backend(context, err) }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue: &str, body: &str) -> Result<MessageId, QueueError> {
        check_body(body)?;
        let url = self.url(queue).await?;
        let output = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(|err| sdk_error(format!("send to {queue}"), err))?;
        output
            .message_id()
            .map(MessageId::new)
            .ok_or_else(|| QueueError::backend(format!("send to {queue}"), "SQS returned no message id"))
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        check_receive(max, visibility)?;
        let url = self.url(queue).await?;
        self.receive_from(url, max, visibility).await
    }

    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        let url = self.url(queue).await?;
        self.delete_from(url, receipt).await
    }

    async fn dead_letters(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        check_receive(max, visibility)?;
        let dead = self.dead_letter_queue(queue).await?;
        let mut letters = self.receive_from(&dead.url, max, visibility).await?;
        if let Some(max_receive_count) = dead.max_receive_count {
            for letter in &mut letters {
                letter.receive_count = max_receive_count;
            }
        }
        Ok(letters)
    }

    async fn delete_dead_letter(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError> {
        let url = self.dead_letter_url(queue).await?;
        self.delete_from(url, receipt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policies_and_arns() {
        let policy = r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:ingest-dlq","maxReceiveCount":"5"}"#;
        let (arn, max) = redrive_policy(policy).unwrap();
        assert_eq!(arn_account_and_name(&arn), Some(("123456789012", "ingest-dlq")));
        assert_eq!(max, Some(5));
        let numeric = r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:1:q-dlq","maxReceiveCount":3}"#;
        assert_eq!(redrive_policy(numeric).unwrap().1, Some(3));
        let without = r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:1:q-dlq"}"#;
        assert_eq!(redrive_policy(without).unwrap().1, None);
        assert!(redrive_policy(r#"{"maxReceiveCount":5}"#).is_err());
        assert!(redrive_policy("not json").is_err());
        assert_eq!(arn_account_and_name("arn:aws:sns:eu-west-1:1:topic"), None);
        assert_eq!(arn_account_and_name("arn:aws-cn:sqs:cn-north-1:1:q"), Some(("1", "q")));
    }

    #[test]
    fn visibility_is_rounded_up_to_seconds() {
        assert_eq!(seconds(Duration::ZERO), 0);
        assert_eq!(seconds(Duration::from_millis(1)), 1);
        assert_eq!(seconds(Duration::from_secs(30)), 30);
        assert_eq!(seconds(Duration::from_millis(30_500)), 31);
    }

    #[test]
    fn batches_hold_ten_entries_and_respect_the_size_limit() {
        let positions: Vec<usize> = (0..23).collect();
        let small = batches(&positions, |_| 10);
        assert_eq!(small.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 3]);
        let big = batches(&positions[..4], |_| 100 * 1024);
        assert_eq!(big.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
        assert!(batches(&[], |_| 1).is_empty());
    }
}
