//! The journal stage: the balanced entry of an invoice (the domain's `journal_purchase` /
//! `journal_sales`), written in ONE store transaction with everything it changes:
//!
//! - the entry (a header item and its line chunks, each a `Put` that fails if it exists);
//! - for a purchase, the goods-receipt lines and obligations it consumes, each an `Update` on the
//!   version read just before, after checking the domain's condition (the quantity invoiced has
//!   not grown, the open balance has not shrunk, the obligation is not blocked);
//! - the invoice: status journaled, approval pending where the profile asks for it, and ready
//!   to send otherwise, an `Update` on its version.
//!
//! So an invoice is journaled once: a redelivery finds it journaled, and of two concurrent
//! deliveries one transaction fails on the invoice's version. When master data changed since the
//! invoice was matched, an invoice matched automatically goes back to the match stage; one with
//! lines decided by a person waits for that person, with the reason.

use chrono::NaiveDate;
use ledgerpost_domain::ids::InvoiceId;
use ledgerpost_domain::journal::{Direction, JournalEntry, journal_purchase, journal_sales};
use ledgerpost_domain::masterdata::{ApplyError, ConsumePlan};
use ledgerpost_domain::matching::{Approval, InvoiceStatus};
use ledgerpost_ports::{StoreError, TransactOp};
use rust_decimal::Decimal;

use crate::error::StageError;
use crate::messages::InvoiceMessage;
use crate::repository::{InvoiceRecord, JournalSummary, Repository, SendState, Status, Versioned};
use crate::{Pipeline, queues};

/// What the journal stage did with an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalOutcome {
    /// Journaled; `approval_pending` when it now waits for approval before it may be sent.
    Journaled { approval_pending: bool },
    /// Journaled before (a redelivery).
    AlreadyJournaled,
    /// Not ready (lines wait for a person, or it failed earlier).
    NotReady { status: String },
    /// The entry could not be made (the invoice does not add up): waits for a person.
    Failed { reason: String },
    /// Master data changed since matching: sent back to the match stage.
    Rematch,
}

/// How often a transaction that lost a race is rebuilt before the message is retried later.
const ATTEMPTS: usize = 3;

impl Pipeline {
    /// Runs the journal stage on one invoice; `posting_date` books on that date instead of the
    /// invoice date.
    pub async fn journal(
        &self,
        id: &InvoiceId,
        posting_date: Option<NaiveDate>,
    ) -> Result<JournalOutcome, StageError> {
        for _ in 0..ATTEMPTS {
            let Some(current) = self.repository().invoice(id).await? else {
                return Err(StageError::BadMessage(format!("no invoice {id}")));
            };
            match self.try_journal(current, posting_date).await {
                Ok(outcome) => return Ok(outcome),
                Err(StageError::Store(e)) if e.is_condition_failed() => {
                    tracing::debug!(invoice = %id, error = %e, "journal transaction lost a race; reading again");
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StageError::Deferred(format!(
            "invoice {id} or its master data kept changing while being journaled"
        )))
    }

    async fn try_journal(
        &self,
        current: Versioned<InvoiceRecord>,
        posting_date: Option<NaiveDate>,
    ) -> Result<JournalOutcome, StageError> {
        let record = &current.value;
        let ready = match (record.direction, &record.status) {
            (_, Status::Journaled) => return Ok(JournalOutcome::AlreadyJournaled),
            (Direction::Sales, Status::Received) | (Direction::Purchase, Status::ToJournal) => true,
            _ => false,
        };
        if !ready {
            return Ok(JournalOutcome::NotReady { status: format!("{:?}", record.status) });
        }
        let Some(administration) = self.administration(&record.administration) else {
            return self
                .fail_journal(current, "its administration is no longer in the configuration".into())
                .await;
        };
        let invoice = self.repository().invoice_document(record).await?;
        let mut next = record.clone();
        let mut ops: Vec<TransactOp> = Vec::new();
        let entry: JournalEntry = match record.direction {
            Direction::Sales => {
                match journal_sales(&invoice, record.id.clone(), administration, posting_date) {
                    Ok(entry) => {
                        next.approval = Approval::NotRequired;
                        entry
                    }
                    Err(e) => return self.fail_journal(current, e.to_string()).await,
                }
            }
            Direction::Purchase => {
                let Some(state) = self.repository().matching(record).await? else {
                    return Err(StageError::Corrupt {
                        what: format!("invoice {} has no matching state", record.id),
                        source: None,
                    });
                };
                let done = match journal_purchase(&invoice, &state, administration, posting_date) {
                    Ok(done) => done,
                    Err(e) => return self.fail_journal(current, e.to_string()).await,
                };
                match self.consume_ops(done.consume()).await? {
                    Ok(consume) => ops.extend(consume),
                    Err(apply) => {
                        let by_hand = state.lines().iter().any(|l| l.by_hand);
                        return self.master_data_changed(current, apply, by_hand).await;
                    }
                }
                next.approval = match done.state.status() {
                    InvoiceStatus::Journaled { approval } => approval.clone(),
                    _ => Approval::NotRequired,
                };
                // The lines did not change: the new state keeps the line chunks it had.
                let stored = record.matching.as_ref().ok_or_else(|| StageError::Corrupt {
                    what: format!("invoice {} has no matching state", record.id),
                    source: None,
                })?;
                next.matching = Some(stored.with_state(&done.state)?);
                done.entry
            }
        };
        let now = self.now();
        next.status = Status::Journaled;
        next.send = if next.approval == Approval::Pending { SendState::NotReady } else { SendState::Ready };
        next.journal = Some(JournalSummary {
            booking_date: entry.booking_date,
            total_debit: entry.total_debit(),
            lines: entry.lines.len(),
            at: now,
        });
        next.log(
            now,
            format!(
                "journaled on {} ({} lines, {} {} debit = credit){}",
                entry.booking_date,
                entry.lines.len(),
                entry.currency,
                entry.total_debit(),
                if next.approval == Approval::Pending { "; waits for approval" } else { "" }
            ),
        );
        // The entry groups its net lines per booking (see the domain's journal), so its size
        // follows the invoice's distinct accounts, not its lines; what can still outgrow one
        // transaction is the master data consumed: one write per receipt line or obligation.
        let consumed = ops.len();
        let mut all = self.repository().entry_ops(&entry)?;
        all.extend(ops);
        all.push(TransactOp::Update { item: next.to_item()?, version: current.version });
        if all.len() > ledgerpost_ports::store::MAX_TRANSACT_OPS {
            let reason = format!(
                "it consumes {consumed} goods-receipt lines and obligations: with the entry that is {} writes, more than one transaction allows ({}); undo the matches of some lines and code them instead",
                all.len(),
                ledgerpost_ports::store::MAX_TRANSACT_OPS
            );
            return self.fail_journal(current, reason).await;
        }
        // The store refuses a transaction over 4 MB as an invalid request, which would fail the
        // same way on every delivery: a transaction that big must stop here, with the reason,
        // instead of becoming a dead letter.
        let bytes: usize = all
            .iter()
            .map(|op| match op {
                TransactOp::Put(item) | TransactOp::Update { item, .. } => item.size_bytes(),
                TransactOp::ConditionCheck { .. } | TransactOp::Delete { .. } => 0,
            })
            .sum();
        if bytes > ledgerpost_ports::store::MAX_TRANSACT_BYTES {
            let reason = format!(
                "the entry and the master data it consumes are {bytes} bytes, more than one transaction allows ({} bytes); undo the matches of some lines and code them instead",
                ledgerpost_ports::store::MAX_TRANSACT_BYTES
            );
            return self.fail_journal(current, reason).await;
        }
        match self.repository().transact(all).await {
            Ok(()) => {}
            // The entry exists: journaled by a concurrent delivery (its invoice update follows in
            // the same transaction, so the re-read sees it journaled).
            Err(StoreError::ConditionFailed { key, op }) => {
                return Err(StoreError::ConditionFailed { key, op }.into());
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(invoice = %next.id, approval = ?next.approval, "journaled");
        Ok(JournalOutcome::Journaled { approval_pending: next.approval == Approval::Pending })
    }

    /// The updates that apply a consumption plan on the versions read now, or why it cannot be
    /// applied.
    async fn consume_ops(
        &self,
        plan: &ConsumePlan,
    ) -> Result<Result<Vec<TransactOp>, ApplyError>, StageError> {
        let repo = self.repository();
        let mut ops = Vec::new();
        for r in &plan.receipts {
            let Some(current) = repo.receipt(&r.key).await? else {
                return Ok(Err(ApplyError::Missing(r.key.to_string())));
            };
            let ok = if r.quantity >= Decimal::ZERO {
                current.value.quantity_invoiced <= r.invoiced_seen
            } else {
                current.value.quantity_invoiced >= r.invoiced_seen
            };
            if !ok {
                return Ok(Err(ApplyError::Changed(r.key.to_string())));
            }
            let mut next = current.value.clone();
            next.quantity_invoiced += r.quantity;
            ops.push(Repository::receipt_op(&next, Some(current.version))?);
        }
        for o in &plan.obligations {
            let Some(current) = repo.obligation(&o.key).await? else {
                return Ok(Err(ApplyError::Missing(o.key.to_string())));
            };
            if current.value.blocked {
                return Ok(Err(ApplyError::Blocked(o.key.to_string())));
            }
            let ok = if o.amount >= Decimal::ZERO {
                current.value.open_balance >= o.open_seen
            } else {
                current.value.open_balance <= o.open_seen
            };
            if !ok {
                return Ok(Err(ApplyError::Changed(o.key.to_string())));
            }
            let mut next = current.value.clone();
            next.open_balance -= o.amount;
            ops.push(Repository::obligation_op(&next, Some(current.version))?);
        }
        Ok(Ok(ops))
    }

    /// Master data moved under a matched invoice: match again, or let the person decide again.
    async fn master_data_changed(
        &self,
        current: Versioned<InvoiceRecord>,
        apply: ApplyError,
        by_hand: bool,
    ) -> Result<JournalOutcome, StageError> {
        let mut record = current.value.clone();
        let now = self.now();
        if by_hand {
            record.status = Status::WaitingForManualProcessing;
            record.log(
                now,
                format!(
                    "not journaled: {apply}; lines decided by hand must be checked again (undo and match)"
                ),
            );
            self.repository().update_invoice(&record, current.version).await?;
            return Ok(JournalOutcome::NotReady {
                status: format!("waiting for manual processing: {apply}"),
            });
        }
        record.status = Status::Received;
        record.log(now, format!("not journaled: {apply}; matched again"));
        self.repository().update_invoice(&record, current.version).await?;
        self.ports().queue.send(queues::MATCH, &InvoiceMessage::new(record.id.clone()).body()).await?;
        Ok(JournalOutcome::Rematch)
    }

    async fn fail_journal(
        &self,
        current: Versioned<InvoiceRecord>,
        reason: String,
    ) -> Result<JournalOutcome, StageError> {
        let mut record = current.value;
        record.log(self.now(), format!("not journaled: {reason}"));
        record.status = Status::Failed { reason: format!("not journaled: {reason}") };
        self.repository().update_invoice(&record, current.version).await?;
        Ok(JournalOutcome::Failed { reason })
    }
}
