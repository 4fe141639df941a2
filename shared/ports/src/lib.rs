//! # ledgerpost-ports
//!
//! What the domain needs from the outside world, written as small traits. Each port has two
//! adapters: one against AWS (S3, SQS, DynamoDB, SESv2) and one on a single machine
//! (`ledgerpost-local`: a folder, SQLite, an `.eml` outbox). The domain logic only sees these
//! traits, so it knows nothing of either backend.
//!
//! - [`Bucket`]: objects under keys such as `inbox/x.xml`, `archive/…`, `rejected/…`; a size
//!   cap is checked before an object is read.
//! - [`Queue`]: at-least-once messages with a visibility timeout, a receive count and a
//!   dead-letter list after a configured number of receives.
//! - [`Store`]: a single-table item store shaped like DynamoDB: items under `(pk, sk)` with a
//!   version, a JSON body and up to three secondary index keys; every write is conditional on
//!   the version; transactions are all-or-nothing.
//! - [`Mailer`]: sends one raw RFC 5322 message; the error says whether a retry is safe
//!   (throttled), useless (rejected) or forbidden (the outcome is unknown: "in doubt").
//! - [`Clock`]: the time, with a fixed clock for tests.
//! - [`Lease`]: a named, expiring lock so that runs never overlap; [`StoreLease`] builds one on
//!   any [`Store`].
//!
//! The ports are async because the AWS adapters are. They use `async-trait` so that a port can
//! be held as `Arc<dyn Port>`: the backend is chosen at run time (cloud or one machine), and
//! native `async fn` in traits is not object safe. The boxing this costs is one allocation per
//! call, small next to a network round trip or a disk write.
//!
//! ## Errors
//!
//! Each port has one error enum. Expected outcomes (not found, condition failed, too large,
//! held) are variants of their own; backend failures keep their source error and are split
//! into `Unavailable` (throttling, timeouts, a busy database: retrying later may work) and
//! `Backend` (anything else). [`Retryable::is_retryable`] tells the two apart for the Lambda
//! edge, which maps them to a failed SQS message (retried) or a rejection (not retried).

pub mod bucket;
pub mod clock;
pub mod lease;
pub mod mailer;
pub mod queue;
pub mod store;

pub use bucket::{Bucket, BucketError, InvalidKey, ObjectKey, ObjectMeta, ObjectPage};
pub use clock::{Clock, FixedClock, SystemClock};
pub use lease::{Lease, LeaseError, LeaseGrant, StoreLease};
pub use mailer::{EnvelopeAddress, InvalidAddress, MailError, MailMessageId, Mailer, OutgoingEmail};
pub use queue::{MessageId, Queue, QueueError, ReceiptHandle, ReceivedMessage};
pub use store::{
    Body, Expect, Index, IndexKey, IndexKeys, Item, ItemKey, KeyQuery, QueryPage, Store, StoreError,
    StoredItem, TransactOp,
};

/// A backend's own error (an SDK error, an I/O error, a SQLite error), kept as the source of a
/// port error so that the chain is never flattened into a string.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Whether trying the same operation again later may succeed.
///
/// `true` for throttling, timeouts and a busy backend; `false` for everything that will fail
/// the same way again (bad input, a failed condition, an object too large) and for a mail
/// whose outcome is unknown, which must never be sent twice.
pub trait Retryable {
    fn is_retryable(&self) -> bool;
}

/// An opaque continuation token for paginated reads ([`Bucket::list`],
/// [`Store::query`]). Pass back the `next` of one page to get the following
/// page. Only the adapter that issued a cursor understands it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a token issued by an adapter (or read back from a request that carried it).
    pub fn new(token: impl Into<String>) -> Self {
        Cursor(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every port can be held as a trait object: the backend is chosen at run time.
    #[test]
    fn ports_are_object_safe() {
        fn takes(
            _: Option<std::sync::Arc<dyn Bucket>>,
            _: Option<std::sync::Arc<dyn Queue>>,
            _: Option<std::sync::Arc<dyn Store>>,
            _: Option<std::sync::Arc<dyn Mailer>>,
            _: Option<std::sync::Arc<dyn Clock>>,
            _: Option<std::sync::Arc<dyn Lease>>,
        ) {
        }
        takes(None, None, None, None, None, None);
    }
}
