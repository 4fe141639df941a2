//! Loads an official Schematron file (ISO Schematron with `queryBinding="xslt2"`) as data:
//! namespaces, schema-level variables, XSLT helper functions, and patterns of rules with their
//! variables and asserts. Read with the project's own hardened XML reader.

use std::collections::HashMap;
use std::sync::Arc;

use crate::xml::{Document, Limits, NodeId, NodeKind};
use crate::xpath::{self, Expr, FnBody, FnValue, Func, NameTable, ParseError, Prefixes, UserFunction};

const NS_SCH: &str = "http://purl.oclc.org/dsdl/schematron";
const NS_XSL: &str = "http://www.w3.org/1999/XSL/Transform";

/// Why a rule set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the rule set file is not readable XML: {0}")]
    Xml(#[from] crate::xml::XmlError),
    #[error("the rule set file is not a Schematron schema (root {0})")]
    NotSchematron(String),
    #[error("{what} is missing its `{attribute}` attribute")]
    MissingAttribute { what: &'static str, attribute: &'static str },
    #[error("rule `{rule}`: {source}")]
    Expression { rule: String, source: ParseError },
    #[error("function {function}: unsupported XSLT instruction <{instruction}>")]
    Unsupported { function: String, instruction: String },
    #[error("type {0} is not supported in function signatures")]
    Type(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    Fatal,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Assert {
    pub id: Arc<str>,
    pub flag: Flag,
    pub test_source: Arc<str>,
    pub test: Expr,
    pub message: Arc<str>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub context_source: Arc<str>,
    pub context: Expr,
    pub lets: Vec<(Arc<str>, Expr)>,
    pub asserts: Vec<Assert>,
}

#[derive(Debug, Clone)]
pub struct Pattern {
    pub id: Option<String>,
    pub rules: Vec<Rule>,
}

/// A compiled Schematron schema.
#[derive(Debug, Clone)]
pub struct Schema {
    pub title: String,
    pub patterns: Vec<Pattern>,
    pub globals: Vec<(Arc<str>, Expr)>,
    pub functions: Vec<UserFunction>,
    pub names: NameTable,
    /// How many cached document-constant subexpressions the asserts and lets use.
    pub cache_slots: usize,
    scope: Scope,
}

#[derive(Debug, Clone)]
struct Scope {
    prefixes: HashMap<String, String>,
    functions: HashMap<(String, usize), usize>,
}

impl Prefixes for Scope {
    fn uri(&self, prefix: &str) -> Option<&str> {
        self.prefixes.get(prefix).map(String::as_str)
    }
    fn user_function(&self, name: &str, arity: usize) -> Option<usize> {
        self.functions.get(&(name.to_owned(), arity)).copied()
    }
}

fn attr<'a>(
    doc: &'a Document,
    n: NodeId,
    name: &'static str,
    what: &'static str,
) -> Result<&'a str, LoadError> {
    doc.attr(n, name).ok_or(LoadError::MissingAttribute { what, attribute: name })
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sequence_type(t: Option<&str>) -> Result<Option<Func>, LoadError> {
    let Some(t) = t else { return Ok(None) };
    let base = t.trim().trim_end_matches(['?', '*', '+']);
    Ok(Some(match base {
        "xs:string" => Func::XsString,
        "xs:integer" => Func::XsInteger,
        "xs:decimal" => Func::XsDecimal,
        "xs:boolean" => Func::XsBoolean,
        "xs:double" => Func::XsDouble,
        "xs:date" => Func::XsDate,
        "item()" | "node()" => return Ok(None),
        other => return Err(LoadError::Type(other.to_owned())),
    }))
}

impl Schema {
    /// Compiles the Schematron text.
    pub fn load(source: &str) -> Result<Schema, LoadError> {
        let limits = Limits { max_bytes: 64 * 1024 * 1024, max_depth: 64 };
        let doc = Document::parse(source.as_bytes(), &limits)?;
        let root = doc.root();
        if !doc.is(root, NS_SCH, "schema") {
            return Err(LoadError::NotSchematron(doc.qualified_name(root).to_owned()));
        }
        let mut scope = Scope { prefixes: HashMap::new(), functions: HashMap::new() };
        let mut names = NameTable::default();
        for ns in doc.children_named(root, NS_SCH, "ns") {
            let prefix = attr(&doc, ns, "prefix", "<ns>")?;
            let uri = attr(&doc, ns, "uri", "<ns>")?;
            scope.prefixes.insert(prefix.to_owned(), uri.to_owned());
        }
        // Functions first, by name, so bodies and rules can call them (and each other).
        let function_nodes: Vec<NodeId> = doc.children_named(root, NS_XSL, "function").collect();
        for (i, f) in function_nodes.iter().enumerate() {
            let name = attr(&doc, *f, "name", "<xsl:function>")?;
            let arity = doc.children_named(*f, NS_XSL, "param").count();
            scope.functions.insert((name.to_owned(), arity), i);
        }
        let mut functions = Vec::with_capacity(function_nodes.len());
        for f in &function_nodes {
            functions.push(compile_function(&doc, *f, &scope, &mut names)?);
        }
        let compile = |src: &str, rule: &str, names: &mut NameTable| {
            xpath::compile(src, &scope, names)
                .map_err(|source| LoadError::Expression { rule: rule.to_owned(), source })
        };
        let mut globals = Vec::new();
        for l in doc.children_named(root, NS_SCH, "let") {
            let name = attr(&doc, l, "name", "<let>")?;
            let value = attr(&doc, l, "value", "<let>")?;
            globals.push((Arc::from(name), compile(value, &format!("let ${name}"), &mut names)?));
        }
        let mut patterns = Vec::new();
        for p in doc.children_named(root, NS_SCH, "pattern") {
            // The ISO skeleton compiles pattern variables into global ones, evaluated at the root.
            for l in doc.children_named(p, NS_SCH, "let") {
                let name = attr(&doc, l, "name", "<let>")?;
                let value = attr(&doc, l, "value", "<let>")?;
                globals.push((Arc::from(name), compile(value, &format!("let ${name}"), &mut names)?));
            }
            let mut rules = Vec::new();
            for r in doc.children_named(p, NS_SCH, "rule") {
                let context_src = attr(&doc, r, "context", "<rule>")?;
                let context = match_pattern(compile(context_src, context_src, &mut names)?);
                let mut lets = Vec::new();
                let mut asserts = Vec::new();
                for c in doc.elements(r) {
                    if doc.is(c, NS_SCH, "let") {
                        let name = attr(&doc, c, "name", "<let>")?;
                        let value = attr(&doc, c, "value", "<let>")?;
                        lets.push((Arc::from(name), compile(value, &format!("let ${name}"), &mut names)?));
                    } else if doc.is(c, NS_SCH, "assert") {
                        let id = attr(&doc, c, "id", "<assert>")?;
                        let test_src = attr(&doc, c, "test", "<assert>")?;
                        let flag = match doc.attr(c, "flag") {
                            Some("warning") => Flag::Warning,
                            _ => Flag::Fatal,
                        };
                        asserts.push(Assert {
                            id: id.into(),
                            flag,
                            test_source: test_src.into(),
                            test: compile(test_src, id, &mut names)?,
                            message: normalize(&doc.string_value(c)).into(),
                        });
                    }
                }
                rules.push(Rule { context_source: context_src.into(), context, lets, asserts });
            }
            patterns.push(Pattern { id: doc.attr(p, "id").map(str::to_owned), rules });
        }
        let title =
            doc.child(root, NS_SCH, "title").map(|t| normalize(&doc.string_value(t))).unwrap_or_default();
        // Rule contexts stay uncached: they are evaluated once per document anyway, and in pattern
        // mode (errors are non-matches), which must not leak into asserts sharing a subexpression.
        let mut slots = HashMap::new();
        for r in patterns.iter_mut().flat_map(|p| p.rules.iter_mut()) {
            r.context.optimise_quantifiers();
            for (_, e) in &mut r.lets {
                e.optimise_quantifiers();
                e.distribute_unions();
                e.index_code_lists();
                e.cache_document_constants(&mut slots);
            }
            for a in &mut r.asserts {
                a.test.optimise_quantifiers();
                a.test.distribute_unions();
                a.test.index_code_lists();
                a.test.cache_document_constants(&mut slots);
            }
        }
        for (_, e) in &mut globals {
            e.optimise_quantifiers();
        }
        let cache_slots = slots.len();
        let mut values = crate::xpath::ast::NodeValues::default();
        for_each_expression(&mut patterns, |e, at| {
            e.count_node_values(at, &mut values);
        });
        for_each_expression(&mut patterns, |e, at| e.memoise_node_values(at, &mut values));
        Ok(Schema { title, patterns, globals, functions, names, cache_slots, scope })
    }

    /// Compiles an ad-hoc expression with the schema's prefixes and functions in scope.
    pub fn compile(&mut self, src: &str) -> Result<Expr, ParseError> {
        xpath::compile(src, &self.scope, &mut self.names)
    }

    /// Every assert in document order with its rule context.
    pub fn asserts(&self) -> impl Iterator<Item = (&Rule, &Assert)> {
        self.patterns.iter().flat_map(|p| p.rules.iter()).flat_map(|r| r.asserts.iter().map(move |a| (r, a)))
    }
}

/// Every rule context (evaluated at the document node), variable and assert test (evaluated at
/// the rule's context, named when the context fixes the name), in rule order.
fn for_each_expression(
    patterns: &mut [Pattern],
    mut f: impl FnMut(&mut Expr, crate::xpath::ast::StaticFocus),
) {
    for r in patterns.iter_mut().flat_map(|p| p.rules.iter_mut()) {
        let at = r.context.selected_name();
        f(&mut r.context, None);
        for (_, e) in &mut r.lets {
            f(e, at);
        }
        for a in &mut r.asserts {
            f(&mut a.test, at);
        }
    }
}

/// Turns a rule context (an XSLT match pattern) into the selection of every node it matches: a
/// relative path pattern `a/b` matches wherever it occurs, i.e. `//a/b` from the root.
fn match_pattern(e: Expr) -> Expr {
    use crate::xpath::ast::PathStart;
    use crate::xpath::parser::{descendant_or_self, optimise_steps};
    match e {
        Expr::Union(a, b) => Expr::Union(Box::new(match_pattern(*a)), Box::new(match_pattern(*b))),
        Expr::Paren(a) => Expr::Paren(Box::new(match_pattern(*a))),
        Expr::Filter(base, preds) => Expr::Filter(Box::new(match_pattern(*base)), preds),
        Expr::Path { start: PathStart::Context, steps } => {
            let mut all = vec![descendant_or_self()];
            all.extend(steps);
            Expr::Path { start: PathStart::Root, steps: optimise_steps(all) }
        }
        other => other,
    }
}

fn compile_function(
    doc: &Document,
    f: NodeId,
    scope: &Scope,
    names: &mut NameTable,
) -> Result<UserFunction, LoadError> {
    let name = attr(doc, f, "name", "<xsl:function>")?.to_owned();
    let mut params = Vec::new();
    for p in doc.children_named(f, NS_XSL, "param") {
        params.push((Arc::from(attr(doc, p, "name", "<xsl:param>")?), sequence_type(doc.attr(p, "as"))?));
    }
    let returns = sequence_type(doc.attr(f, "as"))?;
    let instructions: Vec<NodeId> = doc.elements(f).filter(|c| !doc.is(*c, NS_XSL, "param")).collect();
    let body = compile_body(doc, &instructions, &name, scope, names)?;
    Ok(UserFunction { name, params, body, returns })
}

/// Turns a list of XSLT instructions (variables then one result) into a body.
fn compile_body(
    doc: &Document,
    instructions: &[NodeId],
    function: &str,
    scope: &Scope,
    names: &mut NameTable,
) -> Result<FnBody, LoadError> {
    let compile = |src: &str, names: &mut NameTable| {
        xpath::compile(src, scope, names)
            .map_err(|source| LoadError::Expression { rule: function.to_owned(), source })
    };
    let unsupported = |n: NodeId| LoadError::Unsupported {
        function: function.to_owned(),
        instruction: doc.qualified_name(n).to_owned(),
    };
    let Some((first, rest)) = instructions.split_first() else {
        return Err(LoadError::Unsupported {
            function: function.to_owned(),
            instruction: "(empty body)".into(),
        });
    };
    let value_of = |n: NodeId, names: &mut NameTable| -> Result<FnValue, LoadError> {
        if let Some(sel) = doc.attr(n, "select") {
            return Ok(FnValue::Select(compile(sel, names)?));
        }
        let children: Vec<NodeId> = doc.elements(n).collect();
        match children.as_slice() {
            [] => Ok(FnValue::Text(doc.string_value(n).into_owned().into())),
            [c] if doc.is(*c, NS_XSL, "value-of") => {
                Ok(FnValue::ValueOf(compile(attr(doc, *c, "select", "<xsl:value-of>")?, names)?))
            }
            [c] if doc.is(*c, NS_XSL, "sequence") => {
                Ok(FnValue::Select(compile(attr(doc, *c, "select", "<xsl:sequence>")?, names)?))
            }
            [c, ..] => Err(unsupported(*c)),
        }
    };
    if doc.is(*first, NS_XSL, "variable") {
        let name = attr(doc, *first, "name", "<xsl:variable>")?;
        let value = value_of(*first, names)?;
        let ty = sequence_type(doc.attr(*first, "as"))?;
        let rest = compile_body(doc, rest, function, scope, names)?;
        return Ok(FnBody::Let { name: name.into(), value, ty, rest: Box::new(rest) });
    }
    if !rest.is_empty() {
        return Err(unsupported(rest[0]));
    }
    if doc.is(*first, NS_XSL, "value-of") {
        let sel = attr(doc, *first, "select", "<xsl:value-of>")?;
        return Ok(FnBody::Value(FnValue::ValueOf(compile(sel, names)?)));
    }
    if doc.is(*first, NS_XSL, "sequence") {
        let sel = attr(doc, *first, "select", "<xsl:sequence>")?;
        return Ok(FnBody::Value(FnValue::Select(compile(sel, names)?)));
    }
    if doc.is(*first, NS_XSL, "choose") {
        let mut whens = Vec::new();
        let mut otherwise = None;
        for c in doc.elements(*first) {
            let inner: Vec<NodeId> = doc.elements(c).collect();
            if doc.is(c, NS_XSL, "when") {
                let test = compile(attr(doc, c, "test", "<xsl:when>")?, names)?;
                whens.push((test, compile_body(doc, &inner, function, scope, names)?));
            } else if doc.is(c, NS_XSL, "otherwise") {
                otherwise = Some(compile_body(doc, &inner, function, scope, names)?);
            } else {
                return Err(unsupported(c));
            }
        }
        // No otherwise: the empty sequence.
        let otherwise = otherwise.unwrap_or(FnBody::Value(FnValue::Select(Expr::Empty)));
        return Ok(FnBody::Choose { whens, otherwise: Box::new(otherwise) });
    }
    let _ = NodeKind::Element;
    Err(unsupported(*first))
}
