//! The bodies of the queue messages between the stages. They carry ids, never documents.
//!
//! The ingest queue receives what S3 sends on `ObjectCreated` (an event notification whose keys
//! are URL-encoded, `+` for a space), or the plain `{"key": "inbox/x.xml"}` the local runner and
//! the manual "re-ingest" use. The S3 test event (`"Event": "s3:TestEvent"`) names no object and
//! is acknowledged without work.

use chrono::NaiveDate;
use ledgerpost_domain::ids::InvoiceId;
use ledgerpost_ports::ObjectKey;
use serde::{Deserialize, Serialize};

use crate::error::StageError;

/// `{"key": "inbox/x.xml"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestMessage {
    pub key: String,
}

/// The message for the match and journal queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceMessage {
    pub invoice: InvoiceId,
    /// Book on this date instead of the invoice date (journal only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting_date: Option<NaiveDate>,
}

impl InvoiceMessage {
    pub fn new(invoice: InvoiceId) -> Self {
        InvoiceMessage { invoice, posting_date: None }
    }

    pub fn body(&self) -> String {
        // Serialising two plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(body: &str) -> Result<Self, StageError> {
        serde_json::from_str(body).map_err(|e| StageError::BadMessage(format!("{e}: {body:.200}")))
    }
}

/// The object keys an ingest message names (none for an S3 test event).
pub fn ingest_keys(body: &str) -> Result<Vec<ObjectKey>, StageError> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| StageError::BadMessage(format!("not JSON ({e}): {body:.200}")))?;
    let parse = |raw: &str| {
        ObjectKey::parse(raw.to_owned()).map_err(|e| StageError::BadMessage(format!("object key: {e}")))
    };
    if let Some(key) = value.get("key").and_then(|k| k.as_str()) {
        return Ok(vec![parse(key)?]);
    }
    if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let Some(records) = value.get("Records").and_then(|r| r.as_array()) else {
        return Err(StageError::BadMessage(format!(
            "neither an S3 notification nor {{\"key\": …}}: {body:.200}"
        )));
    };
    let mut keys = Vec::new();
    for record in records {
        let Some(raw) = record.pointer("/s3/object/key").and_then(|k| k.as_str()) else {
            return Err(StageError::BadMessage("an S3 record without s3.object.key".into()));
        };
        keys.push(parse(&url_decode(raw)?)?);
    }
    Ok(keys)
}

/// Decodes an S3 notification key: `+` is a space, `%XX` a byte, the result UTF-8.
fn url_decode(raw: &str) -> Result<String, StageError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => return Err(StageError::BadMessage(format!("bad %-escape in key {raw:?}"))),
                }
            }
            b'%' => return Err(StageError::BadMessage(format!("bad %-escape in key {raw:?}"))),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| StageError::BadMessage(format!("key {raw:?} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_notifications_and_plain_keys() {
        let s3 = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"b"},"object":{"key":"inbox/Factuur+2024%2F01+%C3%A9.xml","size":10}}}]}"#;
        let keys = ingest_keys(s3).unwrap();
        assert_eq!(keys[0].as_str(), "inbox/Factuur 2024/01 é.xml");
        assert_eq!(ingest_keys(r#"{"key":"inbox/a.xml"}"#).unwrap()[0].as_str(), "inbox/a.xml");
        assert!(ingest_keys(r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#).unwrap().is_empty());
        assert!(ingest_keys("nope").is_err());
        assert!(ingest_keys(r#"{"key":"../etc/passwd"}"#).is_err());
        assert!(ingest_keys(r#"{"Records":[{"s3":{"object":{"key":"inbox/a%2"}}}]}"#).is_err());
    }
}
