use ledgerpost_ubl::model::DocumentKind;

use super::matching::run;
use crate::manual::code_line;
use crate::masterdata::InMemoryMasterData;
use crate::suggest::*;
use crate::testkit::*;
use crate::tolerance::Tolerance;

#[test]
fn suggestions_are_ranked_accent_insensitive_and_never_applied() {
    let rules = vec![rule("koffie bonen", "4100"), rule("printer papier", "4200")];
    let history = vec![PastCoding { item_text: "Thé vert biologique".into(), coding: coding("4110") }];
    let target = line("1", "1", "9.95", "KOFFIEBONEN Arabica");
    let found = suggest(&target, &rules, &history, 5);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].coding, coding("4100"));
    assert_eq!(found[0].source, Source::TextRule);
    assert!(found[0].score > 0.2 && found[0].score < 1.0, "{}", found[0].score);

    let tea = line("1", "1", "3.00", "THE VERT");
    let found = suggest(&tea, &rules, &history, 5);
    assert_eq!(found[0].coding, coding("4110"));
    assert_eq!(found[0].source, Source::ManualCoding);
    assert_eq!(found[0].resembles, "Thé vert biologique");

    // Identical text scores 1; unrelated text is not proposed.
    let same = line("1", "1", "1", "Printer Papier");
    assert_eq!(suggest(&same, &rules, &history, 5)[0].score, 1.0);
    assert!(suggest(&line("1", "1", "1", "Hydraulic pump"), &rules, &history, 5).is_empty());
}

#[test]
fn one_suggestion_per_coding_best_first_and_limited() {
    let rules = vec![
        rule("office chair", "4300"),
        rule("chair", "4300"),
        rule("chair mat", "4310"),
        rule("desk chair", "4320"),
    ];
    let found = suggest(&line("1", "1", "1", "Office chair black"), &rules, &[], 2);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].coding, coding("4300"));
    assert_eq!(found[0].resembles, "office chair");
    assert!(found[0].score >= found[1].score);
}

#[test]
fn past_codings_come_from_lines_coded_by_hand() {
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        None,
        vec![line("1", "1", "5", "Window cleaning"), line("2", "1", "5", "Other")],
    );
    let state = run(&InMemoryMasterData::new(), Tolerance::EXACT, &inv);
    let (state, _) = code_line(&state, &inv, "1", coding("4400"), None).unwrap();
    assert_eq!(
        past_codings(&inv, &state),
        [PastCoding { item_text: "Window cleaning".into(), coding: coding("4400") }]
    );
    let found = suggest(&line("1", "1", "1", "window cleaning march"), &[], &past_codings(&inv, &state), 3);
    assert_eq!(found[0].coding, coding("4400"));
}
