//! The official Schematron rules run verbatim (after two semantics-preserving rewrites)
//! by xee-xpath, with Schematron semantics.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde::Deserialize;
use xee_xpath::context::{StaticContextBuilder, Variables};
use xee_xpath::query::SequenceQuery;
use xee_xpath::{Documents, Item, Queries, Query, Sequence};
use xot::xmlname::{NameStrInfo, OwnedName};

use crate::rewrite;

/// Namespace prefixes declared by the EN 16931 UBL Schematron (`<ns>` elements of
/// EN16931-UBL-validation-preprocessed.sch).
pub const EN16931_NAMESPACES: &[(&str, &str)] = &[
    ("ext", "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"),
    ("cbc", "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"),
    ("cac", "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"),
    ("qdt", "urn:oasis:names:specification:ubl:schema:xsd:QualifiedDataTypes-2"),
    ("udt", "urn:oasis:names:specification:ubl:schema:xsd:UnqualifiedDataTypes-2"),
    ("cn", "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"),
    ("ubl", "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"),
    ("xs", "http://www.w3.org/2001/XMLSchema"),
];

/// The verdict of the oracle on one document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OracleResult {
    /// Ids of the failed asserts with `flag="fatal"`.
    pub fatal: BTreeSet<String>,
    /// Ids of the failed asserts with `flag="warning"`.
    pub warnings: BTreeSet<String>,
    /// The document did not parse, or an expression raised a dynamic error (the official
    /// XSLT would stop with a runtime error then). Holds the first error; evaluation of the
    /// other asserts goes on.
    pub error: Option<String>,
}

/// An expression that xee-xpath refused at load time.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// Where the expression comes from (`context of rule N`, `test of BR-01`, `let $x`).
    pub what: String,
    /// The expression as compiled (after rewrites).
    pub expr: String,
    /// xee's message.
    pub error: String,
}

/// Loading a rule set failed.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// Every expression that failed to compile (or a single data error).
    pub errors: Vec<CompileError>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} expression(s) failed to load", self.errors.len())?;
        for e in &self.errors {
            writeln!(f, "  {}: {} [{}]", e.what, e.error, e.expr)?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Severity of an assert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `flag="fatal"`
    Fatal,
    /// `flag="warning"` (and anything that is not fatal)
    Warning,
}

/// A `let` as data: variable name and XPath value.
#[derive(Debug, Clone)]
pub(crate) struct LetDef {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub(crate) struct AssertDef {
    pub id: String,
    pub flag: Flag,
    pub test: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleDef {
    pub context: String,
    pub lets: Vec<LetDef>,
    pub asserts: Vec<AssertDef>,
}

#[derive(Debug, Clone)]
pub(crate) struct PatternDef {
    pub name: String,
    pub rules: Vec<RuleDef>,
}

/// A rule set as data, before compilation.
#[derive(Debug, Clone)]
pub(crate) struct RuleSetDef {
    pub namespaces: Vec<(String, String)>,
    /// Variables evaluated once per document with the document node as context, in order
    /// (schema-level and pattern-level `let`s: both are global variables in the compiled
    /// Schematron).
    pub globals: Vec<LetDef>,
    pub patterns: Vec<PatternDef>,
}

/// A compiled expression: as written (after the always-applied rewrites), and, when it
/// casts text, the variant with whitespace collapsed before the casts. The second one is
/// evaluated only when the first raises FORG0001: when the first succeeds, every cast it
/// made had a valid input and the second would give the same result.
struct Expr {
    fast: SequenceQuery,
    /// The whitespace-collapsed source, compiled on first need.
    collapsed: Option<Fallback>,
}

struct Fallback {
    source: String,
    variables: Vec<OwnedName>,
    query: std::cell::OnceCell<Result<SequenceQuery, String>>,
}

struct CompiledLet {
    name: OwnedName,
    query: Expr,
}

struct CompiledAssert {
    id: String,
    flag: Flag,
    test: String,
    query: Expr,
}

/// One alternative of a rule context (a union of match patterns).
struct CompiledBranch {
    /// Evaluated from the document node: every node the branch matches.
    selector: Expr,
    /// Evaluated with a candidate element as context item: does it match? Used when the
    /// selector raises an error (then only the nodes whose own test fails are dropped).
    test: Option<SequenceQuery>,
}

struct CompiledRule {
    context: String,
    branches: Vec<CompiledBranch>,
    lets: Vec<CompiledLet>,
    asserts: Vec<CompiledAssert>,
}

struct CompiledPattern {
    #[allow(dead_code)]
    name: String,
    rules: Vec<CompiledRule>,
}

/// The official rules compiled by xee-xpath.
///
/// Not `Send`/`Sync` (xee programs are reference counted): build one per thread.
pub struct Oracle {
    namespaces: Vec<(String, String)>,
    /// `/descendant::*`
    all_elements: SequenceQuery,
    globals: Vec<CompiledLet>,
    patterns: Vec<CompiledPattern>,
    assert_count: usize,
}

#[derive(Deserialize)]
struct JsonRules {
    asserts: Vec<JsonAssert>,
    #[serde(default)]
    lets: Vec<JsonLet>,
}

#[derive(Deserialize)]
struct JsonAssert {
    id: String,
    flag: String,
    pattern: Option<String>,
    context: String,
    test: String,
}

#[derive(Deserialize)]
struct JsonLet {
    name: String,
    value: String,
    #[serde(rename = "in")]
    scope: String,
}

/// The EN 16931 UBL rules as shipped in the repository (`shared/ubl/rules`).
pub const EN16931_RULES_JSON: &str = include_str!("../../../shared/ubl/rules/en16931-ubl-rules.json");

impl Oracle {
    /// Loads the official EN 16931 UBL rules (979 asserts, 104 rules, 3 patterns).
    pub fn en16931() -> Result<Self, LoadError> {
        let def = en16931_def(EN16931_RULES_JSON)?;
        Self::compile(&def)
    }

    /// Loads the official Peppol BIS Billing 3.0 UBL rules (156 asserts), with their
    /// variables and the `u:*` helper functions expanded inline.
    pub fn peppol() -> Result<Self, LoadError> {
        let def = crate::peppol::peppol_def()?;
        Self::compile(&def)
    }

    /// Number of asserts loaded.
    pub fn assert_count(&self) -> usize {
        self.assert_count
    }

    /// Number of rules (contexts) loaded.
    pub fn rule_count(&self) -> usize {
        self.patterns.iter().map(|p| p.rules.len()).sum()
    }

    pub(crate) fn compile(def: &RuleSetDef) -> Result<Self, LoadError> {
        let ns: Vec<(&str, &str)> = def.namespaces.iter().map(|(p, u)| (p.as_str(), u.as_str())).collect();
        let queries = Queries::default();
        let mut errors = Vec::new();
        let mut in_scope: Vec<OwnedName> = Vec::new();

        let compile = |expr: &str, vars: &[OwnedName], what: String, errors: &mut Vec<CompileError>| {
            let mut builder = StaticContextBuilder::default();
            builder.namespaces(ns.iter().copied());
            builder.variable_names(vars.iter().cloned());
            match queries.sequence_with_context(expr, builder.build()) {
                Ok(q) => Some(q),
                Err(e) => {
                    errors.push(CompileError { what, expr: expr.to_string(), error: e.to_string() });
                    None
                }
            }
        };
        // `expr` has had the always-applied rewrites; `finish` maps an expression to the
        // one evaluated (context selector, descendant steps).
        let compile_expr = |expr: &str,
                            finish: &dyn Fn(&str) -> String,
                            vars: &[OwnedName],
                            what: String,
                            errors: &mut Vec<CompileError>| {
            let fast = compile(&finish(expr), vars, what, errors)?;
            let collapsed_src = rewrite::collapse_cast_whitespace(expr);
            let collapsed = (collapsed_src != expr).then(|| Fallback {
                source: finish(&collapsed_src),
                variables: vars.to_vec(),
                query: std::cell::OnceCell::new(),
            });
            Some(Expr { fast, collapsed })
        };
        let plain = |e: &str| rewrite::descendant_steps(e);

        let mut globals = Vec::new();
        for l in &def.globals {
            let expr = rewrite::explicit_context_item(&l.value);
            if let Some(query) =
                compile_expr(&expr, &plain, &in_scope, format!("let ${}", l.name), &mut errors)
            {
                globals.push(CompiledLet { name: OwnedName::name(&l.name), query });
            }
            in_scope.push(OwnedName::name(&l.name));
        }

        let mut patterns = Vec::new();
        let mut assert_count = 0;
        for p in &def.patterns {
            let mut rules = Vec::new();
            for (ri, r) in p.rules.iter().enumerate() {
                let ctx = rewrite::explicit_context_item(&rewrite::local_name_in_context(&r.context));
                let mut branches = Vec::new();
                let selector = |b: &str| rewrite::descendant_steps(&rewrite::context_selector(b));
                for branch in rewrite::split_union(ctx.trim()) {
                    let what = format!("context of rule {ri} in pattern {}", p.name);
                    let Some(selector) =
                        compile_expr(branch, &selector, &in_scope, what.clone(), &mut errors)
                    else {
                        continue;
                    };
                    // The per-node test is optional: a branch it cannot express keeps the
                    // selector only.
                    let test =
                        rewrite::pattern_test(&rewrite::collapse_cast_whitespace(branch)).and_then(|t| {
                            let mut ignored = Vec::new();
                            compile(&rewrite::descendant_steps(&t), &in_scope, what, &mut ignored)
                        });
                    branches.push(CompiledBranch { selector, test });
                }
                let mut vars = in_scope.clone();
                let mut lets = Vec::new();
                for l in &r.lets {
                    let expr = rewrite::explicit_context_item(&l.value);
                    let what = format!("let ${} in rule {}", l.name, r.context);
                    if let Some(query) = compile_expr(&expr, &plain, &vars, what, &mut errors) {
                        lets.push(CompiledLet { name: OwnedName::name(&l.name), query });
                    }
                    vars.push(OwnedName::name(&l.name));
                }
                let mut asserts = Vec::new();
                for a in &r.asserts {
                    let expr = rewrite::explicit_context_item(&a.test);
                    if let Some(query) =
                        compile_expr(&expr, &plain, &vars, format!("test of {}", a.id), &mut errors)
                    {
                        asserts.push(CompiledAssert {
                            id: a.id.clone(),
                            flag: a.flag,
                            test: a.test.clone(),
                            query,
                        });
                    }
                    assert_count += 1;
                }
                rules.push(CompiledRule { context: r.context.clone(), branches, lets, asserts });
            }
            patterns.push(CompiledPattern { name: p.name.clone(), rules });
        }
        let all_elements = compile("/descendant::*", &[], "element list".into(), &mut errors);
        match all_elements {
            Some(all_elements) if errors.is_empty() => Ok(Oracle {
                namespaces: def.namespaces.clone(),
                all_elements,
                globals,
                patterns,
                assert_count,
            }),
            _ => Err(LoadError { errors }),
        }
    }

    /// Validates one document: the ids of the failed asserts, by flag.
    pub fn validate(&self, xml: &str) -> OracleResult {
        let mut result = OracleResult::default();
        let mut docs = Documents::new();
        let handle = match docs.add_string_without_uri(xml) {
            Ok(h) => h,
            Err(e) => {
                result.error = Some(format!("XML parse error: {e}"));
                return result;
            }
        };
        let Some(root) = docs.document_node(handle) else {
            result.error = Some("document node missing".to_string());
            return result;
        };

        let mut vars = Variables::default();
        for g in &self.globals {
            let value = self.run(&g.query, &mut docs, Item::Node(root), &vars).unwrap_or_else(|e| {
                error(&mut result, format!("let ${}: {e}", g.name.local_name()));
                Sequence::default()
            });
            vars.insert(g.name.clone(), value);
        }

        let mut all_elements: Option<Vec<xot::Node>> = None;
        for pattern in &self.patterns {
            // Within a pattern a node is handled by the first rule whose context matches it.
            let mut handled: HashSet<xot::Node> = HashSet::new();
            for rule in &pattern.rules {
                let mut nodes = Vec::new();
                for branch in &rule.branches {
                    match self.run(&branch.selector, &mut docs, Item::Node(root), &vars) {
                        Ok(seq) => {
                            for item in seq.iter() {
                                match item {
                                    Item::Node(n) => nodes.push(n),
                                    other => error(
                                        &mut result,
                                        format!("context {} matched a non-node {other:?}", rule.context),
                                    ),
                                }
                            }
                        }
                        // XSLT: an error while matching a node makes that node not match;
                        // the transformation goes on.
                        Err(e) => match &branch.test {
                            Some(test) => {
                                let candidates = match &all_elements {
                                    Some(c) => c,
                                    None => {
                                        all_elements.insert(elements(&self.all_elements, &mut docs, root))
                                    }
                                };
                                for &n in candidates.iter() {
                                    let m = run_query(test, &mut docs, Item::Node(n), &vars)
                                        .and_then(|s| s.effective_boolean_value().map_err(|e| e.to_string()));
                                    if m == Ok(true) {
                                        nodes.push(n);
                                    }
                                }
                            }
                            None => error(&mut result, format!("context {}: {e}", rule.context)),
                        },
                    }
                }
                for node in nodes {
                    if !handled.insert(node) {
                        continue;
                    }
                    let item = Item::Node(node);
                    let mut rule_vars;
                    let vars_here = if rule.lets.is_empty() {
                        &vars
                    } else {
                        rule_vars = vars.clone();
                        for l in &rule.lets {
                            let value =
                                self.run(&l.query, &mut docs, item.clone(), &rule_vars).unwrap_or_else(|e| {
                                    error(
                                        &mut result,
                                        format!("let ${} in {}: {e}", l.name.local_name(), rule.context),
                                    );
                                    Sequence::default()
                                });
                            rule_vars.insert(l.name.clone(), value);
                        }
                        &rule_vars
                    };
                    for a in &rule.asserts {
                        let ok = self
                            .run(&a.query, &mut docs, item.clone(), vars_here)
                            .and_then(|seq| seq.effective_boolean_value().map_err(|e| e.to_string()));
                        match ok {
                            Ok(true) => {}
                            Ok(false) => {
                                let set = match a.flag {
                                    Flag::Fatal => &mut result.fatal,
                                    Flag::Warning => &mut result.warnings,
                                };
                                set.insert(a.id.clone());
                            }
                            Err(e) => error(&mut result, format!("{} [{}]: {e}", a.id, a.test)),
                        }
                    }
                }
            }
        }
        result
    }
}

fn elements(query: &SequenceQuery, docs: &mut Documents, root: xot::Node) -> Vec<xot::Node> {
    run_query(query, docs, Item::Node(root), &Variables::default())
        .map(|s| s.iter().filter_map(|i| if let Item::Node(n) = i { Some(n) } else { None }).collect())
        .unwrap_or_default()
}

fn error(result: &mut OracleResult, msg: String) {
    if result.error.is_none() {
        result.error = Some(msg);
    }
}

fn compile_with(ns: &[(String, String)], expr: &str, vars: &[OwnedName]) -> Result<SequenceQuery, String> {
    let mut builder = StaticContextBuilder::default();
    builder.namespaces(ns.iter().map(|(p, u)| (p.as_str(), u.as_str())));
    builder.variable_names(vars.iter().cloned());
    Queries::default().sequence_with_context(expr, builder.build()).map_err(|e| format!("{e} [{expr}]"))
}

impl Fallback {
    fn query(&self, ns: &[(String, String)]) -> &Result<SequenceQuery, String> {
        self.query.get_or_init(|| compile_with(ns, &self.source, &self.variables))
    }
}

impl Oracle {
    fn run(
        &self,
        expr: &Expr,
        docs: &mut Documents,
        item: Item,
        vars: &Variables,
    ) -> Result<Sequence, String> {
        match run_query(&expr.fast, docs, item.clone(), vars) {
            Err(e) if e.starts_with("FORG0001") => match &expr.collapsed {
                Some(fallback) => match fallback.query(&self.namespaces) {
                    Ok(q) => run_query(q, docs, item, vars),
                    Err(compile_error) => Err(format!("{e}; whitespace-collapsed variant: {compile_error}")),
                },
                None => Err(e),
            },
            other => other,
        }
    }

    /// Compiles the whitespace-collapsed variants of every expression now (they are
    /// otherwise compiled on first need) and reports those xee refuses. Returns how many
    /// there are.
    pub fn check_fallbacks(&self) -> Result<usize, LoadError> {
        let mut all: Vec<(&str, &Fallback)> = Vec::new();
        for g in &self.globals {
            all.extend(g.query.collapsed.as_ref().map(|f| ("let", f)));
        }
        for r in self.patterns.iter().flat_map(|p| &p.rules) {
            all.extend(
                r.branches.iter().filter_map(|b| b.selector.collapsed.as_ref().map(|f| ("context", f))),
            );
            all.extend(r.lets.iter().filter_map(|l| l.query.collapsed.as_ref().map(|f| ("let", f))));
            all.extend(
                r.asserts.iter().filter_map(|a| a.query.collapsed.as_ref().map(|f| (a.id.as_str(), f))),
            );
        }
        let errors: Vec<CompileError> = all
            .iter()
            .filter_map(|(what, f)| {
                f.query(&self.namespaces).as_ref().err().map(|e| CompileError {
                    what: format!("{what} (whitespace-collapsed)"),
                    expr: f.source.clone(),
                    error: e.clone(),
                })
            })
            .collect();
        if errors.is_empty() { Ok(all.len()) } else { Err(LoadError { errors }) }
    }
}

fn run_query(
    query: &SequenceQuery,
    docs: &mut Documents,
    item: Item,
    vars: &Variables,
) -> Result<Sequence, String> {
    query
        .execute_build_context(docs, |b| {
            b.context_item(item);
            if !vars.is_empty() {
                b.variables(vars.clone());
            }
        })
        .map_err(|e| e.to_string())
}

pub(crate) fn flag_of(s: &str) -> Flag {
    if s == "fatal" { Flag::Fatal } else { Flag::Warning }
}

/// Groups the asserts of the JSON into patterns and rules: a rule is a run of consecutive
/// asserts with the same pattern and context.
fn en16931_def(json: &str) -> Result<RuleSetDef, LoadError> {
    let data: JsonRules = serde_json::from_str(json).map_err(|e| LoadError {
        errors: vec![CompileError { what: "rules JSON".into(), expr: String::new(), error: e.to_string() }],
    })?;
    if !data.lets.is_empty() {
        return Err(LoadError {
            errors: data
                .lets
                .iter()
                .map(|l| CompileError {
                    what: format!("let ${} ({})", l.name, l.scope),
                    expr: l.value.clone(),
                    error: "variables are not expected in the EN 16931 rules".into(),
                })
                .collect(),
        });
    }
    let mut patterns: Vec<PatternDef> = Vec::new();
    let mut last: Option<(String, String)> = None;
    for a in data.asserts {
        let pname = a.pattern.clone().unwrap_or_default();
        let key = (pname.clone(), a.context.clone());
        let pi = match patterns.iter().position(|p| p.name == pname) {
            Some(i) => i,
            None => {
                patterns.push(PatternDef { name: pname.clone(), rules: Vec::new() });
                patterns.len() - 1
            }
        };
        let rules = &mut patterns[pi].rules;
        if last.as_ref() != Some(&key) || rules.is_empty() {
            rules.push(RuleDef { context: a.context.clone(), lets: Vec::new(), asserts: Vec::new() });
        }
        rules.last_mut().expect("rule pushed").asserts.push(AssertDef {
            id: a.id,
            flag: flag_of(&a.flag),
            test: a.test,
        });
        last = Some(key);
    }
    Ok(RuleSetDef {
        namespaces: EN16931_NAMESPACES.iter().map(|(p, u)| (p.to_string(), u.to_string())).collect(),
        globals: Vec::new(),
        patterns,
    })
}
