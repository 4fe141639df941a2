//! The one error type of the stages, split the way the Lambda edge needs it: retryable (leave the
//! message on the queue, it comes back) or not (it will fail the same way; after a few receives
//! the queue moves it to the dead-letter list, and the next report lists it).
//!
//! Expected outcomes of a stage (a file rejected, an invoice waiting for a person) are not errors:
//! they are the stage's result. An error here means the stage could not do its work.

use ledgerpost_ports::{BucketError, MailError, QueueError, Retryable, StoreError};

/// Why a stage could not finish its work on a message.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    Bucket(#[from] BucketError),

    #[error(transparent)]
    Queue(#[from] QueueError),

    #[error(transparent)]
    Mail(#[from] MailError),

    /// A stored item or object that cannot be read back: a bug or a hand edit, never retried.
    #[error("stored data is unreadable: {what}")]
    Corrupt {
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The message itself makes no sense (not JSON, no key, unknown invoice id).
    #[error("bad message: {0}")]
    BadMessage(String),

    /// The work cannot be done yet (another item is still on its way, a write raced with another
    /// writer): retrying later will work.
    #[error("not yet: {0}")]
    Deferred(String),

    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StageError {
    pub(crate) fn corrupt(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StageError::Corrupt { what: what.into(), source: Some(Box::new(source)) }
    }
}

impl Retryable for StageError {
    fn is_retryable(&self) -> bool {
        match self {
            StageError::Store(e) => e.is_retryable() || e.is_condition_failed(),
            StageError::Bucket(e) => e.is_retryable(),
            StageError::Queue(e) => e.is_retryable(),
            StageError::Mail(e) => e.is_retryable(),
            StageError::Deferred(_) => true,
            StageError::Corrupt { .. } | StageError::BadMessage(_) | StageError::Unexpected(_) => false,
        }
    }
}
