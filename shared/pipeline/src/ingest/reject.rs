//! Refusing a file: the reason file, the record for the next report, then the move to
//! `rejected/`. Nothing is deleted; each step can be repeated by a redelivery.

use ledgerpost_ports::{BucketError, ObjectKey};
use ledgerpost_ubl::rules::{Finding, Flag};

use super::{IngestOutcome, sha256_hex};
use crate::Pipeline;
use crate::error::StageError;
use crate::repository::RejectedFile;

/// Why a file is refused, for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// One line: what is wrong.
    pub reason: String,
    /// What to do about it.
    pub advice: String,
    pub findings: Vec<Finding>,
    /// The earlier document, for a duplicate.
    pub original: Option<String>,
}

impl Refusal {
    pub fn new(reason: impl Into<String>, advice: impl Into<String>) -> Self {
        Refusal { reason: reason.into(), advice: advice.into(), findings: Vec::new(), original: None }
    }

    pub fn with_findings(mut self, findings: Vec<Finding>) -> Self {
        self.findings = findings;
        self
    }

    pub fn with_original(mut self, original: String) -> Self {
        self.original = Some(original);
        self
    }

    /// The text of `rejected/<name>.reason.txt`.
    pub fn text(&self, source: &ObjectKey, at: chrono::DateTime<chrono::Utc>) -> String {
        let mut text = String::new();
        text.push_str("ledgerpost did not accept this file.\n\n");
        text.push_str(&format!("File:     {source}\n"));
        text.push_str(&format!("Received: {}\n", at.format("%Y-%m-%d %H:%M UTC")));
        text.push_str(&format!("Reason:   {}\n", sentence(&self.reason)));
        if let Some(original) = &self.original {
            text.push_str(&format!("Original: {original}\n"));
        }
        if !self.findings.is_empty() {
            text.push_str("\nRules not met (official rule id, where in the file, what the rule says):\n");
            for f in &self.findings {
                let flag = if f.flag == Flag::Fatal { "error" } else { "warning" };
                text.push_str(&format!(
                    "\n- {} ({flag}) at {}\n  {}\n",
                    f.rule,
                    f.location,
                    f.message.trim()
                ));
            }
        }
        text.push_str(&format!("\nWhat to do: {}\n", self.advice));
        text.push_str("\nThe file itself is kept beside this text, unchanged.\n");
        text
    }
}

/// Upper-cases the first letter and ends with a full stop.
fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    let mut out = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl Pipeline {
    /// Moves `key` to `rejected/` with its reason file, and records it for the next report.
    pub(crate) async fn reject(
        &self,
        key: &ObjectKey,
        sha: Option<&str>,
        refusal: Refusal,
    ) -> Result<IngestOutcome, StageError> {
        tracing::info!(%key, reason = %refusal.reason, "file rejected");
        let id = sha256_hex(format!("{key}\n{}", sha.unwrap_or("-")).as_bytes())[..24].to_owned();
        let repo = self.repository();
        // A redelivery reuses what the first attempt decided.
        let rejected_key = match repo.get::<RejectedFile>(&RejectedFile::key(&id)).await? {
            Some(earlier) => parse_key(&earlier.value.rejected_key)?,
            None => self.free_rejected_key(key, &id).await?,
        };
        let reason_key = parse_key(&format!("{rejected_key}.reason.txt"))?;
        let at = self.now();
        self.ports()
            .bucket
            .put(&reason_key, refusal.text(key, at).into_bytes(), "text/plain; charset=utf-8")
            .await?;
        repo.record_rejection(&RejectedFile {
            id,
            source_key: key.as_str().to_owned(),
            rejected_key: rejected_key.as_str().to_owned(),
            reason_key: reason_key.as_str().to_owned(),
            reason: refusal.reason.clone(),
            findings: refusal.findings.clone(),
            original: refusal.original.clone(),
            at,
            reported_in: None,
        })
        .await?;
        match self.ports().bucket.move_object(key, &rejected_key).await {
            Ok(()) | Err(BucketError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(IngestOutcome::Rejected { rejected_key, reason: refusal.reason })
    }

    /// `rejected/<name>`, or `rejected/<id>-<name>` when another rejected file has that name.
    async fn free_rejected_key(&self, key: &ObjectKey, id: &str) -> Result<ObjectKey, StageError> {
        let name = key.file_name();
        let plain = parse_key(&format!("rejected/{name}"))?;
        if self.ports().bucket.head(&plain).await?.is_none() {
            return Ok(plain);
        }
        parse_key(&format!("rejected/{}-{name}", &id[..8]))
    }
}

fn parse_key(text: &str) -> Result<ObjectKey, StageError> {
    ObjectKey::parse(text.to_owned()).map_err(|e| StageError::Unexpected(e.into()))
}
