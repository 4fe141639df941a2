//! XPath 2.0 items and the typing rules the official tests depend on: node values are
//! `xs:untypedAtomic`, compared as strings against strings but cast to `xs:double` against numbers
//! (so `'12,50' = 0` is an error, as in Saxon), integer/decimal arithmetic is exact, and a double
//! is only ever made by a double operand or an untyped value in numeric context.

use std::borrow::Cow;
use std::cmp::Ordering;

use std::sync::Arc;

use chrono::NaiveDate;
use num_bigint::BigInt;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use super::ast::{ArithOp, CompOp};
use crate::xml::NodeId;

/// A dynamic error, with the W3C error code and a readable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct XPathError {
    pub code: &'static str,
    pub message: String,
}

pub fn err(code: &'static str, message: impl Into<String>) -> XPathError {
    XPathError { code, message: message.into() }
}

pub type XResult<T> = Result<T, XPathError>;

#[derive(Debug, Clone, PartialEq)]
pub enum Item<'d> {
    Node(NodeId),
    /// An attribute: its element and its position among the element's attributes.
    Attr(NodeId, u32),
    Atomic(Atomic<'d>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Atomic<'d> {
    Str(Cow<'d, str>),
    Untyped(Cow<'d, str>),
    Int(i64),
    /// An integer beyond i64 (XPath integers are unbounded; IBAN checks build 30-digit ones).
    Big(Arc<BigInt>),
    Dec(Decimal),
    Dbl(f64),
    Bool(bool),
    Date(NaiveDate),
}

/// A sequence; most are empty or one item, which stay inline (no allocation).
pub type Seq<'d> = smallvec::SmallVec<[Item<'d>; 2]>;

impl<'d> Item<'d> {
    pub fn is_node(&self) -> bool {
        !matches!(self, Item::Atomic(_))
    }

    /// Document order key; attributes come after their element and before its children.
    pub fn order_key(&self) -> (u32, u32) {
        match self {
            Item::Node(n) => (n.0, 0),
            Item::Attr(n, k) => (n.0, k + 1),
            Item::Atomic(_) => (u32::MAX, u32::MAX),
        }
    }
}

impl<'d> Atomic<'d> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Atomic::Str(_) => "xs:string",
            Atomic::Untyped(_) => "xs:untypedAtomic",
            Atomic::Int(_) | Atomic::Big(_) => "xs:integer",
            Atomic::Dec(_) => "xs:decimal",
            Atomic::Dbl(_) => "xs:double",
            Atomic::Bool(_) => "xs:boolean",
            Atomic::Date(_) => "xs:date",
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Atomic::Int(_) | Atomic::Big(_) | Atomic::Dec(_) | Atomic::Dbl(_))
    }

    /// The canonical lexical form, as `string()` gives it.
    pub fn to_str(&self) -> Cow<'_, str> {
        match self {
            Atomic::Str(s) | Atomic::Untyped(s) => Cow::Borrowed(s),
            Atomic::Int(i) => Cow::Owned(i.to_string()),
            Atomic::Big(b) => Cow::Owned(b.to_string()),
            Atomic::Dec(d) => Cow::Owned(decimal_to_string(*d)),
            Atomic::Dbl(f) => Cow::Owned(double_to_string(*f)),
            Atomic::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Atomic::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
        }
    }

    pub fn into_owned(self) -> Atomic<'static> {
        match self {
            Atomic::Str(s) => Atomic::Str(Cow::Owned(s.into_owned())),
            Atomic::Untyped(s) => Atomic::Untyped(Cow::Owned(s.into_owned())),
            Atomic::Int(i) => Atomic::Int(i),
            Atomic::Big(b) => Atomic::Big(b),
            Atomic::Dec(d) => Atomic::Dec(d),
            Atomic::Dbl(f) => Atomic::Dbl(f),
            Atomic::Bool(b) => Atomic::Bool(b),
            Atomic::Date(d) => Atomic::Date(d),
        }
    }
}

/// xs:decimal canonical form: no trailing fractional zeros, no '.0'.
pub fn decimal_to_string(d: Decimal) -> String {
    let n = d.normalize();
    if n.is_zero() { "0".to_owned() } else { n.to_string() }
}

/// xs:double canonical-ish form as XPath 2.0 `string()` produces it.
pub fn double_to_string(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "INF".into() } else { "-INF".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let a = f.abs();
    if (1e-6..1e6).contains(&a) {
        if f.fract() == 0.0 {
            return format!("{}", f as i64);
        }
        let s = format!("{f}");
        return s;
    }
    // Scientific: mantissa with at least one fractional digit, e.g. 1.0E7.
    let s = format!("{f:E}");
    match s.split_once('E') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0E{e}"),
        _ => s,
    }
}

fn is_decimal_lexical(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    match frac {
        None => !int.is_empty() && digits(int),
        Some(f) => (!int.is_empty() || !f.is_empty()) && digits(int) && digits(f),
    }
}

/// Casts a lexical value to xs:decimal (whitespace collapsed, no exponent).
pub fn parse_decimal(raw: &str) -> XResult<Decimal> {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    if !is_decimal_lexical(s) {
        return Err(err("FORG0001", format!("cannot convert '{raw}' to xs:decimal")));
    }
    let t = s.strip_prefix('+').unwrap_or(s);
    let t = t.strip_suffix('.').unwrap_or(t);
    let t: Cow<str> = if t.starts_with('.') || t.starts_with("-.") {
        Cow::Owned(t.replacen('.', "0.", 1))
    } else {
        Cow::Borrowed(t)
    };
    t.parse::<Decimal>()
        .map_err(|_| err("FOAR0002", format!("'{raw}' is beyond the supported decimal precision")))
}

/// Casts a lexical value to xs:double.
pub fn parse_double(raw: &str) -> XResult<f64> {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    match s {
        "INF" | "+INF" => return Ok(f64::INFINITY),
        "-INF" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if !is_decimal_lexical(mantissa) || !exp_ok {
        return Err(err("FORG0001", format!("cannot convert '{raw}' to xs:double")));
    }
    s.parse::<f64>().map_err(|_| err("FORG0001", format!("cannot convert '{raw}' to xs:double")))
}

pub fn parse_integer<'d>(raw: &str) -> XResult<Atomic<'d>> {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("FORG0001", format!("cannot convert '{raw}' to xs:integer")));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    match s.parse::<i64>() {
        Ok(i) => Ok(Atomic::Int(i)),
        Err(_) => s
            .parse::<BigInt>()
            .map(|b| Atomic::Big(Arc::new(b)))
            .map_err(|_| err("FORG0001", format!("cannot convert '{raw}' to xs:integer"))),
    }
}

/// An integer value as a big integer, for arithmetic beyond i64.
fn big(a: &Atomic<'_>) -> Option<BigInt> {
    match a {
        Atomic::Int(i) => Some(BigInt::from(*i)),
        Atomic::Big(b) => Some((**b).clone()),
        _ => None,
    }
}

/// Keeps integers in i64 whenever they fit.
pub fn integer<'d>(b: BigInt) -> Atomic<'d> {
    match i64::try_from(&b) {
        Ok(i) => Atomic::Int(i),
        Err(_) => Atomic::Big(Arc::new(b)),
    }
}

fn big_to_decimal(b: &BigInt) -> XResult<Decimal> {
    b.to_string().parse::<Decimal>().map_err(|_| err("FOAR0002", "integer too large for a decimal"))
}

pub fn parse_boolean(raw: &str) -> XResult<bool> {
    match raw.trim_matches(|c: char| c.is_ascii_whitespace()) {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(err("FORG0001", format!("cannot convert '{raw}' to xs:boolean"))),
    }
}

pub fn parse_date(raw: &str) -> XResult<NaiveDate> {
    let s = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    // An optional timezone (Z or ±hh:mm) does not change the date's value for our comparisons.
    let date = if s.len() > 10 {
        let (d, tz) = s.split_at(10);
        let tz_ok = tz == "Z"
            || (tz.len() == 6
                && (tz.starts_with('+') || tz.starts_with('-'))
                && tz.as_bytes()[3] == b':'
                && tz[1..3].bytes().all(|b| b.is_ascii_digit())
                && tz[4..].bytes().all(|b| b.is_ascii_digit()));
        if !tz_ok {
            return Err(err("FORG0001", format!("cannot convert '{raw}' to xs:date")));
        }
        d
    } else {
        s
    };
    let b = date.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(err("FORG0001", format!("cannot convert '{raw}' to xs:date")));
    }
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| err("FORG0001", format!("'{raw}' is not a valid date")))
}

/// Numeric promotion: returns both operands as the same numeric kind.
pub enum NumPair {
    Int(i64, i64),
    Big(BigInt, BigInt),
    Dec(Decimal, Decimal),
    Dbl(f64, f64),
}

pub fn dec_to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

pub fn to_double(a: &Atomic<'_>) -> XResult<f64> {
    match a {
        Atomic::Int(i) => Ok(*i as f64),
        Atomic::Big(b) => Ok(b.to_string().parse::<f64>().unwrap_or(f64::NAN)),
        Atomic::Dec(d) => Ok(dec_to_f64(*d)),
        Atomic::Dbl(f) => Ok(*f),
        Atomic::Untyped(s) => parse_double(s),
        other => Err(err("XPTY0004", format!("{} is not numeric", other.type_name()))),
    }
}

pub fn promote(a: &Atomic<'_>, b: &Atomic<'_>) -> XResult<NumPair> {
    Ok(match (a, b) {
        (Atomic::Int(x), Atomic::Int(y)) => NumPair::Int(*x, *y),
        (Atomic::Int(x), Atomic::Dec(y)) => NumPair::Dec(Decimal::from(*x), *y),
        (Atomic::Dec(x), Atomic::Int(y)) => NumPair::Dec(*x, Decimal::from(*y)),
        (Atomic::Dec(x), Atomic::Dec(y)) => NumPair::Dec(*x, *y),
        (Atomic::Big(_), Atomic::Int(_) | Atomic::Big(_)) | (Atomic::Int(_), Atomic::Big(_)) => {
            NumPair::Big(big(a).unwrap_or_default(), big(b).unwrap_or_default())
        }
        (Atomic::Big(x), Atomic::Dec(y)) => NumPair::Dec(big_to_decimal(x)?, *y),
        (Atomic::Dec(x), Atomic::Big(y)) => NumPair::Dec(*x, big_to_decimal(y)?),
        _ => NumPair::Dbl(to_double(a)?, to_double(b)?),
    })
}

fn overflow() -> XPathError {
    err("FOAR0002", "numeric overflow")
}

pub fn arith<'d>(op: ArithOp, a: &Atomic<'_>, b: &Atomic<'_>) -> XResult<Atomic<'d>> {
    // In arithmetic an untyped operand is a double.
    let a = if let Atomic::Untyped(s) = a { Atomic::Dbl(parse_double(s)?) } else { a.clone().into_owned() };
    let b = if let Atomic::Untyped(s) = b { Atomic::Dbl(parse_double(s)?) } else { b.clone().into_owned() };
    if !a.is_numeric() || !b.is_numeric() {
        return Err(err("XPTY0004", format!("arithmetic on {} and {}", a.type_name(), b.type_name())));
    }
    match promote(&a, &b)? {
        NumPair::Big(x, y) => {
            if matches!(op, ArithOp::Div | ArithOp::IDiv | ArithOp::Mod) && y == BigInt::ZERO {
                return Err(err("FOAR0001", "division by zero"));
            }
            Ok(match op {
                ArithOp::Add => integer(x + y),
                ArithOp::Sub => integer(x - y),
                ArithOp::Mul => integer(x * y),
                ArithOp::IDiv => integer(x / y),
                ArithOp::Mod => integer(x % y),
                ArithOp::Div => {
                    Atomic::Dec(big_to_decimal(&x)?.checked_div(big_to_decimal(&y)?).ok_or_else(overflow)?)
                }
            })
        }
        NumPair::Int(x, y) => match op {
            ArithOp::Add => Ok(x
                .checked_add(y)
                .map(Atomic::Int)
                .unwrap_or_else(|| integer(BigInt::from(x) + BigInt::from(y)))),
            ArithOp::Sub => Ok(x
                .checked_sub(y)
                .map(Atomic::Int)
                .unwrap_or_else(|| integer(BigInt::from(x) - BigInt::from(y)))),
            ArithOp::Mul => Ok(x
                .checked_mul(y)
                .map(Atomic::Int)
                .unwrap_or_else(|| integer(BigInt::from(x) * BigInt::from(y)))),
            ArithOp::Div => {
                if y == 0 {
                    return Err(err("FOAR0001", "division by zero"));
                }
                Decimal::from(x).checked_div(Decimal::from(y)).map(Atomic::Dec).ok_or_else(overflow)
            }
            ArithOp::IDiv => {
                if y == 0 {
                    return Err(err("FOAR0001", "division by zero"));
                }
                Ok(Atomic::Int(x / y))
            }
            ArithOp::Mod => {
                if y == 0 {
                    return Err(err("FOAR0001", "division by zero"));
                }
                Ok(Atomic::Int(x % y))
            }
        },
        NumPair::Dec(x, y) => {
            if matches!(op, ArithOp::Div | ArithOp::IDiv | ArithOp::Mod) && y.is_zero() {
                return Err(err("FOAR0001", "division by zero"));
            }
            let r = match op {
                ArithOp::Add => x.checked_add(y),
                ArithOp::Sub => x.checked_sub(y),
                ArithOp::Mul => x.checked_mul(y),
                ArithOp::Div => x.checked_div(y),
                ArithOp::IDiv => {
                    return x
                        .checked_div(y)
                        .and_then(|q| q.trunc().to_i64())
                        .map(Atomic::Int)
                        .ok_or_else(overflow);
                }
                ArithOp::Mod => x.checked_rem(y),
            };
            r.map(Atomic::Dec).ok_or_else(overflow)
        }
        NumPair::Dbl(x, y) => Ok(Atomic::Dbl(match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            ArithOp::Div => x / y,
            ArithOp::IDiv => {
                if y == 0.0 {
                    return Err(err("FOAR0001", "division by zero"));
                }
                return Ok(Atomic::Int((x / y).trunc() as i64));
            }
            ArithOp::Mod => x % y,
        })),
    }
}

fn ord_holds(op: CompOp, o: Ordering) -> bool {
    match op {
        CompOp::Eq => o == Ordering::Equal,
        CompOp::Ne => o != Ordering::Equal,
        CompOp::Lt => o == Ordering::Less,
        CompOp::Le => o != Ordering::Greater,
        CompOp::Gt => o == Ordering::Greater,
        CompOp::Ge => o != Ordering::Less,
    }
}

/// Value comparison of two atomics once untyped values have been converted.
pub fn compare_values(op: CompOp, a: &Atomic<'_>, b: &Atomic<'_>) -> XResult<bool> {
    use Atomic::*;
    match (a, b) {
        (Str(x) | Untyped(x), Str(y) | Untyped(y)) => Ok(ord_holds(op, x.as_ref().cmp(y.as_ref()))),
        (Bool(x), Bool(y)) => Ok(ord_holds(op, x.cmp(y))),
        (Date(x), Date(y)) => Ok(ord_holds(op, x.cmp(y))),
        _ if a.is_numeric() && b.is_numeric() => match promote(a, b)? {
            NumPair::Int(x, y) => Ok(ord_holds(op, x.cmp(&y))),
            NumPair::Big(x, y) => Ok(ord_holds(op, x.cmp(&y))),
            NumPair::Dec(x, y) => Ok(ord_holds(op, x.cmp(&y))),
            NumPair::Dbl(x, y) => Ok(match x.partial_cmp(&y) {
                Some(o) => ord_holds(op, o),
                None => op == CompOp::Ne,
            }),
        },
        _ => Err(err("XPTY0004", format!("cannot compare {} with {}", a.type_name(), b.type_name()))),
    }
}

/// General comparison of one pair (`=`, `!=`, ...): an untyped value takes the other's type
/// (double for numbers, string for strings and untyped).
pub fn compare_general(op: CompOp, a: &Atomic<'_>, b: &Atomic<'_>) -> XResult<bool> {
    match (a, b) {
        (Atomic::Untyped(_), Atomic::Untyped(_)) => compare_values(op, a, b),
        (Atomic::Untyped(s), other) => compare_values(op, &cast_untyped_like(s, other)?, other),
        (other, Atomic::Untyped(s)) => compare_values(op, other, &cast_untyped_like(s, other)?),
        _ => compare_values(op, a, b),
    }
}

fn cast_untyped_like<'a>(s: &'a str, other: &Atomic<'_>) -> XResult<Atomic<'a>> {
    Ok(match other {
        Atomic::Int(_) | Atomic::Dec(_) | Atomic::Dbl(_) => Atomic::Dbl(parse_double(s)?),
        Atomic::Bool(_) => Atomic::Bool(parse_boolean(s)?),
        Atomic::Date(_) => Atomic::Date(parse_date(s)?),
        _ => Atomic::Str(Cow::Borrowed(s)),
    })
}

/// XPath `round`: halves go towards positive infinity.
pub fn round<'d>(a: &Atomic<'_>) -> XResult<Atomic<'d>> {
    Ok(match a {
        Atomic::Int(_) | Atomic::Big(_) => a.clone().into_owned(),
        Atomic::Dec(d) => Atomic::Dec((*d + Decimal::new(5, 1)).floor()),
        Atomic::Dbl(f) => Atomic::Dbl(if f.is_finite() { (f + 0.5).floor() } else { *f }),
        Atomic::Untyped(s) => Atomic::Dbl({
            let f = parse_double(s)?;
            if f.is_finite() { (f + 0.5).floor() } else { f }
        }),
        other => return Err(err("XPTY0004", format!("round() of {}", other.type_name()))),
    })
}

pub fn decimal_from_double(f: f64) -> XResult<Decimal> {
    if !f.is_finite() {
        return Err(err("FOCA0002", format!("cannot convert {} to xs:decimal", double_to_string(f))));
    }
    Decimal::from_f64(f).ok_or_else(|| err("FOCA0001", "double out of decimal range"))
}
