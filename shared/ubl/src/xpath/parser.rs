//! Lexer and recursive-descent parser for the XPath 2.0 subset the official EN 16931 and Peppol
//! Schematron tests use. Prefixed names are resolved to namespace URIs here, once, so evaluation
//! compares interned ids and never prefixes.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::ast::{ArithOp, Axis, CompOp, Expr, Func, NameTest, NodeTest, PathStart, Quantifier, Step};
use super::names::NameTable;

/// Why an expression could not be compiled.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("XPath syntax error at character {at} of `{expr}`: {message}")]
pub struct ParseError {
    pub expr: String,
    pub at: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Str(String),
    /// A QName, `prefix:*`, `*:local` or NCName; operators spelled as names are decided by the
    /// parser from the position.
    Name(String),
    Var(String),
    Star,
    Slash,
    DSlash,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    DDot,
    At,
    Axis(String),
    Sym(&'static str),
    Eof,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let err = |at: usize, m: &str| ParseError { expr: src.to_owned(), at, message: m.to_owned() };
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out: Vec<(Tok, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        macro_rules! peek {
            ($k:expr) => {
                chars.get(i + $k).map(|x| x.1)
            };
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // XPath comments `(: ... :)`.
        if c == '(' && peek!(1) == Some(':') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i].1 == '(' && chars.get(i + 1).map(|x| x.1) == Some(':') {
                    depth += 1;
                    i += 2;
                } else if chars[i].1 == ':' && chars.get(i + 1).map(|x| x.1) == Some(')') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        let tok = match c {
            '\'' | '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(at, "unterminated string literal")),
                        Some((_, q)) if *q == c => {
                            if chars.get(i + 1).map(|x| x.1) == Some(c) {
                                s.push(c);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some((_, ch)) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(s), at));
                continue;
            }
            '0'..='9' => {
                let mut s = String::new();
                while let Some(ch) = peek!(0).filter(|ch| ch.is_ascii_digit() || *ch == '.') {
                    s.push(ch);
                    i += 1;
                }
                if let Some(e @ ('e' | 'E')) = peek!(0) {
                    s.push(e);
                    i += 1;
                    if let Some(sign @ ('+' | '-')) = peek!(0) {
                        s.push(sign);
                        i += 1;
                    }
                    while let Some(ch) = peek!(0).filter(|ch| ch.is_ascii_digit()) {
                        s.push(ch);
                        i += 1;
                    }
                }
                out.push((Tok::Num(s), at));
                continue;
            }
            '.' if peek!(1).is_some_and(|d| d.is_ascii_digit()) => {
                let mut s = String::from("0");
                while let Some(ch) = peek!(0).filter(|ch| ch.is_ascii_digit() || *ch == '.') {
                    s.push(ch);
                    i += 1;
                }
                out.push((Tok::Num(s), at));
                continue;
            }
            '$' => {
                i += 1;
                let mut s = String::new();
                while let Some(ch) = peek!(0).filter(|ch| is_name_char(*ch) || *ch == ':') {
                    s.push(ch);
                    i += 1;
                }
                if s.is_empty() {
                    return Err(err(at, "`$` without a variable name"));
                }
                out.push((Tok::Var(s), at));
                continue;
            }
            '.' if peek!(1) == Some('.') => {
                i += 2;
                out.push((Tok::DDot, at));
                continue;
            }
            '.' => Tok::Dot,
            '/' if peek!(1) == Some('/') => {
                i += 2;
                out.push((Tok::DSlash, at));
                continue;
            }
            '/' => Tok::Slash,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '@' => Tok::At,
            '|' => Tok::Sym("|"),
            '+' => Tok::Sym("+"),
            '-' => Tok::Sym("-"),
            '=' => Tok::Sym("="),
            '!' if peek!(1) == Some('=') => {
                i += 2;
                out.push((Tok::Sym("!="), at));
                continue;
            }
            '<' if peek!(1) == Some('=') => {
                i += 2;
                out.push((Tok::Sym("<="), at));
                continue;
            }
            '>' if peek!(1) == Some('=') => {
                i += 2;
                out.push((Tok::Sym(">="), at));
                continue;
            }
            '<' => Tok::Sym("<"),
            '>' => Tok::Sym(">"),
            '*' if peek!(1) == Some(':') && peek!(2).is_some_and(is_name_start) => {
                i += 2;
                let mut s = String::from("*:");
                while let Some(ch) = peek!(0).filter(|ch| is_name_char(*ch)) {
                    s.push(ch);
                    i += 1;
                }
                out.push((Tok::Name(s), at));
                continue;
            }
            '*' => Tok::Star,
            c if is_name_start(c) => {
                let mut s = String::new();
                while let Some(ch) = peek!(0).filter(|ch| is_name_char(*ch)) {
                    s.push(ch);
                    i += 1;
                }
                // A trailing '.' or '-' belongs to the name in XPath; keep it.
                if peek!(0) == Some(':') && peek!(1) == Some(':') {
                    i += 2;
                    out.push((Tok::Axis(s), at));
                    continue;
                }
                if peek!(0) == Some(':') && peek!(1) == Some('*') {
                    i += 2;
                    s.push_str(":*");
                } else if peek!(0) == Some(':') && peek!(1).is_some_and(is_name_start) {
                    s.push(':');
                    i += 1;
                    while let Some(ch) = peek!(0).filter(|ch| is_name_char(*ch)) {
                        s.push(ch);
                        i += 1;
                    }
                }
                out.push((Tok::Name(s), at));
                continue;
            }
            _ => return Err(err(at, &format!("unexpected character `{c}`"))),
        };
        out.push((tok, at));
        i += 1;
    }
    out.push((Tok::Eof, src.len()));
    Ok(out)
}

/// Namespace prefixes in scope for an expression (those the Schematron declares).
pub trait Prefixes {
    fn uri(&self, prefix: &str) -> Option<&str>;
    /// A function the rule set defines itself (name as written, arity) → its index.
    fn user_function(&self, _name: &str, _arity: usize) -> Option<usize> {
        None
    }
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    ns: &'a dyn Prefixes,
    names: &'a mut NameTable,
}

impl<'a> Parser<'a> {
    pub(crate) fn parse(
        src: &'a str,
        ns: &'a dyn Prefixes,
        names: &'a mut NameTable,
    ) -> Result<Expr, ParseError> {
        let toks = lex(src)?;
        let mut p = Parser { src, toks, pos: 0, ns, names };
        let e = p.expr()?;
        if p.peek() != &Tok::Eof {
            return Err(p.err("unexpected text after the expression"));
        }
        Ok(e)
    }

    fn err(&self, m: &str) -> ParseError {
        ParseError { expr: self.src.to_owned(), at: self.toks[self.pos].1, message: m.to_owned() }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn peek_at(&self, k: usize) -> &Tok {
        self.toks.get(self.pos + k).map(|t| &t.0).unwrap_or(&Tok::Eof)
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), ParseError> {
        if self.peek() == &t {
            self.next();
            Ok(())
        } else {
            Err(self.err(&format!("expected {what}")))
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let first = self.expr_single()?;
        if self.peek() != &Tok::Comma {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek() == &Tok::Comma {
            self.next();
            items.push(self.expr_single()?);
        }
        Ok(Expr::Sequence(items))
    }

    fn expr_single(&mut self) -> Result<Expr, ParseError> {
        let kw_then_var = matches!(self.peek_at(1), Tok::Var(_));
        if kw_then_var && (self.is_kw("for") || self.is_kw("some") || self.is_kw("every")) {
            let kw = match self.next() {
                Tok::Name(n) => n,
                _ => unreachable!("checked above"),
            };
            let mut bindings = Vec::new();
            loop {
                let Tok::Var(v) = self.next() else { return Err(self.err("expected a variable")) };
                if !self.eat_kw("in") {
                    return Err(self.err("expected `in`"));
                }
                let domain = self.expr_single()?;
                bindings.push((Arc::<str>::from(v), domain));
                if self.peek() == &Tok::Comma {
                    self.next();
                    continue;
                }
                break;
            }
            let body_kw = if kw == "for" { "return" } else { "satisfies" };
            if !self.eat_kw(body_kw) {
                return Err(self.err(&format!("expected `{body_kw}`")));
            }
            let mut body = self.expr_single()?;
            // Nested bindings become nested expressions, innermost last.
            for (var, domain) in bindings.into_iter().rev() {
                body = if kw == "for" {
                    Expr::For { var, domain: Box::new(domain), body: Box::new(body) }
                } else {
                    let q = if kw == "some" { Quantifier::Some } else { Quantifier::Every };
                    Expr::Quantified { q, var, domain: Box::new(domain), body: Box::new(body) }
                };
            }
            return Ok(body);
        }
        if self.is_kw("if") && self.peek_at(1) == &Tok::LParen {
            self.next();
            self.next();
            let cond = self.expr()?;
            self.expect(Tok::RParen, "`)`")?;
            if !self.eat_kw("then") {
                return Err(self.err("expected `then`"));
            }
            let then = self.expr_single()?;
            if !self.eat_kw("else") {
                return Err(self.err("expected `else`"));
            }
            let els = self.expr_single()?;
            return Ok(Expr::If(Box::new(cond), Box::new(then), Box::new(els)));
        }
        self.or_expr()
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and_expr()?];
        while self.eat_kw("or") {
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::Empty) } else { Expr::Or(parts) })
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.comparison()?];
        while self.eat_kw("and") {
            parts.push(self.comparison()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::Empty) } else { Expr::And(parts) })
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.range()?;
        let general = match self.peek() {
            Tok::Sym("=") => Some(CompOp::Eq),
            Tok::Sym("!=") => Some(CompOp::Ne),
            Tok::Sym("<") => Some(CompOp::Lt),
            Tok::Sym("<=") => Some(CompOp::Le),
            Tok::Sym(">") => Some(CompOp::Gt),
            Tok::Sym(">=") => Some(CompOp::Ge),
            _ => None,
        };
        if let Some(op) = general {
            self.next();
            let right = self.range()?;
            return Ok(Expr::GeneralComp(op, Box::new(left), Box::new(right)));
        }
        let value = match self.peek() {
            Tok::Name(n) => match n.as_str() {
                "eq" => Some(CompOp::Eq),
                "ne" => Some(CompOp::Ne),
                "lt" => Some(CompOp::Lt),
                "le" => Some(CompOp::Le),
                "gt" => Some(CompOp::Gt),
                "ge" => Some(CompOp::Ge),
                _ => None,
            },
            _ => None,
        };
        if let Some(op) = value {
            self.next();
            let right = self.range()?;
            return Ok(Expr::ValueComp(op, Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn range(&mut self) -> Result<Expr, ParseError> {
        let left = self.additive()?;
        if self.eat_kw("to") {
            let right = self.additive()?;
            return Ok(Expr::Range(Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Sym("+") => ArithOp::Add,
                Tok::Sym("-") => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.next();
            let right = self.multiplicative()?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.union()?;
        loop {
            let op = match self.peek() {
                Tok::Star => ArithOp::Mul,
                Tok::Name(n) if n == "div" => ArithOp::Div,
                Tok::Name(n) if n == "idiv" => ArithOp::IDiv,
                Tok::Name(n) if n == "mod" => ArithOp::Mod,
                _ => return Ok(left),
            };
            self.next();
            let right = self.union()?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn union(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.intersect()?;
        while self.peek() == &Tok::Sym("|") || self.is_kw("union") {
            self.next();
            let right = self.intersect()?;
            left = Expr::Union(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn intersect(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.castable()?;
        loop {
            let intersect = if self.is_kw("intersect") {
                true
            } else if self.is_kw("except") {
                false
            } else {
                return Ok(left);
            };
            self.next();
            let right = self.castable()?;
            left = if intersect {
                Expr::Intersect(Box::new(left), Box::new(right))
            } else {
                Expr::Except(Box::new(left), Box::new(right))
            };
        }
    }

    fn castable(&mut self) -> Result<Expr, ParseError> {
        let operand = self.unary()?;
        if self.is_kw("castable") && matches!(self.peek_at(1), Tok::Name(n) if n == "as") {
            self.next();
            self.next();
            let Tok::Name(ty) = self.next() else { return Err(self.err("expected a type name")) };
            let func = cast_target(&ty).ok_or_else(|| self.err(&format!("unsupported type {ty}")))?;
            return Ok(Expr::Castable { func, operand: Box::new(operand) });
        }
        Ok(operand)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let mut negate = false;
        let mut any = false;
        loop {
            match self.peek() {
                Tok::Sym("-") => negate = !negate,
                Tok::Sym("+") => {}
                _ => break,
            }
            any = true;
            self.next();
        }
        let e = self.path()?;
        Ok(if negate {
            Expr::Neg(Box::new(e))
        } else if any {
            Expr::Plus(Box::new(e))
        } else {
            e
        })
    }

    fn path(&mut self) -> Result<Expr, ParseError> {
        let (start, mut steps) = match self.peek() {
            Tok::Slash => {
                self.next();
                if self.starts_step() {
                    (PathStart::Root, vec![self.step()?])
                } else {
                    return Ok(Expr::Path { start: PathStart::Root, steps: Vec::new() });
                }
            }
            Tok::DSlash => {
                self.next();
                (PathStart::Root, vec![descendant_or_self(), self.step()?])
            }
            _ => {
                let first = self.step()?;
                (PathStart::Context, vec![first])
            }
        };
        loop {
            match self.peek() {
                Tok::Slash => {
                    self.next();
                    steps.push(self.step()?);
                }
                Tok::DSlash => {
                    self.next();
                    steps.push(descendant_or_self());
                    steps.push(self.step()?);
                }
                _ => break,
            }
        }
        // A lone primary expression is not a path.
        if start == PathStart::Context && steps.len() == 1 {
            if let Step::Filter { .. } = &steps[0] {
                if let Some(Step::Filter { expr, preds }) = steps.pop() {
                    return Ok(if preds.is_empty() { *expr } else { Expr::Filter(expr, preds) });
                }
            }
        }
        Ok(Expr::Path { start, steps: optimise_steps(steps) })
    }

    fn starts_step(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Name(_)
                | Tok::Star
                | Tok::At
                | Tok::Dot
                | Tok::DDot
                | Tok::Axis(_)
                | Tok::LParen
                | Tok::Var(_)
        ) || matches!(self.peek(), Tok::Str(_) | Tok::Num(_))
    }

    fn step(&mut self) -> Result<Step, ParseError> {
        match self.peek().clone() {
            Tok::DDot => {
                self.next();
                let preds = self.predicates()?;
                Ok(Step::Axis { axis: Axis::Parent, test: NodeTest::AnyNode, preds })
            }
            Tok::Dot => {
                self.next();
                let preds = self.predicates()?;
                Ok(Step::Filter { expr: Box::new(Expr::ContextItem), preds })
            }
            Tok::At => {
                self.next();
                let test = self.node_test(true)?;
                let preds = self.predicates()?;
                Ok(Step::Axis { axis: Axis::Attribute, test, preds })
            }
            Tok::Axis(a) => {
                self.next();
                let axis = match a.as_str() {
                    "child" => Axis::Child,
                    "descendant" => Axis::Descendant,
                    "descendant-or-self" => Axis::DescendantOrSelf,
                    "self" => Axis::SelfAxis,
                    "parent" => Axis::Parent,
                    "ancestor" => Axis::Ancestor,
                    "ancestor-or-self" => Axis::AncestorOrSelf,
                    "following-sibling" => Axis::FollowingSibling,
                    "preceding-sibling" => Axis::PrecedingSibling,
                    "following" => Axis::Following,
                    "preceding" => Axis::Preceding,
                    "attribute" => Axis::Attribute,
                    other => return Err(self.err(&format!("unsupported axis {other}"))),
                };
                let test = self.node_test(axis == Axis::Attribute)?;
                let preds = self.predicates()?;
                Ok(Step::Axis { axis, test, preds })
            }
            Tok::Star => {
                self.next();
                let preds = self.predicates()?;
                Ok(Step::Axis { axis: Axis::Child, test: NodeTest::Name(NameTest::Any), preds })
            }
            Tok::Name(n) => {
                let is_call = self.peek_at(1) == &Tok::LParen;
                if is_call && matches!(n.as_str(), "node" | "text" | "element" | "attribute" | "comment") {
                    let test = self.node_test(false)?;
                    let preds = self.predicates()?;
                    return Ok(Step::Axis { axis: Axis::Child, test, preds });
                }
                if is_call {
                    let call = self.primary()?;
                    let preds = self.predicates()?;
                    return Ok(Step::Filter { expr: Box::new(call), preds });
                }
                let test = self.node_test(false)?;
                let preds = self.predicates()?;
                Ok(Step::Axis { axis: Axis::Child, test, preds })
            }
            _ => {
                let e = self.primary()?;
                let preds = self.predicates()?;
                Ok(Step::Filter { expr: Box::new(e), preds })
            }
        }
    }

    fn node_test(&mut self, attribute: bool) -> Result<NodeTest, ParseError> {
        match self.next() {
            Tok::Star => Ok(NodeTest::Name(NameTest::Any)),
            Tok::Name(n) if self.peek() == &Tok::LParen => {
                self.next();
                self.expect(Tok::RParen, "`)` (kind tests take no arguments here)")?;
                match n.as_str() {
                    "node" => Ok(NodeTest::AnyNode),
                    "text" => Ok(NodeTest::Text),
                    "element" => Ok(NodeTest::Name(NameTest::Any)),
                    "attribute" => Ok(NodeTest::Name(NameTest::Any)),
                    other => Err(self.err(&format!("unsupported kind test {other}()"))),
                }
            }
            Tok::Name(n) => self.name_test(&n, attribute).map(NodeTest::Name),
            _ => Err(self.err("expected a name test")),
        }
    }

    fn name_test(&mut self, n: &str, attribute: bool) -> Result<NameTest, ParseError> {
        if let Some(local) = n.strip_prefix("*:") {
            return Ok(NameTest::Local(local.into()));
        }
        if let Some(prefix) = n.strip_suffix(":*") {
            let uri = self.ns.uri(prefix).ok_or_else(|| self.err(&format!("undeclared prefix {prefix}")))?;
            return Ok(NameTest::Namespace(uri.into()));
        }
        let (ns, local) = match n.split_once(':') {
            Some((prefix, local)) => {
                let uri =
                    self.ns.uri(prefix).ok_or_else(|| self.err(&format!("undeclared prefix {prefix}")))?;
                (uri.to_owned(), local)
            }
            // Unprefixed names are in no namespace (XPath 2.0 default element namespace unset).
            None => (String::new(), n),
        };
        let _ = attribute;
        Ok(NameTest::Exact(self.names.intern(&ns, local)))
    }

    fn predicates(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut preds = Vec::new();
        while self.peek() == &Tok::LBracket {
            self.next();
            preds.push(self.expr()?);
            self.expect(Tok::RBracket, "`]`")?;
        }
        Ok(preds)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.next() {
            Tok::Str(s) => Ok(Expr::Str(s.into())),
            Tok::Num(n) => parse_number(&n).ok_or_else(|| self.err(&format!("bad number {n}"))),
            Tok::Var(v) => Ok(Expr::Var(v.into())),
            Tok::LParen => {
                if self.peek() == &Tok::RParen {
                    self.next();
                    return Ok(Expr::Empty);
                }
                let e = self.expr()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(Expr::Paren(Box::new(e)))
            }
            Tok::Dot => Ok(Expr::ContextItem),
            Tok::Name(n) if self.peek() == &Tok::LParen => {
                self.next();
                let mut args = Vec::new();
                if self.peek() != &Tok::RParen {
                    args.push(self.expr_single()?);
                    while self.peek() == &Tok::Comma {
                        self.next();
                        args.push(self.expr_single()?);
                    }
                }
                self.expect(Tok::RParen, "`)`")?;
                if let Some(index) = self.ns.user_function(&n, args.len()) {
                    return Ok(Expr::UserCall(index, args));
                }
                let func = Func::lookup(&n, args.len())
                    .ok_or_else(|| self.err(&format!("unknown function {n}#{}", args.len())))?;
                if let Func::Matches | Func::Replace | Func::Tokenize = func {
                    compile_literal_regex(&args).map_err(|m| self.err(&m))?;
                }
                Ok(Expr::Call(func, args))
            }
            _ => Err(self.err("expected an expression")),
        }
    }
}

/// Checks a literal regex argument at load time, so a bad pattern is a load error, not a verdict.
fn compile_literal_regex(args: &[Expr]) -> Result<(), String> {
    if let Some(Expr::Str(p)) = args.get(1) {
        super::functions::translate_regex(p).map(|_| ())
    } else {
        Ok(())
    }
}

fn cast_target(ty: &str) -> Option<Func> {
    match ty {
        "xs:decimal" => Some(Func::XsDecimal),
        "xs:integer" => Some(Func::XsInteger),
        "xs:date" => Some(Func::XsDate),
        "xs:double" => Some(Func::XsDouble),
        "xs:string" => Some(Func::XsString),
        "xs:boolean" => Some(Func::XsBoolean),
        _ => None,
    }
}

fn parse_number(n: &str) -> Option<Expr> {
    if n.contains(['e', 'E']) {
        n.parse::<f64>().ok().map(Expr::Double)
    } else if n.contains('.') {
        n.parse::<Decimal>().ok().map(Expr::Decimal)
    } else {
        match n.parse::<i64>() {
            Ok(i) => Some(Expr::Integer(i)),
            Err(_) => n.parse::<Decimal>().ok().map(Expr::Decimal),
        }
    }
}

/// `(child::a[p] | child::b)` → `(descendant::a[p] | descendant::b)`, if every branch is one child
/// step without positional predicates; `None` otherwise.
fn descendant_union(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Paren(inner) => descendant_union(inner).map(|x| Expr::Paren(Box::new(x))),
        Expr::Union(a, b) => {
            Some(Expr::Union(Box::new(descendant_union(a)?), Box::new(descendant_union(b)?)))
        }
        Expr::Path { start: PathStart::Context, steps } if steps.len() == 1 => match &steps[0] {
            Step::Axis { axis: Axis::Child, test: test @ NodeTest::Name(_), preds }
                if preds.iter().all(|p| !p.may_be_positional()) =>
            {
                Some(Expr::Path {
                    start: PathStart::Context,
                    steps: vec![Step::Axis {
                        axis: Axis::Descendant,
                        test: test.clone(),
                        preds: preds.clone(),
                    }],
                })
            }
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn descendant_or_self() -> Step {
    Step::Axis { axis: Axis::DescendantOrSelf, test: NodeTest::AnyNode, preds: Vec::new() }
}

/// `descendant-or-self::node()/child::X[p]` selects the same nodes as `descendant::X[p]` when no
/// predicate depends on position, and the latter is one indexed lookup instead of a walk.
pub(crate) fn optimise_steps(steps: Vec<Step>) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::with_capacity(steps.len());
    let after_descendant_or_self = |out: &Vec<Step>| matches!(out.last(), Some(Step::Axis { axis: Axis::DescendantOrSelf, test: NodeTest::AnyNode, preds }) if preds.is_empty());
    for step in steps {
        // `//@X` → one lookup in the attribute index.
        if let Step::Axis { axis: Axis::Attribute, test: NodeTest::Name(NameTest::Exact(_)), preds } = &step {
            if after_descendant_or_self(&out) && preds.iter().all(|p| !p.may_be_positional()) {
                out.pop();
                if let Step::Axis { test, preds, .. } = step {
                    out.push(Step::Axis { axis: Axis::DescendantAttribute, test, preds });
                }
                continue;
            }
        }
        // `//(a|b)` → `(descendant::a | descendant::b)` when a and b are plain child steps.
        if let Step::Filter { expr, preds } = &step {
            if after_descendant_or_self(&out) && preds.is_empty() {
                if let Some(rewritten) = descendant_union(expr) {
                    out.pop();
                    out.push(Step::Filter { expr: Box::new(rewritten), preds: Vec::new() });
                    continue;
                }
            }
        }
        if let Step::Axis { axis: Axis::Child, test, preds } = &step {
            if let Some(Step::Axis { axis: Axis::DescendantOrSelf, test: NodeTest::AnyNode, preds: p0 }) =
                out.last()
            {
                if p0.is_empty() && preds.iter().all(|p| !p.may_be_positional()) {
                    out.pop();
                    out.push(Step::Axis { axis: Axis::Descendant, test: test.clone(), preds: preds.clone() });
                    continue;
                }
            }
        }
        out.push(step);
    }
    out
}
