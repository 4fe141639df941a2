//! The queue port: at-least-once messages between the stages (SQS on AWS).
//!
//! A received message is hidden for its visibility timeout; deleting it with its receipt
//! acknowledges it, otherwise it comes back with a higher receive count. After the configured
//! number of receives it moves to the queue's dead-letter list instead of being delivered again
//! (SQS redrive policy `maxReceiveCount`), where [`Queue::dead_letters`] finds it for the report.
//!
//! Queues are named by their logical name (`ingest`, `match`, `journal`); each adapter maps the
//! name to its resource (a queue URL from the environment, a row in SQLite). Delivery order is
//! not guaranteed and a message may arrive twice: consumers are idempotent.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{BoxError, Retryable};

/// Largest message body, in bytes (SQS's historical limit; keep bodies small: they carry ids,
/// not documents).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Most messages one receive returns (SQS's limit).
pub const MAX_RECEIVE_BATCH: usize = 10;
/// Longest visibility timeout (SQS's limit: 12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// The id the queue gave a message when it was sent; the same on every delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub fn new(id: impl Into<String>) -> Self {
        MessageId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The handle of one delivery of a message, needed to delete it. Each delivery has its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptHandle(String);

impl ReceiptHandle {
    pub fn new(handle: impl Into<String>) -> Self {
        ReceiptHandle(handle.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One delivery of a message (or one dead letter, from [`Queue::dead_letters`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub id: MessageId,
    pub body: String,
    pub receipt: ReceiptHandle,
    /// How many times the message has been received, this delivery included (SQS
    /// `ApproximateReceiveCount`).
    pub receive_count: u32,
    /// When the message was first sent, where the backend says.
    pub sent_at: Option<DateTime<Utc>>,
}

/// At-least-once message queues with dead-letter lists.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends a message; the body is non-empty text of at most [`MAX_MESSAGE_BYTES`].
    async fn send(&self, queue: &str, body: &str) -> Result<MessageId, QueueError>;

    /// Receives up to `max` (1..=[`MAX_RECEIVE_BATCH`]) visible messages and hides them for
    /// `visibility` (at most [`MAX_VISIBILITY`]). Returns at once, possibly with none.
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Acknowledges a delivery. Deleting a message that is already gone succeeds; a receipt from
    /// an older delivery may not delete the message (as on SQS), which then comes back.
    async fn delete(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError>;

    /// Receives up to `max` (1..=[`MAX_RECEIVE_BATCH`]) messages from the queue's dead-letter
    /// list, for inspection and the report, and hides them for `visibility` as a receive does
    /// (on SQS this is a receive on the dead-letter queue), so that a loop reading until none
    /// come back sees each once. A zero `visibility` only peeks. Dead letters are never
    /// delivered again; they stay on the list until [`Queue::delete_dead_letter`].
    async fn dead_letters(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Removes a message from the dead-letter list (it has been reported or dealt with).
    async fn delete_dead_letter(&self, queue: &str, receipt: &ReceiptHandle) -> Result<(), QueueError>;
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("no queue named {name:?} is configured")]
    UnknownQueue { name: String },

    /// The request itself is wrong (empty or oversized body, batch size, timeout, receipt).
    #[error("invalid queue request: {reason}")]
    InvalidRequest { reason: String },

    /// Throttled, timed out or busy: retrying later may work.
    #[error("queue unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: BoxError,
    },

    /// Any other failure of the backend.
    #[error("queue failed: {context}")]
    Backend {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl QueueError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        QueueError::InvalidRequest { reason: reason.into() }
    }

    pub fn unavailable(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        QueueError::Unavailable { context: context.into(), source: source.into() }
    }

    pub fn backend(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        QueueError::Backend { context: context.into(), source: source.into() }
    }
}

impl Retryable for QueueError {
    fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Unavailable { .. })
    }
}

/// Checks a send request against the limits every adapter enforces.
pub fn check_body(body: &str) -> Result<(), QueueError> {
    if body.is_empty() {
        return Err(QueueError::invalid("a message body must not be empty"));
    }
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(QueueError::invalid(format!(
            "a message body of {} bytes is over the limit of {MAX_MESSAGE_BYTES} bytes",
            body.len()
        )));
    }
    Ok(())
}

/// Checks a receive request against the limits every adapter enforces.
pub fn check_receive(max: usize, visibility: Duration) -> Result<(), QueueError> {
    if max == 0 || max > MAX_RECEIVE_BATCH {
        return Err(QueueError::invalid(format!(
            "receive takes 1 to {MAX_RECEIVE_BATCH} messages, not {max}"
        )));
    }
    if visibility > MAX_VISIBILITY {
        return Err(QueueError::invalid(format!("a visibility timeout of {visibility:?} is over 12 hours")));
    }
    Ok(())
}
