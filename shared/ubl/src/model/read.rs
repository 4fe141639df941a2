//! Reads a UBL document tree into the model.
//!
//! Walks the elements that EN 16931 maps, by namespace URI. Locations are computed only
//! when an error is returned, so reading a valid document does no string formatting. Optional text
//! that is present but blank is treated as absent: an empty `<cbc:BuyerReference/>` carries no
//! reference.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{
    Address, AllowanceCharge, Attachment, BillingReference, Contact, Delivery, DocumentKind,
    DocumentReference, Identifier, Invoice, Item, Line, ModelError, MonetaryTotal, Party, PaymentMeans,
    Period, Price, VatCategory, VatSubtotal,
};
use crate::xml::{Document, NS_CAC, NS_CBC, NS_CREDIT_NOTE, NS_INVOICE, NodeId};

pub(super) fn invoice(doc: &Document) -> Result<Invoice, ModelError> {
    Reader { doc }.invoice()
}

/// The document-kind specific element names.
struct Names {
    type_code: &'static str,
    line: &'static str,
    quantity: &'static str,
}

const INVOICE_NAMES: Names =
    Names { type_code: "InvoiceTypeCode", line: "InvoiceLine", quantity: "InvoicedQuantity" };
const CREDIT_NOTE_NAMES: Names =
    Names { type_code: "CreditNoteTypeCode", line: "CreditNoteLine", quantity: "CreditedQuantity" };

struct TaxTotals {
    tax_total: Option<Decimal>,
    tax_total_in_tax_currency: Option<Decimal>,
    breakdown: Vec<VatSubtotal>,
}

struct Reader<'d> {
    doc: &'d Document,
}

impl Reader<'_> {
    fn invoice(&self) -> Result<Invoice, ModelError> {
        let doc = self.doc;
        let root = doc.root();
        let (kind, names) = if doc.is(root, NS_INVOICE, "Invoice") {
            (DocumentKind::Invoice, &INVOICE_NAMES)
        } else if doc.is(root, NS_CREDIT_NOTE, "CreditNote") {
            (DocumentKind::CreditNote, &CREDIT_NOTE_NAMES)
        } else {
            return Err(ModelError::NotUbl { root: root_name(doc, root) });
        };

        // The identifying header first, so an incomplete document's first error is its most basic one.
        let number = self.req_text(root, "ID", "invoice number (BT-1)")?;
        let issue_date = self.req_date(root, "IssueDate", "issue date (BT-2)")?;
        let currency = self.req_text(root, "DocumentCurrencyCode", "document currency code (BT-5)")?;
        let tax_currency = self.text(root, "TaxCurrencyCode");
        let tax = self.tax_totals(root, &currency, tax_currency.as_deref())?;

        let due_date = match kind {
            DocumentKind::Invoice => self.date(root, "DueDate")?,
            // UBL 2.1 CreditNote has no cbc:DueDate; EN 16931 puts BT-9 on the payment means.
            DocumentKind::CreditNote => {
                let mut due = self.date(root, "DueDate")?;
                for pm in self.cacs(root, "PaymentMeans") {
                    if due.is_some() {
                        break;
                    }
                    due = self.date(pm, "PaymentDueDate")?;
                }
                due
            }
        };

        let attachments = self
            .cacs(root, "AdditionalDocumentReference")
            .map(|n| self.document_reference(n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut project_reference = self.cac(root, "ProjectReference").and_then(|n| self.text(n, "ID"));
        if project_reference.is_none() && kind == DocumentKind::CreditNote {
            // UBL 2.1 CreditNote has no cac:ProjectReference; EN 16931 maps BT-11 to a document
            // reference of type 50 there.
            project_reference =
                attachments.iter().find(|a| a.type_code.as_deref() == Some("50")).map(|a| a.id.clone());
        }

        let order = self.cac(root, "OrderReference");
        let lines =
            self.cacs(root, names.line).map(|n| self.line(n, names)).collect::<Result<Vec<_>, _>>()?;

        Ok(Invoice {
            kind,
            customization_id: self.text(root, "CustomizationID"),
            profile_id: self.text(root, "ProfileID"),
            number,
            issue_date,
            due_date,
            tax_point_date: self.date(root, "TaxPointDate")?,
            // Required by EN 16931, but a missing code is the rules engine's finding (BR-04).
            type_code: self.text(root, names.type_code).unwrap_or_default(),
            currency,
            tax_currency,
            buyer_reference: self.text(root, "BuyerReference"),
            accounting_cost: self.text(root, "AccountingCost"),
            notes: self.cbcs(root, "Note").filter_map(|n| self.node_text(n)).collect(),
            invoice_period: self.cac(root, "InvoicePeriod").map(|n| self.period(n)).transpose()?,
            order_reference: order.and_then(|n| self.text(n, "ID")),
            sales_order_reference: order.and_then(|n| self.text(n, "SalesOrderID")),
            billing_references: self.billing_references(root)?,
            despatch_reference: self.cac(root, "DespatchDocumentReference").and_then(|n| self.text(n, "ID")),
            receipt_reference: self.cac(root, "ReceiptDocumentReference").and_then(|n| self.text(n, "ID")),
            contract_reference: self.cac(root, "ContractDocumentReference").and_then(|n| self.text(n, "ID")),
            project_reference,
            seller: self.role_party(root, "AccountingSupplierParty", "seller party (BG-4)")?,
            buyer: self.role_party(root, "AccountingCustomerParty", "buyer party (BG-7)")?,
            payee: self.cac(root, "PayeeParty").map(|n| self.party(n)),
            tax_representative: self.cac(root, "TaxRepresentativeParty").map(|n| self.party(n)),
            delivery: self.cac(root, "Delivery").map(|n| self.delivery(n)).transpose()?,
            payment_means: self.cacs(root, "PaymentMeans").map(|n| self.payment_means(n)).collect(),
            payment_terms: self.payment_terms(root),
            allowances_charges: self
                .cacs(root, "AllowanceCharge")
                .map(|n| self.allowance_charge(n, true))
                .collect::<Result<Vec<_>, _>>()?,
            tax_total: tax.tax_total,
            tax_total_in_tax_currency: tax.tax_total_in_tax_currency,
            vat_breakdown: tax.breakdown,
            totals: self.monetary_total(root)?,
            lines,
            attachments,
        })
    }

    // ---- element access ----

    fn cac(&self, node: NodeId, local: &str) -> Option<NodeId> {
        self.doc.child(node, NS_CAC, local)
    }

    fn cacs<'a>(&'a self, node: NodeId, local: &'a str) -> impl Iterator<Item = NodeId> + 'a {
        self.doc.children_named(node, NS_CAC, local)
    }

    fn cbc(&self, node: NodeId, local: &str) -> Option<NodeId> {
        self.doc.child(node, NS_CBC, local)
    }

    fn cbcs<'a>(&'a self, node: NodeId, local: &'a str) -> impl Iterator<Item = NodeId> + 'a {
        self.doc.children_named(node, NS_CBC, local)
    }

    /// The trimmed text of an element; `None` when blank.
    fn node_text(&self, node: NodeId) -> Option<String> {
        let value = self.doc.string_value(node);
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// The trimmed text of the first `cbc:{local}` child; `None` when absent or blank.
    fn text(&self, node: NodeId, local: &str) -> Option<String> {
        self.cbc(node, local).and_then(|n| self.node_text(n))
    }

    fn attr(&self, node: NodeId, name: &str) -> Option<String> {
        let value = self.doc.attr(node, name)?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// The text of a mandatory `cbc:{local}` child. Blank counts as missing, reported at the
    /// blank element itself, or at the parent when the element is absent.
    fn req_text(&self, node: NodeId, local: &str, what: &'static str) -> Result<String, ModelError> {
        match self.cbc(node, local) {
            Some(n) => self.node_text(n).ok_or_else(|| self.missing(what, n)),
            None => Err(self.missing(what, node)),
        }
    }

    fn missing(&self, what: &'static str, at: NodeId) -> ModelError {
        ModelError::Missing { what, path: self.doc.path(at) }
    }

    fn identifier(&self, node: NodeId, scheme_attr: &str) -> Option<Identifier> {
        Some(Identifier { value: self.node_text(node)?, scheme: self.attr(node, scheme_attr) })
    }

    fn cbc_identifier(&self, node: NodeId, local: &str) -> Option<Identifier> {
        self.cbc(node, local).and_then(|n| self.identifier(n, "schemeID"))
    }

    // ---- typed values ----

    fn decimal_at(&self, node: NodeId) -> Result<Decimal, ModelError> {
        let value = self.doc.string_value(node);
        parse_decimal(&value)
            .ok_or_else(|| ModelError::BadAmount { value: value.into_owned(), path: self.doc.path(node) })
    }

    /// An optional amount, quantity or percentage. Present but unparsable (also blank) is an error:
    /// a number that cannot be read must never become "no number".
    fn decimal(&self, node: NodeId, local: &str) -> Result<Option<Decimal>, ModelError> {
        self.cbc(node, local).map(|n| self.decimal_at(n)).transpose()
    }

    fn req_decimal(&self, node: NodeId, local: &str, what: &'static str) -> Result<Decimal, ModelError> {
        match self.cbc(node, local) {
            Some(n) => self.decimal_at(n),
            None => Err(self.missing(what, node)),
        }
    }

    fn date_at(&self, node: NodeId) -> Result<NaiveDate, ModelError> {
        let value = self.doc.string_value(node);
        parse_date(&value)
            .ok_or_else(|| ModelError::BadDate { value: value.into_owned(), path: self.doc.path(node) })
    }

    fn date(&self, node: NodeId, local: &str) -> Result<Option<NaiveDate>, ModelError> {
        self.cbc(node, local).map(|n| self.date_at(n)).transpose()
    }

    fn req_date(&self, node: NodeId, local: &str, what: &'static str) -> Result<NaiveDate, ModelError> {
        match self.cbc(node, local) {
            Some(n) => self.date_at(n),
            None => Err(self.missing(what, node)),
        }
    }

    // ---- aggregates ----

    fn period(&self, node: NodeId) -> Result<Period, ModelError> {
        Ok(Period {
            start: self.date(node, "StartDate")?,
            end: self.date(node, "EndDate")?,
            description_code: self.text(node, "DescriptionCode"),
        })
    }

    fn billing_references(&self, root: NodeId) -> Result<Vec<BillingReference>, ModelError> {
        let mut refs = Vec::new();
        for br in self.cacs(root, "BillingReference") {
            // Other reference kinds (credit note, self-billing...) are not EN 16931's BG-3.
            let Some(idr) = self.cac(br, "InvoiceDocumentReference") else { continue };
            refs.push(BillingReference {
                id: self.req_text(idr, "ID", "preceding invoice reference (BT-25)")?,
                issue_date: self.date(idr, "IssueDate")?,
            });
        }
        Ok(refs)
    }

    fn role_party(&self, root: NodeId, role: &str, what: &'static str) -> Result<Party, ModelError> {
        let role_node = self.cac(root, role).ok_or_else(|| self.missing(what, root))?;
        let party = self.cac(role_node, "Party").ok_or_else(|| self.missing(what, role_node))?;
        Ok(self.party(party))
    }

    fn party(&self, node: NodeId) -> Party {
        let mut vat_id = None;
        let mut tax_registration_id = None;
        for pts in self.cacs(node, "PartyTaxScheme") {
            let Some(company_id) = self.text(pts, "CompanyID") else { continue };
            let scheme = self.cac(pts, "TaxScheme").and_then(|ts| self.text(ts, "ID"));
            let slot = if scheme.as_deref() == Some("VAT") { &mut vat_id } else { &mut tax_registration_id };
            if slot.is_none() {
                *slot = Some(company_id);
            }
        }
        let legal = self.cac(node, "PartyLegalEntity");
        Party {
            endpoint: self.cbc_identifier(node, "EndpointID"),
            identifiers: self
                .cacs(node, "PartyIdentification")
                .filter_map(|pi| self.cbc_identifier(pi, "ID"))
                .collect(),
            name: self.cacs(node, "PartyName").find_map(|pn| self.text(pn, "Name")),
            registration_name: legal.and_then(|l| self.text(l, "RegistrationName")),
            vat_id,
            tax_registration_id,
            legal_id: legal.and_then(|l| self.cbc_identifier(l, "CompanyID")),
            legal_form: legal.and_then(|l| self.text(l, "CompanyLegalForm")),
            address: self.cac(node, "PostalAddress").map(|a| self.address(a)),
            contact: self.cac(node, "Contact").map(|c| Contact {
                name: self.text(c, "Name"),
                telephone: self.text(c, "Telephone"),
                email: self.text(c, "ElectronicMail"),
            }),
        }
    }

    fn address(&self, node: NodeId) -> Address {
        Address {
            street: self.text(node, "StreetName"),
            additional_street: self.text(node, "AdditionalStreetName"),
            city: self.text(node, "CityName"),
            postal_code: self.text(node, "PostalZone"),
            subdivision: self.text(node, "CountrySubentity"),
            country: self.cac(node, "Country").and_then(|c| self.text(c, "IdentificationCode")),
        }
    }

    fn delivery(&self, node: NodeId) -> Result<Delivery, ModelError> {
        let location = self.cac(node, "DeliveryLocation");
        Ok(Delivery {
            date: self.date(node, "ActualDeliveryDate")?,
            location_id: location.and_then(|l| self.cbc_identifier(l, "ID")),
            address: location.and_then(|l| self.cac(l, "Address")).map(|a| self.address(a)),
            party_name: self
                .cac(node, "DeliveryParty")
                .and_then(|p| self.cac(p, "PartyName"))
                .and_then(|pn| self.text(pn, "Name")),
        })
    }

    fn payment_means(&self, node: NodeId) -> PaymentMeans {
        let code = self.cbc(node, "PaymentMeansCode");
        let account = self.cac(node, "PayeeFinancialAccount");
        PaymentMeans {
            // Required by EN 16931, but a missing code is the rules engine's finding (BR-49).
            code: code.and_then(|c| self.node_text(c)).unwrap_or_default(),
            name: code.and_then(|c| self.attr(c, "name")),
            payment_id: self.text(node, "PaymentID"),
            account_id: account.and_then(|a| self.text(a, "ID")),
            account_name: account.and_then(|a| self.text(a, "Name")),
            financial_institution: account
                .and_then(|a| self.cac(a, "FinancialInstitutionBranch"))
                .and_then(|b| self.text(b, "ID")),
            card_number: self.cac(node, "CardAccount").and_then(|c| self.text(c, "PrimaryAccountNumberID")),
            mandate_id: self.cac(node, "PaymentMandate").and_then(|m| self.text(m, "ID")),
        }
    }

    fn payment_terms(&self, root: NodeId) -> Option<String> {
        let notes: Vec<String> = self
            .cacs(root, "PaymentTerms")
            .flat_map(|pt| self.cbcs(pt, "Note"))
            .filter_map(|n| self.node_text(n))
            .collect();
        (!notes.is_empty()).then(|| notes.join("\n"))
    }

    /// `document_level`: only document-level allowances and charges carry a VAT category.
    fn allowance_charge(&self, node: NodeId, document_level: bool) -> Result<AllowanceCharge, ModelError> {
        let indicator = self.cbc(node, "ChargeIndicator").ok_or_else(|| {
            self.missing(
                "charge indicator of an allowance or charge (true = charge, false = allowance)",
                node,
            )
        })?;
        let is_charge = match self.doc.string_value(indicator).trim() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(ModelError::BadValue {
                    what: "charge indicator (true or false)",
                    value: other.to_owned(),
                    path: self.doc.path(indicator),
                });
            }
        };
        let vat = match self.cac(node, "TaxCategory") {
            Some(tc) if document_level => {
                Some(self.vat_category(tc, "VAT category code of an allowance or charge (BT-95 / BT-102)")?)
            }
            _ => None,
        };
        Ok(AllowanceCharge {
            is_charge,
            amount: self.req_decimal(node, "Amount", "amount of an allowance or charge (BT-92 / BT-99)")?,
            base_amount: self.decimal(node, "BaseAmount")?,
            percentage: self.decimal(node, "MultiplierFactorNumeric")?,
            reason: self.text(node, "AllowanceChargeReason"),
            reason_code: self.text(node, "AllowanceChargeReasonCode"),
            vat,
        })
    }

    /// A `cac:TaxCategory` or `cac:ClassifiedTaxCategory`.
    fn vat_category(&self, node: NodeId, what: &'static str) -> Result<VatCategory, ModelError> {
        Ok(VatCategory {
            code: self.req_text(node, "ID", what)?,
            rate: self.decimal(node, "Percent")?,
            exemption_reason: self.text(node, "TaxExemptionReason"),
            exemption_reason_code: self.text(node, "TaxExemptionReasonCode"),
        })
    }

    /// BT-110, BT-111 and the VAT breakdown. A document has one `cac:TaxTotal` in the document
    /// currency (with the subtotals) and, when BT-6 differs, one in the tax currency.
    fn tax_totals(
        &self,
        root: NodeId,
        currency: &str,
        tax_currency: Option<&str>,
    ) -> Result<TaxTotals, ModelError> {
        let totals: Vec<(NodeId, Option<NodeId>)> =
            self.cacs(root, "TaxTotal").map(|t| (t, self.cbc(t, "TaxAmount"))).collect();
        let in_currency = |cur: &str| {
            totals.iter().find(|(_, amount)| {
                amount.and_then(|a| self.doc.attr(a, "currencyID")).map(str::trim) == Some(cur)
            })
        };
        let has_subtotals = |t: NodeId| self.cac(t, "TaxSubtotal").is_some();
        // Without a matching currencyID, the TaxTotal that carries the breakdown is BT-110.
        let main = in_currency(currency).or_else(|| totals.iter().find(|(t, _)| has_subtotals(*t)));
        let in_tax_currency = tax_currency
            .filter(|tc| *tc != currency)
            .and_then(in_currency)
            .filter(|t| main.map(|m| m.0) != Some(t.0));

        let amount = |entry: Option<&(NodeId, Option<NodeId>)>| match entry {
            Some((_, Some(a))) => self.decimal_at(*a).map(Some),
            _ => Ok(None),
        };
        let tax_total = amount(main)?;
        let tax_total_in_tax_currency = amount(in_tax_currency)?;

        let breakdown_node = main
            .map(|m| m.0)
            .filter(|t| has_subtotals(*t))
            .or_else(|| totals.iter().map(|(t, _)| *t).find(|t| has_subtotals(*t)));
        let mut breakdown = Vec::new();
        if let Some(t) = breakdown_node {
            for st in self.cacs(t, "TaxSubtotal") {
                let category = self
                    .cac(st, "TaxCategory")
                    .ok_or_else(|| self.missing("VAT category of a VAT breakdown (BT-118)", st))?;
                breakdown.push(VatSubtotal {
                    taxable_amount: self.req_decimal(
                        st,
                        "TaxableAmount",
                        "VAT category taxable amount (BT-116)",
                    )?,
                    tax_amount: self.req_decimal(st, "TaxAmount", "VAT category tax amount (BT-117)")?,
                    category: self.vat_category(category, "VAT category code (BT-118)")?,
                });
            }
        }
        Ok(TaxTotals { tax_total, tax_total_in_tax_currency, breakdown })
    }

    fn monetary_total(&self, root: NodeId) -> Result<MonetaryTotal, ModelError> {
        let lmt = self
            .cac(root, "LegalMonetaryTotal")
            .ok_or_else(|| self.missing("document totals (BG-22, cac:LegalMonetaryTotal)", root))?;
        Ok(MonetaryTotal {
            line_extension: self.req_decimal(
                lmt,
                "LineExtensionAmount",
                "sum of line net amounts (BT-106)",
            )?,
            tax_exclusive: self.req_decimal(lmt, "TaxExclusiveAmount", "total without VAT (BT-109)")?,
            tax_inclusive: self.req_decimal(lmt, "TaxInclusiveAmount", "total with VAT (BT-112)")?,
            allowance_total: self.decimal(lmt, "AllowanceTotalAmount")?,
            charge_total: self.decimal(lmt, "ChargeTotalAmount")?,
            prepaid: self.decimal(lmt, "PrepaidAmount")?,
            rounding: self.decimal(lmt, "PayableRoundingAmount")?,
            payable: self.req_decimal(lmt, "PayableAmount", "amount due for payment (BT-115)")?,
        })
    }

    fn line(&self, node: NodeId, names: &Names) -> Result<Line, ModelError> {
        let quantity =
            self.cbc(node, names.quantity).ok_or_else(|| self.missing("line quantity (BT-129)", node))?;
        let item = self.cac(node, "Item").ok_or_else(|| self.missing("item name (BT-153)", node))?;
        let price = self.cac(node, "Price").ok_or_else(|| self.missing("item net price (BT-146)", node))?;
        let vat = self
            .cac(item, "ClassifiedTaxCategory")
            .ok_or_else(|| self.missing("line VAT category code (BT-151)", item))?;
        Ok(Line {
            id: self.req_text(node, "ID", "line identifier (BT-126)")?,
            quantity: self.decimal_at(quantity)?,
            unit_code: self.attr(quantity, "unitCode"),
            net_amount: self.req_decimal(node, "LineExtensionAmount", "line net amount (BT-131)")?,
            accounting_cost: self.text(node, "AccountingCost"),
            note: self.text(node, "Note"),
            order_line_reference: self.cac(node, "OrderLineReference").and_then(|r| self.text(r, "LineID")),
            period: self.cac(node, "InvoicePeriod").map(|p| self.period(p)).transpose()?,
            item: self.item(item)?,
            price: self.price(price)?,
            allowances_charges: self
                .cacs(node, "AllowanceCharge")
                .map(|n| self.allowance_charge(n, false))
                .collect::<Result<Vec<_>, _>>()?,
            vat: self.vat_category(vat, "line VAT category code (BT-151)")?,
        })
    }

    fn item(&self, node: NodeId) -> Result<Item, ModelError> {
        Ok(Item {
            name: self.req_text(node, "Name", "item name (BT-153)")?,
            description: self.text(node, "Description"),
            sellers_id: self.cac(node, "SellersItemIdentification").and_then(|i| self.text(i, "ID")),
            buyers_id: self.cac(node, "BuyersItemIdentification").and_then(|i| self.text(i, "ID")),
            standard_id: self
                .cac(node, "StandardItemIdentification")
                .and_then(|i| self.cbc_identifier(i, "ID")),
            classifications: self
                .cacs(node, "CommodityClassification")
                .filter_map(|c| self.cbc(c, "ItemClassificationCode"))
                .filter_map(|code| self.identifier(code, "listID"))
                .collect(),
            origin_country: self.cac(node, "OriginCountry").and_then(|c| self.text(c, "IdentificationCode")),
            attributes: self
                .cacs(node, "AdditionalItemProperty")
                .filter_map(|p| Some((self.text(p, "Name")?, self.text(p, "Value").unwrap_or_default())))
                .collect(),
        })
    }

    fn price(&self, node: NodeId) -> Result<Price, ModelError> {
        let base_quantity = self.cbc(node, "BaseQuantity");
        let allowance = self.cac(node, "AllowanceCharge");
        Ok(Price {
            amount: self.req_decimal(node, "PriceAmount", "item net price (BT-146)")?,
            base_quantity: base_quantity.map(|q| self.decimal_at(q)).transpose()?,
            base_unit_code: base_quantity.and_then(|q| self.attr(q, "unitCode")),
            discount: allowance.map(|a| self.decimal(a, "Amount")).transpose()?.flatten(),
            gross: allowance.map(|a| self.decimal(a, "BaseAmount")).transpose()?.flatten(),
        })
    }

    fn document_reference(&self, node: NodeId) -> Result<DocumentReference, ModelError> {
        let attachment = self.cac(node, "Attachment").and_then(|a| {
            if let Some(obj) = self.cbc(a, "EmbeddedDocumentBinaryObject") {
                Some(Attachment::Embedded {
                    mime_code: self.attr(obj, "mimeCode").unwrap_or_default(),
                    filename: self.attr(obj, "filename"),
                    // Kept undecoded (and uncopied beyond this one string): decoding is on demand.
                    base64: self.doc.string_value(obj).into_owned(),
                })
            } else {
                let uri = self.cac(a, "ExternalReference").and_then(|e| self.text(e, "URI"))?;
                Some(Attachment::External { uri })
            }
        });
        Ok(DocumentReference {
            id: self.req_text(node, "ID", "supporting document reference (BT-122)")?,
            type_code: self.text(node, "DocumentTypeCode"),
            description: self.text(node, "DocumentDescription"),
            attachment,
        })
    }
}

/// The root's name for an error message: `{namespace}local`, or the name as written when it has
/// no namespace.
fn root_name(doc: &Document, root: NodeId) -> String {
    let ns = doc.namespace(root);
    if ns.is_empty() {
        doc.qualified_name(root).to_owned()
    } else {
        format!("{{{ns}}}{}", doc.local_name(root))
    }
}

/// Parses an `xs:decimal` lexical form (optional sign, digits, optional fraction; surrounding
/// whitespace allowed) keeping the scale as written. Exponents, thousands separators, decimal
/// commas and values beyond `Decimal`'s 96-bit mantissa / 28 decimals are refused, never rounded.
pub(crate) fn parse_decimal(value: &str) -> Option<Decimal> {
    let s = value.trim();
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !frac.is_none_or(all_digits) || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    // rust_decimal's own parser is laxer (underscores, ".5"); hand it a canonical form.
    let mut canonical = String::with_capacity(s.len() + 2);
    if negative {
        canonical.push('-');
    }
    canonical.push_str(if int.is_empty() { "0" } else { int });
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        canonical.push('.');
        canonical.push_str(f);
    }
    Decimal::from_str_exact(&canonical).ok()
}

/// Parses a date written `YYYY-MM-DD` (the only form EN 16931 UBL allows: no time zone) that
/// exists in the calendar.
pub(crate) fn parse_date(value: &str) -> Option<NaiveDate> {
    let s = value.trim();
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let year = i32::from_str(&s[0..4]).ok()?;
    let month = u32::from_str(&s[5..7]).ok()?;
    let day = u32::from_str(&s[8..10]).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}
