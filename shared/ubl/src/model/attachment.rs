//! Embedded attachments: on-demand base64 decoding and file names that are safe to store and mail.
//!
//! Everything here treats the invoice as hostile: the file name comes from the sender and may try
//! to climb directories, hide an extension or smuggle control characters into a mail header.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use super::{Attachment, DocumentReference, ModelError};

/// Longest file name [`Attachment::safe_filename`] returns, extension included.
pub const MAX_FILENAME_CHARS: usize = 100;

/// Standard alphabet; producers disagree on padding, the content does not depend on it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// File extension for the MIME codes EN 16931 allows for attachments (BT-125).
fn extension_for(mime_code: &str) -> Option<&'static str> {
    let mime = mime_code.trim().to_ascii_lowercase();
    Some(match mime.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "text/csv" => "csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        _ => return None,
    })
}

impl Attachment {
    /// Decodes an embedded attachment. Whitespace and line breaks inside the base64 text are
    /// ignored, padding is optional. An external reference, broken base64 or an empty content is
    /// a [`ModelError::BadAttachment`]; `id` there is the file name (or MIME code), since the
    /// attachment does not know its reference: [`DocumentReference::decode`] names the
    /// reference id (BT-122) instead.
    pub fn decode(&self) -> Result<Vec<u8>, ModelError> {
        let label = match self {
            Attachment::Embedded { filename: Some(f), .. } => f.clone(),
            Attachment::Embedded { mime_code, .. } => format!("({mime_code})"),
            Attachment::External { uri } => uri.clone(),
        };
        self.decode_as(&label)
    }

    fn decode_as(&self, id: &str) -> Result<Vec<u8>, ModelError> {
        let bad = |reason: String| ModelError::BadAttachment { id: id.to_owned(), reason };
        let text = match self {
            Attachment::Embedded { base64, .. } => base64,
            Attachment::External { uri } => {
                return Err(bad(format!("it is an external reference ({uri}), not an embedded document")));
            }
        };
        let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if compact.is_empty() {
            return Err(bad("the embedded document is empty".to_owned()));
        }
        BASE64.decode(&compact).map_err(|e| bad(format!("invalid base64: {e}")))
    }

    /// The MIME code of an embedded attachment; `None` for an external reference.
    pub fn mime_code(&self) -> Option<&str> {
        match self {
            Attachment::Embedded { mime_code, .. } => Some(mime_code),
            Attachment::External { .. } => None,
        }
    }

    /// A file name safe to use in storage keys and e-mail headers, derived from the supplied name
    /// (embedded: the `filename` attribute; external: the last segment of the URI): directory parts,
    /// control characters, `..` and leading dots are removed, other characters outside
    /// `[A-Za-z0-9._ -]` become `_`, at most [`MAX_FILENAME_CHARS`] characters. An empty result
    /// falls back to `fallback` (sanitised the same way, or "attachment"). The extension that
    /// matches the MIME code is appended when the name does not already end with it, so a PDF is
    /// never stored as `invoice.exe`.
    pub fn safe_filename(&self, fallback: &str) -> String {
        let (supplied, extension) = match self {
            Attachment::Embedded { filename, mime_code, .. } => {
                (filename.as_deref().unwrap_or(""), extension_for(mime_code))
            }
            Attachment::External { uri } => {
                let path = uri.split(['?', '#']).next().unwrap_or("");
                (path, None)
            }
        };
        let mut name = sanitize(supplied);
        if name.is_empty() {
            name = sanitize(fallback);
        }
        if name.is_empty() {
            name = "attachment".to_owned();
        }
        if let Some(ext) = extension {
            let lower = name.to_ascii_lowercase();
            let has_ext = lower.ends_with(&format!(".{ext}")) || (ext == "jpg" && lower.ends_with(".jpeg"));
            if !has_ext {
                name.push('.');
                name.push_str(ext);
            }
        }
        truncate_keeping_extension(name)
    }
}

impl DocumentReference {
    /// Decodes the embedded attachment, if any; a broken one is a [`ModelError::BadAttachment`]
    /// naming this reference's id (BT-122). `Ok(None)` when there is no embedded document.
    pub fn decode(&self) -> Result<Option<Vec<u8>>, ModelError> {
        match &self.attachment {
            Some(a @ Attachment::Embedded { .. }) => a.decode_as(&self.id).map(Some),
            _ => Ok(None),
        }
    }
}

/// The last path segment with every unsafe character removed or replaced; may be empty.
fn sanitize(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ' ' | '-') { c } else { '_' })
        .collect();
    // Removing one ".." can join two dots into a new one ("...." -> ".."), so repeat.
    while name.contains("..") {
        name = name.replace("..", "");
    }
    // Leading dots hide files; leading and trailing spaces and trailing dots are lost or refused by
    // some file systems and mail clients.
    name.trim_start_matches(['.', ' ']).trim_end_matches(['.', ' ']).to_owned()
}

/// Cuts a (pure ASCII) name to [`MAX_FILENAME_CHARS`], keeping a short extension.
fn truncate_keeping_extension(name: String) -> String {
    if name.len() <= MAX_FILENAME_CHARS {
        return name;
    }
    match name.rfind('.') {
        Some(dot) if name.len() - dot <= 10 && dot > 0 => {
            let ext = &name[dot..];
            let stem_len = MAX_FILENAME_CHARS - ext.len();
            let stem = name[..dot.min(stem_len)].trim_end_matches(['.', ' ']);
            format!("{stem}{ext}")
        }
        _ => name[..MAX_FILENAME_CHARS].trim_end_matches(['.', ' ']).to_owned(),
    }
}
