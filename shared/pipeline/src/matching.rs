//! The match stage: the lines of a purchase invoice or credit note against the administration's
//! goods receipts, obligations and the supplier's text rules (the domain's `match_invoice`, with
//! the supplier's purchase profile), then on to the journal queue when every line is matched, or
//! waiting for a person.
//!
//! Master data is read by the two index queries of [`crate::repository::MasterDataSnapshot`]. The
//! supplier is the invoice's seller key (VAT id first, else its electronic address): receipts
//! do not depend on it; obligations and text rules must be filed under that same key.
//!
//! Idempotent: only an invoice in status `received` is matched; a redelivery finds it matched. One
//! found "to journal" gets its journal message again (a crash may have come between the status
//! write and the send; the journal stage is idempotent too).

use ledgerpost_domain::ids::InvoiceId;
use ledgerpost_domain::journal::Direction;
use ledgerpost_domain::matching::{InvoiceStatus, LineMatch, MatchContext, MatchOutcome, match_invoice};

use crate::error::StageError;
use crate::messages::InvoiceMessage;
use crate::repository::{InvoiceRecord, Status, Versioned};
use crate::{Pipeline, fresh_id, queues};

/// What the match stage did with an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchStageOutcome {
    /// Every line matched: on to the journal queue.
    ToJournal,
    /// Some lines wait for a person.
    WaitingForManualProcessing { open_lines: usize },
    /// The profile refuses documents without an order reference.
    Failed { reason: String },
    /// Nothing to do (a sales invoice, or matched already).
    Skipped { status: String },
}

impl Pipeline {
    /// Runs the match stage on one invoice.
    pub async fn match_lines(&self, id: &InvoiceId) -> Result<MatchStageOutcome, StageError> {
        let Some(current) = self.repository().invoice(id).await? else {
            return Err(StageError::BadMessage(format!("no invoice {id}")));
        };
        if current.value.direction != Direction::Purchase {
            return Ok(MatchStageOutcome::Skipped { status: "a sales document is not matched".into() });
        }
        match &current.value.status {
            Status::Received => {}
            Status::ToJournal => {
                self.ports().queue.send(queues::JOURNAL, &InvoiceMessage::new(id.clone()).body()).await?;
                return Ok(MatchStageOutcome::ToJournal);
            }
            other => return Ok(MatchStageOutcome::Skipped { status: format!("{other:?}") }),
        }
        self.match_and_save(current).await
    }

    /// Matches a received invoice from scratch and writes the result on the version read.
    pub(crate) async fn match_and_save(
        &self,
        current: Versioned<InvoiceRecord>,
    ) -> Result<MatchStageOutcome, StageError> {
        let mut record = current.value.clone();
        let id = record.id.clone();
        let Some(administration) = self.administration(&record.administration) else {
            return self
                .fail(
                    current,
                    format!("administration {} is no longer in the configuration", record.administration),
                )
                .await;
        };
        let invoice = self.repository().invoice_document(&record).await?;
        let profile = administration.purchase_profile(&record.supplier_keys);
        let master_data = self
            .repository()
            .master_data_for(&administration.id, record.order_reference.as_deref(), &record.supplier)
            .await?;
        let ctx = MatchContext {
            administration: &administration.id,
            supplier: &record.supplier,
            profile: &profile,
            master_data: &master_data,
        };
        let outcome =
            match_invoice(&invoice, id.clone(), &ctx).map_err(|e| StageError::Unexpected(e.into()))?;
        let state = match outcome {
            MatchOutcome::Processed(state) => state,
            MatchOutcome::RejectedWithoutOrderReference => {
                let reason = "the supplier's purchase profile requires an order reference (BT-13)".to_owned();
                return self.fail(current, reason).await;
            }
        };
        let generation = fresh_id("", self.now());
        let stored = self.repository().write_matching(&id, &state, &generation).await?;
        let open_lines = state.lines().iter().filter(|l| !LineMatch::is_processed(l)).count();
        let now = self.now();
        record.matching = Some(stored);
        let outcome = if *state.status() == InvoiceStatus::AllLinesProcessed {
            record.status = Status::ToJournal;
            record.log(now, format!("all {} lines matched", state.lines().len()));
            MatchStageOutcome::ToJournal
        } else {
            record.status = Status::WaitingForManualProcessing;
            record.log(
                now,
                format!("{open_lines} of {} lines wait for manual processing", state.lines().len()),
            );
            MatchStageOutcome::WaitingForManualProcessing { open_lines }
        };
        match self.repository().update_invoice(&record, current.version).await {
            Ok(_) => {}
            Err(StageError::Store(e)) if e.is_condition_failed() => {
                // Another delivery got there first; its result stands.
                self.repository().drop_matching_generation(&id, &generation).await;
                return Err(StageError::Deferred(format!("invoice {id} changed while it was being matched")));
            }
            Err(e) => return Err(e),
        }
        if let Some(old) = &current.value.matching {
            self.repository().drop_matching_generation(&id, &old.generation).await;
        }
        if outcome == MatchStageOutcome::ToJournal {
            self.ports().queue.send(queues::JOURNAL, &InvoiceMessage::new(id.clone()).body()).await?;
        }
        tracing::info!(invoice = %id, ?outcome, "matched");
        Ok(outcome)
    }

    /// Puts an invoice in status failed, for a person.
    async fn fail(
        &self,
        current: Versioned<InvoiceRecord>,
        reason: String,
    ) -> Result<MatchStageOutcome, StageError> {
        let mut record = current.value;
        record.log(self.now(), format!("failed: {reason}"));
        record.status = Status::Failed { reason: reason.clone() };
        self.repository().update_invoice(&record, current.version).await?;
        Ok(MatchStageOutcome::Failed { reason })
    }
}
