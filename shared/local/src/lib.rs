//! # ledgerpost-local
//!
//! The one-machine adapters of the ports in `ledgerpost-ports`, so the whole pipeline runs in
//! one process with no AWS account:
//!
//! - [`FolderBucket`]: a folder as the bucket; keys are relative paths, writes are atomic
//!   (temporary file + rename), a move is a rename.
//! - [`SqliteDb`]: one SQLite file (WAL mode) shared by the next three, safe to open from
//!   several threads and several processes at once (`ledgerpost run` and `ledgerpost send`):
//!   - [`SqliteStore`]: the single-table item store; conditional writes are
//!     `UPDATE … WHERE version = ?`, a transaction is one SQLite transaction.
//!   - [`SqliteQueue`]: the queues, persisted in the same file so that separate processes see
//!     the same messages; visibility timeouts, receive counts and dead-letter lists as on SQS.
//!   - the lease: [`StoreLease`] (from the ports crate) on a [`SqliteStore`], see [`sqlite_lease`].
//! - [`OutboxMailer`]: each message becomes `<outbox>/<timestamp>-<id>.eml`; with the `smtp`
//!   feature it is also sent through an SMTP relay.
//! - [`SystemClock`] and [`FixedClock`], re-exported from the ports crate.
//!
//! [`LocalBackend::open`] builds all of them under one data folder.
//!
//! The adapters are plain synchronous code inside `async fn`s: each call does a little disk
//! I/O or one SQLite statement and returns, so they never hold an executor thread for long
//! and need no runtime of their own (no `spawn_blocking`). A SQLite connection is shared behind
//! a mutex; a call waits for the lock, then for SQLite's own file lock (busy timeout), which
//! is what makes several processes safe.

mod db;
mod folder;
mod ids;
mod lease;
mod outbox;
mod queue;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use db::SqliteDb;
pub use folder::FolderBucket;
pub use lease::sqlite_lease;
pub use ledgerpost_ports::{Clock, FixedClock, StoreLease, SystemClock};
pub use outbox::OutboxMailer;
#[cfg(feature = "smtp")]
pub use outbox::{SmtpConfig, SmtpSecurity};
pub use queue::{QueueSpec, SqliteQueue};
pub use store::SqliteStore;

/// Why a local adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot prepare {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot open the SQLite database {path}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("invalid local configuration: {0}")]
    Config(String),

    #[cfg(feature = "smtp")]
    #[error("invalid SMTP relay settings for {host}")]
    Smtp {
        host: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

impl LocalError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        LocalError::Io { path: path.to_owned(), source }
    }
}

/// All local adapters under one data folder:
///
/// ```text
/// <data>/bucket/         the bucket (inbox/, archive/, attachments/, rejected/, …)
/// <data>/ledgerpost.db   SQLite: items, queues, leases (plus its -wal and -shm files)
/// <data>/outbox/         sent e-mails as .eml files
/// ```
pub struct LocalBackend {
    pub bucket: Arc<FolderBucket>,
    pub db: SqliteDb,
    pub store: Arc<SqliteStore>,
    pub queue: Arc<SqliteQueue>,
    pub lease: Arc<StoreLease>,
    pub mailer: Arc<OutboxMailer>,
    pub clock: Arc<dyn Clock>,
}

impl LocalBackend {
    /// Name of the SQLite file inside the data folder.
    pub const DATABASE_FILE: &'static str = "ledgerpost.db";

    /// Opens (creating what is missing) the adapters under `data_dir`, with the given queues.
    pub fn open(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        queues: impl IntoIterator<Item = QueueSpec>,
    ) -> Result<Self, LocalError> {
        std::fs::create_dir_all(data_dir).map_err(|err| LocalError::io(data_dir, err))?;
        let bucket = Arc::new(FolderBucket::open(data_dir.join("bucket"))?);
        let db = SqliteDb::open(data_dir.join(Self::DATABASE_FILE))?;
        let store = Arc::new(SqliteStore::new(db.clone()));
        let queue = Arc::new(SqliteQueue::new(db.clone(), clock.clone(), queues)?);
        let lease = Arc::new(StoreLease::new(store.clone(), clock.clone()));
        let mailer = Arc::new(OutboxMailer::open(data_dir.join("outbox"), clock.clone())?);
        Ok(LocalBackend { bucket, db, store, queue, lease, mailer, clock })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ledgerpost_ports::{Bucket, Lease, Queue, Store};

    use super::*;

    #[tokio::test]
    async fn a_backend_opens_in_a_fresh_folder_and_again() {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let backend = LocalBackend::open(dir.path(), clock.clone(), [QueueSpec::new("ingest", 3)]).unwrap();
        let bucket: Arc<dyn Bucket> = backend.bucket.clone();
        let queue: Arc<dyn Queue> = backend.queue.clone();
        let _store: Arc<dyn Store> = backend.store.clone();
        let lease: Arc<dyn Lease> = backend.lease.clone();
        bucket.put(&"inbox/a.xml".parse().unwrap(), b"<a/>".to_vec(), "application/xml").await.unwrap();
        queue.send("ingest", "{}").await.unwrap();
        lease.acquire("send-batch", "run-1", Duration::from_secs(60)).await.unwrap();
        drop(backend);

        // GIVEN the same folder opened again (another process, later)
        let again = LocalBackend::open(dir.path(), clock, [QueueSpec::new("ingest", 3)]).unwrap();
        // THEN the object, the message and the lease are still there
        assert!(again.bucket.head(&"inbox/a.xml".parse().unwrap()).await.unwrap().is_some());
        assert_eq!(again.queue.receive("ingest", 10, Duration::from_secs(30)).await.unwrap().len(), 1);
        assert!(again.lease.acquire("send-batch", "run-2", Duration::from_secs(60)).await.is_err());
    }
}
