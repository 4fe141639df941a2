//! The typed UBL 2.1 invoice model (EN 16931 / Peppol BIS Billing 3.0 usage).
//!
//! [`Invoice::from_document`] reads a UBL `Invoice` or `CreditNote` from a hardened [`Document`]
//! into plain owned structs that the matching, journal and batching stages work with. Reading is
//! tolerant where EN 16931 allows absence (optional data becomes `None` or an empty list) and
//! strict where a wrong value would reach the books: money, quantities and dates are checked
//! against their lexical forms and refused with the element's location. Business-rule checks
//! (BR-xx, totals that do not add up) are not done here.
//!
//! Embedded attachments keep their base64 text: decoding is left to [`Attachment::decode`], so a
//! multi-megabyte PDF costs nothing until somebody asks for it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::xml::Document;

mod attachment;
mod read;
#[cfg(test)]
mod tests;

pub use attachment::MAX_FILENAME_CHARS;

/// Which UBL document the invoice was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

/// An invoice or credit note. Business terms (BT-n) refer to EN 16931.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub kind: DocumentKind,
    /// BT-24.
    pub customization_id: Option<String>,
    /// BT-23.
    pub profile_id: Option<String>,
    /// BT-1.
    pub number: String,
    /// BT-2.
    pub issue_date: NaiveDate,
    /// BT-9. Invoice: `cbc:DueDate`; CreditNote: `cac:PaymentMeans/cbc:PaymentDueDate` (the first
    /// one given).
    pub due_date: Option<NaiveDate>,
    /// BT-7.
    pub tax_point_date: Option<NaiveDate>,
    /// BT-3: `cbc:InvoiceTypeCode` or `cbc:CreditNoteTypeCode`.
    pub type_code: String,
    /// BT-5.
    pub currency: String,
    /// BT-6.
    pub tax_currency: Option<String>,
    /// BT-10.
    pub buyer_reference: Option<String>,
    /// BT-19.
    pub accounting_cost: Option<String>,
    /// BT-22.
    pub notes: Vec<String>,
    /// BG-14.
    pub invoice_period: Option<Period>,
    /// BT-13: `cac:OrderReference/cbc:ID`.
    pub order_reference: Option<String>,
    /// BT-14: `cac:OrderReference/cbc:SalesOrderID`.
    pub sales_order_reference: Option<String>,
    /// BG-3.
    pub billing_references: Vec<BillingReference>,
    /// BT-16.
    pub despatch_reference: Option<String>,
    /// BT-15.
    pub receipt_reference: Option<String>,
    /// BT-12.
    pub contract_reference: Option<String>,
    /// BT-11: `cac:ProjectReference/cbc:ID`; in a CreditNote, which has no such element, the
    /// `cac:AdditionalDocumentReference` with `cbc:DocumentTypeCode` 50 (it stays in `attachments`).
    pub project_reference: Option<String>,
    /// BG-4: `cac:AccountingSupplierParty/cac:Party`.
    pub seller: Party,
    /// BG-7: `cac:AccountingCustomerParty/cac:Party`.
    pub buyer: Party,
    /// BG-10.
    pub payee: Option<Party>,
    /// BG-11.
    pub tax_representative: Option<Party>,
    /// BG-13.
    pub delivery: Option<Delivery>,
    /// BG-16.
    pub payment_means: Vec<PaymentMeans>,
    /// BT-20: the notes of `cac:PaymentTerms`, joined by newlines.
    pub payment_terms: Option<String>,
    /// BG-20 / BG-21: document-level allowances and charges.
    pub allowances_charges: Vec<AllowanceCharge>,
    /// BT-110: the `cac:TaxTotal/cbc:TaxAmount` in the document currency.
    pub tax_total: Option<Decimal>,
    /// BT-111: the `cac:TaxTotal/cbc:TaxAmount` in the tax currency.
    pub tax_total_in_tax_currency: Option<Decimal>,
    /// BG-23: the `cac:TaxSubtotal`s of the TaxTotal in the document currency.
    pub vat_breakdown: Vec<VatSubtotal>,
    /// BG-22.
    pub totals: MonetaryTotal,
    /// BG-25.
    pub lines: Vec<Line>,
    /// BG-24: every `cac:AdditionalDocumentReference`, in order. Those with `type_code` "130"
    /// carry the invoiced object identifier (BT-18) and those with "50" (credit notes) the project
    /// reference rather than a supporting document.
    pub attachments: Vec<DocumentReference>,
}

/// BG-14 / BG-26: a period, as far as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    /// BT-8 (UNTDID 2005 code).
    pub description_code: Option<String>,
}

/// BG-3: a preceding invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingReference {
    /// BT-25.
    pub id: String,
    /// BT-26.
    pub issue_date: Option<NaiveDate>,
}

/// An identifier with its optional scheme (`schemeID`, or `listID` for classifications).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    pub value: String,
    pub scheme: Option<String>,
}

/// A party (seller, buyer, payee, tax representative). Every field is optional: the model does
/// not enforce the BR rules, and a party may be nearly empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// `cbc:EndpointID` (BT-34 / BT-49).
    pub endpoint: Option<Identifier>,
    /// `cac:PartyIdentification/cbc:ID` (BT-29 / BT-46 / BT-60).
    pub identifiers: Vec<Identifier>,
    /// `cac:PartyName/cbc:Name`: the trading name (BT-28 / BT-45).
    pub name: Option<String>,
    /// `cac:PartyLegalEntity/cbc:RegistrationName` (BT-27 / BT-44).
    pub registration_name: Option<String>,
    /// `cac:PartyTaxScheme/cbc:CompanyID` whose tax scheme is VAT (BT-31 / BT-48 / BT-63).
    pub vat_id: Option<String>,
    /// `cac:PartyTaxScheme/cbc:CompanyID` of another tax scheme (BT-32).
    pub tax_registration_id: Option<String>,
    /// `cac:PartyLegalEntity/cbc:CompanyID` (BT-30 / BT-47 / BT-61).
    pub legal_id: Option<Identifier>,
    /// `cac:PartyLegalEntity/cbc:CompanyLegalForm` (BT-33).
    pub legal_form: Option<String>,
    pub address: Option<Address>,
    pub contact: Option<Contact>,
}

impl Party {
    /// The registration (legal) name, else the trading name, else "".
    pub fn display_name(&self) -> &str {
        self.registration_name.as_deref().or(self.name.as_deref()).unwrap_or("")
    }
}

/// A postal address (BG-5 / BG-8 / BG-12 / BG-15).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: Option<String>,
    pub additional_street: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub subdivision: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
}

/// BG-6 / BG-9.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub telephone: Option<String>,
    pub email: Option<String>,
}

/// BG-13: delivery information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// BT-72.
    pub date: Option<NaiveDate>,
    /// BT-71.
    pub location_id: Option<Identifier>,
    /// BG-15.
    pub address: Option<Address>,
    /// BT-70.
    pub party_name: Option<String>,
}

/// BG-16: one means of payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMeans {
    /// BT-81 (UNCL 4461), e.g. "30" credit transfer, "58" SEPA credit transfer.
    pub code: String,
    /// BT-82: the code's `name` attribute.
    pub name: Option<String>,
    /// BT-83: remittance information.
    pub payment_id: Option<String>,
    /// BT-84: IBAN or account number.
    pub account_id: Option<String>,
    /// BT-85.
    pub account_name: Option<String>,
    /// BT-86: BIC.
    pub financial_institution: Option<String>,
    /// BT-87: the card's primary account number (as given, usually masked).
    pub card_number: Option<String>,
    /// BT-89: direct debit mandate.
    pub mandate_id: Option<String>,
}

/// BG-20 / BG-21 / BG-27 / BG-28: an allowance (discount) or a charge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowanceCharge {
    pub is_charge: bool,
    pub amount: Decimal,
    pub base_amount: Option<Decimal>,
    pub percentage: Option<Decimal>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    /// Document level only: the VAT category the allowance or charge falls under.
    pub vat: Option<VatCategory>,
}

/// A VAT category (UNCL 5305 code) with its rate and exemption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VatCategory {
    /// "S", "Z", "E", "AE", "K", "G", "O", "L", "M" or "B".
    pub code: String,
    pub rate: Option<Decimal>,
    pub exemption_reason: Option<String>,
    pub exemption_reason_code: Option<String>,
}

/// BG-23: one VAT breakdown row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VatSubtotal {
    /// BT-116.
    pub taxable_amount: Decimal,
    /// BT-117.
    pub tax_amount: Decimal,
    pub category: VatCategory,
}

/// BG-22: `cac:LegalMonetaryTotal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonetaryTotal {
    /// BT-106.
    pub line_extension: Decimal,
    /// BT-109.
    pub tax_exclusive: Decimal,
    /// BT-112.
    pub tax_inclusive: Decimal,
    /// BT-107.
    pub allowance_total: Option<Decimal>,
    /// BT-108.
    pub charge_total: Option<Decimal>,
    /// BT-113.
    pub prepaid: Option<Decimal>,
    /// BT-114.
    pub rounding: Option<Decimal>,
    /// BT-115.
    pub payable: Decimal,
}

/// BG-25: an `cac:InvoiceLine` or `cac:CreditNoteLine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// BT-126.
    pub id: String,
    /// BT-129: `cbc:InvoicedQuantity` or `cbc:CreditedQuantity`.
    pub quantity: Decimal,
    /// BT-130: the quantity's `unitCode`.
    pub unit_code: Option<String>,
    /// BT-131: `cbc:LineExtensionAmount`.
    pub net_amount: Decimal,
    /// BT-133.
    pub accounting_cost: Option<String>,
    /// BT-127.
    pub note: Option<String>,
    /// BT-132: `cac:OrderLineReference/cbc:LineID`.
    pub order_line_reference: Option<String>,
    /// BG-26.
    pub period: Option<Period>,
    pub item: Item,
    pub price: Price,
    /// BG-27 / BG-28.
    pub allowances_charges: Vec<AllowanceCharge>,
    /// BG-30: `cac:Item/cac:ClassifiedTaxCategory`.
    pub vat: VatCategory,
}

/// BG-31: the item of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// BT-153.
    pub name: String,
    /// BT-154.
    pub description: Option<String>,
    /// BT-155.
    pub sellers_id: Option<String>,
    /// BT-156.
    pub buyers_id: Option<String>,
    /// BT-157 (scheme = `schemeID`, e.g. "0160" for GTIN).
    pub standard_id: Option<Identifier>,
    /// BT-158 (scheme = `listID`, e.g. "STI").
    pub classifications: Vec<Identifier>,
    /// BT-159.
    pub origin_country: Option<String>,
    /// BG-32: (name, value) pairs.
    pub attributes: Vec<(String, String)>,
}

/// BG-29: price details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// BT-146: net price.
    pub amount: Decimal,
    /// BT-149.
    pub base_quantity: Option<Decimal>,
    /// BT-150.
    pub base_unit_code: Option<String>,
    /// BT-147: `cac:Price/cac:AllowanceCharge/cbc:Amount`.
    pub discount: Option<Decimal>,
    /// BT-148: `cac:Price/cac:AllowanceCharge/cbc:BaseAmount`.
    pub gross: Option<Decimal>,
}

/// BG-24: `cac:AdditionalDocumentReference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentReference {
    /// BT-122.
    pub id: String,
    /// `cbc:DocumentTypeCode` ("130" = invoiced object identifier, BT-18).
    pub type_code: Option<String>,
    /// BT-123.
    pub description: Option<String>,
    pub attachment: Option<Attachment>,
}

/// The attached document itself: embedded (BT-125) or by address (BT-124).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attachment {
    Embedded {
        /// The `mimeCode` attribute, e.g. "application/pdf".
        mime_code: String,
        /// The `filename` attribute, as supplied: untrusted, see [`Attachment::safe_filename`].
        filename: Option<String>,
        /// The base64 text as written (may contain whitespace).
        base64: String,
    },
    External {
        uri: String,
    },
}

/// Why a UBL document could not be read into the model. Each variant names what and where
/// (`path` is a readable location such as `/Invoice/cac:InvoiceLine[2]/cbc:ID`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the document is not a UBL Invoice or CreditNote: its root element is {root}")]
    NotUbl { root: String },
    #[error("{what} is missing at {path}")]
    Missing { what: &'static str, path: String },
    /// An amount, quantity or percentage that is not an `xs:decimal` or does not fit a `Decimal`.
    #[error(
        "\"{value}\" at {path} is not a valid number (expected digits with an optional sign and decimals, e.g. -1234.50)"
    )]
    BadAmount { value: String, path: String },
    #[error("\"{value}\" at {path} is not a valid date (expected a real calendar date as YYYY-MM-DD)")]
    BadDate { value: String, path: String },
    #[error("\"{value}\" at {path} is not a valid {what}")]
    BadValue { what: &'static str, value: String, path: String },
    #[error("attachment \"{id}\" cannot be read: {reason}")]
    BadAttachment { id: String, reason: String },
}

impl Invoice {
    /// Reads a UBL 2.1 `Invoice` or `CreditNote` into the model.
    pub fn from_document(doc: &Document) -> Result<Invoice, ModelError> {
        read::invoice(doc)
    }
}
