//! One raw RFC 5322 message, ready for the mailer port (SES raw e-mail, the `.eml` outbox, SMTP).
//!
//! The message is written by `mail-builder` (Stalwart Labs, the writing half of the
//! `mail-parser` used in the tests). It was chosen over lettre's `message` builder because it is
//! only a message writer: itself and three small crates, about two seconds of a cold build,
//! against some fifty crates (an IDNA and Unicode stack) and twenty seconds for lettre with only
//! `builder` on (lettre stays the workspace's SMTP client in the local adapters). It
//! folds long headers, encodes non-ASCII header text per RFC 2047 and non-ASCII attachment file
//! names per RFC 2231, picks the transfer encoding of the text parts and writes the MIME tree
//! (`multipart/mixed` around `multipart/alternative` when there is an HTML part).
//!
//! What this module adds is the distrust:
//! - addresses ([`Mailbox`]) come only from the caller (configuration) and are checked strictly;
//!   nothing is ever parsed out of invoice content;
//! - every text that reaches a header (subject, display names, the batch reference, attachment
//!   names) passes [`single_line`] first, so no CR, LF or other control character can start a
//!   header of its own;
//! - attachment names are made safe and unique within the message ([`UniqueNames`]), content
//!   types are checked (`type/subtype`, else `application/octet-stream`);
//! - attachments are always sent base64-encoded, so every byte arrives as it was sent (a text
//!   part would have its line ends normalised).
//!
//! Nothing here reads a clock or a host name: the caller gives the `Date` and, ideally, a
//! Message-ID derived from the batch id, so a message in doubt can be found in a mailbox.

use std::borrow::Cow;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};

use crate::names::UniqueNames;
use crate::text::{single_line, truncate_chars};

/// Longest subject, in characters, after cleaning.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest display name or batch reference, in characters, after cleaning.
pub const MAX_NAME_CHARS: usize = 100;
/// Content type used when the given one is not a plain `type/subtype`.
pub const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";
/// The header that names the batch a message belongs to.
pub const BATCH_HEADER: &str = "X-Ledgerpost-Batch";

/// Why a message could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("invalid e-mail address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: &'static str },
    #[error("a message needs at least one recipient")]
    NoRecipients,
    #[error("invalid Message-ID {id:?}: expected local@domain without spaces, brackets or quotes")]
    InvalidMessageId { id: String },
    #[error("the message could not be written")]
    Write(#[source] std::io::Error),
}

/// An address from configuration with an optional display name. The address is checked strictly:
/// an RFC 5322 dot-atom before the `@`, a DNS host name after it, no white space, quotes, angle
/// brackets, commas or control characters, so it can neither inject a header nor add a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    address: String,
    name: Option<String>,
}

impl Mailbox {
    /// Checks `address` (`local@domain`).
    pub fn new(address: &str) -> Result<Self, EmailError> {
        check_address(address)?;
        Ok(Mailbox { address: address.to_owned(), name: None })
    }

    /// Sets the display name, cleaned to one line of at most [`MAX_NAME_CHARS`] characters; an
    /// empty name means none.
    pub fn with_name(mut self, name: &str) -> Self {
        let name = truncate_chars(&single_line(name), MAX_NAME_CHARS);
        self.name = (!name.is_empty()).then_some(name);
        self
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn to_address(&self) -> Address<'_> {
        Address::new_address(self.name.as_deref(), self.address.as_str())
    }
}

impl FromStr for Mailbox {
    type Err = EmailError;
    fn from_str(address: &str) -> Result<Self, Self::Err> {
        Mailbox::new(address)
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name:?} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

fn check_address(address: &str) -> Result<(), EmailError> {
    let refuse = |reason| Err(EmailError::InvalidAddress { address: address.to_owned(), reason });
    if address.len() > 254 {
        return refuse("longer than 254 bytes");
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return refuse("an address has an '@'");
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if local.is_empty() || local.len() > 64 {
        return refuse("the part before the '@' has 1 to 64 characters");
    }
    if !local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext)) {
        return refuse(
            "the part before the '@' is letters, digits and !#$%&'*+-/=?^_`{|}~ between single dots",
        );
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.is_empty() || domain.len() > 253 || !domain.split('.').all(label_ok) {
        return refuse("the part after the '@' is a host name (letters, digits, '-' between dots)");
    }
    if domain.rsplit('.').next().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return refuse("the part after the '@' is a host name, not a number");
    }
    Ok(())
}

/// A Message-ID's `id-left@id-right` (without angle brackets): dot-atom text on both sides.
fn check_message_id(id: &str) -> Result<(), EmailError> {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = |s: &str| !s.is_empty() && s.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
    match id.split_once('@') {
        Some((left, right)) if id.len() <= 250 && dot_atom(left) && dot_atom(right) => Ok(()),
        _ => Err(EmailError::InvalidMessageId { id: id.to_owned() }),
    }
}

/// One attached file. The name and the content type may come from an invoice: both are cleaned
/// when the message is written (see [`Email::to_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    pub fn new(filename: impl Into<String>, content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        Attachment { filename: filename.into(), content_type: content_type.into(), bytes }
    }
}

/// The `type/subtype` of a content type when it is a plain media type (RFC 6838 restricted
/// names, parameters dropped), lower-cased; else [`FALLBACK_CONTENT_TYPE`].
pub fn checked_content_type(content_type: &str) -> String {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let name_ok = |s: &str| {
        (1..=127).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match media.split_once('/') {
        Some((kind, sub)) if name_ok(kind) && name_ok(sub) => media,
        _ => FALLBACK_CONTENT_TYPE.to_owned(),
    }
}

/// A message to compose: sender, recipients, subject, a text body, an optional HTML alternative
/// and attachments.
#[derive(Debug, Clone)]
pub struct Email {
    from: Mailbox,
    to: Vec<Mailbox>,
    date: DateTime<Utc>,
    subject: String,
    text: String,
    html: Option<String>,
    attachments: Vec<Attachment>,
    message_id: Option<String>,
    batch: Option<String>,
}

impl Email {
    /// A message from `from` to `to` (both from configuration), dated `date`.
    pub fn new(from: Mailbox, to: Vec<Mailbox>, date: DateTime<Utc>) -> Self {
        Email {
            from,
            to,
            date,
            subject: String::new(),
            text: String::new(),
            html: None,
            attachments: Vec::new(),
            message_id: None,
            batch: None,
        }
    }

    /// The subject; may contain invoice text (numbers, supplier names). It is cleaned to one line
    /// of at most [`MAX_SUBJECT_CHARS`] characters when the message is written.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// The plain text body.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// An HTML alternative to the text body. The caller escapes whatever it puts in it.
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    pub fn attach(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// The Message-ID without angle brackets (`batch-20250301-abc@ledgerpost.example`); checked
    /// when the message is written. Without one, the mail crate makes a unique one.
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// The batch the message belongs to, written as the [`BATCH_HEADER`] header so a message in
    /// doubt can be looked up in the receiving mailbox.
    pub fn batch(mut self, batch: impl Into<String>) -> Self {
        self.batch = Some(batch.into());
        self
    }

    /// The subject as it will be written (cleaned and cut).
    pub fn clean_subject(&self) -> String {
        truncate_chars(&single_line(&self.subject), MAX_SUBJECT_CHARS)
    }

    /// The attachments' names as they will be written: cleaned and unique, in order.
    pub fn attachment_names(&self) -> Vec<String> {
        let mut names = UniqueNames::new();
        self.attachments
            .iter()
            .enumerate()
            .map(|(i, a)| names.take(&a.filename, &format!("attachment-{}", i + 1)))
            .collect()
    }

    /// Writes the raw message (CRLF line ends).
    pub fn to_bytes(&self) -> Result<Vec<u8>, EmailError> {
        if self.to.is_empty() {
            return Err(EmailError::NoRecipients);
        }
        if let Some(id) = &self.message_id {
            check_message_id(id)?;
        }
        let to: Vec<Address<'_>> = self.to.iter().map(Mailbox::to_address).collect();
        let mut message = MessageBuilder::new()
            .from(self.from.to_address())
            .to(Address::new_list(to))
            .subject(Text::new(self.clean_subject()))
            .date(Date::new(self.date.timestamp()))
            .header("Auto-Submitted", Raw::new("auto-generated"));
        if let Some(id) = &self.message_id {
            message = message.message_id(id.as_str());
        }
        if let Some(batch) = &self.batch {
            let batch = truncate_chars(&single_line(batch), MAX_NAME_CHARS);
            if !batch.is_empty() {
                message = message.header(BATCH_HEADER, Text::new(batch));
            }
        }
        message = message.text_body(self.text.as_str());
        if let Some(html) = &self.html {
            message = message.html_body(html.as_str());
        }
        for (attachment, name) in self.attachments.iter().zip(self.attachment_names()) {
            let part = MimePart::new(
                // The name also as a Content-Type parameter, for mail readers that look there.
                ContentType::new(checked_content_type(&attachment.content_type))
                    .attribute("name", name.clone()),
                BodyPart::Binary(Cow::Owned(base64_lines(&attachment.bytes))),
            )
            .transfer_encoding("base64")
            .attachment(name);
            message = message.body_part_attachment(part);
        }
        message.write_to_vec().map_err(EmailError::Write)
    }
}

/// Base64 in lines of 76 characters separated by CRLF (RFC 2045), without a final line end.
fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let encoded = BASE64.encode(bytes);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 76 * 2);
    for (i, line) in encoded.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    }
    out
}

/// Adds a ready MIME part to the attachments of a [`MessageBuilder`].
trait AttachPart<'x> {
    fn body_part_attachment(self, part: MimePart<'x>) -> Self;
}

impl<'x> AttachPart<'x> for MessageBuilder<'x> {
    fn body_part_attachment(mut self, part: MimePart<'x>) -> Self {
        self.attachments.get_or_insert_with(Vec::new).push(part);
        self
    }
}

#[cfg(test)]
mod tests;
