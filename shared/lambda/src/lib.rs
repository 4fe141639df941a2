//! # ledgerpost-lambda
//!
//! The Lambda edge of ledgerpost: what each function does with the event it is invoked with. The
//! handlers are plain async functions over a [`Pipeline`], so the tests call them with events
//! built in the test (or read from `events/`) on a pipeline over the local adapters, and the
//! function binaries (`functions/<stage>`) call the same functions on a pipeline over the AWS
//! adapters. A tour:
//!
//! - [`sqs`]: the three queue consumers, [`ingest`], [`match_lines`] and [`journal`]. Each
//!   record of a batch is handled on its own, in its own span, and the answer is an
//!   [`SqsBatchResponse`] listing exactly the records that failed: a retryable failure comes back
//!   after the visibility timeout, and so does a permanent one (a poison message), until the
//!   queue's `maxReceiveCount` moves it to the dead-letter queue, where the next report lists it.
//!   Nothing that failed is acknowledged.
//! - [`send_batch`](mod@send_batch): the daily EventBridge schedule or a manual
//!   `{"administration": …, "dry_run": …}`, answered with the run's counts.
//! - [`actions`](mod@actions): the manual actions, one tagged JSON request in, one tagged JSON
//!   result or typed error out.
//! - [`startup`]: reading the configuration object once at start-up, refused with the field named;
//!   with the `aws` feature, [`aws`] builds the pipeline over the AWS adapters.
//! - [`logging`]: [`init_tracing`], JSON in Lambda, quiet in tests.
//!
//! Errors at this edge are mapped once: for the queues, to "report the message as failed"
//! (whether or not a retry can help, only the log line differs); for the invoked functions, to a
//! [`lambda_runtime::Diagnostic`] whose type is the failure's tag and whose message is the typed
//! failure as JSON.

pub mod actions;
#[cfg(feature = "aws")]
pub mod aws;
pub mod logging;
pub mod send_batch;
pub mod sqs;
pub mod startup;

pub use actions::{ActionFailure, ActionRequest, ActionResponse, actions};
pub use aws_lambda_events::event::eventbridge::EventBridgeEvent;
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
pub use ledgerpost_pipeline::Pipeline;
pub use ledgerpost_pipeline::process::tune_allocator;
pub use logging::init_tracing;
pub use send_batch::{SendBatchFailure, SendBatchRequest, SendBatchSummary, send_batch};
pub use sqs::{ingest, journal, match_lines};
pub use startup::StartupError;

/// A typed failure as the Lambda runtime reports it: `errorType` is the failure's tag,
/// `errorMessage` the failure as JSON (its `message` field is for people).
fn diagnostic(
    kind: &str,
    failure: &impl serde::Serialize,
    display: &dyn std::fmt::Display,
) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: kind.to_owned(),
        error_message: serde_json::to_string(failure).unwrap_or_else(|_| display.to_string()),
    }
}

/// The start of a payload, for an error message.
fn excerpt(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
