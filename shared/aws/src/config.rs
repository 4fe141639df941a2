//! Resource names from the environment, and the SDK clients built once from them.
//!
//! Everything that differs between deployments comes from environment variables, read once at
//! start-up and refused at once with the variable named:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `LEDGERPOST_BUCKET` | the documents bucket (inbox/, archive/, attachments/, rejected/, config/) |
//! | `LEDGERPOST_TABLE` | the single DynamoDB table |
//! | `LEDGERPOST_INGEST_QUEUE`, `LEDGERPOST_MATCH_QUEUE`, `LEDGERPOST_JOURNAL_QUEUE` | the stage queues, each a queue URL (what CloudFormation's `!Ref` gives) or a queue name |
//! | `LEDGERPOST_SENDER` | the envelope sender of every e-mail (an SES identity must cover it) |
//! | `LEDGERPOST_SES_CONFIGURATION_SET` | optional: the SES configuration set to send with |
//! | `AWS_ENDPOINT_URL` | optional: one endpoint for every service (an emulator, a VPC endpoint proxy) |
//! | `LEDGERPOST_S3_FORCE_PATH_STYLE` | optional, `true` or `false`: path-style S3 addressing, which an endpoint that is not S3 usually needs |
//!
//! Region and credentials come from the SDK's default chain (in Lambda: the function's role).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use ledgerpost_ports::EnvelopeAddress;

use crate::{DynamoStore, S3Bucket, SesMailer, SqsQueue};

/// Logical name of the ingest queue, as the domain names it.
pub const QUEUE_INGEST: &str = "ingest";
/// Logical name of the match queue.
pub const QUEUE_MATCH: &str = "match";
/// Logical name of the journal queue.
pub const QUEUE_JOURNAL: &str = "journal";

/// Longest wait for a TCP + TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for one attempt of one request, response included. An e-mail whose attempt
/// times out is "in doubt"; a Lambda function has its own, longer, timeout around everything.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The resource names and endpoint settings of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub bucket: String,
    pub table: String,
    pub ingest_queue: String,
    pub match_queue: String,
    pub journal_queue: String,
    pub sender: EnvelopeAddress,
    pub ses_configuration_set: Option<String>,
    /// One endpoint for every service instead of AWS's own.
    pub endpoint_url: Option<String>,
    /// Address S3 objects as `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub s3_force_path_style: bool,
}

/// A missing or unusable setting, with the variable named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {name} is not set (or empty)")]
    Missing { name: &'static str },

    #[error("the environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl AwsSettings {
    pub const BUCKET: &'static str = "LEDGERPOST_BUCKET";
    pub const TABLE: &'static str = "LEDGERPOST_TABLE";
    pub const INGEST_QUEUE: &'static str = "LEDGERPOST_INGEST_QUEUE";
    pub const MATCH_QUEUE: &'static str = "LEDGERPOST_MATCH_QUEUE";
    pub const JOURNAL_QUEUE: &'static str = "LEDGERPOST_JOURNAL_QUEUE";
    pub const SENDER: &'static str = "LEDGERPOST_SENDER";
    pub const SES_CONFIGURATION_SET: &'static str = "LEDGERPOST_SES_CONFIGURATION_SET";
    pub const ENDPOINT_URL: &'static str = "AWS_ENDPOINT_URL";
    pub const S3_FORCE_PATH_STYLE: &'static str = "LEDGERPOST_S3_FORCE_PATH_STYLE";

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, or `None` when unset).
    /// Values are trimmed; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &'static str| {
            lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
        };
        let required = |name: &'static str| optional(name).ok_or(ConfigError::Missing { name });

        let sender = required(Self::SENDER)?;
        let sender = EnvelopeAddress::parse(sender)
            .map_err(|err| ConfigError::Invalid { name: Self::SENDER, reason: err.to_string() })?;
        let endpoint_url = optional(Self::ENDPOINT_URL);
        if let Some(url) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: Self::ENDPOINT_URL,
                reason: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        let s3_force_path_style = match optional(Self::S3_FORCE_PATH_STYLE).as_deref() {
            None => false,
            Some(value) if value.eq_ignore_ascii_case("true") => true,
            Some(value) if value.eq_ignore_ascii_case("false") => false,
            Some(value) => {
                return Err(ConfigError::Invalid {
                    name: Self::S3_FORCE_PATH_STYLE,
                    reason: format!("{value:?} is neither true nor false"),
                });
            }
        };
        Ok(AwsSettings {
            bucket: required(Self::BUCKET)?,
            table: required(Self::TABLE)?,
            ingest_queue: required(Self::INGEST_QUEUE)?,
            match_queue: required(Self::MATCH_QUEUE)?,
            journal_queue: required(Self::JOURNAL_QUEUE)?,
            sender,
            ses_configuration_set: optional(Self::SES_CONFIGURATION_SET),
            endpoint_url,
            s3_force_path_style,
        })
    }

    /// The logical queue names with their configured URL or name.
    pub fn queues(&self) -> [(&'static str, &str); 3] {
        [
            (QUEUE_INGEST, self.ingest_queue.as_str()),
            (QUEUE_MATCH, self.match_queue.as_str()),
            (QUEUE_JOURNAL, self.journal_queue.as_str()),
        ]
    }
}

/// The HTTP client every SDK client uses: hyper 1 with rustls on the ring crypto provider.
/// Without the SDK's default features there is no implicit client, so it is given here.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration loader for `settings`: the default chain for region and credentials,
/// the explicit HTTP client, timeouts, and the endpoint override when there is one. Callers
/// may add to it (the tests set static credentials and a region) before `load()`.
pub fn config_loader(settings: &AwsSettings) -> ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(http_client()).timeout_config(timeouts);
    match &settings.endpoint_url {
        Some(url) => loader.endpoint_url(url),
        None => loader,
    }
}

/// The SDK clients, built once per process (outside the Lambda handler) and cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub settings: AwsSettings,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Built with retries off: an e-mail attempt that timed out must not be sent again by the
    /// SDK; throttling is retried by the caller, which knows the sending rate.
    pub ses: aws_sdk_sesv2::Client,
}

impl AwsClients {
    /// Reads [`AwsSettings::from_env`] and loads the SDK configuration.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = AwsSettings::from_env()?;
        Ok(Self::load(settings).await)
    }

    /// Loads the SDK configuration for `settings` ([`config_loader`]) and builds the clients.
    pub async fn load(settings: AwsSettings) -> Self {
        let sdk = config_loader(&settings).load().await;
        Self::new(&sdk, settings)
    }

    /// Builds the clients from an already loaded SDK configuration.
    pub fn new(sdk: &SdkConfig, settings: AwsSettings) -> Self {
        let s3 =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(settings.s3_force_path_style).build();
        let ses = aws_sdk_sesv2::config::Builder::from(sdk).retry_config(RetryConfig::disabled()).build();
        AwsClients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            sqs: aws_sdk_sqs::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::from_conf(ses),
            settings,
        }
    }

    /// The documents bucket.
    pub fn bucket(&self) -> S3Bucket {
        S3Bucket::new(self.s3.clone(), self.settings.bucket.clone())
    }

    /// The three stage queues under their logical names.
    pub fn queue(&self) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), self.settings.queues())
    }

    /// The single table.
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(self.dynamodb.clone(), self.settings.table.clone())
    }

    /// The mailer, with the configuration set when there is one. The envelope sender is in
    /// [`AwsSettings::sender`]; each message names its own.
    pub fn mailer(&self) -> SesMailer {
        SesMailer::new(self.ses.clone(), self.settings.ses_configuration_set.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const COMPLETE: &[(&str, &str)] = &[
        ("LEDGERPOST_BUCKET", "docs"),
        ("LEDGERPOST_TABLE", "ledgerpost"),
        ("LEDGERPOST_INGEST_QUEUE", "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest"),
        ("LEDGERPOST_MATCH_QUEUE", "match"),
        ("LEDGERPOST_JOURNAL_QUEUE", " journal "),
        ("LEDGERPOST_SENDER", "ledgerpost@firm.example"),
    ];

    #[test]
    fn a_complete_environment_is_read() {
        let settings = AwsSettings::from_lookup(env(COMPLETE)).unwrap();
        assert_eq!(settings.bucket, "docs");
        assert_eq!(settings.journal_queue, "journal");
        assert_eq!(settings.sender.as_str(), "ledgerpost@firm.example");
        assert_eq!((settings.endpoint_url, settings.s3_force_path_style), (None, false));
        assert_eq!(settings.ses_configuration_set, None);
    }

    #[test]
    fn each_missing_variable_is_named() {
        for (name, _) in COMPLETE {
            let rest: Vec<_> = COMPLETE.iter().copied().filter(|(n, _)| n != name).collect();
            assert_eq!(AwsSettings::from_lookup(env(&rest)), Err(ConfigError::Missing { name }), "{name}");
            let mut empty = rest.clone();
            empty.push((name, "  "));
            assert_eq!(AwsSettings::from_lookup(env(&empty)), Err(ConfigError::Missing { name }), "{name}");
        }
    }

    #[test]
    fn optional_settings_are_checked() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = COMPLETE.to_vec();
            all.extend_from_slice(extra);
            AwsSettings::from_lookup(env(&all))
        };
        let settings = with(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("LEDGERPOST_S3_FORCE_PATH_STYLE", "TRUE"),
            ("LEDGERPOST_SES_CONFIGURATION_SET", "ledgerpost"),
        ])
        .unwrap();
        assert_eq!(settings.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert!(settings.s3_force_path_style);
        assert_eq!(settings.ses_configuration_set.as_deref(), Some("ledgerpost"));

        let err = with(&[("LEDGERPOST_S3_FORCE_PATH_STYLE", "yes")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "LEDGERPOST_S3_FORCE_PATH_STYLE", .. }));
        let err = with(&[("AWS_ENDPOINT_URL", "127.0.0.1:5000")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "AWS_ENDPOINT_URL", .. }));
        let mut bad_sender = COMPLETE.to_vec();
        bad_sender.retain(|(n, _)| *n != "LEDGERPOST_SENDER");
        bad_sender.push(("LEDGERPOST_SENDER", "Ledgerpost <a@b.example>"));
        let err = AwsSettings::from_lookup(env(&bad_sender)).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "LEDGERPOST_SENDER", .. }));
    }

    #[tokio::test]
    async fn clients_build_without_network() {
        let settings = AwsSettings::from_lookup(env(COMPLETE)).unwrap();
        let sdk = config_loader(&settings).region(aws_config::Region::new("eu-west-1")).load().await;
        let clients = AwsClients::new(&sdk, settings);
        assert_eq!(clients.bucket().name(), "docs");
        assert_eq!(clients.store().table(), "ledgerpost");
    }
}
