//! Tests of the model: every valid corpus document against its manifest facts, attachments, and
//! small hand-written documents for each way reading can fail.

use std::path::PathBuf;

use rust_decimal::Decimal;
use serde_json::Value;

use super::read::{parse_date, parse_decimal};
use super::*;
use crate::xml::{Document, Limits};

/// The shared corpus sits in the folder named `shared` beside the repository root.
fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/ubl")
}

fn read_corpus_file(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read corpus file {}: {e}", path.display()))
}

fn manifest() -> Value {
    let bytes = read_corpus_file("manifest.json");
    serde_json::from_slice(&bytes).expect("manifest.json is JSON")
}

fn valid_files() -> Vec<String> {
    let dir = corpus_dir().join("valid");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list the valid corpus at {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no .xml files in {}", dir.display());
    names
}

fn parse_model(xml: &[u8]) -> Result<Invoice, ModelError> {
    let doc = Document::parse(xml, &Limits::default()).expect("well-formed XML");
    Invoice::from_document(&doc)
}

/// A fact as an optional trimmed string (null and blank are "absent", as in the model).
fn fact_str(facts: &Value, key: &str) -> Option<String> {
    match facts.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::String(_)) | Some(Value::Null) => None,
        other => panic!("fact {key} is not a string or null: {other:?}"),
    }
}

fn fact_decimal(facts: &Value, key: &str) -> Option<Decimal> {
    fact_str(facts, key).map(|s| s.parse::<Decimal>().unwrap_or_else(|e| panic!("fact {key}={s}: {e}")))
}

fn fact_list(facts: &Value, key: &str) -> Vec<String> {
    match facts.get(key) {
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().expect("string list").trim().to_owned()).collect()
        }
        other => panic!("fact {key} is not a list: {other:?}"),
    }
}

#[test]
fn every_valid_corpus_file_matches_its_manifest_facts() {
    let manifest = manifest();
    let mut failures = Vec::new();
    for name in valid_files() {
        let facts = &manifest["files"][&name]["facts"];
        assert!(facts.is_object(), "{name}: no facts in manifest.json");
        let inv = match parse_model(&read_corpus_file(&format!("valid/{name}"))) {
            Ok(inv) => inv,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut check = |what: &str, ok: bool, got: String, want: String| {
            if !ok {
                failures.push(format!("{name}: {what}: model has {got}, manifest says {want}"));
            }
        };
        let mut eq_str = |what: &str, got: Option<&str>, key: &str| {
            let want = fact_str(facts, key);
            check(what, got == want.as_deref(), format!("{got:?}"), format!("{want:?}"));
        };
        eq_str("doc", Some(if inv.kind == DocumentKind::Invoice { "Invoice" } else { "CreditNote" }), "doc");
        eq_str("id", Some(&inv.number), "id");
        eq_str("issue date", Some(&inv.issue_date.format("%Y-%m-%d").to_string()), "issue_date");
        eq_str("type code", Some(&inv.type_code), "type_code");
        eq_str("currency", Some(&inv.currency), "currency");
        eq_str("tax currency", inv.tax_currency.as_deref(), "tax_currency");
        eq_str("customization id", inv.customization_id.as_deref(), "customization_id");
        eq_str("profile id", inv.profile_id.as_deref(), "profile_id");
        eq_str("buyer reference", inv.buyer_reference.as_deref(), "buyer_reference");
        eq_str("order reference", inv.order_reference.as_deref(), "order_reference_id");
        eq_str("seller VAT id", inv.seller.vat_id.as_deref(), "seller_vat_id");
        eq_str("supplier name", Some(inv.seller.display_name()).filter(|s| !s.is_empty()), "supplier_name");
        eq_str("customer name", Some(inv.buyer.display_name()).filter(|s| !s.is_empty()), "customer_name");
        eq_str("supplier trading name", inv.seller.name.as_deref(), "supplier_trading_name");
        eq_str(
            "customer registration name",
            inv.buyer.registration_name.as_deref(),
            "customer_registration_name",
        );

        let mut eq_num = |what: &str, got: Option<Decimal>, key: &str| {
            let want = fact_decimal(facts, key);
            check(what, got == want, format!("{got:?}"), format!("{want:?}"));
        };
        eq_num("line extension amount", Some(inv.totals.line_extension), "line_extension_amount");
        eq_num("tax exclusive amount", Some(inv.totals.tax_exclusive), "tax_exclusive_amount");
        eq_num("tax inclusive amount", Some(inv.totals.tax_inclusive), "tax_inclusive_amount");
        eq_num("payable amount", Some(inv.totals.payable), "payable_amount");
        eq_num("tax total (BT-110)", inv.tax_total, "tax_total");
        eq_num(
            "tax total in tax currency (BT-111)",
            inv.tax_total_in_tax_currency,
            "tax_total_in_tax_currency",
        );

        let line_count = facts["line_count"].as_u64().expect("line_count") as usize;
        check(
            "line count",
            inv.lines.len() == line_count,
            inv.lines.len().to_string(),
            line_count.to_string(),
        );

        let mut eq_list = |what: &str, got: Vec<String>, key: &str| {
            let want = fact_list(facts, key);
            check(what, got == want, format!("{got:?}"), format!("{want:?}"));
        };
        eq_list(
            "billing reference ids",
            inv.billing_references.iter().map(|b| b.id.clone()).collect(),
            "billing_reference_ids",
        );
        eq_list(
            "payment means codes",
            inv.payment_means.iter().map(|p| p.code.clone()).collect(),
            "payment_means_codes",
        );
        eq_list(
            "embedded attachment MIME codes",
            inv.attachments
                .iter()
                .filter_map(|a| a.attachment.as_ref().and_then(Attachment::mime_code).map(str::to_owned))
                .collect(),
            "embedded_attachment_mime_codes",
        );
        let mut codes: Vec<String> = inv.vat_breakdown.iter().map(|s| s.category.code.clone()).collect();
        codes.sort();
        codes.dedup();
        eq_list("VAT category codes", codes, "vat_category_codes");

        // doc_allowance_count / doc_charge_count are left out: the manifest compares the indicator
        // with the strings 'false' / 'true', the model reads it as xs:boolean ("0" is false), see
        // reads_a_numeric_charge_indicator_as_xs_boolean.
        let counts = [
            ("line_allowance_charge_count", inv.lines.iter().map(|l| l.allowances_charges.len()).sum()),
            ("additional_document_count", inv.attachments.len()),
        ];
        for (key, got) in counts {
            let want = facts[key].as_u64().unwrap_or_else(|| panic!("{name}: fact {key}")) as usize;
            check(key, got == want, got.to_string(), want.to_string());
        }

        // The model must survive a serde round trip unchanged (amount scales included).
        let json = serde_json::to_string(&inv).expect("serialise");
        let back: Invoice = serde_json::from_str(&json).expect("deserialise");
        check("serde round trip", back == inv, "a different model".into(), "the same".into());
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn reads_the_details_of_a_full_invoice() {
    let inv = parse_model(&read_corpus_file("valid/peppol-bis3__examples__base-example.xml")).unwrap();
    assert_eq!(inv.kind, DocumentKind::Invoice);
    assert_eq!(inv.issue_date, NaiveDate::from_ymd_opt(2017, 11, 13).unwrap());
    assert_eq!(inv.seller.endpoint.as_ref().map(|e| e.scheme.as_deref()), Some(Some("0088")));
    assert_eq!(inv.seller.address.as_ref().and_then(|a| a.country.as_deref()), Some("GB"));
    assert_eq!(inv.buyer.display_name(), "Buyer Official Name");
    // Scale as written: "1656.25" keeps two decimals, "1300" none.
    assert_eq!(inv.totals.payable.to_string(), "1656.25");
    assert_eq!(inv.totals.line_extension.to_string(), "1300");
    let line = &inv.lines[0];
    assert!(!line.item.name.is_empty());
    assert!(!line.vat.code.is_empty());
    assert_eq!(inv.vat_breakdown.iter().map(|s| s.tax_amount).sum::<Decimal>(), inv.tax_total.unwrap());
}

#[test]
fn reads_a_numeric_charge_indicator_as_xs_boolean() {
    let inv = parse_model(&read_corpus_file("valid/en16931__ubl-examples__ubl-tc434-example2.xml")).unwrap();
    let kinds: Vec<(bool, String)> =
        inv.allowances_charges.iter().map(|a| (a.is_charge, a.amount.to_string())).collect();
    // <cbc:ChargeIndicator>0</cbc:ChargeIndicator>: a 10% promotion discount, i.e. an allowance.
    assert!(!kinds[0].0, "{kinds:?}");
    assert_eq!(inv.allowances_charges[0].reason_code.as_deref(), Some("88"));
    assert_eq!(kinds[1], (true, "100.00".to_owned()));
}

#[test]
fn every_embedded_attachment_of_the_valid_corpus_decodes() {
    let mut decoded = 0;
    for name in valid_files() {
        let inv = parse_model(&read_corpus_file(&format!("valid/{name}"))).unwrap();
        for reference in &inv.attachments {
            let Some(att @ Attachment::Embedded { mime_code, .. }) = &reference.attachment else { continue };
            let bytes = reference.decode().unwrap_or_else(|e| panic!("{name}: {e}")).expect("embedded");
            assert_eq!(att.decode().unwrap(), bytes);
            assert!(!bytes.is_empty(), "{name}: {} is empty", reference.id);
            if mime_code == "application/pdf" && bytes.len() > 1000 {
                assert!(bytes.starts_with(b"%PDF"), "{name}: {} does not look like a PDF", reference.id);
            }
            let file = att.safe_filename("attachment");
            assert!(file.len() <= MAX_FILENAME_CHARS && !file.is_empty(), "{name}: {file}");
            decoded += 1;
        }
    }
    assert!(decoded >= 3, "expected the corpus to hold embedded attachments, decoded {decoded}");
}

fn embedded(mime: &str, filename: Option<&str>, base64: &str) -> Attachment {
    Attachment::Embedded {
        mime_code: mime.to_owned(),
        filename: filename.map(str::to_owned),
        base64: base64.to_owned(),
    }
}

#[test]
fn decode_tolerates_whitespace_and_names_the_reference_when_broken() {
    let att = embedded("text/csv", None, "  SGVs\r\nbG8s\n IHdv\tcmxk\n");
    assert_eq!(att.decode().unwrap(), b"Hello, world");
    assert_eq!(embedded("text/csv", None, "SGVsbG8").decode().unwrap(), b"Hello");

    let reference = DocumentReference {
        id: "ATT-7".to_owned(),
        type_code: None,
        description: None,
        attachment: Some(embedded("application/pdf", Some("x.pdf"), "JVBER!!!i0xLjQK")),
    };
    match reference.decode() {
        Err(ModelError::BadAttachment { id, reason }) => {
            assert_eq!(id, "ATT-7");
            assert!(reason.contains("base64"), "{reason}");
        }
        other => panic!("expected BadAttachment, got {other:?}"),
    }
    assert!(matches!(
        embedded("application/pdf", None, " \n ").decode(),
        Err(ModelError::BadAttachment { .. })
    ));
    let external = Attachment::External { uri: "https://example.com/inv.pdf".to_owned() };
    assert!(matches!(external.decode(), Err(ModelError::BadAttachment { .. })));
    let no_attachment = DocumentReference { attachment: None, ..reference };
    assert_eq!(no_attachment.decode(), Ok(None));
}

#[test]
fn safe_filename_defuses_supplied_names() {
    let pdf = |name: &str| embedded("application/pdf", Some(name), "").safe_filename("invoice-1");
    assert_eq!(pdf("../../etc/passwd"), "passwd.pdf");
    assert_eq!(pdf("..\\..\\windows\\system.ini"), "system.ini.pdf");
    assert_eq!(pdf("a\r\nb.pdf"), "ab.pdf");
    assert_eq!(pdf(""), "invoice-1.pdf");
    assert_eq!(pdf(".."), "invoice-1.pdf");
    assert_eq!(pdf("...hidden.PDF"), "hidden.PDF");
    assert_eq!(pdf("a....b.pdf"), "ab.pdf");
    assert_eq!(pdf("Fattura n°1 <draft>.pdf"), "Fattura n_1 _draft_.pdf");
    assert_eq!(pdf("invoice.exe"), "invoice.exe.pdf");
    let long = pdf(&"x".repeat(300));
    assert_eq!(long.len(), MAX_FILENAME_CHARS);
    assert!(long.ends_with("xxx.pdf"), "{long}");
    let long_with_ext = pdf(&format!("{}.pdf", "y".repeat(300)));
    assert_eq!(long_with_ext, format!("{}.pdf", "y".repeat(MAX_FILENAME_CHARS - 4)));

    assert_eq!(embedded("image/jpeg", Some("photo.jpeg"), "").safe_filename("f"), "photo.jpeg");
    assert_eq!(embedded("image/png", None, "").safe_filename("scan"), "scan.png");
    assert_eq!(
        embedded("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Some("hours"), "")
            .safe_filename("f"),
        "hours.xlsx"
    );
    assert_eq!(
        embedded("application/vnd.oasis.opendocument.spreadsheet", None, "").safe_filename(""),
        "attachment.ods"
    );
    assert_eq!(embedded("text/csv", Some("/"), "").safe_filename("../"), "attachment.csv");
    assert_eq!(embedded("application/x-unknown", Some("data.bin"), "").safe_filename("f"), "data.bin");
    let external = Attachment::External { uri: "https://example.com/docs/time%20sheet.pdf?x=1".to_owned() };
    assert_eq!(external.safe_filename("f"), "time_20sheet.pdf");
}

// ---- hand-written documents ----

/// A minimal, complete invoice; `{...}` placeholders are filled in by the tests.
const INVOICE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>INV-1</cbc:ID>
  <cbc:IssueDate>{ISSUE_DATE}</cbc:IssueDate>
  <cbc:DueDate>2025-03-31</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:OrderReference><cbc:ID>PO-9</cbc:ID></cac:OrderReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyTaxScheme><cbc:CompanyID>NL123456789B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
    <cac:PartyLegalEntity><cbc:RegistrationName>Seller BV</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>Buyer</cbc:Name></cac:PartyName></cac:Party></cac:AccountingCustomerParty>
  <cac:AllowanceCharge>
    <cbc:ChargeIndicator>false</cbc:ChargeIndicator>
    <cbc:Amount currencyID="EUR">{ALLOWANCE}</cbc:Amount>
    <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
  </cac:AllowanceCharge>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">{TAX}</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">90.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">18.90</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  {TOTALS}
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="C62">{QUANTITY}</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cac:OrderLineReference><cbc:LineID>3</cbc:LineID></cac:OrderLineReference>
    <cac:Item>{ITEM_NAME}<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">10.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
</Invoice>"#;

const TOTALS: &str = r#"<cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">90.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">108.90</cbc:TaxInclusiveAmount>
    <cbc:AllowanceTotalAmount currencyID="EUR">10.00</cbc:AllowanceTotalAmount>
    <cbc:PayableAmount currencyID="EUR">108.90</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>"#;

struct Doc<'a> {
    issue_date: &'a str,
    allowance: &'a str,
    tax: &'a str,
    totals: &'a str,
    quantity: &'a str,
    item_name: &'a str,
}

const DEFAULT: Doc<'static> = Doc {
    issue_date: "2025-02-28",
    allowance: "10.00",
    tax: "18.90",
    totals: TOTALS,
    quantity: "10",
    item_name: "<cbc:Name>Widget</cbc:Name>",
};

impl Doc<'_> {
    fn xml(&self) -> String {
        INVOICE
            .replace("{ISSUE_DATE}", self.issue_date)
            .replace("{ALLOWANCE}", self.allowance)
            .replace("{TAX}", self.tax)
            .replace("{TOTALS}", self.totals)
            .replace("{QUANTITY}", self.quantity)
            .replace("{ITEM_NAME}", self.item_name)
    }

    fn read(&self) -> Result<Invoice, ModelError> {
        parse_model(self.xml().as_bytes())
    }
}

#[test]
fn reads_a_hand_written_invoice() {
    let inv = DEFAULT.read().unwrap();
    assert_eq!(inv.number, "INV-1");
    assert_eq!(inv.due_date, NaiveDate::from_ymd_opt(2025, 3, 31));
    assert_eq!(inv.order_reference.as_deref(), Some("PO-9"));
    assert_eq!(inv.seller.vat_id.as_deref(), Some("NL123456789B01"));
    assert_eq!(inv.seller.display_name(), "Seller BV");
    assert_eq!(inv.buyer.display_name(), "Buyer");
    assert_eq!(inv.allowances_charges.len(), 1);
    assert!(!inv.allowances_charges[0].is_charge);
    assert_eq!(inv.allowances_charges[0].vat.as_ref().map(|v| v.code.as_str()), Some("S"));
    assert_eq!(inv.tax_total.map(|d| d.to_string()).as_deref(), Some("18.90"));
    assert_eq!(inv.totals.allowance_total, Some(Decimal::new(1000, 2)));
    let line = &inv.lines[0];
    assert_eq!(line.quantity, Decimal::from(10));
    assert_eq!(line.unit_code.as_deref(), Some("C62"));
    assert_eq!(line.order_line_reference.as_deref(), Some("3"));
    assert_eq!(line.item.name, "Widget");
    assert_eq!(line.price.amount.to_string(), "10.00");
    assert_eq!(line.vat.rate, Some(Decimal::from(21)));
}

#[test]
fn reads_a_credit_note_with_credited_quantity() {
    let xml = r#"<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>CN-1</cbc:ID>
  <cbc:IssueDate>2025-01-15</cbc:IssueDate>
  <cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>INV-1</cbc:ID><cbc:IssueDate>2025-01-02</cbc:IssueDate></cac:InvoiceDocumentReference></cac:BillingReference>
  <cac:AdditionalDocumentReference><cbc:ID>PRJ-4</cbc:ID><cbc:DocumentTypeCode>50</cbc:DocumentTypeCode></cac:AdditionalDocumentReference>
  <cac:AccountingSupplierParty><cac:Party/></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party/></cac:AccountingCustomerParty>
  <cac:PaymentMeans><cbc:PaymentMeansCode name="Credit transfer">30</cbc:PaymentMeansCode><cbc:PaymentDueDate>2025-02-14</cbc:PaymentDueDate>
    <cac:PayeeFinancialAccount><cbc:ID>NL91ABNA0417164300</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">4.20</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">20.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">20.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">24.20</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">24.20</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:CreditNoteLine>
    <cbc:ID>1</cbc:ID>
    <cbc:CreditedQuantity unitCode="H87">2.000</cbc:CreditedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">20.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Returned widget</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent></cac:ClassifiedTaxCategory></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">10</cbc:PriceAmount></cac:Price>
  </cac:CreditNoteLine>
</CreditNote>"#;
    let cn = parse_model(xml.as_bytes()).unwrap();
    assert_eq!(cn.kind, DocumentKind::CreditNote);
    assert_eq!(cn.type_code, "381");
    assert_eq!(cn.due_date, NaiveDate::from_ymd_opt(2025, 2, 14));
    assert_eq!(cn.project_reference.as_deref(), Some("PRJ-4"));
    assert_eq!(
        cn.billing_references,
        vec![BillingReference { id: "INV-1".into(), issue_date: NaiveDate::from_ymd_opt(2025, 1, 2) }]
    );
    assert_eq!(cn.payment_means[0].name.as_deref(), Some("Credit transfer"));
    assert_eq!(cn.payment_means[0].account_id.as_deref(), Some("NL91ABNA0417164300"));
    assert_eq!(cn.seller, Party::default());
    assert_eq!(cn.seller.display_name(), "");
    assert_eq!(cn.tax_total, Some(Decimal::new(420, 2)));
    assert_eq!(cn.lines.len(), 1);
    assert_eq!(cn.lines[0].quantity.to_string(), "2.000");
    assert_eq!(cn.lines[0].unit_code.as_deref(), Some("H87"));

    // An InvoiceLine inside a CreditNote is not a credit note line, and the reverse.
    let wrong = xml.replace("CreditedQuantity", "InvoicedQuantity");
    assert!(matches!(
        parse_model(wrong.as_bytes()),
        Err(ModelError::Missing { what: "line quantity (BT-129)", .. })
    ));
}

#[test]
fn refuses_amounts_that_are_not_xs_decimal() {
    for bad in
        ["12,50", "1e400", "", " ", "1.2.3", "EUR 5", "--1", "1_000", "0x10", ".", "-", "NaN", "Infinity"]
    {
        let err = Doc { allowance: bad, ..DEFAULT }.read().unwrap_err();
        assert_eq!(
            err,
            ModelError::BadAmount {
                value: bad.to_owned(),
                path: "/Invoice/cac:AllowanceCharge/cbc:Amount".to_owned()
            },
            "value {bad:?}"
        );
    }
    // Digits beyond what a Decimal holds are refused, not rounded.
    let too_big = "79228162514264337593543950336";
    assert!(matches!(Doc { tax: too_big, ..DEFAULT }.read(), Err(ModelError::BadAmount { .. })));
    let too_precise = "0.12345678901234567890123456789";
    assert!(matches!(Doc { tax: too_precise, ..DEFAULT }.read(), Err(ModelError::BadAmount { .. })));
    let err = Doc { quantity: "1e3", ..DEFAULT }.read().unwrap_err();
    assert_eq!(
        err,
        ModelError::BadAmount {
            value: "1e3".into(),
            path: "/Invoice/cac:InvoiceLine/cbc:InvoicedQuantity".into()
        }
    );
    assert!(err.to_string().contains("1e3") && err.to_string().contains("InvoicedQuantity"), "{err}");
}

#[test]
fn decimal_lexical_forms_keep_their_scale() {
    let ok = [
        ("100.00", "100.00"),
        ("-1656.25", "-1656.25"),
        ("+5", "5"),
        (" 7.5 ", "7.5"),
        ("5.", "5"),
        (".5", "0.5"),
        ("-0.00", "0.00"),
        ("0007", "7"),
    ];
    for (input, want) in ok {
        let got = parse_decimal(input).unwrap_or_else(|| panic!("{input:?} refused"));
        assert_eq!(got.to_string().trim_start_matches('-'), want.trim_start_matches('-'), "{input:?}");
        assert_eq!(got.is_sign_negative() && !got.is_zero(), want.starts_with('-'), "{input:?}");
    }
    assert_eq!(parse_decimal("100.00").unwrap().scale(), 2);
}

#[test]
fn refuses_dates_that_do_not_exist_or_are_not_yyyy_mm_dd() {
    for bad in
        ["2025-02-30", "2025-13-01", "20250201", "2025-2-1", "01-02-2025", "2025-02-01Z", "", "+2025-02-01"]
    {
        let err = Doc { issue_date: bad, ..DEFAULT }.read().unwrap_err();
        assert_eq!(
            err,
            ModelError::BadDate { value: bad.to_owned(), path: "/Invoice/cbc:IssueDate".to_owned() },
            "value {bad:?}"
        );
    }
    assert_eq!(parse_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
    assert_eq!(parse_date(" 2025-01-01\n"), NaiveDate::from_ymd_opt(2025, 1, 1));
}

#[test]
fn refuses_a_root_that_is_not_a_ubl_invoice_or_credit_note() {
    let order = r#"<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"><ID>1</ID></Order>"#;
    assert_eq!(
        parse_model(order.as_bytes()).unwrap_err(),
        ModelError::NotUbl { root: "{urn:oasis:names:specification:ubl:schema:xsd:Order-2}Order".into() }
    );
    assert_eq!(parse_model(b"<foo/>").unwrap_err(), ModelError::NotUbl { root: "foo".into() });
    // The right local name in the wrong namespace is not a UBL invoice either.
    let err = parse_model(br#"<Invoice xmlns="urn:example:not-ubl"/>"#).unwrap_err();
    assert!(err.to_string().contains("{urn:example:not-ubl}Invoice"), "{err}");
}

#[test]
fn names_what_is_missing_and_where() {
    let err = Doc { totals: "", ..DEFAULT }.read().unwrap_err();
    assert_eq!(
        err,
        ModelError::Missing {
            what: "document totals (BG-22, cac:LegalMonetaryTotal)",
            path: "/Invoice".into()
        }
    );
    assert!(err.to_string().contains("LegalMonetaryTotal"), "{err}");

    let no_payable = TOTALS.replace(r#"<cbc:PayableAmount currencyID="EUR">108.90</cbc:PayableAmount>"#, "");
    let err = Doc { totals: &no_payable, ..DEFAULT }.read().unwrap_err();
    assert!(
        matches!(&err, ModelError::Missing { what, path } if what.contains("BT-115") && path == "/Invoice/cac:LegalMonetaryTotal"),
        "{err:?}"
    );

    for item_name in ["", "<cbc:Name/>", "<cbc:Name>   </cbc:Name>"] {
        let err = Doc { item_name, ..DEFAULT }.read().unwrap_err();
        assert!(
            matches!(&err, ModelError::Missing { what: "item name (BT-153)", path } if path.starts_with("/Invoice/cac:InvoiceLine/cac:Item")),
            "{item_name:?}: {err:?}"
        );
    }

    let xml = DEFAULT.xml().replace("<cbc:ID>INV-1</cbc:ID>", "");
    assert_eq!(
        parse_model(xml.as_bytes()).unwrap_err(),
        ModelError::Missing { what: "invoice number (BT-1)", path: "/Invoice".into() }
    );
    let xml = DEFAULT.xml().replace(
        "<cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>Buyer</cbc:Name></cac:PartyName></cac:Party></cac:AccountingCustomerParty>",
        "",
    );
    assert!(matches!(
        parse_model(xml.as_bytes()),
        Err(ModelError::Missing { what: "buyer party (BG-7)", .. })
    ));
    let xml = DEFAULT.xml().replace(
        "<cbc:ChargeIndicator>false</cbc:ChargeIndicator>",
        "<cbc:ChargeIndicator>no</cbc:ChargeIndicator>",
    );
    assert!(matches!(parse_model(xml.as_bytes()), Err(ModelError::BadValue { .. })));
}

#[test]
fn invalid_corpus_files_read_or_fail_with_a_located_error() {
    // Unit-test fragments are deliberately incomplete: an error is fine, a panic is not.
    let dir = corpus_dir().join("invalid");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list the invalid corpus at {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let bytes = std::fs::read(&path).expect("readable");
        let Ok(doc) = Document::parse(&bytes, &Limits::default()) else { continue };
        match Invoice::from_document(&doc) {
            Ok(inv) => assert!(!inv.number.is_empty()),
            Err(e) => assert!(!e.to_string().is_empty(), "{}", path.display()),
        }
    }
}
