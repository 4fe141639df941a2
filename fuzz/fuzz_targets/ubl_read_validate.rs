//! Bytes → `ledgerpost_ubl::read` (the hardened XML reader) → both official rule sets → the typed
//! model → every embedded attachment decoded and given a safe file name. Nothing may panic, and
//! the safe name must be safe whatever the sender wrote.

#![no_main]

use ledgerpost_ubl::model::Invoice;
use ledgerpost_ubl::rules::{self, Ruleset};
use ledgerpost_ubl::xml::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small cap keeps each run fast; the size check itself is the first thing tested.
    let limits = Limits { max_bytes: 256 * 1024, ..Limits::default() };
    let Ok(document) = ledgerpost_ubl::read(data, &limits) else { return };
    for ruleset in [Ruleset::En16931, Ruleset::Peppol] {
        let report = rules::validate(&document.tree, ruleset);
        let _ = report.is_valid();
    }
    let Ok(invoice) = Invoice::from_document(&document.tree) else { return };
    assert_eq!(invoice.kind, document.kind);
    for reference in &invoice.attachments {
        let _ = reference.decode();
        if let Some(attachment) = &reference.attachment {
            let name = attachment.safe_filename(&reference.id);
            assert!(!name.is_empty(), "empty file name for {reference:?}");
            assert!(name.chars().count() <= ledgerpost_ubl::model::MAX_FILENAME_CHARS, "{name:?}");
            assert!(!name.contains(['/', '\\', '\0']) && !name.contains(".."), "{name:?}");
            assert!(!name.starts_with('.') && !name.chars().any(char::is_control), "{name:?}");
        }
    }
});
