//! Where a scenario runs, so that the same scenarios and the same audit run on the local
//! adapters (a data folder, SQLite, the `.eml` outbox) and on the AWS adapters (S3, SQS,
//! DynamoDB and SES on moto_server, in `tests/faults_on_moto.rs`).
//!
//! - A [`Backend`] is one deployment's resources as one process sees them: its plain ports, a
//!   restart (new adapters, or new SDK clients, over the same resources: what a process that
//!   died finds when it comes back), a second process, and what a person would read back: the
//!   e-mails that were handed over (the outbox files, or what SES was given) and the messages
//!   still waiting on a queue. Objects are listed through the bucket port itself.
//! - A [`World`] makes fresh backends and, where it can, copies of a prepared one. A data
//!   folder can be copied; moto's resources cannot, so there [`World::snapshot`] gives them back
//!   and the scenarios run the preparation again in fresh resources for every copy.

use std::sync::Arc;

use async_trait::async_trait;
use ledgerpost_domain::config::Config;
use ledgerpost_pipeline::{Pipeline, Ports};
use ledgerpost_ports::FixedClock;

/// One e-mail as it left the mailer port.
#[derive(Debug, Clone)]
pub struct SentEmail {
    /// Where it is kept (a file name, an SES message id), for the audit's messages.
    pub label: String,
    /// The envelope recipients (which may differ from the `To:` header).
    pub envelope_to: Vec<String>,
    /// The message as handed over.
    pub raw: Vec<u8>,
}

/// One deployment's resources, as one process sees them.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The scenario's clock (the pipeline's "now"; on SQS, visibility timeouts run on real time).
    fn clock(&self) -> &Arc<FixedClock>;

    fn config(&self) -> &Arc<Config>;

    /// The plain ports of the running process.
    fn ports(&self) -> Ports;

    /// A pipeline on the plain ports.
    fn pipeline(&self) -> Pipeline {
        self.pipeline_on(self.ports())
    }

    /// A pipeline on other ports (wrapped ones), with this backend's configuration.
    fn pipeline_on(&self, ports: Ports) -> Pipeline {
        Pipeline::new(ports, self.config().clone())
    }

    /// Drops the adapters and opens new ones over the same resources: a process that died and
    /// started again. Only what reached the resources is left.
    async fn restart(&mut self);

    /// The ports of another process over the same resources (adapters of its own).
    async fn second_process(&self) -> Ports;

    /// Every e-mail handed over so far, oldest first.
    async fn sent_emails(&self) -> Vec<SentEmail>;

    /// The bodies of the messages visible on a stage queue now.
    async fn waiting(&self, queue: &str) -> Vec<String>;
}

/// Makes backends: fresh ones, and copies of a prepared one where that is possible.
#[async_trait]
pub trait World: Send + Sync + 'static {
    type Env: Backend + 'static;
    type Snapshot: Send + Sync + 'static;

    /// Empty resources with `config`; a message becomes a dead letter after `max_receives`.
    async fn fresh(&self, config: &str, max_receives: u32) -> Self::Env;

    /// Keeps the state of `env` to start copies from; gives `env` back when this world cannot
    /// copy state (the caller then prepares every copy again).
    async fn snapshot(&self, env: Self::Env) -> Result<Self::Snapshot, Self::Env>;

    /// A copy of a snapshot, opened.
    async fn open_copy(&self, snapshot: &Self::Snapshot) -> Self::Env;

    /// How many scenario runs of a table row may run at the same time.
    fn parallel_runs(&self) -> usize;
}
