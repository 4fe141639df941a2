//! Prints every finding for one file: `cargo run -p ledgerpost-ubl --example findings -- FILE [peppol]`
use ledgerpost_ubl::rules::{Ruleset, validate};
use ledgerpost_ubl::xml::{Document, Limits};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        eprintln!("usage: findings FILE [peppol]");
        std::process::exit(2);
    };
    let set =
        if args.get(2).map(String::as_str) == Some("peppol") { Ruleset::Peppol } else { Ruleset::En16931 };
    let bytes = std::fs::read(file).expect("readable file");
    let doc = Document::parse(&bytes, &Limits::default()).expect("parsable XML");
    for f in validate(&doc, set).findings {
        println!("{:?} {} {:?} {} — {}", f.source, f.rule, f.flag, f.location, f.message);
    }
}
