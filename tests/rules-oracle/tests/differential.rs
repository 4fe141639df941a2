//! The engine (ledgerpost-ubl) against the oracle (the official XPath run verbatim by xee-xpath)
//! on documents mutated from the corpus, one edit each, aimed at every rule family: the EN 16931
//! fatal and warning rule sets must be equal for every document. Prints one summary line with
//! the number of documents and how many distinct rule ids fired.

use std::collections::BTreeSet;

use ledgerpost_rules_oracle::{Oracle, mutated_corpus};
use ledgerpost_ubl::rules::{Flag, RUNTIME_ERROR_ID, RuleSet, Ruleset, Source, validate};
use ledgerpost_ubl::xml::{Document, Limits};

#[test]
fn engine_agrees_with_the_official_xpath_on_mutated_documents() {
    let oracle = Oracle::en16931().expect("the official rules compile in xee");
    let docs = mutated_corpus();
    assert!(docs.len() >= 100, "too few mutated documents: {}", docs.len());
    let (mut compared, mut equal, mut skipped, mut both_stopped) = (0, 0, 0, 0);
    let mut fired_fatal = BTreeSet::new();
    let mut fired_warning = BTreeSet::new();
    let mut differences = Vec::new();
    let _ = RuleSet::en16931();
    for (name, xml) in &docs {
        let want = oracle.validate(xml);
        // Where an expression raises a dynamic error the official XSLT stops; xee goes on, so
        // only whether our engine stopped too can be compared (reported, not asserted: xee is
        // not the reference for error cases, Saxon is).
        if want.error.is_some() {
            skipped += 1;
            if let Ok(doc) = Document::parse(xml.as_bytes(), &Limits::default()) {
                let report = validate(&doc, Ruleset::En16931);
                if report.fatal_ids().contains(RUNTIME_ERROR_ID) {
                    both_stopped += 1;
                } else {
                    println!("xee error, engine did not stop: {name}: {:?}", want.error);
                }
            }
            continue;
        }
        let Ok(doc) = Document::parse(xml.as_bytes(), &Limits::default()) else {
            differences.push(format!("{name}: the engine could not parse what xee parsed"));
            continue;
        };
        let report = validate(&doc, Ruleset::En16931);
        let fatal: BTreeSet<String> =
            report.ids_from(Source::En16931, Flag::Fatal).into_iter().map(str::to_owned).collect();
        let warnings: BTreeSet<String> =
            report.ids_from(Source::En16931, Flag::Warning).into_iter().map(str::to_owned).collect();
        compared += 1;
        fired_fatal.extend(want.fatal.iter().cloned());
        fired_warning.extend(want.warnings.iter().cloned());
        if fatal == want.fatal && warnings == want.warnings {
            equal += 1;
        } else if fatal.contains(RUNTIME_ERROR_ID) {
            differences.push(format!("{name}: engine stopped with {:?}", report.findings.first()));
        } else {
            differences.push(format!(
                "{name}: fatal missing {:?} extra {:?}; warnings missing {:?} extra {:?}",
                want.fatal.difference(&fatal).collect::<Vec<_>>(),
                fatal.difference(&want.fatal).collect::<Vec<_>>(),
                want.warnings.difference(&warnings).collect::<Vec<_>>(),
                warnings.difference(&want.warnings).collect::<Vec<_>>(),
            ));
        }
    }
    println!(
        "differential: {} mutated documents, {compared} compared, {equal} equal, {skipped} with a dynamic error in xee ({both_stopped} also stopped by the engine); \
         {} distinct fatal and {} distinct warning rule ids fired",
        docs.len(),
        fired_fatal.len(),
        fired_warning.len()
    );
    assert!(differences.is_empty(), "engine and oracle differ:\n{}", differences.join("\n"));
}
