//! Validates one file many times (for profilers): `repeat FILE [N] [peppol]`.
use ledgerpost_ubl::rules::{Ruleset, validate};
use ledgerpost_ubl::xml::{Document, Limits};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        eprintln!("usage: repeat FILE [N] [peppol]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let set =
        if args.get(3).map(String::as_str) == Some("peppol") { Ruleset::Peppol } else { Ruleset::En16931 };
    let bytes = std::fs::read(file).expect("readable file");
    let mut findings = 0;
    for _ in 0..n {
        let doc = Document::parse(&bytes, &Limits::default()).expect("parsable XML");
        findings += validate(&doc, set).findings.len();
    }
    println!("{findings} findings");
}
