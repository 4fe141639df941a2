//! Unique ids and atomic file writes, shared by the folder bucket and the outbox.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// An id unique across the threads and processes of this machine: wall-clock nanoseconds,
/// process id and a per-process counter, in hex. Uses the machine's clock on purpose, not the
/// injected one: a fixed test clock would otherwise repeat ids.
pub(crate) fn unique_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{:x}-{count:x}", nanos & u128::from(u64::MAX), std::process::id())
}

/// Writes `bytes` to `dest` so that readers see either the old file or the whole new one: a
/// temporary file in `tmp_dir` (same file system as `dest`), then renamed.
///
/// Not flushed to disk (no fsync): once renamed, the file survives this process crashing at any
/// point, the same guarantee the SQLite file gives with `synchronous = NORMAL` (a power cut may
/// lose the last moments of either). A flush per object cost about 1.4 ms of waiting each, more
/// than everything else ingest does per invoice.
pub(crate) fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_dir.join(format!(".{}.tmp", unique_id()));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        drop(file);
        fs::rename(&tmp, dest)
    })();
    if written.is_err() {
        // Best effort: the temporary file is never visible under a key anyway.
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_do_not_repeat() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| unique_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
