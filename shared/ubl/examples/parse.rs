//! Parses a file, or every `.xml` file of a folder, N times without validating, to measure and
//! profile the XML reader alone (callgrind, heap profilers): `parse FILE|FOLDER [N]`. Files that
//! are not readable XML are counted, not skipped silently.

use ledgerpost_ubl::xml::{Document, Limits};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1).map(std::path::Path::new) else {
        eprintln!("usage: parse FILE|FOLDER [N]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
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
    let (mut nodes, mut refused) = (0, 0);
    let start = std::time::Instant::now();
    for _ in 0..n {
        for bytes in &files {
            match Document::parse(bytes, &limits) {
                Ok(doc) => nodes += doc.len(),
                Err(_) => refused += 1,
            }
        }
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / (n * files.len()).max(1) as f64;
    println!("{} files x {n}: {nodes} nodes, {refused} refused, {ms:.3} ms per file", files.len());
}
