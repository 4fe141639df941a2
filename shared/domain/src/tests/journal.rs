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
    // Both lines are booked alike (4999, S 21 %, debit): one journal line.
    assert_eq!(
        rows(&entry),
        [row("4999", "150.00", "0"), row("1510", "31.50", "0"), row("1600", "0", "181.50")]
    );
    assert!(entry.is_balanced());
    assert_eq!(entry.total_debit(), d("181.50"));
    assert_eq!(entry.booking_date, inv.issue_date);
    assert_eq!(entry.lines[0].description, "F1 lines 1, 2");
    assert_eq!(entry.lines[0].invoice_line, None);
    assert_eq!(entry.lines[0].invoice_line_count, 2);
    assert_eq!(entry.lines[0].vat_category.as_deref(), Some("S"));
    assert_eq!(entry.lines[0].vat_rate, Some(d("21")));
    assert_eq!(entry.lines[2].description, "F1 Supplier B.V.");
    assert_eq!((entry.lines[1].invoice_line_count, entry.lines[2].invoice_line_count), (0, 0));
    entry.reconcile(&inv).unwrap();

    // A line booked on its own reads as that line.
    let single = invoice(DocumentKind::Invoice, "F2", None, vec![line("7", "2", "50.00", " Chairs ")]);
    let entry = purchase(&single).unwrap();
    assert_eq!(entry.lines[0].description, "F2 line 7: Chairs");
    assert_eq!(entry.lines[0].invoice_line.as_deref(), Some("7"));
    assert_eq!(entry.lines[0].invoice_line_count, 1);
}

/// GIVEN lines on two codings, two VAT rates, with a cost centre or project, a category code in
/// lower case, a returned item and a zero line WHEN journaled THEN only lines booked exactly
/// alike share a journal line, debits and credits stay apart, and each group names its lines.
#[test]
fn net_lines_are_grouped_only_when_booked_alike() {
    let at = |id: &str, quantity: &str, price: &str, code: &str, rate: &str| {
        let mut l = line(id, quantity, price, "thing");
        l.vat = vat(code, rate);
        l
    };
    let lines = vec![
        at("1", "1", "10.00", "S", "21"),
        at("2", "1", "20.00", "s", "21.00"), // same category and rate, written otherwise
        at("3", "1", "30.00", "S", "9"),     // other rate
        at("4", "-1", "5.00", "S", "21"),    // a return: credited, not netted
        at("5", "1", "40.00", "S", "21"),    // other coding (below)
        at("6", "1", "0.00", "S", "21"),     // nothing to book
        at("7", "1", "1.00", "S", "21"),
        at("8", "1", "2.00", "S", "21"),
        at("9", "1", "3.00", "S", "21"),
        at("10", "1", "4.00", "S", "21"),
        at("11", "1", "50.00", "Z", "0"), // other category
        at("12", "1", "60.00", "E", "0"), // same rate, other category
    ];
    let inv = invoice(DocumentKind::Invoice, "F1", None, lines);
    let plain = LineBooking::from(coding("4999"));
    let mut with_cost_centre = plain.clone();
    with_cost_centre.cost_centre = Some("CC-1".into());
    let mut bookings = vec![plain; inv.lines.len()];
    bookings[4] = with_cost_centre;
    let entry = build_entry(
        &inv,
        invoice_id("F1"),
        &administration(),
        Direction::Purchase,
        &bookings,
        date(2024, 3, 15),
    )
    .unwrap();
    let net: Vec<(String, String, String, Option<&str>, u32, &str)> = entry
        .lines
        .iter()
        .filter(|l| l.role == Role::Net)
        .map(|l| {
            (
                l.debit.to_string(),
                l.credit.to_string(),
                l.vat_category.clone().unwrap_or_default(),
                l.cost_centre.as_deref(),
                l.invoice_line_count,
                l.description.as_str(),
            )
        })
        .collect();
    let n = |debit: &str, credit: &str, category: &str, cc, count, description| {
        (debit.to_owned(), credit.to_owned(), category.to_owned(), cc, count, description)
    };
    assert_eq!(
        net,
        [
            n("40.00", "0", "S", None, 6, "F1 6 lines: 1, 2, 7 … 10"),
            n("30.00", "0", "S", None, 1, "F1 line 3: thing"),
            n("0", "5.00", "S", None, 1, "F1 line 4: thing"),
            n("40.00", "0", "S", Some("CC-1"), 1, "F1 line 5: thing"),
            n("50.00", "0", "Z", None, 1, "F1 line 11: thing"),
            n("60.00", "0", "E", None, 1, "F1 line 12: thing"),
        ]
    );
    entry.reconcile(&inv).unwrap();
    // Four alike: all named.
    let four = invoice(
        DocumentKind::Invoice,
        "F2",
        None,
        (1..=4).map(|i| line(&i.to_string(), "1", "1.00", "x")).collect(),
    );
    assert_eq!(purchase(&four).unwrap().lines[0].description, "F2 lines 1, 2, 3, 4");
}

/// GIVEN 20,000 lines on three codings WHEN journaled THEN the entry has a line per coding (and
/// the VAT and payable lines), to the cent.
#[test]
fn an_entry_grows_with_its_bookings_not_its_lines() {
    let lines: Vec<_> = (1..=20_000)
        .map(|i| line(&i.to_string(), &(1 + i % 7).to_string(), &format!("{}.{:02}", i % 50, i % 100), "x"))
        .collect();
    let inv = invoice(DocumentKind::Invoice, "BIG", None, lines);
    let codings = [coding("4000"), coding("4100"), coding("4200")];
    let bookings: Vec<LineBooking> = (0..inv.lines.len()).map(|i| codings[i % 3].clone().into()).collect();
    let entry = build_entry(
        &inv,
        invoice_id("BIG"),
        &administration(),
        Direction::Purchase,
        &bookings,
        date(2024, 3, 15),
    )
    .unwrap();
    assert_eq!(entry.lines.len(), 5, "{:?}", rows(&entry));
    entry.reconcile(&inv).unwrap();
    let nonzero = inv.lines.iter().filter(|l| !l.net_amount.is_zero()).count() as u32;
    assert_eq!(entry.lines.iter().map(|l| l.invoice_line_count).sum::<u32>(), nonzero);
    for (n, coding) in codings.iter().enumerate() {
        let expected: Decimal = inv.lines.iter().skip(n).step_by(3).map(|l| l.net_amount).sum();
        let booked = entry.lines.iter().find(|l| l.account == coding.account).unwrap();
        assert_eq!(booked.debit, expected, "{}", coding.account);
    }
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
    assert_eq!(done.consume().receipts.len(), 1);
    assert_eq!(done.consume().receipts[0].quantity, d("2"));
    assert_eq!(done.consume().obligations[0].amount, d("300.00"));
    assert_eq!(done.state.consumed(), Some(done.consume()));

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
    assert!(done.consume().is_empty());
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
    let shares = |inv: &Invoice| -> Vec<String> {
        spread_document_amounts(inv).unwrap().0.iter().map(Decimal::to_string).collect()
    };
    assert_eq!(shares(&inv), ["96.67", "193.33"]);
    // Both lines booked alike: one journal line with the net after the allowance.
    let entry = purchase(&inv).unwrap();
    assert_eq!(entry.lines[0].debit, d("290.00"));

    let mut thirds = invoice(
        DocumentKind::Invoice,
        "F2",
        None,
        vec![line("1", "1", "10.00", "a"), line("2", "1", "10.00", "b"), line("3", "1", "10.00", "c")],
    );
    thirds.allowances_charges.push(allowance_charge(false, "10.00", vat("S", "21")));
    thirds.allowances_charges.push(allowance_charge(true, "0.01", vat("S", "21")));
    finish(&mut thirds);
    // Netted first: -9.99 spread as -3.33, -3.33, -3.33.
    assert_eq!(shares(&thirds), ["6.67", "6.67", "6.67"]);
    assert_eq!(purchase(&thirds).unwrap().lines[0].debit, d("20.01"));
    thirds.allowances_charges.pop();
    finish(&mut thirds);
    assert_eq!(shares(&thirds), ["6.67", "6.67", "6.66"]);
    assert_eq!(purchase(&thirds).unwrap().lines[0].debit, d("20.00"));
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

/// Three bookings to spread generated lines over: two accounts, one of them also with a cost
/// centre.
fn bookings_pool() -> Vec<LineBooking> {
    let mut with_cost_centre = LineBooking::from(coding("4100"));
    with_cost_centre.cost_centre = Some("CC-1".into());
    vec![LineBooking::from(coding("4000")), LineBooking::from(coding("4100")), with_cost_centre]
}

/// (account, cost centre, VAT category, normalised rate, debit side) of a net line.
type Booked = (String, Option<String>, String, Option<Decimal>, bool);

proptest! {
    /// Grouping moves no cent: per booking, VAT category and side, the entry books exactly the sum
    /// of the lines' nets (with their shares of allowances and charges), counts every line that
    /// has an amount, and books each such combination on one journal line.
    #[test]
    fn grouped_net_lines_book_exactly_the_sum_of_their_lines(
        inv in arb_invoice(),
        picks in proptest::collection::vec(0usize..3, 8),
    ) {
        let pool = bookings_pool();
        let bookings: Vec<LineBooking> =
            (0..inv.lines.len()).map(|i| pool[picks[i % picks.len()]].clone()).collect();
        let (nets, _) = spread_document_amounts(&inv).unwrap();
        for direction in [Direction::Purchase, Direction::Sales] {
            let entry = build_entry(&inv, invoice_id("P1"), &administration(), direction, &bookings, inv.issue_date)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(entry.is_balanced());
            prop_assert_eq!(entry.reconcile(&inv), Ok(()));
            // The natural side of a positive net: debit for a purchase invoice.
            let debit_sign = if direction == Direction::Purchase { Decimal::ONE } else { Decimal::NEGATIVE_ONE }
                * document_sign(inv.kind);
            let mut expected: BTreeMap<Booked, (Decimal, u32)> = BTreeMap::new();
            for ((l, b), net) in inv.lines.iter().zip(&bookings).zip(&nets) {
                if net.is_zero() {
                    continue;
                }
                let key = (
                    b.account.to_string(),
                    b.cost_centre.clone(),
                    l.vat.code.trim().to_ascii_uppercase(),
                    l.vat.rate.map(|r| r.normalize()),
                    *net * debit_sign > Decimal::ZERO,
                );
                let slot = expected.entry(key).or_default();
                slot.0 += net.abs();
                slot.1 += 1;
            }
            let mut booked: BTreeMap<Booked, (Decimal, u32)> = BTreeMap::new();
            for l in entry.lines.iter().filter(|l| l.role == Role::Net && l.invoice_line_count > 0) {
                let key = (
                    l.account.to_string(),
                    l.cost_centre.clone(),
                    l.vat_category.clone().unwrap_or_default(),
                    l.vat_rate.map(|r| r.normalize()),
                    !l.debit.is_zero(),
                );
                prop_assert!(booked.insert(key, (l.debit + l.credit, l.invoice_line_count)).is_none(), "one line per booking: {:?}", l);
            }
            prop_assert_eq!(booked, expected);
        }
    }
}
