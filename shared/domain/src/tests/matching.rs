use std::cell::Cell;

use ledgerpost_ubl::model::{DocumentKind, Invoice};
use rust_decimal::Decimal;

use crate::config::PurchaseProfile;
use crate::ids::{AdministrationId, SupplierKey};
use crate::journal::journal_purchase;
use crate::masterdata::{
    GoodsReceipt, InMemoryMasterData, MasterData, MasterDataError, Obligation, ReceiptKey, TextRule,
};
use crate::matching::*;
use crate::testkit::*;
use crate::tolerance::Tolerance;

pub(crate) fn run_with(md: &InMemoryMasterData, profile: PurchaseProfile, invoice: &Invoice) -> MatchOutcome {
    let (a, s) = (admin(), supplier());
    let ctx = MatchContext { administration: &a, supplier: &s, profile: &profile, master_data: md };
    match_invoice(invoice, invoice_id(&invoice.number), &ctx).unwrap()
}

pub(crate) fn run(md: &InMemoryMasterData, tolerance: Tolerance, invoice: &Invoice) -> InvoiceMatching {
    match run_with(md, profile(tolerance), invoice) {
        MatchOutcome::Processed(state) => state,
        other => panic!("not processed: {other:?}"),
    }
}

/// Journals a fully matched invoice and applies its consumption to the master data.
pub(crate) fn journal_and_consume(md: &mut InMemoryMasterData, invoice: &Invoice, state: &InvoiceMatching) {
    let done = journal_purchase(invoice, state, &administration(), None).unwrap();
    md.apply(done.consume()).unwrap();
}

fn pct(p: &str) -> Tolerance {
    Tolerance::new(Some(d(p)), None).unwrap()
}

fn max(m: &str) -> Tolerance {
    Tolerance::new(None, Some(d(m))).unwrap()
}

fn one_line(number: &str, order: Option<&str>, line: ledgerpost_ubl::model::Line) -> Invoice {
    invoice(DocumentKind::Invoice, number, order, vec![line])
}

fn receipt_key(order: &str, line: &str) -> ReceiptKey {
    ReceiptKey { administration: admin(), order_number: order.into(), line_id: line.into() }
}

fn with_receipt(r: GoodsReceipt) -> InMemoryMasterData {
    let mut md = InMemoryMasterData::new();
    md.put_receipt(r);
    md
}

#[test]
fn receipt_without_differences_by_sellers_item_id() {
    let md = with_receipt(receipt("PO-1", "1", "ART-1", "10", "0", "12.50"));
    let inv = one_line("F1", Some("PO-1"), with_sellers_id(line("1", "10", "12.50", "Widget"), "art-1"));
    let state = run(&md, Tolerance::EXACT, &inv);
    let l = &state.lines()[0];
    assert_eq!(l.status, LineStatus::Matched);
    assert_eq!(l.explanation, Explanation::ReceiptWithoutDifferences { receipt: receipt_key("PO-1", "1") });
    assert_eq!(
        l.assignment,
        Some(Assignment::Receipt { key: receipt_key("PO-1", "1"), quantity: d("10"), invoiced_seen: d("0") })
    );
    assert!(!l.by_hand);
    assert_eq!(state.status(), &InvoiceStatus::AllLinesProcessed);
}

#[test]
fn receipt_found_by_standard_id_buyers_id_or_order_line_reference() {
    let mut r = receipt("PO-1", "7", "OTHER", "1", "0", "5");
    r.standard_item_id = Some("8712345678906".into());
    r.buyers_item_id = Some("B-42".into());
    let md = with_receipt(r);
    let by_standard =
        one_line("F1", Some("PO-1"), with_standard_id(line("1", "1", "5", "x"), "8712345678906"));
    let mut by_buyer = line("1", "1", "5", "x");
    by_buyer.item.buyers_id = Some(" b-42 ".into());
    let mut by_order_line = line("1", "1", "5", "x");
    by_order_line.order_line_reference = Some("7".into());
    let mut unrelated = line("1", "1", "5", "x");
    unrelated.item.sellers_id = Some("ART-9".into());
    for (inv, matched) in [
        (by_standard, true),
        (one_line("F2", Some("PO-1"), by_buyer), true),
        (one_line("F3", Some("PO-1"), by_order_line), true),
        (one_line("F4", Some("PO-1"), unrelated.clone()), false),
        // Same item, other order: no candidate.
        (one_line("F5", Some("PO-2"), by_order_line_ref("7")), false),
    ] {
        let state = run(&md, Tolerance::EXACT, &inv);
        assert_eq!(state.lines()[0].status == LineStatus::Matched, matched, "{}", inv.number);
    }
    let state = run(&md, Tolerance::EXACT, &one_line("F4", Some("PO-1"), unrelated));
    assert_eq!(state.lines()[0].explanation, Explanation::NoCandidate);
}

fn by_order_line_ref(id: &str) -> ledgerpost_ubl::model::Line {
    let mut l = line("1", "1", "5", "x");
    l.order_line_reference = Some(id.into());
    l
}

/// GIVEN a receipt of 10 × 10.00 = 100.00 WHEN the invoice line amount is at, or one cent over,
/// the tolerance THEN it matches with differences, or does not match.
#[test]
fn receipt_amount_tolerance_edges() {
    let md = with_receipt(receipt("PO-1", "1", "A", "10", "0", "10.00"));
    let at = |net: &str, tolerance: Tolerance| {
        let mut l = with_sellers_id(line("1", "10", "10.00", "Widget"), "A");
        l.net_amount = d(net);
        l.price.amount = d(net) / d("10");
        let state = run(&md, tolerance, &one_line("F1", Some("PO-1"), l));
        state.lines()[0].clone()
    };
    // 2 % of the expected 100.00 = 2.00.
    let l = at("102.00", pct("2"));
    assert_eq!(l.status, LineStatus::Matched);
    let Explanation::ReceiptWithDifferences { differences, .. } = &l.explanation else { panic!("{l:?}") };
    assert_eq!(
        differences.amount,
        Some(AmountDifference { expected: d("100.00"), invoiced: d("102.00"), within_tolerance: true })
    );
    assert_eq!(differences.price, Some(PriceDifference { receipt: d("10.00"), invoice: d("10.2") }));
    assert_eq!(differences.quantity, None);
    assert_eq!(at("98.00", pct("2")).status, LineStatus::Matched);
    let over = at("102.01", pct("2"));
    assert_eq!(over.status, LineStatus::NotMatched);
    let Explanation::ReceiptWithDifferences { differences, .. } = &over.explanation else { panic!() };
    assert!(!differences.amount.as_ref().unwrap().within_tolerance);
    assert_eq!(at("97.99", pct("2")).status, LineStatus::NotMatched);
    // Max amount 1.50.
    assert_eq!(at("101.50", max("1.50")).status, LineStatus::Matched);
    assert_eq!(at("101.51", max("1.50")).status, LineStatus::NotMatched);
    // Both: 2 % (2.00) and at most 1.50 → 1.50 binds.
    let both = Tolerance::new(Some(d("2")), Some(d("1.50"))).unwrap();
    assert_eq!(at("101.50", both).status, LineStatus::Matched);
    assert_eq!(at("101.51", both).status, LineStatus::NotMatched);
    // Exact.
    assert_eq!(
        at("100.00", Tolerance::EXACT).explanation,
        Explanation::ReceiptWithoutDifferences { receipt: receipt_key("PO-1", "1") }
    );
    assert_eq!(at("100.01", Tolerance::EXACT).status, LineStatus::NotMatched);
}

#[test]
fn receipt_quantity_over_available_within_tolerance() {
    // 100 received at 1.00; invoicing 102 is 2.00 more in value: within 2 %, not within 1 %.
    let md = with_receipt(receipt("PO-1", "1", "A", "100", "0", "1.00"));
    let inv = one_line("F1", Some("PO-1"), with_sellers_id(line("1", "102", "1.00", "Bolts"), "A"));
    let state = run(&md, pct("2"), &inv);
    let l = &state.lines()[0];
    assert_eq!(l.status, LineStatus::Matched);
    let Explanation::ReceiptWithDifferences { differences, .. } = &l.explanation else { panic!("{l:?}") };
    assert_eq!(
        differences.quantity,
        Some(QuantityDifference { available: d("100"), invoiced: d("102"), within_tolerance: true })
    );
    // The amount is 102.00 against the receipt value of 102 units, 102.00: no amount difference.
    assert_eq!(differences.amount, None);
    assert_eq!(run(&md, pct("1.99"), &inv).lines()[0].status, LineStatus::NotMatched);
}

/// GIVEN a receipt of 10 WHEN invoices of 6 and then 6 arrive THEN the first matches (partial
/// invoicing, 4 remain) and the second cannot exceed the remainder; 4 then matches, and nothing
/// more can be invoiced even with an amount tolerance.
#[test]
fn partial_receipt_and_two_invoices_against_one_receipt() {
    let mut md = with_receipt(receipt("PO-1", "1", "A", "10", "0", "3.00"));
    let first = one_line("F1", Some("PO-1"), with_sellers_id(line("1", "6", "3.00", "Paint"), "A"));
    let state = run(&md, Tolerance::EXACT, &first);
    assert_eq!(
        state.lines()[0].explanation,
        Explanation::ReceiptWithoutDifferences { receipt: receipt_key("PO-1", "1") }
    );
    journal_and_consume(&mut md, &first, &state);
    assert_eq!(md.receipt(&receipt_key("PO-1", "1")).unwrap().quantity_invoiced, d("6"));

    let second = one_line("F2", Some("PO-1"), with_sellers_id(line("1", "6", "3.00", "Paint"), "A"));
    let state = run(&md, Tolerance::EXACT, &second);
    let l = &state.lines()[0];
    assert_eq!(l.status, LineStatus::NotMatched);
    let Explanation::ReceiptWithDifferences { differences, .. } = &l.explanation else { panic!("{l:?}") };
    assert_eq!(
        differences.quantity,
        Some(QuantityDifference { available: d("4"), invoiced: d("6"), within_tolerance: false })
    );
    assert_eq!(state.status(), &InvoiceStatus::WaitingForManualProcessing);

    let rest = one_line("F3", Some("PO-1"), with_sellers_id(line("1", "4", "3.00", "Paint"), "A"));
    let state = run(&md, Tolerance::EXACT, &rest);
    assert_eq!(state.lines()[0].status, LineStatus::Matched);
    journal_and_consume(&mut md, &rest, &state);

    // Fully invoiced: even 1 unit (3.00) within a 5.00 amount tolerance cannot be invoiced twice.
    let again = one_line("F4", Some("PO-1"), with_sellers_id(line("1", "1", "3.00", "Paint"), "A"));
    let state = run(&md, max("5.00"), &again);
    let l = &state.lines()[0];
    assert_eq!(l.status, LineStatus::NotMatched);
    let Explanation::ReceiptWithDifferences { differences, .. } = &l.explanation else { panic!("{l:?}") };
    assert_eq!(differences.quantity.as_ref().unwrap().available, Decimal::ZERO);
}

#[test]
fn two_lines_of_one_invoice_share_a_receipt() {
    let md = with_receipt(receipt("PO-1", "1", "A", "10", "0", "1.00"));
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        Some("PO-1"),
        vec![
            with_sellers_id(line("1", "6", "1.00", "x"), "A"),
            with_sellers_id(line("2", "6", "1.00", "x"), "A"),
        ],
    );
    let state = run(&md, Tolerance::EXACT, &inv);
    assert_eq!(state.lines()[0].status, LineStatus::Matched);
    assert_eq!(state.lines()[1].status, LineStatus::NotMatched);
}

#[test]
fn second_receipt_line_of_the_same_item_takes_over() {
    let mut md = with_receipt(receipt("PO-1", "1", "A", "5", "5", "1.00"));
    md.put_receipt(receipt("PO-1", "2", "A", "5", "0", "1.00"));
    let inv = one_line("F1", Some("PO-1"), with_sellers_id(line("1", "5", "1.00", "x"), "A"));
    let state = run(&md, Tolerance::EXACT, &inv);
    assert_eq!(
        state.lines()[0].explanation,
        Explanation::ReceiptWithoutDifferences { receipt: receipt_key("PO-1", "2") }
    );
}

#[test]
fn obligation_matching() {
    let mut md = InMemoryMasterData::new();
    md.put_obligation(obligation("CONTRACT-1", "1000.00", "500.00", false));
    let at = |net: &str, tolerance: Tolerance| {
        let state =
            run(&md, tolerance, &one_line("F1", Some("CONTRACT-1"), line("1", "1", net, "Maintenance")));
        state.lines()[0].clone()
    };
    let partial = at("300.00", Tolerance::EXACT);
    assert_eq!(partial.status, LineStatus::Matched);
    assert!(matches!(partial.explanation, Explanation::ObligationWithoutDifferences { .. }));
    assert!(
        matches!(partial.assignment, Some(Assignment::Obligation { amount, .. }) if amount == d("300.00"))
    );
    assert_eq!(at("500.00", Tolerance::EXACT).status, LineStatus::Matched);
    let over = at("510.00", max("10.00"));
    assert_eq!(over.status, LineStatus::Matched);
    let Explanation::ObligationWithDifferences { available, amount, .. } = over.explanation else { panic!() };
    assert_eq!((available, amount), (d("500.00"), d("510.00")));
    assert_eq!(at("510.01", max("10.00")).status, LineStatus::NotMatched);
    // 2 % of the open balance 500.00 = 10.00.
    assert_eq!(at("510.00", pct("2")).status, LineStatus::Matched);
    assert_eq!(at("510.01", pct("2")).status, LineStatus::NotMatched);
    assert_eq!(at("500.01", Tolerance::EXACT).status, LineStatus::NotMatched);
}

#[test]
fn blocked_obligation_is_reported_not_matched_and_stops_the_search() {
    let mut md = InMemoryMasterData::new();
    md.put_obligation(obligation("CONTRACT-1", "1000.00", "1000.00", true));
    md.put_rule(rule("maintenance", "4400"));
    let state =
        run(&md, Tolerance::EXACT, &one_line("F1", Some("CONTRACT-1"), line("1", "1", "100", "Maintenance")));
    let l = &state.lines()[0];
    assert_eq!(l.status, LineStatus::NotMatched);
    assert!(
        matches!(&l.explanation, Explanation::ObligationBlocked { obligation } if obligation.reference == "CONTRACT-1")
    );
    assert_eq!(l.assignment, None);
}

#[test]
fn obligation_of_another_supplier_is_no_candidate() {
    let mut md = InMemoryMasterData::new();
    let mut o = obligation("CONTRACT-1", "1000.00", "1000.00", false);
    o.supplier = SupplierKey::parse("DE999999999").unwrap();
    md.put_obligation(o);
    md.put_rule(rule("maintenance", "4400"));
    let state =
        run(&md, Tolerance::EXACT, &one_line("F1", Some("CONTRACT-1"), line("1", "1", "100", "Maintenance")));
    assert!(matches!(state.lines()[0].explanation, Explanation::TextRule { .. }));
}

#[test]
fn failing_receipt_candidate_stops_before_text_rules() {
    let mut md = with_receipt(receipt("PO-1", "1", "A", "1", "0", "10.00"));
    md.put_rule(rule("widget", "4400"));
    let inv = one_line("F1", Some("PO-1"), with_sellers_id(line("1", "1", "11.00", "Widget"), "A"));
    let state = run(&md, Tolerance::EXACT, &inv);
    assert!(matches!(state.lines()[0].explanation, Explanation::ReceiptWithDifferences { .. }));
    assert_eq!(state.lines()[0].status, LineStatus::NotMatched);
}

#[test]
fn no_order_reference_rejected_or_text_rules() {
    let mut md = InMemoryMasterData::new();
    md.put_rule(rule("coffee", "4100"));
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        None,
        vec![line("1", "1", "10", "Coffee beans"), line("2", "1", "10", "Tea")],
    );
    let rejecting = PurchaseProfile { reject_without_order_reference: true, ..profile(Tolerance::EXACT) };
    assert_eq!(run_with(&md, rejecting, &inv), MatchOutcome::RejectedWithoutOrderReference);
    // A blank reference counts as none.
    let mut blank = inv.clone();
    blank.order_reference = Some("  ".into());
    assert_eq!(run_with(&md, rejecting, &blank), MatchOutcome::RejectedWithoutOrderReference);

    let state = run(&md, Tolerance::EXACT, &inv);
    assert_eq!(
        state.lines()[0].explanation,
        Explanation::TextRule { search_text: "coffee".into(), account: account("4100") }
    );
    assert_eq!(state.lines()[0].assignment, Some(Assignment::Coding(coding("4100"))));
    assert_eq!(state.lines()[1].explanation, Explanation::NoOrderReference);
    assert_eq!(state.status(), &InvoiceStatus::WaitingForManualProcessing);
}

/// GIVEN a receipt of which 10 were invoiced WHEN a credit note (positive quantities) credits 4
/// THEN it matches and gives back 4; crediting 12 cannot match.
#[test]
fn credit_note_against_receipt_and_obligation() {
    let mut md = with_receipt(receipt("PO-1", "1", "A", "10", "10", "2.00"));
    let credit = invoice(
        DocumentKind::CreditNote,
        "C1",
        Some("PO-1"),
        vec![with_sellers_id(line("1", "4", "2.00", "x"), "A")],
    );
    let state = run(&md, Tolerance::EXACT, &credit);
    let l = &state.lines()[0];
    assert_eq!(l.status, LineStatus::Matched, "{l:?}");
    assert_eq!(
        l.assignment,
        Some(Assignment::Receipt {
            key: receipt_key("PO-1", "1"),
            quantity: d("-4"),
            invoiced_seen: d("10")
        })
    );
    journal_and_consume(&mut md, &credit, &state);
    assert_eq!(md.receipt(&receipt_key("PO-1", "1")).unwrap().quantity_invoiced, d("6"));

    let too_much = invoice(
        DocumentKind::CreditNote,
        "C2",
        Some("PO-1"),
        vec![with_sellers_id(line("1", "7", "2.00", "x"), "A")],
    );
    let state = run(&md, Tolerance::EXACT, &too_much);
    let Explanation::ReceiptWithDifferences { differences, .. } = &state.lines()[0].explanation else {
        panic!()
    };
    assert_eq!(differences.quantity.as_ref().unwrap().available, d("6"));

    // 600 of 1000 consumed: a credit of 200 gives back 200; a credit of 700 cannot.
    let mut md = InMemoryMasterData::new();
    md.put_obligation(obligation("CONTRACT-1", "1000.00", "400.00", false));
    let credit =
        invoice(DocumentKind::CreditNote, "C3", Some("CONTRACT-1"), vec![line("1", "1", "200.00", "x")]);
    let state = run(&md, Tolerance::EXACT, &credit);
    assert!(
        matches!(state.lines()[0].assignment, Some(Assignment::Obligation { amount, .. }) if amount == d("-200.00"))
    );
    journal_and_consume(&mut md, &credit, &state);
    let key = obligation("CONTRACT-1", "1000.00", "400.00", false).key();
    assert_eq!(md.obligation(&key).unwrap().open_balance, d("600.00"));
    let credit =
        invoice(DocumentKind::CreditNote, "C4", Some("CONTRACT-1"), vec![line("1", "1", "700.00", "x")]);
    assert_eq!(run(&md, Tolerance::EXACT, &credit).lines()[0].status, LineStatus::NotMatched);
}

#[test]
fn negative_invoice_line_credits_like_a_credit_note() {
    let md = with_receipt(receipt("PO-1", "1", "A", "10", "10", "2.00"));
    let inv = one_line("F1", Some("PO-1"), with_sellers_id(line("1", "-3", "2.00", "Return"), "A"));
    let state = run(&md, Tolerance::EXACT, &inv);
    assert!(
        matches!(state.lines()[0].assignment, Some(Assignment::Receipt { quantity, .. }) if quantity == d("-3"))
    );
}

#[test]
fn text_rules_longest_match_accents_and_case() {
    let mut md = InMemoryMasterData::new();
    md.put_rule(rule("Café", "4100"));
    md.put_rule(rule("cafe creme", "4110"));
    let only_cafe = {
        let mut md = InMemoryMasterData::new();
        md.put_rule(rule("Café", "4100"));
        md
    };
    let l = run(&only_cafe, Tolerance::EXACT, &one_line("F0", None, line("1", "1", "1", "CAFE AU LAIT")))
        .lines()[0]
        .clone();
    assert_eq!(l.explanation, Explanation::TextRule { search_text: "Café".into(), account: account("4100") });
    md.put_rule(rule("CAFE", "4100")); // same folded text as "Café": replaces it
    let l = run(&md, Tolerance::EXACT, &one_line("F1", None, line("1", "1", "1", "CAFÉ CRÈME 1kg"))).lines()
        [0]
    .clone();
    assert_eq!(
        l.explanation,
        Explanation::TextRule { search_text: "cafe creme".into(), account: account("4110") }
    );
    let l = run(&md, Tolerance::EXACT, &one_line("F2", None, line("1", "1", "1", "Café noir"))).lines()[0]
        .clone();
    assert_eq!(l.explanation, Explanation::TextRule { search_text: "CAFE".into(), account: account("4100") });
    // The description counts too.
    let mut described = line("1", "1", "1", "Article 77");
    described.item.description = Some("Caffè? no: café".into());
    let l = run(&md, Tolerance::EXACT, &one_line("F3", None, described)).lines()[0].clone();
    assert_eq!(l.status, LineStatus::Matched);
}

#[test]
fn equally_long_rules_with_different_codings_tie() {
    let mut md = InMemoryMasterData::new();
    md.put_rule(rule("paper", "4200"));
    md.put_rule(rule("toner", "4300"));
    let l = run(&md, Tolerance::EXACT, &one_line("F1", None, line("1", "1", "1", "Toner and paper pack")))
        .lines()[0]
        .clone();
    assert_eq!(l.status, LineStatus::NotMatched);
    let Explanation::RuleTie { candidates } = &l.explanation else { panic!("{l:?}") };
    let texts: Vec<&str> = candidates.iter().map(|c| c.search_text.as_str()).collect();
    assert_eq!(texts, ["paper", "toner"]);

    // Same coding: no conflict.
    let mut md = InMemoryMasterData::new();
    md.put_rule(rule("paper", "4200"));
    md.put_rule(rule("toner", "4200"));
    let l = run(&md, Tolerance::EXACT, &one_line("F1", None, line("1", "1", "1", "Toner and paper pack")))
        .lines()[0]
        .clone();
    assert_eq!(l.status, LineStatus::Matched);
}

#[test]
fn rules_of_other_suppliers_or_administrations_do_not_apply() {
    let mut md = InMemoryMasterData::new();
    let mut other = rule("coffee", "4100");
    other.supplier = SupplierKey::parse("DE999999999").unwrap();
    md.put_rule(other);
    let mut elsewhere = rule("coffee", "4100");
    elsewhere.administration = AdministrationId::parse("beta").unwrap();
    md.put_rule(elsewhere);
    let l =
        run(&md, Tolerance::EXACT, &one_line("F1", None, line("1", "1", "1", "Coffee"))).lines()[0].clone();
    assert_eq!(l.explanation, Explanation::NoOrderReference);
}

#[test]
fn huge_amounts_never_match_and_never_panic() {
    let md = with_receipt(receipt("PO-1", "1", "A", "10", "0", "1.00"));
    let mut inv = one_line("F1", Some("PO-1"), with_sellers_id(line("1", "1", "1", "x"), "A"));
    inv.lines[0].quantity = Decimal::MAX;
    inv.lines[0].net_amount = Decimal::MAX;
    let state = run(&md, pct("100"), &inv);
    assert_eq!(state.lines()[0].status, LineStatus::NotMatched);
    // The journal refuses what it cannot add up, without panicking either.
    let mut md = InMemoryMasterData::new();
    md.put_rule(rule("xyz", "4000"));
    let mut inv = one_line("F2", None, line("1", "1", "1", "xyz"));
    inv.lines[0].net_amount = Decimal::MAX;
    inv.allowances_charges.push(allowance_charge(true, "1", vat("S", "21")));
    inv.allowances_charges.push(allowance_charge(true, "79228162514264337593543950335", vat("S", "21")));
    let state = run(&md, Tolerance::EXACT, &inv);
    assert!(journal_purchase(&inv, &state, &administration(), None).is_err());
}

/// Master data that counts lookups, to show matching one invoice reads each key once.
struct Counting {
    inner: InMemoryMasterData,
    calls: Cell<u32>,
}

impl MasterData for Counting {
    fn receipts_for_order(
        &self,
        a: &AdministrationId,
        o: &str,
    ) -> Result<Vec<GoodsReceipt>, MasterDataError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.receipts_for_order(a, o)
    }
    fn obligations_for_reference(
        &self,
        a: &AdministrationId,
        r: &str,
    ) -> Result<Vec<Obligation>, MasterDataError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.obligations_for_reference(a, r)
    }
    fn rules_for_supplier(
        &self,
        a: &AdministrationId,
        s: &SupplierKey,
    ) -> Result<Vec<TextRule>, MasterDataError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.rules_for_supplier(a, s)
    }
}

#[test]
fn one_lookup_per_key_per_invoice() {
    let md =
        Counting { inner: with_receipt(receipt("PO-1", "1", "A", "100", "0", "1")), calls: Cell::new(0) };
    let lines = (1..=20).map(|i| line(&i.to_string(), "1", "1", "thing")).collect();
    let inv = invoice(DocumentKind::Invoice, "F1", Some("PO-1"), lines);
    let (a, s, p) = (admin(), supplier(), profile(Tolerance::EXACT));
    let ctx = MatchContext { administration: &a, supplier: &s, profile: &p, master_data: &md };
    match_invoice(&inv, invoice_id("F1"), &ctx).unwrap();
    assert_eq!(md.calls.get(), 3);
}
