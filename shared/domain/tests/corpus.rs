//! Every valid invoice of the shared corpus (real EN 16931 / Peppol examples) journals, as a
//! purchase and as a sale of a test administration, into a balanced entry that reconciles to the
//! cent with the invoice's payable amount and VAT.

use std::path::PathBuf;

use chrono::Datelike;

use ledgerpost_domain::config::Config;
use ledgerpost_domain::ids::{InvoiceId, SupplierKey};
use ledgerpost_domain::journal::{Role, journal_purchase, journal_sales};
use ledgerpost_domain::manual::post_as_plain_entry;
use ledgerpost_domain::masterdata::InMemoryMasterData;
use ledgerpost_domain::matching::{MatchContext, MatchOutcome, match_invoice};
use ledgerpost_ubl::model::{DocumentKind, Invoice};
use ledgerpost_ubl::xml::{Document, Limits};

fn corpus() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/ubl/valid"));
    assert!(dir.is_dir(), "the shared corpus is missing at {}", dir.display());
    dir
}

fn valid_invoices() -> Vec<(String, Invoice)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("corpus readable")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).expect("corpus file readable");
            let doc = Document::parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let invoice = Invoice::from_document(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, invoice)
        })
        .collect()
}

#[test]
fn every_valid_corpus_invoice_journals_as_purchase_and_sales() {
    let config = Config::from_toml_str(include_str!("../examples/ledgerpost.toml")).unwrap();
    let admin = &config.administrations[0];
    let profile = admin.purchase_profile(&[]);
    let master_data = InMemoryMasterData::new();
    let invoices = valid_invoices();
    assert_eq!(invoices.len(), 25, "the corpus README lists 25 valid files");

    let count = |f: &dyn Fn(&Invoice) -> bool| invoices.iter().filter(|(_, i)| f(i)).count();
    // The corpus exercises what the journal must get right.
    assert!(count(&|i| i.kind == DocumentKind::CreditNote) >= 3);
    assert!(count(&|i| !i.allowances_charges.is_empty()) >= 10);
    assert!(count(&|i| i.totals.prepaid.is_some_and(|p| !p.is_zero())) >= 5);
    assert!(count(&|i| i.totals.payable.is_sign_negative()) >= 1);
    assert!(count(&|i| i.vat_breakdown.len() > 1) >= 5);

    for (name, invoice) in &invoices {
        // One example names its seller by neither VAT id nor endpoint: file it under a key made
        // from the name, for this test only.
        let supplier = SupplierKey::for_party(&invoice.seller).unwrap_or_else(|| {
            SupplierKey::from_endpoint("NAME", &invoice.seller.display_name().replace(' ', "_")).unwrap()
        });
        let id = InvoiceId::derive(&admin.id, &supplier, &invoice.number, invoice.issue_date.year()).unwrap();

        // Purchase: matched against empty master data, the rest posted as a plain entry.
        let ctx = MatchContext {
            administration: &admin.id,
            supplier: &supplier,
            profile: &profile,
            master_data: &master_data,
        };
        let MatchOutcome::Processed(state) = match_invoice(invoice, id.clone(), &ctx).unwrap() else {
            panic!("{name}: rejected")
        };
        let state = post_as_plain_entry(&state, &admin.accounts.default_expense).unwrap();
        let done =
            journal_purchase(invoice, &state, admin, None).unwrap_or_else(|e| panic!("{name} purchase: {e}"));

        let sales = journal_sales(invoice, id, admin, None).unwrap_or_else(|e| panic!("{name} sales: {e}"));
        for entry in [&done.entry, &sales] {
            assert!(entry.is_balanced(), "{name}");
            entry.reconcile(invoice).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(entry.role_total(Role::Counterparty), invoice.totals.payable, "{name}");
            let vat: rust_decimal::Decimal = invoice.vat_breakdown.iter().map(|s| s.tax_amount).sum();
            assert_eq!(entry.role_total(Role::Vat), vat, "{name}");
            if let Some(total) = invoice.tax_total {
                assert_eq!(entry.role_total(Role::Vat), total, "{name}");
            }
            assert!(
                entry.lines.iter().all(
                    |l| l.debit >= rust_decimal::Decimal::ZERO && l.credit >= rust_decimal::Decimal::ZERO
                )
            );
        }
    }
}
