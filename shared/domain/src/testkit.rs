//! Builders for the unit tests: invoices whose totals add up, receipts, obligations, rules, and an
//! administration.

use chrono::NaiveDate;
use ledgerpost_ubl::model::{
    AllowanceCharge, DocumentKind, Identifier, Invoice, Item, Line, MonetaryTotal, Party, Price, VatCategory,
    VatSubtotal,
};
use rust_decimal::Decimal;

use crate::cents;
use crate::config::{Administration, Config, PurchaseProfile};
use crate::ids::{AccountCode, AdministrationId, InvoiceId, SupplierKey};
use crate::masterdata::{Coding, GoodsReceipt, Obligation, TextRule};
use crate::tolerance::Tolerance;

pub fn d(s: &str) -> Decimal {
    s.parse().unwrap_or_else(|_| panic!("bad decimal {s}"))
}

pub fn admin() -> AdministrationId {
    AdministrationId::parse("acme").unwrap()
}

pub fn supplier() -> SupplierKey {
    SupplierKey::parse("NL123456789B01").unwrap()
}

pub fn account(code: &str) -> AccountCode {
    AccountCode::parse(code).unwrap()
}

pub fn coding(code: &str) -> Coding {
    Coding { account: account(code), vat_group: Some("H21".into()), cost_centre: None, project: None }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn administration() -> Administration {
    let text = include_str!("../examples/ledgerpost.toml");
    Config::from_toml_str(text).unwrap().administrations.remove(0)
}

pub fn profile(tolerance: Tolerance) -> PurchaseProfile {
    PurchaseProfile { tolerance, reject_without_order_reference: false, approval_required: false }
}

pub fn vat(code: &str, rate: &str) -> VatCategory {
    VatCategory {
        code: code.into(),
        rate: Some(d(rate)),
        exemption_reason: None,
        exemption_reason_code: None,
    }
}

/// A line of `quantity` × `price` with VAT S 21 %.
pub fn line(id: &str, quantity: &str, price: &str, name: &str) -> Line {
    let net = cents(d(quantity) * d(price));
    Line {
        id: id.into(),
        quantity: d(quantity),
        unit_code: Some("C62".into()),
        net_amount: net,
        accounting_cost: None,
        note: None,
        order_line_reference: None,
        period: None,
        item: Item {
            name: name.into(),
            description: None,
            sellers_id: None,
            buyers_id: None,
            standard_id: None,
            classifications: vec![],
            origin_country: None,
            attributes: vec![],
        },
        price: Price {
            amount: d(price),
            base_quantity: None,
            base_unit_code: None,
            discount: None,
            gross: None,
        },
        allowances_charges: vec![],
        vat: vat("S", "21"),
    }
}

pub fn with_sellers_id(mut line: Line, id: &str) -> Line {
    line.item.sellers_id = Some(id.into());
    line
}

pub fn with_standard_id(mut line: Line, id: &str) -> Line {
    line.item.standard_id = Some(Identifier { value: id.into(), scheme: Some("0160".into()) });
    line
}

pub fn allowance_charge(is_charge: bool, amount: &str, category: VatCategory) -> AllowanceCharge {
    AllowanceCharge {
        is_charge,
        amount: d(amount),
        base_amount: None,
        percentage: None,
        reason: Some(if is_charge { "Freight" } else { "Discount" }.into()),
        reason_code: None,
        vat: Some(category),
    }
}

fn party(name: &str, vat_id: &str) -> Party {
    Party { name: Some(name.into()), vat_id: Some(vat_id.into()), ..Party::default() }
}

/// An invoice with these lines, ordered under `order`, totals computed.
pub fn invoice(kind: DocumentKind, number: &str, order: Option<&str>, lines: Vec<Line>) -> Invoice {
    let mut invoice = Invoice {
        kind,
        customization_id: None,
        profile_id: None,
        number: number.into(),
        issue_date: date(2024, 3, 15),
        due_date: None,
        tax_point_date: None,
        type_code: if kind == DocumentKind::Invoice { "380" } else { "381" }.into(),
        currency: "EUR".into(),
        tax_currency: None,
        buyer_reference: None,
        accounting_cost: None,
        notes: vec![],
        invoice_period: None,
        order_reference: order.map(str::to_owned),
        sales_order_reference: None,
        billing_references: vec![],
        despatch_reference: None,
        receipt_reference: None,
        contract_reference: None,
        project_reference: None,
        seller: party("Supplier B.V.", "NL123456789B01"),
        buyer: party("ACME Trading B.V.", "NL123456789B01"),
        payee: None,
        tax_representative: None,
        delivery: None,
        payment_means: vec![],
        payment_terms: None,
        allowances_charges: vec![],
        tax_total: None,
        tax_total_in_tax_currency: None,
        vat_breakdown: vec![],
        totals: MonetaryTotal {
            line_extension: Decimal::ZERO,
            tax_exclusive: Decimal::ZERO,
            tax_inclusive: Decimal::ZERO,
            allowance_total: None,
            charge_total: None,
            prepaid: None,
            rounding: None,
            payable: Decimal::ZERO,
        },
        lines,
        attachments: vec![],
    };
    finish(&mut invoice);
    invoice
}

/// Recomputes the VAT breakdown and totals from lines, allowances and charges, keeping the prepaid
/// and rounding amounts, the way EN 16931 requires them to add up.
pub fn finish(invoice: &mut Invoice) {
    let mut categories: Vec<(VatCategory, Decimal)> = Vec::new();
    let mut add = |category: &VatCategory, amount: Decimal| match categories
        .iter_mut()
        .find(|(c, _)| c.code == category.code && c.rate == category.rate)
    {
        Some((_, total)) => *total += amount,
        None => categories.push((category.clone(), amount)),
    };
    for line in &invoice.lines {
        add(&line.vat, line.net_amount);
    }
    let (mut allowances, mut charges) = (Decimal::ZERO, Decimal::ZERO);
    for ac in &invoice.allowances_charges {
        let category = ac.vat.clone().unwrap_or_else(|| vat("S", "21"));
        if ac.is_charge {
            charges += ac.amount;
            add(&category, ac.amount);
        } else {
            allowances += ac.amount;
            add(&category, -ac.amount);
        }
    }
    invoice.vat_breakdown = categories
        .into_iter()
        .map(|(category, taxable)| VatSubtotal {
            taxable_amount: taxable,
            tax_amount: cents(taxable * category.rate.unwrap_or_default() / Decimal::ONE_HUNDRED),
            category,
        })
        .collect();
    let tax: Decimal = invoice.vat_breakdown.iter().map(|s| s.tax_amount).sum();
    let line_extension: Decimal = invoice.lines.iter().map(|l| l.net_amount).sum();
    let t = &mut invoice.totals;
    t.line_extension = line_extension;
    t.allowance_total = (!allowances.is_zero()).then_some(allowances);
    t.charge_total = (!charges.is_zero()).then_some(charges);
    t.tax_exclusive = line_extension - allowances + charges;
    t.tax_inclusive = t.tax_exclusive + tax;
    t.payable = t.tax_inclusive - t.prepaid.unwrap_or_default() + t.rounding.unwrap_or_default();
    invoice.tax_total = Some(tax);
}

pub fn invoice_id(number: &str) -> InvoiceId {
    InvoiceId::derive(&admin(), &supplier(), number, 2024).unwrap()
}

pub fn receipt(
    order: &str,
    line_id: &str,
    sellers_id: &str,
    received: &str,
    invoiced: &str,
    price: &str,
) -> GoodsReceipt {
    GoodsReceipt {
        administration: admin(),
        order_number: order.into(),
        line_id: line_id.into(),
        sellers_item_id: Some(sellers_id.into()),
        buyers_item_id: None,
        standard_item_id: None,
        quantity_received: d(received),
        quantity_invoiced: d(invoiced),
        unit_price: d(price),
        amount: cents(d(received) * d(price)),
        date: date(2024, 3, 1),
    }
}

pub fn obligation(reference: &str, amount: &str, open: &str, blocked: bool) -> Obligation {
    Obligation {
        administration: admin(),
        reference: reference.into(),
        supplier: supplier(),
        amount: d(amount),
        open_balance: d(open),
        blocked,
    }
}

pub fn rule(search_text: &str, code: &str) -> TextRule {
    TextRule {
        administration: admin(),
        supplier: supplier(),
        search_text: search_text.into(),
        coding: coding(code),
    }
}
