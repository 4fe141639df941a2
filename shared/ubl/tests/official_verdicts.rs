//! The engine against the official validator's verdicts on the corpus (../shared/corpus): the
//! verdict, the fatal rule ids and the warning rule ids must be the official ones for every file,
//! for EN 16931 alone and, where Peppol applies, with Peppol BIS 3 on.

use std::collections::BTreeSet;
use std::path::PathBuf;

use ledgerpost_ubl::rules::{Flag, RuleSet, Ruleset, Source, validate};
use ledgerpost_ubl::xml::{Document, Limits};
use serde_json::Value;

fn corpus() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(dir.join("ubl/manifest.json").is_file(), "corpus not found at {}", dir.display());
    dir
}

fn ids(v: &Value) -> BTreeSet<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

#[test]
fn en16931_and_peppol_verdicts_equal_the_official_ones() {
    let dir = corpus();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ubl/manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_object().unwrap();
    // The manifest's Peppol results come from the 2026.5 release; the embedded Schematron is the
    // OpenPeppol 2025.5 one (the newest published as Schematron). Ids that exist only in 2026.5 cannot
    // be compared and are listed in the summary.
    let peppol_known: BTreeSet<String> =
        RuleSet::peppol().schema.asserts().map(|(_, a)| a.id.to_string()).collect();
    let mut peppol_unknown: BTreeSet<String> = BTreeSet::new();
    let (mut n, mut verdicts, mut fatal_eq, mut warn_eq) = (0, 0, 0, 0);
    let (mut peppol_n, mut peppol_eq, mut peppol_sets) = (0, 0, 0);
    let mut problems = Vec::new();
    let mut peppol_problems = Vec::new();
    for (name, entry) in files {
        let set = entry["set"].as_str().or(entry["expected_set"].as_str()).unwrap_or("valid");
        let path = dir.join("ubl").join(set).join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc = Document::parse(&bytes, &Limits::default()).unwrap();
        let report = validate(&doc, Ruleset::Peppol);
        let fatal: BTreeSet<String> =
            report.ids_from(Source::En16931, Flag::Fatal).into_iter().map(str::to_owned).collect();
        let warnings: BTreeSet<String> =
            report.ids_from(Source::En16931, Flag::Warning).into_iter().map(str::to_owned).collect();
        let want_fatal = ids(&entry["en16931_fatal_rules"]);
        let want_warn = ids(&entry["en16931_warning_rules"]);
        n += 1;
        verdicts += usize::from(fatal.is_empty() == entry["en16931_ok"].as_bool().unwrap());
        fatal_eq += usize::from(fatal == want_fatal);
        warn_eq += usize::from(warnings == want_warn);
        if fatal != want_fatal || warnings != want_warn {
            problems.push(format!(
                "{name}: fatal missing {:?} extra {:?}; warnings missing {:?} extra {:?}",
                want_fatal.difference(&fatal).collect::<Vec<_>>(),
                fatal.difference(&want_fatal).collect::<Vec<_>>(),
                want_warn.difference(&warnings).collect::<Vec<_>>(),
                warnings.difference(&want_warn).collect::<Vec<_>>(),
            ));
        }
        let p_fatal: BTreeSet<String> =
            report.ids_from(Source::Peppol, Flag::Fatal).into_iter().map(str::to_owned).collect();
        let p_warn: BTreeSet<String> =
            report.ids_from(Source::Peppol, Flag::Warning).into_iter().map(str::to_owned).collect();
        let known = |all: BTreeSet<String>, unknown: &mut BTreeSet<String>| -> BTreeSet<String> {
            let (k, u): (BTreeSet<String>, BTreeSet<String>) =
                all.into_iter().partition(|id| peppol_known.contains(id));
            unknown.extend(u);
            k
        };
        let want_pf = known(ids(&entry["peppol_fatal_rules"]), &mut peppol_unknown);
        let want_pw = known(ids(&entry["peppol_warning_rules"]), &mut peppol_unknown);
        if p_fatal == want_pf && p_warn == want_pw {
            peppol_sets += 1;
        } else {
            peppol_problems.push(format!(
                "{name} (peppol): fatal missing {:?} extra {:?}; warnings missing {:?} extra {:?}",
                want_pf.difference(&p_fatal).collect::<Vec<_>>(),
                p_fatal.difference(&want_pf).collect::<Vec<_>>(),
                want_pw.difference(&p_warn).collect::<Vec<_>>(),
                p_warn.difference(&want_pw).collect::<Vec<_>>(),
            ));
        }
        if let Some(ok) = entry["peppol_ok"].as_bool() {
            peppol_n += 1;
            peppol_eq += usize::from(report.is_valid() == ok);
        }
    }
    println!(
        "official verdicts: {n} files, en16931 verdicts equal {verdicts}/{n}, fatal sets equal {fatal_eq}/{n}, \
         warning sets equal {warn_eq}/{n}; peppol verdicts equal {peppol_eq}/{peppol_n}, \
         peppol rule sets equal {peppol_sets}/{n} (ids not in the embedded release: {peppol_unknown:?})"
    );
    assert!(problems.is_empty(), "differences from the official validator:\n{}", problems.join("\n"));
    assert!(peppol_problems.is_empty(), "Peppol differences:\n{}", peppol_problems.join("\n"));
    assert_eq!(peppol_eq, peppol_n, "Peppol verdicts");
}
