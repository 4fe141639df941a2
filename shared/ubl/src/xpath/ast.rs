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
    /// A subexpression whose value depends only on the context node (no variables, position or
    /// size), kept per node for this document: the VAT category rules test
    /// `normalize-space(cbc:ID) = 'S'` and `cac:TaxScheme/normalize-space(upper-case(cbc:ID))='VAT'`
    /// on the same nodes in dozens of rules. Kept per element of `name` (the element the rule set
    /// evaluates it at); `mode_free` when the value cannot depend on pattern mode (no predicates
    /// inside).
    NodeMemo {
        slot: u32,
        name: NameId,
        mode_free: bool,
        expr: Box<Expr>,
    },
}

impl Expr {
    /// The direct subexpressions, for passes over the tree.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        let mut out: Vec<&mut Expr> = Vec::new();
        match self {
            Expr::Paren(a)
            | Expr::Neg(a)
            | Expr::Plus(a)
            | Expr::Cached(_, a)
            | Expr::CodeList(_, a)
            | Expr::NodeMemo { expr: a, .. } => out.push(a),
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

// By hand for the one float: equal expressions hash equally, which the load-time rewrites need.
impl std::hash::Hash for Expr {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            Expr::Empty | Expr::ContextItem => {}
            Expr::Str(s) | Expr::Var(s) => s.hash(h),
            Expr::Integer(i) => i.hash(h),
            Expr::Decimal(d) => d.hash(h),
            Expr::Double(x) => x.to_bits().hash(h),
            Expr::Paren(a) | Expr::Neg(a) | Expr::Plus(a) => a.hash(h),
            Expr::Sequence(v) | Expr::And(v) | Expr::Or(v) => v.hash(h),
            Expr::Path { start, steps } => {
                start.hash(h);
                steps.hash(h);
            }
            Expr::Filter(base, preds) => {
                base.hash(h);
                preds.hash(h);
            }
            Expr::Call(f, args) => {
                f.hash(h);
                args.hash(h);
            }
            Expr::UserCall(i, args) => {
                i.hash(h);
                args.hash(h);
            }
            Expr::Arith(op, a, b) => {
                op.hash(h);
                a.hash(h);
                b.hash(h);
            }
            Expr::GeneralComp(op, a, b) | Expr::ValueComp(op, a, b) => {
                op.hash(h);
                a.hash(h);
                b.hash(h);
            }
            Expr::Union(a, b) | Expr::Intersect(a, b) | Expr::Except(a, b) | Expr::Range(a, b) => {
                a.hash(h);
                b.hash(h);
            }
            Expr::If(a, b, c) => {
                a.hash(h);
                b.hash(h);
                c.hash(h);
            }
            Expr::For { var, domain, body } => {
                var.hash(h);
                domain.hash(h);
                body.hash(h);
            }
            Expr::Quantified { q, var, domain, body } => {
                q.hash(h);
                var.hash(h);
                domain.hash(h);
                body.hash(h);
            }
            Expr::Castable { func, operand } => {
                func.hash(h);
                operand.hash(h);
            }
            Expr::Membership { q, op, value, domain, var_first } => {
                q.hash(h);
                op.hash(h);
                value.hash(h);
                domain.hash(h);
                var_first.hash(h);
            }
            Expr::Cached(slot, a) => {
                slot.hash(h);
                a.hash(h);
            }
            Expr::CodeList(list, a) => {
                list.hash(h);
                a.hash(h);
            }
            Expr::NodeMemo { slot, name, mode_free, expr } => {
                slot.hash(h);
                name.hash(h);
                mode_free.hash(h);
                expr.hash(h);
            }
        }
    }
}

/// Node values found by [`Expr::count_node_values`], in the order they were found, with how
/// often each occurs at elements of one name.
#[derive(Debug, Default)]
pub struct NodeValues {
    /// Per expression visited: its entry in `distinct`, if it is a node value.
    found: Vec<Option<usize>>,
    /// (element name, hash) → entries in `distinct` (more than one only on a hash collision).
    by_hash: std::collections::HashMap<(NameId, u64), Vec<usize>>,
    /// The distinct values: one occurrence, how many there are, and the slot once given one.
    distinct: Vec<(Expr, usize, Option<u32>)>,
    /// Expressions visited by [`Expr::memoise_node_values`] so far.
    next: usize,
    slots: u32,
}

impl NodeValues {
    fn add(&mut self, name: NameId, e: &Expr) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        e.hash(&mut h);
        let same = self.by_hash.entry((name, h.finish())).or_default();
        let index = match same.iter().find(|i| self.distinct[**i].0 == *e) {
            Some(i) => *i,
            None => {
                self.distinct.push((e.clone(), 0, None));
                same.push(self.distinct.len() - 1);
                self.distinct.len() - 1
            }
        };
        self.distinct[index].1 += 1;
        index
    }

    /// The slot of the next expression visited, when it is a node value that occurs more than
    /// once.
    fn slot_of_next(&mut self) -> Option<u32> {
        let found = self.found.get(self.next).copied().flatten();
        self.next += 1;
        let index = found?;
        let (_, count, slot) = &mut self.distinct[index];
        if *count < 2 {
            return None;
        }
        Some(*slot.get_or_insert_with(|| {
            self.slots += 1;
            self.slots - 1
        }))
    }
}

/// The name of the element an expression is evaluated at, when the rule set fixes it.
pub type StaticFocus = Option<NameId>;

impl Expr {
    /// The name of every node this expression selects, when they all have one name.
    pub fn selected_name(&self) -> StaticFocus {
        match self {
            Expr::Path { steps, .. } => match steps.last() {
                Some(Step::Axis { test: NodeTest::Name(NameTest::Exact(n)), .. }) => Some(*n),
                _ => None,
            },
            Expr::Paren(a) => a.selected_name(),
            Expr::Union(a, b) => match (a.selected_name(), b.selected_name()) {
                (Some(x), Some(y)) if x == y => Some(x),
                _ => None,
            },
            _ => None,
        }
    }

    /// The direct subexpressions with the element each is evaluated at, this one being
    /// evaluated at `focus`: predicates see the nodes of their step.
    fn children_with_focus(&mut self, focus: StaticFocus) -> Vec<(&mut Expr, StaticFocus)> {
        match self {
            Expr::Path { start, steps } => {
                let mut out = Vec::new();
                let mut previous = if *start == PathStart::Context { focus } else { None };
                for step in steps.iter_mut() {
                    match step {
                        Step::Axis { test, preds, .. } => {
                            let name = match test {
                                NodeTest::Name(NameTest::Exact(n)) => Some(*n),
                                _ => None,
                            };
                            out.extend(preds.iter_mut().map(|p| (p, name)));
                            previous = name;
                        }
                        Step::Filter { expr, preds } => {
                            let name = expr.selected_name();
                            out.push((&mut **expr, previous));
                            out.extend(preds.iter_mut().map(|p| (p, name)));
                            previous = name;
                        }
                    }
                }
                out
            }
            Expr::Filter(base, preds) => {
                let name = base.selected_name();
                let mut out = vec![(&mut **base, focus)];
                out.extend(preds.iter_mut().map(|p| (p, name)));
                out
            }
            other => other.children_mut().into_iter().map(|c| (c, focus)).collect(),
        }
    }

    /// Whether this expression computes a value (not a node sequence, which existence tests
    /// walk lazily): with a relative step and no variable or position inside, worth keeping per
    /// context node.
    fn computes_value(&self) -> bool {
        match self {
            Expr::Call(f, _) => !matches!(f, Func::Root | Func::Reverse | Func::Position | Func::Last),
            Expr::GeneralComp(..)
            | Expr::ValueComp(..)
            | Expr::Arith(..)
            | Expr::CodeList(..)
            | Expr::Castable { .. } => true,
            Expr::Path { start: PathStart::Context, steps } => {
                matches!(steps.last(), Some(Step::Filter { .. }))
            }
            _ => false,
        }
    }

    fn has_predicates(&mut self) -> bool {
        let own = match self {
            Expr::Filter(_, preds) => !preds.is_empty(),
            Expr::Path { steps, .. } => steps.iter().any(|s| match s {
                Step::Axis { preds, .. } | Step::Filter { preds, .. } => !preds.is_empty(),
            }),
            _ => false,
        };
        own || self.children_mut().into_iter().any(|c| c.has_predicates())
    }

    /// Finds the node values (see [`Self::computes_value`]) per element name they are
    /// evaluated at, this expression being evaluated at `focus`. Only where the name is known: a
    /// value is kept per node, and nodes of different names never share one. Returns whether
    /// the expression walks a relative step and whether it uses a variable.
    pub fn count_node_values(&mut self, focus: StaticFocus, values: &mut NodeValues) -> (bool, bool) {
        let at = values.found.len();
        values.found.push(None);
        let mut walks = matches!(self, Expr::Path { start: PathStart::Context, steps } if !steps.is_empty());
        let mut vars = matches!(self, Expr::Var(_));
        for (c, f) in self.children_with_focus(focus) {
            let (w, v) = c.count_node_values(f, values);
            walks |= w;
            vars |= v;
        }
        if let Some(name) = focus {
            if walks && !vars && self.computes_value() && !contains_position(self) {
                values.found[at] = Some(values.add(name, self));
            }
        }
        (walks, vars)
    }

    /// Wraps in [`Expr::NodeMemo`] the node values that the rule set evaluates more than once
    /// at elements of one name (so on the same nodes); equal ones share a slot. Visits the
    /// expressions in the order [`Self::count_node_values`] did.
    pub fn memoise_node_values(&mut self, focus: StaticFocus, values: &mut NodeValues) {
        let slot = values.slot_of_next();
        for (c, f) in self.children_with_focus(focus) {
            c.memoise_node_values(f, values);
        }
        let (Some(slot), Some(name)) = (slot, focus) else { return };
        let mode_free = !self.has_predicates();
        let expr = Box::new(std::mem::replace(self, Expr::Empty));
        *self = Expr::NodeMemo { slot, name, mode_free, expr };
    }

    /// Whether a predicate might select by position (a number, `position()` or `last()`), which
    /// forbids rewriting `//X[p]` as `descendant::X[p]`.
    pub fn may_be_positional(&self) -> bool {
        match self {
            Expr::Integer(_) | Expr::Decimal(_) | Expr::Double(_) => true,
            Expr::Call(Func::Position | Func::Last, _) => true,
            Expr::Arith(..) | Expr::Neg(_) | Expr::Plus(_) | Expr::Var(_) => true,
            Expr::Call(f, _) => f.may_return_number(),
            Expr::Paren(e) | Expr::NodeMemo { expr: e, .. } => e.may_be_positional(),
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

impl std::hash::Hash for CodeList {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.literal.hash(state);
    }
}

// The literal alone: it decides equality, and printed forms key the load-time rewrites.
impl std::fmt::Debug for CodeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeList({:?})", self.literal)
    }
}

impl PartialEq for CodeList {
    fn eq(&self, other: &Self) -> bool {
        self.literal == other.literal
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathStart {
    Root,
    Context,
}

#[derive(Debug, Clone, PartialEq, Hash)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NodeTest {
    AnyNode,
    Text,
    Name(NameTest),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameTest {
    Any,
    Exact(NameId),
    Local(Box<str>),
    Namespace(Box<str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    IDiv,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantifier {
    Some,
    Every,
}

macro_rules! funcs {
    ($($variant:ident = $name:literal / $min:literal ..= $max:literal),* $(,)?) => {
        /// The built-in functions the official rule sets call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
