//! Messages to stages: [`Pipeline::handle`] runs the stage a queue feeds on one message body (the
//! Lambda handlers call it per SQS record and report the failed ones), and [`Pipeline::drain`]
//! receives and handles until every queue is empty (one machine, and the tests, with no timer).
//!
//! A message is deleted only when its stage succeeded. A failed one stays: it comes back after
//! its visibility timeout, and after the queue's receive limit it becomes a dead letter, which
//! the next report lists.

use std::time::Duration;

use ledgerpost_ports::{ObjectKey, QueueError, Retryable};
use serde::Serialize;
use tracing::Instrument;

use crate::error::StageError;
use crate::ingest::{INBOX, IngestOutcome};
use crate::messages::{IngestMessage, InvoiceMessage, ingest_keys};
use crate::{Pipeline, queues};

/// Inbox objects listed per page by [`Pipeline::enqueue_inbox`] (S3 returns at most 1,000).
const INBOX_PAGE: usize = 1000;

/// What one message came to, in a few words (for logs and the local runner).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handled {
    pub queue: String,
    pub summary: String,
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrainStats {
    pub handled: Vec<Handled>,
    /// Deliveries that failed and were left on their queue, with the error.
    pub failures: Vec<Handled>,
}

impl Pipeline {
    /// Runs the stage of `queue` on one message body.
    pub async fn handle(&self, queue: &str, body: &str) -> Result<String, StageError> {
        match queue {
            queues::INGEST => {
                let mut summaries = Vec::new();
                for key in ingest_keys(body)? {
                    let outcome = self.ingest(&key).await?;
                    summaries.push(match outcome {
                        IngestOutcome::Accepted { invoices } => {
                            format!(
                                "{key}: stored {}",
                                invoices.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ")
                            )
                        }
                        IngestOutcome::MasterData { what } => format!("{key}: {what}"),
                        IngestOutcome::Rejected { rejected_key, reason } => {
                            format!("{key}: rejected to {rejected_key}: {reason}")
                        }
                        IngestOutcome::AlreadyDone => format!("{key}: done before"),
                        IngestOutcome::Ignored { why } => format!("{key}: ignored: {why}"),
                    });
                }
                Ok(summaries.join("; "))
            }
            queues::MATCH => {
                let message = InvoiceMessage::parse(body)?;
                let outcome = self.match_lines(&message.invoice).await?;
                Ok(format!("{}: {outcome:?}", message.invoice))
            }
            queues::JOURNAL => {
                let message = InvoiceMessage::parse(body)?;
                let outcome = self.journal(&message.invoice, message.posting_date).await?;
                Ok(format!("{}: {outcome:?}", message.invoice))
            }
            other => Err(StageError::BadMessage(format!("no stage reads queue {other:?}"))),
        }
    }

    /// Receives and handles messages of every stage queue until none is visible. With a zero
    /// `visibility`, a failing message is received again at once, until its receive limit makes
    /// it a dead letter, so the drain always ends.
    pub async fn drain(&self, visibility: Duration) -> Result<DrainStats, QueueError> {
        self.drain_observed(visibility, &mut |_| {}).await
    }

    /// [`Pipeline::drain`], telling `observe` about each message as it is handled (or fails), so
    /// a command can show progress without the pipeline knowing about terminals.
    pub async fn drain_observed(
        &self,
        visibility: Duration,
        observe: &mut (dyn FnMut(&Handled) + Send),
    ) -> Result<DrainStats, QueueError> {
        let mut stats = DrainStats::default();
        loop {
            let mut any = false;
            for queue in queues::ALL {
                let messages = self
                    .ports()
                    .queue
                    .receive(queue, ledgerpost_ports::queue::MAX_RECEIVE_BATCH, visibility)
                    .await?;
                for message in messages {
                    any = true;
                    let span = tracing::info_span!("message", queue, message_id = %message.id);
                    match self.handle(queue, &message.body).instrument(span).await {
                        Ok(summary) => {
                            self.ports().queue.delete(queue, &message.receipt).await?;
                            let handled = Handled { queue: queue.to_owned(), summary };
                            observe(&handled);
                            stats.handled.push(handled);
                        }
                        Err(e) => {
                            let retry = if e.is_retryable() { "will be retried" } else { "will not succeed" };
                            tracing::warn!(error = %e, receive_count = message.receive_count, "message failed; {retry}");
                            let failed =
                                Handled { queue: queue.to_owned(), summary: format!("{e} ({retry})") };
                            observe(&failed);
                            stats.failures.push(failed);
                        }
                    }
                }
            }
            if !any {
                return Ok(stats);
            }
        }
    }

    /// Sends an ingest message for every object in `inbox/` (the local runner's stand-in for S3
    /// notifications). Returns how many.
    pub async fn enqueue_inbox(&self) -> Result<usize, StageError> {
        let mut after = None;
        let mut count = 0;
        loop {
            // Large pages: the folder bucket reads the whole folder for each page.
            let page = self.ports().bucket.list(INBOX, after.as_ref(), INBOX_PAGE).await?;
            for object in &page.objects {
                self.enqueue_ingest(&object.key).await?;
                count += 1;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(count),
            }
        }
    }

    /// Sends the ingest message for one object.
    pub async fn enqueue_ingest(&self, key: &ObjectKey) -> Result<(), StageError> {
        let body = serde_json::to_string(&IngestMessage { key: key.as_str().to_owned() })
            .map_err(|e| StageError::Unexpected(e.into()))?;
        self.ports().queue.send(queues::INGEST, &body).await?;
        Ok(())
    }
}
