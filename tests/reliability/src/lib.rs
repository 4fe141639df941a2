//! # ledgerpost-reliability
//!
//! Test support for the reliability tests of ledgerpost, on one machine and against moto_server.
//! The tables of scenarios are the integration tests under `tests/`; this library holds what they
//! share:
//!
//! - [`harness`]: a pipeline on the local adapters in a temporary data folder, with a fixed clock
//!   and no sleeping; it can be restarted (a new backend and pipeline over the same folder, as a
//!   process that died and came back) and copied (a snapshot taken after some stages, so that a
//!   scenario starts there without running them again). Also the test configuration and the
//!   corpus files (the real UBL examples beside the repository).
//! - [`faults`]: ports that misbehave on purpose. [`faults::FaultPlan`] counts every call to the
//!   bucket, queue, store (and lease, built on that store) and mailer across a run, and on the
//!   Nth call panics (a crash: the process dies before the call), fails (nothing done) or does the
//!   call and then fails (the reply was lost). [`faults::ChaosQueue`] delivers every message twice
//!   and/or in another order; [`faults::GatedMailer`] holds a send run inside its first e-mail
//!   until the other run has returned, so that two runs really overlap.
//! - [`backend`]: where a scenario runs. A [`Backend`] is one deployment's resources as a
//!   process sees them (ports, restart, a second process, the e-mails handed over, what waits on
//!   a queue); a [`World`] makes fresh ones and copies. The local harness is one; the AWS
//!   adapters on moto_server are the other (in `tests/faults_on_moto.rs`, which has the AWS
//!   crates as dev-dependencies).
//! - [`scenarios`]: the fault scenarios written once over a [`World`], run as a table by
//!   [`scenarios::run_table`], which prints the summary line.
//! - [`audit`]: reads everything back after a scenario (the store through the pipeline's
//!   repository, the bucket, the e-mails handed over, the queues and the stored run reports) and
//!   checks the guarantees: stored once, journaled at most once, e-mailed at most once, nothing
//!   lost, and what cannot be decided reported "in doubt".
//!
//! The checks read state the way a person would check it (files in the outbox, objects in the
//! bucket), not only the pipeline's own bookkeeping, so a bug that keeps the bookkeeping
//! consistent but sends a second e-mail is still caught.

pub mod audit;
pub mod backend;
pub mod faults;
pub mod harness;
pub mod scenarios;

pub use audit::{Audit, Input, Poison};
pub use backend::{Backend, SentEmail, World};
pub use faults::{ChaosQueue, FaultPlan, GatedMailer, Mode, Order};
pub use harness::{Harness, LocalWorld, Snapshot, corpus, corpus_files};
