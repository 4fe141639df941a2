use std::collections::BTreeMap;

use ledgerpost_ubl::model::{DocumentKind, Invoice, VatCategory};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::matching::run;
use crate::journal::*;
use crate::manual::post_as_plain_entry;
use crate::masterdata::InMemoryMasterData;
use crate::matching::document_sign;
use crate::testkit::*;
use crate::tolerance::Tolerance;

/// Journals a purchase with every line posted as a plain entry on the default expense account.
fn purchase(inv: &Invoice) -> Result<JournalEntry, JournalError> {
    let state = run(&InMemoryMasterData::new(), Tolerance::EXACT, inv);
    let state = post_as_plain_entry(&state, &account("4999")).unwrap();
    journal_purchase(inv, &state, &administration(), None).map(|done| done.entry)
}

fn sales(inv: &Invoice) -> Result<JournalEntry, JournalError> {
    journal_sales(inv, invoice_id(&inv.number), &administration(), None)
}

/// (account, debit, credit) per journal line, as text for compact assertions.
fn rows(entry: &JournalEntry) -> Vec<(String, String, String)> {
    entry.lines.iter().map(|l| (l.account.to_string(), l.debit.to_string(), l.credit.to_string())).collect()
}

fn row(account: &str, debit: &str, credit: &str) -> (String, String, String) {
    (account.into(), debit.into(), credit.into())
}

#[test]
fn purchase_invoice_entry() {
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        None,
        vec![line("1", "2", "50.00", "Chairs"), line("2", "1", "50.00", "Desk")],
    );
    let entry = purchase(&inv).unwrap();
    assert_eq!(
        rows(&entry),
        [
            row("4999", "100.00", "0"),
            row("4999", "50.00", "0"),
            row("1510", "31.50", "0"),
            row("1600", "0", "181.50")
        ]
    );
    assert!(entry.is_balanced());
    assert_eq!(entry.total_debit(), d("181.50"));
    assert_eq!(entry.booking_date, inv.issue_date);
    assert_eq!(entry.lines[0].description, "F1 line 1: Chairs");
    assert_eq!(entry.lines[0].invoice_line.as_deref(), Some("1"));
    assert_eq!(entry.lines[0].vat_rate, Some(d("21")));
    assert_eq!(entry.lines[3].description, "F1 Supplier B.V.");
    entry.reconcile(&inv).unwrap();
}

#[test]
fn accounts_follow_the_matching() {
    let mut md = InMemoryMasterData::new();
    md.put_receipt(receipt("PO-1", "1", "A", "2", "0", "50.00"));
    md.put_obligation(obligation("PO-1", "1000", "1000", false));
    let mut r = rule("installation", "4800");
    r.coding.cost_centre = Some("CC-7".into());
    r.coding.project = Some("P-1".into());
    md.put_rule(r);
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        Some("PO-1"),
        vec![with_sellers_id(line("1", "2", "50.00", "Chair"), "A"), line("2", "1", "300.00", "Consultancy")],
    );
    let state = run(&md, Tolerance::EXACT, &inv);
    let done = journal_purchase(&inv, &state, &administration(), Some(date(2024, 4, 1))).unwrap();
    let accounts: Vec<&str> = done.entry.lines.iter().map(|l| l.account.as_str()).collect();
    assert_eq!(accounts, ["1610", "1620", "1510", "1600"]);
    assert_eq!(done.entry.booking_date, date(2024, 4, 1));
    assert_eq!(done.consume.receipts.len(), 1);
    assert_eq!(done.consume.receipts[0].quantity, d("2"));
    assert_eq!(done.consume.obligations[0].amount, d("300.00"));
    assert_eq!(done.state.consumed(), Some(&done.consume));

    // Without order reference, the text rule codes the line, with its cost centre and project.
    let inv = invoice(DocumentKind::Invoice, "F2", None, vec![line("1", "1", "80.00", "Installation")]);
    let state = run(&md, Tolerance::EXACT, &inv);
    let done = journal_purchase(&inv, &state, &administration(), None).unwrap();
    let l = &done.entry.lines[0];
    assert_eq!(l.account.as_str(), "4800");
    assert_eq!(
        (l.cost_centre.as_deref(), l.project.as_deref(), l.vat_group.as_deref()),
        (Some("CC-7"), Some("P-1"), Some("H21"))
    );
    assert!(done.consume.is_empty());
}

#[test]
fn not_ready_or_mismatched_states_are_refused() {
    let inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "10", "x")]);
    let state = run(&InMemoryMasterData::new(), Tolerance::EXACT, &inv);
    assert!(matches!(
        journal_purchase(&inv, &state, &administration(), None),
        Err(JournalError::NotReady { .. })
    ));
    let state = post_as_plain_entry(&state, &account("4999")).unwrap();
    let other = invoice(DocumentKind::Invoice, "F1", None, vec![line("9", "1", "10", "x")]);
    assert_eq!(
        journal_purchase(&other, &state, &administration(), None).unwrap_err(),
        JournalError::InvoiceMismatch
    );
}

#[test]
fn credit_notes_swap_sides() {
    let inv = invoice(DocumentKind::CreditNote, "C1", None, vec![line("1", "1", "100.00", "Returned chair")]);
    assert_eq!(
        rows(&purchase(&inv).unwrap()),
        [row("4999", "0", "100.00"), row("1510", "0", "21.00"), row("1600", "121.00", "0")]
    );
    assert_eq!(
        rows(&sales(&inv).unwrap()),
        [row("8000", "100.00", "0"), row("1520", "21.00", "0"), row("1300", "0", "121.00")]
    );
}

#[test]
fn sales_invoice_entry() {
    let mut l2 = line("2", "1", "10.00", "Book");
    l2.vat = vat("S", "9");
    let inv = invoice(DocumentKind::Invoice, "S1", None, vec![line("1", "1", "100.00", "Service"), l2]);
    let entry = sales(&inv).unwrap();
    assert_eq!(
        rows(&entry),
        [
            row("8000", "0", "100.00"),
            row("8000", "0", "10.00"),
            row("1521", "0", "0.90"),
            row("1520", "0", "21.00"),
            row("1300", "131.90", "0")
        ]
    );
    assert_eq!(entry.lines[4].description, "S1 ACME Trading B.V.");
}

#[test]
fn negative_lines_and_negative_invoices_never_give_negative_amounts() {
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        None,
        vec![line("1", "1", "100.00", "Goods"), line("2", "-1", "20.00", "Returned goods")],
    );
    assert_eq!(
        rows(&purchase(&inv).unwrap()),
        [
            row("4999", "100.00", "0"),
            row("4999", "0", "20.00"),
            row("1510", "16.80", "0"),
            row("1600", "0", "96.80")
        ]
    );
    let negative = invoice(DocumentKind::Invoice, "F2", None, vec![line("1", "-1", "50.00", "Correction")]);
    assert_eq!(
        rows(&purchase(&negative).unwrap()),
        [row("4999", "0", "50.00"), row("1510", "0", "10.50"), row("1600", "60.50", "0")]
    );
}

/// GIVEN lines of 100 and 200 and an allowance of 10 in their category WHEN journaled THEN the
/// allowance is spread 3.33 / 6.67 (the last line takes the remainder).
#[test]
fn document_allowances_are_spread_pro_rata_with_the_last_share_rounded() {
    let mut inv = invoice(
        DocumentKind::Invoice,
        "F1",
        None,
        vec![line("1", "1", "100.00", "a"), line("2", "1", "200.00", "b")],
    );
    inv.allowances_charges.push(allowance_charge(false, "10.00", vat("S", "21")));
    finish(&mut inv);
    let entry = purchase(&inv).unwrap();
    assert_eq!(entry.lines[0].debit, d("96.67"));
    assert_eq!(entry.lines[1].debit, d("193.33"));

    let mut thirds = invoice(
        DocumentKind::Invoice,
        "F2",
        None,
        vec![line("1", "1", "10.00", "a"), line("2", "1", "10.00", "b"), line("3", "1", "10.00", "c")],
    );
    thirds.allowances_charges.push(allowance_charge(false, "10.00", vat("S", "21")));
    thirds.allowances_charges.push(allowance_charge(true, "0.01", vat("S", "21")));
    finish(&mut thirds);
    let entry = purchase(&thirds).unwrap();
    // Netted first: -9.99 spread as -3.33, -3.33, -3.33.
    let nets: Vec<String> = entry.lines.iter().take(3).map(|l| l.debit.to_string()).collect();
    assert_eq!(nets, ["6.67", "6.67", "6.67"]);
    thirds.allowances_charges.pop();
    finish(&mut thirds);
    let nets: Vec<String> =
        purchase(&thirds).unwrap().lines.iter().take(3).map(|l| l.debit.to_string()).collect();
    assert_eq!(nets, ["6.67", "6.67", "6.66"]);
}

#[test]
fn allowances_stay_in_their_vat_category() {
    let mut low = line("2", "1", "50.00", "Book");
    low.vat = vat("S", "9");
    let mut inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "100.00", "Service"), low]);
    inv.allowances_charges.push(allowance_charge(false, "10.00", vat("S", "9")));
    // A charge in a category without lines: its own line on the default account.
    inv.allowances_charges.push(allowance_charge(true, "5.00", vat("Z", "0")));
    finish(&mut inv);
    let entry = purchase(&inv).unwrap();
    assert_eq!(
        rows(&entry),
        [
            row("4999", "100.00", "0"),
            row("4999", "40.00", "0"),
            row("4999", "5.00", "0"),
            row("1511", "3.60", "0"),
            row("1510", "21.00", "0"),
            row("1600", "0", "169.60"),
        ]
    );
    assert_eq!(entry.lines[2].description, "F1 allowances and charges: charge Freight");
    assert_eq!(entry.lines[2].vat_rate, Some(d("0")));
}

#[test]
fn prepaid_and_rounding_are_booked_so_the_entry_balances() {
    let mut inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "100.00", "x")]);
    inv.totals.prepaid = Some(d("21.00"));
    inv.totals.rounding = Some(d("0.01"));
    finish(&mut inv);
    assert_eq!(inv.totals.payable, d("100.01"));
    assert_eq!(
        rows(&purchase(&inv).unwrap()),
        [
            row("4999", "100.00", "0"),
            row("1510", "21.00", "0"),
            row("1600", "0", "100.01"),
            row("1650", "0", "21.00"),
            row("4990", "0.01", "0")
        ]
    );
    inv.totals.rounding = Some(d("-0.01"));
    finish(&mut inv);
    let entry = sales(&inv).unwrap();
    assert_eq!(
        rows(&entry),
        [
            row("8000", "0", "100.00"),
            row("1520", "0", "21.00"),
            row("1300", "99.99", "0"),
            row("1650", "21.00", "0"),
            row("4990", "0.01", "0")
        ]
    );
    assert_eq!(entry.role_total(Role::Rounding), d("-0.01"));
}

#[test]
fn invoices_that_do_not_add_up_are_refused() {
    let mut inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "100.00", "x")]);
    inv.totals.payable += d("0.01");
    assert_eq!(
        sales(&inv).unwrap_err(),
        JournalError::Unbalanced { debit: d("121.01"), credit: d("121.00") }
    );
    let mut inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "100.00", "x")]);
    inv.tax_total = Some(d("21.01"));
    let err = sales(&inv).unwrap_err();
    assert_eq!(err.to_string(), "VAT total: the entry books 21.00, the invoice says 21.01");
    let mut inv = invoice(DocumentKind::Invoice, "F1", None, vec![line("1", "1", "100.00", "x")]);
    inv.totals.tax_exclusive = d("99.00");
    assert!(matches!(
        sales(&inv).unwrap_err(),
        JournalError::Reconcile(ReconcileError { what: "net amount", .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Property: every generated invoice journals, as purchase and as sales, into a balanced entry
// that reconciles to its totals, with the net booked per VAT rate equal to the taxable amounts.
// ---------------------------------------------------------------------------------------------

fn categories() -> Vec<VatCategory> {
    let none =
        VatCategory { code: "O".into(), rate: None, exemption_reason: None, exemption_reason_code: None };
    vec![vat("S", "21"), vat("S", "9"), vat("S", "6"), vat("Z", "0"), vat("E", "0"), none]
}

fn arb_invoice() -> impl Strategy<Value = Invoice> {
    let pool = categories().len();
    (
        proptest::sample::subsequence((0..pool).collect::<Vec<_>>(), 1..=4),
        proptest::collection::vec((any::<prop::sample::Index>(), -100_000i64..=2_000_000, 1i64..=50), 1..=8),
        proptest::collection::vec((any::<bool>(), 0i64..=50_000, 0..pool), 0..=3),
        proptest::option::of(0i64..=100_000),
        proptest::option::of(-50i64..=50),
        any::<bool>(),
    )
        .prop_map(|(used, lines, acs, prepaid, rounding, credit)| {
            let all = categories();
            let lines = lines
                .into_iter()
                .enumerate()
                .map(|(i, (pick, cents, quantity))| {
                    let mut l = line(&(i + 1).to_string(), "1", "1", "generated");
                    l.quantity = Decimal::from(quantity);
                    l.net_amount = Decimal::new(cents, 2);
                    l.price.amount = l.net_amount / l.quantity;
                    l.vat = all[used[pick.index(used.len())]].clone();
                    l
                })
                .collect();
            let kind = if credit { DocumentKind::CreditNote } else { DocumentKind::Invoice };
            let mut inv = invoice(kind, "P1", None, lines);
            for (is_charge, cents, category) in acs {
                let mut ac = allowance_charge(is_charge, "0", all[category].clone());
                ac.amount = Decimal::new(cents, 2);
                inv.allowances_charges.push(ac);
            }
            inv.totals.prepaid = prepaid.map(|c| Decimal::new(c, 2));
            inv.totals.rounding = rounding.map(|c| Decimal::new(c, 2));
            finish(&mut inv);
            inv
        })
}

/// Net booked per VAT rate, signed as the invoice states it.
fn net_per_rate(entry: &JournalEntry) -> BTreeMap<Option<Decimal>, Decimal> {
    let natural = if entry.direction == Direction::Purchase { Decimal::ONE } else { Decimal::NEGATIVE_ONE };
    let mut out = BTreeMap::new();
    for l in entry.lines.iter().filter(|l| l.role == Role::Net) {
        *out.entry(l.vat_rate.map(|r| r.normalize())).or_default() +=
            l.balance() * natural * document_sign(entry.kind);
    }
    out.retain(|_, v: &mut Decimal| !v.is_zero());
    out
}

proptest! {
    #[test]
    fn every_generated_invoice_journals_balanced_and_reconciled(inv in arb_invoice()) {
        let mut taxable: BTreeMap<Option<Decimal>, Decimal> = BTreeMap::new();
        for s in &inv.vat_breakdown {
            *taxable.entry(s.category.rate.map(|r| r.normalize())).or_default() += s.taxable_amount;
        }
        taxable.retain(|_, v| !v.is_zero());
        for entry in [purchase(&inv), sales(&inv)] {
            let entry = entry.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(entry.is_balanced());
            prop_assert_eq!(entry.reconcile(&inv), Ok(()));
            prop_assert_eq!(entry.role_total(Role::Counterparty), inv.totals.payable);
            prop_assert_eq!(entry.role_total(Role::Vat), inv.tax_total.unwrap());
            for l in &entry.lines {
                prop_assert!(l.debit >= Decimal::ZERO && l.credit >= Decimal::ZERO);
                prop_assert!(l.debit.is_zero() != l.credit.is_zero(), "exactly one side: {:?}", l);
                prop_assert!(l.debit.scale() <= 2 && l.credit.scale() <= 2, "cents: {:?}", l);
            }
            prop_assert_eq!(net_per_rate(&entry), taxable.clone());
        }
    }
}
