//! Numbers in predicates and documents, compared exactly.
//!
//! Integers are kept as `i128` (which holds every `i64` and `u64` a JSON
//! document can carry) and compared as integers; a float is compared with an
//! integer without rounding the integer through `f64`. The comparison is a
//! total order on finite values (`-0.0` equals `0`), which `sort` relies on:
//! `slice::sort_by` may panic on an inconsistent order.

use std::cmp::Ordering;
use std::fmt;

/// A finite number: an integer or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer literal or a JSON integer.
    Int(i128),
    /// A decimal literal (with `.` or an exponent) or a JSON float; never NaN
    /// or infinite.
    Float(f64),
}

/// 2^127 as an f64: the first float above every `i128`.
const I128_BOUND_F64: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;

impl Number {
    /// The number in a JSON document, or `None` if it is not finite (only
    /// possible with serde_json's `arbitrary_precision`).
    pub fn from_json(number: &serde_json::Number) -> Option<Number> {
        if let Some(i) = number.as_i64() {
            return Some(Number::Int(i128::from(i)));
        }
        if let Some(u) = number.as_u64() {
            return Some(Number::Int(i128::from(u)));
        }
        number.as_f64().filter(|f| f.is_finite()).map(Number::Float)
    }

    /// A number given as text, e.g. a `var.x=5` value compared with a number
    /// field: an integer when it parses as one, else a finite float.
    pub fn parse_text(text: &str) -> Option<Number> {
        match text.parse::<i128>() {
            Ok(i) => Some(Number::Int(i)),
            Err(_) => text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Number::Float),
        }
    }

    /// Exact numeric order; integers never pass through `f64`.
    pub fn cmp_exact(&self, other: &Number) -> Ordering {
        match (*self, *other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (Number::Float(a), Number::Float(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            (Number::Int(a), Number::Float(b)) => cmp_int_float(a, b),
            (Number::Float(a), Number::Int(b)) => cmp_int_float(b, a).reverse(),
        }
    }
}

/// Compares an integer with a float exactly: the float's integral part is
/// exactly representable as `i128` once it is known to be in range.
fn cmp_int_float(int: i128, float: f64) -> Ordering {
    if float.is_nan() {
        return Ordering::Equal; // Not constructible; keep the order total anyway.
    }
    if float >= I128_BOUND_F64 {
        return Ordering::Less;
    }
    if float < -I128_BOUND_F64 {
        return Ordering::Greater;
    }
    let whole = float.trunc();
    #[allow(clippy::cast_possible_truncation)] // In range and integral: exact.
    let whole_int = whole as i128;
    match int.cmp(&whole_int) {
        Ordering::Equal if float > whole => Ordering::Less,
        Ordering::Equal if float < whole => Ordering::Greater,
        other => other,
    }
}

impl fmt::Display for Number {
    /// Integers print plainly; floats print with `Debug`, which always shows a
    /// `.` or an exponent (`1.0`, `1e300`) and round-trips exactly, so the text
    /// parses back as a float.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x:?}"),
        }
    }
}

#[cfg(test)]
mod tests;
