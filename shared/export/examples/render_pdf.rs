//! Renders UBL invoices as PDF, to look at the rendition:
//! `cargo run -p ledgerpost-export --example render_pdf -- INVOICE.xml OUT.pdf`.

use std::process::ExitCode;

use ledgerpost_ubl::model::Invoice;
use ledgerpost_ubl::xml::Limits;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: render_pdf INVOICE.xml OUT.pdf");
        return ExitCode::from(2);
    };
    let result = std::fs::read(input)
        .map_err(|e| e.to_string())
        .and_then(|bytes| ledgerpost_ubl::read(&bytes, &Limits::default()).map_err(|e| e.to_string()))
        .and_then(|doc| Invoice::from_document(&doc.tree).map_err(|e| e.to_string()))
        .and_then(|invoice| ledgerpost_export::render_invoice(&invoice).map_err(|e| e.to_string()))
        .and_then(|pdf| std::fs::write(output, pdf).map_err(|e| e.to_string()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{input}: {e}");
            ExitCode::FAILURE
        }
    }
}
