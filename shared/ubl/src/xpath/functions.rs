//! The XPath 2.0 function library the official rules call, with the W3C semantics their verdicts
//! depend on (codepoint-based `substring` with XPath rounding, XML-whitespace `normalize-space`,
//! XML Schema regular expressions translated to the `regex` crate's syntax).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::ast::{Expr, Func};
use super::eval::{Evaluator, Focus, ebv_of, less};
use super::value::{
    Atomic, Item, Seq, XResult, arith, decimal_from_double, err, parse_boolean, parse_date, parse_decimal,
    parse_double, parse_integer, round, to_double,
};

fn one<'d>(a: Atomic<'d>) -> Seq<'d> {
    smallvec::smallvec![Item::Atomic(a)]
}

fn string<'d>(s: impl Into<Cow<'d, str>>) -> Seq<'d> {
    smallvec::smallvec![Item::Atomic(Atomic::Str(s.into()))]
}

fn boolean<'d>(b: bool) -> Seq<'d> {
    smallvec::smallvec![Item::Atomic(Atomic::Bool(b))]
}

/// A part of a string value, borrowed from the document when the value is.
fn slice_cow<'d>(s: Cow<'d, str>, range: impl std::slice::SliceIndex<str, Output = str>) -> Cow<'d, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(&b[range]),
        Cow::Owned(o) => Cow::Owned(o[range].to_owned()),
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Borrows when `s` is already normalised (the common case for codes), so tests like
/// `normalize-space(cbc:ID) = 'S'` allocate nothing.
pub fn normalize_space_cow(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let clean = !b.first().is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        && !b.last().is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        && !b.iter().any(|c| matches!(c, b'\t' | b'\n' | b'\r'))
        && !s.contains("  ");
    if clean { Cow::Borrowed(s) } else { Cow::Owned(normalize_space(s)) }
}

pub fn normalize_space(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(is_xml_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// XPath rounding of a double position argument.
fn xround(f: f64) -> f64 {
    if f.is_finite() { (f + 0.5).floor() } else { f }
}

fn substring(s: &str, start: f64, len: Option<f64>) -> String {
    let first = xround(start);
    let end = match len {
        Some(l) => first + xround(l),
        None => f64::INFINITY,
    };
    s.chars()
        .enumerate()
        .filter(|(i, _)| {
            let p = (*i + 1) as f64;
            p >= first && p < end
        })
        .map(|(_, c)| c)
        .collect()
}

impl<'b, 'd> Evaluator<'b, 'd> {
    fn double_arg(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<f64> {
        match self.single_atomic(e, f)? {
            None => Ok(f64::NAN),
            Some(a) => to_double(&a),
        }
    }

    pub(crate) fn call(&mut self, func: Func, args: &'d [Expr], f: &Focus<'d>) -> XResult<Seq<'d>> {
        let arg = |i: usize| &args[i];
        Ok(match func {
            Func::Not => boolean(!self.ebv(arg(0), f)?),
            Func::Boolean => boolean(self.ebv(arg(0), f)?),
            Func::True => boolean(true),
            Func::False => boolean(false),
            Func::Exists => boolean(!self.eval(arg(0), f)?.is_empty()),
            Func::Empty => boolean(self.eval(arg(0), f)?.is_empty()),
            Func::Count => one(Atomic::Int(self.eval(arg(0), f)?.len() as i64)),
            Func::Sum => {
                let values = self.numeric_values(arg(0), f)?;
                if values.is_empty() {
                    return match args.get(1) {
                        Some(zero) => self.eval(zero, f),
                        None => Ok(one(Atomic::Int(0))),
                    };
                }
                let mut acc = values[0].clone();
                for v in &values[1..] {
                    acc = arith(super::ast::ArithOp::Add, &acc, v)?;
                }
                one(acc)
            }
            Func::Avg => {
                let values = self.numeric_values(arg(0), f)?;
                if values.is_empty() {
                    return Ok(Seq::new());
                }
                let mut acc = values[0].clone();
                for v in &values[1..] {
                    acc = arith(super::ast::ArithOp::Add, &acc, v)?;
                }
                one(arith(super::ast::ArithOp::Div, &acc, &Atomic::Int(values.len() as i64))?)
            }
            Func::Min | Func::Max => {
                let values: Vec<Atomic<'d>> = self
                    .atomize_expr(arg(0), f)?
                    .into_iter()
                    .map(|a| match a {
                        Atomic::Untyped(s) => parse_double(&s).map(Atomic::Dbl),
                        other => Ok(other),
                    })
                    .collect::<XResult<_>>()?;
                let mut best: Option<Atomic<'d>> = None;
                for v in values {
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let better = if func == Func::Min { less(&v, &b)? } else { less(&b, &v)? };
                            if better { v } else { b }
                        }
                    });
                }
                best.map(one).unwrap_or_default()
            }
            Func::Round => match self.single_atomic(arg(0), f)? {
                None => Seq::new(),
                Some(a) => one(round(&a)?),
            },
            Func::Floor | Func::Ceiling | Func::Abs => match self.single_atomic(arg(0), f)? {
                None => Seq::new(),
                Some(a) => {
                    let a = match a {
                        Atomic::Untyped(s) => Atomic::Dbl(parse_double(&s)?),
                        other => other,
                    };
                    one(match (func, a) {
                        (_, Atomic::Int(i)) if func == Func::Abs => {
                            i.checked_abs().map(Atomic::Int).unwrap_or_else(|| {
                                super::value::integer(num_bigint::BigInt::from(i).magnitude().clone().into())
                            })
                        }
                        (_, Atomic::Big(b)) if func == Func::Abs => {
                            super::value::integer(b.magnitude().clone().into())
                        }
                        (_, Atomic::Big(b)) => Atomic::Big(b),
                        (_, Atomic::Int(i)) => Atomic::Int(i),
                        (Func::Floor, Atomic::Dec(d)) => Atomic::Dec(d.floor()),
                        (Func::Ceiling, Atomic::Dec(d)) => Atomic::Dec(d.ceil()),
                        (_, Atomic::Dec(d)) => Atomic::Dec(d.abs()),
                        (Func::Floor, Atomic::Dbl(x)) => Atomic::Dbl(x.floor()),
                        (Func::Ceiling, Atomic::Dbl(x)) => Atomic::Dbl(x.ceil()),
                        (_, Atomic::Dbl(x)) => Atomic::Dbl(x.abs()),
                        (_, other) => {
                            return Err(err(
                                "XPTY0004",
                                format!("{}() of {}", func.name(), other.type_name()),
                            ));
                        }
                    })
                }
            },
            Func::Number => {
                let a = match args.first() {
                    Some(e) => self.single_atomic(e, f)?,
                    None => Some(self.atomize(f.item.clone())),
                };
                one(Atomic::Dbl(match a {
                    None => f64::NAN,
                    Some(Atomic::Bool(b)) => {
                        if b {
                            1.0
                        } else {
                            0.0
                        }
                    }
                    Some(Atomic::Str(s) | Atomic::Untyped(s)) => parse_double(&s).unwrap_or(f64::NAN),
                    Some(a) => to_double(&a).unwrap_or(f64::NAN),
                }))
            }
            Func::String => match args.first() {
                Some(e) => string(self.string_arg(e, f)?),
                None => string(self.string_of_item(&f.item)),
            },
            Func::NormalizeSpace => {
                let s = match args.first() {
                    Some(e) => self.string_arg(e, f)?,
                    None => self.string_of_item(&f.item),
                };
                string(match s {
                    Cow::Borrowed(b) => normalize_space_cow(b),
                    Cow::Owned(o) => Cow::Owned(normalize_space_cow(&o).into_owned()),
                })
            }
            Func::StringLength => {
                let s = match args.first() {
                    Some(e) => self.string_arg(e, f)?,
                    None => self.string_of_item(&f.item),
                };
                one(Atomic::Int(s.chars().count() as i64))
            }
            // Borrowed when the case is already right (ASCII only; anything else is converted).
            Func::UpperCase => {
                let s = self.string_arg(arg(0), f)?;
                if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_lowercase()) {
                    string(s)
                } else {
                    string(s.to_uppercase())
                }
            }
            Func::LowerCase => {
                let s = self.string_arg(arg(0), f)?;
                if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
                    string(s)
                } else {
                    string(s.to_lowercase())
                }
            }
            Func::Concat => {
                let mut out = String::new();
                for a in args {
                    out.push_str(&self.string_arg(a, f)?);
                }
                string(out)
            }
            Func::Contains => {
                let a = self.string_arg(arg(0), f)?;
                let b = self.string_arg(arg(1), f)?;
                boolean(a.contains(b.as_ref()))
            }
            Func::StartsWith => {
                let a = self.string_arg(arg(0), f)?;
                let b = self.string_arg(arg(1), f)?;
                boolean(a.starts_with(b.as_ref()))
            }
            Func::EndsWith => {
                let a = self.string_arg(arg(0), f)?;
                let b = self.string_arg(arg(1), f)?;
                boolean(a.ends_with(b.as_ref()))
            }
            Func::Substring => {
                let s = self.string_arg(arg(0), f)?;
                let start = self.double_arg(arg(1), f)?;
                let len = match args.get(2) {
                    Some(e) => Some(self.double_arg(e, f)?),
                    None => None,
                };
                string(substring(&s, start, len))
            }
            Func::SubstringBefore => {
                let a = self.string_arg(arg(0), f)?;
                let b = self.string_arg(arg(1), f)?;
                match a.find(b.as_ref()) {
                    Some(i) => string(slice_cow(a, ..i)),
                    None => string(""),
                }
            }
            Func::SubstringAfter => {
                let a = self.string_arg(arg(0), f)?;
                let b = self.string_arg(arg(1), f)?;
                match a.find(b.as_ref()) {
                    Some(i) => string(slice_cow(a, i + b.len()..)),
                    None => string(""),
                }
            }
            Func::Translate => {
                let s = self.string_arg(arg(0), f)?;
                let from: Vec<char> = self.string_arg(arg(1), f)?.chars().collect();
                let to: Vec<char> = self.string_arg(arg(2), f)?.chars().collect();
                let out: String = s
                    .chars()
                    .filter_map(|c| match from.iter().position(|x| *x == c) {
                        Some(i) => to.get(i).copied(),
                        None => Some(c),
                    })
                    .collect();
                string(out)
            }
            Func::Matches => {
                let s = self.string_arg(arg(0), f)?;
                let re = self.regex_args(args, 1, 2, f)?;
                boolean(re.is_match(&s))
            }
            Func::Replace => {
                let s = self.string_arg(arg(0), f)?;
                let re = self.regex_args(args, 1, 3, f)?;
                if re.is_match("") {
                    return Err(err("FORX0003", "replace() pattern matches the empty string"));
                }
                let rep = translate_replacement(&self.string_arg(arg(2), f)?)?;
                string(re.replace_all(&s, rep.as_str()).into_owned())
            }
            Func::Tokenize => {
                let s = self.string_arg(arg(0), f)?;
                let re = self.regex_args(args, 1, 2, f)?;
                if re.is_match("") {
                    return Err(err("FORX0003", "tokenize() pattern matches the empty string"));
                }
                if s.is_empty() {
                    return Ok(Seq::new());
                }
                re.split(&s).map(|t| Item::Atomic(Atomic::Str(Cow::Owned(t.to_owned())))).collect()
            }
            Func::StringJoin => {
                let items = self.eval(arg(0), f)?;
                let sep = self.string_arg(arg(1), f)?;
                let parts: Vec<Cow<'d, str>> = items.iter().map(|i| self.string_of_item(i)).collect();
                string(parts.join(sep.as_ref()))
            }
            Func::StringToCodepoints => {
                let s = self.string_arg(arg(0), f)?;
                s.chars().map(|c| Item::Atomic(Atomic::Int(c as i64))).collect()
            }
            Func::CodepointsToString => {
                let mut out = String::new();
                for a in self.atomize_expr(arg(0), f)? {
                    let code = match a {
                        Atomic::Int(i) => i,
                        other => {
                            return Err(err("XPTY0004", format!("codepoint of type {}", other.type_name())));
                        }
                    };
                    let c = u32::try_from(code)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| err("FOCH0001", format!("{code} is not a valid character")))?;
                    out.push(c);
                }
                string(out)
            }
            Func::DistinctValues => {
                let mut out: Vec<Atomic<'d>> = Vec::new();
                for a in self.atomize_expr(arg(0), f)? {
                    let a = match a {
                        Atomic::Untyped(s) => Atomic::Str(s),
                        other => other,
                    };
                    let dup = out.iter().any(|b| {
                        super::value::compare_values(super::ast::CompOp::Eq, &a, b).unwrap_or(false)
                    });
                    if !dup {
                        out.push(a);
                    }
                }
                out.into_iter().map(Item::Atomic).collect()
            }
            Func::Reverse => {
                let mut v = self.eval(arg(0), f)?;
                v.reverse();
                v
            }
            Func::Data => self.atomize_expr(arg(0), f)?.into_iter().map(Item::Atomic).collect(),
            Func::Name | Func::LocalName | Func::NamespaceUri => {
                let item = match args.first() {
                    Some(e) => {
                        let mut v = self.eval(e, f)?;
                        match v.len() {
                            0 => return Ok(string("")),
                            1 => v.pop().unwrap_or(Item::Node(crate::xml::NodeId::DOCUMENT)),
                            n => return Err(err("XPTY0004", format!("{}() of {n} nodes", func.name()))),
                        }
                    }
                    None => f.item.clone(),
                };
                let doc = self.doc();
                string(match item {
                    Item::Node(n) => Cow::Borrowed(match func {
                        Func::Name => doc.qualified_name(n),
                        Func::LocalName => doc.local_name(n),
                        _ => doc.namespace(n),
                    }),
                    Item::Attr(n, k) => {
                        let name = &doc.names()[doc.attribute(n, k as usize).0];
                        Cow::Borrowed(if func == Func::NamespaceUri { &*name.ns } else { &*name.local })
                    }
                    Item::Atomic(_) => return Err(err("XPTY0004", format!("{}() of a value", func.name()))),
                })
            }
            Func::Root => smallvec::smallvec![Item::Node(crate::xml::NodeId::DOCUMENT)],
            Func::Position => one(Atomic::Int(f.pos as i64)),
            Func::Last => one(Atomic::Int(f.size as i64)),
            Func::XsDecimal
            | Func::XsInteger
            | Func::XsDouble
            | Func::XsString
            | Func::XsBoolean
            | Func::XsDate => {
                let v = self.eval(arg(0), f)?;
                cast_items(self, func, v)?
            }
        })
    }

    /// Atomized values with untyped ones cast to xs:double, as `sum` and `avg` take them.
    fn numeric_values(&mut self, e: &'d Expr, f: &Focus<'d>) -> XResult<Vec<Atomic<'d>>> {
        self.atomize_expr(e, f)?
            .into_iter()
            .map(|a| match a {
                Atomic::Untyped(s) => parse_double(&s).map(Atomic::Dbl),
                a if a.is_numeric() => Ok(a),
                other => Err(err("FORG0006", format!("sum/avg of {}", other.type_name()))),
            })
            .collect()
    }

    fn regex_args(
        &mut self,
        args: &'d [Expr],
        pat: usize,
        flags: usize,
        f: &Focus<'d>,
    ) -> XResult<Arc<Regex>> {
        let p = self.string_arg(&args[pat], f)?;
        let fl = match args.get(flags) {
            Some(e) => self.string_arg(e, f)?.into_owned(),
            None => String::new(),
        };
        compiled_regex(&p, &fl)
    }
}

/// The constructor functions (`xs:decimal(...)` etc.) and `castable as`.
pub fn cast_items<'d>(ev: &Evaluator<'_, 'd>, func: Func, mut items: Seq<'d>) -> XResult<Seq<'d>> {
    let item = match items.len() {
        0 => return Ok(Seq::new()),
        1 => items.pop().unwrap_or(Item::Atomic(Atomic::Int(0))),
        n => return Err(err("XPTY0004", format!("{}() of a sequence of {n} items", func.name()))),
    };
    let a = ev.atomize(item);
    let lexical = |a: &Atomic<'d>| -> Option<Cow<'d, str>> {
        match a {
            Atomic::Str(s) | Atomic::Untyped(s) => Some(s.clone()),
            _ => None,
        }
    };
    if let (Func::XsInteger, Some(s)) = (func, lexical(&a)) {
        return Ok(smallvec::smallvec![Item::Atomic(parse_integer(&s)?)]);
    }
    if let (Func::XsInteger, Atomic::Big(_)) = (func, &a) {
        return Ok(smallvec::smallvec![Item::Atomic(a)]);
    }
    let out = match func {
        Func::XsDecimal => Atomic::Dec(match &a {
            Atomic::Big(b) => b
                .to_string()
                .parse::<Decimal>()
                .map_err(|_| err("FOCA0001", "integer too large for xs:decimal"))?,
            Atomic::Int(i) => Decimal::from(*i),
            Atomic::Dec(d) => *d,
            Atomic::Dbl(x) => decimal_from_double(*x)?,
            Atomic::Bool(b) => Decimal::from(*b as i64),
            _ => match lexical(&a) {
                Some(s) => parse_decimal(&s)?,
                None => return Err(err("XPTY0004", format!("cannot cast {} to xs:decimal", a.type_name()))),
            },
        }),
        Func::XsInteger => Atomic::Int(match &a {
            Atomic::Int(i) => *i,
            Atomic::Dec(d) => d.trunc().to_i64().ok_or_else(|| err("FOCA0003", "integer too large"))?,
            Atomic::Dbl(x) if x.is_finite() => x.trunc() as i64,
            Atomic::Dbl(_) => return Err(err("FOCA0002", "cannot cast NaN or INF to xs:integer")),
            Atomic::Bool(b) => *b as i64,
            _ => return Err(err("XPTY0004", format!("cannot cast {} to xs:integer", a.type_name()))),
        }),
        Func::XsDouble => Atomic::Dbl(match &a {
            Atomic::Bool(b) => *b as i64 as f64,
            _ => match lexical(&a) {
                Some(s) => parse_double(&s)?,
                None => to_double(&a)?,
            },
        }),
        Func::XsString => Atomic::Str(Cow::Owned(a.to_str().into_owned())),
        Func::XsBoolean => Atomic::Bool(match &a {
            Atomic::Bool(b) => *b,
            Atomic::Int(i) => *i != 0,
            Atomic::Big(_) => true,
            Atomic::Dec(d) => !d.is_zero(),
            Atomic::Dbl(x) => *x != 0.0 && !x.is_nan(),
            _ => match lexical(&a) {
                Some(s) => parse_boolean(&s)?,
                None => return Err(err("XPTY0004", format!("cannot cast {} to xs:boolean", a.type_name()))),
            },
        }),
        Func::XsDate => Atomic::Date(match &a {
            Atomic::Date(d) => *d,
            _ => match lexical(&a) {
                Some(s) => parse_date(&s)?,
                None => return Err(err("XPTY0004", format!("cannot cast {} to xs:date", a.type_name()))),
            },
        }),
        other => return Err(err("XPST0017", format!("{} is not a cast", other.name()))),
    };
    Ok(smallvec::smallvec![Item::Atomic(out)])
}

/// Converts an XML Schema / XPath regular expression to the `regex` crate's syntax. Constructs
/// the crate cannot express (`\i`, `\c`, class subtraction, back-references) are refused, so a
/// rule set that needs them fails at load instead of giving a wrong verdict.
pub fn translate_regex(p: &str) -> Result<String, String> {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else { return Err("regex ends with a lone backslash".into()) };
                match e {
                    's' if in_class => out.push_str(" \\t\\n\\r"),
                    's' => out.push_str("[ \\t\\n\\r]"),
                    'S' if !in_class => out.push_str("[^ \\t\\n\\r]"),
                    'i' | 'I' | 'c' | 'C' => return Err(format!("regex class \\{e} is not supported")),
                    '1'..='9' => return Err("regex back-references are not supported".into()),
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if in_class => return Err("nested character classes are not supported".into()),
            '[' => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
            }
            '-' if in_class && chars.peek() == Some(&'[') => {
                return Err("character class subtraction is not supported".into());
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '.' if !in_class => out.push_str("[^\\n\\r]"),
            _ => out.push(c),
        }
    }
    if in_class {
        return Err("unterminated character class".into());
    }
    Regex::new(&out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn translate_replacement(r: &str) -> XResult<String> {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('$') => out.push_str("$$"),
                _ => return Err(err("FORX0004", "invalid escape in replace() replacement")),
            },
            '$' => {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                if n.is_empty() {
                    return Err(err("FORX0004", "`$` without a group number in replace() replacement"));
                }
                out.push_str(&format!("${{{n}}}"));
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Regexes are compiled once per process: rule sets call a handful of patterns on every file.
type RegexCache = Mutex<HashMap<(String, String), Arc<Regex>>>;

fn compiled_regex(pattern: &str, flags: &str) -> XResult<Arc<Regex>> {
    static CACHE: OnceLock<RegexCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (pattern.to_owned(), flags.to_owned());
    if let Some(r) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(r);
    }
    let mut prefix = String::new();
    let mut pat: Cow<str> = Cow::Borrowed(pattern);
    for fl in flags.chars() {
        match fl {
            'i' => prefix.push_str("(?i)"),
            'm' => prefix.push_str("(?m)"),
            's' => prefix.push_str("(?s)"),
            'x' => pat = Cow::Owned(pat.chars().filter(|c| !is_xml_space(*c)).collect()),
            other => return Err(err("FORX0001", format!("invalid regex flag {other}"))),
        }
    }
    let translated = if flags.contains('s') {
        // With `s`, `.` matches everything; keep it as the crate's dot under (?s).
        translate_regex(&pat).map(|t| t.replace("[^\\n\\r]", "."))
    } else {
        translate_regex(&pat)
    }
    .map_err(|m| err("FORX0002", format!("invalid regular expression '{pattern}': {m}")))?;
    let re = Regex::new(&format!("{prefix}{translated}"))
        .map_err(|e| err("FORX0002", format!("invalid regular expression '{pattern}': {e}")))?;
    let re = Arc::new(re);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, re.clone());
    }
    Ok(re)
}

/// Effective boolean value of an already evaluated sequence (re-exported for the rule engine).
pub fn effective_boolean(items: &[Item<'_>]) -> XResult<bool> {
    ebv_of(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_follows_xpath_rounding() {
        assert_eq!(substring("12345", 1.5, Some(2.6)), "234");
        assert_eq!(substring("12345", 0.0, Some(3.0)), "12");
        assert_eq!(substring("12345", -3.0, Some(5.0)), "1");
        assert_eq!(substring("12345", f64::NAN, Some(3.0)), "");
        assert_eq!(substring("motor car", 6.0, None), " car");
    }

    #[test]
    fn regex_translation() {
        assert_eq!(translate_regex(r"\s").unwrap(), "[ \\t\\n\\r]");
        assert!(translate_regex(r"[a-z-[aeiou]]").is_err());
        assert!(translate_regex(r"\i\c*").is_err());
        let re = compiled_regex("^[0-9]{7,8}$", "").unwrap();
        assert!(re.is_match("1234567") && !re.is_match("123456"));
    }

    #[test]
    fn normalize_space_is_xml_whitespace_only() {
        assert_eq!(normalize_space("  a \t b\n"), "a b");
        assert_eq!(normalize_space("a\u{a0}b"), "a\u{a0}b");
    }
}
