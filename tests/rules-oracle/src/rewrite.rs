//! Load-time rewrites of the official XPath expressions.
//!
//! Both rewrites keep the official semantics (see the shared RULES-ENGINE notes):
//! - `//step` becomes `/descendant::step` when the step is a name test (or `*`)
//!   whose predicates are not positional: `a/descendant-or-self::node()/child::b[p]`
//!   and `a/descendant::b[p]` select the same nodes in the same order then. This
//!   makes xee about 9 times faster. Steps starting with `@`, `(`, a function call or a
//!   positional predicate are left as they are.
//! - `name()` becomes `local-name()` in rule contexts, to avoid an xee 0.1.5 bug
//!   (`name()` raises XPST0081 on a prefixed element below an element that re-declares the
//!   default namespace). The contexts only compare the result with `ends-with`, so the
//!   local name gives the same answer as the prefixed name.
//! - Casts of text to `xs:decimal`, `xs:integer` and `xs:boolean` get their whitespace
//!   collapsed first (`xs:decimal(X)` → `xs:decimal(for $v in X return normalize-space($v))`
//!   for nodes and strings; `cbc:ChargeIndicator = false()` likewise). XPath casts apply the
//!   whitespace facet (`xs:decimal(' 1.5 ')` is 1.5, as in Saxon); xee 0.1.5 raises FORG0001
//!   instead (see the `xee_cast_whitespace_bug` test).
//! - `normalize-space()` and `string-length()` without argument become
//!   `normalize-space(.)` / `string-length(.)` (the same by definition); xee 0.1.5 raises
//!   XPTY0004 on the zero-argument forms.

/// Rewrites every `//` followed by a plain name step with non-positional predicates into
/// `/descendant::`.
pub fn descendant_steps(expr: &str) -> String {
    let b = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 32);
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                // String literal; a doubled quote is an escaped quote and simply reopens.
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'/' if i + 1 < b.len() && b[i + 1] == b'/' => {
                if step_is_rewritable(&b[i + 2..]) {
                    out.push_str(&expr[copied..i]);
                    out.push_str("/descendant::");
                    copied = i + 2;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    out.push_str(&expr[copied..]);
    out
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':' | b'*') || c >= 0x80
}

/// `rest` starts right after a `//`.
fn step_is_rewritable(rest: &[u8]) -> bool {
    let Some(&first) = rest.first() else { return false };
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'*' || first >= 0x80) {
        return false;
    }
    let mut i = 0;
    while i < rest.len() && is_name_byte(rest[i]) {
        i += 1;
    }
    let name = &rest[..i];
    // An explicit axis (`//child::x`) or a function call / kind test as a step.
    if name.windows(2).any(|w| w == b"::") || rest.get(i) == Some(&b'(') {
        return false;
    }
    // Predicates directly following the step.
    while rest.get(i) == Some(&b'[') {
        let Some(len) = bracket_len(&rest[i..]) else { return false };
        let inner = &rest[i + 1..i + len - 1];
        if predicate_may_be_positional(inner) {
            return false;
        }
        i += len;
    }
    true
}

/// Length of the bracketed group starting at `s[0] == b'['`, string literals skipped.
fn bracket_len(s: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < s.len() && s[i] != q {
                    i += 1;
                }
            }
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn predicate_may_be_positional(inner: &[u8]) -> bool {
    let text = String::from_utf8_lossy(inner);
    let t = text.trim_start();
    t.starts_with(|c: char| c.is_ascii_digit() || c == '$' || c == '(')
        || text.contains("position()")
        || text.contains("last()")
}

/// `normalize-space()` → `normalize-space(.)`, `string-length()` → `string-length(.)`.
pub fn explicit_context_item(expr: &str) -> String {
    let mut out = expr.to_string();
    for f in ["normalize-space", "string-length"] {
        let call = format!("{f}()");
        let mut from = 0;
        while let Some(p) = out[from..].find(&call).map(|p| p + from) {
            let prev = out[..p].chars().next_back();
            from = p + call.len();
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == ':') {
                continue;
            }
            out.replace_range(p..p + call.len(), &format!("{f}(.)"));
        }
    }
    out
}

/// `name()` → `local-name()` (only the zero-argument call, not `local-name()` itself).
pub fn local_name_in_context(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let mut rest = expr;
    while let Some(pos) = rest.find("name()") {
        let before = &rest[..pos];
        let prev = before.chars().next_back();
        let part_of_longer_name =
            prev.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == ':');
        out.push_str(before);
        out.push_str(if part_of_longer_name { "name()" } else { "local-name()" });
        rest = &rest[pos + "name()".len()..];
    }
    out.push_str(rest);
    out
}

/// Splits an expression at its top-level `|` operators (outside literals, brackets and
/// parentheses; `||` is left alone).
pub fn split_union(expr: &str) -> Vec<&str> {
    let b = expr.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'|' if b.get(i + 1) == Some(&b'|') => i += 1,
            b'|' if depth == 0 => {
                parts.push(expr[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(expr[start..].trim());
    parts
}

/// Turns a rule context (a match pattern) into an expression that selects, from the
/// document node, every node the pattern matches: absolute branches are kept, a relative
/// branch `p` becomes `//p` (a pattern `p` matches a node when the node is in `//p`).
/// Evaluating `//(context)` instead gives the same nodes but runs absolute branches once
/// per node of the document.
pub fn context_selector(context: &str) -> String {
    let branches: Vec<String> = split_union(context.trim())
        .into_iter()
        .map(|b| {
            if is_absolute(b) {
                format!("({b})")
            } else {
                let first_is_name = b.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '*');
                let first_is_axis_or_call = {
                    let end =
                        b.find(|c: char| !(c.is_alphanumeric() || "_-.:*".contains(c))).unwrap_or(b.len());
                    b[..end].contains("::") || b[end..].starts_with('(')
                };
                if first_is_name && !first_is_axis_or_call {
                    format!("(//{b})")
                } else {
                    format!("(/descendant-or-self::node()/({b}))")
                }
            }
        })
        .collect();
    branches.join(" | ")
}

fn is_absolute(branch: &str) -> bool {
    let b = branch.trim();
    if b.starts_with('/') {
        return true;
    }
    // `(abs | abs)[pred]...`: a filter over absolute paths.
    if b.starts_with('(') {
        if let Some(close) = matching_paren(b) {
            return split_union(&b[1..close]).iter().all(|p| p.starts_with('/'));
        }
    }
    false
}

fn matching_paren(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut i) = (0i32, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Wraps the argument of `xs:decimal(…)`, `xs:integer(…)` and `xs:boolean(…)` so that
/// text is whitespace-collapsed before the cast (see the module notes).
pub fn collapse_cast_whitespace(expr: &str) -> String {
    const CASTS: [&str; 3] = ["xs:decimal(", "xs:integer(", "xs:boolean("];
    let b = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() * 2);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push_str(&expr[start..i]);
                continue;
            }
            _ => {}
        }
        let rest = &expr[i..];
        let prev_is_name =
            i > 0 && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b'-' | b'.' | b':'));
        if let Some(cast) = CASTS.iter().find(|c| rest.starts_with(**c)).filter(|_| !prev_is_name) {
            let open = i + cast.len() - 1;
            if let Some(close) = matching_paren(&expr[open..]).map(|c| open + c) {
                let arg = collapse_cast_whitespace(&expr[open + 1..close]);
                out.push_str(&cast[..cast.len() - 1]);
                out.push('(');
                out.push_str(&collapse_text(&arg));
                out.push(')');
                i = close + 1;
                continue;
            }
        }
        let c = rest.chars().next().expect("not at end");
        out.push(c);
        i += c.len_utf8();
    }
    collapse_boolean_comparisons(&out)
}

/// `(for $v in (X) return whitespace-collapsed $v, still untyped when it was untyped)`.
fn collapse_text(x: &str) -> String {
    if is_node_path(x) {
        // Cheaper form for the common case of a plain path (it selects nodes only).
        return format!("({x}/xs:untypedAtomic(normalize-space(.)))");
    }
    format!(
        "(for $ws__v in ({x}) return if ($ws__v instance of node() or $ws__v instance of xs:untypedAtomic) \
         then xs:untypedAtomic(normalize-space($ws__v)) else if ($ws__v instance of xs:string) \
         then normalize-space($ws__v) else $ws__v)"
    )
}

/// A relative or absolute location path of name steps (predicates allowed): it can only
/// select nodes.
fn is_node_path(x: &str) -> bool {
    let x = x.trim();
    let b = x.as_bytes();
    let mut i = 0;
    if !x.starts_with(|c: char| c.is_alphabetic() || c == '.' || c == '@' || c == '/' || c == '*') {
        return false;
    }
    while i < b.len() {
        match b[i] {
            b'[' => match bracket_len(&b[i..]) {
                Some(n) => i += n,
                None => return false,
            },
            c if c.is_ascii_alphanumeric() || b"_-.:/@*".contains(&c) => i += 1,
            _ => return false,
        }
    }
    // A step like `div` or `and` would be an operator, not a path: paths here have no spaces,
    // so only the whole expression could be such a word.
    !matches!(x, "div" | "mod" | "and" | "or" | "idiv")
}

/// `path = true()` / `path != false()`: the untyped operand is cast to xs:boolean.
fn collapse_boolean_comparisons(expr: &str) -> String {
    let mut out = expr.to_string();
    let mut search_from = 0;
    loop {
        let hay = &out[search_from..];
        let found = ["true()", "false()"].iter().filter_map(|lit| hay.find(lit).map(|p| (p, *lit))).min();
        let Some((rel, lit)) = found else { break };
        let lit_pos = search_from + rel;
        search_from = lit_pos + lit.len();
        let before = out[..lit_pos].trim_end();
        let Some(op_start) = before.strip_suffix('=').map(|s| s.strip_suffix('!').unwrap_or(s).len()) else {
            continue;
        };
        let operand_end = out[..op_start].trim_end().len();
        let operand_start = out[..operand_end]
            .rfind(|c: char| !(c.is_alphanumeric() || "_-.:/@*".contains(c)))
            .map(|p| p + 1)
            .unwrap_or(0);
        let operand = &out[operand_start..operand_end];
        if operand.is_empty() || operand.ends_with(')') {
            continue;
        }
        let wrapped = collapse_text(operand);
        let delta = wrapped.len() as isize - operand.len() as isize;
        out.replace_range(operand_start..operand_end, &wrapped);
        search_from = (search_from as isize + delta) as usize;
    }
    out
}

/// A boolean expression that, with a node as context item, says whether the node matches
/// the match-pattern branch `branch` (one alternative of a union), checking the node and
/// its ancestors step by step as an XSLT processor does. `None` for branches of another
/// shape. Used when evaluating the branch from the document node raised an error: in XSLT
/// an error while matching a node only makes that node not match.
pub fn pattern_test(branch: &str) -> Option<String> {
    let b = branch.trim();
    if b.starts_with('(') {
        let close = matching_paren(b)?;
        let alternatives: Option<Vec<String>> =
            split_union(&b[1..close]).into_iter().map(pattern_test).collect();
        let preds = &b[close + 1..];
        if !only_predicates(preds) {
            return None;
        }
        let alts: Vec<String> = alternatives?.into_iter().map(|t| format!("({t})")).collect();
        return Some(format!("exists(self::node()[{}]{preds})", alts.join(" or ")));
    }
    let (anchor, mut rest) = if let Some(r) = b.strip_prefix("//") {
        ("//", r)
    } else if let Some(r) = b.strip_prefix('/') {
        ("/", r)
    } else {
        ("", b)
    };
    // Steps with the separator that precedes each.
    let mut steps: Vec<(&str, String)> = Vec::new();
    let mut sep = anchor;
    loop {
        let name_len =
            rest.find(|c: char| !(c.is_alphanumeric() || "_-.:*".contains(c))).unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.is_empty() || name.contains("::") || rest[name_len..].starts_with('(') {
            return None;
        }
        let mut j = name_len;
        while rest[j..].starts_with('[') {
            j += bracket_len(rest[j..].as_bytes())?;
        }
        steps.push((sep, rest[..j].to_string()));
        rest = &rest[j..];
        if rest.is_empty() {
            break;
        } else if let Some(r) = rest.strip_prefix("//") {
            sep = "//";
            rest = r;
        } else if let Some(r) = rest.strip_prefix('/') {
            sep = "/";
            rest = r;
        } else {
            return None;
        }
    }
    let mut path = String::new();
    for (k, (sep, step)) in steps.iter().enumerate().rev() {
        if k == steps.len() - 1 {
            path.push_str("self::");
        }
        path.push_str(step);
        match (k, *sep) {
            (0, "/") => path.push_str("/parent::document-node()"),
            (0, _) => {}
            (_, "/") => path.push_str("/parent::"),
            (_, _) => path.push_str("/ancestor::"),
        }
    }
    Some(format!("exists({path})"))
}

fn only_predicates(s: &str) -> bool {
    let mut rest = s.trim();
    while rest.starts_with('[') {
        match bracket_len(rest.as_bytes()) {
            Some(n) => rest = rest[n..].trim_start(),
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendant() {
        assert_eq!(descendant_steps("//cac:X/cbc:Y"), "/descendant::cac:X/cbc:Y");
        assert_eq!(descendant_steps("a//cac:X[cbc:ID = 'a//b']"), "a/descendant::cac:X[cbc:ID = 'a//b']");
        assert_eq!(descendant_steps("//*[ends-with(name(), 'A')]"), "/descendant::*[ends-with(name(), 'A')]");
        assert_eq!(descendant_steps("//@schemeID"), "//@schemeID");
        assert_eq!(descendant_steps("//(a|b)"), "//(a|b)");
        assert_eq!(descendant_steps("//a[1]"), "//a[1]");
        assert_eq!(descendant_steps("//a[last()]"), "//a[last()]");
        assert_eq!(descendant_steps("//a[$n]"), "//a[$n]");
        assert_eq!(descendant_steps("//a[b][2]"), "//a[b][2]");
        assert_eq!(descendant_steps("x//text()"), "x//text()");
    }

    #[test]
    fn selector() {
        assert_eq!(split_union("a[x = '|'] | /b | (c|d)[e]"), vec!["a[x = '|']", "/b", "(c|d)[e]"]);
        assert_eq!(context_selector("/ubl:Invoice | /cn:CreditNote"), "(/ubl:Invoice) | (/cn:CreditNote)");
        assert_eq!(context_selector("cac:X/cbc:Y | //cac:Z"), "(//cac:X/cbc:Y) | (//cac:Z)");
        assert_eq!(context_selector("(/a | /b)[$v]"), "((/a | /b)[$v])");
        assert_eq!(context_selector("(a | b)[$v]"), "(/descendant-or-self::node()/((a | b)[$v]))");
    }

    #[test]
    fn pattern_tests() {
        assert_eq!(
            pattern_test("/ubl:Invoice/cac:AllowanceCharge[cbc:ChargeIndicator = false()]").as_deref(),
            Some(
                "exists(self::cac:AllowanceCharge[cbc:ChargeIndicator = false()]/parent::ubl:Invoice/parent::document-node())"
            )
        );
        assert_eq!(
            pattern_test("//cac:InvoiceLine/cac:AllowanceCharge[x]").as_deref(),
            Some("exists(self::cac:AllowanceCharge[x]/parent::cac:InvoiceLine)")
        );
        assert_eq!(
            pattern_test("cac:A[p]//cbc:B").as_deref(),
            Some("exists(self::cbc:B/ancestor::cac:A[p])")
        );
        assert_eq!(
            pattern_test("(/a | /b)[$x]").as_deref(),
            Some(
                "exists(self::node()[(exists(self::a/parent::document-node())) or (exists(self::b/parent::document-node()))][$x])"
            )
        );
        assert_eq!(pattern_test("a/normalize-space(b)"), None);
    }

    #[test]
    fn cast_whitespace() {
        let w = collapse_cast_whitespace("xs:decimal(cbc:A) + sum(x/xs:decimal(.)) and 'xs:decimal(q)'");
        assert!(w.starts_with("xs:decimal((cbc:A/xs:untypedAtomic(normalize-space(.))))"), "{w}");
        assert!(w.contains("x/xs:decimal((./xs:untypedAtomic(normalize-space(.))))"), "{w}");
        let g = collapse_cast_whitespace("xs:decimal(cbc:A - 1)");
        assert!(g.starts_with("xs:decimal((for $ws__v in (cbc:A - 1) return"), "{g}");
        assert!(w.ends_with("'xs:decimal(q)'"), "{w}");
        let c =
            collapse_cast_whitespace("cac:AllowanceCharge[cbc:ChargeIndicator=false()] | x[a/b != true()]");
        assert!(
            c.starts_with(
                "cac:AllowanceCharge[(cbc:ChargeIndicator/xs:untypedAtomic(normalize-space(.)))=false()]"
            ),
            "{c}"
        );
        assert!(c.contains("[(a/b/xs:untypedAtomic(normalize-space(.))) != true()]"), "{c}");
        assert!(c.contains(") != true()]"), "{c}");
        assert_eq!(collapse_cast_whitespace("exists(x) = true()"), "exists(x) = true()");
    }

    #[test]
    fn context_item() {
        assert_eq!(
            explicit_context_item("//*[not(normalize-space())] and string-length() and x:normalize-space()"),
            "//*[not(normalize-space(.))] and string-length(.) and x:normalize-space()"
        );
    }

    #[test]
    fn local_name() {
        assert_eq!(
            local_name_in_context("//*[ends-with(name(), 'A') and local-name() = 'x']"),
            "//*[ends-with(local-name(), 'A') and local-name() = 'x']"
        );
    }
}
