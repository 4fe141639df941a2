//! The mailer port: hands one finished RFC 5322 message to a mail service (SESv2 raw e-mail on
//! AWS, an `.eml` outbox and optionally SMTP locally).
//!
//! E-mail is sent at most once, so the error says exactly what a caller may do next:
//! [`MailError::Throttled`] and [`MailError::Unavailable`] mean nothing was sent and a retry
//! with backoff is safe; [`MailError::Rejected`] will fail again; [`MailError::InDoubt`] means
//! the message may or may not have gone out and must never be retried automatically.
//!
//! The message is built by the domain (headers, MIME parts, attachments); the envelope
//! recipients are given separately and come only from configuration.

use std::time::Duration;

use async_trait::async_trait;

use crate::{BoxError, Retryable};

/// Largest raw message SESv2 accepts (40 MB, attachments included after encoding).
pub const MAX_RAW_EMAIL_BYTES: usize = 40 * 1024 * 1024;
/// Most envelope recipients of one message (SES's limit).
pub const MAX_RECIPIENTS: usize = 50;

/// An envelope address (`local@domain`), checked for what would break an SMTP envelope or a
/// header: whitespace, control characters, angle brackets, commas and the like.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvelopeAddress(String);

/// Why a text is not an envelope address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid e-mail address {address:?}: {reason}")]
pub struct InvalidAddress {
    pub address: String,
    pub reason: &'static str,
}

impl EnvelopeAddress {
    pub fn parse(address: impl Into<String>) -> Result<Self, InvalidAddress> {
        let address = address.into();
        let reason = if address.len() > 254 {
            Some("longer than 254 bytes")
        } else if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("whitespace and control characters are not allowed")
        } else if address.contains(['<', '>', ',', ';', '"', '(', ')', '[', ']', '\\', ':']) {
            Some("a bare address has no < > , ; \" ( ) [ ] \\ or :")
        } else {
            match address.split_once('@') {
                None => Some("an address has an '@'"),
                Some((local, domain)) if local.is_empty() || domain.is_empty() => {
                    Some("an address has text on both sides of the '@'")
                }
                Some((_, domain)) if domain.contains('@') => Some("an address has one '@'"),
                Some((local, _)) if local.len() > 64 => Some("the part before the '@' is at most 64 bytes"),
                Some((_, domain))
                    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") =>
                {
                    Some("the domain is not a host name")
                }
                Some(_) => None,
            }
        };
        match reason {
            Some(reason) => Err(InvalidAddress { address, reason }),
            None => Ok(EnvelopeAddress(address)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EnvelopeAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EnvelopeAddress {
    type Error = InvalidAddress;
    fn try_from(address: String) -> Result<Self, Self::Error> {
        Self::parse(address)
    }
}

impl std::str::FromStr for EnvelopeAddress {
    type Err = InvalidAddress;
    fn from_str(address: &str) -> Result<Self, Self::Err> {
        Self::parse(address)
    }
}

impl From<EnvelopeAddress> for String {
    fn from(address: EnvelopeAddress) -> Self {
        address.0
    }
}

/// One message to send: the envelope and the raw RFC 5322 bytes (headers, blank line, body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Envelope sender (SES `FromEmailAddress`, SMTP `MAIL FROM`).
    pub from: EnvelopeAddress,
    /// Envelope recipients (SES `Destination`, SMTP `RCPT TO`); may differ from the `To:` header.
    pub to: Vec<EnvelopeAddress>,
    pub raw: Vec<u8>,
}

impl OutgoingEmail {
    /// Checks what every adapter refuses before sending: no or too many recipients, an empty or
    /// oversized message.
    pub fn check(&self) -> Result<(), MailError> {
        let rejected = |reason: String| Err(MailError::Rejected { reason, source: None });
        if self.to.is_empty() {
            return rejected("a message needs at least one recipient".into());
        }
        if self.to.len() > MAX_RECIPIENTS {
            return rejected(format!("{} recipients, over the limit of {MAX_RECIPIENTS}", self.to.len()));
        }
        if self.raw.is_empty() {
            return rejected("the message is empty".into());
        }
        if self.raw.len() > MAX_RAW_EMAIL_BYTES {
            return rejected(format!(
                "the message is {} bytes, over the limit of {MAX_RAW_EMAIL_BYTES}",
                self.raw.len()
            ));
        }
        Ok(())
    }
}

/// The id the mail service gave a sent message (SES `MessageId`, the outbox file's id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MailMessageId(String);

impl MailMessageId {
    pub fn new(id: impl Into<String>) -> Self {
        MailMessageId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MailMessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Sends finished messages.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one raw message to the envelope recipients; returns the service's message id.
    async fn send_raw(&self, email: &OutgoingEmail) -> Result<MailMessageId, MailError>;
}

/// Why a message was not (certainly) sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The service refused for now (quota, rate, a 4xx answer); nothing was sent. Retry with
    /// backoff, after `retry_after` when the service said.
    #[error("mail throttled: {context}")]
    Throttled {
        context: String,
        retry_after: Option<Duration>,
        #[source]
        source: BoxError,
    },

    /// The service could not be reached before anything was handed over; nothing was sent.
    #[error("mail service unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: BoxError,
    },

    /// The message or a recipient was refused for good; retrying fails the same way.
    #[error("mail rejected: {reason}")]
    Rejected {
        reason: String,
        #[source]
        source: Option<BoxError>,
    },

    /// The outcome is unknown (a timeout or a dropped connection after the message was handed
    /// over): it may have been delivered. Never retried; reported as "in doubt".
    #[error("mail outcome unknown (in doubt): {context}")]
    InDoubt {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl MailError {
    /// Whether the message may have been sent: the caller must not send it again by itself.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, MailError::InDoubt { .. })
    }
}

impl Retryable for MailError {
    fn is_retryable(&self) -> bool {
        matches!(self, MailError::Throttled { .. } | MailError::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in ["a@b.example", "purchase+inbox@firm.example", "x@localhost"] {
            assert!(EnvelopeAddress::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a@@b",
            "a@b@c",
            "a b@c",
            "a@b\r\nBcc: x@y",
            "<a@b>",
            "a@b,c@d",
            "a@.b",
            "a@b..c",
            "Name <a@b>",
        ] {
            assert!(EnvelopeAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn in_doubt_is_never_retryable() {
        let err = MailError::InDoubt { context: "timeout".into(), source: "x".into() };
        assert!(err.is_in_doubt());
        assert!(!err.is_retryable());
        let err = MailError::Throttled { context: "quota".into(), retry_after: None, source: "x".into() };
        assert!(err.is_retryable());
    }

    #[test]
    fn check_refuses_empty_envelopes() {
        let email = OutgoingEmail { from: "a@b".parse().unwrap(), to: vec![], raw: b"x".to_vec() };
        assert!(matches!(email.check(), Err(MailError::Rejected { .. })));
    }
}
