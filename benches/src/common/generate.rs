//! Invoices generated from corpus templates.
//!
//! Purchases start from the Peppol BIS base example (buyer "Buyer AS", SE4598375937): its first
//! `cac:InvoiceLine` is repeated with distinct ids, quantities, prices and names, and the header is
//! given another number, date, seller and optional order reference; the totals (BT-106, BT-109,
//! BT-110, BT-112, BT-115 and the one VAT breakdown, S 25 %) are computed so the document stays
//! valid under EN 16931. The example's document-level charge (25.00, S 25 %) is kept. Sales start
//! from EN 16931 example 1 (seller De Koksmaat) with another number and date.
//!
//! Each template is cut once at the elements that change, so rendering is concatenation; a corpus
//! file that no longer has one of them stops the benchmark with the element named.

use std::fmt::Write as _;

/// A text cut at markers, each replaced by a value when rendered.
struct Skeleton {
    parts: Vec<String>,
}

impl Skeleton {
    /// Cuts `text` at each marker, searched for in order after the previous one.
    fn new(text: &str, markers: &[&str], what: &str) -> Skeleton {
        let mut parts = Vec::with_capacity(markers.len() + 1);
        let mut rest = text;
        for marker in markers {
            let Some(at) = rest.find(marker) else {
                panic!("the {what} template no longer contains {marker}");
            };
            parts.push(rest[..at].to_owned());
            rest = &rest[at + marker.len()..];
        }
        parts.push(rest.to_owned());
        Skeleton { parts }
    }

    fn render_into(&self, out: &mut String, values: &[&str]) {
        assert_eq!(values.len() + 1, self.parts.len(), "one value per marker");
        for (part, value) in self.parts.iter().zip(values) {
            out.push_str(part);
            out.push_str(value);
        }
        out.push_str(&self.parts[self.parts.len() - 1]);
    }
}

/// An amount in cents as a UBL decimal (`-12.05`).
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

/// The VAT of a taxable amount at 25 %, rounded half away from zero to the cent.
pub fn vat_25(taxable_cents: i64) -> i64 {
    let quarter = taxable_cents * 25;
    let sign = quarter.signum();
    sign * ((quarter.abs() + 50) / 100)
}

/// The seller of a generated purchase.
#[derive(Debug, Clone)]
pub struct Seller {
    /// A VAT id with country prefix; the supplier key the pipeline files the invoice under.
    pub vat: String,
    pub endpoint: String,
    pub name: String,
}

impl Seller {
    /// Supplier number `n`: VAT id `GB` + 9 digits, endpoint 0088 + 13 digits.
    pub fn numbered(n: usize) -> Seller {
        Seller {
            vat: format!("GB{:09}", 100_000_000 + n),
            endpoint: format!("{:013}", 7_300_000_000_000u64 + n as u64),
            name: format!("Supplier {n} Ltd"),
        }
    }
}

/// One generated invoice line: `quantity × price = amount`, VAT S 25 %.
#[derive(Debug, Clone)]
pub struct LineSpec {
    pub id: String,
    pub quantity: i64,
    pub price_cents: i64,
    pub name: String,
    pub description: String,
    /// BT-132, what goods-receipt lines are matched on.
    pub order_line: String,
}

impl LineSpec {
    pub fn amount_cents(&self) -> i64 {
        self.quantity * self.price_cents
    }

    /// Line `n` of a large invoice: quantities 1–9, prices 10.00–59.99, order line `n`.
    pub fn numbered(n: usize) -> LineSpec {
        LineSpec {
            id: n.to_string(),
            quantity: 1 + (n % 9) as i64,
            price_cents: 1000 + ((n * 37) % 5000) as i64,
            name: format!("Article {n}"),
            description: "Description of item".into(),
            order_line: n.to_string(),
        }
    }
}

/// What a generated purchase says.
#[derive(Debug, Clone)]
pub struct InvoiceSpec<'a> {
    pub number: &'a str,
    /// YYYY-MM-DD; also the due date.
    pub issue_date: &'a str,
    pub seller: &'a Seller,
    /// BT-13.
    pub order_reference: Option<&'a str>,
    pub lines: &'a [LineSpec],
}

/// The document-level charge of the base example, in cents.
const CHARGE_CENTS: i64 = 2500;

/// Totals of a generated purchase, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub lines: i64,
    pub tax_exclusive: i64,
    pub vat: i64,
    pub payable: i64,
}

impl Totals {
    pub fn of(lines: &[LineSpec]) -> Totals {
        let sum: i64 = lines.iter().map(LineSpec::amount_cents).sum();
        let tax_exclusive = sum + CHARGE_CENTS;
        let vat = vat_25(tax_exclusive);
        Totals { lines: sum, tax_exclusive, vat, payable: tax_exclusive + vat }
    }
}

/// The Peppol BIS base example cut for generating purchases.
pub struct PurchaseTemplate {
    head: Skeleton,
    line: Skeleton,
    tail: String,
}

pub const PURCHASE_TEMPLATE: &str = "valid/peppol-bis3__examples__base-example.xml";
pub const SALES_TEMPLATE: &str = "valid/en16931__ubl-examples__ubl-tc434-example1.xml";

impl PurchaseTemplate {
    pub fn load() -> PurchaseTemplate {
        Self::from_text(&super::corpus_text(PURCHASE_TEMPLATE))
    }

    pub fn from_text(text: &str) -> PurchaseTemplate {
        let first = text.find("<cac:InvoiceLine>").expect("the purchase template has an InvoiceLine");
        let end_tag = "</cac:InvoiceLine>";
        let end = first + text[first..].find(end_tag).expect("a closed InvoiceLine") + end_tag.len();
        let tail_at = text.rfind("</Invoice>").expect("the purchase template ends with </Invoice>");
        let head = Skeleton::new(
            &text[..first],
            &[
                "<cbc:ID>Snippet1</cbc:ID>",
                "<cbc:IssueDate>2017-11-13</cbc:IssueDate>",
                "<cbc:DueDate>2017-12-01</cbc:DueDate>",
                "<cbc:BuyerReference>0150abc</cbc:BuyerReference>",
                "<cbc:EndpointID schemeID=\"0088\">9482348239847239874</cbc:EndpointID>",
                "<cbc:Name>SupplierTradingName Ltd.</cbc:Name>",
                "<cbc:CompanyID>GB1232434</cbc:CompanyID>",
                "<cbc:RegistrationName>SupplierOfficialName Ltd</cbc:RegistrationName>",
                "<cbc:PaymentID>Snippet1</cbc:PaymentID>",
                "<cbc:TaxAmount currencyID=\"EUR\">331.25</cbc:TaxAmount>",
                "<cbc:TaxableAmount currencyID=\"EUR\">1325</cbc:TaxableAmount>",
                "<cbc:TaxAmount currencyID=\"EUR\">331.25</cbc:TaxAmount>",
                "<cbc:LineExtensionAmount currencyID=\"EUR\">1300</cbc:LineExtensionAmount>",
                "<cbc:TaxExclusiveAmount currencyID=\"EUR\">1325</cbc:TaxExclusiveAmount>",
                "<cbc:TaxInclusiveAmount currencyID=\"EUR\">1656.25</cbc:TaxInclusiveAmount>",
                "<cbc:PayableAmount currencyID=\"EUR\">1656.25</cbc:PayableAmount>",
            ],
            "purchase header",
        );
        let line = Skeleton::new(
            &format!("{}\n", &text[first..end]),
            &[
                "<cbc:ID>1</cbc:ID>",
                "<cbc:InvoicedQuantity unitCode=\"DAY\">7</cbc:InvoicedQuantity>",
                "<cbc:LineExtensionAmount currencyID= \"EUR\">2800</cbc:LineExtensionAmount>",
                "<cbc:LineID>123</cbc:LineID>",
                "<cbc:Description>Description of item</cbc:Description>",
                "<cbc:Name>item name</cbc:Name>",
                "<cbc:PriceAmount currencyID=\"EUR\">400</cbc:PriceAmount>",
            ],
            "purchase line",
        );
        PurchaseTemplate { head, line, tail: text[tail_at..].to_owned() }
    }

    /// The UBL text of a purchase.
    pub fn render(&self, spec: &InvoiceSpec<'_>) -> String {
        let totals = Totals::of(spec.lines);
        let eur =
            |tag: &str, cents: i64| format!("<cbc:{tag} currencyID=\"EUR\">{}</cbc:{tag}>", money(cents));
        let buyer_reference = match spec.order_reference {
            Some(order) => format!(
                "<cbc:BuyerReference>0150abc</cbc:BuyerReference>\n    <cac:OrderReference>\n        <cbc:ID>{}</cbc:ID>\n    </cac:OrderReference>",
                text(order)
            ),
            None => "<cbc:BuyerReference>0150abc</cbc:BuyerReference>".to_owned(),
        };
        let head_values = [
            format!("<cbc:ID>{}</cbc:ID>", text(spec.number)),
            format!("<cbc:IssueDate>{}</cbc:IssueDate>", spec.issue_date),
            format!("<cbc:DueDate>{}</cbc:DueDate>", spec.issue_date),
            buyer_reference,
            format!("<cbc:EndpointID schemeID=\"0088\">{}</cbc:EndpointID>", text(&spec.seller.endpoint)),
            format!("<cbc:Name>{}</cbc:Name>", text(&spec.seller.name)),
            format!("<cbc:CompanyID>{}</cbc:CompanyID>", text(&spec.seller.vat)),
            format!("<cbc:RegistrationName>{}</cbc:RegistrationName>", text(&spec.seller.name)),
            format!("<cbc:PaymentID>{}</cbc:PaymentID>", text(spec.number)),
            eur("TaxAmount", totals.vat),
            eur("TaxableAmount", totals.tax_exclusive),
            eur("TaxAmount", totals.vat),
            eur("LineExtensionAmount", totals.lines),
            eur("TaxExclusiveAmount", totals.tax_exclusive),
            eur("TaxInclusiveAmount", totals.payable),
            eur("PayableAmount", totals.payable),
        ];
        let head_refs: Vec<&str> = head_values.iter().map(String::as_str).collect();
        let mut out = String::with_capacity(4096 + spec.lines.len() * 1400);
        self.head.render_into(&mut out, &head_refs);
        let mut values: [String; 7] = Default::default();
        for line in spec.lines {
            for v in &mut values {
                v.clear();
            }
            let _ = write!(values[0], "<cbc:ID>{}</cbc:ID>", text(&line.id));
            let _ = write!(
                values[1],
                "<cbc:InvoicedQuantity unitCode=\"DAY\">{}</cbc:InvoicedQuantity>",
                line.quantity
            );
            let _ = write!(
                values[2],
                "<cbc:LineExtensionAmount currencyID=\"EUR\">{}</cbc:LineExtensionAmount>",
                money(line.amount_cents())
            );
            let _ = write!(values[3], "<cbc:LineID>{}</cbc:LineID>", text(&line.order_line));
            let _ = write!(values[4], "<cbc:Description>{}</cbc:Description>", text(&line.description));
            let _ = write!(values[5], "<cbc:Name>{}</cbc:Name>", text(&line.name));
            let _ = write!(
                values[6],
                "<cbc:PriceAmount currencyID=\"EUR\">{}</cbc:PriceAmount>",
                money(line.price_cents)
            );
            let refs: [&str; 7] = std::array::from_fn(|i| values[i].as_str());
            self.line.render_into(&mut out, &refs);
        }
        out.push_str(&self.tail);
        out
    }
}

/// EN 16931 example 1 (a sale of De Koksmaat) cut for another number and date.
pub struct SalesTemplate {
    skeleton: Skeleton,
}

impl SalesTemplate {
    pub fn load() -> SalesTemplate {
        let text = super::corpus_text(SALES_TEMPLATE);
        let skeleton = Skeleton::new(
            &text,
            &[
                "<cbc:ID>12115118</cbc:ID>",
                "<cbc:IssueDate>2015-01-09</cbc:IssueDate>",
                "<cbc:DueDate>2015-01-09</cbc:DueDate>",
            ],
            "sales",
        );
        SalesTemplate { skeleton }
    }

    pub fn render(&self, number: &str, issue_date: &str) -> String {
        let mut out = String::new();
        self.skeleton.render_into(
            &mut out,
            &[
                &format!("<cbc:ID>{}</cbc:ID>", text(number)),
                &format!("<cbc:IssueDate>{issue_date}</cbc:IssueDate>"),
                &format!("<cbc:DueDate>{issue_date}</cbc:DueDate>"),
            ],
        );
        out
    }
}

/// Text content with the XML specials escaped.
fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['<', '>', '&']) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
}

/// A purchase of `lines` numbered lines (see [`LineSpec::numbered`]) for order `PO-LARGE`.
pub fn large_purchase(template: &PurchaseTemplate, lines: usize) -> (String, Vec<LineSpec>) {
    let specs: Vec<LineSpec> = (1..=lines).map(LineSpec::numbered).collect();
    let seller = Seller::numbered(1);
    let xml = template.render(&InvoiceSpec {
        number: &format!("LARGE-{lines}"),
        issue_date: "2025-02-14",
        seller: &seller,
        order_reference: Some("PO-LARGE"),
        lines: &specs,
    });
    (xml, specs)
}
