use ledgerpost_ubl::model::{DocumentKind, Invoice};

use super::matching::{journal_and_consume, run};
use crate::ids::AdministrationId;
use crate::journal::journal_purchase;
use crate::manual::*;
use crate::masterdata::{InMemoryMasterData, ReceiptKey};
use crate::matching::*;
use crate::testkit::*;
use crate::tolerance::Tolerance;

fn two_lines(number: &str, order: Option<&str>) -> Invoice {
    invoice(
        DocumentKind::Invoice,
        number,
        order,
        vec![line("1", "2", "4.50", "Espresso machine descaler"), line("2", "1", "20.00", "Service visit")],
    )
}

/// GIVEN a line no rule matches WHEN a person codes it and creates a rule "descaler" THEN the next
/// invoice of the supplier with that text is matched by the rule.
#[test]
fn manual_coding_creates_a_rule_that_matches_the_next_invoice() {
    let mut md = InMemoryMasterData::new();
    let first = two_lines("F1", None);
    let state = run(&md, Tolerance::EXACT, &first);
    assert_eq!(state.status(), &InvoiceStatus::WaitingForManualProcessing);

    let mut chosen = coding("4650");
    chosen.cost_centre = Some("KITCHEN".into());
    let (state, rule) = code_line(&state, &first, "1", chosen.clone(), Some("DESCALER")).unwrap();
    let rule = rule.unwrap();
    assert_eq!((rule.search_text.as_str(), &rule.coding, &rule.supplier), ("DESCALER", &chosen, &supplier()));
    assert_eq!(state.lines()[0].explanation, Explanation::ManualEntry);
    assert!(state.lines()[0].by_hand);
    assert_eq!(state.version(), 1);
    md.put_rule(rule);

    let next = invoice(DocumentKind::Invoice, "F2", None, vec![line("1", "1", "4.50", "Descaler, 1 l")]);
    let l = run(&md, Tolerance::EXACT, &next).lines()[0].clone();
    assert_eq!(l.status, LineStatus::Matched);
    assert_eq!(
        l.explanation,
        Explanation::TextRule { search_text: "DESCALER".into(), account: account("4650") }
    );
    assert_eq!(l.assignment, Some(Assignment::Coding(chosen)));
}

#[test]
fn coding_refusals() {
    let md = InMemoryMasterData::new();
    let inv = two_lines("F1", None);
    let state = run(&md, Tolerance::EXACT, &inv);
    assert!(matches!(
        code_line(&state, &inv, "1", coding("4000"), Some("kettle")),
        Err(ManualError::SearchTextNotInLine { .. })
    ));
    assert!(matches!(
        code_line(&state, &inv, "1", coding("4000"), Some(" é ")),
        Err(ManualError::SearchTextTooShort(_))
    ));
    assert!(matches!(
        code_line(&state, &inv, "9", coding("4000"), None),
        Err(ManualError::UnknownLine { .. })
    ));
    let (coded, _) = code_line(&state, &inv, "1", coding("4000"), None).unwrap();
    assert!(matches!(
        code_line(&coded, &inv, "1", coding("4001"), None),
        Err(ManualError::AlreadyProcessed { .. })
    ));
    let other = two_lines("F2", None);
    let mut other_lines = other.clone();
    other_lines.lines.pop();
    assert!(matches!(
        code_line(&state, &other_lines, "1", coding("4000"), None),
        Err(ManualError::InvoiceMismatch)
    ));
}

#[test]
fn undo_and_post_as_plain_entry() {
    let md = InMemoryMasterData::new();
    let inv = two_lines("F1", None);
    let state = run(&md, Tolerance::EXACT, &inv);
    assert!(matches!(undo(&state, "1"), Err(ManualError::NothingToUndo { .. })));
    let (coded, _) = code_line(&state, &inv, "1", coding("4000"), None).unwrap();
    let undone = undo(&coded, "1").unwrap();
    assert_eq!(undone.lines()[0].status, LineStatus::NotMatched);
    assert_eq!(undone.lines()[0].explanation, Explanation::Undone);
    assert_eq!(undone.lines()[0].assignment, None);
    assert_eq!(undone.version(), 2);

    let (coded, _) = code_line(&undone, &inv, "2", coding("4100"), None).unwrap();
    let posted = post_as_plain_entry(&coded, &account("4999")).unwrap();
    assert_eq!(posted.lines()[0].status, LineStatus::Posted);
    assert_eq!(posted.lines()[0].explanation, Explanation::PlainEntry);
    assert_eq!(
        posted.lines()[0].assignment,
        Some(Assignment::Coding(crate::masterdata::Coding::account(account("4999"))))
    );
    assert_eq!(posted.lines()[1].status, LineStatus::Matched, "a coded line is kept");
    assert_eq!(posted.status(), &InvoiceStatus::AllLinesProcessed);
    assert!(matches!(post_as_plain_entry(&posted, &account("4999")), Err(ManualError::NothingToPost)));
    // A posted line can be undone before journaling.
    assert_eq!(undo(&posted, "1").unwrap().status(), &InvoiceStatus::WaitingForManualProcessing);
}

#[test]
fn manual_receipt_match_accepts_price_differences_but_not_missing_quantity() {
    let md = InMemoryMasterData::new();
    let inv = invoice(DocumentKind::Invoice, "F1", Some("PO-9"), vec![line("1", "5", "11.00", "Valve")]);
    let state = run(&md, Tolerance::EXACT, &inv);
    // Different item id and order: a person may still match it; the amount differs (55 vs 50).
    let r = receipt("PO-8", "3", "V-1", "5", "0", "10.00");
    let matched = match_to_receipt(&state, &inv, "1", &r, Tolerance::EXACT).unwrap();
    let l = &matched.lines()[0];
    assert_eq!(l.status, LineStatus::Matched);
    assert!(l.by_hand);
    let Explanation::ReceiptWithDifferences { differences, .. } = &l.explanation else { panic!("{l:?}") };
    assert_eq!(differences.amount.as_ref().unwrap().expected, d("50.00"));
    assert_eq!(matched.status(), &InvoiceStatus::AllLinesProcessed);

    let short = receipt("PO-8", "3", "V-1", "5", "2", "10.00");
    let err = match_to_receipt(&state, &inv, "1", &short, Tolerance::EXACT).unwrap_err();
    assert_eq!(err.to_string(), "receipt PO-8 line 3: only 3 is available, the line needs 5");
    let mut elsewhere = r.clone();
    elsewhere.administration = AdministrationId::parse("beta").unwrap();
    assert!(matches!(
        match_to_receipt(&state, &inv, "1", &elsewhere, Tolerance::EXACT),
        Err(ManualError::OtherAdministration { .. })
    ));
}

#[test]
fn manual_obligation_match_refusals() {
    let md = InMemoryMasterData::new();
    let inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "300.00", "Consultancy")]);
    let state = run(&md, Tolerance::EXACT, &inv);
    let open = obligation("C-1", "1000", "500", false);
    let matched = match_to_obligation(&state, &inv, "1", &open, Tolerance::EXACT).unwrap();
    assert!(matches!(matched.lines()[0].explanation, Explanation::ObligationWithoutDifferences { .. }));
    let blocked = obligation("C-1", "1000", "500", true);
    assert!(matches!(
        match_to_obligation(&state, &inv, "1", &blocked, Tolerance::EXACT),
        Err(ManualError::Blocked { .. })
    ));
    let mut foreign = open.clone();
    foreign.supplier = crate::ids::SupplierKey::parse("DE999999999").unwrap();
    assert!(matches!(
        match_to_obligation(&state, &inv, "1", &foreign, Tolerance::EXACT),
        Err(ManualError::OtherSupplier { .. })
    ));
    let low = obligation("C-1", "1000", "299.99", false);
    assert!(matches!(
        match_to_obligation(&state, &inv, "1", &low, Tolerance::EXACT),
        Err(ManualError::NotAvailable { .. })
    ));
    let within = Tolerance::new(None, Some(d("0.01"))).unwrap();
    assert!(match_to_obligation(&state, &inv, "1", &low, within).is_ok());
}

#[test]
fn reprocess_picks_up_new_master_data_and_keeps_decisions() {
    let mut md = InMemoryMasterData::new();
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        Some("PO-1"),
        vec![with_sellers_id(line("1", "2", "5.00", "Hinge"), "H-1"), line("2", "1", "8.00", "Delivery")],
    );
    let state = run(&md, Tolerance::EXACT, &inv);
    let (state, _) = code_line(&state, &inv, "2", coding("4700"), None).unwrap();
    md.put_receipt(receipt("PO-1", "1", "H-1", "2", "0", "5.00"));
    let (a, s, p) = (admin(), supplier(), profile(Tolerance::EXACT));
    let ctx = MatchContext { administration: &a, supplier: &s, profile: &p, master_data: &md };
    let again = reprocess(&state, &inv, &ctx).unwrap();
    assert!(matches!(again.lines()[0].explanation, Explanation::ReceiptWithoutDifferences { .. }));
    assert_eq!(again.lines()[1].explanation, Explanation::ManualEntry);
    assert_eq!(again.status(), &InvoiceStatus::AllLinesProcessed);
    assert_eq!(again.version(), state.version() + 1);
}

/// GIVEN an invoice whose profile asks for approval WHEN it is journaled THEN it waits for
/// approval; line changes are refused; approve and reject work once, and only then.
#[test]
fn journaled_invoices_refuse_changes_and_approval_rules() {
    let mut md = InMemoryMasterData::new();
    md.put_receipt(receipt("PO-1", "1", "H-1", "10", "0", "5.00"));
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        Some("PO-1"),
        vec![with_sellers_id(line("1", "4", "5.00", "Hinge"), "H-1")],
    );
    let mut p = profile(Tolerance::EXACT);
    p.approval_required = true;
    let state = match super::matching::run_with(&md, p, &inv) {
        MatchOutcome::Processed(s) => s,
        other => panic!("{other:?}"),
    };
    assert!(matches!(approve(&state), Err(ManualError::NotJournaled(_))));
    assert!(matches!(reject(&state, "wrong"), Err(ManualError::NotJournaled(_))));

    let done = journal_purchase(&inv, &state, &administration(), None).unwrap();
    md.apply(done.consume()).unwrap();
    let journaled = done.state;
    assert_eq!(journaled.status(), &InvoiceStatus::Journaled { approval: Approval::Pending });
    assert!(matches!(undo(&journaled, "1"), Err(ManualError::Journaled(_))));
    assert!(matches!(code_line(&journaled, &inv, "1", coding("4000"), None), Err(ManualError::Journaled(_))));
    assert!(matches!(post_as_plain_entry(&journaled, &account("4999")), Err(ManualError::Journaled(_))));
    let (a, s) = (admin(), supplier());
    let ctx = MatchContext { administration: &a, supplier: &s, profile: &p, master_data: &md };
    assert!(matches!(reprocess(&journaled, &inv, &ctx), Err(ManualError::Journaled(_))));
    assert!(journal_purchase(&inv, &journaled, &administration(), None).is_err(), "journaled once");

    let approved = approve(&journaled).unwrap();
    assert_eq!(approved.status(), &InvoiceStatus::Journaled { approval: Approval::Approved });
    assert!(matches!(approve(&approved), Err(ManualError::AlreadyDecided(_))));
    assert!(matches!(reject(&approved, "late"), Err(ManualError::AlreadyDecided(_))));

    assert!(matches!(reject(&journaled, "  "), Err(ManualError::ReasonRequired)));
    let (rejected, release) = reject(&journaled, "goods damaged").unwrap();
    assert_eq!(
        rejected.status(),
        &InvoiceStatus::Journaled { approval: Approval::Rejected { reason: "goods damaged".into() } }
    );
    let key = ReceiptKey { administration: admin(), order_number: "PO-1".into(), line_id: "1".into() };
    assert_eq!(md.receipt(&key).unwrap().quantity_invoiced, d("4"));
    md.apply(&release).unwrap();
    assert_eq!(
        md.receipt(&key).unwrap().quantity_invoiced,
        d("0"),
        "the rejected invoice gives its quantity back"
    );
}

#[test]
fn approval_not_required_is_refused() {
    let mut md = InMemoryMasterData::new();
    md.put_rule(rule("hinge", "4000"));
    let inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "5.00", "Hinge")]);
    let state = run(&md, Tolerance::EXACT, &inv);
    journal_and_consume(&mut md, &inv, &state);
    let done = journal_purchase(&inv, &state, &administration(), None).unwrap();
    assert_eq!(done.state.status(), &InvoiceStatus::Journaled { approval: Approval::NotRequired });
    assert!(matches!(approve(&done.state), Err(ManualError::ApprovalNotRequired(_))));
}
