//! A purchase of 25,000 lines through ingest → match → journal on the local adapters: the journal
//! entry groups its net lines per booking, so it fits one store transaction however many lines
//! the invoice has (before, one entry line per invoice line made invoices over about 13,000 lines
//! too big for a transaction: "post it as a plain entry").
//!
//! The invoice is generated from the Peppol BIS base example's header (buyer "buyer-as", seller
//! GB1232434, its 25.00 insurance charge kept) with lines of three kinds: every tenth line an item
//! received on one of three goods-receipt lines of the order (so thousands of lines share three
//! receipts), the others coded by one of three text rules, and every 500th line a return
//! (negative). The file is about 9 MB, under the default 20 MB cap, which is raised in the
//! configuration here all the same (`validation.max_file_bytes`), as an operator would for such
//! suppliers.
//!
//! Validating 25,000 lines dominates the test's time: about a minute in a debug build on a busy
//! machine, a few seconds with `--release`. The same path runs at 2,000 lines in seconds.

mod common;

use std::fmt::Write as _;

use common::*;
use ledgerpost_domain::ids::AdministrationId;
use ledgerpost_domain::journal::Role;
use ledgerpost_domain::masterdata::ReceiptKey;
use ledgerpost_pipeline::repository::{Status, StatusKey};
use rust_decimal::Decimal;

const RULES: &str = "administration,supplier,search_text,account,vat_group,cost_centre,project\n\
                     buyer-as,GB1232434,coffee,6100,H25,KITCHEN,\n\
                     buyer-as,GB1232434,paper,6200,H25,,\n\
                     buyer-as,GB1232434,toner,6300,H25,,P-7\n";

/// Quantity, price in cents and name of line `n`, and for a received item (every tenth line) the
/// receipt it was received on, of `receipts`.
fn line_spec(n: usize, receipts: usize) -> (i64, i64, String, Option<usize>) {
    let price = 50 + ((n * 37) % 2000) as i64;
    if n % 10 == 0 {
        return (1 + (n % 3) as i64, 25, format!("Bolts {n}"), Some((n / 10) % receipts));
    }
    let quantity = if n % 500 == 1 { -1 } else { 1 + (n % 4) as i64 };
    let product = ["Coffee beans", "Paper A4", "Toner black"][n % 3];
    (quantity, price, format!("{product} {n}"), None)
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

/// The UBL text of a purchase of `lines` lines with order reference PO-BIG, and the quantity
/// invoiced of each of the `receipts` received items (seller's item id BOLT-<n>).
fn large_purchase(number: &str, lines: usize, receipts: usize) -> (Vec<u8>, Vec<i64>) {
    let template = String::from_utf8(corpus("valid/peppol-bis3__examples__base-example.xml")).unwrap();
    let head = &template[..template.find("<cac:InvoiceLine>").unwrap()];
    let mut body = String::with_capacity(lines * 400);
    let (mut sum, mut received) = (0i64, vec![0i64; receipts]);
    for n in 1..=lines {
        let (quantity, price, name, receipt) = line_spec(n, receipts);
        let amount = quantity * price;
        sum += amount;
        let item_id = match receipt {
            Some(r) => {
                received[r] += quantity;
                format!(
                    "<cac:SellersItemIdentification><cbc:ID>BOLT-{r}</cbc:ID></cac:SellersItemIdentification>"
                )
            }
            None => String::new(),
        };
        write!(
            body,
            "<cac:InvoiceLine><cbc:ID>{n}</cbc:ID><cbc:InvoicedQuantity unitCode=\"C62\">{quantity}</cbc:InvoicedQuantity>\
             <cbc:LineExtensionAmount currencyID=\"EUR\">{}</cbc:LineExtensionAmount><cac:Item><cbc:Name>{name}</cbc:Name>{item_id}\
             <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>\
             </cac:ClassifiedTaxCategory></cac:Item><cac:Price><cbc:PriceAmount currencyID=\"EUR\">{}</cbc:PriceAmount></cac:Price></cac:InvoiceLine>\n",
            money(amount),
            money(price),
        )
        .unwrap();
    }
    // The example's charge of 25.00 stays; VAT 25 % of the taxable amount, half away from zero.
    let taxable = sum + 2500;
    let vat = (taxable * 25 + 50 * taxable.signum()) / 100;
    let replace = |text: &str, from: &str, to: String| {
        assert!(text.contains(from), "the template no longer contains {from}");
        text.replacen(from, &to, 1)
    };
    let mut head = replace(head, "<cbc:ID>Snippet1</cbc:ID>", format!("<cbc:ID>{number}</cbc:ID>"));
    head = replace(
        &head,
        "<cbc:BuyerReference>0150abc</cbc:BuyerReference>",
        "<cbc:BuyerReference>0150abc</cbc:BuyerReference><cac:OrderReference><cbc:ID>PO-BIG</cbc:ID></cac:OrderReference>".into(),
    );
    for (from, cents) in [
        ("<cbc:TaxAmount currencyID=\"EUR\">331.25</cbc:TaxAmount>", vat),
        ("<cbc:TaxableAmount currencyID=\"EUR\">1325</cbc:TaxableAmount>", taxable),
        ("<cbc:TaxAmount currencyID=\"EUR\">331.25</cbc:TaxAmount>", vat),
        ("<cbc:LineExtensionAmount currencyID=\"EUR\">1300</cbc:LineExtensionAmount>", sum),
        ("<cbc:TaxExclusiveAmount currencyID=\"EUR\">1325</cbc:TaxExclusiveAmount>", taxable),
        ("<cbc:TaxInclusiveAmount currencyID=\"EUR\">1656.25</cbc:TaxInclusiveAmount>", taxable + vat),
        ("<cbc:PayableAmount currencyID=\"EUR\">1656.25</cbc:PayableAmount>", taxable + vat),
    ] {
        let element = &from[..from.find('>').unwrap() + 1];
        let end = &from[from.rfind('<').unwrap()..];
        head = replace(&head, from, format!("{element}{}{end}", money(cents)));
    }
    (format!("{head}{body}</Invoice>\n").into_bytes(), received)
}

/// A pipeline with a raised file size cap, the three text rules, and receipts for every item a
/// purchase of `lines` lines invoices (10 more received than invoiced, so the lines consume the
/// receipts partly, line by line); the file and the quantities invoiced per receipt.
async fn prepared(lines: usize, receipts: usize) -> (TestPipeline, Vec<u8>, Vec<i64>) {
    let config = CONFIG.replace("[export]", "[validation]\nmax_file_bytes = 67108864\n\n[export]");
    let t = spawn_pipeline_with(&config);
    let (xml, invoiced) = large_purchase("BIG-1", lines, receipts);
    let mut csv = String::from(
        "administration,order_number,line_id,sellers_item_id,quantity_received,quantity_invoiced,unit_price,amount,date\n",
    );
    for (item, quantity) in invoiced.iter().enumerate() {
        let received = quantity + 10;
        writeln!(
            csv,
            "buyer-as,PO-BIG,{item},BOLT-{item},{received},0,0.25,{},2025-01-15",
            money(received * 25)
        )
        .unwrap();
    }
    t.pipeline.import_receipts(csv.as_bytes()).await.unwrap();
    t.pipeline.import_rules(RULES.as_bytes()).await.unwrap();
    (t, xml, invoiced)
}

/// Ingests, matches and journals a purchase of `lines` lines and checks the entry to the cent.
async fn journals_a_purchase_of(lines: usize) {
    let (t, xml, invoiced) = prepared(lines, 3).await;
    t.drop_file("big.xml", &xml).await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);

    let admin = AdministrationId::parse("buyer-as").unwrap();
    let repo = t.pipeline.repository();
    let journaled = repo.invoices_in_status(&admin, StatusKey::Journaled).await.unwrap();
    if journaled.is_empty() {
        for status in StatusKey::ALL {
            for r in repo.invoices_in_status(&admin, status).await.unwrap() {
                panic!("not journaled: {:?}, {:?}", r.value.status, r.value.history);
            }
        }
        let rejected = repo.unreported_rejections().await.unwrap();
        panic!("no invoice journaled; rejected: {:?}", rejected.iter().map(|r| &r.value).collect::<Vec<_>>());
    }
    let record = &journaled[0].value;
    assert_eq!(record.status, Status::Journaled);
    let invoice = repo.invoice_document(record).await.unwrap();
    assert_eq!(invoice.lines.len(), lines);
    let entry = repo.entry(&record.id).await.unwrap().expect("an entry");
    assert!(entry.is_balanced());
    entry.reconcile(&invoice).unwrap();

    // One journal line per booking: goods received, three rule codings, the returns credited on
    // each coding; then VAT and the payable. Every invoice line is in exactly one of them.
    assert!(entry.lines.len() <= 10, "{:#?}", entry.lines);
    let booked: u32 = entry.lines.iter().filter(|l| l.role == Role::Net).map(|l| l.invoice_line_count).sum();
    assert_eq!(booked as usize, lines);
    let on = |account: &str| entry.lines.iter().filter(|l| l.account.as_str() == account).count();
    assert_eq!((on("2410"), on("6100"), on("6200"), on("6300")), (1, 2, 2, 2), "{:#?}", entry.lines);
    let toner = entry.lines.iter().find(|l| l.account.as_str() == "6300").unwrap();
    assert_eq!(toner.project.as_deref(), Some("P-7"));
    let coffee = entry.lines.iter().find(|l| l.account.as_str() == "6100").unwrap();
    assert_eq!(coffee.cost_centre.as_deref(), Some("KITCHEN"));
    // The net booked per account is the sum of its lines plus their share of the charge.
    let net: Decimal = entry.lines.iter().filter(|l| l.role == Role::Net).map(|l| l.balance()).sum();
    assert_eq!(net, invoice.totals.tax_exclusive);

    // The three receipts were consumed by the lines of their item, once, in the same transaction.
    for (item, quantity) in invoiced.iter().enumerate() {
        let key = ReceiptKey {
            administration: admin.clone(),
            order_number: "PO-BIG".into(),
            line_id: item.to_string(),
        };
        let receipt = repo.receipt(&key).await.unwrap().unwrap().value;
        assert_eq!(receipt.quantity_invoiced, Decimal::from(*quantity), "receipt {item}");
    }
}

#[tokio::test]
async fn a_purchase_of_2000_lines_is_journaled_with_grouped_lines() {
    journals_a_purchase_of(2_000).await;
}

#[tokio::test]
async fn a_purchase_of_25000_lines_goes_through_ingest_match_and_journal() {
    journals_a_purchase_of(25_000).await;
}

/// What one transaction still cannot hold is a consumption of more than about a hundred receipt
/// lines and obligations (one write each): such an invoice stops at the journal with the reason,
/// for a person, instead of failing on every delivery.
#[tokio::test]
async fn consuming_more_receipts_than_one_transaction_holds_stops_with_the_reason() {
    let (t, xml, _) = prepared(1_200, 120).await;
    t.drop_file("big.xml", &xml).await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let admin = AdministrationId::parse("buyer-as").unwrap();
    let failed = t.pipeline.repository().invoices_in_status(&admin, StatusKey::Failed).await.unwrap();
    assert_eq!(failed.len(), 1);
    let Status::Failed { reason } = &failed[0].value.status else { unreachable!() };
    assert!(reason.contains("it consumes 120 goods-receipt lines and obligations"), "{reason}");
    assert!(reason.contains("more than one transaction allows (100)"), "{reason}");
    assert!(t.pipeline.repository().entry(&failed[0].value.id).await.unwrap().is_none());
}
