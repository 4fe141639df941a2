//! An XPath 2.0 interpreter for the expressions of the official EN 16931 and Peppol Schematron
//! rule sets, run as data.
//!
//! `parser` compiles an expression once (names interned, functions resolved); `eval` runs it over
//! a [`names::BoundDocument`]; `value` carries XPath 2.0's typing (untypedAtomic, integer/decimal
//! /double promotion) that the official verdicts depend on; `functions` is the function library.
//! Functions a rule set defines itself (Peppol's `u:*` checksums) are [`UserFunction`]s whose
//! bodies are XPath too, so they run verbatim.

pub mod ast;
pub mod eval;
pub mod functions;
pub mod names;
pub mod parser;
pub mod value;

use std::sync::Arc;

pub use ast::{Expr, Func};
pub use eval::{Evaluator, Focus};
pub use names::{BoundDocument, NameTable};
pub use parser::{ParseError, Prefixes};
pub use value::{Atomic, Item, Seq, XPathError};

/// Compiles `src` with the prefixes (and rule-set functions) in scope, interning names in `names`.
pub fn compile(src: &str, ns: &dyn Prefixes, names: &mut NameTable) -> Result<Expr, ParseError> {
    parser::Parser::parse(src, ns, names)
}

/// A function defined by a rule set (an XSLT `function` whose body is XPath): typed parameters,
/// a body of local variables and choices, and an optional result type.
#[derive(Debug, Clone)]
pub struct UserFunction {
    pub name: String,
    pub params: Vec<(Arc<str>, Option<Func>)>,
    pub body: FnBody,
    pub returns: Option<Func>,
}

/// The body of a rule-set function, as XSLT structures it. Variables are bound only on the branch
/// that declares them, so a variable of a branch not taken is never evaluated (as in XSLT).
#[derive(Debug, Clone)]
pub enum FnBody {
    Let { name: Arc<str>, value: FnValue, ty: Option<Func>, rest: Box<FnBody> },
    Choose { whens: Vec<(Expr, FnBody)>, otherwise: Box<FnBody> },
    Value(FnValue),
}

/// How an XSLT instruction produces a value.
#[derive(Debug, Clone)]
pub enum FnValue {
    /// `select="..."` or `<sequence select>`: the value itself.
    Select(Expr),
    /// `<value-of select>`: the string values joined by spaces, as one untyped value.
    ValueOf(Expr),
    /// Literal text content.
    Text(Arc<str>),
}
