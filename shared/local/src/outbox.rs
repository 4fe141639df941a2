//! The mailer as an outbox folder: every message becomes `<outbox>/<timestamp>-<id>.eml`.
//!
//! The file is the raw message with two headers put in front that record the envelope, which
//! may differ from the `To:` header: `X-Ledgerpost-Envelope-From` and `X-Ledgerpost-Envelope-To`
//! (comma-separated). Any mail client opens it. The timestamp (UTC, `20250301T080000.000Z`,
//! from the injected clock) makes a listing sort in sending order. Files are written atomically
//! (a hidden temporary file in the outbox, then a rename), so a reader never sees half a message.
//!
//! With the `smtp` feature and [`OutboxMailer::with_smtp`], the message is also handed to an SMTP
//! relay. The `.eml` is written first, as the record; if the relay then refuses for sure
//! (throttled, unreachable, rejected) the file is removed, because nothing was sent; if the
//! outcome is unknown the file stays and the error is `InDoubt`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ledgerpost_ports::{Clock, MailError, MailMessageId, Mailer, OutgoingEmail};

use crate::LocalError;
use crate::ids::{unique_id, write_atomic};

/// Header recording the envelope sender.
pub const ENVELOPE_FROM_HEADER: &str = "X-Ledgerpost-Envelope-From";
/// Header recording the envelope recipients.
pub const ENVELOPE_TO_HEADER: &str = "X-Ledgerpost-Envelope-To";

/// Writes each message to an outbox folder (and optionally sends it through SMTP).
pub struct OutboxMailer {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    #[cfg(feature = "smtp")]
    smtp: Option<smtp::SmtpRelay>,
}

impl std::fmt::Debug for OutboxMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMailer").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl OutboxMailer {
    /// Uses `dir` as the outbox, creating it when missing.
    pub fn open(dir: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Result<Self, LocalError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|err| LocalError::io(&dir, err))?;
        Ok(OutboxMailer {
            dir,
            clock,
            #[cfg(feature = "smtp")]
            smtp: None,
        })
    }

    /// Also sends every message through the SMTP relay described by `config`.
    #[cfg(feature = "smtp")]
    pub fn with_smtp(mut self, config: &SmtpConfig) -> Result<Self, LocalError> {
        self.smtp = Some(smtp::SmtpRelay::new(config)?);
        Ok(self)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `.eml` files in the outbox, oldest first.
    pub fn messages(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(".eml") && !name.starts_with('.') {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    fn write(&self, email: &OutgoingEmail) -> Result<(String, PathBuf), MailError> {
        email.check()?;
        let id = unique_id();
        let stamp = self.clock.now().format("%Y%m%dT%H%M%S%.3fZ");
        let path = self.dir.join(format!("{stamp}-{id}.eml"));
        let newline: &[u8] = if email.raw.windows(2).any(|w| w == b"\r\n") { b"\r\n" } else { b"\n" };
        let to: Vec<&str> = email.to.iter().map(|a| a.as_str()).collect();
        let mut file = Vec::with_capacity(email.raw.len() + 200);
        file.extend_from_slice(format!("{ENVELOPE_FROM_HEADER}: {}", email.from).as_bytes());
        file.extend_from_slice(newline);
        file.extend_from_slice(format!("{ENVELOPE_TO_HEADER}: {}", to.join(", ")).as_bytes());
        file.extend_from_slice(newline);
        file.extend_from_slice(&email.raw);
        // Nothing has been handed to anyone yet: a failure here is a plain "not sent".
        write_atomic(&self.dir, &path, &file).map_err(|err| MailError::Unavailable {
            context: format!("cannot write the outbox file {}", path.display()),
            source: Box::new(err),
        })?;
        Ok((id, path))
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send_raw(&self, email: &OutgoingEmail) -> Result<MailMessageId, MailError> {
        let (id, path) = self.write(email)?;
        #[cfg(feature = "smtp")]
        if let Some(relay) = &self.smtp
            && let Err(err) = relay.send(email)
        {
            if !err.is_in_doubt() {
                // Certainly not sent: the outbox lists only what was (or may have been) sent.
                let _ = fs::remove_file(&path);
            }
            return Err(err);
        }
        #[cfg(not(feature = "smtp"))]
        let _ = path;
        Ok(MailMessageId::new(id))
    }
}

#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfig, SmtpSecurity};

#[cfg(feature = "smtp")]
mod smtp {
    //! Sending through an SMTP relay with lettre (blocking transport, rustls).
    //!
    //! The connection is tested first: failing there means nothing was handed over
    //! (`Unavailable`). Then the message is sent: a 4xx answer is `Throttled`, a 5xx `Rejected`,
    //! anything else (a timeout or a dropped connection mid-way) `InDoubt`.

    use std::time::Duration;

    use ledgerpost_ports::{MailError, OutgoingEmail};
    use lettre::address::{Address, Envelope};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::extension::ClientId;
    use lettre::{SmtpTransport, Transport};

    use crate::LocalError;

    /// How the connection to the relay is secured.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SmtpSecurity {
        /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
        StartTls,
        /// TLS from the first byte (usually port 465).
        Tls,
        /// No encryption: only for a relay on this machine (a test mail catcher).
        Plain,
    }

    /// Where and how to reach the SMTP relay.
    #[derive(Clone)]
    pub struct SmtpConfig {
        pub host: String,
        pub port: u16,
        pub security: SmtpSecurity,
        pub username: Option<String>,
        pub password: Option<String>,
        /// Name given in EHLO; `localhost` when not set.
        pub hello_name: Option<String>,
        pub timeout: Duration,
    }

    impl std::fmt::Debug for SmtpConfig {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SmtpConfig")
                .field("host", &self.host)
                .field("port", &self.port)
                .field("security", &self.security)
                .field("username", &self.username)
                .field("password", &self.password.as_ref().map(|_| "<redacted>"))
                .field("hello_name", &self.hello_name)
                .field("timeout", &self.timeout)
                .finish()
        }
    }

    pub(super) struct SmtpRelay {
        transport: SmtpTransport,
    }

    impl SmtpRelay {
        pub(super) fn new(config: &SmtpConfig) -> Result<Self, LocalError> {
            let failed = |source| LocalError::Smtp { host: config.host.clone(), source };
            let builder = match config.security {
                SmtpSecurity::StartTls => SmtpTransport::starttls_relay(&config.host).map_err(failed)?,
                SmtpSecurity::Tls => SmtpTransport::relay(&config.host).map_err(failed)?,
                SmtpSecurity::Plain => SmtpTransport::builder_dangerous(&config.host),
            };
            let mut builder = builder.port(config.port).timeout(Some(config.timeout));
            match (&config.username, &config.password) {
                (Some(user), Some(password)) => {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                (None, None) => {}
                _ => {
                    return Err(LocalError::Config(format!(
                        "SMTP relay {}: give both a username and a password, or neither",
                        config.host
                    )));
                }
            }
            if let Some(name) = &config.hello_name {
                builder = builder.hello_name(ClientId::Domain(name.clone()));
            }
            Ok(SmtpRelay { transport: builder.build() })
        }

        pub(super) fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
            let address = |text: &str| {
                text.parse::<Address>().map_err(|err| MailError::Rejected {
                    reason: format!("{text:?} is not an address the SMTP relay accepts"),
                    source: Some(Box::new(err)),
                })
            };
            let from = address(email.from.as_str())?;
            let to = email.to.iter().map(|a| address(a.as_str())).collect::<Result<Vec<_>, _>>()?;
            let envelope = Envelope::new(Some(from), to).map_err(|err| MailError::Rejected {
                reason: "the envelope is not valid".into(),
                source: Some(Box::new(err)),
            })?;
            match self.transport.test_connection() {
                Ok(true) => {}
                Ok(false) => {
                    return Err(MailError::Unavailable {
                        context: "the SMTP relay did not answer the connection test".into(),
                        source: "connection test failed".into(),
                    });
                }
                Err(err) => {
                    return Err(MailError::Unavailable {
                        context: "cannot connect to the SMTP relay".into(),
                        source: Box::new(err),
                    });
                }
            }
            self.transport.send_raw(&envelope, &email.raw).map(drop).map_err(classify)
        }
    }

    fn classify(err: lettre::transport::smtp::Error) -> MailError {
        if err.is_transient() {
            MailError::Throttled {
                context: "the SMTP relay asked to try again later".into(),
                retry_after: None,
                source: Box::new(err),
            }
        } else if err.is_permanent() {
            MailError::Rejected {
                reason: "the SMTP relay refused the message".into(),
                source: Some(Box::new(err)),
            }
        } else {
            MailError::InDoubt { context: "the SMTP exchange broke off".into(), source: Box::new(err) }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ledgerpost_ports::{EnvelopeAddress, FixedClock};

    use super::*;

    fn email(raw: &str) -> OutgoingEmail {
        OutgoingEmail {
            from: EnvelopeAddress::parse("hub@firm.example").unwrap(),
            to: vec![
                EnvelopeAddress::parse("purchase@books.example").unwrap(),
                EnvelopeAddress::parse("archive@books.example").unwrap(),
            ],
            raw: raw.as_bytes().to_vec(),
        }
    }

    const RAW: &str = "From: hub@firm.example\r\nTo: purchase@books.example\r\nSubject: Invoices\r\n\
                       Message-ID: <1@firm.example>\r\n\r\nSee attachments.\r\n";

    #[tokio::test]
    async fn each_message_is_an_eml_file_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()));
        let mailer = OutboxMailer::open(dir.path().join("outbox"), clock.clone()).unwrap();

        let first = mailer.send_raw(&email(RAW)).await.unwrap();
        clock.advance(chrono::TimeDelta::seconds(1));
        let second = mailer.send_raw(&email(RAW)).await.unwrap();
        assert_ne!(first, second);

        let files = mailer.messages().unwrap();
        assert_eq!(files.len(), 2);
        let name = files[0].file_name().unwrap().to_str().unwrap();
        assert_eq!(name, format!("20250301T080000.000Z-{first}.eml"));
        assert!(files[1].to_str().unwrap().contains(second.as_str()));

        let text = std::fs::read_to_string(&files[0]).unwrap();
        // The envelope headers come first, in the message's own line endings, then the message.
        let expected_prefix = "X-Ledgerpost-Envelope-From: hub@firm.example\r\n\
             X-Ledgerpost-Envelope-To: purchase@books.example, archive@books.example\r\n";
        assert!(text.starts_with(expected_prefix), "{text}");
        assert_eq!(&text[expected_prefix.len()..], RAW);
        let (headers, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(headers.lines().any(|line| line == "Subject: Invoices"));
        assert_eq!(body, "See attachments.\r\n");
        // No temporary files remain.
        assert_eq!(std::fs::read_dir(mailer.dir()).unwrap().count(), 2);
    }

    #[tokio::test]
    async fn an_invalid_message_is_rejected_and_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = OutboxMailer::open(dir.path(), Arc::new(ledgerpost_ports::SystemClock)).unwrap();
        let mut no_recipients = email(RAW);
        no_recipients.to.clear();
        assert!(matches!(mailer.send_raw(&no_recipients).await, Err(MailError::Rejected { .. })));
        assert!(matches!(mailer.send_raw(&email("")).await, Err(MailError::Rejected { .. })));
        assert!(mailer.messages().unwrap().is_empty());
    }
}

#[cfg(all(test, feature = "smtp"))]
mod smtp_tests {
    //! Against a tiny SMTP server on the loopback interface, which answers the end of the
    //! message as told and stops by itself (a bounded number of connections, read timeouts).

    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use ledgerpost_ports::{EnvelopeAddress, Retryable, SystemClock};

    use super::*;

    /// How the fake server answers the end of DATA: with this reply, or by hanging up.
    #[derive(Clone, Copy)]
    enum EndOfData {
        Reply(&'static str),
        HangUp,
    }

    /// Serves up to two connections (the connection test, then the send); returns the message
    /// data it received.
    fn fake_smtp(end: EndOfData) -> (u16, JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let mut received = Vec::new();
            for _ in 0..2 {
                let Ok((stream, _)) = listener.accept() else { break };
                if serve(stream, end, &mut received).is_err() || !received.is_empty() {
                    break;
                }
            }
            received
        });
        (port, handle)
    }

    fn serve(stream: TcpStream, end: EndOfData, received: &mut Vec<String>) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        writer.write_all(b"220 fake.example ESMTP\r\n")?;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            if command.starts_with("EHLO") || command.starts_with("HELO") {
                writer.write_all(b"250-fake.example\r\n250 8BITMIME\r\n")?;
            } else if command.starts_with("DATA") {
                writer.write_all(b"354 go ahead\r\n")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                received.push(data);
                match end {
                    EndOfData::Reply(reply) => writer.write_all(reply.as_bytes())?,
                    EndOfData::HangUp => return Ok(()),
                }
            } else if command.starts_with("QUIT") {
                writer.write_all(b"221 bye\r\n")?;
                return Ok(());
            } else {
                // MAIL, RCPT, NOOP, RSET
                writer.write_all(b"250 ok\r\n")?;
            }
        }
    }

    fn mailer(dir: &Path, port: u16) -> OutboxMailer {
        let config = SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::Plain,
            username: None,
            password: None,
            hello_name: Some("hub.example".into()),
            timeout: Duration::from_secs(5),
        };
        OutboxMailer::open(dir, Arc::new(SystemClock)).unwrap().with_smtp(&config).unwrap()
    }

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            from: EnvelopeAddress::parse("hub@firm.example").unwrap(),
            to: vec![EnvelopeAddress::parse("purchase@books.example").unwrap()],
            raw: b"From: hub@firm.example\r\nSubject: Invoices\r\n\r\nHello.\r\n".to_vec(),
        }
    }

    #[tokio::test]
    async fn a_sent_message_reaches_the_relay_and_stays_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let (port, server) = fake_smtp(EndOfData::Reply("250 queued\r\n"));
        let mailer = mailer(dir.path(), port);
        mailer.send_raw(&email()).await.unwrap();
        let received = server.join().unwrap();
        assert_eq!(received.len(), 1);
        assert!(received[0].contains("Subject: Invoices"));
        // The envelope record is only in the outbox file, not sent.
        assert!(!received[0].contains(ENVELOPE_TO_HEADER));
        assert_eq!(mailer.messages().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn outcomes_are_classified() {
        let cases = [
            (EndOfData::Reply("451 try again later\r\n"), "throttled"),
            (EndOfData::Reply("554 no thanks\r\n"), "rejected"),
            (EndOfData::HangUp, "in doubt"),
        ];
        for (end, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            let (port, server) = fake_smtp(end);
            let mailer = mailer(dir.path(), port);
            let err = mailer.send_raw(&email()).await.unwrap_err();
            let got = match &err {
                MailError::Throttled { .. } => "throttled",
                MailError::Rejected { .. } => "rejected",
                MailError::InDoubt { .. } => "in doubt",
                MailError::Unavailable { .. } => "unavailable",
            };
            assert_eq!(got, expected, "{err:?}");
            server.join().unwrap();
            // Only a message that may have gone out stays in the outbox.
            assert_eq!(mailer.messages().unwrap().len(), usize::from(err.is_in_doubt()), "{expected}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_relay_is_unavailable_and_nothing_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        // A port that was just free and has nobody listening.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mailer = mailer(dir.path(), port);
        let err = mailer.send_raw(&email()).await.unwrap_err();
        assert!(matches!(err, MailError::Unavailable { .. }), "{err:?}");
        assert!(err.is_retryable());
        assert!(mailer.messages().unwrap().is_empty());
    }

    #[test]
    fn credentials_come_in_pairs_and_are_not_printed() {
        let config = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            security: SmtpSecurity::StartTls,
            username: Some("user".into()),
            password: Some("secret-password".into()),
            hello_name: None,
            timeout: Duration::from_secs(5),
        };
        assert!(!format!("{config:?}").contains("secret-password"));
        let dir = tempfile::tempdir().unwrap();
        let outbox = || OutboxMailer::open(dir.path(), Arc::new(SystemClock)).unwrap();
        assert!(outbox().with_smtp(&config).is_ok());
        let half = SmtpConfig { password: None, ..config };
        assert!(matches!(outbox().with_smtp(&half), Err(LocalError::Config(_))));
    }
}
