//! Which SDK errors are worth retrying, and whether a request may have reached the service.
//!
//! The SDK itself already retries throttling and transient errors a few times (standard retry
//! mode) for S3, SQS and DynamoDB; what still fails after that is classified here so that the
//! Lambda edge can tell "try the message again later" from "this will never work".
//!
//! For e-mail the question is different: a request that left the machine may have been
//! accepted even if no answer came back. Only a failure to *connect* (refused, DNS, connect
//! timeout, TLS handshake) proves that nothing was sent. hyper-util reports those as a
//! "connect" error, which is found in the source chain of the SDK's dispatch failure.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
// The trait lives in aws-smithy-types; every SDK crate re-exports the same one.
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::http::StatusCode;

/// Error codes that mean "too many requests for now" across S3, SQS, DynamoDB and SES.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "RequestThrottled",
    "PriorRequestNotComplete",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Error codes of a service that is briefly unable to answer.
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Whether the code is a throttling code.
pub fn is_throttling_code(code: Option<&str>) -> bool {
    code.is_some_and(|code| THROTTLING_CODES.contains(&code))
}

/// Whether retrying the same request later may succeed: throttling, timeouts, connection
/// failures, unreadable responses and 5xx answers.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => !failure.is_user(),
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            let code = err.code();
            is_throttling_code(code)
                || code.is_some_and(|code| TRANSIENT_CODES.contains(&code))
                || status.as_u16() == 429
                || status.is_server_error()
        }
        _ => false,
    }
}

/// The HTTP status of a service error's response, if the request got that far.
pub fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<StatusCode> {
    err.raw_response().map(HttpResponse::status)
}

/// Whether the error chain holds a failure to establish the connection, which proves the
/// request was never sent.
pub fn is_connect_failure(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(hyper_err) = err.downcast_ref::<hyper_util::client::legacy::Error>()
            && hyper_err.is_connect()
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// The error's code and message for a log line or an error context, e.g.
/// `ConditionalCheckFailedException: The conditional request failed`.
pub fn describe<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => match err {
            SdkError::TimeoutError(_) => "timed out".to_owned(),
            SdkError::DispatchFailure(_) => "request not dispatched".to_owned(),
            SdkError::ResponseError(_) => "unreadable response".to_owned(),
            SdkError::ConstructionFailure(_) => "request not built".to_owned(),
            _ => status(err).map_or_else(|| "failed".to_owned(), |s| format!("HTTP {}", s.as_u16())),
        },
    }
}
