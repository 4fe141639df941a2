//! The SQLite file shared by the store, the queues and the leases.
//!
//! One connection per [`SqliteDb`] value (clones share it behind a mutex). Several values, in
//! one process or several, may open the same file: WAL mode lets readers run beside the one
//! writer, every write runs in a transaction that takes the write lock first (`BEGIN
//! IMMEDIATE`, or a single statement), and a busy timeout makes a second writer wait instead of
//! failing. A write still blocked after the timeout is reported as `Unavailable` (retryable).
//!
//! Schema (version 2, in `PRAGMA user_version`):
//!
//! ```text
//! items(pk, sk, version, body, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk)
//!     primary key (pk, sk); body is the item's JSON text;
//!     items_gsiN on (gsiNpk, gsiNsk, pk, sk) where gsiNpk is not null: the sparse indexes
//! queue_messages(seq, queue, body, sent_at, visible_at, receive_count, dead_at)
//!     times in milliseconds since 1970; dead_at is set once the message is a dead letter
//! ```

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::LocalError;

/// How long a write waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA_VERSION: i64 = 2;

/// From version 1: a receive walks a queue in `seq` order and stops after a few messages; the
/// version 1 index on (queue, visible_at, seq) made it read and sort every waiting message of
/// the queue instead, for every receive.
const MIGRATE_TO_2: &str = "DROP INDEX IF EXISTS queue_ready;";

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;
/// SQLite's page cache per connection, in KiB as a negative number (SQLite's convention).
const CACHE_KIB: i64 = -16 * 1024;
/// WAL pages (4 KiB) written before an automatic checkpoint (SQLite's default is 1,000).
const WAL_CHECKPOINT_PAGES: i64 = 8192;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    gsi2pk TEXT,
    gsi2sk TEXT,
    gsi3pk TEXT,
    gsi3sk TEXT,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi3 ON items (gsi3pk, gsi3sk, pk, sk) WHERE gsi3pk IS NOT NULL;

CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    dead_at INTEGER
);
CREATE INDEX IF NOT EXISTS queue_pending ON queue_messages (queue, seq) WHERE dead_at IS NULL;
CREATE INDEX IF NOT EXISTS queue_dead ON queue_messages (queue, visible_at, seq) WHERE dead_at IS NOT NULL;
";

/// A SQLite database file (or an in-memory database) holding the local store, queues and leases.
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb").finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Opens or creates the database file and its tables.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LocalError> {
        let path = path.as_ref();
        let failed = |source| LocalError::Sqlite { path: path.display().to_string(), source };
        let conn = Connection::open(path).map_err(failed)?;
        Self::init(conn).map_err(failed)
    }

    /// A private database that lives as long as this value and its clones (tests, dry runs).
    pub fn open_in_memory() -> Result<Self, LocalError> {
        let failed = |source| LocalError::Sqlite { path: ":memory:".into(), source };
        let conn = Connection::open_in_memory().map_err(failed)?;
        Self::init(conn).map_err(failed)
    }

    fn init(mut conn: Connection) -> rusqlite::Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Returns the mode in force: "wal" for a file, "memory" for an in-memory database.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        // With WAL, NORMAL loses at most the last transactions on power loss, never consistency.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Every statement is prepared through the cache; queries vary (index, prefix, cursor,
        // direction), so keep more than rusqlite's default of 16.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // The query planner stability guarantee: a statement's plan does not depend on the values
        // bound to it. Without it, statements with a range or a LIMIT on a parameter were
        // prepared again on every run (the bundled SQLite has STAT4), which cost more than the
        // query. The plans are fixed by the indexes anyway (see the store's plan test).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // Room for the hot pages (indexes, recent items) so reads come from memory, and a larger
        // WAL between checkpoints (each checkpoint flushes to disk twice).
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version < SCHEMA_VERSION {
            if version == 1 {
                tx.execute_batch(MIGRATE_TO_2)?;
            }
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        tx.commit()?;
        Ok(SqliteDb { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` on the connection. A panic in an earlier call cannot leave a transaction open
    /// (rusqlite rolls back on drop), so a poisoned lock is safe to take over.
    pub(crate) fn with<T, E>(&self, f: impl FnOnce(&mut Connection) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn)
    }
}

/// Whether SQLite gave up waiting for a lock: retrying later may work.
pub(crate) fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _) if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_twice_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let first = SqliteDb::open(&path).unwrap();
        let second = SqliteDb::open(&path).unwrap();
        for db in [first, second] {
            let mode: String = db.with(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0))).unwrap();
            assert_eq!(mode, "wal");
            let version: i64 = db.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0))).unwrap();
            assert_eq!(version, SCHEMA_VERSION);
        }
    }
}
