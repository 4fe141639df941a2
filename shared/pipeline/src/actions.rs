//! What a person does, over the same store: manual matching and coding, undo, re-process, post as
//! a plain entry, approve or reject a journaled invoice, resolve a batch in doubt, and import
//! master data. Each action reads the invoice, calls the domain's pure function (which refuses
//! what is not allowed, see `ledgerpost_domain::manual`) and writes the result conditionally on
//! the version read: two people acting at once cannot both win; the second is told to look again.
//!
//! An invoice whose lines are all processed by an action goes to the journal queue.

use ledgerpost_domain::config::Administration;
use ledgerpost_domain::ids::{AccountCode, InvoiceId};
use ledgerpost_domain::manual::{self, ManualError};
use ledgerpost_domain::masterdata::{self, Coding, ConsumePlan, ObligationKey, ReceiptKey};
use ledgerpost_domain::matching::{Approval, InvoiceMatching, InvoiceStatus, MatchContext};
use ledgerpost_ports::{ObjectKey, TransactOp};
use ledgerpost_ubl::model::Invoice;

use crate::error::StageError;
use crate::messages::InvoiceMessage;
use crate::repository::{
    BatchRecord, BatchState, ImportCounts, InvoiceRecord, Repository, SendState, Status, Versioned,
};
use crate::{Pipeline, fresh_id, queues};

/// Why an action was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no invoice {0}")]
    UnknownInvoice(InvoiceId),
    #[error("invoice {0} is a sales document: it has no lines to match")]
    NotPurchase(InvoiceId),
    #[error("invoice {id} is {status}: this action does not apply")]
    WrongStatus { id: InvoiceId, status: String },
    #[error("{0} does not exist")]
    UnknownMasterData(String),
    #[error("no batch {0}")]
    UnknownBatch(String),
    #[error("batch {id} is {state}, not in doubt")]
    NotInDoubt { id: String, state: String },
    #[error("someone else changed invoice {0} meanwhile: look at it again")]
    Conflict(String),
    #[error(transparent)]
    Refused(#[from] ManualError),
    #[error("the file is refused: {0}")]
    Import(#[from] masterdata::ImportError),
    #[error(transparent)]
    Stage(#[from] StageError),
}

impl From<ledgerpost_ports::StoreError> for ActionError {
    fn from(e: ledgerpost_ports::StoreError) -> Self {
        ActionError::Stage(e.into())
    }
}

/// A manual line action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineAction {
    MatchReceipt {
        line: String,
        receipt: ReceiptKey,
    },
    MatchObligation {
        line: String,
        obligation: ObligationKey,
    },
    Code {
        line: String,
        coding: Coding,
        rule_text: Option<String>,
    },
    Undo {
        line: String,
    },
    /// Match the open lines again against current master data.
    Reprocess,
    /// Post every open line on this account (default: the administration's default expense).
    PostAsPlainEntry {
        account: Option<AccountCode>,
    },
}

/// The invoice's status after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    pub invoice: InvoiceId,
    pub status: String,
    pub open_lines: usize,
}

impl Pipeline {
    fn admin_for(&self, record: &InvoiceRecord) -> Result<&Administration, ActionError> {
        self.administration(&record.administration).ok_or_else(|| ActionError::WrongStatus {
            id: record.id.clone(),
            status: format!("of administration {}, which is not in the configuration", record.administration),
        })
    }

    async fn load(&self, id: &InvoiceId) -> Result<Versioned<InvoiceRecord>, ActionError> {
        self.repository().invoice(id).await?.ok_or_else(|| ActionError::UnknownInvoice(id.clone()))
    }

    /// Runs a manual line action on a purchase invoice waiting for (or past) matching.
    pub async fn line_action(&self, id: &InvoiceId, action: LineAction) -> Result<ActionResult, ActionError> {
        let current = self.load(id).await?;
        let record = &current.value;
        if record.direction != ledgerpost_domain::journal::Direction::Purchase {
            return Err(ActionError::NotPurchase(id.clone()));
        }
        let Some(state) = self.repository().matching(record).await? else {
            return Err(ActionError::WrongStatus {
                id: id.clone(),
                status: format!("{:?} (not matched yet)", record.status),
            });
        };
        let invoice = self.repository().invoice_document(record).await?;
        let administration = self.admin_for(record)?;
        let profile = administration.purchase_profile(&record.supplier_keys);
        let (next, rule) = match action {
            LineAction::MatchReceipt { line, receipt } => {
                let found = self
                    .repository()
                    .receipt(&receipt)
                    .await?
                    .ok_or_else(|| ActionError::UnknownMasterData(receipt.to_string()))?;
                (manual::match_to_receipt(&state, &invoice, &line, &found.value, profile.tolerance)?, None)
            }
            LineAction::MatchObligation { line, obligation } => {
                let found = self
                    .repository()
                    .obligation(&obligation)
                    .await?
                    .ok_or_else(|| ActionError::UnknownMasterData(obligation.to_string()))?;
                (manual::match_to_obligation(&state, &invoice, &line, &found.value, profile.tolerance)?, None)
            }
            LineAction::Code { line, coding, rule_text } => {
                manual::code_line(&state, &invoice, &line, coding, rule_text.as_deref())?
            }
            LineAction::Undo { line } => (manual::undo(&state, &line)?, None),
            LineAction::Reprocess => {
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
                (manual::reprocess(&state, &invoice, &ctx)?, None)
            }
            LineAction::PostAsPlainEntry { account } => {
                let account = account.unwrap_or_else(|| administration.accounts.default_expense.clone());
                (manual::post_as_plain_entry(&state, &account)?, None)
            }
        };
        if let Some(rule) = rule {
            self.repository().import_rules(std::slice::from_ref(&rule)).await?;
        }
        self.save_state(current, &next, &invoice).await
    }

    /// Writes a new matching state (lines under a new generation) on the version read.
    async fn save_state(
        &self,
        current: Versioned<InvoiceRecord>,
        state: &InvoiceMatching,
        _invoice: &Invoice,
    ) -> Result<ActionResult, ActionError> {
        let mut record = current.value.clone();
        let id = record.id.clone();
        let generation = fresh_id("", self.now());
        let stored = self.repository().write_matching(&id, state, &generation).await?;
        record.matching = Some(stored);
        let open_lines = state.lines().iter().filter(|l| !l.is_processed()).count();
        let to_journal = *state.status() == InvoiceStatus::AllLinesProcessed;
        record.status = if to_journal { Status::ToJournal } else { Status::WaitingForManualProcessing };
        record.log(self.now(), format!("manual action: {open_lines} line(s) open"));
        match self.repository().update_invoice(&record, current.version).await {
            Ok(_) => {}
            Err(StageError::Store(e)) if e.is_condition_failed() => {
                self.repository().drop_matching_generation(&id, &generation).await;
                return Err(ActionError::Conflict(id.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(old) = &current.value.matching {
            self.repository().drop_matching_generation(&id, &old.generation).await;
        }
        if to_journal {
            self.ports()
                .queue
                .send(queues::JOURNAL, &InvoiceMessage::new(id.clone()).body())
                .await
                .map_err(StageError::from)?;
        }
        Ok(ActionResult { invoice: id, status: format!("{:?}", record.status), open_lines })
    }

    /// Approves a journaled purchase invoice waiting for approval: it may now be sent.
    pub async fn approve(&self, id: &InvoiceId) -> Result<ActionResult, ActionError> {
        self.decide(id, None).await
    }

    /// Rejects a journaled purchase invoice waiting for approval: it is never sent, and what its
    /// entry consumed of receipts and obligations is given back, in the same transaction.
    pub async fn reject_invoice(&self, id: &InvoiceId, reason: &str) -> Result<ActionResult, ActionError> {
        self.decide(id, Some(reason)).await
    }

    async fn decide(&self, id: &InvoiceId, reject: Option<&str>) -> Result<ActionResult, ActionError> {
        let current = self.load(id).await?;
        let record = &current.value;
        let Some(state) = self.repository().matching(record).await? else {
            return Err(ActionError::WrongStatus { id: id.clone(), status: format!("{:?}", record.status) });
        };
        let (next_state, release) = match reject {
            None => (manual::approve(&state)?, ConsumePlan::default()),
            Some(reason) => manual::reject(&state, reason)?,
        };
        let mut next = record.clone();
        let stored = record
            .matching
            .as_ref()
            .ok_or_else(|| ActionError::WrongStatus { id: id.clone(), status: "not matched".into() })?;
        next.matching = Some(stored.with_state(&next_state)?);
        let now = self.now();
        let mut ops = Vec::new();
        match reject {
            None => {
                next.approval = Approval::Approved;
                next.send = SendState::Ready;
                next.log(now, "approved");
            }
            Some(reason) => {
                next.approval = Approval::Rejected { reason: reason.trim().to_owned() };
                next.send = SendState::Withheld { reason: format!("approval rejected: {}", reason.trim()) };
                next.log(now, format!("approval rejected: {}", reason.trim()));
                for r in &release.receipts {
                    if let Some(found) = self.repository().receipt(&r.key).await? {
                        let mut receipt = found.value.clone();
                        receipt.quantity_invoiced += r.quantity;
                        ops.push(Repository::receipt_op(&receipt, Some(found.version))?);
                    }
                }
                for o in &release.obligations {
                    if let Some(found) = self.repository().obligation(&o.key).await? {
                        let mut obligation = found.value.clone();
                        obligation.open_balance -= o.amount;
                        ops.push(Repository::obligation_op(&obligation, Some(found.version))?);
                    }
                }
            }
        }
        ops.push(TransactOp::Update { item: next.to_item()?, version: current.version });
        match self.repository().transact(ops).await {
            Ok(()) => {}
            Err(e) if e.is_condition_failed() => return Err(ActionError::Conflict(id.to_string())),
            Err(e) => return Err(e.into()),
        }
        Ok(ActionResult { invoice: id.clone(), status: format!("{:?}", next.approval), open_lines: 0 })
    }

    /// Resolves a batch in doubt after a person checked the receiving mailbox: `sent` marks its
    /// documents sent; otherwise they become ready again and go out with the next run.
    pub async fn resolve_batch(&self, batch_id: &str, sent: bool) -> Result<BatchRecord, ActionError> {
        let repo = self.repository();
        let batch =
            repo.batch(batch_id).await?.ok_or_else(|| ActionError::UnknownBatch(batch_id.to_owned()))?;
        if !matches!(batch.value.state, BatchState::InDoubt | BatchState::Claimed) {
            return Err(ActionError::NotInDoubt {
                id: batch_id.to_owned(),
                state: batch.value.state.as_str().to_owned(),
            });
        }
        let now = self.now();
        let mut next = batch.value.clone();
        next.state = if sent { BatchState::Sent } else { BatchState::Released };
        next.note = Some(if sent {
            "resolved by hand: it was sent".into()
        } else {
            "resolved by hand: not sent".into()
        });
        if sent {
            next.sent_at = Some(now);
        }
        let mut ops = vec![TransactOp::Update { item: next.to_item()?, version: batch.version }];
        for document in &batch.value.documents {
            let Some(invoice) = repo.invoice(&document.invoice).await? else { continue };
            if invoice.value.send != (SendState::Claimed { batch: batch_id.to_owned() }) {
                continue;
            }
            let mut record = invoice.value.clone();
            record.send =
                if sent { SendState::Sent { batch: batch_id.to_owned(), at: now } } else { SendState::Ready };
            record.log(now, next.note.clone().unwrap_or_default());
            ops.push(TransactOp::Update { item: record.to_item()?, version: invoice.version });
        }
        match repo.transact(ops).await {
            Ok(()) => Ok(next),
            Err(e) if e.is_condition_failed() => Err(ActionError::Conflict(batch_id.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Imports goods-receipt lines from CSV (all or nothing; see the domain's format).
    pub async fn import_receipts(&self, csv: &[u8]) -> Result<ImportCounts, ActionError> {
        let receipts = masterdata::import_receipts(csv)?;
        Ok(self.repository().import_receipts(&receipts).await?)
    }

    pub async fn import_obligations(&self, csv: &[u8]) -> Result<ImportCounts, ActionError> {
        let obligations = masterdata::import_obligations(csv)?;
        Ok(self.repository().import_obligations(&obligations).await?)
    }

    pub async fn import_rules(&self, csv: &[u8]) -> Result<ImportCounts, ActionError> {
        let rules = masterdata::import_rules(csv)?;
        Ok(self.repository().import_rules(&rules).await?)
    }

    /// Puts a rejected file back in the inbox (after the configuration was corrected) and sends
    /// its ingest message.
    pub async fn reingest(&self, rejected: &ObjectKey, name: &str) -> Result<ObjectKey, ActionError> {
        let target = ObjectKey::parse(format!("{}{name}", crate::ingest::INBOX))
            .map_err(|e| StageError::Unexpected(e.into()))?;
        self.ports().bucket.move_object(rejected, &target).await.map_err(StageError::from)?;
        self.enqueue_ingest(&target).await?;
        Ok(target)
    }
}
