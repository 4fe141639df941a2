use chrono::TimeZone;
use mail_parser::{MessageParser, MimeHeaders};

use super::*;

fn date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).single().unwrap_or_default()
}

fn mailbox(address: &str) -> Mailbox {
    Mailbox::new(address).unwrap()
}

/// The header section of a raw message (up to the first empty line).
fn header_section(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

/// The names of the top-level headers, in order.
fn header_names(raw: &[u8]) -> Vec<String> {
    header_section(raw)
        .split("\r\n")
        .filter(|line| !line.starts_with([' ', '\t']))
        .map(|line| line.split(':').next().unwrap_or_default().to_ascii_lowercase())
        .collect()
}

#[test]
fn a_message_round_trips_through_a_parser() {
    let pdf: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let xml = "<?xml version=\"1.0\"?>\n<Invoice>Müller\n\t<ID>1</ID>\r\n</Invoice>\n".as_bytes().to_vec();
    let raw = Email::new(
        mailbox("ledgerpost@firm.example").with_name("ledgerpost (Firm BV)"),
        vec![mailbox("purchase@books.example"), mailbox("archive+in@books.example").with_name("Archief")],
        date(),
    )
    .subject("Purchase invoice 2025-001 from Müller & Söhne GmbH")
    .text("One invoice attached.\nRegards")
    .html("<p>One invoice attached.</p>")
    .attach(Attachment::new("Rechnung Müller.pdf", "application/pdf", pdf.clone()))
    .attach(Attachment::new("2025-001.xml", "application/xml", xml.clone()))
    .attach(Attachment::new("../2025-001.XML", "Application/XML; charset=utf-8", b"second".to_vec()))
    .attach(Attachment::new("", "text/csv", b"a;b\r\n1;2\n".to_vec()))
    .message_id("batch-20250301-1@ledgerpost.example")
    .batch("20250301-sales-1")
    .to_bytes()
    .unwrap();

    let message = MessageParser::default().parse(&raw).unwrap();
    let from = message.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.address(), Some("ledgerpost@firm.example"));
    assert_eq!(from.name(), Some("ledgerpost (Firm BV)"));
    let to: Vec<_> =
        message.to().unwrap().iter().map(|a| a.address().unwrap_or_default().to_owned()).collect();
    assert_eq!(to, ["purchase@books.example", "archive+in@books.example"]);
    assert!(message.cc().is_none() && message.bcc().is_none());
    assert_eq!(message.subject(), Some("Purchase invoice 2025-001 from Müller & Söhne GmbH"));
    assert_eq!(message.message_id(), Some("batch-20250301-1@ledgerpost.example"));
    assert_eq!(message.date().map(|d| d.to_timestamp()), Some(date().timestamp()));
    assert_eq!(message.header_raw(BATCH_HEADER).map(str::trim), Some("20250301-sales-1"));
    assert_eq!(message.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    // Text parts travel in canonical form: line ends become CRLF.
    assert_eq!(
        message.body_text(0).map(|t| t.replace("\r\n", "\n")).as_deref().map(str::trim_end),
        Some("One invoice attached.\nRegards")
    );
    assert_eq!(message.body_html(0).as_deref().map(str::trim_end), Some("<p>One invoice attached.</p>"));

    let parts: Vec<_> = message.attachments().collect();
    assert_eq!(parts.len(), 4);
    let names: Vec<_> = parts.iter().map(|p| p.attachment_name().unwrap_or_default()).collect();
    assert_eq!(names, ["Rechnung Müller.pdf", "2025-001.xml", "2025-001-2.XML", "attachment-4"]);
    let types: Vec<_> = parts
        .iter()
        .map(|p| {
            let ct = p.content_type().unwrap();
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default())
        })
        .collect();
    assert_eq!(types, ["application/pdf", "application/xml", "application/xml", "text/csv"]);
    assert_eq!(parts[0].contents(), pdf.as_slice());
    assert_eq!(parts[1].contents(), xml.as_slice(), "XML bytes (LF, CRLF, tab, UTF-8) are kept exactly");
    assert_eq!(parts[2].contents(), b"second");
    assert_eq!(parts[3].contents(), b"a;b\r\n1;2\n");

    // The non-ASCII file name is encoded by the crate (RFC 2231), the header stays ASCII.
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("filename*=UTF-8''Rechnung%20M%C3%BCller.pdf"), "{text}");
    for line in text.split("\r\n") {
        assert!(line.len() <= 78, "line over 78 characters: {line:?}");
    }
}

#[test]
fn header_injection_in_invoice_text_adds_no_header() {
    let evil = "ACME\r\nBcc: evil@x.example\r\n\r\nbody";
    let raw = Email::new(
        mailbox("ledgerpost@firm.example").with_name(evil),
        vec![mailbox("sales@books.example")],
        date(),
    )
    .subject(format!("Invoice INV-1\r\nBcc: evil@x.example from {evil}\nX-Evil: 1\u{b}\u{c}\u{1b}"))
    .text("body")
    .batch("b1\nBcc: evil@x.example")
    .attach(Attachment::new(
        "a.pdf\r\nBcc: evil@x.example",
        "application/pdf\r\nBcc: evil@x.example",
        b"%PDF-".to_vec(),
    ))
    .to_bytes()
    .unwrap();

    let names = header_names(&raw);
    assert_eq!(
        names,
        [
            "from",
            "to",
            "subject",
            "date",
            "auto-submitted",
            BATCH_HEADER.to_ascii_lowercase().as_str(),
            "message-id",
            "mime-version",
            "content-type"
        ],
        "{}",
        header_section(&raw)
    );
    let message = MessageParser::default().parse(&raw).unwrap();
    assert!(message.bcc().is_none());
    assert!(message.header_raw("X-Evil").is_none());
    let subject = message.subject().unwrap_or_default();
    assert_eq!(subject, "Invoice INV-1 Bcc: evil@x.example from ACME Bcc: evil@x.example body X-Evil: 1");
    assert_eq!(
        message.from().and_then(|a| a.first()).and_then(|a| a.name()),
        Some("ACME Bcc: evil@x.example body")
    );
    let to: Vec<_> = message.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["sales@books.example"]);
    let part = message.attachments().next().unwrap();
    assert_eq!(part.attachment_name(), Some("a.pdf Bcc_ evil@x.example"));
    assert_eq!(part.content_type().map(|c| c.ctype()), Some("application"));
    assert_eq!(part.content_type().and_then(|c| c.subtype()), Some("octet-stream"));
    // No line anywhere in the message starts a Bcc header.
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.split("\r\n").any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{text}");
    // And the header section has no bare CR or LF.
    let headers = header_section(&raw);
    assert!(!headers.replace("\r\n", "").contains(['\r', '\n']));
}

#[test]
fn addresses_are_checked_strictly() {
    for ok in ["a@b.example", "purchase+inbox@firm.example", "x.y_z@sub.domain-1.example", "a@xn--p1ai"] {
        assert!(Mailbox::new(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "a",
        "@b.example",
        "a@",
        "a@b@c.example",
        "a b@c.example",
        "a@b.example\r\nBcc: x@y.example",
        "<a@b.example>",
        "Name <a@b.example>",
        "a@b.example,c@d.example",
        "a..b@c.example",
        ".a@c.example",
        "a@-b.example",
        "a@b..example",
        "a@1.2.3.4",
        "\"a\"@b.example",
        "ä@b.example",
    ] {
        assert!(matches!(Mailbox::new(bad), Err(EmailError::InvalidAddress { .. })), "{bad:?}");
    }
    assert_eq!(mailbox("a@b.example").with_name(" \r\n ").name(), None);
}

#[test]
fn a_message_needs_recipients_and_a_valid_message_id() {
    let email = Email::new(mailbox("a@b.example"), vec![], date()).text("x");
    assert!(matches!(email.to_bytes(), Err(EmailError::NoRecipients)));
    for bad in ["no-at", "a b@c", "<a@b>", "a@b\r\nBcc: c@d", "a@", "@b"] {
        let email = Email::new(mailbox("a@b.example"), vec![mailbox("c@d.example")], date()).message_id(bad);
        assert!(matches!(email.to_bytes(), Err(EmailError::InvalidMessageId { .. })), "{bad:?}");
    }
}

#[test]
fn a_text_only_message_is_one_part() {
    let raw = Email::new(mailbox("a@b.example"), vec![mailbox("c@d.example")], date())
        .subject("Run report")
        .text("All fine.\n")
        .to_bytes()
        .unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(message.attachment_count(), 0);
    assert_eq!(message.body_text(0).as_deref(), Some("All fine.\r\n"));
    let headers = header_section(&raw);
    assert!(headers.contains("Content-Type: text/plain; charset=\"utf-8\""), "{headers}");
}

#[test]
fn long_subjects_are_cut_and_content_types_checked() {
    let email =
        Email::new(mailbox("a@b.example"), vec![mailbox("c@d.example")], date()).subject("x".repeat(500));
    assert_eq!(email.clean_subject().chars().count(), MAX_SUBJECT_CHARS);
    assert_eq!(checked_content_type(" Application/PDF "), "application/pdf");
    assert_eq!(
        checked_content_type("application/vnd.oasis.opendocument.spreadsheet"),
        "application/vnd.oasis.opendocument.spreadsheet"
    );
    assert_eq!(checked_content_type("text/xml; charset=\"utf-8\""), "text/xml");
    for bad in ["", "pdf", "application/", "/pdf", "a/b/c", "text/x ml", "text/xml\r\nBcc: x", "tëxt/xml"] {
        assert_eq!(checked_content_type(bad), FALLBACK_CONTENT_TYPE, "{bad:?}");
    }
}

#[test]
fn display_names_and_encoded_words_cannot_add_recipients_or_headers() {
    let raw = Email::new(
        mailbox("ledgerpost@firm.example").with_name("a\" <evil@x.example>, \"b\\ @ (c)"),
        vec![mailbox("sales@books.example").with_name("Sales, \"Books\" <x@y.example>")],
        date(),
    )
    .subject("=?utf-8?q?x=0D=0ABcc:_evil@x.example?= and Müller =?utf-8?b?DQpCY2M6IGV2aWxAeA==?=")
    .text("body")
    .to_bytes()
    .unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    let from: Vec<_> = message.from().unwrap().iter().collect();
    assert_eq!(from.len(), 1);
    assert_eq!(from[0].address(), Some("ledgerpost@firm.example"));
    assert_eq!(from[0].name(), Some("a\" <evil@x.example>, \"b\\ @ (c)"));
    let to: Vec<_> = message.to().unwrap().iter().collect();
    assert_eq!(to.len(), 1);
    assert_eq!(to[0].address(), Some("sales@books.example"));
    assert_eq!(to[0].name(), Some("Sales, \"Books\" <x@y.example>"));
    assert!(message.bcc().is_none());
    let subject = message.subject().unwrap_or_default();
    assert!(!subject.contains(['\r', '\n']), "{subject:?}");
    assert_eq!(subject, "=?utf-8?q?x=0D=0ABcc:_evil@x.example?= and Müller =?utf-8?b?DQpCY2M6IGV2aWxAeA==?=");
}
