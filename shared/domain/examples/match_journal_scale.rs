//! Match + journal of one large purchase, in CPU time of the measuring thread (so other builds on
//! the machine barely change the figures), for the sizes given: is the cost linear in lines?
//!
//! `cargo run --release -p ledgerpost-domain --example match_journal_scale -- 1000 4000 30000
//! [receipts] [rules] [obligation]` (all three kinds when none is named).
//!
//! Three invoices per size, built in memory (no XML): every line matched to its own goods-receipt
//! line by order line reference (`receipts`), every line coded by one of a supplier's text rules
//! (`rules`), and every line taking a share of one obligation (`obligation`). Figures are the
//! median of several runs, in ms and in ms per 1,000 lines.

use std::time::Duration;

use chrono::NaiveDate;
use ledgerpost_domain::config::{Administration, Config};
use ledgerpost_domain::ids::{AccountCode, InvoiceId, SupplierKey};
use ledgerpost_domain::journal::journal_purchase;
use ledgerpost_domain::masterdata::{Coding, GoodsReceipt, InMemoryMasterData, Obligation, TextRule};
use ledgerpost_domain::matching::{InvoiceStatus, MatchContext, MatchOutcome, match_invoice};
use ledgerpost_ubl::model::{
    DocumentKind, Invoice, Item, Line, MonetaryTotal, Party, Price, VatCategory, VatSubtotal,
};
use rust_decimal::Decimal;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

/// Linux's CLOCK_THREAD_CPUTIME_ID.
const THREAD_CPU_CLOCK: i32 = 3;

/// CPU time this thread has run, to the nanosecond (what other processes on the machine do
/// changes it far less than wall time).
fn thread_cpu() -> Duration {
    let mut t = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `t`.
    let rc = unsafe { clock_gettime(THREAD_CPU_CLOCK, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn line(n: usize, kind: &str) -> Line {
    let quantity = Decimal::from(1 + (n % 9) as i64);
    let price = Decimal::new(1000 + ((n * 37) % 5000) as i64, 2);
    let name = match kind {
        "rules" => format!("{} article {n}", ["Coffee", "Paper", "Toner"][n % 3]),
        _ => format!("Article {n}"),
    };
    Line {
        id: n.to_string(),
        quantity,
        unit_code: Some("C62".into()),
        net_amount: quantity * price,
        accounting_cost: None,
        note: None,
        order_line_reference: (kind == "receipts").then(|| n.to_string()),
        period: None,
        item: Item {
            name,
            description: Some("Description of item".into()),
            sellers_id: None,
            buyers_id: None,
            standard_id: None,
            classifications: vec![],
            origin_country: None,
            attributes: vec![],
        },
        price: Price {
            amount: price,
            base_quantity: None,
            base_unit_code: None,
            discount: None,
            gross: None,
        },
        allowances_charges: vec![],
        vat: VatCategory {
            code: "S".into(),
            rate: Some(Decimal::from(21)),
            exemption_reason: None,
            exemption_reason_code: None,
        },
    }
}

fn invoice(lines: usize, kind: &str) -> Invoice {
    let lines: Vec<Line> = (1..=lines).map(|n| line(n, kind)).collect();
    let net: Decimal = lines.iter().map(|l| l.net_amount).sum();
    let vat = (net * Decimal::new(21, 2)).round_dp(2);
    let party = |name: &str, vat_id: &str| Party {
        name: Some(name.into()),
        vat_id: Some(vat_id.into()),
        ..Party::default()
    };
    Invoice {
        kind: DocumentKind::Invoice,
        customization_id: None,
        profile_id: None,
        number: "LARGE-1".into(),
        issue_date: NaiveDate::from_ymd_opt(2025, 2, 3).expect("date"),
        due_date: None,
        tax_point_date: None,
        type_code: "380".into(),
        currency: "EUR".into(),
        tax_currency: None,
        buyer_reference: None,
        accounting_cost: None,
        notes: vec![],
        invoice_period: None,
        order_reference: Some("PO-LARGE".into()),
        sales_order_reference: None,
        billing_references: vec![],
        despatch_reference: None,
        receipt_reference: None,
        contract_reference: None,
        project_reference: None,
        seller: party("Supplier B.V.", "DE123456789"),
        buyer: party("ACME Trading B.V.", "NL123456789B01"),
        payee: None,
        tax_representative: None,
        delivery: None,
        payment_means: vec![],
        payment_terms: None,
        allowances_charges: vec![],
        tax_total: Some(vat),
        tax_total_in_tax_currency: None,
        vat_breakdown: vec![VatSubtotal {
            taxable_amount: net,
            tax_amount: vat,
            category: lines[0].vat.clone(),
        }],
        totals: MonetaryTotal {
            line_extension: net,
            tax_exclusive: net,
            tax_inclusive: net + vat,
            allowance_total: None,
            charge_total: None,
            prepaid: None,
            rounding: None,
            payable: net + vat,
        },
        lines,
        attachments: vec![],
    }
}

fn master_data(
    admin: &Administration,
    supplier: &SupplierKey,
    invoice: &Invoice,
    kind: &str,
) -> InMemoryMasterData {
    let mut md = InMemoryMasterData::new();
    match kind {
        "receipts" => {
            for l in &invoice.lines {
                md.put_receipt(GoodsReceipt {
                    administration: admin.id.clone(),
                    order_number: "PO-LARGE".into(),
                    line_id: l.id.clone(),
                    sellers_item_id: None,
                    buyers_item_id: None,
                    standard_item_id: None,
                    quantity_received: l.quantity,
                    quantity_invoiced: Decimal::ZERO,
                    unit_price: l.price.amount,
                    amount: l.net_amount,
                    date: NaiveDate::from_ymd_opt(2025, 2, 1).expect("date"),
                });
            }
        }
        "rules" => {
            for (text, account) in
                [("coffee", "4100"), ("paper", "4200"), ("toner", "4300"), ("desk", "4400")]
            {
                md.put_rule(TextRule {
                    administration: admin.id.clone(),
                    supplier: supplier.clone(),
                    search_text: text.into(),
                    coding: Coding {
                        account: AccountCode::parse(account).expect("account"),
                        vat_group: Some("H21".into()),
                        cost_centre: None,
                        project: None,
                    },
                });
            }
        }
        _ => {
            md.put_obligation(Obligation {
                administration: admin.id.clone(),
                reference: "PO-LARGE".into(),
                supplier: supplier.clone(),
                amount: invoice.totals.line_extension,
                open_balance: invoice.totals.line_extension,
                blocked: false,
            });
        }
    }
    md
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![1000, 4000, 30000] } else { sizes };
    let kinds: Vec<&str> = ["receipts", "rules", "obligation"]
        .into_iter()
        .filter(|k| args.iter().all(|a| a.parse::<usize>().is_ok()) || args.iter().any(|a| a == k))
        .collect();
    let config = Config::from_toml_str(include_str!("ledgerpost.toml")).expect("example configuration");
    let admin = config.administrations[0].clone();
    let supplier = SupplierKey::parse("DE123456789").expect("supplier");
    let profile = admin.purchase_profile(std::slice::from_ref(&supplier));
    println!(
        "{:>10} {:>7} {:>10} {:>10} {:>12} {:>12} {:>13}",
        "kind", "lines", "match ms", "journal ms", "match /1k", "journal /1k", "entry lines"
    );
    for kind in kinds {
        for &lines in &sizes {
            let invoice = invoice(lines, kind);
            let md = master_data(&admin, &supplier, &invoice, kind);
            let id = InvoiceId::derive(&admin.id, &supplier, &invoice.number, 2025).expect("id");
            let ctx = MatchContext {
                administration: &admin.id,
                supplier: &supplier,
                profile: &profile,
                master_data: &md,
            };
            let reps = if lines <= 4000 { 9 } else { 5 };
            let (mut matching, mut journal, mut entry_lines) = (Vec::new(), Vec::new(), 0);
            for _ in 0..reps {
                let t = thread_cpu();
                let outcome = match_invoice(&invoice, id.clone(), &ctx).expect("matching");
                matching.push(thread_cpu() - t);
                let MatchOutcome::Processed(state) = outcome else { panic!("rejected") };
                assert_eq!(*state.status(), InvoiceStatus::AllLinesProcessed, "{kind}: every line matches");
                let t = thread_cpu();
                let done = journal_purchase(&invoice, &state, &admin, None).expect("journal");
                journal.push(thread_cpu() - t);
                assert!(done.entry.is_balanced());
                entry_lines = done.entry.lines.len();
            }
            let (m, j) = (median(matching), median(journal));
            let k = lines as f64 / 1000.0;
            println!(
                "{kind:>10} {lines:>7} {m:>10.2} {j:>10.2} {:>12.3} {:>12.3} {entry_lines:>13}",
                m / k,
                j / k
            );
        }
    }
}
