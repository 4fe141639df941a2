//! The oracle over the mutated corpus: how much of the rule set the mutations reach.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use ledgerpost_rules_oracle::{EN16931_RULES_JSON, Oracle, corpus_documents, mutated_corpus, mutations};

#[test]
fn mutations_are_deterministic_and_well_formed() {
    let docs = corpus_documents("valid");
    assert_eq!(docs.len(), 25, "expected the 25 valid corpus files");
    let (name, xml) = &docs[0];
    let a = mutations(xml);
    let b = mutations(xml);
    assert_eq!(a, b, "mutations of {name} are not deterministic");
    assert!(a.len() > 50, "only {} mutations of {name}", a.len());
    let total: usize = docs.iter().map(|(_, xml)| mutations(xml).len()).sum();
    let corpus = mutated_corpus();
    assert_eq!(corpus, mutated_corpus());
    let kinds: BTreeSet<&str> =
        corpus.iter().map(|(n, _)| n.split_once(' ').map(|(_, d)| d).unwrap_or("")).collect();
    println!(
        "mutations: {total} over the {} valid files (all kinds), mutated_corpus(): {} documents, {} kinds",
        docs.len(),
        corpus.len(),
        kinds.len()
    );
}

#[test]
fn oracle_coverage_over_corpus_and_mutations() {
    let oracle = Oracle::en16931().unwrap_or_else(|e| panic!("{e}"));
    let mut fatal_count: BTreeMap<String, usize> = BTreeMap::new();
    let mut warning_ids = BTreeSet::new();
    let mut corpus_fatal = BTreeSet::new();
    let mut corpus_warn = BTreeSet::new();
    for set in ["valid", "invalid"] {
        for (_, xml) in corpus_documents(set) {
            let r = oracle.validate(&xml);
            corpus_fatal.extend(r.fatal);
            corpus_warn.extend(r.warnings);
        }
    }

    let corpus = mutated_corpus();
    let t0 = Instant::now();
    let mut errors = Vec::new();
    let mut no_fatal = 0;
    for (name, xml) in &corpus {
        let r = oracle.validate(xml);
        if let Some(e) = &r.error {
            errors.push(format!("{name}: {e}"));
        }
        if r.fatal.is_empty() {
            no_fatal += 1;
        }
        for id in r.fatal {
            *fatal_count.entry(id).or_default() += 1;
        }
        warning_ids.extend(r.warnings);
    }
    let elapsed = t0.elapsed();
    let mutated_fatal: BTreeSet<String> = fatal_count.keys().cloned().collect();
    let all_fatal: BTreeSet<&String> = mutated_fatal.iter().chain(&corpus_fatal).collect();
    let all_warn: BTreeSet<&String> = warning_ids.iter().chain(&corpus_warn).collect();
    println!(
        "oracle over {} mutated documents: {:.1} ms per document; {} distinct fatal ids \
         ({} new vs the corpus), {} distinct warning ids; corpus + mutations: {} fatal, {} warning ids; \
         {} documents without fatal rule, {} with a dynamic error",
        corpus.len(),
        elapsed.as_secs_f64() * 1000.0 / corpus.len() as f64,
        mutated_fatal.len(),
        mutated_fatal.difference(&corpus_fatal).count(),
        warning_ids.len(),
        all_fatal.len(),
        all_warn.len(),
        no_fatal,
        errors.len(),
    );
    println!("fatal ids fired by mutations (documents): {fatal_count:?}");
    let rules: serde_json::Value = serde_json::from_str(EN16931_RULES_JSON).expect("rules JSON");
    let all_fatal_ids: BTreeSet<&str> = rules["asserts"]
        .as_array()
        .expect("asserts")
        .iter()
        .filter(|a| a["flag"] == "fatal")
        .filter_map(|a| a["id"].as_str())
        .collect();
    let never: Vec<&&str> = all_fatal_ids.iter().filter(|id| !all_fatal.contains(&id.to_string())).collect();
    println!(
        "{} of {} fatal ids fire on corpus + mutations; never: {never:?}",
        all_fatal.len(),
        all_fatal_ids.len()
    );
    for e in errors.iter().take(20) {
        println!("dynamic error: {e}");
    }
    assert!(errors.iter().all(|e| !e.contains("XML parse error")), "a mutation is not well-formed");
}
