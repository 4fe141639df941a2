//! Test oracle for ledgerpost's UBL rules engine.
//!
//! - [`Oracle`]: the official EN 16931 (and Peppol BIS 3) Schematron asserts, their XPath
//!   run verbatim by xee-xpath with Schematron semantics.
//! - [`mutations`]: single-edit variants of a UBL document aimed at the rule families.
//! - [`corpus_dir`], [`mutated_corpus`]: the shared test corpus and its mutations, for
//!   differential tests (engine vs oracle).

mod mutate;
mod oracle;
mod peppol;
mod rewrite;
mod xmlspan;

pub use mutate::{Mutation, mutations};
pub use oracle::{
    CompileError, EN16931_NAMESPACES, EN16931_RULES_JSON, Flag, LoadError, Oracle, OracleResult,
};

use std::path::PathBuf;

/// The shared test corpus (`README.md`, `ubl/manifest.json`, `ubl/{valid,invalid}/*.xml`,
/// `rules/`), found relative to this crate's manifest directory. It is not part of the
/// repository: check that it exists before use.
pub fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus"));
    dir.canonicalize().unwrap_or(dir)
}

/// The documents of one corpus folder (`"valid"` or `"invalid"`), sorted by file name:
/// `(file name, content)`. Panics when the folder cannot be read.
pub fn corpus_documents(set: &str) -> Vec<(String, String)> {
    let dir = corpus_dir().join("ubl").join(set);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} unreadable: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "xml").then_some(path)
        })
        .map(|path| {
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            let xml = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{} unreadable: {e}", path.display()));
            (name, xml)
        })
        .collect();
    out.sort();
    out
}

/// Corpus documents larger than this are not mutated (the 3.3 MB Italian example is
/// almost entirely an embedded PDF; its variants would cost memory and oracle time
/// without reaching other rules).
pub const MUTATION_MAX_DOCUMENT_BYTES: usize = 1_000_000;

/// How many documents each kind of mutation is applied to by [`mutated_corpus`].
pub const MUTATIONS_PER_KIND: usize = 1;

/// The valid corpus documents × their mutations, for differential tests: `(name, xml)`
/// with names `<file>#<n> <description>`.
///
/// Every kind of mutation (same description) is applied to at most
/// [`MUTATIONS_PER_KIND`] documents where it applies, chosen deterministically and
/// spread over the corpus (the start document depends on the description), so that
/// all kinds are exercised while the set stays a few hundred documents.
pub fn mutated_corpus() -> Vec<(String, String)> {
    mutated_corpus_with(MUTATIONS_PER_KIND)
}

/// [`mutated_corpus`] with another number of documents per mutation kind
/// (`usize::MAX`: every mutation of every valid document up to the size limit).
pub fn mutated_corpus_with(per_kind: usize) -> Vec<(String, String)> {
    let docs: Vec<(String, String)> = corpus_documents("valid")
        .into_iter()
        .filter(|(_, xml)| xml.len() <= MUTATION_MAX_DOCUMENT_BYTES)
        .collect();
    // Pass 1: which kinds apply to which documents (the variants themselves are dropped to
    // keep memory low).
    let mut kinds: std::collections::BTreeMap<String, Vec<usize>> = std::collections::BTreeMap::new();
    for (d, (_, xml)) in docs.iter().enumerate() {
        for m in mutations(xml) {
            kinds.entry(m.description).or_default().push(d);
        }
    }
    let mut chosen: std::collections::BTreeSet<(usize, String)> = std::collections::BTreeSet::new();
    for (desc, applies_to) in kinds {
        let start = fnv1a(&desc) as usize % docs.len().max(1);
        let mut rotated = applies_to;
        rotated.sort_by_key(|&d| (d + docs.len() - start) % docs.len());
        for d in rotated.into_iter().take(per_kind) {
            chosen.insert((d, desc.clone()));
        }
    }
    // Pass 2: regenerate and keep the chosen ones, in corpus and generation order.
    let mut out = Vec::new();
    for (d, (name, xml)) in docs.iter().enumerate() {
        for (n, m) in mutations(xml).into_iter().enumerate() {
            if chosen.contains(&(d, m.description.clone())) {
                out.push((format!("{name}#{n:03} {}", m.description), m.xml));
            }
        }
    }
    out
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
