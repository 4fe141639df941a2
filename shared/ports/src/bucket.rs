//! The bucket port: whole objects under `/`-separated keys (S3 on AWS, a folder locally).
//!
//! Keys are validated once, on construction of an [`ObjectKey`], with rules strict enough that a
//! key maps safely onto a relative file path: no `..` or `.` segment, no absolute path, no
//! backslash, no NUL or other control character, no empty segment. S3 itself would accept more;
//! keys that come from outside (an S3 notification) are parsed, and a key that does not parse is
//! rejected with a clear error rather than silently rewritten.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{BoxError, Cursor, Retryable};

/// Longest key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// A validated object key such as `inbox/2024-001.xml` or `rejected/x.xml.reason.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

/// Why a string is not an acceptable key or prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object key {key:?}: {reason}")]
pub struct InvalidKey {
    pub key: String,
    pub reason: &'static str,
}

impl ObjectKey {
    /// Checks a key: non-empty, at most [`MAX_KEY_BYTES`], relative, segments separated by `/`,
    /// no empty, `.` or `..` segment, no backslash, no NUL or other control character.
    pub fn parse(key: impl Into<String>) -> Result<Self, InvalidKey> {
        let key = key.into();
        if key.is_empty() {
            return Err(InvalidKey { key, reason: "the key is empty" });
        }
        if let Err(reason) = check_path_text(&key) {
            return Err(InvalidKey { key, reason });
        }
        if key.split('/').any(str::is_empty) {
            let reason = "a key has no empty segment (no leading, trailing or double '/')";
            return Err(InvalidKey { key, reason });
        }
        Ok(ObjectKey(key))
    }

    /// Joins a prefix such as `archive/2024/` (or `archive/2024`) and a name into a key.
    pub fn join(prefix: &str, name: &str) -> Result<Self, InvalidKey> {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() { Self::parse(name) } else { Self::parse(format!("{prefix}/{name}")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments, each non-empty and neither `.` nor `..`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last segment, e.g. `x.xml` for `inbox/x.xml`.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Checks a list prefix: the empty prefix (everything) or text that obeys the key rules, except
/// that it may end with `/`.
pub fn check_prefix(prefix: &str) -> Result<(), InvalidKey> {
    if prefix.is_empty() {
        return Ok(());
    }
    let invalid = |reason| Err(InvalidKey { key: prefix.to_owned(), reason });
    if let Err(reason) = check_path_text(prefix) {
        return invalid(reason);
    }
    let body = prefix.strip_suffix('/').unwrap_or(prefix);
    if body.split('/').any(str::is_empty) {
        return invalid("a prefix has no empty segment (no leading or double '/')");
    }
    Ok(())
}

/// Rules shared by keys and prefixes.
fn check_path_text(text: &str) -> Result<(), &'static str> {
    if text.len() > MAX_KEY_BYTES {
        return Err("longer than 1024 bytes");
    }
    if text.starts_with('/') {
        return Err("an absolute path is not a key");
    }
    if text.contains('\\') {
        return Err("a backslash is not allowed");
    }
    if text.chars().any(char::is_control) {
        return Err("NUL and other control characters are not allowed");
    }
    if text.split('/').any(|segment| segment == ".." || segment == ".") {
        return Err("'.' and '..' segments are not allowed");
    }
    Ok(())
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = InvalidKey;
    fn try_from(key: String) -> Result<Self, Self::Error> {
        Self::parse(key)
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = InvalidKey;
    fn try_from(key: &str) -> Result<Self, Self::Error> {
        Self::parse(key)
    }
}

impl std::str::FromStr for ObjectKey {
    type Err = InvalidKey;
    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::parse(key)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> Self {
        key.0
    }
}

/// What is known about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: ObjectKey,
    /// Size in bytes.
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    /// The content type given at `put`, where the backend keeps it (S3 does, a folder does not).
    pub content_type: Option<String>,
}

/// One page of [`Bucket::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    /// Objects in ascending key order (by UTF-8 bytes, as S3 lists them).
    pub objects: Vec<ObjectMeta>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// Whole objects under validated keys.
///
/// Writes replace whatever was under the key (S3 semantics); readers never see a partly
/// written object. Reads are strongly consistent, as S3 is since 2020.
#[async_trait]
pub trait Bucket: Send + Sync {
    /// Stores `bytes` under `key`, replacing any previous object.
    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError>;

    /// Reads a whole object, refusing with [`BucketError::TooLarge`] before reading when it is
    /// larger than `max_bytes`.
    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> Result<Vec<u8>, BucketError>;

    /// The object's metadata, or `None` when there is no object under `key`.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BucketError>;

    /// The size in bytes, or `None` when there is no object under `key`.
    async fn size(&self, key: &ObjectKey) -> Result<Option<u64>, BucketError> {
        Ok(self.head(key).await?.map(|meta| meta.size))
    }

    /// Up to `limit` objects whose key starts with `prefix` (plain text, not a folder: `inbox/`
    /// lists the inbox, `in` would also list `invoices/…`), after `after` when given. A page may
    /// hold fewer than `limit` objects even when more follow; stop when `next` is `None`.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<ObjectPage, BucketError>;

    /// Moves an object to a new key (S3: copy then delete; a folder: rename), replacing any
    /// object under `to`. [`BucketError::NotFound`] when `from` does not exist. Not atomic on S3:
    /// after a crash the object may exist under both keys, never under neither.
    async fn move_object(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BucketError>;

    /// Deletes an object; deleting a missing object succeeds (S3 semantics).
    async fn delete(&self, key: &ObjectKey) -> Result<(), BucketError>;
}

/// Why a bucket operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("no object at {key}")]
    NotFound { key: ObjectKey },

    #[error("object {key} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { key: ObjectKey, size: u64, limit: u64 },

    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),

    /// Throttled, timed out or briefly unreachable: retrying later may work.
    #[error("bucket unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: BoxError,
    },

    /// Any other failure of the backend.
    #[error("bucket failed: {context}")]
    Backend {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl BucketError {
    pub fn unavailable(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BucketError::Unavailable { context: context.into(), source: source.into() }
    }

    pub fn backend(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BucketError::Backend { context: context.into(), source: source.into() }
    }
}

impl Retryable for BucketError {
    fn is_retryable(&self) -> bool {
        matches!(self, BucketError::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_parse() {
        for key in ["inbox/x.xml", "rejected/x.xml.reason.txt", "a", "archive/2024/01/y z.xml", "été/ü.xml"]
        {
            assert_eq!(ObjectKey::parse(key).map(ObjectKey::into_string), Ok(key.to_owned()));
        }
    }

    #[test]
    fn traversal_and_odd_keys_are_refused() {
        for key in [
            "",
            "../etc/passwd",
            "inbox/../../x",
            "inbox/..",
            "./x",
            "/etc/passwd",
            "inbox\\x.xml",
            "..\\x",
            "inbox/x\0.xml",
            "inbox/\nx",
            "inbox//x",
            "inbox/",
        ] {
            assert!(ObjectKey::parse(key).is_err(), "{key:?} should be refused");
        }
        assert!(ObjectKey::parse("a".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(ObjectKey::parse("a".repeat(MAX_KEY_BYTES)).is_ok());
    }

    #[test]
    fn keys_that_only_look_like_dots_are_fine() {
        assert!(ObjectKey::parse("inbox/..x.xml").is_ok());
        assert!(ObjectKey::parse("inbox/.hidden").is_ok());
    }

    #[test]
    fn prefixes() {
        for ok in ["", "inbox/", "inbox", "inbox/2024-", "a/b/"] {
            assert!(check_prefix(ok).is_ok(), "{ok:?}");
        }
        for bad in ["/", "/inbox", "../", "inbox/../", "inbox//", "a\\", "a\0"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn join_and_file_name() {
        let key = ObjectKey::join("rejected/", "x.xml.reason.txt").unwrap();
        assert_eq!(key.as_str(), "rejected/x.xml.reason.txt");
        assert_eq!(key.file_name(), "x.xml.reason.txt");
        assert!(ObjectKey::join("inbox", "../x").is_err());
    }

    #[test]
    fn serde_validates() {
        let key: ObjectKey = serde_json::from_str("\"inbox/x.xml\"").unwrap();
        assert_eq!(key.as_str(), "inbox/x.xml");
        assert!(serde_json::from_str::<ObjectKey>("\"../x\"").is_err());
    }
}
