//! The one configuration document (TOML), the same locally and in the cloud.
//!
//! [`Config::from_toml_str`] reads and checks it once, at start-up; a wrong document is refused with
//! the path of the field at fault (`administrations[1].accounts.payables: missing`). Every table
//! denies unknown keys, so a misspelt key is an error rather than a silently ignored setting.
//! Values are checked where they are read (account codes, e-mail addresses, VAT rates, limits);
//! what involves several fields (unique ids, rule sets of known administrations) is checked after.
//!
//! Amounts and percentages may be written as strings (`"2.5"`), integers or TOML floats; a float
//! is read from its shortest decimal form, so `2.5` is exactly 2.5. The example with every key is
//! `examples/ledgerpost.toml` in this crate.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, de};

use crate::ids::{AccountCode, AdministrationId, EmailAddress, SupplierKey};
use crate::tolerance::Tolerance;

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the configuration is not valid TOML: {message}")]
    Syntax {
        message: String,
        #[source]
        source: toml::de::Error,
    },
    /// A field is missing, unknown or wrong; `path` names it (`export.addresses.sales`).
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

impl ConfigError {
    fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Field { path: path.into(), message: message.into() }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub administrations: Vec<Administration>,
    #[serde(default)]
    pub validation: Validation,
    pub export: Export,
    #[serde(default)]
    pub smtp: Option<Smtp>,
}

/// A company whose books ledgerpost keeps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Administration {
    pub id: AdministrationId,
    pub name: String,
    /// VAT ids that identify the company as buyer or seller (normalised).
    #[serde(default)]
    pub vat_ids: Vec<VatId>,
    /// Electronic addresses (Peppol endpoint ids) that identify the company.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    pub accounts: Accounts,
    /// Purchase profiles; without this table: exact tolerance, no rejection, no approval.
    #[serde(default)]
    pub purchase: PurchaseProfiles,
}

/// A VAT id as configured, kept in its normalised [`SupplierKey`] form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct VatId(SupplierKey);

impl VatId {
    pub fn key(&self) -> &SupplierKey {
        &self.0
    }
}

impl TryFrom<String> for VatId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        SupplierKey::from_vat_id(&s).map(VatId).map_err(|_| format!("\"{s}\" is not a VAT id"))
    }
}

/// An electronic address: scheme (ISO 6523 ICD or EAS code, e.g. "0106") and value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub scheme: String,
    pub value: String,
}

impl Endpoint {
    pub fn key(&self) -> Result<SupplierKey, String> {
        SupplierKey::from_endpoint(&self.scheme, &self.value).map_err(|e| e.to_string())
    }
}

/// The general-ledger accounts of an administration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// Suppliers (credited with the payable amount of a purchase invoice).
    pub payables: AccountCode,
    /// Customers (debited with the payable amount of a sales invoice).
    pub receivables: AccountCode,
    pub input_vat: VatAccounts,
    pub output_vat: VatAccounts,
    /// Debited for lines matched to a goods receipt.
    pub goods_received_clearing: AccountCode,
    /// Debited for lines matched to an obligation (purchase commitment).
    pub obligations: AccountCode,
    /// Purchase lines posted as a plain entry, and document charges without a line to carry them.
    pub default_expense: AccountCode,
    /// Sales lines.
    pub default_revenue: AccountCode,
    /// PayableRoundingAmount (BT-114).
    pub rounding: AccountCode,
    /// PrepaidAmount (BT-113): amounts paid before the invoice.
    pub prepayments: AccountCode,
}

/// VAT accounts by rate, with a fallback for any other rate (and for categories without a rate).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawVatAccounts")]
pub struct VatAccounts {
    rates: BTreeMap<Decimal, AccountCode>,
    fallback: AccountCode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVatAccounts {
    #[serde(default)]
    rates: BTreeMap<String, AccountCode>,
    fallback: AccountCode,
}

impl TryFrom<RawVatAccounts> for VatAccounts {
    type Error = String;
    fn try_from(raw: RawVatAccounts) -> Result<Self, String> {
        let mut rates = BTreeMap::new();
        for (rate, account) in raw.rates {
            let parsed = Decimal::from_str(rate.trim())
                .ok()
                .filter(|r| !r.is_sign_negative() && *r <= Decimal::ONE_HUNDRED)
                .ok_or_else(|| {
                    format!("rates: \"{rate}\" is not a VAT rate (a percentage such as \"21\" or \"5.5\")")
                })?;
            if rates.insert(parsed.normalize(), account).is_some() {
                return Err(format!("rates: rate \"{rate}\" is given twice"));
            }
        }
        Ok(VatAccounts { rates, fallback: raw.fallback })
    }
}

impl VatAccounts {
    /// The account for a VAT rate (in percent); `None` (no rate) and unknown rates get the fallback.
    pub fn account_for(&self, rate: Option<Decimal>) -> &AccountCode {
        rate.and_then(|r| self.rates.get(&r.normalize())).unwrap_or(&self.fallback)
    }
}

/// How purchase invoices of one supplier are matched and approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseProfile {
    pub tolerance: Tolerance,
    /// A document without an order reference (BT-13) is rejected instead of matched by text rules.
    pub reject_without_order_reference: bool,
    /// A journaled invoice waits for approval before it is sent.
    pub approval_required: bool,
}

/// The administration's default profile and the per-supplier overrides.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseProfiles {
    #[serde(default, deserialize_with = "de_tolerance")]
    pub tolerance: Tolerance,
    #[serde(default)]
    pub reject_without_order_reference: bool,
    #[serde(default)]
    pub approval_required: bool,
    #[serde(default)]
    pub suppliers: Vec<SupplierProfile>,
}

/// A supplier's own profile: identified by VAT id or endpoint; what it leaves out comes from the
/// administration's default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawSupplierProfile")]
pub struct SupplierProfile {
    pub supplier: SupplierKey,
    pub tolerance: Option<Tolerance>,
    pub reject_without_order_reference: Option<bool>,
    pub approval_required: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupplierProfile {
    #[serde(default)]
    vat_id: Option<VatId>,
    #[serde(default)]
    endpoint: Option<Endpoint>,
    #[serde(default, deserialize_with = "de_opt_tolerance")]
    tolerance: Option<Tolerance>,
    #[serde(default)]
    reject_without_order_reference: Option<bool>,
    #[serde(default)]
    approval_required: Option<bool>,
}

impl TryFrom<RawSupplierProfile> for SupplierProfile {
    type Error = String;
    fn try_from(raw: RawSupplierProfile) -> Result<Self, String> {
        let supplier = match (raw.vat_id, raw.endpoint) {
            (Some(vat), None) => vat.0,
            (None, Some(endpoint)) => endpoint.key()?,
            _ => return Err("give exactly one of vat_id or endpoint to identify the supplier".into()),
        };
        Ok(SupplierProfile {
            supplier,
            tolerance: raw.tolerance,
            reject_without_order_reference: raw.reject_without_order_reference,
            approval_required: raw.approval_required,
        })
    }
}

impl Administration {
    /// The profile for a supplier known by any of `supplier_keys` (see
    /// [`SupplierKey::candidates`]): the first supplier profile naming one of them, completed
    /// from the default; else the default.
    pub fn purchase_profile(&self, supplier_keys: &[SupplierKey]) -> PurchaseProfile {
        let p = &self.purchase;
        let default = PurchaseProfile {
            tolerance: p.tolerance,
            reject_without_order_reference: p.reject_without_order_reference,
            approval_required: p.approval_required,
        };
        match p.suppliers.iter().find(|s| supplier_keys.contains(&s.supplier)) {
            None => default,
            Some(s) => PurchaseProfile {
                tolerance: s.tolerance.unwrap_or(default.tolerance),
                reject_without_order_reference: s
                    .reject_without_order_reference
                    .unwrap_or(default.reject_without_order_reference),
                approval_required: s.approval_required.unwrap_or(default.approval_required),
            },
        }
    }

    /// Every key (VAT ids, endpoints) the administration is known by.
    pub fn keys(&self) -> Vec<SupplierKey> {
        let vat = self.vat_ids.iter().map(|v| v.key().clone());
        vat.chain(self.endpoints.iter().filter_map(|e| e.key().ok())).collect()
    }

    /// Whether a party of an invoice is this administration.
    pub fn is_party(&self, party: &ledgerpost_ubl::model::Party) -> bool {
        let own = self.keys();
        SupplierKey::candidates(party).iter().any(|k| own.contains(k))
    }
}

/// Which official rules an administration's documents are validated against (the UBL crate's
/// type: `"en16931"` or `"peppol"`).
pub use ledgerpost_ubl::rules::Ruleset;

/// Validation settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Larger files are rejected before parsing. Default 20 MB.
    #[serde(default = "default_max_file_bytes", deserialize_with = "de_at_least_one")]
    pub max_file_bytes: u64,
    #[serde(default = "default_ruleset")]
    pub default_ruleset: Ruleset,
    /// Rule set per administration id, where it differs from the default.
    #[serde(default)]
    pub rulesets: BTreeMap<String, Ruleset>,
}

fn default_max_file_bytes() -> u64 {
    20 * 1024 * 1024
}
fn default_ruleset() -> Ruleset {
    Ruleset::En16931
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            max_file_bytes: default_max_file_bytes(),
            default_ruleset: default_ruleset(),
            rulesets: BTreeMap::new(),
        }
    }
}

impl Validation {
    pub fn ruleset_for(&self, administration: &AdministrationId) -> Ruleset {
        self.rulesets.get(administration.as_str()).copied().unwrap_or(self.default_ruleset)
    }
}

/// Which files go with a document in the e-mail to the accounting software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    Xml,
    Pdf,
    Both,
}

/// Export (e-mail batches) settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// The sender of every e-mail.
    pub from: EmailAddress,
    pub addresses: Addresses,
    /// Documents per e-mail, at least 1 (default 1).
    #[serde(default = "one", deserialize_with = "de_at_least_one")]
    pub documents_per_email: u32,
    /// Attach the files of an e-mail as one ZIP file (default false).
    #[serde(default)]
    pub zip: bool,
    #[serde(default)]
    pub attachments: Attachments,
    /// Render a PDF from the XML when the invoice embeds none (default true).
    #[serde(default = "yes")]
    pub render_pdf_when_missing: bool,
    /// A document is sent this many days after its invoice date at the earliest (default 0).
    #[serde(default)]
    pub delay_days: u32,
    /// Documents dated before this date are never sent (default: no limit).
    #[serde(default, deserialize_with = "de_opt_date")]
    pub start_date: Option<NaiveDate>,
    #[serde(default)]
    pub max_emails_per_run: Caps,
    /// E-mails per second, more than 0 (default 1).
    #[serde(default = "default_send_rate", deserialize_with = "de_send_rate")]
    pub send_rate: Decimal,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_send_rate() -> Decimal {
    Decimal::ONE
}

/// Recipients, one mailbox per journal plus the run report. Recipients come only from here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Addresses {
    pub sales: EmailAddress,
    pub credit_notes: EmailAddress,
    pub purchases: EmailAddress,
    pub reports: EmailAddress,
}

/// Attachments per journal (default: both XML and PDF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachments {
    #[serde(default = "both")]
    pub sales: AttachmentKind,
    #[serde(default = "both")]
    pub credit_notes: AttachmentKind,
    #[serde(default = "both")]
    pub purchases: AttachmentKind,
}

fn both() -> AttachmentKind {
    AttachmentKind::Both
}

impl Default for Attachments {
    fn default() -> Self {
        Attachments { sales: both(), credit_notes: both(), purchases: both() }
    }
}

/// E-mails per run at most (sales includes sales credit notes), each at least 1, default 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    #[serde(default = "fifty", deserialize_with = "de_at_least_one")]
    pub sales: u32,
    #[serde(default = "fifty", deserialize_with = "de_at_least_one")]
    pub purchases: u32,
}

fn fifty() -> u32 {
    50
}

impl Default for Caps {
    fn default() -> Self {
        Caps { sales: fifty(), purchases: fifty() }
    }
}

/// How the local outbox may also send through an SMTP server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_security")]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// The name of the environment variable holding the password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
}

fn default_smtp_port() -> u16 {
    587
}
fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

/// "line L, column C" (both from 1, columns in characters) of a byte offset, so that a person can
/// find a syntax error in the file.
fn line_and_column(text: &str, offset: usize) -> String {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

impl Config {
    /// Reads and checks the configuration document.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let deserializer = toml::de::Deserializer::parse(text).map_err(|e| {
            let message = match e.span() {
                Some(span) => format!("{}: {}", line_and_column(text, span.start), e.message()),
                None => e.message().to_owned(),
            };
            ConfigError::Syntax { message, source: e }
        })?;
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            field_error(if path == "." { "" } else { &path }, e.inner().message())
        })?;
        config.check()?;
        Ok(config)
    }

    pub fn administration(&self, id: &AdministrationId) -> Option<&Administration> {
        self.administrations.iter().find(|a| &a.id == id)
    }

    /// Checks what involves more than one field.
    fn check(&self) -> Result<(), ConfigError> {
        if self.administrations.is_empty() {
            return Err(ConfigError::field("administrations", "at least one administration is required"));
        }
        let mut ids = BTreeSet::new();
        let mut owners: BTreeMap<SupplierKey, &AdministrationId> = BTreeMap::new();
        for (i, admin) in self.administrations.iter().enumerate() {
            let at = format!("administrations[{i}]");
            if !ids.insert(&admin.id) {
                return Err(ConfigError::field(
                    format!("{at}.id"),
                    format!("\"{}\" is used by an earlier administration", admin.id),
                ));
            }
            if admin.name.trim().is_empty() {
                return Err(ConfigError::field(format!("{at}.name"), "must not be empty"));
            }
            if admin.vat_ids.is_empty() && admin.endpoints.is_empty() {
                return Err(ConfigError::field(
                    at,
                    "give at least one VAT id or endpoint, or no invoice can be recognised as the administration's",
                ));
            }
            for (j, endpoint) in admin.endpoints.iter().enumerate() {
                endpoint.key().map_err(|m| ConfigError::field(format!("{at}.endpoints[{j}]"), m))?;
            }
            for key in admin.keys() {
                if let Some(other) = owners.insert(key.clone(), &admin.id) {
                    return Err(ConfigError::field(
                        at,
                        format!(
                            "{key} also identifies administration \"{other}\": an invoice would be ambiguous"
                        ),
                    ));
                }
            }
            let mut seen = BTreeSet::new();
            for (j, s) in admin.purchase.suppliers.iter().enumerate() {
                if !seen.insert(&s.supplier) {
                    return Err(ConfigError::field(
                        format!("{at}.purchase.suppliers[{j}]"),
                        format!("supplier {} has an earlier profile", s.supplier),
                    ));
                }
            }
        }
        for id in self.validation.rulesets.keys() {
            if !self.administrations.iter().any(|a| a.id.as_str() == id) {
                return Err(ConfigError::field(
                    format!("validation.rulesets.{id}"),
                    "no administration has this id",
                ));
            }
        }
        if let Some(smtp) = &self.smtp
            && smtp.host.trim().is_empty()
        {
            return Err(ConfigError::field("smtp.host", "must not be empty"));
        }
        Ok(())
    }
}

/// Turns serde's messages into `path.field: what` form.
fn field_error(path: &str, message: &str) -> ConfigError {
    // serde_path_to_error's path ends with the field itself for an unknown field, not for a
    // missing one.
    let join = |field: &str| match path {
        "" => field.to_owned(),
        p if p == field || p.ends_with(&format!(".{field}")) => p.to_owned(),
        p => format!("{p}.{field}"),
    };
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        return ConfigError::field(join(field), "missing");
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let expected = expected.trim_start_matches(", ").replace('`', "");
        return ConfigError::field(join(field), format!("unknown field ({expected})"));
    }
    let path = if path.is_empty() { "(document)" } else { path };
    ConfigError::field(path, message.replace('`', "\""))
}

/// A decimal written as a string, an integer or a float (read from its shortest decimal form).
fn decimal_from(value: toml::Value) -> Result<Decimal, String> {
    let parsed = match &value {
        toml::Value::String(s) => Decimal::from_str(s.trim()).ok(),
        toml::Value::Integer(i) => Some(Decimal::from(*i)),
        toml::Value::Float(f) if f.is_finite() => Decimal::from_str(&f.to_string()).ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("{value} is not a number (write e.g. \"2.5\")"))
}

fn de_tolerance<'de, D: Deserializer<'de>>(d: D) -> Result<Tolerance, D::Error> {
    tolerance_from(toml::Value::deserialize(d)?).map_err(de::Error::custom)
}

fn de_opt_tolerance<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tolerance>, D::Error> {
    de_tolerance(d).map(Some)
}

/// `"exact"` or a table with `percentage` and/or `max_amount`.
fn tolerance_from(value: toml::Value) -> Result<Tolerance, String> {
    const HELP: &str = "must be \"exact\" or a table with percentage and/or max_amount";
    match value {
        toml::Value::String(s) if s == "exact" => Ok(Tolerance::EXACT),
        toml::Value::Table(table) => {
            let (mut percentage, mut max_amount) = (None, None);
            for (key, v) in table {
                match key.as_str() {
                    "percentage" => {
                        percentage = Some(decimal_from(v).map_err(|m| format!("percentage: {m}"))?)
                    }
                    "max_amount" => {
                        max_amount = Some(decimal_from(v).map_err(|m| format!("max_amount: {m}"))?)
                    }
                    other => return Err(format!("unknown key \"{other}\": {HELP}")),
                }
            }
            if percentage.is_none() && max_amount.is_none() {
                return Err(HELP.into());
            }
            Tolerance::new(percentage, max_amount).map_err(|e| e.to_string())
        }
        _ => Err(HELP.into()),
    }
}

fn de_at_least_one<'de, D: Deserializer<'de>, T>(d: D) -> Result<T, D::Error>
where
    T: Deserialize<'de> + PartialOrd + From<u8>,
{
    let n = T::deserialize(d)?;
    if n < T::from(1) { Err(de::Error::custom("must be at least 1")) } else { Ok(n) }
}

fn de_send_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let rate = decimal_from(toml::Value::deserialize(d)?).map_err(de::Error::custom)?;
    if rate <= Decimal::ZERO {
        Err(de::Error::custom("must be more than 0 e-mails per second"))
    } else {
        Ok(rate)
    }
}

fn de_opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let value = toml::Value::deserialize(d)?;
    let date = match &value {
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt
            .date
            .and_then(|x| NaiveDate::from_ymd_opt(i32::from(x.year), u32::from(x.month), u32::from(x.day))),
        toml::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    };
    date.map(Some).ok_or_else(|| de::Error::custom(format!("{value} is not a date (write e.g. 2024-01-01)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const MINIMAL: &str = r#"
        [[administrations]]
        id = "acme"
        name = "ACME B.V."
        vat_ids = ["NL 8888.88.888.B01"]
        endpoints = [{ scheme = "0106", value = "12345678" }]
        [administrations.accounts]
        payables = "1600"
        receivables = "1300"
        goods_received_clearing = "1610"
        obligations = "1620"
        default_expense = "4999"
        default_revenue = "8000"
        rounding = "4990"
        prepayments = "1650"
        input_vat = { rates = { "21" = "1510", "9.0" = "1511" }, fallback = "1519" }
        output_vat = { fallback = "1529" }

        [export]
        from = "ledgerpost@example.com"
        [export.addresses]
        sales = "sales@example.com"
        credit_notes = "credit@example.com"
        purchases = "purchases@example.com"
        reports = "reports@example.com"
    "#;

    fn refused(text: &str) -> String {
        Config::from_toml_str(text).expect_err("should be refused").to_string()
    }

    #[test]
    fn minimal_document_gets_defaults() {
        let c = Config::from_toml_str(MINIMAL).unwrap();
        let admin = &c.administrations[0];
        assert_eq!(admin.vat_ids[0].key().as_str(), "NL888888888B01");
        assert_eq!(c.validation.max_file_bytes, 20 * 1024 * 1024);
        assert_eq!(c.validation.ruleset_for(&admin.id), Ruleset::En16931);
        assert_eq!(c.export.documents_per_email, 1);
        assert_eq!(c.export.max_emails_per_run, Caps { sales: 50, purchases: 50 });
        assert_eq!(c.export.attachments.purchases, AttachmentKind::Both);
        assert!(c.export.render_pdf_when_missing);
        assert_eq!(c.export.start_date, None);
        let profile = admin.purchase_profile(&[]);
        assert!(profile.tolerance.is_exact());
        assert!(!profile.reject_without_order_reference && !profile.approval_required);
        let vat = &admin.accounts.input_vat;
        assert_eq!(vat.account_for(Some("21.00".parse().unwrap())).as_str(), "1510");
        assert_eq!(vat.account_for(Some("9".parse().unwrap())).as_str(), "1511");
        assert_eq!(vat.account_for(Some("6".parse().unwrap())).as_str(), "1519");
        assert_eq!(vat.account_for(None).as_str(), "1519");
    }

    #[test]
    fn missing_field_is_named_with_its_path() {
        let two = format!(
            "{MINIMAL}\n{}",
            r#"
            [[administrations]]
            id = "beta"
            name = "Beta"
            vat_ids = ["BE0123456789"]
            [administrations.accounts]
            receivables = "1300"
            goods_received_clearing = "1610"
            obligations = "1620"
            default_expense = "4999"
            default_revenue = "8000"
            rounding = "4990"
            prepayments = "1650"
            input_vat = { fallback = "1519" }
            output_vat = { fallback = "1529" }
            "#
        );
        assert_eq!(refused(&two), "administrations[1].accounts.payables: missing");
        let no_addresses = MINIMAL.split("[export.addresses]").next().unwrap();
        assert_eq!(refused(no_addresses), "export.addresses: missing");
        assert!(
            refused(&MINIMAL.replace("[export.addresses]", "[export.other]"))
                .starts_with("export.other: unknown field")
        );
    }

    #[test]
    fn wrong_values_are_named_with_their_path() {
        assert_eq!(
            refused(&MINIMAL.replace("sales = \"sales@example.com\"", "sales = \"x@\"")),
            "export.addresses.sales: \"x@\" is not an e-mail address"
        );
        let caps = format!("{MINIMAL}\n[export.max_emails_per_run]\nsales = 0\n");
        assert_eq!(refused(&caps), "export.max_emails_per_run.sales: must be at least 1");
        let per_mail = MINIMAL.replace("[export.addresses]", "documents_per_email = 0\n[export.addresses]");
        assert_eq!(refused(&per_mail), "export.documents_per_email: must be at least 1");
        assert!(
            refused(&MINIMAL.replace("payables = \"1600\"", "payables = \"16 00\""))
                .starts_with("administrations[0].accounts.payables: \"16 00\" is not an account code")
        );
        assert!(
            refused(&MINIMAL.replace("\"9.0\" = \"1511\"", "\"nine\" = \"1511\""))
                .starts_with("administrations[0].accounts.input_vat: rates: \"nine\" is not a VAT rate")
        );
        let unknown = MINIMAL.replace("[export.addresses]", "zipp = true\n[export.addresses]");
        assert!(refused(&unknown).starts_with("export.zipp: unknown field"), "{}", refused(&unknown));
        let attach = format!("{MINIMAL}\n[export.attachments]\nsales = \"html\"\n");
        assert!(
            refused(&attach).starts_with("export.attachments.sales: unknown variant"),
            "{}",
            refused(&attach)
        );
        let date = MINIMAL.replace("[export.addresses]", "start_date = 2024-02-30\n[export.addresses]");
        assert!(refused(&date).contains("export.start_date") || refused(&date).contains("not valid TOML"));
        let date = MINIMAL.replace("[export.addresses]", "start_date = \"01-02-2024\"\n[export.addresses]");
        assert!(refused(&date).starts_with("export.start_date: "), "{}", refused(&date));
        let rate = MINIMAL.replace("[export.addresses]", "send_rate = 0\n[export.addresses]");
        assert_eq!(refused(&rate), "export.send_rate: must be more than 0 e-mails per second");
        assert!(refused("this is = not toml =").starts_with("the configuration is not valid TOML"));
        let second_line = refused("[export]\nfrom = = 1\n");
        assert!(second_line.contains("line 2, column"), "{second_line}");
    }

    #[test]
    fn tolerance_forms() {
        let with = |t: &str| {
            Config::from_toml_str(&format!("{MINIMAL}\n[administrations.purchase]\ntolerance = {t}\n"))
                .map(|c| c.administrations[0].purchase.tolerance)
        };
        assert!(with("\"exact\"").unwrap().is_exact());
        let t = with("{ percentage = 2.5, max_amount = \"10.00\" }").unwrap();
        assert_eq!(t.percentage(), Some("2.5".parse().unwrap()));
        assert_eq!(t.max_amount(), Some("10.00".parse().unwrap()));
        assert_eq!(with("{ max_amount = 5 }").unwrap().max_amount(), Some(Decimal::from(5)));
        let err = with("{ percent = 2 }").unwrap_err().to_string();
        assert!(err.starts_with("administrations[0].purchase.tolerance: unknown key \"percent\""), "{err}");
        let err = with("{ percentage = -1 }").unwrap_err().to_string();
        assert!(err.starts_with("administrations[0].purchase.tolerance: percentage -1"), "{err}");
        assert!(with("\"loose\"").is_err());
        assert!(with("{}").is_err());
    }

    #[test]
    fn supplier_profiles_override_the_default() {
        let text = format!(
            "{MINIMAL}\n{}",
            r#"
            [administrations.purchase]
            tolerance = { percentage = 1 }
            approval_required = true
            [[administrations.purchase.suppliers]]
            vat_id = "de123456789"
            tolerance = "exact"
            [[administrations.purchase.suppliers]]
            endpoint = { scheme = "0088", value = "7300010000001" }
            reject_without_order_reference = true
            "#
        );
        let c = Config::from_toml_str(&text).unwrap();
        let admin = &c.administrations[0];
        let by_vat = admin.purchase_profile(&[SupplierKey::parse("DE123456789").unwrap()]);
        assert!(by_vat.tolerance.is_exact() && by_vat.approval_required);
        let by_endpoint = admin.purchase_profile(&[
            SupplierKey::parse("FR999").unwrap(),
            SupplierKey::from_endpoint("0088", "7300010000001").unwrap(),
        ]);
        assert!(by_endpoint.reject_without_order_reference);
        assert_eq!(by_endpoint.tolerance.percentage(), Some(Decimal::ONE));
        let other = admin.purchase_profile(&[SupplierKey::parse("FR999").unwrap()]);
        assert!(!other.reject_without_order_reference);

        let both = text.replace(
            "vat_id = \"de123456789\"",
            "vat_id = \"de123456789\"\nendpoint = { scheme = \"1\", value = \"2\" }",
        );
        assert!(refused(&both).starts_with("administrations[0].purchase.suppliers[0]: give exactly one"));
        let twice = text
            .replace("scheme = \"0088\", value = \"7300010000001\"", "scheme = \"9930\", value = \"x\"")
            .replace("endpoint = { scheme = \"9930\", value = \"x\" }", "vat_id = \"DE 123456789\"");
        assert!(
            refused(&twice).starts_with("administrations[0].purchase.suppliers[1]: supplier DE123456789")
        );
    }

    #[test]
    fn cross_field_checks() {
        let dup = format!("{MINIMAL}\n{}", MINIMAL.split("[export]").next().unwrap());
        assert!(refused(&dup).starts_with("administrations[1].id: \"acme\" is used"));
        let rules = format!("{MINIMAL}\n[validation.rulesets]\nacme = \"peppol\"\nghost = \"en16931\"\n");
        assert_eq!(refused(&rules), "validation.rulesets.ghost: no administration has this id");
        let ok = format!("{MINIMAL}\n[validation.rulesets]\nacme = \"peppol\"\n");
        let c = Config::from_toml_str(&ok).unwrap();
        assert_eq!(c.validation.ruleset_for(&c.administrations[0].id), Ruleset::Peppol);
        let nobody = MINIMAL
            .replace("vat_ids = [\"NL 8888.88.888.B01\"]\n", "")
            .replace("endpoints = [{ scheme = \"0106\", value = \"12345678\" }]\n", "");
        assert!(refused(&nobody).starts_with("administrations[0]: give at least one VAT id"));
    }

    #[test]
    fn the_example_file_loads() {
        let text = include_str!("../examples/ledgerpost.toml");
        let c = Config::from_toml_str(text).unwrap();
        assert!(c.administrations.len() >= 2);
        assert!(c.smtp.is_some());
    }
}
