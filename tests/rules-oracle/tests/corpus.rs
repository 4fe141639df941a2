//! The oracle against the official verdicts of the shared corpus.

use std::collections::BTreeSet;
use std::time::Instant;

use ledgerpost_rules_oracle::{Oracle, corpus_dir, corpus_documents};
use serde_json::Value;

fn manifest() -> Value {
    let path = corpus_dir().join("ubl").join("manifest.json");
    assert!(path.is_file(), "corpus manifest missing: {}", path.display());
    serde_json::from_str(&std::fs::read_to_string(&path).expect("manifest readable"))
        .expect("manifest is JSON")
}

fn id_set(entry: &Value, field: &str) -> BTreeSet<String> {
    entry[field]
        .as_array()
        .unwrap_or_else(|| panic!("manifest field {field} missing"))
        .iter()
        .map(|v| v.as_str().expect("rule id is a string").to_string())
        .collect()
}

#[test]
fn en16931_verdicts_equal_the_official_ones() {
    let manifest = manifest();
    let t0 = Instant::now();
    let oracle = Oracle::en16931().unwrap_or_else(|e| panic!("{e}"));
    let load = t0.elapsed();
    assert_eq!(oracle.assert_count(), 979);
    assert_eq!(oracle.rule_count(), 104);

    let mut files = 0;
    let (mut fatal_eq, mut warn_eq) = (0, 0);
    let mut failures = Vec::new();
    let mut times = Vec::new();
    let (mut fatal_ids, mut warning_ids) = (BTreeSet::new(), BTreeSet::new());
    for set in ["valid", "invalid"] {
        for (name, xml) in corpus_documents(set) {
            let entry = &manifest["files"][&name];
            assert!(entry.is_object(), "{name} not in the manifest");
            let t = Instant::now();
            let got = oracle.validate(&xml);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            files += 1;
            let want_fatal = id_set(entry, "en16931_fatal_rules");
            let want_warn = id_set(entry, "en16931_warning_rules");
            if got.fatal == want_fatal {
                fatal_eq += 1;
            }
            if got.warnings == want_warn {
                warn_eq += 1;
            }
            if got.fatal != want_fatal || got.warnings != want_warn || got.error.is_some() {
                failures.push(format!(
                    "{name}: fatal missing {:?} extra {:?}; warnings missing {:?} extra {:?}; error {:?}",
                    want_fatal.difference(&got.fatal).collect::<Vec<_>>(),
                    got.fatal.difference(&want_fatal).collect::<Vec<_>>(),
                    want_warn.difference(&got.warnings).collect::<Vec<_>>(),
                    got.warnings.difference(&want_warn).collect::<Vec<_>>(),
                    got.error
                ));
            }
            fatal_ids.extend(got.fatal);
            warning_ids.extend(got.warnings);
        }
    }
    times.sort_by(f64::total_cmp);
    let total: f64 = times.iter().sum();
    println!(
        "en16931 oracle: {files} files, fatal sets equal {fatal_eq}/{files}, warning sets equal {warn_eq}/{files}; \
         {} distinct fatal / {} warning ids; load {:.0} ms, per file median {:.1} ms, mean {:.1} ms, max {:.1} ms",
        fatal_ids.len(),
        warning_ids.len(),
        load.as_secs_f64() * 1000.0,
        times[times.len() / 2],
        total / files as f64,
        times[times.len() - 1],
    );
    assert_eq!(files, 61, "expected the 61 corpus files");
    assert!(failures.is_empty(), "{} file(s) differ:\n{}", failures.len(), failures.join("\n"));
}
