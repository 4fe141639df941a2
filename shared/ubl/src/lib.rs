//! UBL 2.1 e-invoices for ledgerpost: read untrusted files safely, validate them with the official
//! rules, and map them to a typed model.
//!
//! - [`xml`]: a hardened XML reader (no DOCTYPE, no entities, size and depth caps) building one
//!   arena tree in document order.
//! - [`xpath`]: an XPath 2.0 interpreter for the expressions the official Schematron files use.
//! - [`rules`]: the EN 16931 and Peppol BIS 3 Schematron files, embedded unchanged and run as data.
//! - [`model`]: the typed Invoice / CreditNote (rust_decimal amounts, chrono dates).
//!
//! [`read`] ties the first steps together: bytes in, a UBL document (or a reason) out.

pub mod model;
pub mod rules;
pub mod xml;
pub mod xpath;

use model::DocumentKind;
use xml::{Document, Limits, NS_CREDIT_NOTE, NS_INVOICE, XmlError};

/// Why a file is not a readable UBL invoice or credit note.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("not a UBL Invoice or CreditNote: the root element is {root}")]
    NotInvoice { root: String },
}

/// A parsed UBL document of a known kind.
#[derive(Debug, Clone)]
pub struct UblDocument {
    pub kind: DocumentKind,
    pub tree: Document,
}

/// The kind of UBL document a tree holds, from its root element's namespace and name.
pub fn document_kind(doc: &Document) -> Option<DocumentKind> {
    let root = doc.root();
    if doc.is(root, NS_INVOICE, "Invoice") {
        Some(DocumentKind::Invoice)
    } else if doc.is(root, NS_CREDIT_NOTE, "CreditNote") {
        Some(DocumentKind::CreditNote)
    } else {
        None
    }
}

/// Reads bytes as a UBL Invoice or CreditNote.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<UblDocument, ReadError> {
    let tree = Document::parse(bytes, limits)?;
    match document_kind(&tree) {
        Some(kind) => Ok(UblDocument { kind, tree }),
        None => {
            let root = tree.root();
            let ns = tree.namespace(root);
            let root = if ns.is_empty() {
                format!("<{}> (no namespace)", tree.qualified_name(root))
            } else {
                format!("<{}> in namespace {ns}", tree.local_name(root))
            };
            Err(ReadError::NotInvoice { root })
        }
    }
}
