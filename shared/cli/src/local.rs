//! A working folder on one machine: the configuration and the local adapters under it.
//!
//! ```text
//! <dir>/ledgerpost.toml         the configuration (or --config FILE)
//! <dir>/data/bucket/inbox/      drop UBL files here
//! <dir>/data/bucket/archive/    originals of accepted files; attachments/ beside it
//! <dir>/data/bucket/rejected/   refused files, each with <name>.reason.txt
//! <dir>/data/outbox/            every e-mail sent, as an .eml file
//! <dir>/data/ledgerpost.db      the store and the queues (SQLite)
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use ledgerpost_domain::config::Config;
use ledgerpost_local::{LocalBackend, QueueSpec, SystemClock};
use ledgerpost_pipeline::{Pipeline, Ports, TokioSleeper, queues};
use ledgerpost_ports::Clock;

/// How many receives a message gets before it is set aside as a dead letter.
pub const MAX_RECEIVES: u32 = 5;

/// The configuration file name inside a working folder.
pub const CONFIG_FILE: &str = "ledgerpost.toml";

/// The pipeline on the local adapters of one working folder.
pub struct Workspace {
    pub dir: PathBuf,
    pub backend: LocalBackend,
    pub pipeline: Pipeline,
}

impl Workspace {
    /// Opens `dir` with its configuration (`config`, else `<dir>/ledgerpost.toml`), refused at
    /// once with the field named when it is wrong.
    pub fn open(dir: &Path, config: Option<&Path>) -> anyhow::Result<Self> {
        Self::open_with_clock(dir, config, Arc::new(SystemClock))
    }

    pub fn open_with_clock(dir: &Path, config: Option<&Path>, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let config_path = config.map(Path::to_path_buf).unwrap_or_else(|| dir.join(CONFIG_FILE));
        let text = std::fs::read_to_string(&config_path)
            .with_context(|| format!("cannot read the configuration {}", config_path.display()))?;
        let config =
            Config::from_toml_str(&text).with_context(|| format!("{} is refused", config_path.display()))?;
        let specs = queues::ALL.iter().map(|q| QueueSpec::new(*q, MAX_RECEIVES));
        let backend = LocalBackend::open(&dir.join("data"), clock.clone(), specs)
            .with_context(|| format!("cannot open the data folder under {}", dir.display()))?;
        let ports = Ports {
            bucket: backend.bucket.clone(),
            queue: backend.queue.clone(),
            store: backend.store.clone(),
            mailer: backend.mailer.clone(),
            clock,
            lease: backend.lease.clone(),
            sleeper: Arc::new(TokioSleeper),
        };
        let pipeline = Pipeline::new(ports, Arc::new(config));
        Ok(Workspace { dir: dir.to_path_buf(), backend, pipeline })
    }

    pub fn inbox(&self) -> PathBuf {
        self.backend.bucket.root().join("inbox")
    }

    pub fn rejected(&self) -> PathBuf {
        self.backend.bucket.root().join("rejected")
    }

    pub fn outbox(&self) -> PathBuf {
        self.backend.mailer.dir().to_path_buf()
    }
}
