//! Evaluation of compiled expressions over a bound document.
//!
//! Left-to-right with short-circuiting `and`/`or`, like Saxon, so an expression that would raise a
//! dynamic error there raises it here too. Existence tests (`exists(p)`, `not(p)`, `p and ...`) stop
//! at the first node found; `descendant::X` is answered from the per-name index.

use std::borrow::Cow;
use std::sync::Arc;

use super::ast::{ArithOp, Axis, CompOp, Expr, NameTest, NodeTest, PathStart, Quantifier, Step};
use super::names::{BoundDocument, NameId};
use super::value::{Atomic, Item, Seq, XResult, arith, compare_general, compare_values, err};
use crate::xml::{NodeId, NodeKind};

/// The focus: context item, position and size (1-based).
#[derive(Debug, Clone)]
pub struct Focus<'d> {
    pub item: Item<'d>,
    pub pos: usize,
    pub size: usize,
}

impl<'d> Focus<'d> {
    pub fn node(id: NodeId) -> Focus<'d> {
        Focus { item: Item::Node(id), pos: 1, size: 1 }
    }
}

/// Evaluates expressions against one document, with variables in scope.
pub struct Evaluator<'b, 'd> {
    pub(crate) bound: &'b BoundDocument<'d>,
    functions: &'d [super::UserFunction],
    vars: Vec<(Arc<str>, XResult<Seq<'d>>)>,
    /// Variables below this depth are global (visible inside rule-set functions).
    globals: usize,
    call_depth: usize,
    /// Spare result buffers: existence tests run thousands of times per document.
    pool: Vec<Seq<'d>>,
    /// Values of [`Expr::Cached`] subexpressions for this document.
    cache: Vec<Option<Seq<'d>>>,
    /// Errors inside predicates count as "false" (XSLT pattern matching semantics).
    pub(crate) pattern_mode: bool,
    /// Values of [`Expr::NodeMemo`] subexpressions for this document: per slot and mode, one
    /// entry per element of the slot's name (by [`BoundDocument::rank`]), made on first use.
    kept: Vec<Vec<Kept>>,
    /// The same for subexpressions kept as effective boolean values: 4 bytes per element.
    kept_ebv: Vec<Vec<KeptEbv>>,
    /// The kept values that do not fit a [`Kept`] (errors, several items, computed strings).
    kept_other: Vec<XResult<Seq<'d>>>,
}

/// The element names of a path's steps, top first.
type Names = smallvec::SmallVec<[NameId; 8]>;

/// Subtrees larger than this are searched upward from the name index rather than walked down.
const UPWARD_FROM: u32 = 256;

/// Atomized values; most comparisons atomize one or two, which stay inline (no allocation).
pub type Atomics<'d> = smallvec::SmallVec<[Atomic<'d>; 2]>;

/// A kept node value, small enough to keep one per element of a large invoice (12 bytes): the
/// common results inline (a boolean, nothing, a string of the document by its position, a
/// number whose digits fit 64 bits), anything else by index.
#[derive(Debug, Clone, Copy)]
enum Kept {
    Unknown,
    Bool(bool),
    Empty,
    Untyped(u32, u32),
    Str(u32, u32),
    /// An integer as its low and high 32 bits.
    Int(u32, u32),
    /// A decimal as its scale and its (non-zero or positive) coefficient's low and high 32 bits.
    Dec(u8, u32, u32),
    Other(u32),
}

impl Kept {
    fn halves(v: i64) -> (u32, u32) {
        (v as u32, (v >> 32) as u32)
    }

    fn whole(lo: u32, hi: u32) -> i64 {
        (i64::from(hi as i32) << 32) | i64::from(lo)
    }

    /// A decimal inline when it reads back exactly: its coefficient fits 64 bits, and it is not
    /// a negative zero (whose sign the coefficient does not carry).
    fn dec(d: rust_decimal::Decimal) -> Option<Kept> {
        let coefficient = i64::try_from(d.mantissa()).ok()?;
        if coefficient == 0 && d.is_sign_negative() {
            return None;
        }
        let (lo, hi) = Kept::halves(coefficient);
        Some(Kept::Dec(u8::try_from(d.scale()).ok()?, lo, hi))
    }

    /// The decimal [`Kept::dec`] kept.
    fn decimal(scale: u8, lo: u32, hi: u32) -> rust_decimal::Decimal {
        rust_decimal::Decimal::from_i128_with_scale(i128::from(Kept::whole(lo, hi)), scale.into())
    }
}

/// A kept effective boolean value: unknown, false, true, or (an error) an index into the kept
/// values that do not fit, from [`KeptEbv::FIRST_OTHER`] on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeptEbv(u32);

impl KeptEbv {
    const UNKNOWN: KeptEbv = KeptEbv(0);
    const FALSE: KeptEbv = KeptEbv(1);
    const TRUE: KeptEbv = KeptEbv(2);
    const FIRST_OTHER: KeptEbv = KeptEbv(3);
}

impl<'b, 'd> Evaluator<'b, 'd> {
    pub fn new(bound: &'b BoundDocument<'d>, functions: &'d [super::UserFunction]) -> Self {
        Evaluator {
            bound,
            functions,
            vars: Vec::new(),
            globals: 0,
            call_depth: 0,
            pool: Vec::new(),
            cache: Vec::new(),
            pattern_mode: false,
            kept: Vec::new(),
            kept_ebv: Vec::new(),
            kept_other: Vec::new(),
        }
    }

    /// Where a node value is kept: (table, entry); none when the context item is not an element
    /// of the slot's name. The table is made (all unknown) on first use.
    fn kept_at<T: Clone>(
        tables: &mut Vec<Vec<T>>,
        unknown: T,
        bound: &BoundDocument<'d>,
        memo: (u32, NameId, bool),
        pattern_mode: bool,
        item: &Item<'d>,
    ) -> Option<(usize, usize)> {
        let (slot, name, mode_free) = memo;
        let Item::Node(n) = item else { return None };
        if !bound.has_name(*n, name) {
            return None;
        }
        let entry = bound.rank(*n)?;
        let table = (slot as usize) << 1 | usize::from(pattern_mode && !mode_free);
        if table >= tables.len() {
            tables.resize_with(table + 1, Vec::new);
        }
        if tables[table].is_empty() {
            tables[table] = vec![unknown; bound.count_named(name)];
        }
        (entry < tables[table].len()).then_some((table, entry))
    }

    fn node_value(&mut self, memo: (u32, NameId, bool), e: &'d Expr, f: &Focus<'d>) -> XResult<Seq<'d>> {
        let at = Self::kept_at(&mut self.kept, Kept::Unknown, self.bound, memo, self.pattern_mode, &f.item);
        let Some((table, entry)) = at else { return self.eval(e, f) };
        let one = |a: Atomic<'d>| -> Seq<'d> { smallvec::smallvec![Item::Atomic(a)] };
        match self.kept[table][entry] {
            Kept::Unknown => {}
            Kept::Bool(b) => return Ok(one(Atomic::Bool(b))),
            Kept::Empty => return Ok(Seq::new()),
            Kept::Untyped(at, len) => {
                if let Some(s) = self.bound.doc.text_at((at, len)) {
                    return Ok(one(Atomic::Untyped(Cow::Borrowed(s))));
                }
            }
            Kept::Str(at, len) => {
                if let Some(s) = self.bound.doc.text_at((at, len)) {
                    return Ok(one(Atomic::Str(Cow::Borrowed(s))));
                }
            }
            Kept::Int(lo, hi) => return Ok(one(Atomic::Int(Kept::whole(lo, hi)))),
            Kept::Dec(scale, lo, hi) => return Ok(one(Atomic::Dec(Kept::decimal(scale, lo, hi)))),
            Kept::Other(i) => return self.kept_other[i as usize].clone(),
        }
        let v = self.eval(e, f);
        let kept = match &v {
            Ok(items) => match items.as_slice() {
                [] => Kept::Empty,
                [Item::Atomic(Atomic::Bool(b))] => Kept::Bool(*b),
                [Item::Atomic(Atomic::Untyped(Cow::Borrowed(s)))] => match self.bound.doc.position_of(s) {
                    Some((at, len)) => Kept::Untyped(at, len),
                    None => self.keep_other(v.clone()),
                },
                [Item::Atomic(Atomic::Str(Cow::Borrowed(s)))] => match self.bound.doc.position_of(s) {
                    Some((at, len)) => Kept::Str(at, len),
                    None => self.keep_other(v.clone()),
                },
                [Item::Atomic(Atomic::Int(i))] => {
                    let (lo, hi) = Kept::halves(*i);
                    Kept::Int(lo, hi)
                }
                [Item::Atomic(Atomic::Dec(d))] => match Kept::dec(*d) {
                    Some(kept) => kept,
                    None => self.keep_other(v.clone()),
                },
                _ => self.keep_other(v.clone()),
            },
            Err(_) => self.keep_other(v.clone()),
        };
        self.kept[table][entry] = kept;
        v
    }

    fn node_ebv(&mut self, memo: (u32, NameId, bool), e: &'d Expr, f: &Focus<'d>) -> XResult<bool> {
        let at =
            Self::kept_at(&mut self.kept_ebv, KeptEbv::UNKNOWN, self.bound, memo, self.pattern_mode, &f.item);
        let Some((table, entry)) = at else { return self.ebv(e, f) };
        match self.kept_ebv[table][entry] {
            KeptEbv::UNKNOWN => {}
            KeptEbv::FALSE => return Ok(false),
            KeptEbv::TRUE => return Ok(true),
            KeptEbv(other) => {
                if let Err(e) = &self.kept_other[(other - KeptEbv::FIRST_OTHER.0) as usize] {
                    return Err(e.clone());
                }
            }
        }
        let v = self.ebv(e, f);
        self.kept_ebv[table][entry] = match &v {
            Ok(false) => KeptEbv::FALSE,
            Ok(true) => KeptEbv::TRUE,
            Err(e) => KeptEbv(KeptEbv::FIRST_OTHER.0 + self.keep_other_at(Err(e.clone()))),
        };
        v
    }

    fn keep_other(&mut self, v: XResult<Seq<'d>>) -> Kept {
        Kept::Other(self.keep_other_at(v))
    }

    /// Keeps a value that does not fit a table entry; its index.
    fn keep_other_at(&mut self, v: XResult<Seq<'d>>) -> u32 {
        self.kept_other.push(v);
        self.kept_other.len() as u32 - 1
    }

    /// Makes room for the rule set's cached subexpressions.
    pub fn with_cache_slots(mut self, slots: usize) -> Self {
        self.cache = vec![None; slots];
        self
    }

    fn cached(&mut self, slot: u32, e: &'d Expr, f: &Focus<'d>) -> XResult<&Seq<'d>> {
        let i = slot as usize;
        if i >= self.cache.len() {
            self.cache.resize(i + 1, None);
        }
        if self.cache[i].is_none() {
            let v = self.eval(e, f)?;
            self.cache[i] = Some(v);
        }
        Ok(self.cache[i].as_ref().expect("filled above"))
    }

    /// Marks the variables defined so far as global.
    pub fn seal_globals(&mut self) {
        self.globals = self.vars.len();
    }

    fn fn_body(&mut self, body: &'d super::FnBody) -> XResult<Seq<'d>> {
        let inner = Focus::node(NodeId::DOCUMENT);
        match body {
            super::FnBody::Value(v) => self.fn_value(v, &inner),
            super::FnBody::Let { name, value, ty, rest } => {
                let v = self.fn_value(value, &inner).and_then(|v| match ty {
                    Some(t) => self.cast(*t, v),
                    None => Ok(v),
                });
                self.vars.push((name.clone(), v));
                let r = self.fn_body(rest);
                self.vars.pop();
                r
            }
            super::FnBody::Choose { whens, otherwise } => {
                for (test, branch) in whens {
                    if self.ebv(test, &inner)? {
                        return self.fn_body(branch);
                    }
                }
                self.fn_body(otherwise)
            }
        }
    }

    fn fn_value(&mut self, v: &'d super::FnValue, f: &Focus<'d>) -> XResult<Seq<'d>> {
        match v {
            super::FnValue::Select(e) => self.eval(e, f),
            super::FnValue::Text(t) => {
                Ok(smallvec::smallvec![Item::Atomic(Atomic::Untyped(Cow::Owned(t.to_string())))])
            }
            super::FnValue::ValueOf(e) => {
                let items = self.eval(e, f)?;
                let parts: Vec<Cow<'d, str>> = items.iter().map(|i| self.string_of_item(i)).collect();
                Ok(smallvec::smallvec![Item::Atomic(Atomic::Untyped(Cow::Owned(parts.join(" "))))])
            }
        }
    }

    fn user_call(&mut self, index: usize, args: &'d [Expr], f: &Focus<'d>) -> XResult<Seq<'d>> {
        let functions = self.functions;
        let func =
            functions.get(index).ok_or_else(|| err("XPST0017", format!("no rule-set function #{index}")))?;
        if self.call_depth > 64 {
            return Err(err("XTDE0640", format!("{} recurses too deeply", func.name)));
        }
        let mut values = Vec::with_capacity(args.len());
        for ((_, ty), a) in func.params.iter().zip(args) {
            let v = self.eval(a, f)?;
            values.push(match ty {
                Some(t) => self.cast(*t, v)?,
                None => v,
            });
        }
        // A function sees the global variables and its own, not the caller's.
        let caller = self.vars.split_off(self.globals);
        self.call_depth += 1;
        for ((name, _), v) in func.params.iter().zip(values) {
            self.vars.push((name.clone(), Ok(v)));
        }
        let result = self.fn_body(&func.body).and_then(|v| match func.returns {
            Some(t) => self.cast(t, v),
            None => Ok(v),
        });
        self.call_depth -= 1;
        self.vars.truncate(self.globals);
        self.vars.extend(caller);
        result
    }

    /// Binds a variable. An error is kept and raised only where the variable is used, which is
    /// what XSLT's lazy variables amount to for side-effect-free expressions.
    pub fn push_var(&mut self, name: Arc<str>, value: XResult<Seq<'d>>) {
        self.vars.push((name, value));
    }

    pub fn pop_var(&mut self) {
        self.vars.pop();
    }

    pub fn var_depth(&self) -> usize {
        self.vars.len()
    }

    pub fn truncate_vars(&mut self, depth: usize) {
        self.vars.truncate(depth);
    }

    fn var(&self, name: &str) -> XResult<Seq<'d>> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .ok_or_else(|| err("XPST0008", format!("variable ${name} is not defined")))
            .and_then(|(_, v)| v.clone())
    }

    pub fn doc(&self) -> &'d crate::xml::Document {
        self.bound.doc
    }

    pub fn eval(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<Seq<'d>> {
        Ok(match e {
            Expr::Empty => Seq::new(),
            Expr::Str(s) => smallvec::smallvec![Item::Atomic(Atomic::Str(Cow::Borrowed(&**s)))],
            Expr::Integer(i) => smallvec::smallvec![Item::Atomic(Atomic::Int(*i))],
            Expr::Decimal(d) => smallvec::smallvec![Item::Atomic(Atomic::Dec(*d))],
            Expr::Double(x) => smallvec::smallvec![Item::Atomic(Atomic::Dbl(*x))],
            Expr::Var(v) => self.var(v)?,
            Expr::ContextItem => smallvec::smallvec![f.item.clone()],
            Expr::Paren(inner) => self.eval(inner, f)?,
            Expr::Sequence(items) => {
                let mut out = Seq::new();
                for i in items {
                    out.extend(self.eval(i, f)?);
                }
                out
            }
            Expr::Path { start, steps } => self.path(*start, steps, f)?,
            Expr::Filter(base, preds) => {
                let items = self.eval(base, f)?;
                self.filter(items, preds, false)?
            }
            Expr::Call(func, args) => self.call(*func, args, f)?,
            Expr::UserCall(index, args) => self.user_call(*index, args, f)?,
            Expr::Cached(slot, inner) => self.cached(*slot, inner, f)?.clone(),
            Expr::NodeMemo { slot, name, mode_free, expr } => {
                self.node_value((*slot, *name, *mode_free), expr, f)?
            }
            Expr::Neg(inner) => match self.single_atomic(inner, f)? {
                None => Seq::new(),
                Some(a) => smallvec::smallvec![Item::Atomic(arith(ArithOp::Sub, &Atomic::Int(0), &a)?)],
            },
            Expr::Plus(inner) => match self.single_atomic(inner, f)? {
                None => Seq::new(),
                Some(Atomic::Untyped(s)) => {
                    smallvec::smallvec![Item::Atomic(Atomic::Dbl(super::value::parse_double(&s)?))]
                }
                Some(a) => smallvec::smallvec![Item::Atomic(a)],
            },
            Expr::Arith(op, a, b) => {
                let x = self.single_atomic(a, f)?;
                let y = self.single_atomic(b, f)?;
                match (x, y) {
                    (Some(x), Some(y)) => smallvec::smallvec![Item::Atomic(arith(*op, &x, &y)?)],
                    _ => Seq::new(),
                }
            }
            Expr::GeneralComp(..)
            | Expr::Membership { .. }
            | Expr::ValueComp(..)
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Quantified { .. }
            | Expr::Castable { .. }
            | Expr::CodeList(..) => smallvec::smallvec![Item::Atomic(Atomic::Bool(self.ebv(e, f)?))],
            Expr::Union(a, b) => {
                let mut x = self.eval(a, f)?;
                x.extend(self.eval(b, f)?);
                self.require_nodes(&x, "union")?;
                sort_dedup(&mut x);
                x
            }
            Expr::Intersect(a, b) | Expr::Except(a, b) => {
                let mut x = self.eval(a, f)?;
                let y = self.eval(b, f)?;
                self.require_nodes(&x, "intersect/except")?;
                self.require_nodes(&y, "intersect/except")?;
                let keep = matches!(e, Expr::Intersect(..));
                x.retain(|i| y.contains(i) == keep);
                sort_dedup(&mut x);
                x
            }
            Expr::Range(a, b) => {
                let x = self.single_atomic(a, f)?;
                let y = self.single_atomic(b, f)?;
                match (x, y) {
                    (Some(x), Some(y)) => {
                        let lo = to_integer(&x)?;
                        let hi = to_integer(&y)?;
                        if hi.saturating_sub(lo) > 1_000_000 {
                            return Err(err("XPDY0130", "range too large"));
                        }
                        (lo..=hi).map(|i| Item::Atomic(Atomic::Int(i))).collect()
                    }
                    _ => Seq::new(),
                }
            }
            Expr::If(c, t, el) => {
                if self.ebv(c, f)? {
                    self.eval(t, f)?
                } else {
                    self.eval(el, f)?
                }
            }
            Expr::For { var, domain, body } => {
                let items = self.eval(domain, f)?;
                let mut out = Seq::new();
                for it in items {
                    self.vars.push((var.clone(), Ok(smallvec::smallvec![it])));
                    let r = self.eval(body, f);
                    self.vars.pop();
                    out.extend(r?);
                }
                out
            }
        })
    }

    fn require_nodes(&self, items: &[Item<'d>], op: &str) -> XResult<()> {
        if items.iter().all(Item::is_node) {
            Ok(())
        } else {
            Err(err("XPTY0004", format!("{op} of values that are not nodes")))
        }
    }

    /// Effective boolean value.
    pub fn ebv(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<bool> {
        match e {
            Expr::And(parts) => {
                for p in parts {
                    if !self.ebv(p, f)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Expr::Or(parts) => {
                for p in parts {
                    if self.ebv(p, f)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Expr::Paren(inner) => self.ebv(inner, f),
            Expr::Cached(slot, inner) => {
                let v = self.cached(*slot, inner, f)?;
                ebv_of(v)
            }
            Expr::NodeMemo { slot, name, mode_free, expr } => {
                self.node_ebv((*slot, *name, *mode_free), expr, f)
            }
            Expr::GeneralComp(op, a, b) => {
                let x = self.atomize_expr(a, f)?;
                if x.is_empty() {
                    return Ok(false);
                }
                let y = self.atomize_expr(b, f)?;
                for p in &x {
                    for q in &y {
                        if compare_general(*op, p, q)? {
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            }
            Expr::ValueComp(op, a, b) => {
                let x = self.single_atomic(a, f)?;
                let y = self.single_atomic(b, f)?;
                match (x, y) {
                    (Some(x), Some(y)) => compare_values(*op, &untyped_as_string(x), &untyped_as_string(y)),
                    _ => Ok(false),
                }
            }
            Expr::Quantified { q, var, domain, body } => {
                let items = self.eval(domain, f)?;
                for it in items {
                    self.vars.push((var.clone(), Ok(smallvec::smallvec![it])));
                    let r = self.ebv(body, f);
                    self.vars.pop();
                    let r = r?;
                    match q {
                        Quantifier::Some if r => return Ok(true),
                        Quantifier::Every if !r => return Ok(false),
                        _ => {}
                    }
                }
                Ok(*q == Quantifier::Every)
            }
            Expr::Membership { q, op, value, domain, var_first } => {
                let items = self.eval(domain, f)?;
                if items.is_empty() {
                    return Ok(*q == Quantifier::Every);
                }
                let values = self.atomize_expr(value, f)?;
                for it in items {
                    let d = self.atomize(it);
                    let mut holds = false;
                    for v in &values {
                        let r = if *var_first {
                            compare_general(*op, &d, v)?
                        } else {
                            compare_general(*op, v, &d)?
                        };
                        if r {
                            holds = true;
                            break;
                        }
                    }
                    match q {
                        Quantifier::Some if holds => return Ok(true),
                        Quantifier::Every if !holds => return Ok(false),
                        _ => {}
                    }
                }
                Ok(*q == Quantifier::Every)
            }
            Expr::CodeList(list, value) => {
                let v = self.string_arg(value, f)?;
                Ok(list.contains(&v))
            }
            Expr::Union(..) if axis_union(e) => self.union_exists(e, f),
            Expr::Castable { func, operand } => {
                let items = self.eval(operand, f)?;
                if items.len() > 1 {
                    return Ok(false);
                }
                Ok(self.cast(*func, items).is_ok())
            }
            Expr::Path { start, steps } if steps.iter().all(|s| matches!(s, Step::Axis { .. })) => {
                self.path_exists(*start, steps, f)
            }
            Expr::Path { start, steps } => {
                let items = self.path(*start, steps, f)?;
                ebv_of(&items)
            }
            // `normalize-space(x)` is true when x has a non-space character: no need to build it.
            Expr::Call(super::ast::Func::NormalizeSpace, args) => {
                let s = match args.first() {
                    Some(e) => self.string_arg(e, f)?,
                    None => self.string_of_item(&f.item),
                };
                Ok(s.chars().any(|c| !matches!(c, ' ' | '\t' | '\n' | '\r')))
            }
            Expr::Call(super::ast::Func::Not, args) => Ok(!self.ebv(&args[0], f)?),
            Expr::Call(super::ast::Func::Exists, args) => match &args[0] {
                Expr::Path { start, steps } if steps.iter().all(|s| matches!(s, Step::Axis { .. })) => {
                    self.path_exists(*start, steps, f)
                }
                u @ Expr::Union(..) if axis_union(u) => self.union_exists(u, f),
                other => Ok(!self.eval(other, f)?.is_empty()),
            },
            _ => {
                let items = self.eval(e, f)?;
                ebv_of(&items)
            }
        }
    }

    /// Whether a union of axis-step paths selects anything: branch by branch, stopping at the
    /// first node found, like [`Self::path_exists`].
    fn union_exists(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<bool> {
        match e {
            Expr::Paren(a) => self.union_exists(a, f),
            Expr::Union(a, b) => Ok(self.union_exists(a, f)? || self.union_exists(b, f)?),
            Expr::Path { start, steps } => self.path_exists(*start, steps, f),
            other => Ok(!self.eval(other, f)?.is_empty()),
        }
    }

    /// Atomizes the value of an expression.
    pub fn atomize_expr(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<Atomics<'d>> {
        let items = self.eval(e, f)?;
        // By hand: SmallVec's generic collect costs more than the comparisons it feeds.
        let mut out = Atomics::new();
        if items.len() > out.inline_size() {
            out.reserve_exact(items.len());
        }
        for i in items {
            out.push(self.atomize(i));
        }
        Ok(out)
    }

    pub fn atomize(&self, i: Item<'d>) -> Atomic<'d> {
        let doc = self.bound.doc;
        match i {
            Item::Node(n) => Atomic::Untyped(doc.string_value(n)),
            Item::Attr(n, k) => Atomic::Untyped(Cow::Borrowed(doc.attribute(n, k as usize).1)),
            Item::Atomic(a) => a,
        }
    }

    /// Zero or one atomic value; more is a type error (XPTY0004), as in a Saxon-compiled rule.
    pub fn single_atomic(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<Option<Atomic<'d>>> {
        let mut items = self.eval(e, f)?;
        match items.len() {
            0 => Ok(None),
            1 => Ok(items.pop().map(|i| self.atomize(i))),
            n => Err(err("XPTY0004", format!("a sequence of {n} items where at most one is allowed"))),
        }
    }

    /// The string value of an optional single item ("" when empty).
    pub fn string_arg(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<Cow<'d, str>> {
        Ok(match self.single_atomic(e, f)? {
            None => Cow::Borrowed(""),
            Some(Atomic::Str(s) | Atomic::Untyped(s)) => s,
            Some(a) => Cow::Owned(a.to_str().into_owned()),
        })
    }

    pub fn string_of_item(&self, i: &Item<'d>) -> Cow<'d, str> {
        let doc = self.bound.doc;
        match i {
            Item::Node(n) => doc.string_value(*n),
            Item::Attr(n, k) => Cow::Borrowed(doc.attribute(*n, *k as usize).1),
            Item::Atomic(Atomic::Str(s) | Atomic::Untyped(s)) => s.clone(),
            Item::Atomic(a) => Cow::Owned(a.to_str().into_owned()),
        }
    }

    fn path(&mut self, start: PathStart, steps: &'d [Step], f: &Focus<'d>) -> XResult<Seq<'d>> {
        if self.names_absent_name(steps) && f.item.is_node() {
            return Ok(Seq::new());
        }
        if let Some((origin, names, first_descendant)) = self.upward_plan(start, steps, f, false) {
            return self.path_upward(origin, steps, &names, first_descendant, false);
        }
        let mut current: Seq<'d> = match start {
            PathStart::Root => {
                if !f.item.is_node() {
                    return Err(err("XPDY0050", "`/` when the context item is not a node"));
                }
                smallvec::smallvec![Item::Node(NodeId::DOCUMENT)]
            }
            PathStart::Context => smallvec::smallvec![f.item.clone()],
        };
        for (i, step) in steps.iter().enumerate() {
            let last = i + 1 == steps.len();
            current = self.step(&current, step, last, start == PathStart::Context && i == 0, f)?;
            if current.is_empty() {
                break;
            }
        }
        Ok(current)
    }

    /// When [`Self::path_upward`] answers a path: from the root always, from an element when its
    /// subtree is large (a small one is quicker to walk down). Gives the origin, the step names
    /// and whether the first step is `descendant::`.
    fn upward_plan(
        &self,
        start: PathStart,
        steps: &[Step],
        f: &Focus<'d>,
        exists: bool,
    ) -> Option<(NodeId, Names, bool)> {
        let Item::Node(context) = f.item else { return None };
        let origin = match start {
            PathStart::Root => NodeId::DOCUMENT,
            PathStart::Context if self.bound.doc.descendants_end(context).0 - context.0 > UPWARD_FROM => {
                context
            }
            PathStart::Context => return None,
        };
        let (names, first_descendant) = self.upward_names(steps, exists)?;
        Some((origin, names, first_descendant))
    }

    /// The element names of a path `a/b/…/z` (or `descendant::a/b/…/z`) that
    /// [`Self::path_upward`] can answer: named child steps after the first, predicates that
    /// cannot see position, and predicates before the last step only in pattern mode (where an
    /// error is a non-match, so testing them on fewer nodes cannot hide one). For an existence
    /// test no predicate at all: it stops at the first node, where walking down would have tested
    /// the predicates of that node's siblings too.
    fn upward_names(&self, steps: &[Step], exists: bool) -> Option<(Names, bool)> {
        if steps.len() < 2 {
            return None;
        }
        let mut names = Names::new();
        let mut first_descendant = false;
        for (i, step) in steps.iter().enumerate() {
            let Step::Axis { axis, test: NodeTest::Name(NameTest::Exact(name)), preds } = step else {
                return None;
            };
            match axis {
                Axis::Child => {}
                Axis::Descendant if i == 0 => first_descendant = true,
                _ => return None,
            }
            if !preds.is_empty() {
                let last = i + 1 == steps.len();
                if exists
                    || !(last || self.pattern_mode)
                    || preds.iter().any(|p| p.may_be_positional() || super::ast::contains_position(p))
                {
                    return None;
                }
            }
            names.push(*name);
        }
        Some((names, first_descendant))
    }

    /// `a/b/…/z` from `origin`, as an XSLT match pattern is tested: each element named `z` below
    /// `origin` (from the name index, in document order) is kept when its ancestors carry the
    /// names of the steps before, the topmost sits where the first step looks (a child of
    /// `origin`, or any descendant), then the predicates hold from the top step down. No
    /// intermediate sequence is built, and only the chains that can match are looked at. With
    /// `first_only`, stops at the first node kept.
    fn path_upward(
        &mut self,
        origin: NodeId,
        steps: &'d [Step],
        names: &[NameId],
        first_descendant: bool,
        first_only: bool,
    ) -> XResult<Seq<'d>> {
        let bound = self.bound;
        let doc = bound.doc;
        let last = names.len() - 1;
        let mut out = Seq::new();
        let mut chain: smallvec::SmallVec<[NodeId; 8]> = smallvec::SmallVec::new();
        'candidates: for &n in bound.descendants_named(origin, names[last]) {
            chain.clear();
            chain.push(n);
            let mut current = n;
            for name in names[..last].iter().rev() {
                match doc.parent(current) {
                    Some(p) if bound.has_name(p, *name) => {
                        chain.push(p);
                        current = p;
                    }
                    _ => continue 'candidates,
                }
            }
            let placed =
                if first_descendant { current > origin } else { doc.parent(current) == Some(origin) };
            if !placed {
                continue;
            }
            // `chain` runs from `z` up to `a`; the steps from `a` down to `z`.
            for (step, node) in steps.iter().zip(chain.iter().rev()) {
                let Step::Axis { preds, .. } = step else { continue };
                if !self.keeps(*node, preds)? {
                    continue 'candidates;
                }
            }
            out.push(Item::Node(n));
            if first_only {
                break;
            }
        }
        Ok(out)
    }

    /// Whether every predicate holds for `n` (errors are "false" in pattern mode).
    fn keeps(&mut self, n: NodeId, preds: &'d [Expr]) -> XResult<bool> {
        let focus = Focus { item: Item::Node(n), pos: 1, size: 1 };
        for p in preds {
            match self.ebv(p, &focus) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(_) if self.pattern_mode => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Whether a step names an element or attribute the document does not have, before any
    /// predicate could run (so skipping the walk cannot skip an error either): then the path
    /// selects nothing.
    fn names_absent_name(&self, steps: &[Step]) -> bool {
        for step in steps {
            let Step::Axis { axis, test, preds } = step else { return false };
            if let NodeTest::Name(NameTest::Exact(name)) = test {
                let present = match axis {
                    Axis::Attribute | Axis::DescendantAttribute => self.bound.has_attribute_named(*name),
                    _ => self.bound.has_element_named(*name),
                };
                if !present {
                    return true;
                }
            }
            if !preds.is_empty() {
                return false;
            }
        }
        false
    }

    /// Whether a path of axis steps selects anything, stopping at the first node found.
    fn path_exists(&mut self, start: PathStart, steps: &'d [Step], f: &Focus<'d>) -> XResult<bool> {
        if self.names_absent_name(steps) && f.item.is_node() {
            return Ok(false);
        }
        if let Some((origin, names, first_descendant)) = self.upward_plan(start, steps, f, true) {
            return Ok(!self.path_upward(origin, steps, &names, first_descendant, true)?.is_empty());
        }
        let origin = match start {
            PathStart::Root => {
                if !f.item.is_node() {
                    return Err(err("XPDY0050", "`/` when the context item is not a node"));
                }
                Item::Node(NodeId::DOCUMENT)
            }
            PathStart::Context => f.item.clone(),
        };
        if steps.is_empty() {
            return Ok(true);
        }
        self.exists_from(&origin, steps)
    }

    fn exists_from(&mut self, item: &Item<'d>, steps: &'d [Step]) -> XResult<bool> {
        let Some((Step::Axis { axis, test, preds }, rest)) = steps.split_first() else {
            return Ok(true);
        };
        if let Item::Atomic(_) = item {
            return Err(err("XPTY0020", "a path step applied to a value that is not a node"));
        }
        let mut selected = self.pool.pop().unwrap_or_default();
        selected.clear();
        self.axis_into(item, *axis, test, &mut selected);
        if !preds.is_empty() {
            if axis.is_reverse() {
                selected.reverse();
            }
            selected = self.filter(selected, preds, true)?;
        }
        let mut found = false;
        if rest.is_empty() {
            found = !selected.is_empty();
        } else {
            for next in &selected {
                if self.exists_from(next, rest)? {
                    found = true;
                    break;
                }
            }
        }
        selected.clear();
        self.pool.push(selected);
        Ok(found)
    }

    fn step(
        &mut self,
        input: &[Item<'d>],
        step: &'d Step,
        last: bool,
        first_relative: bool,
        outer: &Focus<'d>,
    ) -> XResult<Seq<'d>> {
        match step {
            Step::Axis { axis, test, preds } => {
                let mut out = Seq::new();
                // Predicates that cannot see position or size are tested while the axis is walked,
                // so no intermediate sequence of every candidate is built.
                let streamed = !preds.is_empty()
                    && matches!(axis, Axis::Child | Axis::Descendant)
                    && preds.iter().all(|p| !p.may_be_positional() && !super::ast::contains_position(p));
                for it in input {
                    if let Item::Atomic(_) = it {
                        return Err(err("XPTY0020", "a path step applied to a value that is not a node"));
                    }
                    if preds.is_empty() {
                        self.axis_into(it, *axis, test, &mut out);
                        continue;
                    }
                    if streamed {
                        if let Item::Node(n) = it {
                            self.axis_filtered_into(*n, *axis, test, preds, &mut out)?;
                            continue;
                        }
                    }
                    let mut selected = self.axis(it, *axis, test);
                    if axis.is_reverse() {
                        selected.reverse();
                    }
                    selected = self.filter(selected, preds, true)?;
                    if axis.is_reverse() {
                        selected.reverse();
                    }
                    out.extend(selected);
                }
                if input.len() > 1 {
                    sort_dedup(&mut out);
                }
                Ok(out)
            }
            Step::Filter { expr, preds } => {
                let mut out = Seq::new();
                let size = input.len();
                for (i, it) in input.iter().enumerate() {
                    let focus = if first_relative {
                        outer.clone()
                    } else {
                        Focus { item: it.clone(), pos: i + 1, size }
                    };
                    let r = self.eval(expr, &focus)?;
                    let r = if preds.is_empty() { r } else { self.filter(r, preds, false)? };
                    out.extend(r);
                }
                let all_nodes = out.iter().all(Item::is_node);
                if all_nodes {
                    if input.len() > 1 || !first_relative {
                        sort_dedup(&mut out);
                    }
                } else if !last && !out.is_empty() {
                    // Atomic values may only come from the last step.
                    if out.iter().any(Item::is_node) {
                        return Err(err("XPTY0018", "a path step returned both nodes and values"));
                    }
                } else if out.iter().any(Item::is_node) {
                    return Err(err("XPTY0018", "a path step returned both nodes and values"));
                }
                Ok(out)
            }
        }
    }

    /// The child or descendant elements of `node` passing `test` and every (non-positional)
    /// predicate, appended in document order.
    fn axis_filtered_into(
        &mut self,
        node: NodeId,
        axis: Axis,
        test: &NodeTest,
        preds: &'d [Expr],
        out: &mut Seq<'d>,
    ) -> XResult<()> {
        let bound = self.bound;
        let doc = bound.doc;
        let exact = match test {
            NodeTest::Name(NameTest::Exact(name)) => Some(*name),
            _ => None,
        };
        match (axis, exact) {
            (Axis::Descendant, Some(name)) => {
                for n in bound.descendants_named(node, name) {
                    self.keep_into(*n, preds, out)?;
                }
            }
            (Axis::Descendant, None) if preds.len() == 1 && name_only_parts(&preds[0]).0 > 0 => {
                // `//*[ends-with(name(), 'Amount') and …]`: the leading tests that depend only on
                // the element's name are decided once per distinct name.
                let (k, parts) = name_only_parts(&preds[0]);
                // Per document name: the qualified name the verdict was taken for (a prefix can
                // differ between elements of one name) and the verdict.
                let mut memo: Vec<Option<(&'d str, bool)>> = vec![None; doc.names().len()];
                for n in doc.descendants(node) {
                    let Some(name) = doc.name_index(n) else { continue };
                    if !self.matches(n, test, axis) {
                        continue;
                    }
                    let focus = Focus { item: Item::Node(n), pos: 1, size: 1 };
                    let qualified = doc.qualified_name(n);
                    let by_name = match memo[name] {
                        Some((q, verdict)) if q == qualified => verdict,
                        _ => {
                            let mut all = true;
                            for p in &parts[..k] {
                                match self.ebv(p, &focus) {
                                    Ok(true) => {}
                                    Ok(false) => {
                                        all = false;
                                        break;
                                    }
                                    Err(_) if self.pattern_mode => {
                                        all = false;
                                        break;
                                    }
                                    Err(e) => return Err(e),
                                }
                            }
                            memo[name] = Some((qualified, all));
                            all
                        }
                    };
                    if !by_name {
                        continue;
                    }
                    let mut keep = true;
                    for p in &parts[k..] {
                        match self.ebv(p, &focus) {
                            Ok(true) => {}
                            Ok(false) => {
                                keep = false;
                                break;
                            }
                            Err(_) if self.pattern_mode => {
                                keep = false;
                                break;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    if keep {
                        out.push(focus.item);
                    }
                }
            }
            (Axis::Descendant, None) => {
                for n in doc.descendants(node) {
                    if self.matches(n, test, axis) {
                        self.keep_into(n, preds, out)?;
                    }
                }
            }
            _ => {
                let mut selected = self.pool.pop().unwrap_or_default();
                selected.clear();
                self.axis_into(&Item::Node(node), axis, test, &mut selected);
                for it in &selected {
                    if let Item::Node(n) = it {
                        self.keep_into(*n, preds, out)?;
                    }
                }
                selected.clear();
                self.pool.push(selected);
            }
        }
        Ok(())
    }

    /// Appends `n` when every predicate holds for it (errors are "false" in pattern mode).
    fn keep_into(&mut self, n: NodeId, preds: &'d [Expr], out: &mut Seq<'d>) -> XResult<()> {
        if self.keeps(n, preds)? {
            out.push(Item::Node(n));
        }
        Ok(())
    }

    fn filter(&mut self, items: Seq<'d>, preds: &'d [Expr], _axis: bool) -> XResult<Seq<'d>> {
        let mut items = items;
        for p in preds {
            let size = items.len();
            let mut kept = Seq::with_capacity(size);
            for (i, it) in items.into_iter().enumerate() {
                let focus = Focus { item: it, pos: i + 1, size };
                let keep = match self.predicate(p, &focus) {
                    Ok(k) => k,
                    Err(_) if self.pattern_mode => false,
                    Err(e) => return Err(e),
                };
                if keep {
                    kept.push(focus.item);
                }
            }
            items = kept;
        }
        Ok(items)
    }

    fn predicate(&mut self, p: &'d Expr, f: &Focus<'d>) -> XResult<bool> {
        // Numeric literals select by position; everything else by effective boolean value.
        match p {
            Expr::Integer(i) => Ok(*i >= 1 && *i as usize == f.pos),
            _ if p.may_be_positional() => {
                let v = self.eval(p, f)?;
                if let [Item::Atomic(a)] = v.as_slice() {
                    if a.is_numeric() {
                        let x = super::value::to_double(a)?;
                        return Ok(x == f.pos as f64);
                    }
                }
                ebv_of(&v)
            }
            _ => self.ebv(p, f),
        }
    }

    fn axis(&self, it: &Item<'d>, axis: Axis, test: &NodeTest) -> Seq<'d> {
        let mut out = Seq::new();
        self.axis_into(it, axis, test, &mut out);
        out
    }

    /// Appends the nodes of `axis` from `it` that pass `test`, in axis order.
    fn axis_into(&self, it: &Item<'d>, axis: Axis, test: &NodeTest, out: &mut Seq<'d>) {
        let doc = self.bound.doc;
        let (node, attr) = match it {
            Item::Node(n) => (*n, None),
            Item::Attr(n, k) => (*n, Some(*k)),
            Item::Atomic(_) => return,
        };
        let push = |n: NodeId, out: &mut Seq<'d>| {
            if self.matches(n, test, axis) {
                out.push(Item::Node(n));
            }
        };
        match axis {
            Axis::Child if attr.is_none() => {
                // A name absent from the subtree, or rare in it, is answered from the index;
                // otherwise walk the children.
                // A small subtree is walked: cheaper than two binary searches of the index.
                let small = doc.descendants_end(node).0 - node.0 <= 64;
                if let (false, NodeTest::Name(NameTest::Exact(name))) = (small, test) {
                    let candidates = self.bound.descendants_named(node, *name);
                    if candidates.len() <= 16 {
                        out.extend(
                            candidates
                                .iter()
                                .filter(|c| doc.parent(**c) == Some(node))
                                .map(|c| Item::Node(*c)),
                        );
                        return;
                    }
                }
                for c in doc.children(node) {
                    push(c, out);
                }
            }
            Axis::Descendant | Axis::DescendantOrSelf if attr.is_none() => {
                if axis == Axis::DescendantOrSelf {
                    push(node, out);
                }
                if let NodeTest::Name(NameTest::Exact(name)) = test {
                    out.extend(self.bound.descendants_named(node, *name).iter().map(|n| Item::Node(*n)));
                } else {
                    for d in doc.descendants(node) {
                        push(d, out);
                    }
                }
            }
            Axis::DescendantOrSelf => {
                if let Some(k) = attr {
                    if matches!(test, NodeTest::AnyNode) {
                        out.push(Item::Attr(node, k));
                    }
                }
            }
            Axis::SelfAxis => match attr {
                None => push(node, out),
                Some(k) => {
                    if self.attr_matches(node, k, test) {
                        out.push(Item::Attr(node, k));
                    }
                }
            },
            Axis::Parent => {
                let p = if attr.is_some() { Some(node) } else { doc.parent(node) };
                if let Some(p) = p {
                    push(p, out);
                }
            }
            Axis::Ancestor | Axis::AncestorOrSelf => {
                let start = out.len();
                if axis == Axis::AncestorOrSelf {
                    match attr {
                        None => push(node, out),
                        Some(k) => {
                            if self.attr_matches(node, k, test) {
                                out.push(Item::Attr(node, k));
                            }
                        }
                    }
                }
                let mut cur = if attr.is_some() { Some(node) } else { doc.parent(node) };
                while let Some(p) = cur {
                    push(p, out);
                    cur = doc.parent(p);
                }
                out[start..].reverse();
            }
            Axis::FollowingSibling | Axis::PrecedingSibling if attr.is_none() => {
                if let Some(p) = doc.parent(node) {
                    let following = axis == Axis::FollowingSibling;
                    for c in doc.children(p) {
                        if (following && c > node) || (!following && c < node) {
                            push(c, out);
                        }
                    }
                }
            }
            Axis::Following => {
                let after = if attr.is_some() { NodeId(node.0 + 1) } else { doc.descendants_end(node) };
                for i in after.0..doc.len() as u32 {
                    push(NodeId(i), out);
                }
            }
            Axis::Preceding => {
                // Nodes before, excluding ancestors.
                let mut ancestors = Vec::new();
                let mut cur = doc.parent(node);
                while let Some(p) = cur {
                    ancestors.push(p);
                    cur = doc.parent(p);
                }
                for i in 1..node.0 {
                    let n = NodeId(i);
                    if !ancestors.contains(&n) {
                        push(n, out);
                    }
                }
            }
            Axis::DescendantAttribute if attr.is_none() => {
                if let NodeTest::Name(NameTest::Exact(name)) = test {
                    out.extend(
                        self.bound.attributes_named(node, *name).iter().map(|(n, k)| Item::Attr(*n, *k)),
                    );
                }
            }
            Axis::Attribute if attr.is_none() && doc.kind(node) == NodeKind::Element => {
                for k in 0..doc.attribute_count(node) {
                    if self.attr_matches(node, k as u32, test) {
                        out.push(Item::Attr(node, k as u32));
                    }
                }
            }
            _ => {}
        }
    }

    fn attr_matches(&self, node: NodeId, k: u32, test: &NodeTest) -> bool {
        let doc = self.bound.doc;
        let (name, _) = doc.attribute(node, k as usize);
        match test {
            NodeTest::AnyNode => true,
            NodeTest::Text => false,
            NodeTest::Name(NameTest::Any) => true,
            NodeTest::Name(NameTest::Exact(id)) => self.bound.name_index_is(name, *id),
            NodeTest::Name(NameTest::Local(l)) => *doc.names()[name].local == **l,
            NodeTest::Name(NameTest::Namespace(ns)) => *doc.names()[name].ns == **ns,
        }
    }

    /// Node test on the principal node kind of the axis (elements; attributes handled apart).
    fn matches(&self, n: NodeId, test: &NodeTest, _axis: Axis) -> bool {
        let doc = self.bound.doc;
        match test {
            NodeTest::AnyNode => true,
            NodeTest::Text => doc.kind(n) == NodeKind::Text,
            NodeTest::Name(t) => {
                if doc.kind(n) != NodeKind::Element {
                    return false;
                }
                match t {
                    NameTest::Any => true,
                    NameTest::Exact(id) => self.bound.has_name(n, *id),
                    NameTest::Local(l) => doc.local_name(n) == &**l,
                    NameTest::Namespace(ns) => doc.namespace(n) == &**ns,
                }
            }
        }
    }

    pub(crate) fn cast(&self, func: super::ast::Func, items: Seq<'d>) -> XResult<Seq<'d>> {
        let args = items;
        super::functions::cast_items(self, func, args)
    }
}

/// How many leading parts of a predicate (its `and` operands, or itself) depend only on the
/// context element's name, with the parts.
fn name_only_parts(p: &Expr) -> (usize, &[Expr]) {
    match p {
        Expr::And(parts) => (parts.iter().take_while(|e| name_only(e)).count(), parts),
        other => (usize::from(name_only(other)), std::slice::from_ref(other)),
    }
}

/// Whether an expression's value depends only on the context element's name (and cannot fail).
fn name_only(e: &Expr) -> bool {
    use super::ast::Func;
    match e {
        Expr::Str(_) => true,
        Expr::Paren(a) => name_only(a),
        Expr::Call(Func::Name | Func::LocalName | Func::NamespaceUri, args) => args.is_empty(),
        Expr::Call(Func::EndsWith | Func::StartsWith | Func::Contains | Func::Not, args) => {
            args.iter().all(name_only)
        }
        Expr::And(v) | Expr::Or(v) => v.iter().all(name_only),
        Expr::GeneralComp(CompOp::Eq | CompOp::Ne, a, b) | Expr::ValueComp(CompOp::Eq | CompOp::Ne, a, b) => {
            name_only(a) && name_only(b)
        }
        _ => false,
    }
}

/// A union whose branches are all paths of axis steps (nodes only, so existence is per branch).
fn axis_union(e: &Expr) -> bool {
    match e {
        Expr::Paren(a) => axis_union(a),
        Expr::Union(a, b) => axis_union(a) && axis_union(b),
        Expr::Path { steps, .. } => steps.iter().all(|s| matches!(s, Step::Axis { .. })),
        _ => false,
    }
}

pub fn ebv_of(items: &[Item<'_>]) -> XResult<bool> {
    match items {
        [] => Ok(false),
        [first, ..] if first.is_node() => Ok(true),
        [Item::Atomic(a)] => Ok(match a {
            Atomic::Bool(b) => *b,
            Atomic::Str(s) | Atomic::Untyped(s) => !s.is_empty(),
            Atomic::Int(i) => *i != 0,
            Atomic::Big(_) => true,
            Atomic::Dec(d) => !d.is_zero(),
            Atomic::Dbl(f) => *f != 0.0 && !f.is_nan(),
            Atomic::Date(_) => return Err(err("FORG0006", "effective boolean value of a date")),
        }),
        _ => Err(err("FORG0006", "effective boolean value of a sequence of several values")),
    }
}

fn untyped_as_string(a: Atomic<'_>) -> Atomic<'_> {
    match a {
        Atomic::Untyped(s) => Atomic::Str(s),
        other => other,
    }
}

fn to_integer(a: &Atomic<'_>) -> XResult<i64> {
    match a {
        Atomic::Int(i) => Ok(*i),
        Atomic::Untyped(s) => match super::value::parse_integer(s)? {
            Atomic::Int(i) => Ok(i),
            _ => Err(err("XPDY0130", "range bound too large")),
        },
        other => Err(err("XPTY0004", format!("expected an integer, got {}", other.type_name()))),
    }
}

/// Sorts nodes into document order and removes duplicates.
pub fn sort_dedup(items: &mut Seq<'_>) {
    if items.windows(2).all(|w| w[0].order_key() < w[1].order_key()) {
        return;
    }
    items.sort_by_key(Item::order_key);
    items.dedup_by_key(|i| i.order_key());
}

/// Comparison helper shared by min/max.
pub fn less(a: &Atomic<'_>, b: &Atomic<'_>) -> XResult<bool> {
    compare_values(CompOp::Lt, a, b)
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::Kept;

    #[test]
    fn a_kept_value_takes_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Kept>(), 12);
    }

    #[test]
    fn kept_numbers_read_back_exactly() {
        for v in [0i64, 1, -1, i64::MAX, i64::MIN, 1 << 32, -(1 << 32) - 7] {
            let (lo, hi) = Kept::halves(v);
            assert_eq!(Kept::whole(lo, hi), v);
        }
        for text in ["0", "0.00", "-12.50", "123456789012.345678", "9223372036854775807", "-0.000001"] {
            let d: Decimal = text.parse().unwrap();
            let Some(Kept::Dec(scale, lo, hi)) = Kept::dec(d) else { panic!("{text} is not kept inline") };
            let back = Kept::decimal(scale, lo, hi);
            assert_eq!((back, back.to_string(), back.scale()), (d, d.to_string(), d.scale()), "{text}");
        }
        // What would not read back the same is kept by index instead.
        let mut negative_zero = Decimal::new(0, 2);
        negative_zero.set_sign_negative(true);
        assert!(negative_zero.is_sign_negative());
        assert!(Kept::dec(negative_zero).is_none());
        assert!(Kept::dec(Decimal::MAX).is_none());
    }
}
