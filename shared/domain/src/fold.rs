//! Text folding for matching item texts: case- and accent-insensitive, white space collapsed.
//!
//! "Café  Crème" and "CAFE CREME" fold to the same "cafe creme". Folding decomposes (NFKD), drops
//! the combining marks, lower-cases (full Unicode), and turns every run of white space into one
//! space. Letters that do not decompose (ß, ø, æ) are kept as they are: the fold is for matching a
//! rule's own wording, not a transliteration.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The folded form of `text`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The words of a folded text: maximal runs of letters and digits.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_space() {
        assert_eq!(fold("Café  Crème"), "cafe creme");
        assert_eq!(fold("CAFE\tCREME\n"), "cafe creme");
        assert_eq!(fold("  Ærø Straße "), "ærø straße");
        assert_eq!(fold("ﬁle"), "file");
        assert_eq!(words("koffie, 1kg (arabica)").collect::<Vec<_>>(), ["koffie", "1kg", "arabica"]);
    }
}
