use std::path::PathBuf;

use ledgerpost_ubl::model::{DocumentKind, Invoice};
use ledgerpost_ubl::xml::Limits;
use rust_decimal::Decimal;

use super::*;

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/ubl/valid"));
    assert!(dir.is_dir(), "the shared corpus is missing: expected {}", dir.display());
    dir
}

fn corpus() -> Vec<(String, Invoice)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "expected the valid corpus invoices, found {}", files.len());
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let doc =
                ledgerpost_ubl::read(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let invoice = Invoice::from_document(&doc.tree).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, invoice)
        })
        .collect()
}

/// The text of every page, as a PDF reader extracts it, with runs of white space made one space.
fn page_texts(pdf: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    pages
        .iter()
        .map(|&p| {
            let text = doc.extract_text(&[p]).unwrap();
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

#[test]
fn every_valid_corpus_invoice_renders() {
    for (name, invoice) in corpus() {
        let pdf = render_invoice(&invoice).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(pdf.starts_with(b"%PDF-"), "{name}");
        let pages = page_texts(&pdf);
        let all = pages.join(" ");
        let number = single(&invoice.number);
        assert!(all.contains(&number), "{name}: invoice number {number:?} not in\n{all}");
        let title = super::invoice::title(&invoice);
        assert!(pages[0].starts_with(&format!("{title} {number}")), "{name}: {}", pages[0]);
        if invoice.kind == DocumentKind::CreditNote {
            assert!(title.contains("redit note"), "{name}: {title}");
        }
        let payable = format!("{} {}", invoice.totals.payable, invoice.currency);
        assert!(all.contains(&payable), "{name}: amount due {payable:?} not in\n{all}");
        for line in &invoice.lines {
            assert!(all.contains(&line.net_amount.to_string()), "{name}: line {} amount", line.id);
        }
        for row in &invoice.vat_breakdown {
            assert!(all.contains(&row.tax_amount.to_string()), "{name}: VAT {}", row.tax_amount);
        }
        if invoice.seller.display_name().is_ascii() {
            let seller = single(invoice.seller.display_name());
            let first_word = seller.split(' ').next().unwrap_or_default();
            assert!(pages[0].contains(first_word), "{name}: seller {seller:?}");
        }
        for (i, page) in pages.iter().enumerate() {
            assert!(
                page.contains(&format!("Page {} of {}", i + 1, pages.len())),
                "{name}: footer of page {}",
                i + 1
            );
        }
    }
}

fn single(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn base_invoice() -> Invoice {
    corpus()
        .into_iter()
        .find(|(name, _)| name.contains("peppol-bis3__examples__base-example"))
        .map(|(_, invoice)| invoice)
        .unwrap()
}

#[test]
fn many_lines_continue_on_further_pages() {
    let mut invoice = base_invoice();
    let template = invoice.lines[0].clone();
    invoice.lines = (1..=300)
        .map(|i| {
            let mut line = template.clone();
            line.id = format!("L{i}");
            line.net_amount = Decimal::new(i64::from(i) * 100 + 1, 2);
            line
        })
        .collect();
    let pdf = render_invoice(&invoice).unwrap();
    let pages = page_texts(&pdf);
    assert!(pages.len() >= 5, "{} pages", pages.len());
    let all = pages.join(" ");
    for i in [1, 150, 299, 300] {
        assert!(all.contains(&format!("L{i} ")), "line L{i} missing");
        assert!(all.contains(&format!("{}.01", i)), "amount of line {i} missing");
    }
    // The table header is repeated on every page that continues the table.
    for page in &pages[1..pages.len() - 1] {
        assert!(page.contains("Net amount"), "{page}");
    }
    assert!(pages.last().unwrap_or(&String::new()).contains("Amount due for payment"));
}

#[test]
fn amounts_are_printed_exactly() {
    let mut invoice = base_invoice();
    invoice.totals.payable = "123456789012345.6789".parse().unwrap();
    invoice.lines[0].quantity = "0.0001".parse().unwrap();
    invoice.lines[0].net_amount = "-0.10".parse().unwrap();
    let all = page_texts(&render_invoice(&invoice).unwrap()).join(" ");
    assert!(all.contains("123456789012345.6789 EUR"), "{all}");
    assert!(all.contains("0.0001"));
    assert!(all.contains("-0.10"));
}

#[test]
fn hostile_and_foreign_text_renders() {
    let mut invoice = base_invoice();
    invoice.number = "INV\r\n(1)\\2".to_owned();
    invoice.seller.registration_name = Some("Łódź Müller – Ωμέγα \u{202E}evil".to_owned());
    invoice.lines[0].item.name = format!("{} {}", "W".repeat(400), "word ".repeat(300));
    invoice.notes = vec!["first line\nsecond line".to_owned(), "x".repeat(5000)];
    let pdf = render_invoice(&invoice).unwrap();
    let all = page_texts(&pdf).join(" ");
    assert!(all.contains("INV (1)\\2"), "{all}");
    assert!(all.contains("Lódz Müller – ????? evil"), "{all}");
    assert!(all.contains("first line second line"));
}

#[test]
fn rendering_is_deterministic() {
    let invoice = base_invoice();
    assert_eq!(render_invoice(&invoice).unwrap(), render_invoice(&invoice).unwrap());
}

#[test]
fn an_invoice_without_lines_still_renders() {
    let mut invoice = base_invoice();
    invoice.lines.clear();
    invoice.vat_breakdown.clear();
    invoice.payment_means.clear();
    let all = page_texts(&render_invoice(&invoice).unwrap()).join(" ");
    assert!(all.contains("The document has no lines."));
}
