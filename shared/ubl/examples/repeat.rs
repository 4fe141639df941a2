//! Parses and validates a file, or every `.xml` file of a folder, N times (for profilers such as
//! callgrind and heap profilers): `repeat FILE|FOLDER [N] [en16931|peppol|parse]`, where `parse`
//! runs the XML reader alone. Files that are not readable XML are counted, not skipped silently.
use ledgerpost_ubl::rules::{Ruleset, validate};
use ledgerpost_ubl::xml::{Document, Limits};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1).map(std::path::Path::new) else {
        eprintln!("usage: repeat FILE|FOLDER [N] [en16931|peppol|parse]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let (set, parse_only) = match args.get(3).map(String::as_str) {
        Some("peppol") => (Ruleset::Peppol, false),
        Some("parse") => (Ruleset::En16931, true),
        _ => (Ruleset::En16931, false),
    };
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
    let (mut nodes, mut findings, mut refused) = (0, 0, 0);
    let start = std::time::Instant::now();
    for _ in 0..n {
        for bytes in &files {
            match Document::parse(bytes, &limits) {
                Ok(doc) if parse_only => nodes += doc.len(),
                Ok(doc) => findings += validate(&doc, set).findings.len(),
                Err(_) => refused += 1,
            }
        }
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / (n * files.len()).max(1) as f64;
    println!(
        "{} files x {n}: {nodes} nodes, {findings} findings, {refused} refused, {ms:.3} ms per file",
        files.len()
    );
}
