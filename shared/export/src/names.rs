//! File names for attachments and archive entries: safe, readable and unique.
//!
//! A name may come from an invoice (an embedded attachment's `filename`, an invoice number), so it
//! is treated as hostile: [`safe_filename`] keeps letters of any script (the mail crate encodes
//! non-ASCII names per RFC 2231, ZIP entries are stored as UTF-8) but removes directories, `..`,
//! control and invisible characters and the characters that Windows refuses in a name.
//! [`UniqueNames`] then hands out each name once per e-mail or archive (`invoice.pdf`,
//! `invoice-2.pdf`, ...), comparing names the way case-insensitive file systems do.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;

use crate::text::single_line;

/// Longest name [`safe_filename`] returns, in characters, extension included.
pub const MAX_NAME_CHARS: usize = 120;

/// Longest extension (dot included) kept when a name is cut or made unique.
const MAX_EXTENSION_CHARS: usize = 10;

/// Names Windows reserves for devices, with or without an extension.
const RESERVED_STEMS: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
    "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A file name safe to use in an e-mail attachment header and as a ZIP entry: the last path
/// segment of `name` with control and invisible characters removed, `: * ? " < > |` replaced
/// by `_`, runs of dots made one dot, no leading dot, no leading or trailing space or dot, not a
/// Windows device name, at most [`MAX_NAME_CHARS`] characters (a short extension is kept). An
/// empty result falls back to `fallback` (cleaned the same way), then to "file".
pub fn safe_filename(name: &str, fallback: &str) -> String {
    let cleaned = clean(name);
    if !cleaned.is_empty() {
        return cleaned;
    }
    let cleaned = clean(fallback);
    if cleaned.is_empty() { "file".to_owned() } else { cleaned }
}

fn clean(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = single_line(base)
        .chars()
        .map(|c| if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    // A run of dots becomes one dot, so no part of the name is "..".
    while name.contains("..") {
        name = name.replace("..", ".");
    }
    let name = name.trim_start_matches(['.', ' ']).trim_end_matches(['.', ' ']);
    let name = cut(name, MAX_NAME_CHARS);
    let (stem, _) = split_extension(&name);
    if RESERVED_STEMS.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return format!("_{name}");
    }
    name
}

/// `(stem, extension)`: the extension starts at the last dot, is at most
/// [`MAX_EXTENSION_CHARS`] long and never the whole name.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name[dot..].chars().count() <= MAX_EXTENSION_CHARS => {
            (&name[..dot], &name[dot..])
        }
        _ => (name, ""),
    }
}

/// `name` cut to `max` characters, keeping its extension.
fn cut(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let (stem, ext) = split_extension(name);
    let keep = max.saturating_sub(ext.chars().count());
    let stem: String = stem.chars().take(keep).collect();
    format!("{}{ext}", stem.trim_end_matches(['.', ' ']))
}

/// Hands out names that are unique within one e-mail or archive. Two names are the same when
/// they are equal after Unicode normalisation (NFC) and lower-casing, as on the case-insensitive
/// file systems the files will be saved to. A taken name gets `-2`, `-3`, ... before its
/// extension.
#[derive(Debug, Clone, Default)]
pub struct UniqueNames {
    taken: HashSet<String>,
}

impl UniqueNames {
    pub fn new() -> Self {
        UniqueNames::default()
    }

    /// A unique, safe name for `name` (cleaned by [`safe_filename`] with `fallback`), recorded
    /// as taken.
    pub fn take(&mut self, name: &str, fallback: &str) -> String {
        let name = safe_filename(name, fallback);
        if self.taken.insert(key(&name)) {
            return name;
        }
        let (stem, ext) = split_extension(&name);
        let mut n: u64 = 2;
        loop {
            let suffix = format!("-{n}");
            let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count() + ext.chars().count());
            let stem: String = stem.chars().take(room).collect();
            let candidate = format!("{stem}{suffix}{ext}");
            if self.taken.insert(key(&candidate)) {
                return candidate;
            }
            n += 1;
        }
    }

    /// Whether `name` (as given, not cleaned) is already taken.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(&key(name))
    }
}

fn key(name: &str) -> String {
    name.nfc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_cleaned() {
        assert_eq!(safe_filename("../../etc/passwd", "x"), "passwd");
        assert_eq!(safe_filename("C:\\Users\\a\\factuur.pdf", "x"), "factuur.pdf");
        assert_eq!(safe_filename("in\r\nvoice.pdf", "x"), "in voice.pdf");
        assert_eq!(safe_filename(".hidden", "x"), "hidden");
        assert_eq!(safe_filename("a....pdf", "x"), "a.pdf");
        assert_eq!(safe_filename("what?<now>|\"*:.pdf", "x"), "what__now_____.pdf");
        assert_eq!(safe_filename("rapport\u{202E}fdp.exe", "x"), "rapportfdp.exe");
        assert_eq!(safe_filename("CON.xml", "x"), "_CON.xml");
        assert_eq!(safe_filename("nul", "x"), "_nul");
        assert_eq!(safe_filename("Jahresabschluß 2024.pdf", "x"), "Jahresabschluß 2024.pdf");
        assert_eq!(safe_filename("", "INV/2024/1.xml"), "1.xml");
        assert_eq!(safe_filename("..", ""), "file");
    }

    #[test]
    fn long_names_keep_their_extension() {
        let name = format!("{}.pdf", "é".repeat(300));
        let safe = safe_filename(&name, "x");
        assert_eq!(safe.chars().count(), MAX_NAME_CHARS);
        assert!(safe.ends_with("é.pdf"));
    }

    #[test]
    fn collisions_get_numbered_suffixes() {
        let mut names = UniqueNames::new();
        assert_eq!(names.take("invoice.pdf", "x"), "invoice.pdf");
        assert_eq!(names.take("Invoice.PDF", "x"), "Invoice-2.PDF");
        assert_eq!(names.take("invoice-3.pdf", "x"), "invoice-3.pdf");
        assert_eq!(names.take("invoice.pdf", "x"), "invoice-4.pdf");
        assert_eq!(names.take("README", "x"), "README");
        assert_eq!(names.take("readme", "x"), "readme-2");
        // NFC and NFD spellings of the same name collide.
        assert_eq!(names.take("caf\u{e9}.xml", "x"), "caf\u{e9}.xml");
        assert_eq!(names.take("cafe\u{301}.xml", "x"), "cafe\u{301}-2.xml");
        assert!(names.contains("INVOICE-2.pdf"));
    }

    #[test]
    fn suffixes_keep_names_within_the_limit() {
        let mut names = UniqueNames::new();
        let long = format!("{}.xml", "a".repeat(200));
        let first = names.take(&long, "x");
        let second = names.take(&long, "x");
        assert_eq!(first.chars().count(), MAX_NAME_CHARS);
        assert_eq!(second.chars().count(), MAX_NAME_CHARS);
        assert!(second.ends_with("-2.xml"));
    }
}
