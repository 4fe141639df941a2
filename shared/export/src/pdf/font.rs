//! The two standard fonts the PDF uses (Helvetica and Helvetica-Bold, which every PDF reader
//! has, so nothing is embedded), their WinAnsiEncoding, and their advance widths for layout.
//!
//! The widths are those of Adobe's Core 14 font metrics (AFM) for the 224 WinAnsi codes 0x20 to
//! 0xFF, in thousandths of the font size. Text outside WinAnsi (Latin-1 plus the cp1252
//! punctuation) is transliterated where a base letter exists ("č" → "c", "ł" → "l") and shown as
//! "?" otherwise; the XML stays the legal original.

use unicode_normalization::UnicodeNormalization;

/// A font of the rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Font {
    Regular,
    Bold,
}

impl Font {
    /// The resource name the content streams use.
    pub(super) fn resource(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
        }
    }

    /// The standard font's PostScript name.
    pub(super) fn base_font(self) -> &'static [u8] {
        match self {
            Font::Regular => b"Helvetica",
            Font::Bold => b"Helvetica-Bold",
        }
    }

    fn widths(self) -> &'static [u16; 224] {
        match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        }
    }
}

/// The advance of WinAnsi-encoded `text` in thousandths of the font size.
pub(super) fn units(font: Font, text: &[u8]) -> u32 {
    let widths = font.widths();
    text.iter()
        .map(|&b| b.checked_sub(0x20).and_then(|i| widths.get(usize::from(i))).map_or(0, |&w| u32::from(w)))
        .sum()
}

/// The width of WinAnsi-encoded `text` at `size` points.
pub(super) fn width(font: Font, text: &[u8], size: f32) -> f32 {
    units(font, text) as f32 * size / 1000.0
}

/// The WinAnsiEncoding byte of `c`, if it has one.
fn win_ansi(c: char) -> Option<u8> {
    let code = u32::from(c);
    if (0x20..0x7F).contains(&code) || (0xA0..=0xFF).contains(&code) {
        return u8::try_from(code).ok();
    }
    Some(match c {
        '\u{20AC}' => 0x80, // €
        '\u{201A}' => 0x82, // ‚
        '\u{0192}' => 0x83, // ƒ
        '\u{201E}' => 0x84, // „
        '\u{2026}' => 0x85, // …
        '\u{2020}' => 0x86, // †
        '\u{2021}' => 0x87, // ‡
        '\u{02C6}' => 0x88, // ˆ
        '\u{2030}' => 0x89, // ‰
        '\u{0160}' => 0x8A, // Š
        '\u{2039}' => 0x8B, // ‹
        '\u{0152}' => 0x8C, // Œ
        '\u{017D}' => 0x8E, // Ž
        '\u{2018}' => 0x91, // ‘
        '\u{2019}' => 0x92, // ’
        '\u{201C}' => 0x93, // “
        '\u{201D}' => 0x94, // ”
        '\u{2022}' => 0x95, // •
        '\u{2013}' => 0x96, // –
        '\u{2014}' => 0x97, // —
        '\u{02DC}' => 0x98, // ˜
        '\u{2122}' => 0x99, // ™
        '\u{0161}' => 0x9A, // š
        '\u{203A}' => 0x9B, // ›
        '\u{0153}' => 0x9C, // œ
        '\u{017E}' => 0x9E, // ž
        '\u{0178}' => 0x9F, // Ÿ
        _ => return None,
    })
}

/// Letters without a decomposition that still have an obvious Latin base letter, and
/// punctuation with a WinAnsi look-alike.
fn look_alike(c: char) -> Option<&'static str> {
    Some(match c {
        'ł' => "l",
        'Ł' => "L",
        'đ' => "d",
        'Đ' => "D",
        'ħ' => "h",
        'Ħ' => "H",
        'ı' => "i",
        'ŧ' => "t",
        'Ŧ' => "T",
        'ŀ' => "l",
        'Ŀ' => "L",
        'ŉ' => "'n",
        'ĸ' => "k",
        'ſ' => "s",
        'ə' => "e",
        'Ə' => "E",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2212}' => "-",
        '\u{2032}' => "'",
        '\u{2033}' => "\"",
        '\u{2044}' => "/",
        _ => return None,
    })
}

/// Encodes text for a standard font with WinAnsiEncoding: characters WinAnsi has are kept,
/// others are transliterated to their base letters (compatibility decomposition without the
/// accents) or a look-alike, and the rest become "?". Control characters become spaces.
pub(super) fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push(b' ');
        } else if let Some(b) = win_ansi(c) {
            out.push(b);
        } else if let Some(s) = look_alike(c) {
            out.extend_from_slice(s.as_bytes());
        } else {
            let base: Vec<u8> = std::iter::once(c)
                .nfkd()
                .filter(|d| !('\u{300}'..='\u{36F}').contains(d))
                .map(|d| win_ansi(d).or_else(|| look_alike(d).and_then(|s| s.bytes().next())))
                .collect::<Option<Vec<u8>>>()
                .unwrap_or_default();
            if base.is_empty() { out.push(b'?') } else { out.extend_from_slice(&base) }
        }
    }
    out
}

/// Helvetica advance widths (1/1000 em) of the WinAnsiEncoding codes 0x20..=0xFF.
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 761, // 0x70
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xF0
];

/// Helvetica-Bold advance widths (1/1000 em) of the WinAnsiEncoding codes 0x20..=0xFF.
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 761, // 0x70
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xF0
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_win_ansi_and_transliterates_the_rest() {
        assert_eq!(encode("Invoice 12/A"), b"Invoice 12/A");
        assert_eq!(encode("Müller – € 5 “x”"), b"M\xFCller \x96 \x80 5 \x93x\x94");
        assert_eq!(encode("Łódź Čapek ﬁ"), b"L\xF3dz Capek fi");
        assert_eq!(encode("Ωμέγα"), b"?????");
        assert_eq!(encode("a\tb"), b"a b");
    }

    #[test]
    fn widths_follow_the_core_metrics() {
        // Helvetica digits are all 556/1000 em wide; the space is 278.
        assert!((width(Font::Regular, b"0123456789", 10.0) - 55.6).abs() < 1e-3);
        assert!((width(Font::Regular, b" ", 10.0) - 2.78).abs() < 1e-3);
        assert!((width(Font::Bold, b"W", 10.0) - 9.44).abs() < 1e-3);
        assert!(width(Font::Bold, b"Invoice", 10.0) > width(Font::Regular, b"Invoice", 10.0));
    }
}
