//! Parses and validates a file, or every `.xml` file of a folder, N times (for profilers such as
//! callgrind): `repeat FILE|FOLDER [N] [peppol]`. Files that are not readable XML are skipped.
use ledgerpost_ubl::rules::{Ruleset, validate};
use ledgerpost_ubl::xml::{Document, Limits};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1).map(std::path::Path::new) else {
        eprintln!("usage: repeat FILE|FOLDER [N] [peppol]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let set =
        if args.get(3).map(String::as_str) == Some("peppol") { Ruleset::Peppol } else { Ruleset::En16931 };
    let paths: Vec<std::path::PathBuf> = if path.is_dir() {
        let mut all: Vec<_> = std::fs::read_dir(path)
            .expect("readable folder")
            .map(|e| e.expect("folder entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        all.sort();
        all
    } else {
        vec![path.to_path_buf()]
    };
    let files: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("readable file")).collect();
    let limits = Limits { max_bytes: 1 << 30, ..Limits::default() };
    let mut findings = 0;
    for _ in 0..n {
        for bytes in &files {
            if let Ok(doc) = Document::parse(bytes, &limits) {
                findings += validate(&doc, set).findings.len();
            }
        }
    }
    println!("{} files x {n}: {findings} findings", files.len());
}
