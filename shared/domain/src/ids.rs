//! Identifiers that validate on construction: each newtype has a private field and one way in
//! (`parse`, or `derive` for [`InvoiceId`]), so a value of the type is valid wherever it is seen.
//!
//! All of them serialise as plain strings and are re-validated when deserialised (configuration,
//! stored state), so a hand-edited file cannot smuggle in an invalid value.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a value was refused as an identifier. The message quotes the value and says what was
/// expected, so it can be shown as is after a field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "\"{0}\" is not an administration id (1 to 64 letters, digits, '-' or '_', starting with a letter or digit)"
    )]
    Administration(String),
    #[error("\"{0}\" is not an account code (1 to 32 letters, digits, '.', '-' or '_')")]
    Account(String),
    #[error("\"{0}\" is not an e-mail address")]
    Email(String),
    #[error(
        "\"{0}\" is not a supplier key (a VAT id such as \"NL123456789B01\" or \"scheme:endpoint\" such as \"0106:12345678\")"
    )]
    Supplier(String),
    #[error("invoice number \"{0}\" is empty or longer than 200 characters")]
    InvoiceNumber(String),
    #[error("\"{0}\" is not an invoice id")]
    InvoiceId(String),
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                $name::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// The id of an administration (a company whose books ledgerpost keeps). Safe as part of a storage
/// key or file name: ASCII letters, digits, `-` and `_`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdministrationId(String);

impl AdministrationId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok { Ok(AdministrationId(s.to_owned())) } else { Err(IdError::Administration(s.to_owned())) }
    }
}
string_newtype!(AdministrationId);

/// A general-ledger account code as the accounting software knows it ("4000", "1600.01").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountCode(String);

impl AccountCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=32).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if ok { Ok(AccountCode(s.to_owned())) } else { Err(IdError::Account(s.to_owned())) }
    }
}
string_newtype!(AccountCode);

/// An e-mail address for an accounting mailbox. The check is deliberately plain (RFC 5321 sizes,
/// RFC 5322 `dot-atom` local part, a dotted DNS domain) and refuses everything that could inject
/// a header or a second recipient: white space, control characters, `,`, `;`, `<`, `>`, quotes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let refuse = || IdError::Email(s.to_owned());
        if s.len() > 254 {
            return Err(refuse());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(refuse)?;
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
        let local_ok = (1..=64).contains(&local.len())
            && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext));
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| label_ok(l))
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()) && tld.len() >= 2);
        if local_ok && domain_ok { Ok(EmailAddress(s.to_owned())) } else { Err(refuse()) }
    }
}
string_newtype!(EmailAddress);

/// The key a supplier (or customer) is known by within an administration: its VAT id, normalised
/// (upper case, without spaces, dots and dashes: "nl 1234.56.789.B01" → "NL123456789B01"), or, for a
/// party without a VAT id, its electronic address as `scheme:endpoint` ("0106:12345678"; scheme and
/// value as written, trimmed, value lower-cased because Peppol identifiers are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SupplierKey(String);

impl SupplierKey {
    /// Accepts either form: text with a `:` is `scheme:endpoint`, anything else a VAT id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let refuse = || IdError::Supplier(s.to_owned());
        let printable = |v: &str| v.chars().all(|c| !c.is_control() && !c.is_whitespace());
        let key = if let Some((scheme, value)) = s.split_once(':') {
            let (scheme, value) = (scheme.trim(), value.trim());
            let ok = (1..=16).contains(&scheme.len())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric())
                && (1..=128).contains(&value.len())
                && printable(value);
            if !ok {
                return Err(refuse());
            }
            format!("{}:{}", scheme.to_ascii_uppercase(), value.to_lowercase())
        } else {
            let vat: String = s
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '.' && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect();
            if !(3..=20).contains(&vat.len()) || !vat.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(refuse());
            }
            vat
        };
        Ok(SupplierKey(key))
    }

    /// The key for a VAT id (same as [`SupplierKey::parse`] on text without `:`).
    pub fn from_vat_id(vat_id: &str) -> Result<Self, IdError> {
        if vat_id.contains(':') {
            return Err(IdError::Supplier(vat_id.to_owned()));
        }
        SupplierKey::parse(vat_id)
    }

    /// The key for an electronic address (BT-34 / BT-49).
    pub fn from_endpoint(scheme: &str, value: &str) -> Result<Self, IdError> {
        SupplierKey::parse(&format!("{scheme}:{value}"))
    }

    /// The keys a party can be known by, best first: its VAT id, then its endpoint. Values that
    /// cannot be keys are left out.
    pub fn candidates(party: &ledgerpost_ubl::model::Party) -> Vec<SupplierKey> {
        let vat = party.vat_id.as_deref().and_then(|v| SupplierKey::from_vat_id(v).ok());
        let endpoint = party
            .endpoint
            .as_ref()
            .and_then(|e| SupplierKey::from_endpoint(e.scheme.as_deref().unwrap_or(""), &e.value).ok());
        vat.into_iter().chain(endpoint).collect()
    }

    /// The key a party is filed under: its VAT id, else its endpoint.
    pub fn for_party(party: &ledgerpost_ubl::model::Party) -> Option<SupplierKey> {
        SupplierKey::candidates(party).into_iter().next()
    }
}
string_newtype!(SupplierKey);

/// The id of a stored invoice, derived from what makes an invoice unique: administration, supplier
/// (the other party), invoice number and issue year (suppliers may restart numbering each year).
///
/// It is deterministic (the same invoice always gets the same id, so a duplicate is found by a key
/// lookup) and safe as a storage key or file name on any file system: a readable, lower-case
/// ASCII part for people, followed by 16 hex digits of the SHA-256 of the exact inputs, which
/// keep apart numbers that read the same once made safe ("A/1" and "a-1").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InvoiceId(String);

impl InvoiceId {
    /// The id for an invoice; the number is trimmed first. Refuses an empty number or one longer
    /// than 200 characters.
    pub fn derive(
        administration: &AdministrationId,
        supplier: &SupplierKey,
        number: &str,
        issue_year: i32,
    ) -> Result<Self, IdError> {
        let number = number.trim();
        if number.is_empty() || number.chars().count() > 200 {
            return Err(IdError::InvoiceNumber(number.to_owned()));
        }
        let mut hash = Sha256::new();
        for part in [administration.as_str(), supplier.as_str(), number, &issue_year.to_string()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let readable = |s: &str, max: usize| -> String {
            let mut out = String::new();
            for c in s.chars() {
                let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
                if !(c == '-' && out.ends_with('-')) {
                    out.push(c);
                }
            }
            let out = out.trim_matches('-');
            out.chars().take(max).collect()
        };
        let id = format!(
            "{}_{}_{}_{}_{}",
            administration.as_str().to_ascii_lowercase(),
            issue_year,
            readable(supplier.as_str(), 24),
            readable(number, 40),
            hex
        );
        Ok(InvoiceId(id))
    }

    /// Re-validates a stored id (shape only: the inputs it was derived from are not known here).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=200).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && s.rsplit('_').next().is_some_and(|h| h.len() == 16);
        if ok { Ok(InvoiceId(s.to_owned())) } else { Err(IdError::InvoiceId(s.to_owned())) }
    }
}
string_newtype!(InvoiceId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administration_ids() {
        assert!(AdministrationId::parse("acme-nl_01").is_ok());
        for bad in ["", "-acme", "ac me", "acme/../x", "é", &"a".repeat(65)] {
            assert!(AdministrationId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn account_codes() {
        assert!(AccountCode::parse("1600.01").is_ok());
        assert!(AccountCode::parse("").is_err());
        assert!(AccountCode::parse("16 00").is_err());
    }

    #[test]
    fn email_addresses() {
        for good in ["sales@example.com", "a.b+c@mail.example.co.uk", "x_y@sub-domain.example.org"] {
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "x@",
            "@example.com",
            "plain",
            "a@b",
            "a@b.c",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example.com\r\nBcc: evil@example.com",
            "a@example.com, b@example.com",
            "\"a b\"@example.com",
            "<a@example.com>",
            "a@exa mple.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(IdError::Email("x@".into()).to_string(), "\"x@\" is not an e-mail address");
    }

    #[test]
    fn supplier_keys_normalise() {
        assert_eq!(SupplierKey::parse("nl 1234.56.789-b01").unwrap().as_str(), "NL123456789B01");
        assert_eq!(SupplierKey::parse(" 0106 : ABC123 ").unwrap().as_str(), "0106:abc123");
        assert_eq!(
            SupplierKey::from_endpoint("0088", "7300010000001").unwrap().as_str(),
            "0088:7300010000001"
        );
        assert!(SupplierKey::parse("x").is_err());
        assert!(SupplierKey::parse(":abc").is_err());
        assert!(SupplierKey::parse("0106:").is_err());
        assert!(SupplierKey::parse("0106:a b").is_err());
        assert!(SupplierKey::from_vat_id("0106:1").is_err());
    }

    #[test]
    fn invoice_ids_are_deterministic_and_safe() {
        let admin = AdministrationId::parse("Acme").unwrap();
        let supplier = SupplierKey::parse("NL123456789B01").unwrap();
        let a = InvoiceId::derive(&admin, &supplier, "INV/2024/001", 2024).unwrap();
        let b = InvoiceId::derive(&admin, &supplier, " INV/2024/001 ", 2024).unwrap();
        assert_eq!(a, b);
        assert!(a.as_str().starts_with("acme_2024_nl123456789b01_inv-2024-001_"), "{a}");
        assert!(a.as_str().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c)));
        // Same readable part, different numbers: different ids.
        let c = InvoiceId::derive(&admin, &supplier, "inv-2024-001", 2024).unwrap();
        assert_ne!(a, c);
        // Same number in another year (suppliers restart numbering): different ids.
        let d = InvoiceId::derive(&admin, &supplier, "INV/2024/001", 2025).unwrap();
        assert_ne!(a, d);
        assert_eq!(InvoiceId::parse(a.as_str()).unwrap(), a);
        assert!(InvoiceId::derive(&admin, &supplier, "  ", 2024).is_err());
        let weird = InvoiceId::derive(&admin, &supplier, "../../etc/passwd\0", 2024).unwrap();
        assert!(!weird.as_str().contains('/') && !weird.as_str().contains('.'));
    }
}
