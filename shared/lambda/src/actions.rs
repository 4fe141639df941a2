//! The actions function: what a person does, one invocation per action. The payload is an
//! [`ActionRequest`] tagged `action`; the answer an [`ActionResponse`] tagged `result`, or an
//! [`ActionFailure`] tagged `error` (with a `message` for people and whether a retry can help).
//!
//! ```json
//! {"action": "approve", "invoice_id": "acme-bv_2025_nl123456789b01_inv-2025-0042_29774fefcbf80d40"}
//! {"action": "code_line", "invoice_id": "…", "line": "1",
//!  "coding": {"account": "4610", "vat_group": "H21"}, "rule_text": "licentiekosten"}
//! {"action": "import", "kind": "receipts", "key": "imports/receipts-2025-03.csv"}
//! ```
//!
//! Every action is the pipeline's (see `ledgerpost_pipeline::actions`): this module only reads
//! the request, fetches an import file from the bucket, and types the outcome. Master data is
//! imported only from under `imports/`, the prefix the function's role may read for it.

use ledgerpost_domain::ids::{AccountCode, AdministrationId, InvoiceId, SupplierKey};
use ledgerpost_domain::masterdata::{Coding, ObligationKey, ReceiptKey};
use ledgerpost_pipeline::actions::{ActionError, ActionResult, LineAction};
use ledgerpost_pipeline::repository::ImportCounts;
use ledgerpost_pipeline::{Pipeline, StageError};
use ledgerpost_ports::{BucketError, ObjectKey, Retryable};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

/// The prefix import files are read from.
pub const IMPORTS: &str = "imports/";

/// A manual action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionRequest {
    /// Match an open line of a purchase invoice to a goods-receipt line.
    MatchReceipt { invoice_id: InvoiceId, line: String, receipt: ReceiptKey },
    /// Match an open line to an obligation.
    MatchObligation { invoice_id: InvoiceId, line: String, obligation: ObligationKey },
    /// Code an open line on an account; with `rule_text`, also keep a free-text rule of the
    /// supplier for the next invoices.
    CodeLine {
        invoice_id: InvoiceId,
        line: String,
        coding: Coding,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule_text: Option<String>,
    },
    /// Add a free-text matching rule (checked like a row of a rules CSV file).
    AddRule { administration: AdministrationId, supplier: SupplierKey, search_text: String, coding: Coding },
    /// Undo the match or coding of a line.
    Undo { invoice_id: InvoiceId, line: String },
    /// Match the open lines again against the current master data.
    Reprocess { invoice_id: InvoiceId },
    /// Post every open line on one account (default: the administration's default expense).
    PostAsPlainEntry {
        invoice_id: InvoiceId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<AccountCode>,
    },
    /// Approve a journaled invoice that waits for approval: it may be sent.
    Approve { invoice_id: InvoiceId },
    /// Reject it: it is never sent, and what it consumed is given back.
    Reject { invoice_id: InvoiceId, reason: String },
    /// Settle a batch in doubt after checking the receiving mailbox.
    ResolveBatch { batch_id: String, sent: bool },
    /// Put a rejected file back into the inbox (after the configuration was corrected); `name`
    /// defaults to the rejected file's name.
    Reingest {
        rejected_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Import master data from a CSV file under `imports/` (all or nothing).
    Import { kind: ImportKind, key: String },
}

/// What an import file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Receipts,
    Obligations,
    Rules,
}

impl ActionRequest {
    /// Reads an invocation payload.
    pub fn parse(payload: Value) -> Result<Self, ActionFailure> {
        if !payload.is_object() {
            return Err(ActionFailure::new(
                ActionFailureKind::BadRequest,
                format!("expected a JSON object {{\"action\": …}}, not {}", crate::excerpt(&payload)),
            ));
        }
        serde_path_to_error::deserialize(payload).map_err(|e| {
            ActionFailure::new(ActionFailureKind::BadRequest, format!("the request is refused: {e}"))
        })
    }

    /// The action's tag, for the log.
    pub fn name(&self) -> &'static str {
        match self {
            ActionRequest::MatchReceipt { .. } => "match_receipt",
            ActionRequest::MatchObligation { .. } => "match_obligation",
            ActionRequest::CodeLine { .. } => "code_line",
            ActionRequest::AddRule { .. } => "add_rule",
            ActionRequest::Undo { .. } => "undo",
            ActionRequest::Reprocess { .. } => "reprocess",
            ActionRequest::PostAsPlainEntry { .. } => "post_as_plain_entry",
            ActionRequest::Approve { .. } => "approve",
            ActionRequest::Reject { .. } => "reject",
            ActionRequest::ResolveBatch { .. } => "resolve_batch",
            ActionRequest::Reingest { .. } => "reingest",
            ActionRequest::Import { .. } => "import",
        }
    }

    fn invoice_id(&self) -> Option<&InvoiceId> {
        match self {
            ActionRequest::MatchReceipt { invoice_id, .. }
            | ActionRequest::MatchObligation { invoice_id, .. }
            | ActionRequest::CodeLine { invoice_id, .. }
            | ActionRequest::Undo { invoice_id, .. }
            | ActionRequest::Reprocess { invoice_id }
            | ActionRequest::PostAsPlainEntry { invoice_id, .. }
            | ActionRequest::Approve { invoice_id }
            | ActionRequest::Reject { invoice_id, .. } => Some(invoice_id),
            _ => None,
        }
    }
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ActionResponse {
    /// The invoice after a line action, an approval or a rejection.
    Invoice { invoice_id: InvoiceId, status: String, open_lines: usize },
    /// The batch after it was resolved.
    Batch { batch_id: String, state: String, documents: usize },
    /// Master data imported.
    Imported { kind: ImportKind, key: Option<String>, created: usize, updated: usize },
    /// The rejected file is back in the inbox and on its way through ingest.
    Reingested { key: String },
}

/// Why an action was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ActionFailure {
    #[serde(flatten)]
    pub kind: ActionFailureKind,
    /// For people.
    pub message: String,
    /// Whether the same request may succeed later as it is.
    pub retryable: bool,
}

/// The kinds of [`ActionFailure`], tagged `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ActionFailureKind {
    /// Not a request: unknown action, missing or invalid field.
    BadRequest,
    UnknownInvoice {
        invoice_id: String,
    },
    /// A sales document has no lines to match.
    NotPurchase {
        invoice_id: String,
    },
    /// The invoice is not in a state this action applies to.
    WrongStatus {
        invoice_id: String,
        status: String,
    },
    /// The receipt or obligation named does not exist.
    UnknownMasterData {
        what: String,
    },
    UnknownBatch {
        batch_id: String,
    },
    NotInDoubt {
        batch_id: String,
        state: String,
    },
    /// Someone else changed it meanwhile: look at it again.
    Conflict {
        id: String,
    },
    /// The domain refuses the action (a journaled invoice, an unknown line, …).
    Refused,
    /// The import file (or the rule) is refused; nothing was imported.
    ImportRefused,
    /// The file named does not exist.
    NotFound {
        key: String,
    },
    /// A backend was briefly unavailable.
    Unavailable,
    /// Anything else: the log has the details.
    Internal,
}

impl ActionFailure {
    fn new(kind: ActionFailureKind, message: impl Into<String>) -> Self {
        ActionFailure { kind, message: message.into(), retryable: false }
    }

    /// The tag, as `errorType` of the Lambda error.
    pub fn tag(&self) -> &'static str {
        use ActionFailureKind as K;
        match self.kind {
            K::BadRequest => "bad_request",
            K::UnknownInvoice { .. } => "unknown_invoice",
            K::NotPurchase { .. } => "not_purchase",
            K::WrongStatus { .. } => "wrong_status",
            K::UnknownMasterData { .. } => "unknown_master_data",
            K::UnknownBatch { .. } => "unknown_batch",
            K::NotInDoubt { .. } => "not_in_doubt",
            K::Conflict { .. } => "conflict",
            K::Refused => "refused",
            K::ImportRefused => "import_refused",
            K::NotFound { .. } => "not_found",
            K::Unavailable => "unavailable",
            K::Internal => "internal",
        }
    }
}

impl From<StageError> for ActionFailure {
    fn from(e: StageError) -> Self {
        let message = e.to_string();
        match e {
            StageError::Bucket(BucketError::NotFound { key }) => {
                ActionFailure::new(ActionFailureKind::NotFound { key: key.into_string() }, message)
            }
            e if e.is_retryable() => {
                ActionFailure { kind: ActionFailureKind::Unavailable, message, retryable: true }
            }
            _ => ActionFailure::new(ActionFailureKind::Internal, message),
        }
    }
}

impl From<ActionError> for ActionFailure {
    fn from(e: ActionError) -> Self {
        use ActionFailureKind as K;
        let message = e.to_string();
        let kind = match e {
            ActionError::UnknownInvoice(id) => K::UnknownInvoice { invoice_id: id.into() },
            ActionError::NotPurchase(id) => K::NotPurchase { invoice_id: id.into() },
            ActionError::WrongStatus { id, status } => K::WrongStatus { invoice_id: id.into(), status },
            ActionError::UnknownMasterData(what) => K::UnknownMasterData { what },
            ActionError::UnknownBatch(batch_id) => K::UnknownBatch { batch_id },
            ActionError::NotInDoubt { id, state } => K::NotInDoubt { batch_id: id, state },
            ActionError::Conflict(id) => K::Conflict { id },
            ActionError::Refused(_) => K::Refused,
            ActionError::Import(_) => K::ImportRefused,
            ActionError::Stage(e) => return e.into(),
        };
        ActionFailure::new(kind, message)
    }
}

impl From<ActionFailure> for lambda_runtime::Diagnostic {
    fn from(failure: ActionFailure) -> Self {
        crate::diagnostic(failure.tag(), &failure, &failure)
    }
}

impl From<ActionResult> for ActionResponse {
    fn from(r: ActionResult) -> Self {
        ActionResponse::Invoice { invoice_id: r.invoice, status: r.status, open_lines: r.open_lines }
    }
}

/// The actions function: reads the payload, carries the action out, types the outcome.
pub async fn actions(pipeline: &Pipeline, payload: Value) -> Result<ActionResponse, ActionFailure> {
    let request = ActionRequest::parse(payload).inspect_err(|e| tracing::error!(error = %e, "refused"))?;
    let span = tracing::info_span!(
        "action",
        action = request.name(),
        invoice_id = request.invoice_id().map(|i| i.as_str()),
    );
    async {
        let result = run(pipeline, request).await;
        match &result {
            Ok(response) => tracing::info!(?response, "action done"),
            Err(failure) if failure.retryable => {
                tracing::warn!(error = %failure, kind = failure.tag(), "action failed; it may be tried again")
            }
            Err(failure) => tracing::warn!(error = %failure, kind = failure.tag(), "action not carried out"),
        }
        result
    }
    .instrument(span)
    .await
}

async fn run(pipeline: &Pipeline, request: ActionRequest) -> Result<ActionResponse, ActionFailure> {
    let line_action = |id: InvoiceId, action: LineAction| async move {
        Ok::<_, ActionFailure>(pipeline.line_action(&id, action).await?.into())
    };
    match request {
        ActionRequest::MatchReceipt { invoice_id, line, receipt } => {
            line_action(invoice_id, LineAction::MatchReceipt { line, receipt }).await
        }
        ActionRequest::MatchObligation { invoice_id, line, obligation } => {
            line_action(invoice_id, LineAction::MatchObligation { line, obligation }).await
        }
        ActionRequest::CodeLine { invoice_id, line, coding, rule_text } => {
            line_action(invoice_id, LineAction::Code { line, coding, rule_text }).await
        }
        ActionRequest::Undo { invoice_id, line } => line_action(invoice_id, LineAction::Undo { line }).await,
        ActionRequest::Reprocess { invoice_id } => line_action(invoice_id, LineAction::Reprocess).await,
        ActionRequest::PostAsPlainEntry { invoice_id, account } => {
            line_action(invoice_id, LineAction::PostAsPlainEntry { account }).await
        }
        ActionRequest::Approve { invoice_id } => Ok(pipeline.approve(&invoice_id).await?.into()),
        ActionRequest::Reject { invoice_id, reason } => {
            Ok(pipeline.reject_invoice(&invoice_id, &reason).await?.into())
        }
        ActionRequest::ResolveBatch { batch_id, sent } => {
            let batch = pipeline.resolve_batch(&batch_id, sent).await?;
            Ok(ActionResponse::Batch {
                batch_id: batch.id,
                state: batch.state.as_str().to_owned(),
                documents: batch.documents.len(),
            })
        }
        ActionRequest::Reingest { rejected_key, name } => {
            let rejected = ObjectKey::parse(rejected_key.as_str()).map_err(|e| {
                ActionFailure::new(ActionFailureKind::BadRequest, format!("rejected_key: {e}"))
            })?;
            if !rejected.as_str().starts_with("rejected/") {
                return Err(ActionFailure::new(
                    ActionFailureKind::BadRequest,
                    format!("rejected_key: {rejected} is not under rejected/"),
                ));
            }
            let name = name.unwrap_or_else(|| rejected.file_name().to_owned());
            let key = pipeline.reingest(&rejected, &name).await?;
            Ok(ActionResponse::Reingested { key: key.into_string() })
        }
        ActionRequest::AddRule { administration, supplier, search_text, coding } => {
            let csv = rule_csv(&administration, &supplier, &search_text, &coding)?;
            let counts = pipeline.import_rules(&csv).await?;
            Ok(imported(ImportKind::Rules, None, counts))
        }
        ActionRequest::Import { kind, key } => {
            let bytes = read_import(pipeline, &key).await?;
            let counts = match kind {
                ImportKind::Receipts => pipeline.import_receipts(&bytes).await?,
                ImportKind::Obligations => pipeline.import_obligations(&bytes).await?,
                ImportKind::Rules => pipeline.import_rules(&bytes).await?,
            };
            Ok(imported(kind, Some(key), counts))
        }
    }
}

fn imported(kind: ImportKind, key: Option<String>, counts: ImportCounts) -> ActionResponse {
    ActionResponse::Imported { kind, key, created: counts.created, updated: counts.updated }
}

/// Reads an import file, with the configuration's file size cap.
async fn read_import(pipeline: &Pipeline, key: &str) -> Result<Vec<u8>, ActionFailure> {
    let bad = |why: String| ActionFailure::new(ActionFailureKind::BadRequest, format!("key: {why}"));
    let object = ObjectKey::parse(key).map_err(|e| bad(e.to_string()))?;
    if !object.as_str().starts_with(IMPORTS) {
        return Err(bad(format!("{object} is not under {IMPORTS}")));
    }
    let cap = pipeline.config().validation.max_file_bytes;
    match pipeline.ports().bucket.get(&object, cap).await {
        Ok(bytes) => Ok(bytes),
        Err(e @ BucketError::TooLarge { .. }) => {
            Err(ActionFailure::new(ActionFailureKind::ImportRefused, e.to_string()))
        }
        Err(e) => Err(StageError::from(e).into()),
    }
}

/// One rule as a rules CSV file, so that it is checked exactly like an imported one.
fn rule_csv(
    administration: &AdministrationId,
    supplier: &SupplierKey,
    search_text: &str,
    coding: &Coding,
) -> Result<Vec<u8>, ActionFailure> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let rows = [
        ["administration", "supplier", "search_text", "account", "vat_group", "cost_centre", "project"],
        [
            administration.as_str(),
            supplier.as_str(),
            search_text,
            coding.account.as_str(),
            coding.vat_group.as_deref().unwrap_or(""),
            coding.cost_centre.as_deref().unwrap_or(""),
            coding.project.as_deref().unwrap_or(""),
        ],
    ];
    for row in rows {
        writer
            .write_record(row)
            .map_err(|e| ActionFailure::new(ActionFailureKind::Internal, e.to_string()))?;
    }
    writer.into_inner().map_err(|e| ActionFailure::new(ActionFailureKind::Internal, e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const INVOICE: &str = "acme-bv_2025_nl123456789b01_inv-2025-0042_29774fefcbf80d40";

    #[test]
    fn every_action_parses_from_its_documented_shape() {
        let requests = [
            json!({"action": "match_receipt", "invoice_id": INVOICE, "line": "1",
                   "receipt": {"administration": "acme-bv", "order_number": "PO-4711", "line_id": "1"}}),
            json!({"action": "match_obligation", "invoice_id": INVOICE, "line": "1",
                   "obligation": {"administration": "acme-bv", "reference": "CONTRACT-2025", "supplier": "NL123456789B01"}}),
            json!({"action": "code_line", "invoice_id": INVOICE, "line": "2",
                   "coding": {"account": "4610", "vat_group": "H21", "cost_centre": null, "project": null},
                   "rule_text": "licentiekosten"}),
            json!({"action": "add_rule", "administration": "acme-bv", "supplier": "NL123456789B01",
                   "search_text": "licentiekosten", "coding": {"account": "4610", "vat_group": "H21", "cost_centre": null, "project": null}}),
            json!({"action": "undo", "invoice_id": INVOICE, "line": "1"}),
            json!({"action": "reprocess", "invoice_id": INVOICE}),
            json!({"action": "post_as_plain_entry", "invoice_id": INVOICE, "account": "4999"}),
            json!({"action": "approve", "invoice_id": INVOICE}),
            json!({"action": "reject", "invoice_id": INVOICE, "reason": "not ordered"}),
            json!({"action": "resolve_batch", "batch_id": "batch-1", "sent": true}),
            json!({"action": "reingest", "rejected_key": "rejected/x.xml", "name": "x.xml"}),
            json!({"action": "import", "kind": "receipts", "key": "imports/x.csv"}),
        ];
        for payload in requests {
            let request = ActionRequest::parse(payload.clone()).unwrap_or_else(|e| panic!("{payload}: {e}"));
            assert_eq!(request.name(), payload["action"]);
            // The serde shape is the documented one: it serialises back to the same JSON.
            assert_eq!(serde_json::to_value(&request).unwrap(), payload);
        }
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases = [
            (json!({"action": "approve"}), "invoice_id"),
            (json!({"action": "approve", "invoice_id": "Not An Id"}), "is not an invoice id"),
            (json!({"action": "approve", "invoice_id": INVOICE, "extra": 1}), "extra"),
            (json!({"action": "launch"}), "launch"),
            (
                json!({"action": "import", "kind": "invoices", "key": "imports/x.csv"}),
                "`invoices`, expected one of `receipts`",
            ),
            (json!({"invoice_id": INVOICE}), "action"),
            (json!(["approve", INVOICE]), "JSON object"),
        ];
        for (payload, field) in cases {
            let failure = ActionRequest::parse(payload.clone()).unwrap_err();
            assert_eq!(failure.kind, ActionFailureKind::BadRequest, "{payload}");
            assert!(failure.message.contains(field), "{payload}: {}", failure.message);
        }
    }

    #[test]
    fn failures_and_results_are_tagged() {
        let id = InvoiceId::parse(INVOICE).unwrap();
        let failure = ActionFailure::from(ActionError::UnknownInvoice(id.clone()));
        assert_eq!(
            serde_json::to_value(&failure).unwrap(),
            json!({"error": "unknown_invoice", "invoice_id": INVOICE, "message": format!("no invoice {INVOICE}"), "retryable": false})
        );
        let diagnostic = lambda_runtime::Diagnostic::from(failure.clone());
        assert_eq!(diagnostic.error_type, "unknown_invoice");
        assert_eq!(serde_json::from_str::<ActionFailure>(&diagnostic.error_message).unwrap(), failure);

        let unavailable = ActionFailure::from(StageError::Deferred("busy".into()));
        assert_eq!((unavailable.tag(), unavailable.retryable), ("unavailable", true));

        let response = ActionResponse::Invoice { invoice_id: id, status: "Approved".into(), open_lines: 0 };
        assert_eq!(serde_json::to_value(&response).unwrap()["result"], "invoice");
    }

    #[test]
    fn a_rule_becomes_one_csv_row() {
        let coding = Coding {
            account: AccountCode::parse("4610").unwrap(),
            vat_group: Some("H21".into()),
            cost_centre: None,
            project: Some("a, \"quoted\" project".into()),
        };
        let csv = rule_csv(
            &AdministrationId::parse("acme-bv").unwrap(),
            &SupplierKey::parse("NL123456789B01").unwrap(),
            "licentie, kosten",
            &coding,
        )
        .unwrap();
        let rules = ledgerpost_domain::masterdata::import_rules(csv.as_slice()).unwrap();
        assert_eq!(rules[0].search_text, "licentie, kosten");
        assert_eq!(rules[0].coding, coding);
    }
}
