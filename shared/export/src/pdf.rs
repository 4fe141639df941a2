//! A readable A4 PDF of an invoice or credit note, rendered from the typed model, for documents
//! that carry no PDF of their own (the export can be set to always attach one).
//!
//! The page shows what an accountant checks: the title (invoice, credit note, ... and number),
//! the dates, seller and buyer (names, VAT and company ids, addresses, electronic addresses),
//! payee, tax representative and delivery when given, the references (buyer reference, order,
//! contract, project, preceding invoices, ...), the lines (id, item, quantity and unit, net price,
//! VAT category and rate, net amount), document-level allowances and charges, the VAT breakdown,
//! the totals (lines, allowances, charges, without VAT, VAT, with VAT, paid, rounding, due) with
//! the currency, payment details and notes. Long tables continue on further pages under a
//! repeated header; every page has a footer with the document, "page n of m" and a note that the
//! XML is the legal original.
//!
//! Amounts, quantities and prices are printed as the exact text of their `Decimal`, never through
//! a float.
//!
//! It is written with `pdf-writer` (the typst project's low-level PDF writer: about two seconds
//! of a cold build and four small crates) and flate2 for the page streams (already built for the
//! ZIP archives), with a small layout of its own (the private `layout` module). The alternatives
//! were heavier for what they add here: `printpdf` 0.12 brings about a hundred crates and fifty
//! seconds of cold build even without its HTML feature; `genpdf` and `krilla` need TrueType font
//! files. The text uses the standard Helvetica fonts that every PDF reader has, so no font is
//! embedded and none is read from the system; their limit is WinAnsi (Latin-1 and the cp1252
//! punctuation): other letters are transliterated or shown as "?" (the private `font` module).
//!
//! The output is deterministic: no creation date, no random id.

use ledgerpost_ubl::model::Invoice;

mod font;
mod invoice;
mod layout;
#[cfg(test)]
mod tests;

/// Why an invoice could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("cannot compress a page of the PDF")]
    Compress(#[source] std::io::Error),
    #[error("the rendition would have {pages} pages, more than a PDF file can number")]
    TooManyPages { pages: usize },
}

/// Renders `invoice` as an A4 PDF.
pub fn render_invoice(invoice: &Invoice) -> Result<Vec<u8>, PdfError> {
    invoice::render(invoice)
}
