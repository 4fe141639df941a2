//! The compiled form of an XPath expression: names already resolved to interned ids, functions
//! to an enum, so evaluation does no string work that the expression itself does not ask for.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::names::NameId;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Empty,
    Str(Arc<str>),
    Integer(i64),
    Decimal(Decimal),
    Double(f64),
    Var(Arc<str>),
    ContextItem,
    Paren(Box<Expr>),
    Sequence(Vec<Expr>),
    Path {
        start: PathStart,
        steps: Vec<Step>,
    },
    Filter(Box<Expr>, Vec<Expr>),
    Call(Func, Vec<Expr>),
    Neg(Box<Expr>),
    Plus(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    GeneralComp(CompOp, Box<Expr>, Box<Expr>),
    ValueComp(CompOp, Box<Expr>, Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Union(Box<Expr>, Box<Expr>),
    Intersect(Box<Expr>, Box<Expr>),
    Except(Box<Expr>, Box<Expr>),
    Range(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    For {
        var: Arc<str>,
        domain: Box<Expr>,
        body: Box<Expr>,
    },
    Quantified {
        q: Quantifier,
        var: Arc<str>,
        domain: Box<Expr>,
        body: Box<Expr>,
    },
    Castable {
        func: Func,
        operand: Box<Expr>,
    },
    /// A call of a function defined by the rule set itself (Peppol's `u:*`), by index.
    UserCall(usize, Vec<Expr>),
    /// `some|every $v in domain satisfies value op $v` (or `$v op value`) where `value` does not
    /// use `$v`: `value` is evaluated once instead of once per item of the domain.
    Membership {
        q: Quantifier,
        op: CompOp,
        value: Box<Expr>,
        domain: Box<Expr>,
        var_first: bool,
    },
    /// A subexpression whose value depends only on the document (a root-anchored path without
    /// variables), evaluated at most once per document and kept in slot `.0`.
    Cached(u32, Box<Expr>),
    /// `contains(' A B ', concat(' ', value, ' '))`, answered from the list's token set.
    CodeList(Arc<CodeList>, Box<Expr>),
}

impl Expr {
    /// The direct subexpressions, for passes over the tree.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        let mut out: Vec<&mut Expr> = Vec::new();
        match self {
            Expr::Paren(a) | Expr::Neg(a) | Expr::Plus(a) | Expr::Cached(_, a) | Expr::CodeList(_, a) => {
                out.push(a)
            }
            Expr::Castable { operand, .. } => out.push(operand),
            Expr::Membership { value, domain, .. } => {
                out.push(value);
                out.push(domain);
            }
            Expr::Sequence(v) | Expr::And(v) | Expr::Or(v) | Expr::Call(_, v) | Expr::UserCall(_, v) => {
                out.extend(v.iter_mut())
            }
            Expr::Filter(base, preds) => {
                out.push(base);
                out.extend(preds.iter_mut());
            }
            Expr::Path { steps, .. } => {
                for s in steps {
                    match s {
                        Step::Axis { preds, .. } => out.extend(preds.iter_mut()),
                        Step::Filter { expr, preds } => {
                            out.push(expr);
                            out.extend(preds.iter_mut());
                        }
                    }
                }
            }
            Expr::Arith(_, a, b)
            | Expr::GeneralComp(_, a, b)
            | Expr::ValueComp(_, a, b)
            | Expr::Union(a, b)
            | Expr::Intersect(a, b)
            | Expr::Except(a, b)
            | Expr::Range(a, b) => {
                out.push(a);
                out.push(b);
            }
            Expr::If(a, b, c) => {
                out.push(a);
                out.push(b);
                out.push(c);
            }
            Expr::For { domain, body, .. } | Expr::Quantified { domain, body, .. } => {
                out.push(domain);
                out.push(body);
            }
            Expr::Empty
            | Expr::Str(_)
            | Expr::Integer(_)
            | Expr::Decimal(_)
            | Expr::Double(_)
            | Expr::Var(_)
            | Expr::ContextItem => {}
        }
        out
    }

    fn uses_variables(&mut self) -> bool {
        matches!(self, Expr::Var(_)) || self.children_mut().into_iter().any(|c| c.uses_variables())
    }

    fn uses_variable(&mut self, name: &str) -> bool {
        matches!(self, Expr::Var(v) if &**v == name)
            || self.children_mut().into_iter().any(|c| c.uses_variable(name))
    }

    /// Rewrites quantified comparisons against the bound variable into [`Expr::Membership`].
    pub fn optimise_quantifiers(&mut self) {
        for c in self.children_mut() {
            c.optimise_quantifiers();
        }
        let Expr::Quantified { q, var, domain, body } = self else { return };
        let Expr::GeneralComp(op, a, b) = &mut **body else { return };
        let (value, var_first) = match (&**a, &**b) {
            (_, Expr::Var(v)) if v == var => (a, false),
            (Expr::Var(v), _) if v == var => (b, true),
            _ => return,
        };
        if value.uses_variable(var) {
            return;
        }
        let value = std::mem::replace(&mut **value, Expr::Empty);
        let domain = std::mem::replace(&mut **domain, Expr::Empty);
        *self =
            Expr::Membership { q: *q, op: *op, value: Box::new(value), domain: Box::new(domain), var_first };
    }

    /// Rewrites `(a | b)/rest` as `a/rest | b/rest` when `a` and `b` are relative paths of axis
    /// steps: the same nodes, and each branch can then stop early or be skipped when it names an
    /// element the document lacks (the UBL-CR family tests `(cac:InvoiceLine|cac:CreditNoteLine)/…`).
    pub fn distribute_unions(&mut self) {
        for c in self.children_mut() {
            c.distribute_unions();
        }
        let Expr::Path { start: PathStart::Context, steps } = self else { return };
        if steps.len() < 2 || !steps[1..].iter().all(|s| matches!(s, Step::Axis { .. })) {
            return;
        }
        let Step::Filter { expr, preds } = &steps[0] else { return };
        if !preds.is_empty() {
            return;
        }
        let mut branches = Vec::new();
        if !union_branches(expr, &mut branches) {
            return;
        }
        let rest = &steps[1..];
        let mut out: Option<Expr> = None;
        for b in branches {
            let mut all = b.clone();
            all.extend(rest.iter().cloned());
            let path = Expr::Path { start: PathStart::Context, steps: all };
            out = Some(match out {
                None => path,
                Some(left) => Expr::Union(Box::new(left), Box::new(path)),
            });
        }
        if let Some(e) = out {
            *self = e;
        }
    }

    /// Rewrites `contains(' A B C ', concat(' ', x, ' '))`, the code-list test, into a set lookup.
    pub fn index_code_lists(&mut self) {
        for c in self.children_mut() {
            c.index_code_lists();
        }
        let Expr::Call(Func::Contains, args) = self else { return };
        let [Expr::Str(list), Expr::Call(Func::Concat, parts)] = args.as_slice() else { return };
        let [Expr::Str(l), _, Expr::Str(r)] = parts.as_slice() else { return };
        if &**l != " " || &**r != " " {
            return;
        }
        let list = list.clone();
        let Expr::Call(_, mut args) = std::mem::replace(self, Expr::Empty) else { return };
        let Expr::Call(_, mut parts) = args.pop().unwrap_or(Expr::Empty) else { return };
        let value = parts.swap_remove(1);
        *self = Expr::CodeList(Arc::new(CodeList::new(list)), Box::new(value));
    }

    /// Wraps every document-constant subexpression in [`Expr::Cached`]; structurally equal ones
    /// share a slot (`slots` maps their printed form to the slot).
    pub fn cache_document_constants(&mut self, slots: &mut std::collections::HashMap<String, u32>) {
        let constant = matches!(self, Expr::Path { start: PathStart::Root, steps } if !steps.is_empty())
            && !self.uses_variables();
        if constant {
            let key = format!("{self:?}");
            let next = slots.len() as u32;
            let slot = *slots.entry(key).or_insert(next);
            let inner = std::mem::replace(self, Expr::Empty);
            *self = Expr::Cached(slot, Box::new(inner));
            return;
        }
        for c in self.children_mut() {
            c.cache_document_constants(slots);
        }
    }
}

impl Expr {
    /// Whether a predicate might select by position (a number, `position()` or `last()`), which
    /// forbids rewriting `//X[p]` as `descendant::X[p]`.
    pub fn may_be_positional(&self) -> bool {
        match self {
            Expr::Integer(_) | Expr::Decimal(_) | Expr::Double(_) => true,
            Expr::Call(Func::Position | Func::Last, _) => true,
            Expr::Arith(..) | Expr::Neg(_) | Expr::Plus(_) | Expr::Var(_) => true,
            Expr::Call(f, _) => f.may_return_number(),
            Expr::Paren(e) => e.may_be_positional(),
            Expr::Sequence(v) => v.iter().any(Expr::may_be_positional),
            Expr::If(_, a, b) => a.may_be_positional() || b.may_be_positional(),
            Expr::And(v) | Expr::Or(v) => v.iter().any(contains_position),
            Expr::GeneralComp(_, a, b) | Expr::ValueComp(_, a, b) => {
                contains_position(a) || contains_position(b)
            }
            _ => false,
        }
    }
}

/// Whether `position()` or `last()` is called outside a nested path (which has its own focus).
pub fn contains_position(e: &Expr) -> bool {
    match e {
        Expr::Call(Func::Position | Func::Last, _) => true,
        Expr::Call(_, args) => args.iter().any(contains_position),
        Expr::And(v) | Expr::Or(v) | Expr::Sequence(v) => v.iter().any(contains_position),
        Expr::GeneralComp(_, a, b) | Expr::ValueComp(_, a, b) | Expr::Arith(_, a, b) => {
            contains_position(a) || contains_position(b)
        }
        Expr::Paren(a) | Expr::Neg(a) | Expr::Plus(a) => contains_position(a),
        _ => false,
    }
}

/// Collects the branches of a union of relative axis-step paths; false if it is anything else.
fn union_branches<'a>(e: &'a Expr, out: &mut Vec<&'a Vec<Step>>) -> bool {
    match e {
        Expr::Paren(a) => union_branches(a, out),
        Expr::Union(a, b) => union_branches(a, out) && union_branches(b, out),
        Expr::Path { start: PathStart::Context, steps }
            if !steps.is_empty() && steps.iter().all(|s| matches!(s, Step::Axis { .. })) =>
        {
            out.push(steps);
            true
        }
        _ => false,
    }
}

/// The literal of a code-list test `contains(' A B ', concat(' ', x, ' '))` and its tokens: a
/// value without spaces occurs as ` x ` in the literal exactly when it is one of the tokens
/// between two spaces, so the test becomes a set lookup.
#[derive(Debug)]
pub struct CodeList {
    pub literal: Arc<str>,
    pub tokens: rustc_hash::FxHashSet<Box<str>>,
}

impl CodeList {
    fn new(literal: Arc<str>) -> CodeList {
        let parts: Vec<&str> = literal.split(' ').collect();
        // The first and last parts have no space on one side.
        let inner = if parts.len() >= 2 { &parts[1..parts.len() - 1] } else { &[][..] };
        let tokens = inner.iter().filter(|t| !t.is_empty()).map(|t| Box::from(*t)).collect();
        CodeList { literal, tokens }
    }

    /// `contains(literal, concat(' ', value, ' '))`.
    pub fn contains(&self, value: &str) -> bool {
        if value.is_empty() || value.contains(' ') {
            return self.literal.contains(&format!(" {value} ") as &str);
        }
        self.tokens.contains(value)
    }
}

impl PartialEq for CodeList {
    fn eq(&self, other: &Self) -> bool {
        self.literal == other.literal
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStart {
    Root,
    Context,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Axis {
        axis: Axis,
        test: NodeTest,
        preds: Vec<Expr>,
    },
    /// A primary expression used as a step: `a/normalize-space(b)`, `//(a|b)`, `.`.
    Filter {
        expr: Box<Expr>,
        preds: Vec<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Child,
    Descendant,
    DescendantOrSelf,
    SelfAxis,
    Parent,
    Ancestor,
    AncestorOrSelf,
    FollowingSibling,
    PrecedingSibling,
    Following,
    Preceding,
    Attribute,
    /// `descendant-or-self::node()/attribute::X`, answered from the attribute index.
    DescendantAttribute,
}

impl Axis {
    pub fn is_reverse(self) -> bool {
        matches!(
            self,
            Axis::Parent | Axis::Ancestor | Axis::AncestorOrSelf | Axis::PrecedingSibling | Axis::Preceding
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeTest {
    AnyNode,
    Text,
    Name(NameTest),
}

#[derive(Debug, Clone, PartialEq)]
pub enum NameTest {
    Any,
    Exact(NameId),
    Local(Box<str>),
    Namespace(Box<str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    IDiv,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Some,
    Every,
}

macro_rules! funcs {
    ($($variant:ident = $name:literal / $min:literal ..= $max:literal),* $(,)?) => {
        /// The built-in functions the official rule sets call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Func { $($variant),* }

        impl Func {
            /// The function of that lexical name and arity.
            pub fn lookup(name: &str, arity: usize) -> Option<Func> {
                let name = name.strip_prefix("fn:").unwrap_or(name);
                match name {
                    $($name if ($min..=$max).contains(&arity) => Some(Func::$variant),)*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }
        }
    };
}

funcs! {
    Not = "not" / 1..=1,
    True = "true" / 0..=0,
    False = "false" / 0..=0,
    Boolean = "boolean" / 1..=1,
    Exists = "exists" / 1..=1,
    Empty = "empty" / 1..=1,
    Count = "count" / 1..=1,
    Sum = "sum" / 1..=2,
    Avg = "avg" / 1..=1,
    Min = "min" / 1..=1,
    Max = "max" / 1..=1,
    Round = "round" / 1..=1,
    Floor = "floor" / 1..=1,
    Ceiling = "ceiling" / 1..=1,
    Abs = "abs" / 1..=1,
    Number = "number" / 0..=1,
    String = "string" / 0..=1,
    NormalizeSpace = "normalize-space" / 0..=1,
    StringLength = "string-length" / 0..=1,
    UpperCase = "upper-case" / 1..=1,
    LowerCase = "lower-case" / 1..=1,
    Concat = "concat" / 2..=64,
    Contains = "contains" / 2..=2,
    StartsWith = "starts-with" / 2..=2,
    EndsWith = "ends-with" / 2..=2,
    Substring = "substring" / 2..=3,
    SubstringBefore = "substring-before" / 2..=2,
    SubstringAfter = "substring-after" / 2..=2,
    Translate = "translate" / 3..=3,
    Matches = "matches" / 2..=3,
    Replace = "replace" / 3..=4,
    Tokenize = "tokenize" / 2..=3,
    StringJoin = "string-join" / 2..=2,
    StringToCodepoints = "string-to-codepoints" / 1..=1,
    CodepointsToString = "codepoints-to-string" / 1..=1,
    DistinctValues = "distinct-values" / 1..=1,
    Reverse = "reverse" / 1..=1,
    Data = "data" / 1..=1,
    Name = "name" / 0..=1,
    LocalName = "local-name" / 0..=1,
    NamespaceUri = "namespace-uri" / 0..=1,
    Root = "root" / 0..=1,
    Position = "position" / 0..=0,
    Last = "last" / 0..=0,
    XsDecimal = "xs:decimal" / 1..=1,
    XsInteger = "xs:integer" / 1..=1,
    XsDouble = "xs:double" / 1..=1,
    XsString = "xs:string" / 1..=1,
    XsBoolean = "xs:boolean" / 1..=1,
    XsDate = "xs:date" / 1..=1,
}

impl Func {
    fn may_return_number(self) -> bool {
        matches!(
            self,
            Func::Count
                | Func::Sum
                | Func::Avg
                | Func::Min
                | Func::Max
                | Func::Round
                | Func::Floor
                | Func::Ceiling
                | Func::Abs
                | Func::Number
                | Func::StringLength
                | Func::XsDecimal
                | Func::XsInteger
                | Func::XsDouble
                | Func::Data
        )
    }
}
