//! Match and journal on the local adapters: text rules, manual processing, UBL orders and receipt
//! advices as master data, consumption journaled once, approval.

mod common;

use common::*;
use ledgerpost_domain::ids::{AdministrationId, InvoiceId};
use ledgerpost_domain::masterdata::ReceiptKey;
use ledgerpost_domain::matching::{Approval, Assignment, LineStatus};
use ledgerpost_pipeline::actions::LineAction;
use ledgerpost_pipeline::journal::JournalOutcome;
use ledgerpost_pipeline::repository::{SendState, Status, StatusKey};
use rust_decimal::Decimal;

fn admin(id: &str) -> AdministrationId {
    AdministrationId::parse(id).unwrap()
}

async fn only(
    t: &TestPipeline,
    administration: &str,
    status: StatusKey,
) -> ledgerpost_pipeline::repository::InvoiceRecord {
    let mut all = t.pipeline.repository().invoices_in_status(&admin(administration), status).await.unwrap();
    assert_eq!(all.len(), 1, "{administration} {status:?}");
    all.remove(0).value
}

const RULES: &str = "administration,supplier,search_text,account,vat_group,cost_centre,project\n\
                     buyer-as,GB1232434,item name,6100,H25,KITCHEN,\n";

#[tokio::test]
async fn a_purchase_matched_by_a_text_rule_is_journaled_on_its_account() {
    let t = spawn_pipeline();
    t.pipeline.import_rules(RULES.as_bytes()).await.unwrap();
    t.drop_file("p.xml", &purchase_invoice("P-100")).await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);

    let record = only(&t, "buyer-as", StatusKey::Journaled).await;
    assert_eq!(record.send, SendState::Ready);
    let entry = t.pipeline.repository().entry(&record.id).await.unwrap().unwrap();
    assert!(entry.is_balanced());
    // Both lines on the rule's account, with its cost centre; input VAT 25 %; the payable.
    let net: Vec<_> = entry.lines.iter().filter(|l| l.invoice_line.is_some()).collect();
    assert_eq!(net.len(), 2);
    assert!(net.iter().all(|l| l.account.as_str() == "6100" && l.cost_centre.as_deref() == Some("KITCHEN")));
    assert!(
        entry
            .lines
            .iter()
            .any(|l| l.account.as_str() == "2640" && l.debit == "331.25".parse::<Decimal>().unwrap())
    );
    assert!(
        entry
            .lines
            .iter()
            .any(|l| l.account.as_str() == "2400" && l.credit == "1656.25".parse::<Decimal>().unwrap())
    );
}

#[tokio::test]
async fn an_unmatched_purchase_waits_then_a_person_finishes_it() {
    let t = spawn_pipeline();
    t.drop_file("p.xml", &purchase_invoice("P-200")).await;
    t.drain().await;
    let record = only(&t, "buyer-as", StatusKey::Manual).await;
    assert_eq!(record.status, Status::WaitingForManualProcessing);
    let state = t.pipeline.repository().matching(&record).await.unwrap().unwrap();
    assert!(state.lines().iter().all(|l| l.status == LineStatus::NotMatched));

    // WHEN a person codes line 1 (keeping it as a rule) and posts the rest as a plain entry
    let coding = ledgerpost_domain::masterdata::Coding {
        account: ledgerpost_domain::ids::AccountCode::parse("6200").unwrap(),
        vat_group: Some("H25".into()),
        cost_centre: None,
        project: None,
    };
    let action = LineAction::Code { line: "1".into(), coding, rule_text: Some("Description of item".into()) };
    let result = t.pipeline.line_action(&record.id, action).await.unwrap();
    assert_eq!(result.open_lines, 1);
    // Line 1 is processed: undo of line 2 is refused (nothing to undo) with the domain's words.
    let err = t.pipeline.line_action(&record.id, LineAction::Undo { line: "2".into() }).await.unwrap_err();
    assert!(err.to_string().contains("nothing to undo"), "{err}");
    t.pipeline.line_action(&record.id, LineAction::PostAsPlainEntry { account: None }).await.unwrap();
    t.drain().await;

    // THEN it is journaled, and the rule learnt is there for the supplier's next invoice
    let record = only(&t, "buyer-as", StatusKey::Journaled).await;
    let entry = t.pipeline.repository().entry(&record.id).await.unwrap().unwrap();
    assert!(entry.lines.iter().any(|l| l.account.as_str() == "6200"));
    assert!(entry.lines.iter().any(|l| l.account.as_str() == "6999"));
    let rules =
        t.pipeline.repository().rules_for(&admin("buyer-as"), &"GB1232434".parse_supplier()).await.unwrap();
    assert_eq!(rules.len(), 1);
    // A journaled invoice can no longer be changed.
    let err = t.pipeline.line_action(&record.id, LineAction::Undo { line: "1".into() }).await.unwrap_err();
    assert!(err.to_string().contains("journaled"), "{err}");
}

#[tokio::test]
async fn approval_holds_the_invoice_until_approved() {
    let config = CONFIG.replace(
        "output_vat = { rates = { \"25\" = \"2610\" }, fallback = \"2619\" }",
        "output_vat = { rates = { \"25\" = \"2610\" }, fallback = \"2619\" }\n[administrations.purchase]\napproval_required = true",
    );
    let t = spawn_pipeline_with(&config);
    t.pipeline.import_rules(RULES.as_bytes()).await.unwrap();
    t.drop_file("p.xml", &purchase_invoice("P-300")).await;
    t.drain().await;
    let record = only(&t, "buyer-as", StatusKey::ApprovalPending).await;
    assert_eq!((record.approval.clone(), record.send.clone()), (Approval::Pending, SendState::NotReady));
    t.pipeline.approve(&record.id).await.unwrap();
    let record = only(&t, "buyer-as", StatusKey::Journaled).await;
    assert_eq!((record.approval, record.send), (Approval::Approved, SendState::Ready));
    assert!(t.pipeline.approve(&record.id).await.is_err(), "approved twice");
}

/// Administration "odin" buys from De Koksmaat (EN 16931 example 1 with a VAT id for the buyer
/// and an order reference).
const ODIN: &str = r#"
[[administrations]]
id = "odin"
name = "Odin 59"
vat_ids = ["NL001234567B01"]
[administrations.accounts]
payables = "1600"
receivables = "1300"
goods_received_clearing = "1610"
obligations = "1620"
default_expense = "4999"
default_revenue = "8000"
rounding = "4990"
prepayments = "1650"
input_vat = { rates = { "21" = "1510", "6" = "1511" }, fallback = "1519" }
output_vat = { fallback = "1529" }

[export]
from = "ledgerpost@firm.example"
[export.addresses]
sales = "sales@books.example"
credit_notes = "credits@books.example"
purchases = "purchases@books.example"
reports = "reports@firm.example"
"#;

fn odin_purchase(number: &str, order: &str) -> Vec<u8> {
    let text = String::from_utf8(corpus("valid/en16931__ubl-examples__ubl-tc434-example1.xml")).unwrap();
    text.replace("<cbc:ID>12115118</cbc:ID>", &format!("<cbc:ID>{number}</cbc:ID>"))
        .replace(
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            &format!("<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>\n    <cac:OrderReference><cbc:ID>{order}</cbc:ID></cac:OrderReference>"),
        )
        .replace(
            "<cac:PartyLegalEntity>\n                <cbc:RegistrationName>ODIN 59</cbc:RegistrationName>",
            "<cac:PartyTaxScheme><cbc:CompanyID>NL001234567B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>\n            <cac:PartyLegalEntity>\n                <cbc:RegistrationName>ODIN 59</cbc:RegistrationName>",
        )
        .into_bytes()
}

fn order_xml(order: &str) -> String {
    let line = |id: &str, qty: &str, price: &str, amount: &str, item: &str| {
        format!(
            "<cac:OrderLine><cac:LineItem><cbc:ID>{id}</cbc:ID><cbc:Quantity unitCode=\"EA\">{qty}</cbc:Quantity>\
             <cbc:LineExtensionAmount currencyID=\"EUR\">{amount}</cbc:LineExtensionAmount>\
             <cac:Price><cbc:PriceAmount currencyID=\"EUR\">{price}</cbc:PriceAmount></cac:Price>\
             <cac:Item><cbc:Name>x</cbc:Name><cac:SellersItemIdentification><cbc:ID>{item}</cbc:ID></cac:SellersItemIdentification></cac:Item>\
             </cac:LineItem></cac:OrderLine>"
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>{order}</cbc:ID><cbc:IssueDate>2015-01-02</cbc:IssueDate>
  <cac:BuyerCustomerParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>NL001234567B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:Party></cac:BuyerCustomerParty>
  <cac:SellerSupplierParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>NL820098395B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:Party></cac:SellerSupplierParty>
  {}{}
</Order>"#,
        line("10", "4", "9.95", "39.80", "166022"),
        line("20", "1", "9.85", "9.85", "661813"),
    )
}

fn receipt_advice_xml(number: &str, order: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ReceiptAdvice xmlns="urn:oasis:names:specification:ubl:schema:xsd:ReceiptAdvice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>{number}</cbc:ID><cbc:IssueDate>2015-01-05</cbc:IssueDate>
  <cac:OrderReference><cbc:ID>{order}</cbc:ID></cac:OrderReference>
  <cac:DeliveryCustomerParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>NL001234567B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:Party></cac:DeliveryCustomerParty>
  <cac:ReceiptLine><cbc:ID>1</cbc:ID><cbc:ReceivedQuantity unitCode="EA">2</cbc:ReceivedQuantity><cac:OrderLineReference><cbc:LineID>10</cbc:LineID></cac:OrderLineReference></cac:ReceiptLine>
  <cac:ReceiptLine><cbc:ID>2</cbc:ID><cbc:ReceivedQuantity unitCode="EA">1</cbc:ReceivedQuantity><cac:Item><cbc:Name>kaas</cbc:Name><cac:SellersItemIdentification><cbc:ID>661813</cbc:ID></cac:SellersItemIdentification></cac:Item></cac:ReceiptLine>
</ReceiptAdvice>"#
    )
}

#[tokio::test]
async fn orders_and_receipt_advices_feed_matching_and_journaling_consumes_them_once() {
    let t = spawn_pipeline_with(ODIN);
    // GIVEN an order, and a receipt advice for 2 of its 4 bags of chips and its cheese
    t.drop_file("order.xml", order_xml("PO-77").as_bytes()).await;
    t.drain().await;
    t.drop_file("receipt.xml", receipt_advice_xml("GR-1", "PO-77").as_bytes()).await;
    // (the same advice twice adds nothing)
    t.drop_file(
        "receipt-copy.xml",
        receipt_advice_xml("GR-1", "PO-77").replace("2015-01-05", "2015-01-06").as_bytes(),
    )
    .await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let repo = t.pipeline.repository();
    let key = |line: &str| ReceiptKey {
        administration: admin("odin"),
        order_number: "PO-77".into(),
        line_id: line.into(),
    };
    let chips = repo.receipt(&key("10")).await.unwrap().unwrap().value;
    assert_eq!((chips.quantity_received, chips.amount), ("2".parse().unwrap(), "19.90".parse().unwrap()));
    let obligation = repo
        .obligation(&ledgerpost_domain::masterdata::ObligationKey {
            administration: admin("odin"),
            reference: "PO-77".into(),
            supplier: "NL820098395B01".parse_supplier(),
        })
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(obligation.amount, "49.65".parse().unwrap());
    assert_eq!(obligation.open_balance, "19.90".parse().unwrap(), "received value taken off the obligation");

    // WHEN the invoice for the order arrives
    t.drop_file("invoice.xml", &odin_purchase("K-1", "PO-77")).await;
    t.drain().await;
    let record = only(&t, "odin", StatusKey::Manual).await;
    let state = repo.matching(&record).await.unwrap().unwrap();
    // THEN lines 1 and 2 are matched to the receipt lines, the rest waits
    for (line, receipt) in [("1", "10"), ("2", "20")] {
        let m = state.lines().iter().find(|l| l.line_id == line).unwrap();
        assert_eq!(m.status, LineStatus::Matched, "{m:?}");
        assert!(
            matches!(&m.assignment, Some(Assignment::Receipt { key: k, .. }) if k.line_id == receipt),
            "{m:?}"
        );
    }
    t.pipeline.line_action(&record.id, LineAction::PostAsPlainEntry { account: None }).await.unwrap();
    // AND the journal message delivered twice journals once and consumes once
    t.pipeline.enqueue_journal_for_test(&record.id).await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let record = only(&t, "odin", StatusKey::Journaled).await;
    let chips = repo.receipt(&key("10")).await.unwrap().unwrap().value;
    assert_eq!(chips.quantity_invoiced, "2".parse().unwrap());
    let cheese = repo.receipt(&key("20")).await.unwrap().unwrap().value;
    assert_eq!(cheese.quantity_invoiced, "1".parse().unwrap());
    assert_eq!(t.pipeline.journal(&record.id, None).await.unwrap(), JournalOutcome::AlreadyJournaled);
    let entry = repo.entry(&record.id).await.unwrap().unwrap();
    let clearing: Decimal =
        entry.lines.iter().filter(|l| l.account.as_str() == "1610").map(|l| l.debit).sum();
    assert_eq!(clearing, "29.75".parse().unwrap());
}

#[tokio::test]
async fn a_receipt_advice_before_its_order_waits_for_it() {
    let t = spawn_pipeline_with(ODIN);
    t.drop_file("receipt.xml", receipt_advice_xml("GR-9", "PO-9").as_bytes()).await;
    t.drop_file("order.xml", order_xml("PO-9").as_bytes()).await;
    let stats = t.drain().await;
    // The advice was tried before the order was in, then again after it.
    assert!(stats.failures.iter().any(|f| f.summary.contains("has not been received yet")), "{stats:?}");
    assert!(!t.exists("inbox/receipt.xml").await);
    let key = ReceiptKey { administration: admin("odin"), order_number: "PO-9".into(), line_id: "10".into() };
    assert!(t.pipeline.repository().receipt(&key).await.unwrap().is_some());
}

trait ParseSupplier {
    fn parse_supplier(&self) -> ledgerpost_domain::ids::SupplierKey;
}

impl ParseSupplier for str {
    fn parse_supplier(&self) -> ledgerpost_domain::ids::SupplierKey {
        ledgerpost_domain::ids::SupplierKey::parse(self).unwrap()
    }
}

trait EnqueueJournal {
    async fn enqueue_journal_for_test(&self, id: &InvoiceId);
}

impl EnqueueJournal for ledgerpost_pipeline::Pipeline {
    async fn enqueue_journal_for_test(&self, id: &InvoiceId) {
        let body = ledgerpost_pipeline::messages::InvoiceMessage::new(id.clone()).body();
        self.ports().queue.send("journal", &body).await.unwrap();
    }
}

/// A sales invoice of koksmaat with `lines` lines of 1.00 EUR at 21 %, each item named with
/// `name_chars` characters (example 1's header, generated lines and totals).
fn long_sales_invoice(number: &str, lines: usize, name_chars: usize) -> Vec<u8> {
    let text = String::from_utf8(sales_invoice(number, "2025-02-01")).unwrap();
    let header = &text[..text.find("<cac:TaxTotal>").unwrap()];
    let cents = lines as u64 * 100;
    let tax = (cents * 21 + 50) / 100;
    let amount = |c: u64| format!("{}.{:02}", c / 100, c % 100);
    let vat = "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>";
    let mut out = format!(
        "{header}<cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">{t}</cbc:TaxAmount><cac:TaxSubtotal>\
         <cbc:TaxableAmount currencyID=\"EUR\">{n}</cbc:TaxableAmount><cbc:TaxAmount currencyID=\"EUR\">{t}</cbc:TaxAmount>\
         <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent>{vat}</cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>\
         <cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID=\"EUR\">{n}</cbc:LineExtensionAmount>\
         <cbc:TaxExclusiveAmount currencyID=\"EUR\">{n}</cbc:TaxExclusiveAmount><cbc:TaxInclusiveAmount currencyID=\"EUR\">{g}</cbc:TaxInclusiveAmount>\
         <cbc:PayableAmount currencyID=\"EUR\">{g}</cbc:PayableAmount></cac:LegalMonetaryTotal>",
        t = amount(tax),
        n = amount(cents),
        g = amount(cents + tax)
    );
    let name = "x".repeat(name_chars);
    for i in 1..=lines {
        out.push_str(&format!(
            "<cac:InvoiceLine><cbc:ID>{i}</cbc:ID><cbc:InvoicedQuantity unitCode=\"EA\">1</cbc:InvoicedQuantity>\
             <cbc:LineExtensionAmount currencyID=\"EUR\">1.00</cbc:LineExtensionAmount><cac:Item><cbc:Name>{name}</cbc:Name>\
             <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent>{vat}</cac:ClassifiedTaxCategory></cac:Item>\
             <cac:Price><cbc:PriceAmount currencyID=\"EUR\">1.00</cbc:PriceAmount></cac:Price></cac:InvoiceLine>"
        ));
    }
    out.push_str("</Invoice>");
    out.into_bytes()
}

#[tokio::test]
async fn a_long_invoice_is_journaled_with_its_lines_grouped_per_booking() {
    // With one entry line per invoice line this entry was over the store's 4 MB transaction limit
    // (and, before that was checked, a dead letter); grouped per booking it is three lines. What
    // can still outgrow a transaction, the master data consumed, is in large_invoice.rs.
    let t = spawn_pipeline();
    t.drop_file("long.xml", &long_sales_invoice("L-1", 3000, 1500)).await;
    let stats = t.drain().await;
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let record = only(&t, "koksmaat", StatusKey::Journaled).await;
    let entry = t.pipeline.repository().entry(&record.id).await.unwrap().unwrap();
    assert!(entry.is_balanced());
    assert_eq!(entry.lines.len(), 3, "{:#?}", entry.lines);
    assert_eq!(entry.lines[0].invoice_line_count, 3000);
}
