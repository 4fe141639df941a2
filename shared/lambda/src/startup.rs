//! Start-up of a function: the configuration document is read once, from the bucket, before the
//! first event, and a wrong one stops the start with the field named (the function then fails
//! its init, which the deployment sees at once, instead of failing every message).
//!
//! The object is `config/ledgerpost.toml` unless `LEDGERPOST_CONFIG_KEY` names another. The
//! envelope sender the functions may send as (`LEDGERPOST_SENDER`, covered by the SES identity
//! of the role) must be the configuration's `export.from`, or every e-mail would be refused.

use ledgerpost_domain::config::{Config, ConfigError};
use ledgerpost_ports::{Bucket, BucketError, ObjectKey};

/// Where the configuration document is, by default.
pub const CONFIG_KEY: &str = "config/ledgerpost.toml";
/// The variable that names another object.
pub const CONFIG_KEY_VAR: &str = "LEDGERPOST_CONFIG_KEY";
/// The largest configuration document read.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Why a function refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A resource name or setting of the environment is missing or wrong.
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Environment(#[from] ledgerpost_aws::ConfigError),

    #[error("the environment variable {name} is invalid: {reason}")]
    InvalidVariable { name: &'static str, reason: String },

    #[error("the configuration object {key} could not be read: {source}")]
    Read {
        key: ObjectKey,
        #[source]
        source: BucketError,
    },

    #[error("the configuration object {key} is not UTF-8 text")]
    NotText { key: ObjectKey },

    /// The document is refused; the message names the field (`export.addresses.sales: …`).
    #[error("the configuration {key} is refused: {source}")]
    Config {
        key: ObjectKey,
        #[source]
        source: Box<ConfigError>,
    },

    #[error("the configuration {key} is refused: export.from: \"{from}\" is not {var} (\"{sender}\")")]
    Sender { key: ObjectKey, from: String, var: &'static str, sender: String },
}

/// The configuration object's key: `LEDGERPOST_CONFIG_KEY` when set, else [`CONFIG_KEY`].
pub fn config_key(lookup: impl Fn(&str) -> Option<String>) -> Result<ObjectKey, StartupError> {
    let raw = lookup(CONFIG_KEY_VAR)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| CONFIG_KEY.to_owned());
    ObjectKey::parse(raw)
        .map_err(|e| StartupError::InvalidVariable { name: CONFIG_KEY_VAR, reason: e.to_string() })
}

/// Reads and checks the configuration document at `key`.
pub async fn load_config(bucket: &dyn Bucket, key: &ObjectKey) -> Result<Config, StartupError> {
    let bytes = bucket
        .get(key, MAX_CONFIG_BYTES)
        .await
        .map_err(|source| StartupError::Read { key: key.clone(), source })?;
    let text = String::from_utf8(bytes).map_err(|_| StartupError::NotText { key: key.clone() })?;
    Config::from_toml_str(&text)
        .map_err(|source| StartupError::Config { key: key.clone(), source: Box::new(source) })
}

/// Refuses a configuration whose `export.from` is not the deployment's sender (compared without
/// regard to case).
pub fn check_sender(
    config: &Config,
    key: &ObjectKey,
    var: &'static str,
    sender: &str,
) -> Result<(), StartupError> {
    let from = config.export.from.as_str();
    if from.eq_ignore_ascii_case(sender) {
        Ok(())
    } else {
        Err(StartupError::Sender { key: key.clone(), from: from.to_owned(), var, sender: sender.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ledgerpost_local::FolderBucket;

    use super::*;

    const DEMO: &str = include_str!("../../cli/demo/ledgerpost.toml");

    async fn bucket_with(text: &str) -> (tempfile::TempDir, FolderBucket, ObjectKey) {
        let dir = tempfile::tempdir().unwrap();
        let bucket = FolderBucket::open(dir.path().join("bucket")).unwrap();
        let key = config_key(|_| None).unwrap();
        bucket.put(&key, text.as_bytes().to_vec(), "application/toml").await.unwrap();
        (dir, bucket, key)
    }

    #[test]
    fn the_key_comes_from_the_environment_or_the_default() {
        assert_eq!(config_key(|_| None).unwrap().as_str(), CONFIG_KEY);
        let env: HashMap<&str, &str> = [(CONFIG_KEY_VAR, " config/prod.toml ")].into();
        assert_eq!(config_key(|n| env.get(n).map(|v| v.to_string())).unwrap().as_str(), "config/prod.toml");
        let err = config_key(|_| Some("../etc/passwd".into())).unwrap_err();
        assert!(err.to_string().contains(CONFIG_KEY_VAR), "{err}");
    }

    #[tokio::test]
    async fn a_good_document_loads_and_its_sender_is_checked() {
        let (_dir, bucket, key) = bucket_with(DEMO).await;
        let config = load_config(&bucket, &key).await.unwrap();
        assert_eq!(config.administrations.len(), 2);
        check_sender(&config, &key, "LEDGERPOST_SENDER", "Ledgerpost@Firm.example").unwrap();
        let err = check_sender(&config, &key, "LEDGERPOST_SENDER", "other@firm.example").unwrap_err();
        assert!(err.to_string().contains("export.from"), "{err}");
        assert!(err.to_string().contains("LEDGERPOST_SENDER"), "{err}");
    }

    #[tokio::test]
    async fn a_wrong_document_is_refused_with_the_field_named() {
        let broken = DEMO.replace("sales = \"sales-journal@books.example\"", "sales = \"not an address\"");
        let (_dir, bucket, key) = bucket_with(&broken).await;
        let err = load_config(&bucket, &key).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("config/ledgerpost.toml"), "{text}");
        assert!(text.contains("export.addresses.sales"), "{text}");
    }

    #[tokio::test]
    async fn a_missing_or_binary_document_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = FolderBucket::open(dir.path().join("bucket")).unwrap();
        let key = config_key(|_| None).unwrap();
        let err = load_config(&bucket, &key).await.unwrap_err();
        assert!(matches!(err, StartupError::Read { source: BucketError::NotFound { .. }, .. }), "{err}");
        bucket.put(&key, vec![0xff, 0xfe], "application/toml").await.unwrap();
        assert!(matches!(load_config(&bucket, &key).await, Err(StartupError::NotText { .. })));
    }
}
