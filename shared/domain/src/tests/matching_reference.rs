//! Indexed matching against the plain definition: a reference matcher that compares every line
//! with every receipt of the order (as matching did before the receipts were indexed) must give
//! the same result, line for line, on generated invoices and master data: ids that differ only in
//! case or spaces, blank ids, several receipts for one item in any order, receipts with the same
//! key, partial consumption across lines, tolerances at their edges, credit notes, obligations of
//! several suppliers, text rules, and re-processing after lines were undone.

use ledgerpost_ubl::model::{DocumentKind, Identifier, Invoice, Line};
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::fold::fold;
use crate::ids::{AdministrationId, SupplierKey};
use crate::manual::{reprocess, undo};
use crate::masterdata::{GoodsReceipt, MasterData, MasterDataError, Obligation, TextRule};
use crate::matching::*;
use crate::testkit::*;
use crate::tolerance::Tolerance;

/// Master data that answers with its lists as they are: any order, duplicate keys included.
#[derive(Debug)]
struct AsGiven {
    receipts: Vec<GoodsReceipt>,
    obligations: Vec<Obligation>,
    rules: Vec<TextRule>,
}

impl MasterData for AsGiven {
    fn receipts_for_order(
        &self,
        _: &AdministrationId,
        o: &str,
    ) -> Result<Vec<GoodsReceipt>, MasterDataError> {
        Ok(self.receipts.iter().filter(|r| r.order_number == o).cloned().collect())
    }
    fn obligations_for_reference(
        &self,
        _: &AdministrationId,
        r: &str,
    ) -> Result<Vec<Obligation>, MasterDataError> {
        Ok(self.obligations.iter().filter(|o| o.reference == r).cloned().collect())
    }
    fn rules_for_supplier(
        &self,
        _: &AdministrationId,
        _: &SupplierKey,
    ) -> Result<Vec<TextRule>, MasterDataError> {
        Ok(self.rules.clone())
    }
}

/// The reference: matches the open lines of `lines` by scanning every receipt for every line.
fn reference(
    lines: &[LineMatch],
    invoice: &Invoice,
    md: &AsGiven,
    tolerance: Tolerance,
    has_order_reference: bool,
) -> Vec<LineMatch> {
    let supplier = supplier();
    let rules: Vec<(TextRule, String)> = md
        .rules
        .iter()
        .map(|r| (r.clone(), fold(&r.search_text)))
        .filter(|(_, folded)| !folded.is_empty())
        .collect();
    let (receipts, obligations) = if has_order_reference {
        let order = invoice.order_reference.as_deref().unwrap().trim();
        (
            md.receipts_for_order(&admin(), order).unwrap(),
            md.obligations_for_reference(&admin(), order).unwrap(),
        )
    } else {
        (vec![], vec![])
    };
    let mut ledger = Ledger::of_lines(lines.iter().filter(|l| l.is_processed()));
    let sign = if invoice.kind == DocumentKind::Invoice { Decimal::ONE } else { Decimal::NEGATIVE_ONE };
    let mut out = lines.to_vec();
    for (slot, line) in out.iter_mut().zip(&invoice.lines) {
        if slot.is_processed() {
            continue;
        }
        *slot = reference_line(line, sign, &receipts, &obligations, &rules, &ledger, tolerance, &supplier)
            .unwrap_or_else(|| {
                let why = if has_order_reference {
                    Explanation::NoCandidate
                } else {
                    Explanation::NoOrderReference
                };
                LineMatch {
                    line_id: line.id.clone(),
                    status: LineStatus::NotMatched,
                    explanation: why,
                    assignment: None,
                    by_hand: false,
                }
            });
        ledger.record(slot.assignment.as_ref());
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn reference_line(
    line: &Line,
    sign: Decimal,
    receipts: &[GoodsReceipt],
    obligations: &[Obligation],
    rules: &[(TextRule, String)],
    ledger: &Ledger,
    tolerance: Tolerance,
    supplier: &SupplierKey,
) -> Option<LineMatch> {
    let result = |status, explanation, assignment| LineMatch {
        line_id: line.id.clone(),
        status,
        explanation,
        assignment,
        by_hand: false,
    };
    let checks: Vec<(&GoodsReceipt, ReceiptCheck)> = receipts
        .iter()
        .filter(|r| same_item(line, r))
        .filter_map(|r| Some((r, check_receipt(line, sign, r, ledger.receipt(&r.key()), tolerance)?)))
        .collect();
    let ok = |c: &ReceiptCheck| c.quantity_ok && c.amount_ok;
    let best = checks
        .iter()
        .find(|(_, c)| ok(c) && c.differences.is_empty())
        .or_else(|| checks.iter().find(|(_, c)| ok(c)))
        .or_else(|| checks.first());
    if let Some((receipt, check)) = best {
        let explanation = check.explanation(receipt.key());
        return Some(if ok(check) {
            result(LineStatus::Matched, explanation, Some(check.assignment.clone()))
        } else {
            result(LineStatus::NotMatched, explanation, None)
        });
    }
    if let Some(o) = obligations.iter().find(|o| &o.supplier == supplier)
        && let Some(check) = check_obligation(line, sign, o, ledger.obligation(&o.key()), tolerance)
    {
        return Some(if check.ok {
            result(LineStatus::Matched, check.explanation, Some(check.assignment))
        } else {
            result(LineStatus::NotMatched, check.explanation, None)
        });
    }
    match_rule(line, rules)
}

// ---------------------------------------------------------------------------------------------
// Generators: small pools, so ids collide, receipts compete and balances run out.
// ---------------------------------------------------------------------------------------------

const IDS: &[Option<&str>] =
    &[None, Some("A"), Some(" a "), Some("b"), Some("B"), Some(""), Some("  "), Some("Ä"), Some("ä")];
const LINE_IDS: &[&str] = &["1", "2", " 2", "a", "A", " "];
const PRICES: &[&str] = &["1.00", "2.50", "0.333", "10"];
const NAMES: &[&str] = &["Widget", "Thing", "Other widget", "Café"];

fn pick<T: Copy + std::fmt::Debug>(pool: &[T]) -> impl Strategy<Value = T> + use<T> {
    let pool = pool.to_vec();
    (0..pool.len()).prop_map(move |i| pool[i])
}

fn arb_receipt() -> impl Strategy<Value = GoodsReceipt> {
    (
        pick(LINE_IDS),
        pick(IDS),
        pick(IDS),
        pick(IDS),
        0i64..12,
        0i64..14,
        pick(PRICES),
        -2i64..=2,
        any::<bool>(),
    )
        .prop_map(|(line_id, sellers, buyers, standard, received, invoiced, price, off, other_order)| {
            let mut r = receipt(if other_order { "PO-2" } else { "PO-1" }, line_id, "x", "1", "0", price);
            r.sellers_item_id = sellers.map(str::to_owned);
            r.buyers_item_id = buyers.map(str::to_owned);
            r.standard_item_id = standard.map(str::to_owned);
            r.quantity_received = Decimal::from(received);
            r.quantity_invoiced = Decimal::from(invoiced.min(received + 1));
            r.amount = (r.unit_price * r.quantity_received).round_dp(2) + Decimal::new(off, 2);
            r
        })
}

fn arb_line() -> impl Strategy<Value = Line> {
    (pick(IDS), pick(IDS), pick(IDS), pick(IDS), -3i64..10, pick(PRICES), -3i64..=3, pick(NAMES)).prop_map(
        |(sellers, buyers, standard, order_line, quantity, price, off, name)| {
            let mut l = line("x", "1", price, name);
            l.item.sellers_id = sellers.map(str::to_owned);
            l.item.buyers_id = buyers.map(str::to_owned);
            l.item.standard_id =
                standard.map(|v| Identifier { value: v.to_owned(), scheme: Some("0160".into()) });
            l.order_line_reference = order_line.map(str::to_owned);
            l.quantity = Decimal::from(quantity);
            l.net_amount = (l.quantity * l.price.amount).round_dp(2) + Decimal::new(off, 2);
            l
        },
    )
}

fn arb_obligation() -> impl Strategy<Value = Obligation> {
    (any::<bool>(), any::<bool>(), 0i64..4000, 0i64..4000).prop_map(|(ours, blocked, amount, open)| {
        let mut o = obligation("PO-1", "0", "0", blocked);
        if !ours {
            o.supplier = SupplierKey::parse("DE999999999").unwrap();
        }
        o.amount = Decimal::new(amount.max(open), 2);
        o.open_balance = Decimal::new(open, 2);
        o
    })
}

fn arb_tolerance() -> impl Strategy<Value = Tolerance> {
    prop_oneof![
        Just(Tolerance::EXACT),
        Just(Tolerance::new(Some(Decimal::TWO), None).unwrap()),
        Just(Tolerance::new(None, Some(Decimal::new(5, 2))).unwrap()),
        Just(Tolerance::new(Some(Decimal::ONE), Some(Decimal::ONE)).unwrap()),
    ]
}

/// An invoice's lines, master data, tolerance and the lines to undo before re-processing.
type Case = (Invoice, AsGiven, Tolerance, Vec<bool>);

fn arb_case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(arb_line(), 1..10),
        proptest::collection::vec(arb_receipt(), 0..8),
        proptest::collection::vec(arb_obligation(), 0..3),
        proptest::collection::vec(pick(&["widget", "thing", "cafe", "xx"]), 0..3),
        pick(&[Some("PO-1"), Some(" PO-1 "), Some("PO-2"), None]),
        any::<bool>(),
        arb_tolerance(),
        proptest::collection::vec(any::<bool>(), 10),
    )
        .prop_map(|(lines, receipts, obligations, rules, order, credit, tolerance, undo)| {
            let lines = lines
                .into_iter()
                .enumerate()
                .map(|(i, mut l)| {
                    l.id = (i + 1).to_string();
                    l
                })
                .collect();
            let kind = if credit { DocumentKind::CreditNote } else { DocumentKind::Invoice };
            let inv = invoice(kind, "F1", order, lines);
            let rules = rules.into_iter().enumerate().map(|(i, t)| rule(t, &format!("4{i}00"))).collect();
            (inv, AsGiven { receipts, obligations, rules }, tolerance, undo)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn indexed_matching_gives_the_reference_result((inv, md, tolerance, undo_lines) in arb_case()) {
        let (a, s, p) = (admin(), supplier(), profile(tolerance));
        let ctx = MatchContext { administration: &a, supplier: &s, profile: &p, master_data: &md };
        let MatchOutcome::Processed(state) = match_invoice(&inv, invoice_id("F1"), &ctx).unwrap() else {
            panic!("not rejected by this profile")
        };
        let has_order_reference = state.order_reference().is_some();
        let fresh: Vec<LineMatch> = inv
            .lines
            .iter()
            .map(|l| LineMatch {
                line_id: l.id.clone(),
                status: LineStatus::NotMatched,
                explanation: Explanation::NoCandidate,
                assignment: None,
                by_hand: false,
            })
            .collect();
        let expected = reference(&fresh, &inv, &md, tolerance, has_order_reference);
        prop_assert_eq!(state.lines(), expected.as_slice());

        // Undo some processed lines and re-process: what the kept lines take still counts.
        let mut undone = state.clone();
        for (line, _) in state.lines().iter().zip(&undo_lines).filter(|(l, u)| **u && l.is_processed()) {
            undone = undo(&undone, &line.line_id).unwrap();
        }
        let again = reprocess(&undone, &inv, &ctx).unwrap();
        let expected = reference(undone.lines(), &inv, &md, tolerance, has_order_reference);
        prop_assert_eq!(again.lines(), expected.as_slice());
    }
}

/// GIVEN three receipt lines for the same item, in this order: one that cannot take the quantity,
/// one that can but at another price, one that matches exactly WHEN a line is matched THEN the
/// exact one wins; without it, the first within tolerance; with none within tolerance, the
/// first is reported. The order is the master data's, not the receipts' line ids.
#[test]
fn the_choice_among_several_qualifying_receipts_is_pinned() {
    let short = receipt("PO-1", "9", "A", "1", "0", "10.00"); // 1 available, 5 wanted
    let mut pricier = receipt("PO-1", "5", "A", "5", "0", "10.20"); // 51.00 for 50.00: within 2 %
    pricier.amount = Decimal::new(5100, 2);
    let exact = receipt("PO-1", "1", "A", "5", "0", "10.00");
    let exact_too = receipt("PO-1", "0", "A", "5", "0", "10.00");
    let inv = invoice(
        DocumentKind::Invoice,
        "F1",
        Some("PO-1"),
        vec![with_sellers_id(line("1", "5", "10.00", "x"), "a")],
    );
    let two_pct = Tolerance::new(Some(Decimal::TWO), None).unwrap();
    let chosen = |receipts: Vec<GoodsReceipt>, tolerance: Tolerance| {
        let md = AsGiven { receipts, obligations: vec![], rules: vec![] };
        let (a, s, p) = (admin(), supplier(), profile(tolerance));
        let ctx = MatchContext { administration: &a, supplier: &s, profile: &p, master_data: &md };
        let MatchOutcome::Processed(state) = match_invoice(&inv, invoice_id("F1"), &ctx).unwrap() else {
            panic!()
        };
        let l = state.lines()[0].clone();
        let key = match &l.explanation {
            Explanation::ReceiptWithoutDifferences { receipt }
            | Explanation::ReceiptWithDifferences { receipt, .. } => receipt.line_id.clone(),
            other => panic!("{other:?}"),
        };
        (key, l.status)
    };
    let all = vec![short.clone(), pricier.clone(), exact.clone(), exact_too.clone()];
    assert_eq!(chosen(all, two_pct), ("1".to_owned(), LineStatus::Matched));
    assert_eq!(
        chosen(vec![short.clone(), pricier.clone(), exact_too.clone(), exact.clone()], two_pct),
        ("0".to_owned(), LineStatus::Matched)
    );
    assert_eq!(chosen(vec![short.clone(), pricier.clone()], two_pct), ("5".to_owned(), LineStatus::Matched));
    assert_eq!(chosen(vec![pricier.clone(), short.clone()], two_pct), ("5".to_owned(), LineStatus::Matched));
    // Exact tolerance: neither qualifies; the first in the master data's order is reported.
    assert_eq!(
        chosen(vec![short.clone(), pricier.clone()], Tolerance::EXACT),
        ("9".to_owned(), LineStatus::NotMatched)
    );
    assert_eq!(chosen(vec![pricier, short], Tolerance::EXACT), ("5".to_owned(), LineStatus::NotMatched));
}

/// GIVEN one receipt of 10 found by two ids of the line and three lines of 4 WHEN matched THEN
/// the first two take 8 and the third finds 2 left; found twice, the receipt counts once.
#[test]
fn a_receipt_found_by_several_ids_is_one_candidate() {
    let mut r = receipt("PO-1", "7", "A", "10", "0", "1.00");
    r.buyers_item_id = Some("B".into());
    let lines = (1..=3)
        .map(|i| {
            let mut l = with_sellers_id(line(&i.to_string(), "4", "1.00", "x"), "a");
            l.item.buyers_id = Some("b".into());
            l.order_line_reference = Some("7".into());
            l
        })
        .collect();
    let inv = invoice(DocumentKind::Invoice, "F1", Some("PO-1"), lines);
    let md = AsGiven { receipts: vec![r], obligations: vec![], rules: vec![] };
    let (a, s, p) = (admin(), supplier(), profile(Tolerance::EXACT));
    let ctx = MatchContext { administration: &a, supplier: &s, profile: &p, master_data: &md };
    let MatchOutcome::Processed(state) = match_invoice(&inv, invoice_id("F1"), &ctx).unwrap() else {
        panic!()
    };
    let statuses: Vec<LineStatus> = state.lines().iter().map(|l| l.status).collect();
    assert_eq!(statuses, [LineStatus::Matched, LineStatus::Matched, LineStatus::NotMatched]);
    let Explanation::ReceiptWithDifferences { differences, .. } = &state.lines()[2].explanation else {
        panic!()
    };
    assert_eq!(differences.quantity.as_ref().unwrap().available, Decimal::TWO);
}

/// The index compares ids as `same_id` does.
#[test]
fn id_comparison_is_trimmed_and_ascii_case_insensitive() {
    assert!(same_id(Some(" Abc "), Some("aBC")));
    assert!(!same_id(Some(""), Some("")));
    assert!(!same_id(Some(" "), Some(" ")));
    assert!(!same_id(Some("Ä"), Some("ä")), "only ASCII letters fold");
    assert!(!same_id(None, None));
}
