//! `sort` parameters: parsing `path [asc|desc]` and ordering documents.
//!
//! The path is dotted (`amountPlanned.centAmount desc`) and walks objects
//! only. [`compare_by`] is a total order, as `slice::sort_by` requires: values
//! rank booleans < numbers < strings < absent, where absent covers missing,
//! `null`, arrays and objects; within a kind, false < true, numbers compare
//! exactly and strings by code point. `desc` reverses the whole order, so
//! absent values come last ascending and first descending. Documents equal on
//! every key compare `Equal`; callers add a unique tie-breaker (the id) for a
//! stable page order.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::ast::Name;
use crate::error::{Parameter, ParseError};
use crate::lexer::{TokenKind, tokenize};
use crate::number::Number;
use crate::parser::Parser;

/// Longest accepted sort text, in bytes.
pub const SORT_BYTES_MAX: usize = 1_000;

/// One `sort` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Object keys from the document root, e.g. `["amountPlanned", "centAmount"]`.
    pub path: Vec<String>,
    /// `asc` unless given.
    pub direction: SortDirection,
}

/// The direction of a [`SortKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDirection {
    /// Smallest first, absent last.
    #[default]
    Asc,
    /// Largest first, absent first.
    Desc,
}

/// Parses `path [asc|desc]`; the direction is case-insensitive.
pub fn parse_sort(text: &str) -> Result<SortKey, ParseError> {
    parse_sort_where(text).map_err(|error| ParseError {
        parameter: Parameter::Sort,
        ..error
    })
}

fn parse_sort_where(text: &str) -> Result<SortKey, ParseError> {
    if text.len() > SORT_BYTES_MAX {
        return Err(ParseError::new(
            0,
            format!(
                "sort of {} bytes exceeds the limit of {SORT_BYTES_MAX} bytes",
                text.len()
            ),
        ));
    }
    let mut parser = Parser::new(tokenize(text)?);
    let mut path = vec![segment(&mut parser, "expected a field path")?];
    while parser.peek().kind == TokenKind::Dot {
        parser.bump();
        path.push(segment(&mut parser, "expected a field name after '.'")?);
    }
    let token = parser.bump();
    let direction = if token.kind == TokenKind::End {
        return Ok(SortKey {
            path,
            direction: SortDirection::Asc,
        });
    } else if token.is_keyword("asc") {
        SortDirection::Asc
    } else if token.is_keyword("desc") {
        SortDirection::Desc
    } else {
        return Err(ParseError::new(
            token.start,
            format!("expected 'asc' or 'desc', found {}", token.describe()),
        ));
    };
    let end = parser.bump();
    if end.kind != TokenKind::End {
        return Err(ParseError::new(
            end.start,
            format!(
                "expected end of sort after the direction, found {}",
                end.describe()
            ),
        ));
    }
    Ok(SortKey { path, direction })
}

fn segment(parser: &mut Parser, expected: &str) -> Result<String, ParseError> {
    let token = parser.bump();
    match token.kind {
        TokenKind::Word(name) | TokenKind::Quoted(name) => Ok(name),
        _ => Err(ParseError::new(
            token.start,
            format!("{expected}, found {}", token.describe()),
        )),
    }
}

impl fmt::Display for SortKey {
    /// The canonical text, which [`parse_sort`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, segment) in self.path.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            write!(f, "{}", Name(segment))?;
        }
        match self.direction {
            SortDirection::Asc => f.write_str(" asc"),
            SortDirection::Desc => f.write_str(" desc"),
        }
    }
}

/// Orders two documents by `keys`, the first key deciding first.
pub fn compare_by(keys: &[SortKey], a: &Value, b: &Value) -> Ordering {
    keys.iter()
        .map(|key| {
            let ordering = cmp_sort_values(sort_value(a, &key.path), sort_value(b, &key.path));
            match key.direction {
                SortDirection::Asc => ordering,
                SortDirection::Desc => ordering.reverse(),
            }
        })
        .find(|ordering| ordering.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// A document's value at a sort path, reduced to what orders.
#[derive(Debug, Clone, Copy)]
enum SortValue<'a> {
    Bool(bool),
    Number(Number),
    String(&'a str),
    Absent,
}

fn sort_value<'a>(doc: &'a Value, path: &[String]) -> SortValue<'a> {
    let mut value = doc;
    for segment in path {
        match value.as_object().and_then(|object| object.get(segment)) {
            Some(next) => value = next,
            None => return SortValue::Absent,
        }
    }
    match value {
        Value::Bool(flag) => SortValue::Bool(*flag),
        Value::Number(number) => {
            Number::from_json(number).map_or(SortValue::Absent, SortValue::Number)
        }
        Value::String(text) => SortValue::String(text),
        Value::Null | Value::Array(_) | Value::Object(_) => SortValue::Absent,
    }
}

fn cmp_sort_values(a: SortValue<'_>, b: SortValue<'_>) -> Ordering {
    fn rank(value: SortValue<'_>) -> u8 {
        match value {
            SortValue::Bool(_) => 0,
            SortValue::Number(_) => 1,
            SortValue::String(_) => 2,
            SortValue::Absent => 3,
        }
    }
    match (a, b) {
        (SortValue::Bool(x), SortValue::Bool(y)) => x.cmp(&y),
        (SortValue::Number(x), SortValue::Number(y)) => x.cmp_exact(&y),
        (SortValue::String(x), SortValue::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests;
