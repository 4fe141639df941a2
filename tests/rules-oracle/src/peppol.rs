//! The Peppol BIS Billing 3.0 UBL rule set, read from its Schematron.
//!
//! The repository's `peppol-ubl-rules.json` lists the asserts but not the pattern each
//! belongs to (needed for the "first matching rule in a pattern" semantics), nor the
//! pattern-level `let`s (code lists, country flags), nor the bodies of the XSLT helper
//! functions (`u:gln`, `u:mod11`, ...). So the oracle reads the Schematron itself
//! (`shared/ubl/rules/PEPPOL-EN16931-UBL.sch`, the file the engine runs, an unchanged copy of
//! OpenPEPPOL/peppol-bis-invoice-3@78d7f7dfa223f39f8ebd8d35c127f2690e646322:rules/sch/PEPPOL-EN16931-UBL.sch,
//! (c) OpenPeppol AISBL); a test checks that its asserts are those of the JSON.
//!
//! xee-xpath 0.1.5 has no user-defined functions. The `xsl:function`s are translated
//! mechanically into XPath 3.1 inline functions (their XPath kept verbatim): `xsl:param` →
//! typed parameter, `xsl:variable` → `let`, `xsl:value-of` → the string value cast to the
//! declared type, `xsl:sequence` → the expression, `xsl:choose` → `if`. They are put in a
//! map bound at the start of each expression that calls them
//! (`let $u__fns := map {…} return …`), and a call `u:f(a)` becomes
//! `$u__fns('f')($u__fns, a)`: each function gets the map as first argument, which is
//! how `u:addPIVA` calls itself.

use crate::oracle::{AssertDef, CompileError, LetDef, LoadError, PatternDef, RuleDef, RuleSetDef, flag_of};
use crate::xmlspan::Doc;

/// The Peppol BIS Billing 3.0 UBL Schematron (2025.5 / 3.0.19).
pub const PEPPOL_SCHEMATRON: &str = include_str!("../../../shared/ubl/rules/PEPPOL-EN16931-UBL.sch");

const XSL: &str = "http://www.w3.org/1999/XSL/Transform";
const FNS: &str = "$u__fns";

fn load_error(what: &str, error: impl Into<String>) -> LoadError {
    LoadError { errors: vec![CompileError { what: what.into(), expr: String::new(), error: error.into() }] }
}

/// Attribute value as an XML parser delivers it: whitespace characters normalised to
/// spaces, then references expanded.
fn attr_value(doc: &Doc, el: usize, name: &str) -> Option<String> {
    let a = doc.attr(el, name)?;
    let raw = doc.src[a.value_start..a.value_end].replace(['\n', '\r', '\t'], " ");
    quick_xml::escape::unescape(&raw).ok().map(|v| v.into_owned())
}

fn children<'a>(doc: &'a Doc, el: usize) -> impl Iterator<Item = usize> + 'a {
    doc.els[el].children.iter().copied()
}

/// A parsed `xsl:function`.
struct Function {
    /// Local name after `u:`.
    name: String,
    /// The inline function expression (`function($u__fns, …) as … { … }`).
    xpath: String,
}

pub(crate) fn peppol_def() -> Result<RuleSetDef, LoadError> {
    let doc = Doc::parse(PEPPOL_SCHEMATRON).map_err(|e| load_error("Peppol Schematron", e))?;
    let mut namespaces = Vec::new();
    let mut globals = Vec::new();
    let mut functions = Vec::new();
    let mut patterns = Vec::new();
    for top in children(&doc, 0) {
        match (doc.els[top].ns.as_str(), doc.els[top].local.as_str()) {
            (XSL, "function") => functions.push(translate_function(&doc, top)?),
            (_, "ns") => {
                let (Some(p), Some(u)) = (attr_value(&doc, top, "prefix"), attr_value(&doc, top, "uri"))
                else {
                    return Err(load_error("ns", "prefix or uri missing"));
                };
                namespaces.push((p, u));
            }
            (_, "let") => globals.push(let_def(&doc, top)?),
            (_, "pattern") => {
                let name =
                    attr_value(&doc, top, "id").unwrap_or_else(|| format!("pattern-{}", patterns.len() + 1));
                let mut rules = Vec::new();
                for r in children(&doc, top) {
                    match doc.els[r].local.as_str() {
                        // Pattern-level lets are global variables in the compiled Schematron.
                        "let" => globals.push(let_def(&doc, r)?),
                        "rule" => rules.push(rule_def(&doc, r)?),
                        other => return Err(load_error("pattern", format!("unexpected <{other}>"))),
                    }
                }
                patterns.push(PatternDef { name, rules });
            }
            _ => {}
        }
    }
    let names: Vec<String> = functions.iter().map(|f| f.name.clone()).collect();
    // Each expression gets the functions it calls, directly or through other functions.
    let with_functions = |expr: &str| {
        let replaced = call_functions(expr, &names);
        if replaced == expr {
            return expr.to_string();
        }
        let mut needed: Vec<&Function> = Vec::new();
        let mut todo: Vec<&str> = vec![expr];
        while let Some(e) = todo.pop() {
            for f in &functions {
                let called = call_functions(e, std::slice::from_ref(&f.name)) != e;
                if called && !needed.iter().any(|n| n.name == f.name) {
                    needed.push(f);
                    todo.push(&f.xpath);
                }
            }
        }
        needed.sort_by_key(|f| functions.iter().position(|g| g.name == f.name));
        let map = needed
            .iter()
            .map(|f| format!("'{}': {}", f.name, call_functions(&f.xpath, &names)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("let {FNS} := map {{ {map} }} return ({replaced})")
    };
    for l in &mut globals {
        l.value = with_functions(&l.value);
    }
    for p in &mut patterns {
        for r in &mut p.rules {
            r.context = call_functions(&r.context, &names);
            for l in &mut r.lets {
                l.value = with_functions(&l.value);
            }
            for a in &mut r.asserts {
                a.test = with_functions(&a.test);
            }
        }
    }
    Ok(RuleSetDef { namespaces, globals, patterns })
}

fn let_def(doc: &Doc, el: usize) -> Result<LetDef, LoadError> {
    match (attr_value(doc, el, "name"), attr_value(doc, el, "value")) {
        (Some(name), Some(value)) => Ok(LetDef { name, value }),
        _ => Err(load_error("let", "name or value missing")),
    }
}

fn rule_def(doc: &Doc, el: usize) -> Result<RuleDef, LoadError> {
    let context = attr_value(doc, el, "context").ok_or_else(|| load_error("rule", "context missing"))?;
    let mut lets = Vec::new();
    let mut asserts = Vec::new();
    for c in children(doc, el) {
        match doc.els[c].local.as_str() {
            "let" => lets.push(let_def(doc, c)?),
            "assert" => {
                let (Some(id), Some(test)) = (attr_value(doc, c, "id"), attr_value(doc, c, "test")) else {
                    return Err(load_error("assert", format!("id or test missing in rule {context}")));
                };
                let flag = attr_value(doc, c, "flag").unwrap_or_else(|| "fatal".into());
                asserts.push(AssertDef { id, flag: flag_of(&flag), test });
            }
            other => return Err(load_error("rule", format!("unsupported <{other}> in rule {context}"))),
        }
    }
    Ok(RuleDef { context, lets, asserts })
}

/// `xsl:function` → `function($u__fns, $p as T, …) as T { … }`.
fn translate_function(doc: &Doc, el: usize) -> Result<Function, LoadError> {
    let qname = attr_value(doc, el, "name").ok_or_else(|| load_error("xsl:function", "name missing"))?;
    let name =
        qname.strip_prefix("u:").ok_or_else(|| load_error(&qname, "not in the u: namespace"))?.to_string();
    let ret = attr_value(doc, el, "as");
    let mut params = vec![FNS.to_string()];
    let mut body_parts: Vec<usize> = Vec::new();
    for c in children(doc, el) {
        if doc.els[c].local == "param" {
            let p = attr_value(doc, c, "name").ok_or_else(|| load_error(&qname, "param name missing"))?;
            params.push(match attr_value(doc, c, "as") {
                Some(t) => format!("${p} as {t}"),
                None => format!("${p}"),
            });
        } else {
            body_parts.push(c);
        }
    }
    let body = translate_body(doc, &body_parts, ret.as_deref(), &qname)?;
    let ret = ret.map(|t| format!(" as {t}")).unwrap_or_default();
    Ok(Function { name, xpath: format!("function({}){ret} {{ {body} }}", params.join(", ")) })
}

/// A sequence of XSLT instructions: variables then one result instruction.
fn translate_body(doc: &Doc, parts: &[usize], ret: Option<&str>, what: &str) -> Result<String, LoadError> {
    let Some((&last, vars)) = parts.split_last() else { return Err(load_error(what, "empty body")) };
    let mut lets = Vec::new();
    for &v in vars {
        if doc.els[v].local != "variable" {
            return Err(load_error(what, format!("unsupported <{}>", doc.els[v].local)));
        }
        let name = attr_value(doc, v, "name").ok_or_else(|| load_error(what, "variable name missing"))?;
        let value = variable_value(doc, v, what)?;
        lets.push(format!("${name} := ({value})"));
    }
    let result = instruction(doc, last, ret, what)?;
    Ok(if lets.is_empty() { result } else { format!("let {} return ({result})", lets.join(", ")) })
}

fn variable_value(doc: &Doc, v: usize, what: &str) -> Result<String, LoadError> {
    let as_type = attr_value(doc, v, "as");
    if let Some(select) = attr_value(doc, v, "select") {
        return Ok(select);
    }
    let kids: Vec<usize> = children(doc, v).collect();
    if kids.is_empty() {
        // Text content: a temporary tree whose string value is the text.
        let text = quick_xml::escape::unescape(doc.inner(v)).map_err(|e| load_error(what, e.to_string()))?;
        return Ok(format!("'{}'", text.replace('\'', "''")));
    }
    if let [only] = kids[..] {
        return instruction(doc, only, as_type.as_deref(), what);
    }
    Err(load_error(what, "unsupported variable content"))
}

/// One result instruction, converted to the declared type `ret` where XSLT would.
fn instruction(doc: &Doc, el: usize, ret: Option<&str>, what: &str) -> Result<String, LoadError> {
    match doc.els[el].local.as_str() {
        "sequence" => {
            attr_value(doc, el, "select").ok_or_else(|| load_error(what, "sequence without select"))
        }
        "value-of" => {
            let select =
                attr_value(doc, el, "select").ok_or_else(|| load_error(what, "value-of without select"))?;
            // A text node with the space-separated string values, converted to the
            // declared type.
            let text = format!("string-join(for $v__ in ({select}) return string($v__), ' ')");
            // `cast as` rather than a constructor call: the text has no surrounding
            // whitespace, so it needs no whitespace-collapsed variant (see `rewrite`).
            Ok(match ret {
                Some(t) => format!("(({text}) cast as {t})"),
                None => format!("(({text}) cast as xs:untypedAtomic)"),
            })
        }
        "choose" => {
            let mut branches = Vec::new();
            let mut otherwise = None;
            for c in children(doc, el) {
                let parts: Vec<usize> = children(doc, c).collect();
                match doc.els[c].local.as_str() {
                    "when" => {
                        let test = attr_value(doc, c, "test")
                            .ok_or_else(|| load_error(what, "when without test"))?;
                        branches.push((test, translate_body(doc, &parts, ret, what)?));
                    }
                    "otherwise" => otherwise = Some(translate_body(doc, &parts, ret, what)?),
                    other => return Err(load_error(what, format!("unsupported <{other}> in choose"))),
                }
            }
            let mut out = otherwise.unwrap_or_else(|| "()".into());
            for (test, body) in branches.into_iter().rev() {
                out = format!("if ({test}) then ({body}) else ({out})");
            }
            Ok(out)
        }
        other => Err(load_error(what, format!("unsupported <{other}>"))),
    }
}

/// `u:f(` → `$u__fns('f')($u__fns, ` for the known functions (outside string literals).
fn call_functions(expr: &str, names: &[String]) -> String {
    let b = expr.as_bytes();
    let mut out = String::with_capacity(expr.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\'' || b[i] == b'"' {
            let q = b[i];
            let start = i;
            i += 1;
            while i < b.len() && b[i] != q {
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push_str(&expr[start..i]);
            continue;
        }
        let prev_is_name = i > 0
            && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b'-' | b'.' | b':' | b'$'));
        if !prev_is_name && expr[i..].starts_with("u:") {
            let rest = &expr[i + 2..];
            if let Some(name) =
                names.iter().find(|n| rest.starts_with(n.as_str()) && rest[n.len()..].starts_with('('))
            {
                i += 2 + name.len() + 1;
                let no_args = expr[i..].trim_start().starts_with(')');
                out.push_str(&format!("{FNS}('{name}')({FNS}{}", if no_args { "" } else { ", " }));
                continue;
            }
        }
        let c = expr[i..].chars().next().expect("not at end");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls() {
        let names = vec!["gln".to_string(), "mod97-0208".to_string()];
        assert_eq!(
            call_functions("u:gln(normalize-space()) and 'u:gln(x)' and u:mod97-0208(.)", &names),
            "$u__fns('gln')($u__fns, normalize-space()) and 'u:gln(x)' and $u__fns('mod97-0208')($u__fns, .)"
        );
    }

    #[test]
    fn schematron_loads() {
        let def = peppol_def().unwrap_or_else(|e| panic!("{e}"));
        let asserts: usize = def.patterns.iter().flat_map(|p| &p.rules).map(|r| r.asserts.len()).sum();
        assert_eq!(asserts, 156);
        assert_eq!(def.patterns.len(), 13);
    }

    /// The Schematron copy has the asserts of the repository's JSON, in the same order.
    #[test]
    fn schematron_matches_the_json() {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../../../shared/ubl/rules/peppol-ubl-rules.json"))
                .expect("JSON");
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let doc = Doc::parse(PEPPOL_SCHEMATRON).expect("parses");
        let mut from_sch = Vec::new();
        for (i, el) in doc.els.iter().enumerate() {
            if el.local == "assert" {
                let ctx =
                    doc.els.iter().position(|r| r.local == "rule" && r.children.contains(&i)).expect("rule");
                from_sch.push((
                    attr_value(&doc, i, "id").unwrap_or_default(),
                    attr_value(&doc, i, "flag").unwrap_or_default(),
                    norm(&attr_value(&doc, ctx, "context").unwrap_or_default()),
                    norm(&attr_value(&doc, i, "test").unwrap_or_default()),
                ));
            }
        }
        let from_json: Vec<(String, String, String, String)> = json["asserts"]
            .as_array()
            .expect("asserts")
            .iter()
            .map(|a| {
                let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                (s("id"), s("flag"), norm(&s("context")), norm(&s("test")))
            })
            .collect();
        assert_eq!(from_sch, from_json);
    }
}
