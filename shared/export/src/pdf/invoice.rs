//! The invoice's page layout: header and dates, parties, references, lines, allowances and
//! charges, VAT breakdown, totals, payment, notes and supporting documents, in that order.

use ledgerpost_ubl::model::{
    Address, AllowanceCharge, DocumentKind, Identifier, Invoice, Line as InvoiceLine, Party, Period,
    VatCategory,
};
use rust_decimal::Decimal;

use super::PdfError;
use super::font::{Font, encode};
use super::layout::{Align, Column, LEFT, Layout, Line, RIGHT, Style, TOP, wrap};
use crate::text::{single_line, truncate_chars};

const TITLE: Style = Style::new(Font::Bold, 17.0);
const LABEL: Style = Style::new(Font::Regular, 7.0).gray(0.4);
const BODY: Style = Style::new(Font::Regular, 8.5);
const BODY_BOLD: Style = Style::new(Font::Bold, 9.5);
const CELL: Style = Style::new(Font::Regular, 8.0);
const CELL_BOLD: Style = Style::new(Font::Bold, 8.0);
const SMALL: Style = Style::new(Font::Regular, 6.8).gray(0.35);

const CONTENT_WIDTH: f32 = RIGHT - LEFT;
const GUTTER: f32 = 14.0;

/// Untrusted invoice text as encoded bytes for one line.
fn enc(text: &str) -> Vec<u8> {
    encode(&single_line(text))
}

fn amount(value: Decimal) -> String {
    value.to_string()
}

fn money(value: Decimal, currency: &str) -> String {
    format!("{value} {}", single_line(currency))
}

fn percent(value: Decimal) -> String {
    format!("{}%", value.normalize())
}

fn vat(category: &VatCategory) -> String {
    match category.rate {
        Some(rate) => format!("{} {}", single_line(&category.code), percent(rate)),
        None => single_line(&category.code),
    }
}

fn identifier(id: &Identifier) -> String {
    match id.scheme.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(scheme) => format!("{} ({scheme})", id.value),
        None => id.value.clone(),
    }
}

fn period(p: &Period) -> Option<String> {
    match (p.start, p.end) {
        (Some(s), Some(e)) => Some(format!("{s} to {e}")),
        (Some(s), None) => Some(format!("from {s}")),
        (None, Some(e)) => Some(format!("until {e}")),
        (None, None) => None,
    }
}

/// The document's title from its kind and type code (BT-3, UNTDID 1001).
pub(super) fn title(invoice: &Invoice) -> &'static str {
    match invoice.type_code.trim() {
        "381" | "396" | "532" => "Credit note",
        "261" => "Self-billed credit note",
        "383" => "Debit note",
        "384" => "Corrected invoice",
        "386" => "Prepayment invoice",
        "389" => "Self-billed invoice",
        "326" => "Partial invoice",
        "751" => "Invoice information for accounting purposes",
        _ => match invoice.kind {
            DocumentKind::Invoice => "Invoice",
            DocumentKind::CreditNote => "Credit note",
        },
    }
}

/// The name of a VAT category code (UNCL 5305 as EN 16931 uses it).
fn vat_category_name(code: &str) -> &'static str {
    match code.trim() {
        "S" => "Standard rate",
        "Z" => "Zero rated",
        "E" => "Exempt",
        "AE" => "Reverse charge",
        "K" => "Intra-community supply",
        "G" => "Export outside the EU",
        "O" => "Outside the scope of VAT",
        "L" => "Canary Islands (IGIC)",
        "M" => "Ceuta and Melilla (IPSI)",
        "B" => "Transferred (VAT), Italy",
        _ => "",
    }
}

/// The name of a common payment means code (UNCL 4461).
fn payment_means_name(code: &str) -> Option<&'static str> {
    Some(match code.trim() {
        "1" => "Not defined",
        "10" => "In cash",
        "20" => "Cheque",
        "30" => "Credit transfer",
        "31" => "Debit transfer",
        "42" => "Payment to bank account",
        "48" => "Bank card",
        "49" => "Direct debit",
        "54" => "Credit card",
        "55" => "Debit card",
        "57" => "Standing agreement",
        "58" => "SEPA credit transfer",
        "59" => "SEPA direct debit",
        "68" => "Online payment service",
        "97" => "Clearing between partners",
        _ => return None,
    })
}

/// Readable names of common unit codes (UN/ECE Recommendation 20); others are shown as coded.
fn unit(code: &str) -> String {
    let name = match code.trim() {
        "C62" | "H87" | "EA" | "XPP" => "pcs",
        "HUR" => "h",
        "DAY" => "day",
        "MON" => "month",
        "ANN" => "year",
        "WEE" => "week",
        "MIN" => "min",
        "KGM" => "kg",
        "GRM" => "g",
        "TNE" => "t",
        "MTR" => "m",
        "KMT" => "km",
        "MTK" => "m2",
        "MTQ" => "m3",
        "LTR" => "l",
        "KWH" => "kWh",
        "SET" => "set",
        "LS" => "lump sum",
        "PR" => "pair",
        "BX" | "XBX" => "box",
        other => other,
    };
    single_line(name)
}

/// Renders the invoice as PDF bytes.
pub(super) fn render(invoice: &Invoice) -> Result<Vec<u8>, PdfError> {
    let mut layout = Layout::new();
    header(&mut layout, invoice);
    parties(&mut layout, invoice);
    references(&mut layout, invoice);
    lines(&mut layout, invoice);
    allowances_charges(&mut layout, invoice);
    vat_breakdown(&mut layout, invoice);
    totals(&mut layout, invoice);
    payment(&mut layout, invoice);
    notes(&mut layout, invoice);
    supporting_documents(&mut layout, invoice);

    let doc_title = format!("{} {}", title(invoice), single_line(&invoice.number));
    let seller = truncate_chars(&single_line(invoice.seller.display_name()), 50);
    let left = format!(
        "{} {} - {seller} - rendition of the e-invoice (XML) by ledgerpost; the XML is the original",
        title(invoice),
        truncate_chars(&single_line(&invoice.number), 40),
    );
    let left = encode(&left);
    layout.finish(&doc_title, move |page, count| (left.clone(), encode(&format!("Page {page} of {count}"))))
}

fn header(layout: &mut Layout, invoice: &Invoice) {
    let heading = enc(&format!("{} {}", title(invoice), invoice.number));
    let title_lines: Vec<Line> =
        wrap(&heading, TITLE, CONTENT_WIDTH, 3).into_iter().map(|l| (TITLE, l)).collect();
    layout.paragraph(LEFT, &title_lines);
    layout.skip(4.0);

    let mut facts: Vec<(&str, String)> = vec![("Issue date", invoice.issue_date.to_string())];
    if let Some(due) = invoice.due_date {
        facts.push(("Due date", due.to_string()));
    }
    if let Some(tax_point) = invoice.tax_point_date {
        facts.push(("Tax point date", tax_point.to_string()));
    }
    if let Some(p) = invoice.invoice_period.as_ref().and_then(period) {
        facts.push(("Invoice period", p));
    }
    if let Some(date) = invoice.delivery.as_ref().and_then(|d| d.date) {
        facts.push(("Delivery date", date.to_string()));
    }
    facts.push(("Currency", single_line(&invoice.currency)));
    if let Some(tax_currency) = invoice.tax_currency.as_deref() {
        facts.push(("VAT accounting currency", single_line(tax_currency)));
    }
    facts.push(("Document type code", single_line(&invoice.type_code)));
    grid(layout, &facts, 4);
}

/// Label-over-value cells, `per_row` to a row.
fn grid(layout: &mut Layout, facts: &[(&str, String)], per_row: usize) {
    let per_row = per_row.max(1);
    let width = (CONTENT_WIDTH - GUTTER * (per_row as f32 - 1.0)) / per_row as f32;
    for row in facts.chunks(per_row) {
        let cells: Vec<Vec<Line>> = row
            .iter()
            .map(|(label, value)| {
                let mut lines = vec![(LABEL, encode(label))];
                lines.extend(wrap(&enc(value), BODY, width, 3).into_iter().map(|l| (BODY, l)));
                lines
            })
            .collect();
        let height =
            cells.iter().map(|c| c.iter().map(|(s, _)| s.leading()).sum::<f32>()).fold(0.0, f32::max);
        layout.ensure(height + 4.0);
        let top = layout.y;
        for (i, cell) in cells.iter().enumerate() {
            layout.y = top;
            layout.paragraph(LEFT + i as f32 * (width + GUTTER), cell);
        }
        layout.y = top - height - 4.0;
    }
}

fn address_lines(address: &Address) -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend([&address.street, &address.additional_street].into_iter().flatten().cloned());
    let city = [address.postal_code.as_deref(), address.city.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !city.is_empty() {
        lines.push(city);
    }
    lines.extend([&address.subdivision, &address.country].into_iter().flatten().cloned());
    lines
}

/// A party's box: the role, the name in bold, then its details.
fn party_box(role: &str, party: &Party, width: f32) -> Vec<Line> {
    let mut lines: Vec<Line> = vec![(LABEL, encode(role))];
    let name = party.display_name();
    let name = if name.trim().is_empty() { "(no name given)" } else { name };
    lines.extend(wrap(&enc(name), BODY_BOLD, width, 3).into_iter().map(|l| (BODY_BOLD, l)));
    let mut details: Vec<String> = Vec::new();
    if let (Some(legal), Some(trading)) = (&party.registration_name, &party.name)
        && single_line(legal) != single_line(trading)
    {
        details.push(format!("Trading as {trading}"));
    }
    if let Some(address) = &party.address {
        details.extend(address_lines(address));
    }
    if let Some(vat_id) = &party.vat_id {
        details.push(format!("VAT ID: {vat_id}"));
    }
    if let Some(tax_id) = &party.tax_registration_id {
        details.push(format!("Tax registration: {tax_id}"));
    }
    if let Some(legal_id) = &party.legal_id {
        details.push(format!("Company ID: {}", identifier(legal_id)));
    }
    if let Some(form) = &party.legal_form {
        details.push(format!("Legal form: {form}"));
    }
    for id in party.identifiers.iter().take(3) {
        details.push(format!("ID: {}", identifier(id)));
    }
    if let Some(endpoint) = &party.endpoint {
        details.push(format!("Electronic address: {}", identifier(endpoint)));
    }
    if let Some(contact) = &party.contact {
        let parts: Vec<&str> = [&contact.name, &contact.telephone, &contact.email]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
            .collect();
        if !parts.is_empty() {
            details.push(format!("Contact: {}", parts.join(", ")));
        }
    }
    for detail in details {
        lines.extend(wrap(&enc(&detail), BODY, width, 2).into_iter().map(|l| (BODY, l)));
    }
    lines
}

fn parties(layout: &mut Layout, invoice: &Invoice) {
    let width = (CONTENT_WIDTH - GUTTER) / 2.0;
    let mut boxes =
        vec![party_box("SELLER", &invoice.seller, width), party_box("BUYER", &invoice.buyer, width)];
    if let Some(payee) = &invoice.payee {
        boxes.push(party_box("PAYEE", payee, width));
    }
    if let Some(representative) = &invoice.tax_representative {
        boxes.push(party_box("SELLER'S TAX REPRESENTATIVE", representative, width));
    }
    if let Some(delivery) = &invoice.delivery {
        let mut lines: Vec<Line> = vec![(LABEL, encode("DELIVERY"))];
        let mut details: Vec<String> = Vec::new();
        if let Some(name) = &delivery.party_name {
            details.push(name.clone());
        }
        if let Some(address) = &delivery.address {
            details.extend(address_lines(address));
        }
        if let Some(location) = &delivery.location_id {
            details.push(format!("Location: {}", identifier(location)));
        }
        if let Some(date) = delivery.date {
            details.push(format!("Delivered on {date}"));
        }
        if !details.is_empty() {
            for detail in details {
                lines.extend(wrap(&enc(&detail), BODY, width, 2).into_iter().map(|l| (BODY, l)));
            }
            boxes.push(lines);
        }
    }
    layout.skip(4.0);
    for pair in boxes.chunks(2) {
        let height = pair.iter().map(|b| b.iter().map(|(s, _)| s.leading()).sum::<f32>()).fold(0.0, f32::max);
        layout.ensure(height + 10.0);
        layout.rule(LEFT, RIGHT, layout.y, 0.5, 0.6);
        layout.skip(4.0);
        let top = layout.y;
        for (i, lines) in pair.iter().enumerate() {
            layout.y = top;
            layout.paragraph(LEFT + i as f32 * (width + GUTTER), lines);
        }
        layout.y = top - height - 6.0;
    }
}

fn references(layout: &mut Layout, invoice: &Invoice) {
    let mut facts: Vec<(&str, String)> = Vec::new();
    let mut add = |label, value: &Option<String>| {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            facts.push((label, v.to_owned()));
        }
    };
    add("Buyer reference", &invoice.buyer_reference);
    add("Order reference", &invoice.order_reference);
    add("Sales order reference", &invoice.sales_order_reference);
    add("Contract", &invoice.contract_reference);
    add("Project", &invoice.project_reference);
    add("Despatch advice", &invoice.despatch_reference);
    add("Receiving advice", &invoice.receipt_reference);
    add("Accounting cost", &invoice.accounting_cost);
    for reference in &invoice.billing_references {
        let value = match reference.issue_date {
            Some(date) => format!("{} of {date}", reference.id),
            None => reference.id.clone(),
        };
        facts.push(("Preceding invoice", value));
    }
    for object in invoice.attachments.iter().filter(|a| a.type_code.as_deref() == Some("130")) {
        facts.push(("Invoiced object", object.id.clone()));
    }
    if facts.is_empty() {
        return;
    }
    layout.heading("References", 24.0);
    grid(layout, &facts, 4);
}

fn line_columns() -> [Column; 7] {
    let fixed = 28.0 + 58.0 + 42.0 + 70.0 + 44.0 + 78.0;
    [
        Column { title: "No.", width: 28.0, align: Align::Left },
        Column { title: "Item", width: CONTENT_WIDTH - fixed, align: Align::Left },
        Column { title: "Quantity", width: 58.0, align: Align::Right },
        Column { title: "Unit", width: 42.0, align: Align::Left },
        Column { title: "Net price", width: 70.0, align: Align::Right },
        Column { title: "VAT", width: 44.0, align: Align::Right },
        Column { title: "Net amount", width: 78.0, align: Align::Right },
    ]
}

/// Wraps `text` for a cell of `width` points.
fn cell(text: &str, style: Style, width: f32, max_lines: usize) -> Vec<Line> {
    wrap(&enc(text), style, width - 6.0, max_lines).into_iter().map(|l| (style, l)).collect()
}

fn allowance_text(ac: &AllowanceCharge) -> String {
    let kind = if ac.is_charge { "Charge" } else { "Allowance" };
    let mut text = format!("{kind} {}", amount(ac.amount));
    if let Some(p) = ac.percentage {
        text.push_str(&format!(" ({} of {})", percent(p), ac.base_amount.map(amount).unwrap_or_default()));
    }
    if let Some(reason) = ac.reason.as_deref().or(ac.reason_code.as_deref()) {
        text.push_str(&format!(": {reason}"));
    }
    text
}

fn line_row(line: &InvoiceLine, columns: &[Column; 7]) -> Vec<Vec<Line>> {
    let item_width = columns[1].width;
    let mut item = cell(&line.item.name, CELL, item_width, 4);
    let mut extra: Vec<String> = Vec::new();
    if let Some(description) = &line.item.description {
        extra.push(description.clone());
    }
    let ids: Vec<String> = [
        line.item.sellers_id.as_ref().map(|id| format!("Item no. {id}")),
        line.item.buyers_id.as_ref().map(|id| format!("Buyer's item no. {id}")),
        line.item.standard_id.as_ref().map(|id| format!("Standard id {}", identifier(id))),
        line.order_line_reference.as_ref().map(|r| format!("Order line {r}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !ids.is_empty() {
        extra.push(ids.join(" - "));
    }
    if let Some(p) = line.period.as_ref().and_then(period) {
        extra.push(format!("Period {p}"));
    }
    for ac in &line.allowances_charges {
        extra.push(allowance_text(ac));
    }
    if let Some(cost) = &line.accounting_cost {
        extra.push(format!("Accounting cost {cost}"));
    }
    if let Some(note) = &line.note {
        extra.push(note.clone());
    }
    for text in extra {
        if item.len() >= 14 {
            break;
        }
        item.extend(cell(&text, SMALL, item_width, 3));
    }

    let mut price = vec![(CELL, encode(&amount(line.price.amount)))];
    if let Some(base) = line.price.base_quantity.filter(|b| *b != Decimal::ONE) {
        let per = match line.price.base_unit_code.as_deref().or(line.unit_code.as_deref()) {
            Some(code) => format!("per {base} {}", unit(code)),
            None => format!("per {base}"),
        };
        price.push((SMALL, enc(&per)));
    }
    if let Some(gross) = line.price.gross {
        price.push((SMALL, enc(&format!("gross {gross}"))));
    }
    if let Some(discount) = line.price.discount {
        price.push((SMALL, enc(&format!("discount {discount}"))));
    }

    vec![
        cell(&line.id, CELL, columns[0].width, 2),
        item,
        vec![(CELL, encode(&amount(line.quantity)))],
        cell(&line.unit_code.as_deref().map(unit).unwrap_or_default(), CELL, columns[3].width, 2),
        price,
        vec![(CELL, enc(&vat(&line.vat)))],
        vec![(CELL_BOLD, encode(&amount(line.net_amount)))],
    ]
}

fn lines(layout: &mut Layout, invoice: &Invoice) {
    let columns = line_columns();
    layout.heading(
        &format!("Lines ({}) - amounts in {}", invoice.lines.len(), single_line(&invoice.currency)),
        40.0,
    );
    if invoice.lines.is_empty() {
        layout.paragraph(LEFT, &[(BODY, encode("The document has no lines."))]);
        return;
    }
    let rows: Vec<Vec<Vec<Line>>> = invoice.lines.iter().map(|l| line_row(l, &columns)).collect();
    layout.table(&columns, &rows);
}

fn allowances_charges(layout: &mut Layout, invoice: &Invoice) {
    if invoice.allowances_charges.is_empty() {
        return;
    }
    let columns = [
        Column { title: "", width: 60.0, align: Align::Left },
        Column {
            title: "Reason",
            width: CONTENT_WIDTH - 60.0 - 60.0 - 80.0 - 50.0 - 80.0,
            align: Align::Left,
        },
        Column { title: "VAT", width: 60.0, align: Align::Right },
        Column { title: "Base amount", width: 80.0, align: Align::Right },
        Column { title: "Percentage", width: 50.0, align: Align::Right },
        Column { title: "Amount", width: 80.0, align: Align::Right },
    ];
    let rows: Vec<Vec<Vec<Line>>> = invoice
        .allowances_charges
        .iter()
        .map(|ac| {
            let reason = match (&ac.reason, &ac.reason_code) {
                (Some(r), Some(c)) => format!("{r} ({c})"),
                (Some(r), None) => r.clone(),
                (None, Some(c)) => format!("code {c}"),
                (None, None) => String::new(),
            };
            vec![
                vec![(CELL, encode(if ac.is_charge { "Charge" } else { "Allowance" }))],
                cell(&reason, CELL, columns[1].width, 3),
                vec![(CELL, enc(&ac.vat.as_ref().map(vat).unwrap_or_default()))],
                vec![(CELL, encode(&ac.base_amount.map(amount).unwrap_or_default()))],
                vec![(CELL, encode(&ac.percentage.map(percent).unwrap_or_default()))],
                vec![(CELL_BOLD, encode(&amount(ac.amount)))],
            ]
        })
        .collect();
    layout.heading("Allowances and charges on the document", 40.0);
    layout.table(&columns, &rows);
}

fn vat_breakdown(layout: &mut Layout, invoice: &Invoice) {
    if invoice.vat_breakdown.is_empty() {
        return;
    }
    let columns = [
        Column { title: "VAT category", width: 150.0, align: Align::Left },
        Column { title: "Rate", width: 50.0, align: Align::Right },
        Column { title: "Taxable amount", width: 90.0, align: Align::Right },
        Column { title: "VAT amount", width: 90.0, align: Align::Right },
        Column { title: "Exemption reason", width: CONTENT_WIDTH - 380.0, align: Align::Left },
    ];
    let rows: Vec<Vec<Vec<Line>>> = invoice
        .vat_breakdown
        .iter()
        .map(|row| {
            let code = single_line(&row.category.code);
            let name = vat_category_name(&code);
            let category = if name.is_empty() { code } else { format!("{code} - {name}") };
            let exemption = match (&row.category.exemption_reason, &row.category.exemption_reason_code) {
                (Some(r), Some(c)) => format!("{r} ({c})"),
                (Some(r), None) => r.clone(),
                (None, Some(c)) => c.clone(),
                (None, None) => String::new(),
            };
            vec![
                cell(&category, CELL, columns[0].width, 2),
                vec![(CELL, encode(&row.category.rate.map(percent).unwrap_or_default()))],
                vec![(CELL, encode(&amount(row.taxable_amount)))],
                vec![(CELL_BOLD, encode(&amount(row.tax_amount)))],
                cell(&exemption, CELL, columns[4].width, 3),
            ]
        })
        .collect();
    layout.heading(&format!("VAT breakdown - amounts in {}", single_line(&invoice.currency)), 40.0);
    layout.table(&columns, &rows);
}

fn totals(layout: &mut Layout, invoice: &Invoice) {
    let t = &invoice.totals;
    let currency = invoice.currency.as_str();
    let mut rows: Vec<(String, String, bool)> =
        vec![("Sum of line net amounts".to_owned(), money(t.line_extension, currency), false)];
    if let Some(a) = t.allowance_total {
        rows.push(("Allowances on the document".to_owned(), money(a, currency), false));
    }
    if let Some(c) = t.charge_total {
        rows.push(("Charges on the document".to_owned(), money(c, currency), false));
    }
    rows.push(("Total without VAT".to_owned(), money(t.tax_exclusive, currency), false));
    if let Some(v) = invoice.tax_total {
        rows.push(("VAT total".to_owned(), money(v, currency), false));
    }
    if let (Some(v), Some(tax_currency)) =
        (invoice.tax_total_in_tax_currency, invoice.tax_currency.as_deref())
    {
        rows.push((format!("VAT total in {}", single_line(tax_currency)), money(v, tax_currency), false));
    }
    rows.push(("Total with VAT".to_owned(), money(t.tax_inclusive, currency), false));
    if let Some(p) = t.prepaid {
        rows.push(("Paid in advance".to_owned(), money(p, currency), false));
    }
    if let Some(r) = t.rounding {
        rows.push(("Rounding".to_owned(), money(r, currency), false));
    }
    rows.push(("Amount due for payment".to_owned(), money(t.payable, currency), true));

    let width = 270.0;
    let x = RIGHT - width;
    let height: f32 =
        rows.iter().map(|(_, _, bold)| if *bold { BODY_BOLD.leading() + 6.0 } else { BODY.leading() }).sum();
    layout.skip(10.0);
    layout.ensure(height + 8.0);
    layout.rule(x, RIGHT, layout.y, 0.6, 0.3);
    layout.skip(4.0);
    for (label, value, bold) in rows {
        if bold {
            layout.skip(2.0);
            layout.shade(x, layout.y - BODY_BOLD.leading() - 2.0, width, BODY_BOLD.leading() + 3.0, 0.9);
        }
        let style = if bold { BODY_BOLD } else { BODY };
        let baseline = layout.y - style.size;
        layout.text(x + 4.0, baseline, style, &enc(&label));
        layout.text_right(RIGHT - 4.0, baseline, style, &enc(&value));
        layout.skip(style.leading() + if bold { 4.0 } else { 0.0 });
    }
}

fn payment(layout: &mut Layout, invoice: &Invoice) {
    let mut texts: Vec<String> = Vec::new();
    if let Some(terms) = &invoice.payment_terms {
        texts.push(format!("Payment terms: {terms}"));
    }
    for means in &invoice.payment_means {
        let name = means.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let mut parts: Vec<String> = vec![match name.or(payment_means_name(&means.code)) {
            Some(name) => format!("{name} (code {})", means.code),
            None => format!("Payment means code {}", means.code),
        }];
        if let Some(account) = &means.account_id {
            parts.push(format!("account {account}"));
        }
        if let Some(name) = &means.account_name {
            parts.push(format!("in the name of {name}"));
        }
        if let Some(bic) = &means.financial_institution {
            parts.push(format!("BIC {bic}"));
        }
        if let Some(card) = &means.card_number {
            parts.push(format!("card {card}"));
        }
        if let Some(mandate) = &means.mandate_id {
            parts.push(format!("direct debit mandate {mandate}"));
        }
        if let Some(reference) = &means.payment_id {
            parts.push(format!("payment reference {reference}"));
        }
        texts.push(parts.join(", "));
    }
    paragraphs(layout, "Payment", &texts);
}

fn notes(layout: &mut Layout, invoice: &Invoice) {
    paragraphs(layout, "Notes", &invoice.notes);
}

fn supporting_documents(layout: &mut Layout, invoice: &Invoice) {
    use ledgerpost_ubl::model::Attachment;
    let texts: Vec<String> = invoice
        .attachments
        .iter()
        .filter(|a| a.type_code.as_deref() != Some("130"))
        .map(|a| {
            let mut text = a.id.clone();
            if let Some(description) = &a.description {
                text.push_str(&format!(": {description}"));
            }
            match &a.attachment {
                Some(Attachment::Embedded { mime_code, filename, .. }) => {
                    let name = filename.as_deref().unwrap_or("unnamed");
                    text.push_str(&format!(" (embedded file {name}, {mime_code})"));
                }
                Some(Attachment::External { uri }) => text.push_str(&format!(" (at {uri})")),
                None => {}
            }
            text
        })
        .collect();
    paragraphs(layout, "Supporting documents", &texts);
}

/// A heading and wrapped paragraphs (each at most 30 lines, its own line breaks kept); nothing when `texts` is empty.
fn paragraphs(layout: &mut Layout, heading: &str, texts: &[String]) {
    let texts: Vec<&String> = texts.iter().filter(|t| !t.trim().is_empty()).collect();
    if texts.is_empty() {
        return;
    }
    layout.skip(4.0);
    layout.heading(heading, BODY.leading() * 2.0);
    for text in texts {
        // Keep the text's own line breaks; each piece is then one clean line, wrapped.
        let mut lines: Vec<Line> = Vec::new();
        for piece in text.lines().filter(|p| !p.trim().is_empty()) {
            let room = 30usize.saturating_sub(lines.len());
            if room == 0 {
                break;
            }
            lines.extend(wrap(&enc(piece), BODY, CONTENT_WIDTH, room).into_iter().map(|l| (BODY, l)));
        }
        layout.paragraph(LEFT, &lines);
        layout.skip(3.0);
    }
    debug_assert!(layout.y <= TOP);
}
