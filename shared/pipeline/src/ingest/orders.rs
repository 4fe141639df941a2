//! UBL 2.1 `Order` and `ReceiptAdvice`: the few fields that feed master data.
//!
//! An Order is a purchase commitment of the buyer (the administration) to the seller: it becomes
//! an obligation (reference = order number, amount = the order's net line total) and keeps its
//! line prices, because a ReceiptAdvice says what arrived but not at what price. A ReceiptAdvice
//! becomes goods-receipt lines of that order, priced from the order line (`OrderLineReference/
//! LineID`, else the same item id), and takes their value off the order's obligation: what is
//! received is matched as a receipt, what is ordered and not received stays an obligation.
//!
//! Reading is strict where a value reaches the books (quantities, amounts, dates are checked) and
//! every refusal names the element.

use std::str::FromStr;

use chrono::NaiveDate;
use ledgerpost_ubl::model::{Identifier, Party};
use ledgerpost_ubl::xml::{Document, NS_CAC, NS_CBC, NodeId};
use rust_decimal::Decimal;

pub const NS_ORDER: &str = "urn:oasis:names:specification:ubl:schema:xsd:Order-2";
pub const NS_RECEIPT_ADVICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:ReceiptAdvice-2";

/// The master-data documents ingest understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterDocumentKind {
    Order,
    ReceiptAdvice,
}

pub fn master_document_kind(doc: &Document) -> Option<MasterDocumentKind> {
    let root = doc.root();
    if doc.is(root, NS_ORDER, "Order") {
        Some(MasterDocumentKind::Order)
    } else if doc.is(root, NS_RECEIPT_ADVICE, "ReceiptAdvice") {
        Some(MasterDocumentKind::ReceiptAdvice)
    } else {
        None
    }
}

/// A line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub id: String,
    pub quantity: Decimal,
    pub amount: Decimal,
    pub unit_price: Decimal,
    pub sellers_item_id: Option<String>,
    pub buyers_item_id: Option<String>,
    pub standard_item_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedOrder {
    pub number: String,
    pub issue_date: NaiveDate,
    pub buyer: Party,
    pub seller: Party,
    pub lines: Vec<OrderLine>,
    /// `AnticipatedMonetaryTotal/LineExtensionAmount`, else the sum of the lines.
    pub net_total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    pub id: String,
    pub quantity: Decimal,
    pub order_line_id: Option<String>,
    pub sellers_item_id: Option<String>,
    pub buyers_item_id: Option<String>,
    pub standard_item_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReceiptAdvice {
    pub number: String,
    pub issue_date: NaiveDate,
    pub order_number: String,
    /// `DeliveryCustomerParty` (the administration that received the goods).
    pub customer: Party,
    /// `DespatchSupplierParty`.
    pub supplier: Party,
    pub lines: Vec<ReceiptLine>,
}

struct Reader<'a> {
    doc: &'a Document,
}

impl<'a> Reader<'a> {
    fn text(&self, at: NodeId, local: &str) -> Option<String> {
        self.doc.child_text(at, NS_CBC, local).map(|t| t.into_owned()).filter(|t| !t.is_empty())
    }

    fn required(&self, at: NodeId, local: &str) -> Result<String, String> {
        self.text(at, local).ok_or_else(|| format!("cbc:{local} is missing at {}", self.doc.path(at)))
    }

    fn decimal(&self, at: NodeId, local: &str) -> Result<Option<Decimal>, String> {
        let Some(node) = self.doc.child(at, NS_CBC, local) else { return Ok(None) };
        let text = self.doc.string_value(node);
        let text = text.trim();
        let plain = !text.is_empty()
            && text.trim_start_matches(['-', '+']).chars().all(|c| c.is_ascii_digit() || c == '.')
            && text.matches('.').count() <= 1;
        if !plain {
            return Err(format!("\"{text}\" at {} is not a valid number", self.doc.path(node)));
        }
        Decimal::from_str(text.trim_start_matches('+'))
            .map(Some)
            .map_err(|_| format!("\"{text}\" at {} is not a valid number", self.doc.path(node)))
    }

    fn date(&self, at: NodeId, local: &str) -> Result<NaiveDate, String> {
        let text = self.required(at, local)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|_| format!("\"{text}\" at {}/cbc:{local} is not a valid date", self.doc.path(at)))
    }

    fn cac(&self, at: NodeId, local: &str) -> Option<NodeId> {
        self.doc.child(at, NS_CAC, local)
    }

    /// `cac:<role>/cac:Party` as a model party (name, VAT id, endpoint).
    fn party(&self, at: NodeId, role: &str) -> Party {
        let Some(party) = self.cac(at, role).and_then(|r| self.cac(r, "Party")) else {
            return Party::default();
        };
        let endpoint = self.doc.child(party, NS_CBC, "EndpointID").map(|e| Identifier {
            value: self.doc.string_value(e).trim().to_owned(),
            scheme: self.doc.attr(e, "schemeID").map(str::to_owned),
        });
        let name = self
            .cac(party, "PartyName")
            .and_then(|n| self.text(n, "Name"))
            .or_else(|| self.cac(party, "PartyLegalEntity").and_then(|l| self.text(l, "RegistrationName")));
        let vat_id =
            self.doc.children_named(party, NS_CAC, "PartyTaxScheme").find_map(|s| self.text(s, "CompanyID"));
        Party { endpoint, name, vat_id, ..Party::default() }
    }

    fn item_ids(&self, item: Option<NodeId>) -> (Option<String>, Option<String>, Option<String>) {
        let Some(item) = item else { return (None, None, None) };
        let id = |role: &str| self.cac(item, role).and_then(|r| self.text(r, "ID"));
        (id("SellersItemIdentification"), id("BuyersItemIdentification"), id("StandardItemIdentification"))
    }
}

fn non_negative(value: Decimal, what: &str) -> Result<Decimal, String> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(format!("{what} {value} is negative"));
    }
    Ok(value)
}

pub fn parse_order(doc: &Document) -> Result<ParsedOrder, String> {
    let r = Reader { doc };
    let root = doc.root();
    let number = r.required(root, "ID")?;
    let issue_date = r.date(root, "IssueDate")?;
    let mut lines = Vec::new();
    for order_line in doc.children_named(root, NS_CAC, "OrderLine") {
        let Some(item_line) = r.cac(order_line, "LineItem") else {
            return Err(format!("cac:LineItem is missing at {}", doc.path(order_line)));
        };
        let id = r.required(item_line, "ID")?;
        let quantity = non_negative(
            r.decimal(item_line, "Quantity")?
                .ok_or_else(|| format!("order line {id} has no cbc:Quantity"))?,
            "quantity",
        )?;
        let price = r.cac(item_line, "Price").map(|p| r.decimal(p, "PriceAmount")).transpose()?.flatten();
        let amount = r.decimal(item_line, "LineExtensionAmount")?;
        let (unit_price, amount) = match (price, amount) {
            (Some(p), Some(a)) => (p, a),
            (Some(p), None) => (p, (p * quantity).round_dp(2)),
            (None, Some(a)) if !quantity.is_zero() => (a / quantity, a),
            _ => return Err(format!("order line {id} has neither a price nor a line amount")),
        };
        let (sellers, buyers, standard) = r.item_ids(r.cac(item_line, "Item"));
        lines.push(OrderLine {
            id,
            quantity,
            amount: non_negative(amount, "line amount")?,
            unit_price: non_negative(unit_price, "price")?,
            sellers_item_id: sellers,
            buyers_item_id: buyers,
            standard_item_id: standard,
        });
    }
    if lines.is_empty() {
        return Err("the order has no cac:OrderLine".into());
    }
    let anticipated = r
        .cac(root, "AnticipatedMonetaryTotal")
        .map(|t| r.decimal(t, "LineExtensionAmount"))
        .transpose()?
        .flatten();
    let net_total = anticipated.unwrap_or_else(|| lines.iter().map(|l| l.amount).sum());
    Ok(ParsedOrder {
        number,
        issue_date,
        buyer: r.party(root, "BuyerCustomerParty"),
        seller: r.party(root, "SellerSupplierParty"),
        lines,
        net_total: non_negative(net_total, "order total")?,
    })
}

pub fn parse_receipt_advice(doc: &Document) -> Result<ParsedReceiptAdvice, String> {
    let r = Reader { doc };
    let root = doc.root();
    let number = r.required(root, "ID")?;
    let issue_date = r.date(root, "IssueDate")?;
    let order_number = r
        .cac(root, "OrderReference")
        .and_then(|o| r.text(o, "ID"))
        .ok_or("cac:OrderReference/cbc:ID is missing: a receipt advice must name its order")?;
    let mut lines = Vec::new();
    for line in doc.children_named(root, NS_CAC, "ReceiptLine") {
        let id = r.required(line, "ID")?;
        let quantity = non_negative(
            r.decimal(line, "ReceivedQuantity")?
                .ok_or_else(|| format!("receipt line {id} has no cbc:ReceivedQuantity"))?,
            "received quantity",
        )?;
        let order_line_id = r.cac(line, "OrderLineReference").and_then(|o| r.text(o, "LineID"));
        let (sellers, buyers, standard) = r.item_ids(r.cac(line, "Item"));
        lines.push(ReceiptLine {
            id,
            quantity,
            order_line_id,
            sellers_item_id: sellers,
            buyers_item_id: buyers,
            standard_item_id: standard,
        });
    }
    if lines.is_empty() {
        return Err("the receipt advice has no cac:ReceiptLine".into());
    }
    let mut customer = r.party(root, "DeliveryCustomerParty");
    if customer == Party::default() {
        customer = r.party(root, "BuyerCustomerParty");
    }
    Ok(ParsedReceiptAdvice {
        number,
        issue_date,
        order_number,
        customer,
        supplier: r.party(root, "DespatchSupplierParty"),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use ledgerpost_ubl::xml::Limits;

    use super::*;

    const ORDER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>PO-1</cbc:ID><cbc:IssueDate>2024-03-01</cbc:IssueDate>
  <cac:BuyerCustomerParty><cac:Party><cbc:EndpointID schemeID="0106">123</cbc:EndpointID>
    <cac:PartyTaxScheme><cbc:CompanyID>NL123456789B01</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:BuyerCustomerParty>
  <cac:SellerSupplierParty><cac:Party><cac:PartyName><cbc:Name>S</cbc:Name></cac:PartyName></cac:Party></cac:SellerSupplierParty>
  <cac:OrderLine><cac:LineItem><cbc:ID>1</cbc:ID><cbc:Quantity unitCode="C62">10</cbc:Quantity>
    <cbc:LineExtensionAmount currencyID="EUR">15.00</cbc:LineExtensionAmount>
    <cac:Price><cbc:PriceAmount currencyID="EUR">1.50</cbc:PriceAmount></cac:Price>
    <cac:Item><cbc:Name>x</cbc:Name><cac:SellersItemIdentification><cbc:ID>A-1</cbc:ID></cac:SellersItemIdentification></cac:Item>
  </cac:LineItem></cac:OrderLine>
</Order>"#;

    #[test]
    fn reads_an_order() {
        let doc = Document::parse(ORDER.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(master_document_kind(&doc), Some(MasterDocumentKind::Order));
        let order = parse_order(&doc).unwrap();
        assert_eq!(order.number, "PO-1");
        assert_eq!(order.buyer.vat_id.as_deref(), Some("NL123456789B01"));
        assert_eq!(order.lines[0].unit_price, Decimal::from_str("1.50").unwrap());
        assert_eq!(order.lines[0].sellers_item_id.as_deref(), Some("A-1"));
        assert_eq!(order.net_total, Decimal::from_str("15.00").unwrap());
        let bad = ORDER.replace("<cbc:Quantity unitCode=\"C62\">10", "<cbc:Quantity unitCode=\"C62\">1,0");
        let doc = Document::parse(bad.as_bytes(), &Limits::default()).unwrap();
        assert!(parse_order(&doc).unwrap_err().contains("not a valid number"));
    }
}
