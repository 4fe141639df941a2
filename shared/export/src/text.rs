//! Text hygiene shared by the modules: one clean line out of untrusted invoice text, a length cap,
//! and HTML escaping.
//!
//! Invoice content is written by the sender. Before any of it reaches a mail header, a log line,
//! a terminal or a table cell it goes through [`single_line`], which leaves no line break, no
//! control character (so no header injection and no terminal escape sequence) and no invisible
//! bidirectional override (so "gpj.exe" cannot be made to read "exe.jpg").

/// Characters that are invisible but change how the text around them is shown or split: zero
/// width spaces and joiners, bidirectional embeddings, overrides and isolates, the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{00AD}'
    )
}

/// Whether `c` breaks a line or is a control character (C0, DEL, C1, U+2028, U+2029).
fn is_break_or_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{0085}')
}

/// One line of plain text from untrusted text: control characters and line breaks (CR, LF, TAB,
/// ESC, DEL, C1 controls, U+2028/U+2029) become spaces, invisible formatting characters
/// (zero-width and bidirectional controls, the soft hyphen) are dropped, runs of white space
/// become one space, and the ends are trimmed.
///
/// The result is safe to put in a mail header (the mail crate then encodes non-ASCII per
/// RFC 2047), a log line or a terminal.
pub fn single_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if is_invisible_format(c) {
            continue;
        }
        if is_break_or_control(c) || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// `text` cut to at most `max` characters; a cut text ends with "…" (counted in `max`).
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// [`single_line`] then [`escape_html`]: untrusted text for one HTML table cell.
pub(crate) fn html_cell(text: &str) -> String {
    escape_html(&single_line(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_removes_breaks_controls_and_invisible_characters() {
        assert_eq!(single_line("ACME\r\nBcc: evil@x"), "ACME Bcc: evil@x");
        assert_eq!(single_line("  a\t\tb \u{1b}[31mred\u{7f} "), "a b [31mred");
        assert_eq!(single_line("x\u{2028}y\u{85}z"), "x y z");
        assert_eq!(single_line("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(single_line("\u{FEFF}Café Zoë"), "Café Zoë");
        assert_eq!(single_line("\r\n"), "");
        assert!(!single_line("a\u{0}b\u{9b}c").chars().any(char::is_control));
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ééééé", 4), "ééé…");
        assert_eq!(truncate_chars("ab  cd", 4), "ab…");
    }

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(html_cell("a\r\n<b>"), "a &lt;b&gt;");
    }
}
