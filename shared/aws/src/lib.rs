//! # ledgerpost-aws
//!
//! The AWS adapters of the ports in `ledgerpost-ports`, for the Lambda functions:
//!
//! - [`S3Bucket`]: the bucket port on one S3 bucket; the size cap is checked on the response
//!   headers, before the body is read.
//! - [`SqsQueue`]: the queue port on SQS; logical queue names (`ingest`, `match`, `journal`)
//!   map to configured queue URLs or names, resolved once; the dead letters of a queue are the
//!   dead-letter queue named by its redrive policy. Batch sends and deletes besides the port.
//! - [`DynamoStore`]: the store port on one DynamoDB table; [`key_design`] shows which items
//!   and indexes the application keeps there.
//! - [`SesMailer`]: the mailer port on SESv2 `SendEmail` with raw content; throttling, refusals
//!   and unknown outcomes are told apart so that an e-mail is never sent twice.
//! - [`s3_event`]: the S3 notifications that arrive in SQS message bodies, parsed tolerantly.
//!
//! [`AwsClients::from_env`] builds all of them once, at start-up, from environment variables
//! (resource names) and the SDK's own configuration chain (region, credentials, and an
//! optional endpoint override, which is how the integration tests reach moto_server: the same
//! code path, configured differently).
//!
//! ## Build
//!
//! The SDK crates are used without their default features: those pull two HTTP/TLS stacks
//! (one of them a C build) and SSO credential providers that a Lambda function never uses.
//! The HTTP client is therefore given explicitly: hyper 1 with rustls on ring
//! ([`config::http_client`]).
//!
//! ## Errors
//!
//! SDK errors are kept as the source of the port errors, never flattened into strings.
//! [`error`] decides which are worth retrying (throttling, timeouts, 5xx) and, for e-mail,
//! whether the request may have reached SES (then the outcome is "in doubt").

pub mod config;
pub mod dynamo;
pub mod error;
pub mod key_design;
pub mod s3;
pub mod s3_event;
pub mod ses;
pub mod sqs;

pub use config::{AwsClients, AwsSettings, ConfigError, QUEUE_INGEST, QUEUE_JOURNAL, QUEUE_MATCH};
pub use dynamo::DynamoStore;
pub use s3::S3Bucket;
pub use s3_event::{S3EventError, S3Notification, S3ObjectEvent, parse_notification};
pub use ses::SesMailer;
pub use sqs::SqsQueue;
