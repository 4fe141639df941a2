//! The send-batch function: invoked by the daily EventBridge schedule (a "Scheduled Event") or
//! by hand with `{"administration": "…"?, "dry_run": true|false?}` (both optional; `{}` is a
//! full run of every administration, like the schedule). The answer is the run's counts; the
//! full report is mailed and stored by the pipeline as usual.
//!
//! A failure is typed ([`SendBatchFailure`], tagged `error`): a payload that is neither shape,
//! an unknown administration, another run holding the lease (the caps hold across runs, so the
//! second run does not send), or the run stopping on a backend error. An invoked function that
//! returns an error is retried by Lambda for asynchronous invocations (the schedule); that is
//! safe, since a run sends a document at most once.

use chrono::{DateTime, Utc};
use ledgerpost_domain::ids::AdministrationId;
use ledgerpost_export::report::Totals;
use ledgerpost_export::{Journal, RunReport};
use ledgerpost_pipeline::Pipeline;
use ledgerpost_pipeline::send::{SendError, SendOptions};
use ledgerpost_ports::Retryable;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;

/// What a send-batch invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendBatchRequest {
    /// The EventBridge schedule: every administration, for real.
    Scheduled {
        /// The schedule rule that fired (its ARN), for the log.
        rule: Option<String>,
        time: Option<DateTime<Utc>>,
    },
    /// By hand.
    Manual(ManualSend),
}

/// The manual payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualSend {
    /// Only this administration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administration: Option<String>,
    /// Select and report only: nothing is claimed, sent or stored.
    #[serde(default)]
    pub dry_run: bool,
}

/// What started the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
}

impl SendBatchRequest {
    /// Reads an invocation payload: an EventBridge event (it has `detail-type`) or the manual
    /// shape; `null` counts as `{}`.
    pub fn parse(payload: Value) -> Result<Self, SendBatchFailure> {
        if payload.is_null() {
            return Ok(SendBatchRequest::Manual(ManualSend::default()));
        }
        if !payload.is_object() {
            return Err(SendBatchFailure::bad_request(format!(
                "expected a JSON object ({{\"administration\": \"…\"?, \"dry_run\": true|false?}} or a scheduled event), not {}",
                crate::excerpt(&payload)
            )));
        }
        if payload.get("detail-type").is_some() {
            let event: EventBridgeEvent = serde_path_to_error::deserialize(payload)
                .map_err(|e| SendBatchFailure::bad_request(format!("an EventBridge event, but {e}")))?;
            if event.detail_type != "Scheduled Event" {
                return Err(SendBatchFailure::bad_request(format!(
                    "an EventBridge event of type {:?} from {:?}; send-batch runs on \"Scheduled Event\" only",
                    event.detail_type, event.source
                )));
            }
            let rule = event.resources.and_then(|r| r.into_iter().next());
            return Ok(SendBatchRequest::Scheduled { rule, time: event.time });
        }
        let manual: ManualSend = serde_path_to_error::deserialize(payload).map_err(|e| {
            SendBatchFailure::bad_request(format!(
                "expected {{\"administration\": \"…\"?, \"dry_run\": true|false?}} or a scheduled event: {e}"
            ))
        })?;
        Ok(SendBatchRequest::Manual(manual))
    }

    pub fn trigger(&self) -> Trigger {
        match self {
            SendBatchRequest::Scheduled { .. } => Trigger::Schedule,
            SendBatchRequest::Manual(_) => Trigger::Manual,
        }
    }

    /// The pipeline's options; an administration id that cannot be one is refused here.
    pub fn options(&self) -> Result<SendOptions, SendBatchFailure> {
        match self {
            SendBatchRequest::Scheduled { .. } => Ok(SendOptions::default()),
            SendBatchRequest::Manual(manual) => {
                let administration = manual
                    .administration
                    .as_deref()
                    .map(AdministrationId::parse)
                    .transpose()
                    .map_err(|e| SendBatchFailure::bad_request(format!("administration: {e}")))?;
                Ok(SendOptions { dry_run: manual.dry_run, administration })
            }
        }
    }
}

/// The answer of a run: its counts (the report itself is mailed and stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendBatchSummary {
    pub run_id: String,
    pub trigger: Trigger,
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administration: Option<String>,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub totals: Totals,
    /// Errors, batches in doubt or rejected files: a person should read the report.
    pub needs_attention: bool,
    /// Per administration and journal, the journals where something happened or waits.
    pub journals: Vec<JournalCounts>,
    /// Failures not tied to one document.
    pub errors: Vec<String>,
}

/// The counts of one journal of one administration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalCounts {
    pub administration: String,
    pub journal: Journal,
    pub emails_sent: u32,
    pub documents_sent: u32,
    pub waiting_for_cap: u32,
    pub skipped: u64,
    pub errors: u64,
    pub in_doubt_batches: u64,
}

impl SendBatchSummary {
    pub fn new(trigger: Trigger, report: &RunReport) -> Self {
        let totals = report.totals();
        let journals = report
            .administrations
            .iter()
            .flat_map(|a| {
                a.journals.iter().filter(|j| !j.is_empty()).map(|j| JournalCounts {
                    administration: a.id.clone(),
                    journal: j.journal,
                    emails_sent: j.emails_sent,
                    documents_sent: j.documents_sent,
                    waiting_for_cap: j.waiting_for_cap,
                    skipped: j.plain_skips().count() as u64,
                    errors: j.error_count(),
                    in_doubt_batches: j.in_doubt.len() as u64,
                })
            })
            .collect();
        SendBatchSummary {
            run_id: report.run_id.clone(),
            trigger,
            dry_run: report.dry_run,
            administration: report.administration_filter.clone(),
            started: report.started,
            finished: report.finished,
            totals,
            needs_attention: totals.needs_attention(),
            journals,
            errors: report.errors.clone(),
        }
    }
}

/// Why a run did not take place (or stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct SendBatchFailure {
    #[serde(flatten)]
    pub kind: SendBatchFailureKind,
    /// For people.
    pub message: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
}

/// The kinds of [`SendBatchFailure`], tagged `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum SendBatchFailureKind {
    /// The payload is neither a scheduled event nor the manual shape.
    BadRequest,
    UnknownAdministration {
        administration: String,
    },
    /// Another run holds the lease until then.
    Overlap {
        by: String,
        until: DateTime<Utc>,
    },
    /// A backend was briefly unavailable.
    Unavailable,
    /// Anything else: the log has the details.
    Failed,
}

impl SendBatchFailure {
    fn bad_request(message: String) -> Self {
        SendBatchFailure { kind: SendBatchFailureKind::BadRequest, message, retryable: false }
    }

    /// The tag, as `errorType` of the Lambda error.
    pub fn tag(&self) -> &'static str {
        match self.kind {
            SendBatchFailureKind::BadRequest => "bad_request",
            SendBatchFailureKind::UnknownAdministration { .. } => "unknown_administration",
            SendBatchFailureKind::Overlap { .. } => "overlap",
            SendBatchFailureKind::Unavailable => "unavailable",
            SendBatchFailureKind::Failed => "failed",
        }
    }
}

impl From<SendError> for SendBatchFailure {
    fn from(e: SendError) -> Self {
        let message = e.to_string();
        let (kind, retryable) = match e {
            SendError::Overlap { by, until } => (SendBatchFailureKind::Overlap { by, until }, true),
            SendError::UnknownAdministration(id) => {
                (SendBatchFailureKind::UnknownAdministration { administration: id.to_string() }, false)
            }
            SendError::Lease(e) if e.is_retryable() => (SendBatchFailureKind::Unavailable, true),
            SendError::Stage(e) if e.is_retryable() => (SendBatchFailureKind::Unavailable, true),
            SendError::Lease(_) | SendError::Stage(_) => (SendBatchFailureKind::Failed, false),
        };
        SendBatchFailure { kind, message, retryable }
    }
}

impl From<SendBatchFailure> for lambda_runtime::Diagnostic {
    fn from(failure: SendBatchFailure) -> Self {
        crate::diagnostic(failure.tag(), &failure, &failure)
    }
}

/// The send-batch function: reads the payload, runs send-batch once, answers with the counts.
pub async fn send_batch(pipeline: &Pipeline, payload: Value) -> Result<SendBatchSummary, SendBatchFailure> {
    let request = SendBatchRequest::parse(payload).inspect_err(|e| tracing::error!(error = %e, "refused"))?;
    let options = request.options().inspect_err(|e| tracing::error!(error = %e, "refused"))?;
    let span = tracing::info_span!(
        "send_batch",
        trigger = ?request.trigger(),
        dry_run = options.dry_run,
        administration = options.administration.as_ref().map(|a| a.as_str()),
    );
    async {
        if let SendBatchRequest::Scheduled { rule, time } = &request {
            tracing::info!(rule = rule.as_deref(), time = ?time, "scheduled run");
        }
        match pipeline.send_batch(options).await {
            Ok(report) => {
                let summary = SendBatchSummary::new(request.trigger(), &report);
                tracing::info!(
                    run_id = %summary.run_id,
                    emails_sent = summary.totals.emails_sent,
                    documents_sent = summary.totals.documents_sent,
                    waiting_for_cap = summary.totals.waiting_for_cap,
                    errors = summary.totals.errors,
                    in_doubt_batches = summary.totals.in_doubt_batches,
                    needs_attention = summary.needs_attention,
                    "run finished"
                );
                Ok(summary)
            }
            Err(e) => {
                let failure = SendBatchFailure::from(e);
                tracing::error!(error = %failure, retryable = failure.retryable, "run did not take place");
                Err(failure)
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_scheduled_event_and_manual_payloads_are_told_apart() {
        let scheduled = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2025-03-03T05:00:00Z",
            "region": "eu-west-1", "resources": ["arn:aws:events:eu-west-1:123456789012:rule/daily"], "detail": {}
        });
        let request = SendBatchRequest::parse(scheduled).unwrap();
        assert_eq!(request.trigger(), Trigger::Schedule);
        assert_eq!(request.options().unwrap(), SendOptions::default());

        let manual = SendBatchRequest::parse(json!({"administration": "acme-bv", "dry_run": true})).unwrap();
        let options = manual.options().unwrap();
        assert!(options.dry_run);
        assert_eq!(options.administration.unwrap().as_str(), "acme-bv");
        for empty in [json!({}), Value::Null] {
            let request = SendBatchRequest::parse(empty).unwrap();
            assert_eq!(request, SendBatchRequest::Manual(ManualSend::default()));
            assert_eq!(request.options().unwrap(), SendOptions::default());
        }
    }

    #[test]
    fn other_payloads_are_bad_requests_that_say_why() {
        let cases = [
            (json!({"dry_run": "yes"}), "dry_run"),
            (json!({"administration": "acme-bv", "dryrun": true}), "dryrun"),
            (json!(["x"]), "expected"),
            (json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {}}), "Scheduled Event"),
        ];
        for (payload, says) in cases {
            let failure = SendBatchRequest::parse(payload.clone()).unwrap_err();
            assert_eq!(failure.kind, SendBatchFailureKind::BadRequest, "{payload}");
            assert!(failure.message.contains(says), "{payload}: {}", failure.message);
        }
        let bad_id =
            SendBatchRequest::parse(json!({"administration": "../x"})).unwrap().options().unwrap_err();
        assert_eq!(bad_id.tag(), "bad_request");
        assert!(bad_id.message.starts_with("administration: "), "{}", bad_id.message);
    }

    #[test]
    fn failures_serialise_tagged_and_become_diagnostics() {
        let until = "2025-03-03T05:15:00Z".parse().unwrap();
        let failure = SendBatchFailure::from(SendError::Overlap { by: "run-1".into(), until });
        let value = serde_json::to_value(&failure).unwrap();
        assert_eq!(value["error"], "overlap");
        assert_eq!(value["by"], "run-1");
        assert_eq!(value["retryable"], true);
        assert!(value["message"].as_str().unwrap().contains("run-1"));
        let back: SendBatchFailure = serde_json::from_value(value).unwrap();
        assert_eq!(back, failure);
        let diagnostic = lambda_runtime::Diagnostic::from(failure);
        assert_eq!(diagnostic.error_type, "overlap");
        assert!(diagnostic.error_message.starts_with('{'));
    }
}
