//! The SQS consumers: ingest, match-lines and journal. One record at a time, in order, each in
//! its own span; the answer lists the records that failed, and only those (partial batch
//! failure; the event sources set `ReportBatchItemFailures`).
//!
//! Every failure is reported, retryable or not:
//! - a retryable one (throttling, a race, a backend briefly away) succeeds on a later delivery;
//! - a permanent one (a body that is not a message, an invoice that does not exist, a stored item
//!   that cannot be read) fails the same way each time, and the queue's `maxReceiveCount` moves
//!   it to the dead-letter queue after those tries; the report lists it there. Acknowledging it
//!   instead would lose it without a trace.
//!
//! The two differ only in the log line (`warn` with "will be retried", `error` with "poison").
//! Expected outcomes (a file rejected, an invoice waiting for a person) are successes: the
//! stage did its work. The stages are idempotent, so a redelivered message is harmless.
//!
//! Records are handled one after the other rather than concurrently: a batch is at most ten
//! messages, the stages write conditionally on what they read, and a failure of one record
//! then never depends on another record of the same batch.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ledgerpost_pipeline::ingest::IngestOutcome;
use ledgerpost_pipeline::messages::{InvoiceMessage, ingest_keys};
use ledgerpost_pipeline::{Pipeline, StageError, queues};
use ledgerpost_ports::Retryable;
use tracing::Instrument;
use tracing::field::Empty;

/// The ingest function: each record body is an S3 `ObjectCreated` notification (or S3's
/// `s3:TestEvent`, acknowledged without work, or the `{"key": "inbox/…"}` that a manual
/// re-ingest sends); the ingest stage runs once per object key. Keys outside `inbox/` are left
/// alone (the stage says so in the log).
pub async fn ingest(pipeline: &Pipeline, event: SqsEvent) -> SqsBatchResponse {
    consume::<Ingest>(pipeline, event).await
}

/// The match-lines function: each record body is an `{"invoice": …}` message of the match queue.
pub async fn match_lines(pipeline: &Pipeline, event: SqsEvent) -> SqsBatchResponse {
    consume::<Match>(pipeline, event).await
}

/// The journal function: each record body is an `{"invoice": …, "posting_date"?: …}` message of
/// the journal queue.
pub async fn journal(pipeline: &Pipeline, event: SqsEvent) -> SqsBatchResponse {
    consume::<Journal>(pipeline, event).await
}

/// One stage as a queue consumer. Each handler is generic over its stage (no `match` over all
/// three), so a function binary links only the stage it runs (the match and journal binaries
/// are about 1.5 MB smaller than the ingest one).
trait Stage {
    const QUEUE: &'static str;

    /// Runs the stage on one body; the summary is for the log.
    async fn run(pipeline: &Pipeline, body: &str) -> Result<String, StageError>;
}

struct Ingest;
struct Match;
struct Journal;

impl Stage for Ingest {
    const QUEUE: &'static str = queues::INGEST;

    async fn run(pipeline: &Pipeline, body: &str) -> Result<String, StageError> {
        ingest_body(pipeline, body).await
    }
}

impl Stage for Match {
    const QUEUE: &'static str = queues::MATCH;

    async fn run(pipeline: &Pipeline, body: &str) -> Result<String, StageError> {
        let message = InvoiceMessage::parse(body)?;
        tracing::Span::current().record("invoice_id", message.invoice.as_str());
        let outcome = pipeline.match_lines(&message.invoice).await?;
        Ok(format!("{outcome:?}"))
    }
}

impl Stage for Journal {
    const QUEUE: &'static str = queues::JOURNAL;

    async fn run(pipeline: &Pipeline, body: &str) -> Result<String, StageError> {
        let message = InvoiceMessage::parse(body)?;
        tracing::Span::current().record("invoice_id", message.invoice.as_str());
        let outcome = pipeline.journal(&message.invoice, message.posting_date).await?;
        Ok(format!("{outcome:?}"))
    }
}

/// The keys of one ingest message (the pipeline's parser: it reads S3 notifications, the test
/// event and the plain `{"key": …}` of a re-ingest), each through the ingest stage.
async fn ingest_body(pipeline: &Pipeline, body: &str) -> Result<String, StageError> {
    let keys = ingest_keys(body)?;
    if keys.is_empty() {
        return Ok("no object named (the S3 test event): nothing to do".to_owned());
    }
    let span = tracing::Span::current();
    span.record("key", keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "));
    let mut summaries = Vec::with_capacity(keys.len());
    let mut invoices = Vec::new();
    for key in &keys {
        let summary = match pipeline.ingest(key).await? {
            IngestOutcome::Accepted { invoices: stored } => {
                let ids: Vec<&str> = stored.iter().map(|i| i.as_str()).collect();
                let summary = format!("{key}: stored {}", ids.join(", "));
                invoices.extend(ids.into_iter().map(str::to_owned));
                summary
            }
            IngestOutcome::MasterData { what } => format!("{key}: {what}"),
            IngestOutcome::Rejected { rejected_key, reason } => {
                format!("{key}: rejected to {rejected_key}: {reason}")
            }
            IngestOutcome::AlreadyDone => format!("{key}: done by an earlier delivery"),
            IngestOutcome::Ignored { why } => format!("{key}: ignored: {why}"),
        };
        summaries.push(summary);
    }
    if !invoices.is_empty() {
        span.record("invoice_id", invoices.join(", "));
    }
    Ok(summaries.join("; "))
}

/// Handles every record of `event` and lists the failed ones.
async fn consume<S: Stage>(pipeline: &Pipeline, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let total = event.records.len();
    for record in &event.records {
        if !handle_record::<S>(pipeline, record).await {
            // Lambda takes an empty identifier as "the whole batch failed": a failed record without
            // a message id (which SQS never sends) is retried with the rest rather than lost.
            if record.message_id.is_none() {
                tracing::error!(
                    "a failed SQS record has no message id: the whole batch is reported as failed"
                );
            }
            response.add_failure(record.message_id.clone().unwrap_or_default());
        }
    }
    let failed = response.batch_item_failures.len();
    if failed > 0 {
        tracing::warn!(queue = S::QUEUE, messages = total, failed, "batch handled with failures");
    } else {
        tracing::info!(queue = S::QUEUE, messages = total, "batch handled");
    }
    response
}

/// Handles one record in its span; `true` when it may be acknowledged.
async fn handle_record<S: Stage>(pipeline: &Pipeline, record: &SqsMessage) -> bool {
    let message_id = record.message_id.as_deref().unwrap_or("");
    let receive_count = record.attributes.get("ApproximateReceiveCount").map(String::as_str).unwrap_or("");
    let span = tracing::info_span!(
        "message",
        queue = S::QUEUE,
        message_id,
        receive_count,
        invoice_id = Empty,
        key = Empty,
    );
    async {
        let result = match record.body.as_deref() {
            Some(body) => S::run(pipeline, body).await,
            None => Err(StageError::BadMessage("the SQS record has no body".to_owned())),
        };
        match result {
            Ok(summary) => {
                tracing::info!(%summary, "message handled");
                true
            }
            Err(error) if error.is_retryable() => {
                tracing::warn!(error = %error, "message failed; it will be retried");
                false
            }
            Err(error) => {
                tracing::error!(error = %error, "poison message: reported failed until it is dead-lettered");
                false
            }
        }
    }
    .instrument(span)
    .await
}
