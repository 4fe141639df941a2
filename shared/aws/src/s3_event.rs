//! S3 event notifications as they arrive in the body of an SQS message (S3 → SQS, no SNS).
//!
//! The parser is tolerant on purpose. It reads only what ingest needs (event name, bucket,
//! key, size, eTag, sequencer when present) and ignores everything else, because the shapes
//! vary in practice: `aws_lambda_events::s3::S3Event` refuses a record without `userIdentity`,
//! `requestParameters` or `responseElements`, which emulators leave out, and AWS adds fields
//! from time to time. What it does insist on is the bucket name and the object key.
//!
//! Two details every consumer must handle, which [`parse_notification`] does:
//! - S3 sends one `s3:TestEvent` message when the notification is configured (no `Records`):
//!   it is returned as [`S3Notification::Test`] so that the caller can acknowledge and skip it;
//! - object keys are URL-encoded as in a form, `+` for a space (`inbox/my+file.xml` is
//!   `inbox/my file.xml`, a real `+` arrives as `%2B`): keys are decoded here.

use chrono::{DateTime, Utc};
use ledgerpost_ports::{InvalidKey, ObjectKey};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// What one SQS message body from S3 holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Notification {
    /// The test message S3 sends when a notification is set up: nothing to do.
    Test { bucket: Option<String> },
    /// One or more object events (S3 sends one per message today, but the format is a list).
    Records(Vec<S3ObjectEvent>),
}

/// One object event, with the key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ObjectEvent {
    /// E.g. `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`.
    pub event_name: String,
    pub event_time: Option<DateTime<Utc>>,
    pub aws_region: Option<String>,
    pub bucket: String,
    /// The object key, URL-decoded (`inbox/my file.xml`).
    pub key: String,
    /// The size in bytes, when the event carries it (ObjectCreated events do).
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// Orders events of the same key; absent in some emulators.
    pub sequencer: Option<String>,
}

impl S3ObjectEvent {
    /// Whether this is an `ObjectCreated:*` event.
    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }

    /// The key as a validated [`ObjectKey`]; a key that is not safe to use is refused.
    pub fn object_key(&self) -> Result<ObjectKey, InvalidKey> {
        ObjectKey::parse(self.key.as_str())
    }
}

/// Why a message body is not a usable S3 notification.
#[derive(Debug, thiserror::Error)]
pub enum S3EventError {
    #[error("the message body is not JSON")]
    NotJson(#[source] serde_json::Error),

    #[error("the message body is JSON but neither S3 records nor an S3 test event")]
    NotS3,

    #[error("S3 record {index} has no {field}")]
    MissingField { index: usize, field: &'static str },

    #[error("S3 record {index}: the key {key:?} is not valid URL-encoded UTF-8")]
    BadKeyEncoding { index: usize, key: String },
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "Bucket")]
    bucket: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_name: Option<String>,
    event_time: Option<String>,
    aws_region: Option<String>,
    s3: Option<Entity>,
}

#[derive(Deserialize)]
struct Entity {
    bucket: Option<BucketEntity>,
    object: Option<ObjectEntity>,
}

#[derive(Deserialize)]
struct BucketEntity {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntity {
    key: Option<String>,
    size: Option<u64>,
    e_tag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

/// Parses the body of one SQS message that S3 sent.
pub fn parse_notification(body: &str) -> Result<S3Notification, S3EventError> {
    let body: Body = serde_json::from_str(body).map_err(S3EventError::NotJson)?;
    match (body.records, body.event.as_deref()) {
        (Some(records), _) => records
            .into_iter()
            .enumerate()
            .map(|(index, record)| object_event(index, record))
            .collect::<Result<Vec<_>, _>>()
            .map(S3Notification::Records),
        (None, Some("s3:TestEvent")) => Ok(S3Notification::Test { bucket: body.bucket }),
        (None, _) => Err(S3EventError::NotS3),
    }
}

fn object_event(index: usize, record: Record) -> Result<S3ObjectEvent, S3EventError> {
    let missing = |field| S3EventError::MissingField { index, field };
    let event_name = record.event_name.ok_or(missing("eventName"))?;
    let entity = record.s3.ok_or(missing("s3"))?;
    let bucket = entity.bucket.and_then(|bucket| bucket.name).ok_or(missing("s3.bucket.name"))?;
    let object = entity.object.ok_or(missing("s3.object"))?;
    let raw_key = object.key.ok_or(missing("s3.object.key"))?;
    let key = decode_key(&raw_key).ok_or(S3EventError::BadKeyEncoding { index, key: raw_key })?;
    Ok(S3ObjectEvent {
        event_name,
        event_time: record
            .event_time
            .and_then(|time| DateTime::parse_from_rfc3339(&time).ok())
            .map(|time| time.with_timezone(&Utc)),
        aws_region: record.aws_region,
        bucket,
        key,
        size: object.size,
        etag: object.e_tag,
        version_id: object.version_id,
        sequencer: object.sequencer,
    })
}

/// Decodes a key as S3 encodes it in notifications: `+` is a space, `%XX` a byte of UTF-8.
pub fn decode_key(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8().ok().map(|key| key.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as AWS sends it, all fields present.
    const AWS_RECORD: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1",
        "eventTime":"2025-03-01T08:00:00.123Z","eventName":"ObjectCreated:Put",
        "userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},"requestParameters":{"sourceIPAddress":"203.0.113.7"},
        "responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3":{"s3SchemaVersion":"1.0","configurationId":"inbox-to-ingest",
          "bucket":{"name":"ledgerpost-docs","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::ledgerpost-docs"},
          "object":{"key":"inbox/Invoice+2025-001+%28copy%29.xml","size":10240,"eTag":"0123456789abcdef0123456789abcdef",
            "versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}}}]}"#;

    /// The same event as moto_server sends it: no userIdentity, requestParameters,
    /// responseElements, versionId or sequencer, and `/` encoded too.
    const MOTO_RECORD: &str = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
        "eventTime": "2026-11-23T10:59:51.696Z", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0",
        "configurationId": "Gnunn1RZrxEQWSdZvGirqs8PScSlZ30HIjwHWs1rdoQgYngIar", "bucket": {"name": "docs",
        "arn": "arn:aws:s3:::docs"}, "object": {"key": "inbox%2Fmy+file%2Bx+%C3%A9.xml", "size": 4,
        "eTag": "a8b594bf8dcca656fb1eb1b66344940a"}}}]}"#;

    const TEST_EVENT: &str = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2025-03-01T07:59:59.000Z",
        "Bucket":"ledgerpost-docs","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;

    #[test]
    fn an_aws_record_is_read_with_its_key_decoded() {
        let S3Notification::Records(records) = parse_notification(AWS_RECORD).unwrap() else { panic!() };
        let [event] = records.as_slice() else { panic!("{records:?}") };
        assert_eq!(event.key, "inbox/Invoice 2025-001 (copy).xml");
        assert_eq!(event.object_key().unwrap().as_str(), "inbox/Invoice 2025-001 (copy).xml");
        assert_eq!(event.bucket, "ledgerpost-docs");
        assert_eq!(event.size, Some(10240));
        assert!(event.is_object_created());
        assert_eq!(event.sequencer.as_deref(), Some("0055AED6DCD90281E5"));
        assert_eq!(event.event_time.unwrap().to_rfc3339(), "2025-03-01T08:00:00.123+00:00");
    }

    #[test]
    fn a_moto_record_without_identity_fields_is_read() {
        let S3Notification::Records(records) = parse_notification(MOTO_RECORD).unwrap() else { panic!() };
        assert_eq!(records[0].key, "inbox/my file+x é.xml");
        assert_eq!((records[0].size, records[0].sequencer.as_deref()), (Some(4), None));
    }

    #[test]
    fn the_test_event_is_recognised() {
        let parsed = parse_notification(TEST_EVENT).unwrap();
        assert_eq!(parsed, S3Notification::Test { bucket: Some("ledgerpost-docs".into()) });
    }

    #[test]
    fn other_bodies_are_refused_with_a_reason() {
        assert!(matches!(parse_notification("not json"), Err(S3EventError::NotJson(_))));
        assert!(matches!(parse_notification(r#"{"invoice_id":"x"}"#), Err(S3EventError::NotS3)));
        assert!(matches!(parse_notification(r#"{"Event":"s3:Other"}"#), Err(S3EventError::NotS3)));
        let no_key = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"size":1}}}]}"#;
        assert!(matches!(
            parse_notification(no_key),
            Err(S3EventError::MissingField { index: 0, field: "s3.object.key" })
        ));
        let bad_utf8 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"inbox/%FF.xml"}}}]}"#;
        assert!(matches!(parse_notification(bad_utf8), Err(S3EventError::BadKeyEncoding { .. })));
    }

    #[test]
    fn a_key_that_decodes_to_a_traversal_is_refused_as_a_key() {
        let body = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"inbox%2F..%2F..%2Fetc"}}}]}"#;
        let S3Notification::Records(records) = parse_notification(body).unwrap() else { panic!() };
        assert_eq!(records[0].key, "inbox/../../etc");
        assert!(records[0].object_key().is_err());
    }

    #[test]
    fn keys_decode_like_forms() {
        assert_eq!(decode_key("a+b%2Bc%20d").as_deref(), Some("a b+c d"));
        assert_eq!(decode_key("inbox/plain.xml").as_deref(), Some("inbox/plain.xml"));
        assert_eq!(decode_key("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(decode_key("%C3"), None);
    }
}
