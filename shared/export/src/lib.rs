//! The pure building blocks of ledgerpost's send-batch stage: everything that turns journaled
//! invoices and a run's outcome into bytes, with no I/O, no clock and no network.
//!
//! - [`email`]: one raw RFC 5322 message (text, optional HTML, attachments) for the mailer port.
//!   Recipients come only from the caller (configuration); invoice text that reaches a header is
//!   cleaned of control characters first.
//! - [`zip`]: several files in one ZIP archive, with unique names and fixed timestamps, so the
//!   same documents always give the same bytes.
//! - [`pdf`]: a readable A4 rendition of an invoice from the typed model, for invoices that embed
//!   no PDF of their own.
//! - [`report`]: the run report (what was sent, what waits, what was skipped, what failed, what is
//!   in doubt) as data, plain text, HTML and a one-line summary.
//! - [`names`]: file names that are safe in an archive and in a mail header, made unique.
//!
//! The send-batch driver (claiming batches, the mail quota, storing the run) lives elsewhere and
//! calls these functions; nothing here decides what is sent.

pub mod email;
pub mod names;
pub mod pdf;
pub mod report;
mod text;
pub mod zip;

pub use email::{Attachment, Email, EmailError, Mailbox};
pub use names::{UniqueNames, safe_filename};
pub use pdf::{PdfError, render_invoice};
pub use report::{Journal, RunReport, SkipReason};
pub use text::single_line;
pub use zip::{ZipError, Zipped, zip_files, zip_files_at};
