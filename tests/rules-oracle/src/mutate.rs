//! Deterministic single-edit (and a few multi-edit) variants of a UBL document, aimed at
//! the EN 16931 rule families: mandatory elements, sums and decimals, code lists, VAT
//! categories, cardinalities, lexical forms.
//!
//! Edits are done on the text with byte spans found by quick-xml, so everything not
//! edited stays byte-for-byte as it was; every variant is re-parsed to check that it is
//! still well-formed.

use std::collections::HashSet;

use crate::xmlspan::{Doc, Edit, NS_CAC, NS_CBC};

/// One variant of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// What was changed, independent of the document (`remove /cbc:IssueDate`,
    /// `amount +0.01 /cac:LegalMonetaryTotal/cbc:PayableAmount`, ...). Paths are from the
    /// document element; `LINE` is the first `cac:InvoiceLine`/`cac:CreditNoteLine`, `QTY`
    /// its quantity, `TYPECODE` the invoice/credit note type code; a path without a
    /// leading `/` is the first match anywhere.
    pub description: String,
    /// The mutated document.
    pub xml: String,
}

const LMT: &str = "/cac:LegalMonetaryTotal";
const SUP: &str = "/cac:AccountingSupplierParty/cac:Party";
const CUS: &str = "/cac:AccountingCustomerParty/cac:Party";
const SUB: &str = "/cac:TaxTotal/cac:TaxSubtotal";
const SUB_CAT: &str = "/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory";
const LINE_CAT: &str = "/LINE/cac:Item/cac:ClassifiedTaxCategory";

/// Paths (templates: `{SUP}` etc. are expanded) whose first match is removed.
const REMOVE: &[&str] = &[
    "/cbc:CustomizationID",
    "/cbc:ProfileID",
    "/cbc:ID",
    "/cbc:IssueDate",
    "/TYPECODE",
    "/cbc:DocumentCurrencyCode",
    "/cbc:TaxCurrencyCode",
    "/cbc:BuyerReference",
    "/cbc:DueDate",
    "/cbc:Note",
    "/cac:OrderReference",
    "/cac:OrderReference/cbc:ID",
    "{SUP}/cbc:EndpointID",
    "{SUP}/cac:PartyName",
    "{SUP}/cac:PostalAddress",
    "{SUP}/cac:PostalAddress/cac:Country",
    "{SUP}/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
    "{SUP}/cac:PartyTaxScheme",
    "{SUP}/cac:PartyTaxScheme/cbc:CompanyID",
    "{SUP}/cac:PartyLegalEntity",
    "{SUP}/cac:PartyLegalEntity/cbc:RegistrationName",
    "{SUP}/cac:PartyLegalEntity/cbc:CompanyID",
    "{CUS}/cbc:EndpointID",
    "{CUS}/cac:PostalAddress",
    "{CUS}/cac:PostalAddress/cac:Country",
    "{CUS}/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
    "{CUS}/cac:PartyTaxScheme",
    "{CUS}/cac:PartyLegalEntity",
    "{CUS}/cac:PartyLegalEntity/cbc:RegistrationName",
    "/cac:PayeeParty/cac:PartyName",
    "/cac:TaxRepresentativeParty/cac:PartyName",
    "/cac:TaxRepresentativeParty/cac:PostalAddress",
    "/cac:TaxRepresentativeParty/cac:PostalAddress/cac:Country",
    "/cac:TaxRepresentativeParty/cac:PartyTaxScheme",
    "/cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country",
    "/cac:InvoicePeriod/cbc:StartDate",
    "/cac:InvoicePeriod/cbc:EndDate",
    "/cac:PaymentMeans",
    "/cac:PaymentMeans/cbc:PaymentMeansCode",
    "/cac:PaymentMeans/cac:PayeeFinancialAccount",
    "/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID",
    "/cac:PaymentMeans/cac:CardAccount/cbc:PrimaryAccountNumberID",
    "/cac:PaymentMeans/cac:PaymentMandate/cbc:ID",
    "/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID",
    "/cac:AdditionalDocumentReference/cbc:ID",
    "/cac:AllowanceCharge",
    "/cac:AllowanceCharge/cbc:ChargeIndicator",
    "/cac:AllowanceCharge/cbc:Amount",
    "/cac:AllowanceCharge/cbc:BaseAmount",
    "/cac:AllowanceCharge/cbc:AllowanceChargeReason",
    "/cac:AllowanceCharge/cbc:AllowanceChargeReasonCode",
    "/cac:AllowanceCharge/cac:TaxCategory",
    "/cac:AllowanceCharge/cac:TaxCategory/cbc:ID",
    "/cac:AllowanceCharge/cac:TaxCategory/cbc:Percent",
    "/cac:TaxTotal",
    "/cac:TaxTotal/cbc:TaxAmount",
    "{SUB}",
    "{SUB}/cbc:TaxableAmount",
    "{SUB}/cbc:TaxAmount",
    "{SUB_CAT}/cbc:ID",
    "{SUB_CAT}/cbc:Percent",
    "{SUB_CAT}/cbc:TaxExemptionReason",
    "{SUB_CAT}/cbc:TaxExemptionReasonCode",
    "{SUB_CAT}/cac:TaxScheme",
    "{LMT}",
    "{LMT}/cbc:LineExtensionAmount",
    "{LMT}/cbc:TaxExclusiveAmount",
    "{LMT}/cbc:TaxInclusiveAmount",
    "{LMT}/cbc:AllowanceTotalAmount",
    "{LMT}/cbc:ChargeTotalAmount",
    "{LMT}/cbc:PrepaidAmount",
    "{LMT}/cbc:PayableRoundingAmount",
    "{LMT}/cbc:PayableAmount",
    "/LINE",
    "/LINE/cbc:ID",
    "/LINE/QTY",
    "/LINE/cbc:LineExtensionAmount",
    "/LINE/cac:Item",
    "/LINE/cac:Item/cbc:Name",
    "/LINE/cac:Price",
    "/LINE/cac:Price/cbc:PriceAmount",
    "{LINE_CAT}",
    "{LINE_CAT}/cbc:ID",
    "{LINE_CAT}/cbc:Percent",
    "/LINE/cac:InvoicePeriod/cbc:StartDate",
    "/LINE/cac:AllowanceCharge/cbc:Amount",
    "/LINE/cac:AllowanceCharge/cbc:AllowanceChargeReason",
    "/LINE/cac:AllowanceCharge/cbc:AllowanceChargeReasonCode",
    "/LINE/cac:Item/cac:SellersItemIdentification/cbc:ID",
    "/LINE/cac:Item/cac:AdditionalItemProperty/cbc:Name",
    "/LINE/cac:Item/cac:AdditionalItemProperty/cbc:Value",
    "/LINE/cac:Price/cac:AllowanceCharge/cbc:BaseAmount",
];

/// Amounts changed by one cent (and given a third decimal).
const AMOUNTS: &[&str] = &[
    "{LMT}/cbc:LineExtensionAmount",
    "{LMT}/cbc:TaxExclusiveAmount",
    "{LMT}/cbc:TaxInclusiveAmount",
    "{LMT}/cbc:AllowanceTotalAmount",
    "{LMT}/cbc:ChargeTotalAmount",
    "{LMT}/cbc:PrepaidAmount",
    "{LMT}/cbc:PayableRoundingAmount",
    "{LMT}/cbc:PayableAmount",
    "/cac:TaxTotal/cbc:TaxAmount",
    "{SUB}/cbc:TaxableAmount",
    "{SUB}/cbc:TaxAmount",
    "/cac:AllowanceCharge/cbc:Amount",
    "/cac:AllowanceCharge/cbc:BaseAmount",
    "/LINE/cbc:LineExtensionAmount",
    "/LINE/cac:Price/cbc:PriceAmount",
    "/LINE/cac:AllowanceCharge/cbc:Amount",
    "/LINE/cac:AllowanceCharge/cbc:BaseAmount",
];

/// Amounts also changed by minus one cent and by one thousandth.
const AMOUNTS_MORE: &[&str] = &[
    "{LMT}/cbc:PayableAmount",
    "/cac:TaxTotal/cbc:TaxAmount",
    "{SUB}/cbc:TaxAmount",
    "/LINE/cbc:LineExtensionAmount",
];

/// (path, invalid code) for element content.
const BAD_CODES: &[(&str, &str)] = &[
    ("/cbc:DocumentCurrencyCode", "QQQ"),
    ("/cbc:DocumentCurrencyCode", "eur"),
    ("/cbc:TaxCurrencyCode", "QQQ"),
    ("/TYPECODE", "999"),
    ("/TYPECODE", "71"),
    ("{SUP}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", "XX"),
    ("{SUP}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", "de"),
    ("{CUS}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", "XX"),
    ("/cac:TaxRepresentativeParty/cac:PostalAddress/cac:Country/cbc:IdentificationCode", "XX"),
    ("/cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode", "XX"),
    ("/LINE/cac:Item/cac:OriginCountry/cbc:IdentificationCode", "XX"),
    ("{SUB_CAT}/cbc:ID", "X"),
    ("{SUB_CAT}/cbc:ID", "s"),
    ("{LINE_CAT}/cbc:ID", "X"),
    ("/cac:AllowanceCharge/cac:TaxCategory/cbc:ID", "X"),
    ("/cac:PaymentMeans/cbc:PaymentMeansCode", "999"),
    ("{SUB_CAT}/cbc:TaxExemptionReasonCode", "VATEX-XX"),
    ("/cac:AllowanceCharge/cbc:AllowanceChargeReasonCode", "ZZZ"),
    ("/LINE/cac:AllowanceCharge/cbc:AllowanceChargeReasonCode", "ZZZ"),
    ("/cac:InvoicePeriod/cbc:DescriptionCode", "99"),
    ("{SUB_CAT}/cac:TaxScheme/cbc:ID", "VAX"),
    ("{LINE_CAT}/cac:TaxScheme/cbc:ID", "VAX"),
    ("{SUP}/cac:PartyTaxScheme/cac:TaxScheme/cbc:ID", "VAX"),
];

/// (path, attribute, invalid value).
const BAD_ATTRS: &[(&str, &str, &str)] = &[
    ("{LMT}/cbc:PayableAmount", "currencyID", "QQQ"),
    ("/cac:TaxTotal/cbc:TaxAmount", "currencyID", "QQQ"),
    ("/LINE/cbc:LineExtensionAmount", "currencyID", "QQQ"),
    ("/LINE/QTY", "unitCode", "NOPE"),
    ("/LINE/cac:Price/cbc:BaseQuantity", "unitCode", "NOPE"),
    ("{SUP}/cbc:EndpointID", "schemeID", "9999"),
    ("{CUS}/cbc:EndpointID", "schemeID", "9999"),
    ("cac:PartyIdentification/cbc:ID", "schemeID", "9999"),
    ("cac:PartyLegalEntity/cbc:CompanyID", "schemeID", "9999"),
    ("/LINE/cac:Item/cac:StandardItemIdentification/cbc:ID", "schemeID", "9999"),
    ("/LINE/cac:Item/cac:CommodityClassification/cbc:ItemClassificationCode", "listID", "XX"),
    ("cbc:EmbeddedDocumentBinaryObject", "mimeCode", "text/html"),
    ("/cac:Delivery/cac:DeliveryLocation/cbc:ID", "schemeID", "9999"),
    ("/cac:AdditionalDocumentReference/cbc:ID", "schemeID", "9999"),
];

/// (path, attribute) removed.
const REMOVE_ATTRS: &[(&str, &str)] = &[
    ("{LMT}/cbc:PayableAmount", "currencyID"),
    ("/cac:TaxTotal/cbc:TaxAmount", "currencyID"),
    ("/LINE/cbc:LineExtensionAmount", "currencyID"),
    ("/LINE/QTY", "unitCode"),
    ("{SUP}/cbc:EndpointID", "schemeID"),
    ("{CUS}/cbc:EndpointID", "schemeID"),
    ("cac:PartyIdentification/cbc:ID", "schemeID"),
    ("cac:PartyLegalEntity/cbc:CompanyID", "schemeID"),
    ("cbc:EmbeddedDocumentBinaryObject", "mimeCode"),
    ("cbc:EmbeddedDocumentBinaryObject", "filename"),
    ("/LINE/cac:Item/cac:StandardItemIdentification/cbc:ID", "schemeID"),
    ("/LINE/cac:Item/cac:CommodityClassification/cbc:ItemClassificationCode", "listID"),
];

/// Leaf values given surrounding spaces.
const PADDED: &[&str] = &[
    "/cbc:ID",
    "/cbc:IssueDate",
    "/TYPECODE",
    "/cbc:DocumentCurrencyCode",
    "{SUP}/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
    "{SUB_CAT}/cbc:ID",
    "{SUB_CAT}/cac:TaxScheme/cbc:ID",
    "{LINE_CAT}/cbc:ID",
    "/cac:PaymentMeans/cbc:PaymentMeansCode",
    "/cac:AllowanceCharge/cbc:ChargeIndicator",
    "{LMT}/cbc:PayableAmount",
];

/// Attribute values given surrounding spaces.
const PADDED_ATTRS: &[(&str, &str)] = &[
    ("{LMT}/cbc:PayableAmount", "currencyID"),
    ("/LINE/QTY", "unitCode"),
    ("{SUP}/cbc:EndpointID", "schemeID"),
];

/// Leaf elements emptied.
const EMPTIED: &[&str] = &[
    "/cbc:CustomizationID",
    "/cbc:ID",
    "/cbc:IssueDate",
    "/TYPECODE",
    "/cbc:DocumentCurrencyCode",
    "/cbc:BuyerReference",
    "/cbc:Note",
    "{SUP}/cbc:EndpointID",
    "{SUP}/cac:PartyLegalEntity/cbc:RegistrationName",
    "{SUP}/cac:PartyTaxScheme/cbc:CompanyID",
    "{SUP}/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
    "{CUS}/cac:PartyLegalEntity/cbc:RegistrationName",
    "{LMT}/cbc:PayableAmount",
    "{SUB_CAT}/cbc:ID",
    "{SUB_CAT}/cbc:Percent",
    "/cac:PaymentMeans/cbc:PaymentMeansCode",
    "/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID",
    "/cac:AdditionalDocumentReference/cbc:ID",
    "/cac:AllowanceCharge/cbc:AllowanceChargeReason",
    "/LINE/cbc:ID",
    "/LINE/QTY",
    "/LINE/cac:Item/cbc:Name",
];

/// Elements that may occur at most once (or whose repetition changes a sum) duplicated.
const DUPLICATED: &[&str] = &[
    "/cbc:ID",
    "/cbc:IssueDate",
    "/cbc:DueDate",
    "/TYPECODE",
    "/cbc:DocumentCurrencyCode",
    "/cbc:TaxCurrencyCode",
    "/cbc:BuyerReference",
    "/cbc:Note",
    "/cbc:TaxPointDate",
    "/cbc:AccountingCost",
    "/cac:InvoicePeriod",
    "/cac:OrderReference",
    "/cac:ContractDocumentReference",
    "/cac:DespatchDocumentReference",
    "/cac:ReceiptDocumentReference",
    "/cac:OriginatorDocumentReference",
    "/cac:ProjectReference",
    "{SUP}/cac:PartyName",
    "{SUP}/cac:PartyTaxScheme",
    "{SUP}/cac:PartyLegalEntity",
    "{SUP}/cac:Contact",
    "{SUP}/cac:PostalAddress/cbc:StreetName",
    "{CUS}/cac:PartyIdentification",
    "{CUS}/cac:PartyLegalEntity",
    "/cac:PayeeParty",
    "/cac:Delivery",
    "/cac:PaymentTerms",
    "/cac:PaymentMeans/cac:PayeeFinancialAccount",
    "/cac:AllowanceCharge",
    "/cac:AllowanceCharge/cbc:AllowanceChargeReason",
    "/cac:AllowanceCharge/cac:TaxCategory",
    "/cac:TaxTotal",
    "{SUB}",
    "{LMT}",
    "{LMT}/cbc:PayableAmount",
    "/LINE",
    "/LINE/cbc:Note",
    "/LINE/cac:InvoicePeriod",
    "/LINE/cac:OrderLineReference",
    "/LINE/cac:DocumentReference",
    "/LINE/cac:Item/cbc:Name",
    "/LINE/cac:Item/cbc:Description",
    "/LINE/cac:Item/cac:SellersItemIdentification",
    "/LINE/cac:Item/cac:StandardItemIdentification",
    "/LINE/cac:Item/cac:OriginCountry",
    "{LINE_CAT}",
    "/LINE/cac:Price",
    "/LINE/cac:Price/cac:AllowanceCharge",
];

/// (path, new value) for lexical and semantic edits of leaf values.
const SET_VALUES: &[(&str, &str)] = &[
    ("/cac:AllowanceCharge/cbc:ChargeIndicator", "TRUE"),
    ("/cac:AllowanceCharge/cbc:ChargeIndicator", "1"),
    ("/cac:AllowanceCharge/cbc:ChargeIndicator", "True"),
    ("/LINE/cac:AllowanceCharge/cbc:ChargeIndicator", "TRUE"),
    ("/LINE/cac:AllowanceCharge/cbc:ChargeIndicator", "0"),
    ("/LINE/cac:Price/cac:AllowanceCharge/cbc:ChargeIndicator", "true"),
    ("/cbc:IssueDate", "2017-13-45"),
    ("/cbc:IssueDate", "20170101"),
    ("/cbc:IssueDate", "2017-1-1"),
    ("/cbc:DueDate", "tomorrow"),
    ("/cac:InvoicePeriod/cbc:EndDate", "1999-01-01"),
    ("/LINE/cac:InvoicePeriod/cbc:EndDate", "1999-01-01"),
    ("/LINE/QTY", "0"),
    ("/LINE/cac:Price/cbc:PriceAmount", "-1.00"),
    ("/LINE/cac:Price/cac:AllowanceCharge/cbc:BaseAmount", "-1.00"),
    ("/LINE/cac:Price/cbc:BaseQuantity", "0"),
    ("/LINE/cac:Price/cbc:BaseQuantity", "-1"),
    ("{SUB_CAT}/cbc:Percent", "0"),
    ("{SUB_CAT}/cbc:Percent", "99"),
    ("{LINE_CAT}/cbc:Percent", "0"),
    ("{LINE_CAT}/cbc:Percent", "99"),
    ("/cac:AllowanceCharge/cac:TaxCategory/cbc:Percent", "0"),
    ("/cac:AllowanceCharge/cbc:MultiplierFactorNumeric", "200"),
    ("{SUP}/cac:PartyTaxScheme/cbc:CompanyID", "123456789"),
    ("{CUS}/cac:PartyTaxScheme/cbc:CompanyID", "123456789"),
    ("{LMT}/cbc:PayableAmount", "0.00"),
    ("/cac:PaymentMeans/cbc:PaymentMeansCode", "30"),
    ("/cac:PaymentMeans/cbc:PaymentMeansCode", "48"),
    ("/cac:PaymentMeans/cbc:PaymentMeansCode", "49"),
    ("/cac:PaymentMeans/cbc:PaymentMeansCode", "58"),
    ("/cac:PaymentMeans/cbc:PaymentMeansCode", "59"),
    ("/cbc:Note", "#QQQ#Subject code not in UNTDID 4451"),
    ("/cbc:Note", "#AAI#General information"),
];

/// VAT category codes of UNCL 5305 used by EN 16931.
const VAT_CATEGORIES: &[&str] = &["S", "Z", "E", "AE", "K", "G", "O", "L", "M", "B"];

fn expand(template: &str) -> String {
    template
        .replace("{SUP}", SUP)
        .replace("{CUS}", CUS)
        .replace("{SUB_CAT}", SUB_CAT)
        .replace("{SUB}", SUB)
        .replace("{LMT}", LMT)
        .replace("{LINE_CAT}", LINE_CAT)
}

/// Parses a decimal lexical form: (value scaled by 10^scale, scale).
fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let scale = frac.len() as u32;
    let v: i128 = format!("{int}{frac}").parse().ok()?;
    Some((if neg { -v } else { v }, scale))
}

fn format_decimal(v: i128, scale: u32) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{a}");
    }
    let p = 10u128.pow(scale);
    format!("{sign}{}.{:0width$}", a / p, a % p, width = scale as usize)
}

/// `s` + `delta` × 10^-`delta_scale`, keeping at least the scale of `s`.
fn add_decimal(s: &str, delta: i128, delta_scale: u32) -> Option<String> {
    let (v, scale) = parse_decimal(s)?;
    let out_scale = scale.max(delta_scale);
    let v = v * 10i128.pow(out_scale - scale) + delta * 10i128.pow(out_scale - delta_scale);
    Some(format_decimal(v, out_scale))
}

fn with_three_decimals(s: &str) -> Option<String> {
    let (v, scale) = parse_decimal(s)?;
    (scale < 3).then(|| format_decimal(v * 10i128.pow(3 - scale), 3))
}

struct Gen<'a> {
    src: &'a str,
    doc: Doc<'a>,
    out: Vec<Mutation>,
    seen: HashSet<String>,
}

impl Gen<'_> {
    fn push(&mut self, description: String, edit: Option<Edit>) {
        let Some(xml) = edit.and_then(|e| e.apply(self.src)) else { return };
        if xml == self.src || self.seen.contains(&xml) {
            return;
        }
        // Keep only well-formed variants.
        if Doc::parse(&xml).is_err() {
            return;
        }
        self.seen.insert(xml.clone());
        self.out.push(Mutation { description, xml });
    }

    fn first(&self, template: &str) -> Option<usize> {
        self.doc.first(&expand(template))
    }

    fn leaf_text(&self, i: usize) -> Option<String> {
        self.doc.text(i).map(|t| t.to_string())
    }

    fn lines(&self) -> Vec<usize> {
        self.doc.find("/LINE")
    }
}

/// Every variant of `xml` the generator knows (deterministic, no duplicates, all
/// well-formed). Returns nothing for a document that quick-xml cannot parse.
pub fn mutations(xml: &str) -> Vec<Mutation> {
    let Ok(doc) = Doc::parse(xml) else { return Vec::new() };
    let mut g = Gen { src: xml, doc, out: Vec::new(), seen: HashSet::new() };

    for t in REMOVE {
        let p = expand(t);
        // Removing the only line is a different case from removing one of several.
        let e = g.first(t).map(|i| g.doc.remove(i));
        g.push(format!("remove {p}"), e);
    }

    for t in AMOUNTS {
        let p = expand(t);
        if let Some(i) = g.first(t) {
            if let Some(text) = g.leaf_text(i) {
                let e = add_decimal(&text, 1, 2).map(|v| g.doc.set_text(i, &v));
                g.push(format!("amount +0.01 {p}"), e);
                let e = with_three_decimals(&text).map(|v| g.doc.set_text(i, &v));
                g.push(format!("amount with three decimals (same value) {p}"), e);
            }
        }
    }
    for t in AMOUNTS_MORE {
        let p = expand(t);
        if let Some(i) = g.first(t) {
            if let Some(text) = g.leaf_text(i) {
                let e = add_decimal(&text, -1, 2).map(|v| g.doc.set_text(i, &v));
                g.push(format!("amount -0.01 {p}"), e);
                let e = add_decimal(&text, 1, 3).map(|v| g.doc.set_text(i, &v));
                g.push(format!("amount +0.001 {p}"), e);
                let e = parse_decimal(&text).map(|(v, s)| g.doc.set_text(i, &format_decimal(-v, s)));
                g.push(format!("amount negated {p}"), e);
            }
        }
    }

    for (t, code) in BAD_CODES {
        let p = expand(t);
        let e = g.first(t).map(|i| g.doc.set_text(i, code));
        g.push(format!("code {p} = '{code}'"), e);
    }
    for (t, attr, value) in BAD_ATTRS {
        let p = expand(t);
        let e = g.first(t).and_then(|i| g.doc.set_attr(i, attr, value));
        g.push(format!("attribute {p}/@{attr} = '{value}'"), e);
    }
    for (t, attr) in REMOVE_ATTRS {
        let p = expand(t);
        let e = g.first(t).and_then(|i| g.doc.remove_attr(i, attr));
        g.push(format!("remove attribute {p}/@{attr}"), e);
    }
    for t in PADDED {
        let p = expand(t);
        if let Some(i) = g.first(t) {
            let e = g.leaf_text(i).map(|v| g.doc.set_text(i, &format!(" {} ", v.trim())));
            g.push(format!("spaces around value {p}"), e);
        }
    }
    for (t, attr) in PADDED_ATTRS {
        let p = expand(t);
        if let Some(i) = g.first(t) {
            let e = g.doc.attr(i, attr).and_then(|a| {
                let v = g.src[a.value_start..a.value_end].trim().to_string();
                g.doc.set_attr(i, attr, &format!(" {v} "))
            });
            g.push(format!("spaces around attribute {p}/@{attr}"), e);
        }
    }
    for t in EMPTIED {
        let p = expand(t);
        let e = g.first(t).filter(|&i| g.doc.text(i).is_some()).map(|i| g.doc.set_text(i, ""));
        g.push(format!("empty {p}"), e);
    }
    for t in DUPLICATED {
        let p = expand(t);
        let e = g.first(t).map(|i| g.doc.duplicate(i));
        g.push(format!("duplicate {p}"), e);
    }
    for (t, value) in SET_VALUES {
        let p = expand(t);
        let e = g
            .first(t)
            .filter(|&i| g.doc.text(i).is_some_and(|v| v.trim() != *value))
            .map(|i| g.doc.set_text(i, value));
        g.push(format!("set {p} = '{value}'"), e);
    }

    charge_indicator_flips(&mut g);
    supplier_vat_prefix(&mut g);
    vat_categories(&mut g);
    tax_currency(&mut g);
    inserted_allowances(&mut g);
    line_ids(&mut g);
    discouraged_elements(&mut g);
    allowances_and_charges(&mut g);
    cardinality_rules(&mut g);
    periods_and_identifiers(&mut g);
    g.out
}

/// Edits aimed at the allowance/charge rules, per kind: document-level allowance,
/// document-level charge, line allowance, line charge (classified by ChargeIndicator).
fn allowances_and_charges(g: &mut Gen) {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for (prefix, pattern) in
        [("document-level", "/cac:AllowanceCharge"), ("line", "/LINE/cac:AllowanceCharge")]
    {
        let acs = g.doc.find(pattern);
        for (indicator, name) in [("false", "allowance"), ("true", "charge")] {
            let first = acs.iter().copied().find(|&ac| {
                child(&g.doc, ac, "ChargeIndicator").and_then(|c| g.doc.text(c)).map(str::trim)
                    == Some(indicator)
            });
            if let Some(ac) = first {
                kinds.push((
                    if prefix == "line" {
                        if name == "allowance" { "line allowance" } else { "line charge" }
                    } else if name == "allowance" {
                        "document-level allowance"
                    } else {
                        "document-level charge"
                    },
                    ac,
                ));
            }
        }
    }
    for (what, ac) in kinds {
        if let Some(a) = child(&g.doc, ac, "Amount") {
            let e = g.doc.remove(a);
            g.push(format!("remove cbc:Amount of the first {what}"), Some(e));
            if let Some(v) = g.doc.text(a).and_then(with_three_decimals) {
                let e = g.doc.set_text(a, &v);
                g.push(format!("cbc:Amount with three decimals (same value) in the first {what}"), Some(e));
            }
        }
        match child(&g.doc, ac, "BaseAmount") {
            Some(b) => {
                if let Some(v) = g.doc.text(b).and_then(with_three_decimals) {
                    let e = g.doc.set_text(b, &v);
                    g.push(
                        format!("cbc:BaseAmount with three decimals (same value) in the first {what}"),
                        Some(e),
                    );
                }
            }
            None => {
                if let Some(a) = child(&g.doc, ac, "Amount") {
                    let cur =
                        g.doc.attr(a, "currencyID").map(|x| g.src[x.value_start..x.value_end].to_string());
                    let base = match (g.doc.prefix_for(NS_CBC), cur) {
                        (Some(p), Some(c)) => {
                            format!("<{p}:BaseAmount currencyID=\"{c}\">100.000</{p}:BaseAmount>")
                        }
                        _ => continue,
                    };
                    let e = g.doc.insert_after(a, &base);
                    g.push(format!("add a cbc:BaseAmount with three decimals to the first {what}"), Some(e));
                }
            }
        }
        let reasons: Vec<usize> = g.doc.els[ac]
            .children
            .iter()
            .copied()
            .filter(|&c| {
                matches!(g.doc.els[c].local.as_str(), "AllowanceChargeReason" | "AllowanceChargeReasonCode")
            })
            .collect();
        if !reasons.is_empty() {
            let e = reasons.iter().fold(Edit::new(), |e, &r| e.and(g.doc.remove(r)));
            g.push(format!("remove the reason and reason code of the first {what}"), Some(e));
        }
        if let Some(tc) = child(&g.doc, ac, "TaxCategory") {
            let e = g.doc.remove(tc);
            g.push(format!("remove cac:TaxCategory of the first {what}"), Some(e));
            if let Some(id) = child(&g.doc, tc, "ID") {
                for cat in VAT_CATEGORIES {
                    if g.doc.text(id).map(str::trim) != Some(cat) {
                        let e = g.doc.set_text(id, cat);
                        g.push(
                            format!("VAT category of the first {what} = '{cat}' (rate unchanged)"),
                            Some(e),
                        );
                    }
                }
            }
        }
    }
}

/// `count(path) <= 1` rules (UBL-SR): the first element at `path` duplicated, found from
/// the rules themselves (predicates in the path are ignored).
fn cardinality_rules(g: &mut Gen) {
    for (id, path) in cardinality_paths() {
        if let Some(i) = g.first(path) {
            let e = g.doc.duplicate(i);
            g.push(format!("duplicate {path} (at most once, {id})"), Some(e));
            continue;
        }
        // Absent: add it twice below its deepest existing ancestor.
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut k = segments.len() - 1;
        let anchor = loop {
            if k == 0 {
                break Some((0, 0));
            }
            let prefix = format!("/{}", segments[..k].join("/"));
            if let Some(i) = g.doc.first(&prefix) {
                break Some((i, k));
            }
            if segments[k - 1] == "LINE" {
                break None;
            }
            k -= 1;
        };
        let Some((parent, k)) = anchor else { continue };
        let Some(subtree) = nested_elements(&g.doc, &segments[k..]) else { continue };
        let Some(&last) = g.doc.els[parent].children.last() else { continue };
        let e = g.doc.insert_after(last, &format!("{subtree}{subtree}"));
        g.push(format!("add {path} twice (at most once, {id})"), Some(e));
    }
}

/// `<cac:A><cbc:B>1</cbc:B></cac:A>` for the path segments `cac:A`, `cbc:B`.
fn nested_elements(doc: &Doc, segments: &[&str]) -> Option<String> {
    let (first, rest) = segments.split_first()?;
    let (prefix, local) = first.split_once(':')?;
    let ns = match prefix {
        "cbc" => NS_CBC,
        "cac" => NS_CAC,
        _ => return None,
    };
    let p = doc.prefix_for(ns)?;
    let inner = if rest.is_empty() { "1".to_string() } else { nested_elements(doc, rest)? };
    Some(format!("<{p}:{local}>{inner}</{p}:{local}>"))
}

fn cardinality_paths() -> &'static [(String, String)] {
    static PATHS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    PATHS.get_or_init(|| {
        let rules: serde_json::Value =
            serde_json::from_str(crate::oracle::EN16931_RULES_JSON).unwrap_or_default();
        let mut out = Vec::new();
        for a in rules["asserts"].as_array().into_iter().flatten() {
            let (Some(id), Some(test), Some(ctx)) =
                (a["id"].as_str(), a["test"].as_str(), a["context"].as_str())
            else {
                continue;
            };
            if !id.starts_with("UBL-SR") {
                continue;
            }
            let t = test.trim().trim_start_matches('(');
            let Some(inner) = t.strip_prefix("count(") else { continue };
            let Some(close) = inner.find(") <=").or_else(|| inner.find(")<=")) else { continue };
            let raw = &inner[..close];
            if raw.contains('@') || raw.starts_with('/') {
                continue;
            }
            let path = strip_predicates(raw);
            if !path.chars().all(|c| c.is_alphanumeric() || ":/".contains(c)) {
                continue;
            }
            let base = match ctx {
                "/ubl:Invoice | /cn:CreditNote" => String::new(),
                "cac:InvoiceLine | cac:CreditNoteLine" => "/LINE".to_string(),
                c if c.chars().all(|c| c.is_alphanumeric() || ":/".contains(c)) => c.to_string(),
                _ => continue,
            };
            let full = if base.is_empty() { format!("/{path}") } else { format!("{base}/{path}") };
            out.push((id.to_string(), full));
        }
        out
    })
}

fn strip_predicates(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Invoice periods without dates, BT-7 with BT-8, a seller without any identifier, VAT
/// categories with the seller's VAT identifier removed.
fn periods_and_identifiers(g: &mut Gen) {
    for (what, period) in [("document", "/cac:InvoicePeriod"), ("line", "/LINE/cac:InvoicePeriod")] {
        if let Some(p) = g.first(period) {
            let dates: Vec<usize> = g.doc.els[p]
                .children
                .iter()
                .copied()
                .filter(|&c| matches!(g.doc.els[c].local.as_str(), "StartDate" | "EndDate"))
                .collect();
            if !dates.is_empty() {
                let e = dates.iter().fold(Edit::new(), |e, &d| e.and(g.doc.remove(d)));
                g.push(format!("remove the start and end dates of the {what} invoice period"), Some(e));
            }
        }
    }
    // BR-CO-03: tax point date and invoice period description code together.
    if let (Some(issue), Some(period)) = (g.first("/cbc:IssueDate"), g.first("/cac:InvoicePeriod")) {
        let has_code = g.doc.els[period].children.iter().any(|&c| g.doc.els[c].local == "DescriptionCode");
        let mut e = Edit::new();
        if g.first("/cbc:TaxPointDate").is_none() {
            e = e.and(g.doc.insert_after(issue, &g.doc.new_element(NS_CBC, "TaxPointDate", "2017-12-01")));
        }
        if !has_code {
            if let Some(&last) = g.doc.els[period].children.last() {
                e = e.and(g.doc.insert_after(last, &g.doc.new_element(NS_CBC, "DescriptionCode", "35")));
            }
        }
        g.push("add cbc:TaxPointDate and cac:InvoicePeriod/cbc:DescriptionCode".to_string(), Some(e));
    }
    // BR-CO-26: no seller VAT identifier, legal registration identifier nor identifier.
    let ids: Vec<usize> = [
        format!("{SUP}/cac:PartyTaxScheme"),
        format!("{SUP}/cac:PartyIdentification"),
        format!("{SUP}/cac:PartyLegalEntity/cbc:CompanyID"),
    ]
    .iter()
    .flat_map(|p| g.doc.find(p))
    .collect();
    if !ids.is_empty() {
        let e = ids.iter().fold(Edit::new(), |e, &i| e.and(g.doc.remove(i)));
        g.push("remove every seller identifier (VAT, legal, party)".to_string(), Some(e));
    }
    // xx-02..04 of the VAT category rules: the category everywhere, no seller VAT id.
    let schemes = g.doc.find(&format!("{SUP}/cac:PartyTaxScheme"));
    if let (Some(&_), Some(line_id)) = (schemes.first(), g.first(&format!("{LINE_CAT}/cbc:ID"))) {
        let tax_total = g.first("/cac:TaxTotal");
        let (cac, cbc) = (g.doc.prefix_for(NS_CAC), g.doc.prefix_for(NS_CBC));
        let cur = g
            .first("/cbc:DocumentCurrencyCode")
            .and_then(|i| g.doc.text(i))
            .unwrap_or("EUR")
            .trim()
            .to_string();
        for cat in VAT_CATEGORIES {
            let mut e = schemes.iter().fold(Edit::new(), |e, &i| e.and(g.doc.remove(i)));
            e = e.and(g.doc.set_text(line_id, cat));
            for ac in g.doc.find("/cac:AllowanceCharge/cac:TaxCategory/cbc:ID") {
                e = e.and(g.doc.set_text(ac, cat));
            }
            // An allowance and a charge in the category, so that the allowance and charge
            // rules of the category apply whatever the document has.
            if let (Some(tt), Some(cac), Some(cbc)) = (tax_total, &cac, &cbc) {
                let ac = |indicator: &str, code: &str| {
                    format!(
                        "<{cac}:AllowanceCharge><{cbc}:ChargeIndicator>{indicator}</{cbc}:ChargeIndicator>\
                         <{cbc}:AllowanceChargeReasonCode>{code}</{cbc}:AllowanceChargeReasonCode>\
                         <{cbc}:Amount currencyID=\"{cur}\">1.00</{cbc}:Amount><{cac}:TaxCategory><{cbc}:ID>{cat}</{cbc}:ID>\
                         <{cbc}:Percent>10</{cbc}:Percent><{cac}:TaxScheme><{cbc}:ID>VAT</{cbc}:ID></{cac}:TaxScheme>\
                         </{cac}:TaxCategory></{cac}:AllowanceCharge>"
                    )
                };
                e = e.and(g.doc.insert_before(tt, &format!("{}{}", ac("false", "95"), ac("true", "FC"))));
            }
            g.push(format!("VAT category '{cat}' on the first line and on document allowances/charges (one of each added, rate 10), no seller VAT identifier"), Some(e));
        }
    }
}

/// The UBL-CR warnings of the EN 16931 rules (`not(path)` on the document element) as
/// (rule id, parent path, qualified name of the element to add), normalised like
/// [`crate::xmlspan::El::path`].
fn discouraged_paths() -> &'static [(String, String, String)] {
    static PATHS: std::sync::OnceLock<Vec<(String, String, String)>> = std::sync::OnceLock::new();
    PATHS.get_or_init(|| {
        let rules: serde_json::Value =
            serde_json::from_str(crate::oracle::EN16931_RULES_JSON).unwrap_or_default();
        let mut out = Vec::new();
        for a in rules["asserts"].as_array().into_iter().flatten() {
            let (Some(id), Some(test)) = (a["id"].as_str(), a["test"].as_str()) else { continue };
            if !id.starts_with("UBL-CR") {
                continue;
            }
            let Some(path) = test.trim().strip_prefix("not(").and_then(|t| t.strip_suffix(')')) else {
                continue;
            };
            let path = path.replace("(cac:InvoiceLine|cac:CreditNoteLine)", "LINE");
            if !path.chars().all(|c| c.is_alphanumeric() || ":/".contains(c)) {
                continue;
            }
            let (parent, leaf) = match path.rsplit_once('/') {
                Some((p, l)) => (format!("/{p}"), l.to_string()),
                None => (String::new(), path.clone()),
            };
            out.push((id.to_string(), parent, leaf));
        }
        out
    })
}

/// Elements the EN 16931 UBL binding does not use (UBL-CR warnings), added where their
/// parent exists; one per parent path (the first UBL-CR rule in rule order), to keep the
/// count down.
fn discouraged_elements(g: &mut Gen) {
    let mut parents_done = HashSet::new();
    for (id, parent, leaf) in discouraged_paths() {
        if parents_done.contains(parent) {
            continue;
        }
        let parent_el = if parent.is_empty() { Some(0) } else { g.doc.first(parent) };
        let Some(p) = parent_el else { continue };
        let Some((prefix, local)) = leaf.split_once(':') else { continue };
        let ns = match prefix {
            "cbc" => NS_CBC,
            "cac" => NS_CAC,
            "ext" => crate::xmlspan::NS_EXT,
            _ => continue,
        };
        let already =
            g.doc.els[p].children.iter().any(|&c| g.doc.els[c].ns == ns && g.doc.els[c].local == local);
        if already {
            continue;
        }
        let el = g.doc.new_element(ns, local, "1");
        let e = match g.doc.els[p].children.last() {
            Some(&last) => g.doc.insert_after(last, &el),
            None => continue,
        };
        parents_done.insert(parent.clone());
        g.push(format!("add {parent}/{leaf} (discouraged, {id})"), Some(e));
    }
}

fn charge_indicator_flips(g: &mut Gen) {
    for t in ["/cac:AllowanceCharge/cbc:ChargeIndicator", "/LINE/cac:AllowanceCharge/cbc:ChargeIndicator"] {
        if let Some(i) = g.first(t) {
            let flipped = match g.doc.text(i).map(str::trim) {
                Some("true") => "false",
                Some("false") => "true",
                _ => continue,
            };
            let e = g.doc.set_text(i, flipped);
            g.push(format!("flip {t}"), Some(e));
        }
    }
}

fn supplier_vat_prefix(g: &mut Gen) {
    for party in [SUP, CUS] {
        let t = format!("{party}/cac:PartyTaxScheme/cbc:CompanyID");
        if let Some(i) = g.first(&t) {
            if let Some(v) = g.leaf_text(i) {
                let v = v.trim();
                if v.len() > 2 && v.is_char_boundary(2) && v[..2].chars().all(|c| c.is_ascii_alphabetic()) {
                    let e = g.doc.set_text(i, &v[2..]);
                    g.push(format!("strip country prefix {t}"), Some(e));
                }
            }
        }
    }
}

/// Inserts `<cbc:TaxExemptionReason>` into the tax category element `cat` (before its
/// `cac:TaxScheme`, as UBL orders it), unless it has one.
fn add_exemption_reason(doc: &Doc, cat: usize) -> Option<Edit> {
    let children = &doc.els[cat].children;
    if children
        .iter()
        .any(|&c| doc.els[c].local == "TaxExemptionReason" || doc.els[c].local == "TaxExemptionReasonCode")
    {
        return None;
    }
    let reason = doc.new_element(NS_CBC, "TaxExemptionReason", "Exempt");
    match children.iter().copied().find(|&c| doc.els[c].local == "TaxScheme") {
        Some(scheme) => Some(doc.insert_before(scheme, &reason)),
        None => children.last().map(|&c| doc.insert_after(c, &reason)),
    }
}

fn child(doc: &Doc, parent: usize, local: &str) -> Option<usize> {
    doc.els[parent].children.iter().copied().find(|&c| doc.els[c].local == local)
}

/// VAT category changes: on the first line only, on the first subtotal only (with and
/// without an exemption reason), and everywhere at once (lines, subtotals, allowances and
/// charges, with rates, tax amounts and exemption reasons adjusted).
fn vat_categories(g: &mut Gen) {
    let line_cat_id = g.first(&format!("{LINE_CAT}/cbc:ID"));
    let sub_cat = g.first(SUB_CAT);
    let sub_cat_id = sub_cat.and_then(|c| child(&g.doc, c, "ID"));
    for cat in VAT_CATEGORIES {
        if let Some(i) = line_cat_id {
            if g.doc.text(i).map(str::trim) != Some(cat) {
                let e = g.doc.set_text(i, cat);
                g.push(format!("VAT category {LINE_CAT}/cbc:ID = '{cat}'"), Some(e));
            }
        }
        if let (Some(c), Some(i)) = (sub_cat, sub_cat_id) {
            if g.doc.text(i).map(str::trim) != Some(cat) {
                let e = g.doc.set_text(i, cat);
                g.push(format!("VAT category {SUB_CAT}/cbc:ID = '{cat}'"), Some(e));
                let e = add_exemption_reason(&g.doc, c).map(|r| r.and(g.doc.set_text(i, cat)));
                g.push(format!("VAT category {SUB_CAT}/cbc:ID = '{cat}' with an exemption reason"), e);
            } else {
                let e = add_exemption_reason(&g.doc, c);
                g.push(format!("exemption reason added to {SUB_CAT} (category '{cat}')"), e);
            }
        }
        whole_document_category(g, cat);
    }
}

fn whole_document_category(g: &mut Gen, cat: &str) {
    let doc = &g.doc;
    let zero_rate = matches!(cat, "Z" | "E" | "AE" | "K" | "G" | "O");
    let needs_reason = matches!(cat, "E" | "AE" | "K" | "G" | "O");
    let mut edit = Edit::new();
    let mut changed = false;
    let categories: Vec<(usize, bool)> = doc
        .els
        .iter()
        .enumerate()
        .filter(|(_, el)| {
            el.ns == NS_CAC && (el.local == "TaxCategory" || el.local == "ClassifiedTaxCategory")
        })
        .map(|(i, el)| (i, el.path.starts_with(SUB)))
        .collect();
    if categories.is_empty() {
        return;
    }
    for (c, in_subtotal) in categories {
        let Some(id) = child(doc, c, "ID") else { return };
        if doc.text(id).map(str::trim) != Some(cat) {
            changed = true;
        }
        edit = edit.and(doc.set_text(id, cat));
        if zero_rate {
            if let Some(p) = child(doc, c, "Percent") {
                edit = edit.and(if cat == "O" { doc.remove(p) } else { doc.set_text(p, "0") });
            }
        }
        if needs_reason && in_subtotal {
            if let Some(r) = add_exemption_reason(doc, c) {
                edit = edit.and(r);
            }
        }
    }
    if zero_rate {
        for t in [format!("{SUB}/cbc:TaxAmount"), "/cac:TaxTotal/cbc:TaxAmount".to_string()] {
            for i in doc.find(&t) {
                if doc.text(i).is_some_and(|v| parse_decimal(v).is_some()) {
                    edit = edit.and(doc.set_text(i, "0.00"));
                }
            }
        }
    }
    if changed {
        g.push(
            format!("VAT category '{cat}' everywhere (rates, tax amounts, exemption reasons adjusted)"),
            Some(edit),
        );
    }
}

fn tax_currency(g: &mut Gen) {
    let Some(dc) = g.first("/cbc:DocumentCurrencyCode") else { return };
    let doc_cur = g.doc.text(dc).unwrap_or("").trim().to_string();
    let other = if doc_cur == "SEK" { "NOK" } else { "SEK" };
    match g.first("/cbc:TaxCurrencyCode") {
        None => {
            let el = g.doc.new_element(NS_CBC, "TaxCurrencyCode", other);
            let e = g.doc.insert_after(dc, &el);
            g.push(format!("add /cbc:TaxCurrencyCode = '{other}' (no TaxTotal in it)"), Some(e));
            let el = g.doc.new_element(NS_CBC, "TaxCurrencyCode", "QQQ");
            let e = g.doc.insert_after(dc, &el);
            g.push("add /cbc:TaxCurrencyCode = 'QQQ'".to_string(), Some(e));
            let el = g.doc.new_element(NS_CBC, "TaxCurrencyCode", &doc_cur);
            let e = g.doc.insert_after(dc, &el);
            g.push("add /cbc:TaxCurrencyCode = document currency".to_string(), Some(e));
            // With a second TaxTotal in the tax currency (a consistent BT-6/BT-111 pair).
            if let Some(tt) = g.first("/cac:TaxTotal") {
                let amount = g
                    .first("/cac:TaxTotal/cbc:TaxAmount")
                    .and_then(|a| g.doc.text(a))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| "0.00".into());
                let q = g.doc.prefix_for(NS_CAC).zip(g.doc.prefix_for(NS_CBC));
                if let Some((cac, cbc)) = q {
                    let second = format!(
                        "<{cac}:TaxTotal><{cbc}:TaxAmount currencyID=\"{other}\">{amount}</{cbc}:TaxAmount></{cac}:TaxTotal>"
                    );
                    let el = g.doc.new_element(NS_CBC, "TaxCurrencyCode", other);
                    let e = g.doc.insert_after(dc, &el).and(g.doc.insert_after(tt, &second));
                    g.push(format!("add /cbc:TaxCurrencyCode = '{other}' and a TaxTotal in it"), Some(e));
                }
            }
        }
        Some(tc) => {
            let e = g.doc.set_text(tc, &doc_cur);
            g.push("set /cbc:TaxCurrencyCode = document currency".to_string(), Some(e));
            let tax_cur = g.doc.text(tc).unwrap_or("").trim().to_string();
            let totals = g.doc.find("/cac:TaxTotal");
            for t in totals {
                let amount = child(&g.doc, t, "TaxAmount");
                let in_tax_cur = amount
                    .and_then(|a| g.doc.attr(a, "currencyID"))
                    .is_some_and(|a| g.src[a.value_start..a.value_end].trim() == tax_cur);
                if in_tax_cur {
                    let e = g.doc.remove(t);
                    g.push("remove the TaxTotal in the tax currency".to_string(), Some(e));
                    if let Some(a) = amount {
                        if let Some(v) = g.doc.text(a).and_then(|v| add_decimal(v, 1, 2)) {
                            let e = g.doc.set_text(a, &v);
                            g.push(
                                "amount +0.01 TaxTotal/cbc:TaxAmount in the tax currency".to_string(),
                                Some(e),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Document-level allowances and charges inserted before the first `cac:TaxTotal`.
fn inserted_allowances(g: &mut Gen) {
    let Some(tt) = g.first("/cac:TaxTotal") else { return };
    let (Some(cac), Some(cbc)) = (g.doc.prefix_for(NS_CAC), g.doc.prefix_for(NS_CBC)) else { return };
    let cur =
        g.first("/cbc:DocumentCurrencyCode").and_then(|i| g.doc.text(i)).unwrap_or("EUR").trim().to_string();
    let cat =
        g.first(&format!("{SUB_CAT}/cbc:ID")).and_then(|i| g.doc.text(i)).unwrap_or("S").trim().to_string();
    let pct = g
        .first(&format!("{SUB_CAT}/cbc:Percent"))
        .and_then(|i| g.doc.text(i))
        .map(|p| format!("<{cbc}:Percent>{}</{cbc}:Percent>", p.trim()))
        .unwrap_or_default();
    let tax_cat = format!(
        "<{cac}:TaxCategory><{cbc}:ID>{cat}</{cbc}:ID>{pct}<{cac}:TaxScheme><{cbc}:ID>VAT</{cbc}:ID></{cac}:TaxScheme></{cac}:TaxCategory>"
    );
    let variants = [
        (
            "insert a document-level allowance without reason and VAT category",
            format!(
                "<{cac}:AllowanceCharge><{cbc}:ChargeIndicator>false</{cbc}:ChargeIndicator><{cbc}:Amount currencyID=\"{cur}\">1.00</{cbc}:Amount></{cac}:AllowanceCharge>"
            ),
        ),
        (
            "insert a document-level allowance with reason and the first VAT category (totals unchanged)",
            format!(
                "<{cac}:AllowanceCharge><{cbc}:ChargeIndicator>false</{cbc}:ChargeIndicator><{cbc}:AllowanceChargeReasonCode>95</{cbc}:AllowanceChargeReasonCode><{cbc}:AllowanceChargeReason>Discount</{cbc}:AllowanceChargeReason><{cbc}:Amount currencyID=\"{cur}\">1.00</{cbc}:Amount>{tax_cat}</{cac}:AllowanceCharge>"
            ),
        ),
        (
            "insert a document-level charge with reason and the first VAT category (totals unchanged)",
            format!(
                "<{cac}:AllowanceCharge><{cbc}:ChargeIndicator>true</{cbc}:ChargeIndicator><{cbc}:AllowanceChargeReasonCode>FC</{cbc}:AllowanceChargeReasonCode><{cbc}:AllowanceChargeReason>Freight</{cbc}:AllowanceChargeReason><{cbc}:Amount currencyID=\"{cur}\">1.00</{cbc}:Amount>{tax_cat}</{cac}:AllowanceCharge>"
            ),
        ),
        (
            "insert a document-level charge with an invalid reason code and a base amount with three decimals",
            format!(
                "<{cac}:AllowanceCharge><{cbc}:ChargeIndicator>true</{cbc}:ChargeIndicator><{cbc}:AllowanceChargeReasonCode>95</{cbc}:AllowanceChargeReasonCode><{cbc}:MultiplierFactorNumeric>10</{cbc}:MultiplierFactorNumeric><{cbc}:Amount currencyID=\"{cur}\">1.00</{cbc}:Amount><{cbc}:BaseAmount currencyID=\"{cur}\">10.000</{cbc}:BaseAmount>{tax_cat}</{cac}:AllowanceCharge>"
            ),
        ),
    ];
    for (desc, xml) in variants {
        let e = g.doc.insert_before(tt, &xml);
        g.push(desc.to_string(), Some(e));
    }
}

/// Two lines with the same identifier.
fn line_ids(g: &mut Gen) {
    let lines = g.lines();
    if lines.len() >= 2 {
        let (a, b) = (child(&g.doc, lines[0], "ID"), child(&g.doc, lines[1], "ID"));
        if let (Some(a), Some(b)) = (a, b) {
            if let Some(v) = g.leaf_text(a) {
                let e = g.doc.set_text(b, v.trim());
                g.push("second line gets the first line's cbc:ID".to_string(), Some(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(add_decimal("100", 1, 2).as_deref(), Some("100.01"));
        assert_eq!(add_decimal("-0.005", 1, 2).as_deref(), Some("0.005"));
        assert_eq!(add_decimal("  12.5 ", -1, 2).as_deref(), Some("12.49"));
        assert_eq!(add_decimal("0.00", -1, 2).as_deref(), Some("-0.01"));
        assert_eq!(with_three_decimals("12.5").as_deref(), Some("12.500"));
        assert_eq!(with_three_decimals("12.500"), None);
        assert_eq!(parse_decimal("abc"), None);
    }

    #[test]
    fn simple_document() {
        let xml = r#"<?xml version="1.0"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
  <cbc:ID>1</cbc:ID>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:LegalMonetaryTotal>
    <cbc:PayableAmount currencyID="EUR">10.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine><cbc:ID/></cac:InvoiceLine>
</Invoice>"#;
        let m = mutations(xml);
        let get = |d: &str| m.iter().find(|m| m.description == d).map(|m| m.xml.as_str());
        assert!(get("remove /cbc:ID").is_some_and(|x| !x.contains("<cbc:ID>1")));
        assert!(
            get("amount +0.01 /cac:LegalMonetaryTotal/cbc:PayableAmount")
                .is_some_and(|x| x.contains(">10.01<"))
        );
        assert!(
            get("spaces around attribute /cac:LegalMonetaryTotal/cbc:PayableAmount/@currencyID")
                .is_some_and(|x| x.contains("currencyID=\" EUR \""))
        );
        assert!(get("duplicate /cbc:ID").is_some_and(|x| x.matches("<cbc:ID>1</cbc:ID>").count() == 2));
        assert!(
            get("remove /LINE/cbc:ID").is_some_and(|x| x.contains("<cac:InvoiceLine></cac:InvoiceLine>"))
        );
        assert!(
            get("add /cbc:TaxCurrencyCode = 'SEK' (no TaxTotal in it)")
                .is_some_and(|x| x.contains("<cbc:TaxCurrencyCode>SEK</cbc:TaxCurrencyCode>"))
        );
        for m in &m {
            assert!(Doc::parse(&m.xml).is_ok(), "{}", m.description);
        }
    }
}
