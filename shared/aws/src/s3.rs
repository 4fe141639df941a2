//! The bucket port on one S3 bucket.
//!
//! - `get` sends one GetObject and checks the size from the response headers before reading
//!   the body; the body is then read with a running count, so an object without a length
//!   header cannot go past the cap either. An object over the cap is never downloaded (the
//!   connection is dropped with the body unread).
//! - `list` pages with `StartAfter` = the last key of the previous page, so a cursor is a key,
//!   as in the folder adapter. Keys that are not valid [`ObjectKey`]s (put there by hand) are
//!   skipped with a warning, as the folder adapter skips odd file names.
//! - `move_object` is CopyObject then DeleteObject (objects here are far below CopyObject's
//!   5 GB limit); after a crash in between the object exists under both keys.
//! - A missing object is recognised by `NoSuchKey` / HTTP 404. Without `s3:ListBucket` S3
//!   answers 403 instead, so the functions' roles grant it (see infra/template.yaml).

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, Utc};
use ledgerpost_ports::bucket::check_prefix;
use ledgerpost_ports::{Bucket, BucketError, Cursor, InvalidKey, ObjectKey, ObjectMeta, ObjectPage};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{describe, is_transient, status};

/// Most keys one ListObjectsV2 call returns.
const MAX_LIST_KEYS: usize = 1000;

/// Characters kept as they are in the `x-amz-copy-source` header: unreserved ones and `/`.
const COPY_SOURCE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// One S3 bucket as the bucket port.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: Client,
    bucket: String,
}

impl S3Bucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Bucket { client, bucket: bucket.into() }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.bucket
    }

    /// The `x-amz-copy-source` value for `key`: `bucket/key`, URL-encoded.
    fn copy_source(&self, key: &ObjectKey) -> String {
        format!("{}/{}", self.bucket, utf8_percent_encode(key.as_str(), COPY_SOURCE))
    }
}

/// Maps an SDK error: transient ones to `Unavailable`, the rest to `Backend`.
fn sdk_error<E>(context: String, err: SdkError<E, HttpResponse>) -> BucketError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = format!("{context}: {}", describe(&err));
    if is_transient(&err) {
        BucketError::unavailable(context, err)
    } else {
        BucketError::backend(context, err)
    }
}

/// Whether the error says there is no such object (or, for HeadObject, which has no body to
/// carry a code, an HTTP 404).
fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    if !matches!(err, SdkError::ServiceError(_)) {
        return false;
    }
    match err.code() {
        Some(code) => matches!(code, "NoSuchKey" | "NotFound"),
        None => status(err).is_some_and(|s| s.as_u16() == 404),
    }
}

fn to_utc(time: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(time.secs(), time.subsec_nanos())
}

#[async_trait]
impl Bucket for S3Bucket {
    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| sdk_error(format!("put {key}"), err))?;
        Ok(())
    }

    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> Result<Vec<u8>, BucketError> {
        let output = match self.client.get_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(output) => output,
            Err(err) if is_not_found(&err) => return Err(BucketError::NotFound { key: key.clone() }),
            Err(err) => return Err(sdk_error(format!("get {key}"), err)),
        };
        let too_large = |size: u64| BucketError::TooLarge { key: key.clone(), size, limit: max_bytes };
        let announced = output.content_length().and_then(|len| u64::try_from(len).ok());
        if let Some(size) = announced
            && size > max_bytes
        {
            return Err(too_large(size));
        }
        let capacity = announced.and_then(|size| usize::try_from(size).ok()).unwrap_or(0);
        let mut bytes = Vec::with_capacity(capacity);
        let mut body = output.body;
        loop {
            let chunk = body
                .try_next()
                .await
                .map_err(|err| BucketError::unavailable(format!("read the body of {key}"), err))?;
            let Some(chunk) = chunk else { break };
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(too_large(announced.unwrap_or(bytes.len() as u64)));
            }
        }
        Ok(bytes)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BucketError> {
        let output = match self.client.head_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(output) => output,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(sdk_error(format!("head {key}"), err)),
        };
        Ok(Some(ObjectMeta {
            key: key.clone(),
            size: output.content_length().and_then(|len| u64::try_from(len).ok()).unwrap_or(0),
            last_modified: output.last_modified().and_then(to_utc),
            content_type: output.content_type().map(str::to_owned),
        }))
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<ObjectPage, BucketError> {
        check_prefix(prefix)?;
        if limit == 0 {
            return Err(BucketError::InvalidKey(InvalidKey {
                key: prefix.to_owned(),
                reason: "a list limit must be at least 1",
            }));
        }
        let max_keys = limit.min(MAX_LIST_KEYS) as i32;
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(max_keys)
            .set_start_after(after.map(|cursor| cursor.as_str().to_owned()))
            .send()
            .await
            .map_err(|err| sdk_error(format!("list {prefix:?}"), err))?;
        let listed = output.contents();
        let mut objects = Vec::with_capacity(listed.len());
        for object in listed {
            let Some(raw_key) = object.key() else { continue };
            match ObjectKey::parse(raw_key) {
                Ok(key) => objects.push(ObjectMeta {
                    key,
                    size: object.size().and_then(|size| u64::try_from(size).ok()).unwrap_or(0),
                    last_modified: object.last_modified().and_then(to_utc),
                    content_type: None,
                }),
                Err(err) => {
                    tracing::warn!(bucket = %self.bucket, %err, "skipping an object whose key is not usable")
                }
            }
        }
        let next = if output.is_truncated() == Some(true) {
            listed.last().and_then(|object| object.key()).map(Cursor::new)
        } else {
            None
        };
        Ok(ObjectPage { objects, next })
    }

    async fn move_object(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BucketError> {
        if from == to {
            // S3 refuses to copy an object onto itself; the move is done if the object exists.
            return match self.head(from).await? {
                Some(_) => Ok(()),
                None => Err(BucketError::NotFound { key: from.clone() }),
            };
        }
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to.as_str())
            .copy_source(self.copy_source(from))
            .send()
            .await;
        match copied {
            Ok(_) => {}
            Err(err) if is_not_found(&err) => return Err(BucketError::NotFound { key: from.clone() }),
            Err(err) => return Err(sdk_error(format!("copy {from} to {to}"), err)),
        }
        self.delete(from).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BucketError> {
        match self.client.delete_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(_) => Ok(()),
            // S3 answers 204 for a missing key; an emulator may say 404. Either way it is gone.
            Err(err) if is_not_found(&err) => Ok(()),
            Err(err) => Err(sdk_error(format!("delete {key}"), err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_is_url_encoded_but_keeps_slashes() {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        let bucket = S3Bucket::new(Client::from_conf(config), "docs");
        let key = ObjectKey::parse("inbox/my file+x é?.xml").unwrap();
        assert_eq!(bucket.copy_source(&key), "docs/inbox/my%20file%2Bx%20%C3%A9%3F.xml");
    }
}
