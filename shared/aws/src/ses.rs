//! The mailer port on SESv2 `SendEmail` with raw content.
//!
//! The envelope is explicit: `FromEmailAddress` is the message's envelope sender and
//! `Destination.ToAddresses` its envelope recipients (which come from configuration only), so
//! SES never derives recipients from the message's own headers.
//!
//! E-mail is sent at most once, so every failure is sorted by what it proves:
//!
//! | failure | meaning | error |
//! | --- | --- | --- |
//! | throttling code, HTTP 429, `LimitExceededException` | refused for now, nothing sent | `Throttled` (with `Retry-After` when given) |
//! | HTTP 503, `SendingPausedException`, `AccountSuspendedException`; the connection could not be made; the request could not be built | nothing sent | `Unavailable` |
//! | `MessageRejected`, `MailFromDomainNotVerifiedException`, `BadRequestException` and any other 4xx | refused for good | `Rejected` |
//! | timeout after connecting, connection lost, unreadable answer, any other 5xx | may have been sent | `InDoubt` |
//!
//! The client must not retry by itself (a retried timeout could send twice):
//! [`crate::AwsClients`] builds the SES client with retries disabled, and the caller retries
//! `Throttled`/`Unavailable` at its own pace.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use ledgerpost_ports::{MailError, MailMessageId, Mailer, OutgoingEmail};

use crate::error::{describe, is_connect_failure, is_throttling_code};

/// SESv2 as the mailer port.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// `client` should have retries disabled (as [`crate::AwsClients`] builds it).
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        SesMailer { client, configuration_set }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_raw(&self, email: &OutgoingEmail) -> Result<MailMessageId, MailError> {
        email.check()?;
        let raw = RawMessage::builder().data(Blob::new(email.raw.clone())).build().map_err(|err| {
            MailError::Rejected { reason: "the raw message".into(), source: Some(Box::new(err)) }
        })?;
        let to = email.to.iter().map(|address| address.as_str().to_owned()).collect();
        let output = self
            .client
            .send_email()
            .from_email_address(email.from.as_str())
            .destination(Destination::builder().set_to_addresses(Some(to)).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        match output.message_id() {
            Some(id) => Ok(MailMessageId::new(id)),
            // Accepted, but without an id to record: sent, yet not traceable.
            None => Err(MailError::InDoubt {
                context: "SES accepted the message but returned no message id".into(),
                source: "no MessageId in the SendEmail answer".into(),
            }),
        }
    }
}

/// Sorts a SendEmail failure by what it proves about the message (see the module table).
pub fn classify(err: SdkError<SendEmailError, HttpResponse>) -> MailError {
    let context = describe(&err);
    match &err {
        SdkError::ConstructionFailure(_) => MailError::Unavailable { context, source: Box::new(err) },
        SdkError::DispatchFailure(failure) if failure.is_user() || is_connect_failure(&err) => {
            MailError::Unavailable { context, source: Box::new(err) }
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code();
            if is_throttling_code(code) || status == 429 {
                let retry_after = service
                    .raw()
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                MailError::Throttled { context, retry_after, source: Box::new(err) }
            } else if status == 503
                || matches!(code, Some("SendingPausedException" | "AccountSuspendedException"))
            {
                MailError::Unavailable { context, source: Box::new(err) }
            } else if (400..500).contains(&status) {
                MailError::Rejected { reason: context, source: Some(Box::new(err)) }
            } else {
                MailError::InDoubt { context, source: Box::new(err) }
            }
        }
        // Timed out, connection lost after connecting, an unreadable answer, or anything new.
        _ => MailError::InDoubt { context, source: Box::new(err) },
    }
}

#[cfg(test)]
mod tests {
    //! The mapping is tested against a fake SES on a loopback socket, with the real SDK client
    //! built as in production (retries off), so each case also proves that exactly one request
    //! was made.

    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;

    use aws_config::timeout::TimeoutConfig;
    use aws_sdk_sesv2::config::Credentials;

    use super::*;
    use crate::{AwsClients, AwsSettings, config::config_loader};

    /// What the fake server does with each request.
    #[derive(Clone, Copy)]
    enum Answer {
        Respond(u16, &'static str, &'static [(&'static str, &'static str)], &'static str),
        CloseAfterReading,
        HangAfterReading,
    }

    /// Serves `answer` to every connection; the requests read come back on the channel.
    fn fake_ses(answer: Answer) -> (u16, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let Some(request) = read_request(&mut stream) else { continue };
                if tx.send(request).is_err() {
                    break;
                }
                match answer {
                    Answer::Respond(status, code, headers, body) => {
                        let mut response =
                            format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                        if !code.is_empty() {
                            response.push_str(&format!("x-amzn-ErrorType: {code}\r\n"));
                        }
                        for (name, value) in headers {
                            response.push_str(&format!("{name}: {value}\r\n"));
                        }
                        response.push_str("Content-Type: application/json\r\nConnection: close\r\n\r\n");
                        response.push_str(body);
                        let _ = stream.write_all(response.as_bytes());
                    }
                    Answer::CloseAfterReading => drop(stream),
                    Answer::HangAfterReading => {
                        thread::sleep(std::time::Duration::from_secs(5));
                    }
                }
            }
        });
        (port, rx)
    }

    /// Reads one HTTP request (headers and a Content-Length body).
    fn read_request(stream: &mut TcpStream) -> Option<String> {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return Some(text);
                }
            }
        }
    }

    async fn mailer(port: u16, attempt_timeout: Duration) -> SesMailer {
        let settings = AwsSettings::from_lookup(|name| {
            Some(
                match name {
                    "LEDGERPOST_SENDER" => "ledgerpost@firm.example",
                    "LEDGERPOST_SES_CONFIGURATION_SET" => "ledgerpost-set",
                    "AWS_ENDPOINT_URL" => return Some(format!("http://127.0.0.1:{port}")),
                    "LEDGERPOST_S3_FORCE_PATH_STYLE" => return None,
                    _ => "x",
                }
                .to_owned(),
            )
        })
        .unwrap();
        let sdk = config_loader(&settings)
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(attempt_timeout)
                    .build(),
            )
            .load()
            .await;
        AwsClients::new(&sdk, settings).mailer()
    }

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            from: "ledgerpost@firm.example".parse().unwrap(),
            to: vec!["purchase@books.example".parse().unwrap()],
            raw: b"From: ledgerpost@firm.example\r\nSubject: x\r\n\r\nbody\r\n".to_vec(),
        }
    }

    async fn send_to(answer: Answer) -> (Result<MailMessageId, MailError>, Vec<String>) {
        let (port, requests) = fake_ses(answer);
        let result = mailer(port, Duration::from_millis(800)).await.send_raw(&email()).await;
        (result, requests.try_iter().collect())
    }

    #[tokio::test]
    async fn a_sent_message_carries_the_envelope_and_the_raw_bytes() {
        let (result, requests) = send_to(Answer::Respond(200, "", &[], r#"{"MessageId":"m-1"}"#)).await;
        assert_eq!(result.unwrap().as_str(), "m-1");
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert!(request.starts_with("POST /v2/email/outbound-emails "), "{request}");
        assert!(request.contains(r#""FromEmailAddress":"ledgerpost@firm.example""#), "{request}");
        assert!(request.contains(r#""ToAddresses":["purchase@books.example"]"#), "{request}");
        assert!(request.contains(r#""ConfigurationSetName":"ledgerpost-set""#), "{request}");
        // The raw message travels base64-encoded.
        assert!(
            request.contains("RnJvbTogbGVkZ2VycG9zdEBmaXJtLmV4YW1wbGUNClN1YmplY3Q6IHgNCg0KYm9keQ0K"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn throttling_is_throttled_with_retry_after() {
        let (result, requests) =
            send_to(Answer::Respond(429, "TooManyRequestsException", &[("Retry-After", "2")], "{}")).await;
        match result {
            Err(MailError::Throttled { retry_after, .. }) => {
                assert_eq!(retry_after, Some(Duration::from_secs(2)))
            }
            other => panic!("expected Throttled, got {other:?}"),
        }
        assert_eq!(requests.len(), 1, "no automatic retry");
        let (result, _) = send_to(Answer::Respond(400, "LimitExceededException", &[], "{}")).await;
        assert!(matches!(result, Err(MailError::Throttled { retry_after: None, .. })), "{result:?}");
    }

    #[tokio::test]
    async fn refusals_are_rejected() {
        for code in ["MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"] {
            let (result, requests) =
                send_to(Answer::Respond(400, code, &[], r#"{"message":"Email address is not verified."}"#))
                    .await;
            assert!(matches!(result, Err(MailError::Rejected { .. })), "{code}: {result:?}");
            assert_eq!(requests.len(), 1);
        }
    }

    #[tokio::test]
    async fn a_server_error_is_in_doubt_but_503_is_unavailable() {
        let (result, requests) = send_to(Answer::Respond(500, "InternalFailure", &[], "{}")).await;
        assert!(matches!(result, Err(MailError::InDoubt { .. })), "{result:?}");
        assert_eq!(requests.len(), 1, "an in-doubt message is never retried");
        let (result, _) = send_to(Answer::Respond(503, "ServiceUnavailable", &[], "{}")).await;
        assert!(matches!(result, Err(MailError::Unavailable { .. })), "{result:?}");
    }

    #[tokio::test]
    async fn a_lost_connection_or_a_timeout_after_sending_is_in_doubt() {
        let (result, requests) = send_to(Answer::CloseAfterReading).await;
        assert!(matches!(result, Err(MailError::InDoubt { .. })), "{result:?}");
        assert_eq!(requests.len(), 1, "an in-doubt message is never retried");
        let (result, requests) = send_to(Answer::HangAfterReading).await;
        assert!(matches!(result, Err(MailError::InDoubt { .. })), "{result:?}");
        assert_eq!(requests.len(), 1);
        assert!(result.unwrap_err().is_in_doubt());
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        // A port that was free a moment ago: nothing listens there.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let result = mailer(port, Duration::from_secs(2)).await.send_raw(&email()).await;
        match result {
            Err(err @ MailError::Unavailable { .. }) => {
                assert!(err.to_string().contains("request not dispatched"), "{err}");
                assert!(ledgerpost_ports::Retryable::is_retryable(&err));
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_invalid_message_is_rejected_before_sending() {
        let (port, requests) = fake_ses(Answer::Respond(200, "", &[], r#"{"MessageId":"m-1"}"#));
        let mut empty = email();
        empty.to.clear();
        let result = mailer(port, Duration::from_secs(2)).await.send_raw(&empty).await;
        assert!(matches!(result, Err(MailError::Rejected { .. })));
        assert_eq!(requests.try_iter().count(), 0);
    }
}
